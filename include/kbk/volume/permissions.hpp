// What the volume code asks of the cluster, per data path: the rules `kbk rbac` adds for volume data (docs/fleet.md,
// "Least privilege"). Kept here, beside the code that makes the requests (data_paths.cpp, cluster.cpp,
// restore.cpp, the movers' pods/exec): a request added there without its line here is a 403 in
// e2e.volumes-rbac, whose backup and restore run under exactly these rules.
//
// The reads a backup makes before it decides a volume's path (the claim, its PersistentVolume, the namespace's
// pods and Pod Security label, the VolumeSnapshotClasses, the sweep's lists) are not listed: `kbk rbac` records
// them by running that part of the backup. A restore's are listed (restore_requests), as nothing is run for it.
#pragma once

#include <string>
#include <vector>

#include <kbk/volume/model.hpp>
#include <kbk/volume/restore.hpp>

namespace kbk::volume {

struct Request {
  std::string group, resource, verb;  // resource with "/subresource" when one is used (pods/exec)
  enum class Scope {
    volume,   // in the volume's namespace
    mover,    // in --mover-namespace (the volume's namespace without it)
    cluster,  // cluster-scoped objects
  } scope = Scope::volume;
  // false: the code copes without it (the events that say why a helper pod did not start, the older servers' verb
  // of pods/exec, the sweep's lists); `kbk rbac` grants it, restore create's preflight does not ask for it.
  bool required = true;
};

// What taking one volume's data by `path` asks, besides the reads that decided it (mover: --mover-namespace).
std::vector<Request> backup_requests(PathKind path, const MoverSettings& mover);

// What restoring one target asks (the claim itself is one of the restore's items, written as they are).
std::vector<Request> restore_requests(const RestoreTarget& target, const RestoreSettings& settings);

// What any restore with volume data asks once: the sweep of what killed kbk runs of this host left (a list of each
// temporary type across the cluster; without it the sweep is skipped, as a backup's).
std::vector<Request> restore_sweep_requests();

}  // namespace kbk::volume
