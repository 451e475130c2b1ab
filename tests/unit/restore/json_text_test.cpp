#include <catch2/catch.hpp>

#include <kbk/restore/json_text.hpp>

using namespace kbk;
using namespace kbk::restore;

TEST_CASE("JsonText::of keeps a value as compact text that parses back equal", "[json_text]") {
  auto doc = json::parse(R"({ "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "a", "labels": {"x": "\u00e9\"q\""}},
    "data": {"n": "1"}, "list": [1, -2, 3.5, 18446744073709551615, true, null, {}], "big": 12345678901234567890 })");
  REQUIRE(doc.ok());
  JsonText t = JsonText::of(*doc);
  CHECK_FALSE(t.is_null());
  CHECK(t.text().find('\n') == std::string::npos);
  CHECK(t.text().find(", ") == std::string::npos);
  json::Document back = t.parse();
  CHECK(json::equal(back, *doc));
  CHECK(json::get_string(back, {"metadata", "labels", "x"}) == "\xc3\xa9\"q\"");
  // Each parse is a new document the caller may change without touching the text.
  json::set(back, "kind", json::make_string("Secret", back.GetAllocator()), back.GetAllocator());
  CHECK(json::get_string(t.parse(), {"kind"}) == "ConfigMap");
}

TEST_CASE("JsonText null, adopt and release", "[json_text]") {
  JsonText empty;
  CHECK(empty.is_null());
  CHECK(empty.parse().IsNull());
  CHECK(JsonText::of(json::Value()).is_null());

  JsonText kept = JsonText::adopt(R"({"a": [1, 2]})");
  CHECK(kept.text() == R"({"a": [1, 2]})");  // as given, spaces included
  CHECK(kept.parse()["a"].Size() == 2);
  kept.release();
  CHECK(kept.is_null());
  CHECK(kept.text().capacity() < 16);  // the memory is given back, not just the length reset
  CHECK(kept.parse().IsNull());

  // Adopted text that was not checked and does not parse reads as null rather than half a value.
  CHECK(JsonText::adopt(R"({"a":)").parse().IsNull());
}
