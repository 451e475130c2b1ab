// Namespace mapping: every reference into a mapped namespace is rewritten, not only metadata.namespace.
#pragma once

#include <string>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/restore/options.hpp>

namespace kbk::restore {

// Rewrites obj (of group/kind) for `mappings`: metadata.namespace; a Namespace's own name (and its
// kubernetes.io/metadata.name label); (Cluster)RoleBinding subjects' namespace and
// system:serviceaccount(s):<ns> user/group names; PV spec.claimRef.namespace; NetworkPolicy
// namespaceSelectors on kubernetes.io/metadata.name; webhook clientConfig.service.namespace; APIService and
// CRD conversion webhook service namespaces. Appends "field: old -> new" per rewrite to notes.
void map_namespaces(json::Document& obj, const std::string& group, const std::string& kind,
                    const NamespaceMap& mappings, std::vector<std::string>& notes);

// The target of ns (ns itself when unmapped).
std::string mapped_namespace(const NamespaceMap& mappings, const std::string& ns);

}  // namespace kbk::restore
