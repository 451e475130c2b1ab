#include <kbk/patch/objects.hpp>

#include <kbk/util/strings.hpp>

namespace kbk::patch {

Result<std::vector<json::Document>> read_objects(std::string_view text, std::string_view what) {
  KBK_ASSIGN_OR_RETURN(auto docs, json::parse_yaml_stream(text, what));
  std::vector<json::Document> out;
  for (auto& d : docs) {
    if (!d.IsObject()) return unexpected(Errc::invalid, std::string(what) + ": a document is not an object");
    std::string kind = json::get_string(d, {"kind"});
    const json::Value* items = json::find(d, "items");
    if (util::ends_with(kind, "List") && items && items->IsArray()) {
      for (const auto& item : items->GetArray()) {
        if (!item.IsObject()) return unexpected(Errc::invalid, std::string(what) + ": a List item is not an object");
        out.push_back(json::clone(item));
      }
      continue;
    }
    out.push_back(std::move(d));
  }
  return out;
}

json::Document make_list(std::vector<json::Document>& items) {
  json::Document list;
  list.SetObject();
  auto& a = list.GetAllocator();
  json::set(list, "apiVersion", json::make_string("v1", a), a);
  json::set(list, "kind", json::make_string("List", a), a);
  json::Value arr(rapidjson::kArrayType);
  for (auto& i : items) arr.PushBack(json::copy(i, a), a);
  json::set(list, "items", std::move(arr), a);
  return list;
}

std::string describe_object(const json::Value& obj) {
  std::string kind = json::get_string(obj, {"kind"}, "object");
  std::string ns = json::get_string(obj, {"metadata", "namespace"});
  std::string name = json::get_string(obj, {"metadata", "name"}, "(unnamed)");
  return kind + " " + (ns.empty() ? name : ns + "/" + name);
}

}  // namespace kbk::patch
