// Backup of a folder or a tar stream into the repository. The reading thread walks the input, skips unchanged
// files against the parent snapshot (path, size, mtime, ctime, inode: restic's rule), cuts files into chunks
// (section 5 of docs/format-repository.md) and hands them to worker threads that hash, compress, encrypt and pack
// them (PackWriter uploads packs meanwhile). The queue between them is bounded in bytes. Trees are encoded bottom up
// once every chunk has an id; the snapshot is written after the packs and their index (section 11).
#include <kbk/repo/operations.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

namespace kbk::repo {
namespace {

constexpr size_t k_queue_bytes = 8u << 20;  // at least one max-size chunk is always admitted
constexpr size_t k_read_block = 4u << 20;

struct FileState {
  std::list<Id> ids;  // stable addresses for the workers; most files have one chunk, so no deque blocks
  uint64_t size = 0;
  std::string error;  // set by a worker that could not read a small file: the file is left out with a warning
};

// Hash/compress/encrypt workers fed through a queue bounded in bytes.
// Small files (below the chunker's minimum, most files of a folder) are queued by path and read by the workers, so
// their open/read/close run in parallel instead of on the walking thread.
class Pipeline {
public:
  Pipeline(Repository& repo, PackWriter& writer, const Cdc& cdc, std::atomic<uint64_t>& bytes_read, int workers)
      : m_repo(repo), m_writer(writer), m_cdc(cdc), m_bytes_read(bytes_read) {
    for (int i = 0; i < std::max(1, workers); ++i) m_threads.emplace_back([this] { run(); });
  }
  // Without finish(), the backup failed: queued work is dropped (the jobs running end before the threads join).
  ~Pipeline() {
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_queue.clear();
    }
    stop();
  }

  // Queues a chunk whose id goes to *slot. Blocks while the queue is full.
  Result<void> submit(std::string data, Id* slot) {
    const size_t n = data.size();
    return enqueue(Job{std::move(data), slot, {}, nullptr, 0, 0}, n);
  }
  // Queues a small file to be read by a worker; its chunk ids, size or read error go to *file.
  Result<void> submit_file(std::string path, uint64_t expected_size, FileState* file) {
    return enqueue(Job{{}, nullptr, std::move(path), file, expected_size, 0}, static_cast<size_t>(expected_size) + 256);
  }

  Result<void> finish() {
    {
      std::unique_lock<std::mutex> lock(m_mutex);
      m_space.wait(lock, [&] { return (m_queue.empty() && m_busy == 0) || m_error; });
    }
    stop();
    if (m_error) return unexpected(*m_error);
    return {};
  }

private:
  struct Job {
    std::string data;
    Id* slot;
    std::string path;  // a small file to read (then data and slot are unused)
    FileState* file;
    uint64_t expected = 0;  // the small file's size at its stat
    size_t bytes = 0;       // what it counts against the queue's bound
  };
  Result<void> enqueue(Job job, size_t bytes) {
    std::unique_lock<std::mutex> lock(m_mutex);
    m_space.wait(lock, [&] { return m_bytes < k_queue_bytes || m_error; });
    if (m_error) return unexpected(*m_error);
    m_bytes += bytes;
    job.bytes = bytes;
    m_queue.push_back(std::move(job));
    m_ready.notify_one();
    return {};
  }
  // Reads a small file whole and stores it as one chunk (or, when it grew past the minimum since its stat, as the
  // chunks the chunker cuts). Read errors are the file's, not the backup's.
  Result<void> read_file(const std::string& path, uint64_t expected_size, FileState& f) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      f.error = "cannot open " + path + ": " + std::strerror(errno);
      return {};
    }
    // Most files are read whole in one read (+1: EOF is seen without growing). One that grew past its stat size is
    // cut as it is read, so memory stays within a few maximum-size chunks however much it grew.
    std::string data(static_cast<size_t>(expected_size) + 1, '\0');
    size_t got = 0, at = 0;
    uint64_t total = 0;
    auto emit = [&](size_t len) -> Result<void> {
      const std::string_view chunk(data.data() + at, len);
      const Id id = m_repo.blob_id(chunk);
      f.ids.push_back(id);
      KBK_TRY(m_writer.add(BlobType::data, id, chunk));
      at += len;
      return {};
    };
    for (;;) {
      if (got == data.size()) {
        if (at > 0) {  // drop what is stored already
          data.erase(0, at);
          got -= at;
          at = 0;
          data.resize(std::max(data.size(), got + (64u << 10)));
        } else {
          data.resize(data.size() * 2 + 4096);
        }
      }
      ssize_t n = ::read(fd, data.data() + got, data.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        f.error = "reading " + path + ": " + std::strerror(errno);
        f.ids.clear();
        ::close(fd);
        return {};
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
      total += static_cast<uint64_t>(n);
      m_bytes_read += static_cast<uint64_t>(n);
      while (got - at >= m_cdc.max()) {
        auto r = emit(m_cdc.cut(reinterpret_cast<const unsigned char*>(data.data()) + at, got - at));
        if (!r) {
          ::close(fd);
          return r;
        }
      }
    }
    ::close(fd);
    f.size = total;
    while (at < got) KBK_TRY(emit(m_cdc.cut(reinterpret_cast<const unsigned char*>(data.data()) + at, got - at)));
    return {};
  }
  void stop() {
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_stop = true;
    }
    m_ready.notify_all();
    for (auto& t : m_threads)
      if (t.joinable()) t.join();
  }
  void run() {
    std::unique_lock<std::mutex> lock(m_mutex);
    for (;;) {
      m_ready.wait(lock, [&] { return m_stop || !m_queue.empty(); });
      if (m_queue.empty()) return;
      Job job = std::move(m_queue.front());
      m_queue.pop_front();
      const size_t n = job.bytes;
      ++m_busy;
      lock.unlock();
      Result<void> r;
      if (job.file) {
        r = read_file(job.path, job.expected, *job.file);
      } else {
        const Id id = m_repo.blob_id(job.data);
        *job.slot = id;
        auto added = m_writer.add(BlobType::data, id, job.data);
        if (!added) r = unexpected(added.error());
      }
      job = Job{};
      lock.lock();
      --m_busy;
      m_bytes -= n;
      if (!r && !m_error) m_error = r.error();
      m_space.notify_all();
    }
  }
  Repository& m_repo;
  PackWriter& m_writer;
  const Cdc& m_cdc;
  std::atomic<uint64_t>& m_bytes_read;
  std::mutex m_mutex;
  std::condition_variable m_ready, m_space;
  std::deque<Job> m_queue;
  size_t m_bytes = 0;
  int m_busy = 0;
  bool m_stop = false;
  std::optional<Error> m_error;
  std::vector<std::thread> m_threads;
};

// Cuts one file's bytes into chunks as they arrive.
class FileChunker {
public:
  FileChunker(Pipeline& pipe, const Cdc& cdc, const ChunkerParams& params, uint64_t expected_size, FileState& file)
      : m_pipe(pipe), m_cdc(cdc), m_file(file),
        m_fixed(expected_size >= params.large_file_size ? params.block_size : 0) {}

  Result<void> feed(const char* p, size_t n) {
    m_buf.append(p, n);
    return fed(n);
  }
  // Reads from fd straight into the buffer; returns bytes read (0 at the end).
  Result<size_t> read_from(int fd, size_t max) {
    const size_t old = m_buf.size();
    m_buf.resize(old + max);
    for (;;) {
      ssize_t n = ::read(fd, m_buf.data() + old, max);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        m_buf.resize(old);
        return unexpected(Errc::io, std::strerror(errno));
      }
      m_buf.resize(old + static_cast<size_t>(n));
      if (n > 0) KBK_TRY(fed(static_cast<size_t>(n)));
      return static_cast<size_t>(n);
    }
  }
  // A whole small file as one chunk, without copying it through the buffer.
  Result<void> whole(std::string data) {
    m_file.size += data.size();
    if (data.empty()) return {};
    m_file.ids.emplace_back();
    return m_pipe.submit(std::move(data), &m_file.ids.back());
  }
  Result<void> fed(size_t n) {
    m_file.size += n;
    const size_t need = m_fixed ? m_fixed : m_cdc.max();
    while (m_buf.size() - m_start >= need) KBK_TRY(emit_one(false));
    if (m_start > (4u << 20) || (m_start && m_start == m_buf.size())) {
      m_buf.erase(0, m_start);
      m_start = 0;
    }
    return {};
  }
  Result<void> zeros(uint64_t n) {
    static const std::string z(1u << 20, '\0');
    while (n) {
      const size_t k = static_cast<size_t>(std::min<uint64_t>(n, z.size()));
      KBK_TRY(feed(z.data(), k));
      n -= k;
    }
    return {};
  }
  Result<void> finish() {
    while (m_buf.size() > m_start) KBK_TRY(emit_one(true));
    return {};
  }

private:
  Result<void> emit_one(bool at_end) {
    const size_t avail = m_buf.size() - m_start;
    size_t len;
    if (m_fixed) len = std::min<size_t>(avail, m_fixed);
    else len = m_cdc.cut(reinterpret_cast<const unsigned char*>(m_buf.data()) + m_start, avail);
    (void)at_end;
    m_file.ids.emplace_back();
    Id* slot = &m_file.ids.back();
    KBK_TRY(m_pipe.submit(m_buf.substr(m_start, len), slot));
    m_start += len;
    return {};
  }
  Pipeline& m_pipe;
  const Cdc& m_cdc;
  FileState& m_file;
  uint32_t m_fixed;
  std::string m_buf;
  size_t m_start = 0;
};

struct DirBuild {
  Node node;
  std::vector<Node> entries;
  std::vector<std::shared_ptr<FileState>> files;  // parallel to entries (null when content is already known)
  std::vector<std::unique_ptr<DirBuild>> subdirs;
  std::unordered_map<std::string, size_t> entry_index;   // tar: name -> entries index
  std::unordered_map<std::string, DirBuild*> subdir_index;
  std::optional<Id> done;  // its tree, once encoded (then entries and subdirs are gone)
};

class Engine {
public:
  Engine(Repository& repo, const BackupOptions& o)
      : m_repo(repo), m_opts(o), m_params(repo.config().chunker),
        m_cdc(repo.gear(), m_params.min, m_params.avg, m_params.max),
        m_writer(repo, o.compression), m_pipe(repo, m_writer, m_cdc, m_bytes_read, o.workers) {
    m_started = std::chrono::steady_clock::now();
  }

  Result<void> add_file_data(FileChunker& ch, int fd, uint64_t size) {
    if (size < m_params.min) {
      // Small files (most files): one read into a string of their size, handed over as the chunk.
      std::string data(static_cast<size_t>(size) + 1, '\0');
      size_t got = 0;
      for (;;) {
        if (got == data.size()) data.resize(data.size() * 2);
        ssize_t n = ::read(fd, data.data() + got, data.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return unexpected(Errc::io, std::strerror(errno));
        if (n == 0) break;
        got += static_cast<size_t>(n);
        if (got > m_params.min) break;  // it grew: chunk it the usual way
      }
      m_bytes_read += got;
      data.resize(got);
      if (got <= m_params.min) return ch.whole(std::move(data));
      KBK_TRY(ch.feed(data.data(), data.size()));
    }
    for (;;) {
      KBK_ASSIGN_OR_RETURN(size_t n, ch.read_from(fd, k_read_block));
      if (n == 0) break;
      m_bytes_read += n;
    }
    return ch.finish();
  }

  void progress(const std::string& current) {
    if (!m_opts.progress) return;
    util::ProgressState s;
    s.phase = "backup";
    s.current = current;
    s.items_done = m_files;
    s.bytes_done = m_bytes_read;
    s.warnings = m_warnings.size();
    m_opts.progress->update(s);
  }

  std::string user_name(uint32_t uid) {
    auto it = m_users.find(uid);
    if (it != m_users.end()) return it->second;
    struct passwd pw, *res = nullptr;
    char buf[4096];
    std::string name;
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res) name = res->pw_name;
    return m_users[uid] = name;
  }
  std::string group_name(uint32_t gid) {
    auto it = m_groups.find(gid);
    if (it != m_groups.end()) return it->second;
    struct group gr, *res = nullptr;
    char buf[4096];
    std::string name;
    if (getgrgid_r(gid, &gr, buf, sizeof buf, &res) == 0 && res) name = res->gr_name;
    return m_groups[gid] = name;
  }

  // --- folder ---
  Result<void> walk_folder(const std::string& path, DirBuild& dir, const std::vector<Node>* parent) {
    DIR* d = ::opendir(path.c_str());
    const int dfd = d ? ::dirfd(d) : -1;
    if (!d) {
      m_warnings.push_back("cannot read folder " + path + ": " + std::strerror(errno));
      return {};
    }
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      names.emplace_back(e->d_name);
    }
    std::sort(names.begin(), names.end());
    dir.entries.reserve(names.size());  // nodes are kept until the end: no doubling slack
    dir.files.reserve(names.size());
    size_t pi = 0;  // parent nodes are sorted by name as well
    for (const auto& name : names) {
      const std::string full = path + "/" + name;
      struct stat st;
      if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {  // relative: no path walk from /
        m_warnings.push_back("cannot stat " + full + ": " + std::strerror(errno));
        continue;
      }
      Node n = node_from_stat(name, st);
      read_xattrs(full, n);
      const Node* old = nullptr;
      if (parent) {
        while (pi < parent->size() && (*parent)[pi].name < name) ++pi;
        if (pi < parent->size() && (*parent)[pi].name == name) old = &(*parent)[pi];
      }
      if (S_ISDIR(st.st_mode)) {
        auto sub = std::make_unique<DirBuild>();
        sub->node = std::move(n);
        std::vector<Node> old_nodes;
        bool have_old = false;
        if (old && old->type == NodeType::dir && old->subtree) {
          auto t = m_repo.load_tree(*old->subtree);
          if (t) {
            old_nodes = std::move(*t);
            have_old = true;
          } else {
            log::warning("parent snapshot: " + t.error().message + " (its files are read again)");
          }
        }
        auto walked = walk_folder(full, *sub, have_old ? &old_nodes : nullptr);
        if (!walked) {
          ::closedir(d);
          return walked;
        }
        ++m_dirs;
        dir.subdirs.push_back(std::move(sub));
        continue;
      }
      if (S_ISREG(st.st_mode)) {
        ++m_files;
        m_bytes_total += static_cast<uint64_t>(st.st_size);
        if (old && old->type == NodeType::file && old->size == n.size && old->mtime_ns == n.mtime_ns &&
            (m_opts.ignore_ctime || old->ctime_ns == n.ctime_ns) && (m_opts.ignore_inode || old->inode == n.inode)) {
          n.content = old->content;
          n.content_list = old->content_list;
          ++m_unchanged;
          dir.entries.push_back(std::move(n));
          dir.files.push_back(nullptr);
          continue;
        }
        if (st.st_nlink > 1) {
          auto it = m_links.find({st.st_dev, st.st_ino});
          if (it != m_links.end()) {
            dir.entries.push_back(std::move(n));
            dir.files.push_back(it->second);
            continue;
          }
        }
        auto fs = std::make_shared<FileState>();
        if (st.st_nlink > 1) m_links[{st.st_dev, st.st_ino}] = fs;
        if (static_cast<uint64_t>(st.st_size) < m_params.min) {
          auto queued = m_pipe.submit_file(full, static_cast<uint64_t>(st.st_size), fs.get());
          if (!queued) {
            ::closedir(d);
            return queued;
          }
          dir.entries.push_back(std::move(n));
          dir.files.push_back(std::move(fs));
          if ((m_files & 255) == 0) progress(full);
          continue;
        }
        int fd = ::openat(dfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
        if (fd < 0 && errno == EPERM) fd = ::openat(dfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
          m_warnings.push_back("cannot open " + full + ": " + std::strerror(errno));
          --m_files;
          continue;
        }
        if (st.st_size > (1 << 20)) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        FileChunker ch(m_pipe, m_cdc, m_params, static_cast<uint64_t>(st.st_size), *fs);
        auto r = add_file_data(ch, fd, static_cast<uint64_t>(st.st_size));
        ::close(fd);
        if (!r) {
          if (r.error().is(Errc::io)) {
            m_warnings.push_back("reading " + full + ": " + r.error().message);
            --m_files;
            continue;
          }
          ::closedir(d);
          return r;
        }
        n.size = fs->size;
        dir.entries.push_back(std::move(n));
        dir.files.push_back(std::move(fs));
        if ((m_files & 255) == 0) progress(full);
        continue;
      }
      if (S_ISLNK(st.st_mode)) {
        std::string target(static_cast<size_t>(st.st_size > 0 ? st.st_size : 256) + 1, '\0');
        ssize_t k = ::readlinkat(dfd, name.c_str(), target.data(), target.size());
        if (k < 0) {
          m_warnings.push_back("cannot read link " + full + ": " + std::strerror(errno));
          continue;
        }
        target.resize(static_cast<size_t>(k));
        n.link_target = std::move(target);
      }
      dir.entries.push_back(std::move(n));
      dir.files.push_back(nullptr);
    }
    ::closedir(d);
    // A folder whose files are all known (unchanged, or not regular files) and whose subfolders are encoded is
    // encoded now and its nodes dropped: an unchanged re-run holds one folder's nodes at a time, not the tree's.
    bool ready = true;
    for (const auto& f : dir.files)
      if (f) ready = false;
    for (const auto& sub : dir.subdirs)
      if (!sub->done) ready = false;
    if (ready) {
      KBK_ASSIGN_OR_RETURN(Id id, finish_dir(dir));
      dir.done = id;
    }
    return {};
  }

  Node node_from_stat(const std::string& name, const struct stat& st) {
    Node n;
    n.name = name;
    n.type = S_ISDIR(st.st_mode)    ? NodeType::dir
             : S_ISLNK(st.st_mode)  ? NodeType::symlink
             : S_ISFIFO(st.st_mode) ? NodeType::fifo
             : S_ISCHR(st.st_mode)  ? NodeType::chardev
             : S_ISBLK(st.st_mode)  ? NodeType::blockdev
             : S_ISSOCK(st.st_mode) ? NodeType::socket
                                    : NodeType::file;
    n.mode = st.st_mode & 07777;
    n.uid = st.st_uid;
    n.gid = st.st_gid;
    n.user = user_name(st.st_uid);
    n.group = group_name(st.st_gid);
    n.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    n.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
    if (n.type == NodeType::file) n.size = static_cast<uint64_t>(st.st_size);
    if (n.type != NodeType::dir) {
      n.inode = st.st_ino;
      n.links = static_cast<uint32_t>(st.st_nlink);
    }
    if (n.type == NodeType::chardev || n.type == NodeType::blockdev) n.rdev = st.st_rdev;
    return n;
  }

  void read_xattrs(const std::string& path, Node& n) {
    char list[4096];
    ssize_t len = ::llistxattr(path.c_str(), list, sizeof list);
    if (len <= 0) return;
    for (ssize_t i = 0; i < len;) {
      std::string name(list + i);
      i += static_cast<ssize_t>(name.size()) + 1;
      std::string value(4096, '\0');
      ssize_t v = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
      if (v < 0) continue;
      value.resize(static_cast<size_t>(v));
      n.xattrs.emplace_back(std::move(name), std::move(value));
    }
  }

  // --- tar ---
  // The folder parts[0..count) below root, made as needed; null when one of them is already an entry that is not
  // a folder (a symlink "out" then "out/x": the tree would hold "out" twice, and a restore might follow the link).
  DirBuild* tar_dir(DirBuild& root, const std::vector<std::string>& parts, size_t count) {
    DirBuild* d = &root;
    for (size_t i = 0; i < count; ++i) {
      auto it = d->subdir_index.find(parts[i]);
      if (it != d->subdir_index.end()) {
        d = it->second;
        continue;
      }
      if (d->entry_index.count(parts[i])) return nullptr;
      auto sub = std::make_unique<DirBuild>();
      sub->node.name = parts[i];
      sub->node.type = NodeType::dir;
      sub->node.mode = 0755;
      DirBuild* raw = sub.get();
      d->subdir_index[parts[i]] = raw;
      d->subdirs.push_back(std::move(sub));
      ++m_dirs;
      d = raw;
    }
    return d;
  }

  Result<void> read_tar(int fd, const std::string& name, DirBuild& root) {
    struct archive* a = archive_read_new();
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    archive_read_support_filter_none(a);
    if (archive_read_open_fd(a, fd, 1 << 20) != ARCHIVE_OK) {
      std::string msg = archive_error_string(a) ? archive_error_string(a) : "cannot read";
      archive_read_free(a);
      return unexpected(Errc::parse, name + ": " + msg);
    }
    std::unordered_map<std::string, std::pair<DirBuild*, size_t>> by_path;
    uint64_t next_inode = 1;
    struct archive_entry* e = nullptr;
    Result<void> result;
    for (;;) {
      int r = archive_read_next_header(a, &e);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) {
        result = unexpected(Errc::parse, name + ": " + (archive_error_string(a) ? archive_error_string(a) : "bad tar"));
        break;
      }
      std::string path = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
      auto parts = util::split(path, '/');
      std::vector<std::string> clean;
      for (auto& p : parts)
        if (p != "." && !p.empty()) clean.push_back(p);
      if (std::find(clean.begin(), clean.end(), "..") != clean.end()) {
        m_warnings.push_back(name + ": skipped entry " + path + " (it climbs out with ..)");
        continue;
      }
      if (clean.empty()) continue;  // "./": the root itself
      const std::string key = util::join(clean, "/");
      DirBuild* parent_dir = tar_dir(root, clean, clean.size() - 1);
      if (!parent_dir) {
        m_warnings.push_back(name + ": skipped entry " + path + " (a folder above it is an entry of another type)");
        continue;
      }
      DirBuild& parent = *parent_dir;
      Node n;
      n.name = clean.back();
      const mode_t type = archive_entry_filetype(e);
      n.mode = archive_entry_perm(e) & 07777;
      n.uid = static_cast<uint32_t>(archive_entry_uid(e));
      n.gid = static_cast<uint32_t>(archive_entry_gid(e));
      if (const char* u = archive_entry_uname(e)) n.user = u;
      if (const char* g = archive_entry_gname(e)) n.group = g;
      n.mtime_ns = static_cast<int64_t>(archive_entry_mtime(e)) * 1000000000 + archive_entry_mtime_nsec(e);
      archive_entry_xattr_reset(e);
      const char* xname;
      const void* xval;
      size_t xsize;
      while (archive_entry_xattr_next(e, &xname, &xval, &xsize) == ARCHIVE_OK)
        n.xattrs.emplace_back(xname, std::string(static_cast<const char*>(xval), xsize));
      if (type == AE_IFDIR) {
        DirBuild* d = tar_dir(root, clean, clean.size());
        if (!d) {
          m_warnings.push_back(name + ": skipped folder " + path + " (an entry of another type has its name)");
          continue;
        }
        n.type = NodeType::dir;
        d->node = n;
        continue;
      }
      if (parent.subdir_index.count(n.name)) {
        m_warnings.push_back(name + ": skipped entry " + path + " (a folder has its name)");
        continue;
      }
      std::shared_ptr<FileState> fs;
      if (const char* hl = archive_entry_hardlink(e)) {
        std::vector<std::string> tparts;
        for (auto& p : util::split(hl, '/'))
          if (p != "." && !p.empty()) tparts.push_back(p);
        auto it = by_path.find(util::join(tparts, "/"));
        if (it == by_path.end()) {
          m_warnings.push_back(name + ": hard link " + path + " to " + hl + ", which the stream does not hold before it");
          continue;
        }
        DirBuild* td = it->second.first;
        Node& target = td->entries[it->second.second];
        if (!target.inode) target.inode = next_inode++;
        target.links = std::max<uint32_t>(target.links, 2);
        n.type = NodeType::file;
        n.inode = target.inode;
        n.links = 2;
        n.size = target.size;
        n.content = target.content;
        n.content_list = target.content_list;
        fs = td->files[it->second.second];
        ++m_files;
      } else if (type == AE_IFREG) {
        n.type = NodeType::file;
        fs = std::make_shared<FileState>();
        const uint64_t size = static_cast<uint64_t>(archive_entry_size(e));
        FileChunker ch(m_pipe, m_cdc, m_params, size, *fs);
        const void* buf;
        size_t len;
        la_int64_t off;
        uint64_t pos = 0;
        int rr;
        while ((rr = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
          if (static_cast<uint64_t>(off) > pos) KBK_TRY(ch.zeros(static_cast<uint64_t>(off) - pos));
          pos = static_cast<uint64_t>(off);
          KBK_TRY(ch.feed(static_cast<const char*>(buf), len));
          pos += len;
          m_bytes_read += len;
        }
        if (rr != ARCHIVE_EOF) {
          result = unexpected(Errc::parse, name + ": " + path + ": " +
                                               (archive_error_string(a) ? archive_error_string(a) : "truncated"));
          break;
        }
        if (pos < size) KBK_TRY(ch.zeros(size - pos));
        KBK_TRY(ch.finish());
        n.size = fs->size;
        ++m_files;
        m_bytes_total += n.size;
        if ((m_files & 255) == 0) progress(path);
      } else if (type == AE_IFLNK) {
        n.type = NodeType::symlink;
        if (const char* t = archive_entry_symlink(e)) n.link_target = t;
      } else if (type == AE_IFIFO) {
        n.type = NodeType::fifo;
      } else if (type == AE_IFCHR || type == AE_IFBLK) {
        n.type = type == AE_IFCHR ? NodeType::chardev : NodeType::blockdev;
        n.rdev = archive_entry_rdev(e);
      } else if (type == AE_IFSOCK) {
        n.type = NodeType::socket;
      } else {
        m_warnings.push_back(name + ": skipped entry " + path + " of unknown type");
        continue;
      }
      auto it = parent.entry_index.find(n.name);
      size_t idx;
      if (it != parent.entry_index.end()) {
        idx = it->second;
        parent.entries[idx] = std::move(n);
        parent.files[idx] = std::move(fs);
      } else {
        idx = parent.entries.size();
        parent.entry_index[n.name] = idx;
        parent.entries.push_back(std::move(n));
        parent.files.push_back(std::move(fs));
      }
      by_path[key] = {&parent, idx};
    }
    archive_read_free(a);
    return result;
  }

  // --- trees, bottom up ---
  Result<Id> finish_dir(DirBuild& d) {
    if (d.done) return *d.done;
    std::vector<Node> nodes;
    nodes.reserve(d.entries.size() + d.subdirs.size());
    for (size_t i = 0; i < d.entries.size(); ++i) {
      Node& n = d.entries[i];
      if (d.files[i]) {
        if (!d.files[i]->error.empty()) {  // a worker could not read it: left out, as the walker does
          m_warnings.push_back(d.files[i]->error);
          --m_files;
          continue;
        }
        n.size = d.files[i]->size;
        std::vector<Id> ids(d.files[i]->ids.begin(), d.files[i]->ids.end());
        KBK_TRY(set_content(n, std::move(ids)));
      }
      nodes.push_back(std::move(n));
    }
    for (auto& sub : d.subdirs) {
      KBK_ASSIGN_OR_RETURN(Id id, finish_dir(*sub));
      sub->node.subtree = id;
      sub->node.type = NodeType::dir;
      nodes.push_back(std::move(sub->node));
      sub.reset();
    }
    const std::string text = encode_tree(nodes);
    std::vector<Node>().swap(d.entries);
    std::vector<std::shared_ptr<FileState>>().swap(d.files);
    std::vector<std::unique_ptr<DirBuild>>().swap(d.subdirs);
    return m_writer.add(BlobType::tree, text);
  }

  Result<void> set_content(Node& n, std::vector<Id> ids) {
    n.content_list.reset();
    if (ids.size() <= k_list_fanout) {
      n.content = std::move(ids);
      return {};
    }
    n.content.clear();
    uint8_t depth = 0;
    while (ids.size() > 1) {
      std::vector<Id> up;
      for (size_t i = 0; i < ids.size(); i += k_list_fanout) {
        KBK_ASSIGN_OR_RETURN(Id id, m_writer.add(BlobType::list, encode_list(depth, ids, i, k_list_fanout)));
        up.push_back(id);
      }
      ids = std::move(up);
      ++depth;
    }
    n.content_list = ids[0];
    return {};
  }

  Result<BackupResult> finish(DirBuild& root, const std::string& source, const std::string& path) {
    KBK_TRY(m_pipe.finish());
    KBK_ASSIGN_OR_RETURN(Id tree, finish_dir(root));
    KBK_TRY(m_writer.flush());
    BackupResult out;
    Snapshot& s = out.snapshot;
    const auto now = std::chrono::system_clock::now();
    s.time = util::format_rfc3339(now);
    s.time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
    s.host = m_opts.host;
    if (s.host.empty()) {
      char buf[256] = {0};
      ::gethostname(buf, sizeof buf - 1);
      s.host = buf;
    }
    s.source = source;
    s.path = path;
    s.tree = tree;
    if (m_opts.parent) s.parent = m_opts.parent->id;
    s.tags = m_opts.tags;
    s.backup = m_opts.backup;
    s.chunker = m_params;
    s.compression = compress::setting_name(m_opts.compression);
    const WriterStats ws = m_writer.stats();
    s.summary.files = m_files;
    s.summary.dirs = m_dirs;
    s.summary.files_unchanged = m_unchanged;
    s.summary.bytes_read = m_bytes_read;
    s.summary.bytes_total = m_bytes_total;
    s.summary.bytes_new = ws.bytes_new;
    s.summary.bytes_stored = ws.bytes_stored;
    s.summary.blobs_new = ws.blobs_new;
    s.summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_started).count();
    // A walk that could not read everything (a file that vanished or was unreadable) is no picture of the state the
    // fingerprint describes: a later backup must walk again rather than carry this tree forward.
    if (m_warnings.empty()) s.fingerprint = m_opts.fingerprint;
    KBK_TRY(m_repo.save_snapshot(s));
    out.warnings = m_warnings;
    if (m_opts.progress) {
      util::ProgressState st;
      st.phase = "backup";
      st.items_done = st.items_total = m_files;
      st.bytes_done = st.bytes_total = m_bytes_read;
      st.warnings = m_warnings.size();
      m_opts.progress->finish(st);
    }
    return out;
  }

  std::vector<std::string> m_warnings;

private:
  Repository& m_repo;
  const BackupOptions& m_opts;
  ChunkerParams m_params;
  Cdc m_cdc;
  std::atomic<uint64_t> m_bytes_read{0};  // workers add what they read of small files
  PackWriter m_writer;
  Pipeline m_pipe;
  std::chrono::steady_clock::time_point m_started;
  uint64_t m_files = 0, m_dirs = 0, m_unchanged = 0, m_bytes_total = 0;
  std::map<std::pair<dev_t, ino_t>, std::shared_ptr<FileState>> m_links;
  std::unordered_map<uint32_t, std::string> m_users, m_groups;
};

}  // namespace

Result<BackupResult> backup_folder(Repository& repo, const std::string& path, const BackupOptions& options) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return unexpected(Errc::config, path + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) return unexpected(Errc::config, path + " is not a folder (pass --tar for a tar stream)");
  std::vector<Node> parent_root;
  bool have_parent = false;
  if (options.parent) {
    auto t = repo.load_tree(options.parent->tree);
    if (!t) return unexpected(t.error().wrap("loading the parent snapshot"));
    parent_root = std::move(*t);
    have_parent = true;
  }
  DirBuild root;  // before the engine: its workers write chunk ids into root's files until the engine is gone
  root.node.type = NodeType::dir;
  Engine engine(repo, options);
  KBK_TRY(engine.walk_folder(path, root, have_parent ? &parent_root : nullptr));
  return engine.finish(root, "folder", options.name.empty() ? path : options.name);
}

Result<BackupResult> backup_tar(Repository& repo, int fd, const std::string& name, const BackupOptions& options) {
  // root before the engine, as above: a stream that fails mid-way (a helper pod killed, a damaged tar) returns
  // while a worker may still be storing a chunk of one of root's files; the engine waits for it when it goes, so
  // root must go after it (found by fuzz.repo_tar: with the engine first, the tree was freed under the worker).
  DirBuild root;
  root.node.type = NodeType::dir;
  Engine engine(repo, options);
  KBK_TRY(engine.read_tar(fd, name, root));
  return engine.finish(root, "tar", name);
}

}  // namespace kbk::repo
