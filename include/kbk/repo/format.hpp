// The byte formats of the repository (docs/format-repository.md sections 6, 8, 9): ids, pack headers and trailers,
// index files, content lists; and the in-memory index table. Pure code: no storage, no keys.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/util/error.hpp>

namespace kbk::repo {

inline constexpr int k_format_version = 1;

using Id = std::array<unsigned char, 32>;
std::string to_hex(const Id& id);
std::optional<Id> parse_id(std::string_view hex);
struct IdHash {
  size_t operator()(const Id& id) const {
    uint64_t v;
    std::memcpy(&v, id.data(), 8);
    return static_cast<size_t>(v);
  }
};

enum class BlobType : uint8_t { data = 0, tree = 1, list = 2 };
const char* blob_type_name(BlobType t);

struct PackEntry {
  BlobType type = BlobType::data;
  uint32_t offset = 0;      // from the start of the pack
  uint32_t length = 0;      // stored bytes
  uint32_t raw_length = 0;  // plaintext bytes
  Id id{};
};

inline constexpr size_t k_pack_entry_size = 1 + 4 + 4 + 32;
inline constexpr size_t k_pack_trailer_size = 4 + 4 + 1;  // header length, "KBKP", version

// Header plaintext (offsets implied by order).
std::string encode_pack_header(const std::vector<PackEntry>& entries);
// Entries from a header plaintext; offsets assigned from 0. Errc::corrupt when malformed.
Result<std::vector<PackEntry>> decode_pack_header(std::string_view plaintext);
std::string encode_pack_trailer(uint32_t stored_header_length);
// The stored header's length from the last 9 bytes of a pack; Errc::corrupt / unsupported.
Result<uint32_t> decode_pack_trailer(std::string_view last9);

struct PackRecord {
  Id pack{};
  std::vector<PackEntry> entries;
};
std::string encode_index(const std::vector<PackRecord>& packs);
Result<std::vector<PackRecord>> decode_index(std::string_view plaintext);

// Content lists: "KL" || depth || ids.
inline constexpr size_t k_list_fanout = 64;
std::string encode_list(uint8_t depth, const std::vector<Id>& ids, size_t from, size_t count);
Result<std::pair<uint8_t, std::vector<Id>>> decode_list(std::string_view plaintext);

// Where a blob is: pack number (into the index's pack table), offset, stored and raw length. 16 bytes.
struct Location {
  uint32_t pack = 0;
  uint32_t offset = 0;
  uint32_t length = 0;
  uint32_t raw_length = 0;
};
inline constexpr uint32_t k_pending_pack = 0xffffffffu;
// raw_length keeps the blob type in its top two bits (blobs are at most 64 MiB).
inline uint32_t pack_raw(uint32_t raw, BlobType t) { return raw | (static_cast<uint32_t>(t) << 30); }
inline uint32_t raw_of(const Location& l) { return l.raw_length & 0x3fffffffu; }
inline BlobType type_of(const Location& l) { return static_cast<BlobType>(l.raw_length >> 30); }

// Open addressing (linear probing) over 48-byte entries keyed by the id; grows at 75% load. Not thread-safe.
class IndexTable {
public:
  IndexTable();
  // Inserts when absent; returns true when it did.
  bool insert(const Id& id, const Location& loc);
  void set(const Id& id, const Location& loc);  // insert or overwrite
  // Removes an id (moving the entries after it back, so every lookup still finds its entry); true when it was there.
  bool erase(const Id& id);
  const Location* find(const Id& id) const;
  size_t size() const { return m_size; }
  size_t capacity() const { return m_slots.size(); }
  size_t memory_bytes() const { return m_slots.size() * sizeof(Slot); }
  template <class F>
  void for_each(F&& f) const {
    for (const auto& s : m_slots)
      if (s.used()) f(s.id, s.loc);
  }
  // Slot number of an id (for side tables such as prune's marks), or SIZE_MAX.
  size_t slot_of(const Id& id) const;

private:
  static constexpr uint32_t k_empty = 0xfffffffeu;
  struct Slot {
    Id id{};
    Location loc{k_empty, 0, 0, 0};
    bool used() const { return loc.pack != k_empty; }
  };
  static_assert(sizeof(Slot) == 48);
  void grow();
  std::vector<Slot> m_slots;
  size_t m_size = 0;
};

}  // namespace kbk::repo
