// Internal to the kube module: kubeconfig files as parsed (one file, then merged), before a context is chosen.
//
// Parsing checks the shape (types, names, duplicates) of a whole file, as kubectl's decoder does; content checks
// (files readable, base64, PEM, URL schemes) happen later, only for the context actually used, so that their
// errors can name the context. Relative paths are resolved here, per file, against that file's folder.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <kbk/kube/config.hpp>

namespace kbk::kube::detail {

struct ExecEntry {
  std::string api_version;
  std::string command;           // resolved against the file's folder when it contains a '/'
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string install_hint;
  std::string interactive_mode;
  bool provide_cluster_info = false;
};

struct ClusterEntry {
  std::string file;              // the kubeconfig file that defined it
  std::string server;
  std::string ca_file;           // absolute
  std::string ca_data;           // base64, as written
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
  std::string proxy_url;
  std::string exec_extension_json;  // extensions[name=client.authentication.k8s.io/exec].extension
};

struct UserEntry {
  std::string file;
  std::string client_certificate;       // absolute
  std::string client_certificate_data;  // base64
  std::string client_key;               // absolute
  std::string client_key_data;          // base64
  std::string token;
  std::string token_file;               // absolute
  std::string username;
  std::string password;
  std::string as;
  std::string as_uid;
  std::vector<std::string> as_groups;
  bool has_as_user_extra = false;
  std::optional<std::string> auth_provider;  // its name when the user has one
  std::optional<ExecEntry> exec;
};

struct ContextEntry {
  std::string file;
  std::string cluster;
  std::string user;
  std::string namespace_;
};

struct Kubeconfig {
  std::vector<std::string> files;       // the files that were read, in order
  std::map<std::string, ClusterEntry> clusters;
  std::map<std::string, UserEntry> users;
  std::map<std::string, ContextEntry> contexts;
  std::string current_context;
  std::string current_context_file;

  bool empty() const { return clusters.empty() && users.empty() && contexts.empty(); }
};

// Parses one file's text; `path` names it in errors and anchors relative paths. Throws Fatal(usage).
Kubeconfig parse_kubeconfig(std::string_view text, const std::string& path);

// Merges `from` into `into` with kubectl's rules: the first file to define a cluster, user or context name keeps
// it; the first file to set current-context keeps it.
void merge_first_wins(Kubeconfig& into, Kubeconfig&& from);

// The folder holding the service-account files: $KBK_SERVICEACCOUNT_DIR (tests) or
// /var/run/secrets/kubernetes.io/serviceaccount.
std::string service_account_dir();
// Whether in-cluster configuration can be used; when it cannot, `why` says what is missing.
bool in_cluster_possible(std::string& why);
// The in-cluster configuration with the flags applied. Throws Fatal(usage) when a piece is unreadable.
RestConfig load_in_cluster(const ConfigFlags& flags);

// Shared finishing steps of both paths (flags for impersonation and timeout, checks). Throws Fatal(usage).
void apply_common_flags(RestConfig& config, const ConfigFlags& flags, const std::string& where);

}  // namespace kbk::kube::detail
