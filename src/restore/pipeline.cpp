// load -> plan -> execute for one backup (see engine.hpp).
#include <kbk/restore/engine.hpp>
#include <kbk/restore/hooks.hpp>

#include <kbk/util/log.hpp>

namespace kbk::restore {

Result<RestoreReport> restore_backup(storage::Backend& backend, const PlanOptions& plan_options, Applier& applier,
                                     const RunOptions& run, const archive::ReaderLimits& limits) {
  KBK_ASSIGN_OR_RETURN(LoadedBackup backup, load_backup(backend, plan_options.backup_name, limits, run.encryption_key,
                                                              Texts::spooled));
  log::info(1, "backup " + backup.name + ": " + std::to_string(backup.items.size()) + " item(s), format " +
                   backup.format_version + (backup.origin == BackupOrigin::velero ? " (written by Velero)" : ""));
  for (const std::string& w : backup.warnings) log::warning(w);
  KBK_ASSIGN_OR_RETURN(Plan plan, make_plan_releasing_backup(backup, plan_options));
  if (run.before_apply) KBK_TRY(run.before_apply(plan));
  if (run.after_planning) KBK_TRY(run.after_planning());
  // The plan holds everything the rest needs: the backup's items are freed before anything is applied.
  std::vector<std::string> backup_warnings = std::move(backup.warnings);
  std::vector<BackupItem>().swap(backup.items);
  RestoreReport report = execute(std::move(plan), applier, run);
  if (report.halted) return unexpected(*report.halted);
  if (run.hooks) run.hooks->run(run.hooks_client, report);
  report.name = plan_options.restore_name;
  report.backup = plan_options.backup_name;
  for (std::string& w : backup_warnings) report.warnings.push_back(std::move(w));
  return report;
}

}  // namespace kbk::restore
