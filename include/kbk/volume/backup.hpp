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
#include <kbk/repo/repository.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/progress.hpp>
#include <kbk/volume/data_path.hpp>
#include <kbk/volume/model.hpp>
#include <kbk/volume/mover.hpp>

namespace kbk::volume {

// Consistency windows around the cut of a pod's volumes (the hooks, docs/hooks.md section 3), implemented by the
// caller. The orchestrator opens the windows of a volume's pods before taking it, tells them when its data is cut (a
// CSI snapshot: when it has a creationTime; a copy: when the copy ends), and closes a pod's window as soon as all its
// volumes are cut or have failed. The volumes of one pod are taken at once.
class PodWindows {
public:
  virtual ~PodWindows() = default;
  virtual bool has(const std::string& pod) const = 0;       // pod: "namespace/name"
  // An error: the pod's volumes are not taken; they fail with its message.
  virtual Result<void> open(const std::string& pod) = 0;
  // At a cut: an error when the window ended before it (a session timed out); the volume fails with its message.
  virtual Result<void> held(const std::string& pod) = 0;
  virtual void cut(const std::string& pod, const std::string& volume, const std::string& how) = 0;
  // An error: the pod's volumes that were taken fail with its message.
  virtual Result<void> close(const std::string& pod) = 0;
};

struct VolumeBackupOptions {
  std::string backup_name;
  BackupSettings settings;
  const crypto::UserKey* key = nullptr;      // the backup's key: the repository is encrypted with it
  util::ProgressSink* progress = nullptr;    // phase "volumes": volumes done, bytes moved
  // Seams for tests (default: the real data paths and the exec + tar mover).
  std::function<std::unique_ptr<DataPath>(PathKind)> make_path;
  std::shared_ptr<Mover> mover;
  std::shared_ptr<PodWindows> windows;      // null: no hooks
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
  std::vector<std::string> window_pods(const VolumeRef& ref) const;
  std::vector<std::vector<size_t>> window_groups(const std::vector<VolumeRef>& volumes) const;
  void run_window_group(const std::vector<VolumeRef>& volumes, const std::vector<size_t>& group,
                        std::vector<VolumeResult>& results, std::unique_ptr<repo::Repository>& repo);
  std::unique_ptr<Impl> m_impl;
};

// One line per volume for the summary and the log: "shop/data-db-0: snapshot-move-data, 1.2 GiB in 840 files, 12.3s
// (default: CSI driver x has a VolumeSnapshotClass)" or "...: failed: why".
std::string describe(const VolumeResult& r);

}  // namespace kbk::volume
