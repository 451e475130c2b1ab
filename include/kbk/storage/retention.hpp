// Retention rules for `kbk prune`, restic's "forget" policy applied to a location's backups: which to keep and
// why. Pure logic over (name, start time, expiry) so tests reach every rule; the command deletes.
//
// Rules (calendar buckets in UTC, newest backup first):
//   keep_last N     the N newest
//   keep_hourly N   the newest backup of each of the N newest hours that have one (likewise daily, weekly (ISO
//                   8601 weeks), monthly, yearly)
//   keep_within D   every backup started within D before the newest one
//   expired         remove backups whose expiry (--ttl) has passed, unless a keep rule keeps them
// A backup is removed when keep rules are given and none keeps it, or when `expired` is set, it has expired and no
// keep rule keeps it. No rule at all is a usage error the command reports (exit 3); this function keeps everything.
#pragma once

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace kbk::storage::retention {

using TimePoint = std::chrono::system_clock::time_point;

struct Item {
  std::string name;
  TimePoint started;
  std::optional<TimePoint> expires;
};

struct Policy {
  int keep_last = 0, keep_hourly = 0, keep_daily = 0, keep_weekly = 0, keep_monthly = 0, keep_yearly = 0;
  std::optional<std::chrono::seconds> keep_within;
  bool expired = false;
  bool has_keep_rule() const {
    return keep_last || keep_hourly || keep_daily || keep_weekly || keep_monthly || keep_yearly || keep_within;
  }
  bool empty() const { return !has_keep_rule() && !expired; }
};

struct Decision {
  Item item;
  bool keep = true;
  std::vector<std::string> reasons;  // "last", "daily 2026-11-26", "within 7d", "expired"
};

namespace detail {
inline std::tm utc(TimePoint t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm;
}
enum class Bucket { hour, day, week, month, year };
inline std::string bucket_key(Bucket b, const std::tm& tm) {
  char buf[32];
  switch (b) {
    case Bucket::hour: std::strftime(buf, sizeof buf, "%Y-%m-%d %H:00", &tm); break;
    case Bucket::day: std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm); break;
    case Bucket::week: std::strftime(buf, sizeof buf, "%G-W%V", &tm); break;
    case Bucket::month: std::strftime(buf, sizeof buf, "%Y-%m", &tm); break;
    case Bucket::year: std::strftime(buf, sizeof buf, "%Y", &tm); break;
  }
  return buf;
}
}  // namespace detail

// Decisions in newest-first order.
inline std::vector<Decision> apply(std::vector<Item> items, const Policy& p, TimePoint now) {
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.started != b.started ? a.started > b.started : a.name > b.name;
  });
  std::vector<Decision> out;
  for (auto& i : items) out.push_back({std::move(i), false, {}});
  struct Bucketing {
    int n;
    const char* label;
    detail::Bucket bucket;
  };
  const Bucketing buckets[] = {{p.keep_hourly, "hourly", detail::Bucket::hour},
                               {p.keep_daily, "daily", detail::Bucket::day},
                               {p.keep_weekly, "weekly", detail::Bucket::week},
                               {p.keep_monthly, "monthly", detail::Bucket::month},
                               {p.keep_yearly, "yearly", detail::Bucket::year}};
  for (size_t i = 0; i < out.size() && static_cast<int>(i) < p.keep_last; ++i) out[i].reasons.push_back("last");
  for (const auto& b : buckets) {
    if (b.n <= 0) continue;
    std::set<std::string> seen;
    for (auto& d : out) {
      if (static_cast<int>(seen.size()) >= b.n) break;
      std::string key = detail::bucket_key(b.bucket, detail::utc(d.item.started));
      if (seen.insert(key).second) d.reasons.push_back(std::string(b.label) + " " + key);
    }
  }
  if (p.keep_within && !out.empty()) {
    const TimePoint newest = out.front().item.started;
    for (auto& d : out)
      if (d.item.started >= newest - *p.keep_within) d.reasons.push_back("within");
  }
  for (auto& d : out) {
    bool kept_by_rule = !d.reasons.empty();
    bool is_expired = d.item.expires && *d.item.expires <= now;
    if (p.has_keep_rule()) d.keep = kept_by_rule;
    else d.keep = true;
    if (p.expired && is_expired && !kept_by_rule) {
      d.keep = false;
      d.reasons.push_back("expired");
    }
  }
  return out;
}

}  // namespace kbk::storage::retention
