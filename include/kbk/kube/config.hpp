// Client configuration, loaded exactly as kubectl loads it (kubeconfig merge rules, contexts, in-cluster).
//
// load_config() throws kbk::Fatal(ExitCode::usage, "<file>: context \"x\": <field>: <what is wrong>") for a
// malformed or missing piece; nothing else in kbk reads kubeconfig files.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <kbk/util/error.hpp>

namespace kbk::kube {

// What the user said on the command line (global flags) and the environment.
struct ConfigFlags {
  std::string kubeconfig;        // --kubeconfig; "" = $KUBECONFIG, then ~/.kube/config, then in-cluster
  std::string context;           // --context
  std::string cluster;           // --cluster
  std::string user;              // --user
  std::string namespace_;        // -n/--namespace
  std::string as_user;           // --as
  std::vector<std::string> as_groups;  // --as-group (repeatable)
  std::string server;            // --server (rarely used; overrides the cluster's server)
  double request_timeout_seconds = 0;  // --request-timeout; 0 = default
};

// The cluster an exec plugin authenticates to, sent as spec.cluster in KUBERNETES_EXEC_INFO when the
// kubeconfig sets provideClusterInfo (filled by load_config).
struct ExecClusterInfo {
  std::string server;
  std::string certificate_authority_pem;
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
  std::string proxy_url;
  std::string config_json;       // the cluster's "client.authentication.k8s.io/exec" extension, "" when none
};

struct ExecConfig {
  std::string api_version;       // client.authentication.k8s.io/v1 or v1beta1
  std::string command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string install_hint;
  std::string interactive_mode;  // Never | IfAvailable | Always
  bool provide_cluster_info = false;
  std::string base_dir;          // the kubeconfig file's folder, for relative commands
  ExecClusterInfo cluster;
};

// Credentials an exec plugin returned, cached until expiry.
struct ExecCredential {
  std::string token;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::optional<std::chrono::system_clock::time_point> expires;
};

// Everything the REST client needs. PEM material is held in memory; keys are never written to disk.
struct RestConfig {
  std::string server;            // https://host:port[/prefix]
  std::string context_name;
  std::string cluster_name;
  std::string user_name;
  std::string namespace_ = "default";  // the effective namespace (flag > context > "default")
  bool namespace_explicit = false;     // -n given or set by the context

  // TLS
  std::string ca_pem;            // certificate-authority-data or the file's contents
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
  std::string proxy_url;         // http://, https://, socks5://
  // Auth (at most one kind is used: client cert and/or token/basic/exec)
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string token;
  std::string token_file;        // re-read when it changes
  std::string username;
  std::string password;
  std::optional<ExecConfig> exec;
  std::string impersonate_user;
  std::vector<std::string> impersonate_groups;

  double request_timeout_seconds = 0;
  std::string source;            // where it came from: file path(s) or "in-cluster", for messages
};

// Loads and resolves the configuration. Throws kbk::Fatal (exit 3) with one line naming file, context and field.
RestConfig load_config(const ConfigFlags& flags);

// Runs the exec plugin and returns its credential (cached per config until expiry; force re-runs after a 401).
// Errc::config with the install hint when the command is missing.
Result<ExecCredential> run_exec_plugin(const ExecConfig& exec, const std::string& server, bool force);

// An exec plugin's stdout read as an ExecCredential of exec.api_version (what run_exec_plugin does with it).
// Errc::config naming `name` (the plugin) and the field at fault.
Result<ExecCredential> parse_exec_credential(const std::string& text, const ExecConfig& exec, const std::string& name);

}  // namespace kbk::kube
