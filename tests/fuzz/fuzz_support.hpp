// Shared by the harnesses: the input as a storage::Reader handing out odd-sized chunks (so stream code meets every
// boundary), a text sink that discards, the input split into parts, and a private scratch folder.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/storage/backend.hpp>

namespace kbk::fuzz {

class InputReader final : public storage::Reader {
public:
  InputReader(const uint8_t* data, size_t size, size_t chunk = 4093)
      : m_data(reinterpret_cast<const char*>(data)), m_size(size), m_chunk(chunk) {}
  Result<size_t> read(char* buffer, size_t size) override {
    const size_t n = std::min({size, m_chunk, m_size - m_pos});
    std::memcpy(buffer, m_data + m_pos, n);
    m_pos += n;
    return n;
  }

private:
  const char* m_data;
  size_t m_size;
  size_t m_chunk;
  size_t m_pos = 0;
};

inline void discard(std::string_view) {}

// Inputs made of several texts (a document and a patch, a series of responses) separate them with this line, so the
// seeds stay readable and the fuzzer can move the boundary.
inline constexpr std::string_view k_separator = "\n--8<--\n";

inline std::vector<std::string_view> split(const uint8_t* data, size_t size, size_t max_parts = 64) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> out;
  while (out.size() + 1 < max_parts) {
    const size_t at = rest.find(k_separator);
    if (at == std::string_view::npos) break;
    out.push_back(rest.substr(0, at));
    rest.remove_prefix(at + k_separator.size());
  }
  out.push_back(rest);
  return out;
}

// A folder of the harness's own under $TMPDIR (0700, made once per process; left for the OS to clean, as it
// holds only what the harness wrote).
inline const std::string& scratch() {
  static const std::string dir = [] {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/kbk-fuzz-XXXXXX";
    return std::string(::mkdtemp(tmpl.data()) ? tmpl : "");
  }();
  return dir;
}

}  // namespace kbk::fuzz
