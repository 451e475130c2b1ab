// Hook specifications (spec.hpp): annotations and hooks files, read strictly (docs/hooks.md sections 1, 2 and 6).
#include <kbk/hooks/spec.hpp>

#include <regex>
#include <unistd.h>

#include <kbk/json/yaml_reader.hpp>
#include <kbk/util/fs.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::hooks {

const char* on_error_name(OnError e) { return e == OnError::fail ? "Fail" : "Continue"; }

namespace {

// metav1.LabelSelector as JSON -> kubectl's text.
std::string selector_text(const json::Value& sel) {
  std::vector<std::string> reqs;
  if (const json::Value* ml = json::find(sel, "matchLabels"); ml && ml->IsObject())
    for (const auto& kv : ml->GetObject())
      if (kv.value.IsString()) reqs.push_back(std::string(kv.name.GetString()) + "=" + kv.value.GetString());
  if (const json::Value* me = json::find(sel, "matchExpressions"); me && me->IsArray())
    for (const auto& e : me->GetArray()) {
      const std::string key = json::get_string(e, {"key"}), op = json::get_string(e, {"operator"});
      std::vector<std::string> values;
      if (const json::Value* v = json::find(e, "values"); v && v->IsArray())
        for (const auto& x : v->GetArray())
          if (x.IsString()) values.emplace_back(x.GetString());
      if (op == "In" || op == "NotIn") reqs.push_back(key + (op == "In" ? " in (" : " notin (") + util::join(values, ",") + ")");
      else if (op == "Exists") reqs.push_back(key);
      else if (op == "DoesNotExist") reqs.push_back("!" + key);
      else reqs.push_back(key + " " + op);  // refused by the parser below
    }
  return util::join(reqs, ",");
}

class Reader : public json::YamlReader {
public:
  using YamlReader::YamlReader;

  double duration(const YAML::Node& n, const std::string& what, double fallback) {
    if (!n || n.IsNull()) return fallback;
    const std::string s = get_string(n, what);
    auto d = util::parse_duration(s);
    if (!d || *d <= 0) {
      err(n, what + " \"" + util::printable(s, 80) + "\" is not a duration (30s, 2m)");
      return fallback;
    }
    return *d;
  }

  OnError on_error(const YAML::Node& n, const std::string& what, OnError fallback) {
    if (!n || n.IsNull()) return fallback;
    const std::string s = get_string(n, what);
    if (s == "Fail") return OnError::fail;
    if (s == "Continue") return OnError::proceed;
    err(n, what + " must be Fail or Continue, not \"" + util::printable(s, 40) + "\"");
    return fallback;
  }

  std::vector<std::string> command(const YAML::Node& n, const std::string& what) {
    if (!n || n.IsNull()) {
      return {};
    }
    auto c = get_string_list(n, what);
    if (c.empty()) err(n, what + " must not be empty");
    return c;
  }

  Selection selection(const YAML::Node& e, const std::string& what) {
    Selection s;
    s.included_namespaces = get_string_list(field(e, "includedNamespaces"), what + ".includedNamespaces");
    s.excluded_namespaces = get_string_list(field(e, "excludedNamespaces"), what + ".excludedNamespaces");
    s.included_resources = get_string_list(field(e, "includedResources"), what + ".includedResources");
    s.excluded_resources = get_string_list(field(e, "excludedResources"), what + ".excludedResources");
    const YAML::Node ls = field(e, "labelSelector");
    if (ls && !ls.IsNull()) {
      if (!ls.IsMap()) {
        err(ls, what + ".labelSelector must be a map with matchLabels and matchExpressions");
      } else {
        check_keys(ls, {"matchLabels", "matchExpressions"}, what + ".labelSelector");
        json::Document d = get_value(ls, what + ".labelSelector");
        auto parsed = kube::LabelSelector::parse(selector_text(d));
        if (!parsed) err(ls, what + ".labelSelector: " + parsed.error().message);
        else s.selector = std::move(*parsed);
      }
    }
    return s;
  }

  ExecHook exec(const YAML::Node& n, const std::string& what, const std::string& name, bool restore,
                RestoreExec* r) {
    ExecHook h;
    h.name = name;
    if (restore)
      check_keys(n, {"container", "command", "onError", "execTimeout", "waitTimeout", "waitForReady"}, what);
    else
      check_keys(n, {"container", "command", "onError", "timeout"}, what);
    h.container = get_string(field(n, "container"), what + ".container");
    h.command = command(field(n, "command"), what + ".command");
    if (!field(n, "command")) err(n, what + ": command is required");
    h.on_error = on_error(field(n, "onError"), what + ".onError", restore ? OnError::proceed : OnError::fail);
    h.timeout_seconds = duration(field(n, restore ? "execTimeout" : "timeout"), what + (restore ? ".execTimeout" : ".timeout"), 30);
    if (r) {
      r->wait_timeout_seconds = duration(field(n, "waitTimeout"), what + ".waitTimeout", 300);
      r->wait_for_ready = field(n, "waitForReady") ? get_bool(field(n, "waitForReady"), what + ".waitForReady") : false;
    }
    return h;
  }

  std::vector<ExecHook> exec_list(const YAML::Node& n, const std::string& what, const std::string& name) {
    std::vector<ExecHook> out;
    if (!n || n.IsNull()) return out;
    if (!n.IsSequence()) {
      err(n, what + " must be a list of {exec: {...}}");
      return out;
    }
    for (const auto& h : n) {
      check_keys(h, {"exec"}, what);
      const YAML::Node e = field(h, "exec");
      if (!e || !e.IsMap()) {
        err(h, what + " entries need exec: {container, command, onError, timeout}");
        continue;
      }
      out.push_back(exec(e, what + ".exec", name, false, nullptr));
    }
    return out;
  }

  SessionHook session(const YAML::Node& n, const std::string& what, const std::string& name) {
    SessionHook s;
    s.name = name;
    check_keys(n, {"container", "command", "quiesce", "ready", "release", "timeout", "onError"}, what);
    s.container = get_string(field(n, "container"), what + ".container");
    s.command = command(field(n, "command"), what + ".command");
    if (!field(n, "command")) err(n, what + ": command is required");
    s.quiesce = get_string(field(n, "quiesce"), what + ".quiesce");
    s.ready = get_string(field(n, "ready"), what + ".ready");
    s.release = get_string(field(n, "release"), what + ".release");
    if (!field(n, "quiesce")) err(n, what + ": quiesce is required (the text that holds the application still)");
    if (s.ready.empty()) err(n, what + ": ready is required (a regular expression awaited on the output)");
    else {
      try {
        std::regex re(s.ready, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        err(field(n, "ready"), what + ".ready is not a regular expression: " + e.what());
      }
    }
    s.timeout_seconds = duration(field(n, "timeout"), what + ".timeout", 60);
    s.on_error = on_error(field(n, "onError"), what + ".onError", OnError::fail);
    return s;
  }

  // The maps of a backup or restore hooks section's resources list (what is not a map is reported).
  std::vector<YAML::Node> resource_entries(const YAML::Node& n, const std::string& what) {
    std::vector<YAML::Node> out;
    if (!n || n.IsNull()) return out;
    check_keys(n, {"resources"}, what);
    const YAML::Node res = field(n, "resources");
    if (!res || res.IsNull()) return out;
    if (!res.IsSequence()) {
      err(res, what + ".resources must be a list");
      return out;
    }
    for (const auto& e : res) {
      if (e.IsMap()) out.push_back(e);
      else err(e, what + ".resources entries must be maps");
    }
    return out;
  }

  void backup_hooks(const YAML::Node& n, const std::string& what, HooksFile& f) {
    for (const YAML::Node& e : resource_entries(n, what)) {
      const std::string w = what + ".resources";
      check_keys(e, {"name", "includedNamespaces", "excludedNamespaces", "includedResources", "excludedResources",
                     "labelSelector", "pre", "post", "session"},
                 w);
      BackupEntry b;
      b.name = get_string(field(e, "name"), w + ".name");
      if (b.name.empty()) err(e, w + ": name is required");
      for (const auto& other : f.backup)
        if (!b.name.empty() && other.name == b.name) err(field(e, "name"), w + ": name \"" + b.name + "\" is used twice");
      b.select = selection(e, w);
      b.pre = exec_list(field(e, "pre"), w + ".pre", b.name);
      b.post = exec_list(field(e, "post"), w + ".post", b.name);
      if (const YAML::Node s = field(e, "session"); s && !s.IsNull()) {
        if (!s.IsMap()) err(s, w + ".session must be a map");
        else b.session = session(s, w + ".session", b.name);
      }
      f.backup.push_back(std::move(b));
    }
  }

  void restore_hooks(const YAML::Node& n, const std::string& what, HooksFile& f) {
    for (const YAML::Node& e : resource_entries(n, what)) {
      const std::string w = what + ".resources";
      check_keys(e, {"name", "includedNamespaces", "excludedNamespaces", "includedResources", "excludedResources",
                     "labelSelector", "postHooks"},
                 w);
      RestoreEntry r;
      r.name = get_string(field(e, "name"), w + ".name");
      if (r.name.empty()) err(e, w + ": name is required");
      r.select = selection(e, w);
      const YAML::Node ph = field(e, "postHooks");
      if (ph && !ph.IsNull() && !ph.IsSequence()) err(ph, w + ".postHooks must be a list");
      if (ph && ph.IsSequence())
        for (const auto& h : ph) {
          check_keys(h, {"init", "exec"}, w + ".postHooks");
          if (const YAML::Node i = field(h, "init"); i && !i.IsNull()) {
            check_keys(i, {"initContainers", "timeout"}, w + ".postHooks.init");
            const YAML::Node ics = field(i, "initContainers");
            if (ics && ics.IsSequence()) {
              for (const auto& c : ics) {
                json::Document d = get_value(c, w + ".postHooks.init.initContainers");
                if (!d.IsObject() || json::get_string(d, {"name"}).empty() || json::get_string(d, {"image"}).empty() ||
                    !json::find(d, "command"))
                  err(c, w + ".postHooks.init.initContainers: every container needs name, image and command");
                else r.init_containers.push_back(std::move(d));
              }
            } else {
              err(i, w + ".postHooks.init: initContainers (a list of containers) is required");
            }
          }
          if (const YAML::Node x = field(h, "exec"); x && !x.IsNull()) {
            RestoreExec re;
            re.exec = exec(x, w + ".postHooks.exec", r.name, true, &re);
            r.exec.push_back(std::move(re));
          }
        }
      f.restore.push_back(std::move(r));
    }
  }
};

bool in_list(const std::vector<std::string>& globs, const std::string& s) {
  for (const auto& g : globs)
    if (util::glob_match(g, s)) return true;
  return false;
}

const json::Value* annotations_of(const json::Value& pod) { return json::at(pod, {"metadata", "annotations"}); }

std::optional<std::string> annotation(const json::Value& pod, const std::string& key) {
  const json::Value* a = annotations_of(pod);
  if (!a || !a->IsObject()) return std::nullopt;
  const json::Value* v = json::find(*a, key);
  if (!v || !v->IsString()) return std::nullopt;
  return std::string(v->GetString(), v->GetStringLength());
}

// One phase's annotation hook; prefix "pre.hook.backup.velero.io/" etc.
std::optional<ExecHook> annotation_exec(const json::Value& pod, const std::string& prefix, const char* timeout_key,
                                        OnError default_on_error) {
  auto cmd = annotation(pod, prefix + "command");
  if (!cmd) return std::nullopt;
  ExecHook h;
  h.name = "annotation";
  h.on_error = default_on_error;
  h.container = annotation(pod, prefix + "container").value_or("");
  if (auto c = parse_command(*cmd)) h.command = std::move(*c);
  else h.invalid = prefix + "command: " + c.error().message;
  if (auto e = annotation(pod, prefix + "on-error")) {
    if (*e == "Fail") h.on_error = OnError::fail;
    else if (*e == "Continue") h.on_error = OnError::proceed;
    else if (h.invalid.empty()) h.invalid = prefix + "on-error must be Fail or Continue, not \"" + util::printable(*e, 40) + "\"";
  }
  if (auto t = annotation(pod, prefix + timeout_key)) {
    auto d = util::parse_duration(*t);
    if (d && *d > 0) h.timeout_seconds = *d;
    else if (h.invalid.empty()) h.invalid = prefix + timeout_key + " \"" + util::printable(*t, 40) + "\" is not a duration";
  }
  return h;
}

}  // namespace

Result<std::vector<std::string>> parse_command(std::string_view text) {
  if (text.empty() || text.front() != '[') return std::vector<std::string>{std::string(text)};
  auto d = json::parse(text);
  if (!d || !d->IsArray() || d->Empty()) return unexpected(Errc::invalid, "not a JSON array of strings");
  std::vector<std::string> out;
  for (const auto& v : d->GetArray()) {
    if (!v.IsString()) return unexpected(Errc::invalid, "not a JSON array of strings");
    out.emplace_back(v.GetString(), v.GetStringLength());
  }
  return out;
}

bool Selection::matches(const std::string& ns, const json::Value& pod) const {
  if (!included_namespaces.empty() && !in_list(included_namespaces, ns)) return false;
  if (in_list(excluded_namespaces, ns)) return false;
  auto is_pods = [](const std::string& r) { return r == "*" || r == "pods" || r == "pod" || r == "po" || r == "pods."; };
  if (!included_resources.empty() && std::none_of(included_resources.begin(), included_resources.end(), is_pods))
    return false;
  if (std::any_of(excluded_resources.begin(), excluded_resources.end(), is_pods)) return false;
  return selector.matches(json::at(pod, {"metadata", "labels"}));
}

bool Selection::matches(const std::string& source_ns, const std::string& target_ns, const json::Value& pod) const {
  if (source_ns == target_ns) return matches(source_ns, pod);
  if (!included_namespaces.empty() && !in_list(included_namespaces, source_ns) && !in_list(included_namespaces, target_ns))
    return false;
  if (in_list(excluded_namespaces, source_ns) || in_list(excluded_namespaces, target_ns)) return false;
  Selection rest = *this;
  rest.included_namespaces.clear();
  rest.excluded_namespaces.clear();
  return rest.matches(target_ns, pod);
}

Result<HooksFile> parse(std::string_view text, const std::string& file_name) {
  Reader r(file_name);
  HooksFile f;
  f.origin = file_name;
  YAML::Node doc = r.load(text);
  if (!r.ok()) return unexpected(r.failure());
  if (!doc || !doc.IsMap()) {
    r.errors.push_back(file_name + ":1:1: a hooks file is a map (apiVersion: kbk.io/v1, kind: Hooks)");
    return unexpected(r.failure());
  }
  const std::string api = r.get_string(Reader::field(doc, "apiVersion"), "apiVersion");
  const std::string kind = r.get_string(Reader::field(doc, "kind"), "kind");
  if (api == k_api_version && kind == k_kind) {
    r.check_keys(doc, {"apiVersion", "kind", "metadata", "spec"}, "the file");
    const YAML::Node spec = Reader::field(doc, "spec");
    if (spec && spec.IsMap()) {
      r.check_keys(spec, {"backup", "restore"}, "spec");
      r.backup_hooks(Reader::field(spec, "backup"), "spec.backup", f);
      r.restore_hooks(Reader::field(spec, "restore"), "spec.restore", f);
    } else {
      r.err(doc, "spec is required (spec.backup and/or spec.restore)");
    }
  } else if (api == "velero.io/v1" && (kind == "Backup" || kind == "Restore")) {
    // A Velero object: only its hooks are read; the rest of it is the object's business, not the hooks'.
    const YAML::Node hooks = Reader::field(Reader::field(doc, "spec"), "hooks");
    if (!hooks) r.err(doc, "this " + kind + " has no spec.hooks");
    else if (kind == "Backup") r.backup_hooks(hooks, "spec.hooks", f);
    else r.restore_hooks(hooks, "spec.hooks", f);
  } else {
    r.err(doc, "apiVersion/kind \"" + util::printable(api, 60) + "\"/\"" + util::printable(kind, 40) +
                   "\" is not a hooks file (kbk.io/v1 Hooks, or a velero.io/v1 Backup or Restore)");
  }
  if (!r.ok()) return unexpected(r.failure());
  return f;
}

Result<HooksFile> load_file(const std::string& path) {
  auto text = util::read_file(path, util::k_max_input_file);
  if (!text) return std::move(text).error().wrap("hooks file " + path);
  return parse(*text, path);
}

PodBackupHooks backup_hooks_for(const json::Value& pod, const HooksFile* file) {
  PodBackupHooks out;
  const json::Value* a = annotations_of(pod);
  bool annotated = false;
  if (a && a->IsObject())
    for (const auto& kv : a->GetObject()) {
      const std::string_view k(kv.name.GetString(), kv.name.GetStringLength());
      if (k.starts_with("pre.hook.backup.velero.io/") || k.starts_with("post.hook.backup.velero.io/") ||
          k.starts_with("hook.backup.velero.io/") || k.starts_with("session.hook.backup.kbk.io/"))
        annotated = true;
    }
  if (annotated) {
    if (auto h = annotation_exec(pod, "pre.hook.backup.velero.io/", "timeout", OnError::fail)) out.pre.push_back(std::move(*h));
    else if (auto l = annotation_exec(pod, "hook.backup.velero.io/", "timeout", OnError::fail)) out.pre.push_back(std::move(*l));
    if (auto h = annotation_exec(pod, "post.hook.backup.velero.io/", "timeout", OnError::fail)) out.post.push_back(std::move(*h));
    const std::string p = "session.hook.backup.kbk.io/";
    if (auto cmd = annotation(pod, p + "command")) {
      SessionHook s;
      s.name = "annotation";
      s.container = annotation(pod, p + "container").value_or("");
      s.quiesce = annotation(pod, p + "quiesce").value_or("");
      s.ready = annotation(pod, p + "ready").value_or("");
      s.release = annotation(pod, p + "release").value_or("");
      auto c = parse_command(*cmd);
      if (c) s.command = std::move(*c);
      else s.invalid = p + "command: " + c.error().message;
      if (s.invalid.empty() && s.ready.empty()) s.invalid = p + "ready is required";
      if (s.invalid.empty()) {
        try {
          std::regex re(s.ready, std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
          s.invalid = p + "ready is not a regular expression: " + e.what();
        }
      }
      if (auto e = annotation(pod, p + "on-error")) {
        if (*e == "Continue") s.on_error = OnError::proceed;
        else if (*e != "Fail" && s.invalid.empty()) s.invalid = p + "on-error must be Fail or Continue";
      }
      if (auto t = annotation(pod, p + "timeout")) {
        auto d = util::parse_duration(*t);
        if (d && *d > 0) s.timeout_seconds = *d;
        else if (s.invalid.empty()) s.invalid = p + "timeout \"" + util::printable(*t, 40) + "\" is not a duration";
      }
      out.sessions.push_back(std::move(s));
    }
    return out;
  }
  if (!file) return out;
  const std::string ns = json::get_string(pod, {"metadata", "namespace"});
  for (const auto& e : file->backup) {
    if (!e.select.matches(ns, pod)) continue;
    out.pre.insert(out.pre.end(), e.pre.begin(), e.pre.end());
    out.post.insert(out.post.end(), e.post.begin(), e.post.end());
    if (e.session) out.sessions.push_back(*e.session);
  }
  return out;
}

PodRestoreHooks restore_hooks_for(const json::Value& pod, const std::string& source_ns, const std::string& target_ns,
                                  const HooksFile* file) {
  PodRestoreHooks out;
  const std::string ip = "init.hook.restore.velero.io/";
  if (auto image = annotation(pod, ip + "container-image")) {
    json::Document c;
    c.SetObject();
    auto& al = c.GetAllocator();
    const std::string name = annotation(pod, ip + "container-name")
                                 .value_or("restore-init-" + json::get_string(pod, {"metadata", "name"}).substr(0, 48));
    json::set(c, "name", json::make_string(name, al), al);
    json::set(c, "image", json::make_string(*image, al), al);
    bool ok = true;
    if (image->empty()) {
      out.problems.push_back(ip + "container-image is empty");
      ok = false;
    }
    if (auto cmd = annotation(pod, ip + "command")) {
      if (auto parsed = parse_command(*cmd)) {
        json::Value arr(rapidjson::kArrayType);
        for (const auto& s : *parsed) arr.PushBack(json::make_string(s, al), al);
        json::set(c, "command", std::move(arr), al);
      } else {
        out.problems.push_back(ip + "command: " + parsed.error().message);
        ok = false;
      }
    }
    if (ok) out.init_containers.push_back({"annotation", std::move(c)});
  }
  if (auto h = annotation_exec(pod, "post.hook.restore.velero.io/", "exec-timeout", OnError::proceed)) {
    RestoreExec re;
    re.exec = std::move(*h);
    if (auto w = annotation(pod, "post.hook.restore.velero.io/wait-timeout")) {
      auto d = util::parse_duration(*w);
      if (d && *d > 0) re.wait_timeout_seconds = *d;
      else if (re.exec.invalid.empty())
        re.exec.invalid = "post.hook.restore.velero.io/wait-timeout \"" + util::printable(*w, 40) + "\" is not a duration";
    }
    if (auto r = annotation(pod, "post.hook.restore.velero.io/wait-for-ready")) {
      if (*r == "true") re.wait_for_ready = true;
      else if (*r != "false" && re.exec.invalid.empty())
        re.exec.invalid = "post.hook.restore.velero.io/wait-for-ready must be true or false, not \"" + util::printable(*r, 40) + "\"";
    }
    out.exec.push_back(std::move(re));
  }
  if (!file) return out;
  const bool annotated_exec = !out.exec.empty();
  const bool annotated_init = !out.init_containers.empty() || !out.problems.empty();
  for (const auto& e : file->restore) {
    if (!e.select.matches(source_ns, target_ns, pod)) continue;
    if (!annotated_init)
      for (const auto& c : e.init_containers) out.init_containers.push_back({e.name, json::clone(c)});
    if (!annotated_exec) out.exec.insert(out.exec.end(), e.exec.begin(), e.exec.end());
  }
  return out;
}

Result<void> add_template_hooks(const std::vector<app::HookRef>& refs, HooksFile& out) {
  for (const auto& ref : refs) {
    std::string file = ref.where;
    for (int i = 0; i < 2; ++i)
      if (auto c = file.rfind(':'); c != std::string::npos) file.resize(c);
    const auto slash = file.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : file.substr(0, slash);
    const std::vector<std::string> candidates = {dir + "/hooks/" + ref.template_name + ".yaml",
                                                 dir + "/" + ref.template_name + ".yaml",
                                                 dir + "/../hooks/" + ref.template_name + ".yaml"};
    std::string path;
    for (const auto& c : candidates)
      if (path.empty() && ::access(c.c_str(), R_OK) == 0) path = c;
    if (path.empty())
      return unexpected(Errc::config, ref.where + ": hook template " + ref.template_name + " not found (looked for " +
                                          util::join(candidates, ", ") + ")");
    auto t = load_file(path);
    if (!t) return std::move(t).error().wrap(ref.where + ": hook template " + ref.template_name);
    auto sel = kube::LabelSelector::parse(ref.selector);
    if (!sel) return std::move(sel).error().wrap(ref.where);
    std::optional<double> timeout;
    if (!ref.timeout.empty()) timeout = util::parse_duration(ref.timeout);
    const std::string name = ref.template_name + "@" + ref.namespace_;
    Selection scope;
    scope.included_namespaces = {ref.namespace_};
    scope.selector = *sel;
    auto adjust = [&](auto& h) {
      h.name = name;
      if (!ref.container.empty()) h.container = ref.container;
      if (!ref.on_error.empty()) h.on_error = ref.on_error == "Fail" ? OnError::fail : OnError::proceed;
      if (timeout) h.timeout_seconds = *timeout;
    };
    for (auto e : t->backup) {
      e.name = name;
      e.select = scope;
      for (auto& h : e.pre) adjust(h);
      for (auto& h : e.post) adjust(h);
      if (e.session) adjust(*e.session);
      out.backup.push_back(std::move(e));
    }
    // The restore side: the container and onError as the reference gives them; the timeout is the backup's.
    for (auto& e : t->restore) {
      e.name = name;
      e.select = scope;
      for (auto& x : e.exec) {
        x.exec.name = name;
        if (!ref.container.empty()) x.exec.container = ref.container;
        if (!ref.on_error.empty()) x.exec.on_error = ref.on_error == "Fail" ? OnError::fail : OnError::proceed;
      }
      out.restore.push_back(std::move(e));
    }
  }
  return {};
}

}  // namespace kbk::hooks
