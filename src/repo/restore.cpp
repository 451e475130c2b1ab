// Restore to a folder (parallel: files are split into runs of blobs adjacent in one pack, each run one ranged read,
// written with pwrite; zero blocks are skipped so holes come back as holes; directories get their metadata last)
// and to a PAX tar stream.
#include <kbk/repo/operations.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <kbk/util/log.hpp>

namespace kbk::repo {
namespace {

constexpr uint64_t k_run_bytes = 8u << 20;

bool all_zero(const std::string& s) {
  if (s.empty()) return true;
  if (s[0] != 0) return false;
  return std::memcmp(s.data(), s.data() + 1, s.size() - 1) == 0;
}

struct Run {
  uint64_t file_offset = 0;
  Id pack{};
  uint32_t offset = 0, length = 0;
  std::vector<std::pair<Id, Location>> blobs;
};

// Groups a file's blobs into runs that are adjacent in one pack (one ranged read each).
Result<std::vector<Run>> plan_runs(Repository& repo, const std::vector<Id>& ids) {
  std::vector<Run> runs;
  uint64_t pos = 0;
  for (const auto& id : ids) {
    auto loc = repo.locate(id);
    if (!loc) return unexpected(Errc::corrupt, "blob " + to_hex(id) + " is not in the index (run kbk repo check)");
    Id pack;
    {
      std::lock_guard<std::mutex> l(repo.index_mutex());
      pack = repo.packs()[loc->pack];
    }
    if (runs.empty() || runs.back().pack != pack || runs.back().offset + runs.back().length != loc->offset ||
        runs.back().length + loc->length > k_run_bytes) {
      Run r;
      r.file_offset = pos;
      r.pack = pack;
      r.offset = loc->offset;
      runs.push_back(std::move(r));
    }
    runs.back().length += loc->length;
    runs.back().blobs.emplace_back(id, *loc);
    pos += raw_of(*loc);
  }
  return runs;
}

// Reads length bytes of a pack from offset (one ranged read: the index gave the range, so on S3 no HEAD first).
Result<std::string> read_span(Repository& repo, const Id& pack, uint64_t offset, uint64_t length) {
  auto r = repo.backend().get_range(Repository::pack_key(pack), offset, length);
  if (!r && r.error().is(Errc::corrupt))
    return unexpected(Errc::corrupt, "pack " + to_hex(pack) + " is truncated: " + r.error().message);
  return r;
}

// Decodes a run's blobs from span (the pack's bytes from span_offset on); calls sink(file_offset, plaintext) for each.
Result<void> decode_run(Repository& repo, const Run& run, std::string_view span, uint64_t span_offset,
                        const std::function<Result<void>(uint64_t, const std::string&)>& sink) {
  uint64_t pos = run.file_offset;
  for (const auto& [id, loc] : run.blobs) {
    if (loc.offset < span_offset || loc.offset - span_offset + loc.length > span.size())
      return unexpected(Errc::corrupt, "blob " + to_hex(id) + " lies outside the bytes read of its pack");
    KBK_ASSIGN_OR_RETURN(auto plain, repo.decode_blob(id, span.substr(loc.offset - span_offset, loc.length)));
    KBK_TRY(sink(pos, plain));
    pos += plain.size();
  }
  return {};
}

// Reads a run's blobs; calls sink(file_offset, plaintext) for each.
Result<void> read_run(Repository& repo, const Run& run,
                      const std::function<Result<void>(uint64_t, const std::string&)>& sink) {
  KBK_ASSIGN_OR_RETURN(auto buf, read_span(repo, run.pack, run.offset, run.length));
  return decode_run(repo, run, buf, run.offset, sink);
}

// Runs of one pack read together: a worker takes the queued runs of its run's pack that lie near it (gaps under
// k_gather_gap, the whole span under k_gather_span) and reads them with one ranged read, so a folder of small files
// costs one read per pack instead of one per file (through the mover's exec stream each read is a round trip).
constexpr uint64_t k_gather_gap = 1u << 20;
constexpr uint64_t k_gather_span = 16u << 20;
constexpr size_t k_queue_runs = 256;

struct OpenFile {
  int fd = -1;
  std::string path;
  Node node;
  std::atomic<size_t> pending{0};
};

void apply_meta(const std::string& path, const Node& n, bool owners, int fd, std::vector<std::string>& warnings,
                std::mutex& wm) {
  auto warn = [&](const std::string& w) {
    std::lock_guard<std::mutex> l(wm);
    warnings.push_back(w);
  };
  const bool link = n.type == NodeType::symlink;
  if (owners) {
    int r = fd >= 0 ? ::fchown(fd, n.uid, n.gid) : ::lchown(path.c_str(), n.uid, n.gid);
    if (r != 0) warn("chown " + path + ": " + std::strerror(errno));
  }
  for (const auto& [k, v] : n.xattrs) {
    int r = fd >= 0 ? ::fsetxattr(fd, k.c_str(), v.data(), v.size(), 0)
                    : ::lsetxattr(path.c_str(), k.c_str(), v.data(), v.size(), 0);
    if (r != 0 && errno != ENOTSUP) warn("xattr " + k + " on " + path + ": " + std::strerror(errno));
  }
  if (!link) {
    int r = fd >= 0 ? ::fchmod(fd, n.mode) : ::chmod(path.c_str(), n.mode);
    if (r != 0) warn("chmod " + path + ": " + std::strerror(errno));
  }
  struct timespec ts[2];
  ts[0].tv_sec = ts[1].tv_sec = static_cast<time_t>(n.mtime_ns / 1000000000);
  ts[0].tv_nsec = ts[1].tv_nsec = static_cast<long>(n.mtime_ns % 1000000000);
  int r = fd >= 0 ? ::futimens(fd, ts) : ::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW);
  if (r != 0) warn("times of " + path + ": " + std::strerror(errno));
}

class FolderRestore {
public:
  FolderRestore(Repository& repo, const RestoreOptions& o) : m_repo(repo), m_opts(o) {
    for (int i = 0; i < std::max(1, o.workers); ++i) m_threads.emplace_back([this] { work(); });
  }
  ~FolderRestore() { stop(); }

  Result<void> restore_tree(const Id& tree, const std::string& dir) {
    KBK_ASSIGN_OR_RETURN(auto nodes, m_repo.load_tree(tree));
    for (auto& n : nodes) {
      if (failed()) return unexpected(*m_error);
      const std::string p = dir + "/" + n.name;
      switch (n.type) {
        case NodeType::dir: {
          if (::mkdir(p.c_str(), 0700) != 0) {
            if (errno != EEXIST) return unexpected(Errc::io, "mkdir " + p + ": " + std::strerror(errno));
            // Something is there already: descend only into a real folder, never through a symlink (one made by
            // this restore or found in the target), so nothing is written outside the target.
            struct stat st {};
            if (::lstat(p.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
              return unexpected(Errc::io, "mkdir " + p + ": exists and is not a folder");
          }
          KBK_TRY(restore_tree(*n.subtree, p));
          m_dirs.emplace_back(p, std::move(n));
          m_result.dirs++;
          break;
        }
        case NodeType::file: KBK_TRY(restore_file(p, std::move(n))); break;
        case NodeType::symlink:
          ::unlink(p.c_str());
          if (::symlink(n.link_target.c_str(), p.c_str()) != 0)
            return unexpected(Errc::io, "symlink " + p + ": " + std::strerror(errno));
          apply_meta(p, n, m_opts.owners, -1, m_result.warnings, m_wm);
          break;
        default: {
          ::unlink(p.c_str());
          mode_t t = n.type == NodeType::fifo ? S_IFIFO : n.type == NodeType::chardev ? S_IFCHR
                     : n.type == NodeType::blockdev ? S_IFBLK : S_IFSOCK;
          if (::mknod(p.c_str(), t | 0600, static_cast<dev_t>(n.rdev)) != 0) {
            std::lock_guard<std::mutex> l(m_wm);
            m_result.warnings.push_back("cannot create " + p + ": " + std::strerror(errno));
            break;
          }
          apply_meta(p, n, m_opts.owners, -1, m_result.warnings, m_wm);
        }
      }
    }
    return {};
  }

  Result<void> restore_file(const std::string& p, Node n) {
    m_result.files++;
    if (n.links > 1 && n.inode) {
      auto it = m_links.find(n.inode);
      if (it != m_links.end()) {
        ::unlink(p.c_str());
        if (::link(it->second.c_str(), p.c_str()) == 0) return {};
        // fall through: write a copy
      } else {
        m_links[n.inode] = p;
      }
    }
    KBK_ASSIGN_OR_RETURN(auto ids, m_repo.load_content(n));
    KBK_ASSIGN_OR_RETURN(auto runs, plan_runs(m_repo, ids));
    ::unlink(p.c_str());
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return unexpected(Errc::io, "create " + p + ": " + std::strerror(errno));
    if (n.size && ::ftruncate(fd, static_cast<off_t>(n.size)) != 0) {
      ::close(fd);
      return unexpected(Errc::io, "truncate " + p + ": " + std::strerror(errno));
    }
    m_result.bytes += n.size;
    auto f = std::make_shared<OpenFile>();
    f->fd = fd;
    f->path = p;
    f->node = std::move(n);
    if (runs.empty()) {
      close_file(*f);
      return {};
    }
    f->pending = runs.size();
    for (auto& r : runs) {
      std::unique_lock<std::mutex> lock(m_mutex);
      m_space.wait(lock, [&] { return m_queue.size() < k_queue_runs || m_error; });
      if (m_error) return unexpected(*m_error);
      m_queue.emplace_back(f, std::move(r));
      m_ready.notify_one();
    }
    return {};
  }

  Result<void> finish() {
    {
      std::unique_lock<std::mutex> lock(m_mutex);
      m_space.wait(lock, [&] { return (m_queue.empty() && m_busy == 0) || m_error; });
    }
    stop();
    if (m_error) return unexpected(*m_error);
    for (auto it = m_dirs.rbegin(); it != m_dirs.rend(); ++it)
      apply_meta(it->first, it->second, m_opts.owners, -1, m_result.warnings, m_wm);
    return {};
  }

  RestoreResult m_result;

private:
  bool failed() {
    std::lock_guard<std::mutex> l(m_mutex);
    return m_error.has_value();
  }
  void close_file(OpenFile& f) {
    apply_meta(f.path, f.node, m_opts.owners, f.fd, m_result.warnings, m_wm);
    ::close(f.fd);
    f.fd = -1;
  }
  void stop() {
    {
      std::lock_guard<std::mutex> l(m_mutex);
      m_stop = true;
    }
    m_ready.notify_all();
    for (auto& t : m_threads)
      if (t.joinable()) t.join();
  }
  using Job = std::pair<std::shared_ptr<OpenFile>, Run>;

  // Takes the front job and the queued jobs of the same pack near it (k_gather_*), in pack order. Under m_mutex.
  std::vector<Job> take_jobs() {
    const Id pack = m_queue.front().second.pack;
    std::vector<size_t> same;
    for (size_t i = 0; i < m_queue.size(); ++i)
      if (m_queue[i].second.pack == pack) same.push_back(i);
    std::sort(same.begin(), same.end(),
              [&](size_t a, size_t b) { return m_queue[a].second.offset < m_queue[b].second.offset; });
    // The cluster around the front job (index 0): neighbours in pack order while gaps and span stay small.
    const size_t at = static_cast<size_t>(std::find(same.begin(), same.end(), size_t{0}) - same.begin());
    size_t lo = at, hi = at + 1;
    uint64_t begin = m_queue[0].second.offset, end = begin + m_queue[0].second.length;
    auto fits = [&](const Run& r) {
      const uint64_t b = std::min<uint64_t>(begin, r.offset), e = std::max<uint64_t>(end, r.offset + r.length);
      return e - b <= k_gather_span;
    };
    for (;;) {
      bool grew = false;
      if (hi < same.size()) {
        const Run& r = m_queue[same[hi]].second;
        if (r.offset <= end + k_gather_gap && fits(r)) {
          end = std::max<uint64_t>(end, r.offset + r.length);
          ++hi;
          grew = true;
        }
      }
      if (lo > 0) {
        const Run& r = m_queue[same[lo - 1]].second;
        if (r.offset + r.length + k_gather_gap >= begin && fits(r)) {
          begin = std::min<uint64_t>(begin, r.offset);
          --lo;
          grew = true;
        }
      }
      if (!grew) break;
    }
    std::vector<size_t> take(same.begin() + static_cast<std::ptrdiff_t>(lo), same.begin() + static_cast<std::ptrdiff_t>(hi));
    std::vector<Job> jobs;
    for (size_t i : take) jobs.push_back(std::move(m_queue[i]));
    std::sort(take.begin(), take.end());
    for (auto it = take.rbegin(); it != take.rend(); ++it) m_queue.erase(m_queue.begin() + static_cast<std::ptrdiff_t>(*it));
    return jobs;
  }

  Result<void> write_run(OpenFile& f, const Run& run, std::string_view span, uint64_t span_offset) {
    return decode_run(m_repo, run, span, span_offset, [&](uint64_t off, const std::string& data) -> Result<void> {
      if (all_zero(data)) return {};
      // Zero blocks (4 KiB at file offsets) inside a blob are holes as well: a sparse file whose data sits in a
      // large chunk comes back with that chunk's zeros unallocated.
      auto pwrite_all = [&](size_t from, size_t to) -> Result<void> {
        while (from < to) {
          ssize_t w = ::pwrite(f.fd, data.data() + from, to - from, static_cast<off_t>(off + from));
          if (w < 0) {
            if (errno == EINTR) continue;
            return unexpected(Errc::io, "write " + f.path + ": " + std::strerror(errno));
          }
          from += static_cast<size_t>(w);
        }
        return {};
      };
      constexpr size_t k_block = 4096;
      size_t pos = 0, start = 0;
      bool in_data = false;
      while (pos < data.size()) {
        const size_t end = std::min(data.size(), static_cast<size_t>((off + pos) / k_block * k_block + k_block - off));
        const bool zero = data[pos] == 0 && std::memcmp(data.data() + pos, data.data() + pos + 1, end - pos - 1) == 0;
        if (!zero && !in_data) {
          start = pos;
          in_data = true;
        } else if (zero && in_data) {
          KBK_TRY(pwrite_all(start, pos));
          in_data = false;
        }
        pos = end;
      }
      if (in_data) KBK_TRY(pwrite_all(start, data.size()));
      return {};
    });
  }

  void work() {
    std::unique_lock<std::mutex> lock(m_mutex);
    for (;;) {
      m_ready.wait(lock, [&] { return m_stop || !m_queue.empty(); });
      if (m_queue.empty()) return;
      std::vector<Job> jobs = take_jobs();
      ++m_busy;
      m_space.notify_all();
      const bool skip = m_error.has_value();
      lock.unlock();
      Result<void> r;
      if (!skip) {
        uint64_t begin = UINT64_MAX, end = 0;
        for (const auto& j : jobs) {
          begin = std::min<uint64_t>(begin, j.second.offset);
          end = std::max<uint64_t>(end, j.second.offset + j.second.length);
        }
        auto span = read_span(m_repo, jobs.front().second.pack, begin, end - begin);
        if (!span) r = unexpected(span.error());
        for (auto& j : jobs) {
          OpenFile& f = *j.first;
          if (r) r = write_run(f, j.second, *span, begin);
          if (r && m_opts.progress) m_bytes_done += j.second.length;
          if (--f.pending == 0) close_file(f);
        }
      } else {
        for (auto& j : jobs)
          if (--j.first->pending == 0 && j.first->fd >= 0) {
            ::close(j.first->fd);
            j.first->fd = -1;
          }
      }
      lock.lock();
      --m_busy;
      if (!r && !m_error) m_error = r.error();
      m_space.notify_all();
    }
  }
  Repository& m_repo;
  const RestoreOptions& m_opts;
  std::mutex m_mutex, m_wm;
  std::condition_variable m_ready, m_space;
  std::deque<Job> m_queue;
  int m_busy = 0;
  bool m_stop = false;
  std::optional<Error> m_error;
  std::vector<std::thread> m_threads;
  std::vector<std::pair<std::string, Node>> m_dirs;
  std::unordered_map<uint64_t, std::string> m_links;
  std::atomic<uint64_t> m_bytes_done{0};
};

// Holes of a tar restore (RestoreOptions::sparse): a file whose content has an all-zero blob is read once to find
// its data regions at k_hole_block granularity (file offsets aligned to it); the entry then carries a sparse map and
// `tar x` seeks over the rest, so holes come back as holes. Files without a zero blob are written whole.
constexpr uint64_t k_hole_block = 4096;

class HoleFinder {
public:
  explicit HoleFinder(Repository& repo) : m_repo(repo) {}

  // The data regions (offset, length) of a file of `size` bytes made of `ids`; nullopt when it has no zero blob.
  Result<std::optional<std::vector<std::pair<uint64_t, uint64_t>>>> regions(const std::vector<Id>& ids, uint64_t size) {
    std::vector<bool> zero(ids.size(), false);
    bool any = false;
    for (size_t i = 0; i < ids.size(); ++i) {
      auto loc = m_repo.locate(ids[i]);
      if (!loc) return unexpected(Errc::corrupt, "blob " + to_hex(ids[i]) + " is not in the index (run kbk repo check)");
      zero[i] = is_zero_blob(ids[i], raw_of(*loc));
      any = any || zero[i];
    }
    if (!any) return std::optional<std::vector<std::pair<uint64_t, uint64_t>>>{};
    std::vector<std::pair<uint64_t, uint64_t>> out;
    auto add = [&](uint64_t off, uint64_t len) {
      if (!out.empty() && out.back().first + out.back().second == off) out.back().second += len;
      else out.emplace_back(off, len);
    };
    std::vector<Id> data_ids;
    std::vector<uint64_t> data_offsets;
    uint64_t pos = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      const uint64_t len = raw_of(*m_repo.locate(ids[i]));
      if (!zero[i]) {
        data_ids.push_back(ids[i]);
        data_offsets.push_back(pos);
      }
      pos += len;
    }
    // The non-zero blobs, read in runs: a block with any non-zero byte is data (a block split between two blobs is
    // data when either part is).
    uint64_t last_block = UINT64_MAX;
    size_t k = 0;
    KBK_ASSIGN_OR_RETURN(auto runs, plan_runs(m_repo, data_ids));
    for (const auto& run : runs) {
      KBK_TRY(read_run(m_repo, run, [&](uint64_t, const std::string& plain) -> Result<void> {
        const uint64_t base = data_offsets[k++];
        for (uint64_t b = base / k_hole_block * k_hole_block; b < base + plain.size(); b += k_hole_block) {
          if (b == last_block) continue;
          const uint64_t from = std::max(b, base), to = std::min(b + k_hole_block, base + plain.size());
          const std::string_view part(plain.data() + (from - base), static_cast<size_t>(to - from));
          if (part.find_first_not_of('\0') == std::string_view::npos) continue;
          last_block = b;
          add(b, std::min(b + k_hole_block, size) - b);
        }
        return {};
      }));
    }
    return std::optional<std::vector<std::pair<uint64_t, uint64_t>>>(std::move(out));
  }

private:
  bool is_zero_blob(const Id& id, uint32_t raw) {
    auto it = m_zero_ids.find(raw);
    if (it == m_zero_ids.end()) it = m_zero_ids.emplace(raw, m_repo.blob_id(std::string(raw, '\0'))).first;
    return it->second == id;
  }
  Repository& m_repo;
  std::map<uint32_t, Id> m_zero_ids;  // raw length -> id of that many zero bytes
};

}  // namespace

Result<RestoreResult> restore_to_folder(Repository& repo, const Snapshot& snapshot, const std::string& target,
                                        const RestoreOptions& options) {
  if (::mkdir(target.c_str(), 0700) != 0 && errno != EEXIST)
    return unexpected(Errc::io, "create " + target + ": " + std::strerror(errno));
  struct stat st;
  if (::stat(target.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return unexpected(Errc::config, target + " is not a folder");
  FolderRestore r(repo, options);
  auto walked = r.restore_tree(snapshot.tree, target);
  auto done = r.finish();
  KBK_TRY(walked);
  KBK_TRY(done);
  if (options.progress) {
    util::ProgressState s;
    s.phase = "restore";
    s.items_done = s.items_total = r.m_result.files;
    s.bytes_done = s.bytes_total = r.m_result.bytes;
    options.progress->finish(s);
  }
  return r.m_result;
}

Result<RestoreResult> restore_to_tar(Repository& repo, const Snapshot& snapshot, int fd, const RestoreOptions& options) {
  RestoreResult out;
  struct archive* a = archive_write_new();
  // Full PAX (not restricted): nanosecond times travel in extended headers, so `tar x` restores them exactly.
  archive_write_set_format_pax(a);
  archive_write_set_bytes_per_block(a, 10240);
  if (archive_write_open_fd(a, fd) != ARCHIVE_OK) {
    archive_write_free(a);
    return unexpected(Errc::io, "cannot write the tar stream");
  }
  std::unordered_map<uint64_t, std::string> links;
  HoleFinder holes(repo);
  auto fail = [&](const std::string& what) {
    return unexpected(Errc::io, "writing the tar stream: " + what + ": " +
                                    (archive_error_string(a) ? archive_error_string(a) : "error"));
  };
  auto r = walk(repo, snapshot.tree, "", [&](const std::string& path, const Node& n) -> Result<void> {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, path.c_str());
    archive_entry_set_perm(e, n.mode);
    archive_entry_set_uid(e, n.uid);
    archive_entry_set_gid(e, n.gid);
    if (!n.user.empty()) archive_entry_set_uname(e, n.user.c_str());
    if (!n.group.empty()) archive_entry_set_gname(e, n.group.c_str());
    archive_entry_set_mtime(e, static_cast<time_t>(n.mtime_ns / 1000000000), static_cast<long>(n.mtime_ns % 1000000000));
    for (const auto& [k, v] : n.xattrs) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    bool data = false;
    switch (n.type) {
      case NodeType::dir: archive_entry_set_filetype(e, AE_IFDIR); out.dirs++; break;
      case NodeType::symlink:
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_symlink(e, n.link_target.c_str());
        break;
      case NodeType::fifo: archive_entry_set_filetype(e, AE_IFIFO); break;
      case NodeType::chardev:
      case NodeType::blockdev:
        archive_entry_set_filetype(e, n.type == NodeType::chardev ? AE_IFCHR : AE_IFBLK);
        archive_entry_set_rdev(e, static_cast<dev_t>(n.rdev));
        break;
      case NodeType::socket: archive_entry_free(e); return {};
      case NodeType::file: {
        out.files++;
        archive_entry_set_filetype(e, AE_IFREG);
        if (n.links > 1 && n.inode) {
          auto it = links.find(n.inode);
          if (it != links.end()) {
            archive_entry_set_hardlink(e, it->second.c_str());
            archive_entry_set_size(e, 0);
            break;
          }
          links[n.inode] = path;
        }
        archive_entry_set_size(e, static_cast<la_int64_t>(n.size));
        data = true;
        break;
      }
    }
    std::vector<Id> ids;
    if (data) {
      auto loaded = repo.load_content(n);
      if (!loaded) {
        archive_entry_free(e);
        return std::move(loaded).error();
      }
      ids = std::move(*loaded);
    }
    if (data && options.sparse) {
      auto regions = holes.regions(ids, n.size);
      if (!regions) {
        archive_entry_free(e);
        return std::move(regions).error();
      }
      if (*regions) {
        // libarchive writes a PAX GNU.sparse 1.0 entry and skips what the map leaves out; a file that is all hole
        // gets one empty region at its end, so its size travels.
        if ((*regions)->empty()) archive_entry_sparse_add_entry(e, static_cast<la_int64_t>(n.size), 0);
        for (const auto& [off, len] : **regions)
          archive_entry_sparse_add_entry(e, static_cast<la_int64_t>(off), static_cast<la_int64_t>(len));
      }
    }
    if (archive_write_header(a, e) < ARCHIVE_WARN) {
      archive_entry_free(e);
      return fail(path);
    }
    archive_entry_free(e);
    if (!data) return {};
    KBK_ASSIGN_OR_RETURN(auto runs, plan_runs(repo, ids));
    uint64_t written = 0;
    for (const auto& run : runs)
      KBK_TRY(read_run(repo, run, [&](uint64_t, const std::string& plain) -> Result<void> {
        const size_t k = static_cast<size_t>(std::min<uint64_t>(plain.size(), n.size - written));
        if (k && archive_write_data(a, plain.data(), k) < 0) return fail(path);
        written += k;
        return {};
      }));
    if (written != n.size) return unexpected(Errc::corrupt, path + ": content is shorter than its size");
    out.bytes += n.size;
    return {};
  });
  if (archive_write_close(a) != ARCHIVE_OK && r) r = fail("closing");
  archive_write_free(a);
  KBK_TRY(r);
  return out;
}

}  // namespace kbk::repo
