#include <kbk/patch/pointer.hpp>

namespace kbk::patch {

Result<Pointer> Pointer::parse(std::string_view text) {
  Pointer p;
  if (text.empty()) return p;
  if (text.front() != '/')
    return unexpected(Errc::invalid, "JSON pointer \"" + std::string(text) + "\" must be empty or start with '/'");
  std::string cur;
  for (size_t i = 1; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '/') {
      p.m_tokens.push_back(std::move(cur));
      cur.clear();
      continue;
    }
    char c = text[i];
    if (c == '~') {
      if (i + 1 < text.size() && (text[i + 1] == '0' || text[i + 1] == '1')) {
        cur += text[i + 1] == '0' ? '~' : '/';
        ++i;
        continue;
      }
      return unexpected(Errc::invalid, "JSON pointer \"" + std::string(text) + "\": '~' must be followed by 0 or 1");
    }
    cur += c;
  }
  return p;
}

std::string escape_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::optional<size_t> parse_index(std::string_view token) {
  if (token.empty() || token.size() > 18) return std::nullopt;
  if (token.size() > 1 && token[0] == '0') return std::nullopt;
  size_t n = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  return n;
}

std::string Pointer::str() const {
  std::string out;
  for (const auto& t : m_tokens) {
    out += '/';
    out += escape_token(t);
  }
  return out;
}

Pointer Pointer::parent() const {
  Pointer p;
  for (size_t i = 0; i + 1 < m_tokens.size(); ++i) p.m_tokens.push_back(m_tokens[i]);
  return p;
}

const std::string& Pointer::back() const {
  static const std::string k_empty;
  return m_tokens.empty() ? k_empty : m_tokens.back();
}

namespace {
template <class V>
V* step(V* cur, const std::string& tok) {
  if (cur->IsObject()) {
    auto it = cur->FindMember(json::Value(rapidjson::StringRef(tok.data(), static_cast<rapidjson::SizeType>(tok.size()))));
    return it == cur->MemberEnd() ? nullptr : &it->value;
  }
  if (cur->IsArray()) {
    auto idx = parse_index(tok);
    if (!idx || *idx >= cur->Size()) return nullptr;
    return &(*cur)[static_cast<rapidjson::SizeType>(*idx)];
  }
  return nullptr;
}
}  // namespace

const json::Value* Pointer::resolve(const json::Value& doc) const {
  const json::Value* cur = &doc;
  for (const auto& t : m_tokens) {
    cur = step(cur, t);
    if (!cur) return nullptr;
  }
  return cur;
}

json::Value* Pointer::resolve(json::Value& doc) const {
  json::Value* cur = &doc;
  for (const auto& t : m_tokens) {
    cur = step(cur, t);
    if (!cur) return nullptr;
  }
  return cur;
}

bool Pointer::is_proper_prefix_of(const Pointer& other) const {
  if (m_tokens.size() >= other.m_tokens.size()) return false;
  for (size_t i = 0; i < m_tokens.size(); ++i)
    if (m_tokens[i] != other.m_tokens[i]) return false;
  return true;
}

}  // namespace kbk::patch
