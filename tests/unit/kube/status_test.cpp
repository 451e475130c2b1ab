#include <catch2/catch.hpp>

#include "status.hpp"

using namespace kbk;
using namespace kbk::kube;

TEST_CASE("status_error maps a NotFound Status") {
  const char* body =
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"x\" not found","reason":"NotFound","details":{"name":"x","kind":"configmaps"},"code":404})"
      "\n";
  Error e = status_error(404, body, {"GET", "get", "configmaps", "x"});
  CHECK(e.code == Errc::not_found);
  CHECK(e.http_status == 404);
  CHECK(e.reason == "NotFound");
  CHECK(e.message == "configmaps \"x\" not found");
}

TEST_CASE("status_error keeps an Invalid Status's causes") {
  const char* body =
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain ...","reason":"Invalid","details":{"name":"Bad_Name","kind":"ConfigMap","causes":[{"reason":"FieldValueInvalid","message":"Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain ...","field":"metadata.name"}]},"code":422})";
  Error e = status_error(422, body, {"POST", "create", "configmaps", "Bad_Name"});
  CHECK(e.code == Errc::invalid);
  REQUIRE(e.causes.size() == 1);
  CHECK(e.causes[0].reason == "FieldValueInvalid");
  CHECK(e.causes[0].field == "metadata.name");
  CHECK(e.causes[0].message.rfind("Invalid value: \"Bad_Name\"", 0) == 0);
}

TEST_CASE("status_error maps every reason a caller switches on") {
  struct Case {
    const char* reason;
    int code;
    Errc want;
  };
  const Case cases[] = {
      {"AlreadyExists", 409, Errc::already_exists}, {"Conflict", 409, Errc::conflict},
      {"Forbidden", 403, Errc::forbidden},          {"Unauthorized", 401, Errc::unauthorized},
      {"BadRequest", 400, Errc::bad_request},       {"Expired", 410, Errc::gone},
      {"Gone", 410, Errc::gone},                    {"TooManyRequests", 429, Errc::too_many_requests},
      {"ServerTimeout", 500, Errc::server_timeout}, {"Timeout", 504, Errc::timeout},
      {"ServiceUnavailable", 503, Errc::service_unavailable},
      {"InternalError", 500, Errc::internal_error}, {"MethodNotAllowed", 405, Errc::method_not_allowed},
      {"UnsupportedMediaType", 415, Errc::unsupported_media_type},
      {"RequestEntityTooLarge", 413, Errc::request_entity_too_large},
  };
  for (const auto& c : cases) {
    const std::string body = std::string(R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"m","reason":")") +
                             c.reason + R"(","code":)" + std::to_string(c.code) + "}";
    INFO(c.reason);
    Error e = status_error(c.code, body, {});
    CHECK(e.code == c.want);
    CHECK(e.reason == c.reason);
    CHECK(e.message == "m");
  }
}

TEST_CASE("status_error reads retryAfterSeconds and falls back to the Retry-After header") {
  const char* body =
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Timeout: Too large resource version: 500, current: 400","reason":"Timeout","details":{"causes":[{"reason":"ResourceVersionTooLarge","message":"Too large resource version"}],"retryAfterSeconds":1},"code":504})";
  Error e = status_error(504, body, {"GET", "list", "pods", ""}, 9);
  CHECK(e.code == Errc::timeout);
  CHECK(e.retry_after_seconds == 1);
  REQUIRE(e.causes.size() == 1);
  CHECK(e.causes[0].field.empty());

  Error plain = status_error(429, "Too many requests, please try again later.\n", {"GET", "list", "pods", ""}, 3);
  CHECK(plain.code == Errc::too_many_requests);
  CHECK(plain.retry_after_seconds == 3);
  CHECK(plain.message == "the server has received too many requests and has asked us to try again later (list pods)");
}

TEST_CASE("status_error gives client-go's texts for bodies that are not a Status") {
  Error e = status_error(404, "404 page not found\n", {"GET", "get", "widgets.example.com", "w1"});
  CHECK(e.code == Errc::not_found);
  CHECK(e.reason.empty());
  CHECK(e.message == "the server could not find the requested resource (get widgets.example.com w1)");

  Error conflict = status_error(409, "", {"POST", "create", "configmaps", "x"});
  CHECK(conflict.code == Errc::already_exists);
  Error conflict_put = status_error(409, "", {"PUT", "update", "configmaps", "x"});
  CHECK(conflict_put.code == Errc::conflict);

  Error down = status_error(503, "upstream connect error\n", {});
  CHECK(down.code == Errc::service_unavailable);
  CHECK(down.message == "the server is currently unable to handle the request");

  Error oops = status_error(502, "bad gateway\n", {});
  CHECK(oops.code == Errc::internal_error);
  CHECK(oops.message == "an error on the server (\"bad gateway\") has prevented the request from succeeding");

  Error denied = status_error(500, "Internal Server Error: \"/api\": requested [{Group  system:masters}] without impersonating a user", {});
  CHECK(denied.code == Errc::internal_error);
  CHECK(denied.message.find("without impersonating a user") != std::string::npos);
  CHECK(denied.message.find('\n') == std::string::npos);
}

TEST_CASE("errc_for_status decides by code when the reason is unknown") {
  CHECK(errc_for_status("", 401) == Errc::unauthorized);
  CHECK(errc_for_status("SomethingNew", 403) == Errc::forbidden);
  CHECK(errc_for_status("", 422) == Errc::invalid);
  CHECK(errc_for_status("", 418) == Errc::unknown);
}

TEST_CASE("parse_warning_header reads the quoted texts") {
  CHECK(parse_warning_header(R"(299 - "unknown field \"spec.foo\"")") ==
        std::vector<std::string>{"unknown field \"spec.foo\""});
  CHECK(parse_warning_header(R"(299 - "a", 299 - "b, c")") == std::vector<std::string>{"a", "b, c"});
  CHECK(parse_warning_header(R"(299 - "policy/v1beta1 PodSecurityPolicy is deprecated" "Sat, 01 Jan 2022 00:00:00 GMT")") ==
        std::vector<std::string>{"policy/v1beta1 PodSecurityPolicy is deprecated"});
  CHECK(parse_warning_header("garbage").empty());
}
