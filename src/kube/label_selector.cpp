// Label selector parsing and matching with apimachinery's grammar (labels.Parse).
#include <kbk/kube/label_selector.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <kbk/util/strings.hpp>

namespace kbk::kube {
namespace {

bool is_key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/';
}

class Parser {
public:
  explicit Parser(std::string_view s) : m_s(s) {}

  Result<std::vector<LabelRequirement>> parse() {
    std::vector<LabelRequirement> out;
    skip_ws();
    if (m_pos == m_s.size()) return out;
    for (;;) {
      KBK_ASSIGN_OR_RETURN(auto req, requirement());
      out.push_back(std::move(req));
      skip_ws();
      if (m_pos == m_s.size()) break;
      if (m_s[m_pos] != ',') return fail("expected ','");
      ++m_pos;
    }
    return out;
  }

private:
  Error fail(const std::string& what) const {
    return Error{Errc::config, "label selector \"" + std::string(m_s) + "\": " + what + " at position " +
                                   std::to_string(m_pos)};
  }
  void skip_ws() {
    while (m_pos < m_s.size() && std::isspace(static_cast<unsigned char>(m_s[m_pos]))) ++m_pos;
  }
  std::string word() {
    skip_ws();
    size_t start = m_pos;
    while (m_pos < m_s.size() && is_key_char(m_s[m_pos])) ++m_pos;
    return std::string(m_s.substr(start, m_pos - start));
  }
  bool keyword(std::string_view kw) {
    skip_ws();
    if (m_s.substr(m_pos, kw.size()) != kw) return false;
    size_t after = m_pos + kw.size();
    if (after < m_s.size() && is_key_char(m_s[after])) return false;
    m_pos = after;
    return true;
  }
  Result<std::vector<std::string>> value_set() {
    skip_ws();
    if (m_pos >= m_s.size() || m_s[m_pos] != '(') return fail("expected '('");
    ++m_pos;
    std::vector<std::string> values;
    for (;;) {
      std::string v = word();
      values.push_back(v);
      skip_ws();
      if (m_pos < m_s.size() && m_s[m_pos] == ',') {
        ++m_pos;
        continue;
      }
      if (m_pos < m_s.size() && m_s[m_pos] == ')') {
        ++m_pos;
        break;
      }
      return fail("expected ',' or ')'");
    }
    return values;
  }
  Result<LabelRequirement> requirement() {
    LabelRequirement r;
    skip_ws();
    if (m_pos < m_s.size() && m_s[m_pos] == '!') {
      ++m_pos;
      r.key = word();
      if (r.key.empty()) return fail("expected a key after '!'");
      r.op = LabelRequirement::Op::does_not_exist;
      return r;
    }
    r.key = word();
    if (r.key.empty()) return fail("expected a key");
    skip_ws();
    if (m_pos == m_s.size() || m_s[m_pos] == ',') {
      r.op = LabelRequirement::Op::exists;
      return r;
    }
    std::string_view rest = m_s.substr(m_pos);
    if (rest.substr(0, 2) == "==" || rest.substr(0, 2) == "!=") {
      r.op = rest[0] == '=' ? LabelRequirement::Op::equals : LabelRequirement::Op::not_equals;
      m_pos += 2;
      r.values.push_back(word());
    } else if (rest[0] == '=') {
      r.op = LabelRequirement::Op::equals;
      ++m_pos;
      r.values.push_back(word());
    } else if (rest[0] == '>' || rest[0] == '<') {
      r.op = rest[0] == '>' ? LabelRequirement::Op::greater : LabelRequirement::Op::less;
      ++m_pos;
      std::string v = word();
      char* end = nullptr;
      std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end) return fail("expected an integer after '" + std::string(1, rest[0]) + "'");
      r.values.push_back(v);
    } else if (keyword("notin")) {
      r.op = LabelRequirement::Op::not_in;
      KBK_ASSIGN_OR_RETURN(r.values, value_set());
    } else if (keyword("in")) {
      r.op = LabelRequirement::Op::in;
      KBK_ASSIGN_OR_RETURN(r.values, value_set());
    } else {
      return fail("expected an operator");
    }
    return r;
  }

  std::string_view m_s;
  size_t m_pos = 0;
};

}  // namespace

Result<LabelSelector> LabelSelector::parse(std::string_view text) {
  LabelSelector s;
  s.m_text = std::string(util::trim(text));
  Parser p(s.m_text);
  KBK_ASSIGN_OR_RETURN(s.m_requirements, p.parse());
  return s;
}

bool LabelSelector::matches(const json::Value* labels) const {
  for (const auto& r : m_requirements) {
    const json::Value* v = labels ? json::find(*labels, r.key) : nullptr;
    const bool has = v && v->IsString();
    const std::string value = has ? std::string(v->GetString(), v->GetStringLength()) : "";
    bool ok = false;
    switch (r.op) {
      case LabelRequirement::Op::equals: ok = has && value == r.values[0]; break;
      case LabelRequirement::Op::not_equals: ok = !has || value != r.values[0]; break;
      case LabelRequirement::Op::in: ok = has && std::find(r.values.begin(), r.values.end(), value) != r.values.end(); break;
      case LabelRequirement::Op::not_in: ok = !has || std::find(r.values.begin(), r.values.end(), value) == r.values.end(); break;
      case LabelRequirement::Op::exists: ok = has; break;
      case LabelRequirement::Op::does_not_exist: ok = !has; break;
      case LabelRequirement::Op::greater:
      case LabelRequirement::Op::less: {
        if (!has) break;
        char* end = nullptr;
        long long n = std::strtoll(value.c_str(), &end, 10);
        if (value.empty() || *end) break;
        long long limit = std::strtoll(r.values[0].c_str(), nullptr, 10);
        ok = r.op == LabelRequirement::Op::greater ? n > limit : n < limit;
        break;
      }
    }
    if (!ok) return false;
  }
  return true;
}

json::Document LabelSelector::to_label_selector() const {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  json::Value match_labels(rapidjson::kObjectType);
  json::Value exprs(rapidjson::kArrayType);
  for (const auto& r : m_requirements) {
    if (r.op == LabelRequirement::Op::equals && !json::find(match_labels, r.key)) {
      match_labels.AddMember(json::make_string(r.key, a), json::make_string(r.values[0], a), a);
      continue;
    }
    const char* op = nullptr;
    switch (r.op) {
      case LabelRequirement::Op::equals:
      case LabelRequirement::Op::in: op = "In"; break;
      case LabelRequirement::Op::not_equals:
      case LabelRequirement::Op::not_in: op = "NotIn"; break;
      case LabelRequirement::Op::exists: op = "Exists"; break;
      case LabelRequirement::Op::does_not_exist: op = "DoesNotExist"; break;
      default: break;
    }
    if (!op) continue;
    json::Value e(rapidjson::kObjectType);
    e.AddMember("key", json::make_string(r.key, a), a);
    e.AddMember("operator", json::make_string(op, a), a);
    if (!r.values.empty()) {
      json::Value vals(rapidjson::kArrayType);
      for (const auto& v : r.values) vals.PushBack(json::make_string(v, a), a);
      e.AddMember("values", vals, a);
    }
    exprs.PushBack(e, a);
  }
  if (match_labels.MemberCount() > 0) d.AddMember("matchLabels", match_labels, a);
  if (!exprs.Empty()) d.AddMember("matchExpressions", exprs, a);
  return d;
}

}  // namespace kbk::kube
