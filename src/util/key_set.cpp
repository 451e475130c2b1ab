#include <kbk/util/key_set.hpp>

#include <cstring>
#include <random>

namespace kbk::util {
namespace {

inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

inline void round(uint64_t& v0, uint64_t& v1, uint64_t& v2, uint64_t& v3) {
  v0 += v1;
  v1 = rotl(v1, 13);
  v1 ^= v0;
  v0 = rotl(v0, 32);
  v2 += v3;
  v3 = rotl(v3, 16);
  v3 ^= v2;
  v0 += v3;
  v3 = rotl(v3, 21);
  v3 ^= v0;
  v2 += v1;
  v1 = rotl(v1, 17);
  v1 ^= v2;
  v2 = rotl(v2, 32);
}

inline uint64_t load_le64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

uint64_t siphash24(uint64_t k0, uint64_t k1, std::string_view data) {
  uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
  uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
  uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
  uint64_t v3 = 0x7465646279746573ULL ^ k1;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const size_t n = data.size();
  const size_t whole = n - n % 8;
  for (size_t i = 0; i < whole; i += 8) {
    const uint64_t m = load_le64(p + i);
    v3 ^= m;
    round(v0, v1, v2, v3);
    round(v0, v1, v2, v3);
    v0 ^= m;
  }
  uint64_t last = static_cast<uint64_t>(n & 0xff) << 56;
  for (size_t i = 0; i < n % 8; ++i) last |= static_cast<uint64_t>(p[whole + i]) << (8 * i);
  v3 ^= last;
  round(v0, v1, v2, v3);
  round(v0, v1, v2, v3);
  v0 ^= last;
  v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) round(v0, v1, v2, v3);
  return v0 ^ v1 ^ v2 ^ v3;
}

KeySet::KeySet() {
  std::random_device rd;
  for (uint64_t& k : m_k) k = (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

KeySet::Digest KeySet::digest(std::string_view key) const {
  Digest d{siphash24(m_k[0], m_k[1], key), static_cast<uint32_t>(siphash24(m_k[2], m_k[3], key))};
  if (d.a == 0 && d.b == 0) d.b = 1;
  return d;
}

bool KeySet::insert(std::string_view key) {
  const Digest d = digest(key);
  Table& t = m_tables[d.a >> 56];
  if ((t.size + 1) * 4 > t.a.size() * 3) grow(t);
  const size_t mask = t.a.size() - 1;
  for (size_t i = static_cast<size_t>(d.a) & mask;; i = (i + 1) & mask) {
    if (t.a[i] == 0 && t.b[i] == 0) {
      t.a[i] = d.a;
      t.b[i] = d.b;
      ++t.size;
      ++m_size;
      return true;
    }
    if (t.a[i] == d.a && t.b[i] == d.b) return false;
  }
}

bool KeySet::contains(std::string_view key) const {
  const Digest d = digest(key);
  const Table& t = m_tables[d.a >> 56];
  if (t.a.empty()) return false;
  const size_t mask = t.a.size() - 1;
  for (size_t i = static_cast<size_t>(d.a) & mask;; i = (i + 1) & mask) {
    if (t.a[i] == 0 && t.b[i] == 0) return false;
    if (t.a[i] == d.a && t.b[i] == d.b) return true;
  }
}

void KeySet::grow(Table& t) {
  const size_t n = t.a.empty() ? 16 : t.a.size() * 2;
  std::vector<uint64_t> a(n);
  std::vector<uint32_t> b(n);
  a.swap(t.a);
  b.swap(t.b);
  const size_t mask = n - 1;
  for (size_t j = 0; j < a.size(); ++j) {
    if (a[j] == 0 && b[j] == 0) continue;
    size_t i = static_cast<size_t>(a[j]) & mask;
    while (t.a[i] != 0 || t.b[i] != 0) i = (i + 1) & mask;
    t.a[i] = a[j];
    t.b[i] = b[j];
  }
}

}  // namespace kbk::util
