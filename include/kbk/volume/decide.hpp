// Which data path a volume takes (docs/volumes.md "How a volume's path is chosen"), in Velero's order:
//   1. the volume policy file: the first matching policy's action (skip, snapshot, fs-backup; custom is left to a
//      Velero plugin kbk does not have: skipped with a warning);
//   2. the pod annotations: backup.velero.io/backup-volumes (opt-in) -> fs-backup; with
//      --default-volumes-to-fs-backup every pod volume goes fs-backup unless backup.velero.io/backup-volumes-excludes
//      names it;
//   3. claims: --snapshot-volumes=false -> skipped; a CSI volume whose driver has a VolumeSnapshotClass -> CSI
//      snapshot with data movement (kbk's default, --snapshot-move-data) or the snapshot alone (--snapshot-volumes
//      without --snapshot-move-data, or --snapshot-move-data=false); any other claim -> fs-backup of the live volume
//      (the snapshot alone cannot be kept: skipped with a warning);
//   4. pod volumes that are not claims and were not opted in: skipped (not an error).
// File-system backups go through a helper pod unless --fs-backup-via-workload is given, or only the workload can
// see the data (emptyDir, inline CSI volumes, a ReadWriteOncePod claim in use).
#pragma once

#include <string>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/volume/model.hpp>

namespace kbk::volume {

struct DecisionInput {
  VolumeRef::Kind kind = VolumeRef::Kind::claim;
  const json::Value* claim = nullptr;       // the live claim (claims, and pod volumes of type ephemeral)
  const json::Value* pv = nullptr;          // its PersistentVolume when bound
  const json::Value* pod_volume = nullptr;  // pod volumes: the spec.volumes entry
  // Backed-up pods that mount the volume, and the volume's name in each (their annotations opt in and out).
  std::vector<std::pair<const json::Value*, std::string>> pods;
  bool snapshot_class = false;              // the claim's CSI driver has a VolumeSnapshotClass
  bool running_use = false;                 // a running pod mounts it
};

// Never fails: a policy error (which cannot happen with a parsed PolicySet and real objects) becomes a failed path.
Decision decide(const DecisionInput& input, const BackupSettings& settings);

// The comma-separated volume names of a pod annotation, trimmed.
std::vector<std::string> annotation_list(const json::Value& pod, const char* key);

}  // namespace kbk::volume
