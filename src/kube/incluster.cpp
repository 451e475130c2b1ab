// In-cluster configuration, as client-go's rest.InClusterConfig: the API server from KUBERNETES_SERVICE_HOST and
// KUBERNETES_SERVICE_PORT, the pod's service-account token (kept as token_file too, since the kubelet rotates it),
// its CA bundle and namespace. Used when no kubeconfig exists, so that kbk can run as a CronJob.
#include <cstdlib>
#include <sys/stat.h>

#include <kbk/util/exit_code.hpp>
#include <kbk/util/fs.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

#include "kubeconfig.hpp"

namespace kbk::kube::detail {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

std::string service_account_dir() {
  std::string dir = env("KBK_SERVICEACCOUNT_DIR");
  return dir.empty() ? "/var/run/secrets/kubernetes.io/serviceaccount" : dir;
}

bool in_cluster_possible(std::string& why) {
  std::string host = env("KUBERNETES_SERVICE_HOST");
  std::string port = env("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    why = "KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is unset";
    return false;
  }
  std::string token = util::path_join(service_account_dir(), "token");
  struct stat st{};
  if (::stat(token.c_str(), &st) != 0) {
    why = "KUBERNETES_SERVICE_HOST is set but " + token + " does not exist";
    return false;
  }
  return true;
}

RestConfig load_in_cluster(const ConfigFlags& flags) {
  const std::string dir = service_account_dir();
  RestConfig config;
  config.source = "in-cluster";
  std::string host = env("KUBERNETES_SERVICE_HOST");
  std::string port = env("KUBERNETES_SERVICE_PORT");
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";  // IPv6
  config.server = flags.server.empty() ? "https://" + host + ":" + port : flags.server;
  if (config.server.find("://") == std::string::npos)
    throw Fatal(ExitCode::usage, "--server: \"" + config.server + "\" has no scheme; write https://" + config.server);

  config.token_file = util::path_join(dir, "token");
  auto token = util::read_file(config.token_file, util::k_max_input_file);
  if (!token) throw Fatal(ExitCode::usage, "in-cluster configuration: token: " + token.error().message);
  config.token = std::string(util::trim(*token));
  if (config.token.empty())
    throw Fatal(ExitCode::usage, "in-cluster configuration: token: " + config.token_file + ": file is empty");

  // A missing CA bundle is logged and the system roots are used, as client-go does.
  std::string ca_file = util::path_join(dir, "ca.crt");
  if (auto ca = util::read_file(ca_file, util::k_max_input_file);
      ca && ca->find("-----BEGIN CERTIFICATE-----") != std::string::npos) {
    config.ca_pem = std::move(*ca);
  } else {
    log::warning("in-cluster configuration: " + ca_file + ": no CA certificate, using the system trust store");
  }

  // Namespace: -n, else $POD_NAMESPACE (downward API), else the service account's namespace file, else default.
  if (!flags.namespace_.empty()) {
    config.namespace_ = flags.namespace_;
    config.namespace_explicit = true;
  } else if (std::string pod_ns = env("POD_NAMESPACE"); !pod_ns.empty()) {
    config.namespace_ = pod_ns;
    config.namespace_explicit = true;
  } else if (auto ns = util::read_file(util::path_join(dir, "namespace"), util::k_max_input_file);
             ns && !util::trim(*ns).empty()) {
    config.namespace_ = std::string(util::trim(*ns));
    config.namespace_explicit = true;
  }
  apply_common_flags(config, flags, "in-cluster configuration");
  return config;
}

}  // namespace kbk::kube::detail
