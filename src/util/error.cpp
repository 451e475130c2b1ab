#include <kbk/util/error.hpp>
#include <kbk/util/exit_code.hpp>

namespace kbk {

const char* errc_name(Errc code) {
  switch (code) {
    case Errc::not_found: return "NotFound";
    case Errc::already_exists: return "AlreadyExists";
    case Errc::conflict: return "Conflict";
    case Errc::forbidden: return "Forbidden";
    case Errc::unauthorized: return "Unauthorized";
    case Errc::invalid: return "Invalid";
    case Errc::bad_request: return "BadRequest";
    case Errc::gone: return "Expired";
    case Errc::too_many_requests: return "TooManyRequests";
    case Errc::server_timeout: return "ServerTimeout";
    case Errc::timeout: return "Timeout";
    case Errc::service_unavailable: return "ServiceUnavailable";
    case Errc::internal_error: return "InternalError";
    case Errc::method_not_allowed: return "MethodNotAllowed";
    case Errc::unsupported_media_type: return "UnsupportedMediaType";
    case Errc::request_entity_too_large: return "RequestEntityTooLarge";
    case Errc::network: return "NetworkError";
    case Errc::tls: return "TLSError";
    case Errc::io: return "IOError";
    case Errc::parse: return "ParseError";
    case Errc::corrupt: return "Corrupt";
    case Errc::crypto: return "CryptoError";
    case Errc::config: return "ConfigError";
    case Errc::unsupported: return "Unsupported";
    case Errc::cancelled: return "Cancelled";
    case Errc::precondition: return "Precondition";
    case Errc::unknown: return "Unknown";
  }
  return "Unknown";
}

ExitCode exit_code_for(const Error& e) {
  switch (e.code) {
    case Errc::config:
    case Errc::parse:
      return ExitCode::usage;
    case Errc::network:
    case Errc::tls:
    case Errc::unauthorized:
    case Errc::precondition:
    case Errc::service_unavailable:
      return ExitCode::precondition;
    default:
      return ExitCode::failed;
  }
}

}  // namespace kbk
