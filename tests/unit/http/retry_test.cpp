#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <vector>

#include <kbk/http/http.hpp>

using namespace kbk;
using namespace kbk::http;

namespace {

Result<Response> answer(int status, std::string retry_after = "") {
  Response r;
  r.status = status;
  if (!retry_after.empty()) r.headers.emplace_back("Retry-After", retry_after);
  return r;
}

Result<Response> failure(Errc code, const char* where) {
  Error e{code, "GET http://x/: boom"};
  e.reason = where;
  return e;
}

}  // namespace

TEST_CASE("retry_delay retries the transient statuses only") {
  RetryPolicy p;
  for (int s : {429, 500, 502, 503, 504}) CHECK(retry_delay(p, Idempotency::idempotent, 1, answer(s), 0, 0.5));
  for (int s : {200, 201, 400, 401, 403, 404, 409, 410, 422, 501}) CHECK_FALSE(retry_delay(p, Idempotency::idempotent, 1, answer(s), 0, 0.5));
}

TEST_CASE("retry_delay uses Retry-After, capped") {
  RetryPolicy p;
  CHECK(retry_delay(p, Idempotency::idempotent, 1, answer(429, "7"), 0, 0.9) == Approx(7));
  CHECK(retry_delay(p, Idempotency::idempotent, 1, answer(503, "3600"), 0, 0.9) == Approx(p.max_retry_after_seconds));
  // An HTTP date already past: the server is ready now.
  CHECK(retry_delay(p, Idempotency::idempotent, 1, answer(429, "Wed, 21 Oct 2015 07:28:00 GMT"), 0, 0.5) ==
        Approx(0));
  // A value in neither form: ordinary backoff.
  CHECK(retry_delay(p, Idempotency::idempotent, 1, answer(429, "in a while"), 0, 0.5) ==
        Approx(p.initial_backoff_seconds));
}

TEST_CASE("retry_delay backs off exponentially with jitter and a ceiling") {
  RetryPolicy p;
  p.initial_backoff_seconds = 1;
  p.max_backoff_seconds = 4;
  p.max_retries = 10;
  p.max_total_seconds = 1000;
  CHECK(*retry_delay(p, Idempotency::idempotent, 1, answer(503), 0, 0.5) == Approx(1));
  CHECK(*retry_delay(p, Idempotency::idempotent, 2, answer(503), 0, 0.5) == Approx(2));
  CHECK(*retry_delay(p, Idempotency::idempotent, 3, answer(503), 0, 0.5) == Approx(4));
  CHECK(*retry_delay(p, Idempotency::idempotent, 6, answer(503), 0, 0.5) == Approx(4));
  CHECK(*retry_delay(p, Idempotency::idempotent, 2, answer(503), 0, 0.0) == Approx(1));
  CHECK(*retry_delay(p, Idempotency::idempotent, 2, answer(503), 0, 0.999) == Approx(2.998));
}

TEST_CASE("retry_delay stops after max_retries and at the time budget") {
  RetryPolicy p;
  p.max_retries = 3;
  CHECK(retry_delay(p, Idempotency::idempotent, 3, answer(503), 0, 0.5));
  CHECK_FALSE(retry_delay(p, Idempotency::idempotent, 4, answer(503), 0, 0.5));
  p.max_total_seconds = 10;
  CHECK_FALSE(retry_delay(p, Idempotency::idempotent, 1, answer(429, "5"), 6, 0.5));
  CHECK(retry_delay(p, Idempotency::idempotent, 1, answer(429, "5"), 4, 0.5));
}

TEST_CASE("retry_delay repeats unsafe requests only when the server did not act") {
  RetryPolicy p;
  CHECK(retry_delay(p, Idempotency::unsafe, 1, answer(429), 0, 0.5));
  CHECK_FALSE(retry_delay(p, Idempotency::unsafe, 1, answer(503), 0, 0.5));
  CHECK(retry_delay(p, Idempotency::unsafe, 1, failure(Errc::network, "not_sent"), 0, 0.5));
  CHECK_FALSE(retry_delay(p, Idempotency::unsafe, 1, failure(Errc::network, "sent"), 0, 0.5));
  CHECK_FALSE(retry_delay(p, Idempotency::unsafe, 1, failure(Errc::timeout, "sent"), 0, 0.5));
  CHECK(retry_delay(p, Idempotency::retry_all, 1, failure(Errc::network, "sent"), 0, 0.5));
  CHECK(retry_delay(p, Idempotency::retry_all, 1, answer(503), 0, 0.5));
}

TEST_CASE("retry_delay never retries TLS failures, cancellation or a partly consumed body") {
  RetryPolicy p;
  CHECK_FALSE(retry_delay(p, Idempotency::idempotent, 1, failure(Errc::tls, "sent"), 0, 0.5));
  CHECK_FALSE(retry_delay(p, Idempotency::idempotent, 1, failure(Errc::cancelled, "sent"), 0, 0.5));
  CHECK_FALSE(retry_delay(p, Idempotency::idempotent, 1, failure(Errc::network, "body_partial"), 0, 0.5));
  CHECK(retry_delay(p, Idempotency::idempotent, 1, failure(Errc::network, "sent"), 0, 0.5));
  CHECK(retry_delay(p, Idempotency::idempotent, 1, failure(Errc::timeout, "sent"), 0, 0.5));
}

TEST_CASE("parse_retry_after reads delta seconds") {
  CHECK(parse_retry_after(*answer(429, "1")) == std::optional<double>(1));
  CHECK(parse_retry_after(*answer(429, " 12 ")) == std::optional<double>(12));
  CHECK_FALSE(parse_retry_after(*answer(429)));
  CHECK_FALSE(parse_retry_after(*answer(429, "-1")));
  CHECK_FALSE(parse_retry_after(*answer(429, "soon")));
}

TEST_CASE("parse_retry_after reads an HTTP date (IMF-fixdate) as the time left until it") {
  // 2026-11-26T10:30:00Z
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1795689000));
  CHECK(parse_retry_after(*answer(503, "Thu, 26 Nov 2026 10:30:45 GMT"), now) == std::optional<double>(45));
  CHECK(parse_retry_after(*answer(503, "Fri, 27 Nov 2026 10:30:00 GMT"), now) == std::optional<double>(86400));
  CHECK(parse_retry_after(*answer(503, "Tue, 01 Dec 2026 00:00:00 GMT"), now) == std::optional<double>(394200));
  // A date already past means "now", not a negative wait.
  CHECK(parse_retry_after(*answer(503, "Thu, 26 Nov 2026 10:29:00 GMT"), now) == std::optional<double>(0));
  // Other forms are not guessed at.
  CHECK_FALSE(parse_retry_after(*answer(503, "Thursday, 26-Nov-26 10:30:45 GMT"), now));
  CHECK_FALSE(parse_retry_after(*answer(503, "Thu, 26 Nov 2026 10:30:45 CET"), now));
  CHECK_FALSE(parse_retry_after(*answer(503, "Thu, 26 Xyz 2026 10:30:45 GMT"), now));
  CHECK_FALSE(parse_retry_after(*answer(503, "Thu, 26 Nov 2026 25:30:45 GMT"), now));
  // Seconds still read the same with a clock given.
  CHECK(parse_retry_after(*answer(503, "7"), now) == std::optional<double>(7));
}

TEST_CASE("retry_delay waits until a Retry-After date, capped") {
  RetryPolicy p;
  // A date far in the future is capped like a large number of seconds.
  CHECK(retry_delay(p, Idempotency::idempotent, 1, answer(503, "Fri, 01 Jan 2100 00:00:00 GMT"), 0, 0.9) ==
        Approx(p.max_retry_after_seconds));
}

TEST_CASE("idempotency_for follows HTTP method semantics") {
  CHECK(idempotency_for("GET") == Idempotency::idempotent);
  CHECK(idempotency_for("PUT") == Idempotency::idempotent);
  CHECK(idempotency_for("DELETE") == Idempotency::idempotent);
  CHECK(idempotency_for("HEAD") == Idempotency::idempotent);
  CHECK(idempotency_for("POST") == Idempotency::unsafe);
  CHECK(idempotency_for("PATCH") == Idempotency::unsafe);
}

TEST_CASE("find_headers is case-insensitive and keeps repeats") {
  Headers h{{"Warning", "a"}, {"warning", "b"}, {"Content-Type", "x"}};
  CHECK(find_headers(h, "WARNING") == std::vector<std::string>{"a", "b"});
  CHECK(find_header(h, "content-type") == std::optional<std::string>("x"));
  CHECK_FALSE(find_header(h, "Content-Length"));
}

namespace {

struct Scripted : Transport {
  std::vector<Result<Response>> answers;
  size_t sent = 0;
  Result<Response> send(const Request&) override {
    const size_t i = std::min(sent++, answers.size() - 1);
    return answers[i];
  }
};

}  // namespace

TEST_CASE("the retrying transport gives a Retry-After more patience than failures without one") {
  RetryPolicy p;
  p.max_retries = 10;
  p.max_retries_without_retry_after = 2;
  p.max_total_seconds = 1000;
  std::vector<double> slept;
  auto sleeper = [&](double s) { slept.push_back(s); };
  Request get;
  get.url = "http://x/";

  SECTION("429s with Retry-After: up to max_retries, then the last answer") {
    auto inner = std::make_shared<Scripted>();
    inner->answers = {answer(429, "1")};
    auto t = make_retrying_transport(inner, p, nullptr, sleeper);
    auto r = t->send(get);
    REQUIRE(r.ok());
    CHECK(r->status == 429);
    CHECK(inner->sent == 11);
    CHECK(slept.size() == 10);
  }
  SECTION("503s without Retry-After and resets: max_retries_without_retry_after, counted apart from 429s") {
    auto inner = std::make_shared<Scripted>();
    inner->answers = {answer(429, "1"), answer(503), answer(429, "1"), failure(Errc::network, "sent"), answer(503),
                      answer(200)};
    auto t = make_retrying_transport(inner, p, nullptr, sleeper);
    auto r = t->send(get);
    REQUIRE(r.ok());
    CHECK(r->status == 503);  // the third failure without a wait named
    CHECK(inner->sent == 5);
  }
}

TEST_CASE("with a Deferral the retrying transport hands each wait back instead of sleeping, within the same limits") {
  RetryPolicy p;
  p.max_retries = 10;
  p.max_retries_without_retry_after = 2;
  p.max_total_seconds = 1000;
  std::vector<double> slept;
  auto sleeper = [&](double s) { slept.push_back(s); };
  Deferral deferral;
  Request post;
  post.method = "POST";
  post.url = "http://x/";
  post.idempotency = Idempotency::retry_all;
  post.deferral = &deferral;

  SECTION("each failure returns at once with the wait; the success ends it and remembers the ambiguous failure") {
    auto inner = std::make_shared<Scripted>();
    inner->answers = {answer(429, "3"), answer(503), answer(201)};
    auto t = make_retrying_transport(inner, p, nullptr, sleeper);
    auto r = t->send(post);
    REQUIRE(r.ok());
    CHECK(r->status == 429);
    CHECK(deferral.deferred);
    CHECK(deferral.seconds == Approx(3));
    CHECK(inner->sent == 1);
    r = t->send(post);
    REQUIRE(r.ok());
    CHECK(r->status == 503);
    CHECK(deferral.deferred);
    CHECK(deferral.seconds >= p.initial_backoff_seconds);  // the second attempt's backoff, jittered
    r = t->send(post);
    REQUIRE(r.ok());
    CHECK(r->status == 201);
    CHECK_FALSE(deferral.deferred);
    CHECK(r->attempts == 3);
    CHECK(r->retried_after_ambiguous_failure);  // the 503 may have been acted on
    CHECK(slept.empty());
  }
  SECTION("the counts carry over: failures without Retry-After stop at their limit across sends") {
    auto inner = std::make_shared<Scripted>();
    inner->answers = {answer(500)};
    auto t = make_retrying_transport(inner, p, nullptr, sleeper);
    for (int i = 0; i < 2; ++i) {
      auto r = t->send(post);
      REQUIRE(r.ok());
      CHECK(deferral.deferred);
    }
    auto r = t->send(post);
    REQUIRE(r.ok());
    CHECK(r->status == 500);
    CHECK_FALSE(deferral.deferred);  // final: three sends, as without a Deferral
    CHECK(inner->sent == 3);
    CHECK(slept.empty());
  }
}
