// A scripted single-attempt transport for the REST client tests: records every request, answers through a
// handler the test sets.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

#include <kbk/http/http.hpp>

struct FakeTransport : kbk::http::Transport {
  std::function<kbk::Result<kbk::http::Response>(const kbk::http::Request&)> handler;
  std::vector<kbk::http::Request> seen;
  std::mutex mutex;

  kbk::Result<kbk::http::Response> send(const kbk::http::Request& r) override {
    {
      std::lock_guard lock(mutex);
      seen.push_back(r);
    }
    return handler(r);
  }

  static kbk::http::Response answer(int status, std::string body, kbk::http::Headers headers = {}) {
    kbk::http::Response r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    if (!kbk::http::find_header(r.headers, "Content-Type")) r.headers.emplace_back("Content-Type", "application/json");
    return r;
  }
};
