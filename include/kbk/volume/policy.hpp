// Velero's volume policy file (resource policies, `version: v1`), read as Velero reads it so a Velero user brings
// their file unchanged (reference: Velero internal/resourcepolicies, docs/volumes.md "Volume policies"):
//   - strict: unknown or duplicate keys, a wrong type, a bad capacity, an unknown action are refused, every problem
//     as FILE:LINE:COL: message;
//   - the first policy whose conditions all match a volume wins; a policy without conditions matches every volume;
//   - conditions: capacity "lo,hi" (Kubernetes quantities, either side empty = 0), storageClass, nfs {server,path},
//     csi {driver, volumeAttributes}, volumeTypes, pvcLabels, pvcPhase; actions skip, snapshot, fs-backup, custom.
// includeExcludePolicy is read and validated (no '*', nothing in both lists); the backup applies it as its scoped
// resource filters.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/util/error.hpp>

namespace kbk::volume {

enum class PolicyAction { skip, snapshot, fs_backup, custom };
const char* policy_action_name(PolicyAction a);  // "skip", "snapshot", "fs-backup", "custom"

struct PolicyMatch {
  PolicyAction action = PolicyAction::skip;
  size_t rule = 0;              // 0-based index of the matching entry of volumePolicies
  json::Document parameters;    // action.parameters (null when absent)
};

// What a volume is matched on, as Velero's VolumeFilterData: the PersistentVolume (with its claim), or a pod's volume
// (with the claim it names), or an unbound claim alone. Pointers to the objects as the API returns them.
struct VolumeFilterData {
  const json::Value* persistent_volume = nullptr;
  const json::Value* pod_volume = nullptr;     // one entry of a pod's spec.volumes
  const json::Value* claim = nullptr;
};

struct IncludeExcludePolicy {
  std::vector<std::string> included_cluster_scoped, excluded_cluster_scoped;
  std::vector<std::string> included_namespace_scoped, excluded_namespace_scoped;
};

class PolicySet {
public:
  // Errc::config; message = the first problem "FILE:LINE:COL: ...", causes = every problem. Warnings (values Velero
  // accepts but that can never match, such as an unknown volume type) go to warnings().
  static Result<PolicySet> parse(std::string_view text, const std::string& file);
  static Result<PolicySet> load(const std::string& path);

  PolicySet();
  ~PolicySet();
  PolicySet(PolicySet&&) noexcept;
  PolicySet& operator=(PolicySet&&) noexcept;

  // The first matching policy, or nullopt. Errc::config when the data holds neither a volume nor a claim (Velero's
  // "failed to convert object").
  Result<std::optional<PolicyMatch>> match(const VolumeFilterData& data) const;

  size_t size() const;
  const std::string& file() const;
  const std::vector<std::string>& warnings() const;
  const std::optional<IncludeExcludePolicy>& include_exclude() const;
  // "volumePolicies[2] (fs-backup) at FILE:7:3", for results and logs (the index as in -o json's "rule").
  std::string describe(size_t rule) const;

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// Velero's volume type of a PersistentVolume spec or a pod volume ("csi", "nfs", "hostPath", "emptyDir", ...; "" for
// a pod volume that is a persistentVolumeClaim or of no known type), in Velero's detection order.
std::string volume_type_of_pv(const json::Value& pv);
std::string volume_type_of_pod_volume(const json::Value& volume);

// A Kubernetes quantity ("10Gi", "1.5G", "500m", "1e3") in base units; nullopt when malformed.
std::optional<long double> parse_quantity(std::string_view text);

}  // namespace kbk::volume
