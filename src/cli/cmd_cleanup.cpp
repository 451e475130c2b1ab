// kbk cleanup: remove what kbk runs left in the cluster when they were killed (helper pods, temporary claims,
// VolumeSnapshots and VolumeSnapshotContents, all labelled kbk.io/temporary=true and with their backup or restore).
#include <cstdio>

#include "commands.hpp"
#include "flags.hpp"
#include <kbk/output/output.hpp>
#include <kbk/volume/cluster.hpp>

namespace kbk::cli {

namespace {

struct CleanupFlags {
  std::string backup, restore;
  bool dry_run = false;
};

std::string where(const volume::TemporaryObject& o) { return o.namespace_.empty() ? o.name : o.namespace_ + "/" + o.name; }

int run_cleanup(const GlobalOptions& g, const CleanupFlags& f) {
  auto format = output::parse_format(g.output, {output::Format::json, output::Format::yaml});
  if (!format) throw Fatal(ExitCode::usage, format.error().message);
  const kube::RestConfig config = load_rest_config(g);
  auto client = make_client(g, config);
  volume::CleanupOptions o;
  o.backup = f.backup;
  o.restore = f.restore;
  o.dry_run = f.dry_run;
  auto report = volume::cleanup_leftovers(*client, o);
  if (!report) throw Fatal(exit_code_for(report.error()), report.error().message);
  if (*format != output::Format::text) {
    json::Document d;
    d.SetObject();
    auto& a = d.GetAllocator();
    json::Value removed(rapidjson::kArrayType), errors(rapidjson::kArrayType);
    for (const auto& r : report->removed) {
      json::Value v(rapidjson::kObjectType);
      json::set(v, "kind", json::make_string(r.type.kind, a), a);
      json::set(v, "namespace", json::make_string(r.namespace_, a), a);
      json::set(v, "name", json::make_string(r.name, a), a);
      removed.PushBack(v, a);
    }
    for (const auto& e : report->errors) errors.PushBack(json::make_string(e, a), a);
    json::set(d, "dryRun", json::Value(f.dry_run), a);
    json::set(d, f.dry_run ? "wouldRemove" : "removed", std::move(removed), a);
    json::set(d, "errors", std::move(errors), a);
    if (*format == output::Format::json) output::print_json(d);
    else output::print_yaml(d);
  } else {
    for (const auto& r : report->removed)
      std::printf("%s %s %s\n", f.dry_run ? "would delete" : "deleted", r.type.kind.c_str(), where(r).c_str());
    for (const auto& e : report->errors) std::fprintf(stderr, "kbk: could not delete %s\n", e.c_str());
    if (report->removed.empty() && report->errors.empty()) std::printf("nothing to clean up\n");
  }
  if (report->errors.empty()) return 0;
  return static_cast<int>(report->removed.empty() ? ExitCode::failed : ExitCode::partial);
}

}  // namespace

void register_cleanup(CLI::App& app, GlobalOptions& g, RunState& state) {
  auto f = std::make_shared<CleanupFlags>();
  CLI::App* cmd = app.add_subcommand(
      "cleanup", "Remove what killed kbk runs left in the cluster: helper pods, temporary claims, VolumeSnapshots and "
                 "VolumeSnapshotContents (everything labelled kbk.io/temporary=true)");
  cmd->add_option("--backup", f->backup, "Only the temporaries of this backup")->type_name(value::k_backup);
  cmd->add_option("--restore", f->restore, "Only the temporaries of this restore")->type_name(value::k_name);
  cmd->add_flag("--dry-run", f->dry_run, "List what would be deleted, delete nothing");
  document(cmd, {"kbk cleanup --dry-run", "kbk cleanup", "kbk cleanup --backup nightly -o json"},
           "A backup or restore that moves volume data labels every object it creates (kbk.io/temporary=true, with "
           "kbk.io/backup-name or kbk.io/restore-name) and removes them when it ends or is interrupted; a kbk that "
           "was killed leaves them, and the next run from the same host removes those whose process is gone. "
           "kbk cleanup removes them from anywhere: helper pods (gracePeriodSeconds 0), temporary claims, "
           "VolumeSnapshots (their content's deletionPolicy set to Delete first) and VolumeSnapshotContents. Exit 2 "
           "when some could not be removed.");
  set_runner(cmd, state, [&g, f] { return run_cleanup(g, *f); });
}

}  // namespace kbk::cli
