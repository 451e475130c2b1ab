// Reading application definitions (docs/format-application.md) and composing them through their includes.
#include <kbk/app/definition.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <kbk/json/yaml_reader.hpp>
#include <kbk/kube/label_selector.hpp>
#include <kbk/util/fs.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::app {

namespace fs = std::filesystem;

bool is_dns_label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return s.front() != '-' && s.back() != '-';
}

bool is_dns_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (const auto& label : util::split(s, '.', false))
    if (!is_dns_label(label)) return false;
  return true;
}

std::optional<NamePattern> parse_name_pattern(std::string_view text) {
  auto parts = util::split(text, '/', false);
  NamePattern p;
  if (parts.size() == 3) {
    p.resource = parts[0];
    p.ns = parts[1];
    p.name = parts[2];
  } else if (parts.size() == 2) {
    p.resource = parts[0];
    p.name = parts[1];
    p.cluster = true;
  } else {
    return std::nullopt;
  }
  for (const auto& s : parts)
    if (s.empty()) return std::nullopt;
  return p;
}

std::string Application::display_name() const { return util::join(names, "+"); }

namespace {

struct IncludeRef {
  std::string file;  // as written
  std::string name;
  std::string where;
};

// One application document as written.
struct Doc {
  std::string name;
  std::string file;   // the path it was read from
  std::string where;  // position of the document
  std::vector<IncludeRef> includes;
  std::vector<Part> parts;  // names not yet qualified
  std::optional<Filter> exclude;
  std::optional<VolumePolicy> volume_policy;
  std::vector<HookRef> hooks;
  std::vector<Entry> restore_order;
  std::vector<std::string> modifiers;
};

std::string folder_of(const std::string& file) {
  std::string d = util::dirname(file);
  return d.empty() ? "." : d;
}

std::string resolve_relative(const std::string& base_file, const std::string& path) {
  if (util::is_absolute(path)) return path;
  const std::string dir = folder_of(base_file);
  return dir == "." ? path : util::path_join(dir, path);
}

bool readable_file(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

class DefParser : public json::YamlReader {
public:
  DefParser(std::string file, std::string_view text) : json::YamlReader(std::move(file)), m_text(text) {}

  std::optional<Doc> parse_doc(const YAML::Node& root) {
    if (!root.IsMap()) {
      err(root, "an application definition must be a map with apiVersion, kind, metadata and spec");
      return std::nullopt;
    }
    check_keys(root, {"apiVersion", "kind", "metadata", "spec"}, "the top level");
    const YAML::Node api = field(root, "apiVersion");
    if (!api) {
      err(root, "missing required field \"apiVersion\" (kbk.io/v1)");
      return std::nullopt;
    }
    if (get_string(api, "apiVersion") != k_api_version) {
      err(api, "unsupported apiVersion \"" + get_string(api, "apiVersion") + "\" (supported: kbk.io/v1)");
      return std::nullopt;
    }
    const YAML::Node kind = field(root, "kind");
    if (!kind) err(root, "missing required field \"kind\" (Application)");
    else if (get_string(kind, "kind") != k_kind)
      err(kind, "kind must be Application, not \"" + get_string(kind, "kind") + "\"");
    Doc d;
    d.file = file();
    d.where = position(root);
    const YAML::Node meta = field(root, "metadata");
    if (!meta) {
      err(root, "missing required field \"metadata\" (with name)");
    } else if (!meta.IsMap()) {
      err(meta, "metadata must be a map");
    } else {
      check_keys(meta, {"name", "description", "labels"}, "metadata");
      const YAML::Node name = field(meta, "name");
      d.name = get_string(name, "metadata.name");
      if (!name) err(meta, "missing required field \"metadata.name\"");
      else if (!is_dns_subdomain(d.name))
        err(name, "metadata.name \"" + d.name + "\" must be a DNS-1123 subdomain (lower-case letters, digits, '-', '.')");
      get_string(field(meta, "description"), "metadata.description");
      get_string_map(field(meta, "labels"), "metadata.labels");
    }
    const YAML::Node spec = field(root, "spec");
    if (!spec) {
      err(root, "missing required field \"spec\" (with parts or includes)");
      return d;
    }
    if (!spec.IsMap()) {
      err(spec, "spec must be a map");
      return d;
    }
    check_keys(spec, {"includes", "parts", "exclude", "volumePolicy", "hooks", "restore"}, "spec");
    parse_includes(field(spec, "includes"), d);
    parse_parts(field(spec, "parts"), d);
    if (const YAML::Node ex = field(spec, "exclude"); ex && !ex.IsNull()) {
      d.exclude = parse_filter(ex, "spec.exclude", Kind::exclude);
      if (d.exclude->empty()) err(ex, "spec.exclude is empty");
    }
    parse_volume_policy(field(spec, "volumePolicy"), d);
    parse_hooks(field(spec, "hooks"), d);
    parse_restore(field(spec, "restore"), d);
    if (d.parts.empty() && d.includes.empty()) err(spec, "spec needs parts or includes (an application of nothing)");
    return d;
  }

private:
  enum class Kind { part, exclude };

  std::vector<Entry> entries(const YAML::Node& n, const std::string& what) {
    std::vector<Entry> out;
    if (!n || n.IsNull()) return out;
    if (!n.IsSequence()) {
      err(n, what + " must be a list of strings");
      return out;
    }
    for (const auto& e : n) {
      std::string s = get_string(e, what + " entries");
      if (util::trim(s).empty()) {
        err(e, what + " entries must not be empty");
        continue;
      }
      out.push_back({std::string(util::trim(s)), position(e)});
    }
    return out;
  }

  // kubectl syntax, or a LabelSelector map; returned as kubectl syntax, checked.
  std::string selector(const YAML::Node& n, const std::string& what) {
    if (!n || n.IsNull()) return "";
    std::string text;
    if (n.IsScalar()) {
      text = n.Scalar();
    } else if (n.IsMap()) {
      check_keys(n, {"matchLabels", "matchExpressions"}, what);
      std::vector<std::string> reqs;
      for (const auto& [k, v] : get_string_map(field(n, "matchLabels"), what + ".matchLabels")) reqs.push_back(k + "=" + v);
      const YAML::Node exprs = field(n, "matchExpressions");
      if (exprs && !exprs.IsSequence()) err(exprs, what + ".matchExpressions must be a list");
      if (exprs && exprs.IsSequence()) {
        for (const auto& e : exprs) {
          if (!e.IsMap()) {
            err(e, what + ".matchExpressions entries must be maps with key, operator, values");
            continue;
          }
          check_keys(e, {"key", "operator", "values"}, what + ".matchExpressions");
          const std::string key = get_string(field(e, "key"), "key");
          const std::string op = get_string(field(e, "operator"), "operator");
          const auto values = get_string_list(field(e, "values"), "values");
          if (key.empty()) err(e, what + ".matchExpressions: key is required");
          if (op == "In" || op == "NotIn") {
            if (values.empty()) err(e, what + ".matchExpressions: " + op + " needs values");
            reqs.push_back(key + (op == "In" ? " in (" : " notin (") + util::join(values, ",") + ")");
          } else if (op == "Exists" || op == "DoesNotExist") {
            if (!values.empty()) err(e, what + ".matchExpressions: " + op + " takes no values");
            reqs.push_back((op == "Exists" ? "" : "!") + key);
          } else {
            err(field(e, "operator"), what + ".matchExpressions: operator \"" + op +
                                          "\" (use In, NotIn, Exists or DoesNotExist)");
          }
        }
      }
      text = util::join(reqs, ",");
    } else {
      err(n, what + " must be a label selector (kubectl syntax) or a map with matchLabels/matchExpressions");
      return "";
    }
    if (util::trim(text).empty()) {
      err(n, what + " is empty");
      return "";
    }
    if (auto s = kube::LabelSelector::parse(text); !s) err(n, what + ": " + s.error().message);
    return text;
  }

  void check_names(const std::vector<Entry>& names, const YAML::Node& n, const std::string& what) {
    size_t i = 0;
    for (const auto& e : names) {
      if (!parse_name_pattern(e.text))
        err(n.IsSequence() && i < n.size() ? n[i] : n,
            what + " \"" + e.text + "\": expected resource/namespace/name or resource/name");
      ++i;
    }
  }

  Filter parse_filter(const YAML::Node& n, const std::string& what, Kind kind) {
    Filter f;
    if (!n.IsMap()) {
      err(n, what + " must be a map");
      return f;
    }
    if (kind == Kind::exclude)
      check_keys(n, {"namespaces", "resources", "clusterResources", "names", "selector"}, what);
    f.namespaces = entries(field(n, "namespaces"), what + ".namespaces");
    f.resources = entries(field(n, "resources"), what + ".resources");
    f.cluster_resources = entries(field(n, "clusterResources"), what + ".clusterResources");
    f.names = entries(field(n, "names"), what + ".names");
    check_names(f.names, field(n, "names"), what + ".names");
    f.selector = selector(field(n, "selector"), what + ".selector");
    if (kind == Kind::part) {
      const YAML::Node ors = field(n, "orSelectors");
      if (ors && !ors.IsNull() && !ors.IsSequence()) err(ors, what + ".orSelectors must be a list of selectors");
      if (ors && ors.IsSequence()) {
        for (const auto& o : ors) {
          std::string s = selector(o, what + ".orSelectors entry");
          if (!s.empty()) f.or_selectors.push_back(std::move(s));
        }
        if (ors.size() == 0) err(ors, what + ".orSelectors is empty");
      }
    }
    return f;
  }

  void parse_includes(const YAML::Node& n, Doc& d) {
    if (!n || n.IsNull()) return;
    if (!n.IsSequence()) {
      err(n, "spec.includes must be a list of {file: PATH} or {name: NAME}");
      return;
    }
    for (const auto& e : n) {
      if (!e.IsMap()) {
        err(e, "spec.includes entries must be maps: {file: PATH} or {name: NAME}");
        continue;
      }
      check_keys(e, {"file", "name"}, "spec.includes");
      IncludeRef r;
      r.file = get_string(field(e, "file"), "file");
      r.name = get_string(field(e, "name"), "name");
      r.where = position(e);
      if (r.file.empty() == r.name.empty()) {
        err(e, "spec.includes entries need exactly one of file and name");
        continue;
      }
      if (!r.name.empty() && !is_dns_subdomain(r.name)) {
        err(field(e, "name"), "include name \"" + r.name + "\" is not an application name (a DNS-1123 subdomain)");
        continue;
      }
      d.includes.push_back(std::move(r));
    }
  }

  void parse_parts(const YAML::Node& n, Doc& d) {
    if (!n || n.IsNull()) return;
    if (!n.IsSequence()) {
      err(n, "spec.parts must be a list");
      return;
    }
    std::set<std::string> seen;
    for (const auto& p : n) {
      if (!p.IsMap()) {
        err(p, "spec.parts entries must be maps with a name and filters");
        continue;
      }
      check_keys(p, {"name", "description", "namespaces", "resources", "clusterResources", "names", "selector",
                     "orSelectors", "helmRelease", "follow", "exclude"},
                 "a part");
      Part part;
      part.where = position(p);
      const YAML::Node name = field(p, "name");
      part.name = get_string(name, "name");
      const std::string what = "part " + (part.name.empty() ? std::string("(unnamed)") : "\"" + part.name + "\"");
      if (!name) err(p, "a part needs a name");
      else if (!is_dns_label(part.name))
        err(name, what + ": the name must be a DNS-1123 label (lower-case letters, digits, '-')");
      else if (!seen.insert(part.name).second)
        err(name, what + ": duplicate part name");
      part.description = get_string(field(p, "description"), what + ": description");
      part.select = parse_filter(p, what, Kind::part);
      if (const YAML::Node h = field(p, "helmRelease"); h && !h.IsNull()) {
        if (!h.IsMap()) {
          err(h, what + ": helmRelease must be a map with namespace and name");
        } else {
          check_keys(h, {"namespace", "name"}, what + ": helmRelease");
          HelmRelease r{get_string(field(h, "namespace"), "namespace"), get_string(field(h, "name"), "name")};
          if (!is_dns_label(r.namespace_)) err(h, what + ": helmRelease.namespace must be a namespace name");
          if (r.name.empty() || r.name.size() > 53) err(h, what + ": helmRelease.name must be a Helm release name");
          part.helm_release = std::move(r);
        }
      }
      if (const YAML::Node f = field(p, "follow"); f && !f.IsNull()) part.follow = get_bool(f, what + ": follow");
      if (const YAML::Node ex = field(p, "exclude"); ex && !ex.IsNull()) {
        Filter f = parse_filter(ex, what + ": exclude", Kind::exclude);
        if (f.empty()) err(ex, what + ": exclude is empty");
        part.excludes.push_back(std::move(f));
      }
      if (part.select.empty() && !part.helm_release)
        err(p, what + " selects nothing: give namespaces, resources, clusterResources, names, a selector or a "
                      "helmRelease (namespaces: [\"*\"] and clusterResources: [\"*\"] take the whole cluster)");
      d.parts.push_back(std::move(part));
    }
  }

  static YAML::Node key_node(const YAML::Node& map, const std::string& key) {
    for (const auto& kv : map)
      if (kv.first.IsScalar() && kv.first.Scalar() == key) return kv.first;
    return YAML::Node(YAML::NodeType::Undefined);
  }

  // The inline block's own lines, padded so that line and column numbers stay those of the definition.
  std::string inline_text(const YAML::Node& key, const YAML::Node& value) {
    const YAML::Mark km = key.Mark(), vm = value.Mark();
    auto lines = util::split(m_text, '\n', false);
    if (vm.is_null() || static_cast<size_t>(vm.line) >= lines.size()) return "";
    std::string out(static_cast<size_t>(vm.line), '\n');
    const std::string& first = lines[static_cast<size_t>(vm.line)];
    out += std::string(static_cast<size_t>(vm.column), ' ') +
           (static_cast<size_t>(vm.column) < first.size() ? first.substr(static_cast<size_t>(vm.column)) : "") + "\n";
    for (size_t i = static_cast<size_t>(vm.line) + 1; i < lines.size(); ++i) {
      const std::string& l = lines[i];
      const size_t indent = l.find_first_not_of(' ');
      const bool blank = indent == std::string::npos || l[indent] == '#';
      if (!blank && indent <= static_cast<size_t>(km.column)) break;
      if (!blank && l.compare(indent, 3, "---") == 0 && indent == 0) break;
      out += l + "\n";
    }
    return out;
  }

  void parse_volume_policy(const YAML::Node& n, Doc& d) {
    if (!n || n.IsNull()) return;
    if (!n.IsMap()) {
      err(n, "spec.volumePolicy must be a map with file or inline");
      return;
    }
    check_keys(n, {"file", "inline"}, "spec.volumePolicy");
    const YAML::Node f = field(n, "file");
    const YAML::Node inline_value = field(n, "inline");
    const YAML::Node inline_key = key_node(n, "inline");
    if (static_cast<bool>(f) == static_cast<bool>(inline_value)) {
      err(n, "spec.volumePolicy needs exactly one of file and inline");
      return;
    }
    VolumePolicy vp;
    vp.where = position(n);
    if (f) {
      const std::string path = get_string(f, "spec.volumePolicy.file");
      if (path.empty()) {
        err(f, "spec.volumePolicy.file is empty");
        return;
      }
      vp.file = resolve_relative(file(), path);
      vp.origin = vp.file;
      auto text = util::read_file(vp.file, util::k_max_input_file);
      if (!text) {
        err(f, "volume policy file " + vp.file + ": " + text.error().message);
        return;
      }
      vp.text = std::move(*text);
    } else {
      if (!inline_value.IsMap()) {
        err(inline_value, "spec.volumePolicy.inline must be a volume policy (a map with version and volumePolicies)");
        return;
      }
      vp.origin = file();
      vp.text = inline_text(inline_key, inline_value);
    }
    d.volume_policy = std::move(vp);
  }

  void parse_hooks(const YAML::Node& n, Doc& d) {
    if (!n || n.IsNull()) return;
    if (!n.IsSequence()) {
      err(n, "spec.hooks must be a list of hook template references");
      return;
    }
    for (const auto& h : n) {
      if (!h.IsMap()) {
        err(h, "spec.hooks entries must be maps with template, namespace and selector");
        continue;
      }
      check_keys(h, {"template", "namespace", "selector", "container", "onError", "timeout"}, "spec.hooks");
      HookRef r;
      r.where = position(h);
      r.template_name = get_string(field(h, "template"), "template");
      r.namespace_ = get_string(field(h, "namespace"), "namespace");
      r.container = get_string(field(h, "container"), "container");
      r.on_error = get_string(field(h, "onError"), "onError");
      r.timeout = get_string(field(h, "timeout"), "timeout");
      if (!is_dns_subdomain(r.template_name))
        err(h, "spec.hooks: template must name a hook template (a DNS-1123 subdomain)");
      if (!is_dns_label(r.namespace_)) err(h, "spec.hooks: namespace must be a namespace name");
      if (!field(h, "selector")) err(h, "spec.hooks: selector is required (which pods the hook runs in)");
      else r.selector = selector(field(h, "selector"), "spec.hooks: selector");
      if (!r.on_error.empty() && r.on_error != "Fail" && r.on_error != "Continue")
        err(field(h, "onError"), "spec.hooks: onError must be Fail or Continue");
      if (!r.timeout.empty()) {
        auto t = util::parse_duration(r.timeout);
        if (!t || *t <= 0) err(field(h, "timeout"), "spec.hooks: timeout \"" + r.timeout + "\" is not a duration (30s, 5m)");
      }
      d.hooks.push_back(std::move(r));
    }
  }

  void parse_restore(const YAML::Node& n, Doc& d) {
    if (!n || n.IsNull()) return;
    if (!n.IsMap()) {
      err(n, "spec.restore must be a map with order and modifiers");
      return;
    }
    check_keys(n, {"order", "modifiers"}, "spec.restore");
    d.restore_order = entries(field(n, "order"), "spec.restore.order");
    for (const auto& e : d.restore_order) {
      if (std::count(e.text.begin(), e.text.end(), '/') > 0 && !parse_name_pattern(e.text))
        errors.push_back(e.where + ": spec.restore.order \"" + e.text +
                         "\": expected a resource name or resource/namespace/name or resource/name");
    }
    const YAML::Node mods = field(n, "modifiers");
    for (const auto& e : entries(mods, "spec.restore.modifiers")) {
      const std::string path = resolve_relative(file(), e.text);
      if (!readable_file(path)) {
        errors.push_back(e.where + ": modifier file " + path + " not found");
        continue;
      }
      d.modifiers.push_back(path);
    }
  }

  std::string_view m_text;
};

// Parses every document of one file. Problems are appended to errors.
std::vector<Doc> parse_file(std::string_view text, const std::string& file, std::vector<std::string>& errors) {
  DefParser p(file, text);
  std::vector<Doc> docs;
  for (const auto& root : p.load_all(text)) {
    if (!root || root.IsNull()) continue;
    if (auto d = p.parse_doc(root)) docs.push_back(std::move(*d));
  }
  if (docs.empty() && p.errors.empty()) p.errors.push_back(file + ": no application definition in this file");
  std::set<std::string> names;
  for (const auto& d : docs)
    if (!d.name.empty() && !names.insert(d.name).second)
      p.errors.push_back(d.where + ": application \"" + d.name + "\" is defined twice in this file");
  errors.insert(errors.end(), p.errors.begin(), p.errors.end());
  return docs;
}

class Composer {
public:
  Composer(const LoadOptions& o) : m_opt(o) {}

  std::vector<std::string> errors;
  Application app;

  // Reads a file once (by its canonical path); nullptr when it cannot be read (a problem is recorded).
  const std::vector<Doc>* read(const std::string& path, const std::string& where, std::optional<std::string> text = {}) {
    const std::string key = canonical(path);
    auto it = m_files.find(key);
    if (it != m_files.end()) return &it->second;
    if (!text) {
      auto t = util::read_file(path, util::k_max_input_file);
      if (!t) {
        errors.push_back((where.empty() ? "" : where + ": ") + path + ": cannot read: " + t.error().message);
        m_io_error = where.empty();
        return nullptr;
      }
      text = std::move(*t);
    }
    app.files.push_back(path);
    auto docs = parse_file(*text, path, errors);
    return &m_files.emplace(key, std::move(docs)).first->second;
  }

  bool io_error() const { return m_io_error; }

  // Adds a top-level file (all its documents).
  void add_file(const std::string& path, std::optional<std::string> text = {}) {
    const auto* docs = read(path, "", std::move(text));
    if (!docs) return;
    for (const auto& d : *docs) {
      if (!d.name.empty()) app.names.push_back(d.name);
      std::vector<std::string> stack;
      add_doc(d, {}, stack);
    }
  }

  void finish() {
    if (app.names.empty() && errors.empty()) errors.push_back("no application definitions given");
    // Included applications' modifiers come first so that the including application's run last.
    for (auto& m : m_modifier_groups) app.modifiers.insert(app.modifiers.end(), m.begin(), m.end());
  }

private:
  static std::string canonical(const std::string& path) {
    std::error_code ec;
    auto c = fs::weakly_canonical(path, ec);
    return ec ? path : c.string();
  }
  static std::string doc_key(const Doc& d) { return canonical(d.file) + "#" + d.name; }

  void add_doc(const Doc& d, const std::vector<Filter>& inherited, std::vector<std::string>& stack) {
    const std::string key = doc_key(d);
    if (std::find(stack.begin(), stack.end(), key) != stack.end()) return;  // reported by the includer
    if (!m_added.insert(key).second) return;  // included twice: counts once
    if (auto it = m_name_files.find(d.name); it != m_name_files.end() && it->second != canonical(d.file)) {
      errors.push_back(d.where + ": application \"" + d.name + "\" is also defined in " + it->second);
      return;
    }
    m_name_files[d.name] = canonical(d.file);
    app.all_names.push_back(d.name);
    std::vector<Filter> excludes = inherited;
    if (d.exclude) excludes.insert(excludes.begin(), *d.exclude);
    for (Part p : d.parts) {
      p.application = d.name;
      p.name = d.name + "/" + p.name;
      p.excludes.insert(p.excludes.end(), excludes.begin(), excludes.end());
      app.parts.push_back(std::move(p));
    }
    app.hooks.insert(app.hooks.end(), d.hooks.begin(), d.hooks.end());
    for (auto& h : app.hooks)
      if (h.application.empty()) h.application = d.name;
    app.restore_order.insert(app.restore_order.end(), d.restore_order.begin(), d.restore_order.end());
    if (d.volume_policy) set_volume_policy(*d.volume_policy, d);
    stack.push_back(key);
    for (const auto& inc : d.includes) {
      for (const Doc* included : resolve(inc, d)) {
        const std::string ikey = doc_key(*included);
        if (auto it = std::find(stack.begin(), stack.end(), ikey); it != stack.end()) {
          std::vector<std::string> chain;
          for (auto s = it; s != stack.end(); ++s) chain.push_back(display(*s));
          chain.push_back(display(ikey));
          errors.push_back(inc.where + ": include cycle: " + util::join(chain, " -> "));
          continue;
        }
        add_doc(*included, excludes, stack);
      }
    }
    stack.pop_back();
    m_modifier_groups.push_back(d.modifiers);
  }

  // "a.yaml" or "apps.yaml#web" (a file holding several applications).
  std::string display(const std::string& key) const {
    const auto hash = key.rfind('#');
    const std::string path = key.substr(0, hash);
    const std::string name = key.substr(hash + 1);
    std::string shown = fs::path(path).filename().string();
    auto it = m_files.find(path);
    if (it != m_files.end() && it->second.size() > 1) shown += "#" + name;
    return shown;
  }

  std::vector<const Doc*> resolve(const IncludeRef& inc, const Doc& from) {
    std::vector<const Doc*> out;
    if (!inc.file.empty()) {
      const std::string path = resolve_relative(from.file, inc.file);
      const auto* docs = read(path, inc.where);
      if (docs)
        for (const auto& d : *docs) out.push_back(&d);
      return out;
    }
    std::vector<std::string> folders{folder_of(from.file)};
    folders.insert(folders.end(), m_opt.search_path.begin(), m_opt.search_path.end());
    for (const auto& dir : folders) {
      for (const char* ext : {".yaml", ".yml"}) {
        const std::string path = dir == "." ? inc.name + ext : util::path_join(dir, inc.name + ext);
        if (!readable_file(path)) continue;
        const auto* docs = read(path, inc.where);
        if (!docs) return out;
        for (const auto& d : *docs)
          if (d.name == inc.name) out.push_back(&d);
        if (out.empty())
          errors.push_back(inc.where + ": include \"" + inc.name + "\": " + path + " holds no application named " +
                           inc.name);
        return out;
      }
    }
    errors.push_back(inc.where + ": include \"" + inc.name + "\": no " + inc.name + ".yaml or " + inc.name +
                     ".yml in " + util::join(folders, ", ") +
                     (m_opt.search_path.empty() ? " (add folders with --app-path)" : ""));
    return out;
  }

  void set_volume_policy(const VolumePolicy& vp, const Doc& d) {
    if (!app.volume_policy) {
      app.volume_policy = vp;
      return;
    }
    if (app.volume_policy->text != vp.text)
      errors.push_back(vp.where + ": application \"" + d.name + "\" has a volume policy other than the one at " +
                       app.volume_policy->where + ": one backup has one volume policy (use the same file)");
  }

  const LoadOptions& m_opt;
  std::map<std::string, std::vector<Doc>> m_files;  // canonical path -> documents
  std::set<std::string> m_added;
  std::map<std::string, std::string> m_name_files;
  std::vector<std::vector<std::string>> m_modifier_groups;
  bool m_io_error = false;
};

// Whether some document of a YAML text says kind: Application (a text that does not parse counts: its errors are
// worth reporting).
bool declares_application(const std::string& text) {
  try {
    for (const auto& doc : json::load_all_yaml(text))
      if (doc.IsMap() && doc["kind"] && doc["kind"].IsScalar() && doc["kind"].Scalar() == k_kind) return true;
    return false;
  } catch (const YAML::Exception&) {
    return true;
  }
}

Result<Application> finish(Composer& c) {
  c.finish();
  if (!c.errors.empty()) {
    Error e(c.io_error() && c.errors.size() == 1 ? Errc::io : Errc::invalid, c.errors.front());
    for (const auto& m : c.errors) e.causes.push_back(ErrorCause{"FieldValueInvalid", m, ""});
    return e;
  }
  return std::move(c.app);
}

}  // namespace

Result<Application> load(const std::vector<std::string>& paths, const LoadOptions& options) {
  Composer c(options);
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> files;
      for (const auto& e : fs::directory_iterator(p, ec)) {
        const std::string ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(e.path().string());
      }
      std::sort(files.begin(), files.end());
      size_t added = 0;
      for (const auto& f : files) {
        // A folder of definitions may hold other YAML (modifier files, volume policies): only files declaring
        // kind: Application are read; the others are named at -v 1.
        auto text = util::read_file(f, util::k_max_input_file);
        if (text && !declares_application(*text)) {
          log::info(1, f + ": not an application definition (no kind: Application), skipped");
          continue;
        }
        c.add_file(f);
        ++added;
      }
      if (added == 0) c.errors.push_back(p + ": no application definitions (*.yaml, *.yml with kind: Application) in this folder");
    } else {
      c.add_file(p);
    }
  }
  return finish(c);
}

Result<Application> parse(std::string_view text, const std::string& file_name, const LoadOptions& options) {
  Composer c(options);
  c.add_file(file_name, std::string(text));
  return finish(c);
}

}  // namespace kbk::app
