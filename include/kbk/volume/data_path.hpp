// A data path takes one volume's data the way its decision says (decide.hpp): one implementation per way, behind
// one interface, as restore's appliers. The orchestrator (backup.hpp) gathers what a path needs from the cluster
// (the Job), and hands it the shared means (the Context): the cluster, the temporaries, the mover, the repository.
//   snapshot-move-data  VolumeSnapshot -> readyToUse -> a temporary claim from it -> a helper pod mounting it
//                       read-only -> the mover -> the repository; then pod, claim and snapshot are deleted.
//   fs-backup           a helper pod mounting the live claim (or the pod's hostPath/nfs source) read-only, on the
//                       node that has it, -> the mover.
//   fs-backup-workload  the mover execs into the workload's container that mounts the volume.
//   snapshot            VolumeSnapshot -> readyToUse; its content set to Retain; the handle kept in the backup; the
//                       VolumeSnapshot and VolumeSnapshotContent objects deleted (the storage keeps the snapshot).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/repo/repository.hpp>
#include <kbk/volume/cluster.hpp>
#include <kbk/volume/model.hpp>
#include <kbk/volume/mover.hpp>

namespace kbk::volume {

// One volume to back up, with what the orchestrator read about it.
struct Job {
  VolumeRef ref;
  Decision decision;
  json::Document claim, pv, pod_volume;  // live objects (null when absent); pod_volume: the pod's spec.volumes entry
  // Running pods that mount the volume (a claim: every pod of the namespace mounting it; a pod volume: its pod).
  struct Use {
    std::string pod, node, volume;       // volume: its name in that pod
    json::Document object;
  };
  std::vector<Use> uses;
  std::string snapshot_class;            // for the snapshot paths
  std::string pod_security;              // the namespace's enforced Pod Security level ("" = none)
  Job();
};

struct Context {
  kube::Client& client;
  Temporaries& temps;
  const BackupSettings& settings;
  Mover& mover;
  std::string backup_name;
  // The repository the data goes into (created on first use). Errors fail the volume.
  std::function<Result<repo::Repository*>()> repository;
  // Blocks until the node has a free mover slot (--per-node-workers); the returned handle frees it.
  std::function<std::shared_ptr<void>(const std::string& node)> node_slot;
  std::function<void(uint64_t)> on_bytes;
  // The snapshot paths call this once the data is cut (the VolumeSnapshot has a creationTime), before moving it; the
  // orchestrator calls it for the others when the path returns (the copy was the cut). Safe to call twice.
  std::function<void()> cut;
};

// What a helper-pod path (snapshot-move-data, fs-backup) prepared for one volume before its pod: the pod it alone
// would get, and how to delete what it made. The orchestrator may give several volumes of one node, namespace and
// mover identity one pod instead, taking them in turn (docs/mover.md section 7).
struct PodPlan {
  HelperPod pod;
  Live live = Live::no;
  std::function<void(Context&, VolumeResult&)> release;  // deletes the path's temporaries; after the pod is gone
};

class DataPath {
public:
  virtual ~DataPath() = default;
  virtual PathKind kind() const = 0;
  // Takes the data; fills the result's counts, ids, node and mover. An error fails the volume (the orchestrator
  // records it); temporaries are removed by the path, or by the orchestrator at the end.
  virtual Result<void> backup(const Job& job, Context& ctx, VolumeResult& result) = 0;
  // Paths that move through a helper pod of kbk's: everything before the pod (snapshot, temporary claim).
  virtual bool plans() const { return false; }
  virtual Result<PodPlan> plan(const Job& job, Context& ctx, VolumeResult& result);
};

// Moves a volume mounted at `path` in a running helper pod (ctx.node_slot is taken for the move).
Result<void> move_in_pod(const Job& job, Context& ctx, VolumeResult& r, const json::Value& pod, const std::string& path,
                         Live live, PathKind kind);
// A plan carried out in a pod of its own: started, moved, the pod deleted, the plan released.
Result<void> move_with_own_pod(const Job& job, Context& ctx, VolumeResult& r, PodPlan& plan, PathKind kind);

// The real data path of each kind (none for PathKind::none).
std::unique_ptr<DataPath> make_data_path(PathKind kind);

// Who a helper pod runs as for a backup: root with CAP_DAC_OVERRIDE, unless the namespace enforces restricted, then
// the user of the first pod using the volume (its runAsUser/runAsGroup/supplementalGroups, 65532 when none says).
MoverIdentity backup_identity(const Job& job);
// The container of a pod that mounts volume `name` without subPath, and its mount path; nullopt when none does.
std::optional<std::pair<std::string, std::string>> mounting_container(const json::Value& pod, const std::string& name);

}  // namespace kbk::volume
