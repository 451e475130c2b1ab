// The CLI side of the in-pod mover (kbk_mover.hpp, docs/mover.md): the bundle, its copy into a helper pod's scratch
// volume, and the conversation with `kbk mover serve` over the exec stream.
#include <kbk/volume/kbk_mover.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <future>
#include <link.h>
#include <malloc.h>
#include <map>
#include <mutex>
#include <set>
#include <spawn.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <kbk/compress/gzip.hpp>
#include <kbk/crypto/hash.hpp>
#include <kbk/repo/operations.hpp>
#include <kbk/storage/s3.hpp>
#include <kbk/util/fs.hpp>
#include <kbk/util/lazy_library.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/volume/cluster.hpp>
#include <kbk/volume/fingerprint.hpp>

#include "mover_protocol.hpp"

namespace kbk::volume {

// ---- the bundle -------------------------------------------------------------------------------------------------

std::vector<std::string> Bundle::argv(const std::string& dir) const {
  return {dir + "/ld.so", "--library-path", dir + "/lib", dir + "/kbk"};
}

namespace {

std::string real_path(const std::string& p) {
  char buf[PATH_MAX];
  if (!::realpath(p.c_str(), buf)) return "";
  return buf;
}

std::string base_name(const std::string& p) {
  auto pos = p.rfind('/');
  return pos == std::string::npos ? p : p.substr(pos + 1);
}

struct Found {
  std::vector<std::string> libs;  // paths as loaded
  std::string interp;             // PT_INTERP of the main program
  std::string build_id;           // its GNU build ID (NT_GNU_BUILD_ID), as loaded: "" when it has none
};

// The GNU build ID in a loaded PT_NOTE segment ("" when there is none).
std::string build_id_in(const char* p, uint64_t size) {
  uint64_t off = 0;
  auto align4 = [](uint64_t v) { return (v + 3) & ~uint64_t{3}; };
  while (off + 12 <= size) {
    uint32_t namesz, descsz, type;
    std::memcpy(&namesz, p + off, 4);
    std::memcpy(&descsz, p + off + 4, 4);
    std::memcpy(&type, p + off + 8, 4);
    const uint64_t name_at = off + 12, desc_at = name_at + align4(namesz);
    if (desc_at + descsz > size) break;
    if (type == NT_GNU_BUILD_ID && namesz == 4 && std::memcmp(p + name_at, "GNU", 4) == 0 && descsz > 0)
      return std::string(p + desc_at, descsz);
    off = desc_at + align4(descsz);
  }
  return "";
}

int collect(struct dl_phdr_info* info, size_t, void* data) {
  auto* f = static_cast<Found*>(data);
  const std::string name = info->dlpi_name ? info->dlpi_name : "";
  if (name.empty()) {  // the main program: its loader and its build ID
    for (int i = 0; i < info->dlpi_phnum; ++i) {
      const auto& ph = info->dlpi_phdr[i];
      if (ph.p_type == PT_INTERP) f->interp = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
      if (ph.p_type == PT_NOTE && f->build_id.empty())
        f->build_id = build_id_in(reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr), ph.p_memsz);
    }
    return 0;
  }
  if (name.find("linux-vdso") != std::string::npos || name.find("linux-gate") != std::string::npos) return 0;
  f->libs.push_back(name);
  return 0;
}

// The parts of an ELF64 file kbk looks at, read with pread: its header, its section header table and the sections
// asked for, never the whole file (the binary alone is 10 MB, and every command that may move volume data finds its
// bundle at start, so reading it whole held the first helper pod's exec back by a few hundred ms on a loaded host).
class ElfFile {
public:
  explicit ElfFile(const std::string& path) {
    m_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (m_fd < 0 || ::fstat(m_fd, &st) != 0) return;
    m_size = static_cast<uint64_t>(st.st_size);
    const std::string h = bytes(0, sizeof m_eh);
    if (h.size() != sizeof m_eh) return;
    std::memcpy(&m_eh, h.data(), sizeof m_eh);
    if (std::memcmp(m_eh.e_ident, ELFMAG, SELFMAG) != 0 || m_eh.e_ident[EI_CLASS] != ELFCLASS64 || m_eh.e_shoff == 0 ||
        m_eh.e_shentsize != sizeof(Elf64_Shdr) || m_eh.e_shstrndx >= m_eh.e_shnum)
      return;
    const std::string table = bytes(m_eh.e_shoff, uint64_t{m_eh.e_shnum} * sizeof(Elf64_Shdr));
    if (table.empty()) return;
    m_sections.resize(m_eh.e_shnum);
    std::memcpy(m_sections.data(), table.data(), table.size());
    m_ok = true;
  }
  ~ElfFile() {
    if (m_fd >= 0) ::close(m_fd);
  }
  ElfFile(const ElfFile&) = delete;
  ElfFile& operator=(const ElfFile&) = delete;

  bool ok() const { return m_ok; }
  const Elf64_Ehdr& header() const { return m_eh; }
  const std::vector<Elf64_Shdr>& sections() const { return m_sections; }
  // n bytes from off; "" when they are not all in the file.
  std::string bytes(uint64_t off, uint64_t n) const {
    if (m_fd < 0 || n == 0 || off > m_size || n > m_size - off) return "";
    std::string out(n, '\0');
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(m_fd, out.data() + got, n - got, static_cast<off_t>(off + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return "";
      got += static_cast<size_t>(r);
    }
    return out;
  }
  std::string section_bytes(const Elf64_Shdr& sh) const { return bytes(sh.sh_offset, sh.sh_size); }

private:
  int m_fd = -1;
  uint64_t m_size = 0;
  Elf64_Ehdr m_eh{};
  std::vector<Elf64_Shdr> m_sections;
  bool m_ok = false;
};

// Whether an ELF file carries DWARF (.debug_info): a Debug build, ten times the size of what runs.
bool has_debug_info(const std::string& path) {
  ElfFile f(path);
  if (!f.ok()) return false;
  const std::string names = f.section_bytes(f.sections()[f.header().e_shstrndx]);
  for (const auto& sh : f.sections())
    if (sh.sh_name + 12 <= names.size() && std::memcmp(names.data() + sh.sh_name, ".debug_info", 12) == 0) return true;
  return false;
}

// The DT_NEEDED names of an ELF file (its .dynamic section, read from the file): the libraries the loader opens for
// it. Libraries kbk opens later with dlopen (libarchive, libcurl: util/lazy_library.hpp) are not among them, so the
// bundle does not carry them even when this process has loaded them.
Result<std::vector<std::string>> needed_of(const std::string& path) {
  ElfFile f(path);
  if (!f.ok()) return unexpected(Errc::unsupported, path + " is not an ELF64 shared object kbk can read");
  const auto& sections = f.sections();
  std::vector<std::string> out;
  for (const auto& dyn : sections) {
    if (dyn.sh_type != SHT_DYNAMIC || dyn.sh_link >= sections.size()) continue;
    const std::string d = f.section_bytes(dyn);
    const std::string str = f.section_bytes(sections[dyn.sh_link]);
    if (d.empty() || str.empty())
      return unexpected(Errc::unsupported, path + " is not an ELF64 shared object kbk can read");
    for (uint64_t off = 0; off + sizeof(Elf64_Dyn) <= d.size(); off += sizeof(Elf64_Dyn)) {
      Elf64_Dyn e;
      std::memcpy(&e, d.data() + off, sizeof e);
      if (e.d_tag == DT_NULL) break;
      if (e.d_tag != DT_NEEDED || e.d_un.d_val >= str.size()) continue;
      const char* name = str.data() + e.d_un.d_val;
      out.emplace_back(name, ::strnlen(name, str.size() - e.d_un.d_val));
    }
  }
  return out;
}

// Where copies made once per build are kept: $XDG_CACHE_HOME (else ~/.cache, else /tmp)/kbk-bundle-<uid>, both
// made (0700, as the XDG rules ask) when missing: under a fresh HOME (cron, CI) every run built the bundle again.
std::string cache_dir() {
  const char* cache = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  std::string base = cache && *cache ? std::string(cache) : home && *home ? std::string(home) + "/.cache" : "/tmp";
  (void)::mkdir(base.c_str(), 0700);
  std::string dir = base + "/kbk-bundle-" + std::to_string(::getuid());
  (void)::mkdir(dir.c_str(), 0700);
  return dir;
}

// The cache holds, per build id, the stripped binary (kbk-<id>), the gzip'ed bundle (bundle-<id>-<hash>.tar.gz),
// their temporaries (.tmp-*) and a lock file (lock-<id>). A kbk process holds a shared flock on its build's lock
// file from its first use of the cache until it exits; a build whose lock nobody holds and whose files were last
// used (the newest mtime; the .tar.gz's is refreshed on every use) more than k_cache_keep_seconds ago is removed by
// the next kbk that adds an entry, so the folder keeps the builds in use and the recent ones instead of growing by a
// bundle per build.
constexpr int64_t k_cache_keep_seconds = 600;

// The build id an entry of the cache belongs to ("" for a name that is not kbk's).
std::string cache_entry_id(const std::string& name) {
  std::string rest;
  if (util::starts_with(name, "lock-")) return name.substr(5);
  if (util::starts_with(name, "kbk-")) rest = name.substr(4);
  else if (util::starts_with(name, "bundle-")) rest = name.substr(7);
  else return "";
  if (auto t = rest.find(".tmp-"); t != std::string::npos) rest.resize(t);
  if (util::starts_with(name, "bundle-")) {
    if (auto t = rest.find(".tar.gz"); t != std::string::npos) rest.resize(t);
    auto dash = rest.rfind('-');
    if (dash == std::string::npos) return "";
    rest.resize(dash);  // the files' hash
  }
  return rest;
}

// Takes (once per process) a shared lock on this build's lock file in the cache; the descriptor stays open until the
// process ends. A pruner that removed the file between our open and our lock leaves us an orphan: open it again.
void hold_cache_lock(const std::string& dir, const std::string& id) {
  static std::mutex mutex;
  static std::set<std::string> held;
  std::lock_guard lock(mutex);
  if (!held.insert(id).second) return;
  ::mkdir(dir.c_str(), 0700);
  const std::string path = dir + "/lock-" + id;
  for (int attempt = 0; attempt < 8; ++attempt) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return;
    int r;
    while ((r = ::flock(fd, LOCK_SH)) != 0 && errno == EINTR) {
    }
    struct stat a {}, b {};
    if (r == 0 && ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
      return;  // held for the life of the process
    ::close(fd);
  }
}

// Marks an entry as just used (its mtime), so a pruner of another build keeps it for a while.
void touch_cache_entry(const std::string& path) { (void)::utimensat(AT_FDCWD, path.c_str(), nullptr, 0); }

// Removes the entries of every build but `keep` that no process holds and nobody used lately (see above).
void prune_cache(const std::string& dir, const std::string& keep) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::map<std::string, std::vector<std::string>> by_id;
  std::map<std::string, int64_t> newest;
  while (struct dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    const std::string id = cache_entry_id(name);
    if (id.empty() || id == keep) continue;
    struct stat st {};
    if (::lstat((dir + "/" + name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    by_id[id].push_back(name);
    if (!util::starts_with(name, "lock-")) newest[id] = std::max<int64_t>(newest[id], st.st_mtim.tv_sec);
  }
  ::closedir(d);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const auto& [id, names] : by_id) {
    if (now - newest[id] < k_cache_keep_seconds) continue;
    const std::string lock_path = dir + "/lock-" + id;
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {  // a kbk of that build runs
      ::close(fd);
      continue;
    }
    for (const auto& name : names)
      if (!util::starts_with(name, "lock-")) ::unlink((dir + "/" + name).c_str());
    ::unlink(lock_path.c_str());  // still locked: whoever opened it meanwhile opens it again (hold_cache_lock)
    ::close(fd);
    log::info(2, "removed the cached kbk bundle of build " + id + " from " + dir);
  }
}

// A copy of a Debug build without its debug sections (objcopy --strip-debug), cached per build under the user's
// cache folder, so helper pods get tens of MB instead of hundreds; the program itself when that is not possible.
std::string without_debug_info(const std::string& program, const std::string& id) {
  if (!has_debug_info(program)) return program;
  const std::string dir = cache_dir();
  const std::string out = dir + "/kbk-" + id;
  hold_cache_lock(dir, id);
  struct stat st;
  if (::stat(out.c_str(), &st) == 0) return out;  // not touched: the .tar.gz's name hashes its mtime
  const std::string tmp = out + ".tmp-" + std::to_string(::getpid());
  std::vector<std::string> args = {"objcopy", "--strip-debug", program, tmp};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  const int rc = ::posix_spawnp(&pid, "objcopy", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  if (rc != 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
      ::rename(tmp.c_str(), out.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return program;
  }
  prune_cache(dir, id);
  return out;
}

Result<Bundle> find_bundle(bool with_libcurl) {
  Bundle b;
  const std::string exe = real_path("/proc/self/exe");
  if (exe.empty()) return unexpected(Errc::unsupported, "cannot find this kbk binary (/proc/self/exe)");
  // libcurl is opened on first use: load it now (an s3:// command has already) so that it and its libraries are
  // among the loaded ones below, found where this process took them from.
  if (with_libcurl && !util::lazy_library_available(util::k_libcurl_soname))
    return unexpected(Errc::unsupported, std::string("cannot load ") + util::k_libcurl_soname + " for the mover bundle");
  Found found;
  ::dl_iterate_phdr(collect, &found);
  std::string loader;
  if (!found.interp.empty()) loader = found.interp;
  // kbk started through the loader itself (as in a pod): the loader is /proc/self/exe, the program is in argv.
  for (const auto& l : found.libs)
    if (loader.empty() && base_name(l).rfind("ld-linux", 0) == 0) loader = l;
  if (loader.empty()) return unexpected(Errc::unsupported, "this kbk is linked statically or has no dynamic loader");
  std::string program = exe;
  if (base_name(exe).rfind("ld-linux", 0) == 0 || base_name(exe) == "ld.so") {
    // Running from a bundle: the program is the "kbk" beside the loader.
    program = exe.substr(0, exe.rfind('/')) + "/kbk";
  }
  auto add = [&](const std::string& source, const std::string& name, uint32_t mode) -> Result<void> {
    const std::string real = real_path(source);
    struct stat st;
    if (real.empty() || ::stat(real.c_str(), &st) != 0)
      return unexpected(Errc::unsupported, "cannot read " + source + " for the mover bundle");
    b.files.push_back(BundleFile{real, name, mode, static_cast<uint64_t>(st.st_size)});
    b.bytes += static_cast<uint64_t>(st.st_size);
    return {};
  };
  // The id: version and the program's build ID (the linker's hash of its output; the SHA-256 of the file where it has
  // none), so another build is another cache folder in the pod. The build ID is read from memory: no 10 MB to hash.
  std::string hash;
  if (!found.build_id.empty()) {
    static const char* hex = "0123456789abcdef";
    for (unsigned char c : found.build_id) hash += {hex[c >> 4], hex[c & 15]};
  } else {
    auto content = util::read_file(program);
    if (!content) return unexpected(Errc::unsupported, "cannot read " + program + ": " + content.error().message);
    hash = crypto::sha256_hex(*content);
  }
  if (hash.size() < 12) hash.append(12 - hash.size(), '0');
  const std::string build = std::string(KBK_VERSION) + "-" + hash.substr(0, 12);
  b.id = build + (with_libcurl ? "-s3" : "");
  const std::string runnable = without_debug_info(program, build);
  KBK_TRY(add(runnable, "kbk", 0755));
  KBK_TRY(add(loader, "ld.so", 0755));
  // The libraries: what the program needs (DT_NEEDED), transitively, each found where this process loaded it.
  std::map<std::string, std::string> loaded;  // base name -> path
  for (const auto& l : found.libs) loaded.emplace(base_name(l), l);
  std::set<std::string> names;
  std::vector<std::string> todo;
  KBK_ASSIGN_OR_RETURN(todo, needed_of(runnable));
  if (with_libcurl) todo.push_back(util::k_libcurl_soname);
  while (!todo.empty()) {
    const std::string soname = todo.back();
    todo.pop_back();
    if (soname == base_name(loader) || !names.insert(soname).second) continue;
    auto it = loaded.find(soname);
    if (it == loaded.end())
      return unexpected(Errc::unsupported, "cannot find the library " + soname + " this kbk was loaded with");
    KBK_TRY(add(it->second, "lib/" + soname, 0644));
    KBK_ASSIGN_OR_RETURN(auto more, needed_of(real_path(it->second)));
    todo.insert(todo.end(), more.begin(), more.end());
  }
  struct utsname u {};
  ::uname(&u);
  b.arch = u.machine;
  return b;
}

}  // namespace

Result<const Bundle*> current_bundle(bool with_libcurl) {
  static std::once_flag once[2];
  static std::optional<Result<Bundle>> found[2];
  const int i = with_libcurl ? 1 : 0;
  std::call_once(once[i], [&] { found[i].emplace(find_bundle(with_libcurl)); });
  if (!*found[i]) return unexpected(found[i]->error());
  return &**found[i];
}

Result<void> write_bundle(const Bundle& bundle, const std::string& dir) {
  for (const std::string& d : {dir, dir + "/lib"})
    if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) return unexpected(Errc::io, d + ": " + std::strerror(errno));
  for (const auto& f : bundle.files) {
    auto content = util::read_file(f.source);
    if (!content) return unexpected(content.error());
    const std::string to = dir + "/" + f.name;
    int fd = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, f.mode & 0700);
    if (fd < 0) return unexpected(Errc::io, to + ": " + std::strerror(errno));
    const char* p = content->data();
    size_t left = content->size();
    while (left > 0) {
      ssize_t n = ::write(fd, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        ::close(fd);
        return unexpected(Errc::io, to + ": " + std::strerror(errno));
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    ::close(fd);
  }
  return {};
}

namespace {

// One ustar header block.
std::string ustar_header(const std::string& name, uint32_t mode, uint64_t size, char type) {
  std::string h(512, '\0');
  std::memcpy(h.data(), name.data(), std::min<size_t>(name.size(), 99));
  auto octal = [&](size_t off, size_t len, uint64_t v) {
    std::string s(len - 1, '0');
    for (size_t i = len - 1; i-- > 0 && v;) {
      s[i] = static_cast<char>('0' + (v & 7));
      v >>= 3;
    }
    std::memcpy(h.data() + off, s.data(), s.size());
  };
  octal(100, 8, mode);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, size);
  octal(136, 12, static_cast<uint64_t>(std::time(nullptr)));
  h[156] = type;
  std::memcpy(h.data() + 257, "ustar", 6);
  std::memcpy(h.data() + 263, "00", 2);
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  char chk[8];
  std::snprintf(chk, sizeof chk, "%06o", sum);
  std::memcpy(h.data() + 148, chk, 7);
  h[155] = ' ';
  h[154] = '\0';
  return h;
}

}  // namespace

Result<void> bundle_tar(const Bundle& bundle, const std::string& top,
                        const std::function<Result<void>(std::string_view)>& sink_data) {
  // The stream ends on a whole 10240-byte record, as tar writes one: GNU tar reads whole records, so over an exec
  // that cannot close stdin (v4.channel.k8s.io, the 1.21 profile) it would wait forever for the rest of the last one.
  uint64_t total = 0;
  auto sink = [&](std::string_view data) -> Result<void> {
    total += data.size();
    return sink_data(data);
  };
  KBK_TRY(sink(ustar_header(top + "/", 0700, 0, '5')));
  KBK_TRY(sink(ustar_header(top + "/lib/", 0700, 0, '5')));
  for (const auto& f : bundle.files) {
    int fd = ::open(f.source.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return unexpected(Errc::io, f.source + ": " + std::strerror(errno));
    struct stat st;
    ::fstat(fd, &st);
    const auto size = static_cast<uint64_t>(st.st_size);
    KBK_TRY(sink(ustar_header(top + "/" + f.name, f.mode, size, '0')));
    std::string buf(1 << 18, '\0');
    uint64_t sent = 0;
    while (sent < size) {
      ssize_t n = ::read(fd, buf.data(), std::min<uint64_t>(buf.size(), size - sent));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fd);
        return unexpected(Errc::io, f.source + ": changed while it was read");
      }
      auto r = sink(std::string_view(buf.data(), static_cast<size_t>(n)));
      if (!r) {
        ::close(fd);
        return r;
      }
      sent += static_cast<uint64_t>(n);
    }
    ::close(fd);
    if (size % 512) KBK_TRY(sink(std::string(512 - size % 512, '\0')));
  }
  KBK_TRY(sink(std::string(1024, '\0')));
  if (total % 10240) KBK_TRY(sink(std::string(10240 - total % 10240, '\0')));
  return {};
}

Result<std::shared_ptr<const std::string>> bundle_tar_gz(const Bundle& bundle) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const std::string>> made;
  std::lock_guard lock(mutex);
  if (auto it = made.find(bundle.id); it != made.end()) return it->second;
  const std::string dir = cache_dir();
  // Named by the build and by the files' paths, sizes and times: a library updated on this host is another file.
  std::string files;
  for (const auto& f : bundle.files) {
    struct stat st {};
    ::stat(f.source.c_str(), &st);
    files += f.source + " " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
             std::to_string(st.st_mtim.tv_nsec) + "\n";
  }
  const std::string path = dir + "/bundle-" + bundle.id + "-" + crypto::sha256_hex(files).substr(0, 12) + ".tar.gz";
  std::shared_ptr<const std::string> gz;
  hold_cache_lock(dir, bundle.id);
  if (auto cached = util::read_file(path); cached && compress::is_gzip(*cached)) {
    gz = std::make_shared<const std::string>(std::move(*cached));
    touch_cache_entry(path);
  } else {
    std::string tar;
    tar.reserve(bundle.bytes + (1u << 20));
    KBK_TRY(bundle_tar(bundle, "bundle", [&](std::string_view data) -> Result<void> {
      tar.append(data);
      return {};
    }));
    gz = std::make_shared<const std::string>(compress::gzip(tar));
    // Kept for the next run (another kbk process of the same build); a cache that cannot be written costs only time.
    ::mkdir(dir.c_str(), 0700);
    if (util::write_file_atomic(path, *gz)) prune_cache(dir, bundle.id);
  }
  made[bundle.id] = gz;
  return gz;
}

// ---- the mover --------------------------------------------------------------------------------------------------

namespace {

using protocol::Frame;
using protocol::Type;

// Log lines of the mover (its stderr), prefixed and passed to kbk's log.
class StderrLines {
public:
  explicit StderrLines(std::string prefix) : m_prefix(std::move(prefix)) {}
  void add(std::string_view s) {
    std::lock_guard lock(m_mutex);
    m_buf.append(s);
    size_t pos;
    while ((pos = m_buf.find('\n')) != std::string::npos) {
      emit(m_buf.substr(0, pos));
      m_buf.erase(0, pos + 1);
    }
    if (m_buf.size() > 8192) {
      emit(m_buf);
      m_buf.clear();
    }
  }
  std::string last() const {
    std::lock_guard lock(m_mutex);
    return m_last;
  }

private:
  void emit(const std::string& line) {
    if (util::trim(line).empty()) return;
    m_last = std::string(util::trim(line));
    const std::string text = m_prefix + util::printable(line);
    if (line.find("warning") != std::string::npos || line.find("error") != std::string::npos) log::warning(text);
    else log::info(1, text);
  }
  std::string m_prefix;
  mutable std::mutex m_mutex;
  std::string m_buf, m_last;
};

// The mover's malloc (GLIBC_TUNABLES in its environment): frames and pack spans of up to 32 MiB come and go all the
// time; glibc maps each such block afresh and unmaps it when freed, so every 4 KiB of every frame cost a page fault
// and a zero fill. Kept in the heap instead, they are reused. The mover lives for one volume.
constexpr const char* k_mover_malloc = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456";

// Where a move's time went, phase by phase (logged at -v 2: docs/mover.md section 5 measures with it).
class Phases {
public:
  using Clock = std::chrono::steady_clock;
  // The phase that ends now, since the last mark (or this object's making).
  void mark(const std::string& what) {
    const auto now = Clock::now();
    m_text += (m_text.empty() ? "" : ", ") + what + " " + seconds(std::chrono::duration<double>(now - m_last).count());
    m_last = now;
  }
  void note(const std::string& text) { m_text += text; }
  static std::string seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f s", s);
    return buf;
  }
  const std::string& text() const { return m_text; }

private:
  Clock::time_point m_last = Clock::now();
  std::string m_text;
};

class KbkMover final : public Mover {
public:
  KbkMover(kube::Client& client, KbkMoverOptions o) : m_client(client), m_o(std::move(o)) {
    ExecTarOptions t;
    t.stall_timeout_seconds = m_o.stall_timeout_seconds;
    t.protocols = m_o.protocols;
    m_tar = make_exec_tar_mover(client, t);
    // The bundle's files are found (ELF headers; a Debug build's stripped copy made) while the run lists objects.
    // Its .tar.gz (14 MB, ~38 MiB of peak RSS while it is made) is read from the cache or made only when the first
    // helper pod asks for it: a run without volumes never holds it.
    m_warm = std::async(std::launch::async, [] { (void)current_bundle(); });
  }
  std::string name() const override { return "kbk"; }

  Result<MoveStats> backup(const MoverTarget& target, repo::Repository& repo, const SnapshotLabels& labels, Live live,
                           const std::function<void(uint64_t)>& on_bytes) override {
    const auto start = std::chrono::steady_clock::now();
    // A workload's own container (--fs-backup-via-workload) has no scratch volume of kbk's: tar, as documented.
    if (target.container != k_mover_container) return m_tar->backup(target, repo, labels, live, on_bytes);
    // The parent: the newest snapshot of the same volume.
    std::optional<repo::Snapshot> parent;
    if (auto all = repo.list_snapshots(); all)
      for (const auto& s : *all)
        if (s.path == labels.name) parent = s;
    json::Document doc;
    doc.SetObject();
    auto& a = doc.GetAllocator();
    json::set(doc, "op", json::make_string("backup", a), a);
    json::set(doc, "path", json::make_string(target.path, a), a);
    json::set(doc, "name", json::make_string(labels.name, a), a);
    json::set(doc, "backup", json::make_string(labels.backup, a), a);
    json::Value tags(rapidjson::kArrayType);
    for (const auto& [k, v] : labels.tags) {
      json::Value pair(rapidjson::kArrayType);
      pair.PushBack(json::make_string(k, a), a);
      pair.PushBack(json::make_string(v, a), a);
      tags.PushBack(pair, a);
    }
    json::set(doc, "tags", std::move(tags), a);
    json::set(doc, "host", json::make_string(target.namespace_ + "/" + target.pod, a), a);
    if (parent) {
      json::Value p(rapidjson::kObjectType);
      json::set(p, "id", json::make_string(repo::to_hex(parent->id), a), a);
      json::set(p, "tree", json::make_string(repo::to_hex(parent->tree), a), a);
      json::set(doc, "parent", std::move(p), a);
    }
    // A clone of a CSI snapshot (read without a live workload) has new inode numbers and change times every time.
    const bool relaxed = m_o.ignore_inode || live == Live::no;
    json::set(doc, "ignoreInode", json::Value(relaxed), a);
    json::set(doc, "ignoreCtime", json::Value(relaxed), a);
    json::set(doc, "workers", json::Value(m_o.workers), a);
    // An s3:// location: the mover stores the packs in the bucket itself (docs/mover.md section 6).
    auto s3 = mover_access(repo, true);
    if (s3) json::set(doc, "s3", protocol::s3_settings_json(*s3, a), a);
    const double prepared = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // The metadata fingerprint (docs/mover.md section 3, "Unchanged volumes"), taken by the probe's exec before
    // anything is copied: equal to the parent's, the volume needs no mover at all.
    Fingerprinting fp;
    fp.inode = !m_o.ignore_inode;
    fp.unchanged = [&](const FingerprintProbe& p) { return parent && fingerprint_unchanged(*parent, p, fp.inode); };
    auto started = start_mover(target, doc, repo, on_bytes, s3.get(), &fp);
    if (!started)
      return fallback(started.error(), target, [&] { return m_tar->backup(target, repo, labels, live, on_bytes); });
    Outcome& out = *started;
    if (out.unchanged) {
      repo::Snapshot snap = unchanged_snapshot(*parent, target.namespace_ + "/" + target.pod, labels.tags, labels.backup);
      uint64_t stored = 0;
      KBK_TRY(repo.save_snapshot(snap, &stored));
      out.phases.mark("snapshot written");
      log::info(1, "volume " + labels.name + " unchanged since snapshot " + repo::to_hex(parent->id).substr(0, 12) +
                       " (metadata fingerprint): no mover run");
      log::info(2, "mover timing " + labels.name + " in " + target.display() + ": parent snapshot " +
                       Phases::seconds(prepared) + ", " + out.phases.text());
      MoveStats st;
      st.kind = "kbk";
      st.unchanged_by = "fingerprint";
      st.snapshot = repo::to_hex(snap.id);
      st.bytes = snap.summary.bytes_total;
      st.files = snap.summary.files;
      st.stream_bytes = st.bytes_through_host = out.status.stdout_bytes + out.status.stdin_bytes;
      st.bytes_uploaded = stored;
      const auto& root = snap.fingerprint->root;
      st.root.known = true;
      st.root.uid = root.uid;
      st.root.gid = root.gid;
      st.root.mode = root.mode;
      st.root.mtime = root.mtime;
      st.root.mtime_nsec = root.mtime_nsec;
      st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return st;
    }
    log::info(2, "mover timing " + labels.name + " in " + target.display() + ": parent snapshot " +
                     Phases::seconds(prepared) + ", " + out.phases.text());
    MoveStats st = stats_of(out);
    const json::Value& r = out.result;
    st.snapshot = json::get_string(r, {"snapshot"});
    if (const json::Value* root = json::find(r, "root"); root && root->IsObject()) {
      auto u = [&](const char* k) {
        const json::Value* v = json::find(*root, k);
        return v && v->IsUint64() ? v->GetUint64() : 0;
      };
      st.root.known = true;
      st.root.uid = static_cast<uint32_t>(u("uid"));
      st.root.gid = static_cast<uint32_t>(u("gid"));
      st.root.mode = static_cast<uint32_t>(u("mode"));
      const json::Value* m = json::find(*root, "mtime");
      st.root.mtime = m && m->IsInt64() ? m->GetInt64() : 0;
      st.root.mtime_nsec = static_cast<uint32_t>(u("mtimeNsec"));
    }
    st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return st;
  }

  Result<MoveStats> restore(const MoverTarget& target, repo::Repository& repo, const repo::Snapshot& snapshot,
                            const RootMeta& root, bool owners, const std::function<void(uint64_t)>& on_bytes) override {
    const auto start = std::chrono::steady_clock::now();
    if (target.container != k_mover_container) return m_tar->restore(target, repo, snapshot, root, owners, on_bytes);
    json::Document doc;
    doc.SetObject();
    auto& a = doc.GetAllocator();
    json::set(doc, "op", json::make_string("restore", a), a);
    json::set(doc, "path", json::make_string(target.path, a), a);
    json::Value s(rapidjson::kObjectType);
    json::set(s, "id", json::make_string(repo::to_hex(snapshot.id), a), a);
    json::set(s, "tree", json::make_string(repo::to_hex(snapshot.tree), a), a);
    json::set(doc, "snapshot", std::move(s), a);
    json::set(doc, "owners", json::Value(owners), a);
    // Twice the workers: each read of packs is a round trip through kbk, so half of them wait on one while the
    // others decode and write.
    json::set(doc, "workers", json::Value(m_o.workers * 2), a);
    if (root.known) {
      json::Value r(rapidjson::kObjectType);
      json::set(r, "uid", json::Value(static_cast<uint64_t>(root.uid)), a);
      json::set(r, "gid", json::Value(static_cast<uint64_t>(root.gid)), a);
      json::set(r, "mode", json::Value(static_cast<uint64_t>(root.mode & 07777)), a);
      json::set(r, "mtime", json::Value(root.mtime), a);
      json::set(r, "mtimeNsec", json::Value(static_cast<uint64_t>(root.mtime_nsec)), a);
      json::set(doc, "root", std::move(r), a);
    }
    // An s3:// location: the mover reads the packs from the bucket itself.
    auto s3 = mover_access(repo, false);
    if (s3) json::set(doc, "s3", protocol::s3_settings_json(*s3, a), a);
    auto started = start_mover(target, doc, repo, on_bytes, s3.get());
    if (!started)
      return fallback(started.error(), target,
                      [&] { return m_tar->restore(target, repo, snapshot, root, owners, on_bytes); });
    MoveStats st = stats_of(*started);
    st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return st;
  }

private:
  struct Outcome {
    json::Document result;
    kube::ExecStatus status;
    protocol::ServeCounts counts;
    uint64_t bundle_bytes = 0;
    Phases phases;
    bool unchanged = false;  // the fingerprint equalled the parent's: no mover ran, result is null
  };

  // A backup's fingerprint request: with or without inode numbers, and whether a probe proves the volume unchanged.
  struct Fingerprinting {
    bool inode = true;
    std::function<bool(const FingerprintProbe&)> unchanged;
  };

  // How the mover reaches an s3:// location (nullptr for others): kbk's settings, and credentials of its own where
  // kbk's come from a role it assumes (a session limited to the packs, read and written or read only), else kbk's.
  static std::shared_ptr<storage::S3Access> mover_access(repo::Repository& repo, bool write) {
    auto s3 = repo.backend().s3_access();
    if (s3 && s3->credentials)
      s3->credentials = storage::aws::make_scoped_provider(
          s3->credentials, protocol::mover_session_policy(s3->settings, write), protocol::k_mover_session_seconds);
    return s3;
  }

  static MoveStats stats_of(const Outcome& out) {
    MoveStats st;
    st.kind = "kbk";
    const json::Value* sum = json::find(out.result, "summary");
    auto u = [&](const char* k) -> uint64_t {
      const json::Value* v = sum ? json::find(*sum, k) : nullptr;
      return v && v->IsUint64() ? v->GetUint64() : 0;
    };
    st.bytes = u("bytesTotal");
    st.files = u("files");
    st.new_bytes = u("bytesNew");
    st.stored_bytes = u("bytesStored");
    st.bytes_read_in_pod = u("bytesRead");
    // The bundle's copy shares the mover's exec: its bytes are counted apart (bundleBytes), not as the mover's.
    st.stream_bytes =
        out.status.stdout_bytes + out.status.stdin_bytes - std::min(out.status.stdin_bytes, out.bundle_bytes);
    st.bytes_through_host = st.stream_bytes;
    st.bytes_uploaded = out.counts.bytes_written + u("bytesToStorage");  // through kbk + straight to the bucket
    st.bundle_bytes = out.bundle_bytes;
    if (const json::Value* w = json::find(out.result, "warnings"); w && w->IsArray())
      for (const auto& x : w->GetArray())
        if (x.IsString()) st.warnings.emplace_back(x.GetString());
    return st;
  }

  template <class F>
  Result<MoveStats> fallback(const Error& why, const MoverTarget& target, F&& run_tar) {
    if (!why.is(Errc::precondition) && !why.is(Errc::unsupported)) return unexpected(why);
    const std::string line = "the kbk mover cannot run in " + target.display() + " (" + why.message + "): using tar";
    log::warning(line);
    KBK_ASSIGN_OR_RETURN(MoveStats st, run_tar());
    st.warnings.insert(st.warnings.begin(), line);
    return st;
  }

  kube::ExecRequest request(const MoverTarget& target, std::vector<std::string> argv) const {
    return mover_exec_request(target, std::move(argv), m_o.stall_timeout_seconds, m_o.protocols);
  }

  // An exec whose shell becomes `kbk mover serve` once the bundle is in place (launch()).
  struct Launched {
    std::unique_ptr<kube::ExecSession> session;
    std::shared_ptr<StderrLines> lines;
    std::string stdout_left;  // read past the script's last line: the start of the mover's frames
    bool image = false;       // the image's own kbk runs, not the bundle
    uint64_t bundle_bytes = 0;
    Phases phases;
    std::optional<FingerprintProbe> fingerprint;  // what the pod's tools printed, when asked and well formed
    bool unchanged = false;   // the fingerprint proved the volume unchanged: the script was stopped (status)
    kube::ExecStatus status;
  };

  // Starts the mover: the image's own kbk when it has one (--mover-image with kbk in it) and it is this version,
  // else this kbk's bundle, copied first when the pod does not have it yet.
  // fp (backups): the fingerprint is taken first; an unchanged volume's Outcome says so and nothing runs. Otherwise
  // the digest goes into the start frame when it may be recorded.
  Result<Outcome> start_mover(const MoverTarget& target, json::Document& doc, repo::Repository& repo,
                              const std::function<void(uint64_t)>& on_bytes, const storage::S3Access* s3,
                              const Fingerprinting* fp = nullptr) {
    const std::string prefix =
        "[mover " + target.namespace_ + "/" + target.pod + " " + json::get_string(doc, {"name"}, target.path) + "] ";
    KBK_ASSIGN_OR_RETURN(Launched l, launch(target, true, prefix, s3 != nullptr, fp));
    if (l.unchanged) {
      Outcome out;
      out.result.SetNull();
      out.unchanged = true;
      out.status = l.status;
      out.phases = l.phases;
      return out;
    }
    if (fp && l.fingerprint) {
      if (fingerprint_recordable(*l.fingerprint)) {
        auto& a = doc.GetAllocator();
        json::Value f(rapidjson::kObjectType);
        json::set(f, "version", json::Value(k_fingerprint_version), a);
        json::set(f, "digest", json::make_string(l.fingerprint->digest, a), a);
        json::set(f, "inode", json::Value(fp->inode), a);
        json::set(doc, "fingerprint", std::move(f), a);
      } else {
        log::info(2, "volume " + json::get_string(doc, {"name"}) + ": an entry changed at most 1 s before its "
                     "fingerprint was taken: the snapshot will not record it");
      }
    }
    if (l.image) {
      auto out = converse(target, l, doc, repo, on_bytes, s3);
      if (out || !out.error().is(Errc::unsupported)) return out;
      log::info(1, out.error().message + ": copying this kbk's bundle instead");
      KBK_ASSIGN_OR_RETURN(l, launch(target, false, prefix, s3 != nullptr));  // the digest is in doc already
    }
    return converse(target, l, doc, repo, on_bytes, s3);
  }

  // One exec per volume looks at the pod, copies the bundle into its scratch volume when it is not there yet, and
  // then becomes the mover (the shell execs it), so the bundle's copy and the mover's start cost one exec, not two.
  // Errc::precondition when the pod cannot take the bundle (no scratch volume, no sh or tar, another architecture):
  // the caller falls back to tar. with_libcurl: the bundle with libcurl's closure, for a mover that reaches an S3
  // location itself.
  Result<Launched> launch(const MoverTarget& target, bool image_kbk, const std::string& prefix, bool with_libcurl,
                          const Fingerprinting* fp = nullptr) {
    if (target.container != k_mover_container)
      return unexpected(Errc::precondition, "a workload's container has no scratch volume for the bundle");
    KBK_ASSIGN_OR_RETURN(const Bundle* b, current_bundle(with_libcurl));
    const std::string dir = std::string(k_scratch_path) + "/bundle-" + b->id;
    const std::string key = target.namespace_ + "/" + target.pod + "|" + dir;
    bool known = false;
    {
      std::lock_guard lock(m_mutex);
      known = m_installed.count(key) > 0;
    }
    // The script says what it found in one line ("kbk-probe ARCH present|writable|none gzip|plain IMAGE-KBK|-"),
    // then reads kbk's answer from stdin: "stop"; "run" (the bundle is there) or "image" (the image's kbk); or
    // "gzip N"/"tar N" followed by the bundle's stream. `read` takes stdin byte by byte, so what follows the line is
    // left whole for the unpacker and then the mover. Unpacked in a folder of this process, then renamed: a
    // half-copied bundle is never taken. The gzip'ed stream is cut by head -c at its known length so the pipeline
    // ends even where stdin cannot be closed (v4.channel.k8s.io); the plain one ends on a whole tar record for the
    // same reason. Then "kbk-ready", and the shell execs the mover ($6...: the bundle's command line), whose frames
    // follow on stdout and stdin.
    const std::string incoming = std::string(k_scratch_path) + "/incoming-" + std::to_string(::getpid());
    std::vector<std::string> command = {
        "sh", "-c",
        "a=$(uname -m); k=-; if [ \"$4\" = 1 ]; then for c in /usr/local/bin/kbk /usr/bin/kbk; do "
        "if [ -x \"$c\" ]; then k=$c; break; fi; done; fi; s=none; "
        "if [ -x \"$1/ld.so\" ] && [ -f \"$1/kbk\" ]; then s=present; elif [ -d \"$3\" ] && [ -w \"$3\" ]; then "
        "s=writable; fi; z=plain; if command -v gzip >/dev/null 2>&1 && command -v head >/dev/null 2>&1; then "
        "z=gzip; fi; " + std::string(k_fingerprint_script) + "echo \"kbk-probe $a $s $z $k\"; read -r cmd n || exit 0; "
        "case \"$cmd\" in gzip|tar|run|image) ;; *) exit 0;; esac; "
        "if [ \"$cmd\" = gzip ] || [ \"$cmd\" = tar ]; then set -e; rm -rf \"$2\"; mkdir \"$2\"; cd \"$2\"; "
        "if [ \"$cmd\" = gzip ]; then head -c \"$n\" | gzip -dc | tar -x -f -; else tar -x -f -; fi; "
        "[ -x bundle/ld.so ]; cd /; if [ -d \"$1\" ]; then rm -rf \"$2\"; else mv \"$2/bundle\" \"$1\"; "
        "rm -rf \"$2\"; fi; set +e; fi; echo kbk-ready; export GLIBC_TUNABLES=\"$5\"; "
        "if [ \"$cmd\" = image ]; then exec \"$k\" mover serve; fi; shift 7; exec \"$@\"",
        "kbk-install", dir, incoming, k_scratch_path, image_kbk ? "1" : "0", k_mover_malloc,
        fp ? (fp->inode ? "i" : "n") : "-", target.path};
    for (auto& arg : b->argv(dir)) command.push_back(std::move(arg));
    command.push_back("mover");
    command.push_back("serve");
    kube::ExecRequest req = request(target, std::move(command));
    req.stdin_ = true;
    Launched l;
    l.lines = std::make_shared<StderrLines>(prefix);
    req.on_stderr = [lines = l.lines](std::string_view s) -> Result<void> {
      lines->add(s);
      return {};
    };
    auto session = m_client.exec(req);
    if (!session) return unexpected(session.error().wrap("starting the kbk mover in " + target.display()));
    l.phases.mark("exec open");
    l.session = std::move(*session);
    SessionGuard guard(l.session.get());
    kube::ExecSession& sess = *l.session;
    std::string& out = l.stdout_left;
    auto read_line = [&]() -> Result<std::string> {
      char buf[4096];
      while (out.find('\n') == std::string::npos && out.size() < 65536) {
        KBK_ASSIGN_OR_RETURN(size_t n, sess.read_stdout(buf, sizeof buf));
        if (n == 0) break;
        out.append(buf, n);
      }
      const size_t nl = out.find('\n');
      std::string line = out.substr(0, nl);
      out.erase(0, nl == std::string::npos ? out.size() : nl + 1);
      return line;
    };
    auto stop = [&](Error why) -> Result<Launched> {  // the script ends without starting anything
      (void)sess.write_stdin("stop\n");
      if (sess.can_close_stdin()) (void)sess.close_stdin();
      (void)sess.wait();
      return unexpected(std::move(why));
    };
    // A pod this run gave the bundle is told to run it at once, without waiting for the probe line; not when a
    // fingerprint may tell it to stop.
    if (known && !fp)
      if (auto w = sess.write_stdin("run\n"); !w)
        return unexpected(w.error().wrap("starting the kbk mover in " + target.display()));
    auto probe = read_line();
    if (!probe) return stop(probe.error());
    if (fp && util::starts_with(*probe, "kbk-fp")) {
      l.fingerprint = parse_fingerprint_line(*probe);
      l.phases.mark("fingerprint");
      if (!l.fingerprint)
        log::info(2, "no metadata fingerprint of " + target.display() + " (the pod printed \"" +
                         util::printable(probe->substr(0, 200)) + "\"): the mover runs");
      probe = read_line();
      if (!probe) return stop(probe.error());
    }
    l.phases.mark("probe");
    auto fields = util::split(*probe, ' ');
    if (fields.size() != 5 || fields[0] != "kbk-probe") {
      auto st = sess.wait();
      if (!st) return unexpected(st.error().wrap("starting the kbk mover in " + target.display()));  // no exit status
      return unexpected(Errc::precondition, "the container cannot run sh (exit " + std::to_string(st->exit_code) + ")");
    }
    const std::string arch(fields[1]), state(fields[2]), image(fields[4]);
    if (arch != b->arch)
      return stop(Error{Errc::precondition, "the node is " + util::printable(arch) + ", this kbk is " + b->arch});
    if (l.fingerprint && fp->unchanged && fp->unchanged(*l.fingerprint)) {
      // Nothing changed since the parent's walk: the script ends, no bundle, no mover.
      if (auto w = sess.write_stdin("stop\n"); !w)
        return unexpected(w.error().wrap("starting the kbk mover in " + target.display()));
      if (sess.can_close_stdin()) (void)sess.close_stdin();
      auto st = sess.wait();
      if (!st) return unexpected(st.error().wrap("starting the kbk mover in " + target.display()));
      l.phases.mark("exec end");
      l.status = *st;
      l.unchanged = true;
      return l;
    }
    std::shared_ptr<const std::string> gz;
    bool copied = false;
    Result<void> fed;
    if (known) {
      // Told to run before the probe unless a fingerprint was asked (and the volume turned out changed).
      if (fp) fed = sess.write_stdin("run\n");
    } else if (image_kbk && image != "-" && util::starts_with(image, "/")) {
      l.image = true;
      fed = sess.write_stdin("image\n");
    } else if (state == "present") {
      fed = sess.write_stdin("run\n");
    } else if (state != "writable") {
      return stop(Error{Errc::precondition, std::string("no writable scratch volume at ") + k_scratch_path});
    } else {
      copied = true;
      if (fields[3] == "gzip") {
        auto made = bundle_tar_gz(*b);
        if (made) gz = *made;
        else log::info(1, "cannot compress the kbk bundle (" + made.error().message + "): sending it uncompressed");
      }
      uint64_t sent = 0;
      fed = sess.write_stdin(gz ? "gzip " + std::to_string(gz->size()) + "\n" : "tar 0\n");
      if (fed && gz) {
        for (size_t off = 0; fed && off < gz->size(); off += 1u << 20) {
          const std::string_view piece = std::string_view(*gz).substr(off, 1u << 20);
          fed = sess.write_stdin(piece);
          sent += piece.size();
        }
      } else if (fed) {
        fed = bundle_tar(*b, "bundle", [&](std::string_view data) -> Result<void> {
          sent += data.size();
          return sess.write_stdin(data);
        });
      }
      l.bundle_bytes = sent;
    }
    if (!fed) {
      sess.cancel();
      (void)sess.wait();
      return unexpected(fed.error().wrap((copied ? "copying the kbk bundle into " : "starting the kbk mover in ") +
                                         target.display()));
    }
    auto ready = read_line();
    l.phases.mark(copied ? "bundle copy and unpack" : "ready");
    if (!ready || *ready != "kbk-ready") {
      auto cs = sess.wait();
      // No exit status: the stream was cut (or stalled) while the bundle went in, a transient fault the caller
      // retries as it retries a cut during the move (stream_cut), not a sign that the bundle cannot run here.
      if (!cs)
        return unexpected(cs.error().wrap((copied ? "copying the kbk bundle into " : "starting the kbk mover in ") +
                                          target.display()));
      const std::string code = std::to_string(cs->exit_code);
      const std::string why = util::printable(util::trim(l.lines->last()));
      if (copied)
        return unexpected(Errc::precondition, std::string(gz ? "gzip and tar" : "tar") +
                                                  " could not unpack the bundle (exit " + code + ")" +
                                                  (why.empty() ? "" : ": " + why));
      return unexpected(Errc::precondition, "the mover's shell ended before it started the mover (exit " + code + ")" +
                                                (why.empty() ? "" : ": " + why));
    }
    if (copied)
      log::info(2, "copied the kbk bundle (" + util::human_bytes(l.bundle_bytes) + (gz ? ", gzip" : "") + ") into " +
                       target.display());
    if (!l.image) {
      std::lock_guard lock(m_mutex);
      m_installed.insert(key);
    }
    return l;
  }

  Result<Outcome> converse(const MoverTarget& target, Launched& l, const json::Document& start, repo::Repository& repo,
                           const std::function<void(uint64_t)>& on_bytes, const storage::S3Access* s3) {
    // This side's frames are as large as the mover's (packs, ranges of them): kept in the heap too from here on
    // (k_mover_malloc). A mover's first backup spent most of kbk's CPU mapping, faulting in, zero-filling and
    // unmapping them: 4.1 s -> 1.5 s for 384 MiB on kubesim. Not before the first volume: the resource backup's
    // memory stays as it was.
    static std::once_flag heap_frames;
    std::call_once(heap_frames, [] {
      ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
      ::mallopt(M_TRIM_THRESHOLD, 128 << 20);
    });
    Outcome out;
    out.result.SetNull();
    out.bundle_bytes = l.bundle_bytes;
    out.phases = l.phases;
    auto lines = l.lines;
    SessionGuard guard(l.session.get());
    kube::ExecSession& sess = *l.session;
    auto read = [&](char* buf, size_t n) -> Result<size_t> {
      if (!l.stdout_left.empty()) {  // what the script's lines were read with
        const size_t k = std::min(n, l.stdout_left.size());
        std::memcpy(buf, l.stdout_left.data(), k);
        l.stdout_left.erase(0, k);
        return k;
      }
      return sess.read_stdout(buf, n);
    };
    // A reply carrying a pack's range goes as its head and then its body as it is (no copy of the range).
    auto send = [&](const Frame& f) -> Result<void> {
      if (f.body.size() < (64u << 10)) return sess.write_stdin(protocol::encode(f));
      KBK_TRY(sess.write_stdin(protocol::encode_head(f)));
      return sess.write_stdin(f.body);
    };
    auto cancel = [&] {
      Frame c;
      c.type = Type::cancel;
      c.header = "{}";
      (void)send(c);
      sess.cancel();
    };
    uint64_t last_read = 0;
    bool started = false;
    Result<void> failed;
    for (;;) {
      auto f = protocol::read_frame(read);
      if (!f) {
        failed = unexpected(f.error());
        break;
      }
      if (!*f) break;  // the mover ended its output
      Frame& frame = **f;
      if (frame.type == Type::hello) {
        auto h = json::parse(frame.header, "mover hello");
        const json::Value* p = h && h->IsObject() ? json::find(*h, "protocol") : nullptr;
        const std::string version = h && h->IsObject() ? json::get_string(*h, {"version"}) : "";
        if (!p || !p->IsInt() || p->GetInt() != protocol::k_version || version != KBK_VERSION) {
          cancel();
          (void)sess.wait();
          return unexpected(Errc::unsupported,
                            "the mover in " + target.display() + " is kbk " + util::printable(version) +
                                " (protocol " + (p && p->IsInt() ? std::to_string(p->GetInt()) : "?") + "), this is kbk " +
                                KBK_VERSION + " (protocol " + std::to_string(protocol::k_version) + ")");
        }
        out.phases.mark("mover start (hello)");
        Frame s;
        s.type = Type::start;
        auto secret = with_secrets(start, s3);
        if (!secret) {
          cancel();
          (void)sess.wait();
          return unexpected(secret.error().wrap("kbk mover in " + target.display()));
        }
        s.header = json::to_string(*secret);
        // Without the key, the S3 credentials and CA certificates: those are only in the copy sent over stdin.
        log::debug("mover start " + target.display() + ": " + json::to_string(start));
        if (auto w = send(s); !w) {
          failed = w;
          break;
        }
        started = true;
      } else if (frame.type == Type::request && started && s3 && protocol::is_credentials_request(frame)) {
        log::info(1, "the kbk mover in " + target.display() + " asks for fresh S3 credentials (S3 refused them as expired)");
        if (auto w = send(protocol::serve_credentials(frame, *s3->credentials)); !w) {
          failed = w;
          break;
        }
      } else if (frame.type == Type::request && started) {
        Frame reply = protocol::serve_request(repo.backend(), frame, out.counts, [&](const std::string& key,
                                                                                     std::string_view body) {
          // Only into an index this process loaded (a tar fallback or a restore loads it whole, this one included).
          if (key.find("/index/") != std::string::npos && repo.index_loaded())
            if (auto r = repo.add_index_object(key, body); !r) log::warning(r.error().message);
        }, [&](const Error& refused) { log::warning("the kbk mover in " + target.display() + ": " + refused.message); });
        if (auto w = send(reply); !w) {
          failed = w;
          break;
        }
      } else if (frame.type == Type::progress) {
        auto h = json::parse(frame.header, "mover progress");
        if (h && h->IsObject())
          if (const json::Value* br = json::find(*h, "bytesRead"); br && br->IsUint64() && br->GetUint64() > last_read) {
            if (on_bytes) on_bytes(br->GetUint64() - last_read);
            last_read = br->GetUint64();
          }
      } else if (frame.type == Type::result) {
        auto h = json::parse(frame.header, "mover result");
        if (!h || !h->IsObject()) {
          failed = unexpected(Errc::corrupt, "the mover's result is not a JSON object");
          break;
        }
        out.result = std::move(*h);
        out.phases.mark("mover");
        if (const json::Value* secs = json::find(out.result, "seconds"); secs && secs->IsObject()) {
          auto at = [&](const char* k) {
            const json::Value* v = json::find(*secs, k);
            return Phases::seconds(v && v->IsNumber() ? v->GetDouble() : 0);
          };
          out.phases.note(" (repository open " + at("open") + ", index load " + at("index") + ", " +
                          json::get_string(start, {"op"}) + " " + at("run") + ")");
        }
        break;
      } else {
        failed = unexpected(Errc::corrupt, "the mover sent an unexpected frame (type " +
                                               std::to_string(static_cast<int>(frame.type)) + ")");
        break;
      }
    }
    if (!failed) {
      cancel();
      (void)sess.wait();
      return unexpected(failed.error().wrap("kbk mover in " + target.display()));
    }
    if (sess.can_close_stdin()) (void)sess.close_stdin();
    auto status = sess.wait();
    if (!status) return unexpected(status.error().wrap("kbk mover in " + target.display()));
    out.phases.mark("exec end");
    out.status = *status;
    if (out.result.IsNull()) {
      const int code = status->exit_code;
      if (code == 126 || code == 127)
        return unexpected(Errc::precondition, "the bundle does not start (exit " + std::to_string(code) + "): " +
                                                  lines->last());
      if (!started)
        return unexpected(Errc::precondition, "the bundle exited before it spoke (exit " + std::to_string(code) +
                                                  ")" + (lines->last().empty() ? "" : ": " + lines->last()));
      return unexpected(Errc::io, "the kbk mover in " + target.display() + " ended without a result (exit " +
                                      std::to_string(code) + ")" + (lines->last().empty() ? "" : ": " + lines->last()));
    }
    const json::Value* ok = json::find(out.result, "ok");
    if (!ok || !ok->IsBool() || !ok->GetBool())
      return unexpected(protocol::header_error(out.result, "mover").wrap("kbk mover in " + target.display()));
    return out;
  }

  // The start frame as sent over stdin: with the repository's key, and for s3:// the credentials and CA certificates.
  Result<json::Document> with_secrets(const json::Document& start, const storage::S3Access* s3) const {
    json::Document d = json::clone(start);
    if (s3)
      if (json::Value* v = json::find(d, "s3"); v && v->IsObject()) KBK_TRY(protocol::add_s3_secrets(*v, *s3, d.GetAllocator()));
    if (m_o.key) {
      auto& a = d.GetAllocator();
      json::Value k(rapidjson::kObjectType);
      if (m_o.key->kind == crypto::UserKey::Kind::passphrase) {
        json::set(k, "kind", json::make_string("passphrase", a), a);
        json::set(k, "value", json::make_string(m_o.key->passphrase, a), a);
      } else {
        json::set(k, "kind", json::make_string("key", a), a);
        json::set(k, "value", json::make_string(util::base64_encode(m_o.key->key.bytes()), a), a);
      }
      json::set(d, "key", std::move(k), a);
    }
    return d;
  }

  kube::Client& m_client;
  KbkMoverOptions m_o;
  std::unique_ptr<Mover> m_tar;
  std::mutex m_mutex;
  std::set<std::string> m_installed;
  std::future<void> m_warm;  // last: its destructor waits for the warm-up before the members above go
};

}  // namespace

std::unique_ptr<Mover> make_kbk_mover(kube::Client& client, KbkMoverOptions options) {
  return std::make_unique<KbkMover>(client, std::move(options));
}

std::unique_ptr<Mover> make_mover(kube::Client& client, const MoverSettings& settings, const crypto::UserKey* key) {
  if (settings.kind == "tar") return make_exec_tar_mover(client);
  KbkMoverOptions o;
  o.key = key;
  o.ignore_inode = settings.ignore_inode;
  return make_kbk_mover(client, std::move(o));
}

}  // namespace kbk::volume
