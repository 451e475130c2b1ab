#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include <kbk/http/http.hpp>
#include <kbk/json/json.hpp>

#include "fault_server.hpp"

using namespace kbk;
using namespace kbk::http;

namespace {

FaultServer& server() {
  static FaultServer s;
  return s;
}

std::shared_ptr<Transport> curl() {
  TransportOptions o;
  o.user_agent = "kbk-test/1";
  auto t = make_curl_transport(o);
  REQUIRE(t.ok());
  return std::shared_ptr<Transport>(std::move(*t));
}

std::string unique_key() {
  static std::atomic<int> n{0};
  return "k" + std::to_string(n++) + "-" + std::to_string(::getpid());
}

struct Recorder {
  std::vector<double> sleeps;
  Sleeper sleeper() {
    return [this](double s) { sleeps.push_back(s); };
  }
};

}  // namespace

TEST_CASE("make_curl_transport sends method, headers and body and reads the answer") {
  auto t = curl();
  Request r;
  r.method = "PUT";
  r.url = server().url("/echo?key=" + unique_key());
  r.headers = {{"X-Test", "yes"}, {"Content-Type", "application/json"}};
  r.body = R"({"a":1})";
  auto resp = t->send(r);
  REQUIRE(resp.ok());
  CHECK(resp->status == 200);
  CHECK(resp->protocol == "HTTP/1.1");
  auto doc = json::parse(resp->body);
  REQUIRE(doc.ok());
  CHECK(json::get_string(*doc, {"method"}) == "PUT");
  CHECK(json::get_string(*doc, {"body"}) == R"({"a":1})");
  CHECK(json::get_string(*doc, {"headers", "X-Test"}) == "yes");
  CHECK(json::get_string(*doc, {"headers", "User-Agent"}) == "kbk-test/1");
  CHECK(json::get_string(*doc, {"headers", "Expect"}).empty());
  CHECK(resp->header("content-type") == std::optional<std::string>("application/json"));
}

TEST_CASE("make_curl_transport streams a body upload from a reader") {
  auto t = curl();
  const std::string payload(200000, 'z');
  size_t offset = 0;
  Request r;
  r.method = "POST";
  r.url = server().url("/echo?key=" + unique_key());
  r.body_length = static_cast<int64_t>(payload.size());
  r.body_reader = [&](char* buf, size_t n) -> std::optional<size_t> {
    const size_t k = std::min(n, payload.size() - offset);
    std::memcpy(buf, payload.data() + offset, k);
    offset += k;
    return k;
  };
  auto resp = t->send(r);
  REQUIRE(resp.ok());
  auto doc = json::parse(resp->body);
  REQUIRE(doc.ok());
  CHECK(json::get_string(*doc, {"body"}) == payload);
  CHECK(json::get_string(*doc, {"headers", "Content-Type"}).empty());
}

TEST_CASE("make_curl_transport accepts gzip and decodes it") {
  auto t = curl();
  Request r;
  r.url = server().url("/gzip");
  auto resp = t->send(r);
  REQUIRE(resp.ok());
  CHECK(resp->header("Content-Encoding") == std::optional<std::string>("gzip"));
  CHECK(resp->body == std::string(100000, 'a'));
}

TEST_CASE("make_curl_transport streams a 2xx body to on_body and keeps error bodies") {
  auto t = curl();
  size_t got = 0;
  int chunks = 0;
  Request r;
  r.url = server().url("/chunks?n=50");
  r.on_body = [&](std::string_view c) {
    got += c.size();
    ++chunks;
    return true;
  };
  auto resp = t->send(r);
  REQUIRE(resp.ok());
  CHECK(got == 50000);
  CHECK(chunks >= 1);
  CHECK(resp->body.empty());

  r.url = server().url("/status/404?fails=1&key=" + unique_key());
  got = 0;
  resp = t->send(r);
  REQUIRE(resp.ok());
  CHECK(resp->status == 404);
  CHECK(got == 0);
  CHECK(resp->body.find("injected 404") != std::string::npos);
}

TEST_CASE("make_curl_transport stops when on_body refuses") {
  auto t = curl();
  Request r;
  r.url = server().url("/chunks?n=50");
  r.on_body = [](std::string_view) { return false; };
  auto resp = t->send(r);
  REQUIRE_FALSE(resp.ok());
  CHECK(resp.error().code == Errc::cancelled);
}

TEST_CASE("make_curl_transport reports a refused connection as a network error not sent") {
  auto t = curl();
  Request r;
  r.url = "http://127.0.0.1:1/x";
  auto resp = t->send(r);
  REQUIRE_FALSE(resp.ok());
  CHECK(resp.error().code == Errc::network);
  CHECK(resp.error().reason == "not_sent");
  CHECK(resp.error().message.find("127.0.0.1:1/x") != std::string::npos);
}

TEST_CASE("make_curl_transport times out a request that takes too long") {
  auto t = curl();
  Request r;
  r.url = server().url("/hang?fails=1&seconds=3&key=" + unique_key());
  r.timeout_seconds = 0.5;
  auto resp = t->send(r);
  REQUIRE_FALSE(resp.ok());
  CHECK(resp.error().code == Errc::timeout);
}

TEST_CASE("make_retrying_transport retries 429 honouring Retry-After") {
  Recorder rec;
  auto t = make_retrying_transport(curl(), RetryPolicy{}, nullptr, rec.sleeper());
  Request r;
  r.url = server().url("/status/429?fails=2&retry_after=3&key=" + unique_key());
  auto resp = t->send(r);
  REQUIRE(resp.ok());
  CHECK(resp->status == 200);
  CHECK(resp->body == "ok");
  CHECK(resp->attempts == 3);
  CHECK(rec.sleeps == std::vector<double>{3.0, 3.0});
  CHECK_FALSE(resp->retried_after_ambiguous_failure);
}

TEST_CASE("make_retrying_transport retries 503 with growing backoff") {
  Recorder rec;
  RetryPolicy p;
  p.initial_backoff_seconds = 0.1;
  auto t = make_retrying_transport(curl(), p, nullptr, rec.sleeper());
  Request r;
  r.url = server().url("/status/503?fails=3&key=" + unique_key());
  auto resp = t->send(r);
  REQUIRE(resp.ok());
  CHECK(resp->status == 200);
  CHECK(resp->attempts == 4);
  REQUIRE(rec.sleeps.size() == 3);
  CHECK(rec.sleeps[0] >= 0.05);
  CHECK(rec.sleeps[0] <= 0.15);
  CHECK(rec.sleeps[2] >= 0.2);
  CHECK(rec.sleeps[2] <= 0.6);
  CHECK(resp->retried_after_ambiguous_failure);
}

TEST_CASE("make_retrying_transport gives up after max_retries and returns the last answer") {
  Recorder rec;
  RetryPolicy p;
  p.max_retries = 2;
  auto t = make_retrying_transport(curl(), p, nullptr, rec.sleeper());
  Request r;
  r.url = server().url("/status/502?fails=10&key=" + unique_key());
  auto resp = t->send(r);
  REQUIRE(resp.ok());
  CHECK(resp->status == 502);
  CHECK(resp->attempts == 3);
  CHECK(rec.sleeps.size() == 2);
}

TEST_CASE("make_retrying_transport bounds the total retry time") {
  Recorder rec;
  RetryPolicy p;
  p.max_total_seconds = 5;
  auto t = make_retrying_transport(curl(), p, nullptr, rec.sleeper());
  Request r;
  r.url = server().url("/status/429?fails=10&retry_after=4&key=" + unique_key());
  auto resp = t->send(r);
  REQUIRE(resp.ok());
  CHECK(resp->status == 429);
  CHECK(rec.sleeps == std::vector<double>{4.0});
}

TEST_CASE("make_retrying_transport retries dropped connections for GET") {
  Recorder rec;
  auto t = make_retrying_transport(curl(), RetryPolicy{}, nullptr, rec.sleeper());
  Request r;
  r.url = server().url("/drop?fails=2&key=" + unique_key());
  auto resp = t->send(r);
  REQUIRE(resp.ok());
  CHECK(resp->status == 200);
  CHECK(resp->attempts == 3);
  CHECK(resp->retried_after_ambiguous_failure);
}

TEST_CASE("make_retrying_transport does not repeat a POST whose connection dropped") {
  Recorder rec;
  auto t = make_retrying_transport(curl(), RetryPolicy{}, nullptr, rec.sleeper());
  Request r;
  r.method = "POST";
  r.body = "{}";
  r.idempotency = Idempotency::unsafe;
  r.url = server().url("/drop?fails=1&key=" + unique_key());
  auto resp = t->send(r);
  REQUIRE_FALSE(resp.ok());
  CHECK(resp.error().code == Errc::network);
  CHECK(rec.sleeps.empty());

  SECTION("but retries it when the caller resolves duplicates itself") {
    r.idempotency = Idempotency::retry_all;
    r.url = server().url("/drop?fails=1&key=" + unique_key());
    auto again = t->send(r);
    REQUIRE(again.ok());
    CHECK(again->status == 200);
    CHECK(again->retried_after_ambiguous_failure);
  }
}

TEST_CASE("make_retrying_transport does not repeat a POST answered 503 but repeats one answered 429") {
  Recorder rec;
  auto t = make_retrying_transport(curl(), RetryPolicy{}, nullptr, rec.sleeper());
  Request r;
  r.method = "POST";
  r.idempotency = Idempotency::unsafe;
  r.url = server().url("/status/503?fails=1&key=" + unique_key());
  auto resp = t->send(r);
  REQUIRE(resp.ok());
  CHECK(resp->status == 503);
  r.url = server().url("/status/429?fails=1&retry_after=1&key=" + unique_key());
  resp = t->send(r);
  REQUIRE(resp.ok());
  CHECK(resp->status == 200);
}

TEST_CASE("make_retrying_transport retries a timed-out GET") {
  Recorder rec;
  auto t = make_retrying_transport(curl(), RetryPolicy{}, nullptr, rec.sleeper());
  Request r;
  r.url = server().url("/hang?fails=1&seconds=3&key=" + unique_key());
  r.timeout_seconds = 0.5;
  auto resp = t->send(r);
  REQUIRE(resp.ok());
  CHECK(resp->body == "ok");
  CHECK(resp->attempts == 2);
}

TEST_CASE("make_curl_transport is safe to use from several threads") {
  auto t = curl();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 20; ++j) {
        Request r;
        r.url = server().url("/ok");
        auto resp = t->send(r);
        if (resp.ok() && resp->status == 200 && resp->body == "ok") ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(ok == 160);
}

TEST_CASE("make_retrying_transport fails at once when nothing listens, and retries once the server has answered") {
  // Nothing listens on port 1: connection refused, before any answer. kubectl fails at once; so does kbk.
  Recorder rec;
  auto t = make_retrying_transport(curl(), RetryPolicy{}, nullptr, rec.sleeper());
  Request r;
  r.url = "http://127.0.0.1:1/x";
  auto resp = t->send(r);
  REQUIRE_FALSE(resp.ok());
  CHECK(resp.error().code == Errc::network);
  CHECK(resp.error().reason == "not_sent");
  CHECK(rec.sleeps.empty());  // no silent retries

  // A server that answered once and then refuses connections (restarting) is retried.
  struct Flaky final : Transport {
    int calls = 0;
    Result<Response> send(const Request&) override {
      ++calls;
      if (calls == 2 || calls == 3) {
        Error e{Errc::network, "GET http://k8s/x: Connection refused"};
        e.reason = "not_sent";
        return e;
      }
      Response ok;
      ok.status = 200;
      ok.body = "ok";
      return ok;
    }
  };
  auto flaky = std::make_shared<Flaky>();
  Recorder rec2;
  auto t2 = make_retrying_transport(flaky, RetryPolicy{}, nullptr, rec2.sleeper());
  REQUIRE(t2->send(r).ok());  // the first answer
  auto again = t2->send(r);   // refused twice, then answered
  REQUIRE(again.ok());
  CHECK(again->attempts == 3);
  CHECK(rec2.sleeps.size() == 2);

  // The old behaviour stays available to callers that want it.
  RetryPolicy patient;
  patient.retry_unreachable_before_first_answer = true;
  patient.max_retries = 2;
  Recorder rec3;
  auto t3 = make_retrying_transport(curl(), patient, nullptr, rec3.sleeper());
  CHECK_FALSE(t3->send(r).ok());
  CHECK(rec3.sleeps.size() == 2);
}
