#include "volume_flags.hpp"

#include "commands.hpp"
#include "flags.hpp"
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/volume/policy.hpp>
#include <kbk/volume/restore.hpp>

namespace kbk::cli {

namespace {

std::optional<bool> bool_flag(const char* flag, const std::string& v) {
  if (v.empty()) return std::nullopt;
  const std::string l = util::to_lower(v);
  if (l == "true" || l == "1" || l == "yes") return true;
  if (l == "false" || l == "0" || l == "no") return false;
  throw Fatal(ExitCode::usage, std::string(flag) + " " + v + ": expected true or false");
}

double duration_flag(const char* flag, const std::string& v) {
  auto d = util::parse_duration(v);
  if (!d || *d <= 0) throw Fatal(ExitCode::usage, std::string(flag) + " \"" + v + "\": expected a duration such as 90s, 10m or 4h");
  return *d;
}

}  // namespace

void add_mover_flags(CLI::App* cmd, MoverFlags& f) {
  cmd->add_option("--volume-mover", f.volume_mover,
                  "How volume data leaves and enters helper pods: kbk (this kbk runs in the pod, reads only changed "
                  "files and sends only new data; a volume whose metadata fingerprint, find and stat in the pod, equals "
                  "its last snapshot's starts no mover at all; docs/mover.md) or tar (exec tar, every byte through "
                  "this host). kbk falls back to tar, with a warning, where its bundle cannot run")
      ->type_name("kbk|tar")
      ->capture_default_str();
  cmd->add_flag("--mover-ignore-inode", f.ignore_inode,
                "Take a file as unchanged when its path, size and mtime match the last backup's (restic's "
                "--ignore-inode; always so for volumes read from a CSI snapshot clone), and leave inode numbers out of "
                "the metadata fingerprint");
  cmd->add_option("--mover-image", f.image,
                  "Image of the helper pods that move volume data (needs sh and tar; default " +
                      volume::MoverSettings().image + ")")
      ->type_name("IMAGE");
  cmd->add_option("--mover-node-selector", f.node_selector, "Run helper pods on nodes with these labels: k=v,k2=v2")
      ->type_name("LABELS");
  cmd->add_option("--mover-tolerations", f.tolerations,
                  "Tolerations of helper pods: key=value:Effect,key:Effect,key=Exists:Effect (kubectl taint syntax)")
      ->type_name("TOLERATIONS");
  cmd->add_option("--mover-resources", f.resources,
                  "Resources of helper pods: cpu=500m,memory=256Mi,limits.memory=1Gi (requests unless limits.)")
      ->type_name("RESOURCES");
  cmd->add_option("--mover-priority-class", f.priority_class, "PriorityClass of helper pods")->type_name(value::k_name);
  cmd->add_option("--mover-namespace", f.namespace_,
                  "Run root movers in this namespace of kbk's own (made with Pod Security baseline when missing), as "
                  "Velero's data mover: a backup re-binds each CSI snapshot there and reads it as root; a restore "
                  "fills a claim there and hands its volume to the target claim (owners restored in namespaces that "
                  "enforce restricted)")
      ->type_name("NAMESPACE");
  cmd->add_option("--volume-workers", f.volume_workers, "Volumes moved at once")
      ->type_name(value::k_count)
      ->capture_default_str();
  cmd->add_option("--per-node-workers", f.per_node_workers, "Volumes moved at once per node (0: no limit)")
      ->type_name(value::k_count)
      ->capture_default_str();
  cmd->add_option("--mover-timeout", f.start_timeout, "How long a helper pod may take to start (claims bind, volumes attach)")
      ->type_name(value::k_duration)
      ->capture_default_str();
}

void add_volume_backup_flags(CLI::App* cmd, VolumeFlags& f) {
  cmd->add_option("--snapshot-volumes", f.snapshot_volumes,
                  "Velero's flag: true keeps CSI snapshots only (the handle is recorded, the data stays in the storage) "
                  "unless --snapshot-move-data; false takes no snapshots")
      ->type_name(value::k_bool)
      ->expected(0, 1)
      ->default_str("true");
  cmd->add_option("--snapshot-move-data", f.snapshot_move_data,
                  "Move the data of CSI snapshots into the location's repository (kbk's default; false keeps the "
                  "snapshot only)")
      ->type_name(value::k_bool)
      ->expected(0, 1)
      ->default_str("true");
  cmd->add_flag("--default-volumes-to-fs-backup", f.default_volumes_to_fs_backup,
                "Back up every pod volume from the live file system, except those a pod names in "
                "backup.velero.io/backup-volumes-excludes");
  cmd->add_flag("--fs-backup-via-workload", f.fs_backup_via_workload,
                "File-system backups exec tar in the workload's container instead of a helper pod");
  cmd->add_option("--resource-policies", f.resource_policies,
                  "Velero volume policy file (version: v1; see kbk policies check)")
      ->type_name(value::k_file);
  cmd->add_flag("--no-volume-data", f.no_volume_data, "Back up the resources only: no volume data");
  cmd->add_option("--csi-snapshot-timeout", f.csi_snapshot_timeout, "How long a CSI snapshot may take to be ready")
      ->type_name(value::k_duration)
      ->capture_default_str();
  cmd->add_option("--volume-timeout", f.volume_timeout, "How long one volume's data may take to move")
      ->type_name(value::k_duration)
      ->capture_default_str();
  add_mover_flags(cmd, f.mover);
}

namespace {
// What only a restore into the target decides: shared by restore create and migrate.
void add_target_volume_flags(CLI::App* cmd, RestoreVolumeFlags& f) {
  cmd->add_option("--volume-type-mappings", f.volume_type_mappings,
                  "Restore pod volumes of these types into claims of a storage class: hostPath:standard,nfs:fast (the "
                  "pods' and workloads' volumes are rewritten to the claims)")
      ->type_name(value::k_mappings);
  cmd->add_option("--pv-driver-mappings", f.pv_driver_mappings,
                  "Keep PersistentVolumes and their volume handles under another CSI driver: old.csi.io:new.csi.io "
                  "(storage that can adopt volumes; no data is moved)")
      ->type_name(value::k_mappings);
  cmd->add_flag("--mover-ignore-owners", f.ignore_owners,
                "In namespaces that enforce Pod Security restricted, restore files as the mover's non-root user "
                "instead of refusing volumes whose files have several owners");
  cmd->add_option("--bind-timeout", f.bind_timeout, "How long a claim restored from a snapshot may take to bind")
      ->type_name(value::k_duration)
      ->capture_default_str();
}
}  // namespace

void add_volume_restore_flags(CLI::App* cmd, RestoreVolumeFlags& f) {
  add_target_volume_flags(cmd, f);
  cmd->add_flag("--no-volume-data", f.no_volume_data, "Restore the resources only: claims are created empty");
  cmd->add_option("--volume-timeout", f.volume_timeout, "How long one volume's data may take to move")
      ->type_name(value::k_duration)
      ->capture_default_str();
  add_mover_flags(cmd, f.mover);
}

void add_volume_migrate_flags(CLI::App* cmd, VolumeFlags& backup, RestoreVolumeFlags& restore) {
  add_volume_backup_flags(cmd, backup);
  add_target_volume_flags(cmd, restore);
}

volume::RestoreSettings migrate_restore_volume_settings(const VolumeFlags& backup, RestoreVolumeFlags restore) {
  restore.mover = backup.mover;
  restore.no_volume_data = backup.no_volume_data;
  restore.volume_timeout = backup.volume_timeout;
  return restore_volume_settings(restore);
}

volume::RestoreSettings restore_volume_settings(const RestoreVolumeFlags& f) {
  volume::RestoreSettings s;
  auto tm = volume::parse_type_mappings(f.volume_type_mappings, "--volume-type-mappings");
  if (!tm) throw Fatal(ExitCode::usage, tm.error().message);
  for (const auto& [k, v] : *tm)
    if (k != "hostPath" && k != "nfs" && k != "emptyDir" && k != "local")
      throw Fatal(ExitCode::usage, "--volume-type-mappings " + k + ":" + v +
                                       ": the volume type must be hostPath, nfs, local or emptyDir (Velero's names)");
  s.volume_type_mappings = std::move(*tm);
  auto dm = volume::parse_type_mappings(f.pv_driver_mappings, "--pv-driver-mappings");
  if (!dm) throw Fatal(ExitCode::usage, dm.error().message);
  s.pv_driver_mappings = std::move(*dm);
  s.ignore_owners = f.ignore_owners;
  if (!f.mover.namespace_.empty() && f.ignore_owners)
    throw Fatal(ExitCode::usage, "--mover-namespace and --mover-ignore-owners: choose one (movers there restore owners)");
  s.volume_timeout = duration_flag("--volume-timeout", f.volume_timeout);
  s.bind_timeout = duration_flag("--bind-timeout", f.bind_timeout);
  apply_mover_flags(f.mover, s.mover, s.volume_workers, s.per_node_workers, s.mover_start_timeout);
  return s;
}

void apply_mover_flags(const MoverFlags& f, volume::MoverSettings& s, int& volume_workers, int& per_node_workers,
                       double& start_timeout) {
  if (!f.image.empty()) s.image = f.image;
  if (!f.node_selector.empty()) {
    auto sel = volume::parse_node_selector(f.node_selector);
    if (!sel) throw Fatal(ExitCode::usage, sel.error().message);
    s.node_selector = std::move(*sel);
  }
  if (!f.tolerations.empty()) {
    auto t = volume::parse_tolerations(f.tolerations);
    if (!t) throw Fatal(ExitCode::usage, t.error().message);
    s.tolerations = std::move(*t);
  }
  if (!f.resources.empty()) {
    auto r = volume::parse_resources(f.resources);
    if (!r) throw Fatal(ExitCode::usage, r.error().message);
    s.resources = std::move(*r);
  }
  s.priority_class = f.priority_class;
  auto dns_label = [](const std::string& name) {
    if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') return false;
    for (char c : name)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    return true;
  };
  if (!f.namespace_.empty() && !dns_label(f.namespace_))
    throw Fatal(ExitCode::usage, "--mover-namespace " + f.namespace_ + ": not a namespace name (a DNS-1123 label)");
  s.namespace_ = f.namespace_;
  if (f.volume_mover != "kbk" && f.volume_mover != "tar")
    throw Fatal(ExitCode::usage, "--volume-mover " + f.volume_mover + ": expected kbk or tar");
  s.kind = f.volume_mover;
  s.ignore_inode = f.ignore_inode;
  if (f.volume_workers < 1) throw Fatal(ExitCode::usage, "--volume-workers " + std::to_string(f.volume_workers) + ": expected 1 or more");
  if (f.per_node_workers < 0) throw Fatal(ExitCode::usage, "--per-node-workers " + std::to_string(f.per_node_workers) + ": expected 0 or more");
  volume_workers = f.volume_workers;
  per_node_workers = f.per_node_workers;
  start_timeout = duration_flag("--mover-timeout", f.start_timeout);
}

volume::BackupSettings volume_settings(const VolumeFlags& f) {
  volume::BackupSettings s;
  s.snapshot_volumes = bool_flag("--snapshot-volumes", f.snapshot_volumes);
  s.snapshot_move_data = bool_flag("--snapshot-move-data", f.snapshot_move_data);
  s.default_volumes_to_fs_backup = f.default_volumes_to_fs_backup;
  s.fs_backup_via_workload = f.fs_backup_via_workload;
  if (!f.resource_policies.empty()) {
    auto p = volume::PolicySet::load(f.resource_policies);
    if (!p) {
      for (size_t i = 1; i < p.error().causes.size(); ++i) log::info(0, p.error().causes[i].message);
      throw Fatal(ExitCode::usage, p.error().message);
    }
    for (const auto& w : p->warnings()) log::warning(w);
    s.policies = std::make_shared<const volume::PolicySet>(std::move(*p));
  }
  s.csi_snapshot_timeout = duration_flag("--csi-snapshot-timeout", f.csi_snapshot_timeout);
  s.volume_timeout = duration_flag("--volume-timeout", f.volume_timeout);
  apply_mover_flags(f.mover, s.mover, s.volume_workers, s.per_node_workers, s.mover_start_timeout);
  return s;
}

}  // namespace kbk::cli
