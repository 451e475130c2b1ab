// HTTP client transport: what kube (the API server) and storage (S3) send requests through.
//
// Layers, bottom up, each one a Transport so tests fake any of them:
//   make_curl_transport()     one attempt per send(): libcurl, keep-alive (pooled easy handles sharing one
//                             connection cache), HTTP/2 over TLS where the server offers it, TLS material from
//                             memory (keys never touch disk), proxies, gzip, -v 6/-v 8 tracing.
//   open_stream()             a raw connection for protocols upgraded from HTTP/1.1 (kube's pods/exec WebSocket):
//                             connected with the same TLS, proxy and tls-server-name setup as the transport.
//   make_retrying_transport() retries with jittered exponential backoff (429 with Retry-After, 500/502/503/504,
//                             connection resets and timeouts), bounded in count and total time, and takes a token
//                             from a RateLimiter before every attempt. A request with a Deferral gets its waits
//                             handed back instead of slept (the caller does other work meanwhile).
// Nothing here knows about Kubernetes: callers map status codes and bodies to their own errors.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <kbk/util/error.hpp>

namespace kbk::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

// The value of the first header called name (case-insensitive), or nullopt.
std::optional<std::string> find_header(const Headers& headers, std::string_view name);
// Every value of headers called name, in order (Warning may repeat).
std::vector<std::string> find_headers(const Headers& headers, std::string_view name);

// Whether a request may be sent again after a failure whose effect on the server is unknown.
enum class Idempotency {
  idempotent,  // GET, HEAD, PUT, DELETE: retried on 429, 5xx, resets and timeouts
  unsafe,      // POST: retried only when the server certainly did not act on it (429, connect failures)
  retry_all,   // the caller resolves a possible double effect itself (kube create: 409 AlreadyExists -> compare)
};

// A caller with other work to do instead of waiting out a retry (restore: other objects). When Request::deferral
// points here, the retrying transport does not sleep before a retry: it returns the failed attempt's outcome at
// once with `deferred` true and `seconds` the wait it would have slept. The caller sends the same request again,
// with the same Deferral, no sooner than that; the counts carried here keep the policy's limits (max_retries, the
// time budget, Response::retried_after_ambiguous_failure) across those sends as if it had slept in place.
struct Deferral {
  bool deferred = false;  // out: the last send was deferred (the outcome it returned is not final)
  double seconds = 0;     // out, with deferred: how long to wait before sending again
  // Carried between sends (the transport's own bookkeeping; zero for a new request).
  int attempts = 0;
  int without_retry_after = 0;
  double elapsed_seconds = 0;
  bool ambiguous = false;
};

struct Request {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;
  // Streaming upload instead of `body`: reads up to n bytes into buf, returns the count (0 at the end) or
  // nullopt on a read error. body_length must be the exact total. body_rewind (optional) restarts the stream;
  // without it a request whose body was partly sent is not retried.
  std::function<std::optional<size_t>(char* buf, size_t n)> body_reader;
  int64_t body_length = -1;
  std::function<bool()> body_rewind;
  // Streaming download: receives the body of a 2xx response chunk by chunk instead of Response::body.
  // Returning false aborts the transfer (Errc::cancelled). Non-2xx bodies always go to Response::body,
  // so callers can read the server's error document.
  std::function<bool(std::string_view chunk)> on_body;
  double timeout_seconds = 0;  // whole request; 0 = no limit (a stalled transfer still times out)
  Idempotency idempotency = Idempotency::idempotent;
  Deferral* deferral = nullptr;  // see Deferral: hand the retry waits back instead of sleeping (not thread safe)
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;        // empty when Request::on_body took a 2xx body
  std::string protocol;    // "HTTP/1.1", "HTTP/2"
  int attempts = 1;        // sends it took (retrying transport)
  // True when an earlier attempt failed after the request may have reached the server (reset, timeout,
  // 5xx): a 409 on a retried POST may then be the caller's own first attempt.
  bool retried_after_ambiguous_failure = false;

  std::optional<std::string> header(std::string_view name) const { return find_header(headers, name); }
};

// One hop of the chain. Thread safe: send() may be called from many threads at once.
// HTTP status codes of any value are a Response; only transport failures are errors:
// Errc::network (refused, reset, DNS, proxy), Errc::tls (handshake, verification), Errc::timeout, Errc::cancelled.
class Transport {
public:
  virtual ~Transport() = default;
  virtual Result<Response> send(const Request& request) = 0;
};

struct TlsOptions {
  std::string ca_pem;              // trusted CAs; "" = the system store
  std::string client_cert_pem;     // client certificate chain (PEM), "" = none
  std::string client_key_pem;      // its private key (PEM), in memory only
  bool insecure_skip_verify = false;
  // Name to verify the server certificate against and to send as SNI, when it differs from the URL's host
  // (kubeconfig tls-server-name). The connection still goes to the URL's host and port.
  std::string server_name;
};

enum class HttpVersion { http1_1, http2_tls };  // http2_tls: HTTP/2 over TLS when offered (ALPN), else 1.1

struct TransportOptions {
  TlsOptions tls;
  std::string proxy_url;           // http://, https://, socks5:// (name resolved by the proxy), socks5h://
  double connect_timeout_seconds = 30;
  // A transfer slower than 1 byte/s for this long fails with Errc::timeout (0 = never).
  double stall_timeout_seconds = 120;
  HttpVersion http_version = HttpVersion::http2_tls;
  std::string user_agent;          // sent unless the request sets its own
  bool accept_gzip = true;         // Accept-Encoding: gzip, decoded transparently
};

// The libcurl transport. Fails (Errc::tls / Errc::config) only when the TLS material cannot be loaded.
Result<std::unique_ptr<Transport>> make_curl_transport(const TransportOptions& options);

// A connection handed over after connect (proxy tunnel and TLS handshake done, ALPN http/1.1), for a caller
// that speaks HTTP/1.1 and what follows an Upgrade itself. Non-blocking: send() and recv() never wait; a
// caller waits for socket() with poll(). One thread at a time (not thread safe).
class Stream {
public:
  enum class Io { ok, would_block, closed };
  struct IoResult {
    Io status = Io::ok;
    size_t bytes = 0;  // with Io::ok: > 0
  };
  virtual ~Stream() = default;
  // Errors: Errc::network (reset), Errc::tls.
  virtual Result<IoResult> send(const char* data, size_t size) = 0;
  // Io::closed when the peer closed the connection. With TLS, decrypted bytes may wait inside the stream: call
  // recv() until it says would_block before polling the socket for more.
  virtual Result<IoResult> recv(char* buffer, size_t size) = 0;
  virtual int socket() const = 0;
  // What the request line and Host header must carry for the URL open_stream() was given
  // ("/api/v1/...?..." and "host:port"; the real host when tls-server-name changed the one connected by name).
  virtual const std::string& request_target() const = 0;
  virtual const std::string& host() const = 0;
};

// Connects to url's host (http:// or https://) through options' proxy (an HTTP proxy is asked to CONNECT;
// without one, libcurl's http(s)_proxy / NO_PROXY environment rules apply) with options' TLS material.
// Errors: Errc::network, Errc::tls, Errc::timeout (connect_timeout_seconds), Errc::config (bad URL).
Result<std::unique_ptr<Stream>> open_stream(const TransportOptions& options, const std::string& url);

// Token bucket: `burst` tokens, refilled at `qps` per second. qps <= 0 means unlimited. Thread safe.
class RateLimiter {
public:
  using Clock = std::chrono::steady_clock;
  RateLimiter(double qps, int burst);
  // Takes one token, returning how long the caller must wait before using it (0 when one was available).
  // Tokens are reserved in call order, so concurrent callers queue fairly.
  std::chrono::duration<double> reserve(Clock::time_point now);
  // reserve(now) and sleep for the result.
  void acquire();

private:
  std::mutex m_mutex;
  double m_qps;
  double m_burst;
  double m_tokens;
  Clock::time_point m_last{};
  bool m_started = false;
};

struct RetryPolicy {
  int max_retries = 5;              // further sends after the first
  // Of those, how many may follow a failure the server gave no Retry-After for (5xx without it, resets, timeouts);
  // -1: max_retries. A 429 from priority and fairness names its wait and is worth more patience than a server
  // that keeps failing.
  int max_retries_without_retry_after = -1;
  double max_total_seconds = 60;    // no retry starts later than this after the first send
  double initial_backoff_seconds = 0.25;
  double max_backoff_seconds = 8;
  double max_retry_after_seconds = 30;  // a larger Retry-After is capped to this
  // A server that refuses the connection or whose name does not resolve before it ever answered is unreachable:
  // fail at once with one line, as kubectl does, instead of seconds of silent retries. Once it has answered
  // (through this transport), the same failures are retried: a server restarting in the middle of a long run.
  bool retry_unreachable_before_first_answer = false;
};

// The decision for one failed attempt: nullopt = give up, else wait this long and send again.
// attempt counts from 1 (the first send). `jitter` in [0,1) spreads the wait between 0.5x and 1.5x.
std::optional<double> retry_delay(const RetryPolicy& policy, Idempotency idempotency, int attempt,
                                  const Result<Response>& outcome, double elapsed_seconds, double jitter);
// True for a response status the retry policy treats as transient.
bool is_retryable_status(int status);
// Parses Retry-After as the seconds to wait: delay-seconds ("120") or an IMF-fixdate ("Thu, 26 Nov 2026 10:30:00
// GMT", RFC 9110), which counts from now (a date in the past is 0). nullopt when absent or in another form.
std::optional<double> parse_retry_after(const Response& response, std::chrono::system_clock::time_point now);
std::optional<double> parse_retry_after(const Response& response);  // now = the system clock

// How the retrying transport waits (tests pass a recorder instead of sleeping).
using Sleeper = std::function<void(double seconds)>;
void sleep_seconds(double seconds);

// Wraps inner with the retry policy and (when given) a rate limiter taken before each attempt.
std::unique_ptr<Transport> make_retrying_transport(std::shared_ptr<Transport> inner, RetryPolicy policy,
                                                   std::shared_ptr<RateLimiter> limiter = nullptr,
                                                   Sleeper sleeper = sleep_seconds);

// "GET", "PUT", ... -> whether it is idempotent by HTTP semantics.
Idempotency idempotency_for(std::string_view method);

}  // namespace kbk::http
