// kbk migrate: parses the flags into migrate::Options and prints the report; the phases are the migrate module's.
#include <cstdio>
#include <memory>
#include <optional>

#include "commands.hpp"
#include "crossing_flags.hpp"
#include "key_file.hpp"
#include "selection_flags.hpp"
#include "volume_flags.hpp"
#include <kbk/migrate/migrate.hpp>
#include <kbk/patch/mappings.hpp>
#include <kbk/patch/modifiers.hpp>
#include <kbk/restore/transforms.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/volume/cluster.hpp>

namespace kbk::cli {
namespace {

struct MigrateFlags {
  std::string name;
  std::string from_kubeconfig, from_context, to_kubeconfig, to_context;
  SelectionFlags selection;
  std::string namespace_mappings;
  std::vector<std::string> resource_modifiers, storage_class_mappings, ingress_class_mappings, image_mappings;
  CrossingFlags crossing;
  std::string existing_policy = "none";
  bool shutdown_source = false;
  bool rehearse = false;
  std::string rehearsal_suffix = "-rehearsal";
  double wait_timeout = 600;
  double shutdown_timeout = 120;
  int parallel = 8;
  std::string key_file;
  VolumeFlags volumes;
  RestoreVolumeFlags target_volumes;
};

// The global flags with one side's kubeconfig and context.
GlobalOptions side(const GlobalOptions& g, const std::string& kubeconfig, const std::string& context) {
  GlobalOptions s = g;
  s.kube.kubeconfig = kubeconfig;
  s.kube.context = context;
  s.kube.namespace_.clear();
  return s;
}

int run_migrate(const GlobalOptions& g, const MigrateFlags& f) {
  const output::Format format = output_format(g, {output::Format::json});
  if (f.from_kubeconfig.empty() && f.from_context.empty())
    throw Fatal(ExitCode::usage, "--from-kubeconfig or --from-context names the source cluster");
  if (f.to_kubeconfig.empty() && f.to_context.empty())
    throw Fatal(ExitCode::usage, "--to-kubeconfig or --to-context names the target cluster");
  if (f.from_kubeconfig == f.to_kubeconfig && f.from_context == f.to_context && !f.rehearse)
    throw Fatal(ExitCode::usage, "the source and the target are the same cluster (" +
                                     (f.from_context.empty() ? f.from_kubeconfig : f.from_context) +
                                     "): give another --to-context or --to-kubeconfig, or --rehearse");
  if (f.rehearse && f.shutdown_source)
    throw Fatal(ExitCode::usage, "--rehearse leaves the source untouched: it cannot be combined with --shutdown-source");
  if (f.parallel < 1) throw Fatal(ExitCode::usage, "--parallel must be at least 1");
  if (f.rehearsal_suffix.empty() || f.rehearsal_suffix.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos)
    throw Fatal(ExitCode::usage, "--rehearsal-suffix \"" + util::printable(f.rehearsal_suffix, 80) +
                                     "\": lower-case letters, digits and '-' only");

  migrate::Options o;
  o.name = f.name;
  o.mode = f.rehearse ? migrate::Mode::rehearse : migrate::Mode::migrate;
  o.shutdown_source = f.shutdown_source ? migrate::ShutdownSource::yes : migrate::ShutdownSource::no;
  const GlobalOptions from = side(g, f.from_kubeconfig, f.from_context);
  apply_selection(from, f.selection, DashN::other, o.backup);
  auto mappings = restore::parse_namespace_mappings(f.namespace_mappings);
  if (!mappings) throw Fatal(ExitCode::usage, "--namespace-mappings: " + mappings.error().message);
  o.namespace_mappings = *mappings;
  for (const std::string& file : f.resource_modifiers) {
    auto set = patch::ModifierSet::load(file);
    if (!set) throw Fatal(ExitCode::usage, "--resource-modifiers: " + set.error().message);
    o.transforms.push_back(restore::make_modifiers_transform(std::move(*set), file));
  }
  patch::Mappings pm;
  auto pairs = [](const std::string& s, const char* what) {
    auto r = patch::Mappings::parse_pairs(s, what);
    if (!r) throw Fatal(ExitCode::usage, r.error().message);
    return *r;
  };
  for (const std::string& s : f.storage_class_mappings)
    for (auto& [k, v] : pairs(s, "--storage-class-mappings")) pm.storage_classes[k] = v;
  for (const std::string& s : f.ingress_class_mappings)
    for (auto& [k, v] : pairs(s, "--ingress-class-mappings")) pm.ingress_classes[k] = v;
  for (const std::string& s : f.image_mappings) {
    auto r = patch::Mappings::parse_images(s);
    if (!r) throw Fatal(ExitCode::usage, r.error().message);
    for (auto& m : *r) pm.images.push_back(std::move(m));
  }
  o.storage_class_mappings = pm.storage_classes;
  if (!pm.empty()) o.transforms.push_back(restore::make_mappings_transform(std::move(pm)));
  o.backup.volumes = volume_settings(f.volumes);
  o.volume_data = !f.volumes.no_volume_data;
  o.restore_volumes = migrate_restore_volume_settings(f.volumes, f.target_volumes);
  o.crossing = crossing_options(f.crossing, true);
  auto policy = restore::parse_existing_policy(f.existing_policy);
  if (!policy) throw Fatal(ExitCode::usage, policy.error().message);
  o.existing = *policy;
  o.rehearsal_suffix = f.rehearsal_suffix;
  o.wait_timeout = f.wait_timeout;
  o.shutdown_timeout = f.shutdown_timeout;
  o.parallel = f.parallel;
  const auto user_key = load_encryption_key(f.key_file);
  o.encryption_key = user_key ? &*user_key : nullptr;

  const kube::RestConfig from_config = load_rest_config(from);
  const GlobalOptions to = side(g, f.to_kubeconfig, f.to_context);
  const kube::RestConfig to_config = load_rest_config(to);
  auto source_client = make_client(from, from_config);
  auto target_client = make_client(to, to_config);
  migrate::Cluster source{source_client.get(), from_config.server, from_config.cluster_name};
  migrate::Cluster target{target_client.get(), to_config.server, to_config.cluster_name};
  if (from_config.server == to_config.server && !f.rehearse)
    throw Fatal(ExitCode::usage, "the source and the target are the same API server (" + from_config.server +
                                     "): use --rehearse to try a migration within one cluster");
  auto backend = open_storage(g, true);
  std::optional<volume::InterruptHandler> interrupts;
  if (o.volume_data) interrupts.emplace();  // Ctrl-C removes helper pods, claims and snapshots, then exits
  auto report = migrate::run(source, target, *backend, o);
  interrupts.reset();
  if (!report) {
    log::error("migrate " + f.name + ": " + report.error().message);
    ExitCode code = exit_code_for(report.error());
    if (report.error().is(Errc::not_found) || report.error().is(Errc::precondition)) code = ExitCode::precondition;
    return static_cast<int>(code);
  }
  if (format.structured()) output::print(migrate::to_json(*report), format);
  else std::fputs(migrate::to_text(*report).c_str(), stdout);
  return static_cast<int>(report->exit_code());
}

}  // namespace

void register_migrate(CLI::App& app, GlobalOptions& g, RunState& state) {
  auto* cmd = app.add_subcommand("migrate", "Move an application to another cluster: backup, restore, wait, verify; roll back on failure");
  auto f = std::make_shared<MigrateFlags>();
  cmd->add_option("NAME", f->name, "Name of the migration (its backup and restore are named after it)")
      ->required()
      ->type_name(value::k_name);
  cmd->add_option("--from-kubeconfig", f->from_kubeconfig, "Kubeconfig of the source cluster A")->type_name(value::k_file);
  cmd->add_option("--from-context", f->from_context, "Context of the source cluster A")->type_name(value::k_name);
  cmd->add_option("--to-kubeconfig", f->to_kubeconfig, "Kubeconfig of the target cluster B")->type_name(value::k_file);
  cmd->add_option("--to-context", f->to_context, "Context of the target cluster B")->type_name(value::k_name);
  add_selection_flags(cmd, f->selection, SelectionKind::backup);
  cmd->add_option("--namespace-mappings", f->namespace_mappings, "As restore create: old:new,old2:new2")
      ->type_name(value::k_mappings);
  cmd->add_option("--resource-modifiers", f->resource_modifiers, "Resource-modifier file (repeatable, applied in order)")
      ->type_name(value::k_file)
      ->allow_extra_args(false);
  add_list_option(cmd, "--storage-class-mappings", f->storage_class_mappings, "old:new storage classes", value::k_mappings);
  add_list_option(cmd, "--ingress-class-mappings", f->ingress_class_mappings, "old:new ingress classes", value::k_mappings);
  add_list_option(cmd, "--image-mappings", f->image_mappings, "OLD=NEW image prefixes", value::k_mappings);
  add_crossing_flags(cmd, f->crossing, true);
  cmd->add_option("--existing-resource-policy", f->existing_policy,
                  "Objects that already exist in the target: none (a preflight blocker), update, recreate")
      ->type_name("none|update|recreate")
      ->capture_default_str();
  cmd->add_flag("--shutdown-source", f->shutdown_source,
                "Scale the source's workloads to zero and suspend its CronJobs before the last backup (the previous "
                "values kept in kbk.io/migrate-* annotations; put back if the migration fails)");
  cmd->add_flag("--rehearse", f->rehearse,
                "Restore into <namespace>-rehearsal namespaces of the target, wait, verify, report, then roll back; "
                "the source is not touched");
  cmd->add_option("--rehearsal-suffix", f->rehearsal_suffix, "Suffix of the rehearsal's namespaces")
      ->type_name("SUFFIX")
      ->capture_default_str();
  add_duration_option(cmd, "--wait-timeout", f->wait_timeout,
                      "How long the restored workloads may take to be ready (Deployments available, StatefulSets "
                      "ready, Jobs complete)");
  add_duration_option(cmd, "--shutdown-timeout", f->shutdown_timeout,
                      "How long the source's workloads may take to have no replica left");
  cmd->add_option("--parallel", f->parallel, "Items restored at once within one tier")
      ->type_name(value::k_count)
      ->capture_default_str();
  add_encryption_key_option(cmd, f->key_file, "Encrypt the migration's backups with this key (and its rollback record)");
  add_volume_migrate_flags(cmd, f->volumes, f->target_volumes);
  document(cmd,
           {"# try it first: restore into shop-rehearsal on B, check, roll back; A untouched",
            "kbk migrate shop-move --from-context old --to-context new --include-namespaces shop --rehearse",
            "# the cut-over: A scaled down, B up and verified, or everything put back",
            "kbk migrate shop-move --from-context old --to-context new --include-namespaces shop --shutdown-source \\",
            "    --storage-class-mappings gp2:standard --ingress-class nginx --set-secret shop/db:password=@new-pass.txt",
            "kbk migrate wp --from-kubeconfig a.yaml --to-kubeconfig b.yaml --app examples/apps/wordpress.yaml -o json"},
           "Phases: backup of A (NAME; with --shutdown-source first NAME-pre, before anything changes), preflight "
           "against B (API versions, OpenShift Routes and their Ingresses, permissions, name clashes, storage "
           "classes: a blocker stops here with exit 4, nothing changed), --shutdown-source, the backup NAME, the "
           "restore NAME into B (NAME-rehearsal with --rehearse), the readiness wait, the verification (every object "
           "the restore wrote, read back from B, holds every field it set). A failure after the restore started "
           "rolls B back (kbk restore rollback) and scales A back up. Volume data moves with the application (the "
           "backup NAME holds it, taken once A is quiet; the restore fills B's claims before any workload starts; "
           "--no-volume-data restores empty claims): the volume flags are backup create's and restore create's "
           "(docs/volumes.md). The storage location is --storage, as for backup create. "
           "LoadBalancer Services lose their old cloud's binding (--lb-reset, default true here).",
           "1 when the migration failed and B was rolled back and A brought back up; 2 when the rollback or the "
           "bring-up itself left something (the report says what); 4 when the preflight found a blocker");
  set_runner(cmd, state, [&g, f] { return run_migrate(g, *f); });
}

}  // namespace kbk::cli
