// Patch metadata lookups shared by the strategic merge patch engine: the built-in table and OpenAPI schemas.
#pragma once

#include <string>
#include <string_view>

#include <kbk/json/json.hpp>

namespace kbk::patch::detail {

enum class Strategy { none, merge, replace };

struct Node;  // built-in type node (smp_builtin.cpp)

// A position in a type: a built-in node or an OpenAPI schema. Both null: no information (anything goes).
struct TypeRef {
  const Node* node = nullptr;
  const json::Value* schema = nullptr;
};

struct FieldInfo {
  TypeRef type;  // the field's type; for lists the element type
  Strategy strategy = Strategy::none;
  std::string merge_key;
};

class MetaSource {
public:
  explicit MetaSource(const json::Value* schema_root = nullptr) : m_root(schema_root) {}
  FieldInfo lookup(TypeRef parent, std::string_view key) const;

private:
  const json::Value* resolve(const json::Value* schema) const;
  const json::Value* m_root;
};

// The root node of a built-in kind, or nullptr.
const Node* builtin_root(std::string_view api_version, std::string_view kind);
FieldInfo builtin_lookup(const Node* node, std::string_view key);

}  // namespace kbk::patch::detail
