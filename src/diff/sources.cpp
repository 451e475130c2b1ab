// The live cluster and a folder of manifests as sides of a diff (sources.hpp).
#include <kbk/diff/sources.hpp>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <system_error>

#include <kbk/archive/encryption.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/patch/objects.hpp>
#include <kbk/util/fs.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::diff {

namespace {

// The object's JSON with apiVersion and kind first when the LIST left them out (as backup create stores items).
std::string serialize(const kube::ResourceType& rt, const json::Value& obj) {
  std::string body = json::to_string(obj);
  const bool has_api = json::find(obj, "apiVersion") != nullptr;
  const bool has_kind = json::find(obj, "kind") != nullptr;
  if (has_api && has_kind) return body;
  std::string prefix = "{";
  if (!has_api) prefix += "\"apiVersion\":\"" + rt.api_version() + "\"";
  if (!has_kind) prefix += std::string(has_api ? "" : ",") + "\"kind\":\"" + rt.kind + "\"";
  if (body.size() > 2) prefix += ",";
  return prefix + body.substr(1);
}

class CollectSink final : public app::Sink {
public:
  explicit CollectSink(LiveObjects& out) : m_out(out) {}
  Result<void> take(const kube::ResourceType& rt, const json::Value& obj, const app::Reason&) override {
    restore::BackupItem it;
    it.key.group = rt.group;
    it.key.version = rt.version;
    it.key.resource = rt.resource;
    it.key.namespace_ = rt.namespaced ? json::get_string(obj, {"metadata", "namespace"}) : "";
    it.key.name = json::get_string(obj, {"metadata", "name"});
    it.kind = rt.kind;
    it.path = "live";
    it.object = restore::JsonText::adopt(serialize(rt, obj));
    std::lock_guard lock(m_mu);
    m_out.objects.items.push_back(std::move(it));
    return {};
  }
  void outcome(const app::Outcome& o) override {
    if (o.outcome == "failed") m_out.errors.push_back(o.line());
    else if (o.outcome == "warning") m_out.warnings.push_back(o.line());
  }
  void note(log::Level level, const std::string& line) override {
    if (level == log::Level::error) m_out.errors.push_back(line);
    else if (level == log::Level::warning) m_out.warnings.push_back(line);
  }

private:
  LiveObjects& m_out;
  std::mutex m_mu;
};

// Kubernetes' built-in kinds whose plural kubectl's guess gets wrong, and the cluster-scoped ones.
struct Builtin {
  const char* group;
  const char* kind;
  const char* resource;
  bool namespaced;
};
const Builtin k_builtins[] = {
    {"", "Endpoints", "endpoints", true},
    {"", "Namespace", "namespaces", false},
    {"", "Node", "nodes", false},
    {"", "PersistentVolume", "persistentvolumes", false},
    {"", "ComponentStatus", "componentstatuses", false},
    {"rbac.authorization.k8s.io", "ClusterRole", "clusterroles", false},
    {"rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings", false},
    {"storage.k8s.io", "StorageClass", "storageclasses", false},
    {"storage.k8s.io", "CSIDriver", "csidrivers", false},
    {"storage.k8s.io", "CSINode", "csinodes", false},
    {"storage.k8s.io", "VolumeAttachment", "volumeattachments", false},
    {"apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions", false},
    {"apiregistration.k8s.io", "APIService", "apiservices", false},
    {"scheduling.k8s.io", "PriorityClass", "priorityclasses", false},
    {"networking.k8s.io", "IngressClass", "ingressclasses", false},
    {"node.k8s.io", "RuntimeClass", "runtimeclasses", false},
    {"admissionregistration.k8s.io", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", false},
    {"admissionregistration.k8s.io", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", false},
    {"admissionregistration.k8s.io", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", false},
    {"admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings", false},
    {"snapshot.storage.k8s.io", "VolumeSnapshotClass", "volumesnapshotclasses", false},
    {"snapshot.storage.k8s.io", "VolumeSnapshotContent", "volumesnapshotcontents", false},
    {"certificates.k8s.io", "CertificateSigningRequest", "certificatesigningrequests", false},
    {"flowcontrol.apiserver.k8s.io", "FlowSchema", "flowschemas", false},
    {"flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration", "prioritylevelconfigurations", false},
};

// kubectl's UnsafeGuessKindToResource: lower-case; "s" -> "ses", "y" -> "ies", else + "s".
std::string guess_resource(const std::string& kind) {
  std::string s = util::to_lower(kind);
  if (s.empty()) return s;
  if (s.back() == 's') return s + "es";
  if (s.back() == 'y') return s.substr(0, s.size() - 1) + "ies";
  return s + "s";
}

bool manifest_file(const std::filesystem::path& p) {
  std::string ext = util::to_lower(p.extension().string());
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

}  // namespace

Result<LiveObjects> read_live(kube::Client& client, const kube::Discovery& discovery, const app::Scope& scope,
                              const app::WalkOptions& options) {
  LiveObjects out;
  out.objects.name = "live";
  CollectSink sink(out);
  KBK_TRY(app::walk(client, discovery, scope, sink, options));
  return out;
}

void KindTable::add_backup(const restore::LoadedBackup& backup) {
  for (const auto& it : backup.items)
    m_types.try_emplace({it.key.group, it.kind}, Type{it.key.resource, !it.key.namespace_.empty(), true});
}

void KindTable::add_discovery(const kube::Discovery& discovery) {
  for (const auto& rt : discovery.preferred())
    m_types.insert_or_assign({rt.group, rt.kind}, Type{rt.resource, rt.namespaced, true});
}

KindTable::Type KindTable::find(const std::string& group, const std::string& kind) const {
  if (auto f = m_types.find({group, kind}); f != m_types.end()) return f->second;
  for (const Builtin& b : k_builtins)
    if (group == b.group && kind == b.kind) return {b.resource, b.namespaced, true};
  // Other kinds of Kubernetes' own groups are namespaced; for anyone else's, only the object can say.
  const bool kubernetes_group = group.empty() || group == "apps" || group == "batch" || group == "policy" ||
                                group == "autoscaling" || util::ends_with(group, ".k8s.io");
  return {guess_resource(kind), true, kubernetes_group};
}

Result<restore::LoadedBackup> read_folder(const std::string& dir, const KindTable& kinds,
                                          const std::string& default_namespace) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return unexpected(Errc::not_found, "folder " + dir + " does not exist");
  std::vector<fs::path> files;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_regular_file(ec) && manifest_file(it->path())) files.push_back(it->path());
  }
  if (ec) return unexpected(Errc::io, "folder " + dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  restore::LoadedBackup out;
  out.name = dir;
  for (const fs::path& file : files) {
    const std::string path = file.string();
    auto text = util::read_file(path);
    if (!text) return unexpected(Errc::io, path + ": " + text.error().message);
    auto objects = patch::read_objects(*text, path);
    if (!objects) return unexpected(Errc::config, objects.error().message);
    for (json::Document& obj : *objects) {
      const std::string api_version = json::get_string(obj, {"apiVersion"});
      const std::string kind = json::get_string(obj, {"kind"});
      const std::string name = json::get_string(obj, {"metadata", "name"});
      if (api_version.empty() || kind.empty() || name.empty())
        return unexpected(Errc::config, path + ": an object without apiVersion, kind or metadata.name");
      const size_t slash = api_version.find('/');
      restore::BackupItem it;
      it.key.group = slash == std::string::npos ? "" : api_version.substr(0, slash);
      it.key.version = slash == std::string::npos ? api_version : api_version.substr(slash + 1);
      KindTable::Type type = kinds.find(it.key.group, kind);
      std::string ns = json::get_string(obj, {"metadata", "namespace"});
      const bool namespaced = type.known ? type.namespaced : !ns.empty();
      if (namespaced && ns.empty()) {
        ns = default_namespace;
        json::set(json::ensure_object(obj, "metadata", obj.GetAllocator()), "namespace",
                  json::make_string(ns, obj.GetAllocator()), obj.GetAllocator());
      }
      it.key.resource = type.resource;
      it.key.namespace_ = namespaced ? ns : "";
      it.key.name = name;
      it.kind = kind;
      it.path = path;
      it.object = restore::JsonText::of(obj);
      out.items.push_back(std::move(it));
    }
  }
  return out;
}

Result<std::optional<restore::Selection>> recorded_selection(storage::Backend& backend, const std::string& name,
                                                             const crypto::UserKey* user) {
  KBK_ASSIGN_OR_RETURN(std::optional<json::Document> marker, archive::read_marker(backend, name));
  if (!marker) return std::optional<restore::Selection>();
  json::Document full;
  const json::Value* m = &*marker;
  if (json::find(*m, "sealed")) {
    if (!user) return std::optional<restore::Selection>();
    KBK_ASSIGN_OR_RETURN(crypto::SecretKey key, archive::open_backup_key(backend, name, *user));
    KBK_ASSIGN_OR_RETURN(full, archive::open_marker(*m, key));
    m = &full;
  }
  const json::Value* sel = json::find(*m, "selection");
  if (!sel || !sel->IsObject()) return std::optional<restore::Selection>();
  auto strings = [&](const char* key) {
    std::vector<std::string> out;
    if (const json::Value* a = json::find(*sel, key); a && a->IsArray())
      for (const auto& v : a->GetArray())
        if (v.IsString()) out.emplace_back(v.GetString(), v.GetStringLength());
    return out;
  };
  for (const char* scoped : {"includedClusterScopedResources", "excludedClusterScopedResources",
                             "includedNamespaceScopedResources", "excludedNamespaceScopedResources"})
    if (!strings(scoped).empty()) return std::optional<restore::Selection>();
  restore::Selection s;
  s.include_namespaces = strings("includedNamespaces");
  if (s.include_namespaces == std::vector<std::string>{"*"}) s.include_namespaces.clear();
  s.exclude_namespaces = strings("excludedNamespaces");
  s.include_resources = strings("includedResources");
  s.exclude_resources = strings("excludedResources");
  s.include_names = strings("includeNames");
  s.exclude_names = strings("excludeNames");
  s.label_selector = json::get_string(*sel, {"labelSelector"});
  s.or_selectors = strings("orLabelSelectors");
  if (const json::Value* c = json::find(*sel, "includeClusterResources"); c && c->IsBool())
    s.include_cluster_resources = c->GetBool();
  return std::optional<restore::Selection>(std::move(s));
}

}  // namespace kbk::diff
