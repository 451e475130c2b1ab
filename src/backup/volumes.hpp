// The volumes a backup names (backup.hpp, VolumeRecord): collected from the PersistentVolumeClaims, PersistentVolumes
// and pods as they are written, so the backup can say which data it holds and which it does not. Internal to the
// backup module; thread-safe (types are collected in parallel).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <kbk/backup/backup.hpp>
#include <kbk/json/json.hpp>
#include <kbk/volume/model.hpp>

namespace kbk::backup {

class VolumeTracker {
public:
  // Every written object; only core pods, persistentvolumeclaims and persistentvolumes are looked at.
  void observe(std::string_view group, std::string_view resource, const json::Value& obj);
  // What the volume data phase works on: each backed-up claim (with the backed-up pods mounting it) and each
  // data-holding pod volume that is not a claim; claims first, then pod volumes, each sorted.
  std::vector<volume::VolumeRef> refs() const;
  // One record per claim (with the pods mounting it), per volume no backed-up claim names, and per data-holding
  // pod volume that is not a claim; sorted by kind, namespace and name. A claim or pod volume with a result (the
  // volume phase's, matched by its ref key) says what came of its data; the others say why there is none:
  // `volume_data` false (--no-volume-data), or a PersistentVolume whose claim is not in the backup.
  std::vector<VolumeRecord> records(const std::vector<volume::VolumeResult>& results, bool volume_data) const;

private:
  struct Claim {
    std::string ns, name, volume, storage_class, capacity;
    std::vector<std::string> pods;
  };
  struct Volume {
    std::string name, claim_ns, claim, storage_class, driver, source, capacity;
  };
  mutable std::mutex m_mu;
  std::map<std::string, Claim> m_claims;                  // ns/name
  std::map<std::string, Volume> m_volumes;                // name
  std::map<std::string, std::vector<std::string>> m_mounts;  // claim ns/name -> pods
  std::vector<VolumeRecord> m_pod_volumes;
};

}  // namespace kbk::backup
