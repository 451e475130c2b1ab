// The backup engine: selects, collects and writes one backup into a location (docs/format-archive.md).
//
// Collection is the walk of app/walk.hpp: one paginated LIST per resource type across the cluster (per namespace
// when the namespace filter names namespaces, or when the identity may not list cluster-wide), types in parallel,
// every object written to the archive as its page arrives: memory holds one page per worker plus keys (group,
// resource, namespace, name, checksum) of what was written, never the objects. Related objects are fetched after
// the main pass. Failures on a type, namespace or item are recorded and the run goes on (PartiallyFailed). What is
// selected is the flags' Selection, or applications (Options::applications) narrowed by the flags given.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <kbk/app/walk.hpp>
#include <kbk/backup/options.hpp>
#include <kbk/crypto/encryption.hpp>
#include <kbk/json/json.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/kube/discovery.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/error.hpp>
#include <kbk/util/progress.hpp>
#include <kbk/util/time.hpp>
#include <kbk/volume/data_path.hpp>
#include <kbk/volume/model.hpp>

namespace kbk::backup {

// One non-ok outcome (docs/format-archive.md section 4); the walk (app/walk.hpp) reports them.
using Outcome = app::Outcome;

// A volume the backup's objects name (docs/format-archive.md section 3.3): every PersistentVolumeClaim, every
// PersistentVolume and every data-holding pod volume (emptyDir, hostPath, ...) among the backed-up objects. A claim
// or pod volume whose data the volume phase handled carries its result (`data`: the path, the repository snapshot or
// CSI snapshot handle, the counts, or why not); the others say why their data is not in the backup.
struct VolumeRecord {
  std::string kind;                // PersistentVolumeClaim | PersistentVolume | PodVolume
  std::string namespace_;          // claims and pod volumes
  std::string claim;               // PersistentVolumeClaim: its name (PersistentVolume: its claimRef, if any)
  std::string volume;              // the PersistentVolume (a claim's spec.volumeName)
  std::string pod, pod_volume;     // PodVolume: the pod and the volume's name in it
  std::string source;              // PodVolume: emptyDir, hostPath, ...; PersistentVolume: csi, nfs, hostPath, ...
  std::vector<std::string> pods;   // claims: the backed-up pods mounting it (namespace/name)
  std::string storage_class, driver, capacity;
  bool data_included = false;
  std::string reason;              // DataIncluded, SkippedByPolicy, ..., VolumeDataNotRequested, ClaimNotInBackup
  std::string message;             // one line: why (or how) the data is (not) in the backup
  std::optional<volume::VolumeResult> data;  // what the volume phase did with it (claims and pod volumes)
  std::string display() const;     // "PersistentVolumeClaim shop/data-db-0 (pvc-12ab, standard, 1Gi)"
  // The key a volume::VolumeRef of this record has ("ns/claim", "ns/pod/volume"); "" for a PersistentVolume.
  std::string ref_key() const;
};

// Why a record has no data, when the volume phase did not handle it.
inline constexpr const char* k_not_requested_reason = "VolumeDataNotRequested";
inline constexpr const char* k_not_requested_message = "--no-volume-data: the backup holds the resources only";
inline constexpr const char* k_no_claim_reason = "ClaimNotInBackup";
inline constexpr const char* k_no_claim_message =
    "its claim is not in the backup: kbk takes a volume's data through the claim that mounts it";

struct Summary {
  std::string name;
  std::string phase;       // Completed | PartiallyFailed
  std::string location;    // display URL
  std::string started, completed, expiration;  // RFC 3339
  double duration_seconds = 0;
  uint64_t items = 0;
  uint64_t bytes = 0;      // stored archive size
  bool encrypted = false;
  uint64_t warnings = 0, errors = 0, skipped = 0;
  std::map<std::string, uint64_t> by_resource;  // group_resource -> items
  std::vector<Outcome> outcomes;                // every non-ok outcome
  std::vector<std::string> error_lines;         // one line per reason the backup is PartiallyFailed
  std::vector<std::string> warning_lines;
  std::vector<VolumeRecord> volumes;            // every volume named by the backed-up objects, data or not
  std::map<std::string, std::string> labels;    // the backup's own labels
  std::string cluster_name, kube_system_uid;    // the source cluster as recorded
  // What the hooks did (docs/hooks.md section 5: attempted, failed, pods); null when no backed-up pod has hooks.
  std::shared_ptr<const json::Document> hooks;
};

struct RunContext {
  util::ProgressSink* progress = nullptr;     // nullptr = none
  const util::Clock* clock = nullptr;         // nullptr = system clock
  std::string server;                         // the API server URL, recorded in the manifest
  // The source cluster's name (--cluster-name, default the kubeconfig's cluster), recorded next to its kube-system
  // uid so that one bucket holds many clusters without confusion (docs/fleet.md). "" records none.
  std::string cluster_name;
  std::string tool_version = KBK_VERSION;
  // --encryption-key-file: encrypt the backup (docs/format-archive.md section 5.2); nullptr writes it plain and
  // warns once when it holds Secrets.
  const crypto::UserKey* encryption_key = nullptr;
  // Lines the run's log starts with (what the caller set up: bandwidth caps, ...).
  std::vector<std::string> log_notes;
  // The data path of each volume's decision (null: the real ones). kbk rbac's probe records a path's requests
  // (volume/permissions.hpp) instead of taking the data.
  std::function<std::unique_ptr<volume::DataPath>(volume::PathKind)> volume_paths;
};

// Runs a backup into backend. Errc::precondition when the name exists (or is being written); Errc::config for
// invalid options; storage failures end the run with an error (no marker is written, the log is uploaded). A run whose items had
// failures returns a Summary with phase PartiallyFailed.
Result<Summary> run(kube::Client& client, const kube::Discovery& discovery, storage::Backend& backend,
                    const Options& options, const RunContext& context = {});

// The run's summary as -o json prints it, in the marker's field names (docs/output.md): name, phase, location,
// cluster{name, kubeSystemUID}, startTimestamp, completionTimestamp, expiration, durationSeconds, counts{items, warnings, errors, skipped,
// byResource}, archive{encrypted, bytes}, errors, warnings (lines), labels, volumes.
json::Document summary_to_json(const Summary& summary);
// One volume as the marker's "volumes" entries hold it (docs/format-archive.md section 3.3).
json::Value volume_to_json(const VolumeRecord& volume, json::Allocator& allocator);

// --explain resource/ns/name (resource/name for cluster-scoped): why that object is or is not in a backup with
// these options. Runs the selection (LISTs and related-object GETs) without writing anything. One line per
// check, the verdict first.
Result<std::vector<std::string>> explain(kube::Client& client, const kube::Discovery& discovery, const Options& options,
                                         const std::string& target);

}  // namespace kbk::backup
