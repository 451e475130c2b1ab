// The exec + tar mover (mover.hpp): tar in the pod, the repository on this host, a socket pair between the exec
// stream and libarchive. Flow control end to end: the exec sink blocks while the socket is full, and the socket
// fills while the repository is busy (hashing, compressing, uploading), so memory stays bounded.
#include <kbk/volume/mover.hpp>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <mutex>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <kbk/repo/operations.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/volume/cluster.hpp>

namespace kbk::volume {

const char* const k_tar_create_script =
    "cd \"$1\" || exit 2\n"
    "printf 'kbk-root %s\\n' \"$(stat -c '%u %g %a %.9Y' . 2>/dev/null || stat -c '%u %g %a %Y' . 2>/dev/null)\" >&2\n"
    "if tar --version 2>/dev/null | grep -q 'GNU tar'; then\n"
    "  exec tar -c -f - --numeric-owner --sparse --format=posix --pax-option=delete=atime,delete=ctime .\n"
    "fi\n"
    "exec tar -c -f - .\n";

const char* const k_tar_extract_script =
    "cd \"$1\" || exit 2\n"
    "if tar --version 2>/dev/null | grep -q 'GNU tar'; then echo 'kbk-tar gnu' >&2; else echo 'kbk-tar other' >&2; fi\n"
    "if tar --version 2>/dev/null | grep -q 'GNU tar'; then\n"
    "  if [ \"$2\" = 1 ]; then tar -x -f - --numeric-owner --same-owner -p; else tar -x -f - --no-same-owner -p; fi\n"
    "else\n"
    "  if [ \"$2\" = 1 ]; then tar -x -f - -p; else tar -x -f - -o -p; fi\n"
    "fi\n"
    "rc=$?\n"
    "if [ \"$3\" != - ]; then\n"
    "  if [ \"$2\" = 1 ]; then chown \"$3:$4\" . || rc=2; fi\n"
    "  chmod \"$5\" . 2>/dev/null || echo \"kbk: cannot set the mode of the volume root\" >&2\n"
    "  touch -d \"@$6\" . 2>/dev/null || touch -d \"@${6%.*}\" . 2>/dev/null || true\n"
    "fi\n"
    "exit $rc\n";

kube::ExecRequest mover_exec_request(const MoverTarget& target, std::vector<std::string> argv, double stall_timeout,
                                     const std::vector<std::string>& protocols) {
  kube::ExecRequest req;
  req.namespace_ = target.namespace_;
  req.pod = target.pod;
  req.container = target.container;
  req.command = std::move(argv);
  req.stdout_ = true;
  req.stderr_ = true;
  req.stall_timeout_seconds = stall_timeout;
  if (!protocols.empty()) req.protocols = protocols;
  return req;
}

std::string MoverTarget::display() const {
  return "pod " + namespace_ + "/" + pod + (container.empty() ? "" : " container " + container) + " path " + path;
}

namespace {

void ignore_sigpipe() {
  static std::once_flag once;
  std::call_once(once, [] { ::signal(SIGPIPE, SIG_IGN); });
}

struct SocketPair {
  int fd[2] = {-1, -1};
  SocketPair() {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) != 0) fd[0] = fd[1] = -1;
  }
  ~SocketPair() {
    for (int& f : fd) close_end(f);
  }
  bool ok() const { return fd[0] >= 0; }
  static void close_end(int& f) {
    if (f >= 0) ::close(f);
    f = -1;
  }
};

Result<void> send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return unexpected(Errc::io, std::string("the repository stopped reading: ") + std::strerror(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

// The first line (the kbk-root marker) and the end of the command's stderr.
class StderrKeeper {
public:
  void add(std::string_view s) {
    {
      std::lock_guard lock(m_mutex);
      if (m_head.size() < 4096) m_head.append(s.substr(0, 4096 - m_head.size()));
      m_tail.append(s);
      if (m_tail.size() > 32768) m_tail.erase(0, m_tail.size() - 16384);
    }
    m_cv.notify_all();
  }
  // Whether the extract script said its tar is GNU tar (which extracts sparse entries with holes); waits for the
  // `kbk-tar` line at most `seconds`.
  bool gnu_tar(double seconds) {
    std::unique_lock lock(m_mutex);
    m_cv.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return m_head.find("kbk-tar ") != std::string::npos; });
    return m_head.find("kbk-tar gnu\n") != std::string::npos;
  }
  RootMeta root() const {
    std::lock_guard lock(m_mutex);
    RootMeta r;
    auto pos = m_head.find("kbk-root ");
    if (pos == std::string::npos) return r;
    auto end = m_head.find('\n', pos);
    auto parts = util::split(m_head.substr(pos + 9, end == std::string::npos ? std::string::npos : end - pos - 9), ' ');
    if (parts.size() != 4) return r;
    char* e = nullptr;
    r.uid = static_cast<uint32_t>(std::strtoul(parts[0].c_str(), &e, 10));
    r.gid = static_cast<uint32_t>(std::strtoul(parts[1].c_str(), &e, 10));
    r.mode = static_cast<uint32_t>(std::strtoul(parts[2].c_str(), &e, 8));
    r.mtime = std::strtoll(parts[3].c_str(), &e, 10);
    if (e && *e == '.') {
      std::string frac = std::string(e + 1).substr(0, 9);
      if (!frac.empty() && frac.find_first_not_of("0123456789") == std::string::npos) {
        frac.resize(9, '0');
        r.mtime_nsec = static_cast<uint32_t>(std::strtoul(frac.c_str(), nullptr, 10));
      }
    }
    r.known = true;
    return r;
  }
  // The command's own lines (not the marker), the last ones first trimmed to one line for messages.
  std::vector<std::string> lines() const {
    std::lock_guard lock(m_mutex);
    std::vector<std::string> out;
    for (auto& l : util::split(m_tail, '\n'))
      if (!util::starts_with(l, "kbk-root ") && !util::starts_with(l, "kbk-tar ")) out.push_back(std::string(util::trim(l)));
    return out;
  }
  std::string last_line() const {
    auto l = lines();
    return l.empty() ? "" : l.back();
  }

private:
  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  std::string m_head, m_tail;
};

class ExecTarMover final : public Mover {
public:
  ExecTarMover(kube::Client& client, ExecTarOptions options) : m_client(client), m_options(std::move(options)) {
    ignore_sigpipe();
  }
  std::string name() const override { return "exec-tar"; }

  Result<MoveStats> backup(const MoverTarget& target, repo::Repository& repo, const SnapshotLabels& labels, Live live,
                           const std::function<void(uint64_t)>& on_bytes) override {
    const auto start = std::chrono::steady_clock::now();
    KBK_TRY(repo.ensure_index());  // the stream's blobs are deduplicated against it
    SocketPair sp;
    if (!sp.ok()) return unexpected(Errc::io, std::string("socketpair: ") + std::strerror(errno));
    auto stderr_keeper = std::make_shared<StderrKeeper>();
    kube::ExecRequest req = request(target, {"sh", "-c", k_tar_create_script, "kbk-mover", target.path});
    int write_fd = sp.fd[1];
    req.on_stdout = [write_fd, &on_bytes](std::string_view data) -> Result<void> {
      if (on_bytes) on_bytes(data.size());
      return send_all(write_fd, data);
    };
    req.on_stderr = [stderr_keeper](std::string_view data) -> Result<void> {
      stderr_keeper->add(data);
      return {};
    };

    // The repository reads the stream on its own thread (libarchive pulls from the socket).
    repo::BackupOptions bo;
    bo.backup = labels.backup;
    bo.tags = labels.tags;
    bo.workers = m_options.repo_workers;
    Result<repo::BackupResult> stored = unexpected(Errc::internal_error, "not run");
    int read_fd = sp.fd[0];
    std::thread reader([&] {
      stored = repo::backup_tar(repo, read_fd, labels.name, bo);
      // Drain what follows the archive's end (tar pads to its record size) so the sender never blocks on it.
      char sink[65536];
      while (::recv(read_fd, sink, sizeof sink, 0) > 0) {
      }
      ::shutdown(read_fd, SHUT_RDWR);
    });

    auto session = m_client.exec(req);
    Result<kube::ExecStatus> status = unexpected(Errc::internal_error, "not run");
    if (!session) {
      status = std::move(session).error();
    } else {
      SessionGuard guard(session->get());
      status = (*session)->wait();
    }
    ::shutdown(write_fd, SHUT_WR);
    reader.join();

    if (!status) {
      // A stream cut on a tar record's boundary reads as a whole archive: what it stored is not the volume.
      if (stored)
        if (auto f = repo.backend().remove(repo.snapshot_key(stored->snapshot.id)); !f)
          log::warning("repository snapshot " + repo::to_hex(stored->snapshot.id) + " of a cut stream stays: " +
                       f.error().message);
      return std::move(status).error().wrap("reading " + target.display());
    }
    MoveStats stats;
    stats.stream_bytes = status->stdout_bytes;
    stats.root = stderr_keeper->root();
    const int code = status->exit_code;
    if (code == 127 || code == 126)
      return unexpected(Errc::precondition, target.display() + ": the container cannot run sh and tar (exit " +
                                                std::to_string(code) + "): " + stderr_keeper->last_line() +
                                                "; use --mover-image with an image that has them");
    // GNU tar: 1 = some files changed while being read (expected when reading a live volume), 2 = fatal.
    if (code == 1 && live == Live::yes) {
      for (const auto& l : stderr_keeper->lines())
        if (!l.empty()) stats.warnings.push_back(l);
    } else if (code != 0) {
      std::string why = stderr_keeper->last_line();
      return unexpected(Errc::io, "tar in " + target.display() + " failed (exit " + std::to_string(code) + ")" +
                                      (why.empty() ? "" : ": " + why));
    }
    if (!stored) return std::move(stored).error().wrap("storing the tar stream of " + target.display());
    stats.snapshot = repo::to_hex(stored->snapshot.id);
    const auto& sum = stored->snapshot.summary;
    stats.bytes = sum.bytes_total;
    stats.files = sum.files;
    stats.new_bytes = sum.bytes_new;
    stats.stored_bytes = sum.bytes_stored;
    stats.kind = "tar";
    stats.bytes_read_in_pod = sum.bytes_total;  // tar reads every file
    stats.bytes_through_host = status->stdout_bytes + status->stderr_bytes;
    stats.bytes_uploaded = sum.bytes_stored;
    for (auto& w : stored->warnings) stats.warnings.push_back(std::move(w));
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return stats;
  }

  Result<MoveStats> restore(const MoverTarget& target, repo::Repository& repo, const repo::Snapshot& snapshot,
                            const RootMeta& root, bool owners, const std::function<void(uint64_t)>& on_bytes) override {
    const auto start = std::chrono::steady_clock::now();
    KBK_TRY(repo.ensure_index());  // the snapshot's blobs are found through it
    SocketPair sp;
    if (!sp.ok()) return unexpected(Errc::io, std::string("socketpair: ") + std::strerror(errno));
    auto stderr_keeper = std::make_shared<StderrKeeper>();
    std::vector<std::string> argv = {"sh", "-c", k_tar_extract_script, "kbk-mover", target.path, owners ? "1" : "0"};
    if (root.known) {
      for (auto v : {std::to_string(root.uid), std::to_string(root.gid)}) argv.push_back(v);
      char mode[16];
      std::snprintf(mode, sizeof mode, "%o", root.mode & 07777);
      argv.push_back(mode);
      char when[48];
      std::snprintf(when, sizeof when, "%lld.%09u", static_cast<long long>(root.mtime), root.mtime_nsec);
      argv.push_back(when);
    } else {
      argv.insert(argv.end(), {"-", "-", "-", "-"});
    }
    kube::ExecRequest req = request(target, argv);
    req.stdin_ = true;
    req.stdout_ = true;
    req.on_stdout = [](std::string_view) -> Result<void> { return {}; };
    req.on_stderr = [stderr_keeper](std::string_view data) -> Result<void> {
      stderr_keeper->add(data);
      return {};
    };
    auto session = m_client.exec(req);
    if (!session) return std::move(session).error().wrap("writing " + target.display());
    SessionGuard guard(session->get());

    Result<repo::RestoreResult> produced = unexpected(Errc::internal_error, "not run");
    int write_fd = sp.fd[1];
    // Sparse entries only over v5: a v4 restore (1.21) sends what it always did.
    const bool sparse = (*session)->can_close_stdin() && stderr_keeper->gnu_tar(m_options.stall_timeout_seconds);
    std::thread producer([&] {
      repo::RestoreOptions ro;
      ro.workers = m_options.repo_workers;
      ro.sparse = sparse;
      produced = repo::restore_to_tar(repo, snapshot, write_fd, ro);
      ::shutdown(write_fd, SHUT_WR);
    });
    Result<void> fed;
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::recv(sp.fd[0], buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (on_bytes) on_bytes(static_cast<uint64_t>(n));
      fed = (*session)->write_stdin(std::string_view(buf, static_cast<size_t>(n)));
      if (!fed) break;
    }
    // Stop the producer should the stream have failed (it then gets EPIPE), and wait for it.
    ::shutdown(sp.fd[0], SHUT_RDWR);
    producer.join();
    // v5: the command sees the end of its input. v4 cannot say so: tar stops at the archive's end by itself.
    if (fed && (*session)->can_close_stdin()) fed = (*session)->close_stdin();
    auto status = (*session)->wait();
    if (!status) return std::move(status).error().wrap("writing " + target.display());
    if (!produced) return std::move(produced).error().wrap("reading snapshot " + repo::to_hex(snapshot.id));
    if (!fed && status->exit_code == 0) return std::move(fed).error().wrap("writing " + target.display());
    if (status->exit_code == 127 || status->exit_code == 126)
      return unexpected(Errc::precondition, target.display() + ": the container cannot run sh and tar (exit " +
                                                std::to_string(status->exit_code) + "): " + stderr_keeper->last_line());
    if (status->exit_code != 0) {
      std::string why = stderr_keeper->last_line();
      return unexpected(Errc::io, "tar in " + target.display() + " failed (exit " + std::to_string(status->exit_code) +
                                      ")" + (why.empty() ? "" : ": " + why));
    }
    MoveStats stats;
    stats.stream_bytes = status->stdin_bytes;
    stats.kind = "tar";
    stats.bytes_through_host = status->stdin_bytes;
    stats.bytes = produced->bytes;
    stats.files = produced->files;
    for (const auto& l : stderr_keeper->lines())
      if (!l.empty()) stats.warnings.push_back(l);
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return stats;
  }

private:
  kube::ExecRequest request(const MoverTarget& target, std::vector<std::string> argv) const {
    return mover_exec_request(target, std::move(argv), m_options.stall_timeout_seconds, m_options.protocols);
  }

  kube::Client& m_client;
  ExecTarOptions m_options;
};

}  // namespace

std::unique_ptr<Mover> make_exec_tar_mover(kube::Client& client, ExecTarOptions options) {
  return std::make_unique<ExecTarMover>(client, std::move(options));
}

}  // namespace kbk::volume
