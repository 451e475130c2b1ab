// `kbk mover serve`: the pod side of the in-pod mover (docs/mover.md). Frames on stdin/stdout, log lines on stderr.
// The repository is opened through kbk (RemoteBackend): the mover holds no location credentials of its own.
#include <kbk/volume/kbk_mover.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <thread>
#include <unistd.h>

#include <kbk/repo/operations.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

#include "mover_protocol.hpp"

namespace kbk::volume {

namespace {

using protocol::Frame;
using protocol::Type;

Result<void> write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return unexpected(Errc::io, std::string("writing to kbk: ") + std::strerror(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

class FrameOut {
public:
  explicit FrameOut(int fd) : m_fd(fd) {}
  Result<void> send_bytes(const std::string& bytes) {
    std::lock_guard lock(m_mutex);
    return write_all(m_fd, bytes);
  }
  Result<void> send(Type type, const json::Value& header) {
    Frame f;
    f.type = type;
    f.header = json::to_string(header);
    return send_bytes(protocol::encode(f));
  }

private:
  int m_fd;
  std::mutex m_mutex;
};

// Progress frames, at most every 500 ms.
class FrameProgress final : public util::ProgressSink {
public:
  explicit FrameProgress(FrameOut& out) : m_out(out) {}
  void update(const util::ProgressState& s) override { send(s, false); }
  void finish(const util::ProgressState& s) override { send(s, true); }

private:
  void send(const util::ProgressState& s, bool force) {
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(m_mutex);
      if (!force && now - m_last < std::chrono::milliseconds(500)) return;
      m_last = now;
    }
    json::Document d;
    d.SetObject();
    auto& a = d.GetAllocator();
    json::set(d, "files", json::Value(static_cast<uint64_t>(s.items_done)), a);
    json::set(d, "bytesRead", json::Value(static_cast<uint64_t>(s.bytes_done)), a);
    json::set(d, "bytesTotal", json::Value(static_cast<uint64_t>(s.bytes_total)), a);
    (void)m_out.send(Type::progress, d);
  }
  FrameOut& m_out;
  std::mutex m_mutex;
  std::chrono::steady_clock::time_point m_last{};
};

bool flag(const json::Value& v, const char* key) {
  const json::Value* f = json::find(v, key);
  return f && f->IsBool() && f->GetBool();
}
uint64_t u64(const json::Value& v, const char* key) {
  const json::Value* f = json::find(v, key);
  return f && f->IsUint64() ? f->GetUint64() : 0;
}

std::optional<repo::Snapshot> snapshot_ref(const json::Value& start, const char* key) {
  const json::Value* s = json::find(start, key);
  if (!s || !s->IsObject()) return std::nullopt;
  auto id = repo::parse_id(json::get_string(*s, {"id"}));
  auto tree = repo::parse_id(json::get_string(*s, {"tree"}));
  if (!id || !tree) return std::nullopt;
  repo::Snapshot snap;
  snap.id = *id;
  snap.tree = *tree;
  return snap;
}

Result<std::optional<crypto::UserKey>> key_of(const json::Value& start) {
  const json::Value* k = json::find(start, "key");
  if (!k || !k->IsObject()) return std::optional<crypto::UserKey>();
  crypto::UserKey key;
  const std::string kind = json::get_string(*k, {"kind"});
  if (kind == "passphrase") {
    key.kind = crypto::UserKey::Kind::passphrase;
    key.passphrase = json::get_string(*k, {"value"});
  } else {
    auto bytes = util::base64_decode(json::get_string(*k, {"value"}));
    if (!bytes || bytes->size() != 32) return unexpected(Errc::config, "the start frame's key is not a 32-byte key");
    key.kind = crypto::UserKey::Kind::key;
    key.key = crypto::SecretKey(std::move(*bytes));
  }
  return std::optional<crypto::UserKey>(std::move(key));
}

void set_root(json::Document& d, const struct stat& st) {
  auto& a = d.GetAllocator();
  json::Value root(rapidjson::kObjectType);
  json::set(root, "uid", json::Value(static_cast<uint64_t>(st.st_uid)), a);
  json::set(root, "gid", json::Value(static_cast<uint64_t>(st.st_gid)), a);
  json::set(root, "mode", json::Value(static_cast<uint64_t>(st.st_mode & 07777)), a);
  json::set(root, "mtime", json::Value(static_cast<int64_t>(st.st_mtim.tv_sec)), a);
  json::set(root, "mtimeNsec", json::Value(static_cast<uint64_t>(st.st_mtim.tv_nsec)), a);
  json::set(d, "root", std::move(root), a);
}

Result<json::Document> run_backup(const json::Value& start, repo::Repository& repo, util::ProgressSink& progress) {
  const std::string path = json::get_string(start, {"path"}, "/data");
  repo::BackupOptions bo;
  bo.name = json::get_string(start, {"name"});
  if (const json::Value* b = json::find(start, "backup"); b && b->IsString()) bo.backup = b->GetString();
  if (const json::Value* t = json::find(start, "tags"); t && t->IsArray())
    for (const auto& pair : t->GetArray())
      if (pair.IsArray() && pair.Size() == 2 && pair[0].IsString() && pair[1].IsString())
        bo.tags.emplace_back(pair[0].GetString(), pair[1].GetString());
  bo.host = json::get_string(start, {"host"});
  bo.parent = snapshot_ref(start, "parent");
  bo.ignore_inode = flag(start, "ignoreInode");
  bo.ignore_ctime = flag(start, "ignoreCtime");
  if (uint64_t w = u64(start, "workers"); w > 0 && w <= 64) bo.workers = static_cast<int>(w);
  bo.progress = &progress;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return unexpected(Errc::io, path + ": " + std::strerror(errno));
  KBK_ASSIGN_OR_RETURN(repo::BackupResult r, repo::backup_folder(repo, path, bo));
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  json::set(d, "ok", json::Value(true), a);
  json::set(d, "snapshot", json::make_string(repo::to_hex(r.snapshot.id), a), a);
  const auto& s = r.snapshot.summary;
  json::Value sum(rapidjson::kObjectType);
  json::set(sum, "files", json::Value(s.files), a);
  json::set(sum, "filesUnchanged", json::Value(s.files_unchanged), a);
  json::set(sum, "bytesRead", json::Value(s.bytes_read), a);
  json::set(sum, "bytesTotal", json::Value(s.bytes_total), a);
  json::set(sum, "bytesNew", json::Value(s.bytes_new), a);
  json::set(sum, "bytesStored", json::Value(s.bytes_stored), a);
  json::set(d, "summary", std::move(sum), a);
  set_root(d, st);
  json::Value warnings(rapidjson::kArrayType);
  for (const auto& w : r.warnings) warnings.PushBack(json::make_string(w, a), a);
  json::set(d, "warnings", std::move(warnings), a);
  return d;
}

Result<json::Document> run_restore(const json::Value& start, repo::Repository& repo) {
  const std::string path = json::get_string(start, {"path"}, "/data");
  auto snap = snapshot_ref(start, "snapshot");
  if (!snap) return unexpected(Errc::bad_request, "the start frame names no snapshot to restore");
  repo::RestoreOptions ro;
  ro.owners = flag(start, "owners");
  if (uint64_t w = u64(start, "workers"); w > 0 && w <= 64) ro.workers = static_cast<int>(w);
  KBK_ASSIGN_OR_RETURN(repo::RestoreResult r, repo::restore_to_folder(repo, *snap, path, ro));
  std::vector<std::string> warnings = r.warnings;
  // The folder's own metadata (the volume root is not in the snapshot's tree).
  if (const json::Value* root = json::find(start, "root"); root && root->IsObject()) {
    if (ro.owners && ::chown(path.c_str(), static_cast<uid_t>(u64(*root, "uid")), static_cast<gid_t>(u64(*root, "gid"))) != 0)
      warnings.push_back("chown " + path + ": " + std::strerror(errno));
    if (::chmod(path.c_str(), static_cast<mode_t>(u64(*root, "mode") & 07777)) != 0)
      warnings.push_back("cannot set the mode of the volume root: " + std::string(std::strerror(errno)));
    struct timespec ts[2];
    ts[0].tv_sec = 0;
    ts[0].tv_nsec = UTIME_OMIT;
    const json::Value* m = json::find(*root, "mtime");
    ts[1].tv_sec = m && m->IsInt64() ? static_cast<time_t>(m->GetInt64()) : 0;
    ts[1].tv_nsec = static_cast<long>(u64(*root, "mtimeNsec") % 1000000000);
    (void)::utimensat(AT_FDCWD, path.c_str(), ts, 0);
  }
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  json::set(d, "ok", json::Value(true), a);
  json::Value sum(rapidjson::kObjectType);
  json::set(sum, "files", json::Value(r.files), a);
  json::set(sum, "dirs", json::Value(r.dirs), a);
  json::set(sum, "bytesTotal", json::Value(r.bytes), a);
  json::set(d, "summary", std::move(sum), a);
  json::Value ws(rapidjson::kArrayType);
  for (const auto& w : warnings) ws.PushBack(json::make_string(w, a), a);
  json::set(d, "warnings", std::move(ws), a);
  return d;
}

}  // namespace

int serve_mover(int in_fd, int out_fd) {
  ::signal(SIGPIPE, SIG_IGN);
  FrameOut out(out_fd);
  auto reader = [in_fd](char* buf, size_t n) -> Result<size_t> {
    for (;;) {
      ssize_t k = ::read(in_fd, buf, n);
      if (k < 0 && errno == EINTR) continue;
      if (k < 0) return unexpected(Errc::io, std::string("reading from kbk: ") + std::strerror(errno));
      return static_cast<size_t>(k);
    }
  };
  {
    struct utsname u {};
    ::uname(&u);
    json::Document hello;
    hello.SetObject();
    auto& a = hello.GetAllocator();
    json::set(hello, "protocol", json::Value(protocol::k_version), a);
    json::set(hello, "version", json::make_string(KBK_VERSION, a), a);
    json::set(hello, "arch", json::make_string(u.machine, a), a);
    if (!out.send(Type::hello, hello)) return 1;
  }
  auto first = protocol::read_frame(reader);
  if (!first || !*first) return 1;  // kbk went away before it started us
  if ((*first)->type == Type::cancel) return 130;
  if ((*first)->type != Type::start) {
    log::error("mover: the first frame from kbk is not a start frame");
    return 1;
  }
  auto start = json::parse((*first)->header, "start frame");
  if (!start || !start->IsObject()) {
    log::error("mover: the start frame is not a JSON object");
    return 1;
  }

  protocol::RemoteBackend backend([&out](const std::string& bytes) { return out.send_bytes(bytes); });
  std::atomic<bool> done{false};
  // Replies and cancellation: a cancel frame, or the end of the stream (kbk or its exec stream is gone), stops the
  // process at once; nothing more is written.
  std::thread in_thread([&] {
    for (;;) {
      auto f = protocol::read_frame(reader);
      if (!f || !*f) {
        if (done) return;
        ::_exit(130);
      }
      if ((*f)->type == Type::cancel) ::_exit(130);
      if ((*f)->type == Type::reply) backend.deliver(std::move(**f));
    }
  });
  in_thread.detach();

  auto result = [&]() -> Result<json::Document> {
    KBK_ASSIGN_OR_RETURN(auto key, key_of(*start));
    repo::OpenOptions oo;
    oo.key = key ? &*key : nullptr;
    KBK_ASSIGN_OR_RETURN(auto repo, repo::Repository::open(backend, oo));
    KBK_TRY(repo->load_index());
    const std::string op = json::get_string(*start, {"op"});
    FrameProgress progress(out);
    if (op == "backup") return run_backup(*start, *repo, progress);
    if (op == "restore") return run_restore(*start, *repo);
    return unexpected(Errc::bad_request, "unknown mover operation " + util::printable(op));
  }();
  done = true;
  json::Document doc = result ? std::move(*result) : protocol::error_header(result.error());
  auto sent = out.send(Type::result, doc);
  ::fsync(out_fd);
  // Threads may still wait on the stream; the result is out, so end here without unwinding them.
  std::fflush(stderr);
  ::_exit(sent && result ? 0 : 1);
}

}  // namespace kbk::volume
