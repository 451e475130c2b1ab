// Volume data in a restore (docs/volumes.md "Restore"): the restore's side of volume/restore.hpp. From the backup's
// volume records it builds
//   - a transform (after the mappings): a claim whose data the backup holds is provisioned anew (spec.volumeName
//     dropped) or from a snapshot the restore makes (spec.dataSource); the PersistentVolume behind it is skipped;
//     a PersistentVolume of a driver in --pv-driver-mappings keeps its handle under the new driver (adopted, no data
//     moved); pods' and workloads' hostPath/nfs volumes named by --volume-type-mappings become claims;
//   - PlanOptions::keep_pv for adopted volumes;
//   - an applier decorator: before the claims tier, the snapshot objects; once claims exist (before any workload),
//     the data, up to --volume-workers at once; a claim whose data failed becomes a failed item (exit 2);
//   - the per-volume lines of `restore create --preflight`.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <kbk/crypto/encryption.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/restore/applier.hpp>
#include <kbk/restore/options.hpp>
#include <kbk/restore/transform.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/progress.hpp>
#include <kbk/volume/restore.hpp>

namespace kbk::restore {

struct VolumeDataOptions {
  std::string restore_name;
  volume::RestoreSettings settings;
  std::map<std::string, std::string> storage_class_mappings;  // for the converted claims' class and preflight
};

class VolumeData {
public:
  // The backup's manifest (its marker: kbk-manifest.json, opened when sealed). Errc::corrupt for a bad record.
  static Result<std::shared_ptr<VolumeData>> from_manifest(const json::Value& manifest, VolumeDataOptions options);

  // Records whose data a restore can bring back (or adopt).
  bool empty() const;
  const std::vector<volume::VolumeResult>& records() const { return m_records; }
  const volume::RestoreSettings& settings() const { return m_options.settings; }

  std::shared_ptr<Transform> transform();
  std::function<bool(const json::Value& pv)> keep_pv() const;
  // Adds transform() to the plan's transforms and sets its keep_pv: what every restore with volume data does.
  void attach(PlanOptions& options);
  // The claims the plan's transform met (valid after planning).
  std::vector<volume::RestoreTarget> targets() const;

  // The cluster applier with volume data around it (before planning).
  Result<std::unique_ptr<Applier>> wrap(std::unique_ptr<Applier> inner, kube::Client& client, storage::Backend& backend,
                                        const crypto::UserKey* key, util::ProgressSink* progress);
  // After planning, before anything is applied (RunOptions::after_planning): the claims to fill are known; the
  // repository opens and Errc::precondition says when a restricted namespace cannot take a volume's owners.
  Result<void> prepare();
  // What came of each volume (after the restore ran).
  std::vector<volume::VolumeRestoreResult> results() const;

  // --preflight: one line per volume of the backup that the plan restores ("shop/data-db-0: data from repository
  // snapshot 81c9f2fa (snapshot-move-data, 10.0 MiB) into a new volume of class fast").
  std::vector<std::string> preflight_lines() const;

  // Used by the transform and the applier.
  struct Impl;

private:
  VolumeDataOptions m_options;
  std::vector<volume::VolumeResult> m_records;
  std::shared_ptr<Impl> m_impl;
};

// The volume records of backup `name` (its marker; a sealed one opened with `key`, or read as its plain part when no
// key is given), or null when the backup holds no volume data a restore can bring back, or its marker cannot be read
// (the restore's own reading of the backup reports that). Errors: a sealed marker cannot be opened with the key, or a
// record is malformed (Errc::corrupt).
Result<std::shared_ptr<VolumeData>> load_volume_data(storage::Backend& backend, const std::string& name,
                                                     const crypto::UserKey* key, VolumeDataOptions options);

}  // namespace kbk::restore
