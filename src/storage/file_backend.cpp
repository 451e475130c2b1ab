// The file:// backend: a location is a folder. Objects are files under it (keys map 1:1 onto relative paths),
// written atomically: a temporary file in the same folder, fsync, then rename (or link() for IfExists::fail, so
// exactly one writer wins). Objects are 0600 and folders 0700: backups hold Secrets.
#include <kbk/storage/backend.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>

namespace kbk::storage {

Result<std::unique_ptr<Backend>> make_file_backend(const std::string& url, const OpenOptions& options);

namespace {

constexpr std::string_view k_tmp_marker = ".kbk-tmp-";

Error io_error(const std::string& what, int err) {
  Errc code = Errc::io;
  if (err == ENOENT) code = Errc::not_found;
  else if (err == EEXIST) code = Errc::already_exists;
  else if (err == EACCES || err == EPERM) code = Errc::forbidden;
  return Error{code, what + ": " + std::strerror(err)};
}

std::chrono::system_clock::time_point to_time_point(const struct timespec& ts) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::seconds(ts.tv_sec) +
                                                                      std::chrono::nanoseconds(ts.tv_nsec)));
}

bool is_temp_name(std::string_view name) { return name.find(k_tmp_marker) != std::string_view::npos; }

// Keys are relative, '/'-separated, with no empty, "." or ".." segments.
Result<void> check_key(const std::string& key) {
  bool bad = key.empty() || key.front() == '/' || key.back() == '/' || key.find('\0') != std::string::npos;
  if (!bad) {
    size_t start = 0;
    while (start <= key.size()) {
      size_t end = key.find('/', start);
      if (end == std::string::npos) end = key.size();
      std::string_view seg(key.data() + start, end - start);
      if (seg.empty() || seg == "." || seg == ".." || is_temp_name(seg)) bad = true;
      start = end + 1;
    }
  }
  if (bad) return unexpected(Errc::invalid, "storage key \"" + key + "\": not a clean relative key");
  return {};
}

std::string temp_name_for(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  auto slash = path.find_last_of('/');
  std::string dir = path.substr(0, slash + 1);
  std::string base = path.substr(slash + 1);
  return dir + "." + base + std::string(k_tmp_marker) + std::to_string(::getpid()) + "-" +
         std::to_string(counter++) + "-" + std::to_string(rng() % 1000000);
}

Result<void> write_all(int fd, std::string_view data, const std::string& what) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(what, errno);
    }
    off += static_cast<size_t>(n);
  }
  return {};
}

void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

class FileBackend;

// A temporary file that becomes the object on commit().
class FileWriter final : public Writer {
public:
  FileWriter(std::string final_path, std::string tmp_path, int fd, IfExists if_exists, std::string key)
      : m_final(std::move(final_path)), m_tmp(std::move(tmp_path)), m_fd(fd), m_if_exists(if_exists),
        m_key(std::move(key)) {}
  ~FileWriter() override { abort(); }

  Result<void> write(std::string_view data) override {
    if (m_fd < 0) return unexpected(Errc::internal_error, "storage object " + m_key + ": write after commit or abort");
    KBK_TRY(write_all(m_fd, data, "storage object " + m_key));
    m_bytes += data.size();
    return {};
  }

  Result<void> commit() override {
    if (m_fd < 0) return unexpected(Errc::internal_error, "storage object " + m_key + ": commit after abort");
    if (::fsync(m_fd) != 0) {
      int e = errno;
      abort();
      return io_error("storage object " + m_key, e);
    }
    ::close(m_fd);
    m_fd = -1;
    if (m_if_exists == IfExists::fail) {
      // link() fails with EEXIST when the object exists: exactly one writer of a key wins.
      if (::link(m_tmp.c_str(), m_final.c_str()) != 0) {
        int e = errno;
        ::unlink(m_tmp.c_str());
        m_tmp.clear();
        if (e == EEXIST) return unexpected(Errc::already_exists, "storage object " + m_key + " already exists");
        return io_error("storage object " + m_key, e);
      }
      ::unlink(m_tmp.c_str());
    } else if (::rename(m_tmp.c_str(), m_final.c_str()) != 0) {
      int e = errno;
      ::unlink(m_tmp.c_str());
      m_tmp.clear();
      return io_error("storage object " + m_key, e);
    }
    m_tmp.clear();
    auto slash = m_final.find_last_of('/');
    fsync_dir(m_final.substr(0, slash));
    return {};
  }

  void abort() override {
    if (m_fd >= 0) {
      ::close(m_fd);
      m_fd = -1;
    }
    if (!m_tmp.empty()) {
      ::unlink(m_tmp.c_str());
      m_tmp.clear();
    }
  }

  uint64_t bytes_written() const override { return m_bytes; }

private:
  std::string m_final;
  std::string m_tmp;
  int m_fd;
  IfExists m_if_exists;
  std::string m_key;
  uint64_t m_bytes = 0;
};

class FileReader final : public Reader {
public:
  FileReader(int fd, uint64_t remaining, bool bounded, std::string key)
      : m_fd(fd), m_remaining(remaining), m_bounded(bounded), m_key(std::move(key)) {}
  ~FileReader() override {
    if (m_fd >= 0) ::close(m_fd);
  }
  Result<size_t> read(char* buffer, size_t size) override {
    if (m_bounded) {
      if (m_remaining == 0) return size_t{0};
      size = static_cast<size_t>(std::min<uint64_t>(size, m_remaining));
    }
    for (;;) {
      ssize_t n = ::read(m_fd, buffer, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        return io_error("storage object " + m_key, errno);
      }
      if (m_bounded) m_remaining -= static_cast<uint64_t>(n);
      return static_cast<size_t>(n);
    }
  }

private:
  int m_fd;
  uint64_t m_remaining;
  bool m_bounded;
  std::string m_key;
};

class FileBackend final : public Backend {
public:
  explicit FileBackend(std::string root) : m_root(std::move(root)) {}

  std::string display_url() const override { return "file://" + m_root; }

  Result<void> put(const std::string& key, std::string_view data, const PutOptions& options) override {
    KBK_ASSIGN_OR_RETURN(auto w, put_stream(key, options));
    KBK_TRY(w->write(data));
    return w->commit();
  }

  Result<std::unique_ptr<Writer>> put_stream(const std::string& key, const PutOptions& options) override {
    KBK_TRY(check_key(key));
    std::string path = path_of(key);
    KBK_TRY(make_parents(key));
    if (options.if_exists == IfExists::fail) {
      struct stat st {};
      if (::lstat(path.c_str(), &st) == 0)
        return unexpected(Errc::already_exists, "storage object " + key + " already exists");
    }
    std::string tmp = temp_name_for(path);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return io_error("storage object " + key, errno);
    return std::unique_ptr<Writer>(std::make_unique<FileWriter>(path, tmp, fd, options.if_exists, key));
  }

  Result<std::string> get(const std::string& key) override {
    KBK_ASSIGN_OR_RETURN(auto r, get_stream(key, 0, 0));
    std::string out;
    char buf[65536];
    for (;;) {
      KBK_ASSIGN_OR_RETURN(size_t n, r->read(buf, sizeof buf));
      if (n == 0) break;
      out.append(buf, n);
    }
    return out;
  }

  Result<std::unique_ptr<Reader>> get_stream(const std::string& key, uint64_t offset, uint64_t length) override {
    KBK_TRY(check_key(key));
    std::string path = path_of(key);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      int e = errno;
      if (e == ENOENT || e == ENOTDIR) return unexpected(Errc::not_found, "storage object " + key + " not found in " + display_url());
      return io_error("storage object " + key, e);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return unexpected(Errc::not_found, "storage object " + key + " not found in " + display_url());
    }
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (offset > size) {
      ::close(fd);
      return unexpected(Errc::invalid, "storage object " + key + ": range starts past the end");
    }
    if (offset > 0 && ::lseek(fd, static_cast<off_t>(offset), SEEK_SET) < 0) {
      int e = errno;
      ::close(fd);
      return io_error("storage object " + key, e);
    }
    bool bounded = length > 0;
    uint64_t remaining = bounded ? std::min<uint64_t>(length, size - offset) : 0;
    return std::unique_ptr<Reader>(std::make_unique<FileReader>(fd, remaining, bounded, key));
  }

  // One pread into the answer (no reader, no buffer in between).
  Result<std::string> get_range(const std::string& key, uint64_t offset, uint64_t length) override {
    KBK_TRY(check_key(key));
    if (length == 0) return std::string();
    int fd = ::open(path_of(key).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      int e = errno;
      if (e == ENOENT || e == ENOTDIR) return unexpected(Errc::not_found, "storage object " + key + " not found in " + display_url());
      return io_error("storage object " + key, e);
    }
    std::string out(length, '\0');
    size_t got = 0;
    while (got < out.size()) {
      ssize_t n = ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int e = errno;
        ::close(fd);
        return io_error("storage object " + key, e);
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    ::close(fd);
    if (got != out.size())
      return unexpected(Errc::corrupt, "storage object " + key + " in " + display_url() + " ends " +
                                           std::to_string(out.size() - got) + " bytes short of the range " +
                                           std::to_string(offset) + "+" + std::to_string(length));
    return out;
  }

  Result<std::optional<ObjectInfo>> stat(const std::string& key) override {
    KBK_TRY(check_key(key));
    struct stat st {};
    if (::stat(path_of(key).c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return std::optional<ObjectInfo>{};
      return io_error("storage object " + key, errno);
    }
    if (!S_ISREG(st.st_mode)) return std::optional<ObjectInfo>{};
    return std::optional<ObjectInfo>(info_of(key, st));
  }

  Result<void> list(const std::string& prefix,
                    const std::function<Result<void>(const ObjectInfo&)>& on_object) override {
    // Walk only the folder the prefix points into, then filter by the full prefix.
    auto slash = prefix.find_last_of('/');
    std::string dir_key = slash == std::string::npos ? "" : prefix.substr(0, slash);
    std::vector<ObjectInfo> found;
    KBK_TRY(walk(dir_key, prefix, found));
    std::sort(found.begin(), found.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    for (const auto& o : found) KBK_TRY(on_object(o));
    return {};
  }

  Result<std::vector<std::string>> list_prefixes(const std::string& prefix) override {
    std::string dir = prefix;
    if (!dir.empty() && dir.back() == '/') dir.pop_back();
    std::vector<std::string> out;
    std::string path = dir.empty() ? m_root : path_of(dir);
    DIR* d = ::opendir(path.c_str());
    if (!d) {
      if (errno == ENOENT || errno == ENOTDIR) return out;
      return io_error("storage folder " + prefix, errno);
    }
    while (struct dirent* de = ::readdir(d)) {
      std::string name = de->d_name;
      if (name == "." || name == "..") continue;
      struct stat st {};
      if (::lstat((path + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) out.push_back(name + "/");
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
  }

  Result<void> remove(const std::string& key) override {
    KBK_TRY(check_key(key));
    std::string path = path_of(key);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR) return io_error("storage object " + key, errno);
    // Drop folders the removal left empty, up to the root (rmdir fails harmlessly on a non-empty one).
    std::string k = key;
    for (auto pos = k.find_last_of('/'); pos != std::string::npos; pos = k.find_last_of('/')) {
      k.resize(pos);
      if (::rmdir(path_of(k).c_str()) != 0) break;
    }
    return {};
  }

  Result<void> remove_many(const std::vector<std::string>& keys) override {
    for (const auto& k : keys) KBK_TRY(remove(k));
    return {};
  }

  Result<uint64_t> cleanup_incomplete(std::chrono::seconds older_than, const std::string& folder) override {
    uint64_t removed = 0;
    // older_than 0 takes every temp file, one written this very moment included.
    auto cutoff = older_than.count() == 0 ? std::chrono::system_clock::time_point::max()
                                          : std::chrono::system_clock::now() - older_than;
    std::string dir = m_root;
    if (!folder.empty()) {
      if (folder.back() != '/') return unexpected(Errc::internal_error, "cleanup_incomplete: \"" + folder + "\" is not a folder");
      KBK_TRY(check_key(folder.substr(0, folder.size() - 1)));
      dir += "/" + folder.substr(0, folder.size() - 1);
    }
    KBK_TRY(cleanup_dir(dir, cutoff, removed, 0));
    return removed;
  }

  const std::string& root() const { return m_root; }

private:
  std::string path_of(const std::string& key) const { return m_root + "/" + key; }

  static ObjectInfo info_of(const std::string& key, const struct stat& st) {
    ObjectInfo info;
    info.key = key;
    info.size = static_cast<uint64_t>(st.st_size);
    info.modified = to_time_point(st.st_mtim);
    info.etag = std::to_string(st.st_ino) + "-" + std::to_string(st.st_size) + "-" + std::to_string(st.st_mtim.tv_sec) +
                "." + std::to_string(st.st_mtim.tv_nsec);
    return info;
  }

  Result<void> make_parents(const std::string& key) {
    size_t pos = 0;
    while ((pos = key.find('/', pos)) != std::string::npos) {
      std::string dir = path_of(key.substr(0, pos));
      if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return io_error("storage folder " + key.substr(0, pos), errno);
      ++pos;
    }
    return {};
  }

  Result<void> walk(const std::string& dir_key, const std::string& prefix, std::vector<ObjectInfo>& out) {
    std::string path = dir_key.empty() ? m_root : path_of(dir_key);
    DIR* d = ::opendir(path.c_str());
    if (!d) {
      if (errno == ENOENT || errno == ENOTDIR) return {};
      return io_error("storage folder " + dir_key, errno);
    }
    std::vector<std::string> names;
    while (struct dirent* de = ::readdir(d)) {
      std::string name = de->d_name;
      if (name != "." && name != ".." && !is_temp_name(name)) names.push_back(name);
    }
    ::closedir(d);
    for (const auto& name : names) {
      std::string key = dir_key.empty() ? name : dir_key + "/" + name;
      struct stat st {};
      if (::lstat(path_of(key).c_str(), &st) != 0) continue;  // removed meanwhile
      if (S_ISDIR(st.st_mode)) {
        // Descend only where keys below may still match the prefix.
        std::string sub = key + "/";
        if (sub.compare(0, std::min(sub.size(), prefix.size()), prefix, 0, std::min(sub.size(), prefix.size())) == 0)
          KBK_TRY(walk(key, prefix, out));
      } else if (S_ISREG(st.st_mode) && key.compare(0, prefix.size(), prefix) == 0) {
        out.push_back(info_of(key, st));
      }
    }
    return {};
  }

  Result<void> cleanup_dir(const std::string& path, std::chrono::system_clock::time_point cutoff, uint64_t& removed,
                           int depth) {
    if (depth > 64) return {};
    DIR* d = ::opendir(path.c_str());
    if (!d) return {};
    std::vector<std::string> names;
    while (struct dirent* de = ::readdir(d)) {
      std::string name = de->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(d);
    for (const auto& name : names) {
      std::string p = path + "/" + name;
      struct stat st {};
      if (::lstat(p.c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        KBK_TRY(cleanup_dir(p, cutoff, removed, depth + 1));
      } else if (is_temp_name(name) && to_time_point(st.st_mtim) < cutoff) {
        if (::unlink(p.c_str()) == 0) ++removed;
      }
    }
    return {};
  }

  std::string m_root;
};

}  // namespace

// "file:///abs/path", "/abs/path" or a relative path (resolved against the working folder).
Result<std::unique_ptr<Backend>> make_file_backend(const std::string& url, const OpenOptions& options) {
  std::string path = url;
  if (path.rfind("file://", 0) == 0) {
    path = path.substr(7);
    if (path.empty() || path[0] != '/')
      return unexpected(Errc::config, "storage location " + url + ": file:// URLs need an absolute path (file:///path)");
  }
  if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
  if (path.empty()) return unexpected(Errc::config, "storage location " + url + ": empty path");
  if (path[0] != '/') {
    char cwd[4096];
    if (!::getcwd(cwd, sizeof cwd)) return io_error("storage location " + url, errno);
    path = std::string(cwd) + "/" + path;
  }
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return io_error("storage location " + path, errno);
    if (!options.create)
      return unexpected(Errc::precondition, "storage location " + path + " does not exist");
    // Create the folder and any missing parents (0700: backups hold Secrets).
    for (size_t pos = 1; pos != std::string::npos;) {
      pos = path.find('/', pos + 1);
      std::string dir = path.substr(0, pos);
      if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return io_error("storage location " + dir, errno);
    }
  } else if (!S_ISDIR(st.st_mode)) {
    return unexpected(Errc::precondition, "storage location " + path + " is not a folder");
  }
  return std::unique_ptr<Backend>(std::make_unique<FileBackend>(path));
}

}  // namespace kbk::storage
