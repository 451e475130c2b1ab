#include "keep_flags.hpp"

#include "commands.hpp"

namespace kbk::cli {
namespace retention = storage::retention;

void add_keep_flags(CLI::App* cmd, KeepFlags& f, const std::string& noun, const std::string& within_help) {
  cmd->add_option("--keep-last", f.last, "Keep the N newest " + noun + "s (N or 'unlimited', as for every --keep-* count)")
      ->type_name("N");
  cmd->add_option("--keep-hourly", f.hourly, "Keep the newest " + noun + " of each of the last N hours that have one")
      ->type_name("N");
  cmd->add_option("--keep-daily", f.daily, "Keep the newest " + noun + " of each of the last N days that have one")
      ->type_name("N");
  cmd->add_option("--keep-weekly", f.weekly, "Keep the newest " + noun + " of each of the last N ISO weeks with one")
      ->type_name("N");
  cmd->add_option("--keep-monthly", f.monthly, "Keep the newest " + noun + " of each of the last N months with one")
      ->type_name("N");
  cmd->add_option("--keep-yearly", f.yearly, "Keep the newest " + noun + " of each of the last N years with one")
      ->type_name("N");
  cmd->add_option("--keep-within", f.within, within_help)->type_name("SPAN");
}

namespace {
// A --keep-* count: a non-negative integer or "unlimited" (restic's words).
int parse_count(const char* flag, const std::string& v, const std::string& noun) {
  if (v.empty()) return 0;
  if (v == "unlimited") return retention::k_unlimited;
  if (v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
    throw Fatal(ExitCode::usage, std::string(flag) + " " + v + ": expected a number of " + noun + "s or \"unlimited\"");
  return std::stoi(v);
}
}  // namespace

retention::Policy keep_policy(const KeepFlags& f, const std::string& noun) {
  retention::Policy p;
  p.keep_last = parse_count("--keep-last", f.last, noun);
  p.keep_hourly = parse_count("--keep-hourly", f.hourly, noun);
  p.keep_daily = parse_count("--keep-daily", f.daily, noun);
  p.keep_weekly = parse_count("--keep-weekly", f.weekly, noun);
  p.keep_monthly = parse_count("--keep-monthly", f.monthly, noun);
  p.keep_yearly = parse_count("--keep-yearly", f.yearly, noun);
  if (!f.within.empty()) {
    auto w = retention::parse_within(f.within);
    if (!w)
      throw Fatal(ExitCode::usage, "--keep-within " + f.within +
                                       ": expected restic's duration, years/months/days/hours like 7d, 36h or 1y6m");
    p.keep_within = *w;
  }
  return p;
}

}  // namespace kbk::cli
