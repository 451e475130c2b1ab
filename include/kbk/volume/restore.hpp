// The volume part of a restore (docs/volumes.md "Restore"): the backup's volume records say where each volume's
// data is; the restore's plan says where each claim goes. Then, per claim:
//   data moved (snapshot-move-data, fs-backup):  the claim is created empty (a new volume of its mapped class), a
//       helper pod mounts it read-write and the repository snapshot is streamed into it (owners, modes, times,
//       symlinks, hard links and holes kept), before any workload starts;
//   snapshot:  a pre-provisioned VolumeSnapshotContent with the recorded handle and a VolumeSnapshot bound to it are
//       made before the claim, which names the snapshot as its dataSource (same cluster and storage); both objects
//       are removed once the claim is bound (the storage keeps the snapshot);
//   pod volumes converted by --volume-type-mappings (hostPath:CLASS, nfs:CLASS): a claim <workload>-<volume> of
//       CLASS is made and filled, and the pods' and workloads' volumes are rewritten to it (restore's transform).
// The restore module drives this from its plan (restore/volumes.hpp); this module does the cluster and data work.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <kbk/crypto/encryption.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/progress.hpp>
#include <kbk/volume/cluster.hpp>
#include <kbk/volume/model.hpp>
#include <kbk/volume/mover.hpp>

namespace kbk::volume {

// The volume records of a backup's manifest (or marker): refs, decisions, outcomes and data. Records without data
// members (backups written before volume data) read as skipped. Errc::corrupt naming the record at fault.
Result<std::vector<VolumeResult>> volumes_of_manifest(const json::Value& manifest);

struct RestoreSettings {
  MoverSettings mover;
  int volume_workers = 4;
  int per_node_workers = 1;
  double mover_start_timeout = 600;
  double volume_timeout = 4 * 3600;
  double bind_timeout = 600;          // a claim from a snapshot binds
  double poll_interval = 0.5;
  std::map<std::string, std::string> volume_type_mappings;  // --volume-type-mappings hostPath:standard,nfs:fast
  std::map<std::string, std::string> pv_driver_mappings;    // --pv-driver-mappings old.csi:new.csi
  bool ignore_owners = false;         // --mover-ignore-owners: restore into restricted namespaces as the mover's user
  std::vector<std::string> describe() const;
};

// --volume-type-mappings "hostPath:standard,nfs:fast" / --pv-driver-mappings "a.csi:b.csi". Errc::config.
Result<std::map<std::string, std::string>> parse_type_mappings(const std::string& text, const std::string& flag);

// A claim a restore fills (or makes from a snapshot).
struct RestoreTarget {
  std::string namespace_, claim;      // in the target cluster
  std::string storage_class;          // the claim's class after mappings ("" = default)
  std::string size;                   // the claim's request
  std::vector<std::string> access_modes;  // the claim's (a claim filled in the mover namespace gets the same)
  VolumeResult record;                // what the backup holds for it
  bool converted = false;             // a pod volume turned into this claim (--volume-type-mappings)
  std::string display() const { return namespace_ + "/" + claim; }
};

struct VolumeRestoreResult {
  std::string namespace_, claim;      // target
  std::string source;                 // the volume in the backup ("ns/claim", "ns/pod/volume")
  PathKind path = PathKind::none;
  enum class Outcome { restored, failed, skipped } outcome = Outcome::skipped;
  std::string reason;                 // DataRestored, FromSnapshot, Converted, VolumeAdopted, NoData, DataFailed
  std::string message;
  uint64_t bytes = 0, files = 0, stream_bytes = 0;
  double duration_seconds = 0;
  std::string node, mover;
  bool data_restored() const { return outcome == Outcome::restored; }
};
const char* outcome_name(VolumeRestoreResult::Outcome o);  // "restored", "failed", "skipped"
json::Value to_json(const VolumeRestoreResult& r, json::Allocator& a);
std::string describe(const VolumeRestoreResult& r);
// A result naming the target's claim, its source and data path; outcome, reason and message still to be set.
VolumeRestoreResult base_result(const RestoreTarget& t);

// Deterministic names of the restore's VolumeSnapshot and VolumeSnapshotContent for a claim (and, with
// --mover-namespace, of the claim filled there and the label value the target claim's selector waits for).
std::string snapshot_object_name(const std::string& restore, const std::string& ns, const std::string& claim);
// --mover-namespace: the label a volume filled in the mover namespace gets, which the target claim's selector names.
inline constexpr const char* k_label_restore_volume = "kbk.io/restore-volume";
// Set (to the repository snapshot's id) on a claim a restore creates to receive moved data, removed once the data is
// in. A claim that still carries it, with the same snapshot, was left by a restore that was killed or whose data
// failed: the next restore of that backup writes its data again instead of leaving it "as it is".
inline constexpr const char* k_annotation_data_pending = "kbk.io/data-pending";

struct VolumeRestoreOptions {
  std::string restore_name;
  RestoreSettings settings;
  const crypto::UserKey* key = nullptr;
  util::ProgressSink* progress = nullptr;
  std::shared_ptr<Mover> mover;       // tests; default the exec + tar mover
  std::function<void(const std::string&)> log;
};

// `kbk backup extract NAME --volume NS/CLAIM|NS/POD/VOLUME --target DIR`: one volume's files restored into a local
// folder, no cluster (holes, hard links, symlinks, modes and times kept; owners when run as root). Errc::not_found
// naming the volume (and listing those the backup has), Errc::precondition when its data is not in the repository
// (skipped, failed, or a snapshot handle only).
struct ExtractResult {
  std::string volume, snapshot, target;
  uint64_t files = 0, dirs = 0, bytes = 0;
  std::vector<std::string> warnings;
};
Result<ExtractResult> extract_volume(storage::Backend& backend, const crypto::UserKey* key,
                                     const std::vector<VolumeResult>& records, const std::string& which,
                                     const std::string& target, util::ProgressSink* progress = nullptr);

class VolumeRestore {
public:
  static Result<std::unique_ptr<VolumeRestore>> start(kube::Client& client, storage::Backend& backend,
                                                      VolumeRestoreOptions options);
  ~VolumeRestore();

  // Before anything is created: a namespace that enforces Pod Security restricted can take a volume only when the
  // mover may run as the files' one owner (non-root), or with --mover-namespace (movers in kbk's own namespace, made
  // when missing with Pod Security baseline). Errc::precondition listing every volume that would need root, and the
  // ways out (--mover-namespace, --mover-ignore-owners); or naming a mover namespace that enforces restricted.
  // Opens the repository (the backup's key).
  Result<void> check(const std::vector<RestoreTarget>& targets);
  // Snapshot restores: the pre-provisioned content and VolumeSnapshot per claim (before the claims are created).
  std::vector<VolumeRestoreResult> prepare_snapshots(const std::vector<RestoreTarget>& targets);
  // Claims whose data is in the repository (created already, or created here when `converted`): fill them, up to
  // --volume-workers at once. Snapshot restores: wait until bound, then remove the restore's snapshot objects.
  std::vector<VolumeRestoreResult> fill(const std::vector<RestoreTarget>& targets);
  // Whether the claim exists carrying k_annotation_data_pending for this target's snapshot (see there).
  bool data_pending(const RestoreTarget& t);
  // The pods (not being deleted) whose volumes name the target's claim: a claim in use is never written under them.
  // An error when the pods cannot be listed (then nobody can say the claim is free).
  Result<std::vector<std::string>> claim_users(const RestoreTarget& t);

private:
  struct Impl;
  explicit VolumeRestore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace kbk::volume
