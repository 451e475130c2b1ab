// File system helpers: whole-file reads, atomic writes with a mode (0600 for anything holding cluster data).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <kbk/util/error.hpp>

namespace kbk::util {

// The most read_file takes of a file that comes from outside (a kubeconfig, a key, credentials, a modifier, patch,
// hooks or application file, a token): far above any real one, and a mistaken or hostile path (/dev/zero, a log
// that grew to gigabytes, a FIFO that never ends) ends with one line instead of taking the memory.
inline constexpr size_t k_max_input_file = size_t{64} << 20;
inline constexpr size_t k_unbounded = SIZE_MAX;

// The whole file. More than max_bytes: Errc::config, "PATH: larger than N MiB, more than kbk reads of such a file".
Result<std::string> read_file(const std::string& path, size_t max_bytes = k_unbounded);
// Writes to path.tmp-<random> in the same folder, fsyncs, renames over path: readers never see half a file.
Result<void> write_file_atomic(const std::string& path, std::string_view data, unsigned mode = 0600);
std::string expand_home(const std::string& path);  // "~/x" -> "$HOME/x"
std::string dirname(const std::string& path);
std::string path_join(const std::string& a, const std::string& b);
bool is_absolute(const std::string& path);

}  // namespace kbk::util
