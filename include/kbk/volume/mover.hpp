// How a volume's bytes leave a pod and come back: the Mover interface. Today's mover execs `tar` in the pod (a
// helper pod or the workload) and streams the archive over pods/exec into the repository on the CLI host (and back
// for restores); issue 15 adds kbk itself as an in-pod mover behind the same interface (it will send only new
// blobs, and write to S3 itself).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <kbk/kube/client.hpp>
#include <kbk/repo/repository.hpp>
#include <kbk/volume/model.hpp>

namespace kbk::volume {

// The folder of a running container the data is in (or goes to).
struct MoverTarget {
  std::string namespace_, pod, container;
  std::string path = "/data";
  std::string display() const;  // "pod ns/name container c path /data"
};

struct MoveStats {
  std::string snapshot;               // repository snapshot id (backup)
  uint64_t bytes = 0, files = 0;      // logical size and number of files
  uint64_t stream_bytes = 0;          // bytes over the exec stream
  uint64_t new_bytes = 0, stored_bytes = 0;
  uint64_t bytes_read_in_pod = 0, bytes_through_host = 0, bytes_uploaded = 0, bundle_bytes = 0;
  std::string kind;                   // the mover that did it: "kbk" or "tar"
  std::string unchanged_by;           // "fingerprint": nothing moved, the parent's metadata fingerprint matched
  double seconds = 0;
  RootMeta root;                      // the folder's own owner, mode and mtime (backup)
  std::vector<std::string> warnings;
};

// Whether files may change while they are read (a live file-system backup): tar's "file changed as we read it" is
// then a warning, not a failure.
enum class Live { no, yes };

struct SnapshotLabels {
  std::string name;                   // the snapshot's path ("ns/claim")
  std::string backup;                 // the resource backup it belongs to
  std::vector<std::pair<std::string, std::string>> tags;
};

class Mover {
public:
  virtual ~Mover() = default;
  virtual std::string name() const = 0;  // "exec-tar"
  // Takes the folder into a new repository snapshot. on_bytes (may be null) is told of every chunk moved.
  virtual Result<MoveStats> backup(const MoverTarget& target, repo::Repository& repo, const SnapshotLabels& labels,
                                   Live live, const std::function<void(uint64_t)>& on_bytes) = 0;
  // Writes a snapshot into the folder (empty, or holding what a cut attempt at the same snapshot wrote: each file is
  // replaced whole), then the folder's own metadata when known. owners:
  // restore file owners (the mover runs as root); otherwise files belong to the mover's user.
  virtual Result<MoveStats> restore(const MoverTarget& target, repo::Repository& repo, const repo::Snapshot& snapshot,
                                    const RootMeta& root, bool owners,
                                    const std::function<void(uint64_t)>& on_bytes) = 0;
};

// Whether a move failed because its exec stream ended before the command's exit status (cut mid-transfer, reset) or
// stalled: then the volume can be moved again. Not a stream cut: an upgrade that never succeeded (already retried
// where the exec is opened: "cannot reach the API server"), a command that failed, a repository or precondition
// error.
inline bool stream_cut(const Error& e) {
  return (e.code == Errc::network || e.code == Errc::timeout) && e.message.find("exec in ") != std::string::npos &&
         e.message.find("cannot reach the API server") == std::string::npos;
}
// How many times a volume is moved at most when its streams are cut (backup: from the start into a new repository
// snapshot; restore: the whole snapshot written again over what the cut attempt left).
inline constexpr int k_move_attempts = 3;

struct ExecTarOptions {
  double stall_timeout_seconds = 120;   // a stream from which nothing arrives for this long has died
  int repo_workers = 2;                 // hash/compress/encrypt threads per volume
  std::vector<std::string> protocols;   // exec subprotocols to offer (empty: v5 then v4)
};
// The exec + tar mover: `tar c` in the pod, the stream read by repo::backup_tar on this host (restore: the reverse).
// The pod needs sh and tar; GNU tar keeps holes (--sparse) and nanosecond times (POSIX format), others a plain tar.
std::unique_ptr<Mover> make_exec_tar_mover(kube::Client& client, ExecTarOptions options = {});

// An exec request for a mover's command in the target's container (stdout and stderr on; stall timeout; protocols,
// empty = v5 then v4).
kube::ExecRequest mover_exec_request(const MoverTarget& target, std::vector<std::string> argv, double stall_timeout,
                                     const std::vector<std::string>& protocols);

// The shell scripts the exec mover runs (for docs and tests): $1 is the folder.
extern const char* const k_tar_create_script;
extern const char* const k_tar_extract_script;

}  // namespace kbk::volume
