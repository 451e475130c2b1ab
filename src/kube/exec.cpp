// Exec credential plugins (client.authentication.k8s.io v1 and v1beta1), as client-go runs them.
//
// The plugin gets our environment plus the kubeconfig's env entries plus KUBERNETES_EXEC_INFO (an ExecCredential
// with spec.interactive, and spec.cluster when provideClusterInfo is set); our stdin only when interactive, else
// /dev/null; our stderr as its stderr. Its stdout must be one ExecCredential of the configured apiVersion with a
// token or a client certificate and key. Credentials are cached per (plugin, arguments, environment, cluster)
// for the life of the process, until expirationTimestamp minus a small skew; force (after a 401) re-runs.
// Tokens and keys are never logged.
#include <kbk/kube/config.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <kbk/json/json.hpp>
#include <kbk/util/fs.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

extern char** environ;

namespace kbk::kube {
namespace {

// A credential this close to its expiry is treated as expired, so that it does not lapse in flight.
constexpr auto k_expiry_skew = std::chrono::seconds(5);
constexpr size_t k_max_output = 1 << 20;

struct Slot {
  std::mutex mutex;  // held while the plugin runs: concurrent callers wait for one run instead of starting many
  std::optional<ExecCredential> credential;
};

std::mutex g_cache_mutex;
std::map<std::string, std::shared_ptr<Slot>> g_cache;

std::string cache_key(const ExecConfig& e, const std::string& server) {
  std::string key;
  auto add = [&key](const std::string& s) {
    key += std::to_string(s.size());
    key += ':';
    key += s;
  };
  add(e.api_version);
  add(e.command);
  add(e.base_dir);
  key += "args" + std::to_string(e.args.size());
  for (const auto& a : e.args) add(a);
  key += "env" + std::to_string(e.env.size());
  for (const auto& [k, v] : e.env) {
    add(k);
    add(v);
  }
  add(server);
  add(e.interactive_mode);
  key += e.provide_cluster_info ? "P" : "p";
  if (e.provide_cluster_info) {
    add(e.cluster.certificate_authority_pem);
    add(e.cluster.tls_server_name);
    add(e.cluster.proxy_url);
    add(e.cluster.config_json);
    key += e.cluster.insecure_skip_tls_verify ? "I" : "i";
  }
  return key;
}

std::shared_ptr<Slot> slot_for(const std::string& key) {
  std::lock_guard lock(g_cache_mutex);
  auto& slot = g_cache[key];
  if (!slot) slot = std::make_shared<Slot>();
  return slot;
}

std::string one_line(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : util::trim(text)) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

bool is_executable_file(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// The program to run: a command with a '/' is a path (relative to the kubeconfig's folder), else PATH is searched.
// nullopt when nothing is found.
std::optional<std::string> find_program(const ExecConfig& e) {
  if (e.command.find('/') != std::string::npos) {
    std::string path = util::is_absolute(e.command) || e.base_dir.empty() ? e.command : util::path_join(e.base_dir, e.command);
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return path;
  }
  const char* path_env = std::getenv("PATH");
  std::string path = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
  for (const auto& dir : util::split(path, ':', false)) {
    std::string candidate = util::path_join(dir.empty() ? "." : dir, e.command);
    if (is_executable_file(candidate)) return candidate;
  }
  return std::nullopt;
}

std::string exec_info_json(const ExecConfig& e, const std::string& server, bool interactive) {
  json::Document doc;
  doc.SetObject();
  auto& a = doc.GetAllocator();
  json::set(doc, "kind", json::make_string("ExecCredential", a), a);
  json::set(doc, "apiVersion", json::make_string(e.api_version, a), a);
  json::Value& spec = json::ensure_object(doc, "spec", a);
  if (e.provide_cluster_info) {
    json::Value& cluster = json::ensure_object(spec, "cluster", a);
    json::set(cluster, "server", json::make_string(e.cluster.server.empty() ? server : e.cluster.server, a), a);
    if (!e.cluster.tls_server_name.empty())
      json::set(cluster, "tls-server-name", json::make_string(e.cluster.tls_server_name, a), a);
    if (e.cluster.insecure_skip_tls_verify) json::set(cluster, "insecure-skip-tls-verify", json::Value(true), a);
    if (!e.cluster.certificate_authority_pem.empty())
      json::set(cluster, "certificate-authority-data",
                json::make_string(util::base64_encode(e.cluster.certificate_authority_pem), a), a);
    if (!e.cluster.proxy_url.empty()) json::set(cluster, "proxy-url", json::make_string(e.cluster.proxy_url, a), a);
    if (!e.cluster.config_json.empty()) {
      if (auto config = json::parse(e.cluster.config_json, "exec extension")) {
        json::Value copy(*config, a);
        json::set(cluster, "config", std::move(copy), a);
      }
    }
  }
  json::set(spec, "interactive", json::Value(interactive), a);
  return json::to_string(doc);
}

std::vector<std::string> plugin_environment(const ExecConfig& e, const std::string& exec_info) {
  std::vector<std::string> env;
  auto set = [&env](const std::string& name, const std::string& value) {
    std::string prefix = name + "=";
    for (auto& entry : env)
      if (util::starts_with(entry, prefix)) {
        entry = prefix + value;
        return;
      }
    env.push_back(prefix + value);
  };
  for (char** p = environ; p && *p; ++p) env.emplace_back(*p);
  for (const auto& [k, v] : e.env) set(k, v);
  set("KUBERNETES_EXEC_INFO", exec_info);
  return env;
}

struct RunOutput {
  std::string stdout_text;
  int status = 0;
};

Result<RunOutput> spawn_and_wait(const std::string& program, const ExecConfig& e, bool interactive,
                                 const std::vector<std::string>& env, const std::string& name) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return unexpected(Errc::io, name + ": pipe: " + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDOUT_FILENO);
  if (!interactive) posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);

  std::vector<std::string> args_storage;
  args_storage.push_back(e.command);
  for (const auto& a : e.args) args_storage.push_back(a);
  std::vector<char*> argv;
  for (auto& a : args_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage = env;
  std::vector<char*> envp;
  for (auto& v : env_storage) envp.push_back(v.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    return unexpected(Errc::config, name + ": cannot run " + program + ": " + std::strerror(rc));
  }
  RunOutput out;
  bool too_long = false;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.stdout_text.size() + static_cast<size_t>(n) > k_max_output) too_long = true;
    if (!too_long) out.stdout_text.append(buf, static_cast<size_t>(n));
  }
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return unexpected(Errc::io, name + ": waitpid: " + std::strerror(errno));
  }
  out.status = status;
  if (WIFSIGNALED(status))
    return unexpected(Errc::config, name + ": killed by signal " + std::to_string(WTERMSIG(status)));
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    return unexpected(Errc::config, name + ": failed with exit code " + std::to_string(WEXITSTATUS(status)));
  if (too_long) return unexpected(Errc::config, name + ": wrote more than 1 MiB to stdout");
  return out;
}

bool stdin_is_terminal() { return ::isatty(STDIN_FILENO) == 1; }

}  // namespace

Result<ExecCredential> parse_exec_credential(const std::string& text, const ExecConfig& e, const std::string& name) {
  auto doc = json::parse(text, name + ": output");
  if (!doc) return unexpected(Errc::config, doc.error().message + " (expected an ExecCredential)");
  if (!doc->IsObject()) return unexpected(Errc::config, name + ": output is not an ExecCredential object");
  std::string kind = json::get_string(*doc, {"kind"});
  std::string api_version = json::get_string(*doc, {"apiVersion"});
  if (kind != "ExecCredential")
    return unexpected(Errc::config, name + ": output has kind \"" + kind + "\", expected ExecCredential");
  if (api_version != e.api_version)
    return unexpected(Errc::config, name + ": returned apiVersion \"" + api_version +
                                        "\" but the kubeconfig configures \"" + e.api_version + "\"");
  const json::Value* status = json::find(*doc, "status");
  if (!status || !status->IsObject()) return unexpected(Errc::config, name + ": returned no status");
  ExecCredential cred;
  cred.token = json::get_string(*status, {"token"});
  cred.client_cert_pem = json::get_string(*status, {"clientCertificateData"});
  cred.client_key_pem = json::get_string(*status, {"clientKeyData"});
  if (cred.client_cert_pem.empty() != cred.client_key_pem.empty())
    return unexpected(Errc::config, name + ": returned only one of clientCertificateData and clientKeyData, not both");
  if (cred.token.empty() && cred.client_cert_pem.empty())
    return unexpected(Errc::config, name + ": returned neither status.token nor clientCertificateData and clientKeyData");
  if (const json::Value* exp = json::find(*status, "expirationTimestamp"); exp && !exp->IsNull()) {
    std::string s = exp->IsString() ? exp->GetString() : json::to_string(*exp);
    cred.expires = util::parse_rfc3339(s);
    if (!cred.expires)
      return unexpected(Errc::config, name + ": status.expirationTimestamp: \"" + s + "\" is not an RFC 3339 time");
  }
  return cred;
}

Result<ExecCredential> run_exec_plugin(const ExecConfig& exec, const std::string& server, bool force) {
  const std::string name = "exec plugin \"" + exec.command + "\"";
  auto slot = slot_for(cache_key(exec, server));
  std::lock_guard lock(slot->mutex);
  auto now = util::system_clock().now();
  if (!force && slot->credential && (!slot->credential->expires || now + k_expiry_skew < *slot->credential->expires)) {
    log::info(6, name + ": using the cached credential");
    return *slot->credential;
  }

  bool interactive = false;
  if (exec.interactive_mode == "Always") {
    if (!stdin_is_terminal())
      return unexpected(Errc::config, name + ": interactiveMode is Always but standard input is not a terminal "
                                             "(exec plugin cannot support interactive mode)");
    interactive = true;
  } else if (exec.interactive_mode == "IfAvailable" || exec.interactive_mode.empty()) {
    interactive = stdin_is_terminal();
  }

  auto program = find_program(exec);
  if (!program) {
    std::string hint = exec.install_hint.empty()
                           ? "It looks like you are trying to use a client-go credential plugin that is not installed; "
                             "see https://kubernetes.io/docs/reference/access-authn-authz/authentication/"
                             "#client-go-credential-plugins"
                           : one_line(exec.install_hint);
    std::string where = exec.command.find('/') != std::string::npos ? "" : " on PATH";
    return unexpected(Errc::config, name + ": executable not found" + where + ". " + hint);
  }
  if (!is_executable_file(*program))
    return unexpected(Errc::config, name + ": " + *program + " is not an executable file");

  log::info(4, name + ": running " + *program + (force ? " (refresh forced)" : ""));
  auto env = plugin_environment(exec, exec_info_json(exec, server, interactive));
  KBK_ASSIGN_OR_RETURN(RunOutput out, spawn_and_wait(*program, exec, interactive, env, name));
  KBK_ASSIGN_OR_RETURN(ExecCredential cred, parse_exec_credential(out.stdout_text, exec, name));
  log::info(4, name + ": got a " + (cred.token.empty() ? "client certificate" : "token") +
                   (cred.expires ? " expiring " + util::format_rfc3339(*cred.expires) : " without expiry"));
  slot->credential = cred;
  return cred;
}

}  // namespace kbk::kube
