// The s3:// backend (see s3.hpp for settings and behaviour).
//
// Structure: S3Core owns everything a request needs (settings, credentials, transport, the current region) and
// is thread safe; the Backend, its Writers (multipart uploads with parts in flight on other threads) and its
// Readers share it, so a Writer may outlive nothing it depends on. Every request goes through S3Core::call(),
// which signs, sends, retries and turns S3's error XML into one Error.
#include <kbk/storage/s3.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <ctime>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <kbk/crypto/hash.hpp>
#include <kbk/storage/sigv4.hpp>
#include <kbk/storage/wrappers.hpp>
#include <kbk/util/fs.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

#include "s3_xml.hpp"

namespace kbk::storage {
namespace {

using Clock = std::chrono::system_clock;

constexpr uint64_t k_min_part_size = 5ull << 20;
constexpr uint64_t k_max_part_size = 5ull << 30;
constexpr int k_max_parts = 10000;
constexpr uint64_t k_read_chunk = 8ull << 20;
constexpr size_t k_delete_batch = 1000;
// The most of an answer kbk holds that is not an object's data (a listing page, a multipart or delete result): a
// page of 1,000 keys of 1,024 bytes, each escaped, is under 8 MiB; a larger answer is a hostile or broken endpoint.
constexpr size_t k_max_answer_bytes = 32u << 20;

// ---------------------------------------------------------------------------------------------------------------
// Settings

bool parse_bool(const std::string& v, bool& out) {
  std::string l = util::to_lower(v);
  if (l == "true" || l == "1" || l == "yes" || l == "on" || l.empty()) {
    out = true;
    return true;
  }
  if (l == "false" || l == "0" || l == "no" || l == "off") {
    out = false;
    return true;
  }
  return false;
}

bool is_ip_or_localhost(const std::string& host) {
  std::string h = host;
  if (!h.empty() && h[0] == '[') return true;  // IPv6 literal
  auto colon = h.rfind(':');
  if (colon != std::string::npos) h = h.substr(0, colon);
  if (h == "localhost" || util::ends_with(h, ".localhost")) return true;
  if (h.empty()) return false;
  return std::all_of(h.begin(), h.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

bool dns_safe_bucket(const std::string& b, bool https) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  if (https && b.find('.') != std::string::npos) return false;  // wildcard certificates cover one label
  return b.front() != '-' && b.back() != '-';
}

struct Endpoint {
  std::string scheme;  // "http" / "https"
  std::string host;    // host[:port]
};

Endpoint split_endpoint(const std::string& e) {
  auto s = e.find("://");
  Endpoint out{e.substr(0, s), e.substr(s + 3)};
  out.host = out.host.substr(0, out.host.find('/'));
  return out;
}

std::string aws_endpoint(const std::string& region) { return "https://s3." + region + ".amazonaws.com"; }

// "Thu, 26 Nov 2026 07:16:34 GMT"
std::optional<Clock::time_point> parse_http_date(const std::string& s) {
  std::tm tm{};
  const char* end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
  if (!end) return std::nullopt;
  return Clock::from_time_t(timegm(&tm));
}

std::string strip_quotes(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

std::string base64_md5(std::string_view data) { return util::base64_encode(crypto::md5(data)); }

// ---------------------------------------------------------------------------------------------------------------
// Errors

Errc errc_for(const std::string& code, int status) {
  static const std::map<std::string, Errc> k_codes = {
      {"NoSuchKey", Errc::not_found},
      {"NotFound", Errc::not_found},
      {"NoSuchUpload", Errc::not_found},
      {"NoSuchBucket", Errc::precondition},
      {"AccessDenied", Errc::forbidden},
      {"AllAccessDisabled", Errc::forbidden},
      {"Forbidden", Errc::forbidden},
      {"InvalidAccessKeyId", Errc::unauthorized},
      {"SignatureDoesNotMatch", Errc::unauthorized},
      {"ExpiredToken", Errc::unauthorized},
      {"InvalidToken", Errc::unauthorized},
      {"TokenRefreshRequired", Errc::unauthorized},
      {"PreconditionFailed", Errc::precondition},
      {"SlowDown", Errc::too_many_requests},
      {"ServiceUnavailable", Errc::service_unavailable},
      {"InternalError", Errc::internal_error},
      {"RequestTimeout", Errc::timeout},
      {"InvalidRange", Errc::invalid},
      {"EntityTooSmall", Errc::bad_request},
      {"EntityTooLarge", Errc::request_entity_too_large},
      {"MalformedXML", Errc::bad_request},
      {"InvalidArgument", Errc::bad_request},
      {"InvalidDigest", Errc::corrupt},
      {"BadDigest", Errc::corrupt},
      {"IncompleteBody", Errc::corrupt},
      {"MissingContentLength", Errc::bad_request},
      {"NotImplemented", Errc::unsupported},
      {"MethodNotAllowed", Errc::method_not_allowed},
      {"InvalidBucketName", Errc::config},
      {"PermanentRedirect", Errc::config},
      {"AuthorizationHeaderMalformed", Errc::config},
  };
  auto it = k_codes.find(code);
  if (it != k_codes.end()) return it->second;
  switch (status) {
    case 400: return Errc::bad_request;
    case 401: return Errc::unauthorized;
    case 403: return Errc::forbidden;
    case 404: return Errc::not_found;
    case 409: return Errc::conflict;
    case 412: return Errc::precondition;
    case 429: return Errc::too_many_requests;
    case 500: return Errc::internal_error;
    case 501: return Errc::unsupported;
    case 503: return Errc::service_unavailable;
    default: return status >= 500 ? Errc::internal_error : Errc::unknown;
  }
}

std::string default_code(int status) {
  switch (status) {
    case 301: return "PermanentRedirect";
    case 304: return "NotModified";
    case 400: return "BadRequest";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 412: return "PreconditionFailed";
    case 416: return "InvalidRange";
    case 500: return "InternalError";
    case 501: return "NotImplemented";
    case 503: return "ServiceUnavailable";
    default: return "HTTP" + std::to_string(status);
  }
}

// S3 refusing the request's credentials as expired. A HEAD answer has no body to name the code: a bodiless 400
// to a request signed with a session token is taken as ExpiredToken too (S3 sends expired tokens a 400).
bool is_expired_credentials(const std::string& method, int status, const std::string& code, bool body_empty,
                            bool temporary_credentials) {
  if (code == "ExpiredToken" || code == "TokenRefreshRequired" || code == "ExpiredTokenException") return true;
  if (code == "InvalidToken" && temporary_credentials) return true;
  return method == "HEAD" && status == 400 && body_empty && temporary_credentials;
}

bool is_retryable(int status, const std::string& code) {
  if (status == 500 || status == 502 || status == 503 || status == 504 || status == 429) return true;
  return code == "SlowDown" || code == "RequestTimeout" || code == "InternalError" || code == "ServiceUnavailable" ||
         code == "RequestTimeTooSkewed" || code == "OperationAborted";
}

// ---------------------------------------------------------------------------------------------------------------
// The request machinery

struct Call {
  std::string method = "GET";
  std::string key;            // full object key in the bucket ("" = the bucket itself)
  std::string query;          // canonical-ready query, without '?'
  http::Headers headers;      // besides Host and the signing headers
  std::string_view body;      // request body (must outlive the call)
  std::function<bool(std::string_view)> on_body;  // streaming 2xx body (reset before each attempt by reset_body)
  std::function<void()> reset_body;
  std::string what;           // for messages: "PUT", "list", ...
  std::string credentials_note;  // set by call() when S3 refused the credentials as expired, for error_for()
};

class S3Core : public std::enable_shared_from_this<S3Core> {
public:
  S3Core(S3Settings settings, std::shared_ptr<aws::CredentialsProvider> creds, std::shared_ptr<http::Transport> transport)
      : m_settings(std::move(settings)), m_creds(std::move(creds)), m_transport(std::move(transport)) {
    m_region = m_settings.region;
    m_endpoint = m_settings.endpoint;
    m_aws_endpoint = m_endpoint.empty() || util::ends_with(split_endpoint(m_endpoint).host, ".amazonaws.com");
    if (m_endpoint.empty()) m_endpoint = aws_endpoint(m_region);
  }

  const S3Settings& settings() const { return m_settings; }

  // What another process needs to reach the bucket as this one does (Backend::s3_access()).
  std::shared_ptr<S3Access> access() const {
    auto a = std::make_shared<S3Access>();
    a->settings = m_settings;
    auto [endpoint, region] = current();
    a->settings.endpoint = endpoint;  // after a region redirect, the right one
    a->settings.region = region;
    a->ca_pem = m_ca_pem;
    a->credentials = m_creds;
    return a;
  }
  void set_ca_pem(std::string pem) { m_ca_pem = std::move(pem); }

  std::string display(const std::string& key) const {
    return "s3://" + m_settings.bucket + "/" + key;
  }

  std::string full_key(const std::string& rel) const { return m_settings.prefix + rel; }

  // Sends the call with retries and one region redirect. Returns the final response (any status) or a
  // transport error; callers check the status with expect().
  Result<http::Response> call(Call& c) {
    int attempt = 0;
    bool redirected = false;
    bool refreshed = false;
    c.credentials_note.clear();
    const auto start = std::chrono::steady_clock::now();
    while (true) {
      ++attempt;
      auto [endpoint, region] = current();
      Endpoint ep = split_endpoint(endpoint);
      bool path_style = use_path_style(ep);
      std::string host = path_style ? ep.host : m_settings.bucket + "." + ep.host;
      std::string path = path_style ? "/" + m_settings.bucket : std::string();
      if (!c.key.empty() || !path_style) path += "/" + sigv4::uri_encode(c.key, sigv4::Slash::keep);

      http::Request req;
      req.method = c.method;
      req.url = ep.scheme + "://" + host + path + (c.query.empty() ? "" : "?" + c.query);
      req.headers = c.headers;
      req.headers.emplace_back("Host", host);
      req.timeout_seconds = m_settings.timeout_seconds;
      req.idempotency = http::Idempotency::retry_all;  // this loop decides; the transport sends once
      size_t sent = 0;
      if (!c.body.empty()) {
        std::string_view body = c.body;
        req.body_length = static_cast<int64_t>(body.size());
        req.body_reader = [body, &sent](char* buf, size_t n) -> std::optional<size_t> {
          size_t k = std::min(n, body.size() - sent);
          std::memcpy(buf, body.data() + sent, k);
          sent += k;
          return k;
        };
        req.body_rewind = [&sent] {
          sent = 0;
          return true;
        };
      }
      // An answer the call keeps whole is collected here, bounded, instead of growing without limit.
      std::string answer;
      bool answer_too_large = false;
      if (c.on_body) {
        if (c.reset_body) c.reset_body();
        req.on_body = c.on_body;
      } else {
        req.on_body = [&answer, &answer_too_large](std::string_view chunk) {
          if (chunk.size() > k_max_answer_bytes - answer.size()) {
            answer_too_large = true;
            return false;
          }
          answer.append(chunk);
          return true;
        };
      }

      bool sign_payload = m_settings.payload_signing == PayloadSigning::always ||
                          (m_settings.payload_signing == PayloadSigning::automatic && ep.scheme != "https");
      auto creds = m_creds->get();
      if (!creds) return unexpected(std::move(creds).error());
      sigv4::Params params;
      params.credentials = *creds;
      params.region = region;
      params.service = "s3";
      params.time = Clock::now();
      sigv4::Request sreq{req.method, path, c.query, req.headers,
                          sign_payload ? crypto::sha256_hex(c.body) : std::string(sigv4::k_unsigned_payload)};
      auto s = sigv4::sign(sreq, params);
      req.headers.insert(req.headers.end(), s.add_headers.begin(), s.add_headers.end());

      log::info(6, c.method + " " + display(c.key) + (c.query.empty() ? "" : "?" + c.query) +
                       (attempt > 1 ? " (attempt " + std::to_string(attempt) + ")" : ""));
      auto resp = m_transport->send(req);
      if (answer_too_large)
        return unexpected(Errc::parse, display(c.key) + ": " + c.what + ": the answer is larger than " +
                                           util::human_bytes(k_max_answer_bytes) +
                                           ", more than any answer of this kind holds: refusing it");
      if (resp && !c.on_body && resp->body.empty()) resp->body = std::move(answer);
      double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::string code;
      bool retry = false;
      double retry_after = 0;
      if (resp) m_answered = true;
      if (!resp) {
        const auto& e = resp.error();
        // An endpoint that refuses connections or does not resolve, before it ever answered, is unreachable: one
        // line at once. After an answer, the same failure is a blip (a restarting server) and is retried.
        const bool unreachable = e.reason == "not_sent" && !m_answered.load();
        retry = (e.is(Errc::network) || e.is(Errc::timeout)) && !unreachable;
        code = errc_name(e.code);
        if (!retry || attempt > m_settings.max_retries) {
          Error err = resp.error();
          err.wrap(display(c.key) + ": " + c.what);
          if (attempt > 1) err.message += " (after " + std::to_string(attempt) + " attempts)";
          return unexpected(std::move(err));
        }
      } else {
        const auto& r = *resp;
        if (r.status >= 300) code = xml::text(r.body, "Code").value_or(default_code(r.status));
        // Region redirect, followed once.
        if (!redirected && (r.status == 301 || code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect" ||
                            (r.status == 400 && r.header("x-amz-bucket-region")))) {
          std::string right = r.header("x-amz-bucket-region").value_or(xml::text(r.body, "Region").value_or(""));
          if (!right.empty() && right != region) {
            log::warning("bucket " + m_settings.bucket + " is in region " + right + ", not " + region +
                         ": using " + right + " (set region=" + right + " or AWS_REGION=" + right + " to skip this)");
            switch_region(right);
            redirected = true;
            --attempt;
            continue;
          }
        }
        // Credentials refused as expired: drop them and resend once with fresh ones (bodies are buffers, so the
        // request, a multipart part included, is replayed as it was and signed anew).
        if (r.status >= 400 && is_expired_credentials(c.method, r.status, code, r.body.empty(),
                                                      !creds->session_token.empty())) {
          const bool can_refresh = m_creds->invalidate(creds->access_key_id);
          if (can_refresh && !refreshed) {
            refreshed = true;
            log::info(2, c.what + " " + display(c.key) + ": " + code + ": credentials from " + m_creds->source() +
                             " refused as expired; retrying once with fresh ones");
            --attempt;
            continue;
          }
          const bool named = r.status != 400 || !r.body.empty();  // not just a bodiless HEAD answer
          if (can_refresh)
            c.credentials_note = "credentials from " + m_creds->source() + " still refused after a refresh";
          else if (named)
            c.credentials_note = "credentials from " + m_creds->source() +
                                 " have expired and kbk cannot refresh them: supply new ones, or use a profile with "
                                 "role_arn, SSO or credential_process";
          return resp;
        }
        if (r.status < 300 || !is_retryable(r.status, code) || attempt > m_settings.max_retries) return resp;
        retry = true;
        if (auto ra = http::parse_retry_after(r)) retry_after = *ra;
      }
      // Backoff with jitter; Retry-After wins when larger.
      double backoff = m_settings.retry_backoff_seconds * static_cast<double>(1u << std::min(attempt - 1, 10));
      backoff = std::min(backoff, 20.0) * (0.5 + jitter());
      backoff = std::max(backoff, std::min(retry_after, 30.0));
      log::info(2, c.what + " " + display(c.key) + ": " + code + ", retrying in " +
                       std::to_string(static_cast<int>(backoff * 1000)) + " ms (attempt " + std::to_string(attempt) +
                       " of " + std::to_string(m_settings.max_retries + 1) + ", " +
                       std::to_string(static_cast<int>(elapsed)) + " s so far)");
      std::this_thread::sleep_for(std::chrono::duration<double>(backoff));
    }
  }

  // The Error for a non-success response.
  Error error_for(const Call& c, const http::Response& r) const {
    std::string code = xml::text(r.body, "Code").value_or(default_code(r.status));
    std::string message = xml::text(r.body, "Message").value_or("");
    std::string request_id = r.header("x-amz-request-id").value_or(xml::text(r.body, "RequestId").value_or(""));
    std::string text = display(c.key) + ": " + c.what + " failed: " + code;
    if (!message.empty()) text += ": " + message;
    if (code == "NoSuchBucket" || (c.key.empty() && r.status == 404))
      text += " (bucket " + m_settings.bucket + " does not exist at " + current().first + ")";
    text += " (HTTP " + std::to_string(r.status);
    if (!request_id.empty()) text += ", request id " + request_id;
    text += ")";
    if (!c.credentials_note.empty()) text += ": " + c.credentials_note;
    Error e(errc_for(code, r.status), text);
    e.http_status = r.status;
    e.reason = code;
    if (r.status == 404 && c.key.empty() && code != "NoSuchKey") e.code = Errc::precondition;
    return e;
  }

  Result<http::Response> call_expect(Call& c, std::initializer_list<int> ok) {
    KBK_ASSIGN_OR_RETURN(auto r, call(c));
    for (int s : ok)
      if (r.status == s) return r;
    if (r.status >= 200 && r.status < 300 && ok.size() == 0) return r;
    return unexpected(error_for(c, r));
  }

  // Content-MD5 where the settings demand it on writes.
  void add_write_headers(Call& c) const {
    if (m_settings.object_lock) c.headers.emplace_back("Content-MD5", base64_md5(c.body));
  }

private:
  std::pair<std::string, std::string> current() const {
    std::lock_guard lock(m_mutex);
    return {m_endpoint, m_region};
  }

  void switch_region(const std::string& region) {
    std::lock_guard lock(m_mutex);
    m_region = region;
    if (m_aws_endpoint) m_endpoint = aws_endpoint(region);
  }

  bool use_path_style(const Endpoint& ep) const {
    switch (m_settings.addressing) {
      case Addressing::path: return true;
      case Addressing::virtual_host: return false;
      case Addressing::automatic: break;
    }
    return is_ip_or_localhost(ep.host) || !dns_safe_bucket(m_settings.bucket, ep.scheme == "https");
  }

  double jitter() {
    std::lock_guard lock(m_mutex);
    return std::uniform_real_distribution<double>(0, 1)(m_rng);
  }

  const S3Settings m_settings;
  std::string m_ca_pem;
  std::shared_ptr<aws::CredentialsProvider> m_creds;
  std::shared_ptr<http::Transport> m_transport;
  std::atomic<bool> m_answered{false};  // the endpoint answered once: connection failures are then transient
  mutable std::mutex m_mutex;
  std::string m_region;
  std::string m_endpoint;
  bool m_aws_endpoint = false;
  std::mt19937 m_rng{std::random_device{}()};
};

// HEAD of a full key: nullopt when absent.
Result<std::optional<ObjectInfo>> head(S3Core& core, const std::string& full, const std::string& rel) {
  Call c;
  c.method = "HEAD";
  c.key = full;
  c.what = "HEAD";
  KBK_ASSIGN_OR_RETURN(auto r, core.call(c));
  if (r.status == 404) return std::optional<ObjectInfo>();
  if (r.status != 200) return unexpected(core.error_for(c, r));
  ObjectInfo info;
  info.key = rel;
  info.size = std::strtoull(r.header("Content-Length").value_or("0").c_str(), nullptr, 10);
  if (auto lm = r.header("Last-Modified"))
    if (auto t = parse_http_date(*lm)) info.modified = *t;
  info.etag = strip_quotes(r.header("ETag").value_or(""));
  return std::optional<ObjectInfo>(std::move(info));
}

Result<void> single_put(S3Core& core, const std::string& full, std::string_view data, const PutOptions& options) {
  Call c;
  c.method = "PUT";
  c.key = full;
  c.body = data;
  c.what = "PUT";
  c.headers.emplace_back("Content-Type", options.content_type);
  if (options.if_exists == IfExists::fail) c.headers.emplace_back("If-None-Match", "*");
  core.add_write_headers(c);
  KBK_ASSIGN_OR_RETURN(auto r, core.call(c));
  if (r.status == 200) return {};
  Error e = core.error_for(c, r);
  if (options.if_exists == IfExists::fail && (r.status == 412 || e.reason == "PreconditionFailed" || r.status == 409))
    e.code = Errc::already_exists;
  return unexpected(std::move(e));
}

// ---------------------------------------------------------------------------------------------------------------
// Writer: buffered single PUT, or a multipart upload once the data exceeds one part.

uint64_t part_size_for(uint64_t base, int part_number) {
  // Parts 1-1000 use base, each further thousand doubles it: 10,000 parts of a 16 MiB base reach the 5 TiB
  // object limit, while small streams keep small parts.
  uint64_t size = base;
  for (int n = (part_number - 1) / 1000; n > 0 && size < k_max_part_size; --n) size *= 2;
  return std::min(size, k_max_part_size);
}

class S3Writer final : public Writer {
public:
  S3Writer(std::shared_ptr<S3Core> core, std::string full, PutOptions options)
      : m_core(std::move(core)), m_full(std::move(full)), m_options(std::move(options)) {}

  ~S3Writer() override {
    if (!m_done) abort();
  }

  Result<void> write(std::string_view data) override {
    if (m_done) return unexpected(Errc::invalid, m_core->display(m_full) + ": write after commit or abort");
    if (m_failed) return unexpected(*m_failed);
    m_written += data.size();
    while (!data.empty()) {
      uint64_t target = part_size_for(m_core->settings().part_size, m_next_part);
      size_t take = static_cast<size_t>(std::min<uint64_t>(data.size(), target - m_buffer.size()));
      m_buffer.append(data.substr(0, take));
      data.remove_prefix(take);
      // A full part is sent only once more data follows, so the last part is never empty.
      if (m_buffer.size() >= target && !data.empty()) KBK_TRY(flush_part());
    }
    return {};
  }

  Result<void> commit() override {
    if (m_done) return unexpected(Errc::invalid, m_core->display(m_full) + ": commit after commit or abort");
    if (m_failed) {
      abort();
      return unexpected(*m_failed);
    }
    if (m_upload_id.empty()) {
      // Check again right before the write: the HEAD in put_stream() may be long ago.
      auto r = single_put(*m_core, m_full, m_buffer, m_options);
      m_done = true;
      m_buffer.clear();
      return r;
    }
    if (!m_buffer.empty() || m_next_part == 1) KBK_TRY(or_abort(flush_part()));
    auto waited = wait_all();
    if (!waited) {
      abort();
      return waited;
    }
    std::string xml = "<CompleteMultipartUpload>";
    for (const auto& [n, etag] : m_etags)
      xml += "<Part><PartNumber>" + std::to_string(n) + "</PartNumber><ETag>\"" + xml::escape(etag) + "\"</ETag></Part>";
    xml += "</CompleteMultipartUpload>";
    Call c;
    c.method = "POST";
    c.key = m_full;
    c.query = "uploadId=" + sigv4::uri_encode(m_upload_id, sigv4::Slash::encode);
    c.body = xml;
    c.what = "CompleteMultipartUpload";
    c.headers.emplace_back("Content-Type", "application/xml");
    if (m_options.if_exists == IfExists::fail) c.headers.emplace_back("If-None-Match", "*");
    m_core->add_write_headers(c);
    auto r = m_core->call(c);
    if (!r) {
      abort();
      return unexpected(std::move(r).error());
    }
    // S3 may answer 200 with an <Error> body when the completion fails after it started.
    if (r->status != 200 || xml::text(r->body, "Code")) {
      Error e = m_core->error_for(c, *r);
      if (m_options.if_exists == IfExists::fail && (r->status == 412 || e.reason == "PreconditionFailed"))
        e.code = Errc::already_exists;
      abort();
      return unexpected(std::move(e));
    }
    m_done = true;
    log::debug("s3: " + m_core->display(m_full) + " completed from " + std::to_string(m_etags.size()) + " parts");
    return {};
  }

  void abort() override {
    if (m_done) return;
    m_done = true;
    (void)wait_all();
    m_buffer.clear();
    if (m_upload_id.empty()) return;
    Call c;
    c.method = "DELETE";
    c.key = m_full;
    c.query = "uploadId=" + sigv4::uri_encode(m_upload_id, sigv4::Slash::encode);
    c.what = "AbortMultipartUpload";
    auto r = m_core->call_expect(c, {204, 200, 404});
    if (!r)
      log::warning(r.error().message + "; the incomplete upload stays until `kbk prune` (or a bucket lifecycle rule) removes it");
  }

  uint64_t bytes_written() const override { return m_written; }

private:
  Result<void> or_abort(Result<void> r) {
    if (!r) abort();
    return r;
  }

  Result<void> start_upload() {
    Call c;
    c.method = "POST";
    c.key = m_full;
    c.query = "uploads=";
    c.what = "CreateMultipartUpload";
    c.headers.emplace_back("Content-Type", m_options.content_type);
    KBK_ASSIGN_OR_RETURN(auto r, m_core->call_expect(c, {200}));
    m_upload_id = xml::text(r.body, "UploadId").value_or("");
    if (m_upload_id.empty())
      return unexpected(Errc::parse, m_core->display(m_full) + ": CreateMultipartUpload answer has no UploadId");
    log::debug("s3: multipart upload of " + m_core->display(m_full) + " started");
    return {};
  }

  Result<void> flush_part() {
    if (m_upload_id.empty()) KBK_TRY(start_upload());
    if (m_next_part > k_max_parts)
      return unexpected(Errc::request_entity_too_large, m_core->display(m_full) + ": more than 10,000 parts");
    // Bound the memory: at most upload_concurrency parts in flight.
    while (static_cast<int>(m_inflight.size()) >= std::max(1, m_core->settings().upload_concurrency)) {
      KBK_TRY(collect_one());
    }
    int number = m_next_part++;
    auto data = std::make_shared<std::string>(std::move(m_buffer));
    m_buffer.clear();
    m_buffer.reserve(static_cast<size_t>(part_size_for(m_core->settings().part_size, m_next_part)));
    auto core = m_core;
    std::string full = m_full, upload_id = m_upload_id;
    m_inflight.push_back(std::async(std::launch::async, [core, full, upload_id, number, data]() -> Result<std::pair<int, std::string>> {
      Call c;
      c.method = "PUT";
      c.key = full;
      c.query = "partNumber=" + std::to_string(number) + "&uploadId=" + sigv4::uri_encode(upload_id, sigv4::Slash::encode);
      c.body = *data;
      c.what = "UploadPart " + std::to_string(number);
      core->add_write_headers(c);
      KBK_ASSIGN_OR_RETURN(auto r, core->call_expect(c, {200}));
      auto etag = r.header("ETag");
      if (!etag) return unexpected(Errc::parse, core->display(full) + ": UploadPart " + std::to_string(number) + " answer has no ETag");
      return std::make_pair(number, strip_quotes(*etag));
    }));
    return {};
  }

  Result<void> collect_one() {
    auto f = std::move(m_inflight.front());
    m_inflight.pop_front();
    auto r = f.get();
    if (!r) {
      if (!m_failed) m_failed = r.error();
      return unexpected(std::move(r).error());
    }
    m_etags[r->first] = r->second;
    return {};
  }

  Result<void> wait_all() {
    Result<void> first;
    while (!m_inflight.empty()) {
      auto r = collect_one();
      if (!r && first) first = std::move(r);
    }
    return first;
  }

  std::shared_ptr<S3Core> m_core;
  std::string m_full;
  PutOptions m_options;
  std::string m_buffer;
  std::string m_upload_id;
  int m_next_part = 1;
  std::deque<std::future<Result<std::pair<int, std::string>>>> m_inflight;
  std::map<int, std::string> m_etags;
  std::optional<Error> m_failed;
  uint64_t m_written = 0;
  bool m_done = false;
};

// ---------------------------------------------------------------------------------------------------------------
// Reader: ranged GETs of k_read_chunk, the next one fetched while the caller consumes the current one.

struct Chunk {
  std::string data;
};

// GET bytes [from, to_inclusive] of an object, with If-Match on its ETag when one is given. headed: a HEAD found the
// object at least that long (get_stream), so a 404 means it went away meanwhile; without one (get_range, an index
// entry's range of an immutable pack) a 404 is a missing object and a range past its end a short object.
Result<Chunk> fetch_range(S3Core& core, const std::string& full, uint64_t from, uint64_t to_inclusive,
                          const std::string& if_match, bool headed = true) {
  Call c;
  c.method = "GET";
  c.key = full;
  c.what = "GET";
  c.headers.emplace_back("Range", "bytes=" + std::to_string(from) + "-" + std::to_string(to_inclusive));
  if (!if_match.empty()) c.headers.emplace_back("If-Match", "\"" + if_match + "\"");
  const uint64_t want = to_inclusive - from + 1;
  for (int attempt = 1;; ++attempt) {
    KBK_ASSIGN_OR_RETURN(auto r, core.call(c));
    if (r.status == 412 && !if_match.empty())
      return unexpected(Errc::corrupt, core.display(full) + ": the object changed while it was being read (ETag " +
                                           if_match + " no longer matches)");
    if (r.status == 404) {
      Error e = core.error_for(c, r);
      if (headed) e.message = core.display(full) + ": the object was removed while it was being read";
      return unexpected(std::move(e));
    }
    const auto short_object = [&](const std::string& size) {
      return unexpected(Errc::corrupt, core.display(full) + ": the object holds " + size + " bytes, not the " +
                                           std::to_string(want) + " at " + std::to_string(from) + " asked for");
    };
    if (r.status == 416 && !headed) {
      std::string cr = r.header("Content-Range").value_or("");
      auto slash = cr.rfind('/');
      return short_object(slash == std::string::npos ? "fewer" : cr.substr(slash + 1));
    }
    if (r.status != 206 && r.status != 200) return unexpected(core.error_for(c, r));
    // Where the returned bytes start: a server may ignore Range (200) or widen it (s3rver answers "bytes=0-0"
    // with the whole object); take what was asked for out of what came.
    uint64_t got_from = 0, got_to = 0;
    bool have_range = false;
    if (r.status == 206) {
      std::string cr = r.header("Content-Range").value_or("");
      unsigned long long a = 0, b = 0, total = 0;
      const int fields = std::sscanf(cr.c_str(), "bytes %llu-%llu/%llu", &a, &b, &total);
      if (fields >= 2) {
        got_from = a;
        got_to = b;
        have_range = true;
      }
      // The object itself is shorter than the range (not a body cut in transit): no retry brings the rest.
      if (fields == 3 && !headed && total <= to_inclusive) return short_object(std::to_string(total));
    }
    if (!have_range) {
      got_from = 0;
      got_to = r.body.empty() ? 0 : r.body.size() - 1;
    }
    const uint64_t announced = got_to - got_from + 1;
    if (got_from > from || r.body.size() != announced || got_to < to_inclusive) {
      // A truncated or short body the transport did not flag: retry the range.
      if (attempt <= core.settings().max_retries) {
        log::info(2, "GET " + core.display(full) + ": got " + std::to_string(r.body.size()) + " bytes at " +
                         std::to_string(got_from) + " for " + std::to_string(want) + " at " + std::to_string(from) +
                         ", retrying");
        continue;
      }
      return unexpected(Errc::corrupt, core.display(full) + ": GET returned " + std::to_string(r.body.size()) +
                                           " bytes of " + std::to_string(want));
    }
    Chunk out;
    if (got_from == from && r.body.size() == want) out.data = std::move(r.body);
    else out.data = r.body.substr(from - got_from, want);
    return out;
  }
}

class S3Reader final : public Reader {
public:
  S3Reader(std::shared_ptr<S3Core> core, std::string full, uint64_t offset, uint64_t end, std::string etag)
      : m_core(std::move(core)), m_full(std::move(full)), m_etag(std::move(etag)), m_pos(offset), m_end(end) {
    prefetch();
  }

  ~S3Reader() override {
    if (m_next.valid()) m_next.wait();
  }

  Result<size_t> read(char* buffer, size_t size) override {
    while (m_used == m_chunk.size()) {
      if (!m_next.valid()) return size_t{0};
      auto next = m_next.get();
      if (!next) return unexpected(std::move(next).error());
      m_chunk = std::move(next->data);
      m_used = 0;
      m_pos += m_chunk.size();
      prefetch();
    }
    size_t n = std::min(size, m_chunk.size() - m_used);
    std::memcpy(buffer, m_chunk.data() + m_used, n);
    m_used += n;
    return n;
  }

private:
  void prefetch() {
    if (m_pos >= m_end) return;
    uint64_t to = std::min(m_pos + k_read_chunk, m_end) - 1;
    auto core = m_core;
    std::string full = m_full, etag = m_etag;
    uint64_t from = m_pos;
    m_next = std::async(std::launch::async, [core, full, from, to, etag] { return fetch_range(*core, full, from, to, etag); });
  }

  std::shared_ptr<S3Core> m_core;
  std::string m_full;
  std::string m_etag;
  uint64_t m_pos = 0;  // object offset after m_chunk (and of the chunk being fetched)
  uint64_t m_end = 0;
  std::string m_chunk;
  size_t m_used = 0;
  std::future<Result<Chunk>> m_next;
};

class EmptyReader final : public Reader {
public:
  Result<size_t> read(char*, size_t) override { return size_t{0}; }
};

// ---------------------------------------------------------------------------------------------------------------
// The backend

class S3Backend final : public Backend {
public:
  explicit S3Backend(std::shared_ptr<S3Core> core) : m_core(std::move(core)) {}

  std::shared_ptr<S3Access> s3_access() const override { return m_core->access(); }

  std::string display_url() const override {
    const auto& s = m_core->settings();
    std::string p = s.prefix;
    if (!p.empty() && p.back() == '/') p.pop_back();
    return "s3://" + s.bucket + (p.empty() ? "" : "/" + p);
  }

  Result<void> put(const std::string& key, std::string_view data, const PutOptions& options) override {
    KBK_TRY(check_key(key));
    if (data.size() <= m_core->settings().part_size) {
      if (options.if_exists == IfExists::fail) KBK_TRY(refuse_existing(key));
      return single_put(*m_core, m_core->full_key(key), data, options);
    }
    KBK_ASSIGN_OR_RETURN(auto w, put_stream(key, options));
    KBK_TRY(w->write(data));
    return w->commit();
  }

  Result<std::unique_ptr<Writer>> put_stream(const std::string& key, const PutOptions& options) override {
    KBK_TRY(check_key(key));
    if (options.if_exists == IfExists::fail) KBK_TRY(refuse_existing(key));
    return std::unique_ptr<Writer>(std::make_unique<S3Writer>(m_core, m_core->full_key(key), options));
  }

  Result<std::string> get(const std::string& key) override {
    KBK_TRY(check_key(key));
    Call c;
    c.method = "GET";
    c.key = m_core->full_key(key);
    c.what = "GET";
    for (int attempt = 1;; ++attempt) {
      KBK_ASSIGN_OR_RETURN(auto r, m_core->call(c));
      if (r.status != 200) return unexpected(m_core->error_for(c, r));
      auto cl = r.header("Content-Length");
      if (cl && std::strtoull(cl->c_str(), nullptr, 10) != r.body.size()) {
        if (attempt <= m_core->settings().max_retries) continue;
        return unexpected(Errc::corrupt, m_core->display(c.key) + ": GET returned " + std::to_string(r.body.size()) +
                                             " bytes of " + *cl);
      }
      return std::move(r.body);
    }
  }

  Result<std::unique_ptr<Reader>> get_stream(const std::string& key, uint64_t offset, uint64_t length) override {
    KBK_TRY(check_key(key));
    std::string full = m_core->full_key(key);
    // HEAD first: the size bounds every range (no 416 dance for empty objects, which some servers answer
    // wrongly) and the ETag pins the version all ranges must come from.
    KBK_ASSIGN_OR_RETURN(auto info, head_checked(full, key));
    if (!info) return unexpected(Errc::not_found, m_core->display(full) + ": no such object");
    uint64_t end = info->size;
    if (length > 0 && offset + length < end) end = offset + length;
    if (offset >= end) return std::unique_ptr<Reader>(std::make_unique<EmptyReader>());
    return std::unique_ptr<Reader>(std::make_unique<S3Reader>(m_core, full, offset, end, info->etag));
  }

  // One ranged GET: no HEAD (the index gave the range, a pack never changes once written, so there is no version
  // to pin with If-Match). A server that ignores or widens Range (s3rver answers "bytes=0-0" with the whole
  // object) is handled by fetch_range, which takes the range out of what came.
  Result<std::string> get_range(const std::string& key, uint64_t offset, uint64_t length) override {
    KBK_TRY(check_key(key));
    if (length == 0) return std::string();
    KBK_ASSIGN_OR_RETURN(Chunk c, fetch_range(*m_core, m_core->full_key(key), offset, offset + length - 1, "", false));
    return std::move(c.data);
  }

  Result<std::optional<ObjectInfo>> stat(const std::string& key) override {
    KBK_TRY(check_key(key));
    return head_checked(m_core->full_key(key), key);
  }

  Result<void> list(const std::string& prefix,
                    const std::function<Result<void>(const ObjectInfo&)>& on_object) override {
    const std::string& base = m_core->settings().prefix;
    return list_v2(base + prefix, "", [&](std::string_view doc) -> Result<void> {
      std::vector<ObjectInfo> page;
      for (auto contents : xml::elements(doc, "Contents")) {
        ObjectInfo info;
        std::string k = xml::text(contents, "Key").value_or("");
        // Only keys under what was asked for: a server that answers with others must not steer a delete.
        if (k.size() < base.size() + prefix.size() || k.compare(0, base.size(), base) != 0 ||
            k.compare(base.size(), prefix.size(), prefix) != 0)
          continue;
        info.key = k.substr(base.size());
        info.size = std::strtoull(xml::text(contents, "Size").value_or("0").c_str(), nullptr, 10);
        if (auto t = util::parse_rfc3339(xml::text(contents, "LastModified").value_or(""))) info.modified = *t;
        info.etag = strip_quotes(xml::text(contents, "ETag").value_or(""));
        page.push_back(std::move(info));
      }
      // S3 sends each page in key order; s3rver walks its folders instead. Sorting a page costs nothing on S3
      // and gives s3rver's small listings the right order (order across pages stays the server's).
      std::sort(page.begin(), page.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
      for (const auto& info : page) KBK_TRY(on_object(info));
      return {};
    });
  }

  Result<std::vector<std::string>> list_prefixes(const std::string& prefix) override {
    std::string p = prefix;
    if (!p.empty() && p.back() != '/') p += '/';
    const std::string full = m_core->settings().prefix + p;
    std::vector<std::string> out;
    if (!m_core->settings().delimiter_listing) {
      // Derive the folders from a full listing (stores whose delimiter listing is incomplete).
      KBK_TRY(list(p, [&](const ObjectInfo& info) -> Result<void> {
        auto slash = info.key.find('/', p.size());
        if (slash != std::string::npos) {
          std::string folder = info.key.substr(p.size(), slash - p.size() + 1);
          if (out.empty() || out.back() != folder) out.push_back(folder);
        }
        return {};
      }));
      std::sort(out.begin(), out.end());
      out.erase(std::unique(out.begin(), out.end()), out.end());
      return out;
    }
    KBK_TRY(list_v2(full, "/", [&](std::string_view doc) -> Result<void> {
      for (auto cp : xml::elements(doc, "CommonPrefixes")) {
        std::string k = xml::text(cp, "Prefix").value_or("");
        if (k.size() > full.size() && k.compare(0, full.size(), full) == 0) out.push_back(k.substr(full.size()));
      }
      return {};
    }));
    std::sort(out.begin(), out.end());
    return out;
  }

  Result<void> remove(const std::string& key) override {
    KBK_TRY(check_key(key));
    Call c;
    c.method = "DELETE";
    c.key = m_core->full_key(key);
    c.what = "DELETE";
    KBK_TRY(m_core->call_expect(c, {204, 200, 404}));
    return {};
  }

  Result<void> remove_many(const std::vector<std::string>& keys) override {
    for (size_t i = 0; i < keys.size(); i += k_delete_batch) {
      std::string body = "<Delete><Quiet>true</Quiet>";
      for (size_t j = i; j < std::min(keys.size(), i + k_delete_batch); ++j) {
        KBK_TRY(check_key(keys[j]));
        body += "<Object><Key>" + xml::escape(m_core->full_key(keys[j])) + "</Key></Object>";
      }
      body += "</Delete>";
      Call c;
      c.method = "POST";
      c.query = "delete=";
      c.body = body;
      c.what = "DeleteObjects";
      c.headers.emplace_back("Content-Type", "application/xml");
      c.headers.emplace_back("Content-MD5", base64_md5(body));  // required by S3 for this call
      KBK_ASSIGN_OR_RETURN(auto r, m_core->call_expect(c, {200}));
      auto errors = xml::elements(r.body, "Error");
      if (!errors.empty()) {
        std::string k = xml::text(errors[0], "Key").value_or("");
        std::string code = xml::text(errors[0], "Code").value_or("");
        std::string msg = xml::text(errors[0], "Message").value_or("");
        Error e(errc_for(code, 0), m_core->display(k) + ": DeleteObjects failed for " + std::to_string(errors.size()) +
                                       " object(s), first: " + code + (msg.empty() ? "" : ": " + msg));
        e.reason = code;
        return unexpected(std::move(e));
      }
    }
    return {};
  }

  Result<uint64_t> cleanup_incomplete(std::chrono::seconds older_than, const std::string& folder) override {
    const std::string base = m_core->settings().prefix + folder;
    // older_than 0 takes every unfinished upload (the server's clock may run ahead of ours).
    const auto cutoff = older_than.count() == 0 ? Clock::time_point::max() : Clock::now() - older_than;
    uint64_t removed = 0;
    std::string key_marker, upload_marker;
    std::set<std::pair<std::string, std::string>> seen;  // markers handed back twice would loop for ever
    while (true) {
      Call c;
      c.method = "GET";
      c.query = "prefix=" + sigv4::uri_encode(base, sigv4::Slash::encode) + "&uploads=";
      if (!key_marker.empty()) c.query += "&key-marker=" + sigv4::uri_encode(key_marker, sigv4::Slash::encode);
      if (!upload_marker.empty()) c.query += "&upload-id-marker=" + sigv4::uri_encode(upload_marker, sigv4::Slash::encode);
      c.what = "ListMultipartUploads";
      KBK_ASSIGN_OR_RETURN(auto r, m_core->call(c));
      if (r.status == 501 || r.status == 404 || r.status == 405 ||
          (r.status == 200 && r.body.find("ListMultipartUploadsResult") == std::string::npos)) {
        // s3rver has no ListMultipartUploads: nothing we can clean there.
        log::debug("s3: " + display_url() + ": the server does not list multipart uploads (HTTP " +
                   std::to_string(r.status) + "); nothing to clean up");
        return removed;
      }
      if (r.status != 200) return unexpected(m_core->error_for(c, r));
      for (auto up : xml::elements(r.body, "Upload")) {
        std::string k = xml::text(up, "Key").value_or("");
        std::string id = xml::text(up, "UploadId").value_or("");
        auto initiated = util::parse_rfc3339(xml::text(up, "Initiated").value_or(""));
        if (k.compare(0, base.size(), base) != 0 || id.empty() || !initiated || *initiated > cutoff) continue;
        Call a;
        a.method = "DELETE";
        a.key = k;
        a.query = "uploadId=" + sigv4::uri_encode(id, sigv4::Slash::encode);
        a.what = "AbortMultipartUpload";
        KBK_TRY(m_core->call_expect(a, {204, 200, 404}));
        log::info(1, "aborted the incomplete upload of " + m_core->display(k) + " started " + util::format_rfc3339(*initiated));
        ++removed;
      }
      if (xml::text(r.body, "IsTruncated").value_or("false") != "true") break;
      key_marker = xml::text(r.body, "NextKeyMarker").value_or("");
      upload_marker = xml::text(r.body, "NextUploadIdMarker").value_or("");
      if (key_marker.empty() && upload_marker.empty()) break;
      if (!seen.emplace(key_marker, upload_marker).second)
        return unexpected(Errc::parse, display_url() + ": ListMultipartUploads returned markers it gave before " +
                                           "(the listing would never end)");
    }
    return removed;
  }

private:
  Result<void> check_key(const std::string& key) const {
    if (key.empty() || key.front() == '/')
      return unexpected(Errc::invalid, display_url() + ": invalid object key \"" + key + "\"");
    return {};
  }

  Result<void> refuse_existing(const std::string& key) {
    KBK_ASSIGN_OR_RETURN(auto info, head(*m_core, m_core->full_key(key), key));
    if (info) return unexpected(Errc::already_exists, m_core->display(m_core->full_key(key)) + " already exists");
    return {};
  }

  Result<void> list_v2(const std::string& full_prefix, const std::string& delimiter,
                       const std::function<Result<void>(std::string_view)>& on_page) {
    std::string token;
    std::set<std::string> seen;  // a server that hands back a token it gave before would loop for ever
    while (true) {
      Call c;
      c.method = "GET";
      c.query = "list-type=2&prefix=" + sigv4::uri_encode(full_prefix, sigv4::Slash::encode);
      if (!delimiter.empty()) c.query += "&delimiter=" + sigv4::uri_encode(delimiter, sigv4::Slash::encode);
      if (!token.empty()) c.query += "&continuation-token=" + sigv4::uri_encode(token, sigv4::Slash::encode);
      c.what = "ListObjectsV2";
      KBK_ASSIGN_OR_RETURN(auto r, m_core->call_expect(c, {200}));
      KBK_TRY(on_page(r.body));
      if (xml::text(r.body, "IsTruncated").value_or("false") != "true") return {};
      token = xml::text(r.body, "NextContinuationToken").value_or("");
      if (token.empty())
        return unexpected(Errc::parse, display_url() + ": ListObjectsV2 is truncated but has no NextContinuationToken");
      if (!seen.insert(token).second)
        return unexpected(Errc::parse, display_url() + ": ListObjectsV2 returned a NextContinuationToken it gave before " +
                                           "(the listing would never end)");
    }
  }

  // HEAD answers a missing bucket with a bare 404, like a missing key. Before the first "no such object" the
  // bucket is checked once (a one-key listing), so a missing bucket is named as such and never reported as a
  // missing backup.
  Result<std::optional<ObjectInfo>> head_checked(const std::string& full, const std::string& rel) {
    KBK_ASSIGN_OR_RETURN(auto info, head(*m_core, full, rel));
    if (info || m_bucket_seen.load()) {
      m_bucket_seen = true;
      return info;
    }
    Call c;
    c.method = "GET";
    c.query = "list-type=2&max-keys=1&prefix=" + sigv4::uri_encode(full, sigv4::Slash::encode);
    c.what = "ListObjectsV2";
    KBK_TRY(m_core->call_expect(c, {200}));
    m_bucket_seen = true;
    return info;
  }

  std::shared_ptr<S3Core> m_core;
  std::atomic<bool> m_bucket_seen{false};
};

Result<uint64_t> parse_size(const std::string& key, const std::string& v) {
  char* end = nullptr;
  unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  std::string unit = end ? util::to_lower(util::trim(end)) : "";
  uint64_t mult = 1;
  if (unit == "k" || unit == "kib" || unit == "ki") mult = 1ull << 10;
  else if (unit == "m" || unit == "mib" || unit == "mi") mult = 1ull << 20;
  else if (unit == "g" || unit == "gib" || unit == "gi") mult = 1ull << 30;
  else if (!unit.empty() || end == v.c_str())
    return unexpected(Errc::config, "storage setting " + key + "=" + v + ": not a size (bytes, or with KiB/MiB/GiB)");
  return static_cast<uint64_t>(n) * mult;
}

}  // namespace

Result<S3Settings> resolve_s3_settings(const std::string& url, const OpenOptions& options, const aws::Config& config) {
  S3Settings s;
  if (!util::starts_with(url, "s3://")) return unexpected(Errc::config, "storage location " + url + ": not an s3:// URL");
  std::string rest = url.substr(5);
  std::string query;
  if (auto q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest.resize(q);
  }
  auto slash = rest.find('/');
  s.bucket = rest.substr(0, slash);
  if (slash != std::string::npos) s.prefix = rest.substr(slash + 1);
  while (!s.prefix.empty() && s.prefix.back() == '/') s.prefix.pop_back();
  if (!s.prefix.empty()) s.prefix += '/';
  if (s.bucket.empty()) return unexpected(Errc::config, "storage location " + url + ": no bucket (s3://BUCKET/PREFIX)");
  if (s.prefix.find("//") != std::string::npos || (!s.prefix.empty() && s.prefix.front() == '/'))
    return unexpected(Errc::config, "storage location " + url + ": empty path segment in the prefix");

  // Settings: flags first, URL query options override.
  std::vector<std::pair<std::string, std::string>> kv = options.settings;
  for (const auto& part : util::split(query, '&')) {
    auto eq = part.find('=');
    kv.emplace_back(util::url_decode(part.substr(0, eq)), eq == std::string::npos ? "" : util::url_decode(part.substr(eq + 1)));
  }
  std::string endpoint, region, ca;
  std::string addressing = config.profile_value(config.profile, "s3.addressing_style");
  for (auto [k, v] : kv) {
    if (util::starts_with(k, "s3-")) k = k.substr(3);
    bool b = false;
    if (k == "endpoint" || k == "endpoint-url") endpoint = v;
    else if (k == "region") region = v;
    else if (k == "addressing" || k == "addressing-style") addressing = v;
    else if (k == "path-style" || k == "force-path-style") {
      if (!parse_bool(v, b)) return unexpected(Errc::config, "storage setting " + k + "=" + v + ": not a boolean");
      addressing = b ? "path" : "auto";
    } else if (k == "ca-bundle" || k == "ca") ca = v;
    else if (k == "insecure-tls" || k == "insecure-skip-tls-verify") {
      if (!parse_bool(v, s.insecure_tls)) return unexpected(Errc::config, "storage setting " + k + "=" + v + ": not a boolean");
    } else if (k == "profile") s.profile = v;
    else if (k == "part-size") {
      KBK_ASSIGN_OR_RETURN(s.part_size, parse_size(k, v));
      if (s.part_size < k_min_part_size || s.part_size > k_max_part_size)
        return unexpected(Errc::config, "storage setting part-size=" + v + ": must be between 5 MiB and 5 GiB");
    } else if (k == "upload-concurrency" || k == "concurrency") {
      s.upload_concurrency = std::atoi(v.c_str());
      if (s.upload_concurrency < 1 || s.upload_concurrency > 64)
        return unexpected(Errc::config, "storage setting " + k + "=" + v + ": must be 1..64");
    } else if (k == "max-retries") {
      s.max_retries = std::atoi(v.c_str());
      if (s.max_retries < 0) return unexpected(Errc::config, "storage setting max-retries=" + v + ": must be >= 0");
    } else if (k == "retry-backoff") {
      s.retry_backoff_seconds = std::atof(v.c_str());
    } else if (k == "timeout") {
      s.timeout_seconds = std::atof(v.c_str());
    } else if (k == "list-delimiter") {
      if (!parse_bool(v, s.delimiter_listing))
        return unexpected(Errc::config, "storage setting list-delimiter=" + v + ": not a boolean");
    } else if (k == "object-lock") {
      if (!parse_bool(v, s.object_lock)) return unexpected(Errc::config, "storage setting object-lock=" + v + ": not a boolean");
    } else if (k == "payload-signing") {
      if (v == "auto") s.payload_signing = PayloadSigning::automatic;
      else if (v == "always") s.payload_signing = PayloadSigning::always;
      else if (v == "never") s.payload_signing = PayloadSigning::never;
      else return unexpected(Errc::config, "storage setting payload-signing=" + v + ": auto, always or never");
    } else {
      log::debug("s3: setting " + k + " is not an S3 setting; left to other layers");
    }
  }
  if (addressing.empty() || addressing == "auto") s.addressing = Addressing::automatic;
  else if (addressing == "path") s.addressing = Addressing::path;
  else if (addressing == "virtual") s.addressing = Addressing::virtual_host;
  else return unexpected(Errc::config, "storage setting addressing=" + addressing + ": auto, path or virtual");

  s.region = !region.empty() ? region : !config.region.empty() ? config.region : "us-east-1";
  s.endpoint = !endpoint.empty() ? endpoint : config.s3_endpoint_url;
  if (!s.endpoint.empty()) {
    if (s.endpoint.find("://") == std::string::npos) s.endpoint = "https://" + s.endpoint;
    while (s.endpoint.back() == '/') s.endpoint.pop_back();
    auto ep = split_endpoint(s.endpoint);
    if ((ep.scheme != "http" && ep.scheme != "https") || ep.host.empty())
      return unexpected(Errc::config, "storage setting endpoint=" + s.endpoint + ": expected http(s)://host[:port]");
    if (s.endpoint.size() > ep.scheme.size() + 3 + ep.host.size())
      return unexpected(Errc::config, "storage setting endpoint=" + s.endpoint + ": a path after the host is not supported");
  }
  s.ca_bundle = !ca.empty() ? util::expand_home(ca) : config.ca_bundle;
  return s;
}

std::unique_ptr<Backend> make_s3_backend(S3Settings settings, std::shared_ptr<aws::CredentialsProvider> credentials,
                                         std::shared_ptr<http::Transport> transport) {
  return std::make_unique<S3Backend>(std::make_shared<S3Core>(std::move(settings), std::move(credentials), std::move(transport)));
}

Result<std::unique_ptr<Backend>> make_s3_backend(const std::string& url, const OpenOptions& options,
                                                 const aws::Environment& env) {
  // The profile may come from the URL; read it before the config.
  std::string profile;
  for (const auto& [k, v] : options.settings)
    if (k == "profile" || k == "s3-profile") profile = v;
  if (auto q = url.find('?'); q != std::string::npos)
    for (const auto& part : util::split(url.substr(q + 1), '&'))
      if (util::starts_with(part, "profile=") || util::starts_with(part, "s3-profile="))
        profile = util::url_decode(part.substr(part.find('=') + 1));
  KBK_ASSIGN_OR_RETURN(auto config, aws::load_config(env, profile));
  KBK_ASSIGN_OR_RETURN(auto settings, resolve_s3_settings(url, options, config));

  http::TransportOptions topts;
  topts.http_version = http::HttpVersion::http1_1;
  topts.user_agent = std::string("kbk/") + KBK_VERSION;
  topts.accept_gzip = false;
  topts.tls.insecure_skip_verify = settings.insecure_tls;
  if (!settings.ca_bundle.empty()) {
    auto pem = util::read_file(settings.ca_bundle, util::k_max_input_file);
    if (!pem) return unexpected(Errc::config, "CA bundle " + settings.ca_bundle + ": " + pem.error().message);
    topts.tls.ca_pem = std::move(*pem);
  }
  const std::string ca_pem = topts.tls.ca_pem;
  KBK_ASSIGN_OR_RETURN(auto t, http::make_curl_transport(topts));
  std::shared_ptr<http::Transport> transport = std::move(t);
  KBK_ASSIGN_OR_RETURN(auto creds, aws::make_default_chain(config, env, transport));
  log::debug("s3: " + url.substr(0, url.find('?')) + " via " + (settings.endpoint.empty() ? "AWS" : settings.endpoint) +
             ", region " + settings.region + ", credentials from " + creds->source());
  auto core = std::make_shared<S3Core>(std::move(settings), std::move(creds), std::move(transport));
  core->set_ca_pem(ca_pem);
  return std::unique_ptr<Backend>(std::make_unique<S3Backend>(std::move(core)));
}

Result<std::unique_ptr<Backend>> make_s3_backend(const S3Access& access) {
  if (!access.credentials) return unexpected(Errc::config, "s3://" + access.settings.bucket + ": no credentials");
  http::TransportOptions topts;
  topts.http_version = http::HttpVersion::http1_1;
  topts.user_agent = std::string("kbk-mover/") + KBK_VERSION;
  topts.accept_gzip = false;
  topts.tls.insecure_skip_verify = access.settings.insecure_tls;
  topts.tls.ca_pem = access.ca_pem;
  KBK_ASSIGN_OR_RETURN(auto t, http::make_curl_transport(topts));
  auto core = std::make_shared<S3Core>(access.settings, access.credentials, std::shared_ptr<http::Transport>(std::move(t)));
  core->set_ca_pem(access.ca_pem);
  std::unique_ptr<Backend> b = std::make_unique<S3Backend>(std::move(core));
  BandwidthLimits limits;
  limits.upload_bytes_per_second = access.limit_upload_bytes_per_second;
  limits.download_bytes_per_second = access.limit_download_bytes_per_second;
  return wrap_bandwidth_limit(std::move(b), limits);
}

Result<std::unique_ptr<Backend>> make_s3_backend(const std::string& url, const OpenOptions& options) {
  return make_s3_backend(url, options, aws::Environment::process());
}

}  // namespace kbk::storage
