// What the volume code asks of the cluster (permissions.hpp). Each list names the code it stands for.
#include <kbk/volume/permissions.hpp>

namespace kbk::volume {

namespace {

constexpr const char* k_core = "";
constexpr const char* k_snapshot = "snapshot.storage.k8s.io";
using S = Request::Scope;

void add(std::vector<Request>& out, const char* group, const char* resource, std::initializer_list<const char*> verbs,
         S scope, bool required = true) {
  for (const char* v : verbs) out.push_back({group, resource, v, scope, required});
}

// pods/exec (the movers, mover.cpp and kbk_mover.cpp): its WebSocket upgrade is a GET that API servers authorize
// as `create` (1.30 and later; kubesim's 1.30 profile) or as `get` (before).
void pod_exec(std::vector<Request>& out, S scope) {
  add(out, k_core, "pods/exec", {"create"}, scope);
  add(out, k_core, "pods/exec", {"get"}, scope, false);
}

// A helper pod (cluster.cpp start_helper_pod, wait_pod_running, Temporaries::remove): created (a create retried
// after a lost answer reads what it made), polled until it runs, the reason it does not read from the events,
// deleted; the mover runs in it through pods/exec.
void helper_pod(std::vector<Request>& out, S scope) {
  add(out, k_core, "pods", {"create", "get", "delete"}, scope);
  add(out, k_core, "events", {"list"}, scope, false);
  pod_exec(out, scope);
}

// A VolumeSnapshot cut and waited for (cluster.cpp take_snapshot: created, polled, its content read and labelled).
void snapshot(std::vector<Request>& out) {
  add(out, k_snapshot, "volumesnapshots", {"create", "get"}, S::volume);
  add(out, k_snapshot, "volumesnapshotcontents", {"get", "patch"}, S::cluster);
}

}  // namespace

std::vector<Request> backup_requests(PathKind path, const MoverSettings& mover) {
  std::vector<Request> out;
  switch (path) {
    case PathKind::none: break;
    case PathKind::snapshot_move:
      // data_paths.cpp SnapshotMovePath: the snapshot, a claim from it, a helper pod mounting that; all three
      // deleted (the snapshot after its content's deletionPolicy is set to Delete: delete_now).
      snapshot(out);
      add(out, k_snapshot, "volumesnapshots", {"delete"}, S::volume);
      if (!mover.namespace_.empty()) {
        // --mover-namespace: ensure_mover_namespace (read, made when missing) and rebind_snapshot (a content with
        // the handle and a VolumeSnapshot in it, waited for, deleted).
        add(out, k_core, "namespaces", {"get", "create"}, S::cluster);
        add(out, k_snapshot, "volumesnapshotcontents", {"create", "delete"}, S::cluster);
        add(out, k_snapshot, "volumesnapshots", {"create", "get", "delete"}, S::mover);
      }
      add(out, k_core, "persistentvolumeclaims", {"create", "get", "delete"}, S::mover);
      helper_pod(out, S::mover);
      break;
    case PathKind::fs_backup:
      helper_pod(out, S::volume);  // FsBackupPath: a helper pod mounting the live claim or pod volume
      break;
    case PathKind::fs_backup_workload:
      pod_exec(out, S::volume);  // WorkloadPath: exec into the workload
      break;
    case PathKind::snapshot:
      // SnapshotOnlyPath: the snapshot, its content set to Retain, then both objects deleted.
      snapshot(out);
      add(out, k_snapshot, "volumesnapshots", {"delete"}, S::volume);
      add(out, k_snapshot, "volumesnapshotcontents", {"delete"}, S::cluster);
      break;
  }
  return out;
}

std::vector<Request> restore_requests(const RestoreTarget& t, const RestoreSettings& settings) {
  std::vector<Request> out;
  if (t.record.outcome != VolumeResult::Outcome::completed) return out;
  const PathKind path = t.record.decision.path;
  if (path == PathKind::snapshot) {
    // restore.cpp prepare_snapshots: a pre-provisioned content and a VolumeSnapshot bound to it; fill_one: the
    // claim waited for until bound (the events say why not), then both objects deleted.
    add(out, k_snapshot, "volumesnapshotcontents", {"create", "delete"}, S::cluster);
    add(out, k_snapshot, "volumesnapshots", {"create", "delete"}, S::volume);
    add(out, k_core, "persistentvolumeclaims", {"get"}, S::volume);
    add(out, k_core, "events", {"list"}, S::volume, false);
    return out;
  }
  if (path != PathKind::snapshot_move && path != PathKind::fs_backup && path != PathKind::fs_backup_workload)
    return out;
  // A pod volume turned into a claim (create_converted_claim).
  if (t.converted) add(out, k_core, "persistentvolumeclaims", {"create"}, S::volume);
  if (settings.mover.namespace_.empty()) {
    // check(): the namespace's Pod Security level decides who the mover runs as; fill_one: a helper pod there.
    add(out, k_core, "namespaces", {"get"}, S::cluster);
    helper_pod(out, S::volume);
    return out;
  }
  // --mover-namespace: ensure_mover_namespace (read, made when missing), create_mover_claim, a helper pod there,
  // hand_over (the claim read and deleted, its volume read and patched: Retain, label, claimRef, policy back; the
  // target claim waited for until bound).
  add(out, k_core, "namespaces", {"get", "create"}, S::cluster);
  add(out, k_core, "persistentvolumeclaims", {"create", "get", "delete"}, S::mover);
  helper_pod(out, S::mover);
  add(out, k_core, "persistentvolumes", {"get", "patch"}, S::cluster);
  add(out, k_core, "persistentvolumeclaims", {"get"}, S::volume);
  add(out, k_core, "events", {"list"}, S::volume, false);
  return out;
}

std::vector<Request> restore_sweep_requests() {
  // cleanup_leftovers (cluster.cpp), called by VolumeRestore::start: pods, claims, VolumeSnapshots and their
  // contents labelled kbk.io/temporary=true, across the cluster.
  std::vector<Request> out;
  add(out, k_core, "pods", {"list"}, S::cluster, false);
  add(out, k_core, "persistentvolumeclaims", {"list"}, S::cluster, false);
  add(out, k_snapshot, "volumesnapshots", {"list"}, S::cluster, false);
  add(out, k_snapshot, "volumesnapshotcontents", {"list"}, S::cluster, false);
  return out;
}

}  // namespace kbk::volume
