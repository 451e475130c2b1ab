// kbk prune: apply retention rules (restic's) to the complete kbk backups of a location, delete the rest marker
// first, remove incomplete backups and abort multipart uploads older than 24 hours. Idempotent and safe to
// interrupt: a half-deleted backup has lost its marker first, so it never lists as complete.
#include <cstdio>

#include "commands.hpp"
#include <kbk/archive/location.hpp>
#include <kbk/json/json.hpp>
#include <kbk/output/output.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/storage/retention.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

namespace kbk::cli {
namespace {

struct PruneOptions {
  storage::retention::Policy policy;
  std::string keep_within;
  bool dry_run = false;
  std::string incomplete_age = "24h";
};

int run(const GlobalOptions& g, PruneOptions& o) {
  auto format = output::parse_format(g.output, {output::Format::text, output::Format::json});
  if (!format) throw Fatal(ExitCode::usage, format.error().message);
  if (!o.keep_within.empty()) {
    auto d = util::parse_duration(o.keep_within);
    if (!d) throw Fatal(ExitCode::usage, "--keep-within " + o.keep_within + ": expected a duration like 168h");
    o.policy.keep_within = std::chrono::seconds(static_cast<int64_t>(*d));
  }
  if (o.policy.empty())
    throw Fatal(ExitCode::usage, "no retention rule: pass --keep-last, --keep-hourly, --keep-daily, --keep-weekly, "
                                 "--keep-monthly, --keep-yearly, --keep-within or --expired");
  auto age = util::parse_duration(o.incomplete_age);
  if (!age) throw Fatal(ExitCode::usage, "--incomplete-older-than " + o.incomplete_age + ": expected a duration");

  auto opened = open_storage(g);
  storage::Backend& b = *opened;
  auto listing = archive::list_backups(b);
  if (!listing) {
    log::error(listing.error().message);
    return static_cast<int>(exit_code_for(listing.error()));
  }
  const auto now = std::chrono::system_clock::now();
  std::vector<storage::retention::Item> items;
  std::vector<std::string> incomplete;
  for (const auto& l : *listing) {
    if (l.source != "kbk") continue;  // Velero's backups are Velero's to expire
    if (l.phase == "Incomplete") {
      auto started = util::parse_rfc3339(l.started);
      if (!started || now - *started > std::chrono::seconds(static_cast<int64_t>(*age))) incomplete.push_back(l.name);
      continue;
    }
    auto started = util::parse_rfc3339(l.started);
    if (!started) {
      log::warning("backup " + l.name + " has no start time; prune leaves it alone");
      continue;
    }
    items.push_back({l.name, *started, l.expires.empty() ? std::nullopt : util::parse_rfc3339(l.expires)});
  }
  auto decisions = storage::retention::apply(items, o.policy, now);

  int failures = 0;
  auto remove = [&](const std::string& name) {
    if (o.dry_run) return;
    auto r = archive::delete_backup(b, name);
    if (!r && !r.error().is(Errc::not_found)) {
      log::error("deleting backup " + name + ": " + r.error().message);
      ++failures;
    }
  };
  json::Document doc;
  doc.SetObject();
  auto& a = doc.GetAllocator();
  json::Value keep(rapidjson::kArrayType), gone(rapidjson::kArrayType), inc(rapidjson::kArrayType);
  output::Table table({"BACKUP", "STARTED", "ACTION", "REASONS"});
  for (const auto& d : decisions) {
    if (!d.keep) remove(d.item.name);
    json::Value v(rapidjson::kObjectType);
    v.AddMember("name", json::make_string(d.item.name, a), a);
    v.AddMember("started", json::make_string(util::format_rfc3339(d.item.started), a), a);
    json::Value reasons(rapidjson::kArrayType);
    for (const auto& r : d.reasons) reasons.PushBack(json::make_string(r, a), a);
    v.AddMember("reasons", reasons, a);
    (d.keep ? keep : gone).PushBack(v, a);
    table.add_row({d.item.name, util::format_rfc3339(d.item.started),
                   d.keep ? "keep" : (o.dry_run ? "would remove" : "removed"), util::join(d.reasons, ", ")});
  }
  for (const auto& name : incomplete) {
    remove(name);
    inc.PushBack(json::make_string(name, a), a);
    table.add_row({name, "", o.dry_run ? "would remove (incomplete)" : "removed (incomplete)", ""});
  }
  uint64_t aborted = 0;
  if (!o.dry_run) {
    auto c = b.cleanup_incomplete(std::chrono::seconds(static_cast<int64_t>(*age)));
    if (c) aborted = *c;
    else {
      log::error(c.error().message);
      ++failures;
    }
  }
  if (*format == output::Format::json) {
    doc.AddMember("dryRun", o.dry_run, a);
    doc.AddMember("kept", keep, a);
    doc.AddMember("removed", gone, a);
    doc.AddMember("incompleteRemoved", inc, a);
    doc.AddMember("uploadsAborted", aborted, a);
    output::print_json(doc);
  } else {
    if (!table.empty()) std::fputs(table.render().c_str(), stdout);
    if (aborted) std::printf("%llu incomplete upload(s) aborted\n", static_cast<unsigned long long>(aborted));
  }
  return failures ? static_cast<int>(ExitCode::partial) : 0;
}

}  // namespace

void register_prune(CLI::App& app, GlobalOptions& g, RunState& state) {
  static PruneOptions o;
  CLI::App* cmd = app.add_subcommand("prune", "Delete backups by retention rules (restic's), incomplete backups and "
                                              "stale multipart uploads; no rule given exits 3");
  cmd->add_option("--keep-last", o.policy.keep_last, "Keep the N newest backups");
  cmd->add_option("--keep-hourly", o.policy.keep_hourly, "Keep the newest backup of each of the last N hours (UTC)");
  cmd->add_option("--keep-daily", o.policy.keep_daily, "Keep the newest backup of each of the last N days (UTC)");
  cmd->add_option("--keep-weekly", o.policy.keep_weekly, "Keep the newest backup of each of the last N ISO weeks");
  cmd->add_option("--keep-monthly", o.policy.keep_monthly, "Keep the newest backup of each of the last N months");
  cmd->add_option("--keep-yearly", o.policy.keep_yearly, "Keep the newest backup of each of the last N years");
  cmd->add_option("--keep-within", o.keep_within, "Keep every backup started within DURATION of the newest (e.g. 168h)");
  cmd->add_flag("--expired", o.policy.expired, "Delete backups past their --ttl (unless a keep rule keeps them)");
  cmd->add_flag("--dry-run", o.dry_run, "Show what would be deleted; delete nothing");
  cmd->add_option("--incomplete-older-than", o.incomplete_age, "Age after which incomplete backups and uploads go")
      ->capture_default_str();
  set_runner(cmd, state, [&g] { return run(g, o); });
}

}  // namespace kbk::cli
