// Retry policy, rate limiter and the retrying transport (transport-independent parts of the http module).
#include <kbk/http/http.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <iterator>
#include <thread>

#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::http {

std::optional<std::string> find_header(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && util::to_lower(k) == util::to_lower(name)) return v;
  }
  return std::nullopt;
}

std::vector<std::string> find_headers(const Headers& headers, std::string_view name) {
  std::vector<std::string> out;
  const std::string lname = util::to_lower(name);
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && util::to_lower(k) == lname) out.push_back(v);
  }
  return out;
}

Idempotency idempotency_for(std::string_view method) {
  if (method == "POST" || method == "PATCH") return Idempotency::unsafe;
  return Idempotency::idempotent;
}

// ---- rate limiter -------------------------------------------------------------------------------------------

RateLimiter::RateLimiter(double qps, int burst)
    : m_qps(qps), m_burst(std::max(1, burst)), m_tokens(std::max(1, burst)) {}

std::chrono::duration<double> RateLimiter::reserve(Clock::time_point now) {
  if (m_qps <= 0) return std::chrono::duration<double>(0);
  std::lock_guard lock(m_mutex);
  if (!m_started) {
    m_started = true;
    m_last = now;
  }
  if (now > m_last) {
    const double refill = std::chrono::duration<double>(now - m_last).count() * m_qps;
    m_tokens = std::min(m_burst, m_tokens + refill);
    m_last = now;
  }
  m_tokens -= 1;  // a negative balance is the queue of callers already promised a future token
  if (m_tokens >= 0) return std::chrono::duration<double>(0);
  return std::chrono::duration<double>(-m_tokens / m_qps);
}

void RateLimiter::acquire() {
  const auto wait = reserve(Clock::now());
  if (wait.count() > 0) std::this_thread::sleep_for(wait);
}

// ---- policy -------------------------------------------------------------------------------------------------

bool is_retryable_status(int status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

namespace {

// An IMF-fixdate (RFC 9110 section 5.6.7: "Sun, 06 Nov 1994 08:49:37 GMT", always GMT, fixed widths) as seconds
// since the epoch; nullopt for anything else (the obsolete RFC 850 and asctime forms are not read).
std::optional<int64_t> parse_imf_fixdate(std::string_view s) {
  static constexpr std::string_view k_days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr std::string_view k_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
      s[22] != ':' || s.substr(25) != " GMT")
    return std::nullopt;
  if (std::find(std::begin(k_days), std::end(k_days), s.substr(0, 3)) == std::end(k_days)) return std::nullopt;
  const auto month_it = std::find(std::begin(k_months), std::end(k_months), s.substr(8, 3));
  if (month_it == std::end(k_months)) return std::nullopt;
  auto number = [&](size_t pos, size_t len) -> int {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  const int day = number(5, 2), year = number(12, 4), hour = number(17, 2), minute = number(20, 2),
            second = number(23, 2);
  const int month = static_cast<int>(month_it - std::begin(k_months)) + 1;
  if (day < 1 || day > 31 || year < 1970 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

std::optional<double> parse_retry_after(const Response& response, std::chrono::system_clock::time_point now) {
  const auto v = response.header("Retry-After");
  if (!v) return std::nullopt;
  const std::string s(util::trim(*v));
  if (s.empty()) return std::nullopt;
  if (std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (s.size() > 6) return 1e6;
    return std::stod(s);
  }
  const auto when = parse_imf_fixdate(s);
  if (!when) return std::nullopt;
  const double now_seconds = std::chrono::duration<double>(now.time_since_epoch()).count();
  return std::max(0.0, static_cast<double>(*when) - now_seconds);  // a date already past: retry now
}

std::optional<double> parse_retry_after(const Response& response) {
  return parse_retry_after(response, std::chrono::system_clock::now());
}

namespace {

// Transport failures: the curl transport tags an error's reason with where the request got to.
bool failure_before_send(const Error& e) { return e.reason == "not_sent"; }
bool failure_after_body_taken(const Error& e) { return e.reason == "body_partial"; }

}  // namespace

std::optional<double> retry_delay(const RetryPolicy& policy, Idempotency idempotency, int attempt,
                                  const Result<Response>& outcome, double elapsed_seconds, double jitter) {
  if (attempt > policy.max_retries) return std::nullopt;
  std::optional<double> server_wait;
  if (outcome.ok()) {
    const int status = outcome->status;
    if (!is_retryable_status(status)) return std::nullopt;
    // 429 is a rejection before the request was acted on (priority and fairness, max-inflight): any request may
    // be sent again. A 5xx may come after the server acted, so only requests safe to repeat are.
    if (status != 429 && idempotency == Idempotency::unsafe) return std::nullopt;
    server_wait = parse_retry_after(*outcome);
  } else {
    const Error& e = outcome.error();
    if (e.code != Errc::network && e.code != Errc::timeout) return std::nullopt;
    if (failure_after_body_taken(e)) return std::nullopt;
    if (idempotency == Idempotency::unsafe && !failure_before_send(e)) return std::nullopt;
  }
  double delay;
  if (server_wait) {
    delay = std::min(*server_wait, policy.max_retry_after_seconds);
  } else {
    const double base = policy.initial_backoff_seconds * std::pow(2.0, std::max(0, attempt - 1));
    delay = std::min(base, policy.max_backoff_seconds) * (0.5 + std::clamp(jitter, 0.0, 1.0));
  }
  if (elapsed_seconds + delay > policy.max_total_seconds) return std::nullopt;
  return delay;
}

void sleep_seconds(double seconds) {
  if (seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

// ---- retrying transport -------------------------------------------------------------------------------------

namespace {

class RetryingTransport final : public Transport {
public:
  RetryingTransport(std::shared_ptr<Transport> inner, RetryPolicy policy, std::shared_ptr<RateLimiter> limiter,
                    Sleeper sleeper)
      : m_inner(std::move(inner)), m_policy(policy), m_limiter(std::move(limiter)), m_sleeper(std::move(sleeper)) {}

  Result<Response> send(const Request& request) override {
    // Time counted against the budget: the sends themselves plus the waits between them (so a test's recording
    // sleeper is measured as a real one would be).
    // With a Deferral the counts go on from the sends it carries.
    Deferral* const deferral = request.deferral;
    double busy = deferral ? deferral->elapsed_seconds : 0;
    double slept = 0;
    bool ambiguous = deferral && deferral->ambiguous;
    int without_retry_after = deferral ? deferral->without_retry_after : 0;  // failures the server named no wait for
    const int first = deferral ? deferral->attempts + 1 : 1;
    if (deferral) deferral->deferred = false;
    const int plain_limit = m_policy.max_retries_without_retry_after < 0 ? m_policy.max_retries
                                                                          : m_policy.max_retries_without_retry_after;
    // A streamed upload can only be repeated when it can be rewound.
    const bool can_repeat = !request.body_reader || static_cast<bool>(request.body_rewind);
    for (int attempt = first;; ++attempt) {
      if (m_limiter) m_limiter->acquire();
      if (attempt > first && request.body_reader && request.body_rewind && !request.body_rewind())
        return unexpected(Errc::io, request.method + " " + request.url + ": cannot rewind the request body to retry");
      const auto t0 = std::chrono::steady_clock::now();
      Result<Response> outcome = m_inner->send(request);
      busy += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double elapsed = busy + slept;
      if (outcome.ok()) m_answered = true;
      std::optional<double> delay;
      const bool unreachable = !outcome.ok() && failure_before_send(outcome.error()) && !m_answered.load() &&
                               !m_policy.retry_unreachable_before_first_answer;
      if (can_repeat && !unreachable) delay = retry_delay(m_policy, request.idempotency, attempt, outcome, elapsed, jitter());
      if (delay && !(outcome.ok() && parse_retry_after(*outcome)) && ++without_retry_after > plain_limit) delay.reset();
      if (!delay) {
        if (outcome.ok()) {
          outcome->attempts = attempt;
          outcome->retried_after_ambiguous_failure = ambiguous;
        }
        return outcome;
      }
      std::string why;
      if (outcome.ok()) {
        why = "HTTP " + std::to_string(outcome->status);
        if (outcome->status != 429) ambiguous = true;
      } else {
        why = outcome.error().message;
        if (outcome.error().reason != "not_sent") ambiguous = true;
      }
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.2fs", *delay);
      log::info(4, std::string(deferral ? "deferring " : "retrying ") + request.method + " " + request.url + " in " +
                       buf + " (attempt " + std::to_string(attempt + 1) + " of at most " +
                       std::to_string(m_policy.max_retries + 1) + "): " + why);
      if (deferral) {
        // The caller waits (doing other work meanwhile) and sends again; the wait counts as if slept here.
        deferral->deferred = true;
        deferral->seconds = *delay;
        deferral->attempts = attempt;
        deferral->without_retry_after = without_retry_after;
        deferral->elapsed_seconds = elapsed + *delay;
        deferral->ambiguous = ambiguous;
        return outcome;
      }
      m_sleeper(*delay);
      slept += *delay;
    }
  }

private:
  double jitter() {
    std::lock_guard lock(m_rng_mutex);
    return std::uniform_real_distribution<double>(0.0, 1.0)(m_rng);
  }

  std::shared_ptr<Transport> m_inner;
  RetryPolicy m_policy;
  std::atomic<bool> m_answered{false};  // the server has answered once: connection failures are then transient
  std::shared_ptr<RateLimiter> m_limiter;
  Sleeper m_sleeper;
  std::mutex m_rng_mutex;
  std::mt19937_64 m_rng{std::random_device{}()};
};

}  // namespace

std::unique_ptr<Transport> make_retrying_transport(std::shared_ptr<Transport> inner, RetryPolicy policy,
                                                   std::shared_ptr<RateLimiter> limiter, Sleeper sleeper) {
  if (!sleeper) sleeper = sleep_seconds;
  return std::make_unique<RetryingTransport>(std::move(inner), policy, std::move(limiter), std::move(sleeper));
}

}  // namespace kbk::http
