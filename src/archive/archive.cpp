// The Velero-layout tar writer and the hostile-input-proof reader (docs/format-archive.md sections 1 and 2).
// Both stream through libarchive callbacks: the writer into a storage::Writer, the reader out of a
// storage::Reader, so neither ever holds more than one entry.
#include <kbk/archive/archive.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include <chrono>
#include <cstring>
#include <mutex>

#include <kbk/crypto/hash.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::archive {
namespace {

using crypto::sha256_hex;

// A clean relative tar name: no leading '/', no empty, '.' or '..' segment, no NUL or backslash.
bool is_clean_path(std::string_view path) {
  if (path.empty() || path.front() == '/') return false;
  if (path.find('\0') != std::string_view::npos || path.find('\\') != std::string_view::npos) return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    start = end + 1;
  }
  return true;
}

class TarWriter final : public ArchiveWriter {
public:
  TarWriter(std::unique_ptr<storage::Writer> sink, const WriterOptions& options)
      : m_sink(std::move(sink)), m_options(options) {
    auto when = options.mtime == std::chrono::system_clock::time_point{} ? std::chrono::system_clock::now() : options.mtime;
    m_mtime = std::chrono::system_clock::to_time_t(when);
    m_stream_md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(m_stream_md, EVP_sha256(), nullptr);
  }

  ~TarWriter() override {
    if (m_archive) {
      m_discard = true;  // closing writes the tar trailer; it must not reach an aborted sink
      archive_write_free(m_archive);
    }
    if (!m_finished && m_sink) m_sink->abort();
    EVP_MD_CTX_free(m_stream_md);
  }

  Result<void> open() {
    m_archive = archive_write_new();
    if (!m_archive) return unexpected(Errc::internal_error, "archive: out of memory");
    if (archive_write_set_format_pax_restricted(m_archive) != ARCHIVE_OK) return lib_error("setting tar format");
    if (m_options.compression == Compression::gzip) {
      if (archive_write_add_filter_gzip(m_archive) != ARCHIVE_OK) return lib_error("enabling gzip");
    } else if (archive_write_add_filter_none(m_archive) != ARCHIVE_OK) {
      return lib_error("disabling compression");
    }
    // Blocks are written as they fill; no padding of the last block beyond what tar needs.
    archive_write_set_bytes_in_last_block(m_archive, 1);
    if (archive_write_open2(m_archive, this, nullptr, &TarWriter::write_cb, nullptr, nullptr) != ARCHIVE_OK)
      return lib_error("opening the archive stream");
    std::string version = std::string(k_velero_format_version) + "\n";
    return add_entry("metadata/version", version);
  }

  Result<std::string> add_item(const ItemKey& key, std::string_view json, bool preferred) override {
    std::string sum = sha256_hex(json);  // outside the lock: items arrive from several listing threads
    std::string legacy = item_path(key);
    if (!is_clean_path(legacy) || key.name.empty() || key.resource.empty() ||
        key.name.find('/') != std::string::npos || key.namespace_.find('/') != std::string::npos ||
        key.resource.find('/') != std::string::npos || key.group.find('/') != std::string::npos)
      return unexpected(Errc::invalid, "archive: item " + legacy + ": not a clean path");
    std::lock_guard lock(m_mutex);
    KBK_TRY(add_entry(legacy, json));
    if (preferred && !key.version.empty()) KBK_TRY(add_entry(item_path(key, key.version + "-preferredversion"), json));
    return sum;
  }

  Result<void> add_file(const std::string& path, std::string_view data) override {
    if (!is_clean_path(path)) return unexpected(Errc::invalid, "archive: file " + path + ": not a clean relative path");
    std::lock_guard lock(m_mutex);
    return add_entry(path, data);
  }

  Result<void> add_file_stream(const std::string& path, uint64_t size,
                               const std::function<Result<void>(const ChunkSink&)>& body) override {
    if (!is_clean_path(path)) return unexpected(Errc::invalid, "archive: file " + path + ": not a clean relative path");
    std::lock_guard lock(m_mutex);
    KBK_TRY(write_header(path, size));
    uint64_t written = 0;
    auto produced = body([&](std::string_view chunk) -> Result<void> {
      if (written + chunk.size() > size) return unexpected(Errc::internal_error, "archive: file " + path + ": longer than declared");
      KBK_TRY(write_data(path, chunk));
      written += chunk.size();
      return {};
    });
    if (!produced) return std::move(produced).error();
    if (written != size)
      return unexpected(Errc::internal_error, "archive: file " + path + ": " + std::to_string(written) + " of " +
                                                  std::to_string(size) + " declared bytes");
    return {};
  }

  Result<void> finish() override {
    std::lock_guard lock(m_mutex);
    if (m_finished) return {};
    if (!m_archive) return unexpected(Errc::internal_error, "archive: not open");
    int rc = archive_write_close(m_archive);
    if (m_sink_error) return *m_sink_error;
    if (rc != ARCHIVE_OK) return lib_error("closing the archive stream");
    archive_write_free(m_archive);
    m_archive = nullptr;
    KBK_TRY(m_sink->commit());
    m_finished = true;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(m_stream_md, md, &len);
    m_stream_sum = util::hex_encode(md, len);
    return {};
  }

  uint64_t bytes_written() const override { return m_sink ? m_sink->bytes_written() : 0; }
  std::string stream_sha256() const override { return m_stream_sum; }

private:
  static la_ssize_t write_cb(struct archive*, void* self_ptr, const void* buffer, size_t length) {
    auto* self = static_cast<TarWriter*>(self_ptr);
    if (self->m_discard) return static_cast<la_ssize_t>(length);
    if (self->m_sink_error) return -1;
    EVP_DigestUpdate(self->m_stream_md, buffer, length);
    auto r = self->m_sink->write(std::string_view(static_cast<const char*>(buffer), length));
    if (!r) {
      self->m_sink_error = std::move(r).error();
      return -1;
    }
    return static_cast<la_ssize_t>(length);
  }

  Error lib_error(const std::string& what) {
    if (m_sink_error) return *m_sink_error;
    const char* msg = m_archive ? archive_error_string(m_archive) : nullptr;
    return Error{Errc::io, "archive: " + what + ": " + (msg ? msg : "libarchive error")};
  }

  Result<void> add_entry(const std::string& path, std::string_view data) {
    KBK_TRY(write_header(path, data.size()));
    return write_data(path, data);
  }

  Result<void> write_header(const std::string& path, uint64_t size) {
    if (m_finished || !m_archive) return unexpected(Errc::internal_error, "archive: write after finish");
    if (m_sink_error) return *m_sink_error;
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname_utf8(e, path.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(size));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, m_mtime, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    int rc = archive_write_header(m_archive, e);
    archive_entry_free(e);
    if (rc != ARCHIVE_OK) return lib_error("entry " + path);
    return {};
  }

  Result<void> write_data(const std::string& path, std::string_view data) {
    size_t off = 0;
    while (off < data.size()) {
      la_ssize_t n = archive_write_data(m_archive, data.data() + off, data.size() - off);
      if (n <= 0) return lib_error("entry " + path);
      off += static_cast<size_t>(n);
    }
    return {};
  }

  std::unique_ptr<storage::Writer> m_sink;
  WriterOptions m_options;
  struct archive* m_archive = nullptr;
  std::mutex m_mutex;
  std::optional<Error> m_sink_error;
  time_t m_mtime = 0;
  EVP_MD_CTX* m_stream_md = nullptr;
  std::string m_stream_sum;
  bool m_finished = false;
  bool m_discard = false;
};

// Reader side: libarchive pulls compressed bytes through read_cb.
struct ReadSource {
  storage::Reader* reader = nullptr;
  std::string buffer = std::string(256 * 1024, '\0');
  uint64_t compressed = 0;
  std::optional<Error> error;

  static la_ssize_t read_cb(struct archive*, void* self_ptr, const void** out) {
    auto* self = static_cast<ReadSource*>(self_ptr);
    auto r = self->reader->read(self->buffer.data(), self->buffer.size());
    if (!r) {
      self->error = std::move(r).error();
      return -1;
    }
    *out = self->buffer.data();
    self->compressed += *r;
    return static_cast<la_ssize_t>(*r);
  }
};

struct ArchiveReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

// "backup b1" for what = "b1" and for what = "backup b1" (restore passes the latter).
std::string backup_label(std::string_view what) {
  return util::starts_with(what, "backup ") ? std::string(what) : "backup " + std::string(what);
}

Error corrupt(std::string_view what, std::string_view entry, std::string_view msg) {
  std::string m = backup_label(what);
  if (!entry.empty()) m += ": entry " + std::string(entry);
  m += ": " + std::string(msg);
  return Error{Errc::corrupt, m};
}

bool valid_format_version(std::string_view content) {
  std::string_view v = util::trim(content);
  // "1", "1.1", "1.1.0": major 1, then dot-separated digits.
  if (v.empty() || v[0] != '1') return false;
  if (v.size() > 1 && v[1] != '.') return false;
  for (char c : v)
    if (c != '.' && (c < '0' || c > '9')) return false;
  return v.back() != '.';
}

}  // namespace

Result<std::unique_ptr<ArchiveWriter>> make_writer(std::unique_ptr<storage::Writer> sink, const WriterOptions& options) {
  if (!sink) return unexpected(Errc::internal_error, "archive: no output");
  auto w = std::make_unique<TarWriter>(std::move(sink), options);
  KBK_TRY(w->open());
  return std::unique_ptr<ArchiveWriter>(std::move(w));
}

Result<void> read_archive(storage::Reader& source, std::string_view what, const ReaderLimits& limits,
                          const std::function<Result<void>(const Entry&)>& on_entry) {
  std::unique_ptr<struct archive, ArchiveReadFree> a(archive_read_new());
  if (!a) return unexpected(Errc::internal_error, "archive: out of memory");
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_none(a.get());
  archive_read_support_format_tar(a.get());
  ReadSource src;
  src.reader = &source;
  if (archive_read_open(a.get(), &src, nullptr, &ReadSource::read_cb, nullptr) != ARCHIVE_OK) {
    if (src.error) return Error(*src.error).wrap(backup_label(what));
    const char* m = archive_error_string(a.get());
    return corrupt(what, "", std::string("not a tar or tar.gz stream: ") + (m ? m : "unknown format"));
  }

  uint64_t total = 0;
  uint64_t entries = 0;
  std::string data;
  std::string last_entry;
  for (;;) {
    struct archive_entry* e = nullptr;
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (src.error) return Error(*src.error).wrap(backup_label(what));
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      const char* m = archive_error_string(a.get());
      return corrupt(what, last_entry.empty() ? "" : "after " + last_entry,
                     std::string("unreadable stream (truncated or damaged): ") + (m ? m : "read error"));
    }
    const char* pn = archive_entry_pathname_utf8(e);
    if (!pn) pn = archive_entry_pathname(e);
    std::string path = pn ? pn : "";
    last_entry = path;
    if (++entries > limits.max_entries) return corrupt(what, path, "too many entries");
    if (!is_clean_path(path)) {
      // Directory entries of a repacked tarball end in '/'; accept those if otherwise clean.
      bool dir_ok = archive_entry_filetype(e) == AE_IFDIR && !path.empty() && path.back() == '/' &&
                    is_clean_path(std::string_view(path).substr(0, path.size() - 1));
      if (!dir_ok) return corrupt(what, path, "unsafe path (absolute, '..', or malformed)");
    }
    if (archive_entry_hardlink(e) != nullptr) return corrupt(what, path, "hard links are not allowed");
    auto type = archive_entry_filetype(e);
    if (type == AE_IFDIR) {
      if (entries == 1) return corrupt(what, path, "first entry must be metadata/version");
      continue;
    }
    if (type != AE_IFREG) {
      const char* kind = type == AE_IFLNK ? "symbolic links are" : "only regular files are";
      return corrupt(what, path, std::string(kind) + " allowed");
    }
    if (entries == 1 && path != "metadata/version")
      return corrupt(what, path, "first entry must be metadata/version");
    if (archive_entry_size_is_set(e) && archive_entry_size(e) < 0) return corrupt(what, path, "negative size");
    uint64_t declared = archive_entry_size_is_set(e) ? static_cast<uint64_t>(archive_entry_size(e)) : 0;
    if (declared > limits.max_entry_bytes)
      return corrupt(what, path, "entry of " + std::to_string(declared) + " bytes exceeds the limit of " +
                                     std::to_string(limits.max_entry_bytes));
    data.clear();
    char buf[65536];
    for (;;) {
      la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
      if (n == 0) break;
      if (n < 0) {
        if (src.error) return Error(*src.error).wrap(backup_label(what));
        const char* m = archive_error_string(a.get());
        return corrupt(what, path, std::string("truncated or damaged: ") + (m ? m : "read error"));
      }
      data.append(buf, static_cast<size_t>(n));
      total += static_cast<uint64_t>(n);
      if (data.size() > limits.max_entry_bytes) return corrupt(what, path, "entry exceeds the size limit");
      if (total > limits.max_total_bytes) return corrupt(what, path, "archive exceeds the decompressed size limit");
      if (total > (1ull << 30) && src.compressed > 0 && total / src.compressed > 1000)
        return corrupt(what, path, "decompression ratio over 1000:1 (a decompression bomb)");
    }
    if (archive_entry_size_is_set(e) && data.size() != declared)
      return corrupt(what, path, "truncated: " + std::to_string(data.size()) + " of " + std::to_string(declared) + " bytes");
    if (entries == 1 && !valid_format_version(data))
      return corrupt(what, path, "unsupported backup format version \"" + std::string(util::trim(data)) +
                                     "\" (this kbk reads 1.x)");

    Entry entry;
    entry.path = path;
    entry.data = data;
    entry.is_item = parse_item_path(path, entry.key, entry.version_dir);
    KBK_TRY(on_entry(entry));
  }
  if (src.error) return Error(*src.error).wrap(backup_label(what));
  if (entries == 0) return corrupt(what, "", "empty archive (no metadata/version)");
  // Read what follows the end of the tar (padding) to the end of the stream: a decrypting source reports a
  // truncated or modified final segment only there.
  for (;;) {
    auto n = source.read(src.buffer.data(), src.buffer.size());
    if (!n) return Error(n.error()).wrap(backup_label(what));
    if (*n == 0) break;
  }
  return {};
}

bool parse_item_path(std::string_view path, ItemKey& key, std::string& version_dir) {
  std::vector<std::string> seg = util::split(path, '/', false);
  if (seg.size() < 4 || seg.size() > 6 || seg[0] != "resources") return false;
  for (const auto& s : seg)
    if (s.empty() || s == "." || s == "..") return false;
  ItemKey k;
  std::string vdir;
  const std::string& gr = seg[1];
  size_t i = 2;
  if (seg[i] != "cluster" && seg[i] != "namespaces") {
    vdir = seg[i];
    ++i;
  }
  if (i >= seg.size()) return false;
  if (seg[i] == "cluster") {
    if (seg.size() != i + 2) return false;
  } else if (seg[i] == "namespaces") {
    if (seg.size() != i + 3) return false;
    k.namespace_ = seg[i + 1];
  } else {
    return false;
  }
  const std::string& file = seg.back();
  if (file.size() <= 5 || !util::ends_with(file, ".json")) return false;
  k.name = file.substr(0, file.size() - 5);
  auto dot = gr.find('.');
  k.resource = gr.substr(0, dot);
  if (dot != std::string::npos) k.group = gr.substr(dot + 1);
  if (k.resource.empty()) return false;
  static constexpr std::string_view k_pref = "-preferredversion";
  if (util::ends_with(vdir, k_pref)) k.version = vdir.substr(0, vdir.size() - k_pref.size());
  else k.version = vdir;
  key = std::move(k);
  version_dir = std::move(vdir);
  return true;
}

std::string item_path(const ItemKey& key, std::string_view version_dir) {
  std::string p = "resources/" + key.group_resource() + "/";
  if (!version_dir.empty()) {
    p += version_dir;
    p += '/';
  }
  if (key.namespace_.empty()) p += "cluster/";
  else p += "namespaces/" + key.namespace_ + "/";
  p += key.name + ".json";
  return p;
}

}  // namespace kbk::archive
