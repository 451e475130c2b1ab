// Resource modifiers: strict parsing (yaml-cpp nodes, so every problem has a line and column) and application.
// Velero's v1 semantics are followed where they are defined (velero-facts section 4); kbk.io/v1 adds the
// extensions documented in docs/format-modifiers.md.
#include <kbk/patch/modifiers.hpp>

#include <map>
#include <optional>
#include <regex>
#include <set>

#include <yaml-cpp/yaml.h>

#include <kbk/json/yaml_reader.hpp>
#include <kbk/patch/json_patch.hpp>
#include <kbk/patch/pointer.hpp>
#include <kbk/util/fs.hpp>
#include <kbk/util/strings.hpp>

#include "glob_path.hpp"

namespace kbk::patch {

namespace {

using detail::GlobPath;

enum class Schema { velero_v1, kbk_v1 };

struct Where {
  enum class Kind { equals, regex, exists } kind = Kind::equals;
  GlobPath path;
  json::Document value;
  std::regex re;
  bool exists = true;
};

struct LabelExpr {
  std::string key;
  std::string op;  // In, NotIn, Exists, DoesNotExist
  std::vector<std::string> values;
};

struct Conditions {
  std::string group_resource;  // empty: any (kbk.io/v1 only)
  std::optional<std::regex> name_re;
  std::vector<std::string> namespaces;
  bool has_selector = false;
  std::vector<std::pair<std::string, std::string>> match_labels;
  std::vector<LabelExpr> match_exprs;
  std::vector<std::pair<Pointer, json::Document>> matches;  // JSON-patch `test` semantics
  std::vector<Where> where;
};

struct Action {
  enum class Kind { set_labels, set_annotations, replace_regex, copy, remove } kind = Kind::set_labels;
  std::vector<std::pair<std::string, std::string>> entries;  // set_labels / set_annotations
  GlobPath path;                                             // replace_regex, remove
  std::regex re;
  std::string replacement;
  Pointer from, to;  // copy
};

struct Rule {
  std::string name;
  Conditions cond;
  std::optional<JsonPatch> json_patch;
  std::vector<json::Document> merge_patches;
  std::vector<json::Document> strategic_patches;
  std::vector<Action> actions;
  bool empty() const {
    return !json_patch && merge_patches.empty() && strategic_patches.empty() && actions.empty();
  }
};

// Velero's JSONPatch.ToString value encoding (addQuotes): raw when null, true/false (any case), a JSON object or
// array, or a number; otherwise quoted (a value already wrapped in quotes stays as written).
std::string velero_value_text(const std::string& v) {
  if (v.empty()) return "\"\"";
  if (v == "null") return v;
  std::string lower = util::to_lower(v);
  if (lower == "true" || lower == "false") return v;
  if (v.front() == '{' || v.front() == '[') return v;
  {
    // strconv.ParseFloat: decimal or hex floats, Inf/NaN; underscores are not accepted without a base prefix.
    static const std::regex k_float(R"(^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|0[xX][0-9a-fA-F]*\.?[0-9a-fA-F]*[pP][+-]?\d+|[iI][nN][fF]([iI][nN][iI][tT][yY])?|[nN][aA][nN])$)");
    if (std::regex_match(v, k_float)) return v;
  }
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') return v;
  return "\"" + v + "\"";
}

// The shared strict reader (json/yaml_reader.hpp) gives positions, key checks and the typed getters.
class Parser : public json::YamlReader {
public:
  explicit Parser(std::string file) : json::YamlReader(std::move(file)) {}

  Schema schema = Schema::velero_v1;
  std::string version;
  bool chain = false;
  Mappings mappings;
  std::vector<Rule> rules;

  void run(const YAML::Node& root) {
    if (!root.IsMap()) {
      err(root, "a modifier file must be a map with version and rules");
      return;
    }
    YAML::Node version_node;
    for (const auto& kv : root) {
      if (kv.first.IsScalar() && kv.first.Scalar() == "version") version_node = kv.second;
    }
    if (!version_node || !version_node.IsScalar()) {
      err(root, "missing required field \"version\" (v1 or kbk.io/v1)");
      return;
    }
    version = version_node.Scalar();
    if (util::to_lower(version) == "v1") {
      schema = Schema::velero_v1;
    } else if (version == "kbk.io/v1") {
      schema = Schema::kbk_v1;
    } else {
      err(version_node, "unsupported version \"" + version + "\" (supported: v1, kbk.io/v1)");
      return;
    }
    const char* rules_key = schema == Schema::velero_v1 ? "resourceModifierRules" : "rules";
    std::set<std::string> allowed = schema == Schema::velero_v1
                                        ? std::set<std::string>{"version", "resourceModifierRules"}
                                        : std::set<std::string>{"version", "rules", "chain", "mappings"};
    YAML::Node rules_node;
    check_keys(root, allowed, "the top level");
    for (const auto& kv : root) {
      std::string k = kv.first.as<std::string>("");
      if (k == rules_key) rules_node = kv.second;
      else if (k == "chain") chain = get_bool(kv.second, "chain");
      else if (k == "mappings") parse_mappings(kv.second);
    }
    if (!rules_node || rules_node.IsNull()) {
      err(root, std::string("missing required field \"") + rules_key + "\"");
      return;
    }
    if (!rules_node.IsSequence()) {
      err(rules_node, std::string(rules_key) + " must be a list");
      return;
    }
    if (rules_node.size() == 0) err(rules_node, std::string(rules_key) + " must hold at least one rule");
    size_t i = 0;
    for (const auto& r : rules_node) parse_rule(r, i++);
  }

private:
  std::optional<std::regex> get_regex(const YAML::Node& n, const std::string& what) {
    std::string text = get_string(n, what);
    auto flags = std::regex::ECMAScript;
    if (util::starts_with(text, "(?i)")) {
      text = text.substr(4);
      flags |= std::regex::icase;
    }
    try {
      return std::regex(text, flags);
    } catch (const std::regex_error& e) {
      err(n, what + " \"" + get_string(n, what) + "\" is not a valid regular expression: " + e.what());
      return std::nullopt;
    }
  }
  json::Document get_patch_data(const YAML::Node& n, const std::string& what) {
    if (n.IsMap() && schema == Schema::kbk_v1) return get_value(n, what);
    std::string text = get_string(n, what);
    auto parsed = json::parse_yaml(text, what);
    if (!parsed) {
      err(n, what + " is neither JSON nor YAML: " + parsed.error().message);
      return json::Document();
    }
    return std::move(*parsed);
  }
  std::optional<Pointer> get_pointer(const YAML::Node& n, const std::string& what, bool required = true) {
    std::string text = get_string(n, what);
    if (text.empty()) {
      if (required) err(n, what + " is required");
      return std::nullopt;
    }
    auto p = Pointer::parse(text);
    if (!p) {
      err(n, what + ": " + p.error().message);
      return std::nullopt;
    }
    return std::move(*p);
  }
  std::optional<GlobPath> get_glob(const YAML::Node& n, const std::string& what) {
    std::string text = get_string(n, what);
    if (text.empty()) {
      err(n, what + " is required");
      return std::nullopt;
    }
    auto p = GlobPath::parse(text);
    if (!p) {
      err(n, what + ": " + p.error().message);
      return std::nullopt;
    }
    return std::move(*p);
  }

  void parse_mappings(const YAML::Node& n) {
    if (!n.IsMap()) {
      err(n, "mappings must be a map");
      return;
    }
    check_keys(n, {"storageClasses", "ingressClasses", "images"}, "mappings");
    for (const auto& kv : n) {
      std::string k = kv.first.as<std::string>("");
      if (k == "storageClasses") {
        for (auto& [a, b] : get_string_map(kv.second, "mappings.storageClasses")) mappings.storage_classes[a] = b;
      } else if (k == "ingressClasses") {
        for (auto& [a, b] : get_string_map(kv.second, "mappings.ingressClasses")) mappings.ingress_classes[a] = b;
      } else if (k == "images") {
        for (auto& [a, b] : get_string_map(kv.second, "mappings.images")) {
          auto m = Mappings::make_image_mapping(a, b);
          if (!m) err(kv.second, "mappings.images: " + m.error().message);
          else mappings.images.push_back(std::move(*m));
        }
      }
    }
  }

  void parse_conditions(const YAML::Node& n, Conditions& c, const std::string& ctx) {
    if (!n.IsMap()) {
      err(n, ctx + ".conditions must be a map");
      return;
    }
    std::set<std::string> allowed{"groupResource", "resourceNameRegex", "namespaces", "labelSelector", "matches"};
    if (schema == Schema::kbk_v1) allowed.insert("where");
    check_keys(n, allowed, ctx + ".conditions");
    bool has_gr = false;
    for (const auto& kv : n) {
      std::string k = kv.first.as<std::string>("");
      const YAML::Node& v = kv.second;
      if (k == "groupResource") {
        c.group_resource = get_string(v, "groupResource");
        has_gr = true;
        if (c.group_resource.empty()) err(v, ctx + ": groupResource must not be empty");
      } else if (k == "resourceNameRegex") {
        if (!get_string(v, "resourceNameRegex").empty()) c.name_re = get_regex(v, "resourceNameRegex");
      } else if (k == "namespaces") {
        c.namespaces = get_string_list(v, "namespaces");
      } else if (k == "labelSelector") {
        parse_selector(v, c, ctx);
      } else if (k == "matches") {
        if (!v.IsSequence()) {
          err(v, "matches must be a list of {path, value}");
          continue;
        }
        for (const auto& m : v) {
          if (!m.IsMap()) {
            err(m, "a match must be a map with path and value");
            continue;
          }
          check_keys(m, {"path", "value"}, "matches");
          std::optional<Pointer> p = get_pointer(m["path"], "matches.path");
          json::Document value;
          if (schema == Schema::velero_v1) {
            std::string raw = velero_value_text(get_string(m["value"], "matches.value"));
            auto parsed = json::parse(raw, "matches.value");
            if (!parsed) err(m["value"], "matches.value " + raw + " is not valid JSON once quoted as Velero does");
            else value = std::move(*parsed);
          } else {
            value = get_value(m["value"], "matches.value");
          }
          if (p) c.matches.emplace_back(std::move(*p), std::move(value));
        }
      } else if (k == "where") {
        parse_where(v, c);
      }
    }
    if (schema == Schema::velero_v1 && !has_gr) err(n, ctx + ": groupResource is required");
  }

  void parse_selector(const YAML::Node& v, Conditions& c, const std::string& ctx) {
    if (!v.IsMap()) {
      err(v, ctx + ": labelSelector must be a map");
      return;
    }
    c.has_selector = true;
    check_keys(v, {"matchLabels", "matchExpressions"}, "labelSelector");
    for (const auto& kv : v) {
      std::string k = kv.first.as<std::string>("");
      if (k == "matchLabels") {
        c.match_labels = get_string_map(kv.second, "matchLabels");
      } else if (k == "matchExpressions") {
        if (!kv.second.IsSequence()) {
          err(kv.second, "matchExpressions must be a list");
          continue;
        }
        for (const auto& e : kv.second) {
          if (!e.IsMap()) {
            err(e, "a match expression must be a map");
            continue;
          }
          check_keys(e, {"key", "operator", "values"}, "matchExpressions");
          LabelExpr x;
          x.key = get_string(e["key"], "key");
          x.op = get_string(e["operator"], "operator");
          x.values = get_string_list(e["values"], "values");
          if (x.op != "In" && x.op != "NotIn" && x.op != "Exists" && x.op != "DoesNotExist")
            err(e["operator"] ? e["operator"] : e, "operator must be In, NotIn, Exists or DoesNotExist");
          else if ((x.op == "In" || x.op == "NotIn") && x.values.empty())
            err(e, "operator " + x.op + " needs values");
          else if ((x.op == "Exists" || x.op == "DoesNotExist") && !x.values.empty())
            err(e, "operator " + x.op + " takes no values");
          c.match_exprs.push_back(std::move(x));
        }
      }
    }
  }

  void parse_where(const YAML::Node& v, Conditions& c) {
    if (!v.IsSequence()) {
      err(v, "where must be a list");
      return;
    }
    for (const auto& w : v) {
      if (!w.IsMap()) {
        err(w, "a where condition must be a map");
        continue;
      }
      check_keys(w, {"path", "equals", "regex", "exists"}, "where");
      Where x;
      auto g = get_glob(w["path"], "where.path");
      if (!g) continue;
      x.path = std::move(*g);
      int kinds = 0;
      if (w["equals"]) {
        x.kind = Where::Kind::equals;
        x.value = get_value(w["equals"], "where.equals");
        ++kinds;
      }
      if (w["regex"]) {
        x.kind = Where::Kind::regex;
        if (auto re = get_regex(w["regex"], "where.regex")) x.re = *re;
        ++kinds;
      }
      if (w["exists"]) {
        x.kind = Where::Kind::exists;
        x.exists = get_bool(w["exists"], "where.exists");
        ++kinds;
      }
      if (kinds != 1) err(w, "a where condition needs exactly one of equals, regex, exists");
      c.where.push_back(std::move(x));
    }
  }

  void parse_json_patches(const YAML::Node& v, Rule& r, const std::string& ctx) {
    if (!v.IsSequence()) {
      err(v, ctx + ".patches must be a list");
      return;
    }
    std::vector<Operation> ops;
    for (const auto& p : v) {
      if (!p.IsMap()) {
        err(p, "a JSON patch operation must be a map");
        continue;
      }
      if (schema == Schema::velero_v1) check_keys(p, {"operation", "path", "from", "value"}, ctx + ".patches");
      else check_keys(p, {"operation", "op", "path", "from", "value"}, ctx + ".patches");
      YAML::Node opn = p["operation"] ? p["operation"] : p["op"];
      std::string op = util::to_lower(get_string(opn, "operation"));
      std::string path = get_string(p["path"], "path");
      if (op.empty()) {
        err(p, "operation is required");
        continue;
      }
      static const std::set<std::string> k_ops{"add", "remove", "replace", "test", "move", "copy"};
      if (!k_ops.count(op)) {
        err(opn, "unknown operation \"" + op + "\" (add, remove, replace, test, move, copy)");
        continue;
      }
      if (path.empty()) {
        err(p, "path is required");
        continue;
      }
      json::Document one;
      if (schema == Schema::velero_v1) {
        // As Velero builds it: from and value are always present; value quoted by addQuotes.
        std::string text = "{\"op\": \"" + op + "\", \"from\": \"" + get_string(p["from"], "from") + "\", \"path\": \"" +
                           path + "\", \"value\": " + velero_value_text(get_string(p["value"], "value")) + "}";
        auto parsed = json::parse(text, "patch");
        if (!parsed) {
          err(p, "this operation is not valid JSON once built as Velero does: " + text);
          continue;
        }
        one = std::move(*parsed);
      } else {
        one.SetObject();
        auto& a = one.GetAllocator();
        json::set(one, "op", json::make_string(op, a), a);
        json::set(one, "path", json::make_string(path, a), a);
        if (p["from"]) json::set(one, "from", json::make_string(get_string(p["from"], "from"), a), a);
        if (p["value"]) {
          json::Document val = get_value(p["value"], "value");
          json::set(one, "value", json::copy(val, a), a);
        }
      }
      json::Document arr;
      arr.SetArray();
      arr.PushBack(json::copy(one, arr.GetAllocator()), arr.GetAllocator());
      auto jp = JsonPatch::parse(arr);
      if (!jp) {
        err(p, jp.error().message.substr(jp.error().message.find(' ', 10) + 1));
        continue;
      }
      ops.push_back(std::move(std::move(*jp).release()[0]));
    }
    r.json_patch = JsonPatch::from_operations(std::move(ops));
  }

  void parse_data_patches(const YAML::Node& v, std::vector<json::Document>& out, const std::string& what) {
    if (!v.IsSequence()) {
      err(v, what + " must be a list of {patchData}");
      return;
    }
    for (const auto& p : v) {
      if (!p.IsMap()) {
        err(p, what + " entries must be maps with patchData");
        continue;
      }
      check_keys(p, {"patchData"}, what);
      if (!p["patchData"]) {
        err(p, what + ": patchData is required");
        continue;
      }
      json::Document d = get_patch_data(p["patchData"], what + ".patchData");
      if (what == "strategicPatches" && !d.IsObject() && !d.IsNull()) err(p["patchData"], "a strategic patch must be a map");
      out.push_back(std::move(d));
    }
  }

  void parse_actions(const YAML::Node& v, Rule& r) {
    if (!v.IsSequence()) {
      err(v, "actions must be a list");
      return;
    }
    for (const auto& a : v) {
      if (!a.IsMap() || a.size() != 1) {
        err(a, "an action is a map with exactly one of setLabels, setAnnotations, replaceRegex, copy, remove");
        continue;
      }
      check_keys(a, {"setLabels", "setAnnotations", "replaceRegex", "copy", "remove"}, "actions");
      auto kv = *a.begin();
      std::string k = kv.first.as<std::string>("");
      const YAML::Node& body = kv.second;
      Action x;
      if (k == "setLabels" || k == "setAnnotations") {
        x.kind = k == "setLabels" ? Action::Kind::set_labels : Action::Kind::set_annotations;
        x.entries = get_string_map(body, k);
      } else if (k == "replaceRegex") {
        x.kind = Action::Kind::replace_regex;
        if (!body.IsMap()) {
          err(body, "replaceRegex needs path, regex and replacement");
          continue;
        }
        check_keys(body, {"path", "regex", "replacement"}, "replaceRegex");
        auto g = get_glob(body["path"], "replaceRegex.path");
        auto re = get_regex(body["regex"], "replaceRegex.regex");
        if (!body["replacement"]) err(body, "replaceRegex.replacement is required");
        x.replacement = get_string(body["replacement"], "replaceRegex.replacement");
        if (!g || !re) continue;
        x.path = std::move(*g);
        x.re = std::move(*re);
      } else if (k == "copy") {
        x.kind = Action::Kind::copy;
        if (!body.IsMap()) {
          err(body, "copy needs from and to");
          continue;
        }
        check_keys(body, {"from", "to"}, "copy");
        auto f = get_pointer(body["from"], "copy.from");
        auto t = get_pointer(body["to"], "copy.to");
        if (!f || !t) continue;
        x.from = std::move(*f);
        x.to = std::move(*t);
      } else if (k == "remove") {
        x.kind = Action::Kind::remove;
        auto g = get_glob(body, "remove");
        if (!g) continue;
        if (g->segments.empty()) {
          err(body, "remove cannot remove the whole object");
          continue;
        }
        x.path = std::move(*g);
      } else {
        continue;
      }
      r.actions.push_back(std::move(x));
    }
  }

  void parse_rule(const YAML::Node& n, size_t index) {
    std::string ctx = "rule " + std::to_string(index);
    Rule r;
    r.name = ctx;
    if (!n.IsMap()) {
      err(n, ctx + " must be a map");
      return;
    }
    std::set<std::string> allowed{"conditions", "patches", "mergePatches", "strategicPatches"};
    if (schema == Schema::kbk_v1) {
      allowed.insert("name");
      allowed.insert("actions");
    }
    check_keys(n, allowed, ctx);
    int kinds = 0;
    bool has_conditions = false;
    for (const auto& kv : n) {
      std::string k = kv.first.as<std::string>("");
      const YAML::Node& v = kv.second;
      if (k == "name") {
        r.name = get_string(v, "name");
      } else if (k == "conditions") {
        has_conditions = true;
        parse_conditions(v, r.cond, ctx);
      } else if (k == "patches") {
        parse_json_patches(v, r, ctx);
        if (r.json_patch && !r.json_patch->empty()) ++kinds;
      } else if (k == "mergePatches") {
        parse_data_patches(v, r.merge_patches, "mergePatches");
        if (!r.merge_patches.empty()) ++kinds;
      } else if (k == "strategicPatches") {
        parse_data_patches(v, r.strategic_patches, "strategicPatches");
        if (!r.strategic_patches.empty()) ++kinds;
      } else if (k == "actions") {
        parse_actions(v, r);
      }
    }
    if (schema == Schema::velero_v1) {
      if (!has_conditions) err(n, ctx + ": conditions.groupResource is required");
      if (kinds > 1) err(n, ctx + ": only one of patches, mergePatches, strategicPatches may be given");
    } else if (r.empty()) {
      err(n, ctx + ": nothing to do (give patches, mergePatches, strategicPatches or actions)");
    }
    rules.push_back(std::move(r));
  }
};

// --- matching ------------------------------------------------------------------------------------------------

bool selector_matches(const Conditions& c, const json::Value& obj) {
  const json::Value* labels = json::at(obj, {"metadata", "labels"});
  auto label = [&](const std::string& k) -> std::optional<std::string> {
    const json::Value* v = labels ? json::find(*labels, k) : nullptr;
    if (!v || !v->IsString()) return std::nullopt;
    return std::string(v->GetString(), v->GetStringLength());
  };
  for (const auto& [k, v] : c.match_labels) {
    auto got = label(k);
    if (!got || *got != v) return false;
  }
  for (const auto& e : c.match_exprs) {
    auto got = label(e.key);
    bool in = got && std::find(e.values.begin(), e.values.end(), *got) != e.values.end();
    if (e.op == "In" && !in) return false;
    if (e.op == "NotIn" && got && in) return false;
    if (e.op == "Exists" && !got) return false;
    if (e.op == "DoesNotExist" && got) return false;
  }
  return true;
}

bool where_holds(const Where& w, const json::Value& obj) {
  auto found = detail::find_all(obj, w.path);
  switch (w.kind) {
    case Where::Kind::exists: return w.exists == !found.empty();
    case Where::Kind::equals:
      for (const json::Value* v : found)
        if (json::equal(*v, w.value)) return true;
      return false;
    case Where::Kind::regex:
      for (const json::Value* v : found) {
        if (v->IsString() && std::regex_search(v->GetString(), v->GetString() + v->GetStringLength(), w.re)) return true;
        if (v->IsNumber() || v->IsBool()) {
          std::string s = json::to_string(*v);
          if (std::regex_search(s, w.re)) return true;
        }
      }
      return false;
  }
  return false;
}

bool rule_matches(const Rule& r, Schema schema, const json::Value& obj, const MatchContext& ctx,
                  const std::string& group_resource) {
  const Conditions& c = r.cond;
  std::string ns = ctx.original_namespace.empty() ? json::get_string(obj, {"metadata", "namespace"}) : ctx.original_namespace;
  if (!ns.empty() && !c.namespaces.empty()) {
    bool any = false;
    for (const auto& pattern : c.namespaces)
      if (pattern == ns || util::glob_match(pattern, ns)) any = true;
    if (!any) return false;
  }
  if (!c.group_resource.empty() && !detail::glob_sep_match(c.group_resource, group_resource, '.')) return false;
  if (c.name_re) {
    std::string name = json::get_string(obj, {"metadata", "name"});
    if (!std::regex_search(name, *c.name_re)) return false;
  }
  if (c.has_selector && !selector_matches(c, obj)) return false;
  for (const auto& [ptr, value] : c.matches) {
    const json::Value* got = ptr.resolve(obj);
    if (!got) {
      // evanphx/json-patch: testing null against a missing path succeeds.
      if (schema == Schema::velero_v1 && value.IsNull()) continue;
      return false;
    }
    if (!json::equal(*got, value)) return false;
  }
  for (const auto& w : c.where)
    if (!where_holds(w, obj)) return false;
  return true;
}

// --- actions -------------------------------------------------------------------------------------------------

void erase_at(json::Value& doc, const std::vector<std::string>& tokens) {
  if (tokens.empty()) return;
  json::Value* parent = Pointer::from_tokens(std::vector<std::string>(tokens.begin(), tokens.end() - 1)).resolve(doc);
  if (!parent) return;
  if (parent->IsObject()) {
    json::erase(*parent, tokens.back());
  } else if (parent->IsArray()) {
    auto idx = parse_index(tokens.back());
    if (idx && *idx < parent->Size()) parent->Erase(parent->Begin() + static_cast<std::ptrdiff_t>(*idx));
  }
}

Result<void> run_action(const Action& a, json::Document& doc) {
  auto& alloc = doc.GetAllocator();
  switch (a.kind) {
    case Action::Kind::set_labels:
    case Action::Kind::set_annotations: {
      json::Value& meta = json::ensure_object(doc, "metadata", alloc);
      json::Value& map = json::ensure_object(meta, a.kind == Action::Kind::set_labels ? "labels" : "annotations", alloc);
      for (const auto& [k, v] : a.entries) json::set(map, k, json::make_string(v, alloc), alloc);
      return {};
    }
    case Action::Kind::replace_regex:
      for (auto& m : detail::find_all(doc, a.path)) {
        if (!m.value->IsString()) continue;
        std::string s(m.value->GetString(), m.value->GetStringLength());
        std::string out = std::regex_replace(s, a.re, a.replacement);
        if (out != s) *m.value = json::make_string(out, alloc);
      }
      return {};
    case Action::Kind::copy: {
      const json::Value* src = a.from.resolve(doc);
      if (!src) return {};  // nothing to copy
      json::Value v(*src, alloc);
      if (a.to.is_root()) return unexpected(Errc::invalid, "copy: cannot replace the whole object");
      json::Value* cur = &doc;
      const auto& toks = a.to.tokens();
      for (size_t i = 0; i + 1 < toks.size(); ++i) {
        if (cur->IsArray()) {
          auto idx = parse_index(toks[i]);
          if (!idx || *idx >= cur->Size())
            return unexpected(Errc::invalid, "copy to " + a.to.str() + ": index " + toks[i] + " out of range");
          cur = &(*cur)[static_cast<rapidjson::SizeType>(*idx)];
        } else {
          cur = &json::ensure_object(*cur, toks[i], alloc);
        }
      }
      if (cur->IsArray()) {
        if (toks.back() == "-") {
          cur->PushBack(v, alloc);
          return {};
        }
        auto idx = parse_index(toks.back());
        if (!idx || *idx >= cur->Size()) return unexpected(Errc::invalid, "copy to " + a.to.str() + ": index out of range");
        (*cur)[static_cast<rapidjson::SizeType>(*idx)] = std::move(v);
        return {};
      }
      json::set(*cur, toks.back(), std::move(v), alloc);
      return {};
    }
    case Action::Kind::remove: {
      auto found = detail::find_all(doc, a.path);
      // Remove deepest / highest indices first so earlier matches stay valid.
      for (auto it = found.rbegin(); it != found.rend(); ++it) erase_at(doc, it->tokens);
      return {};
    }
  }
  return {};
}

}  // namespace

struct ModifierSet::Impl {
  Schema schema = Schema::velero_v1;
  std::string version;
  std::string file;
  bool chain = false;
  Mappings mappings;
  std::vector<Rule> rules;
};

ModifierSet::ModifierSet() : m_impl(std::make_unique<Impl>()) {}
ModifierSet::~ModifierSet() = default;
ModifierSet::ModifierSet(ModifierSet&&) noexcept = default;
ModifierSet& ModifierSet::operator=(ModifierSet&&) noexcept = default;

Result<ModifierSet> ModifierSet::load(const std::string& path) {
  auto text = util::read_file(path, util::k_max_input_file);
  if (!text) return unexpected(Errc::io, "cannot read " + text.error().message);  // the message names the file
  return parse(*text, path);
}

Result<ModifierSet> ModifierSet::parse(std::string_view text, const std::string& file_name) {
  Parser p(file_name);
  YAML::Node root = p.load(text);
  if (p.ok()) p.run(root);
  if (!p.ok()) return p.failure(Errc::invalid);
  ModifierSet set;
  set.m_impl->schema = p.schema;
  set.m_impl->version = p.version;
  set.m_impl->file = file_name;
  set.m_impl->chain = p.chain;
  set.m_impl->mappings = std::move(p.mappings);
  set.m_impl->rules = std::move(p.rules);
  return set;
}

std::string_view ModifierSet::version() const { return m_impl->version; }
size_t ModifierSet::size() const { return m_impl->rules.size(); }
bool ModifierSet::chained() const { return m_impl->chain; }
const Mappings& ModifierSet::mappings() const { return m_impl->mappings; }

ApplyResult ModifierSet::apply(json::Document& obj, const MatchContext& ctx) const {
  ApplyResult result;
  const Impl& s = *m_impl;
  std::string group_resource = ctx.group_resource;
  if (group_resource.empty())
    group_resource = group_resource_for(json::get_string(obj, {"apiVersion"}), json::get_string(obj, {"kind"}));
  // Conditions see the object as it was before any rule (Velero), unless the file opts into chaining: so without
  // chaining every rule's conditions are evaluated first, on the untouched object, and no copy is needed.
  std::vector<char> matched(s.rules.size(), 0);
  if (!s.chain)
    for (size_t i = 0; i < s.rules.size(); ++i) matched[i] = rule_matches(s.rules[i], s.schema, obj, ctx, group_resource);
  for (size_t i = 0; i < s.rules.size(); ++i) {
    const Rule& r = s.rules[i];
    if (s.chain ? !rule_matches(r, s.schema, obj, ctx, group_resource) : !matched[i]) continue;
    auto fail = [&](const std::string& msg) {
      result.errors.push_back(Error(Errc::invalid, s.file + ": " + r.name + ": " + msg));
    };
    if (r.empty()) {
      fail("no patch data found");
      continue;
    }
    RuleOutcome out;
    out.rule = i;
    out.name = r.name;
    json::Document before_copy;
    bool applied = true;
    if (r.json_patch && !r.json_patch->empty()) {
      auto res = r.json_patch->apply(obj);
      if (!res) {
        if (res.error().code == Errc::precondition) continue;  // a failed test: the rule does not apply
        fail("JSON patch: " + res.error().message);
        continue;
      }
    }
    for (const auto& mp : r.merge_patches) apply_merge_patch(obj, mp, obj.GetAllocator());
    for (const auto& sp : r.strategic_patches) {
      SmpOptions opts;
      opts.schema = ctx.schema;
      opts.schema_root = ctx.schema_root;
      auto res = apply_strategic_merge_patch(obj, sp, opts);
      if (!res) {
        fail(res.error().message);
        applied = false;
        break;
      }
      if (*res == SmpSource::merge_patch)
        out.note = "strategic patch applied as a JSON merge patch: no list metadata for " +
                   json::get_string(obj, {"apiVersion"}) + " " + json::get_string(obj, {"kind"});
      else if (*res == SmpSource::schema)
        out.note = "strategic patch applied with the kind's OpenAPI list metadata";
    }
    if (!applied) continue;
    for (const auto& a : r.actions) {
      auto res = run_action(a, obj);
      if (!res) {
        fail(res.error().message);
        applied = false;
        break;
      }
    }
    if (!applied) continue;
    out.changed = true;
    result.changed = true;
    result.applied.push_back(std::move(out));
  }
  return result;
}

}  // namespace kbk::patch
