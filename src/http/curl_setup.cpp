// TLS, proxy and connection options shared by every libcurl handle kbk opens (see curl_setup.hpp).
//
// TLS material comes from memory blobs (CURLOPT_*_BLOB), so private keys never touch the disk.
// tls-server-name: libcurl 7.88 has no separate SNI option, so the URL's host is replaced by the server name
// (which libcurl then sends as SNI and verifies the certificate against) and CURLOPT_CONNECT_TO sends the
// connection to the real host and port; the Host header keeps the original authority.
#include "curl_setup.hpp"

#include <mutex>

#include <kbk/util/strings.hpp>

namespace kbk::http::detail {
namespace {

std::string replace_host(const std::string& url, const std::string& host) {
  CURLU* u = curl_url();
  std::string out = url;
  if (u && curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
      curl_url_set(u, CURLUPART_HOST, host.c_str(), 0) == CURLUE_OK) {
    char* s = nullptr;
    if (curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) out = s;
    curl_free(s);
  }
  curl_url_cleanup(u);
  return out;
}

}  // namespace

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::optional<SplitUrl> split_url(const std::string& url) {
  CURLU* u = curl_url();
  if (!u) return std::nullopt;
  std::optional<SplitUrl> out;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char* scheme = nullptr;
    char* host = nullptr;
    char* port = nullptr;
    char* path = nullptr;
    char* query = nullptr;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK) {
      out = SplitUrl{scheme, host, port, path};
      if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK && query && *query)
        out->path_and_query += std::string("?") + query;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
  }
  curl_url_cleanup(u);
  return out;
}

std::string normalize_proxy(const std::string& proxy_url) {
  if (util::starts_with(proxy_url, "socks5://")) return "socks5h://" + proxy_url.substr(9);
  return proxy_url;
}

ConnectionSetup::~ConnectionSetup() { curl_slist_free_all(m_connect_to); }

void ConnectionSetup::apply(CURL* h, const TransportOptions& options, const std::string& url, char* errbuf) {
  m_url = url;
  const std::string& sni = options.tls.server_name;
  if (!sni.empty()) {
    if (auto parts = split_url(url); parts && parts->scheme == "https" && parts->host != sni) {
      m_url = replace_host(url, sni);
      m_connect_to = curl_slist_append(m_connect_to,
                                       (sni + ":" + parts->port + ":" + parts->host + ":" + parts->port).c_str());
      m_host_header = "Host: " + parts->host + ":" + parts->port;
    }
  }
  curl_easy_setopt(h, CURLOPT_URL, m_url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  if (errbuf) curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout_seconds * 1000));
  if (!options.proxy_url.empty()) {
    const std::string proxy = normalize_proxy(options.proxy_url);
    curl_easy_setopt(h, CURLOPT_PROXY, proxy.c_str());  // libcurl copies strings
  }
  if (m_connect_to) curl_easy_setopt(h, CURLOPT_CONNECT_TO, m_connect_to);

  const TlsOptions& tls = options.tls;
  if (tls.insecure_skip_verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (!tls.ca_pem.empty()) {
    curl_blob blob{const_cast<char*>(tls.ca_pem.data()), tls.ca_pem.size(), CURL_BLOB_NOCOPY};
    curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
  }
  if (!tls.client_cert_pem.empty()) {
    curl_blob cert{const_cast<char*>(tls.client_cert_pem.data()), tls.client_cert_pem.size(), CURL_BLOB_NOCOPY};
    curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
  }
  if (!tls.client_key_pem.empty()) {
    curl_blob key{const_cast<char*>(tls.client_key_pem.data()), tls.client_key_pem.size(), CURL_BLOB_NOCOPY};
    curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
  }
}

Errc errc_for(CURLcode rc) {
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: return Errc::timeout;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_USE_SSL_FAILED:
      return Errc::tls;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Errc::config;
    default:
      return Errc::network;
  }
}

}  // namespace kbk::http::detail
