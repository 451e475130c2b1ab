// Resource modifiers: rules read from a local YAML/JSON file that change objects on their way into a cluster.
//
// Two schemas (docs/format-modifiers.md, man/kbk-modifiers.5):
//  - `version: v1` with `resourceModifierRules`: Velero's format, accepted as-is with Velero's semantics
//    (conditions evaluated against the object as it was before any rule, in its original namespace; one patch kind
//    per rule; a failed JSON-patch `test` means "no match"; Velero's JSON-patch value quoting quirk).
//  - `version: kbk.io/v1` with `rules`: the same conditions and patches plus kbk's extensions (opt-in chaining,
//    `where` conditions on any JSON path, regex rewrites, label/annotation merges, copies, glob removals, mappings).
// Parsing is strict: unknown fields and wrong types are errors with FILE:LINE:COL positions.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/patch/mappings.hpp>
#include <kbk/patch/strategic.hpp>
#include <kbk/util/error.hpp>

namespace kbk::patch {

// What the caller knows about the object beyond its JSON.
struct MatchContext {
  std::string group_resource;      // "deployments.apps"; empty: derived from apiVersion/kind
  std::string original_namespace;  // the backup's namespace; empty: metadata.namespace of the object
  const json::Value* schema = nullptr;       // OpenAPI v3 schema of the kind (strategic patches of custom resources)
  const json::Value* schema_root = nullptr;  // document its $refs point into
};

struct RuleOutcome {
  size_t rule = 0;           // index in the file
  std::string name;          // the rule's name (kbk.io/v1) or "rule N"
  bool changed = false;      // the object differs after the rule
  std::string note;          // e.g. "strategic patch applied as JSON merge patch (no list metadata)"
};

struct ApplyResult {
  std::vector<RuleOutcome> applied;  // rules that matched, in order
  std::vector<Error> errors;         // rules that failed (Velero: a restore error; the object is still restored)
  bool changed = false;
};

class ModifierSet {
public:
  ModifierSet();
  ~ModifierSet();
  ModifierSet(ModifierSet&&) noexcept;
  ModifierSet& operator=(ModifierSet&&) noexcept;

  // Reads and parses a file. Unreadable: Errc::io. Invalid: Errc::invalid whose causes hold one
  // "FILE:LINE:COL: message" per problem (message = the first).
  static Result<ModifierSet> load(const std::string& path);
  static Result<ModifierSet> parse(std::string_view text, const std::string& file_name);

  std::string_view version() const;  // "v1" or "kbk.io/v1"
  size_t size() const;               // number of rules
  bool chained() const;
  const Mappings& mappings() const;  // kbk.io/v1 `mappings:` (empty for v1)

  // Applies the matching rules to obj in place (patches accumulate on obj; see chaining).
  ApplyResult apply(json::Document& obj, const MatchContext& ctx = {}) const;

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace kbk::patch
