// Objects held as JSON text (see json_text.hpp).
#include <kbk/restore/json_text.hpp>

namespace kbk::restore {

JsonText JsonText::of(const json::Value& v) {
  JsonText t;
  if (!v.IsNull()) t.m_text = json::to_string(v);
  return t;
}

JsonText JsonText::adopt(std::string text) {
  JsonText t;
  t.m_text = std::move(text);
  return t;
}

json::Document JsonText::parse() const {
  if (m_text.empty()) return json::Document();
  auto doc = json::parse(m_text);
  if (!doc) return json::Document();
  return std::move(*doc);
}

void JsonText::release() { std::string().swap(m_text); }

}  // namespace kbk::restore
