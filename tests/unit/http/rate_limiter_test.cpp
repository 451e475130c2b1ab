#include <catch2/catch.hpp>

#include <kbk/http/http.hpp>

using namespace kbk::http;
using namespace std::chrono_literals;

TEST_CASE("RateLimiter::reserve allows a burst, then spaces requests at qps") {
  RateLimiter limiter(10, 3);
  const auto t0 = RateLimiter::Clock::time_point{} + 100s;
  CHECK(limiter.reserve(t0).count() == 0);
  CHECK(limiter.reserve(t0).count() == 0);
  CHECK(limiter.reserve(t0).count() == 0);
  CHECK(limiter.reserve(t0).count() == Approx(0.1));
  CHECK(limiter.reserve(t0).count() == Approx(0.2));
  // Half a second later the queue of two promised tokens is paid off and three more have accrued.
  const auto t1 = t0 + 500ms;
  CHECK(limiter.reserve(t1).count() == 0);
  CHECK(limiter.reserve(t1).count() == 0);
  CHECK(limiter.reserve(t1).count() == 0);
  CHECK(limiter.reserve(t1).count() == Approx(0.1));
}

TEST_CASE("RateLimiter::reserve never accrues more than the burst") {
  RateLimiter limiter(1, 2);
  const auto t0 = RateLimiter::Clock::time_point{} + 100s;
  CHECK(limiter.reserve(t0).count() == 0);
  const auto t1 = t0 + 3600s;
  CHECK(limiter.reserve(t1).count() == 0);
  CHECK(limiter.reserve(t1).count() == 0);
  CHECK(limiter.reserve(t1).count() == Approx(1.0));
}

TEST_CASE("RateLimiter::reserve with qps <= 0 never waits") {
  RateLimiter limiter(0, 1);
  const auto t0 = RateLimiter::Clock::time_point{} + 100s;
  for (int i = 0; i < 1000; ++i) REQUIRE(limiter.reserve(t0).count() == 0);
}

TEST_CASE("make_retrying_transport takes a token before every attempt") {
  struct Counting : Transport {
    int calls = 0;
    kbk::Result<Response> send(const Request&) override {
      ++calls;
      Response r;
      r.status = calls < 3 ? 503 : 200;
      return r;
    }
  };
  auto inner = std::make_shared<Counting>();
  auto limiter = std::make_shared<RateLimiter>(1, 3);
  auto t = make_retrying_transport(inner, RetryPolicy{}, limiter, [](double) {});
  auto r = t->send(Request{});
  REQUIRE(r.ok());
  CHECK(inner->calls == 3);
  // The burst of three is spent: the next token is a second away.
  CHECK(limiter->reserve(RateLimiter::Clock::now()).count() > 0.5);
}
