// The tar ingestion of the volume-data repository (`kbk repo backup --tar`, and what a mover's helper pod streams
// out of a volume): the input is the tar stream, backed up into a plain repository in the scratch folder, then
// written back out as tar (restore_to_tar, to /dev/null) from the snapshot it made. A helper pod controls this
// stream: entries that climb out with .., duplicates, links and huge declared sizes must end as warnings or one
// error, never a crash; the snapshot made must read back.
// fuzz-link: kbk_repo
#include <sys/mman.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

#include <kbk/repo/operations.hpp>
#include <kbk/repo/repository.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/strings.hpp>

#include "fuzz_support.hpp"

namespace {

using namespace kbk;

repo::Repository& plain_repo() {
  static std::unique_ptr<storage::Backend> backend = [] {
    auto b = storage::open(fuzz::scratch() + "/repo", {{}, true});
    if (!b) std::abort();
    return std::move(*b);
  }();
  static std::unique_ptr<repo::Repository> r = [] {
    repo::OpenOptions oo;
    oo.create = true;
    auto opened = repo::Repository::open(*backend, oo);
    if (!opened) std::abort();
    return std::move(*opened);
  }();
  return *r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = ::memfd_create("kbk-fuzz-tar", MFD_CLOEXEC);
  if (fd < 0) std::abort();
  if (size && ::write(fd, data, size) != static_cast<ssize_t>(size)) std::abort();
  ::lseek(fd, 0, SEEK_SET);
  repo::BackupOptions bo;
  bo.host = "fuzz";
  bo.workers = 1;
  auto b = repo::backup_tar(plain_repo(), fd, "volume", bo);
  ::close(fd);
  if (!b) {
    (void)util::printable(b.error().message);
    return 0;
  }
  for (const auto& w : b->warnings) (void)util::printable(w);
  const int out = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  repo::RestoreOptions ro;
  ro.workers = 1;
  auto r = repo::restore_to_tar(plain_repo(), b->snapshot, out, ro);
  ::close(out);
  if (!r) std::abort();  // a snapshot kbk just made must read back
  return 0;
}
