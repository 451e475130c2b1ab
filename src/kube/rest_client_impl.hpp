// The REST client over an injected transport (kube-internal: tests hand it a fake single-attempt transport).
#pragma once

#include <memory>

#include <kbk/http/http.hpp>
#include <kbk/kube/rest_client.hpp>

namespace kbk::kube {

// `transport` makes single attempts; the client wraps it with the retry policy and the rate limiter of options.
std::unique_ptr<Client> make_client(const RestConfig& config, const ClientOptions& options,
                                    std::shared_ptr<http::Transport> transport,
                                    http::Sleeper sleeper = http::sleep_seconds);

// The message client-go style for an object that a retried create found already there and equal to what was
// sent: true when every field of `sent` but metadata/status (and its labels and annotations) equals `found`.
bool same_created_object(const json::Value& sent, const json::Value& found);

}  // namespace kbk::kube
