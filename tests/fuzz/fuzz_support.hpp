// Shared by the harnesses: the input as a storage::Reader handing out odd-sized chunks (so stream code meets every
// boundary), and a text sink that discards.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

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

}  // namespace kbk::fuzz
