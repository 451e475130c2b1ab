#include <kbk/kube/resource.hpp>

#include <algorithm>

namespace kbk::kube {

std::string ResourceType::group_resource() const { return group.empty() ? resource : resource + "." + group; }

std::string ResourceType::api_version() const { return group.empty() ? version : group + "/" + version; }

bool ResourceType::has_verb(std::string_view verb) const {
  return std::find(verbs.begin(), verbs.end(), verb) != verbs.end();
}

bool ResourceType::has_subresource(std::string_view sub) const {
  return std::find(subresources.begin(), subresources.end(), sub) != subresources.end();
}

std::string_view ResourceType::missing_backup_verb() const {
  for (std::string_view verb : {"list", "get", "create", "delete"})
    if (!has_verb(verb)) return verb;
  return {};
}

std::string ResourceType::collection_path(std::string_view ns) const {
  std::string p = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !ns.empty()) {
    p += "/namespaces/";
    p += ns;
  }
  p += "/" + resource;
  return p;
}

std::string ResourceType::object_path(std::string_view ns, std::string_view name, std::string_view subresource) const {
  std::string p = collection_path(ns);
  p += "/";
  p += name;
  if (!subresource.empty()) {
    p += "/";
    p += subresource;
  }
  return p;
}

namespace {
struct ShortName {
  const char* short_name;
  const char* group;
  const char* resource;
};
const ShortName k_short_names[] = {
    {"po", "", "pods"}, {"svc", "", "services"}, {"cm", "", "configmaps"}, {"ns", "", "namespaces"},
    {"pv", "", "persistentvolumes"}, {"pvc", "", "persistentvolumeclaims"}, {"sa", "", "serviceaccounts"},
    {"ep", "", "endpoints"}, {"ev", "", "events"}, {"no", "", "nodes"}, {"rc", "", "replicationcontrollers"},
    {"limits", "", "limitranges"}, {"quota", "", "resourcequotas"}, {"deploy", "apps", "deployments"},
    {"sts", "apps", "statefulsets"}, {"ds", "apps", "daemonsets"}, {"rs", "apps", "replicasets"},
    {"cj", "batch", "cronjobs"}, {"crd", "apiextensions.k8s.io", "customresourcedefinitions"},
    {"crds", "apiextensions.k8s.io", "customresourcedefinitions"}, {"ing", "networking.k8s.io", "ingresses"},
    {"netpol", "networking.k8s.io", "networkpolicies"}, {"pc", "scheduling.k8s.io", "priorityclasses"},
    {"sc", "storage.k8s.io", "storageclasses"}, {"hpa", "autoscaling", "horizontalpodautoscalers"},
    {"pdb", "policy", "poddisruptionbudgets"}, {"csr", "certificates.k8s.io", "certificatesigningrequests"},
};



}  // namespace

std::vector<std::string> builtin_short_names(std::string_view group, std::string_view resource) {
  std::vector<std::string> out;
  for (const ShortName& s : k_short_names)
    if (group == s.group && resource == s.resource) out.push_back(s.short_name);
  return out;
}

bool is_builtin_group(std::string_view group) {
  // The groups kube-apiserver registers (pkg/controlplane, 1.21-1.33) plus the aggregated metrics API.
  static constexpr std::string_view k_groups[] = {
      "", "apps", "autoscaling", "batch", "policy", "admissionregistration.k8s.io", "apiextensions.k8s.io",
      "apiregistration.k8s.io", "authentication.k8s.io", "authorization.k8s.io", "certificates.k8s.io",
      "coordination.k8s.io", "discovery.k8s.io", "events.k8s.io", "extensions", "flowcontrol.apiserver.k8s.io",
      "internal.apiserver.k8s.io", "metrics.k8s.io", "networking.k8s.io", "node.k8s.io", "rbac.authorization.k8s.io",
      "resource.k8s.io", "scheduling.k8s.io", "storage.k8s.io", "storagemigration.k8s.io"};
  for (std::string_view g : k_groups)
    if (g == group) return true;
  return false;
}

}  // namespace kbk::kube
