// Which resource types, namespaces and objects a backup takes, with Velero's semantics (velero-facts 2.3):
// resource names resolved through discovery, namespace globs, the old tri-state cluster-resource rule or the
// scoped filters, kbk's resource/namespace/name patterns, and the label selectors. Every decision carries the
// reason a user reads in --explain.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <kbk/app/walk.hpp>
#include <kbk/backup/options.hpp>
#include <kbk/kube/label_selector.hpp>
#include <kbk/json/json.hpp>
#include <kbk/kube/discovery.hpp>
#include <kbk/util/error.hpp>

namespace kbk::backup {

using kube::LabelSelector;

using Decision = app::Decision;

// A list of resource patterns as the user typed them, resolved to "<plural>[.<group>]" or kept as globs.
class ResourceFilter {
public:
  ResourceFilter() = default;
  ResourceFilter(const std::vector<std::string>& includes, const std::vector<std::string>& excludes,
                 const kube::Discovery& discovery);
  bool includes_everything() const { return m_includes.empty() || m_include_star; }
  bool includes_empty() const { return m_includes.empty(); }
  // The pattern of the include list matching group_resource, or nullptr.
  const std::string* matching_include(std::string_view gr) const;
  const std::string* matching_exclude(std::string_view gr) const;
  bool exclude_star() const { return m_exclude_star; }

private:
  std::vector<std::string> m_includes;
  std::vector<std::string> m_excludes;
  bool m_include_star = false;
  bool m_exclude_star = false;
};

class Selection {
public:
  // Resolves every resource name through discovery; unresolvable names are kept verbatim (as Velero).
  static Result<Selection> make(const Options& options, const kube::Discovery& discovery);

  // Whether the main pass lists this type at all (cohabiting duplicates, events, verbs, the resource filters).
  Decision type(const kube::ResourceType& rt) const;
  // Whether objects in this namespace are selected by the namespace filter.
  Decision namespace_(std::string_view ns) const;
  // --include-names / --exclude-names for one object (types no include pattern names pass).
  Decision names(const kube::ResourceType& rt, std::string_view ns, std::string_view name) const;
  // Client-side label check (the server applies it on LIST; used for namespaces and --explain).
  Decision labels(const json::Value& obj) const;
  // Whether a related object of this type may be pulled in: only an explicit exclusion stops it.
  Decision related(const kube::ResourceType& rt) const;
  // Whether the Namespace object itself is kept (ns passes the filter; with a selector, it also matches or
  // holds backed-up items).
  Decision namespace_object(std::string_view ns, const json::Value& obj, bool has_items) const;

  bool namespaces_include_everything() const;
  // The namespaces to list one by one when the include list is specific (globs expanded against existing).
  std::vector<std::string> namespaces_to_list(const std::vector<std::string>& existing) const;
  bool lists_per_namespace() const;

  bool has_label_selector() const { return !m_selectors.empty(); }
  // The selectors passed to LIST: one LIST per entry ("" = no selector).
  std::vector<std::string> list_selectors() const;

  const Options& options() const { return m_options; }

private:
  Options m_options;
  std::vector<LabelSelector> m_selectors;
  ResourceFilter m_old;
  ResourceFilter m_cluster_scoped;
  ResourceFilter m_namespace_scoped;
  struct NamePattern {
    std::string resource;  // resolved group_resource, or a glob
    std::string ns;        // "" for resource/name patterns (cluster-scoped)
    std::string name;
    bool cluster = false;
    std::string text;
  };
  std::vector<NamePattern> m_include_names;
  std::vector<NamePattern> m_exclude_names;
  std::vector<std::string> m_served;  // group_resources the server serves (for cohabitation)
};

}  // namespace kbk::backup
