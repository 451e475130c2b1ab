// Who kbk is to the API server, from a RestConfig: the one place that turns kubeconfig auth (token, tokenFile,
// basic, exec plugins, client certificates) and TLS/proxy settings into what a connection carries. The REST
// client and the pods/exec stream both use it, so they authenticate alike (kube-internal).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include <kbk/http/http.hpp>
#include <kbk/kube/config.hpp>

namespace kbk::kube {

struct Auth {
  std::string authorization;     // "Bearer ...", "Basic ..." or "" (never logged)
  std::string client_cert_pem;   // the certificate to present (the kubeconfig's or an exec plugin's)
  std::string client_key_pem;
};

class Credentials {
public:
  explicit Credentials(const RestConfig& config);
  Credentials(const Credentials&) = delete;
  Credentials& operator=(const Credentials&) = delete;

  // Whether the server is https:// (credentials are only ever sent over TLS, as kubectl).
  bool tls() const { return m_tls; }
  // The current credentials. force_exec re-runs the exec plugin (after a 401). Thread safe.
  Result<Auth> current(bool force_exec);
  // Whether a 401 may be cured by running the exec plugin again.
  bool can_refresh() const { return m_tls && m_config.exec.has_value(); }

  // Connection options for the server: CA, insecure-skip-tls-verify, tls-server-name, proxy-url and the given
  // client certificate.
  http::TransportOptions transport_options(const std::string& cert_pem, const std::string& key_pem,
                                           const std::string& user_agent) const;
  // Impersonate-User / Impersonate-Group headers of --as / --as-group.
  http::Headers impersonation_headers() const;

private:
  Result<std::string> bearer_from_file();

  const RestConfig& m_config;
  bool m_tls = false;
  std::mutex m_mutex;
  std::string m_file_token;
  int64_t m_file_mtime = -1;
};

}  // namespace kbk::kube
