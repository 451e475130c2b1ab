// What the current identity may read: the check behind `kbk auth can-i-backup`, so a user learns before a backup
// which resource types (and namespaces) it would miss.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/kube/resource.hpp>
#include <kbk/util/error.hpp>

namespace kbk::kube {

struct AccessDenial {
  ResourceType type;
  std::vector<std::string> verbs;        // of "list", "get": the ones not allowed
  // Where a namespaced type is denied: the one namespace checked, or (across the cluster) the namespaces it is
  // denied in besides cluster scope (empty when namespaces could not be listed). Empty for cluster-scoped types.
  std::vector<std::string> namespaces;
};

struct AccessReport {
  std::string user;                      // from a SelfSubjectReview, "" when the server has none
  std::string namespace_;                // "" = the whole cluster was checked
  size_t checked = 0;                    // resource types checked
  std::vector<AccessDenial> denied;
  std::vector<std::string> notes;        // limits of the check (namespaces not listable, incomplete rules)
  bool readable() const { return denied.empty(); }
};

// Checks list and get on every type with SelfSubjectAccessReviews (at cluster scope, or in `namespace_`). Across
// the cluster, a namespaced type denied at cluster scope is then checked namespace by namespace with one
// SelfSubjectRulesReview per namespace: types readable in every namespace are not reported (a backup reads them
// namespace by namespace). Errors only when the reviews themselves fail.
Result<AccessReport> check_backup_access(Client& client, const std::vector<ResourceType>& types,
                                         std::string_view namespace_);

// What a restore would write: a type in a namespace ("" for cluster-scoped types).
struct WriteTarget {
  ResourceType type;
  std::string namespace_;
};

struct WriteDenial {
  ResourceType type;
  std::string namespace_;           // "" for cluster-scoped types
  std::vector<std::string> verbs;   // the verbs not allowed, in the order asked
  // "create configmaps in namespace shop" / "create,patch customresourcedefinitions.apiextensions.k8s.io"
  std::string line() const;
};

struct WriteAccessReport {
  std::string user;                 // from a SelfSubjectReview, "" when the server has none
  size_t checked = 0;               // (type, namespace) pairs checked
  std::vector<WriteDenial> denied;  // in the order of the targets
  std::vector<std::string> notes;
  bool writable() const { return denied.empty(); }
  // One line for an error: `user "viewer" cannot create configmaps in namespace shop (and 4 more)`.
  std::string summary() const;
};

// The check behind `kbk auth can-i-restore` and restore's own preflight: may the identity use these verbs on
// every target? One SelfSubjectRulesReview per namespace decides namespaced targets (confirmed with
// SelfSubjectAccessReviews when the server says its rules are incomplete, or when the rules review itself is
// refused); cluster-scoped targets are SelfSubjectAccessReviews. Errors only when the reviews cannot be made.
Result<WriteAccessReport> check_write_access(Client& client, const std::vector<WriteTarget>& targets,
                                             const std::vector<std::string>& verbs);

// Whether SelfSubjectRulesReview status.resourceRules grant verb on group/resource (wildcards honoured; rules
// limited to resourceNames grant nothing for list).
bool rules_allow(const json::Value& resource_rules, std::string_view verb, std::string_view group,
                 std::string_view resource);

}  // namespace kbk::kube
