// The metadata fingerprint (docs/mover.md section 3, "Unchanged volumes"; docs/format-repository.md section 10):
// the snapshot member as stored and read back in an encrypted repository, the snapshot written without a mover,
// the decisions (unchanged, racy), and the pod's script run with this host's own find, stat, awk and sha256sum.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kbk/crypto/encryption.hpp>
#include <kbk/repo/operations.hpp>
#include <kbk/repo/repository.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/volume/fingerprint.hpp>

using namespace kbk;
using namespace kbk::volume;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char t[] = "/tmp/kbk-fingerprint-test-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempDir() { fs::remove_all(path); }
};

void write(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << s;
}
std::string read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

const std::string k_digest_a(64, 'a');

// Runs the pod's fragment with sh over folder dir, mode "i" or "n"; returns the line it printed.
std::string run_script(const fs::path& dir, const char* mode = "i") {
  int pipefd[2];
  REQUIRE(::pipe(pipefd) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    ::close(pipefd[0]);
    const std::string d = dir.string();
    ::execlp("sh", "sh", "-c", k_fingerprint_script, "kbk-install", "1", "2", "3", "4", "5", mode, d.c_str(),
             static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(pipefd[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

TEST_CASE("parse_fingerprint_line: the script's one line, and nothing else") {
  auto p = parse_fingerprint_line("kbk-fp " + k_digest_a + " - end 1765130000 1765120000");
  REQUIRE(p);
  CHECK(p->digest == k_digest_a);
  CHECK(p->started == 1765130000);
  CHECK(p->max_ctime == 1765120000);
  CHECK_FALSE(parse_fingerprint_line("kbk-fp"));                                  // a tool is missing
  CHECK_FALSE(parse_fingerprint_line("kbk-fp " + k_digest_a + " - bad"));         // an error in the listing
  CHECK_FALSE(parse_fingerprint_line("kbk-fp " + k_digest_a + " - end 17651"));   // cut short
  CHECK_FALSE(parse_fingerprint_line("kbk-fp " + std::string(63, 'a') + " - end 1 0"));
  CHECK_FALSE(parse_fingerprint_line("kbk-fp " + std::string(64, 'G') + " - end 1 0"));
  CHECK_FALSE(parse_fingerprint_line("kbk-fp " + k_digest_a + " - end 1765130000 -5"));
  CHECK_FALSE(parse_fingerprint_line("kbk-probe x86_64 writable gzip -"));
}

TEST_CASE("fingerprint_recordable: no entry changed within 1 s of the digest's start (racy-clean)") {
  CHECK(fingerprint_recordable({1000, k_digest_a, 998}));
  CHECK_FALSE(fingerprint_recordable({1000, k_digest_a, 999}));
  CHECK_FALSE(fingerprint_recordable({1000, k_digest_a, 1000}));
  CHECK_FALSE(fingerprint_recordable({1000, k_digest_a, 1003}));  // later than the start: the clock or a change
}

TEST_CASE("fingerprint_unchanged: same version, inode switch and digest, or the mover runs") {
  repo::Snapshot parent;
  const FingerprintProbe probe{1000, k_digest_a, 10};
  CHECK_FALSE(fingerprint_unchanged(parent, probe, true));  // a parent without one
  repo::SnapshotFingerprint f;
  f.digest = k_digest_a;
  parent.fingerprint = f;
  CHECK(fingerprint_unchanged(parent, probe, true));
  CHECK_FALSE(fingerprint_unchanged(parent, probe, false));  // --mover-ignore-inode now, not then
  CHECK_FALSE(fingerprint_unchanged(parent, {1000, std::string(64, 'b'), 10}, true));
  parent.fingerprint->version = 2;
  CHECK_FALSE(fingerprint_unchanged(parent, probe, true));
}

TEST_CASE("snapshot fingerprint: stored encrypted, read back; the snapshot written without a mover restores the same") {
  TempDir dir;
  const fs::path src = dir.path / "src";
  fs::create_directories(src / "d");
  write(src / "a", "alpha");
  write(src / "d" / "b", std::string(300000, 'b'));
  auto b = storage::open((dir.path / "loc").string(), {{}, true});
  REQUIRE(b);
  auto key = crypto::parse_user_key("a passphrase for the test", "key");
  REQUIRE(key);
  repo::OpenOptions oo;
  oo.key = &*key;
  oo.create = true;
  auto r = repo::Repository::open(**b, oo);
  REQUIRE(r);

  repo::BackupOptions bo;
  bo.name = "shop/data";
  repo::SnapshotFingerprint f;
  f.digest = std::string(64, 'c');
  f.inode = false;
  f.root = {1000, 2000, 0750, 1765000000, 123456789};
  bo.fingerprint = f;
  auto first = repo::backup_folder(**r, src.string(), bo);
  REQUIRE(first);
  bo.fingerprint.reset();
  auto without = repo::backup_folder(**r, src.string(), bo);
  REQUIRE(without);

  auto all = (*r)->list_snapshots();
  REQUIRE(all);
  REQUIRE(all->size() == 2);
  const repo::Snapshot* with_fp = nullptr;
  for (const auto& s : *all) {
    if (s.id == first->snapshot.id) with_fp = &s;
    else CHECK_FALSE(s.fingerprint);
  }
  REQUIRE(with_fp);
  REQUIRE(with_fp->fingerprint);
  CHECK(with_fp->fingerprint->version == 1);
  CHECK(with_fp->fingerprint->digest == f.digest);
  CHECK_FALSE(with_fp->fingerprint->inode);
  CHECK(with_fp->fingerprint->root.uid == 1000);
  CHECK(with_fp->fingerprint->root.gid == 2000);
  CHECK(with_fp->fingerprint->root.mode == 0750);
  CHECK(with_fp->fingerprint->root.mtime == 1765000000);
  CHECK(with_fp->fingerprint->root.mtime_nsec == 123456789);
  // Inside the encrypted object: the digest is not in the stored bytes.
  auto stored = (*b)->get((*r)->snapshot_key(first->snapshot.id));
  REQUIRE(stored);
  CHECK(stored->find(f.digest) == std::string::npos);
  CHECK(stored->find("fingerprint") == std::string::npos);

  // The fast path's snapshot: the parent's tree, totals and fingerprint; nothing read.
  repo::Snapshot fast = unchanged_snapshot(*with_fp, "shop/kbk-mover-1", {{"k", "v"}}, "nightly-2");
  uint64_t stored_bytes = 0;
  REQUIRE((*r)->save_snapshot(fast, &stored_bytes));
  CHECK(stored_bytes > 0);
  auto again = (*r)->list_snapshots();
  REQUIRE(again);
  auto found = repo::Repository::find_snapshot(*again, repo::to_hex(fast.id));
  REQUIRE(found);
  CHECK(found->tree == with_fp->tree);
  REQUIRE(found->parent);
  CHECK(*found->parent == with_fp->id);
  CHECK(found->path == "shop/data");
  CHECK(found->backup == std::optional<std::string>("nightly-2"));
  CHECK(found->summary.files == 2);
  CHECK(found->summary.files_unchanged == 2);
  CHECK(found->summary.bytes_total == 300005);
  CHECK(found->summary.bytes_read == 0);
  CHECK(found->summary.bytes_new == 0);
  REQUIRE(found->fingerprint);
  CHECK(found->fingerprint->digest == f.digest);
  const fs::path out = dir.path / "out";
  REQUIRE(repo::restore_to_folder(**r, *found, out.string(), repo::RestoreOptions{}));
  CHECK(read(out / "a") == "alpha");
  CHECK(read(out / "d" / "b") == std::string(300000, 'b'));
}

TEST_CASE("the pod's fingerprint script (this host's find, stat, awk, sha256sum): every change changes the digest") {
  TempDir dir;
  const fs::path v = dir.path / "v";
  fs::create_directories(v / "sub");
  write(v / "file", "contents 1");
  write(v / "sub" / "other", "other");
  write(v / "gone", "x");
  // Wait until every change time is more than 1 s before the digest's start, so it may be recorded.
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  auto base = parse_fingerprint_line(run_script(v));
  REQUIRE(base);
  CHECK(fingerprint_recordable(*base));
  auto again = parse_fingerprint_line(run_script(v));
  REQUIRE(again);
  CHECK(again->digest == base->digest);  // unchanged: the same digest
  auto without_inode = parse_fingerprint_line(run_script(v, "n"));
  REQUIRE(without_inode);
  CHECK(without_inode->digest != base->digest);

  struct stat st {};
  REQUIRE(::stat((v / "file").c_str(), &st) == 0);
  std::string last = base->digest;
  auto changed = [&](const char* what) {
    INFO(what);
    auto p = parse_fingerprint_line(run_script(v));
    REQUIRE(p);
    CHECK(p->digest != last);
    CHECK_FALSE(fingerprint_recordable(*p));  // just changed: racy
    last = p->digest;
  };
  // The same size and modification time given back: only the change time tells.
  write(v / "file", "contents 2");
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, (v / "file").c_str(), times, 0) == 0);
  changed("rewritten, same size and mtime");
  REQUIRE(::chmod((v / "file").c_str(), 0600) == 0);
  changed("chmod");
  REQUIRE(::utimensat(AT_FDCWD, (v / "sub" / "other").c_str(), nullptr, 0) == 0);
  changed("touch");
  write(v / "sub" / "new-empty", "");
  changed("a new empty file");
  fs::remove(v / "gone");
  changed("a removed file");

  // Not a folder: no fingerprint, the mover runs.
  CHECK_FALSE(parse_fingerprint_line(run_script(dir.path / "missing")));
}
