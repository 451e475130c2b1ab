// `kbk migrate` (docs/migration.md, "kbk migrate"): one command that moves an application from cluster A to cluster
// B and either finishes or leaves both as they were. Phases, in order:
//   backup    a backup of A's selection (named NAME; NAME-pre too when the source is shut down: the copy taken
//             before anything was changed);
//   preflight against B, from that backup, with the migration's transforms: API versions (restore's preflight),
//             permissions, name clashes, storage classes; a blocker stops here, nothing changed;
//   shutdown  (--shutdown-source) A's Deployments, StatefulSets, ReplicaSets and ReplicationControllers scaled to
//             zero, CronJobs suspended, the previous values kept in annotations; then the backup NAME;
//   restore   the backup into B (every transform of restore create; the replicas and suspend flags of the source
//             as they were before the shutdown), volume data included: the claims are filled before any workload;
//   wait      until B's restored workloads are ready (restore/wait.hpp);
//   verify    every object the restore wrote, read back from B, holds every field the restore set (diff --live
//             semantics: server defaults and status do not count); no item failed.
// A failure after the restore started rolls B back (restore/rollback.hpp) and brings A back up. --rehearse restores
// into mapped namespaces (<ns>-rehearsal), waits, verifies, reports and always rolls B back; A is not touched.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <kbk/backup/options.hpp>
#include <kbk/crypto/encryption.hpp>
#include <kbk/json/json.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/restore/backup.hpp>
#include <kbk/restore/crossing.hpp>
#include <kbk/restore/engine.hpp>
#include <kbk/restore/options.hpp>
#include <kbk/restore/rollback.hpp>
#include <kbk/restore/transform.hpp>
#include <kbk/restore/volumes.hpp>
#include <kbk/restore/wait.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/error.hpp>
#include <kbk/util/exit_code.hpp>

namespace kbk::migrate {

inline constexpr const char* k_replicas_annotation = "kbk.io/migrate-replicas";
inline constexpr const char* k_suspend_annotation = "kbk.io/migrate-suspend";

// ---- the source's workloads -------------------------------------------------------------------------------------

struct Workload {
  std::string group, version, resource, kind, namespace_, name;
  std::string display() const;
};
// The Deployments, StatefulSets, ReplicationControllers, ReplicaSets without an owner and CronJobs of a backup.
std::vector<Workload> workloads_in(const restore::LoadedBackup& backup);

struct SourceItem {
  std::string item;
  std::string action;   // "scaled 3 -> 0", "suspended", "restored 3 replicas", "unsuspended", "already", "failed"
  std::string message;
  bool ok = true;
};
// Scales each workload to zero (CronJobs: suspend) recording the previous value in k_replicas_annotation /
// k_suspend_annotation (a value already recorded by an interrupted run is kept), then waits up to timeout seconds
// until no pod of them is left running (status.replicas 0).
std::vector<SourceItem> shut_down(kube::Client& client, const std::vector<Workload>& workloads, double timeout);
// Puts the recorded replicas and suspend flags back and removes the annotations (objects without them are left).
std::vector<SourceItem> bring_up(kube::Client& client, const std::vector<Workload>& workloads);
// Stage modify: objects carrying the annotations get their recorded replicas / suspend back and lose the
// annotations, so B runs what A ran before the shutdown.
std::shared_ptr<restore::Transform> make_shutdown_undo_transform();

// ---- the migration ----------------------------------------------------------------------------------------------

enum class Mode { migrate, rehearse };
enum class ShutdownSource { no, yes };

struct Options {
  std::string name;
  Mode mode = Mode::migrate;
  ShutdownSource shutdown_source = ShutdownSource::no;
  backup::Options backup;                        // the selection and volume settings (the name is set by run)
  // Volume data moves with the application: the backup NAME holds it (NAME-pre, taken before a shutdown, holds the
  // resources only) and the restore fills the claims in B before any workload starts. false: claims come up empty.
  bool volume_data = true;
  volume::RestoreSettings restore_volumes;                      // B's side: type/driver mappings, owners, movers
  std::map<std::string, std::string> storage_class_mappings;    // for the claims the volume data provisions
  restore::NamespaceMap namespace_mappings;
  std::vector<std::shared_ptr<restore::Transform>> transforms;  // the user's: modifiers, then mappings
  restore::CrossingOptions crossing;
  restore::ExistingPolicy existing = restore::ExistingPolicy::none;
  std::string rehearsal_suffix = "-rehearsal";
  double wait_timeout = 600;
  double shutdown_timeout = 120;
  int parallel = 8;
  const crypto::UserKey* encryption_key = nullptr;
};

struct Cluster {
  kube::Client* client = nullptr;
  std::string server;        // for the report and the records
  std::string cluster_name;  // recorded in the backup
};

struct PhaseReport {
  std::string name;     // backup, preflight, shutdown, restore, wait, verify, rollback, bring-up
  std::string status;   // ok, failed, skipped
  double seconds = 0;
  std::string message;
};

struct Report {
  std::string name;
  Mode mode = Mode::migrate;
  // Succeeded (B serves the application; A scaled down when asked), Rehearsed (verified in B, rolled back),
  // Blocked (preflight: nothing changed), RolledBack (B rolled back, A up again), Failed (the rollback or the
  // bring-up itself failed: look at both).
  std::string phase;
  std::string source_server, target_server;
  std::string backup, restore;
  std::vector<PhaseReport> phases;
  std::vector<std::string> blockers;       // preflight
  std::vector<std::string> preflight_notes;  // conversions (Routes), one line each
  std::vector<SourceItem> shutdown, brought_up;
  std::optional<restore::RestoreReport> restored;
  std::optional<restore::WaitReport> waited;
  std::vector<std::string> verify_problems;
  std::optional<restore::RollbackReport> rolled_back;
  std::string failure;                     // what went wrong, one line ("" on success)
  ExitCode exit_code() const;              // 0 Succeeded/Rehearsed, 4 Blocked, 1 RolledBack, 2 Failed
};

// Runs the migration. Errors are for what stops it before anything changed (the location, a backup name taken,
// A or B unreachable): nothing was changed then. Everything after that ends in the report.
Result<Report> run(Cluster& source, Cluster& target, storage::Backend& backend, const Options& options);

json::Document to_json(const Report& report);
std::string to_text(const Report& report);

}  // namespace kbk::migrate
