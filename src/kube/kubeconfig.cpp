// Reading one kubeconfig file into detail::Kubeconfig and merging several, as client-go's clientcmd does:
// the v1 Config schema (clusters/users/contexts as named lists), names unique within a file, relative paths
// resolved against the file's folder before merging, first-wins merging across files.
#include "kubeconfig.hpp"

#include <cmath>
#include <cstdio>
#include <unistd.h>

#include <kbk/json/json.hpp>
#include <kbk/util/exit_code.hpp>
#include <kbk/util/fs.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::kube::detail {
namespace {

[[noreturn]] void fail(const std::string& message) { throw Fatal(ExitCode::usage, message); }

const char* type_name(const json::Value& v) {
  if (v.IsString()) return "a string";
  if (v.IsBool()) return "a boolean";
  if (v.IsNumber()) return "a number";
  if (v.IsArray()) return "a list";
  if (v.IsObject()) return "a mapping";
  return "null";
}

// Reads fields of one mapping, naming `where` ("<file>: users[0] \"admin\"") in errors.
class Fields {
public:
  Fields(const json::Value& obj, std::string where) : m_obj(obj), m_where(std::move(where)) {}

  const json::Value* get(std::string_view key) const {
    const json::Value* v = json::find(m_obj, key);
    return v && !v->IsNull() ? v : nullptr;
  }

  // A string field. Plain YAML numbers and booleans are taken as their text, as kubectl's YAML decoder does
  // for string fields (`token: 12345`).
  std::string str(std::string_view key) const {
    const json::Value* v = get(key);
    if (!v) return "";
    if (v->IsString()) return std::string(v->GetString(), v->GetStringLength());
    if (v->IsBool()) return v->GetBool() ? "true" : "false";
    if (v->IsInt64()) return std::to_string(v->GetInt64());
    if (v->IsUint64()) return std::to_string(v->GetUint64());
    if (v->IsDouble()) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", v->GetDouble());
      return buf;
    }
    type_error(key, "a string", *v);
  }

  bool boolean(std::string_view key) const {
    const json::Value* v = get(key);
    if (!v) return false;
    if (!v->IsBool()) type_error(key, "true or false", *v);
    return v->GetBool();
  }

  std::vector<std::string> strings(std::string_view key) const {
    std::vector<std::string> out;
    const json::Value* v = get(key);
    if (!v) return out;
    if (!v->IsArray()) type_error(key, "a list of strings", *v);
    for (const auto& item : v->GetArray()) {
      if (!item.IsString()) type_error(key, "a list of strings", item);
      out.emplace_back(item.GetString(), item.GetStringLength());
    }
    return out;
  }

  const json::Value* object(std::string_view key) const {
    const json::Value* v = get(key);
    if (v && !v->IsObject()) type_error(key, "a mapping", *v);
    return v;
  }

  const json::Value* list(std::string_view key) const {
    const json::Value* v = get(key);
    if (v && !v->IsArray()) type_error(key, "a list", *v);
    return v;
  }

  std::string where(std::string_view key) const { return m_where + ": " + std::string(key); }
  const std::string& where() const { return m_where; }

  [[noreturn]] void type_error(std::string_view key, const char* want, const json::Value& got) const {
    fail(where(key) + ": expected " + want + ", found " + type_name(got));
  }

private:
  const json::Value& m_obj;
  std::string m_where;
};

std::string absolute_dir(const std::string& path) {
  std::string dir = util::dirname(path);
  if (util::is_absolute(dir)) return dir;
  char cwd[4096];
  if (::getcwd(cwd, sizeof cwd) == nullptr) return dir;
  if (dir == ".") return cwd;
  if (util::starts_with(dir, "./")) dir = dir.substr(2);
  return util::path_join(cwd, dir);
}

// client-go's ResolveLocalPaths: a relative path is relative to the file that holds it.
std::string resolve(const std::string& base_dir, const std::string& p) {
  if (p.empty() || util::is_absolute(p)) return p;
  return util::path_join(base_dir, p);
}

ExecEntry parse_exec(const Fields& f, const std::string& base_dir) {
  ExecEntry e;
  e.api_version = f.str("apiVersion");
  e.command = f.str("command");
  if (e.command.find('/') != std::string::npos) e.command = resolve(base_dir, e.command);
  e.args = f.strings("args");
  e.install_hint = f.str("installHint");
  e.interactive_mode = f.str("interactiveMode");
  e.provide_cluster_info = f.boolean("provideClusterInfo");
  if (const json::Value* env = f.list("env")) {
    size_t i = 0;
    for (const auto& item : env->GetArray()) {
      std::string at = "env[" + std::to_string(i++) + "]";
      if (!item.IsObject()) f.type_error(at, "a mapping with name and value", item);
      Fields ef(item, f.where(at));
      std::string name = ef.str("name");
      if (name.empty()) fail(ef.where("name") + ": missing (every exec env entry needs a name)");
      e.env.emplace_back(std::move(name), ef.str("value"));
    }
  }
  return e;
}

ClusterEntry parse_cluster(const Fields& f, const std::string& file, const std::string& base_dir) {
  ClusterEntry c;
  c.file = file;
  c.server = f.str("server");
  c.ca_file = resolve(base_dir, f.str("certificate-authority"));
  c.ca_data = f.str("certificate-authority-data");
  c.insecure_skip_tls_verify = f.boolean("insecure-skip-tls-verify");
  c.tls_server_name = f.str("tls-server-name");
  c.proxy_url = f.str("proxy-url");
  (void)f.boolean("disable-compression");
  if (const json::Value* ext = f.list("extensions")) {
    for (const auto& item : ext->GetArray()) {
      if (!item.IsObject()) continue;
      if (json::get_string(item, {"name"}) != "client.authentication.k8s.io/exec") continue;
      if (const json::Value* body = json::find(item, "extension")) c.exec_extension_json = json::to_string(*body);
    }
  }
  return c;
}

UserEntry parse_user(const Fields& f, const std::string& file, const std::string& base_dir) {
  UserEntry u;
  u.file = file;
  u.client_certificate = resolve(base_dir, f.str("client-certificate"));
  u.client_certificate_data = f.str("client-certificate-data");
  u.client_key = resolve(base_dir, f.str("client-key"));
  u.client_key_data = f.str("client-key-data");
  u.token = f.str("token");
  u.token_file = resolve(base_dir, f.str("tokenFile"));
  u.username = f.str("username");
  u.password = f.str("password");
  u.as = f.str("as");
  u.as_uid = f.str("as-uid");
  u.as_groups = f.strings("as-groups");
  if (const json::Value* extra = f.object("as-user-extra")) u.has_as_user_extra = extra->MemberCount() > 0;
  if (const json::Value* ap = f.object("auth-provider")) {
    u.auth_provider = json::get_string(*ap, {"name"});
  }
  if (const json::Value* exec = f.object("exec")) u.exec = parse_exec(Fields(*exec, f.where("exec")), base_dir);
  return u;
}

ContextEntry parse_context(const Fields& f, const std::string& file) {
  ContextEntry c;
  c.file = file;
  c.cluster = f.str("cluster");
  c.user = f.str("user");
  c.namespace_ = f.str("namespace");
  return c;
}

// Walks a named list (clusters, users, contexts): [{name: x, <body>: {...}}, ...].
template <class Entry, class Parse>
void parse_named_list(const Fields& top, std::string_view list_key, std::string_view body_key,
                      std::map<std::string, Entry>& out, Parse parse) {
  const json::Value* list = top.list(list_key);
  if (!list) return;
  size_t i = 0;
  for (const auto& item : list->GetArray()) {
    std::string at = top.where() + ": " + std::string(list_key) + "[" + std::to_string(i++) + "]";
    if (!item.IsObject()) fail(at + ": expected a mapping with name and " + std::string(body_key) + ", found " +
                               type_name(item));
    Fields entry(item, at);
    std::string name = entry.str("name");
    if (name.empty()) fail(at + ": name: missing");
    std::string where = top.where() + ": " + std::string(list_key) + "[" + std::to_string(i - 1) + "] \"" + name +
                        "\": " + std::string(body_key);
    static const json::Value k_empty(rapidjson::kObjectType);
    const json::Value* body = entry.object(body_key);
    if (out.count(name)) fail(top.where() + ": " + std::string(list_key) + ": duplicate name \"" + name + "\"");
    out.emplace(name, parse(Fields(body ? *body : k_empty, where)));
  }
}

// "<path>:3:5: message" (json::parse_yaml's format) -> "invalid YAML in <path>: line 3: message".
std::string yaml_error(const std::string& path, const std::string& message) {
  std::string rest = message;
  if (util::starts_with(rest, path)) rest = rest.substr(path.size());
  if (!rest.empty() && rest[0] == ':') {
    int line = 0, col = 0, consumed = 0;
    if (std::sscanf(rest.c_str(), ":%d:%d: %n", &line, &col, &consumed) == 2 && consumed > 0)
      return "invalid YAML in " + path + ": line " + std::to_string(line) + ": " + rest.substr(size_t(consumed));
    rest = rest.substr(1);
  }
  return "invalid YAML in " + path + ":" + (rest.empty() || rest[0] == ' ' ? "" : " ") + rest;
}

}  // namespace

Kubeconfig parse_kubeconfig(std::string_view text, const std::string& path) {
  Kubeconfig config;
  config.files.push_back(path);
  auto docs = json::parse_yaml_stream(text, path);
  if (!docs) fail(yaml_error(path, docs.error().message));
  if (docs->empty()) return config;  // an empty file is an empty configuration, as with kubectl
  if (docs->size() > 1)
    fail("invalid YAML in " + path + ": holds " + std::to_string(docs->size()) +
         " documents; a kubeconfig is one document");
  const json::Value& root = (*docs)[0];
  if (!root.IsObject()) fail(path + ": not a kubeconfig: expected a mapping at the top level, found " + type_name(root));
  Fields top(root, path);
  std::string api_version = top.str("apiVersion");
  if (!api_version.empty() && api_version != "v1")
    fail(path + ": apiVersion: \"" + api_version + "\" is not a kubeconfig version (expected v1)");
  std::string kind = top.str("kind");
  if (!kind.empty() && kind != "Config") fail(path + ": kind: \"" + kind + "\" is not a kubeconfig (expected Config)");

  std::string base_dir = absolute_dir(path);
  parse_named_list(top, "clusters", "cluster", config.clusters,
                   [&](const Fields& f) { return parse_cluster(f, path, base_dir); });
  parse_named_list(top, "users", "user", config.users,
                   [&](const Fields& f) { return parse_user(f, path, base_dir); });
  parse_named_list(top, "contexts", "context", config.contexts,
                   [&](const Fields& f) { return parse_context(f, path); });
  config.current_context = top.str("current-context");
  if (!config.current_context.empty()) config.current_context_file = path;
  (void)top.object("preferences");
  return config;
}

void merge_first_wins(Kubeconfig& into, Kubeconfig&& from) {
  for (auto& f : from.files) into.files.push_back(std::move(f));
  for (auto& [name, c] : from.clusters) into.clusters.emplace(name, std::move(c));
  for (auto& [name, u] : from.users) into.users.emplace(name, std::move(u));
  for (auto& [name, c] : from.contexts) into.contexts.emplace(name, std::move(c));
  if (into.current_context.empty() && !from.current_context.empty()) {
    into.current_context = std::move(from.current_context);
    into.current_context_file = std::move(from.current_context_file);
  }
}

}  // namespace kbk::kube::detail
