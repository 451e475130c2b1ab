// The volume-data flags of `backup create` (and the mover flags `restore create` shares, --mover-namespace
// included): one place that declares them and turns them into volume::BackupSettings, so both commands read them the
// same way.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include <kbk/volume/model.hpp>
#include <kbk/volume/restore.hpp>

namespace kbk::cli {

struct MoverFlags {
  std::string volume_mover = "kbk";   // --volume-mover kbk|tar
  bool ignore_inode = false;          // --mover-ignore-inode
  std::string image;
  std::string node_selector, tolerations, resources, priority_class, namespace_;
  int volume_workers = 4;
  int per_node_workers = 1;
  std::string start_timeout = "10m";
};

struct VolumeFlags {
  std::string snapshot_volumes, snapshot_move_data;  // "" = not given, else true|false
  bool default_volumes_to_fs_backup = false;
  bool fs_backup_via_workload = false;
  bool no_volume_data = false;
  std::string resource_policies;
  std::string csi_snapshot_timeout = "10m";
  std::string volume_timeout = "4h";
  MoverFlags mover;
};

struct RestoreVolumeFlags {
  std::string volume_type_mappings, pv_driver_mappings;
  bool ignore_owners = false;
  bool no_volume_data = false;
  std::string volume_timeout = "4h";
  std::string bind_timeout = "10m";
  MoverFlags mover;
};

void add_mover_flags(CLI::App* cmd, MoverFlags& f);
void add_volume_restore_flags(CLI::App* cmd, RestoreVolumeFlags& f);
volume::RestoreSettings restore_volume_settings(const RestoreVolumeFlags& f);
void add_volume_backup_flags(CLI::App* cmd, VolumeFlags& f);
// kbk migrate: the backup's volume flags (movers included, used on both sides) and the target-only restore flags.
void add_volume_migrate_flags(CLI::App* cmd, VolumeFlags& backup, RestoreVolumeFlags& restore);
volume::RestoreSettings migrate_restore_volume_settings(const VolumeFlags& backup, RestoreVolumeFlags restore);
// Throws Fatal(usage) naming the flag at fault (a malformed policy file: FILE:LINE:COL).
void apply_mover_flags(const MoverFlags& f, volume::MoverSettings& settings, int& volume_workers, int& per_node_workers,
                       double& start_timeout);
volume::BackupSettings volume_settings(const VolumeFlags& f);

}  // namespace kbk::cli
