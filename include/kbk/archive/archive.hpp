// The backup archive: a tar stream laid out exactly like Velero's format 1.1.0 (docs/format-archive.md),
// gzip-compressed, plus kbk/manifest.json and kbk/results.json. The writer streams into a storage::Writer
// (constant memory); the reader streams entries out of a storage::Reader and refuses hostile archives.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/error.hpp>

namespace kbk::archive {

inline constexpr const char* k_velero_format_version = "1.1.0";

// Where an item lives in the archive. group "" = core; resource is the plural.
struct ItemKey {
  std::string group;
  std::string version;   // the version the object was read at (its apiVersion)
  std::string resource;
  std::string namespace_;  // "" for cluster-scoped
  std::string name;

  // "deployments.apps" or "pods"
  std::string group_resource() const { return group.empty() ? resource : resource + "." + group; }
};

enum class Compression { gzip, none };

struct WriterOptions {
  Compression compression = Compression::gzip;
  // Modification time of every entry (the backup's start); the epoch means "now".
  std::chrono::system_clock::time_point mtime{};
};

class ArchiveWriter {
public:
  virtual ~ArchiveWriter() = default;
  // Writes metadata/version first (at creation), then items as they come: the legacy path and, when
  // preferred is true, the same bytes under <version>-preferredversion/ (Velero writes both). Returns the
  // item's SHA-256 (hex) for the manifest. json is the compact object with apiVersion and kind set.
  virtual Result<std::string> add_item(const ItemKey& key, std::string_view json, bool preferred) = 0;
  // Any other file (kbk/manifest.json, kbk/results.json). Path must be relative and clean.
  virtual Result<void> add_file(const std::string& path, std::string_view data) = 0;
  // A file too large to hold at once (the manifest of a big backup): body calls the sink with chunks that total
  // exactly `size` bytes. Errc::internal_error when they do not.
  using ChunkSink = std::function<Result<void>(std::string_view)>;
  virtual Result<void> add_file_stream(const std::string& path, uint64_t size,
                                       const std::function<Result<void>(const ChunkSink&)>& body) = 0;
  // Ends the tar and gzip streams and commits the underlying storage writer. Nothing is visible before.
  virtual Result<void> finish() = 0;
  virtual uint64_t bytes_written() const = 0;
  // SHA-256 (hex) of the bytes handed to the storage writer (the stored tarball); valid after finish().
  virtual std::string stream_sha256() const { return ""; }
};

Result<std::unique_ptr<ArchiveWriter>> make_writer(std::unique_ptr<storage::Writer> sink,
                                                   const WriterOptions& options = {});

// One entry as the reader hands it out.
struct Entry {
  std::string path;        // as in the tar
  std::string_view data;   // valid only during the callback; empty for a streamed entry
  // A streamed entry (ReadOptions::streamed): its bytes are pulled from here during the callback (0 at its end),
  // never held whole; what the callback leaves unread is read and checked after it. Null for other entries.
  const std::function<Result<size_t>(char* buffer, size_t size)>* read = nullptr;
  bool is_item = false;    // a resources/... item file (legacy path or versioned)
  ItemKey key;             // when is_item
  std::string version_dir; // "" for the legacy path, else "v1" or "v1-preferredversion" etc.
};

// Past this many decompressed bytes, more than 1000 times the compressed bytes read is a decompression bomb (real
// backups compress 5-30:1; deflate cannot exceed about 1030:1).
inline constexpr uint64_t k_bomb_ratio_after = 64ull << 20;

struct ReaderLimits {
  uint64_t max_entry_bytes = 64ull << 20;     // a single item larger than this is refused
  uint64_t max_total_bytes = 64ull << 30;     // decompressed total (zip-bomb guard)
  // 1,000,000 objects (two copies each); a reader holds about 300 bytes an entry to check names and checksums.
  // Reading a kbk backup whose marker counts more objects, the limit is twice that count (read_verified), up to
  // k_max_declared_entries.
  uint64_t max_entries = 2'000'000;
  // kbk/manifest.json lists every item (about 300 bytes each): reading a kbk backup, read_verified raises this to
  // 512 bytes per object its marker counts (up to k_max_declared_entries' worth); otherwise max_entry_bytes applies.
  uint64_t max_manifest_bytes = 0;
};
inline constexpr uint64_t k_max_declared_entries = 40'000'000;  // 20 million objects

// Streams every entry of an archive to on_entry, in archive order. Refuses (Errc::corrupt, one line naming
// `what` and the entry) absolute paths, "..", links, devices, entries over the limits, a truncated stream,
// and metadata/version other than a 1.x version. An error from on_entry stops reading and is returned.
struct ReadOptions {
  // The entries handed out as a stream (Entry::read) rather than whole (null: none). A stream error met while the
  // callback reads is returned as the read's error, whatever the callback returns.
  std::function<bool(std::string_view path)> streamed;
};
Result<void> read_archive(storage::Reader& source, std::string_view what, const ReaderLimits& limits,
                          const std::function<Result<void>(const Entry&)>& on_entry);
Result<void> read_archive(storage::Reader& source, std::string_view what, const ReaderLimits& limits,
                          const std::function<Result<void>(const Entry&)>& on_entry, const ReadOptions& options);

// Splits "resources/deployments.apps/v1-preferredversion/namespaces/ns1/web.json" into key and version_dir.
// false when the path is not an item path.
bool parse_item_path(std::string_view path, ItemKey& key, std::string& version_dir);
// The legacy item path for key: resources/<gr>/{namespaces/<ns>|cluster}/<name>.json
std::string item_path(const ItemKey& key, std::string_view version_dir = "");

}  // namespace kbk::archive
