// Credentials: kubeconfig auth and TLS settings for every connection to the API server (see credentials.hpp).
#include "credentials.hpp"

#include <sys/stat.h>

#include <kbk/util/fs.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::kube {

Credentials::Credentials(const RestConfig& config) : m_config(config) {
  m_tls = util::starts_with(util::to_lower(m_config.server), "https://");
}

http::TransportOptions Credentials::transport_options(const std::string& cert_pem, const std::string& key_pem,
                                                      const std::string& user_agent) const {
  http::TransportOptions t;
  t.tls.ca_pem = m_config.ca_pem;
  t.tls.client_cert_pem = m_tls ? cert_pem : "";
  t.tls.client_key_pem = m_tls ? key_pem : "";
  t.tls.insecure_skip_verify = m_config.insecure_skip_tls_verify;
  t.tls.server_name = m_config.tls_server_name;
  t.proxy_url = m_config.proxy_url;
  t.user_agent = user_agent;
  return t;
}

http::Headers Credentials::impersonation_headers() const {
  http::Headers h;
  if (!m_config.impersonate_user.empty()) h.emplace_back("Impersonate-User", m_config.impersonate_user);
  for (const auto& g : m_config.impersonate_groups) h.emplace_back("Impersonate-Group", g);
  return h;
}

Result<std::string> Credentials::bearer_from_file() {
  std::lock_guard lock(m_mutex);
  struct stat st {};
  if (::stat(m_config.token_file.c_str(), &st) != 0) {
    if (!m_file_token.empty()) return m_file_token;  // keep the last good token while the file is replaced
    return unexpected(Errc::config, "tokenFile " + m_config.token_file + ": cannot read it");
  }
  const int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (mtime != m_file_mtime || m_file_token.empty()) {
    auto text = util::read_file(m_config.token_file, util::k_max_input_file);
    if (!text.ok()) return unexpected(Errc::config, "tokenFile " + m_config.token_file + ": cannot read it");
    m_file_token = std::string(util::trim(*text));
    m_file_mtime = mtime;
  }
  return m_file_token;
}

Result<Auth> Credentials::current(bool force_exec) {
  Auth a;
  if (!m_tls) return a;
  a.client_cert_pem = m_config.client_cert_pem;
  a.client_key_pem = m_config.client_key_pem;
  if (m_config.exec) {
    KBK_ASSIGN_OR_RETURN(ExecCredential cred, run_exec_plugin(*m_config.exec, m_config.server, force_exec));
    if (!cred.token.empty()) a.authorization = "Bearer " + cred.token;
    if (!cred.client_cert_pem.empty()) {
      a.client_cert_pem = cred.client_cert_pem;
      a.client_key_pem = cred.client_key_pem;
    }
    if (!a.authorization.empty() || !cred.client_cert_pem.empty()) return a;
  }
  if (!m_config.token.empty()) {
    a.authorization = "Bearer " + m_config.token;
  } else if (!m_config.token_file.empty()) {
    KBK_ASSIGN_OR_RETURN(std::string token, bearer_from_file());
    if (!token.empty()) a.authorization = "Bearer " + token;
  } else if (!m_config.username.empty() || !m_config.password.empty()) {
    a.authorization = "Basic " + util::base64_encode(m_config.username + ":" + m_config.password);
  }
  return a;
}

}  // namespace kbk::kube
