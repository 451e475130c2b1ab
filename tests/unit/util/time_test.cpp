#include <catch2/catch.hpp>

#include <kbk/util/time.hpp>

using namespace kbk::util;

TEST_CASE("RFC 3339 timestamps round trip as Kubernetes writes them") {
  auto t = parse_rfc3339("2026-11-26T07:16:34Z");
  REQUIRE(t);
  CHECK(format_rfc3339(*t) == "2026-11-26T07:16:34Z");
  CHECK(format_compact(*t) == "20261126071634");
  auto off = parse_rfc3339("2026-11-26T09:16:34+02:00");
  REQUIRE(off);
  CHECK(format_rfc3339(*off) == "2026-11-26T07:16:34Z");
  CHECK_FALSE(parse_rfc3339("yesterday"));
}

TEST_CASE("parse_rfc3339: a time a system_clock cannot hold is no time (found by fuzz.s3_responses)") {
  using kbk::util::parse_rfc3339;
  CHECK_FALSE(parse_rfc3339("2083975-01-01T00:00:00Z"));  // overflowed from_time_t: signed overflow
  CHECK_FALSE(parse_rfc3339("1000-01-01T00:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-13-01T00:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-01-01T00:00:1e300Z"));
  CHECK_FALSE(parse_rfc3339("2026-01-01T00:00:00+99999999:00"));
  CHECK(parse_rfc3339("2261-12-31T23:59:59Z"));
}
