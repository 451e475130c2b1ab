// A recording fake kube::Client for the backup engine's tests: serves objects in pages with continue tokens,
// applies label selectors, and injects 403s (per type and namespace scope) and 410 Expired continue tokens.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <kbk/kube/label_selector.hpp>
#include <kbk/json/json.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/kube/discovery.hpp>

namespace kbk::testing {

inline std::string util_lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline kube::ResourceType rt(std::string group, std::string version, std::string resource, std::string kind,
                             bool namespaced) {
  kube::ResourceType r;
  r.group = std::move(group);
  r.version = std::move(version);
  r.resource = std::move(resource);
  r.kind = std::move(kind);
  r.singular = util_lower(r.kind);
  r.namespaced = namespaced;
  r.verbs = {"create", "delete", "get", "list", "patch", "update", "watch"};
  return r;
}

// The discovery of a small cluster.
inline kube::Discovery make_discovery(std::vector<std::string> warnings = {}) {
  std::vector<kube::ResourceType> all = {
      rt("", "v1", "namespaces", "Namespace", false),
      rt("", "v1", "pods", "Pod", true),
      rt("", "v1", "configmaps", "ConfigMap", true),
      rt("", "v1", "secrets", "Secret", true),
      rt("", "v1", "serviceaccounts", "ServiceAccount", true),
      rt("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true),
      rt("", "v1", "persistentvolumes", "PersistentVolume", false),
      rt("", "v1", "events", "Event", true),
      rt("", "v1", "services", "Service", true),
      rt("apps", "v1", "deployments", "Deployment", true),
      rt("apps", "v1", "statefulsets", "StatefulSet", true),
      rt("events.k8s.io", "v1", "events", "Event", true),
      rt("storage.k8s.io", "v1", "storageclasses", "StorageClass", false),
      rt("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", false),
      rt("rbac.authorization.k8s.io", "v1", "roles", "Role", true),
      rt("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true),
      rt("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false),
      rt("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false),
      rt("networking.k8s.io", "v1", "ingresses", "Ingress", true),
      rt("networking.k8s.io", "v1", "ingressclasses", "IngressClass", false),
      rt("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false),
      rt("example.com", "v1", "widgets", "Widget", true),
  };
  all[1].short_names = {"po"};
  all[2].short_names = {"cm"};
  all[9].short_names = {"deploy"};
  all[5].short_names = {"pvc"};
  all[6].short_names = {"pv"};
  std::vector<kube::GroupInfo> groups;
  for (const auto& r : all) {
    bool have = false;
    for (const auto& g : groups) have = have || g.name == r.group;
    if (!have) groups.push_back({r.group, r.version, {r.version}});
  }
  return kube::Discovery(groups, all, std::move(warnings));
}

class FakeClient final : public kube::Client {
public:
  // Adds an object (JSON text with metadata.name, optional namespace) under "<plural>[.<group>]".
  void add(const std::string& gr, const std::string& json_text) {
    auto d = json::parse(json_text, "fake object");
    if (!d) throw std::runtime_error("bad fixture JSON: " + json_text);
    m_objects[gr].push_back(json_text);
  }
  // LIST (and GET) of gr in scope ns ("" = cluster-wide, "*" = every scope) answers 403.
  void forbid(const std::string& gr, const std::string& ns) { m_forbidden.insert({gr, ns}); }
  // The continue token of gr's LIST expires (410) once, when page `page` (1-based) is asked for.
  void expire_once(const std::string& gr, int page) { m_expire[gr] = page; }
  // Called after each page was handed to the engine (tests look at what the engine did meanwhile).
  std::function<void(const std::string& gr, int page)> after_page;

  std::vector<std::string> calls() const {
    std::lock_guard lock(m_mu);
    return m_calls;
  }
  size_t count_calls(const std::string& prefix) const {
    std::lock_guard lock(m_mu);
    size_t n = 0;
    for (const auto& c : m_calls) n += c.rfind(prefix, 0) == 0;
    return n;
  }

  Result<json::Document> get(const kube::ResourceType& r, std::string_view ns, std::string_view name,
                             std::string_view) override {
    const std::string gr = r.group_resource();
    record("GET " + gr + " " + std::string(ns) + "/" + std::string(name));
    if (is_forbidden(gr, std::string(ns))) return forbidden(gr, ns);
    auto it = m_objects.find(gr);
    if (it != m_objects.end()) {
      for (const auto& text : it->second) {
        auto d = json::parse(text);
        if (json::get_string(*d, {"metadata", "name"}) == name &&
            json::get_string(*d, {"metadata", "namespace"}) == ns) {
          json::Document out = std::move(*d);
          json::set(out, "apiVersion", json::make_string(r.api_version(), out.GetAllocator()), out.GetAllocator());
          json::set(out, "kind", json::make_string(r.kind, out.GetAllocator()), out.GetAllocator());
          return out;
        }
      }
    }
    Error e{Errc::not_found, gr + " \"" + std::string(name) + "\" not found"};
    e.http_status = 404;
    e.reason = "NotFound";
    return e;
  }

  Result<void> list(const kube::ResourceType& r, std::string_view ns, const kube::ListOptions& options,
                    const std::function<Result<void>(kube::ListPage&)>& on_page) override {
    const std::string gr = r.group_resource();
    record("LIST " + gr + " ns=" + std::string(ns) + " sel=" + options.label_selector);
    if (is_forbidden(gr, std::string(ns))) return forbidden(gr, ns);
    auto sel = kube::LabelSelector::parse(options.label_selector);
    std::vector<std::string> matching;
    for (const auto& text : m_objects[gr]) {
      auto d = json::parse(text);
      if (!ns.empty() && json::get_string(*d, {"metadata", "namespace"}) != ns) continue;
      if (!sel->matches(json::at(*d, {"metadata", "labels"}))) continue;
      matching.push_back(text);
    }
    const size_t limit = options.limit > 0 ? static_cast<size_t>(options.limit) : matching.size() + 1;
    int page = 0;
    for (size_t off = 0; off < matching.size() || page == 0; off += limit) {
      ++page;
      if (page > 1) {
        std::lock_guard lock(m_mu);
        auto it = m_expire.find(gr);
        if (it != m_expire.end() && it->second == page) {
          m_expire.erase(it);
          m_calls.push_back("EXPIRED " + gr);
          Error e{Errc::gone, "The provided continue parameter is too old"};
          e.http_status = 410;
          e.reason = "Expired";
          return e;
        }
      }
      kube::ListPage p;
      p.list.SetObject();
      auto& a = p.list.GetAllocator();
      p.list.AddMember("kind", json::make_string(r.kind + "List", a), a);
      p.list.AddMember("apiVersion", json::make_string(r.api_version(), a), a);
      json::Value items(rapidjson::kArrayType);
      for (size_t i = off; i < matching.size() && i < off + limit; ++i) {
        json::Document d = *json::parse(matching[i]);
        json::Value v;
        v.CopyFrom(d, a);
        items.PushBack(v, a);
      }
      p.list.AddMember("items", items, a);
      if (off + limit < matching.size()) p.continue_token = "page" + std::to_string(page + 1);
      KBK_TRY(on_page(p));
      if (after_page) after_page(gr, page);
      if (p.continue_token.empty()) break;
    }
    return {};
  }

  Result<json::Document> create(const kube::ResourceType&, std::string_view, const json::Value&,
                                const kube::WriteOptions&) override {
    return unexpected(Errc::unsupported, "fake: create");
  }
  Result<json::Document> update(const kube::ResourceType&, std::string_view, const json::Value&,
                                const kube::WriteOptions&, std::string_view) override {
    return unexpected(Errc::unsupported, "fake: update");
  }
  Result<json::Document> patch(const kube::ResourceType&, std::string_view, std::string_view, kube::PatchType,
                               std::string_view, const kube::WriteOptions&, std::string_view) override {
    return unexpected(Errc::unsupported, "fake: patch");
  }
  Result<json::Document> remove(const kube::ResourceType&, std::string_view, std::string_view,
                                const kube::DeleteOptions&) override {
    return unexpected(Errc::unsupported, "fake: delete");
  }
  Result<json::Document> request(std::string_view method, std::string_view path, std::string_view, std::string_view,
                                 std::string_view) override {
    record(std::string(method) + " " + std::string(path));
    if (path == "/version")
      return json::parse(R"({"major":"1","minor":"30","gitVersion":"v1.30.2","platform":"linux/amd64"})");
    return unexpected(Errc::not_found, "fake: " + std::string(path));
  }

private:
  void record(std::string c) {
    std::lock_guard lock(m_mu);
    m_calls.push_back(std::move(c));
  }
  bool is_forbidden(const std::string& gr, const std::string& ns) const {
    return m_forbidden.count({gr, ns}) || m_forbidden.count({gr, "*"});
  }
  static Error forbidden(const std::string& gr, std::string_view ns) {
    Error e{Errc::forbidden, gr + " is forbidden: User \"viewer\" cannot list resource \"" + gr + "\"" +
                                 (ns.empty() ? std::string(" at the cluster scope") : " in the namespace \"" + std::string(ns) + "\"")};
    e.http_status = 403;
    e.reason = "Forbidden";
    return e;
  }

  mutable std::mutex m_mu;
  std::map<std::string, std::vector<std::string>> m_objects;
  std::set<std::pair<std::string, std::string>> m_forbidden;
  std::map<std::string, int> m_expire;
  std::vector<std::string> m_calls;
};

}  // namespace kbk::testing
