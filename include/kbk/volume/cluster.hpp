// What kbk creates in a cluster while it moves volume data, and the waits around it: helper pods ("movers"),
// temporary claims, VolumeSnapshots and VolumeSnapshotContents. Every such object carries kbk.io/temporary=true,
// the backup's (or restore's) name label and an owner annotation naming the kbk process, so a run removes its own
// objects at the end or on SIGINT/SIGTERM, and `kbk cleanup` (or the next run on the same host) removes what a
// killed run left (docs/volumes.md "Cleanup").
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/kube/resource.hpp>
#include <kbk/volume/model.hpp>

namespace kbk::volume {

// The resource types of the volume module (snapshot.storage.k8s.io at v1).
namespace types {
kube::ResourceType pods();
kube::ResourceType claims();
kube::ResourceType volumes();
kube::ResourceType namespaces();
kube::ResourceType events();
kube::ResourceType storage_classes();
kube::ResourceType snapshots();
kube::ResourceType snapshot_contents();
kube::ResourceType snapshot_classes();
}  // namespace types

// ---- interrupts -------------------------------------------------------------------------------------------------
// SIGINT/SIGTERM: the CLI's handler calls interrupt(); every running exec stream of the volume module is cancelled
// and every wait returns Errc::cancelled, so the run unwinds, deletes its temporaries and exits.
void interrupt();             // async-signal-safe
bool interrupted();
void reset_interrupt();       // tests
// Registers a running exec session for interrupt() while it lives.
class SessionGuard {
public:
  explicit SessionGuard(kube::ExecSession* session);
  ~SessionGuard();
  SessionGuard(const SessionGuard&) = delete;
  SessionGuard& operator=(const SessionGuard&) = delete;

private:
  int m_slot = -1;
};
// How many temporary objects kbk holds in clusters right now (all Temporaries of the process); async-signal-safe.
// A signal handler lets a process with none die at once, and interrupts (then cleans up) one with some.
long live_temporaries();
// Installs the SIGINT/SIGTERM handler of commands that move volume data: the first signal interrupts (the run cleans
// up and exits), a second one ends the process at once; with no temporaries alive the first one does. Restored by
// the returned guard's destruction.
class InterruptHandler {
public:
  InterruptHandler();
  ~InterruptHandler();
  InterruptHandler(const InterruptHandler&) = delete;
  InterruptHandler& operator=(const InterruptHandler&) = delete;
};
// Sleeps up to `seconds`, returning Errc::cancelled at once when interrupted.
Result<void> pause(double seconds);

// ---- ownership --------------------------------------------------------------------------------------------------
// "host/pid/start" of this process (start: the process start time in clock ticks since boot, so a reused pid is
// not taken for this process).
std::string owner_id();
// Whether an owner id names a process that still runs on this host (false for another host: unknown).
bool owner_alive_here(const std::string& owner);
bool owner_is_this_host(const std::string& owner);

// ---- temporaries ------------------------------------------------------------------------------------------------
struct TemporaryObject {
  kube::ResourceType type;
  std::string namespace_, name;
  bool keep_storage = false;  // a VolumeSnapshot whose storage snapshot outlives it (a restore's, from a handle)
};

// The temporary objects of one run. Thread-safe. cleanup() deletes what is still registered, newest first: pods
// with gracePeriodSeconds 0, claims, VolumeSnapshots (their content's deletionPolicy set to Delete first, so the
// storage snapshot goes too), contents.
class Temporaries {
public:
  // labels: what every object gets besides kbk.io/temporary ({kbk.io/backup-name: NAME} or the restore's).
  Temporaries(kube::Client& client, std::map<std::string, std::string> labels);
  ~Temporaries();
  const std::map<std::string, std::string>& labels() const { return m_labels; }
  // Adds the labels and the owner annotation to obj's metadata (before creating it).
  void stamp(json::Value& obj, json::Allocator& a, const std::string& volume) const;
  void add(const kube::ResourceType& type, const std::string& ns, const std::string& name, bool keep_storage = false);
  void forget(const kube::ResourceType& type, const std::string& ns, const std::string& name);
  // Deletes one registered object now (and forgets it). A missing object is not an error.
  Result<void> remove(const kube::ResourceType& type, const std::string& ns, const std::string& name);
  // Deletes everything still registered; returns one line per object that could not be deleted.
  std::vector<std::string> cleanup();
  size_t size() const;

private:
  kube::Client& m_client;
  std::map<std::string, std::string> m_labels;
  mutable std::mutex m_mutex;
  std::vector<TemporaryObject> m_objects;
};

// Deletes an object at once: pods with gracePeriodSeconds 0 (a kubelet would otherwise wait out the grace period
// of a container that ignores SIGTERM), a VolumeSnapshot after setting its content's deletionPolicy to Delete.
// Not found is success.
Result<void> delete_now(kube::Client& client, const kube::ResourceType& type, const std::string& ns,
                        const std::string& name, bool keep_storage = false);

// ---- cleanup of leftovers (kbk cleanup) -------------------------------------------------------------------------
struct CleanupOptions {
  std::string backup;          // only this backup's temporaries ("" with restore "" = all of kbk's)
  std::string restore;
  bool dead_owners_only = false;  // only objects whose owner process is gone (this host) - the next run's sweep
  bool dry_run = false;
};
struct CleanupReport {
  std::vector<TemporaryObject> removed;  // or would be (dry run)
  std::vector<std::string> kept;         // "pod ns/x: owner host/123/456 still runs" (dead_owners_only)
  std::vector<std::string> errors;
};
// Lists kbk's temporaries (label kbk.io/temporary=true, narrowed by the backup or restore label) across every
// namespace: pods, claims, VolumeSnapshots and VolumeSnapshotContents, and deletes them (pods first).
Result<CleanupReport> cleanup_leftovers(kube::Client& client, const CleanupOptions& options);

// ---- helper pods ------------------------------------------------------------------------------------------------
// Who the mover runs as (docs/volumes.md "Security model"). Never privileged, no privilege escalation, RuntimeDefault
// seccomp, every capability dropped except those listed here, read-only root filesystem.
struct MoverIdentity {
  enum class Kind {
    root_reader,  // uid 0 with CAP_DAC_OVERRIDE only: reads every file (Pod Security baseline)
    root_writer,  // uid 0 with CHOWN, DAC_OVERRIDE, FOWNER, FSETID, MKNOD, SETFCAP: restores owners (baseline)
    user,         // a non-root uid/gid with no capability (Pod Security restricted)
  } kind = Kind::root_reader;
  int64_t uid = 65532, gid = 65532;
  std::vector<int64_t> supplemental_groups;
  std::optional<int64_t> fs_group;  // user: the kubelet gives the (new, empty) volume to this group so uid can write
  std::string describe() const;  // "root with CAP_DAC_OVERRIDE (baseline)", "uid 1000 gid 1000 (restricted)"
};

struct HelperPod {
  std::string namespace_;
  std::string generate_name = "kbk-mover-";
  std::string volume_label;                 // kbk.io/volume annotation ("ns/claim")
  json::Document volume;                    // the pod's one volume (named "data"): a claim or an inline source
  bool read_only = true;
  std::string mount_path = "/data";
  std::string node;                         // pinned to this node (required node affinity on metadata.name)
  json::Document extra_tolerations;         // the workload's, so the mover lands where it does
  MoverIdentity identity;
  double lifetime_seconds = 4 * 3600;       // the container exits by itself after this (a killed kbk's safety net)
  // More volumes of the same pod (named data-1, data-2, ...) and their mount paths: one pod taking several volumes
  // of a node in turn (docs/mover.md section 7). Mounted read-only when read_only is.
  std::vector<std::pair<json::Document, std::string>> more_volumes;
};
// Creates a temporary object stamped by Temporaries. One with generateName gets a name of its own instead (the prefix
// and a hash of its owner, volume and a serial), so a create retried after a lost answer (the object made, the
// connection reset) meets the object it made (409, same owner: returned as created) instead of making a second one
// that nothing would delete.
Result<json::Document> create_temporary(kube::Client& client, const kube::ResourceType& type, const std::string& ns,
                                        json::Document& obj);
// The Pod object (not yet created) for settings and stamped by temps.
json::Document helper_pod_object(const HelperPod& spec, const MoverSettings& settings, const Temporaries& temps);
inline constexpr const char* k_mover_container = "mover";

// Creates the pod, registers it with temps and waits until its container runs. Errors name the pod and the last
// event the cluster reported for it (FailedScheduling, FailedMount, Multi-Attach, image pulls, Pod Security).
Result<json::Document> start_helper_pod(kube::Client& client, Temporaries& temps, const HelperPod& spec,
                                        const MoverSettings& settings, double timeout_seconds, double poll_seconds);
// Waits until a pod's containers run (phase Running, container state running). Errc::timeout naming the last event.
// give_up_on_trouble: Errc::precondition as soon as start_trouble() names a Warning (a pod of several volumes, which
// kbk replaces with one pod per volume rather than wait for one volume's fault).
Result<json::Document> wait_pod_running(kube::Client& client, const std::string& ns, const std::string& name,
                                        double timeout_seconds, double poll_seconds, bool give_up_on_trouble = false);
// A Warning event saying the pod cannot start as it is (FailedMount, FailedAttachVolume, FailedScheduling), as
// "FailedMount: MountVolume.SetUp failed ...", or "". A pod of several volumes gives up on it early (section 7).
std::string start_trouble(kube::Client& client, const std::string& ns, const std::string& name);
// Why a helper pod no longer runs: "deleted or evicted" (gone, or being deleted; with the DisruptionTarget
// condition's reason when the cluster set one, "evicted (EvictionByEvictionAPI)"), "Failed (Evicted: ...)" for a
// pod that ended; "" while it runs (or when the API cannot say).
std::string pod_gone(kube::Client& client, const std::string& ns, const std::string& name);
// The newest event message about an object ("FailedScheduling: 0/3 nodes are available: ..."), or "".
std::string last_event(kube::Client& client, const std::string& ns, const std::string& kind, const std::string& name);

// The Pod Security level a namespace enforces: "privileged", "baseline", "restricted", or "" (no label).
Result<std::string> enforced_pod_security(kube::Client& client, const std::string& ns);

// --mover-namespace (docs/volumes.md): kbk's own namespace for root movers, made when missing (labelled
// pod-security.kubernetes.io/enforce=baseline and kbk.io/mover-namespace=true; it stays for later runs; `log` is told).
// Errc::precondition when it enforces restricted (root movers could not run there).
Result<void> ensure_mover_namespace(kube::Client& client, const std::string& ns,
                                    const std::function<void(const std::string&)>& log);

// ---- CSI snapshots ----------------------------------------------------------------------------------------------
// The VolumeSnapshotClass for a CSI driver, chosen as Velero chooses: the claim's annotation
// velero.io/csi-volumesnapshot-class, then a class of the driver labelled velero.io/csi-volumesnapshot-class=true,
// then the driver's class annotated snapshot.storage.kubernetes.io/is-default-class=true, then its only class.
// nullopt when the driver has none (or the cluster does not serve snapshot.storage.k8s.io).
Result<std::optional<std::string>> find_snapshot_class(kube::Client& client, const std::string& driver,
                                                       const json::Value* claim);

struct TakenSnapshot {
  std::string namespace_, name;        // the VolumeSnapshot
  std::string content;                 // its VolumeSnapshotContent
  CsiSnapshot csi;
};
// Cuts a VolumeSnapshot of a claim (registered with temps) and waits until it is readyToUse and its content has a
// snapshot handle. Errc::timeout / the snapshot's status.error message. on_cut (may be null) is called once, as soon
// as the VolumeSnapshot or its content has a creationTime (the storage has cut it), before readyToUse.
Result<TakenSnapshot> take_snapshot(kube::Client& client, Temporaries& temps, const std::string& ns,
                                    const std::string& claim, const std::string& snapshot_class,
                                    double timeout_seconds, double poll_seconds,
                                    const std::function<void()>& on_cut = nullptr);

// The snapshot `from` re-bound into namespace ns, as Velero's data mover does: a pre-provisioned
// VolumeSnapshotContent holding from's handle (deletionPolicy Retain: removing it leaves the storage's snapshot to
// `from`, whose removal frees it) and a VolumeSnapshot in ns bound to it, both registered with temps (keep_storage),
// waited for until readyToUse. A claim in ns can then be made from it. Errc::timeout / the content's error.
Result<TakenSnapshot> rebind_snapshot(kube::Client& client, Temporaries& temps, const TakenSnapshot& from,
                                      const std::string& ns, const std::string& volume, double timeout_seconds,
                                      double poll_seconds);

}  // namespace kbk::volume
