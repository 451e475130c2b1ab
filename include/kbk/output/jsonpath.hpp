// kubectl's JSONPath templates (-o jsonpath=TEMPLATE), over the JSON document a command prints with -o json.
//
// Supported (docs/output.md lists it with examples):
//   text outside braces is printed as is; {"\n"} and {"\t"} are string literals inside braces;
//   {.a.b} or {$.a.b} fields; {['a.b']} or {["a"]} bracketed names; {.a[0]} {.a[-1]} indexes; {.a[1:3]} {.a[::2]}
//   slices; {.a[*]} and {.a.*} every element or member; {.a[0,2]} {.a['x','y']} unions; {..name} recursive descent;
//   {.a[?(@.b=="x")]} filters with ==, !=, <, <=, >, >= against a string, number, true, false or null, and
//   {.a[?(@.b)]} (member present); {range .items[*]}...{end} loops ({@} is the current element inside).
// A template without any brace is read as one expression ("jsonpath=.items[*].name"), as kubectl's relaxed form.
// Output: strings as they are, numbers, booleans and null as JSON, objects and arrays as compact JSON; several
// results of one expression are separated by a space. A missing member prints nothing (kubectl's default,
// --allow-missing-template-keys=true).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <kbk/json/json.hpp>
#include <kbk/util/error.hpp>

namespace kbk::output {

class JsonPath {
public:
  // Errc::config with the position of the problem when the template cannot be parsed.
  static Result<JsonPath> parse(std::string_view text);
  std::string execute(const json::Value& root) const;

  JsonPath(JsonPath&&) noexcept;
  JsonPath& operator=(JsonPath&&) noexcept;
  ~JsonPath();

  struct Impl;

private:
  explicit JsonPath(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace kbk::output
