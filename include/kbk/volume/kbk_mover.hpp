// kbk as its own data mover (docs/mover.md): the bundle of this binary that runs in an image with only a shell and
// tar, the Mover that copies it into a helper pod and drives it over the framed protocol, and the pod side
// (`kbk mover serve`).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <kbk/crypto/encryption.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/util/error.hpp>
#include <kbk/volume/mover.hpp>

namespace kbk::volume {

// The files of the bundle: this binary, every shared object it was loaded with, and the dynamic loader.
struct BundleFile {
  std::string source;   // path on this host
  std::string name;     // path inside the bundle ("kbk", "ld.so", "lib/libc.so.6")
  uint32_t mode = 0644;
  uint64_t size = 0;
};
struct Bundle {
  std::vector<BundleFile> files;
  std::string id;       // "<version>-<12 hex of the binary's SHA-256>": the cache folder's name in the pod
  std::string arch;     // uname -m of this host ("x86_64")
  uint64_t bytes = 0;
  // The command line that starts the bundle from folder dir (then "mover", "serve" for the mover).
  std::vector<std::string> argv(const std::string& dir) const;
};
// Finds the bundle of the running binary (computed once). Errc::unsupported when kbk runs statically or without a
// loader that takes --library-path. with_libcurl: also libcurl (which kbk opens with dlopen, so it is not in the
// binary's DT_NEEDED closure) and its own closure, for a mover that reaches an S3 location itself (docs/mover.md
// section 6); its id ends in "-s3", so it is another folder in the pod.
Result<const Bundle*> current_bundle(bool with_libcurl = false);
// Copies the bundle into dir (created, 0700; files keep their modes).
Result<void> write_bundle(const Bundle& bundle, const std::string& dir);
// The bundle as an uncompressed ustar stream (what `tar x` in the pod reads), written through sink.
Result<void> bundle_tar(const Bundle& bundle, const std::string& top, const std::function<Result<void>(std::string_view)>& sink);

// The same stream (top folder "bundle") gzip-compressed, what `gzip -dc | tar x` in the pod reads when the image has
// gzip: made once per build and kept beside the stripped binary in the user's cache folder.
Result<std::shared_ptr<const std::string>> bundle_tar_gz(const Bundle& bundle);

// Where bundles are cached in helper pods (an emptyDir named "kbk", see helper_pod_object).
inline constexpr const char* k_scratch_path = "/kbk";

struct KbkMoverOptions {
  double stall_timeout_seconds = 120;
  int workers = 2;                    // chunk/hash/compress/encrypt threads in the pod
  bool ignore_inode = false;          // --mover-ignore-inode: compare path, size and mtime only
  const crypto::UserKey* key = nullptr;  // the repository's user key (encrypted repositories), sent over stdin only
  std::vector<std::string> protocols;
};
// The in-pod mover. Volumes it cannot serve (a workload's container, which has no scratch volume of kbk's; an image
// where the bundle does not start) go to the exec + tar mover, with a warning naming the pod.
std::unique_ptr<Mover> make_kbk_mover(kube::Client& client, KbkMoverOptions options);

// The mover a run uses when no test gives one: kbk's own (settings.kind "kbk") or exec + tar.
std::unique_ptr<Mover> make_mover(kube::Client& client, const MoverSettings& settings, const crypto::UserKey* key);

// The pod side: speaks the protocol on in_fd/out_fd (stdin/stdout), logs to stderr. Returns the exit code.
int serve_mover(int in_fd, int out_fd);

}  // namespace kbk::volume
