// The documents of include/kbk/archive/report.hpp: what `kbk backup list|describe|inspect -o json` print and
// `kbk ui` serves.
#include <kbk/archive/report.hpp>

#include <map>

#include <kbk/archive/documents.hpp>
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

Result<void> read_checked(storage::Backend& b, const OpenBackup& backup, const VerifiedEntryFn& fn) {
  return read_checked(b, backup, fn, ManifestText::streamed);
}

Result<void> read_checked(storage::Backend& b, const OpenBackup& backup, const VerifiedEntryFn& fn,
                          ManifestText manifest) {
  KBK_ASSIGN_OR_RETURN(VerifyReport report, read_verified(b, backup, {}, fn, manifest));
  if (!report.problems.empty()) return verification_error(backup.name, report);
  return {};
}

Result<json::Document> describe_to_json(storage::Backend& b, const OpenBackup& backup, bool details) {
  json::Document out;
  json::copy_into(out, backup.marker, out.GetAllocator());
  if (!details) return out;
  if (backup.source == BackupSource::kbk) {
    json::Document manifest;
    KBK_TRY(read_checked(b, backup, [&](const Entry& e, const json::Value*) -> Result<void> {
      if (e.path != "kbk/manifest.json") return {};
      KBK_ASSIGN_OR_RETURN(manifest, parse_document(e.data, "backup " + backup.name + ": kbk/manifest.json",
                                                    manifest_schema()));
      return {};
    }, ManifestText::whole));
    if (const json::Value* items = manifest.IsObject() ? json::find(manifest, "items") : nullptr)
      json::set(out, "items", json::copy(*items, out.GetAllocator()), out.GetAllocator());
    return out;
  }
  // A Velero backup: its resource list (optional; one that is there must read).
  BackupPaths p{backup.name};
  DocumentOptions o;
  o.gzipped = Gzipped::yes;
  o.max_bytes = k_max_list_bytes;
  auto rl = read_document(b, p.resource_list(), "backup " + backup.name + ": " + p.resource_list(),
                          resource_list_schema(), o);
  if (!rl) {
    if (!rl.error().is(Errc::not_found)) return std::move(rl).error();
  } else {
    json::set(out, "resourceList", json::copy(*rl, out.GetAllocator()), out.GetAllocator());
  }
  return out;
}

Result<json::Document> contents_to_json(storage::Backend& b, const OpenBackup& backup) {
  json::Document d;
  d.SetArray();
  auto& a = d.GetAllocator();
  KBK_TRY(read_checked(b, backup, [&](const Entry& e, const json::Value* obj) -> Result<void> {
    if (!e.is_item || !e.version_dir.empty() || !obj) return {};
    json::Value v(rapidjson::kObjectType);
    v.AddMember("resource", str_value(e.key.group_resource(), a), a);
    v.AddMember("namespace", str_value(e.key.namespace_, a), a);
    v.AddMember("name", str_value(e.key.name, a), a);
    v.AddMember("apiVersion", str_value(json::get_string(*obj, {"apiVersion"}), a), a);
    v.AddMember("kind", str_value(json::get_string(*obj, {"kind"}), a), a);
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

Result<json::Document> find_object(storage::Backend& b, const OpenBackup& backup, const std::string& typed) {
  auto parts = util::split(typed, '/', false);
  if (parts.size() < 2 || parts.size() > 3)
    return unexpected(Errc::config, typed + ": expected resource/namespace/name or resource/name");
  const std::string want_ns = parts.size() == 3 ? parts[1] : "";
  const std::string want_name = parts.back();
  std::string found;  // the item's text: parsed again (iteratively) once the whole backup verified
  bool have = false;
  std::vector<std::string> candidates;
  KBK_TRY(read_checked(b, backup, [&](const Entry& e, const json::Value* obj) -> Result<void> {
    if (!e.is_item || !e.version_dir.empty() || have || !obj) return {};
    if (e.key.name != want_name || e.key.namespace_ != want_ns) return {};
    if (!resource_matches(parts[0], e.key, json::get_string(*obj, {"kind"}))) {
      candidates.push_back(item_text(e.key));
      return {};
    }
    found = std::string(e.data);
    have = true;
    return {};
  }));
  if (!have) {
    std::string msg = "backup " + backup.name + " holds no " + util::printable(typed, 256);
    if (!candidates.empty()) msg += " (same name: " + util::join(candidates, ", ") + ")";
    return unexpected(Errc::not_found, msg);
  }
  return json::parse(found, "backup " + backup.name + ": " + typed, Errc::corrupt);
}

}  // namespace kbk::archive
