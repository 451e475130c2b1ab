// The volume part of a backup: for each volume the backed-up objects name, read it from the cluster, decide its data
// path (decide.hpp), take the data (data_path.hpp) with up to --volume-workers volumes at once and --per-node-workers
// per node, and record what came of it. A volume that fails never fails the others: it ends `failed` with its
// reason (the backup then ends PartiallyFailed). Temporaries are removed as each volume ends, and at the end (or on
// an interrupt) whatever is left.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <kbk/crypto/encryption.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/progress.hpp>
#include <kbk/volume/data_path.hpp>
#include <kbk/volume/model.hpp>
#include <kbk/volume/mover.hpp>

namespace kbk::volume {

struct VolumeBackupOptions {
  std::string backup_name;
  BackupSettings settings;
  const crypto::UserKey* key = nullptr;      // the backup's key: the repository is encrypted with it
  util::ProgressSink* progress = nullptr;    // phase "volumes": volumes done, bytes moved
  // Seams for tests (default: the real data paths and the exec + tar mover).
  std::function<std::unique_ptr<DataPath>(PathKind)> make_path;
  std::shared_ptr<Mover> mover;
  // A line for the backup's log (and -v output).
  std::function<void(const std::string&)> log;
};

class VolumeBackup {
public:
  // Checks the location's repository (an encrypted one needs the backup's key; a plain one refuses a key: Errc::config)
  // and sweeps temporaries that kbk processes of this host left when they were killed.
  static Result<std::unique_ptr<VolumeBackup>> start(kube::Client& client, storage::Backend& backend,
                                                     VolumeBackupOptions options);
  ~VolumeBackup();

  // Every volume ends completed, skipped or failed (never an error as a whole). Interrupted: the rest fail with
  // "interrupted" and the temporaries are removed before this returns.
  std::vector<VolumeResult> run(const std::vector<VolumeRef>& volumes);

private:
  struct Impl;
  explicit VolumeBackup(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

// One line per volume for the summary and the log: "shop/data-db-0: snapshot-move-data, 1.2 GiB in 840 files, 12.3s
// (default: CSI driver x has a VolumeSnapshotClass)" or "...: failed: why".
std::string describe(const VolumeResult& r);

}  // namespace kbk::volume
