// include/kbk/restore/records.hpp: restore records as restore list/describe and kbk ui show them.
#include <kbk/restore/records.hpp>

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
  KBK_ASSIGN_OR_RETURN(std::string text, backend.get(p.marker()));
  KBK_ASSIGN_OR_RETURN(json::Document m, json::parse(text, p.marker()));
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
  if (auto gz = backend.get(p.results()); gz)
    if (auto text = archive::gunzip(*gz, p.results()); text)
      if (auto d = json::parse(*text, p.results()); d) r.results = std::move(*d);
  if (details)
    if (auto gz = backend.get(p.resource_list()); gz)
      if (auto text = archive::gunzip(*gz, p.resource_list()); text)
        if (auto d = json::parse(*text, p.resource_list()); d) r.resource_list = std::move(*d);
  return r;
}

json::Document restore_describe_to_json(const RestoreRecord& r) {
  json::Document m;
  m.CopyFrom(r.record, m.GetAllocator());
  auto& a = m.GetAllocator();
  if (r.results.IsObject()) {
    json::Value v;
    v.CopyFrom(r.results, a);
    json::set(m, "results", std::move(v), a);
  }
  if (r.resource_list.IsObject()) {
    json::Value v;
    v.CopyFrom(r.resource_list, a);
    json::set(m, "resourceList", std::move(v), a);
  }
  return m;
}

json::Document restore_list_to_json(const std::vector<json::Document>& records) {
  json::Document all(rapidjson::kObjectType);
  auto& a = all.GetAllocator();
  all.AddMember("apiVersion", "kbk.io/v1alpha1", a);
  all.AddMember("kind", "RestoreList", a);
  json::Value items(rapidjson::kArrayType);
  for (const auto& m : records) {
    json::Value v;
    v.CopyFrom(m, a);
    items.PushBack(std::move(v), a);
  }
  all.AddMember("items", items, a);
  return all;
}

}  // namespace kbk::restore
