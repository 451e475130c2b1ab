// load_config: from flags and environment to one RestConfig, with kubectl's (client-go clientcmd) rules.
//
// Sources: --kubeconfig (that file only; missing is an error), else every file of $KUBECONFIG (missing ones
// skipped, first-wins merge), else ~/.kube/config, else in-cluster service-account configuration. kubectl falls
// back to http://localhost:8080 when all are absent; kbk refuses with "no configuration" instead.
// Only the context in use is checked in depth (files readable, base64, PEM, URLs), so every error can name the
// file, the context, the entry and the field.
#include <kbk/kube/config.hpp>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sys/stat.h>

#include <kbk/util/exit_code.hpp>
#include <kbk/util/fs.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

#include "kubeconfig.hpp"

namespace kbk::kube {
namespace detail {
namespace {

[[noreturn]] void fail(const std::string& message) { throw Fatal(ExitCode::usage, message); }

std::string quote(const std::string& s) { return "\"" + s + "\""; }

// Reads a whole file; the error reads as Go's ("open /x: no such file or directory").
Result<std::string> read_text(const std::string& path) {
  auto r = util::read_file(path, util::k_max_input_file);
  if (r) return r;
  std::string what = r.error().message;
  if (util::starts_with(what, path + ": ")) what = what.substr(path.size() + 2);
  if (!what.empty()) what[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
  return unexpected(Errc::io, "open " + path + ": " + what);
}

bool file_exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool has_pem_block(const std::string& text, std::string_view label_suffix) {
  size_t pos = 0;
  while ((pos = text.find("-----BEGIN ", pos)) != std::string::npos) {
    size_t end = text.find("-----", pos + 11);
    if (end == std::string::npos) return false;
    std::string_view label(text.data() + pos + 11, end - pos - 11);
    if (util::ends_with(label, label_suffix)) return true;
    pos = end;
  }
  return false;
}

// Where an entry's errors point: "<file>: context \"c\": user \"u\"", the file being the one defining the entry.
struct Where {
  std::string context_file;
  std::string context_name;

  std::string context_prefix() const { return context_file + ": context " + quote(context_name); }
  std::string entry(const std::string& file, const char* kind, const std::string& name) const {
    std::string s = file;
    if (!context_name.empty()) s += ": context " + quote(context_name);
    return s + ": " + kind + " " + quote(name);
  }
};

// "-----BEGIN ..." material from a file or base64 data field.
std::string pem_from(const std::string& where, const std::string& file_field, const std::string& file,
                     const std::string& data_field, const std::string& data) {
  if (!data.empty()) {
    auto decoded = util::base64_decode(data);
    if (!decoded) fail(where + ": " + data_field + ": not valid base64");
    return std::move(*decoded);
  }
  auto text = read_text(file);
  if (!text) fail(where + ": " + file_field + ": " + text.error().message);
  return std::move(*text);
}

// `what` names the field in errors: "<file>: context \"c\": cluster \"k\": server" or "--server".
void check_url_scheme(const std::string& what, const std::string& url, std::initializer_list<const char*> schemes,
                      const char* hint) {
  auto sep = url.find("://");
  std::string scheme = sep == std::string::npos ? "" : util::to_lower(url.substr(0, sep));
  for (const char* s : schemes)
    if (scheme == s) {
      if (url.size() == sep + 3 || url[sep + 3] == '/') fail(what + ": " + quote(url) + " has no host");
      return;
    }
  if (scheme.empty()) fail(what + ": " + quote(url) + " has no scheme; " + hint);
  fail(what + ": " + quote(url) + ": unsupported scheme " + quote(scheme) + "; " + hint);
}

std::string auth_provider_advice(const std::string& name) {
  if (name == "gcp") return "use the gke-gcloud-auth-plugin exec credential plugin instead";
  if (name == "azure") return "use the kubelogin exec credential plugin instead";
  if (name == "oidc") return "use an exec credential plugin such as kubelogin (kubectl oidc-login) instead";
  return "use an exec credential plugin instead";
}

void resolve_cluster(RestConfig& out, const ClusterEntry& c, const std::string& where, const ConfigFlags& flags) {
  out.server = !flags.server.empty() ? flags.server : c.server;
  const std::string server_where = !flags.server.empty() ? std::string("--server") : where + ": server";
  if (out.server.empty()) fail(where + ": server: missing");
  if (out.server.find("://") == std::string::npos)
    fail(server_where + ": " + quote(out.server) + " has no scheme; write https://" + out.server);
  check_url_scheme(server_where, out.server, {"https", "http"}, "use https:// (or http:// for a plain-HTTP server)");
  while (out.server.size() > 1 && out.server.back() == '/' &&
         out.server.find('/', out.server.find("://") + 3) != std::string::npos)
    out.server.pop_back();

  if (c.insecure_skip_tls_verify && (!c.ca_file.empty() || !c.ca_data.empty())) {
    fail(where + ": insecure-skip-tls-verify: cannot be combined with " +
         (c.ca_data.empty() ? "certificate-authority" : "certificate-authority-data") +
         " (specifying a root certificates file with the insecure flag is not allowed)");
  }
  out.insecure_skip_tls_verify = c.insecure_skip_tls_verify;
  if (!c.ca_file.empty() || !c.ca_data.empty()) {
    // Both may be set: the file must still be readable (kubectl checks it), the data wins.
    if (!c.ca_file.empty() && !c.ca_data.empty()) {
      auto text = read_text(c.ca_file);
      if (!text) fail(where + ": certificate-authority: " + text.error().message);
    }
    out.ca_pem = pem_from(where, "certificate-authority", c.ca_file, "certificate-authority-data", c.ca_data);
    if (!has_pem_block(out.ca_pem, "CERTIFICATE")) {
      fail(where + ": " + (c.ca_data.empty() ? "certificate-authority: " + c.ca_file : std::string("certificate-authority-data")) +
           ": no PEM certificate found (expected -----BEGIN CERTIFICATE-----)");
    }
  }
  // --server without a matching TLS server name: the kubeconfig's name was for the other address.
  out.tls_server_name = flags.server.empty() ? c.tls_server_name : "";
  out.proxy_url = c.proxy_url;
  if (!out.proxy_url.empty())
    check_url_scheme(where + ": proxy-url", out.proxy_url, {"http", "https", "socks5"}, "must be http, https, or socks5");
}

void resolve_exec(RestConfig& out, const UserEntry& u, const std::string& where, const ClusterEntry* cluster) {
  const ExecEntry& e = *u.exec;
  const std::string w = where + ": exec";
  if (e.command.empty()) fail(w + ": command: missing");
  static const std::string k_v1 = "client.authentication.k8s.io/v1";
  static const std::string k_v1beta1 = "client.authentication.k8s.io/v1beta1";
  if (e.api_version.empty()) fail(w + ": apiVersion: missing (use " + k_v1 + " or " + k_v1beta1 + ")");
  if (e.api_version == "client.authentication.k8s.io/v1alpha1")
    fail(w + ": apiVersion: client.authentication.k8s.io/v1alpha1 is no longer supported (removed in Kubernetes "
             "1.24); use " + k_v1 + " or " + k_v1beta1);
  if (e.api_version != k_v1 && e.api_version != k_v1beta1)
    fail(w + ": apiVersion: " + quote(e.api_version) + " is not supported; use " + k_v1 + " or " + k_v1beta1);
  ExecConfig x;
  x.api_version = e.api_version;
  x.command = e.command;
  x.args = e.args;
  x.env = e.env;
  x.install_hint = e.install_hint;
  x.interactive_mode = e.interactive_mode;
  if (x.interactive_mode.empty()) {
    if (x.api_version == k_v1)
      fail(w + ": interactiveMode: missing (required by " + k_v1 + "; one of Never, IfAvailable, Always)");
    x.interactive_mode = "IfAvailable";  // the v1beta1 default
  } else if (x.interactive_mode != "Never" && x.interactive_mode != "IfAvailable" && x.interactive_mode != "Always") {
    fail(w + ": interactiveMode: " + quote(x.interactive_mode) + " is not one of Never, IfAvailable, Always");
  }
  x.provide_cluster_info = e.provide_cluster_info;
  x.base_dir = util::dirname(u.file);
  x.cluster.server = out.server;
  x.cluster.certificate_authority_pem = out.ca_pem;
  x.cluster.insecure_skip_tls_verify = out.insecure_skip_tls_verify;
  x.cluster.tls_server_name = out.tls_server_name;
  x.cluster.proxy_url = out.proxy_url;
  if (cluster) x.cluster.config_json = cluster->exec_extension_json;
  out.exec = std::move(x);
}

void resolve_user(RestConfig& out, const UserEntry& u, const std::string& where, const ClusterEntry* cluster) {
  if (u.auth_provider) {
    std::string name = u.auth_provider->empty() ? "(unnamed)" : *u.auth_provider;
    fail(where + ": auth-provider: " + quote(name) + " is not supported by kbk; " + auth_provider_advice(name));
  }
  // Client certificate and key: file or data, never both (kubectl refuses both).
  bool has_cert = !u.client_certificate.empty() || !u.client_certificate_data.empty();
  bool has_key = !u.client_key.empty() || !u.client_key_data.empty();
  if (!u.client_certificate.empty() && !u.client_certificate_data.empty())
    fail(where + ": client-certificate-data: both client-certificate and client-certificate-data are set; keep one");
  if (!u.client_key.empty() && !u.client_key_data.empty())
    fail(where + ": client-key-data: both client-key and client-key-data are set; keep one");
  if (has_cert && !has_key) fail(where + ": client-key: missing (client-certificate is set; both are needed)");
  if (has_key && !has_cert) fail(where + ": client-certificate: missing (client-key is set; both are needed)");
  if (has_cert) {
    out.client_cert_pem = pem_from(where, "client-certificate", u.client_certificate, "client-certificate-data",
                                   u.client_certificate_data);
    if (!has_pem_block(out.client_cert_pem, "CERTIFICATE"))
      fail(where + ": " + (u.client_certificate_data.empty() ? "client-certificate: " + u.client_certificate
                                                            : std::string("client-certificate-data")) +
           ": no PEM certificate found (expected -----BEGIN CERTIFICATE-----)");
    out.client_key_pem = pem_from(where, "client-key", u.client_key, "client-key-data", u.client_key_data);
    if (!has_pem_block(out.client_key_pem, "PRIVATE KEY"))
      fail(where + ": " + (u.client_key_data.empty() ? "client-key: " + u.client_key : std::string("client-key-data")) +
           ": no PEM private key found (expected -----BEGIN ... PRIVATE KEY-----)");
  }
  // Bearer token: a literal token is used as is (tokenFile then only refreshes it); else tokenFile is read now.
  if (!u.token.empty()) {
    out.token = u.token;
    out.token_file = u.token_file;
  } else if (!u.token_file.empty()) {
    auto text = read_text(u.token_file);
    if (!text) fail(where + ": tokenFile: " + text.error().message);
    out.token = std::string(util::trim(*text));
    if (out.token.empty()) fail(where + ": tokenFile: " + u.token_file + ": file is empty");
    out.token_file = u.token_file;
  }
  out.username = u.username;
  out.password = u.password;
  bool has_token = !out.token.empty();
  bool has_basic = !u.username.empty() || !u.password.empty();
  if (has_token && has_basic)
    fail(where + ": username: more than one authentication method (token and username/password); keep one");
  if (u.exec) {
    if (has_token || has_basic || has_cert) {
      // client-go does the same: explicit credentials win, the plugin is not run.
      log::debug(where + ": exec: not used, the user also has a " +
                 (has_cert ? "client certificate" : has_token ? "token" : "username/password"));
    } else {
      resolve_exec(out, u, where, cluster);
    }
  }
  out.impersonate_user = u.as;
  out.impersonate_groups = u.as_groups;
  if (u.has_as_user_extra) log::debug(where + ": as-user-extra: ignored (kbk does not send Impersonate-Extra headers)");
  if (!u.as_uid.empty()) log::debug(where + ": as-uid: ignored (kbk does not send the Impersonate-Uid header)");
  if (!out.impersonate_groups.empty() && out.impersonate_user.empty())
    fail(where + ": as-groups: set without as (impersonating groups needs a user to impersonate)");
}

std::vector<std::string> kubeconfig_env_files(const std::string& value) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (auto& p : util::split(value, ':'))
    if (seen.insert(p).second) out.push_back(p);
  return out;
}

std::string names_of(const std::map<std::string, ContextEntry>& m) {
  std::vector<std::string> names;
  for (const auto& [k, v] : m) names.push_back(k);
  return names.empty() ? "none" : util::join(names, ", ");
}

}  // namespace

void apply_common_flags(RestConfig& config, const ConfigFlags& flags, const std::string& where) {
  if (!flags.as_user.empty()) config.impersonate_user = flags.as_user;
  if (!flags.as_groups.empty()) config.impersonate_groups = flags.as_groups;
  if (!config.impersonate_groups.empty() && config.impersonate_user.empty()) {
    if (!flags.as_groups.empty()) fail("--as-group: needs --as (impersonating groups needs a user to impersonate)");
    fail(where + ": as-groups: set without as");
  }
  if (flags.request_timeout_seconds < 0) fail("--request-timeout: must not be negative");
  config.request_timeout_seconds = flags.request_timeout_seconds;
}

}  // namespace detail

RestConfig load_config(const ConfigFlags& flags) {
  using namespace detail;
  Kubeconfig merged;
  std::string searched;  // for the "no configuration" message
  if (!flags.kubeconfig.empty()) {
    std::string path = util::expand_home(flags.kubeconfig);
    auto text = read_text(path);
    if (!text) fail("--kubeconfig: " + text.error().message);
    merged = parse_kubeconfig(*text, path);
  } else {
    std::vector<std::string> candidates;
    std::string env_value = env("KUBECONFIG");
    if (!util::split(env_value, ':').empty()) {
      candidates = kubeconfig_env_files(env_value);
      searched = "KUBECONFIG lists only missing files (" + util::join(candidates, ", ") + ")";
    } else {
      std::string home = env("HOME");
      if (!home.empty()) {
        candidates.push_back(util::path_join(home, ".kube/config"));
        searched = "KUBECONFIG is unset and " + candidates[0] + " does not exist";
      } else {
        searched = "KUBECONFIG and HOME are unset";
      }
    }
    bool first = true;
    for (const auto& path : candidates) {
      if (!file_exists(path)) {
        log::debug("kubeconfig " + path + ": does not exist, skipped");
        continue;
      }
      auto text = read_text(path);
      if (!text) fail("kubeconfig: " + text.error().message);
      Kubeconfig one = parse_kubeconfig(*text, path);
      if (first) merged = std::move(one);
      else merge_first_wins(merged, std::move(one));
      first = false;
    }
  }
  const std::string files = util::join(merged.files, ", ");

  bool names_given = !flags.context.empty() || !flags.cluster.empty() || !flags.user.empty();
  if (merged.empty() && !names_given) {
    if (!flags.server.empty()) {
      // Nothing to read, but a server was named: use it without credentials, as kubectl does.
      RestConfig config;
      ClusterEntry none;
      resolve_cluster(config, none, "--server", flags);
      if (!flags.namespace_.empty()) {
        config.namespace_ = flags.namespace_;
        config.namespace_explicit = true;
      }
      apply_common_flags(config, flags, "--server");
      config.source = "--server";
      return config;
    }
    std::string why;
    if (in_cluster_possible(why)) {
      log::info(4, "no kubeconfig found; using the in-cluster service-account configuration");
      return load_in_cluster(flags);
    }
    std::string what = merged.files.empty() ? searched : files + " holds no clusters, users or contexts";
    fail("no configuration: " + what + ", and not running in a cluster (" + why +
         "); pass --kubeconfig FILE or set KUBECONFIG (kbk does not fall back to localhost:8080 as kubectl does)");
  }

  RestConfig config;
  config.source = files;
  std::string context_name = !flags.context.empty() ? flags.context : merged.current_context;
  const ContextEntry* context = nullptr;
  Where where;
  if (!context_name.empty()) {
    auto it = merged.contexts.find(context_name);
    if (it == merged.contexts.end()) {
      std::string origin = flags.context.empty() ? " (the current-context of " + merged.current_context_file + ")" : "";
      fail("context " + quote(context_name) + origin + " not found in " + files + " (contexts: " +
           names_of(merged.contexts) + ")");
    }
    context = &it->second;
    where.context_file = context->file;
    where.context_name = context_name;
  } else if (flags.cluster.empty() && flags.user.empty()) {
    fail(files + ": no current-context is set and --context was not given (contexts: " + names_of(merged.contexts) +
         ")");
  }
  config.context_name = context_name;

  // Cluster.
  const std::string cluster_name = !flags.cluster.empty() ? flags.cluster : context ? context->cluster : "";
  const ClusterEntry* cluster = nullptr;
  std::string cluster_where;
  if (cluster_name.empty()) {
    if (flags.server.empty() && !context)
      fail("--user: given without --cluster, --server or a context, so there is no cluster to talk to");
    if (flags.server.empty()) fail(where.context_prefix() + ": cluster: not set");
  } else {
    auto it = merged.clusters.find(cluster_name);
    if (it == merged.clusters.end()) {
      if (!flags.cluster.empty()) fail("--cluster: cluster " + quote(cluster_name) + " not found in " + files);
      fail(where.context_prefix() + ": cluster " + quote(cluster_name) + " not found in " + files);
    }
    cluster = &it->second;
    cluster_where = where.entry(cluster->file, "cluster", cluster_name);
  }
  config.cluster_name = cluster_name;
  static const ClusterEntry k_no_cluster;
  resolve_cluster(config, cluster ? *cluster : k_no_cluster, cluster ? cluster_where : "--server", flags);

  // User.
  const std::string user_name = !flags.user.empty() ? flags.user : context ? context->user : "";
  config.user_name = user_name;
  std::string user_where;
  if (!user_name.empty()) {
    auto it = merged.users.find(user_name);
    if (it == merged.users.end()) {
      if (!flags.user.empty()) fail("--user: user " + quote(user_name) + " not found in " + files);
      fail(where.context_prefix() + ": user " + quote(user_name) + " not found in " + files);
    }
    user_where = where.entry(it->second.file, "user", user_name);
    resolve_user(config, it->second, user_where, cluster);
  }

  // Namespace: -n, else the context's, else "default".
  if (!flags.namespace_.empty()) {
    config.namespace_ = flags.namespace_;
    config.namespace_explicit = true;
  } else if (context && !context->namespace_.empty()) {
    config.namespace_ = context->namespace_;
    config.namespace_explicit = true;
  }
  apply_common_flags(config, flags, user_where.empty() ? where.context_prefix() : user_where);
  log::info(4, "kubeconfig: context " + quote(context_name) + ", cluster " + quote(cluster_name) + ", user " +
                   quote(user_name) + ", server " + config.server + " (from " + files + ")");
  return config;
}

}  // namespace kbk::kube
