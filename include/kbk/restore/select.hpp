// Selection of backed-up objects: namespace globs, resource names as kubectl accepts them, resource/ns/name
// patterns, label selectors and the cluster-resources tri-state, evaluated against the objects as they were
// backed up (original namespaces, backed-up labels). No cluster is needed: resource names resolve against
// the types present in the backup and a table of kubectl's short names.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/kube/label_selector.hpp>
#include <kbk/restore/options.hpp>
#include <kbk/util/error.hpp>

namespace kbk::restore {

using kube::LabelSelector;

// Identity of a resource type for name matching.
struct TypeNames {
  std::string group;
  std::string resource;  // plural
  std::string kind;
};

// True when a user-typed resource pattern (glob) names this type: "deploy", "deployment", "deployments",
// "Deployment", "deployments.apps", "deployment.apps", "*.apps".
bool resource_pattern_matches(std::string_view pattern, const TypeNames& type);

class Selector {
public:
  // Errc::config for a malformed selector or name pattern.
  static Result<Selector> compile(const Selection& selection);

  bool namespace_selected(std::string_view ns) const;
  // Every namespace selected (no include other than "*", no exclude): cluster resources follow by default.
  bool all_namespaces() const;
  bool resource_selected(const TypeNames& type) const;
  // Cluster-scoped types are subject to the tri-state as Velero has it; "namespaces" are decided by name.
  bool cluster_scoped_allowed() const;
  bool cluster_resources_explicitly_excluded() const;
  bool resource_explicitly_excluded(const TypeNames& type) const;
  // The full decision for one object. `why` (optional) gets the first reason it is out.
  bool matches(const TypeNames& type, std::string_view ns, std::string_view name, const json::Value& object,
               std::string* why = nullptr) const;
  // Whether matches() reads the object (its labels, for -l and --or-selector); without, any value will do.
  bool reads_object() const { return !m_labels.empty() || !m_or.empty(); }

private:
  struct NamePattern {
    std::string resource, ns, name;
    bool cluster = false;  // written as resource/name
  };
  static Result<NamePattern> parse_name_pattern(std::string_view text);
  static bool name_pattern_matches(const NamePattern& p, const TypeNames& type, std::string_view ns,
                                   std::string_view name);

  Selection m_sel;
  LabelSelector m_labels;
  std::vector<LabelSelector> m_or;
  std::vector<NamePattern> m_include_names, m_exclude_names;
};

}  // namespace kbk::restore
