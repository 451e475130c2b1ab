// A set of strings held as 128-bit keyed digests in one open-addressing table (16-byte slots, kept between 3/8 and
// 3/4 full: 21-43 bytes per key whatever its length), for sets that must hold millions of keys: the backup walk's
// "already taken" set holds a million objects in 32 MiB, against ~150 MiB as std::unordered_map<std::string, int>.
// The digest is SipHash-2-4 under two random keys drawn per set, so nobody can craft names that collide (a collision
// would make the set answer "present" for a key never inserted); for keys nobody chose against it, the chance of any
// collision among 10^9 keys is below 10^-20.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace kbk::util {

class KeySet {
public:
  KeySet();
  // True when the key was not there yet.
  bool insert(std::string_view key);
  bool contains(std::string_view key) const;
  size_t size() const { return m_size; }

private:
  struct Slot {
    uint64_t a = 0, b = 0;  // (0, 0) marks an empty slot; a digest of (0, 0) is stored as (0, 1)
  };
  Slot digest(std::string_view key) const;
  void grow();
  uint64_t m_k[4];
  std::vector<Slot> m_slots;
  size_t m_size = 0;
};

// SipHash-2-4 of data under the 128-bit key (k0, k1).
uint64_t siphash24(uint64_t k0, uint64_t k1, std::string_view data);

}  // namespace kbk::util
