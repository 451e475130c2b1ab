// Applications as the walk's scope (see scope.hpp).
#include <kbk/app/scope.hpp>

#include <algorithm>
#include <optional>
#include <set>

#include <kbk/kube/label_selector.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::app {
namespace {

bool has_glob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

// A resource name as written, resolved to "<plural>[.<group>]" (exact) or kept as a glob over it.
struct TypePattern {
  std::string pattern;
  bool glob = false;
  std::string text;
  bool matches(std::string_view gr) const { return glob ? (pattern == "*" || util::glob_match(pattern, gr)) : pattern == gr; }
};

struct NamePat {
  TypePattern resource;
  std::string ns, name;
  std::string text;
};

struct Resolved {
  std::vector<std::string> namespaces;
  std::vector<TypePattern> resources, cluster_resources;
  std::vector<NamePat> ns_names, cluster_names;
  std::optional<kube::LabelSelector> selector;
  std::vector<kube::LabelSelector> ors;
};

struct ResolvedPart {
  const Part* part = nullptr;
  Resolved select;
  std::vector<Resolved> excludes;
  bool reach_ns = false, reach_cluster = false;
};

bool any_type(const std::vector<TypePattern>& ps, std::string_view gr) {
  return std::any_of(ps.begin(), ps.end(), [&](const TypePattern& p) { return p.matches(gr); });
}

const TypePattern* first_type(const std::vector<TypePattern>& ps, std::string_view gr) {
  for (const auto& p : ps)
    if (p.matches(gr)) return &p;
  return nullptr;
}

const NamePat* first_name(const std::vector<NamePat>& ps, std::string_view gr, std::string_view ns, std::string_view name) {
  for (const auto& p : ps)
    if (p.resource.matches(gr) && (ns.empty() || util::glob_match(p.ns, ns)) && util::glob_match(p.name, name)) return &p;
  return nullptr;
}

const std::string* first_namespace(const std::vector<std::string>& ps, std::string_view ns) {
  for (const auto& p : ps)
    if (p == "*" || util::glob_match(p, ns)) return &p;
  return nullptr;
}

std::string annotation(const json::Value& obj, std::string_view key) {
  const json::Value* a = json::at(obj, {"metadata", "annotations"});
  const json::Value* v = a ? json::find(*a, key) : nullptr;
  return v && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : std::string();
}

bool is_events(std::string_view gr) { return gr == "events" || gr == "events.events.k8s.io"; }

}  // namespace

struct AppScope::Impl {
  Application app;
  std::vector<ResolvedPart> parts;
  std::vector<std::string> warnings;
  std::vector<std::string> served;  // sorted group_resources
  bool events_named = false;

  // ---- resolution ----------------------------------------------------------------------------------------------
  Result<TypePattern> resolve_type(const Entry& e, const kube::Discovery& d, bool want_namespaced, const std::string& field,
                                   const std::string& part) {
    TypePattern p;
    p.text = e.text;
    if (e.text == "*" || has_glob(e.text)) {
      p.glob = true;
      p.pattern = util::to_lower(e.text);
      return p;
    }
    auto rt = d.resolve(e.text);
    if (!rt) {
      warnings.push_back(e.where + ": " + part + ": " + field + " \"" + e.text + "\" matches no type " +
                         "this source serves");
      p.pattern = util::to_lower(e.text);
      return p;
    }
    p.pattern = rt->group_resource();
    if (is_events(p.pattern)) events_named = true;
    if (rt->namespaced != want_namespaced) {
      if (field == "names")
        return unexpected(Errc::config, e.where + ": " + part + ": names: " + p.pattern + " is " +
                                            (rt->namespaced ? "namespaced: write resource/namespace/name"
                                                            : "cluster-scoped: write resource/name"));
      return unexpected(Errc::config, e.where + ": " + part + ": " + field + " \"" + e.text + "\" is " +
                                          (rt->namespaced ? "namespaced: list it under resources"
                                                          : "cluster-scoped: list it under clusterResources"));
    }
    return p;
  }

  Result<Resolved> resolve(const Filter& f, const kube::Discovery& d, const std::string& part) {
    Resolved r;
    for (const auto& n : f.namespaces) r.namespaces.push_back(n.text);
    for (const auto& e : f.resources) {
      KBK_ASSIGN_OR_RETURN(auto p, resolve_type(e, d, true, "resources", part));
      r.resources.push_back(std::move(p));
    }
    for (const auto& e : f.cluster_resources) {
      KBK_ASSIGN_OR_RETURN(auto p, resolve_type(e, d, false, "clusterResources", part));
      r.cluster_resources.push_back(std::move(p));
    }
    for (const auto& e : f.names) {
      auto np = parse_name_pattern(e.text);
      if (!np) return unexpected(Errc::config, e.where + ": " + part + ": names \"" + e.text + "\" is not a name pattern");
      NamePat p;
      KBK_ASSIGN_OR_RETURN(p.resource, resolve_type(Entry{np->resource, e.where}, d, !np->cluster, "names", part));
      p.ns = np->ns;
      p.name = np->name;
      p.text = e.text;
      (np->cluster ? r.cluster_names : r.ns_names).push_back(std::move(p));
    }
    if (!f.selector.empty()) {
      KBK_ASSIGN_OR_RETURN(auto s, kube::LabelSelector::parse(f.selector));
      r.selector = std::move(s);
    }
    for (const auto& o : f.or_selectors) {
      KBK_ASSIGN_OR_RETURN(auto s, kube::LabelSelector::parse(o));
      r.ors.push_back(std::move(s));
    }
    return r;
  }

  // ---- matching --------------------------------------------------------------------------------------------------
  bool labels_match(const Resolved& f, const json::Value& obj, std::string* why) const {
    const json::Value* labels = json::at(obj, {"metadata", "labels"});
    if (f.selector && !f.selector->matches(labels)) {
      if (why) *why = "labels do not match selector " + f.selector->text();
      return false;
    }
    if (!f.ors.empty() && std::none_of(f.ors.begin(), f.ors.end(), [&](const auto& s) { return s.matches(labels); })) {
      if (why) {
        std::vector<std::string> t;
        for (const auto& s : f.ors) t.push_back(s.text());
        *why = "labels match none of orSelectors " + util::join(t, "; ");
      }
      return false;
    }
    return true;
  }

  // Whether part p selects the object; reason gets what matched, or why not.
  bool part_selects(const ResolvedPart& p, const kube::ResourceType& rt, std::string_view ns, std::string_view name,
                    const json::Value& obj, std::string& reason) const {
    const std::string gr = rt.group_resource();
    const Resolved& f = p.select;
    std::vector<std::string> what;
    if (rt.namespaced) {
      if (!p.reach_ns) {
        reason = "selects cluster-scoped objects only";
        return false;
      }
      if (!f.namespaces.empty()) {
        const std::string* m = first_namespace(f.namespaces, ns);
        if (!m) {
          reason = "namespace " + std::string(ns) + " not in namespaces " + util::join(f.namespaces, ", ");
          return false;
        }
        what.push_back("namespace " + std::string(ns) + (*m == ns ? "" : " (" + *m + ")"));
      }
      if (!f.resources.empty()) {
        const TypePattern* m = first_type(f.resources, gr);
        if (!m) {
          reason = gr + " not in resources";
          return false;
        }
        what.push_back("resources " + m->text);
      }
      if (!f.ns_names.empty()) {
        const NamePat* m = first_name(f.ns_names, gr, ns, name);
        if (!m) {
          reason = "no names pattern matches";
          return false;
        }
        what.push_back("names " + m->text);
      }
    } else {
      if (!p.reach_cluster) {
        reason = "selects namespaced objects only";
        return false;
      }
      if (!f.cluster_resources.empty()) {
        const TypePattern* m = first_type(f.cluster_resources, gr);
        if (!m) {
          reason = gr + " not in clusterResources";
          return false;
        }
        what.push_back("clusterResources " + m->text);
      }
      if (!f.cluster_names.empty()) {
        const NamePat* m = first_name(f.cluster_names, gr, "", name);
        if (!m) {
          reason = "no names pattern matches";
          return false;
        }
        what.push_back("names " + m->text);
      }
    }
    std::string why;
    if (!labels_match(f, obj, &why)) {
      reason = why;
      return false;
    }
    if (f.selector) what.push_back("selector " + f.selector->text());
    if (!f.ors.empty()) what.push_back("orSelectors");
    if (p.part->helm_release) {
      const auto& h = *p.part->helm_release;
      if (annotation(obj, "meta.helm.sh/release-name") != h.name ||
          annotation(obj, "meta.helm.sh/release-namespace") != h.namespace_) {
        reason = "not an object of Helm release " + h.namespace_ + "/" + h.name;
        return false;
      }
      what.push_back("Helm release " + h.namespace_ + "/" + h.name);
    }
    reason = util::join(what, ", ");
    return true;
  }

  // Whether an exclude filter matches (any field); obj may be null (labels then unknown).
  static bool excluded_by(const Resolved& x, const kube::ResourceType& rt, std::string_view ns, std::string_view name,
                          const json::Value* obj, std::string& why) {
    const std::string gr = rt.group_resource();
    if (rt.namespaced) {
      if (const std::string* m = first_namespace(x.namespaces, ns)) {
        why = "namespace " + *m;
        return true;
      }
      if (const TypePattern* m = first_type(x.resources, gr)) {
        why = "resources " + m->text;
        return true;
      }
      if (const NamePat* m = first_name(x.ns_names, gr, ns, name)) {
        why = "names " + m->text;
        return true;
      }
    } else {
      if (const TypePattern* m = first_type(x.cluster_resources, gr)) {
        why = "clusterResources " + m->text;
        return true;
      }
      if (const NamePat* m = first_name(x.cluster_names, gr, "", name)) {
        why = "names " + m->text;
        return true;
      }
    }
    if (obj && x.selector && x.selector->matches(json::at(*obj, {"metadata", "labels"}))) {
      why = "selector " + x.selector->text();
      return true;
    }
    return false;
  }

  bool excluded(const ResolvedPart& p, const kube::ResourceType& rt, std::string_view ns, std::string_view name,
                const json::Value* obj, std::string& why) const {
    for (const auto& x : p.excludes) {
      std::string w;
      if (excluded_by(x, rt, ns, name, obj, w)) {
        why = "excluded by the exclude of " + p.part->name + " (" + w + ")";
        return true;
      }
    }
    return false;
  }

  bool part_reaches_type(const ResolvedPart& p, const kube::ResourceType& rt) const {
    const std::string gr = rt.group_resource();
    for (const auto& x : p.excludes) {
      if (rt.namespaced ? any_type(x.resources, gr) : any_type(x.cluster_resources, gr)) return false;
    }
    const Resolved& f = p.select;
    if (rt.namespaced) {
      if (!p.reach_ns) return false;
      if (!f.resources.empty() && !any_type(f.resources, gr)) return false;
      if (!f.ns_names.empty() &&
          std::none_of(f.ns_names.begin(), f.ns_names.end(), [&](const NamePat& n) { return n.resource.matches(gr); }))
        return false;
      return true;
    }
    if (!p.reach_cluster) return false;
    if (!f.cluster_resources.empty() && !any_type(f.cluster_resources, gr)) return false;
    if (!f.cluster_names.empty() && f.cluster_resources.empty() &&
        std::none_of(f.cluster_names.begin(), f.cluster_names.end(), [&](const NamePat& n) { return n.resource.matches(gr); }))
      return false;
    return true;
  }

  bool is_served(const char* gr) const { return std::binary_search(served.begin(), served.end(), gr); }

  // Types served by two groups are listed once (as the backup's Selection does).
  std::optional<std::string> duplicate(const kube::ResourceType& rt) const {
    const std::string gr = rt.group_resource();
    if (gr == "events.events.k8s.io" && is_served("events")) return "events.k8s.io serves the same objects as core events";
    if (gr == "ingresses.extensions" && is_served("ingresses.networking.k8s.io")) return "ingresses are listed through networking.k8s.io";
    if (gr == "networkpolicies.extensions" && is_served("networkpolicies.networking.k8s.io"))
      return "networkpolicies are listed through networking.k8s.io";
    if ((gr == "deployments.extensions" || gr == "daemonsets.extensions" || gr == "replicasets.extensions") &&
        is_served(rt.resource == "deployments" ? "deployments.apps"
                                            : rt.resource == "daemonsets" ? "daemonsets.apps" : "replicasets.apps"))
      return rt.resource + " are listed through apps";
    return std::nullopt;
  }
};

AppScope::AppScope() : m_impl(std::make_unique<Impl>()) {}
AppScope::~AppScope() = default;

Result<std::unique_ptr<AppScope>> AppScope::make(const Application& app, const kube::Discovery& discovery) {
  std::unique_ptr<AppScope> s(new AppScope());
  Impl& m = *s->m_impl;
  m.app = app;
  for (const auto& rt : discovery.all_versions()) m.served.push_back(rt.group_resource());
  std::sort(m.served.begin(), m.served.end());
  m.served.erase(std::unique(m.served.begin(), m.served.end()), m.served.end());
  for (const auto& p : m.app.parts) {
    ResolvedPart rp;
    rp.part = &p;
    const std::string who = "part " + p.name;
    KBK_ASSIGN_OR_RETURN(rp.select, m.resolve(p.select, discovery, who));
    for (const auto& x : p.excludes) {
      KBK_ASSIGN_OR_RETURN(auto r, m.resolve(x, discovery, who + " exclude"));
      rp.excludes.push_back(std::move(r));
    }
    const Filter& f = p.select;
    const bool sets_ns = !f.namespaces.empty() || !f.resources.empty() || !rp.select.ns_names.empty();
    const bool sets_cluster = !f.cluster_resources.empty() || !rp.select.cluster_names.empty();
    rp.reach_ns = sets_ns || !sets_cluster;
    rp.reach_cluster = sets_cluster || !sets_ns;
    m.parts.push_back(std::move(rp));
  }
  for (auto& w : m.app.warnings) m.warnings.push_back(w);
  return s;
}

Result<std::unique_ptr<Scope>> make_scope(const Application& app, const kube::Discovery& discovery) {
  KBK_ASSIGN_OR_RETURN(auto s, AppScope::make(app, discovery));
  return std::unique_ptr<Scope>(std::move(s));
}

const Application& AppScope::application() const { return m_impl->app; }
const std::vector<std::string>& AppScope::warnings() const { return m_impl->warnings; }

Decision AppScope::type(const kube::ResourceType& rt) const {
  const std::string gr = rt.group_resource();
  if (auto dup = m_impl->duplicate(rt)) return {false, *dup};
  if (auto verb = rt.missing_backup_verb(); !verb.empty()) return {false, gr + " does not support " + std::string(verb)};
  if (gr == "namespaces") return {true, "namespaces of selected objects are taken"};
  if (is_events(gr) && !m_impl->events_named) return {false, "events are left out unless a part names them"};
  for (const auto& p : m_impl->parts)
    if (m_impl->part_reaches_type(p, rt)) return {true, "part " + p.part->name + " may select " + gr};
  return {false, "no part selects " + gr};
}

Decision AppScope::namespace_(std::string_view) const {
  return {true, "applications follow their objects into any namespace"};
}

bool AppScope::namespaces_include_everything() const { return true; }

bool AppScope::lists_per_namespace() const {
  bool any = false;
  for (const auto& p : m_impl->parts) {
    if (!p.reach_ns) continue;
    if (p.part->helm_release || p.select.namespaces.empty()) return false;
    for (const auto& n : p.select.namespaces)
      if (has_glob(n)) return false;
    any = true;
  }
  return any;
}

std::vector<std::string> AppScope::namespaces_to_list(const std::vector<std::string>& existing) const {
  std::set<std::string> out;
  for (const auto& p : m_impl->parts)
    if (p.reach_ns)
      for (const auto& n : p.select.namespaces)
        if (std::find(existing.begin(), existing.end(), n) != existing.end()) out.insert(n);
  return {out.begin(), out.end()};
}

std::vector<std::string> AppScope::list_selectors(const kube::ResourceType& rt) const {
  // A server-side selector only when every part that may select this type needs one: one LIST per selector.
  std::set<std::string> selectors;
  for (const auto& p : m_impl->parts) {
    if (!m_impl->part_reaches_type(p, rt)) continue;
    if (!p.select.selector || p.part->helm_release) return {""};
    selectors.insert(p.select.selector->text());
  }
  if (selectors.empty()) return {""};
  return {selectors.begin(), selectors.end()};
}

Match AppScope::object(const kube::ResourceType& rt, const json::Value& obj) const {
  const std::string ns = rt.namespaced ? json::get_string(obj, {"metadata", "namespace"}) : "";
  const std::string name = json::get_string(obj, {"metadata", "name"});
  std::optional<Match> excluded;
  for (size_t i = 0; i < m_impl->parts.size(); ++i) {
    const ResolvedPart& p = m_impl->parts[i];
    std::string reason;
    if (!m_impl->part_selects(p, rt, ns, name, obj, reason)) continue;
    std::string why;
    if (m_impl->excluded(p, rt, ns, name, &obj, why)) {
      if (!excluded) excluded = Match{false, static_cast<int>(i), why, "ExcludedByApplication"};
      continue;
    }
    return {true, static_cast<int>(i), reason, ""};
  }
  if (excluded) return *excluded;
  return {false, -1, "no part selects it", ""};
}

Decision AppScope::related_type(const kube::ResourceType&) const { return {true, ""}; }

Match AppScope::related(const kube::ResourceType& rt, std::string_view ns, std::string_view name, const json::Value* obj,
                        int part) const {
  if (part < 0 || static_cast<size_t>(part) >= m_impl->parts.size()) return {true, part, "", ""};
  std::string why;
  if (m_impl->excluded(m_impl->parts[static_cast<size_t>(part)], rt, ns, name, obj, why))
    return {false, part, why, "ExcludedByApplication"};
  return {true, part, "", ""};
}

Match AppScope::namespace_object(std::string_view ns, const json::Value& obj, bool has_items, int part) const {
  kube::ResourceType ns_rt;
  ns_rt.resource = "namespaces";
  ns_rt.version = "v1";
  ns_rt.kind = "Namespace";
  ns_rt.namespaced = false;
  if (has_items) {
    // Excluded only by the excludes of the part that took the objects (names: [namespaces/x]).
    std::string why;
    if (part >= 0 && m_impl->excluded(m_impl->parts[static_cast<size_t>(part)], ns_rt, "", ns, &obj, why))
      return {false, part, why, "ExcludedByApplication"};
    return {true, part, "namespace of selected objects", ""};
  }
  // Selected as a cluster-scoped object (clusterResources, names, selectors), or a part takes the whole namespace.
  Match m = object(ns_rt, obj);
  if (m.included || !m.skip_outcome.empty()) return m;
  for (size_t i = 0; i < m_impl->parts.size(); ++i) {
    const ResolvedPart& p = m_impl->parts[i];
    const Resolved& f = p.select;
    if (!p.reach_ns || f.namespaces.empty() || !f.resources.empty() || !f.ns_names.empty() || f.selector ||
        !f.ors.empty() || p.part->helm_release)
      continue;
    const std::string* pat = first_namespace(f.namespaces, ns);
    if (!pat) continue;
    std::string why;
    if (m_impl->excluded(p, ns_rt, "", ns, &obj, why)) continue;
    return {true, static_cast<int>(i), "namespace " + std::string(ns) + (*pat == ns ? "" : " (" + *pat + ")"), ""};
  }
  return {false, -1, "holds no selected objects and no part selects it", ""};
}

Follow AppScope::follow(int part) const {
  if (part < 0 || static_cast<size_t>(part) >= m_impl->parts.size()) return Follow::application;
  return m_impl->parts[static_cast<size_t>(part)].part->follow ? Follow::application : Follow::none;
}

std::vector<std::pair<int, HelmRelease>> AppScope::helm_releases() const {
  std::vector<std::pair<int, HelmRelease>> out;
  for (size_t i = 0; i < m_impl->parts.size(); ++i)
    if (m_impl->parts[i].part->helm_release) out.emplace_back(static_cast<int>(i), *m_impl->parts[i].part->helm_release);
  return out;
}

std::string AppScope::part_name(int part) const {
  if (part < 0 || static_cast<size_t>(part) >= m_impl->parts.size()) return "";
  return m_impl->parts[static_cast<size_t>(part)].part->name;
}

std::vector<std::string> AppScope::explain(const kube::ResourceType& rt, const json::Value& obj) const {
  std::vector<std::string> lines;
  const std::string ns = rt.namespaced ? json::get_string(obj, {"metadata", "namespace"}) : "";
  const std::string name = json::get_string(obj, {"metadata", "name"});
  for (const auto& p : m_impl->parts) {
    std::string reason;
    if (!m_impl->part_selects(p, rt, ns, name, obj, reason)) {
      lines.push_back("part " + p.part->name + ": does not select it: " + reason);
      continue;
    }
    std::string why;
    if (m_impl->excluded(p, rt, ns, name, &obj, why)) lines.push_back("part " + p.part->name + ": selects it (" + reason + ") but " + why);
    else lines.push_back("part " + p.part->name + ": selects it: " + reason);
  }
  return lines;
}

}  // namespace kbk::app
