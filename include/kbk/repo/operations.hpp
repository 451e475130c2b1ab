// What the `kbk repo` commands and `kbk prune` do with a repository: backup (a folder or a tar stream), restore
// (to a folder or a tar stream), ls, diff, stats, check and prune. Each takes an opened Repository (and the
// caller holds the lock the operation needs: shared, or exclusive for prune).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <kbk/compress/compress.hpp>
#include <kbk/repo/repository.hpp>
#include <kbk/storage/retention.hpp>
#include <kbk/util/progress.hpp>

namespace kbk::repo {

struct BackupOptions {
  std::vector<std::pair<std::string, std::string>> tags;
  std::optional<Snapshot> parent;   // unchanged files of a folder backup are taken from it without reading
  compress::Setting compression;
  std::string host;                 // defaults to the host name
  std::optional<std::string> backup;  // the resource backup the snapshot belongs to
  util::ProgressSink* progress = nullptr;
  int workers = 2;                  // hash/compress/encrypt threads
  // Change detection against the parent (restic's --ignore-inode / --ignore-ctime): a volume cloned from a CSI
  // snapshot gets new inode numbers and change times on every clone, so only path, size and mtime can be compared.
  bool ignore_inode = false, ignore_ctime = false;
  std::string name;                 // the snapshot's path for a folder backup ("" = the folder's path)
  // Recorded in the snapshot when the walk read everything without a warning (docs/format-repository.md section
  // 10): the caller took it before the walk and checked it is not racy.
  std::optional<SnapshotFingerprint> fingerprint;
};

// Backs up a folder. Errc::config when path is not a readable folder; files that vanish or cannot be read are
// reported through warnings (the snapshot records what was read) and the result's `warnings`.
struct BackupResult {
  Snapshot snapshot;
  std::vector<std::string> warnings;
};
Result<BackupResult> backup_folder(Repository& repo, const std::string& path, const BackupOptions& options);
// Backs up a tar stream (GNU, PAX, ustar; what `tar c` writes) read from fd.
Result<BackupResult> backup_tar(Repository& repo, int fd, const std::string& name, const BackupOptions& options);

struct RestoreOptions {
  util::ProgressSink* progress = nullptr;
  int workers = 2;
  bool owners = false;  // chown (set when running as root)
  // restore_to_tar: files with an all-zero blob become sparse entries (PAX GNU.sparse 1.0, which GNU tar extracts
  // with holes; other tars would not): zero 4 KiB blocks are left out of the stream.
  bool sparse = false;
};
struct RestoreResult {
  uint64_t files = 0, dirs = 0, bytes = 0;
  std::vector<std::string> warnings;
};
// Restores a snapshot into target (created when missing). Errc::precondition when target is a non-empty folder
// holding files the snapshot would overwrite? No: existing files are replaced, as restic does.
Result<RestoreResult> restore_to_folder(Repository& repo, const Snapshot& snapshot, const std::string& target,
                                        const RestoreOptions& options);
// Writes the snapshot as a PAX tar stream to fd.
Result<RestoreResult> restore_to_tar(Repository& repo, const Snapshot& snapshot, int fd, const RestoreOptions& options);

// Every node of a snapshot (or of the subtree at path), depth first, with its path ("a/b").
Result<void> walk(Repository& repo, const Id& tree, const std::string& prefix,
                  const std::function<Result<void>(const std::string& path, const Node& node)>& visit);
Result<std::optional<Node>> find_path(Repository& repo, const Snapshot& snapshot, const std::string& path);

struct DiffEntry {
  char change;  // '+' added, '-' removed, 'M' content changed, 'U' metadata only, 'T' type changed
  std::string path;
};
Result<std::vector<DiffEntry>> diff(Repository& repo, const Snapshot& a, const Snapshot& b);

struct Stats {
  uint64_t snapshots = 0, files = 0, logical_bytes = 0;  // logical: sum of the snapshots' file sizes
  uint64_t blobs = 0, raw_bytes = 0, stored_bytes = 0;   // in the index
  uint64_t packs = 0, pack_bytes = 0, index_files = 0;
  uint64_t index_memory = 0;
};
Result<Stats> stats(Repository& repo);

struct CheckOptions {
  bool read_data = false;
  uint32_t subset_n = 0, subset_m = 0;  // --read-data-subset n/m (1-based n)
  util::ProgressSink* progress = nullptr;
};
struct CheckReport {
  std::vector<std::string> errors;   // each problem, one line
  std::vector<std::string> notes;    // orphan packs and the like (not damage)
  uint64_t snapshots = 0, trees = 0, blobs_checked = 0, packs = 0, packs_read = 0;
};
Result<CheckReport> check(Repository& repo, const CheckOptions& options);
// A pack's header entries (trailer and header read with ranged gets); Errc::corrupt naming the pack.
Result<std::vector<PackEntry>> read_pack_header(Repository& repo, const Id& pack, uint64_t size);

struct PrunePlanRepo {
  std::vector<Snapshot> kept, forgotten;  // snapshots kept / dropped (their backup was pruned)
  std::vector<Id> keep_packs, drop_packs, repack_packs;
  uint64_t used_blobs = 0, unused_blobs = 0, used_bytes = 0, unused_bytes = 0;
  uint64_t drop_bytes = 0, repack_bytes = 0, repack_reclaim = 0;
  std::vector<std::string> orphan_packs;  // packs no index names (removed too)
  uint64_t orphan_bytes = 0;
};
// keep_backup(name): whether the resource backup named by a snapshot is kept. Snapshots naming none are kept.
Result<PrunePlanRepo> plan_repo_prune(Repository& repo, const std::function<bool(const std::string&)>& keep_backup,
                                      uint64_t max_repack_bytes);
// The same with the choice made per snapshot (kbk repo forget --prune: what forget drops goes, the rest stays).
Result<PrunePlanRepo> plan_repo_prune_snapshots(Repository& repo, const std::function<bool(const Snapshot&)>& keep,
                                                uint64_t max_repack_bytes);
struct RepoPruneResult {
  uint64_t packs_removed = 0, packs_written = 0, bytes_freed = 0, snapshots_removed = 0;
};
Result<RepoPruneResult> execute_repo_prune(Repository& repo, const PrunePlanRepo& plan);

// kbk repo forget (docs/format-repository.md section 13): restic's forget policy (storage/retention.hpp, the rules
// kbk prune applies to backups) over the snapshots that belong to no backup. A snapshot of a resource backup goes
// with its backup (kbk backup delete, kbk prune), never through forget, so it is never in the plan.
enum class ForgetGroup { host_path, host, path, none };
struct ForgetFilter {
  std::vector<std::pair<std::string, std::string>> tags;  // every one must be on the snapshot
  std::optional<std::string> host, path;
};
struct ForgetDecision {
  Snapshot snapshot;
  bool keep = true;
  std::vector<std::string> reasons;  // "last", "daily 2026-12-05", ... or "no rule keeps it"
  std::string group;                 // the group's key as shown ("host h, path /data")
};
// Decisions for the standalone snapshots the filter matches, by group, newest first. `now` bounds --keep-within.
std::vector<ForgetDecision> plan_forget(const std::vector<Snapshot>& snapshots, const ForgetFilter& filter,
                                        const storage::retention::Policy& policy, ForgetGroup group,
                                        storage::retention::TimePoint now);
// Whether a snapshot is a standalone one the filter matches.
bool forget_matches(const Snapshot& s, const ForgetFilter& filter);
// Deletes the snapshot objects (the caller holds the exclusive lock); their data stays until prune.
Result<uint64_t> forget_snapshots(Repository& repo, const std::vector<Snapshot>& snapshots);
// kbk backup delete: deletes the snapshot objects of the named resource backups (the caller holds the exclusive
// lock); their data stays until prune. Returns how many went.
Result<uint64_t> forget_backup_snapshots(Repository& repo, const std::set<std::string>& backups);

}  // namespace kbk::repo
