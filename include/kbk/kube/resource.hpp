// What the API server serves: resource types from discovery.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kbk::kube {

// One resource of one group version, as discovery describes it.
struct ResourceType {
  std::string group;     // "" for the core group
  std::string version;   // "v1"
  std::string resource;  // plural: "deployments"
  std::string kind;      // "Deployment"
  std::string singular;  // "deployment"
  bool namespaced = false;
  std::vector<std::string> verbs;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  std::vector<std::string> subresources;  // "status", "scale", "exec", ...

  // "deployments.apps", or "pods" for the core group (Velero's archive folder names).
  std::string group_resource() const;
  // "apps/v1", or "v1" for the core group.
  std::string api_version() const;
  bool has_verb(std::string_view verb) const;
  bool has_subresource(std::string_view sub) const;
  // kbk (like Velero) backs up only types it can list, get, create and delete: the first of those verbs the
  // type lacks, or "" when it has them all.
  std::string_view missing_backup_verb() const;
  bool backupable() const { return missing_backup_verb().empty(); }
  // URL path of the collection: /api/v1/namespaces/NS/pods or /apis/apps/v1/deployments (ns "" = all).
  std::string collection_path(std::string_view ns) const;
  // URL path of one object, with an optional subresource.
  std::string object_path(std::string_view ns, std::string_view name, std::string_view subresource = "") const;
};

// kubectl's short names for a built-in type ("deploy" for deployments.apps), for type lists that do not come from a
// server's discovery (a backup's contents). Empty for custom resources and unknown types.
std::vector<std::string> builtin_short_names(std::string_view group, std::string_view resource);

// Whether kube-apiserver itself serves this API group (core "", apps, rbac.authorization.k8s.io, ...), so no
// CustomResourceDefinition can define it. Groups CRDs commonly use under k8s.io (snapshot.storage.k8s.io,
// gateway.networking.k8s.io) are not built in.
bool is_builtin_group(std::string_view group);

}  // namespace kbk::kube
