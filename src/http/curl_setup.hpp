// How a libcurl handle reaches a server: TLS material, proxy, timeouts, tls-server-name. One place, used by the
// REST transport (curl_transport.cpp) and the raw upgraded streams (curl_stream.cpp), so both connect alike.
#pragma once

#include <curl/curl.h>

#include <optional>
#include <string>

#include <kbk/http/http.hpp>

namespace kbk::http::detail {

void global_init();

// Owns what the handle's options point to until the transfer is done (the handle does not copy slists).
class ConnectionSetup {
public:
  ConnectionSetup() = default;
  ~ConnectionSetup();
  ConnectionSetup(const ConnectionSetup&) = delete;
  ConnectionSetup& operator=(const ConnectionSetup&) = delete;

  // options must outlive the transfer (TLS blobs are not copied).
  // Sets URL, proxy (else libcurl's own http(s)_proxy / NO_PROXY environment rules), connect timeout, TCP
  // keepalive, no signals, error buffer and TLS on h. With options.tls.server_name, the URL's host is swapped
  // for it (SNI and verification) and CURLOPT_CONNECT_TO sends the connection to the real host: host_header()
  // is then the Host header the request must carry.
  void apply(CURL* h, const TransportOptions& options, const std::string& url, char* errbuf);

  const std::string& url() const { return m_url; }
  // "Host: host:port" when the URL's host was replaced, else nullopt.
  const std::optional<std::string>& host_header() const { return m_host_header; }

private:
  std::string m_url;
  std::optional<std::string> m_host_header;
  curl_slist* m_connect_to = nullptr;
};

struct SplitUrl {
  std::string scheme, host, port, path_and_query;
};
std::optional<SplitUrl> split_url(const std::string& url);

// A proxy URL as client-go uses it: socks5:// means the proxy resolves names (socks5h://).
std::string normalize_proxy(const std::string& proxy_url);

Errc errc_for(CURLcode rc);

}  // namespace kbk::http::detail
