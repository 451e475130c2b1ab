// File system helpers: whole-file reads, atomic writes with a mode (0600 for anything holding cluster data).
#pragma once

#include <string>
#include <string_view>

#include <kbk/util/error.hpp>

namespace kbk::util {

Result<std::string> read_file(const std::string& path);
// Writes to path.tmp-<random> in the same folder, fsyncs, renames over path: readers never see half a file.
Result<void> write_file_atomic(const std::string& path, std::string_view data, unsigned mode = 0600);
std::string expand_home(const std::string& path);  // "~/x" -> "$HOME/x"
std::string dirname(const std::string& path);
std::string path_join(const std::string& a, const std::string& b);
bool is_absolute(const std::string& path);

}  // namespace kbk::util
