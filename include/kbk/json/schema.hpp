// Type checks for JSON read from outside (a backup's marker and manifest, velero-backup.json, the resource list,
// results, restore records, key objects): one declarative description per format, checked in one pass after
// json::parse, so readers can then use find/get_string on fields whose types are known, and a wrong type is one
// line naming the file and the field ("backup b1: kbk-manifest.json: counts.items: expected a non-negative
// integer, found a string") instead of a null string, "(null)" or an object's key printed as a name.
//
// Members a schema does not name are ignored (readers ignore unknown fields: format-archive.md); a member that is
// null counts as absent unless the schema says otherwise. Checks walk the schema, not the document, so their
// depth is the schema's.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/util/error.hpp>

namespace kbk::json {

class Schema;

struct Field {
  Field(std::string name, Schema schema, bool required = false);
  std::string name;
  std::shared_ptr<const Schema> schema;
  bool required = false;
};
// Field("x", Schema::string(), required)
inline constexpr bool required = true;

class Schema {
public:
  // A check on a string's value: "" when it is fine, else what is wrong ("not 64 hexadecimal digits").
  using StringCheck = std::function<std::string(std::string_view)>;

  static Schema any();
  static Schema string(StringCheck check = nullptr);
  static Schema boolean();
  static Schema uint();     // an integer from 0 to 2^64-1
  static Schema integer();  // an integer that fits int64
  static Schema number();
  static Schema array(Schema items);
  static Schema map(Schema values);  // an object whose member names are data ({"configmaps": 3})
  static Schema object(std::vector<Field> fields);
  // This schema or null (null is otherwise taken as "absent": fine unless the field is required).
  Schema or_null() const;

  // Errc `code` (corrupt by default: these are readers of stored data), one line: "<what>: <field>: <problem>".
  Result<void> check(const Value& v, std::string_view what, Errc code = Errc::corrupt) const;
  // The same for a value found at `path` of a larger document ("items[3]"), named so in the message: a list read
  // element by element (json::parse_split) reports what checking it whole would.
  Result<void> check_path(const Value& v, std::string path, std::string_view what, Errc code = Errc::corrupt) const;

  enum class Kind { any, string, boolean, uint, integer, number, array, map, object };

private:
  Result<void> check_at(const Value& v, std::string& path, std::string_view what, Errc code) const;
  Kind m_kind = Kind::any;
  StringCheck m_string_check;
  std::shared_ptr<const Schema> m_items;  // array items, map values
  std::vector<Field> m_fields;
  bool m_null_ok = false;
};

// String checks for common fields.
std::string check_sha256_hex(std::string_view s);      // "" or 64 lowercase hex digits
std::string check_rfc3339(std::string_view s);         // "" or an RFC 3339 time
std::string check_single_line(std::string_view s);     // no control characters

// What a JSON value is, for messages: "a string", "an object", "null", ...
std::string type_name(const Value& v);

}  // namespace kbk::json
