// Undoing a restore (docs/format-archive.md section 6.1): the rollback record a real restore writes beside its
// marker (what it created, with uid and resourceVersion, and the live objects it updated as they were before), and
// `kbk restore rollback NAME`, which deletes what the restore created and puts updated objects back, only where
// the object is still the one the restore left.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <kbk/crypto/encryption.hpp>
#include <kbk/json/json.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/restore/applier.hpp>
#include <kbk/restore/engine.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/error.hpp>
#include <kbk/util/exit_code.hpp>

namespace kbk::restore {

inline constexpr int k_rollback_format_version = 1;

// Where the record went: the marker's "rollback" member.
struct RollbackStored {
  std::string object;   // "restore-<name>-rollback.json.gz" or "...gz.kbk"
  bool encrypted = false;
  size_t items = 0;
};

// Writes restores/<name>/restore-<name>-rollback.json.gz from the report's created/updated items; encrypted under
// a fresh data key (key object restores/<name>/kbk-key-<id>) when key is given.
Result<RollbackStored> upload_rollback_record(storage::Backend& backend, const RestoreReport& report,
                                              const crypto::UserKey* key);

// One entry of the record.
struct RollbackEntry {
  size_t order = 0;
  std::string action;  // created | updated | recreated
  std::string group, version, resource, kind;
  bool namespaced = false;
  std::string namespace_, name;
  std::string uid, resource_version;
  json::Document applied;  // Null when absent
  json::Document before;   // Null for created
  std::string display() const;  // "deployments.apps/ns/name"
};

// The entries a report's created, updated and recreated items make (what upload_rollback_record writes).
std::vector<RollbackEntry> rollback_entries(const RestoreReport& report);

// Reads and checks the record of restore `name` (its marker must exist and name the record). Errc::not_found
// when the restore or its record does not exist (a dry run, a restore written before rollback records);
// Errc::config when the record is encrypted and no key is given; Errc::unsupported for a newer version.
Result<std::vector<RollbackEntry>> read_rollback_record(storage::Backend& backend, const std::string& name,
                                                        const crypto::UserKey* key);

enum class RollbackForce { no, yes };
enum class RollbackDryRun { no, yes };

struct RollbackOptions {
  RollbackDryRun dry_run = RollbackDryRun::no;
  RollbackForce force = RollbackForce::no;
  double delete_timeout = 300;  // a recreated object: wait until it is gone before the old one is created again
  double poll_interval = 0.5;
  std::function<void(double seconds)> sleep;  // default: sleeps
};

// Per item: deleted, reverted, already-gone, already-as-before, would-delete, would-revert (dry run),
// changed-since, gone (left alone), failed.
struct RollbackItem {
  std::string item;    // display()
  std::string action;  // of the restore
  std::string outcome;
  std::string message;
  bool left_alone() const { return outcome == "changed-since" || outcome == "gone"; }
  bool failed() const { return outcome == "failed"; }
};

struct RollbackReport {
  std::string restore;
  bool dry_run = false;
  bool force = false;
  std::chrono::system_clock::time_point started, completed;
  std::vector<RollbackItem> items;  // in the order they were rolled back (the restore's, reversed)
  // Completed (nothing left alone or failed), PartiallyFailed, Failed (every item tried failed).
  std::string phase() const;
};

// Rolls back, item by item in reverse apply order (docs/format-archive.md section 6.1 has the table).
RollbackReport rollback(kube::Client& client, TypeResolver& types, const std::string& restore_name,
                        const std::vector<RollbackEntry>& entries, const RollbackOptions& options);

// 0 when everything is undone (or already was), 2 when something was left alone or failed, 1 when every item
// that was tried failed.
ExitCode exit_code(const RollbackReport& report);
json::Document rollback_to_json(const RollbackReport& report);
std::string rollback_summary_text(const RollbackReport& report);
// restores/<name>/kbk-rollback.json: the report (written by a rollback that is not a dry run).
Result<void> upload_rollback_report(storage::Backend& backend, const RollbackReport& report);

}  // namespace kbk::restore
