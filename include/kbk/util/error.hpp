// kbk::Error and kbk::Result: how library code reports expected failures.
//
// Two tiers, as in ccache: expected failures (a 404, a refused connection, a corrupt entry) are returned as
// Result<T>; configuration errors the user must fix throw kbk::Fatal, which only main() catches and prints as
// one line. "Not there" is std::nullopt (or Errc::not_found when the caller asked for a specific thing).
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace kbk {

// Categories a caller can switch on. Kubernetes Status reasons map onto the first group one to one.
enum class Errc {
  // Kubernetes API (Status.reason)
  not_found,
  already_exists,
  conflict,
  forbidden,
  unauthorized,
  invalid,
  bad_request,
  gone,              // 410 Gone / Expired (e.g. an expired continue token)
  too_many_requests,
  server_timeout,
  timeout,           // Status reason Timeout / client-side request timeout
  service_unavailable,
  internal_error,
  method_not_allowed,
  unsupported_media_type,
  request_entity_too_large,
  // transport and local
  network,           // connection refused, reset, DNS, TLS handshake
  tls,
  io,                // local file system
  parse,             // malformed JSON/YAML/XML
  corrupt,           // an archive or object failed its integrity check
  crypto,            // wrong key, authentication tag mismatch
  config,            // a kubeconfig, flag or file the user gave is wrong
  unsupported,
  cancelled,
  precondition,      // a precondition of the operation does not hold (backup exists, location missing)
  unknown,
};

const char* errc_name(Errc code);

// One cause of an Invalid error (Status.details.causes[]).
struct ErrorCause {
  std::string reason;
  std::string message;
  std::string field;
};

struct Error {
  Errc code = Errc::unknown;
  std::string message;      // one line, no secrets; what a user reads
  int http_status = 0;      // 0 when not an HTTP error
  std::string reason;       // Kubernetes Status.reason or S3 error Code as sent
  std::vector<ErrorCause> causes;
  int retry_after_seconds = 0;

  Error() = default;
  Error(Errc c, std::string msg) : code(c), message(std::move(msg)) {}

  // Prefixes context: "reading backup x: " + message.
  Error& wrap(const std::string& context) {
    message = context + ": " + message;
    return *this;
  }
  bool is(Errc c) const { return code == c; }
};

template <class E>
struct Unexpected {
  E error;
};
inline Unexpected<Error> unexpected(Error e) { return {std::move(e)}; }
inline Unexpected<Error> unexpected(Errc c, std::string msg) { return {Error{c, std::move(msg)}}; }

// A value or an Error. Deliberately small: ok(), value(), error(), operator*, operator->.
template <class T>
class [[nodiscard]] Result {
public:
  Result(T value) : m_v(std::in_place_index<0>, std::move(value)) {}
  Result(Unexpected<Error> e) : m_v(std::in_place_index<1>, std::move(e.error)) {}
  Result(Error e) : m_v(std::in_place_index<1>, std::move(e)) {}

  bool ok() const { return m_v.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(m_v); }
  const T& value() const& { return std::get<0>(m_v); }
  T&& value() && { return std::get<0>(std::move(m_v)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const& { return std::get<1>(m_v); }
  Error&& error() && { return std::get<1>(std::move(m_v)); }
  Error& error() & { return std::get<1>(m_v); }

private:
  std::variant<T, Error> m_v;
};

template <>
class [[nodiscard]] Result<void> {
public:
  Result() = default;
  Result(Unexpected<Error> e) : m_err(std::move(e.error)), m_ok(false) {}
  Result(Error e) : m_err(std::move(e)), m_ok(false) {}
  bool ok() const { return m_ok; }
  explicit operator bool() const { return m_ok; }
  const Error& error() const& { return m_err; }
  Error&& error() && { return std::move(m_err); }
  Error& error() & { return m_err; }

private:
  Error m_err;
  bool m_ok = true;
};

}  // namespace kbk

#define KBK_CONCAT_INNER(a, b) a##b
#define KBK_CONCAT(a, b) KBK_CONCAT_INNER(a, b)

// Returns the error of a Result expression from the enclosing function.
#define KBK_TRY(expr)                                                     \
  do {                                                                    \
    auto&& kbk_try_result_ = (expr);                                      \
    if (!kbk_try_result_) return ::kbk::unexpected(std::move(kbk_try_result_).error()); \
  } while (0)

// KBK_ASSIGN_OR_RETURN(auto doc, parse(text)); declares/assigns lhs from a Result or returns its error.
#define KBK_ASSIGN_OR_RETURN(lhs, expr) KBK_ASSIGN_OR_RETURN_IMPL(KBK_CONCAT(kbk_r_, __LINE__), lhs, expr)
#define KBK_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)                         \
  auto tmp = (expr);                                                      \
  if (!tmp) return ::kbk::unexpected(std::move(tmp).error());             \
  lhs = std::move(*tmp)
