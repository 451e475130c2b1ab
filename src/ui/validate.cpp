// Live validation of what the composer holds (docs/ui.md, POST /api/validate): a patch as typed, each problem at
// its line and column in the text; a whole modifier file through the reader restore create uses.
#include <kbk/ui/server.hpp>

#include <yaml-cpp/yaml.h>

#include <rapidjson/error/en.h>

#include <kbk/patch/modifiers.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::ui {
namespace {

std::pair<int, int> line_col(const std::string& text, size_t offset) {
  int line = 1, col = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

Problem at(const YAML::Node& n, std::string message) {
  return Problem{n.Mark().line + 1, n.Mark().column + 1, std::move(message)};
}

const char* k_ops[] = {"add", "remove", "replace", "move", "copy", "test"};

}  // namespace

std::vector<Problem> validate_patch(const std::string& kind, const std::string& text) {
  std::vector<Problem> out;
  if (kind != "strategic" && kind != "merge" && kind != "json") {
    out.push_back({1, 1, "unknown patch type " + kind + " (strategic, merge or json)"});
    return out;
  }
  const std::string_view trimmed = util::trim(text);
  if (trimmed.empty()) {
    out.push_back({1, 1, "the patch is empty"});
    return out;
  }
  // JSON is read as JSON (its errors are clearer than YAML's reading of JSON).
  if (trimmed.front() == '{' || trimmed.front() == '[') {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());  // a deep text costs memory, never stack
    if (d.HasParseError()) {
      auto [l, c] = line_col(text, d.GetErrorOffset());
      out.push_back({l, c, std::string("invalid JSON: ") + rapidjson::GetParseError_En(d.GetParseError())});
      return out;
    }
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    out.push_back({e.mark.line + 1, e.mark.column + 1, "invalid YAML: " + e.msg});
    return out;
  }
  if (kind != "json") {
    if (!root.IsMap())
      out.push_back(at(root, std::string(kind == "strategic" ? "a strategic merge" : "a JSON merge") +
                                 " patch is a map of fields, such as {spec: {type: NodePort}}"));
    return out;
  }
  if (!root.IsSequence()) {
    out.push_back(at(root, "a JSON patch is a list of operations, such as [{op: replace, path: /spec/replicas, value: 2}]"));
    return out;
  }
  for (const auto& op : root) {
    if (!op.IsMap()) {
      out.push_back(at(op, "an operation is a map with op and path"));
      continue;
    }
    YAML::Node name = op["op"] ? op["op"] : op["operation"];
    if (!name || !name.IsScalar()) {
      out.push_back(at(op, "the operation has no op (add, remove, replace, move, copy or test)"));
      continue;
    }
    const std::string o = util::to_lower(name.Scalar());
    if (std::none_of(std::begin(k_ops), std::end(k_ops), [&](const char* k) { return o == k; })) {
      out.push_back(at(name, "op " + name.Scalar() + " is not add, remove, replace, move, copy or test"));
      continue;
    }
    YAML::Node path = op["path"];
    if (!path || !path.IsScalar()) {
      out.push_back(at(op, "the " + o + " operation has no path"));
      continue;
    }
    if (!path.Scalar().empty() && path.Scalar()[0] != '/') {
      out.push_back(at(path, "path " + path.Scalar() + " is not a JSON pointer (it starts with /)"));
      continue;
    }
    if ((o == "add" || o == "replace" || o == "test") && !op["value"])
      out.push_back(at(op, "the " + o + " operation has no value"));
    if ((o == "move" || o == "copy") && !op["from"]) out.push_back(at(op, "the " + o + " operation has no from"));
  }
  return out;
}

std::vector<Problem> validate_modifiers(const std::string& text) {
  std::vector<Problem> out;
  auto set = patch::ModifierSet::parse(text, "MODIFIERS.yaml");
  if (set) return out;
  auto add = [&](const std::string& m) {
    Problem p;
    p.message = m;
    // MODIFIERS.yaml:LINE:COL: message
    const std::string prefix = "MODIFIERS.yaml:";
    if (m.rfind(prefix, 0) == 0) {
      size_t a = prefix.size(), b = m.find(':', a), c = b == std::string::npos ? b : m.find(':', b + 1);
      if (b != std::string::npos && c != std::string::npos) {
        try {
          p.line = std::stoi(m.substr(a, b - a));
          p.column = std::stoi(m.substr(b + 1, c - b - 1));
          p.message = std::string(util::trim(m.substr(c + 1)));
        } catch (...) {
        }
      }
    }
    out.push_back(std::move(p));
  };
  if (set.error().causes.empty()) add(set.error().message);
  for (const auto& c : set.error().causes) add(c.message);
  return out;
}

}  // namespace kbk::ui
