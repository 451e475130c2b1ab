// Restoring into another Kubernetes version (docs/migration.md): what the target serves, the version fallback for
// custom resources, the conversions of an offline restore (--to-dir, --dry-run=client), and the report of
// `kbk restore create --preflight`, which runs the restore's own plan and says per group/version/kind of the backup
// whether it is served as-is, converted (to what) or has no matching API (and why).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/kube/discovery.hpp>
#include <kbk/patch/convert.hpp>
#include <kbk/restore/backup.hpp>
#include <kbk/restore/plan.hpp>
#include <kbk/restore/transform.hpp>
#include <kbk/util/error.hpp>

namespace kbk::restore {

// What a target cluster serves: group/version/kinds, and per group/kind its versions (preferred first).
class TargetApis {
public:
  void add(std::string_view group, std::string_view version, std::string_view kind);
  bool serves(std::string_view group, std::string_view version, std::string_view kind) const;
  // Versions serving group/kind, the group's preferred version first; empty when the kind is unknown.
  std::vector<std::string> versions_of(std::string_view group, std::string_view kind) const;
  const patch::ServedApis& served() const { return m_served; }
  bool empty() const { return m_served.empty(); }

  static TargetApis from_discovery(const kube::Discovery& discovery);

private:
  patch::ServedApis m_served;
  std::map<std::string, std::vector<std::string>, std::less<>> m_versions;  // "group/Kind" -> versions
};

// True when Kubernetes no longer serves group/version for kind (extensions/v1beta1, policy/v1beta1 PDB, ...).
// autoscaling/v1 and other versions still served are not removed.
bool removed_from_kubernetes(std::string_view group_version, std::string_view kind);

// The target of an offline restore: "the latest Kubernetes APIs kbk knows" — every group/version/kind of the
// backup that Kubernetes still serves (custom resources included: their CRDs come with the backup or the target),
// plus the replacement of every removed one that kbk can convert.
TargetApis latest_kubernetes_apis(const LoadedBackup& backup);

// What the source cluster served, from the manifest's `apiGroups` (kbk backups; unknown for Velero's).
struct SourceApis {
  bool known = false;
  std::string server_version;                      // "v1.21.14"
  std::map<std::string, kube::GroupInfo> groups;   // by group name ("" core)
  // From a kbk-manifest.json document; unknown when it lacks apiGroups.
  static SourceApis from_manifest(const json::Value& manifest);
  // "source served v1beta1 (preferred), v1" for the group of `group`, "" when unknown.
  std::string describe(const std::string& group) const;
};

// Custom resources: the version to restore an object of group/kind stored at `version` through, decided from the
// backup's CRD for it and the versions the target serves (preferred first). Another version is used only when the
// backup's CRD says the two are compatible: both served and conversion strategy None (the API server then only
// rewrites apiVersion), or identical schemas. to_version empty = no compatible served version (reason says why).
struct CustomResourceVersion {
  bool changed = false;
  std::string to_version;
  std::string reason;  // why (changed) or why not (no version)
};
CustomResourceVersion choose_custom_resource_version(const json::Value& backup_crd, const std::string& version,
                                                     const std::vector<std::string>& target_versions);

// Stage::convert transforms. The custom-resource transform handles kinds the backup holds a CRD for: an object
// at a version the target does not serve is rewritten to a compatible served version or skipped with the reason;
// kinds the target does not know at all are left to the backup's CRD. Put it before the built-in conversion.
std::shared_ptr<Transform> make_custom_resource_version_transform(TargetApis target);
// Offline restores: converts every removed API to its replacement (latest_kubernetes_apis of the backup).
std::shared_ptr<Transform> make_latest_conversion_transform();

// ---- kbk restore create --preflight ------------------------------------------------------------------------------

enum class PreflightResult { served, converted, no_match, not_restored };
const char* preflight_result_name(PreflightResult r);  // "served", "converted", "no-match", "not-restored"

// One line per group/version/kind of the backup (and result: a kind may split, e.g. a Deployment without labels).
struct PreflightLine {
  std::string group, version, kind, resource;  // as backed up
  PreflightResult result = PreflightResult::served;
  size_t items = 0;
  std::string to;      // "policy/v1" when converted
  std::string reason;  // no_match: why it would be skipped; not_restored: the plan's reason code
  std::string source;  // "source served v1beta1 (preferred), v1", "" when unknown
  std::vector<std::string> notes;  // distinct conversion notes
  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
};

struct PreflightReport {
  std::string backup;
  std::string target;       // "cluster https://... (v1.30.14)" or the offline description
  std::string source;       // "v1.21.14", "" when unknown
  std::vector<PreflightLine> lines;  // sorted by group, version, kind, result
  size_t count(PreflightResult r) const;        // lines
  size_t items(PreflightResult r) const;        // items
  bool restorable() const { return count(PreflightResult::no_match) == 0; }
};

// Plans the restore exactly as `kbk restore create` would (options carry the same transforms, conversions
// included) and reports per group/version/kind. target says what the cluster serves (for custom resources whose
// CRD neither the target nor the backup has); target_description names it. Plans with make_plan_releasing_backup,
// as a restore does: the backup is only good for its keys and warnings afterwards.
Result<PreflightReport> preflight(LoadedBackup& backup, const PlanOptions& options, const TargetApis& target,
                                  std::string target_description, const SourceApis& source);

json::Document preflight_to_json(const PreflightReport& report);
std::string preflight_text(const PreflightReport& report);

}  // namespace kbk::restore
