// Runs a Plan through an Applier and records every item's outcome; reports and uploads the results.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <kbk/archive/archive.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/hooks/run.hpp>
#include <kbk/json/json.hpp>
#include <kbk/kube/access.hpp>
#include <kbk/restore/applier.hpp>
#include <kbk/crypto/encryption.hpp>
#include <kbk/restore/plan.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/exit_code.hpp>
#include <kbk/util/progress.hpp>
#include <kbk/util/time.hpp>
#include <kbk/volume/restore.hpp>

namespace kbk::compress {
class GzipWriter;
}

namespace kbk::restore {

class RestoreHooks;

struct ItemReport {
  size_t order = 0;
  std::string tier;
  std::string group, version, resource, kind;
  std::string source_namespace, source_name;
  std::string target_namespace, target_name;
  ItemResult result;
  std::vector<std::string> notes;
  bool synthesized = false;
};

struct RestoreReport {
  std::string name;
  std::string backup;
  std::string mode;            // the applier's mode()
  bool dry_run = false;
  std::chrono::system_clock::time_point started, completed;
  std::deque<ItemReport> items;  // in plan order (a deque: built while the plan is given away, engine.cpp)
  std::vector<std::string> warnings;
  RestoreRequest request;      // what was asked (filled by the caller): "spec" and "target" of the record
  std::optional<Error> halted;    // the applier stopped the run (Applier::halted); later items were not attempted
  std::vector<volume::VolumeRestoreResult> volumes;  // what came of each volume's data (volumes.hpp)
  std::vector<::kbk::hooks::PodRecord> hooks;  // restore hooks per pod (hooks.hpp, docs/hooks.md section 6)
  size_t count(Outcome o) const;
  // A restore hook with onError Fail failed (or an init hook could not be added).
  bool hook_failed() const;
  // "Completed" (nothing failed), "PartiallyFailed" (some items failed, or a hook with onError Fail), "Failed"
  // (every item that was tried failed).
  std::string phase() const;
};

struct RunOptions {
  int parallel = 8;
  // Called with the finished plan before anything is applied (restore_backup): an error stops the restore with
  // nothing applied (the CLI checks the identity's permissions here).
  std::function<Result<void>(const Plan&)> before_apply;
  util::ProgressSink* progress = nullptr;
  const util::Clock* clock = nullptr;  // default: system clock
  const crypto::UserKey* encryption_key = nullptr;  // opens an encrypted backup (load_backup)
  // restore_backup: called once the plan is made, before anything is applied; an error stops the restore.
  std::function<Result<void>()> after_planning;
  // restore_backup: the restore hooks, run once the items are applied (its transform must be in the plan's
  // transforms); hooks_client null records exec hooks as not run (dry runs, --to-dir).
  RestoreHooks* hooks = nullptr;
  kube::Client* hooks_client = nullptr;
};

RestoreReport execute(const Plan& plan, Applier& applier, const RunOptions& options);
// The same, consuming the plan: each item's object, status and managedFields are freed once it is applied, so
// the report is not built while every planned object is still held (restore_backup runs this way).
RestoreReport execute(Plan&& plan, Applier& applier, const RunOptions& options);

// The whole pipeline for one backup in a location: load and validate the entire archive (when that fails
// nothing is applied), plan, execute. Errors are load_backup's and make_plan's, and the applier's when it halted
// the run; item failures are in the report.
Result<RestoreReport> restore_backup(storage::Backend& backend, const PlanOptions& plan, Applier& applier,
                                     const RunOptions& run, const archive::ReaderLimits& limits = {});

// What a plan would write, for a permission check: each type at its target version in each target namespace
// ("" for cluster-scoped types), once, in plan order; skipped items write nothing.
std::vector<kube::WriteTarget> write_targets(const Plan& plan);
// The verbs a restore with this existing-resource policy uses: create, get, patch (+ delete for recreate).
std::vector<std::string> write_verbs(ExistingPolicy policy);

// Volumes restored without their data: the PersistentVolumeClaims and PersistentVolumes of the report that were
// created or updated (or would be, in a dry run). kbk restores no volume data yet (docs/restore.md, Volumes).
std::vector<const ItemReport*> volumes_without_data(const RestoreReport& report);

// 0 when nothing failed, 2 when some items failed, 1 when every item that was tried failed.
ExitCode exit_code(const RestoreReport& report);
json::Document report_to_json(const RestoreReport& report, bool with_items = true);
// Counts per outcome, then per reason, then the failed items and the rewrites; for a terminal.
std::string summary_text(const RestoreReport& report);
// One line for stderr when items failed, naming the first failure and its cause ("restore r1 PartiallyFailed: 2 of
// 40 items failed, the first configmaps/shop/cfg: ServiceUnavailable: create: the server is ..."); "" when none did.
std::string failure_line(const RestoreReport& report);

// Writes restores/<name>/ as Velero lays it out: restore-<name>-logs.gz, restore-<name>-results.gz
// ({"warnings":{...},"errors":{...}}), restore-<name>-resource-list.json.gz ({"<gv>/<Kind>":
// ["ns/name(created)"]}), then kbk's marker kbk-restore.json (the report without items) last.
// Before the marker, a real restore (mode "cluster") writes its rollback record (rollback.hpp), encrypted when
// key is given, and the marker names it ("rollback").
Result<void> upload_report(storage::Backend& backend, const RestoreReport& report, std::string_view log_text,
                           const crypto::UserKey* key = nullptr);
// The same with the run's log already going into a compressor (only its compressed bytes held while the restore
// runs); the item lines are added to it and it is finished.
Result<void> upload_report(storage::Backend& backend, const RestoreReport& report, compress::GzipWriter& log,
                           const crypto::UserKey* key = nullptr);

}  // namespace kbk::restore
