// Byte formats of docs/format-repository.md (pack header and trailer, index files, content lists) and the index
// table.
#include <kbk/repo/format.hpp>

namespace kbk::repo {
namespace {

void put32(std::string& out, uint32_t v) {
  char b[4] = {static_cast<char>(v & 0xff), static_cast<char>((v >> 8) & 0xff), static_cast<char>((v >> 16) & 0xff),
               static_cast<char>((v >> 24) & 0xff)};
  out.append(b, 4);
}
uint32_t get32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(u[0]) | (static_cast<uint32_t>(u[1]) << 8) | (static_cast<uint32_t>(u[2]) << 16) |
         (static_cast<uint32_t>(u[3]) << 24);
}
void put_id(std::string& out, const Id& id) { out.append(reinterpret_cast<const char*>(id.data()), id.size()); }
Id get_id(const char* p) {
  Id id;
  std::memcpy(id.data(), p, id.size());
  return id;
}

}  // namespace

std::string to_hex(const Id& id) {
  static const char* k = "0123456789abcdef";
  std::string s(64, '0');
  for (size_t i = 0; i < 32; ++i) {
    s[2 * i] = k[id[i] >> 4];
    s[2 * i + 1] = k[id[i] & 15];
  }
  return s;
}

std::optional<Id> parse_id(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  Id id;
  for (size_t i = 0; i < 32; ++i) {
    int v = 0;
    for (int j = 0; j < 2; ++j) {
      char c = hex[2 * i + static_cast<size_t>(j)];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) return std::nullopt;
      v = v * 16 + d;
    }
    id[i] = static_cast<unsigned char>(v);
  }
  return id;
}

const char* blob_type_name(BlobType t) {
  switch (t) {
    case BlobType::data: return "data";
    case BlobType::tree: return "tree";
    case BlobType::list: return "list";
  }
  return "?";
}

std::string encode_pack_header(const std::vector<PackEntry>& entries) {
  std::string out;
  out.reserve(entries.size() * k_pack_entry_size);
  for (const auto& e : entries) {
    out.push_back(static_cast<char>(e.type));
    put32(out, e.length);
    put32(out, e.raw_length);
    put_id(out, e.id);
  }
  return out;
}

Result<std::vector<PackEntry>> decode_pack_header(std::string_view h) {
  if (h.size() % k_pack_entry_size != 0)
    return unexpected(Errc::corrupt, "pack header length " + std::to_string(h.size()) + " is not a whole number of entries");
  std::vector<PackEntry> out;
  out.reserve(h.size() / k_pack_entry_size);
  uint64_t offset = 0;
  for (size_t i = 0; i < h.size(); i += k_pack_entry_size) {
    PackEntry e;
    const auto t = static_cast<uint8_t>(h[i]);
    if (t > 2) return unexpected(Errc::corrupt, "pack header names an unknown blob type " + std::to_string(t));
    e.type = static_cast<BlobType>(t);
    e.length = get32(h.data() + i + 1);
    e.raw_length = get32(h.data() + i + 5);
    e.id = get_id(h.data() + i + 9);
    if (offset > 0xffffffffull) return unexpected(Errc::corrupt, "pack header offsets exceed 4 GiB");
    e.offset = static_cast<uint32_t>(offset);
    offset += e.length;
    out.push_back(e);
  }
  return out;
}

std::string encode_pack_trailer(uint32_t stored_header_length) {
  std::string out;
  put32(out, stored_header_length);
  out += "KBKP";
  out.push_back(static_cast<char>(k_format_version));
  return out;
}

Result<uint32_t> decode_pack_trailer(std::string_view t) {
  if (t.size() != k_pack_trailer_size || t.substr(4, 4) != "KBKP")
    return unexpected(Errc::corrupt, "not a kbk pack (no KBKP trailer)");
  const int v = static_cast<unsigned char>(t[8]);
  if (v != k_format_version)
    return unexpected(Errc::unsupported, "pack format version " + std::to_string(v) + " is not the one this kbk reads (" +
                                             std::to_string(k_format_version) + ")");
  return get32(t.data());
}

std::string encode_index(const std::vector<PackRecord>& packs) {
  std::string out = "KBKI";
  out.push_back(static_cast<char>(k_format_version));
  for (const auto& p : packs) {
    put_id(out, p.pack);
    put32(out, static_cast<uint32_t>(p.entries.size()));
    for (const auto& e : p.entries) {
      out.push_back(static_cast<char>(e.type));
      put32(out, e.offset);
      put32(out, e.length);
      put32(out, e.raw_length);
      put_id(out, e.id);
    }
  }
  return out;
}

Result<std::vector<PackRecord>> decode_index(std::string_view s) {
  if (s.size() < 5 || s.substr(0, 4) != "KBKI") return unexpected(Errc::corrupt, "not a kbk index file");
  const int v = static_cast<unsigned char>(s[4]);
  if (v > k_format_version)
    return unexpected(Errc::unsupported, "index format version " + std::to_string(v) + " is newer than this kbk reads (" +
                                             std::to_string(k_format_version) + ")");
  std::vector<PackRecord> out;
  size_t i = 5;
  constexpr size_t entry = 1 + 4 + 4 + 4 + 32;
  while (i < s.size()) {
    if (s.size() - i < 36) return unexpected(Errc::corrupt, "index file is truncated");
    PackRecord r;
    r.pack = get_id(s.data() + i);
    const uint32_t n = get32(s.data() + i + 32);
    i += 36;
    if ((s.size() - i) / entry < n) return unexpected(Errc::corrupt, "index file is truncated");
    r.entries.resize(n);
    for (uint32_t k = 0; k < n; ++k, i += entry) {
      auto& e = r.entries[k];
      const auto t = static_cast<uint8_t>(s[i]);
      if (t > 2) return unexpected(Errc::corrupt, "index file names an unknown blob type");
      e.type = static_cast<BlobType>(t);
      e.offset = get32(s.data() + i + 1);
      e.length = get32(s.data() + i + 5);
      e.raw_length = get32(s.data() + i + 9);
      e.id = get_id(s.data() + i + 13);
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::string encode_list(uint8_t depth, const std::vector<Id>& ids, size_t from, size_t count) {
  std::string out = "KL";
  out.push_back(static_cast<char>(depth));
  out.reserve(3 + count * 32);
  for (size_t i = from; i < from + count && i < ids.size(); ++i) put_id(out, ids[i]);
  return out;
}

Result<std::pair<uint8_t, std::vector<Id>>> decode_list(std::string_view s) {
  if (s.size() < 3 || s.substr(0, 2) != "KL" || (s.size() - 3) % 32 != 0)
    return unexpected(Errc::corrupt, "not a content list blob");
  std::pair<uint8_t, std::vector<Id>> out;
  out.first = static_cast<uint8_t>(s[2]);
  for (size_t i = 3; i < s.size(); i += 32) out.second.push_back(get_id(s.data() + i));
  return out;
}

IndexTable::IndexTable() : m_slots(1024) {}

size_t IndexTable::slot_of(const Id& id) const {
  const size_t mask = m_slots.size() - 1;
  for (size_t i = IdHash{}(id)&mask;; i = (i + 1) & mask) {
    const Slot& s = m_slots[i];
    if (!s.used()) return SIZE_MAX;
    if (s.id == id) return i;
  }
}

const Location* IndexTable::find(const Id& id) const {
  size_t i = slot_of(id);
  return i == SIZE_MAX ? nullptr : &m_slots[i].loc;
}

void IndexTable::grow() {
  std::vector<Slot> old;
  old.swap(m_slots);
  m_slots.assign(old.size() * 2, Slot{});
  m_size = 0;
  for (const auto& s : old)
    if (s.used()) insert(s.id, s.loc);
}

bool IndexTable::insert(const Id& id, const Location& loc) {
  if ((m_size + 1) * 4 > m_slots.size() * 3) grow();
  const size_t mask = m_slots.size() - 1;
  for (size_t i = IdHash{}(id)&mask;; i = (i + 1) & mask) {
    Slot& s = m_slots[i];
    if (!s.used()) {
      s.id = id;
      s.loc = loc;
      ++m_size;
      return true;
    }
    if (s.id == id) return false;
  }
}

bool IndexTable::erase(const Id& id) {
  size_t hole = slot_of(id);
  if (hole == SIZE_MAX) return false;
  const size_t mask = m_slots.size() - 1;
  // Backward-shift deletion: an entry after the hole moves into it unless its home slot lies after the hole (up to
  // the entry, cyclically), where the probe from its home would still reach it.
  for (size_t j = (hole + 1) & mask; m_slots[j].used(); j = (j + 1) & mask) {
    const size_t home = IdHash{}(m_slots[j].id) & mask;
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    m_slots[hole] = m_slots[j];
    hole = j;
  }
  m_slots[hole] = Slot{};
  --m_size;
  return true;
}

void IndexTable::set(const Id& id, const Location& loc) {
  if (!insert(id, loc)) m_slots[slot_of(id)].loc = loc;
}

}  // namespace kbk::repo
