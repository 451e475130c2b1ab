// The Velero-layout tar writer and the hostile-input-proof reader (docs/format-archive.md sections 1 and 2).
// Both stream through libarchive callbacks: the writer into a storage::Writer, the reader out of a
// storage::Reader, so neither ever holds more than one entry.
#include <kbk/archive/archive.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <unordered_set>

#include <kbk/compress/gzip.hpp>
#include <kbk/crypto/hash.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::archive {
namespace {

using crypto::sha256_hex;

// A clean relative tar name: no leading '/', no empty, '.' or '..' segment, no backslash, valid UTF-8 without
// control characters (a name is printed and used as a key: it must read the same everywhere).
bool is_clean_path(std::string_view path) {
  if (path.empty() || path.front() == '/') return false;
  if (path.find('\\') != std::string_view::npos) return false;
  for (char c : path)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  if (!util::valid_utf8(path)) return false;
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

// Reader side: libarchive reads a plain tar stream through read_cb; a gzip stream is decompressed before it by
// compress::GzipReader (the one bounded decoder: CRC and length checked, nothing after the end, limits), never by
// libarchive's own gzip filter (which does not check the CRC).
struct ReadSource {
  storage::Reader* reader = nullptr;
  std::unique_ptr<compress::GzipReader> gz;
  std::string prefix;       // bytes read to tell gzip from tar, handed out first
  size_t prefix_offset = 0;
  std::string buffer = std::string(256 * 1024, '\0');
  uint64_t compressed = 0;  // bytes read from the source
  std::optional<Error> error;

  Result<size_t> raw_read(char* out, size_t size) {
    if (prefix_offset < prefix.size()) {
      size_t n = std::min(size, prefix.size() - prefix_offset);
      std::memcpy(out, prefix.data() + prefix_offset, n);
      prefix_offset += n;
      return n;
    }
    KBK_ASSIGN_OR_RETURN(size_t n, reader->read(out, size));
    compressed += n;
    return n;
  }
  Result<size_t> read(char* out, size_t size) { return gz ? gz->read(out, size) : raw_read(out, size); }

  static la_ssize_t read_cb(struct archive*, void* self_ptr, const void** out) {
    auto* self = static_cast<ReadSource*>(self_ptr);
    auto r = self->read(self->buffer.data(), self->buffer.size());
    if (!r) {
      self->error = std::move(r).error();
      return -1;
    }
    *out = self->buffer.data();
    return static_cast<la_ssize_t>(*r);
  }
};

// 128 bits of a name's SHA-256: names are compared by digest so memory stays small per entry.
struct NameDigest {
  uint64_t hi = 0, lo = 0;
  bool operator==(const NameDigest& o) const { return hi == o.hi && lo == o.lo; }
};
struct NameDigestHash {
  size_t operator()(const NameDigest& d) const { return static_cast<size_t>(d.lo); }
};
NameDigest name_digest(std::string_view name) {
  const crypto::Sha256Digest d = crypto::sha256(name);
  NameDigest n;
  std::memcpy(&n.hi, d.data(), 8);
  std::memcpy(&n.lo, d.data() + 8, 8);
  return n;
}

// Compressions kbk does not read, named so the error says what the archive is.
const char* other_compression(std::string_view head) {
  auto starts = [&](std::string_view magic) { return head.substr(0, magic.size()) == magic; };
  if (starts(std::string_view("\x28\xb5\x2f\xfd", 4))) return "zstd";
  if (starts(std::string_view("\x04\x22\x4d\x18", 4))) return "lz4";
  if (starts(std::string_view("\xfd\x37\x7a\x58\x5a\x00", 6))) return "xz";
  if (starts("BZh")) return "bzip2";
  return nullptr;
}

struct ArchiveReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

// "backup b1" for what = "b1" and for what = "backup b1" (restore passes the latter).
std::string backup_label(std::string_view what) {
  return util::starts_with(what, "backup ") ? std::string(what) : "backup " + std::string(what);
}

// e with "backup <name>: " in front unless it starts so already (the gzip decoder names the backup itself).
Error labelled(Error e, std::string_view what) {
  const std::string label = backup_label(what);
  if (!util::starts_with(e.message, label + ":")) e.wrap(label);
  return e;
}

// A stream error met while reading an entry's data names the entry too (but for the trailer checks, below) ("backup b: entry resources/...: truncated
// gzip data"): the entry is where the archive was cut or damaged.
Error in_entry(Error e, std::string_view what, std::string_view entry) {
  // A failed CRC or length check is the whole stream's: whether libarchive was still inside the last entry when the
  // decoder reached the trailer depends on read-ahead, so naming that entry would say something untrue.
  if (compress::is_trailer_check_failure(e)) return e;
  const std::string label = backup_label(what);
  std::string_view msg = e.message;
  if (util::starts_with(msg, label + ": ")) msg.remove_prefix(label.size() + 2);
  e.message = label + ": entry " + std::string(entry) + ": " + std::string(msg);
  return e;
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
  return read_archive(source, what, limits, on_entry, ReadOptions{});
}

Result<void> read_archive(storage::Reader& source, std::string_view what, const ReaderLimits& limits,
                          const std::function<Result<void>(const Entry&)>& on_entry, const ReadOptions& options) {
  ReadSource src;
  src.reader = &source;
  // The first bytes tell gzip from a plain tar (a repacked or `download`ed-and-gunzipped archive).
  src.prefix.resize(512);
  size_t have = 0;
  while (have < src.prefix.size()) {
    auto n = source.read(src.prefix.data() + have, src.prefix.size() - have);
    if (!n) return labelled(n.error(), what);
    if (*n == 0) break;
    have += *n;
  }
  src.prefix.resize(have);
  src.compressed = have;
  if (have == 0) return corrupt(what, "", "empty archive (no metadata/version)");
  if (const char* other = other_compression(src.prefix))
    return corrupt(what, "", std::string("compressed with ") + other + ", which kbk does not read (gzip or plain tar)");
  if (compress::is_gzip(src.prefix)) {
    compress::InflateLimits gz_limits;
    gz_limits.max_bytes = limits.max_total_bytes;
    gz_limits.ratio_after = k_bomb_ratio_after;
    gz_limits.max_ratio = 1000;
    src.gz = std::make_unique<compress::GzipReader>(
        [&src](char* b, size_t n) { return src.raw_read(b, n); }, backup_label(what), gz_limits);
  }

  std::unique_ptr<struct archive, ArchiveReadFree> a(archive_read_new());
  if (!a) return unexpected(Errc::internal_error, "archive: out of memory");
  archive_read_support_filter_none(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open(a.get(), &src, nullptr, &ReadSource::read_cb, nullptr) != ARCHIVE_OK) {
    if (src.error) return labelled(*src.error, what);
    const char* m = archive_error_string(a.get());
    return corrupt(what, "", std::string("not a tar or tar.gz stream: ") + (m ? m : "unknown format"));
  }

  uint64_t total = 0;
  uint64_t entries = 0;
  std::string data;
  std::string last_entry;
  // Every name seen (a second entry of one name would shadow the first for whoever extracts the archive) and
  // every folder they imply (a file may not also be a folder: "a/b" then "a/b/c" or "a/b/"), as 128-bit digests:
  // about 48 bytes an entry however long the names.
  std::unordered_set<NameDigest, NameDigestHash> files, folders;
  auto conflict = [&](const std::string& path, bool is_dir) -> std::string {
    const std::string_view bare = is_dir ? std::string_view(path).substr(0, path.size() - 1) : std::string_view(path);
    const NameDigest self = name_digest(bare);
    if (files.count(self)) return is_dir ? "a folder entry with the name of a file entry" : "appears twice in the archive";
    if (!is_dir && folders.count(self)) return "a file entry with the name of a folder";
    std::vector<NameDigest> parents;
    for (size_t slash = bare.find('/'); slash != std::string_view::npos; slash = bare.find('/', slash + 1)) {
      parents.push_back(name_digest(bare.substr(0, slash)));
      if (files.count(parents.back()))
        return "inside " + util::printable(bare.substr(0, slash), 256) + ", which is a file entry";
    }
    folders.insert(parents.begin(), parents.end());
    (is_dir ? folders : files).insert(self);
    return "";
  };
  for (;;) {
    struct archive_entry* e = nullptr;
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (src.error) return labelled(*src.error, what);
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      const char* m = archive_error_string(a.get());
      return corrupt(what, last_entry.empty() ? "" : "after " + last_entry,
                     std::string("unreadable stream (truncated or damaged): ") + (m ? m : "read error"));
    }
    // The name's own bytes: a name that is not UTF-8 is refused, never converted.
    const char* pn = archive_entry_pathname(e);
    std::string path = pn ? pn : "";
    last_entry = util::printable(path, 256);
    const std::string shown = last_entry;
    if (++entries > limits.max_entries) return corrupt(what, shown, "too many entries");
    const auto type = archive_entry_filetype(e);
    const bool is_dir = type == AE_IFDIR;
    if (!is_clean_path(path)) {
      // Directory entries of a repacked tarball end in '/'; accept those if otherwise clean.
      bool dir_ok = is_dir && !path.empty() && path.back() == '/' &&
                    is_clean_path(std::string_view(path).substr(0, path.size() - 1));
      if (!dir_ok)
        return corrupt(what, shown, "unsafe name (absolute, '..', empty or '.' segments, backslash, control "
                                    "characters or not UTF-8)");
    }
    if (archive_entry_hardlink(e) != nullptr) return corrupt(what, shown, "hard links are not allowed");
    if (type == AE_IFLNK || archive_entry_symlink(e) != nullptr)
      return corrupt(what, shown, "symbolic links are not allowed");
    if (is_dir) {
      if (entries == 1) return corrupt(what, shown, "first entry must be metadata/version");
      if (path.back() != '/') path += '/';
      if (std::string c = conflict(path, true); !c.empty()) return corrupt(what, shown, c);
      continue;
    }
    if (type != AE_IFREG) return corrupt(what, shown, "only regular files are allowed (a device, fifo or socket)");
    if (archive_entry_sparse_count(e) > 0) return corrupt(what, shown, "sparse files are not allowed");
    if (entries == 1 && path != "metadata/version")
      return corrupt(what, shown, "first entry must be metadata/version");
    if (std::string c = conflict(path, false); !c.empty()) return corrupt(what, shown, c);
    if (!archive_entry_size_is_set(e)) return corrupt(what, shown, "no size in its header");
    if (archive_entry_size(e) < 0) return corrupt(what, shown, "negative size");
    const auto declared = static_cast<uint64_t>(archive_entry_size(e));
    const uint64_t limit =
        path == "kbk/manifest.json" ? std::max(limits.max_entry_bytes, limits.max_manifest_bytes) : limits.max_entry_bytes;
    if (declared > limit)
      return corrupt(what, shown, "entry of " + std::to_string(declared) + " bytes exceeds the limit of " +
                                      std::to_string(limit));
    // The entry's bytes, read with every check as they come (whole into `data`, or pulled by a streamed entry's
    // consumer).
    uint64_t got = 0;
    auto pull = [&](char* out, size_t size) -> Result<size_t> {
      la_ssize_t n = archive_read_data(a.get(), out, size);
      if (n < 0) {
        if (src.error) return in_entry(*src.error, what, shown);
        const char* m = archive_error_string(a.get());
        return corrupt(what, shown, std::string("truncated or damaged: ") + (m ? m : "read error"));
      }
      got += static_cast<uint64_t>(n);
      total += static_cast<uint64_t>(n);
      if (got > declared) return corrupt(what, shown, "longer than its header says");
      if (total > limits.max_total_bytes) return corrupt(what, shown, "archive exceeds the decompressed size limit");
      if (!src.gz && total > k_bomb_ratio_after && src.compressed > 0 && total / src.compressed > 1000)
        return corrupt(what, shown, "decompression ratio over 1000:1 (a decompression bomb)");
      if (n == 0 && src.error) return in_entry(*src.error, what, shown);
      if (n == 0 && got != declared)
        return corrupt(what, shown, "truncated: " + std::to_string(got) + " of " + std::to_string(declared) + " bytes");
      return static_cast<size_t>(n);
    };
    if (entries > 1 && options.streamed && options.streamed(path)) {
      std::optional<Error> failed;  // the stream's own error, which wins over what the consumer made of it
      const std::function<Result<size_t>(char*, size_t)> stream = [&](char* out, size_t size) -> Result<size_t> {
        if (failed) return unexpected(*failed);
        auto n = pull(out, size);
        if (!n) failed = n.error();
        return n;
      };
      Entry entry;
      entry.path = path;
      entry.read = &stream;
      entry.is_item = parse_item_path(path, entry.key, entry.version_dir);
      auto consumed = on_entry(entry);
      char rest[65536];
      while (!failed) {  // what the consumer left
        auto n = stream(rest, sizeof rest);
        if (n && *n == 0) break;
      }
      if (failed) return *failed;
      KBK_TRY(consumed);
      continue;
    }
    data.clear();
    data.reserve(static_cast<size_t>(std::min<uint64_t>(declared, 1 << 20)));
    char buf[65536];
    for (;;) {
      KBK_ASSIGN_OR_RETURN(size_t n, pull(buf, sizeof buf));
      if (n == 0) break;
      data.append(buf, n);
    }
    if (entries == 1 && !valid_format_version(data))
      return corrupt(what, shown, "unsupported backup format version \"" + util::printable(util::trim(data), 64) +
                                      "\" (this kbk reads 1.x)");

    Entry entry;
    entry.path = path;
    entry.data = data;
    entry.is_item = parse_item_path(path, entry.key, entry.version_dir);
    KBK_TRY(on_entry(entry));
  }
  if (src.error) return labelled(*src.error, what);
  if (entries == 0) return corrupt(what, "", "empty archive (no metadata/version)");
  // Read what follows the end of the tar (padding) to the end of the stream: the gzip member's CRC and length,
  // and a decrypting source's final segment, are checked only there.
  for (;;) {
    auto n = src.read(src.buffer.data(), src.buffer.size());
    if (!n) return labelled(n.error(), what);
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
