// `kbk prune` over a location: which backups the retention rules (storage/retention.hpp) remove, which incomplete
// backups are old enough to go, and the deletions (marker first, lock last) plus the cleanup of stale uploads.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <kbk/archive/location.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/storage/retention.hpp>
#include <kbk/util/error.hpp>

namespace kbk::archive {

enum class GroupBy { none, cluster };

struct IncompleteBackup {
  std::string name, started;
  bool remove = false;  // started longer ago than the age; else it may be a backup being written
};

struct SkippedBackup {
  std::string name, reason;  // "Velero backup", "no start time"
};

struct PrunePlan {
  std::vector<storage::retention::Decision> decisions;  // complete kbk backups, by group, newest first
  std::vector<IncompleteBackup> incomplete;
  std::vector<SkippedBackup> skipped;
};

// The plan for a listing (list_backups): complete kbk backups go through the policy, grouped as asked (Item::group
// = the backup's cluster, or "" for one group); an incomplete backup is removed only when its start time is known
// and at least incomplete_age before now; Velero's backups and kbk backups without a start time are skipped.
PrunePlan plan_prune(const std::vector<BackupListing>& listing, const storage::retention::Policy& policy,
                     GroupBy group_by, std::chrono::seconds incomplete_age, std::chrono::system_clock::time_point now);

struct PruneFailure {
  std::string name;  // "" for the cleanup of stale uploads
  Error error;
};

struct PruneResult {
  std::vector<std::string> removed;  // backups gone (or already gone: another prune finished them)
  std::vector<PruneFailure> failures;
  uint64_t uploads_aborted = 0;
};

// Carries out a plan: deletes every backup it removes (delete_backup: marker first, lock last), going on after a
// failure, then removes leftovers of interrupted writes older than incomplete_age (Backend::cleanup_incomplete:
// multipart uploads, temp files).
PruneResult execute_prune(storage::Backend& backend, const PrunePlan& plan, std::chrono::seconds incomplete_age);

}  // namespace kbk::archive
