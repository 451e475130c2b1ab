// The restore plan: what will be applied, in which order, in what final form, and what is skipped and why.
// Building it is pure (no cluster): selection, ordering, sanitizing, transforms and namespace mapping all
// happen here, so `--to-dir` and `--dry-run=client` run exactly the same code as a real restore. The plan
// is executed by an Applier (applier.hpp), as ninja's Plan is executed by its Builder.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/app/definition.hpp>
#include <kbk/app/resolve.hpp>
#include <kbk/json/json.hpp>
#include <kbk/restore/backup.hpp>
#include <kbk/restore/json_text.hpp>
#include <kbk/restore/options.hpp>
#include <kbk/restore/transform.hpp>
#include <kbk/util/error.hpp>

namespace kbk::restore {

// Apply order. Items of one tier are applied in parallel; a tier starts when the previous one is done.
enum class Tier : int {
  crds = 0,            // then wait until Established and refresh discovery
  namespaces,          // waiting while one is Terminating
  storage_classes,
  persistent_volumes,
  persistent_volume_claims,
  rbac,                // ServiceAccounts, (Cluster)Roles, (Cluster)RoleBindings
  config,              // Secrets, ConfigMaps
  policy,              // LimitRanges, ResourceQuotas, PriorityClasses
  services,            // Services, Endpoints, EndpointSlices
  workloads,           // Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs, Pods
  other,               // everything else
  webhooks,            // admission webhook configurations last: they could reject the rest
};
inline constexpr int k_tier_count = 12;
Tier tier_for(std::string_view group, std::string_view resource);
const char* tier_name(Tier t);

// Why an item is not applied, decided while planning. Reason codes are stable (results, -o json).
namespace reason {
inline constexpr const char* managed_by_cluster = "managed-by-cluster";
inline constexpr const char* controller_owned = "controller-owned";
inline constexpr const char* service_account_token = "service-account-token";
inline constexpr const char* dynamic_pv = "dynamically-provisioned-pv";
inline constexpr const char* pv_in_use = "pv-in-use";
inline constexpr const char* transform_skip = "skipped-by-transform";
inline constexpr const char* transform_failed = "transform-failed";
inline constexpr const char* invalid_item = "invalid-item";
}  // namespace reason

struct PlanSkip {
  std::string reason;   // reason:: code
  std::string message;  // one line for the user
  bool failed = false;  // transform errors and invalid items count as failures
};

// What applying the item means.
enum class ItemAction {
  create,                  // create; on conflict follow the existing-resource policy
  merge_service_account,   // the `default` ServiceAccount: merge imagePullSecrets/annotations into the live one
};

struct PlannedItem {
  size_t order = 0;                // 1-based apply order among applied items (0 for skipped)
  Tier tier = Tier::other;
  std::string group, version, resource, kind;  // the type to write (version after conversions)
  bool namespaced = false;
  std::string source_namespace, source_name;   // as in the backup
  std::string target_namespace, target_name;   // as restored
  // Held as JSON text until applied (json_text.hpp); appliers parse() what they need.
  JsonText object;                 // the final object to create (no status, no managedFields); null when skipped
  JsonText status;                 // the backed-up status, null unless --restore-status
  JsonText managed_fields;         // the backed-up managedFields (array), null when none
  std::optional<PlanSkip> skip;
  ItemAction action = ItemAction::create;
  bool synthesized = false;        // a namespace created for restored items that the backup lacks
  // A modify-stage transform (a resource modifier, an image or namespace mapping, a hook) changed the object: the
  // restore added or changed fields no backed-up managedFields entry describes (docs/restore.md, sanitizers).
  bool transformed = false;
  // Within its tier, items are applied wave by wave (restore order hints of applications): wave i starts when
  // wave i-1 is done. 0 without hints.
  int wave = 0;
  std::vector<std::string> notes;  // rewrites and sanitizer changes, one line each

  std::string group_resource() const { return group.empty() ? resource : resource + "." + group; }
  // "deployments.apps/ns/name" or "namespaces/name" (target names).
  std::string display() const;
};

struct PlanOptions {
  std::string backup_name;
  std::string restore_name;
  Selection selection;
  // restore create --app: only what these applications select in the backup (the walk of app/walk.hpp over the
  // backup's contents), narrowed by `selection` where its filters are given; their restore.order hints order the
  // items within each tier (docs/format-application.md section 7). Null: the selection alone.
  std::shared_ptr<const app::Application> applications;
  NamespaceMap namespace_mappings;
  RestoreStatus restore_status = RestoreStatus::no;
  NodePorts node_ports = NodePorts::reset;
  RestoreLabels restore_labels = RestoreLabels::add;
  std::vector<std::shared_ptr<Transform>> transforms;
  // Does a PersistentVolume of this name exist in the target cluster? (null: assume not). Decides whether a
  // Retain PV restored into a mapped namespace would bind a volume still in use.
  std::function<bool(const std::string& pv_name)> pv_exists;
  // Restore this PersistentVolume as it is, whatever its reclaim policy (volume data: --pv-driver-mappings adopts
  // volumes by their handle). null: none.
  std::function<bool(const json::Value& pv)> keep_pv;
};

struct Plan {
  // Sorted: tier, then group/resource, namespace, name; skipped included. A deque: a consumed plan gives its items
  // away from the front, block by block (engine.cpp), so a restore never holds every item twice.
  std::deque<PlannedItem> items;
  std::vector<std::string> warnings;
  size_t selected = 0;             // backed-up objects the selection kept
};

// Errc::config for a malformed selection. Item-level problems become skipped/failed items, never errors.
Result<Plan> make_plan(const LoadedBackup& backup, const PlanOptions& options);
// The same plan, releasing each backup item's text (BackupItem::object) as soon as planning no longer reads it:
// once planned or left out, except Namespaces, the Services of Endpoints/EndpointSlices and the controllers named
// in ownerReferences, which other items look up. So the backup and the plan are never both held in full.
// restore_backup plans this way; the backup is only good for its keys and warnings afterwards.
Result<Plan> make_plan_releasing_backup(LoadedBackup& backup, const PlanOptions& options);

// What applications select in a backup, with each object's part and reason: the same walk as over the live
// cluster, run over the backup's items (app/memory_source.hpp). Errc::config when a definition does not fit the
// backup's types.
Result<app::Resolution> resolve_applications(const LoadedBackup& backup, const app::Application& applications,
                                             const app::ResolveOptions& options);
// With default options (an overload, not `= {}`: see app::resolve).
Result<app::Resolution> resolve_applications(const LoadedBackup& backup, const app::Application& applications);

// `NNNN-<resource>[.<group>]-<namespace|_cluster>-<name>.yaml` for --to-dir.
std::string manifest_file_name(const PlannedItem& item);

}  // namespace kbk::restore
