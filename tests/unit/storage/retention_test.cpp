#include <kbk/storage/retention.hpp>

#include <catch2/catch.hpp>

#include <kbk/util/time.hpp>

using namespace kbk::storage::retention;

namespace {

TimePoint at(const char* rfc3339) { return *kbk::util::parse_rfc3339(rfc3339); }

std::vector<std::string> kept(const std::vector<Decision>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds)
    if (d.keep) out.push_back(d.item.name);
  return out;
}

std::vector<Item> history() {
  return {
      {"b01", at("2026-10-30T23:00:00Z"), std::nullopt}, {"b02", at("2026-11-01T01:00:00Z"), std::nullopt},
      {"b03", at("2026-11-01T13:00:00Z"), std::nullopt}, {"b04", at("2026-11-20T09:00:00Z"), std::nullopt},
      {"b05", at("2026-11-24T09:00:00Z"), std::nullopt}, {"b06", at("2026-11-25T09:00:00Z"), std::nullopt},
      {"b07", at("2026-11-26T01:00:00Z"), std::nullopt}, {"b08", at("2026-11-26T01:30:00Z"), std::nullopt},
  };
}

}  // namespace

TEST_CASE("retention::apply keep_last and keep_within") {
  Policy p;
  p.keep_last = 3;
  CHECK(kept(apply(history(), p, at("2026-11-26T12:00:00Z"))) == std::vector<std::string>{"b08", "b07", "b06"});
  Policy w;
  w.keep_within = std::chrono::hours(24);  // relative to the newest (11-26 01:30), as restic
  CHECK(kept(apply(history(), w, at("2026-11-26T12:00:00Z"))) == std::vector<std::string>{"b08", "b07", "b06"});
}

TEST_CASE("retention::apply calendar buckets in UTC: newest of each hour, day, week, month") {
  const auto now = at("2026-11-26T12:00:00Z");
  Policy d;
  d.keep_daily = 3;
  CHECK(kept(apply(history(), d, now)) == std::vector<std::string>{"b08", "b06", "b05"});
  Policy h;
  h.keep_hourly = 2;
  CHECK(kept(apply(history(), h, now)) == std::vector<std::string>{"b08", "b06"});  // 01:30 and 01:00 share an hour
  Policy m;
  m.keep_monthly = 2;
  CHECK(kept(apply(history(), m, now)) == std::vector<std::string>{"b08", "b01"});
  Policy wk;
  wk.keep_weekly = 2;  // ISO weeks: W48 (Nov 23-29) and W47 (Nov 16-22)
  CHECK(kept(apply(history(), wk, now)) == std::vector<std::string>{"b08", "b04"});
  Policy both;
  both.keep_last = 1;
  both.keep_monthly = 3;
  auto ds = apply(history(), both, now);
  CHECK(kept(ds) == std::vector<std::string>{"b08", "b01"});  // only two months have backups
  CHECK(ds[0].reasons == std::vector<std::string>{"last", "monthly 2026-11"});
}

TEST_CASE("retention::apply expired: TTL removes unless a keep rule keeps") {
  auto items = history();
  items[6].expires = at("2026-11-26T02:00:00Z");  // b07 expired
  items[7].expires = at("2026-11-27T00:00:00Z");  // b08 not yet
  Policy e;
  e.expired = true;
  auto ds = apply(items, e, at("2026-11-26T12:00:00Z"));
  CHECK(kept(ds).size() == 7);
  CHECK_FALSE(ds[1].keep);
  CHECK(ds[1].reasons == std::vector<std::string>{"expired"});
  Policy keep2 = e;
  keep2.keep_last = 2;
  CHECK(kept(apply(items, keep2, at("2026-11-26T12:00:00Z"))) == std::vector<std::string>{"b08", "b07"});
  CHECK(kept(apply(items, Policy{}, at("2026-11-26T12:00:00Z"))).size() == 8);  // no rule keeps everything
}
