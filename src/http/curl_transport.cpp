// The libcurl transport: one attempt per send().
//
// Connection reuse: easy handles are pooled (an idle handle keeps its connections open), and all handles share
// one DNS and TLS-session cache. HTTP/2 is negotiated by ALPN over TLS (CURL_HTTP_VERSION_2TLS); plain http://
// stays HTTP/1.1. TLS, proxy and tls-server-name are set by detail::ConnectionSetup (curl_setup.cpp), shared
// with the raw upgraded streams of open_stream().
#include <kbk/http/http.hpp>

#include <curl/curl.h>

#include "curl_setup.hpp"

#include <chrono>
#include <cstring>
#include <mutex>

#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::http {
namespace {

using detail::errc_for;
using detail::global_init;

// URL without its query, for messages (queries may be long; S3 presigned ones hold signatures).
std::string url_for_message(const std::string& url) {
  const auto q = url.find('?');
  return q == std::string::npos ? url : url.substr(0, q);
}

class Share {
public:
  Share() {
    m_share = curl_share_init();
    curl_share_setopt(m_share, CURLSHOPT_LOCKFUNC, &Share::lock);
    curl_share_setopt(m_share, CURLSHOPT_UNLOCKFUNC, &Share::unlock);
    curl_share_setopt(m_share, CURLSHOPT_USERDATA, this);
    curl_share_setopt(m_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(m_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
  ~Share() { curl_share_cleanup(m_share); }
  Share(const Share&) = delete;
  Share& operator=(const Share&) = delete;
  CURLSH* get() const { return m_share; }

private:
  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* self) {
    static_cast<Share*>(self)->m_locks[index(data)].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* self) { static_cast<Share*>(self)->m_locks[index(data)].unlock(); }
  static size_t index(curl_lock_data data) {
    const auto i = static_cast<size_t>(data);
    return i < k_locks ? i : 0;
  }
  static constexpr size_t k_locks = CURL_LOCK_DATA_LAST;
  CURLSH* m_share = nullptr;
  std::mutex m_locks[k_locks];
};

// State of one transfer, reached from libcurl's callbacks.
struct Transfer {
  const Request* request = nullptr;
  CURL* handle = nullptr;
  Response response;
  size_t body_offset = 0;       // bytes of request.body sent
  bool body_started = false;    // the server's body began arriving
  bool sink_took_data = false;  // request.on_body received bytes
  bool sink_refused = false;
  bool reader_failed = false;
  bool upload_started = false;

  bool streaming() const {
    if (!request->on_body) return false;
    long code = 0;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &code);
    return code >= 200 && code < 300;
  }
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  std::string_view line(data, len);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (util::starts_with(line, "HTTP/")) {
    t->response.headers.clear();  // a new response (after 100 Continue, a proxy's CONNECT answer, a redirect)
  } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    t->response.headers.emplace_back(std::string(util::trim(line.substr(0, colon))),
                                     std::string(util::trim(line.substr(colon + 1))));
  }
  return len;
}

size_t on_write(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  t->body_started = true;
  if (t->streaming()) {
    t->sink_took_data = true;
    if (!t->request->on_body(std::string_view(data, len))) {
      t->sink_refused = true;
      return 0;  // aborts with CURLE_WRITE_ERROR
    }
    return len;
  }
  // An error document is read to its end (the connection stays usable) but kept only up to 1 MiB: a server that
  // answers an error with gigabytes does not take the memory (2xx bodies are the caller's to bound: on_body).
  constexpr size_t k_max_error_body = 1u << 20;
  long code = 0;
  curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &code);
  if (code >= 300 && t->response.body.size() + len > k_max_error_body) {
    if (t->response.body.size() < k_max_error_body)
      t->response.body.append(data, k_max_error_body - t->response.body.size());
    return len;
  }
  t->response.body.append(data, len);
  return len;
}

size_t on_read(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t want = size * n;
  t->upload_started = true;
  if (t->request->body_reader) {
    auto got = t->request->body_reader(buf, want);
    if (!got) {
      t->reader_failed = true;
      return CURL_READFUNC_ABORT;
    }
    return *got;
  }
  const std::string& body = t->request->body;
  const size_t k = std::min(want, body.size() - t->body_offset);
  std::memcpy(buf, body.data() + t->body_offset, k);
  t->body_offset += k;
  return k;
}

int on_seek(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (origin != SEEK_SET) return CURL_SEEKFUNC_CANTSEEK;
  if (t->request->body_reader) {
    if (offset != 0 || !t->request->body_rewind || !t->request->body_rewind()) return CURL_SEEKFUNC_CANTSEEK;
    return CURL_SEEKFUNC_OK;
  }
  if (offset < 0 || static_cast<size_t>(offset) > t->request->body.size()) return CURL_SEEKFUNC_FAIL;
  t->body_offset = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

std::string protocol_name(long v) {
  switch (v) {
    case CURL_HTTP_VERSION_1_0: return "HTTP/1.0";
    case CURL_HTTP_VERSION_1_1: return "HTTP/1.1";
    case CURL_HTTP_VERSION_2_0: return "HTTP/2";
    case CURL_HTTP_VERSION_3: return "HTTP/3";
    default: return "HTTP";
  }
}

bool never_sent(CURLcode rc) {
  return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY;
}

class CurlTransport final : public Transport {
public:
  explicit CurlTransport(TransportOptions options) : m_options(std::move(options)) {
  }
  ~CurlTransport() override {
    for (CURL* h : m_idle) curl_easy_cleanup(h);
  }

  Result<Response> send(const Request& request) override {
    CURL* h = take_handle();
    if (!h) return unexpected(Errc::internal_error, "cannot create a libcurl handle");
    Result<Response> out = perform(h, request);
    give_back(h);
    return out;
  }

private:
  CURL* take_handle() {
    {
      std::lock_guard lock(m_mutex);
      if (!m_idle.empty()) {
        CURL* h = m_idle.back();
        m_idle.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }
  void give_back(CURL* h) {
    std::lock_guard lock(m_mutex);
    if (m_idle.size() < 64) {
      m_idle.push_back(h);
      return;
    }
    curl_easy_cleanup(h);
  }

  static void add_header(curl_slist*& list, const std::string& line) { list = curl_slist_append(list, line.c_str()); }

  Result<Response> perform(CURL* h, const Request& req) {
    curl_easy_reset(h);  // keeps the handle's open connections and caches
    Transfer t;
    t.request = &req;
    t.handle = h;
    char errbuf[CURL_ERROR_SIZE] = {0};

    curl_slist* headers = nullptr;
    detail::ConnectionSetup setup;
    setup.apply(h, m_options, req.url, errbuf);
    if (setup.host_header() && !find_header(req.headers, "Host")) add_header(headers, *setup.host_header());
    curl_easy_setopt(h, CURLOPT_SHARE, m_share.get());
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, m_options.http_version == HttpVersion::http2_tls
                                                  ? static_cast<long>(CURL_HTTP_VERSION_2TLS)
                                                  : static_cast<long>(CURL_HTTP_VERSION_1_1));
    if (req.timeout_seconds > 0) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout_seconds * 1000));
    if (m_options.stall_timeout_seconds > 0) {
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(m_options.stall_timeout_seconds));
    }
    if (m_options.accept_gzip) curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip");

    // Method and body
    const bool has_body = req.body_reader ? true : !req.body.empty() || req.method == "POST" || req.method == "PUT" ||
                                                       req.method == "PATCH";
    if (req.method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (has_body) {
      const curl_off_t len = req.body_reader ? static_cast<curl_off_t>(req.body_length)
                                             : static_cast<curl_off_t>(req.body.size());
      curl_easy_setopt(h, CURLOPT_POST, 1L);
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, len);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, &on_read);
      curl_easy_setopt(h, CURLOPT_READDATA, &t);
      curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, &on_seek);
      curl_easy_setopt(h, CURLOPT_SEEKDATA, &t);
      if (req.method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    } else if (req.method != "GET") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }

    // Headers
    bool has_ua = false;
    bool has_ct = false;
    for (const auto& [k, v] : req.headers) {
      add_header(headers, v.empty() ? k + ";" : k + ": " + v);
      const std::string lk = util::to_lower(k);
      has_ua = has_ua || lk == "user-agent";
      has_ct = has_ct || lk == "content-type";
    }
    if (!has_ua && !m_options.user_agent.empty()) add_header(headers, "User-Agent: " + m_options.user_agent);
    if (has_body && !has_ct) add_header(headers, "Content-Type:");  // no form-urlencoded default
    add_header(headers, "Expect:");                                  // no 100-continue round trip
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);

    if (log::enabled(8)) {
      for (const curl_slist* p = headers; p; p = p->next) log::info(8, std::string("Request Header: ") + p->data);
    }

    const auto start = std::chrono::steady_clock::now();
    const CURLcode rc = curl_easy_perform(h);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    curl_slist_free_all(headers);

    long version = 0;
    curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &version);
    const std::string protocol = protocol_name(version);

    if (rc != CURLE_OK) {
      Error e;
      if (t.sink_refused) {
        e = Error{Errc::cancelled, req.method + " " + url_for_message(req.url) + ": the response consumer stopped"};
      } else if (t.reader_failed) {
        e = Error{Errc::io, req.method + " " + url_for_message(req.url) + ": reading the request body failed"};
      } else {
        std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
        while (!detail.empty() && detail.back() == '\n') detail.pop_back();
        e = Error{errc_for(rc), req.method + " " + url_for_message(req.url) + ": " + detail};
      }
      e.reason = never_sent(rc) ? "not_sent" : t.sink_took_data ? "body_partial" : "sent";
      log::info(6, req.method + " " + req.url + " failed in " + std::to_string(ms) + " ms: " + e.message);
      return e;
    }
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    t.response.status = static_cast<int>(code);
    t.response.protocol = protocol;
    if (log::enabled(6)) {
      log::info(6, req.method + " " + req.url + " " + std::to_string(code) + " in " + std::to_string(ms) + " ms (" +
                       protocol + ")");
    }
    if (log::enabled(8)) {
      for (const auto& [k, v] : t.response.headers) log::info(8, "Response Header: " + k + ": " + v);
      if (!t.response.body.empty()) {
        // Credentials answers (STS, the SSO portal, container and instance credentials, a token endpoint) are
        // never logged: -v 8 and 9 promise no secret.
        static constexpr std::string_view k_secret_fields[] = {"SecretAccessKey", "secretAccessKey", "SessionToken",
                                                               "sessionToken", "\"Token\"", "access_token",
                                                               "accessToken", "id_token", "refresh_token"};
        bool secret = false;
        for (auto f : k_secret_fields) secret = secret || t.response.body.find(f) != std::string::npos;
        std::string b = secret ? "[" + std::to_string(t.response.body.size()) + " bytes holding credentials: not logged]"
                               : t.response.body.substr(0, 2048);
        if (!secret && t.response.body.size() > 2048)
          b += " [truncated " + std::to_string(t.response.body.size()) + " bytes]";
        log::info(8, "Response Body: " + b);
      }
    }
    return std::move(t.response);
  }

  TransportOptions m_options;
  Share m_share;
  std::mutex m_mutex;
  std::vector<CURL*> m_idle;
};

}  // namespace

Result<std::unique_ptr<Transport>> make_curl_transport(const TransportOptions& options) {
  global_init();
  const auto* info = curl_version_info(CURLVERSION_NOW);
  if (options.http_version == HttpVersion::http2_tls && !(info->features & CURL_VERSION_HTTP2))
    log::debug("libcurl was built without HTTP/2; using HTTP/1.1");
  if (!options.tls.client_cert_pem.empty() && options.tls.client_key_pem.empty())
    return unexpected(Errc::config, "a client certificate was given without its key");
  return std::unique_ptr<Transport>(std::make_unique<CurlTransport>(options));
}

}  // namespace kbk::http
