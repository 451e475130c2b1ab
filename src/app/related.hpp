// References from one object to others that must come with it (docs/format-application.md section 4), read from
// the object alone. Follow::classic is what backup --with-related has always followed:
// Pod/workload -> PVCs, ServiceAccount, PriorityClass, ConfigMaps and Secrets it mounts or reads;
// PVC -> PV -> StorageClass; (Cluster)RoleBinding -> (Cluster)Role; Ingress -> IngressClass;
// ServiceAccount -> its imagePullSecrets. Follow::application adds Ingress -> backend Services and TLS Secrets,
// CRD -> its conversion webhook's Service, and any object -> its owners (given by kind: the walk resolves them).
// What needs LISTs (ServiceAccount -> bindings, custom resource -> CRD, Service -> webhooks and APIServices, Helm
// annotations -> release Secret) is done by the walk.
#pragma once

#include <string>
#include <tuple>
#include <vector>

#include <kbk/app/walk.hpp>
#include <kbk/json/json.hpp>

namespace kbk::app {

struct Ref {
  std::string group;
  std::string resource;  // plural; "" when only the kind is known (owner references)
  std::string kind;      // set when resource is ""
  std::string ns;        // "" for cluster-scoped (and for owners, whose scope the walk decides)
  std::string name;
  std::string via;       // "volume configMap", "serviceAccountName", "roleRef", ...
  bool operator<(const Ref& o) const {
    return std::tie(group, resource, kind, ns, name) < std::tie(o.group, o.resource, o.kind, o.ns, o.name);
  }
  bool operator==(const Ref& o) const {
    return group == o.group && resource == o.resource && kind == o.kind && ns == o.ns && name == o.name;
  }
  std::string group_resource() const { return group.empty() ? resource : resource + "." + group; }
};

// gr is "<plural>[.<group>]" of obj.
std::vector<Ref> related_refs(const std::string& gr, const json::Value& obj, Follow follow);

}  // namespace kbk::app
