// References from one object to others a restore needs with it (DESIGN section 2 "related objects"):
// Pod/workload -> PVCs, ServiceAccount, PriorityClass, ConfigMaps and Secrets it mounts or reads;
// PVC -> PV -> StorageClass; (Cluster)RoleBinding -> (Cluster)Role; Ingress -> IngressClass;
// ServiceAccount -> its imagePullSecrets. ServiceAccount -> bindings and custom resource -> CRD need LISTs
// and are handled by the engine.
#pragma once

#include <string>
#include <tuple>
#include <vector>

#include <kbk/json/json.hpp>

namespace kbk::backup {

struct Ref {
  std::string group;
  std::string resource;
  std::string ns;  // "" for cluster-scoped
  std::string name;
  bool operator<(const Ref& o) const {
    return std::tie(group, resource, ns, name) < std::tie(o.group, o.resource, o.ns, o.name);
  }
  bool operator==(const Ref& o) const {
    return group == o.group && resource == o.resource && ns == o.ns && name == o.name;
  }
  std::string group_resource() const { return group.empty() ? resource : resource + "." + group; }
};

// gr is "<plural>[.<group>]" of obj.
std::vector<Ref> related_refs(const std::string& gr, const json::Value& obj);

}  // namespace kbk::backup
