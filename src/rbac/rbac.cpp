// kbk rbac (rbac.hpp): recording what a backup asks, and the RBAC objects that allow exactly that.
#include <kbk/rbac/rbac.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

#include <kbk/backup/backup.hpp>
#include <kbk/kube/pod_exec.hpp>
#include <kbk/crypto/encryption.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/log.hpp>

namespace kbk::rbac {

void Needs::add(const std::string& group, const std::string& resource, const std::string& namespace_,
                const std::string& verb) {
  verbs[namespace_][Type{group, resource}].insert(verb);
}

void Needs::add(const std::vector<volume::Request>& requests, const std::string& ns, const std::string& mover_ns,
                bool required_only) {
  for (const auto& r : requests) {
    if (required_only && !r.required) continue;
    switch (r.scope) {
      case volume::Request::Scope::volume: add(r.group, r.resource, ns, r.verb); break;
      case volume::Request::Scope::mover: add(r.group, r.resource, mover_ns.empty() ? ns : mover_ns, r.verb); break;
      case volume::Request::Scope::cluster: add(r.group, r.resource, "", r.verb); break;
    }
  }
}

// ---- RecordingClient ----------------------------------------------------------------------------------------

void RecordingClient::record(const kube::ResourceType& rt, std::string_view ns, std::string_view name,
                             std::string_view sub, const char* verb) {
  std::string resource = rt.resource;
  if (!sub.empty()) resource += "/" + std::string(sub);
  std::lock_guard lock(m_mu);
  m_needs.add(rt.group, resource, rt.namespaced ? std::string(ns) : "", verb);
  if (!rt.namespaced && std::string_view(verb) == "get")
    m_needs.cluster_gets[Needs::Type{rt.group, resource}].insert(std::string(name));
}

Needs RecordingClient::needs() const {
  std::lock_guard lock(m_mu);
  return m_needs;
}

Result<json::Document> RecordingClient::get(const kube::ResourceType& rt, std::string_view ns, std::string_view name,
                                            std::string_view subresource) {
  record(rt, ns, name, subresource, "get");
  return m_inner.get(rt, ns, name, subresource);
}

Result<void> RecordingClient::list(const kube::ResourceType& rt, std::string_view ns, const kube::ListOptions& options,
                                   const std::function<Result<void>(kube::ListPage&)>& on_page) {
  record(rt, ns, "", "", "list");
  return m_inner.list(rt, ns, options, on_page);
}

// The probe never writes to the cluster: a write reaching here is a bug, refused rather than forwarded.
Result<json::Document> RecordingClient::create(const kube::ResourceType& rt, std::string_view, const json::Value&,
                                               const kube::WriteOptions&) {
  return unexpected(Errc::internal_error, "kbk rbac: a backup probe tried to create " + rt.group_resource());
}
Result<json::Document> RecordingClient::update(const kube::ResourceType& rt, std::string_view, const json::Value&,
                                               const kube::WriteOptions&, std::string_view) {
  return unexpected(Errc::internal_error, "kbk rbac: a backup probe tried to update " + rt.group_resource());
}
Result<json::Document> RecordingClient::patch(const kube::ResourceType& rt, std::string_view, std::string_view,
                                              kube::PatchType, std::string_view, const kube::WriteOptions&,
                                              std::string_view) {
  return unexpected(Errc::internal_error, "kbk rbac: a backup probe tried to patch " + rt.group_resource());
}
Result<json::Document> RecordingClient::remove(const kube::ResourceType& rt, std::string_view, std::string_view,
                                               const kube::DeleteOptions&) {
  return unexpected(Errc::internal_error, "kbk rbac: a backup probe tried to delete " + rt.group_resource());
}
Result<json::Document> RecordingClient::request(std::string_view method, std::string_view path, std::string_view body,
                                                std::string_view content_type, std::string_view accept) {
  if (method != "GET")
    return unexpected(Errc::internal_error, "kbk rbac: a backup probe tried " + std::string(method) + " " + std::string(path));
  return m_inner.request(method, path, body, content_type, accept);
}

Result<std::unique_ptr<kube::ExecSession>> RecordingClient::exec(const kube::ExecRequest& request) {
  {
    std::lock_guard lock(m_mu);
    m_needs.add("", "pods/exec", request.namespace_, "create");
    m_needs.add("", "pods/exec", request.namespace_, "get");
  }
  return kube::make_fake_exec_session(request, [](const kube::ExecRequest&, kube::FakeExecIo&) -> Result<int> { return 0; });
}

void RecordingClient::add(const std::vector<volume::Request>& requests, const std::string& ns,
                          const std::string& mover_ns) {
  std::lock_guard lock(m_mu);
  m_needs.add(requests, ns, mover_ns);
}

// ---- probes --------------------------------------------------------------------------------------------------

Result<Needs> probe_backup(kube::Client& client, const kube::Discovery& discovery, backup::Options options,
                           const std::string& scratch_dir) {
  namespace fs = std::filesystem;
  std::string tmpl = (fs::path(scratch_dir) / "kbk-rbac-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) return unexpected(Errc::io, "kbk rbac: cannot make a scratch folder in " + scratch_dir);
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{tmpl};
  auto backend = storage::open("file://" + tmpl);
  if (!backend) return std::move(backend).error();
  RecordingClient rec(client);
  // Each volume's data path: what it would ask, recorded in the volume's namespace; no data is taken.
  class ProbePath final : public volume::DataPath {
  public:
    ProbePath(RecordingClient& r, volume::PathKind k) : m_rec(r), m_kind(k) {}
    volume::PathKind kind() const override { return m_kind; }
    Result<void> backup(const volume::Job& job, volume::Context& ctx, volume::VolumeResult&) override {
      m_rec.add(volume::backup_requests(m_kind, ctx.settings.mover), job.ref.namespace_, ctx.settings.mover.namespace_);
      return {};
    }

  private:
    RecordingClient& m_rec;
    volume::PathKind m_kind;
  };
  options.name = "kbk-rbac-probe";
  options.labels.clear();
  backup::RunContext ctx;
  // Encrypted with a key nobody keeps: the scratch copy of the cluster's Secrets is unreadable while it exists.
  crypto::UserKey key;
  key.key = crypto::SecretKey::random();
  ctx.encryption_key = &key;
  ctx.volume_paths = [&rec](volume::PathKind k) -> std::unique_ptr<volume::DataPath> {
    return std::make_unique<ProbePath>(rec, k);
  };
  // Its notes (the scratch backup is encrypted) are not the user's; warnings and -v still show.
  const int verbosity = log::verbosity();
  if (verbosity < 1) log::set_verbosity(-1);
  auto run = backup::run(rec, discovery, **backend, options, ctx);
  log::set_verbosity(verbosity);
  if (!run) return std::move(run).error();
  return rec.needs();
}

Needs restore_needs(const std::vector<kube::WriteTarget>& targets, const std::vector<std::string>& verbs) {
  Needs n;
  const std::string rbac = "rbac.authorization.k8s.io";
  for (const auto& t : targets) {
    const std::string ns = t.type.namespaced ? t.namespace_ : "";
    for (const auto& v : verbs) n.add(t.type.group, t.type.resource, ns, v);
    if (t.type.group != rbac) continue;
    // The API server lets an identity write a role granting what it does not hold only with `escalate` on the
    // role type, and a binding to a role it does not hold only with `bind` on the role it references. A restore
    // of an application's RBAC writes exactly such objects: without these it is refused (403) item by item.
    if (t.type.resource == "roles" || t.type.resource == "clusterroles") n.add(rbac, t.type.resource, ns, "escalate");
    if (t.type.resource == "rolebindings") {
      n.add(rbac, "roles", ns, "bind");
      n.add(rbac, "clusterroles", ns, "bind");
    }
    if (t.type.resource == "clusterrolebindings") n.add(rbac, "clusterroles", "", "bind");
  }
  return n;
}

void add_volume_restore_needs(Needs& needs, const std::vector<volume::RestoreTarget>& targets,
                              const volume::RestoreSettings& settings, bool preflight) {
  bool any = false;
  for (const auto& t : targets) {
    auto requests = volume::restore_requests(t, settings);
    if (requests.empty()) continue;
    any = true;
    needs.add(requests, t.namespace_, settings.mover.namespace_, preflight);
  }
  if (any && !preflight) needs.add(volume::restore_sweep_requests(), "");
}

Result<kube::WriteAccessReport> check(kube::Client& client, const Needs& needs) {
  std::map<std::set<std::string>, std::vector<kube::WriteTarget>> by_verbs;
  for (const auto& [ns, types] : needs.verbs)
    for (const auto& [type, verbs] : types) {
      kube::WriteTarget t;
      t.type.group = std::get<0>(type);
      t.type.version = "v1";  // RBAC does not look at it
      t.type.resource = std::get<1>(type);
      t.type.namespaced = !ns.empty();
      t.namespace_ = ns;
      by_verbs[verbs].push_back(std::move(t));
    }
  kube::WriteAccessReport all;
  for (const auto& [verbs, targets] : by_verbs) {
    KBK_ASSIGN_OR_RETURN(auto r, kube::check_write_access(client, targets, {verbs.begin(), verbs.end()}));
    if (all.user.empty()) all.user = r.user;
    all.checked += r.checked;
    for (auto& d : r.denied) all.denied.push_back(std::move(d));
    for (auto& n : r.notes)
      if (std::find(all.notes.begin(), all.notes.end(), n) == all.notes.end()) all.notes.push_back(std::move(n));
  }
  return all;
}

// ---- render --------------------------------------------------------------------------------------------------

namespace {

json::Value str(const std::string& s, json::Allocator& a) { return json::make_string(s, a); }

json::Value strings(const std::set<std::string>& v, json::Allocator& a) {
  json::Value out(rapidjson::kArrayType);
  for (const auto& s : v) out.PushBack(str(s, a), a);
  return out;
}

json::Document object(const char* api_version, const char* kind, const std::string& name, const std::string& ns,
                      const RenderOptions& o) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("apiVersion", rapidjson::StringRef(api_version), a);
  d.AddMember("kind", rapidjson::StringRef(kind), a);
  json::Value meta(rapidjson::kObjectType);
  meta.AddMember("name", str(name, a), a);
  if (!ns.empty()) meta.AddMember("namespace", str(ns, a), a);
  json::Value labels(rapidjson::kObjectType);
  labels.AddMember("app.kubernetes.io/managed-by", "kbk", a);
  labels.AddMember("kbk.io/rbac-for", str(o.purpose, a), a);
  meta.AddMember("labels", labels, a);
  if (!o.command.empty()) {
    json::Value ann(rapidjson::kObjectType);
    ann.AddMember("kbk.io/rbac-command", str(o.command, a), a);
    meta.AddMember("annotations", ann, a);
  }
  d.AddMember("metadata", meta, a);
  return d;
}

// Rules for one scope: one rule per API group and verb set, resources sorted; cluster-scoped gets limited to
// resourceNames when the type is read only by name (and never listed).
json::Value rules(const std::map<Needs::Type, std::set<std::string>>& types, const Needs& needs, bool cluster,
                  json::Allocator& a) {
  std::map<std::tuple<std::string, std::set<std::string>>, std::set<std::string>> grouped;  // (group, verbs) -> resources
  json::Value out(rapidjson::kArrayType);
  for (const auto& [type, verbs] : types) {
    const auto& [group, resource] = type;
    // A claim's PersistentVolume is replaced by every restore and re-provisioning: never limited to today's names.
    if (cluster && verbs == std::set<std::string>{"get"} && !(group.empty() && resource == "persistentvolumes")) {
      auto names = needs.cluster_gets.find(type);
      if (names != needs.cluster_gets.end() && !names->second.empty() && names->second.size() <= 5 &&
          !names->second.count("")) {
        json::Value r(rapidjson::kObjectType);
        r.AddMember("apiGroups", strings({group}, a), a);
        r.AddMember("resources", strings({resource}, a), a);
        r.AddMember("resourceNames", strings(names->second, a), a);
        r.AddMember("verbs", strings(verbs, a), a);
        out.PushBack(r, a);
        continue;
      }
    }
    grouped[{group, verbs}].insert(resource);
  }
  for (const auto& [key, resources] : grouped) {
    const auto& [group, verbs] = key;
    json::Value r(rapidjson::kObjectType);
    r.AddMember("apiGroups", strings({group}, a), a);
    r.AddMember("resources", strings(resources, a), a);
    r.AddMember("verbs", strings(verbs, a), a);
    out.PushBack(r, a);
  }
  return out;
}

json::Document binding(const char* kind, const char* role_kind, const std::string& name, const std::string& ns,
                       const RenderOptions& o) {
  json::Document d = object("rbac.authorization.k8s.io/v1", kind, name, ns, o);
  auto& a = d.GetAllocator();
  json::Value ref(rapidjson::kObjectType);
  ref.AddMember("apiGroup", "rbac.authorization.k8s.io", a);
  ref.AddMember("kind", rapidjson::StringRef(role_kind), a);
  ref.AddMember("name", str(name, a), a);
  d.AddMember("roleRef", ref, a);
  json::Value subjects(rapidjson::kArrayType);
  json::Value s(rapidjson::kObjectType);
  s.AddMember("kind", "ServiceAccount", a);
  s.AddMember("name", str(o.service_account, a), a);
  s.AddMember("namespace", str(o.namespace_, a), a);
  subjects.PushBack(s, a);
  d.AddMember("subjects", subjects, a);
  return d;
}

}  // namespace

std::vector<json::Document> render(const Needs& needs, const RenderOptions& o) {
  std::vector<json::Document> out;
  const std::string name = o.service_account + "-" + o.purpose;
  // The namespaces the objects live in, so one `kubectl apply` suffices: the ServiceAccount's, and for a restore
  // the target namespaces its Roles are in (the restore would create them; its RoleBindings need them first). Bare
  // (no labels): applying one that exists changes nothing of it.
  std::set<std::string> namespaces{o.namespace_};
  if (o.purpose == "restore")
    for (const auto& [ns, types] : needs.verbs)
      if (!ns.empty() && !types.empty()) namespaces.insert(ns);
  for (const auto& ns : namespaces) {
    json::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("apiVersion", "v1", a);
    d.AddMember("kind", "Namespace", a);
    json::Value meta(rapidjson::kObjectType);
    meta.AddMember("name", str(ns, a), a);
    d.AddMember("metadata", meta, a);
    out.push_back(std::move(d));
  }
  out.push_back(object("v1", "ServiceAccount", o.service_account, o.namespace_, o));
  if (auto c = needs.verbs.find(""); c != needs.verbs.end() && !c->second.empty()) {
    json::Document role = object("rbac.authorization.k8s.io/v1", "ClusterRole", name, "", o);
    role.AddMember("rules", rules(c->second, needs, true, role.GetAllocator()), role.GetAllocator());
    out.push_back(std::move(role));
    out.push_back(binding("ClusterRoleBinding", "ClusterRole", name, "", o));
  }
  for (const auto& [ns, types] : needs.verbs) {
    if (ns.empty() || types.empty()) continue;
    json::Document role = object("rbac.authorization.k8s.io/v1", "Role", name, ns, o);
    role.AddMember("rules", rules(types, needs, false, role.GetAllocator()), role.GetAllocator());
    out.push_back(std::move(role));
    out.push_back(binding("RoleBinding", "Role", name, ns, o));
  }
  return out;
}

}  // namespace kbk::rbac
