#include "fake_client.hpp"

#include <kbk/util/strings.hpp>

namespace kbk::restore::test {
namespace {

std::string gr_of(const kube::ResourceType& rt) { return rt.group.empty() ? rt.resource : rt.resource + "." + rt.group; }

Error api_error(Errc code, int status, std::string message) {
  Error e(code, std::move(message));
  e.http_status = status;
  e.reason = errc_name(code);
  return e;
}

// RFC 7386 as the API server applies it. Iterative: a restore's patch may be as deep as the object it updates.
void merge_apply(json::Value& target_root, const json::Value& patch_root, json::Allocator& a) {
  std::vector<std::pair<json::Value*, const json::Value*>> todo{{&target_root, &patch_root}};
  while (!todo.empty()) {
    auto [target, patch] = todo.back();
    todo.pop_back();
    if (!patch->IsObject()) {
      json::copy_into(*target, *patch, a);
      continue;
    }
    if (!target->IsObject()) target->SetObject();
    for (const auto& m : patch->GetObject()) {
      std::string_view k(m.name.GetString(), m.name.GetStringLength());
      if (m.value.IsNull()) {
        json::erase(*target, k);
        continue;
      }
      if (!json::find(*target, k)) json::set(*target, k, json::Value(rapidjson::kObjectType), a);
    }
    // Members are all in place now: pointers into target stay valid while the stack is worked off.
    for (const auto& m : patch->GetObject())
      if (!m.value.IsNull())
        todo.push_back({json::find(*target, std::string_view(m.name.GetString(), m.name.GetStringLength())), &m.value});
  }
}

}  // namespace

kube::ResourceType type_of(const std::string& gr, const std::string& version, bool namespaced) {
  kube::ResourceType rt;
  auto dot = gr.find('.');
  rt.resource = gr.substr(0, dot);
  if (dot != std::string::npos) rt.group = gr.substr(dot + 1);
  rt.version = version;
  rt.namespaced = namespaced;
  return rt;
}

FakeClient::FakeClient() {
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"})
    seed("namespaces", std::string(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")") + ns +
                           R"("},"status":{"phase":"Active"}})");
}

void FakeClient::store(const Key& key, json::Document doc) {
  auto& a = doc.GetAllocator();
  json::Value& md = json::ensure_object(doc, "metadata", a);
  if (!json::find(md, "uid")) json::set(md, "uid", json::make_string("uid-" + std::to_string(m_next_uid++), a), a);
  json::set(md, "resourceVersion", json::make_string(std::to_string(++m_rv), a), a);
  if (!json::find(md, "creationTimestamp")) json::set(md, "creationTimestamp", json::make_string("2026-11-26T08:00:00Z", a), a);
  m_objects[key] = std::move(doc);
}

std::string FakeClient::seed(const std::string& gr, const std::string& json_text) {
  auto doc = json::parse(json_text, "seed");
  std::lock_guard lock(m_mutex);
  Key key{gr, json::get_string(*doc, {"metadata", "namespace"}), json::get_string(*doc, {"metadata", "name"})};
  store(key, std::move(*doc));
  return json::get_string(m_objects[key], {"metadata", "uid"});
}

const json::Document* FakeClient::find(const std::string& gr, const std::string& ns, const std::string& name) const {
  std::lock_guard lock(m_mutex);
  auto it = m_objects.find({gr, ns, name});
  return it == m_objects.end() ? nullptr : &it->second;
}

size_t FakeClient::count(const std::string& gr) const {
  std::lock_guard lock(m_mutex);
  size_t n = 0;
  for (const auto& [k, v] : m_objects) n += std::get<0>(k) == gr;
  return n;
}

std::vector<Call> FakeClient::calls() const {
  std::lock_guard lock(m_mutex);
  return m_calls;
}

size_t FakeClient::writes() const {
  std::lock_guard lock(m_mutex);
  size_t n = 0;
  for (const Call& c : m_calls) n += c.method != "get";
  return n;
}

void FakeClient::record(Call c) { m_calls.push_back(std::move(c)); }

Result<json::Document> FakeClient::get(const kube::ResourceType& rt, std::string_view ns, std::string_view name,
                                       std::string_view subresource) {
  std::lock_guard lock(m_mutex);
  record({"get", gr_of(rt), std::string(ns), std::string(name), false, "", std::string(subresource), ""});
  Key key{gr_of(rt), std::string(ns), std::string(name)};
  if (auto l = m_lingering.find(key); l != m_lingering.end() && l->second-- <= 0) {
    m_lingering.erase(l);
    m_objects.erase(key);
  }
  auto it = m_objects.find(key);
  if (it == m_objects.end())
    return api_error(Errc::not_found, 404, gr_of(rt) + " \"" + std::string(name) + "\" not found");
  return json::clone(it->second);
}

Result<void> FakeClient::list(const kube::ResourceType&, std::string_view, const kube::ListOptions&,
                              const std::function<Result<void>(kube::ListPage&)>&) {
  return unexpected(Errc::unsupported, "fake: list");
}

Result<json::Document> FakeClient::create(const kube::ResourceType& rt, std::string_view ns, const json::Value& obj,
                                          const kube::WriteOptions& options) {
  std::lock_guard lock(m_mutex);
  bool dry = options.dry_run == kube::DryRun::yes;
  std::string name = json::get_string(obj, {"metadata", "name"});
  record({"create", gr_of(rt), std::string(ns), name, dry, json::to_string(obj), "", options.field_manager});
  if (forbidden.count(gr_of(rt))) return api_error(Errc::forbidden, 403, "forbidden: " + gr_of(rt));
  if (!ns.empty() && !m_objects.count({"namespaces", "", std::string(ns)}))
    return api_error(Errc::not_found, 404, "namespaces \"" + std::string(ns) + "\" not found");
  if (!ns.empty() && json::get_string(obj, {"metadata", "namespace"}) != ns)
    return api_error(Errc::bad_request, 400, "the namespace of the object does not match the request");
  Key key{gr_of(rt), std::string(ns), name};
  if (m_objects.count(key)) return api_error(Errc::already_exists, 409, gr_of(rt) + " \"" + name + "\" already exists");
  json::Document doc = json::clone(obj);
  if (dry) return doc;
  if (field_manager) field_manager(doc, options.field_manager);
  auto& a = doc.GetAllocator();
  if (gr_of(rt) == "namespaces") {
    json::set(doc, "status", json::Value(rapidjson::kObjectType), a);
    json::set(doc["status"], "phase", json::make_string("Active", a), a);
  }
  if (gr_of(rt) == "customresourcedefinitions.apiextensions.k8s.io") {
    auto st = json::parse(crds_established
                              ? R"({"conditions":[{"type":"NamesAccepted","status":"True"},{"type":"Established","status":"True"}]})"
                              : R"({"conditions":[{"type":"NamesAccepted","status":"True"},{"type":"Established","status":"False","message":"not yet"}]})");
    json::Value v;
    v.CopyFrom(*st, a);
    json::set(doc, "status", std::move(v), a);
  }
  store(key, std::move(doc));
  if (gr_of(rt) == "namespaces" && namespaces_get_default_sa) {
    auto sa = json::parse(R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default","namespace":""}})");
    json::set((*sa)["metadata"], "namespace", json::make_string(name, sa->GetAllocator()), sa->GetAllocator());
    store({"serviceaccounts", name, "default"}, std::move(*sa));
  }
  return json::clone(m_objects[key]);
}

Result<json::Document> FakeClient::update(const kube::ResourceType& rt, std::string_view ns, const json::Value& obj,
                                          const kube::WriteOptions& options, std::string_view subresource) {
  std::lock_guard lock(m_mutex);
  bool dry = options.dry_run == kube::DryRun::yes;
  std::string name = json::get_string(obj, {"metadata", "name"});
  record({"update", gr_of(rt), std::string(ns), name, dry, json::to_string(obj), std::string(subresource), ""});
  Key key{gr_of(rt), std::string(ns), name};
  auto it = m_objects.find(key);
  if (it == m_objects.end()) return api_error(Errc::not_found, 404, "not found");
  std::string rv = json::get_string(obj, {"metadata", "resourceVersion"});
  if (!rv.empty() && rv != json::get_string(it->second, {"metadata", "resourceVersion"}))
    return api_error(Errc::conflict, 409, "the object has been modified");
  if (dry) return json::clone(obj);
  if (subresource == "status") {
    json::Document doc = json::clone(it->second);
    json::Value st;
    if (const json::Value* s = json::find(obj, "status")) st.CopyFrom(*s, doc.GetAllocator());
    json::set(doc, "status", std::move(st), doc.GetAllocator());
    store(key, std::move(doc));
  } else {
    store(key, json::clone(obj));
  }
  return json::clone(m_objects[key]);
}

Result<json::Document> FakeClient::patch(const kube::ResourceType& rt, std::string_view ns, std::string_view name,
                                         kube::PatchType type, std::string_view body, const kube::WriteOptions& options,
                                         std::string_view subresource) {
  std::lock_guard lock(m_mutex);
  bool dry = options.dry_run == kube::DryRun::yes;
  record({type == kube::PatchType::json ? "patch-json" : "patch-merge", gr_of(rt), std::string(ns), std::string(name), dry,
          std::string(body), std::string(subresource), options.field_manager});
  Key key{gr_of(rt), std::string(ns), std::string(name)};
  auto it = m_objects.find(key);
  if (it == m_objects.end()) return api_error(Errc::not_found, 404, "not found");
  auto p = json::parse(body, "patch");
  if (!p) return api_error(Errc::bad_request, 400, p.error().message);
  json::Document doc = json::clone(it->second);
  auto& a = doc.GetAllocator();
  if (type == kube::PatchType::merge) {
    merge_apply(doc, *p, a);
  } else if (type == kube::PatchType::json) {
    for (const auto& op : p->GetArray()) {
      std::vector<std::string> path = util::split(json::get_string(op, {"path"}), '/');
      json::Value* cur = &doc;
      for (size_t i = 0; i + 1 < path.size(); ++i) cur = &json::ensure_object(*cur, path[i], a);
      json::Value v;
      v.CopyFrom(op["value"], a);
      json::set(*cur, path.back(), std::move(v), a);
    }
  } else {
    return api_error(Errc::unsupported_media_type, 415, "fake: patch type");
  }
  if (dry) return doc;
  store(key, std::move(doc));
  return json::clone(m_objects[key]);
}

Result<json::Document> FakeClient::remove(const kube::ResourceType& rt, std::string_view ns, std::string_view name,
                                          const kube::DeleteOptions& options) {
  std::lock_guard lock(m_mutex);
  bool dry = options.dry_run == kube::DryRun::yes;
  record({"remove", gr_of(rt), std::string(ns), std::string(name), dry, "", "", ""});
  Key key{gr_of(rt), std::string(ns), std::string(name)};
  auto it = m_objects.find(key);
  if (it == m_objects.end()) return api_error(Errc::not_found, 404, "not found");
  json::Document out = json::clone(it->second);
  if (dry) return out;
  if (gets_until_gone > 0) {
    auto& a = it->second.GetAllocator();
    json::set(it->second["metadata"], "deletionTimestamp", json::make_string("2026-11-26T08:00:00Z", a), a);
    m_lingering[key] = gets_until_gone;
  } else {
    m_objects.erase(it);
  }
  return out;
}

Result<json::Document> FakeClient::request(std::string_view, std::string_view, std::string_view, std::string_view,
                                           std::string_view) {
  return unexpected(Errc::unsupported, "fake: request");
}

FakeResolver::FakeResolver(FakeClient& client) : m_client(client) {
  struct T {
    const char* gr;
    const char* kind;
    bool namespaced;
  };
  const T builtin[] = {
      {"namespaces", "Namespace", false}, {"pods", "Pod", true}, {"services", "Service", true},
      {"configmaps", "ConfigMap", true}, {"secrets", "Secret", true}, {"serviceaccounts", "ServiceAccount", true},
      {"persistentvolumes", "PersistentVolume", false}, {"persistentvolumeclaims", "PersistentVolumeClaim", true},
      {"endpoints", "Endpoints", true}, {"deployments.apps", "Deployment", true},
      {"replicasets.apps", "ReplicaSet", true}, {"statefulsets.apps", "StatefulSet", true},
      {"jobs.batch", "Job", true}, {"cronjobs.batch", "CronJob", true},
      {"roles.rbac.authorization.k8s.io", "Role", true}, {"rolebindings.rbac.authorization.k8s.io", "RoleBinding", true},
      {"clusterroles.rbac.authorization.k8s.io", "ClusterRole", false},
      {"clusterrolebindings.rbac.authorization.k8s.io", "ClusterRoleBinding", false},
      {"customresourcedefinitions.apiextensions.k8s.io", "CustomResourceDefinition", false},
      {"networkpolicies.networking.k8s.io", "NetworkPolicy", true},
      {"storageclasses.storage.k8s.io", "StorageClass", false},
  };
  for (const T& t : builtin) {
    kube::ResourceType rt = type_of(t.gr, "v1", t.namespaced);
    rt.kind = t.kind;
    rt.subresources = {"status"};
    m_types.push_back(rt);
  }
}

std::optional<kube::ResourceType> FakeResolver::find(const std::string& group, const std::string& version,
                                                     const std::string& resource) {
  for (const auto& t : m_types)
    if (t.group == group && t.version == version && t.resource == resource) return t;
  return std::nullopt;
}

std::vector<std::string> FakeResolver::served_versions(const std::string& group, const std::string& resource) {
  std::vector<std::string> out;
  for (const auto& t : m_types)
    if (t.group == group && t.resource == resource) out.push_back(t.version);
  return out;
}

Result<void> FakeResolver::refresh() {
  ++refreshes;
  kube::ResourceType crd_type = type_of("customresourcedefinitions.apiextensions.k8s.io", "v1", false);
  for (const char* name : {"widgets.example.com", "gadgets.example.com"}) {
    auto crd = m_client.get(crd_type, "", name);
    if (!crd) continue;
    kube::ResourceType rt;
    rt.group = json::get_string(*crd, {"spec", "group"});
    rt.resource = json::get_string(*crd, {"spec", "names", "plural"});
    rt.kind = json::get_string(*crd, {"spec", "names", "kind"});
    rt.namespaced = json::get_string(*crd, {"spec", "scope"}) == "Namespaced";
    if (const json::Value* vs = json::at(*crd, {"spec", "versions"}); vs && vs->IsArray())
      for (const auto& v : vs->GetArray()) {
        rt.version = json::get_string(v, {"name"});
        if (!find(rt.group, rt.version, rt.resource)) m_types.push_back(rt);
      }
  }
  return {};
}

BackupBuilder& BackupBuilder::add(const std::string& gr, const std::string& json_text) {
  auto doc = json::parse(json_text, "test item");
  if (!doc) throw std::runtime_error(doc.error().message);
  BackupItem it;
  auto dot = gr.find('.');
  it.key.resource = gr.substr(0, dot);
  if (dot != std::string::npos) it.key.group = gr.substr(dot + 1);
  std::string api = json::get_string(*doc, {"apiVersion"});
  it.key.version = api.substr(api.find('/') == std::string::npos ? 0 : api.find('/') + 1);
  it.key.namespace_ = json::get_string(*doc, {"metadata", "namespace"});
  it.key.name = json::get_string(*doc, {"metadata", "name"});
  it.kind = json::get_string(*doc, {"kind"});
  it.path = archive::item_path(it.key);
  it.object = JsonText::of(*doc);
  backup.items.push_back(std::move(it));
  return *this;
}

}  // namespace kbk::restore::test
