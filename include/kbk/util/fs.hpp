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

// A new temporary file in $TMPDIR (or /tmp), mode 0600, already unlinked: it holds a run's spooled data and goes
// with the descriptor, whatever way the process ends. prefix names it while it is made ("kbk-items").
Result<int> open_unlinked_temp(std::string_view prefix);
// Every byte of data at offset; `what` names the file in the error (Errc::io).
Result<void> pwrite_all(int fd, std::string_view data, uint64_t offset, std::string_view what);
// Exactly size bytes from offset (a short file is an error).
Result<void> pread_all(int fd, char* buffer, size_t size, uint64_t offset, std::string_view what);

}  // namespace kbk::util
