// Retention rules for `kbk prune`, restic's "forget" policy applied to a location's backups: which to keep and
// why. Pure logic over (name, group, start time, expiry) so tests reach every rule; the command deletes.
//
// Backups are split into groups (Item::group: "" for --group-by none, the source cluster for --group-by cluster)
// and the rules apply to each group on its own, newest backup first (ties: the greater name first). As restic:
//   keep_last N     the N newest
//   keep_hourly N   the newest backup of each of the N newest hours that have one (likewise daily, weekly (ISO
//                   8601 weeks, so the days around New Year belong to the week of their Thursday), monthly,
//                   yearly); calendar buckets in UTC. When a bucket rule still has counts left at the oldest
//                   backup of the group, the oldest is kept too (restic 0.14+: the history reaches back as far
//                   as it can).
//   N = k_unlimited (-1) keeps one per bucket without limit (restic's "unlimited").
//   keep_within D   every backup started after (newest - D), the newest being the newest not in the future;
//                   D in restic's units (years, months, days, hours), calendar arithmetic in UTC.
//   expired         (kbk's, for --ttl) removes backups whose expiry has passed, unless a keep rule keeps them.
// A backup is removed when keep rules are given and none keeps it, or when `expired` is set, it has expired and no
// keep rule keeps it. No rule at all is a usage error the command reports (exit 3); apply() then keeps everything.
#pragma once

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kbk::storage::retention {

using TimePoint = std::chrono::system_clock::time_point;

inline constexpr int k_unlimited = -1;

struct Item {
  std::string name;
  TimePoint started;
  std::optional<TimePoint> expires;
  std::string group;  // the --group-by key; "" for one group
};

// restic's --keep-within duration: "1y5m7d2h" (years, months, days, hours; any subset, each at most once, in
// that order). Minutes and seconds are refused: in restic "m" means months.
struct Within {
  int years = 0, months = 0, days = 0, hours = 0;
  bool zero() const { return !years && !months && !days && !hours; }
  std::string text() const {
    std::string s;
    if (years) s += std::to_string(years) + "y";
    if (months) s += std::to_string(months) + "m";
    if (days) s += std::to_string(days) + "d";
    if (hours) s += std::to_string(hours) + "h";
    return s.empty() ? "0h" : s;
  }
};

inline std::optional<Within> parse_within(std::string_view s) {
  Within w;
  if (s.empty()) return std::nullopt;
  const std::string_view units = "ymdh";
  size_t next_unit = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (start == i || i == s.size() || i - start > 6) return std::nullopt;
    int n = 0;
    std::from_chars(s.data() + start, s.data() + i, n);
    size_t u = units.find(s[i]);
    if (u == std::string_view::npos || u < next_unit) return std::nullopt;
    (u == 0 ? w.years : u == 1 ? w.months : u == 2 ? w.days : w.hours) = n;
    next_unit = u + 1;
    ++i;
  }
  return w;
}

struct Policy {
  int keep_last = 0, keep_hourly = 0, keep_daily = 0, keep_weekly = 0, keep_monthly = 0, keep_yearly = 0;
  Within keep_within;
  bool expired = false;
  bool has_keep_rule() const {
    return keep_last || keep_hourly || keep_daily || keep_weekly || keep_monthly || keep_yearly || !keep_within.zero();
  }
  bool empty() const { return !has_keep_rule() && !expired; }
};

struct Decision {
  Item item;
  bool keep = true;
  // Why it is kept ("last", "daily 2026-11-26", "monthly 2026-10 (oldest)", "within 7d") or removed ("expired",
  // "no rule keeps it").
  std::vector<std::string> reasons;
};

namespace detail {
inline std::tm utc(TimePoint t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm;
}
enum class Bucket { last, hour, day, week, month, year };
inline std::string bucket_key(Bucket b, const std::tm& tm, size_t index) {
  char buf[32] = {0};
  switch (b) {
    case Bucket::last: return std::to_string(index);
    case Bucket::hour: std::strftime(buf, sizeof buf, "%Y-%m-%d %H:00", &tm); break;
    case Bucket::day: std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm); break;
    case Bucket::week: std::strftime(buf, sizeof buf, "%G-W%V", &tm); break;
    case Bucket::month: std::strftime(buf, sizeof buf, "%Y-%m", &tm); break;
    case Bucket::year: std::strftime(buf, sizeof buf, "%Y", &tm); break;
  }
  return buf;
}
// t minus w with calendar arithmetic in UTC (out-of-range days normalise forward, as Go's AddDate).
inline TimePoint minus(TimePoint t, const Within& w) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  tm.tm_year -= w.years;
  tm.tm_mon -= w.months;
  tm.tm_mday -= w.days;
  const auto sub_seconds = t - std::chrono::system_clock::from_time_t(tt);
  return std::chrono::system_clock::from_time_t(timegm(&tm)) + sub_seconds - std::chrono::hours(w.hours);
}
}  // namespace detail

// One group's decisions, newest first.
inline std::vector<Decision> apply(std::vector<Item> items, const Policy& p, TimePoint now) {
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.started != b.started ? a.started > b.started : a.name > b.name;
  });
  std::vector<Decision> out;
  for (auto& i : items) out.push_back({std::move(i), false, {}});
  if (out.empty()) return out;

  struct Rule {
    int count;
    const char* label;
    detail::Bucket bucket;
    std::string last_key = {};
  };
  Rule rules[] = {{p.keep_last, "last", detail::Bucket::last},     {p.keep_hourly, "hourly", detail::Bucket::hour},
                  {p.keep_daily, "daily", detail::Bucket::day},    {p.keep_weekly, "weekly", detail::Bucket::week},
                  {p.keep_monthly, "monthly", detail::Bucket::month}, {p.keep_yearly, "yearly", detail::Bucket::year}};
  // keep_within counts back from the newest backup that is not in the future.
  std::optional<TimePoint> newest;
  for (const auto& d : out)
    if (d.item.started <= now && (!newest || d.item.started > *newest)) newest = d.item.started;
  const std::optional<TimePoint> within_after =
      (!p.keep_within.zero() && newest) ? std::optional<TimePoint>(detail::minus(*newest, p.keep_within)) : std::nullopt;

  for (size_t i = 0; i < out.size(); ++i) {
    Decision& d = out[i];
    if (within_after && d.item.started > *within_after) d.reasons.push_back("within " + p.keep_within.text());
    const std::tm tm = detail::utc(d.item.started);
    const bool oldest = i + 1 == out.size();
    for (auto& r : rules) {
      if (r.count == 0) continue;
      std::string key = detail::bucket_key(r.bucket, tm, i);
      const bool new_bucket = key != r.last_key;
      if (!new_bucket && !oldest) continue;
      r.last_key = key;
      if (r.count > 0) --r.count;
      if (r.bucket == detail::Bucket::last) d.reasons.push_back(new_bucket ? "last" : "last (oldest)");
      else d.reasons.push_back(std::string(r.label) + " " + key + (new_bucket ? "" : " (oldest)"));
    }
    const bool kept_by_rule = !d.reasons.empty();
    const bool is_expired = d.item.expires && *d.item.expires <= now;
    d.keep = p.has_keep_rule() ? kept_by_rule : true;
    if (p.expired && is_expired && !kept_by_rule) {
      d.keep = false;
      d.reasons.push_back("expired");
    } else if (!d.keep) {
      d.reasons.push_back("no rule keeps it");
    }
  }
  return out;
}

// Every group on its own: decisions ordered by group, then newest first.
inline std::vector<Decision> apply_grouped(std::vector<Item> items, const Policy& p, TimePoint now) {
  std::map<std::string, std::vector<Item>> groups;
  for (auto& i : items) groups[i.group].push_back(std::move(i));
  std::vector<Decision> out;
  for (auto& [group, members] : groups) {
    auto ds = apply(std::move(members), p, now);
    std::move(ds.begin(), ds.end(), std::back_inserter(out));
  }
  return out;
}

}  // namespace kbk::storage::retention
