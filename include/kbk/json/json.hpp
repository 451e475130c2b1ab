// JSON documents (RapidJSON) and YAML <-> JSON, the way kubectl reads and writes them.
//
// Every Kubernetes object in kbk is a rapidjson::Document. Modules pass `const Value&` views and copy only
// when they must own a changed object. YAML is read with kubectl's (go-yaml v2) scalar rules: plain
// true/false/yes/no/on/off are booleans, plain numbers are numbers, ~/null/empty are null, quoted scalars are
// strings. Strings that would read back as something else are quoted when YAML is written.
#pragma once

#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include <kbk/util/error.hpp>

namespace kbk::json {

using Document = rapidjson::Document;
using Value = rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

// How deep a document may nest (objects and arrays), as the Kubernetes API server allows for JSON: a document
// nested deeper is refused by parse() with one line naming `what`. Every document kbk holds came through parse()
// (backups, API responses: at most k_max_depth) or parse_yaml() (files a user gives: at most k_max_yaml_depth), so
// no walk over a document sees more levels than that. The walks over whole objects are iterative (writers, YAML,
// equal, copy, depth; restore's comparison with a live object); the recursive ones (strategic merge, merge patch,
// modifier paths) follow the patch or path, which come from user files (k_max_yaml_depth), not the object's depth.
// tests/unit/restore/depth_test.cpp runs a k_max_depth-deep item through every restore path on a small stack.
inline constexpr unsigned k_max_depth = 10000;
inline constexpr unsigned k_max_yaml_depth = 200;

// Parses one JSON text: RFC 8259 with UTF-8 validated, at most k_max_depth levels (parsed iteratively: a deep
// text costs memory proportional to its size, never stack), no duplicate member names in an object (Go's decoder
// would take the last and RapidJSON's find the first: a reader and the API server would see different objects),
// nothing after the value. The error (Errc::parse, or `code`) names `what` (a file, an archive entry) and the
// byte offset.
Result<Document> parse(std::string_view text, std::string_view what = "JSON", Errc code = Errc::parse);
// parse() for a document with one long list: each element of the root object's member `member` (an array) is
// handed to on_element as a document of its own as soon as it is read, and not kept, so memory follows the largest
// element, not the list (kbk/manifest.json lists every object of a backup). The document returned holds that
// member as an empty array. The rules and messages are parse()'s (depth counted from the root); an element with a
// duplicate member is not handed out and fails the parse; an error from on_element stops it and is returned.
using ElementFn = std::function<Result<void>(Document& element)>;
Result<Document> parse_split(std::string_view text, std::string_view what, std::string_view member,
                             const ElementFn& on_element, Errc code = Errc::parse);
// The same over a text read piece by piece (read returns 0 at its end): the text is never held whole. A read
// error is returned as it is.
using ReadFn = std::function<Result<size_t>(char* buffer, size_t size)>;
Result<Document> parse_split(const ReadFn& read, std::string_view what, std::string_view member,
                             const ElementFn& on_element, Errc code = Errc::parse);
// Compact, as Go's encoder writes it (no trailing newline).
std::string to_string(const Value& v);
// Indented by 4 spaces per level up to k_pretty_indent_levels; deeper values are written compact on their line,
// so the text stays linear in the document's size however deep it nests.
inline constexpr unsigned k_pretty_indent_levels = 64;
std::string to_pretty(const Value& v);
// The same texts handed out in chunks of about 64 KiB as they are produced (memory bounded by the chunk, not the
// text): for printing large documents.
using TextSink = std::function<void(std::string_view)>;
void write_compact(const Value& v, const TextSink& sink);
void write_pretty(const Value& v, const TextSink& sink);

// One or more YAML documents (a stream separated by ---), or JSON. Empty documents are dropped. At most
// k_max_yaml_depth levels either way (these are files a user gives: kubeconfig, modifier files, patches), and YAML
// aliases may not expand to more nodes than the text has bytes.
Result<std::vector<Document>> parse_yaml_stream(std::string_view text, std::string_view what = "YAML");
// Exactly one document (YAML or JSON).
Result<Document> parse_yaml(std::string_view text, std::string_view what = "YAML");
// Block-style YAML as kubectl -o yaml prints it (keys in document order). Collections nested deeper than
// k_pretty_indent_levels are written in flow style ({a: [1]}), so the text stays linear in the document's size.
std::string to_yaml(const Value& v);
void write_yaml(const Value& v, std::ostream& out);

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
// Deep copy of v owned by alloc (iterative, unlike RapidJSON's CopyFrom, which recurses once per level).
Value copy(const Value& v, Allocator& alloc);
// dst = a deep copy of src owned by alloc (for a Document: its own allocator).
void copy_into(Value& dst, const Value& src, Allocator& alloc);
// Deep equality, object member order ignored, numbers compared by value.
bool equal(const Value& a, const Value& b);
// How deep v nests: 0 for a scalar, 1 for [] or {"a":1}.
unsigned depth(const Value& v);

}  // namespace kbk::json
