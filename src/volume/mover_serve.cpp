// `kbk mover serve`: the pod side of the in-pod mover (docs/mover.md). Frames on stdin/stdout, log lines on stderr.
// The repository is opened through kbk (RemoteBackend); with an s3:// location the packs go to and come from the bucket
// directly (SplitBackend, docs/mover.md section 6), with credentials kbk sent over stdin and refreshes on request.
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
#include <kbk/storage/aws.hpp>
#include <kbk/storage/s3.hpp>
#include <kbk/util/fs.hpp>
#include <kbk/util/lazy_library.hpp>
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

// S3 credentials as kbk sent them; when S3 refuses them as expired, fresh ones are asked from kbk (one request).
class CredentialsViaKbk final : public storage::aws::CredentialsProvider {
public:
  CredentialsViaKbk(protocol::RemoteBackend& kbk, storage::sigv4::Credentials first, std::string source)
      : m_kbk(kbk), m_current(std::move(first)), m_source(std::move(source)) {}
  Result<storage::sigv4::Credentials> get() override {
    std::lock_guard lock(m_mutex);
    return m_current;
  }
  std::string source() const override { return "kbk (" + m_source + ")"; }
  // Uploaders refused at once ask one at a time: the first asks kbk, the others find its answer.
  bool invalidate(const std::string& rejected) override {
    std::lock_guard one(m_refresh);
    {
      std::lock_guard lock(m_mutex);
      if (!rejected.empty() && rejected != m_current.access_key_id) return true;  // another thread got new ones
    }
    auto fresh = m_kbk.fresh_credentials(rejected);
    if (!fresh) {
      log::warning("mover: kbk could not refresh the S3 credentials: " + fresh.error().message);
      return false;
    }
    std::lock_guard lock(m_mutex);
    const bool changed = fresh->access_key_id != rejected;
    m_current = std::move(*fresh);
    return changed;
  }

private:
  protocol::RemoteBackend& m_kbk;
  std::mutex m_refresh;
  mutable std::mutex m_mutex;
  storage::sigv4::Credentials m_current;
  std::string m_source;
};

// The repository through kbk, but its packs (data/) in the bucket directly.
class SplitBackend final : public storage::Backend {
public:
  SplitBackend(storage::Backend& kbk, std::unique_ptr<storage::Backend> bucket)
      : m_kbk(kbk), m_bucket(std::move(bucket)), m_data(std::string(repo::k_prefix) + "data/") {}
  uint64_t bytes_uploaded() const { return m_up; }
  uint64_t bytes_downloaded() const { return m_down; }

  std::string display_url() const override { return m_bucket->display_url(); }
  Result<void> put(const std::string& key, std::string_view data, const storage::PutOptions& o) override {
    if (!pack(key)) return m_kbk.put(key, data, o);
    KBK_TRY(m_bucket->put(key, data, o));
    m_up += data.size();
    return {};
  }
  Result<std::unique_ptr<storage::Writer>> put_stream(const std::string& key, const storage::PutOptions& o) override {
    return of(key).put_stream(key, o);
  }
  Result<std::string> get(const std::string& key) override {
    KBK_ASSIGN_OR_RETURN(std::string r, of(key).get(key));
    if (pack(key)) m_down += r.size();
    return r;
  }
  Result<std::unique_ptr<storage::Reader>> get_stream(const std::string& key, uint64_t offset, uint64_t length) override {
    if (!pack(key)) return m_kbk.get_stream(key, offset, length);
    KBK_ASSIGN_OR_RETURN(auto r, m_bucket->get_stream(key, offset, length));
    return std::unique_ptr<storage::Reader>(std::make_unique<Counted>(std::move(r), m_down));
  }
  Result<std::string> get_range(const std::string& key, uint64_t offset, uint64_t length) override {
    KBK_ASSIGN_OR_RETURN(std::string r, of(key).get_range(key, offset, length));
    if (pack(key)) m_down += r.size();
    return r;
  }
  Result<std::optional<storage::ObjectInfo>> stat(const std::string& key) override { return of(key).stat(key); }
  Result<void> list(const std::string& prefix,
                    const std::function<Result<void>(const storage::ObjectInfo&)>& f) override {
    return of(prefix).list(prefix, f);
  }
  Result<std::vector<std::string>> list_prefixes(const std::string& prefix) override {
    return m_kbk.list_prefixes(prefix);
  }
  Result<void> remove(const std::string& key) override { return m_kbk.remove(key); }
  Result<void> remove_many(const std::vector<std::string>& keys) override { return m_kbk.remove_many(keys); }
  Result<uint64_t> cleanup_incomplete(std::chrono::seconds, const std::string&) override { return 0; }

private:
  class Counted final : public storage::Reader {
  public:
    Counted(std::unique_ptr<storage::Reader> r, std::atomic<uint64_t>& n) : m_r(std::move(r)), m_n(n) {}
    Result<size_t> read(char* buffer, size_t size) override {
      KBK_ASSIGN_OR_RETURN(size_t k, m_r->read(buffer, size));
      m_n += k;
      return k;
    }

  private:
    std::unique_ptr<storage::Reader> m_r;
    std::atomic<uint64_t>& m_n;
  };
  bool pack(const std::string& key) const { return util::starts_with(key, m_data); }
  storage::Backend& of(const std::string& key) { return pack(key) ? *m_bucket : m_kbk; }

  storage::Backend& m_kbk;
  std::unique_ptr<storage::Backend> m_bucket;
  std::string m_data;
  std::atomic<uint64_t> m_up{0}, m_down{0};
};

// The bucket as start's s3 member describes it, with the credentials it carries.
Result<std::unique_ptr<SplitBackend>> open_bucket(const json::Value& s3, protocol::RemoteBackend& kbk) {
  KBK_ASSIGN_OR_RETURN(storage::S3Access access, protocol::s3_access_of(s3));
  KBK_ASSIGN_OR_RETURN(auto creds, protocol::credentials_of(s3));
  const json::Value* c = json::find(s3, "credentials");
  access.credentials = std::make_shared<CredentialsViaKbk>(kbk, std::move(creds),
                                                           c ? json::get_string(*c, {"source"}, "kbk") : "kbk");
  if (!util::lazy_library_available(util::k_libcurl_soname))
    return unexpected(Errc::unsupported, std::string(util::k_libcurl_soname) +
                                             " cannot be loaded in the pod: the bundle was made without it");
  KBK_ASSIGN_OR_RETURN(auto bucket, storage::make_s3_backend(access));
  return std::make_unique<SplitBackend>(kbk, std::move(bucket));
}

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

// The claim's volume must be mounted at PATH: a folder that is only part of the container's own tree (a pod spec a
// webhook changed, a runtime that dropped the mount) would back up as empty, or take a restore's files and lose them
// with the pod, and both would report success. Where the mount table cannot be read, nothing is checked.
Result<void> require_mounted(const std::string& path) {
  auto table = util::read_file("/proc/self/mountinfo", 16u << 20);
  if (!table || table->empty() || protocol::mount_point_listed(*table, path)) return {};
  // Errc::io, not precondition: kbk must fail the volume, not fall back to tar, which would meet the same folder.
  return unexpected(Errc::io, "nothing is mounted at " + path +
                                            " in the helper pod (the claim's volume is not in its mount table)");
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
  KBK_TRY(require_mounted(path));
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return unexpected(Errc::io, path + ": " + std::strerror(errno));
  // The metadata fingerprint kbk took before this walk, when it may be recorded (docs/mover.md section 3); the root
  // as seen now, so a snapshot written later without a mover can report it.
  if (const json::Value* fp = json::find(start, "fingerprint"); fp && fp->IsObject()) {
    const json::Value* ver = json::find(*fp, "version");
    repo::SnapshotFingerprint f;
    f.digest = json::get_string(*fp, {"digest"});
    f.inode = flag(*fp, "inode");
    if (ver && ver->IsInt() && repo::parse_id(f.digest)) {
      f.version = ver->GetInt();
      f.root.uid = st.st_uid;
      f.root.gid = st.st_gid;
      f.root.mode = st.st_mode & 07777;
      f.root.mtime = st.st_mtim.tv_sec;
      f.root.mtime_nsec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
      bo.fingerprint = std::move(f);
    }
  }
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
  KBK_TRY(require_mounted(path));
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

  std::unique_ptr<SplitBackend> split;
  auto result = [&]() -> Result<json::Document> {
    KBK_ASSIGN_OR_RETURN(auto key, key_of(*start));
    storage::Backend* store = &backend;
    if (const json::Value* s3 = json::find(*start, "s3"); s3 && s3->IsObject()) {
      KBK_ASSIGN_OR_RETURN(split, open_bucket(*s3, backend));
      store = split.get();
    }
    // Where the mover's time goes (the result's "seconds"; kbk logs it at -v 2): opening the repository (config,
    // keys), loading its index, and the operation itself (a backup's walk, reads and commit).
    using Clock = std::chrono::steady_clock;
    auto since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
    auto t = Clock::now();
    repo::OpenOptions oo;
    oo.key = key ? &*key : nullptr;
    KBK_ASSIGN_OR_RETURN(auto repo, repo::Repository::open(*store, oo));
    const double open_s = since(t);
    t = Clock::now();
    KBK_TRY(repo->load_index());
    const double index_s = since(t);
    t = Clock::now();
    const std::string op = json::get_string(*start, {"op"});
    FrameProgress progress(out);
    json::Document d;
    if (op == "backup") {
      KBK_ASSIGN_OR_RETURN(d, run_backup(*start, *repo, progress));
    } else if (op == "restore") {
      KBK_ASSIGN_OR_RETURN(d, run_restore(*start, *repo));
    } else {
      return unexpected(Errc::bad_request, "unknown mover operation " + util::printable(op));
    }
    {
      auto& a = d.GetAllocator();
      json::Value secs(rapidjson::kObjectType);
      json::set(secs, "open", json::Value(open_s), a);
      json::set(secs, "index", json::Value(index_s), a);
      json::set(secs, "run", json::Value(since(t)), a);
      json::set(d, "seconds", std::move(secs), a);
    }
    // What the mover moved to and from the bucket itself (not through kbk).
    if (split) {
      json::Value& sum = json::ensure_object(d, "summary", d.GetAllocator());
      json::set(sum, "bytesToStorage", json::Value(split->bytes_uploaded()), d.GetAllocator());
      json::set(sum, "bytesFromStorage", json::Value(split->bytes_downloaded()), d.GetAllocator());
    }
    return d;
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
