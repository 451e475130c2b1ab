// Type checks for JSON from outside (see schema.hpp).
#include <kbk/json/schema.hpp>

#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

namespace kbk::json {

Field::Field(std::string n, Schema s, bool req)
    : name(std::move(n)), schema(std::make_shared<const Schema>(std::move(s))), required(req) {}

Schema Schema::any() { return Schema(); }

Schema Schema::string(StringCheck check) {
  Schema s;
  s.m_kind = Kind::string;
  s.m_string_check = std::move(check);
  return s;
}

Schema Schema::boolean() {
  Schema s;
  s.m_kind = Kind::boolean;
  return s;
}

Schema Schema::uint() {
  Schema s;
  s.m_kind = Kind::uint;
  return s;
}

Schema Schema::integer() {
  Schema s;
  s.m_kind = Kind::integer;
  return s;
}

Schema Schema::number() {
  Schema s;
  s.m_kind = Kind::number;
  return s;
}

Schema Schema::array(Schema items) {
  Schema s;
  s.m_kind = Kind::array;
  s.m_items = std::make_shared<const Schema>(std::move(items));
  return s;
}

Schema Schema::map(Schema values) {
  Schema s;
  s.m_kind = Kind::map;
  s.m_items = std::make_shared<const Schema>(std::move(values));
  return s;
}

Schema Schema::object(std::vector<Field> fields) {
  Schema s;
  s.m_kind = Kind::object;
  s.m_fields = std::move(fields);
  return s;
}

Schema Schema::or_null() const {
  Schema s = *this;
  s.m_null_ok = true;
  return s;
}

std::string type_name(const Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType: return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType: return "a boolean";
    case rapidjson::kObjectType: return "an object";
    case rapidjson::kArrayType: return "an array";
    case rapidjson::kStringType: return "a string";
    case rapidjson::kNumberType:
      if (v.IsUint64()) return "a non-negative integer";
      if (v.IsInt64()) return "a negative integer";
      return "a number";
  }
  return "a value";
}

namespace {

const char* expected(Schema::Kind k) {
  switch (k) {
    case Schema::Kind::any: return "a value";
    case Schema::Kind::string: return "a string";
    case Schema::Kind::boolean: return "true or false";
    case Schema::Kind::uint: return "a non-negative integer";
    case Schema::Kind::integer: return "an integer";
    case Schema::Kind::number: return "a number";
    case Schema::Kind::array: return "an array";
    case Schema::Kind::map:
    case Schema::Kind::object: return "an object";
  }
  return "a value";
}

bool matches(Schema::Kind k, const Value& v) {
  switch (k) {
    case Schema::Kind::any: return true;
    case Schema::Kind::string: return v.IsString();
    case Schema::Kind::boolean: return v.IsBool();
    case Schema::Kind::uint: return v.IsUint64();
    case Schema::Kind::integer: return v.IsInt64();
    case Schema::Kind::number: return v.IsNumber();
    case Schema::Kind::array: return v.IsArray();
    case Schema::Kind::map:
    case Schema::Kind::object: return v.IsObject();
  }
  return false;
}

// A member name as it goes into a field path: plain when it is a simple word, else quoted and made printable.
std::string path_member(std::string_view name) {
  bool simple = !name.empty() && name.size() <= 64;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      simple = false;
  if (simple) return std::string(name);
  return "[\"" + util::printable(name, 64) + "\"]";
}

void append_member(std::string& path, std::string_view name) {
  std::string m = path_member(name);
  if (!path.empty() && m.front() != '[') path += '.';
  path += m;
}

}  // namespace

Result<void> Schema::check(const Value& v, std::string_view what, Errc code) const {
  std::string path;
  return check_at(v, path, what, code);
}

Result<void> Schema::check_path(const Value& v, std::string path, std::string_view what, Errc code) const {
  return check_at(v, path, what, code);
}

Result<void> Schema::check_at(const Value& v, std::string& path, std::string_view what, Errc code) const {
  auto fail = [&](const std::string& problem) -> Result<void> {
    std::string where = path.empty() ? std::string("the document") : path;
    return unexpected(code, std::string(what) + ": " + where + ": " + problem);
  };
  if (v.IsNull() && (m_null_ok || m_kind == Kind::any)) return {};
  if (!matches(m_kind, v)) return fail(std::string("expected ") + expected(m_kind) + ", found " + type_name(v));
  switch (m_kind) {
    case Kind::string:
      if (m_string_check) {
        std::string problem = m_string_check(std::string_view(v.GetString(), v.GetStringLength()));
        if (!problem.empty()) return fail(problem);
      }
      return {};
    case Kind::array: {
      const size_t len = path.size();
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        path += "[" + std::to_string(i) + "]";
        KBK_TRY(m_items->check_at(v[i], path, what, code));
        path.resize(len);
      }
      return {};
    }
    case Kind::map: {
      const size_t len = path.size();
      for (const auto& m : v.GetObject()) {
        append_member(path, std::string_view(m.name.GetString(), m.name.GetStringLength()));
        KBK_TRY(m_items->check_at(m.value, path, what, code));
        path.resize(len);
      }
      return {};
    }
    case Kind::object: {
      const size_t len = path.size();
      for (const auto& f : m_fields) {
        append_member(path, f.name);
        const Value* member = find(v, f.name);
        if (!member || (member->IsNull() && !f.schema->m_null_ok && f.schema->m_kind != Kind::any)) {
          if (f.required) return fail("missing");
        } else {
          KBK_TRY(f.schema->check_at(*member, path, what, code));
        }
        path.resize(len);
      }
      return {};
    }
    default: return {};
  }
}

std::string check_sha256_hex(std::string_view s) {
  if (s.empty()) return "";
  if (s.size() != 64) return "expected 64 hexadecimal digits (a SHA-256), found " + std::to_string(s.size()) + " characters";
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return "expected 64 lowercase hexadecimal digits (a SHA-256)";
  return "";
}

std::string check_rfc3339(std::string_view s) {
  if (s.empty() || util::parse_rfc3339(s)) return "";
  return "\"" + util::printable(s, 64) + "\" is not an RFC 3339 time";
}

std::string check_single_line(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return "holds a control character";
  return "";
}

}  // namespace kbk::json
