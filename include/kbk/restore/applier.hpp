// Appliers execute a Plan's items. One interface, several implementations (ninja's Builder vs its
// DryRunCommandRunner): the real API, server-side dry run, plan only (client dry run) and a folder of
// manifests (--to-dir). The engine (engine.hpp) drives them tier by tier; apply() is called from several
// threads at once for the items of one tier and must be thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/kube/client.hpp>
#include <kbk/kube/resource.hpp>
#include <kbk/restore/options.hpp>
#include <kbk/restore/plan.hpp>
#include <kbk/util/error.hpp>

namespace kbk::restore {

enum class Outcome { created, updated, skipped, failed };
const char* outcome_name(Outcome o);

// How one item ended. reason is a stable code ("created", "exists-identical", "would-create", an API error's
// Errc name, or a reason:: code from plan.hpp); message is one line for the user.
struct ItemResult {
  ItemResult() = default;
  ItemResult(Outcome o, std::string r, std::string m = "") : outcome(o), reason(std::move(r)), message(std::move(m)) {}
  Outcome outcome = Outcome::failed;
  std::string reason;
  std::string message;
  // What a rollback needs (docs/format-archive.md section 6.1), set by the real cluster applier only: the object as
  // the restore left it (uid, resourceVersion after managedFields and status were written), the object it sent,
  // and for an update or a recreate the live object before (JSON text, in the plan's spool when it has one). Not
  // part of the printed report.
  std::string uid, resource_version;
  JsonText applied, before;
  // Set when the item is not done: the server asked for a wait (429/503 with Retry-After) or its request failed in
  // a way worth retrying (a 5xx, a reset) before anything of it was written. The engine applies the item again no
  // sooner than this many seconds later and meanwhile goes on with other items; the rest of this result is not
  // reported.
  std::optional<double> retry_in;
};

// Resolves the types a cluster serves. refresh() re-reads discovery (after CRDs were created).
class TypeResolver {
public:
  virtual ~TypeResolver() = default;
  // The type serving group/resource at exactly this version, or nullopt.
  virtual std::optional<kube::ResourceType> find(const std::string& group, const std::string& version,
                                                 const std::string& resource) = 0;
  // Versions the cluster serves for group/resource (empty when the type is unknown), preferred first.
  virtual std::vector<std::string> served_versions(const std::string& group, const std::string& resource) = 0;
  virtual Result<void> refresh() = 0;
};

// The real one, over kube::Discovery.
std::unique_ptr<TypeResolver> make_discovery_resolver(kube::Client& client);

class Applier {
public:
  virtual ~Applier() = default;
  // "cluster", "dry-run=server", "dry-run=client", "to-dir DIR": shown in the summary.
  virtual std::string mode() const = 0;
  virtual bool dry_run() const { return false; }
  // A result with retry_in set is not final: apply() is called for the item again later (see ItemResult::retry_in).
  virtual ItemResult apply(const PlannedItem& item) = 0;
  // Set once the applier cannot go on at all (--to-dir: the folder's disk is full or read-only): the engine hands
  // out no more items, the failure is not logged per item, and restore_backup fails with this one line.
  virtual std::optional<Error> halted() const { return std::nullopt; }
  // After the last item of a tier (single-threaded). The cluster applier waits for created CRDs to be
  // Established here and refreshes discovery; it may turn a result into a failure. When the engine consumes the
  // plan, the items' object, status and managedFields are already released here: use their names and types.
  virtual void end_tier(Tier, const std::vector<const PlannedItem*>&, std::vector<ItemResult*>&) {}
  // Before the first item of a tier that has items, and after the last tier (single-threaded): the volume data
  // decorator (volumes.hpp) makes snapshot objects before the claims and fills claims before any workload.
  virtual void before_tier(Tier) {}
  virtual void finish() {}
};

struct ClusterApplierOptions {
  ExistingPolicy existing = ExistingPolicy::none;
  double crd_established_timeout = 60;   // seconds
  double namespace_terminating_timeout = 600;
  double delete_timeout = 300;           // recreate: wait until the old object is gone
  double default_service_account_wait = 10;
  double poll_interval = 0.5;
  // Sleeps between polls; tests pass a no-op (timeouts are counted in polls: timeout / poll_interval).
  std::function<void(double seconds)> sleep;
};

// Creates through the API (fieldManager=kbk), re-applies managedFields, writes status when asked, follows the
// existing-resource policy on conflicts, waits for Terminating namespaces and Established CRDs.
std::unique_ptr<Applier> make_cluster_applier(kube::Client& client, TypeResolver& types,
                                              const ClusterApplierOptions& options);
// --dry-run=server: every write with dryRun=All. Items whose namespace or CRD this restore would create are
// reported "would create (pending namespace/CRD)" instead of failing.
std::unique_ptr<Applier> make_server_dry_run_applier(kube::Client& client, TypeResolver& types,
                                                     const ClusterApplierOptions& options);
// --dry-run=client: plan only, no cluster.
std::unique_ptr<Applier> make_plan_only_applier();
// --to-dir DIR: writes each item as NNNN-<resource>[.<group>]-<ns|_cluster>-<name>.yaml (mode 0600).
// Errc::config when DIR exists and is not an empty folder; creates it when missing.
Result<std::unique_ptr<Applier>> make_dir_applier(const std::string& dir);

// What the live object and the one to restore disagree on: "spec", "data", "labels", "annotations", ...
// Compared after sanitizing: fields the backed-up object has must be equal in the live one (the server fills
// in defaults, clusterIPs and the like); labels and annotations must match exactly (restore labels ignored).
std::vector<std::string> differences(const json::Value& live, const json::Value& desired);
// A JSON merge patch taking live to desired in the sense of differences(): changed fields set, labels and
// annotations the backed-up object lacks removed, nothing the server filled in touched.
json::Document update_patch(const json::Value& live, const json::Value& desired);

}  // namespace kbk::restore
