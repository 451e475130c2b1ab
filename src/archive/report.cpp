// The documents of include/kbk/archive/report.hpp: what `kbk backup list|describe|inspect -o json` print and
// `kbk ui` serves.
#include <kbk/archive/report.hpp>

#include <map>

#include <kbk/archive/encryption.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::archive {
namespace {

json::Value str_value(std::string_view s, json::Allocator& a) { return json::make_string(s, a); }

}  // namespace

json::Document backup_list_to_json(const std::vector<BackupListing>& rows) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("apiVersion", "kbk.io/v1alpha1", a);
  d.AddMember("kind", "BackupList", a);
  json::Value items(rapidjson::kArrayType);
  for (const auto& b : rows) {
    json::Value v(rapidjson::kObjectType);
    v.AddMember("name", str_value(b.name, a), a);
    v.AddMember("phase", str_value(b.phase, a), a);
    v.AddMember("source", str_value(b.source, a), a);
    json::Value cluster(rapidjson::kObjectType);
    cluster.AddMember("name", str_value(b.cluster_name, a), a);
    cluster.AddMember("kubeSystemUID", str_value(b.kube_system_uid, a), a);
    v.AddMember("cluster", cluster, a);
    v.AddMember("startTimestamp", str_value(b.started, a), a);
    v.AddMember("completionTimestamp", str_value(b.completed, a), a);
    v.AddMember("expiration", str_value(b.expires, a), a);
    json::Value counts(rapidjson::kObjectType);
    counts.AddMember("items", b.items, a);
    counts.AddMember("warnings", b.warnings, a);
    counts.AddMember("errors", b.errors, a);
    v.AddMember("counts", counts, a);
    v.AddMember("encrypted", b.encrypted, a);
    v.AddMember("bytes", b.bytes, a);
    json::Value labels(rapidjson::kObjectType);
    for (const auto& [k, val] : b.labels) labels.AddMember(str_value(k, a), str_value(val, a), a);
    v.AddMember("labels", labels, a);
    items.PushBack(v, a);
  }
  d.AddMember("items", items, a);
  return d;
}

Result<OpenedBackup> locate_backup(storage::Backend& b, const std::string& name) {
  BackupPaths p{name};
  KBK_ASSIGN_OR_RETURN(auto marker, read_marker(b, name));
  if (marker) {
    OpenedBackup l;
    l.name = name;
    l.source = "kbk";
    l.marker = std::move(*marker);
    l.encrypted = is_encrypted(l.marker);
    l.archive = archive_object(&l.marker, name);
    return l;
  }
  auto vb = b.get(p.velero_backup());
  if (vb) {
    KBK_ASSIGN_OR_RETURN(auto doc, json::parse(*vb, "backup " + name + ": velero-backup.json"));
    OpenedBackup l;
    l.name = name;
    l.source = "velero";
    l.marker = std::move(doc);
    l.archive = p.tarball();
    return l;
  }
  if (!vb.error().is(Errc::not_found)) return std::move(vb).error();
  KBK_ASSIGN_OR_RETURN(auto lock, b.stat(p.lock()));
  if (lock)
    return unexpected(Errc::precondition, "backup " + name + " is incomplete (interrupted or still being written); "
                                                             "remove it with kbk backup delete " + name);
  return unexpected(Errc::precondition, "backup " + name + " not found in " + b.display_url());
}

Result<OpenedBackup> open_backup(storage::Backend& b, const std::string& name, const crypto::UserKey* user, NeedKey need) {
  KBK_ASSIGN_OR_RETURN(OpenedBackup l, locate_backup(b, name));
  if (!l.encrypted) return l;
  if (!user) {
    if (need == NeedKey::yes) return key_required(name);
    return l;
  }
  KBK_ASSIGN_OR_RETURN(l.data_key, open_backup_key(b, name, *user));
  KBK_ASSIGN_OR_RETURN(l.marker, open_marker(l.marker, *l.data_key));
  return l;
}

Result<void> each_entry(storage::Backend& b, const OpenedBackup& backup,
                        const std::function<Result<void>(const Entry&)>& fn) {
  KBK_ASSIGN_OR_RETURN(auto reader, open_object(b, backup.archive, backup.key()));
  return read_archive(*reader, backup.name, {}, fn);
}

Result<json::Document> describe_to_json(storage::Backend& b, const OpenedBackup& backup, bool details) {
  json::Document out;
  out.CopyFrom(backup.marker, out.GetAllocator());
  if (details && backup.source == "kbk") {
    KBK_TRY(each_entry(b, backup, [&](const Entry& e) -> Result<void> {
      if (e.path != "kbk/manifest.json") return {};
      KBK_ASSIGN_OR_RETURN(auto m, json::parse(e.data, "kbk/manifest.json"));
      if (auto* items = json::find(m, "items")) {
        json::Value copy;
        copy.CopyFrom(*items, out.GetAllocator());
        json::set(out, "items", std::move(copy), out.GetAllocator());
      }
      return {};
    }));
  }
  return out;
}

Result<json::Document> contents_to_json(storage::Backend& b, const OpenedBackup& backup) {
  json::Document d;
  d.SetArray();
  auto& a = d.GetAllocator();
  KBK_TRY(each_entry(b, backup, [&](const Entry& e) -> Result<void> {
    if (!e.is_item || !e.version_dir.empty()) return {};
    auto obj = json::parse(e.data, e.path);
    std::string api = obj ? json::get_string(*obj, {"apiVersion"}) : "";
    json::Value v(rapidjson::kObjectType);
    v.AddMember("resource", str_value(e.key.group_resource(), a), a);
    v.AddMember("namespace", str_value(e.key.namespace_, a), a);
    v.AddMember("name", str_value(e.key.name, a), a);
    v.AddMember("apiVersion", str_value(api, a), a);
    v.AddMember("kind", str_value(obj ? json::get_string(*obj, {"kind"}) : "", a), a);
    v.AddMember("path", str_value(e.path, a), a);
    v.AddMember("bytes", static_cast<uint64_t>(e.data.size()), a);
    d.PushBack(v, a);
    return {};
  }));
  return d;
}

std::string item_text(const ItemKey& k) {
  return k.group_resource() + "/" + (k.namespace_.empty() ? "" : k.namespace_ + "/") + k.name;
}

bool resource_matches(std::string typed, const ItemKey& k, std::string_view kind) {
  typed = util::to_lower(typed);
  static const std::map<std::string, std::string> k_short = {
      {"po", "pods"}, {"svc", "services"}, {"deploy", "deployments"}, {"cm", "configmaps"}, {"ns", "namespaces"},
      {"pv", "persistentvolumes"}, {"pvc", "persistentvolumeclaims"}, {"sa", "serviceaccounts"},
      {"sts", "statefulsets"}, {"ds", "daemonsets"}, {"rs", "replicasets"}, {"ing", "ingresses"},
      {"crd", "customresourcedefinitions"}, {"sc", "storageclasses"}, {"cj", "cronjobs"}, {"ep", "endpoints"},
      {"no", "nodes"}, {"netpol", "networkpolicies"}, {"pc", "priorityclasses"}, {"quota", "resourcequotas"}};
  if (auto it = k_short.find(typed); it != k_short.end()) typed = it->second;
  const std::string gr = k.group_resource();
  if (typed == gr || typed == k.resource) return true;
  if (util::to_lower(kind) == typed) return true;
  // "deployment" / "deployment.apps"
  auto dot = typed.find('.');
  std::string head = typed.substr(0, dot);
  std::string group = dot == std::string::npos ? "" : typed.substr(dot + 1);
  if (!group.empty() && group != k.group) return false;
  return head + "s" == k.resource || head + "es" == k.resource || head == k.resource ||
         (util::ends_with(head, "y") && head.substr(0, head.size() - 1) + "ies" == k.resource);
}

Result<json::Document> find_object(storage::Backend& b, const OpenedBackup& backup, const std::string& typed) {
  auto parts = util::split(typed, '/', false);
  if (parts.size() < 2 || parts.size() > 3)
    return unexpected(Errc::config, typed + ": expected resource/namespace/name or resource/name");
  const std::string want_ns = parts.size() == 3 ? parts[1] : "";
  const std::string want_name = parts.back();
  std::optional<json::Document> found;
  std::vector<std::string> candidates;
  KBK_TRY(each_entry(b, backup, [&](const Entry& e) -> Result<void> {
    if (!e.is_item || !e.version_dir.empty() || found) return {};
    if (e.key.name != want_name || e.key.namespace_ != want_ns) return {};
    KBK_ASSIGN_OR_RETURN(auto obj, json::parse(e.data, "backup " + backup.name + ": " + e.path));
    if (!resource_matches(parts[0], e.key, json::get_string(obj, {"kind"}))) {
      candidates.push_back(item_text(e.key));
      return {};
    }
    found = std::move(obj);
    return {};
  }));
  if (!found) {
    std::string msg = "backup " + backup.name + " holds no " + typed;
    if (!candidates.empty()) msg += " (same name: " + util::join(candidates, ", ") + ")";
    return unexpected(Errc::not_found, msg);
  }
  return std::move(*found);
}

}  // namespace kbk::archive
