#include <catch2/catch.hpp>

#include <kbk/util/strings.hpp>

using namespace kbk::util;

TEST_CASE("glob_match follows shell rules used by namespace and resource filters") {
  CHECK(glob_match("*", ""));
  CHECK(glob_match("app-*", "app-frontend"));
  CHECK_FALSE(glob_match("app-*", "db-app-x"));
  CHECK(glob_match("*-prod", "shop-prod"));
  CHECK(glob_match("a?c", "abc"));
  CHECK_FALSE(glob_match("a?c", "ac"));
  CHECK(glob_match("ns[0-9]", "ns7"));
  CHECK_FALSE(glob_match("ns[0-9]", "nsx"));
  CHECK(glob_match("ns[!0-9]", "nsx"));
  CHECK(glob_match("*.apps", "deployments.apps"));
  CHECK(glob_match("a*b*c", "aXXbYYc"));
  CHECK_FALSE(glob_match("a*b*c", "aXXbYY"));
}

TEST_CASE("split keeps or drops empty parts as asked") {
  CHECK(split("a,,b", ',') == std::vector<std::string>{"a", "b"});
  CHECK(split("a,,b", ',', false) == std::vector<std::string>{"a", "", "b"});
  CHECK(split("", ',').empty());
}

TEST_CASE("base64 round trips and rejects garbage") {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\x10", 3)}) {
    auto enc = base64_encode(s);
    auto dec = base64_decode(enc);
    REQUIRE(dec);
    CHECK(*dec == s);
  }
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK_FALSE(base64_decode("Zm9v!"));
}

TEST_CASE("parse_duration reads Go durations as --ttl takes them") {
  CHECK(*parse_duration("720h") == 720 * 3600.0);
  CHECK(*parse_duration("1h30m") == 5400.0);
  CHECK(*parse_duration("90s") == 90.0);
  CHECK(*parse_duration("0") == 0.0);
  CHECK_FALSE(parse_duration("10 years"));
  CHECK_FALSE(parse_duration("h"));
}

TEST_CASE("url_encode keeps unreserved characters only") {
  CHECK(url_encode("app=web,tier in (a b)") == "app%3Dweb%2Ctier%20in%20%28a%20b%29");
  CHECK(url_decode(url_encode("x/y z~")) == "x/y z~");
}
