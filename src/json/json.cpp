#include <kbk/json/json.hpp>

#include <cmath>
#include <regex>
#include <sstream>

#include <rapidjson/error/en.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <yaml-cpp/yaml.h>

namespace kbk::json {

Result<Document> parse(std::string_view text, std::string_view what) {
  Document doc;
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(text.data(), text.size());
  if (doc.HasParseError()) {
    return unexpected(Errc::parse, std::string(what) + ": invalid JSON at offset " +
                                       std::to_string(doc.GetErrorOffset()) + ": " +
                                       rapidjson::GetParseError_En(doc.GetParseError()));
  }
  return doc;
}

std::string to_string(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string to_pretty(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  w.SetIndent(' ', 4);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

namespace {

const std::regex& int_re() {
  static const std::regex re(R"(^[-+]?(0|[1-9][0-9]*)$)");
  return re;
}
const std::regex& float_re() {
  static const std::regex re(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
  return re;
}

enum class PlainKind { null, boolean_true, boolean_false, integer, floating, string };

PlainKind classify_plain(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return PlainKind::null;
  static const char* const k_true[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"};
  static const char* const k_false[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"};
  for (const char* t : k_true)
    if (s == t) return PlainKind::boolean_true;
  for (const char* f : k_false)
    if (s == f) return PlainKind::boolean_false;
  if (std::regex_match(s, int_re())) return PlainKind::integer;
  if (std::regex_match(s, float_re()) && s.find_first_of("0123456789") != std::string::npos)
    return PlainKind::floating;
  if (s == ".inf" || s == ".Inf" || s == "-.inf" || s == ".nan" || s == ".NaN") return PlainKind::floating;
  return PlainKind::string;
}

Result<void> yaml_to_value(const YAML::Node& node, Value& out, Allocator& alloc, std::string_view what, int depth) {
  if (depth > 200) return unexpected(Errc::parse, std::string(what) + ": nesting too deep");
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out.SetNull();
      return {};
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      // Quoted scalars carry the non-specific tag "!"; plain ones "?". Explicit tags: !!str, !!int, ...
      const std::string& tag = node.Tag();
      if (tag == "!" || tag == "tag:yaml.org,2002:str") {
        out.SetString(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
        return {};
      }
      switch (classify_plain(s)) {
        case PlainKind::null: out.SetNull(); return {};
        case PlainKind::boolean_true: out.SetBool(true); return {};
        case PlainKind::boolean_false: out.SetBool(false); return {};
        case PlainKind::integer: {
          try {
            if (s[0] == '-') out.SetInt64(std::stoll(s));
            else {
              unsigned long long u = std::stoull(s[0] == '+' ? s.substr(1) : s);
              if (u <= static_cast<unsigned long long>(INT64_MAX)) out.SetInt64(static_cast<int64_t>(u));
              else out.SetUint64(u);
            }
          } catch (...) {
            out.SetDouble(std::stod(s));
          }
          return {};
        }
        case PlainKind::floating: {
          double d = 0;
          if (s == ".inf" || s == ".Inf") d = INFINITY;
          else if (s == "-.inf") d = -INFINITY;
          else if (s == ".nan" || s == ".NaN") d = NAN;
          else d = std::stod(s);
          if (!std::isfinite(d))
            return unexpected(Errc::parse, std::string(what) + ": " + s + " cannot be represented in JSON");
          out.SetDouble(d);
          return {};
        }
        case PlainKind::string:
          out.SetString(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
          return {};
      }
      return {};
    }
    case YAML::NodeType::Sequence: {
      out.SetArray();
      for (const auto& item : node) {
        Value v;
        KBK_TRY(yaml_to_value(item, v, alloc, what, depth + 1));
        out.PushBack(v, alloc);
      }
      return {};
    }
    case YAML::NodeType::Map: {
      out.SetObject();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return unexpected(Errc::parse, std::string(what) + ": line " + std::to_string(kv.first.Mark().line + 1) +
                                             ": only scalar keys can be converted to JSON");
        }
        const std::string& key = kv.first.Scalar();
        if (out.HasMember(key.c_str())) {
          return unexpected(Errc::parse, std::string(what) + ": line " + std::to_string(kv.first.Mark().line + 1) +
                                             ": duplicate key \"" + key + "\"");
        }
        Value v;
        KBK_TRY(yaml_to_value(kv.second, v, alloc, what, depth + 1));
        out.AddMember(Value(key.c_str(), static_cast<rapidjson::SizeType>(key.size()), alloc), v, alloc);
      }
      return {};
    }
  }
  return {};
}

bool looks_like_json(std::string_view text) {
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{' || c == '[';
  }
  return false;
}

}  // namespace

Result<std::vector<Document>> parse_yaml_stream(std::string_view text, std::string_view what) {
  std::vector<Document> out;
  if (looks_like_json(text)) {
    // A JSON text (possibly several concatenated objects, as `kubectl get -o json` loops produce).
    Document doc;
    doc.Parse<rapidjson::kParseStopWhenDoneFlag>(text.data(), text.size());
    if (!doc.HasParseError()) {
      size_t off = doc.GetErrorOffset();
      (void)off;
      // Fall through to YAML for multi-object JSON streams; a single JSON value is the common case.
      auto single = parse(text, what);
      if (single) {
        out.push_back(std::move(*single));
        return out;
      }
    }
  }
  try {
    std::vector<YAML::Node> nodes = YAML::LoadAll(std::string(text));
    for (const auto& node : nodes) {
      if (node.IsNull() || !node.IsDefined()) continue;
      Document doc;
      KBK_TRY(yaml_to_value(node, doc, doc.GetAllocator(), what, 0));
      out.push_back(std::move(doc));
    }
  } catch (const YAML::Exception& e) {
    return unexpected(Errc::parse, std::string(what) + ":" + std::to_string(e.mark.line + 1) + ":" +
                                       std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  return out;
}

Result<Document> parse_yaml(std::string_view text, std::string_view what) {
  KBK_ASSIGN_OR_RETURN(auto docs, parse_yaml_stream(text, what));
  if (docs.size() != 1) {
    return unexpected(Errc::parse, std::string(what) + ": expected one document, found " + std::to_string(docs.size()));
  }
  return std::move(docs[0]);
}

namespace {

bool needs_quotes(const std::string& s) {
  if (classify_plain(s) != PlainKind::string) return true;
  if (s.empty()) return true;
  // Leading/trailing space, indicators and ": " / " #" sequences confuse plain scalars.
  if (s.front() == ' ' || s.back() == ' ') return true;
  static const std::string k_lead = "-?:,[]{}#&*!|>'\"%@`";
  if (k_lead.find(s.front()) != std::string::npos) return true;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos || s.back() == ':') return true;
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 && c != '\n') return true;
  return false;
}

void emit(YAML::Emitter& e, const Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType: e << YAML::Null; break;
    case rapidjson::kFalseType: e << false; break;
    case rapidjson::kTrueType: e << true; break;
    case rapidjson::kNumberType:
      if (v.IsInt64()) e << v.GetInt64();
      else if (v.IsUint64()) e << v.GetUint64();
      else {
        std::ostringstream os;
        os.precision(17);
        os << v.GetDouble();
        e << os.str();
      }
      break;
    case rapidjson::kStringType: {
      std::string s(v.GetString(), v.GetStringLength());
      // A literal block keeps exactly one trailing newline ("|" clips), so only such strings use it.
      bool one_trailing_newline = s.size() >= 2 && s.back() == '\n' && s[s.size() - 2] != '\n';
      if (one_trailing_newline && s.find_first_of("\t\r") == std::string::npos && s.front() != ' ') {
        e << YAML::Literal << s;
      } else if (needs_quotes(s)) {
        e << YAML::DoubleQuoted << s;
      } else {
        e << s;
      }
      break;
    }
    case rapidjson::kArrayType:
      if (v.Empty()) {
        e << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        break;
      }
      e << YAML::BeginSeq;
      for (const auto& item : v.GetArray()) emit(e, item);
      e << YAML::EndSeq;
      break;
    case rapidjson::kObjectType:
      if (v.MemberCount() == 0) {
        e << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        break;
      }
      e << YAML::BeginMap;
      for (const auto& m : v.GetObject()) {
        std::string key(m.name.GetString(), m.name.GetStringLength());
        e << YAML::Key;
        if (needs_quotes(key)) e << YAML::DoubleQuoted;
        e << key << YAML::Value;
        emit(e, m.value);
      }
      e << YAML::EndMap;
      break;
  }
}

}  // namespace

std::string to_yaml(const Value& v) {
  YAML::Emitter e;
  e.SetIndent(2);
  e.SetSeqFormat(YAML::Block);
  emit(e, v);
  std::string out = e.c_str();
  if (out.empty() || out.back() != '\n') out += '\n';
  return out;
}

const Value* find(const Value& obj, std::string_view key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(Value(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

Value* find(Value& obj, std::string_view key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(Value(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

const Value* at(const Value& obj, std::initializer_list<std::string_view> path) {
  const Value* cur = &obj;
  for (auto key : path) {
    cur = find(*cur, key);
    if (!cur) return nullptr;
  }
  return cur;
}

Value* at(Value& obj, std::initializer_list<std::string_view> path) {
  Value* cur = &obj;
  for (auto key : path) {
    cur = find(*cur, key);
    if (!cur) return nullptr;
  }
  return cur;
}

std::string get_string(const Value& obj, std::initializer_list<std::string_view> path, std::string_view def) {
  const Value* v = at(obj, path);
  if (!v || !v->IsString()) return std::string(def);
  return std::string(v->GetString(), v->GetStringLength());
}

Value make_string(std::string_view s, Allocator& alloc) {
  return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
}

void set(Value& obj, std::string_view key, Value value, Allocator& alloc) {
  if (!obj.IsObject()) obj.SetObject();
  if (Value* existing = find(obj, key)) {
    *existing = std::move(value);
    return;
  }
  obj.AddMember(make_string(key, alloc), value, alloc);
}

Value& ensure_object(Value& obj, std::string_view key, Allocator& alloc) {
  if (!obj.IsObject()) obj.SetObject();
  Value* existing = find(obj, key);
  if (existing) {
    if (!existing->IsObject()) existing->SetObject();
    return *existing;
  }
  obj.AddMember(make_string(key, alloc), Value(rapidjson::kObjectType), alloc);
  return *find(obj, key);
}

bool erase(Value& obj, std::string_view key) {
  if (!obj.IsObject()) return false;
  auto it = obj.FindMember(Value(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
  if (it == obj.MemberEnd()) return false;
  obj.EraseMember(it);
  return true;
}

Document clone(const Value& v) {
  Document d;
  d.CopyFrom(v, d.GetAllocator());
  return d;
}

bool equal(const Value& a, const Value& b) {
  if (a.IsNumber() && b.IsNumber()) {
    if (a.IsInt64() && b.IsInt64()) return a.GetInt64() == b.GetInt64();
    if (a.IsUint64() && b.IsUint64()) return a.GetUint64() == b.GetUint64();
    return a.GetDouble() == b.GetDouble();
  }
  if (a.GetType() != b.GetType()) return false;
  switch (a.GetType()) {
    case rapidjson::kObjectType: {
      if (a.MemberCount() != b.MemberCount()) return false;
      for (const auto& m : a.GetObject()) {
        auto it = b.FindMember(m.name);
        if (it == b.MemberEnd() || !equal(m.value, it->value)) return false;
      }
      return true;
    }
    case rapidjson::kArrayType: {
      if (a.Size() != b.Size()) return false;
      for (rapidjson::SizeType i = 0; i < a.Size(); ++i)
        if (!equal(a[i], b[i])) return false;
      return true;
    }
    case rapidjson::kStringType:
      return a.GetStringLength() == b.GetStringLength() &&
             std::string_view(a.GetString(), a.GetStringLength()) == std::string_view(b.GetString(), b.GetStringLength());
    default:
      return a == b;
  }
}

}  // namespace kbk::json
