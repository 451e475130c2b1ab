#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <kbk/archive/prune.hpp>
#include <kbk/util/time.hpp>

#include "test_support.hpp"

using namespace kbk;
using namespace kbk::archive;
namespace fs = std::filesystem;

namespace {

using test::TempDir;

std::chrono::system_clock::time_point at(const char* t) { return *util::parse_rfc3339(t); }

BackupListing kbk_backup(const std::string& name, const std::string& started, const std::string& cluster = "",
                         const std::string& phase = "Completed") {
  BackupListing l;
  l.name = name;
  l.source = "kbk";
  l.phase = phase;
  l.started = started;
  l.cluster = cluster;
  return l;
}

std::vector<std::string> kept(const PrunePlan& p) {
  std::vector<std::string> out;
  for (const auto& d : p.decisions)
    if (d.keep) out.push_back(d.item.name);
  return out;
}

}  // namespace

TEST_CASE("plan_prune spares incomplete backups younger than the age: another kbk may be writing them") {
  const auto now = at("2026-11-26T12:00:00Z");
  std::vector<BackupListing> listing{
      kbk_backup("done", "2026-11-20T00:00:00Z"),
      kbk_backup("writing", "2026-11-26T11:55:00Z", "", "Incomplete"),
      kbk_backup("killed", "2026-11-25T11:00:00Z", "", "Incomplete"),
      kbk_backup("unknown-age", "", "", "Incomplete"),
  };
  storage::retention::Policy p;
  p.keep_last = 1;
  auto plan = plan_prune(listing, p, GroupBy::none, std::chrono::hours(24), now);
  REQUIRE(plan.incomplete.size() == 3);
  CHECK((plan.incomplete[0].name == "writing" && !plan.incomplete[0].remove));
  CHECK((plan.incomplete[1].name == "killed" && plan.incomplete[1].remove));
  CHECK((plan.incomplete[2].name == "unknown-age" && !plan.incomplete[2].remove));
  CHECK(kept(plan) == std::vector<std::string>{"done"});
  auto now_age = plan_prune(listing, p, GroupBy::none, std::chrono::seconds(0), now);
  CHECK((now_age.incomplete[0].remove && now_age.incomplete[1].remove && !now_age.incomplete[2].remove));
}

TEST_CASE("plan_prune groups by cluster on request and skips Velero backups and backups without a start time") {
  std::vector<BackupListing> listing{
      kbk_backup("a1", "2026-11-01T00:00:00Z", "uid-a"), kbk_backup("a2", "2026-11-02T00:00:00Z", "uid-a"),
      kbk_backup("b1", "2026-11-03T00:00:00Z", "uid-b"), kbk_backup("nostart", "", "uid-a")};
  BackupListing velero = kbk_backup("v1", "2020-01-01T00:00:00Z");
  velero.source = "velero";
  listing.push_back(velero);
  storage::retention::Policy p;
  p.keep_last = 1;
  const auto now = at("2026-11-26T00:00:00Z");
  auto grouped = plan_prune(listing, p, GroupBy::cluster, std::chrono::hours(24), now);
  CHECK(kept(grouped) == std::vector<std::string>{"a2", "b1"});
  REQUIRE(grouped.skipped.size() == 2);
  CHECK((grouped.skipped[0].name == "nostart" && grouped.skipped[0].reason == "no start time"));
  CHECK((grouped.skipped[1].name == "v1" && grouped.skipped[1].reason == "Velero backup"));
  CHECK(kept(plan_prune(listing, p, GroupBy::none, std::chrono::hours(24), now)) == std::vector<std::string>{"b1"});
}

TEST_CASE("execute_prune deletes what the plan removes and nothing else; a backup already gone counts as removed") {
  TempDir t;
  auto b = storage::open(t.path, {});
  REQUIRE(b.ok());
  for (std::string k : {"backups/old/kbk-lock.json", "backups/old/kbk-manifest.json", "backups/new/kbk-lock.json",
                        "backups/new/kbk-manifest.json", "backups/killed/kbk-lock.json", "backups/young/kbk-lock.json"})
    REQUIRE((*b)->put(k, "{}", {}).ok());
  PrunePlan plan;
  plan.decisions.push_back({{"new", at("2026-11-02T00:00:00Z"), std::nullopt, ""}, true, {"last"}});
  plan.decisions.push_back({{"old", at("2026-11-01T00:00:00Z"), std::nullopt, ""}, false, {"no rule keeps it"}});
  plan.decisions.push_back({{"gone", at("2026-10-01T00:00:00Z"), std::nullopt, ""}, false, {"no rule keeps it"}});
  plan.incomplete.push_back({"killed", "2026-11-01T00:00:00Z", true});
  plan.incomplete.push_back({"young", "2026-11-26T00:00:00Z", false});
  auto r = execute_prune(**b, plan, std::chrono::hours(24));
  CHECK(r.failures.empty());
  CHECK(r.removed == std::vector<std::string>{"old", "gone", "killed"});
  CHECK(fs::exists(t.path + "/backups/new/kbk-manifest.json"));
  CHECK(fs::exists(t.path + "/backups/young/kbk-lock.json"));
  CHECK_FALSE(fs::exists(t.path + "/backups/old"));
  CHECK_FALSE(fs::exists(t.path + "/backups/killed"));
}
