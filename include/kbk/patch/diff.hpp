// Differences between texts and between JSON documents: a unified line diff (as `diff -u` prints it) for showing
// what a patch, a modifier file or a drift changed, and the RFC 6902 JSON Patch that turns one document into
// another (`kbk diff -o json`).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/json/json.hpp>

namespace kbk::patch {

// One line of an edit script: ' ' kept, '-' only in a, '+' only in b. The views point into the inputs.
struct LineEdit {
  char op = ' ';
  std::string_view line;
};

// A shortest edit script from a's lines to b's (Myers' O(ND) algorithm in linear space, after trimming the common
// prefix and suffix). Lines are split on '\n'; a final line without '\n' is a line. A change so large that finding
// the shortest script would cost more than about 10^8 steps is shown as deletions and insertions of that region.
std::vector<LineEdit> line_edits(std::string_view a, std::string_view b);

// Empty when a and b are equal. Headers "--- a_name" / "+++ b_name", hunks with `context` lines around changes.
std::string unified_diff(std::string_view a, std::string_view b, std::string_view a_name, std::string_view b_name,
                         int context = 3);

// The JSON Patch (an array of add/remove/replace operations) that turns `from` into `to`: members compared by name
// (order does not matter), arrays element by element after their common prefix and suffix (an element inserted or
// removed in the middle is one add or remove), anything of another type replaced whole. Empty array when equal.
// Applying it to `from` gives a document equal to `to` (json::equal).
json::Document json_diff(const json::Value& from, const json::Value& to);

}  // namespace kbk::patch
