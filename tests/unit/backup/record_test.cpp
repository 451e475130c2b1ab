// The run record's item spool: what a backup of a million objects keeps on disk instead of in memory.
#include <catch2/catch.hpp>

#include <string>

#include "record.hpp"

using namespace kbk;
using namespace kbk::backup;

namespace {
ItemRecord item(uint32_t type, const std::string& ns, const std::string& name) {
  ItemRecord r;
  r.type = type;
  r.ns = ns;
  r.name = name;
  r.size = static_cast<uint32_t>(name.size() * 7);
  r.related = name.size() % 2 == 0;
  for (size_t i = 0; i < r.sha256.size(); ++i) r.sha256[i] = static_cast<unsigned char>(name.size() + i);
  return r;
}
}  // namespace

TEST_CASE("ItemSpool gives back every record in order, across its buffer and file", "[record]") {
  ItemSpool spool;
  CHECK(spool.empty());
  const int n = 60000;  // several buffers' worth: most records come back from the temporary file
  for (int i = 0; i < n; ++i) {
    const uint32_t type = static_cast<uint32_t>(i % 3);
    const std::string ns = type == 2 ? "" : "ns-" + std::to_string(i % 7);
    REQUIRE(spool.add(item(type, ns, "object-" + std::string(static_cast<size_t>(i % 40), 'x') + std::to_string(i))).ok());
  }
  CHECK(spool.size() == static_cast<uint64_t>(n));
  CHECK(spool.count(0) == 20000);
  CHECK(spool.count(2) == 20000);
  CHECK(spool.count(9) == 0);
  int i = 0;
  bool same = true;
  REQUIRE(spool.for_each([&](const ItemRecord& r) {
                 const uint32_t type = static_cast<uint32_t>(i % 3);
                 const ItemRecord want =
                     item(type, type == 2 ? "" : "ns-" + std::to_string(i % 7), "object-" + std::string(static_cast<size_t>(i % 40), 'x') + std::to_string(i));
                 same = same && r.type == want.type && r.ns == want.ns && r.name == want.name && r.size == want.size &&
                        r.related == want.related && r.sha256 == want.sha256;
                 ++i;
               })
              .ok());
  CHECK(i == n);
  CHECK(same);
  // A second pass reads the same.
  int again = 0;
  REQUIRE(spool.for_each([&](const ItemRecord&) { ++again; }).ok());
  CHECK(again == n);
}

TEST_CASE("ItemSpool knows which types arrived sorted", "[record]") {
  ItemSpool spool;
  REQUIRE(spool.add(item(0, "a", "1")).ok());
  REQUIRE(spool.add(item(1, "b", "2")).ok());
  REQUIRE(spool.add(item(0, "a", "2")).ok());
  REQUIRE(spool.add(item(0, "b", "0")).ok());
  REQUIRE(spool.add(item(1, "a", "9")).ok());  // type 1 goes backwards
  CHECK(spool.sorted(0));
  CHECK_FALSE(spool.sorted(1));
  CHECK(spool.sorted(5));  // no record: trivially
  REQUIRE_FALSE(spool.add(item(0, "a", std::string(70000, 'n'))).ok());
}
