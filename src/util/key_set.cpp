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

KeySet::KeySet() : m_slots(1024) {
  std::random_device rd;
  for (uint64_t& k : m_k) k = (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

KeySet::Slot KeySet::digest(std::string_view key) const {
  Slot s{siphash24(m_k[0], m_k[1], key), siphash24(m_k[2], m_k[3], key)};
  if (s.a == 0 && s.b == 0) s.b = 1;
  return s;
}

bool KeySet::insert(std::string_view key) {
  if ((m_size + 1) * 4 > m_slots.size() * 3) grow();
  const Slot d = digest(key);
  const size_t mask = m_slots.size() - 1;
  for (size_t i = static_cast<size_t>(d.a) & mask;; i = (i + 1) & mask) {
    Slot& s = m_slots[i];
    if (s.a == 0 && s.b == 0) {
      s = d;
      ++m_size;
      return true;
    }
    if (s.a == d.a && s.b == d.b) return false;
  }
}

bool KeySet::contains(std::string_view key) const {
  const Slot d = digest(key);
  const size_t mask = m_slots.size() - 1;
  for (size_t i = static_cast<size_t>(d.a) & mask;; i = (i + 1) & mask) {
    const Slot& s = m_slots[i];
    if (s.a == 0 && s.b == 0) return false;
    if (s.a == d.a && s.b == d.b) return true;
  }
}

void KeySet::grow() {
  std::vector<Slot> old(m_slots.size() * 2);
  old.swap(m_slots);
  const size_t mask = m_slots.size() - 1;
  for (const Slot& s : old) {
    if (s.a == 0 && s.b == 0) continue;
    size_t i = static_cast<size_t>(s.a) & mask;
    while (m_slots[i].a != 0 || m_slots[i].b != 0) i = (i + 1) & mask;
    m_slots[i] = s;
  }
}

}  // namespace kbk::util
