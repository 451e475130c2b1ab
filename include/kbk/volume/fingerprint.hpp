// The metadata fingerprint of a volume (docs/mover.md section 3, "Unchanged volumes"; docs/format-repository.md
// section 10): a digest of every entry's change time, modification time, inode, mode, size, owners, link count and
// path, taken by the helper pod's own shell tools before the mover's walk. When it equals the parent snapshot's, the
// volume has not changed since that snapshot's walk, and kbk writes the new snapshot without a mover.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <kbk/repo/repository.hpp>

namespace kbk::volume {

inline constexpr int k_fingerprint_version = 1;

// What the pod's script printed: the second it started (`date +%s`), the digest, and the largest change time seen.
struct FingerprintProbe {
  int64_t started = 0;
  std::string digest;  // 64 lower-case hex
  int64_t max_ctime = 0;
};

// The shell fragment that prints the fingerprint line (`kbk-fp START DIGEST - end START MAXCTIME`, or `kbk-fp` and
// something else when it cannot), for a folder in "$7" and a mode in "$6" ("i": with inode numbers, "n": without,
// "-": none). POSIX sh with find, stat -c, awk, sha256sum and date, as busybox and GNU coreutils have them.
extern const char* const k_fingerprint_script;

// The fingerprint line parsed; nullopt for anything else (missing tools, an error in the listing, a line cut short).
std::optional<FingerprintProbe> parse_fingerprint_line(std::string_view line);

// Whether the digest may be recorded in the snapshot the mover is about to write: no entry's change time within
// 1 s of the second the digest started, or later (git's racy-clean rule; times are in whole seconds).
bool fingerprint_recordable(const FingerprintProbe& probe);

// Whether the parent snapshot's fingerprint proves the volume unchanged: same version, same inode switch, same digest.
bool fingerprint_unchanged(const repo::Snapshot& parent, const FingerprintProbe& probe, bool inode);

// The snapshot written without a mover for an unchanged volume: the parent's tree, totals and fingerprint, nothing
// read or stored; time, host, tags and backup are the new run's (filled by the caller: labels).
repo::Snapshot unchanged_snapshot(const repo::Snapshot& parent, std::string host,
                                  std::vector<std::pair<std::string, std::string>> tags, std::string backup);

}  // namespace kbk::volume
