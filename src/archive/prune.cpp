// `kbk prune`'s plan and its execution (include/kbk/archive/prune.hpp).
#include <kbk/archive/prune.hpp>

#include <optional>

#include <kbk/util/log.hpp>
#include <kbk/util/time.hpp>

namespace kbk::archive {

PrunePlan plan_prune(const std::vector<BackupListing>& listing, const storage::retention::Policy& policy,
                     GroupBy group_by, std::chrono::seconds incomplete_age, std::chrono::system_clock::time_point now) {
  PrunePlan plan;
  std::vector<storage::retention::Item> items;
  for (const auto& l : listing) {
    if (l.source != "kbk") {
      plan.skipped.push_back({l.name, "Velero backup"});  // Velero's backups are Velero's to expire
      continue;
    }
    const auto started = util::parse_rfc3339(l.started);
    if (l.phase == "Incomplete") {
      // Young, or of unknown age: another kbk may be writing it right now.
      plan.incomplete.push_back({l.name, l.started, started && *started <= now - incomplete_age});
      continue;
    }
    if (!started) {
      plan.skipped.push_back({l.name, "no start time"});
      continue;
    }
    const auto expires = l.expires.empty() ? std::nullopt : util::parse_rfc3339(l.expires);
    items.push_back({l.name, *started, expires, group_by == GroupBy::cluster ? l.cluster : std::string()});
  }
  plan.decisions = storage::retention::apply_grouped(std::move(items), policy, now);
  return plan;
}

PruneResult execute_prune(storage::Backend& backend, const PrunePlan& plan, std::chrono::seconds incomplete_age) {
  PruneResult result;
  auto remove = [&](const std::string& name) {
    auto r = delete_backup(backend, name);
    if (!r && !r.error().is(Errc::not_found)) {
      result.failures.push_back({name, std::move(r).error()});
      return;
    }
    log::info(1, "removed backup " + name);
    result.removed.push_back(name);
  };
  for (const auto& d : plan.decisions)
    if (!d.keep) remove(d.item.name);
  for (const auto& i : plan.incomplete)
    if (i.remove) remove(i.name);
  if (auto c = backend.cleanup_incomplete(incomplete_age, "")) result.uploads_aborted = *c;
  else result.failures.push_back({"", std::move(c).error()});
  return result;
}

}  // namespace kbk::archive
