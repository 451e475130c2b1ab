// FastCDC (Xia et al. 2016/2020) with normalized chunking level 2: a harder mask before the average size, an
// easier one after, and no cut before min. See docs/format-repository.md section 5.
#include <kbk/repo/chunker.hpp>

#include <cstring>
#include <string>

#include <kbk/crypto/hash.hpp>

namespace kbk::repo {

GearTable make_gear_table(std::string_view key) {
  GearTable t{};
  for (int i = 0; i < 64; ++i) {
    std::string m(key);
    m.push_back(static_cast<char>(i));
    auto d = crypto::sha256(m);
    for (int j = 0; j < 4; ++j) {
      uint64_t v = 0;
      for (int b = 7; b >= 0; --b) v = (v << 8) | d[static_cast<size_t>(j * 8 + b)];
      t[static_cast<size_t>(i * 4 + j)] = v;
    }
  }
  return t;
}

namespace {
// k one-bits at the top of the word: the top bits of the Gear hash depend on the last 64 bytes.
uint64_t top_mask(int k) { return k <= 0 ? 0 : (k >= 64 ? ~0ull : (~0ull << (64 - k))); }
int log2_of(uint32_t v) {
  int b = 0;
  while ((1u << (b + 1)) <= v) ++b;
  return b;
}
}  // namespace

Cdc::Cdc(const GearTable& gear, uint32_t min, uint32_t avg, uint32_t max)
    : m_gear(gear), m_min(min), m_avg(avg), m_max(max) {
  const int bits = log2_of(avg);
  m_mask_s = top_mask(bits + 2);
  m_mask_l = top_mask(bits - 2);
}

size_t Cdc::cut(const unsigned char* p, size_t n) const {
  if (n <= m_min) return n;
  if (n > m_max) n = m_max;
  size_t normal = m_avg < n ? m_avg : n;
  uint64_t h = 0;
  size_t i = m_min;
  for (; i < normal; ++i) {
    h = (h << 1) + m_gear[p[i]];
    if (!(h & m_mask_s)) return i + 1;
  }
  for (; i < n; ++i) {
    h = (h << 1) + m_gear[p[i]];
    if (!(h & m_mask_l)) return i + 1;
  }
  return n;
}

}  // namespace kbk::repo
