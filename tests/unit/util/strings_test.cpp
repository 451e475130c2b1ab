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

TEST_CASE("parse_duration takes every form of Go's time.ParseDuration and bare seconds") {
  CHECK(*parse_duration("30s") == 30.0);
  CHECK(*parse_duration("1m30s") == 90.0);
  CHECK(*parse_duration("2h45m") == 9900.0);
  CHECK(*parse_duration("1.5h") == 5400.0);
  CHECK(*parse_duration("300ms") == Approx(0.3));
  CHECK(*parse_duration("1500us") == Approx(0.0015));
  CHECK(*parse_duration("2\xC2\xB5s") == Approx(2e-6));  // µs
  CHECK(*parse_duration("10ns") == Approx(1e-8));
  CHECK(*parse_duration("+5s") == 5.0);
  CHECK(*parse_duration("7d") == 7 * 86400.0);
  // A bare number is seconds, as kbk's older flags took them (--crd-timeout 60).
  CHECK(*parse_duration("60") == 60.0);
  CHECK(*parse_duration("2.5") == 2.5);
  CHECK_FALSE(parse_duration("-5s"));   // no negative spans
  CHECK_FALSE(parse_duration("1h30"));  // a unit is missing inside a sequence, as in Go
  CHECK_FALSE(parse_duration("5x"));
  CHECK_FALSE(parse_duration("1..5s"));
  CHECK_FALSE(parse_duration(""));
  CHECK_FALSE(parse_duration("."));
}

TEST_CASE("format_duration prints Go's Duration.String at millisecond precision") {
  CHECK(format_duration(720 * 3600) == "720h0m0s");
  CHECK(format_duration(90) == "1m30s");
  CHECK(format_duration(30) == "30s");
  CHECK(format_duration(3600) == "1h0m0s");
  CHECK(format_duration(1.5) == "1.5s");
  CHECK(format_duration(0.25) == "250ms");
  CHECK(format_duration(0.0315) == "31.5ms");
  CHECK(format_duration(0) == "0s");
  CHECK(format_duration(0.031497650000000002) == "31.498ms");
  // what is printed reads back as the same span
  for (double v : {90.0, 5400.0, 1.5, 0.25, 86400.0 * 30})
    CHECK(*parse_duration(format_duration(v)) == Approx(v));
}

TEST_CASE("round_seconds leaves no float noise in JSON numbers") {
  CHECK(round_seconds(0.031497650000000002) == 0.031);
  CHECK(round_seconds(12.3456) == 12.346);
  CHECK(round_seconds(2) == 2);
}

TEST_CASE("suggestions finds the nearest command or flag, closest first") {
  const std::vector<std::string> cmds{"backup", "restore", "version", "prune", "patch", "storage", "api-resources"};
  CHECK(suggestions("bakup", cmds) == std::vector<std::string>{"backup"});
  CHECK(suggestions("restor", cmds) == std::vector<std::string>{"restore"});
  CHECK(suggestions("xyzzy", cmds).empty());
  const std::vector<std::string> verbs{"create", "list", "describe", "delete", "download"};
  CHECK(suggestions("creat", verbs).front() == "create");
  CHECK(suggestions("de", verbs) == std::vector<std::string>{"describe", "delete"});  // prefixes
  const std::vector<std::string> flags{"--include-namespaces", "--exclude-namespaces", "--include-resources"};
  CHECK(suggestions("--include-namespace", flags).front() == "--include-namespaces");
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("", "abc") == 3);
}

TEST_CASE("url_encode keeps unreserved characters only") {
  CHECK(url_encode("app=web,tier in (a b)") == "app%3Dweb%2Ctier%20in%20%28a%20b%29");
  CHECK(url_decode(url_encode("x/y z~")) == "x/y z~");
}

TEST_CASE("printable escapes what could move the cursor, recolour or reorder a terminal") {
  CHECK(printable("plain text, gr\xc3\xbc\xc3\x9f" "e \xe6\x97\xa5") == "plain text, gr\xc3\xbc\xc3\x9f" "e \xe6\x97\xa5");
  CHECK(printable("a\x1b[2Jb") == "a\\x1b[2Jb");
  CHECK(printable("line\nkbk: error: fake") == "line\\x0akbk: error: fake");
  CHECK(printable("keep\n\ttabs", 0, Newlines::keep) == "keep\n\ttabs");
  CHECK(printable("cr\r", 0, Newlines::keep) == "cr\\x0d");
  CHECK(printable("\xff\xfe") == "\\xff\\xfe");
  CHECK(printable("\xe2\x80\xae" "evil") == "\\u{202e}evil");
  CHECK(printable("\xc2\x9b" "31m") == "\\u{009b}31m");
  CHECK(printable("\xc0\xaf") == "\\xc0\\xaf");  // overlong '/'
  CHECK(printable(std::string("a\0b", 3)) == "a\\x00b");
  CHECK(printable(std::string(100, 'x'), 10) == "xxxxxxxxxx...");
  CHECK(valid_utf8("gr\xc3\xbc\xc3\x9f" "e"));
  CHECK_FALSE(valid_utf8("\xed\xa0\x80"));  // a surrogate
  CHECK_FALSE(valid_utf8("\xc3"));
}
