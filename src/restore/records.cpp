// include/kbk/restore/records.hpp: restore records as restore list/describe and kbk ui show them.
#include <kbk/restore/records.hpp>

#include <kbk/archive/documents.hpp>
#include <kbk/archive/location.hpp>

namespace kbk::restore {

Result<std::vector<std::string>> list_restore_names(storage::Backend& backend) {
  KBK_ASSIGN_OR_RETURN(auto listed, backend.list_prefixes("restores/"));
  std::vector<std::string> names;
  for (std::string n : listed) {
    if (!n.empty() && n.back() == '/') n.pop_back();
    auto slash = n.rfind('/');
    names.push_back(slash == std::string::npos ? n : n.substr(slash + 1));
  }
  return names;
}

Result<json::Document> read_restore_record(storage::Backend& backend, const std::string& name) {
  archive::RestorePaths p{name};
  // As any document from a location: bounded, parsed, type-checked.
  KBK_ASSIGN_OR_RETURN(json::Document m, archive::read_document(backend, p.marker(), "restore " + name + ": kbk-restore.json",
                                                                archive::restore_record_schema()));
  auto& a = m.GetAllocator();
  for (const auto& [now_name, old_name] : {std::pair{"startTimestamp", "started"}, std::pair{"completionTimestamp", "completed"}}) {
    if (!json::find(m, now_name) && json::find(m, old_name))
      json::set(m, now_name, json::make_string(json::get_string(m, {old_name}), a), a);
    if (json::find(m, old_name)) m.RemoveMember(old_name);
  }
  return m;
}

Result<RestoreRecord> load_restore_record(storage::Backend& backend, const std::string& name, bool details) {
  RestoreRecord r;
  KBK_ASSIGN_OR_RETURN(r.record, read_restore_record(backend, name));
  archive::RestorePaths p{name};
  archive::DocumentOptions gz;
  gz.gzipped = archive::Gzipped::yes;
  gz.max_bytes = archive::k_max_list_bytes;
  // Results and resource list are optional (an older kbk did not write them); one that is there must read.
  if (auto d = archive::read_document(backend, p.results(), "restore " + name + ": " + p.results(),
                                      archive::velero_results_schema(), gz)) {
    r.results = std::move(*d);
  } else if (!d.error().is(Errc::not_found)) {
    return std::move(d).error();
  }
  if (details) {
    if (auto d = archive::read_document(backend, p.resource_list(), "restore " + name + ": " + p.resource_list(),
                                        archive::resource_list_schema(), gz)) {
      r.resource_list = std::move(*d);
    } else if (!d.error().is(Errc::not_found)) {
      return std::move(d).error();
    }
  }
  return r;
}

json::Document restore_describe_to_json(const RestoreRecord& r) {
  json::Document m;
  json::copy_into(m, r.record, m.GetAllocator());
  auto& a = m.GetAllocator();
  if (r.results.IsObject()) json::set(m, "results", json::copy(r.results, a), a);
  if (r.resource_list.IsObject()) json::set(m, "resourceList", json::copy(r.resource_list, a), a);
  return m;
}

json::Document restore_list_to_json(const std::vector<json::Document>& records) {
  json::Document all(rapidjson::kObjectType);
  auto& a = all.GetAllocator();
  all.AddMember("apiVersion", "kbk.io/v1alpha1", a);
  all.AddMember("kind", "RestoreList", a);
  json::Value items(rapidjson::kArrayType);
  for (const auto& m : records) {
    items.PushBack(json::copy(m, a), a);
  }
  all.AddMember("items", items, a);
  return all;
}

}  // namespace kbk::restore
