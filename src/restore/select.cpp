// Selection of backed-up objects (see select.hpp).
#include <kbk/restore/select.hpp>

#include <cctype>

#include <kbk/kube/resource.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::restore {
namespace {

}  // namespace

bool resource_pattern_matches(std::string_view pattern_in, const TypeNames& type) {
  std::string p = util::to_lower(util::trim(pattern_in));
  if (p.empty()) return false;
  std::string kind = util::to_lower(type.kind);
  auto dotted = [&](const std::string& s) { return type.group.empty() ? s : s + "." + type.group; };
  if (p.find('.') != std::string::npos) {
    // "deployments.apps", "deployment.apps", "*.apps", "deployments.v1.apps"
    if (util::glob_match(p, dotted(type.resource)) || (!kind.empty() && util::glob_match(p, dotted(kind))))
      return true;
    return false;
  }
  if (util::glob_match(p, type.resource) || (!kind.empty() && p == kind)) return true;
  for (const auto& s : kube::builtin_short_names(type.group, type.resource))
    if (p == s) return true;
  return false;
}

Result<Selector> Selector::compile(const Selection& selection) {
  Selector s;
  s.m_sel = selection;
  KBK_ASSIGN_OR_RETURN(s.m_labels, LabelSelector::parse(selection.label_selector));
  if (!selection.label_selector.empty() && !selection.or_selectors.empty())
    return unexpected(Errc::config, "--selector and --or-selector cannot be used together");
  for (const std::string& o : selection.or_selectors) {
    KBK_ASSIGN_OR_RETURN(auto ls, LabelSelector::parse(o));
    s.m_or.push_back(std::move(ls));
  }
  for (const std::string& p : selection.include_names) {
    KBK_ASSIGN_OR_RETURN(auto np, parse_name_pattern(p));
    s.m_include_names.push_back(std::move(np));
  }
  for (const std::string& p : selection.exclude_names) {
    KBK_ASSIGN_OR_RETURN(auto np, parse_name_pattern(p));
    s.m_exclude_names.push_back(std::move(np));
  }
  for (const std::string& e : selection.exclude_namespaces)
    if (e == "*") return unexpected(Errc::config, "--exclude-namespaces: \"*\" would exclude everything");
  return s;
}

Result<Selector::NamePattern> Selector::parse_name_pattern(std::string_view text) {
  auto parts = util::split(text, '/', false);
  NamePattern p;
  if (parts.size() == 3) {
    p.resource = parts[0];
    p.ns = parts[1];
    p.name = parts[2];
    p.cluster = p.ns.empty();
  } else if (parts.size() == 2) {
    p.resource = parts[0];
    p.name = parts[1];
    p.cluster = true;
  } else {
    return unexpected(Errc::config, "name pattern \"" + std::string(text) +
                                        "\": expected resource/namespace/name or resource/name");
  }
  if (p.resource.empty() || p.name.empty())
    return unexpected(Errc::config, "name pattern \"" + std::string(text) + "\": empty resource or name");
  return p;
}

bool Selector::name_pattern_matches(const NamePattern& p, const TypeNames& type, std::string_view ns,
                                    std::string_view name) {
  if (!resource_pattern_matches(p.resource, type)) return false;
  if (p.cluster ? !ns.empty() : !util::glob_match(p.ns, ns)) return false;
  return util::glob_match(p.name, name);
}

bool Selector::namespace_selected(std::string_view ns) const {
  for (const std::string& e : m_sel.exclude_namespaces)
    if (util::glob_match(e, ns)) return false;
  if (m_sel.include_namespaces.empty()) return true;
  for (const std::string& i : m_sel.include_namespaces)
    if (i == "*" || util::glob_match(i, ns)) return true;
  return false;
}

bool Selector::all_namespaces() const {
  if (!m_sel.exclude_namespaces.empty()) return false;
  for (const std::string& i : m_sel.include_namespaces)
    if (i != "*") return false;
  return true;
}

bool Selector::resource_selected(const TypeNames& type) const {
  for (const std::string& e : m_sel.exclude_resources)
    if (resource_pattern_matches(e, type)) return false;
  if (m_sel.include_resources.empty()) return true;
  for (const std::string& i : m_sel.include_resources)
    if (i == "*" || resource_pattern_matches(i, type)) return true;
  return false;
}

bool Selector::resource_explicitly_excluded(const TypeNames& type) const {
  for (const std::string& e : m_sel.exclude_resources)
    if (resource_pattern_matches(e, type)) return true;
  return false;
}

bool Selector::cluster_scoped_allowed() const {
  if (m_sel.include_cluster_resources) return *m_sel.include_cluster_resources;
  return all_namespaces();
}

bool Selector::cluster_resources_explicitly_excluded() const {
  return m_sel.include_cluster_resources.has_value() && !*m_sel.include_cluster_resources;
}

bool Selector::matches(const TypeNames& type, std::string_view ns, std::string_view name, const json::Value& object,
                       std::string* why) const {
  auto no = [&](const std::string& w) {
    if (why) *why = w;
    return false;
  };
  bool is_namespace_object = type.group.empty() && type.resource == "namespaces";
  if (!resource_selected(type)) return no("resource type not selected");
  if (is_namespace_object) {
    if (!namespace_selected(name)) return no("namespace not selected");
  } else if (ns.empty()) {
    if (!cluster_scoped_allowed()) return no("cluster-scoped resources not included");
  } else if (!namespace_selected(ns)) {
    return no("namespace not selected");
  }
  for (const NamePattern& p : m_exclude_names)
    if (name_pattern_matches(p, type, ns, name)) return no("name excluded");
  if (!m_include_names.empty()) {
    bool any = false;
    for (const NamePattern& p : m_include_names) any = any || name_pattern_matches(p, type, ns, name);
    if (!any) return no("name not included");
  }
  const json::Value* labels = json::at(object, {"metadata", "labels"});
  if (!m_labels.empty() && !m_labels.matches(labels)) return no("labels do not match the selector");
  if (!m_or.empty()) {
    bool any = false;
    for (const LabelSelector& o : m_or) any = any || o.matches(labels);
    if (!any) return no("labels match none of the --or-selector selectors");
  }
  return true;
}

}  // namespace kbk::restore
