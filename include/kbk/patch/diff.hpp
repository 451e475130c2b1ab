// A unified line diff (as `diff -u` prints it) for showing what a patch or a modifier file changed.
#pragma once

#include <string>
#include <string_view>

namespace kbk::patch {

// Empty when a and b are equal. Headers "--- a_name" / "+++ b_name", hunks with `context` lines around changes.
std::string unified_diff(std::string_view a, std::string_view b, std::string_view a_name, std::string_view b_name,
                         int context = 3);

}  // namespace kbk::patch
