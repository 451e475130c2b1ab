// RFC 6902 JSON Patch and RFC 7386 JSON Merge Patch on RapidJSON documents.
//
// JsonPatch::parse checks the operations once (op, path, from, value present and well formed); apply() then runs
// them against a document. apply() is atomic: when an operation fails the document is left exactly as it was.
// Errors name the operation index and path: "operation 2 (replace /spec/replicas): path not found".
// A failed `test` operation reports Errc::precondition so callers can treat it as "no match" (Velero's resource
// modifiers do); every other failure is Errc::invalid.
#pragma once

#include <string>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/patch/pointer.hpp>
#include <kbk/util/error.hpp>

namespace kbk::patch {

enum class OpKind { add, remove, replace, move, copy, test };
const char* op_name(OpKind op);

struct Operation {
  OpKind op = OpKind::add;
  Pointer path;
  Pointer from;        // move, copy
  json::Document value;  // add, replace, test (owned copy)
};

class JsonPatch {
public:
  // ops: a JSON array of operation objects. Unknown members are ignored (RFC 6902 section 4).
  static Result<JsonPatch> parse(const json::Value& ops);
  static Result<JsonPatch> parse_text(std::string_view text);  // JSON (or YAML) text
  // Builds from already-checked operations (modifier files build their own).
  static JsonPatch from_operations(std::vector<Operation> ops);

  Result<void> apply(json::Document& doc) const;
  const std::vector<Operation>& operations() const { return m_ops; }
  std::vector<Operation> release() && { return std::move(m_ops); }
  bool empty() const { return m_ops.empty(); }

private:
  std::vector<Operation> m_ops;
  bool m_needs_copy = false;  // a mutating op is followed by another op: apply on a copy for atomicity
};

// Convenience: parse + apply.
Result<void> apply_json_patch(json::Document& doc, const json::Value& ops);

// RFC 7386: objects merge recursively, null members delete, anything else replaces. A patch that is not an
// object replaces the target whole. Nulls inside values that are added are dropped (RFC 7386 example 15).
void apply_merge_patch(json::Value& target, const json::Value& patch, json::Allocator& alloc);

}  // namespace kbk::patch
