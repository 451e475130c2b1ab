// backup create --metrics-file: the Prometheus text a collector reads.
#include <catch2/catch.hpp>

#include <map>
#include <regex>
#include <string>

#include <kbk/backup/metrics.hpp>
#include <kbk/util/strings.hpp>

using namespace kbk;

namespace {

// Samples by "name{labels}", checking each line against the exposition format (HELP and TYPE before the sample).
std::map<std::string, std::string> samples(const std::string& text) {
  static const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? (-?[0-9]+(?:\.[0-9]+)?)$)");
  std::map<std::string, std::string> out;
  std::string typed;
  for (const std::string& line : util::split(text, '\n')) {
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      typed = util::split(line, ' ')[2];
      CHECK(util::ends_with(line, " gauge"));
      continue;
    }
    std::smatch m;
    INFO(line);
    REQUIRE(std::regex_match(line, m, sample));
    CHECK(m[1].str() == typed);
    out[m[1].str() + m[2].str()] = m[3].str();
  }
  CHECK(util::ends_with(text, "\n"));
  return out;
}

}  // namespace

TEST_CASE("metrics_text: a successful run", "[metrics]") {
  backup::RunMetrics m;
  m.cluster = "prod-eu-1";
  m.backup = "nightly-20261206";
  m.phase = "Completed";
  m.success = true;
  m.started = 1765000000.25;
  m.finished = 1765000012.75;
  m.items = 120;
  m.bytes = 34567;
  m.volumes = 3;
  m.warnings = 1;
  auto s = samples(backup::metrics_text(m, ""));
  const std::string l = "{cluster=\"prod-eu-1\"}";
  CHECK(s["kbk_backup_last_run_timestamp_seconds" + l] == "1765000012.750");
  CHECK(s["kbk_backup_last_success_timestamp_seconds" + l] == "1765000012.750");
  CHECK(s["kbk_backup_last_run_success" + l] == "1");
  CHECK(s["kbk_backup_last_duration_seconds" + l] == "12.500");
  CHECK(s["kbk_backup_last_items" + l] == "120");
  CHECK(s["kbk_backup_last_bytes" + l] == "34567");
  CHECK(s["kbk_backup_last_volumes" + l] == "3");
  CHECK(s["kbk_backup_last_warnings" + l] == "1");
  CHECK(s["kbk_backup_last_errors" + l] == "0");
  CHECK(s["kbk_backup_last_run_info{cluster=\"prod-eu-1\",backup=\"nightly-20261206\",phase=\"Completed\"}"] == "1");
}

TEST_CASE("metrics_text: a failed run keeps the last success of the previous file", "[metrics]") {
  backup::RunMetrics ok;
  ok.cluster = "c";
  ok.success = true;
  ok.finished = 1000;
  const std::string first = backup::metrics_text(ok, "");
  backup::RunMetrics bad;
  bad.cluster = "c";
  bad.phase = "Failed";
  bad.errors = 1;
  bad.started = 2000;
  bad.finished = 2005;
  const std::string second = backup::metrics_text(bad, first);
  auto s = samples(second);
  CHECK(s["kbk_backup_last_success_timestamp_seconds{cluster=\"c\"}"] == "1000.000");
  CHECK(s["kbk_backup_last_run_success{cluster=\"c\"}"] == "0");
  CHECK(s["kbk_backup_last_run_timestamp_seconds{cluster=\"c\"}"] == "2005.000");
  // And again: the carried value survives a second failure.
  CHECK(samples(backup::metrics_text(bad, second))["kbk_backup_last_success_timestamp_seconds{cluster=\"c\"}"] == "1000.000");
  // Never a success, or an unreadable earlier file: no last-success sample at all (absent() alerts on it).
  auto none = samples(backup::metrics_text(bad, "garbage\nkbk_backup_last_success_timestamp_seconds{cluster=\"c\"} x\n"));
  CHECK(none.count("kbk_backup_last_success_timestamp_seconds{cluster=\"c\"}") == 0);
}

TEST_CASE("metrics_text escapes label values", "[metrics]") {
  backup::RunMetrics m;
  m.cluster = "a\"b\\c\nd";
  m.phase = "PartiallyFailed";
  auto s = samples(backup::metrics_text(m, ""));
  CHECK(s.count(R"(kbk_backup_last_items{cluster="a\"b\\c\nd"})") == 1);
}
