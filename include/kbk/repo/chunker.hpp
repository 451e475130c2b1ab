// Cutting file contents into blobs (docs/format-repository.md section 5): FastCDC with normalized chunking over a
// keyed Gear table for ordinary files, page-aligned fixed blocks for large ones. Pure functions over bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kbk::repo {

struct ChunkerParams {
  uint32_t min = 256u << 10;
  uint32_t avg = 1u << 20;
  uint32_t max = 8u << 20;
  uint64_t large_file_size = 64ull << 20;  // files of this size and more use fixed blocks
  uint32_t block_size = 32u << 10;
};

using GearTable = std::array<uint64_t, 256>;
// The Gear table of a key: SHA-256(key || i), i = 0..63, four little-endian 64-bit entries per digest.
GearTable make_gear_table(std::string_view key);

class Cdc {
public:
  Cdc(const GearTable& gear, uint32_t min, uint32_t avg, uint32_t max);
  // Length of the chunk that starts at p, given n available bytes. Call with n >= max, or with the rest of the
  // input at its end (then a result of n means "all of it").
  size_t cut(const unsigned char* p, size_t n) const;
  uint32_t min() const { return m_min; }
  uint32_t max() const { return m_max; }

private:
  const GearTable& m_gear;
  uint32_t m_min, m_avg, m_max;
  uint64_t m_mask_s, m_mask_l;
};

}  // namespace kbk::repo
