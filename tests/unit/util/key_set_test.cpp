#include <catch2/catch.hpp>

#include <string>

#include <kbk/util/key_set.hpp>

using namespace kbk::util;

TEST_CASE("siphash24 matches the reference test vectors", "[key_set]") {
  // Aumasson and Bernstein's vectors: key 00 01 .. 0f, messages 00, 00 01, ...
  const uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
  std::string msg;
  CHECK(siphash24(k0, k1, msg) == 0x726fdb47dd0e0e31ULL);
  for (int i = 0; i < 15; ++i) msg.push_back(static_cast<char>(i));
  CHECK(siphash24(k0, k1, msg) == 0xa129ca6149be45e5ULL);
  msg.push_back(15);  // 16 bytes: two whole words, no tail
  CHECK(siphash24(k0, k1, msg) == 0x3f2acc7f57c29bdbULL);
}

TEST_CASE("KeySet holds a million keys exactly", "[key_set]") {
  KeySet s;
  for (int i = 0; i < 1000000; ++i) REQUIRE(s.insert("configmaps\x1f" "bench-" + std::to_string(i % 500) + "\x1f" "cm-" + std::to_string(i)));
  CHECK(s.size() == 1000000);
  CHECK_FALSE(s.insert("configmaps\x1f" "bench-7\x1f" "cm-7"));  // already there
  CHECK(s.contains("configmaps\x1f" "bench-499\x1f" "cm-999999"));
  CHECK_FALSE(s.contains("configmaps\x1f" "bench-0\x1f" "cm-1"));  // cm-1 went to namespace bench-1
  CHECK_FALSE(s.contains(""));
  CHECK(s.insert(""));
  CHECK(s.contains(""));
  CHECK(s.size() == 1000001);
}

TEST_CASE("two KeySets digest under different keys", "[key_set]") {
  // Not observable through the interface except by behaviour: both work on the same keys.
  KeySet a, b;
  for (int i = 0; i < 5000; ++i) {
    const std::string k = "k" + std::to_string(i);
    CHECK(a.insert(k));
    if (i % 2 == 0) CHECK(b.insert(k));
  }
  for (int i = 0; i < 5000; ++i) {
    const std::string k = "k" + std::to_string(i);
    CHECK(a.contains(k));
    CHECK(b.contains(k) == (i % 2 == 0));
  }
}
