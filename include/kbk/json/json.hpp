// JSON documents (RapidJSON) and YAML <-> JSON, the way kubectl reads and writes them.
//
// Every Kubernetes object in kbk is a rapidjson::Document. Modules pass `const Value&` views and copy only
// when they must own a changed object. YAML is read with kubectl's (go-yaml v2) scalar rules: plain
// true/false/yes/no/on/off are booleans, plain numbers are numbers, ~/null/empty are null, quoted scalars are
// strings. Strings that would read back as something else are quoted when YAML is written.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include <kbk/util/error.hpp>

namespace kbk::json {

using Document = rapidjson::Document;
using Value = rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

// Parses one JSON text. The error names `what` (a file, an archive entry) and the byte offset.
Result<Document> parse(std::string_view text, std::string_view what = "JSON");
// Compact, as Go's encoder writes it (no trailing newline).
std::string to_string(const Value& v);
std::string to_pretty(const Value& v);

// One or more YAML documents (a stream separated by ---), or JSON. Empty documents are dropped.
Result<std::vector<Document>> parse_yaml_stream(std::string_view text, std::string_view what = "YAML");
// Exactly one document (YAML or JSON).
Result<Document> parse_yaml(std::string_view text, std::string_view what = "YAML");
// Block-style YAML as kubectl -o yaml prints it (keys in document order).
std::string to_yaml(const Value& v);

// Member lookup; nullptr when obj is not an object or has no such member.
const Value* find(const Value& obj, std::string_view key);
Value* find(Value& obj, std::string_view key);
// Nested lookup: at(obj, {"metadata", "name"}).
const Value* at(const Value& obj, std::initializer_list<std::string_view> path);
Value* at(Value& obj, std::initializer_list<std::string_view> path);
// The string at path, or def when absent or not a string.
std::string get_string(const Value& obj, std::initializer_list<std::string_view> path, std::string_view def = "");
// Copies a string into a Value owned by alloc.
Value make_string(std::string_view s, Allocator& alloc);
// Sets obj[key] = value (replacing), creating obj as an object when it is not one.
void set(Value& obj, std::string_view key, Value value, Allocator& alloc);
// The object at obj[key], created empty (and replacing a non-object) when needed.
Value& ensure_object(Value& obj, std::string_view key, Allocator& alloc);
bool erase(Value& obj, std::string_view key);
// Deep copy into a new document.
Document clone(const Value& v);
// Deep equality, object member order ignored, numbers compared by value.
bool equal(const Value& a, const Value& b);

}  // namespace kbk::json
