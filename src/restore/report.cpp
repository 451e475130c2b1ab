// Restore results: JSON, the terminal summary, and the files under restores/<name>/ (see engine.hpp).
#include <kbk/restore/engine.hpp>

#include <kbk/archive/location.hpp>

#include <algorithm>
#include <cstdio>
#include <map>


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

}  // namespace

json::Document report_to_json(const RestoreReport& r, bool with_items) {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  add(d, "name", r.name, a);
  add(d, "backup", r.backup, a);
  add(d, "mode", r.mode, a);
  json::set(d, "dryRun", json::Value(r.dry_run), a);
  add(d, "phase", r.phase(), a);
  add(d, "started", util::format_rfc3339(r.started), a);
  add(d, "completed", util::format_rfc3339(r.completed), a);
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
  size_t shown = 0;
  for (const ItemReport& i : r.items)
    if (i.result.outcome == Outcome::failed) {
      if (shown++ == 0) out += "Failed:\n";
      out += "  " + item_name(i) + ": " + i.result.reason + (i.result.message.empty() ? "" : ": " + i.result.message) + "\n";
    }
  shown = 0;
  for (const ItemReport& i : r.items)
    if (i.result.reason == "exists-differs" && shown < 50) {
      if (shown++ == 0) out += "Existing objects that differ from the backup (left as they are):\n";
      out += "  " + item_name(i) + ": " + i.result.message + "\n";
    }
  shown = 0;
  for (const ItemReport& i : r.items)
    for (const std::string& n : i.notes)
      if (is_rewrite(n) && shown < 100) {
        if (shown++ == 0) out += "Rewrites (namespace mapping, mappings, conversions):\n";
        out += "  " + item_name(i) + ": " + n + "\n";
      }
  for (const std::string& w : r.warnings) out += "Warning: " + w + "\n";
  return out;
}

Result<void> upload_report(storage::Backend& backend, const RestoreReport& r, std::string_view log_text) {
  archive::RestorePaths paths{r.name};
  storage::PutOptions put;
  // The log: what the run logged, then one line per item.
  std::string log(log_text);
  for (const ItemReport& i : r.items)
    log += std::string(outcome_name(i.result.outcome)) + " " + item_name(i) + " (" + i.result.reason + ")" +
           (i.result.message.empty() ? "" : ": " + i.result.message) + "\n";
  KBK_TRY(backend.put(paths.logs(), archive::gzip(log), put));

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
  json::Document rl;
  rl.SetObject();
  for (auto& [k, v] : list) {
    std::sort(v.begin(), v.end());
    json::Value arr(rapidjson::kArrayType);
    for (const std::string& s : v) arr.PushBack(json::make_string(s, rl.GetAllocator()), rl.GetAllocator());
    json::set(rl, k, std::move(arr), rl.GetAllocator());
  }
  KBK_TRY(backend.put(paths.resource_list(), archive::gzip(json::to_string(rl) + "\n"), put));
  // The marker last: a restore whose marker exists has all its files.
  KBK_TRY(backend.put(paths.marker(), json::to_pretty(report_to_json(r, false)) + "\n", put));
  return {};
}

}  // namespace kbk::restore
