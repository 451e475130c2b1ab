// A backup's contents as an object source (see memory_source.hpp).
#include <kbk/app/memory_source.hpp>

#include <kbk/app/walk.hpp>

#include <kbk/kube/label_selector.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::app {
namespace {

Error not_found(const kube::ResourceType& rt, std::string_view name) {
  Error e{Errc::not_found, rt.group_resource() + " \"" + std::string(name) + "\" not found in the backup"};
  e.http_status = 404;
  e.reason = "NotFound";
  return e;
}

Error read_only(std::string_view verb) {
  return Error{Errc::unsupported, std::string(verb) + ": a backup's contents are read-only"};
}

}  // namespace

void MemorySource::add(const kube::ResourceType& rt, const std::string& ns, const std::string& name,
                       const std::string* text) {
  Type& t = m_types[rt.group_resource()];
  if (t.rt.resource.empty()) {
    t.rt = rt;
    if (t.rt.verbs.empty()) t.rt.verbs = {"create", "delete", "get", "list", "patch", "update"};
    if (t.rt.singular.empty()) t.rt.singular = util::to_lower(rt.kind);
    if (t.rt.short_names.empty()) t.rt.short_names = kube::builtin_short_names(rt.group, rt.resource);
  }
  if (!t.index.emplace(std::make_pair(ns, name), t.objects.size()).second) return;
  t.objects.push_back({ns, name, text});
  ++m_count;
}

MemorySource::Type* MemorySource::find(const kube::ResourceType& rt) {
  auto it = m_types.find(rt.group_resource());
  return it == m_types.end() ? nullptr : &it->second;
}

kube::Discovery MemorySource::discovery() const {
  std::vector<kube::ResourceType> all;
  std::vector<kube::GroupInfo> groups;
  // Core first, as a server lists it; then groups by name.
  for (int pass = 0; pass < 2; ++pass)
    for (const auto& [gr, t] : m_types) {
      if ((pass == 0) != t.rt.group.empty()) continue;
      all.push_back(t.rt);
      bool have = false;
      for (const auto& g : groups) have = have || g.name == t.rt.group;
      if (!have) groups.push_back({t.rt.group, t.rt.version, {t.rt.version}});
    }
  return kube::Discovery(std::move(groups), std::move(all), {});
}

Result<json::Document> MemorySource::get(const kube::ResourceType& rt, std::string_view ns, std::string_view name,
                                         std::string_view subresource) {
  if (!subresource.empty()) return not_found(rt, name);
  Type* t = find(rt);
  if (!t) return not_found(rt, name);
  auto it = t->index.find(std::make_pair(std::string(rt.namespaced ? ns : ""), std::string(name)));
  if (it == t->index.end()) return not_found(rt, name);
  return json::parse(*t->objects[it->second].text, display_key(rt.group_resource(), ns, name));
}

Result<void> MemorySource::list(const kube::ResourceType& rt, std::string_view ns, const kube::ListOptions& options,
                                const std::function<Result<void>(kube::ListPage&)>& on_page) {
  KBK_ASSIGN_OR_RETURN(auto selector, kube::LabelSelector::parse(options.label_selector));
  Type* t = find(rt);
  const size_t limit = options.limit > 0 ? static_cast<size_t>(options.limit) : SIZE_MAX;
  kube::ListPage page;
  auto fresh = [&] {
    page = kube::ListPage();
    page.list.SetObject();
    auto& a = page.list.GetAllocator();
    page.list.AddMember("kind", json::make_string(rt.kind + "List", a), a);
    page.list.AddMember("apiVersion", json::make_string(rt.api_version(), a), a);
    page.list.AddMember("items", json::Value(rapidjson::kArrayType), a);
  };
  fresh();
  size_t in_page = 0;
  if (t) {
    for (const auto& o : t->objects) {
      if (rt.namespaced && !ns.empty() && o.ns != ns) continue;
      auto doc = json::parse(*o.text, display_key(rt.group_resource(), o.ns, o.name));
      if (!doc) return std::move(doc).error();
      if (!selector.empty() && !selector.matches(json::at(*doc, {"metadata", "labels"}))) continue;
      if (in_page == limit) {
        page.continue_token = "more";
        KBK_TRY(on_page(page));
        fresh();
        in_page = 0;
      }
      auto& a = page.list.GetAllocator();
      json::Value v = json::copy(*doc, a);  // iterative: a backup's item may nest 10,000 levels
      json::find(page.list, "items")->PushBack(v, a);
      ++in_page;
    }
  }
  page.continue_token.clear();
  return on_page(page);
}

Result<json::Document> MemorySource::create(const kube::ResourceType&, std::string_view, const json::Value&,
                                            const kube::WriteOptions&) {
  return read_only("create");
}
Result<json::Document> MemorySource::update(const kube::ResourceType&, std::string_view, const json::Value&,
                                            const kube::WriteOptions&, std::string_view) {
  return read_only("update");
}
Result<json::Document> MemorySource::patch(const kube::ResourceType&, std::string_view, std::string_view,
                                           kube::PatchType, std::string_view, const kube::WriteOptions&,
                                           std::string_view) {
  return read_only("patch");
}
Result<json::Document> MemorySource::remove(const kube::ResourceType&, std::string_view, std::string_view,
                                            const kube::DeleteOptions&) {
  return read_only("delete");
}
Result<json::Document> MemorySource::request(std::string_view method, std::string_view path, std::string_view,
                                             std::string_view, std::string_view) {
  return Error{Errc::not_found, std::string(method) + " " + std::string(path) + ": not in a backup"};
}

}  // namespace kbk::app
