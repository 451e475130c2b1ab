// A set of strings held as 96-bit keyed digests in 256 open-addressing tables (12-byte slots, each table kept
// between 3/8 and 3/4 full: 16-32 bytes per key whatever its length), for sets that must hold millions of keys: the
// backup walk's "already taken" set holds a million objects in 24 MiB, against ~150 MiB as
// std::unordered_map<std::string, int>. A table that grows copies 1/256 of the set, so growing never needs twice the
// memory at once. The digest is SipHash-2-4 under two random keys drawn per set (64 bits of one, 32 of the other),
// so nobody can craft names that collide (a collision would make the set answer "present" for a key never
// inserted); for keys nobody chose against it, the chance of any collision among 10^8 keys is below 10^-12.
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
  // Slot i of a table is (a[i], b[i]); (0, 0) marks an empty slot, a digest of (0, 0) is stored as (0, 1).
  struct Table {
    std::vector<uint64_t> a;
    std::vector<uint32_t> b;
    size_t size = 0;
  };
  struct Digest {
    uint64_t a;
    uint32_t b;
  };
  Digest digest(std::string_view key) const;
  static void grow(Table& t);
  uint64_t m_k[4];
  Table m_tables[256];  // by the digest's top byte; the slot by its low bits
  size_t m_size = 0;
};

// SipHash-2-4 of data under the 128-bit key (k0, k1).
uint64_t siphash24(uint64_t k0, uint64_t k1, std::string_view data);

}  // namespace kbk::util
