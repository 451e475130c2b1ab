// Restore results: JSON, the terminal summary, and the files under restores/<name>/ (see engine.hpp).
#include <kbk/restore/engine.hpp>

#include <rapidjson/writer.h>

#include <kbk/archive/location.hpp>
#include <kbk/compress/gzip.hpp>
#include <kbk/restore/rollback.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>


#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

namespace kbk::restore {
namespace {

using json::Allocator;

void add(json::Value& obj, std::string_view key, std::string_view value, Allocator& a) {
  json::set(obj, key, json::make_string(value, a), a);
}

std::string item_name(const ItemReport& i) {
  std::string gr = i.group.empty() ? i.resource : i.resource + "." + i.group;
  return gr + "/" + (i.target_namespace.empty() ? "" : i.target_namespace + "/") + i.target_name;
}

bool is_rewrite(const std::string& note) { return note.find(" -> ") != std::string::npos; }

const char* const k_no_volume_data = "the backup holds no data for it";

}  // namespace

std::vector<kube::WriteTarget> write_targets(const Plan& plan) {
  std::vector<kube::WriteTarget> out;
  std::set<std::string> seen;
  for (const PlannedItem& i : plan.items) {
    if (i.skip) continue;
    const std::string ns = i.namespaced ? i.target_namespace : "";
    if (!seen.insert(i.group + "/" + i.resource + "/" + ns).second) continue;
    kube::WriteTarget t;
    t.type.group = i.group;
    t.type.version = i.version;
    t.type.resource = i.resource;
    t.type.kind = i.kind;
    t.type.namespaced = i.namespaced;
    t.namespace_ = ns;
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<std::string> write_verbs(ExistingPolicy policy) {
  std::vector<std::string> v{"create", "get", "patch"};
  if (policy == ExistingPolicy::recreate) v.push_back("delete");
  return v;
}

std::vector<const ItemReport*> volumes_without_data(const RestoreReport& r) {
  std::vector<const ItemReport*> out;
  std::set<std::string> with_result;  // claims a volume result speaks for
  for (const auto& v : r.volumes) with_result.insert(v.namespace_ + "/" + v.claim);
  for (const ItemReport& i : r.items) {
    if (!i.group.empty() || (i.resource != "persistentvolumeclaims" && i.resource != "persistentvolumes")) continue;
    if (i.resource == "persistentvolumeclaims" && with_result.count(i.target_namespace + "/" + i.target_name)) continue;
    if (i.result.outcome == Outcome::created || i.result.outcome == Outcome::updated) out.push_back(&i);
  }
  return out;
}

namespace {

json::Value strings(const std::vector<std::string>& v, Allocator& a) {
  json::Value arr(rapidjson::kArrayType);
  for (const auto& s : v) arr.PushBack(json::make_string(s, a), a);
  return arr;
}

json::Value string_map(const std::map<std::string, std::string>& m, Allocator& a) {
  json::Value obj(rapidjson::kObjectType);
  for (const auto& [k, v] : m) json::set(obj, k, json::make_string(v, a), a);
  return obj;
}

// "spec": what was asked, in Velero's restore spec names where Velero has them.
json::Value spec_json(const RestoreReport& r, Allocator& a) {
  const RestoreRequest& q = r.request;
  json::Value spec(rapidjson::kObjectType);
  add(spec, "backupName", r.backup, a);
  json::set(spec, "includedNamespaces", strings(q.selection.include_namespaces, a), a);
  json::set(spec, "excludedNamespaces", strings(q.selection.exclude_namespaces, a), a);
  json::set(spec, "includedResources", strings(q.selection.include_resources, a), a);
  json::set(spec, "excludedResources", strings(q.selection.exclude_resources, a), a);
  json::set(spec, "includeNames", strings(q.selection.include_names, a), a);
  json::set(spec, "excludeNames", strings(q.selection.exclude_names, a), a);
  add(spec, "labelSelector", q.selection.label_selector, a);
  json::set(spec, "orLabelSelectors", strings(q.selection.or_selectors, a), a);
  json::Value icr;  // null: automatic
  if (q.selection.include_cluster_resources) icr.SetBool(*q.selection.include_cluster_resources);
  json::set(spec, "includeClusterResources", std::move(icr), a);
  json::set(spec, "namespaceMapping", string_map(q.namespace_mappings, a), a);
  json::set(spec, "storageClassMapping", string_map(q.storage_class_mappings, a), a);
  json::set(spec, "ingressClassMapping", string_map(q.ingress_class_mappings, a), a);
  json::set(spec, "imageMappings", strings(q.image_mappings, a), a);
  json::Value mods(rapidjson::kArrayType);
  for (const auto& f : q.resource_modifiers) {
    json::Value m(rapidjson::kObjectType);
    add(m, "file", f.path, a);
    add(m, "sha256", f.sha256, a);
    mods.PushBack(std::move(m), a);
  }
  json::set(spec, "resourceModifiers", std::move(mods), a);
  json::set(spec, "applications", strings(q.applications, a), a);
  json::Value app_files(rapidjson::kArrayType);
  for (const auto& f : q.application_files) {
    json::Value m(rapidjson::kObjectType);
    add(m, "file", f.path, a);
    add(m, "sha256", f.sha256, a);
    app_files.PushBack(std::move(m), a);
  }
  json::set(spec, "applicationFiles", std::move(app_files), a);
  json::Value hook_files(rapidjson::kArrayType);
  for (const auto& f : q.hooks_files) {
    json::Value m(rapidjson::kObjectType);
    add(m, "file", f.path, a);
    add(m, "sha256", f.sha256, a);
    hook_files.PushBack(std::move(m), a);
  }
  json::set(spec, "hooksFiles", std::move(hook_files), a);
  add(spec, "existingResourcePolicy", q.existing_resource_policy, a);
  json::set(spec, "restoreStatus", json::Value(q.restore_status), a);
  json::set(spec, "preserveNodePorts", json::Value(q.preserve_node_ports), a);
  json::set(spec, "restoreLabels", json::Value(q.restore_labels), a);
  add(spec, "dryRun", q.dry_run, a);
  add(spec, "toDir", q.to_dir, a);
  return spec;
}

}  // namespace

json::Document report_to_json(const RestoreReport& r, bool with_items) {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  add(d, "apiVersion", "kbk.io/v1alpha1", a);
  add(d, "kind", "Restore", a);
  add(d, "name", r.name, a);
  add(d, "backup", r.backup, a);
  add(d, "mode", r.mode, a);
  json::set(d, "dryRun", json::Value(r.dry_run), a);
  add(d, "phase", r.phase(), a);
  add(d, "startTimestamp", util::format_rfc3339(r.started), a);
  add(d, "completionTimestamp", util::format_rfc3339(r.completed), a);
  json::set(d, "durationSeconds",
            json::Value(util::round_seconds(std::chrono::duration<double>(r.completed - r.started).count())), a);
  json::set(d, "spec", spec_json(r, a), a);
  json::Value target(rapidjson::kObjectType);
  add(target, "server", r.request.target_server, a);
  add(target, "kubeSystemUID", r.request.target_kube_system_uid, a);
  add(target, "serverVersion", r.request.target_server_version, a);
  json::set(d, "target", std::move(target), a);
  json::Value counts(rapidjson::kObjectType);
  for (Outcome o : {Outcome::created, Outcome::updated, Outcome::skipped, Outcome::failed})
    json::set(counts, outcome_name(o), json::Value(static_cast<uint64_t>(r.count(o))), a);
  json::set(d, "counts", std::move(counts), a);
  std::map<std::string, uint64_t> reasons;
  for (const ItemReport& i : r.items) ++reasons[i.result.reason];
  json::Value rs(rapidjson::kObjectType);
  for (const auto& [k, n] : reasons) json::set(rs, k, json::Value(n), a);
  json::set(d, "reasons", std::move(rs), a);
  json::Value warns(rapidjson::kArrayType);
  for (const std::string& w : r.warnings) warns.PushBack(json::make_string(w, a), a);
  json::set(d, "warnings", std::move(warns), a);
  // Every volume: what came of its data (volume results), then the claims and volumes restored without data
  // (docs/format-archive.md section 6): they exist again, empty.
  json::Value vols(rapidjson::kArrayType);
  for (const auto& v : r.volumes) vols.PushBack(volume::to_json(v, a), a);
  for (const ItemReport* i : volumes_without_data(r)) {
    json::Value v(rapidjson::kObjectType);
    add(v, "kind", i->kind, a);
    add(v, "namespace", i->target_namespace, a);
    add(v, "name", i->target_name, a);
    add(v, "outcome", outcome_name(i->result.outcome), a);
    json::set(v, "dataRestored", json::Value(false), a);
    add(v, "reason", "NoData", a);
    add(v, "message", k_no_volume_data, a);
    vols.PushBack(std::move(v), a);
  }
  json::set(d, "volumes", std::move(vols), a);
  if (!r.hooks.empty()) {
    json::Document h = hooks::records_to_json(r.hooks);
    json::set(d, "hooks", json::copy(h, a), a);
  }
  if (!with_items) return d;
  json::Value items(rapidjson::kArrayType);
  for (const ItemReport& i : r.items) {
    json::Value o(rapidjson::kObjectType);
    json::set(o, "order", json::Value(static_cast<uint64_t>(i.order)), a);
    add(o, "tier", i.tier, a);
    add(o, "group", i.group, a);
    add(o, "version", i.version, a);
    add(o, "resource", i.resource, a);
    add(o, "kind", i.kind, a);
    add(o, "namespace", i.target_namespace, a);
    add(o, "name", i.target_name, a);
    add(o, "sourceNamespace", i.source_namespace, a);
    add(o, "sourceName", i.source_name, a);
    add(o, "outcome", outcome_name(i.result.outcome), a);
    add(o, "reason", i.result.reason, a);
    add(o, "message", i.result.message, a);
    json::Value notes(rapidjson::kArrayType);
    for (const std::string& n : i.notes) notes.PushBack(json::make_string(n, a), a);
    json::set(o, "notes", std::move(notes), a);
    if (i.synthesized) json::set(o, "synthesized", json::Value(true), a);
    items.PushBack(std::move(o), a);
  }
  json::set(d, "items", std::move(items), a);
  return d;
}

std::string failure_line(const RestoreReport& r) {
  const size_t failed = r.count(Outcome::failed);
  if (failed == 0) return "";
  for (const ItemReport& i : r.items)
    if (i.result.outcome == Outcome::failed)
      return "restore " + r.name + " " + r.phase() + ": " + std::to_string(failed) + " of " +
             std::to_string(r.items.size()) + " items failed, " + (failed == 1 ? "" : "the first ") + item_name(i) +
             ": " + i.result.reason + (i.result.message.empty() ? "" : ": " + i.result.message);
  return "";
}

std::string summary_text(const RestoreReport& r) {
  std::string out = "Restore " + r.name + " from backup " + r.backup + " (" + r.mode + "): " + r.phase() + " in " +
                    util::human_duration(std::chrono::duration<double>(r.completed - r.started).count()) + "\n";
  const char* created_word = r.dry_run ? "would create" : "created";
  const char* updated_word = r.dry_run ? "would update" : "updated";
  out += "  " + std::to_string(r.count(Outcome::created)) + " " + created_word + ", " +
         std::to_string(r.count(Outcome::updated)) + " " + updated_word + ", " +
         std::to_string(r.count(Outcome::skipped)) + " skipped, " + std::to_string(r.count(Outcome::failed)) +
         " failed\n";
  for (Outcome o : {Outcome::created, Outcome::updated, Outcome::skipped, Outcome::failed}) {
    std::map<std::string, size_t> reasons;
    for (const ItemReport& i : r.items)
      if (i.result.outcome == o) ++reasons[i.result.reason];
    if (reasons.empty() || (reasons.size() == 1 && reasons.begin()->first == outcome_name(o))) continue;
    out += std::string("  ") + outcome_name(o) + ":\n";
    for (const auto& [k, n] : reasons) {
      char line[160];
      std::snprintf(line, sizeof line, "    %-34s %zu\n", k.c_str(), n);
      out += line;
    }
  }
  if (!r.volumes.empty()) {
    out += "Volume data:\n";
    for (const auto& v : r.volumes) out += "  " + volume::describe(v) + "\n";
  }
  // Lists are cut at a limit; what is left out is counted, never dropped silently.
  const std::string more_hint = r.dry_run ? " (-o json lists every item)"
                                          : " (kbk restore describe " + r.name + " --details, or -o json)";
  auto section = [&](const std::string& title, const std::vector<std::string>& lines, size_t limit) {
    if (lines.empty()) return;
    out += title + ":\n";
    for (size_t k = 0; k < lines.size() && k < limit; ++k) out += "  " + lines[k] + "\n";
    if (lines.size() > limit) out += "  ... and " + std::to_string(lines.size() - limit) + " more" + more_hint + "\n";
  };
  std::vector<std::string> failed, differs, rewrites;
  for (const ItemReport& i : r.items) {
    if (i.result.outcome == Outcome::failed)
      failed.push_back(item_name(i) + ": " + i.result.reason + (i.result.message.empty() ? "" : ": " + i.result.message));
    if (i.result.reason == "exists-differs") differs.push_back(item_name(i) + ": " + i.result.message);
    for (const std::string& n : i.notes)
      if (is_rewrite(n)) rewrites.push_back(item_name(i) + ": " + n);
  }
  section("Failed", failed, 100);
  section("Existing objects that differ from the backup (left as they are)", differs, 50);
  section("Rewrites (namespace mapping, mappings, conversions)", rewrites, 100);
  const auto vols = volumes_without_data(r);
  if (!vols.empty()) {
    size_t claims = 0;
    for (const ItemReport* i : vols) claims += i->resource == "persistentvolumeclaims";
    std::vector<std::string> names;
    for (const ItemReport* i : vols)
      names.push_back(i->kind + " " + (i->target_namespace.empty() ? "" : i->target_namespace + "/") + i->target_name);
    out += std::string("Volumes: ") + std::to_string(claims) + " PersistentVolumeClaim(s) and " +
           std::to_string(vols.size() - claims) + " PersistentVolume(s) " + (r.dry_run ? "would be " : "") +
           "restored without data (" + k_no_volume_data + "):\n";
    for (size_t k = 0; k < names.size() && k < 20; ++k) out += "  " + names[k] + "\n";
    if (names.size() > 20) out += "  ... and " + std::to_string(names.size() - 20) + " more" + more_hint + "\n";
  }
  if (!r.hooks.empty()) {
    size_t attempted = 0, hooks_failed = 0;
    std::vector<std::string> lines;
    for (const auto& p : r.hooks)
      for (const auto& h : p.hooks) {
        attempted += h.outcome != "skipped";
        hooks_failed += h.outcome == "failed";
        if (h.outcome != "ok") lines.push_back(hooks::describe(p.pod, h));
      }
    out += "Hooks: " + std::to_string(attempted) + " attempted, " + std::to_string(hooks_failed) + " failed\n";
    for (size_t k = 0; k < lines.size() && k < 50; ++k) out += "  " + lines[k] + "\n";
    if (lines.size() > 50) out += "  ... and " + std::to_string(lines.size() - 50) + " more" + more_hint + "\n";
  }
  for (const std::string& w : r.warnings) out += "Warning: " + w + "\n";
  return out;
}

Result<void> upload_report(storage::Backend& backend, const RestoreReport& r, std::string_view log_text,
                           const crypto::UserKey* key) {
  compress::GzipWriter log;
  log.write(log_text);
  return upload_report(backend, r, log, key);
}

Result<void> upload_report(storage::Backend& backend, const RestoreReport& r, compress::GzipWriter& log,
                           const crypto::UserKey* key) {
  archive::RestorePaths paths{r.name};
  storage::PutOptions put;
  // The log: what the run logged, then one line per item.
  for (const ItemReport& i : r.items)
    log.write(std::string(outcome_name(i.result.outcome)) + " " + item_name(i) + " (" + i.result.reason + ")" +
              (i.result.message.empty() ? "" : ": " + i.result.message) + "\n");
  KBK_TRY(backend.put(paths.logs(), log.finish(), put));

  // Velero's results: {"warnings": Result, "errors": Result}, Result{velero[], cluster[], namespaces{ns: []}}.
  json::Document res;
  res.SetObject();
  auto& a = res.GetAllocator();
  for (const char* which : {"warnings", "errors"}) {
    json::Value result(rapidjson::kObjectType);
    json::Value velero(rapidjson::kArrayType), cluster(rapidjson::kArrayType), namespaces(rapidjson::kObjectType);
    if (std::string_view(which) == "warnings")
      for (const std::string& w : r.warnings) velero.PushBack(json::make_string(w, a), a);
    for (const ItemReport& i : r.items) {
      bool is_error = i.result.outcome == Outcome::failed;
      bool is_warning = i.result.reason == "exists-differs";
      if ((std::string_view(which) == "errors") != is_error || (!is_error && !is_warning)) continue;
      std::string msg = item_name(i) + ": " + i.result.reason + (i.result.message.empty() ? "" : ": " + i.result.message);
      if (i.target_namespace.empty()) {
        cluster.PushBack(json::make_string(msg, a), a);
      } else {
        json::Value& list = [&]() -> json::Value& {
          if (json::Value* l = json::find(namespaces, i.target_namespace)) return *l;
          json::set(namespaces, i.target_namespace, json::Value(rapidjson::kArrayType), a);
          return *json::find(namespaces, i.target_namespace);
        }();
        list.PushBack(json::make_string(msg, a), a);
      }
    }
    // Restore hooks that failed: errors under onError Fail, warnings otherwise, in the pod's namespace.
    for (const auto& p : r.hooks)
      for (const auto& h : p.hooks) {
        if (h.outcome != "failed" || (std::string_view(which) == "errors") != (h.on_error == "Fail")) continue;
        const std::string ns = p.pod.substr(0, p.pod.find('/'));
        if (!json::find(namespaces, ns)) json::set(namespaces, ns, json::Value(rapidjson::kArrayType), a);
        json::find(namespaces, ns)->PushBack(json::make_string(hooks::describe(p.pod, h), a), a);
      }
    json::set(result, "velero", std::move(velero), a);
    json::set(result, "cluster", std::move(cluster), a);
    json::set(result, "namespaces", std::move(namespaces), a);
    json::set(res, which, std::move(result), a);
  }
  KBK_TRY(backend.put(paths.results(), archive::gzip(json::to_string(res) + "\n"), put));

  // Velero's RestoredResourceList: {"<apiVersion>/<Kind>": ["ns/name(created)", ...]}.
  std::map<std::string, std::vector<std::string>> list;
  for (const ItemReport& i : r.items) {
    std::string gv = i.group.empty() ? i.version : i.group + "/" + i.version;
    list[gv + "/" + i.kind].push_back((i.target_namespace.empty() ? "" : i.target_namespace + "/") + i.target_name +
                                      "(" + outcome_name(i.result.outcome) + ")");
  }
  // Written through the compressor: only the compressed list is held besides the names.
  compress::GzipWriter rl;
  {
    rapidjson::Writer<compress::GzipWriter> w(rl);
    w.StartObject();
    for (auto& [k, v] : list) {
      std::sort(v.begin(), v.end());
      w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
      w.StartArray();
      for (const std::string& s : v) w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
      w.EndArray();
      std::vector<std::string>().swap(v);
    }
    w.EndObject();
  }
  rl.write("\n");
  KBK_TRY(backend.put(paths.resource_list(), rl.finish(), put));
  // What rollback needs (section 6.1), for a restore that changed the cluster.
  json::Document marker = report_to_json(r, false);
  if (!r.dry_run && r.mode == "cluster") {
    KBK_ASSIGN_OR_RETURN(RollbackStored stored, upload_rollback_record(backend, r, key));
    auto& ma = marker.GetAllocator();
    json::Value rb(rapidjson::kObjectType);
    json::set(rb, "version", json::Value(k_rollback_format_version), ma);
    add(rb, "object", stored.object, ma);
    json::set(rb, "encrypted", json::Value(stored.encrypted), ma);
    json::set(rb, "items", json::Value(static_cast<uint64_t>(stored.items)), ma);
    json::set(marker, "rollback", std::move(rb), ma);
  }
  // The marker last: a restore whose marker exists has all its files.
  KBK_TRY(backend.put(paths.marker(), json::to_pretty(marker) + "\n", put));
  return {};
}

}  // namespace kbk::restore
