#include "status.hpp"

#include <kbk/json/json.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::kube {

Errc errc_for_status(std::string_view reason, int http_status, std::string_view method) {
  struct Entry {
    const char* reason;
    Errc code;
  };
  static const Entry k_reasons[] = {
      {"NotFound", Errc::not_found},
      {"AlreadyExists", Errc::already_exists},
      {"Conflict", Errc::conflict},
      {"Forbidden", Errc::forbidden},
      {"Unauthorized", Errc::unauthorized},
      {"Invalid", Errc::invalid},
      {"BadRequest", Errc::bad_request},
      {"Gone", Errc::gone},
      {"Expired", Errc::gone},
      {"TooManyRequests", Errc::too_many_requests},
      {"ServerTimeout", Errc::server_timeout},
      {"Timeout", Errc::timeout},
      {"ServiceUnavailable", Errc::service_unavailable},
      {"InternalError", Errc::internal_error},
      {"MethodNotAllowed", Errc::method_not_allowed},
      {"UnsupportedMediaType", Errc::unsupported_media_type},
      {"RequestEntityTooLarge", Errc::request_entity_too_large},
      {"NotAcceptable", Errc::bad_request},
  };
  for (const auto& e : k_reasons) {
    if (reason == e.reason) return e.code;
  }
  switch (http_status) {
    case 400: return Errc::bad_request;
    case 401: return Errc::unauthorized;
    case 403: return Errc::forbidden;
    case 404: return Errc::not_found;
    case 405: return Errc::method_not_allowed;
    case 406: return Errc::bad_request;
    case 409: return method == "POST" ? Errc::already_exists : Errc::conflict;
    case 410: return Errc::gone;
    case 413: return Errc::request_entity_too_large;
    case 415: return Errc::unsupported_media_type;
    case 422: return Errc::invalid;
    case 429: return Errc::too_many_requests;
    case 500: return Errc::internal_error;
    case 503: return Errc::service_unavailable;
    case 504: return Errc::timeout;
    default: return http_status >= 500 ? Errc::internal_error : Errc::unknown;
  }
}

namespace {

// client-go's NewGenericServerResponse texts.
std::string generic_message(int status, std::string_view body, std::string_view method) {
  switch (status) {
    case 400: return "the server rejected our request for an unknown reason";
    case 401: return "the server has asked for the client to provide credentials";
    case 403: return "the server does not allow access to the requested resource";
    case 404: return "the server could not find the requested resource";
    case 405: return "the server does not allow this method on the requested resource";
    case 409: return method == "POST" ? "the server reported a conflict: the object already exists"
                                      : "the server reported a conflict";
    case 410: return "the server reports that the resource is gone";
    case 415: return "the server responded with the status code 415 but did not return more information";
    case 422: return "the server rejected our request due to an error in our request";
    case 429: return "the server has received too many requests and has asked us to try again later";
    case 503: return "the server is currently unable to handle the request";
    case 504: return "the server was unable to return a response in the time allotted, but may still be processing the request";
    default: break;
  }
  std::string b(util::trim(body));
  for (char& c : b) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (b.size() > 200) b = b.substr(0, 200) + "...";
  if (status >= 500) return "an error on the server (\"" + b + "\") has prevented the request from succeeding";
  return "the server responded with the status code " + std::to_string(status) +
         (b.empty() ? std::string(" but did not return more information") : " (\"" + b + "\")");
}

std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

Error status_error(int http_status, std::string_view body, const RequestContext& context, int retry_after_header) {
  Error e;
  e.http_status = http_status;
  bool from_status = false;
  if (auto doc = json::parse(body, "Status"); doc.ok() && doc->IsObject() && json::get_string(*doc, {"kind"}) == "Status") {
    const json::Value& s = *doc;
    from_status = true;
    e.reason = json::get_string(s, {"reason"});
    e.message = one_line(json::get_string(s, {"message"}));
    if (const auto* code = json::find(s, "code"); code && code->IsInt() && code->GetInt() != 0) e.http_status = code->GetInt();
    if (const auto* causes = json::at(s, {"details", "causes"}); causes && causes->IsArray()) {
      for (const auto& c : causes->GetArray()) {
        e.causes.push_back({json::get_string(c, {"reason"}), json::get_string(c, {"message"}), json::get_string(c, {"field"})});
      }
    }
    if (const auto* ra = json::at(s, {"details", "retryAfterSeconds"}); ra && ra->IsInt()) e.retry_after_seconds = ra->GetInt();
  }
  e.code = errc_for_status(e.reason, e.http_status, context.method);
  if (!from_status || e.message.empty()) {
    e.message = generic_message(http_status, from_status ? std::string_view() : body, context.method);
    if (!context.verb.empty() && !context.resource.empty()) {
      e.message += " (" + context.verb + " " + context.resource + (context.name.empty() ? "" : " " + context.name) + ")";
    }
  }
  if (e.retry_after_seconds == 0) e.retry_after_seconds = retry_after_header;
  return e;
}

std::vector<std::string> parse_warning_header(std::string_view value) {
  // warning-value = warn-code SP warn-agent SP warn-text [SP warn-date], several separated by commas.
  std::vector<std::string> out;
  size_t i = 0;
  const size_t n = value.size();
  while (i < n) {
    while (i < n && (value[i] == ' ' || value[i] == ',')) ++i;
    const size_t code_start = i;
    while (i < n && value[i] != ' ') ++i;
    if (i - code_start != 3) break;
    while (i < n && value[i] == ' ') ++i;
    while (i < n && value[i] != ' ') ++i;  // agent
    while (i < n && value[i] == ' ') ++i;
    if (i >= n || value[i] != '"') break;
    ++i;
    std::string text;
    while (i < n && value[i] != '"') {
      if (value[i] == '\\' && i + 1 < n) ++i;
      text += value[i++];
    }
    if (i >= n) break;
    ++i;  // closing quote
    if (i < n && value[i] == ' ') {  // optional quoted date
      size_t j = i;
      while (j < n && value[j] == ' ') ++j;
      if (j < n && value[j] == '"') {
        j = value.find('"', j + 1);
        i = j == std::string_view::npos ? n : j + 1;
      }
    }
    out.push_back(std::move(text));
  }
  return out;
}

}  // namespace kbk::kube
