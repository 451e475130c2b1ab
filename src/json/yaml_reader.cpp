// Strict YAML reading with positions (see yaml_reader.hpp).
#include <kbk/json/yaml_reader.hpp>

#include <sstream>

#include <yaml-cpp/eventhandler.h>

#include <kbk/util/strings.hpp>

namespace kbk::json {

namespace {

// Notes where each document starts; builds nothing.
class DocumentStarts final : public YAML::EventHandler {
public:
  YAML::Mark start;
  void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

}  // namespace

std::vector<YAML::Node> load_all_yaml(std::string_view text) {
  const std::string s(text);
  {
    std::istringstream in(s);
    YAML::Parser parser(in);
    DocumentStarts starts;
    int previous = -1;
    while (parser.HandleNextDocument(starts)) {
      if (starts.start.pos == previous) throw YAML::ParserException(starts.start, "unexpected character here");
      previous = starts.start.pos;
    }
  }
  return YAML::LoadAll(s);
}

std::vector<YAML::Node> YamlReader::load_all(std::string_view text) {
  m_text_bytes = text.size();
  try {
    return load_all_yaml(text);
  } catch (const YAML::Exception& e) {
    errors.push_back(m_file + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + ": " +
                     e.msg);
    return {};
  }
}

YAML::Node YamlReader::load(std::string_view text) {
  m_text_bytes = text.size();
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    errors.push_back(m_file + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + ": " +
                     e.msg);
    return YAML::Node(YAML::NodeType::Null);
  }
}

std::string YamlReader::position(const YAML::Node& n) const {
  const YAML::Mark m = n.Mark();
  // A node made by the program (not read from the text) has no mark: name the file alone.
  if (m.is_null()) return m_file;
  return m_file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

void YamlReader::check_keys(const YAML::Node& map, const std::set<std::string>& allowed, const std::string& where) {
  if (!map.IsMap()) {
    err(map, where + " must be a map");
    return;
  }
  std::set<std::string> seen;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar()) {
      err(kv.first, "keys must be strings in " + where);
      continue;
    }
    const std::string& k = kv.first.Scalar();
    if (!seen.insert(k).second) err(kv.first, "duplicate field \"" + k + "\" in " + where);
    if (!allowed.count(k)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      err(kv.first, "unknown field \"" + k + "\" in " + where + " (allowed: " + list + ")");
    }
  }
}

YAML::Node YamlReader::field(const YAML::Node& map, const std::string& key) {
  if (map.IsMap())
    for (const auto& kv : map)
      if (kv.first.IsScalar() && kv.first.Scalar() == key) return kv.second;
  return YAML::Node(YAML::NodeType::Undefined);
}

std::string YamlReader::get_string(const YAML::Node& n, const std::string& what) {
  if (!n || n.IsNull()) return "";
  if (!n.IsScalar()) {
    err(n, what + " must be a string");
    return "";
  }
  return n.Scalar();
}

bool YamlReader::get_bool(const YAML::Node& n, const std::string& what) {
  if (n.IsScalar()) {
    std::string s = util::to_lower(n.Scalar());
    if (s == "true") return true;
    if (s == "false") return false;
  }
  err(n, what + " must be true or false");
  return false;
}

std::vector<std::string> YamlReader::get_string_list(const YAML::Node& n, const std::string& what) {
  std::vector<std::string> out;
  if (!n || n.IsNull()) return out;
  if (!n.IsSequence()) {
    err(n, what + " must be a list of strings");
    return out;
  }
  for (const auto& e : n) out.push_back(get_string(e, what + " entries"));
  return out;
}

std::vector<std::pair<std::string, std::string>> YamlReader::get_string_map(const YAML::Node& n, const std::string& what) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!n || n.IsNull()) return out;
  if (!n.IsMap()) {
    err(n, what + " must be a map of strings");
    return out;
  }
  for (const auto& kv : n) out.emplace_back(get_string(kv.first, what + " keys"), get_string(kv.second, what + " values"));
  return out;
}

void YamlReader::node_to_value(const YAML::Node& n, Value& out, Allocator& a, const std::string& what) {
  // Every node of the text once, and some room for nodes made by the program: aliases may repeat a node, not
  // multiply the text.
  uint64_t budget = m_text_bytes + 65536;
  value_at(n, out, a, what, 1, budget);
}

bool YamlReader::value_at(const YAML::Node& n, Value& out, Allocator& a, const std::string& what, unsigned depth,
                          uint64_t& budget) {
  if (depth > k_max_yaml_depth) {
    err(n, what + ": nested more than " + std::to_string(k_max_yaml_depth) + " levels deep");
    out.SetNull();
    return false;
  }
  if (budget == 0) {
    err(n, what + ": aliases expand to more nodes than the text could hold");
    out.SetNull();
    return false;
  }
  --budget;
  if (!n || n.IsNull()) {
    out.SetNull();
  } else if (n.IsScalar()) {
    const std::string& text = n.Scalar();
    if (n.Tag() == "!" || n.Tag() == "tag:yaml.org,2002:str") {
      out.SetString(text.c_str(), static_cast<rapidjson::SizeType>(text.size()), a);
      return true;
    }
    auto parsed = parse_yaml(text, what);  // a plain scalar resolves the same on its own
    if (parsed && !parsed->IsObject() && !parsed->IsArray()) json::copy_into(out, *parsed, a);
    else out.SetString(text.c_str(), static_cast<rapidjson::SizeType>(text.size()), a);
  } else if (n.IsSequence()) {
    out.SetArray();
    for (const auto& e : n) {
      Value v;
      const bool ok = value_at(e, v, a, what, depth + 1, budget);
      out.PushBack(v, a);
      if (!ok) return false;
    }
  } else if (n.IsMap()) {
    out.SetObject();
    for (const auto& kv : n) {
      if (!kv.first.IsScalar()) {
        err(kv.first, what + ": keys must be strings");
        continue;
      }
      Value v;
      const bool ok = value_at(kv.second, v, a, what, depth + 1, budget);
      set(out, kv.first.Scalar(), std::move(v), a);
      if (!ok) return false;
    }
  }
  return true;
}

Document YamlReader::get_value(const YAML::Node& n, const std::string& what) {
  Document d;
  node_to_value(n, d, d.GetAllocator(), what);
  return d;
}

Error YamlReader::failure(Errc code) const {
  Error e(code, errors.empty() ? m_file + ": invalid" : errors.front());
  for (const auto& m : errors) e.causes.push_back(ErrorCause{"FieldValueInvalid", m, ""});
  return e;
}

}  // namespace kbk::json
