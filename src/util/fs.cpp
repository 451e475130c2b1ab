#include <kbk/util/fs.hpp>
#include <kbk/util/strings.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

namespace kbk::util {

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unexpected(Errc::io, path + ": " + std::strerror(errno));
  auto too_large = [&] {
    ::close(fd);
    return unexpected(Errc::config, path + ": larger than " + human_bytes(max_bytes) +
                                        ", more than kbk reads of such a file");
  };
  std::string out;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    if (static_cast<uint64_t>(st.st_size) > max_bytes) return too_large();
    out.reserve(static_cast<size_t>(st.st_size));
  }
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return unexpected(Errc::io, path + ": " + std::strerror(e));
    }
    if (n == 0) break;
    if (static_cast<size_t>(n) > max_bytes - out.size()) return too_large();  // grew, or not a regular file
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Result<void> write_file_atomic(const std::string& path, std::string_view data, unsigned mode) {
  std::random_device rd;
  std::string tmp = path + ".tmp-" + std::to_string(rd());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return unexpected(Errc::io, path + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return unexpected(Errc::io, path + ": " + std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return unexpected(Errc::io, path + ": " + std::strerror(e));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return unexpected(Errc::io, path + ": " + std::strerror(e));
  }
  return {};
}

std::string expand_home(const std::string& path) {
  if (!path.empty() && path[0] == '~' && (path.size() == 1 || path[1] == '/')) {
    const char* home = std::getenv("HOME");
    return std::string(home ? home : "") + path.substr(1);
  }
  return path;
}

std::string dirname(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

std::string path_join(const std::string& a, const std::string& b) {
  if (a.empty() || is_absolute(b)) return b;
  if (a.back() == '/') return a + b;
  return a + "/" + b;
}

bool is_absolute(const std::string& path) { return !path.empty() && path[0] == '/'; }

Result<int> open_unlinked_temp(std::string_view prefix) {
  const char* dir = std::getenv("TMPDIR");
  std::string tmpl = std::string(dir && *dir ? dir : "/tmp") + "/" + std::string(prefix) + "-XXXXXX";
  int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);  // mode 0600
  if (fd < 0) return unexpected(Errc::io, "temporary file in " + tmpl.substr(0, tmpl.rfind('/')) + ": " + std::strerror(errno));
  ::unlink(tmpl.c_str());
  return fd;
}

Result<void> pwrite_all(int fd, std::string_view data, uint64_t offset, std::string_view what) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return unexpected(Errc::io, "writing " + std::string(what) + ": " + std::strerror(n < 0 ? errno : ENOSPC));
    done += static_cast<size_t>(n);
  }
  return {};
}

Result<void> pread_all(int fd, char* buffer, size_t size, uint64_t offset, std::string_view what) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, buffer + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return unexpected(Errc::io, "reading " + std::string(what) + ": " + std::strerror(errno));
    if (n == 0) return unexpected(Errc::io, "reading " + std::string(what) + ": it ends early");
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace kbk::util
