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
      {"b01", at("2026-10-30T23:00:00Z"), std::nullopt, ""}, {"b02", at("2026-11-01T01:00:00Z"), std::nullopt, ""},
      {"b03", at("2026-11-01T13:00:00Z"), std::nullopt, ""}, {"b04", at("2026-11-20T09:00:00Z"), std::nullopt, ""},
      {"b05", at("2026-11-24T09:00:00Z"), std::nullopt, ""}, {"b06", at("2026-11-25T09:00:00Z"), std::nullopt, ""},
      {"b07", at("2026-11-26T01:00:00Z"), std::nullopt, ""}, {"b08", at("2026-11-26T01:30:00Z"), std::nullopt, ""},
  };
}

}  // namespace

TEST_CASE("retention::apply keep_last and keep_within") {
  Policy p;
  p.keep_last = 3;
  CHECK(kept(apply(history(), p, at("2026-11-26T12:00:00Z"))) == std::vector<std::string>{"b08", "b07", "b06"});
  Policy w;
  w.keep_within = *parse_within("24h");  // relative to the newest (11-26 01:30), as restic
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

namespace {

std::vector<Item> items_at(std::initializer_list<std::pair<const char*, const char*>> list) {
  std::vector<Item> out;
  for (const auto& [name, t] : list) out.push_back({name, at(t), std::nullopt, ""});
  return out;
}

}  // namespace

TEST_CASE("retention::apply weekly buckets are ISO weeks across a year boundary") {
  // 2026-12-28 (Mon) .. 2027-01-03 (Sun) is 2026-W53; 2027-01-04 starts 2027-W01.
  auto items = items_at({{"dec29", "2026-12-29T10:00:00Z"}, {"jan02", "2027-01-02T10:00:00Z"},
                         {"jan05", "2027-01-05T10:00:00Z"}, {"jan06", "2027-01-06T10:00:00Z"}});
  Policy p;
  p.keep_weekly = 2;
  auto ds = apply(items, p, at("2027-01-07T00:00:00Z"));
  CHECK(kept(ds) == std::vector<std::string>{"jan06", "jan02"});
  CHECK(ds[0].reasons == std::vector<std::string>{"weekly 2027-W01"});
  CHECK(ds[2].reasons == std::vector<std::string>{"weekly 2026-W53"});
  CHECK(ds[3].reasons == std::vector<std::string>{"no rule keeps it"});
  Policy y;
  y.keep_yearly = 1;  // the calendar year, not the ISO year
  CHECK(kept(apply(items, y, at("2027-01-07T00:00:00Z"))) == std::vector<std::string>{"jan06"});
}

TEST_CASE("retention::apply keeps the oldest backup while a bucket rule has counts left (restic)") {
  auto items = items_at({{"a1", "2026-11-20T01:00:00Z"}, {"a2", "2026-11-20T05:00:00Z"},
                         {"b1", "2026-11-21T01:00:00Z"}, {"b2", "2026-11-21T05:00:00Z"}});
  Policy p;
  p.keep_daily = 7;  // two days have backups; 5 counts left at the oldest
  auto ds = apply(items, p, at("2026-11-22T00:00:00Z"));
  CHECK(kept(ds) == std::vector<std::string>{"b2", "a2", "a1"});
  CHECK(ds[3].reasons == std::vector<std::string>{"daily 2026-11-20 (oldest)"});
  Policy exact;
  exact.keep_daily = 2;  // counts used up before the oldest: it goes
  CHECK(kept(apply(items, exact, at("2026-11-22T00:00:00Z"))) == std::vector<std::string>{"b2", "a2"});
}

TEST_CASE("retention::apply unlimited counts keep one per bucket without limit") {
  Policy p;
  p.keep_hourly = k_unlimited;
  // b07 and b08 share 2026-11-26 01:00; every other hour has one backup.
  CHECK(kept(apply(history(), p, at("2026-11-26T12:00:00Z"))) ==
        std::vector<std::string>{"b08", "b06", "b05", "b04", "b03", "b02", "b01"});
  Policy last;
  last.keep_last = k_unlimited;
  CHECK(kept(apply(history(), last, at("2026-11-26T12:00:00Z"))).size() == 8);
}

TEST_CASE("retention::apply keep_within: calendar units, strictly after, from the newest not in the future") {
  auto items = items_at({{"old", "2026-09-25T12:00:00Z"}, {"edge", "2026-10-26T12:00:00Z"},
                         {"in", "2026-10-26T12:00:01Z"}, {"newest", "2026-11-26T12:00:00Z"},
                         {"future", "2026-12-30T00:00:00Z"}});
  Policy p;
  p.keep_within = *parse_within("1m");  // one month, as restic: after 2026-10-26T12:00:00Z
  auto ds = apply(items, p, at("2026-11-27T00:00:00Z"));
  CHECK(kept(ds) == std::vector<std::string>{"future", "newest", "in"});
  CHECK(ds[1].reasons == std::vector<std::string>{"within 1m"});
  Policy d;
  d.keep_within = *parse_within("1y2d");
  CHECK(kept(apply(items, d, at("2026-11-27T00:00:00Z"))).size() == 5);
}

TEST_CASE("retention::parse_within takes restic's y, m, d, h and nothing else") {
  auto w = parse_within("1y6m7d2h");
  REQUIRE(w);
  CHECK((w->years == 1 && w->months == 6 && w->days == 7 && w->hours == 2));
  CHECK(w->text() == "1y6m7d2h");
  CHECK(parse_within("168h")->hours == 168);
  CHECK_FALSE(parse_within(""));
  CHECK_FALSE(parse_within("7"));
  CHECK_FALSE(parse_within("90s"));
  CHECK_FALSE(parse_within("1h30m"));  // units out of order: "m" is months, so this is not 90 minutes
  CHECK_FALSE(parse_within("1d1d"));
  CHECK_FALSE(parse_within("-1d"));
}

TEST_CASE("retention::apply_grouped applies the rules to each group on its own") {
  auto items = items_at({{"a-old", "2026-11-01T00:00:00Z"}, {"a-new", "2026-11-02T00:00:00Z"},
                         {"b-old", "2026-11-03T00:00:00Z"}, {"b-new", "2026-11-04T00:00:00Z"}});
  items[0].group = items[1].group = "cluster-a";
  items[2].group = items[3].group = "cluster-b";
  Policy p;
  p.keep_last = 1;
  auto ds = apply_grouped(items, p, at("2026-11-05T00:00:00Z"));
  CHECK(kept(ds) == std::vector<std::string>{"a-new", "b-new"});
  REQUIRE(ds.size() == 4);
  CHECK((ds[0].item.group == "cluster-a" && ds[2].item.group == "cluster-b"));
  for (auto& i : items) i.group.clear();
  CHECK(kept(apply_grouped(items, p, at("2026-11-05T00:00:00Z"))) == std::vector<std::string>{"b-new"});
}

TEST_CASE("retention::apply expired only removes what has expired by now") {
  auto items = items_at({{"gone", "2026-11-01T00:00:00Z"}, {"stays", "2026-11-02T00:00:00Z"},
                         {"no-ttl", "2026-11-03T00:00:00Z"}});
  items[0].expires = at("2026-11-04T00:00:00Z");
  items[1].expires = at("2026-11-06T00:00:00Z");
  Policy p;
  p.expired = true;
  auto ds = apply(items, p, at("2026-11-05T00:00:00Z"));
  CHECK(kept(ds) == std::vector<std::string>{"no-ttl", "stays"});
  CHECK(ds[2].reasons == std::vector<std::string>{"expired"});
  CHECK(kept(apply(items, p, at("2026-11-06T00:00:00Z"))) == std::vector<std::string>{"no-ttl"});
}
