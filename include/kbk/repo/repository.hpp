// The volume-data repository (docs/format-repository.md): opening and creating one in a location, its keys, the
// blob codec (compress + encrypt), the in-memory index, packs, trees, snapshots and locks. The operations (backup,
// restore, check, prune, ...) are in operations.hpp.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <kbk/compress/compress.hpp>
#include <kbk/crypto/encryption.hpp>
#include <kbk/repo/chunker.hpp>
#include <kbk/repo/format.hpp>
#include <kbk/repo/tree.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/error.hpp>

namespace kbk::repo {

inline constexpr const char* k_prefix = "plugins/kbk/repository/";
inline constexpr uint32_t k_pack_size = 8u << 20;

struct Config {
  int version = k_format_version;
  std::string id;               // 64 hex, random
  bool encrypted = false;
  std::string data_key_id;      // when encrypted
  ChunkerParams chunker;
  compress::Setting compression;
  std::string created;
};

struct SnapshotSummary {
  uint64_t files = 0, dirs = 0, files_unchanged = 0;
  uint64_t bytes_read = 0;      // file bytes read from the source
  uint64_t bytes_total = 0;     // logical size of the files in the snapshot
  uint64_t bytes_new = 0;       // plaintext bytes of blobs the repository did not have
  uint64_t bytes_stored = 0;    // what those blobs take stored (compressed, encrypted)
  uint64_t blobs_new = 0;
  double seconds = 0;
};

// What lets the next backup of a volume skip its mover when nothing changed (docs/format-repository.md section 10,
// docs/mover.md section 3): a digest of the volume's metadata taken before the snapshot's walk.
struct SnapshotFingerprint {
  int version = 1;
  std::string digest;           // 64 hex
  bool inode = true;            // inode numbers were in the digest
  struct Root {
    uint32_t uid = 0, gid = 0, mode = 0;
    int64_t mtime = 0;
    uint32_t mtime_nsec = 0;
  } root;                       // the volume root as the mover saw it
};

struct Snapshot {
  Id id{};
  std::string time;             // RFC 3339
  int64_t time_ns = 0;
  std::string host, source, path;
  Id tree{};
  std::optional<Id> parent;
  std::vector<std::pair<std::string, std::string>> tags;
  std::optional<std::string> backup;  // the resource backup this snapshot belongs to (issue 14), or none
  ChunkerParams chunker;
  std::string compression;
  SnapshotSummary summary;
  std::optional<SnapshotFingerprint> fingerprint;
};

struct OpenOptions {
  const crypto::UserKey* key = nullptr;   // the user key, when the repository is (or is to be) encrypted
  bool create = false;                    // create the repository when the location has none
  compress::Setting compression;          // default codec of a new repository
};

class Repository {
public:
  // Errc::precondition when there is no repository and create is false; Errc::config for a key given to a plain
  // repository or none to an encrypted one; Errc::crypto when the key opens no key object.
  static Result<std::unique_ptr<Repository>> open(storage::Backend& backend, const OpenOptions& options);
  ~Repository();

  storage::Backend& backend() { return m_backend; }
  const Config& config() const { return m_config; }
  const GearTable& gear() const { return m_gear; }
  bool created() const { return m_created; }

  Id blob_id(std::string_view plaintext) const;
  // The stored form of a blob (payload: codec, raw length, data; encrypted when the repository is).
  std::string encode_blob(const Id& id, std::string_view plaintext, const compress::Setting& compression) const;
  // Plaintext of a stored blob, checked: tag (encrypted), decompression, and id. Errc::corrupt naming the blob.
  Result<std::string> decode_blob(const Id& id, std::string_view stored) const;
  std::string seal_header(std::string_view plaintext) const;
  Result<std::string> open_header(std::string_view stored, std::string_view what) const;
  // Whole objects (index files, snapshots): compressed and encrypted as the repository is.
  std::string seal_object(std::string_view plaintext) const;
  Result<std::string> open_object(std::string_view stored, std::string_view what) const;

  // --- index ---
  // Loads every index file. Errc::corrupt naming a damaged one (every other is still loaded when tolerant).
  Result<void> load_index(std::vector<Error>* damaged = nullptr);
  // Loads the index unless this object already did (load_index or ensure_index): what a writer calls before it
  // adds blobs, so a volume that moves nothing never reads the index.
  Result<void> ensure_index();
  bool index_loaded();  // by load_index or ensure_index
  // Adds one stored index file that another writer published (an in-pod mover, docs/mover.md) to the in-memory
  // index, so later writers of this process deduplicate against its blobs. Errc::corrupt naming it.
  Result<void> add_index_object(const std::string& key, std::string_view stored);
  std::mutex& index_mutex() { return m_index_mutex; }
  IndexTable& table() { return m_table; }
  const std::vector<Id>& packs() const { return m_packs; }
  uint32_t pack_number(const Id& pack);  // under index_mutex
  std::vector<std::string> index_files() const { return m_index_files; }
  static std::string pack_key(const Id& pack);
  std::optional<Location> locate(const Id& id);

  // --- reads ---
  Result<std::string> read_blob(const Id& id);
  Result<std::vector<Node>> load_tree(const Id& id);
  // Every data blob id of a file node, in order (content lists flattened).
  Result<std::vector<Id>> load_content(const Node& node);
  // The list blob ids a node reaches (for check and prune).
  Result<void> list_blobs(const Node& node, std::vector<Id>& lists);

  // --- snapshots ---
  Result<std::vector<Snapshot>> list_snapshots(std::vector<Error>* damaged = nullptr);
  // "latest", a full id or a unique prefix. Errc::not_found / Errc::config (ambiguous).
  static Result<Snapshot> find_snapshot(const std::vector<Snapshot>& all, const std::string& spec);
  // Stores the snapshot and sets its id; stored_bytes (may be null) gets the stored object's size.
  Result<Id> save_snapshot(Snapshot& snapshot, uint64_t* stored_bytes = nullptr);
  std::string snapshot_key(const Id& id) const;

private:
  Repository(storage::Backend& backend);
  storage::Backend& m_backend;
  Config m_config;
  bool m_created = false;
  crypto::SecretKey m_data_key;
  std::string m_blob_key;
  struct Keys;
  std::unique_ptr<Keys> m_keys;
  GearTable m_gear{};
  std::mutex m_index_mutex;
  IndexTable m_table;
  std::vector<Id> m_packs;
  std::unordered_map<Id, uint32_t, IdHash> m_pack_numbers;
  std::vector<std::string> m_index_files;
  bool m_index_loaded = false;
};

struct WriterStats {
  uint64_t blobs_new = 0, bytes_new = 0, bytes_stored = 0, packs = 0;
};

// Packs blobs and uploads them; thread-safe. Blobs the index already has (or another thread is storing) are
// skipped. flush() finishes the open packs, waits for the uploads and publishes index files for them.
class PackWriter {
public:
  PackWriter(Repository& repo, compress::Setting compression, int uploaders = 2);
  ~PackWriter();
  // Returns true when the blob was new. The plaintext must hash to id.
  Result<bool> add(BlobType type, const Id& id, std::string_view plaintext);
  // Hashes and adds; returns the id.
  Result<Id> add(BlobType type, std::string_view plaintext);
  // Adds an already stored blob (prune's repack copies blobs between packs without opening them).
  Result<void> add_stored(BlobType type, const Id& id, std::string_view stored, uint32_t raw_length);
  Result<void> flush();
  WriterStats stats() const;
  // The first upload error, if any.
  std::optional<Error> error() const;

private:
  struct OpenPack {
    std::string bytes;
    std::vector<PackEntry> entries;
  };
  void finish_pack(OpenPack& p);  // under m_mutex
  void upload_loop();
  Result<void> publish_index(bool all);
  Repository& m_repo;
  compress::Setting m_compression;
  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  OpenPack m_open[2];  // data, metadata (trees and lists)
  std::deque<std::pair<Id, std::string>> m_queue;
  std::vector<std::pair<Id, std::vector<PackEntry>>> m_queue_entries;
  std::vector<PackRecord> m_uploaded;  // not yet in an index file
  std::vector<Id> m_abandoned;  // blobs whose pack failed to upload, or that came after an error
  size_t m_in_flight = 0;
  bool m_stop = false;
  std::optional<Error> m_error;
  WriterStats m_stats;
  std::vector<std::thread> m_threads;
};

// A lock object (section 12). Refreshed by a thread every 5 minutes; removed by release() or the destructor.
class Lock {
public:
  static Result<std::unique_ptr<Lock>> acquire(storage::Backend& backend, bool exclusive);
  ~Lock();
  void release();

private:
  Lock(storage::Backend& backend, std::string key, bool exclusive);
  void refresh_loop();
  storage::Backend& m_backend;
  std::string m_key;
  bool m_exclusive;
  std::string m_created;
  std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_stop = false;
  std::thread m_thread;
};

inline constexpr int k_lock_stale_seconds = 30 * 60;
inline constexpr int k_lock_refresh_seconds = 5 * 60;

struct LockInfo {
  std::string key;
  bool exclusive = false;
  std::string host;
  int64_t pid = 0;
  std::string time, refreshed;
  bool stale = false;
};
Result<std::vector<LockInfo>> list_locks(storage::Backend& backend);
// Removes stale locks (or all). Returns the keys removed.
Result<std::vector<std::string>> remove_locks(storage::Backend& backend, bool all);

// Whether the location holds a repository (its config object).
Result<bool> repository_exists(storage::Backend& backend);

}  // namespace kbk::repo
