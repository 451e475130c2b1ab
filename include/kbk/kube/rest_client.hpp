// The real Client over HTTP(S): connection reuse, HTTP/2 where offered, retries with jittered backoff (429 with
// Retry-After from the server's priority and fairness first of all), an optional client-side rate limiter,
// Status -> Error mapping, Warning headers shown once each.
#pragma once

#include <memory>

#include <kbk/kube/client.hpp>
#include <kbk/kube/config.hpp>

namespace kbk::kube {

struct ClientOptions {
  // No client-side limit by default: every supported Kubernetes version has API Priority and Fairness, which
  // answers overload with 429 and Retry-After; those are waited out and retried (max_retries), as kubectl and
  // client-go do. qps > 0 adds a token bucket (burst tokens, refilled at qps per second) for those who want a cap.
  double qps = 0;
  int burst = 100;
  // Further sends after the first, for 429 and 5xx with Retry-After (client-go's maxRetries), of which at most
  // max_retries_without_retry_after after a 5xx without it, a reset or a timeout.
  int max_retries = 10;
  int max_retries_without_retry_after = 5;
  double max_retry_seconds = 60;   // total time a request may spend retrying
  std::string user_agent;          // default "kbk/<version>"
};

std::unique_ptr<Client> make_client(const RestConfig& config, const ClientOptions& options);

}  // namespace kbk::kube
