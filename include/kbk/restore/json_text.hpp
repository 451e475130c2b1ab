// How a restore holds the objects it keeps for a while (every item of the backup while planning, every planned
// object until it is applied, each applied object and the live one it replaced until the rollback record is
// written): as JSON text, parsed when the object is needed and dropped after. A parsed json::Document costs far more
// than its text however small the object (its allocator's first chunk is 64 KiB, of which 5-25 KiB end up
// resident), so a backup of 10,000 objects of 1-2 KiB held as documents took 275 MB where its text takes 15 MB.
// A restore goes further: its texts live in a TextSpool, an unlinked temporary file, and each JsonText holds only
// where its text is there, so memory no longer grows with the objects' size (docs/restore.md, Memory).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <kbk/json/json.hpp>
#include <kbk/util/spool.hpp>

namespace kbk::restore {

using util::TextSpool;

// The spool a restore keeps its objects in: every text sealed with AES-256-GCM under a random key that exists only
// in this process's memory (Secrets are among the objects, and the file's blocks outlive it on the disk).
std::shared_ptr<TextSpool> make_sealed_spool();

class JsonText {
public:
  JsonText() = default;  // null
  JsonText(const JsonText& o);
  JsonText& operator=(const JsonText& o);
  JsonText(JsonText&& o) noexcept;  // o is null afterwards
  JsonText& operator=(JsonText&& o) noexcept;
  // The compact text of v (as json::to_string writes it); a Null value gives a null JsonText. With a spool the
  // text is kept there (in memory when the spool refuses it).
  static JsonText of(const json::Value& v, const std::shared_ptr<TextSpool>& spool = nullptr);
  // Text the caller has checked is one JSON value (load_archive validates every archive entry), kept as given.
  static JsonText adopt(std::string text, const std::shared_ptr<TextSpool>& spool = nullptr);

  bool is_null() const { return m_size == 0; }
  size_t size() const { return m_size; }
  // The text (read back from the spool when it is kept there).
  std::string text() const;
  // A new document holding the value, owned by the caller: Null when this is null (or, for adopted text that
  // was not checked, when it does not parse).
  json::Document parse() const;
  // Back to null, the text's memory freed (a spooled text stays in the file until the spool goes).
  void release();
  // The text when it is held in memory ("" when null), else null (spooled): for readers that keep a pointer to it.
  const std::string* held_text() const;
  // The spool the text is kept in (null when held in memory): texts made from this one can go there too.
  const std::shared_ptr<TextSpool>& spool() const { return m_spool; }

private:
  // 40 bytes whatever the text: a restore holds several per object.
  std::unique_ptr<std::string> m_text;  // in memory (no spool)
  std::shared_ptr<TextSpool> m_spool;   // or kept there, at m_offset
  uint64_t m_offset = 0;
  size_t m_size = 0;
};

}  // namespace kbk::restore
