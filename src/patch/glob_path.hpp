// Glob paths over JSON documents (kbk.io/v1 modifiers): a JSON pointer whose segments may hold shell globs
// ('*', '?', '[...]'), matched against object keys and array indices. And gobwas-style globs with a separator
// (Velero's groupResource: '*' does not cross '.', '**' does).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/util/error.hpp>

namespace kbk::patch::detail {

struct GlobPath {
  std::vector<std::string> segments;  // unescaped (~0 ~1), may hold glob characters
  std::string text;
  static Result<GlobPath> parse(std::string_view text);
  bool has_glob() const;
};

struct PathMatch {
  std::vector<std::string> tokens;  // concrete pointer tokens
  json::Value* value;
};
std::vector<PathMatch> find_all(json::Value& doc, const GlobPath& path);
std::vector<const json::Value*> find_all(const json::Value& doc, const GlobPath& path);

// gobwas/glob.Compile(pattern, sep).Match(text): '*' any run without sep, '**' any run, '?' one non-sep char,
// '[abc]', '[!abc]', '[a-z]', '{x,y}' alternatives, '\' escapes.
bool glob_sep_match(std::string_view pattern, std::string_view text, char sep);

}  // namespace kbk::patch::detail
