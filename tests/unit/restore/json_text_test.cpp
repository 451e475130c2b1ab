#include <catch2/catch.hpp>

#include <kbk/restore/json_text.hpp>

#include <atomic>
#include <system_error>
#include <memory>
#include <thread>
#include <vector>

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
  CHECK(kept.held_text()->capacity() < 16);  // the memory is given back, not just the length reset
  CHECK(kept.parse().IsNull());

  // Adopted text that was not checked and does not parse reads as null rather than half a value.
  CHECK(JsonText::adopt(R"({"a":)").parse().IsNull());
}

TEST_CASE("TextSpool gives back every text, from its buffer and from its file, from several threads", "[json_text]") {
  auto spool = std::make_shared<TextSpool>();
  std::vector<std::pair<uint64_t, std::string>> kept;
  // Past the 256 KiB buffer several times, texts of many sizes (one larger than the buffer).
  for (int i = 0; i < 3000; ++i) {
    std::string t = "{\"n\":" + std::to_string(i) + ",\"pad\":\"" + std::string(static_cast<size_t>(i % 700), 'x') + "\"}";
    if (i == 1500) t = "{\"big\":\"" + std::string(600u << 10, 'y') + "\"}";
    auto at = spool->add(t);
    REQUIRE(at.ok());
    kept.emplace_back(*at, std::move(t));
  }
  CHECK(spool->bytes() > (1u << 20));
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r)
    readers.emplace_back([&, r] {
      for (size_t i = static_cast<size_t>(r); i < kept.size(); i += 4)
        if (spool->read(kept[i].first, kept[i].second.size()) != kept[i].second) ++bad;
    });
  for (auto& t : readers) t.join();
  CHECK(bad == 0);
  // Any range of a plain spool, across the file and the buffer (a verifier reads its list in large pieces).
  std::string all;
  for (const auto& k : kept) all += k.second;
  REQUIRE(spool->bytes() == all.size());
  CHECK(spool->read(0, all.size()) == all);
  CHECK(spool->read(all.size() - 300000, 300000) == all.substr(all.size() - 300000));
  CHECK_THROWS_AS(spool->read(all.size() - 10, 11), std::system_error);
}

TEST_CASE("A restore's spool seals every text and gives it back", "[json_text]") {
  auto spool = make_sealed_spool();
  std::vector<std::pair<uint64_t, std::string>> kept;
  uint64_t plain = 0;
  for (int i = 0; i < 500; ++i) {  // past the buffer: read back from the file too
    std::string t = "{\"kind\":\"Secret\",\"data\":{\"k\":\"" + std::string(static_cast<size_t>(1000 + i), 's') + "\"}}";
    auto at = spool->add(t);
    REQUIRE(at.ok());
    plain += t.size();
    kept.emplace_back(*at, std::move(t));
  }
  CHECK(spool->bytes() == plain + 500 * 28);  // nonce and tag each
  for (const auto& [at, t] : kept) CHECK(spool->read(at, t.size()) == t);
  // Sealed: a text read at another length does not authenticate (a plain spool would hand out the bytes).
  CHECK_THROWS_AS(spool->read(kept.front().first, kept.front().second.size() - 1), std::system_error);
  CHECK_THROWS_AS(spool->read(kept.back().first, kept.back().second.size() - 1), std::system_error);
}

TEST_CASE("A spooled JsonText holds where its text is, not the text", "[json_text]") {
  auto spool = make_sealed_spool();
  auto doc = json::parse(R"({"kind":"ConfigMap","data":{"k":"v"}})");
  REQUIRE(doc.ok());
  JsonText t = JsonText::of(*doc, spool);
  CHECK(t.held_text() == nullptr);
  CHECK(t.spool() == spool);
  CHECK(t.text() == R"({"kind":"ConfigMap","data":{"k":"v"}})");
  CHECK(t.size() == t.text().size());
  CHECK(json::equal(t.parse(), *doc));
  JsonText copy = t;  // copies the place, and reads the same
  t.release();
  CHECK(t.is_null());
  CHECK(t.parse().IsNull());
  CHECK(json::get_string(copy.parse(), {"data", "k"}) == "v");
  // Null stays null, spooled or not.
  CHECK(JsonText::of(json::Value(), spool).is_null());
  CHECK(JsonText::adopt("", spool).is_null());
}
