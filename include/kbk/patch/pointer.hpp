// RFC 6901 JSON Pointer: parsing ("/a/b~1c/0" -> tokens), escaping, resolution against a RapidJSON value.
//
// Array indices are decimal without leading zeros ("0", "12"); "-" names the element past the end and is only
// meaningful to JSON Patch `add`. A token that is not a valid index never selects an array element.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/util/error.hpp>

namespace kbk::patch {

class Pointer {
public:
  Pointer() = default;
  // "" is the whole document; anything else must start with '/'. "~" must be followed by 0 or 1.
  static Result<Pointer> parse(std::string_view text);
  static Pointer from_tokens(std::vector<std::string> tokens) {
    Pointer p;
    p.m_tokens = std::move(tokens);
    return p;
  }

  const std::vector<std::string>& tokens() const { return m_tokens; }
  bool is_root() const { return m_tokens.empty(); }
  std::string str() const;  // re-escaped text
  // The parent pointer (root's parent is root) and the last token ("" for root).
  Pointer parent() const;
  const std::string& back() const;

  // The value the pointer names, or nullptr when any step is missing.
  const json::Value* resolve(const json::Value& doc) const;
  json::Value* resolve(json::Value& doc) const;
  // Whether this pointer is a proper prefix of other ("/a" of "/a/b"; not of "/ab").
  bool is_proper_prefix_of(const Pointer& other) const;

private:
  std::vector<std::string> m_tokens;
};

// "~" -> "~0", "/" -> "~1".
std::string escape_token(std::string_view token);
// An array index token: digits, no leading zero unless the token is "0". nullopt otherwise (including "-").
std::optional<size_t> parse_index(std::string_view token);

}  // namespace kbk::patch
