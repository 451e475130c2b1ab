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
