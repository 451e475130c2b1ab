// open_stream(): a libcurl CONNECT_ONLY connection whose bytes the caller reads and writes itself (Debian's
// libcurl has no WebSocket support, so kube speaks RFC 6455 over this). libcurl still does the parts that must
// match the REST transport exactly: proxy tunnels, TLS material from memory, tls-server-name (curl_setup.cpp).
#include <kbk/http/http.hpp>

#include <curl/curl.h>

#include "curl_setup.hpp"

#include <kbk/util/log.hpp>

namespace kbk::http {
namespace {

class CurlStream final : public Stream {
public:
  CurlStream(CURL* h, int fd, std::string target, std::string host)
      : m_handle(h), m_fd(fd), m_target(std::move(target)), m_host(std::move(host)) {}
  ~CurlStream() override { curl_easy_cleanup(m_handle); }
  CurlStream(const CurlStream&) = delete;
  CurlStream& operator=(const CurlStream&) = delete;

  Result<IoResult> send(const char* data, size_t size) override {
    size_t n = 0;
    const CURLcode rc = curl_easy_send(m_handle, data, size, &n);
    if (rc == CURLE_AGAIN) return IoResult{Io::would_block, 0};
    if (rc != CURLE_OK) return unexpected(detail::errc_for(rc), std::string("sending: ") + curl_easy_strerror(rc));
    if (n == 0 && size > 0) return IoResult{Io::would_block, 0};
    return IoResult{Io::ok, n};
  }

  Result<IoResult> recv(char* buffer, size_t size) override {
    size_t n = 0;
    const CURLcode rc = curl_easy_recv(m_handle, buffer, size, &n);
    if (rc == CURLE_AGAIN) return IoResult{Io::would_block, 0};
    if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING) {
      if (rc == CURLE_GOT_NOTHING) return IoResult{Io::closed, 0};
      return unexpected(Errc::network, std::string("receiving: ") + curl_easy_strerror(rc));
    }
    if (rc != CURLE_OK) return unexpected(detail::errc_for(rc), std::string("receiving: ") + curl_easy_strerror(rc));
    if (n == 0) return IoResult{Io::closed, 0};
    return IoResult{Io::ok, n};
  }

  int socket() const override { return m_fd; }
  const std::string& request_target() const override { return m_target; }
  const std::string& host() const override { return m_host; }

private:
  CURL* m_handle;
  int m_fd;
  std::string m_target;
  std::string m_host;
};

}  // namespace

Result<std::unique_ptr<Stream>> open_stream(const TransportOptions& options, const std::string& url) {
  detail::global_init();
  auto parts = detail::split_url(url);
  if (!parts || (parts->scheme != "https" && parts->scheme != "http"))
    return unexpected(Errc::config, url + ": not an http:// or https:// URL");
  if (!options.tls.client_cert_pem.empty() && options.tls.client_key_pem.empty())
    return unexpected(Errc::config, "a client certificate was given without its key");
  CURL* h = curl_easy_init();
  if (!h) return unexpected(Errc::internal_error, "cannot create a libcurl handle");
  char errbuf[CURL_ERROR_SIZE] = {0};
  detail::ConnectionSetup setup;
  setup.apply(h, options, url, errbuf);
  curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));  // ALPN: http/1.1 only
  curl_easy_setopt(h, CURLOPT_HTTPPROXYTUNNEL, 1L);  // an HTTP proxy tunnels plain http:// too
  const CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    while (!detail.empty() && detail.back() == '\n') detail.pop_back();
    curl_easy_cleanup(h);
    const auto q = url.find('?');
    log::info(6, "connect " + url.substr(0, q) + " failed: " + detail);
    return unexpected(detail::errc_for(rc), "connect " + url.substr(0, q) + ": " + detail);
  }
  curl_socket_t fd = CURL_SOCKET_BAD;
  curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &fd);
  if (fd == CURL_SOCKET_BAD) {
    curl_easy_cleanup(h);
    return unexpected(Errc::network, "connect " + url + ": no socket after connecting");
  }
  const bool default_port = (parts->scheme == "https" && parts->port == "443") || (parts->scheme == "http" && parts->port == "80");
  std::string host = parts->host;
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  if (!default_port) host += ":" + parts->port;
  return std::unique_ptr<Stream>(std::make_unique<CurlStream>(h, static_cast<int>(fd), parts->path_and_query, host));
}

}  // namespace kbk::http
