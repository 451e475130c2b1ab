// The volume module's data: which volumes a backup names, the settings of the data paths and of the helper pods
// ("movers"), the decision taken per volume and what came of it. Plain data; the work is in backup.hpp (the
// orchestrator), data_path.hpp (one data path per way of taking the data), mover.hpp (how bytes leave the pod) and
// cluster.hpp (the objects kbk creates in the cluster while it works). docs/volumes.md describes them for users.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/volume/policy.hpp>

namespace kbk::volume {

// A volume named by the backed-up objects (the backup's "volumes" records): a claim, or a data-holding pod volume
// that is not a claim (emptyDir, hostPath, nfs, inline csi, ...).
struct VolumeRef {
  enum class Kind { claim, pod_volume } kind = Kind::claim;
  std::string namespace_;
  std::string claim;                 // claim: its name
  std::string pod, pod_volume;       // pod volume: the pod and the volume's name in it
  std::vector<std::string> pods;     // claim: backed-up pods mounting it ("namespace/name")
  // "ns/claim" or "ns/pod/volume", for messages, logs and results.
  std::string display() const;
  std::string key() const { return display(); }
};

// How a volume's data is taken (docs/volumes.md "Data paths").
enum class PathKind {
  none,             // not taken: skipped (policy, annotation, flag) or nothing to take
  snapshot_move,    // CSI snapshot, a temporary claim from it, a helper pod, data into the repository
  fs_backup,        // the live volume through a helper pod mounting it (on the node that has it)
  fs_backup_workload,  // the live volume through the workload pod itself (exec into its container)
  snapshot,         // CSI snapshot only: the snapshot handle is kept in the backup, the data stays in the storage
};
const char* path_name(PathKind k);  // "none", "snapshot-move-data", "fs-backup", "fs-backup-workload", "snapshot"

// Why a volume took its path: the decision's source and its words.
struct Decision {
  PathKind path = PathKind::none;
  enum class Source { policy, annotation, flag, default_ } source = Source::default_;
  std::optional<size_t> rule;        // policy: the 0-based index in volumePolicies
  std::string reason;                // one line: "volumePolicies[1] (fs-backup) at p.yaml:7:3", "default: ..."
  bool warning = false;              // not taken and the user should know (custom action, no snapshot class)
};
const char* source_name(Decision::Source s);  // "policy", "annotation", "flag", "default"

// Where helper pods run and what they may use (--mover-* flags). Recorded in the backup's log.
struct MoverSettings {
  std::string image = "docker.io/library/debian:12.9-slim";  // needs sh and tar (GNU tar preferred)
  std::map<std::string, std::string> node_selector;   // --mover-node-selector k=v,...
  json::Document tolerations;                          // --mover-tolerations: an array of Toleration
  json::Document resources;                            // --mover-resources: ResourceRequirements
  std::string priority_class;                          // --mover-priority-class
  std::string namespace_;                              // --mover-namespace: movers in a namespace of kbk's own
  std::string kind = "kbk";                            // --volume-mover kbk|tar (docs/mover.md)
  bool ignore_inode = false;                           // --mover-ignore-inode
  MoverSettings();
  MoverSettings(const MoverSettings& o);
  MoverSettings& operator=(const MoverSettings& o);
};

// --mover-tolerations "key=value:Effect,key:Effect,key:Exists,:NoSchedule" (kubectl taint syntax; "Exists" as a
// value tolerates any value). Errc::config naming the entry at fault.
Result<json::Document> parse_tolerations(const std::string& text);
// --mover-resources "cpu=500m,memory=256Mi,limits.memory=1Gi" (requests unless prefixed limits.). Errc::config.
Result<json::Document> parse_resources(const std::string& text);
// --mover-node-selector "k=v,k2=v2". Errc::config.
Result<std::map<std::string, std::string>> parse_node_selector(const std::string& text);

// What a backup asks of volume data (the flags of `backup create`).
struct BackupSettings {
  std::optional<bool> snapshot_volumes;     // Velero's --snapshot-volumes; nullopt: not given
  std::optional<bool> snapshot_move_data;   // --snapshot-move-data; nullopt: not given (kbk moves data by default)
  bool default_volumes_to_fs_backup = false;
  bool fs_backup_via_workload = false;
  std::shared_ptr<const PolicySet> policies;  // --resource-policies
  MoverSettings mover;
  int volume_workers = 4;                   // volumes moved at once
  int per_node_workers = 1;                 // volumes moved at once per node
  double csi_snapshot_timeout = 600;        // seconds: a snapshot becomes readyToUse
  double mover_start_timeout = 600;         // seconds: a helper pod runs (claims bind, volumes attach)
  double volume_timeout = 4 * 3600;         // seconds: one volume's data move
  double poll_interval = 0.5;               // seconds between polls of the cluster (tests: small)
  // The lines this configuration adds to the backup's log (workers, mover image, node selector, ...).
  std::vector<std::string> describe() const;
};

// The CSI snapshot a volume's data is in (snapshot path) or came from (snapshot-move, for the record).
struct CsiSnapshot {
  std::string driver;
  std::string snapshot_handle;
  std::string volume_snapshot_class;
  std::string restore_size;           // a quantity ("1Gi") as the VolumeSnapshot reported it
  std::string source_volume_mode;     // Filesystem | Block
};

// The volume root's own metadata: tar streams and repository snapshots hold the entries below the root.
struct RootMeta {
  bool known = false;
  uint32_t uid = 0, gid = 0, mode = 0755;
  int64_t mtime = 0;  // seconds
  uint32_t mtime_nsec = 0;
};

// What came of one volume (the data part of the backup's "volumes" record, docs/format-archive.md section 3.3).
struct VolumeResult {
  VolumeRef ref;
  Decision decision;
  enum class Outcome { completed, skipped, failed } outcome = Outcome::skipped;
  std::string code;                     // the reason code when set (else derived: reason_code())
  std::string message;                  // failed: why; skipped: the decision's reason
  std::string storage_class, driver, source_type, capacity;  // of the claim's volume ("csi", "nfs", ...)
  std::string workload;                 // pod volumes: the pod's top controller "Deployment/web" (restore rewrites it)
  std::string node;                     // where the data was read
  std::string mover;                    // the helper pod or workload pod the data left through ("ns/name")
  std::string repository_snapshot;      // id of the repository snapshot (data moved)
  std::optional<CsiSnapshot> csi;       // snapshot path (and snapshot-move, for the record)
  RootMeta root;
  uint64_t bytes = 0;                   // logical size of the files
  uint64_t files = 0;
  uint64_t stream_bytes = 0;            // bytes that crossed the exec stream
  uint64_t new_bytes = 0;               // bytes the repository did not have (plaintext)
  uint64_t stored_bytes = 0;            // what they take stored
  // Where the data went (docs/mover.md section 3): file bytes read in the pod, bytes through the CLI host (the exec
  // stream, both ways), bytes written to the location (packs, index files, snapshot), the bundle copied into the pod.
  uint64_t bytes_read_in_pod = 0, bytes_through_host = 0, bytes_uploaded = 0, bundle_bytes = 0;
  std::string mover_kind;               // "kbk" or "tar"
  std::string unchanged_by;             // "fingerprint" when no mover ran (docs/mover.md section 3), else ""
  double duration_seconds = 0;
  std::vector<std::string> warnings;    // files that changed while read, ...
  bool data_included() const { return outcome == Outcome::completed && decision.path != PathKind::none; }
};
const char* outcome_name(VolumeResult::Outcome o);  // "completed", "skipped", "failed"

// The reason code of a volume record: DataIncluded, SkippedByPolicy, SkippedByAnnotation, SkippedByFlag, NotOptedIn,
// NotBound, NoSnapshotClass, CustomAction, DataFailed (docs/format-archive.md section 3.3).
std::string reason_code(const VolumeResult& r);
// The members a volume record gets from its result (dataIncluded, reason, message, dataPath, decision, outcome, data;
// docs/format-archive.md section 3.3), set on `record` (an object), and read back.
void write_data_members(json::Value& record, const VolumeResult& r, json::Allocator& a);
// Errc::corrupt naming the member at fault. Records without data members (older backups) read as skipped.
Result<void> read_data_members(const json::Value& record, VolumeResult& r);

// The label and annotation keys on everything kbk creates in a cluster while it works.
inline constexpr const char* k_label_temporary = "kbk.io/temporary";
inline constexpr const char* k_label_backup = "kbk.io/backup-name";
inline constexpr const char* k_label_restore = "kbk.io/restore-name";
inline constexpr const char* k_annotation_owner = "kbk.io/owner";     // "host/pid/start": which kbk made it
inline constexpr const char* k_annotation_volume = "kbk.io/volume";   // the volume it serves
// On a restore's VolumeSnapshot(Content) made from a recorded handle: removing it must not remove the storage's snapshot.
inline constexpr const char* k_annotation_keep_storage = "kbk.io/keep-storage";
// Velero's pod annotations (file-system backup opt-in and opt-out).
inline constexpr const char* k_annotation_backup_volumes = "backup.velero.io/backup-volumes";
inline constexpr const char* k_annotation_backup_volumes_excludes = "backup.velero.io/backup-volumes-excludes";

// A label value as Kubernetes accepts it: at most 63 characters (longer: the first 57 and 6 hex digits of SHA-256).
std::string label_value(const std::string& value);

}  // namespace kbk::volume
