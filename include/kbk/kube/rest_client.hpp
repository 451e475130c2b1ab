// The real Client over HTTP(S): connection reuse, HTTP/2 where offered, retries with jittered backoff,
// a client-side rate limiter, Status -> Error mapping, Warning headers shown once each.
#pragma once

#include <memory>

#include <kbk/kube/client.hpp>
#include <kbk/kube/config.hpp>

namespace kbk::kube {

struct ClientOptions {
  double qps = 50;
  int burst = 100;
  int max_retries = 5;
  double max_retry_seconds = 60;   // total time a request may spend retrying
  std::string user_agent;          // default "kbk/<version>"
};

std::unique_ptr<Client> make_client(const RestConfig& config, const ClientOptions& options);

}  // namespace kbk::kube
