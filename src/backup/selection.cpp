// Velero's include/exclude semantics (pkg/util/collections/includes_excludes.go), kbk's name patterns, events.
#include <kbk/backup/selection.hpp>

#include <algorithm>
#include <set>

#include <kbk/util/strings.hpp>

namespace kbk::backup {
namespace {

bool has_glob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

// A user's resource name -> "<plural>[.<group>]" through discovery; globs and unknown names stay as typed.
std::string resolve_resource(const std::string& typed, const kube::Discovery& d) {
  if (typed == "*" || has_glob(typed)) return typed;
  auto r = d.resolve(typed);
  if (r) return r->group_resource();
  return util::to_lower(typed);
}

bool resource_matches(const std::string& pattern, std::string_view gr) {
  return pattern == "*" || util::glob_match(pattern, gr);
}

bool is_events(std::string_view gr) { return gr == "events" || gr == "events.events.k8s.io"; }

std::string join_flags(const std::vector<std::string>& v) { return util::join(v, ","); }

}  // namespace

ResourceFilter::ResourceFilter(const std::vector<std::string>& includes, const std::vector<std::string>& excludes,
                               const kube::Discovery& discovery) {
  for (const auto& i : includes) {
    if (i == "*") m_include_star = true;
    m_includes.push_back(resolve_resource(i, discovery));
  }
  for (const auto& e : excludes) {
    if (e == "*") m_exclude_star = true;
    m_excludes.push_back(resolve_resource(e, discovery));
  }
}

const std::string* ResourceFilter::matching_include(std::string_view gr) const {
  for (const auto& p : m_includes)
    if (resource_matches(p, gr)) return &p;
  return nullptr;
}

const std::string* ResourceFilter::matching_exclude(std::string_view gr) const {
  for (const auto& p : m_excludes)
    if (resource_matches(p, gr)) return &p;
  return nullptr;
}

Result<Selection> Selection::make(const Options& options, const kube::Discovery& discovery) {
  KBK_TRY(validate(options));
  Selection s;
  s.m_options = options;
  if (!options.label_selector.empty()) {
    KBK_ASSIGN_OR_RETURN(auto sel, LabelSelector::parse(options.label_selector));
    s.m_selectors.push_back(std::move(sel));
  }
  for (const auto& o : options.or_label_selectors) {
    KBK_ASSIGN_OR_RETURN(auto sel, LabelSelector::parse(o));
    s.m_selectors.push_back(std::move(sel));
  }
  s.m_old = ResourceFilter(options.include_resources, options.exclude_resources, discovery);
  s.m_cluster_scoped = ResourceFilter(options.include_cluster_scoped, options.exclude_cluster_scoped, discovery);
  s.m_namespace_scoped = ResourceFilter(options.include_namespace_scoped, options.exclude_namespace_scoped, discovery);
  auto parse_names = [&](const std::vector<std::string>& in, std::vector<NamePattern>& out) {
    for (const auto& text : in) {
      auto parts = util::split(text, '/', false);
      NamePattern p;
      p.text = text;
      p.resource = resolve_resource(parts[0], discovery);
      if (parts.size() == 2) {
        p.cluster = true;
        p.name = parts[1];
      } else {
        p.ns = parts[1];
        p.name = parts[2];
      }
      out.push_back(std::move(p));
    }
  };
  parse_names(options.include_names, s.m_include_names);
  parse_names(options.exclude_names, s.m_exclude_names);
  for (const auto& rt : discovery.all_versions()) s.m_served.push_back(rt.group_resource());
  std::sort(s.m_served.begin(), s.m_served.end());
  s.m_served.erase(std::unique(s.m_served.begin(), s.m_served.end()), s.m_served.end());
  return s;
}

bool Selection::namespaces_include_everything() const {
  const auto& inc = m_options.include_namespaces;
  return m_options.exclude_namespaces.empty() && (inc.empty() || (inc.size() == 1 && inc[0] == "*"));
}

bool Selection::lists_per_namespace() const {
  const auto& inc = m_options.include_namespaces;
  return !inc.empty() && std::find(inc.begin(), inc.end(), "*") == inc.end();
}

std::vector<std::string> Selection::namespaces_to_list(const std::vector<std::string>& existing) const {
  std::set<std::string> out;
  for (const auto& p : m_options.include_namespaces) {
    if (has_glob(p)) {
      for (const auto& ns : existing)
        if (util::glob_match(p, ns)) out.insert(ns);
    } else {
      out.insert(p);
    }
  }
  std::vector<std::string> v;
  for (const auto& ns : out)
    if (namespace_(ns).included) v.push_back(ns);
  return v;
}

std::vector<std::string> Selection::list_selectors() const {
  if (m_selectors.empty()) return {""};
  std::vector<std::string> v;
  for (const auto& s : m_selectors) v.push_back(s.text());
  return v;
}

Decision Selection::type(const kube::ResourceType& rt) const {
  const std::string gr = rt.group_resource();
  auto served = [&](const char* other) { return std::binary_search(m_served.begin(), m_served.end(), other); };
  // Resources served by several groups are backed up once, through the current group.
  if (gr == "events.events.k8s.io" && served("events"))
    return {false, "events.k8s.io serves the same objects as core events, which are listed instead"};
  if (gr == "ingresses.extensions" && served("ingresses.networking.k8s.io"))
    return {false, "ingresses are listed through networking.k8s.io"};
  if (gr == "networkpolicies.extensions" && served("networkpolicies.networking.k8s.io"))
    return {false, "networkpolicies are listed through networking.k8s.io"};
  if ((gr == "deployments.extensions" || gr == "daemonsets.extensions" || gr == "replicasets.extensions") &&
      served(rt.resource == "deployments" ? "deployments.apps"
                                          : rt.resource == "daemonsets" ? "daemonsets.apps" : "replicasets.apps"))
    return {false, rt.resource + " are listed through apps"};
  // Velero keeps only types it can list, get, create and delete.
  if (auto verb = rt.missing_backup_verb(); !verb.empty()) return {false, gr + " does not support " + std::string(verb)};

  if (is_events(gr) && m_options.include_events == IncludeEvents::no) {
    bool named = false;
    for (const auto& f : {&m_options.include_resources, &m_options.include_namespace_scoped})
      for (const auto& i : *f)
        if (i != "*" && !has_glob(i) && (util::to_lower(i) == "events" || util::to_lower(i) == "ev" ||
                                         util::to_lower(i) == "event" || util::starts_with(util::to_lower(i), "events.")))
          named = true;
    if (!named) return {false, "events are left out unless --include-events is given"};
  }

  if (uses_scoped_filters(m_options)) {
    if (rt.namespaced) {
      if (m_namespace_scoped.exclude_star()) return {false, "--exclude-namespace-scoped-resources=*"};
      if (auto p = m_namespace_scoped.matching_exclude(gr))
        return {false, "excluded by --exclude-namespace-scoped-resources " + *p};
      if (m_namespace_scoped.includes_everything()) return {true, "no --include-namespace-scoped-resources limit"};
      if (auto p = m_namespace_scoped.matching_include(gr))
        return {true, "matches --include-namespace-scoped-resources " + *p};
      return {false, "not in --include-namespace-scoped-resources " + join_flags(m_options.include_namespace_scoped)};
    }
    if (m_cluster_scoped.exclude_star()) return {false, "--exclude-cluster-scoped-resources=*"};
    if (auto p = m_cluster_scoped.matching_exclude(gr)) return {false, "excluded by --exclude-cluster-scoped-resources " + *p};
    if (m_options.include_cluster_scoped.empty() && m_options.exclude_cluster_scoped.empty() &&
        namespaces_include_everything() && m_options.exclude_namespace_scoped.empty() &&
        m_namespace_scoped.includes_everything())
      return {true, "a full backup (every namespace and namespaced type) takes every cluster-scoped type"};
    if (auto p = m_cluster_scoped.matching_include(gr)) return {true, "matches --include-cluster-scoped-resources " + *p};
    if (gr == "namespaces") return {true, "namespaces are always taken"};
    return {false, "cluster-scoped and not in --include-cluster-scoped-resources"};
  }

  if (!rt.namespaced && gr != "namespaces") {
    if (m_options.include_cluster_resources == ClusterResources::exclude)
      return {false, "cluster-scoped types are left out (--include-cluster-resources=false)"};
    if (m_options.include_cluster_resources == ClusterResources::automatic && !namespaces_include_everything())
      return {false, "cluster-scoped types are taken automatically only when every namespace is "
                     "(a namespace filter is set; pass --include-cluster-resources=true)"};
  }
  if (auto p = m_old.matching_exclude(gr)) return {false, "excluded by --exclude-resources " + *p};
  if (m_old.includes_everything())
    return {true, m_old.includes_empty() ? "no --include-resources limit" : "--include-resources=*"};
  if (auto p = m_old.matching_include(gr)) return {true, "matches --include-resources " + *p};
  return {false, "not in --include-resources " + join_flags(m_options.include_resources)};
}

Decision Selection::namespace_(std::string_view ns) const {
  for (const auto& p : m_options.exclude_namespaces)
    if (util::glob_match(p, ns)) return {false, "namespace " + std::string(ns) + " excluded by --exclude-namespaces " + p};
  const auto& inc = m_options.include_namespaces;
  if (inc.empty()) return {true, "no --include-namespaces limit"};
  for (const auto& p : inc)
    if (p == "*" || util::glob_match(p, ns)) return {true, "namespace " + std::string(ns) + " matches --include-namespaces " + p};
  return {false, "namespace " + std::string(ns) + " not in --include-namespaces " + join_flags(inc)};
}

Decision Selection::names(const kube::ResourceType& rt, std::string_view ns, std::string_view name) const {
  const std::string gr = rt.group_resource();
  auto matches = [&](const NamePattern& p) {
    if (!resource_matches(p.resource, gr)) return false;
    if (p.cluster != !rt.namespaced) return false;
    if (!p.cluster && !util::glob_match(p.ns, ns)) return false;
    return util::glob_match(p.name, name);
  };
  for (const auto& p : m_exclude_names)
    if (matches(p)) return {false, "excluded by --exclude-names " + p.text};
  bool named = false;
  for (const auto& p : m_include_names) {
    if (!resource_matches(p.resource, gr) || p.cluster != !rt.namespaced) continue;
    named = true;
    if (matches(p)) return {true, "matches --include-names " + p.text};
  }
  if (named) return {false, "no --include-names pattern for " + gr + " matches"};
  return {true, ""};
}

Decision Selection::labels(const json::Value& obj) const {
  if (m_selectors.empty()) return {true, ""};
  const json::Value* labels = json::at(obj, {"metadata", "labels"});
  for (const auto& s : m_selectors)
    if (s.matches(labels)) return {true, "labels match selector \"" + s.text() + "\""};
  std::vector<std::string> texts;
  for (const auto& s : m_selectors) texts.push_back("\"" + s.text() + "\"");
  return {false, "labels do not match " + util::join(texts, " or ")};
}

Decision Selection::related(const kube::ResourceType& rt) const {
  const std::string gr = rt.group_resource();
  if (uses_scoped_filters(m_options)) {
    const ResourceFilter& f = rt.namespaced ? m_namespace_scoped : m_cluster_scoped;
    const char* flag = rt.namespaced ? "--exclude-namespace-scoped-resources" : "--exclude-cluster-scoped-resources";
    if (f.exclude_star()) return {false, std::string(flag) + "=*"};
    if (auto p = f.matching_exclude(gr)) return {false, "explicitly excluded by " + std::string(flag) + " " + *p};
    return {true, ""};
  }
  if (!rt.namespaced && m_options.include_cluster_resources == ClusterResources::exclude)
    return {false, "cluster-scoped objects are left out (--include-cluster-resources=false)"};
  if (auto p = m_old.matching_exclude(gr)) return {false, "explicitly excluded by --exclude-resources " + *p};
  return {true, ""};
}

Decision Selection::namespace_object(std::string_view ns, const json::Value& obj, bool has_items) const {
  auto d = namespace_(ns);
  if (!d.included) return d;
  if (has_items) return {true, "holds backed-up objects"};
  if (m_selectors.empty()) return {true, d.reason};
  auto l = labels(obj);
  if (l.included) return l;
  if (!namespaces_include_everything()) return {true, d.reason};
  return {false, "does not match the label selector and holds no backed-up objects"};
}

}  // namespace kbk::backup
