// Strict reading of the YAML files users write for kbk (resource-modifier files, application definitions): the
// reader keeps yaml-cpp's nodes, whose marks hold line and column, so every problem is reported as
// "FILE:LINE:COL: message", and it collects every problem before the caller gives up, so `validate` commands print
// them all at once. Scalars follow sigs.k8s.io/yaml (kubectl's reader): a string field takes any scalar as its text
// and null as ""; typed values (node_to_value) resolve plain scalars as kubectl does and keep quoted ones strings.
//
// One reader for every such format: a format's parser derives from YamlReader (or holds one), walks the nodes with
// check_keys and the getters, and turns `errors` into its Result with failure().
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include <kbk/json/json.hpp>
#include <kbk/util/error.hpp>

namespace kbk::json {

// YAML::LoadAll, which every YAML stream kbk reads goes through: Debian's yaml-cpp 0.7 loops for ever there,
// adding a null document each turn until memory runs out, on a token no rule takes (a ',' in block context, as in
// "a: 1\n,b: 2"; fixed upstream by jbeder/yaml-cpp#1319). The stream is first walked by the parser without building
// nodes, and a document that starts where the one before it started is that loop: YAML::ParserException at its
// mark, as for any syntax error (found by fuzz.ui_requests: a kbk ui request could exhaust the host's memory).
std::vector<YAML::Node> load_all_yaml(std::string_view text);

class YamlReader {
public:
  explicit YamlReader(std::string file) : m_file(std::move(file)) {}

  // Every problem so far, "FILE:LINE:COL: message", in the order found.
  std::vector<std::string> errors;

  const std::string& file() const { return m_file; }
  // The documents of a YAML stream (an empty text gives none). A syntax error becomes one problem and no nodes.
  std::vector<YAML::Node> load_all(std::string_view text);
  // One document: the first of the stream, or a null node (with the problem recorded) when the text is broken.
  YAML::Node load(std::string_view text);

  std::string position(const YAML::Node& n) const;  // FILE:LINE:COL (1-based)
  void err(const YAML::Node& n, const std::string& msg) { errors.push_back(position(n) + ": " + msg); }

  // A map's keys: non-scalar keys, duplicates and keys outside `allowed` are problems ("unknown field \"x\" in
  // <where> (allowed: a, b)"). A node that is not a map is a problem too.
  void check_keys(const YAML::Node& map, const std::set<std::string>& allowed, const std::string& where);
  // The value of key in map, or an undefined node (no problem: optional fields).
  static YAML::Node field(const YAML::Node& map, const std::string& key);

  std::string get_string(const YAML::Node& n, const std::string& what);
  bool get_bool(const YAML::Node& n, const std::string& what);
  // A list of strings; a single scalar is a problem (write [a] for one entry).
  std::vector<std::string> get_string_list(const YAML::Node& n, const std::string& what);
  std::vector<std::pair<std::string, std::string>> get_string_map(const YAML::Node& n, const std::string& what);
  // Any value, as JSON: kubectl's scalar rules for plain scalars, quoted scalars stay strings. At most
  // k_max_yaml_depth levels, and aliases may not expand to more nodes than the loaded text has bytes (a "billion
  // laughs" file): either is a problem and the value is cut there.
  void node_to_value(const YAML::Node& n, Value& out, Allocator& a, const std::string& what);
  Document get_value(const YAML::Node& n, const std::string& what);

  bool ok() const { return errors.empty(); }
  // The problems as one Error: code, message = the first problem, causes = every problem.
  Error failure(Errc code = Errc::invalid) const;

private:
  bool value_at(const YAML::Node& n, Value& out, Allocator& a, const std::string& what, unsigned depth,
                uint64_t& budget);
  std::string m_file;
  uint64_t m_text_bytes = 0;  // of the text last loaded: what bounds the nodes a value may expand to
};

}  // namespace kbk::json
