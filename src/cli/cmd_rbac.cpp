// kbk rbac --for backup|restore: the ServiceAccount, (Cluster)Roles and bindings that allow exactly one selection's
// backup or restore, ready for kubectl apply (docs/fleet.md, "Least privilege").
#include <cstdio>
#include <filesystem>

#include "commands.hpp"
#include "flags.hpp"
#include "help.hpp"
#include "key_file.hpp"
#include "selection_flags.hpp"
#include "volume_flags.hpp"
#include <kbk/output/output.hpp>
#include <kbk/rbac/rbac.hpp>
#include <kbk/restore/backup.hpp>
#include <kbk/restore/engine.hpp>
#include <kbk/restore/plan.hpp>
#include <kbk/restore/volumes.hpp>
#include <kbk/util/log.hpp>

namespace kbk::cli {
namespace {

struct RbacFlags {
  std::string purpose;
  SelectionFlags selection;
  std::string service_account = "kbk";
  std::string from_backup;
  std::string namespace_mappings;
  std::string existing_policy = "none";
  std::string key_file;
  bool include_events = false;
  // backup create's volume flags, and restore create's own (the flags they share are registered once, as backup's).
  VolumeFlags volumes;
  RestoreVolumeFlags restore_volumes;
};

// The volume flags of the other command, given: the one that names the first.
std::string misplaced_volume_flag(const RbacFlags& f) {
  const VolumeFlags& b = f.volumes;
  const RestoreVolumeFlags& r = f.restore_volumes;
  const RestoreVolumeFlags rd;
  if (f.purpose == "restore") {
    if (!b.snapshot_volumes.empty()) return "--snapshot-volumes";
    if (!b.snapshot_move_data.empty()) return "--snapshot-move-data";
    if (b.default_volumes_to_fs_backup) return "--default-volumes-to-fs-backup";
    if (b.fs_backup_via_workload) return "--fs-backup-via-workload";
    if (!b.resource_policies.empty()) return "--resource-policies";
    if (b.csi_snapshot_timeout != VolumeFlags().csi_snapshot_timeout) return "--csi-snapshot-timeout";
    return "";
  }
  if (!r.volume_type_mappings.empty()) return "--volume-type-mappings";
  if (!r.pv_driver_mappings.empty()) return "--pv-driver-mappings";
  if (r.ignore_owners) return "--mover-ignore-owners";
  if (r.bind_timeout != rd.bind_timeout) return "--bind-timeout";
  return "";
}

int fail(const Error& e) {
  log::error(e.message);
  return static_cast<int>(exit_code_for(e));
}

bool valid_dns_label(const std::string& s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

int run_rbac(const GlobalOptions& g, const RbacFlags& f) {
  const output::Format format = output_format(g, {output::Format::json});
  if (f.purpose != "backup" && f.purpose != "restore")
    throw Fatal(ExitCode::usage, "--for " + f.purpose + ": expected backup or restore");
  if (!valid_dns_label(f.service_account))
    throw Fatal(ExitCode::usage, "--service-account " + f.service_account +
                                     ": a ServiceAccount name is lower-case letters, digits and '-', at most 63");
  rbac::RenderOptions ro;
  ro.purpose = f.purpose;
  ro.service_account = f.service_account;
  ro.namespace_ = g.kube.namespace_.empty() ? "kbk" : g.kube.namespace_;
  if (!valid_dns_label(ro.namespace_)) throw Fatal(ExitCode::usage, "-n " + ro.namespace_ + ": not a namespace name");

  if (const std::string flag = misplaced_volume_flag(f); !flag.empty())
    throw Fatal(ExitCode::usage, flag + " is a flag of " + (f.purpose == "backup" ? "restore" : "backup") +
                                     " create: not for --for " + f.purpose);
  rbac::Needs needs;
  if (f.purpose == "backup") {
    if (!f.from_backup.empty() || !f.namespace_mappings.empty() || f.existing_policy != "none")
      throw Fatal(ExitCode::usage, "--from-backup, --namespace-mappings and --existing-resource-policy are for "
                                   "--for restore");
    backup::Options o;
    apply_selection(g, f.selection, DashN::other, o);
    o.include_events = f.include_events ? backup::IncludeEvents::yes : backup::IncludeEvents::no;
    o.volumes = volume_settings(f.volumes);
    o.volume_data = !f.volumes.no_volume_data;
    if (auto v = backup::validate(o); !v) throw Fatal(ExitCode::usage, v.error().message);
    const kube::RestConfig config = load_rest_config(g);
    auto client = make_client(g, config);
    kube::Discovery discovery = fetch_discovery(*client);
    log::info(1, "kbk rbac: running the backup's reads against the cluster to record what it asks");
    auto n = rbac::probe_backup(*client, discovery, o, std::filesystem::temp_directory_path().string());
    if (!n) return fail(n.error());
    needs = std::move(*n);
  } else {
    if (f.from_backup.empty())
      throw Fatal(ExitCode::usage, "--for restore needs --from-backup BACKUP: a restore's permissions are what that "
                                   "backup's restore writes (its types, in its target namespaces)");
    if (f.include_events) throw Fatal(ExitCode::usage, "--include-events is for --for backup");
    const auto policy = restore::parse_existing_policy(f.existing_policy);
    if (!policy) throw Fatal(ExitCode::usage, policy.error().message);
    restore::PlanOptions po;
    po.backup_name = f.from_backup;
    po.restore_name = "kbk-rbac";
    po.selection = restore_selection(g, f.selection, DashN::other);
    po.applications = load_applications(f.selection);
    auto m = restore::parse_namespace_mappings(f.namespace_mappings);
    if (!m) throw Fatal(ExitCode::usage, "--namespace-mappings: " + m.error().message);
    po.namespace_mappings = std::move(*m);
    const volume::RestoreSettings volume_settings = migrate_restore_volume_settings(f.volumes, f.restore_volumes);
    const auto user_key = load_encryption_key(f.key_file);
    auto backend = open_storage(g);
    // The volume data the restore brings back, planned as restore create plans it (claims provisioned anew, their
    // old PersistentVolumes skipped, pod volumes converted by --volume-type-mappings).
    std::shared_ptr<restore::VolumeData> volumes;
    if (!f.volumes.no_volume_data) {
      restore::VolumeDataOptions vo;
      vo.restore_name = "kbk-rbac";
      vo.settings = volume_settings;
      auto vd = restore::load_volume_data(*backend, f.from_backup, user_key ? &*user_key : nullptr, std::move(vo));
      if (!vd) return fail(vd.error());
      volumes = std::move(*vd);
      if (volumes) volumes->attach(po);
    }
    auto backup = restore::load_backup(*backend, f.from_backup, {}, user_key ? &*user_key : nullptr);
    if (!backup) return fail(backup.error());
    auto plan = restore::make_plan(*backup, po);
    if (!plan) return fail(plan.error());
    needs = rbac::restore_needs(restore::write_targets(*plan), restore::write_verbs(*policy));
    if (volumes) rbac::add_volume_restore_needs(needs, volumes->targets(), volume_settings);
  }

  std::vector<json::Document> objects = rbac::render(needs, ro);
  if (format.structured()) {
    json::Document list(rapidjson::kObjectType);
    auto& a = list.GetAllocator();
    list.AddMember("apiVersion", "v1", a);
    list.AddMember("kind", "List", a);
    json::Value items(rapidjson::kArrayType);
    for (auto& o : objects) items.PushBack(json::Value(o, a), a);
    list.AddMember("items", items, a);
    output::print(list, format);
    return 0;
  }
  std::printf("# kbk rbac --for %s: ServiceAccount %s/%s and what it may do, nothing more.\n", f.purpose.c_str(),
              ro.namespace_.c_str(), ro.service_account.c_str());
  if (f.purpose == "backup")
    std::printf("# Recorded from the requests a backup of this selection makes now; discovery and /version come from\n"
                "# Kubernetes' default system:discovery binding. Apply with: kubectl apply -f FILE\n");
  else
    std::printf("# What restoring backup %s writes (create, get, patch per type and target namespace).\n",
                f.from_backup.c_str());
  for (const auto& o : objects) std::printf("---\n%s", json::to_yaml(o).c_str());
  return 0;
}

}  // namespace

void register_rbac(CLI::App& app, GlobalOptions& g, RunState& state) {
  CLI::App* cmd = app.add_subcommand(
      "rbac", "Print the least-privilege ServiceAccount, Roles and bindings for a backup or restore of a selection");
  auto f = std::make_shared<RbacFlags>();
  cmd->add_option("--for", f->purpose, "What the identity does: backup or restore")
      ->required()
      ->type_name("backup|restore");
  add_selection_flags(cmd, f->selection, SelectionKind::backup);
  cmd->add_flag("--include-events", f->include_events, "--for backup: the backup includes events");
  cmd->add_option("--service-account", f->service_account, "The ServiceAccount's name (in -n, default kbk)")
      ->type_name(value::k_name)
      ->capture_default_str();
  cmd->add_option("--from-backup", f->from_backup, "--for restore: the backup restored")->type_name(value::k_backup);
  cmd->add_option("--namespace-mappings", f->namespace_mappings, "--for restore: as restore create maps them: A:B,C:D")
      ->type_name(value::k_mappings);
  cmd->add_option("--existing-resource-policy", f->existing_policy,
                  "--for restore: none or update (create, get, patch), recreate (and delete)")
      ->type_name("none|update|recreate")
      ->capture_default_str();
  add_encryption_key_option(cmd, f->key_file, "--for restore: key file of an encrypted backup");
  // The volume flags of backup create (--for backup; those it shares with restore create serve --for restore too)
  // and restore create's own (--for restore): the same definitions as kbk migrate's, so a command line carries over.
  add_volume_migrate_flags(cmd, f->volumes, f->restore_volumes);
  document(cmd,
           {"# what a nightly backup of two namespaces needs, for ServiceAccount kbk/kbk",
            "kbk rbac --for backup --include-namespaces shop,db | kubectl apply -f -",
            "kbk rbac --for backup --app shop.yaml --service-account shop-backup -n backups",
            "# the same volume flags as the backup the CronJob runs",
            "kbk rbac --for backup --include-namespaces db --default-volumes-to-fs-backup",
            "kbk rbac --for restore --from-backup nightly --namespace-mappings shop:shop-dr -o yaml"},
           "-n is the ServiceAccount's namespace here (default kbk), not a selection. --for backup runs the reads of "
           "such a backup against the cluster (with your identity: it must be able to read what the backup reads), "
           "records every request, and prints rules for exactly those: list per type, get for what backups follow by "
           "name, cluster-wide where the walk lists across namespaces, a Role per namespace where it lists "
           "namespace by namespace. --for restore prints create, get and patch (delete with "
           "--existing-resource-policy recreate) on each type in each target namespace that restoring the backup "
           "writes, as kbk auth can-i-restore checks. Volume data (unless --no-volume-data) takes the volume flags of "
           "backup create and restore create: --for backup decides each volume's data path as that backup would and "
           "adds exactly what the path does in the volume's namespace (VolumeSnapshots, temporary claims, helper "
           "pods, pods/exec; the snapshot contents cluster-wide; with --mover-namespace the re-bound snapshots, "
           "claims and helper pods there); --for restore adds what restoring each volume does "
           "(helper pods and pods/exec, the snapshot objects of snapshot-only volumes, with --mover-namespace that "
           "namespace, its claims and the PersistentVolumes handed over). Objects a selection follows later that it "
           "does not follow today (a first PVC naming a StorageClass, a first volume) need the command run again; "
           "kbk auth can-i-backup checks.",
           "");
  set_runner(cmd, state, [&g, f] { return run_rbac(g, *f); });
}

}  // namespace kbk::cli
