#include <kbk/storage/wrappers.hpp>

#include <catch2/catch.hpp>

#include <filesystem>

using namespace kbk;
using namespace kbk::storage;

TEST_CASE("parse_rate: units, restic's KiB default, errors") {
  CHECK(*parse_rate("100") == 100 * 1024);
  CHECK(*parse_rate("500KiB") == 500 * 1024);
  CHECK(*parse_rate("10MiB") == 10 * 1024 * 1024);
  CHECK(*parse_rate("1.5M") == 3 * 512 * 1024);
  CHECK(*parse_rate("2G/s") == 2ull << 30);
  CHECK(*parse_rate("4096b") == 4096);
  for (const char* bad : {"", "fast", "10 parsecs", "-1M"}) {
    INFO(bad);
    auto r = parse_rate(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(Errc::config));
  }
}

TEST_CASE("wrap_bandwidth_limit: data passes through unchanged; no limits means no wrapper") {
  const auto dir = std::filesystem::temp_directory_path() / ("kbk-wrap-" + std::to_string(::getpid()));
  OpenOptions o;
  o.create = true;
  auto inner = storage::open("file://" + dir.string(), o);
  REQUIRE(inner.ok());
  Backend* raw = inner->get();
  auto same = wrap_bandwidth_limit(std::move(*inner), {});
  CHECK(same.get() == raw);
  auto limited = wrap_bandwidth_limit(std::move(same), {64ull << 20, 64ull << 20});
  std::string data(3u << 20, 'x');
  for (size_t i = 0; i < data.size(); i += 7) data[i] = static_cast<char>(i);
  REQUIRE(limited->put("k", data, {}).ok());
  auto back = limited->get("k");
  REQUIRE(back.ok());
  CHECK((*back == data));
  auto s = limited->get_stream("k", 5, 10);
  REQUIRE(s.ok());
  char buf[32];
  auto n = (*s)->read(buf, sizeof buf);
  REQUIRE(n.ok());
  CHECK(std::string(buf, *n) == data.substr(5, 10));
  std::filesystem::remove_all(dir);
}
