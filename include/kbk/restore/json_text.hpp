// How a restore holds the objects it keeps for a while (every item of the backup while planning, every planned
// object until it is applied): as JSON text, parsed when the object is needed and dropped after. A parsed
// json::Document costs far more than its text however small the object (its allocator's first chunk is 64 KiB, of
// which 5-25 KiB end up resident), so a backup of 10,000 objects of 1-2 KiB held as documents took 275 MB where its
// text takes 15 MB.
#pragma once

#include <string>
#include <string_view>

#include <kbk/json/json.hpp>

namespace kbk::restore {

class JsonText {
public:
  JsonText() = default;  // null
  // The compact text of v (as json::to_string writes it); a Null value gives a null JsonText.
  static JsonText of(const json::Value& v);
  // Text the caller has checked is one JSON value (load_archive validates every archive entry), kept as given.
  static JsonText adopt(std::string text);

  bool is_null() const { return m_text.empty(); }
  const std::string& text() const { return m_text; }
  // A new document holding the value, owned by the caller: Null when this is null (or, for adopted text that
  // was not checked, when it does not parse).
  json::Document parse() const;
  // Back to null, the text's memory freed.
  void release();

private:
  std::string m_text;
};

}  // namespace kbk::restore
