// Kubernetes Status -> kbk::Error, and the Warning response header (kube-internal; tests include it directly).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <kbk/util/error.hpp>

namespace kbk::kube {

// What a request was about, for the messages client-go synthesises when the body is not a Status:
// "the server could not find the requested resource (get configmaps x)".
struct RequestContext {
  std::string method;    // GET, POST, ...
  std::string verb;      // get, list, create, update, patch, delete; "" for raw requests
  std::string resource;  // "configmaps", "deployments.apps"
  std::string name;
};

// Status.reason -> Errc (http_status decides when the reason is empty or unknown, as client-go does).
Errc errc_for_status(std::string_view reason, int http_status, std::string_view method = "");

// The error for a non-2xx response. A Status body gives message, reason, code, details.causes and
// details.retryAfterSeconds; any other body gives client-go's generic text for the code. retry_after_header
// (seconds, 0 = absent) fills retry_after_seconds when the body has none.
Error status_error(int http_status, std::string_view body, const RequestContext& context, int retry_after_header = 0);

// The texts of a Warning header value: `299 - "unknown field \"x\""` (possibly several, comma separated).
std::vector<std::string> parse_warning_header(std::string_view value);

}  // namespace kbk::kube
