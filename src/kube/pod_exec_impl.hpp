// The real pods/exec session over WebSocket (kube-internal: RestClient::exec opens it).
#pragma once

#include <memory>
#include <string>

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

// The exec URL path with its query: /api/v1/namespaces/NS/pods/P/exec?command=..&container=..&stdin=true...
std::string exec_path(const ExecRequest& request);

}  // namespace kbk::kube
