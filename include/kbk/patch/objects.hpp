// Object streams as kubectl reads and prints them: YAML/JSON documents, `kind: List` (or *List) expanded into items.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/util/error.hpp>

namespace kbk::patch {

// Parses YAML or JSON text holding one object, several documents or a List; Lists are expanded. Errc::parse on bad
// input, Errc::invalid when a document is not an object.
Result<std::vector<json::Document>> read_objects(std::string_view text, std::string_view what);
// {"apiVersion":"v1","kind":"List","items":[...]} (the items are moved in).
json::Document make_list(std::vector<json::Document>& items);
// "Deployment shop/web" for messages.
std::string describe_object(const json::Value& obj);

}  // namespace kbk::patch
