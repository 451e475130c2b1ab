// The scopes of a backup (scope.hpp): the flags alone, or applications narrowed by the flags given.
#include <kbk/backup/scope.hpp>

#include <kbk/app/scope.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::backup {

namespace {

// The backup's flags as the walk's scope (no parts: part -1 everywhere).
class FlagsScope final : public app::Scope {
public:
  explicit FlagsScope(const Selection& s) : m_sel(s) {}
  app::Decision type(const kube::ResourceType& rt) const override { return m_sel.type(rt); }
  app::Decision namespace_(std::string_view ns) const override { return m_sel.namespace_(ns); }
  bool namespaces_include_everything() const override { return m_sel.namespaces_include_everything(); }
  bool lists_per_namespace() const override { return m_sel.lists_per_namespace(); }
  std::vector<std::string> namespaces_to_list(const std::vector<std::string>& existing) const override {
    return m_sel.namespaces_to_list(existing);
  }
  std::vector<std::string> list_selectors(const kube::ResourceType&) const override { return m_sel.list_selectors(); }
  app::Match object(const kube::ResourceType& rt, const json::Value& obj) const override {
    const std::string ns = rt.namespaced ? json::get_string(obj, {"metadata", "namespace"}) : "";
    return names(rt, ns, json::get_string(obj, {"metadata", "name"}));
  }
  app::Decision related_type(const kube::ResourceType& rt) const override { return m_sel.related(rt); }
  app::Match related(const kube::ResourceType& rt, std::string_view ns, std::string_view name, const json::Value* obj,
                     int) const override {
    if (!obj) {
      if (auto d = m_sel.related(rt); !d.included) return {false, -1, d.reason, "RelatedExcluded"};
      if (!ns.empty())
        if (auto d = m_sel.namespace_(ns); !d.included) return {false, -1, d.reason, "RelatedExcluded"};
      return {true, -1, "", ""};
    }
    return names(rt, ns, name);
  }
  app::Match namespace_object(std::string_view ns, const json::Value& obj, bool has_items, int) const override {
    auto d = m_sel.namespace_object(ns, obj, has_items);
    return {d.included, -1, d.reason, ""};
  }
  app::Follow follow(int) const override {
    return m_sel.options().with_related == WithRelated::yes ? app::Follow::classic : app::Follow::none;
  }

private:
  app::Match names(const kube::ResourceType& rt, std::string_view ns, std::string_view name) const {
    auto d = m_sel.names(rt, ns, name);
    if (d.included) return {true, -1, "", ""};
    return {false, -1, d.reason, util::starts_with(d.reason, "excluded by") ? "ExcludedByName" : ""};
  }
  const Selection& m_sel;
};

// Applications narrowed by the flags the user gave (docs/format-application.md section 9): an object is taken
// when the applications select it and it passes every filter given on the command line.
class NarrowedScope final : public app::Scope {
public:
  NarrowedScope(const app::Scope& apps, const Selection& flags) : m_apps(apps), m_sel(flags), m_o(flags.options()) {}
  app::Decision type(const kube::ResourceType& rt) const override {
    auto d = m_apps.type(rt);
    if (!d.included) return d;
    if (auto f = flag_type(rt); !f.included) return f;
    return d;
  }
  app::Decision namespace_(std::string_view ns) const override {
    auto d = m_apps.namespace_(ns);
    if (!d.included || !namespaces_given()) return d;
    return m_sel.namespace_(ns);
  }
  bool namespaces_include_everything() const override {
    return m_apps.namespaces_include_everything() && (!namespaces_given() || m_sel.namespaces_include_everything());
  }
  bool lists_per_namespace() const override { return m_apps.lists_per_namespace() || m_sel.lists_per_namespace(); }
  std::vector<std::string> namespaces_to_list(const std::vector<std::string>& existing) const override {
    std::vector<std::string> out;
    auto from = m_apps.lists_per_namespace() ? m_apps.namespaces_to_list(existing) : m_sel.namespaces_to_list(existing);
    for (const auto& ns : from)
      if (namespace_(ns).included) out.push_back(ns);
    return out;
  }
  std::vector<std::string> list_selectors(const kube::ResourceType& rt) const override {
    if (m_sel.has_label_selector()) return m_sel.list_selectors();
    return m_apps.list_selectors(rt);
  }
  app::Match object(const kube::ResourceType& rt, const json::Value& obj) const override {
    app::Match m = m_apps.object(rt, obj);
    if (!m.included) return m;
    return narrow(m, rt, obj);
  }
  app::Decision related_type(const kube::ResourceType& rt) const override {
    auto d = m_apps.related_type(rt);
    if (!d.included) return d;
    return m_sel.related(rt);
  }
  app::Match related(const kube::ResourceType& rt, std::string_view ns, std::string_view name, const json::Value* obj,
                     int part) const override {
    app::Match m = m_apps.related(rt, ns, name, obj, part);
    if (!m.included) return m;
    if (!obj) {
      if (!ns.empty() && namespaces_given())
        if (auto d = m_sel.namespace_(ns); !d.included) return {false, part, d.reason, "RelatedExcluded"};
      return m;
    }
    return narrow(m, rt, *obj);
  }
  app::Match namespace_object(std::string_view ns, const json::Value& obj, bool has_items, int part) const override {
    app::Match m = m_apps.namespace_object(ns, obj, has_items, part);
    if (!m.included || !namespaces_given()) return m;
    if (auto d = m_sel.namespace_(ns); !d.included) return {false, part, d.reason, ""};
    return m;
  }
  app::Follow follow(int part) const override {
    return m_o.with_related == WithRelated::no ? app::Follow::none : m_apps.follow(part);
  }
  std::vector<std::pair<int, app::HelmRelease>> helm_releases() const override { return m_apps.helm_releases(); }
  std::string part_name(int part) const override { return m_apps.part_name(part); }

private:
  bool namespaces_given() const { return !m_o.include_namespaces.empty() || !m_o.exclude_namespaces.empty(); }
  app::Decision flag_type(const kube::ResourceType& rt) const {
    const bool resources_given = !m_o.include_resources.empty() || !m_o.exclude_resources.empty() ||
                                 uses_scoped_filters(m_o) ||
                                 m_o.include_cluster_resources == ClusterResources::exclude;
    if (!resources_given) return {true, ""};
    // The flags' own rule for cluster-scoped types (taken only with every namespace) does not narrow
    // applications: only an explicit --include-cluster-resources=false does.
    if (!rt.namespaced && m_o.include_cluster_resources == ClusterResources::exclude)
      return {false, "cluster-scoped types are left out (--include-cluster-resources=false)"};
    auto d = m_sel.type(rt);
    if (!d.included && !rt.namespaced && util::starts_with(d.reason, "cluster-scoped types are taken automatically"))
      return {true, ""};
    return d;
  }
  app::Match narrow(app::Match m, const kube::ResourceType& rt, const json::Value& obj) const {
    const std::string ns = rt.namespaced ? json::get_string(obj, {"metadata", "namespace"}) : "";
    if (auto d = flag_type(rt); !d.included) return {false, m.part, d.reason, ""};
    if (!ns.empty() && namespaces_given())
      if (auto d = m_sel.namespace_(ns); !d.included) return {false, m.part, d.reason, ""};
    if (auto d = m_sel.names(rt, ns, json::get_string(obj, {"metadata", "name"})); !d.included)
      return {false, m.part, d.reason, util::starts_with(d.reason, "excluded by") ? "ExcludedByName" : ""};
    if (auto d = m_sel.labels(obj); !d.included) return {false, m.part, d.reason, ""};
    return m;
  }
  const app::Scope& m_apps;
  const Selection& m_sel;
  const Options& m_o;
};

}  // namespace

Result<RunScope> make_run_scope(const Options& options, const kube::Discovery& discovery) {
  RunScope rs;
  KBK_ASSIGN_OR_RETURN(auto selection, Selection::make(options, discovery));
  rs.selection = std::make_unique<Selection>(std::move(selection));
  if (options.applications) {
    KBK_ASSIGN_OR_RETURN(rs.apps, app::make_scope(*options.applications, discovery));
    rs.scope = std::make_unique<NarrowedScope>(*rs.apps, *rs.selection);
  } else {
    rs.scope = std::make_unique<FlagsScope>(*rs.selection);
  }
  return rs;
}

}  // namespace kbk::backup
