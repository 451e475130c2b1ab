// The real pods/exec session over WebSocket (kube-internal: RestClient::exec opens it).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <kbk/http/http.hpp>
#include <kbk/kube/pod_exec.hpp>

#include "credentials.hpp"

namespace kbk::kube {

struct ExecEndpoint {
  std::string base_url;                   // the server URL without a trailing slash
  Credentials* credentials = nullptr;
  std::string user_agent;
  std::shared_ptr<http::RateLimiter> limiter;  // one token per upgrade request; may be null
};

Result<std::unique_ptr<ExecSession>> open_exec_session(const ExecEndpoint& endpoint, const ExecRequest& request);

// The Status the server sends on channel 3 when the command ends: Success (exit code 0), NonZeroExitCode with an
// ExitCode cause (that code), or why the command could not run (command_error). Errc::parse / bad_request when the
// text is no such Status.
struct ExecStatusReport {
  std::optional<int> exit_code;
  std::optional<Error> command_error;
};
Result<ExecStatusReport> parse_exec_status(std::string_view text);

// The exec URL path with its query: /api/v1/namespaces/NS/pods/P/exec?command=..&container=..&stdin=true...
std::string exec_path(const ExecRequest& request);

}  // namespace kbk::kube
