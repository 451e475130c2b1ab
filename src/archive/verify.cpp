// Opening a backup and reading it verified (reader.hpp); kbk backup verify is read_verified with no consumer.
#include <algorithm>
#include <kbk/archive/reader.hpp>

#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include <kbk/archive/documents.hpp>
#include <kbk/archive/encryption.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/crypto/hash.hpp>
#include <kbk/util/spool.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::archive {
namespace {

// Problems kept in a report; past this, they are counted in one last line.
constexpr size_t k_max_problems = 1000;

// Hashes and counts the stored bytes as the archive reader pulls them.
class HashingReader final : public storage::Reader {
public:
  explicit HashingReader(std::unique_ptr<storage::Reader> inner) : m_inner(std::move(inner)) {}
  Result<size_t> read(char* buffer, size_t size) override {
    KBK_ASSIGN_OR_RETURN(size_t n, m_inner->read(buffer, size));
    m_hash.update(std::string_view(buffer, n));
    m_bytes += n;
    return n;
  }
  std::string digest() { return m_hash.finish_hex(); }
  uint64_t bytes() const { return m_bytes; }

private:
  std::unique_ptr<storage::Reader> m_inner;
  crypto::Sha256 m_hash;
  uint64_t m_bytes = 0;
};

std::string key_text(const ItemKey& k) {
  return k.group_resource() + "/" + (k.namespace_.empty() ? "" : k.namespace_ + "/") + k.name;
}

// 128 bits of an item's name ("configmaps/app/a"): items are looked up by digest so memory stays small per item.
struct KeyDigest {
  uint64_t hi = 0, lo = 0;
  bool operator==(const KeyDigest& o) const { return hi == o.hi && lo == o.lo; }
};
struct KeyDigestHash {
  size_t operator()(const KeyDigest& d) const { return static_cast<size_t>(d.lo); }
};
KeyDigest key_digest(std::string_view key) {
  const crypto::Sha256Digest d = crypto::sha256(key);
  KeyDigest k;
  std::memcpy(&k.hi, d.data(), 8);
  std::memcpy(&k.lo, d.data() + 8, 8);
  return k;
}

std::string hex(const crypto::Sha256Digest& d) { return util::hex_encode(d.data(), d.size()); }

// The checks of read_verified's comment, entry by entry and then at the end. What it keeps per item is small and
// does not grow with the manifest: the archive's items by the digest of their name (the name itself spooled, for
// messages), and the manifest's list spooled as it streams in (json::parse_split), compared at the end: about 100
// bytes of memory an object, however long the manifest.
class Verifier {
public:
  Verifier(std::string name, const json::Value* marker, bool kbk, VerifyReport& report)
      : m_name(std::move(name)), m_marker(marker), m_kbk(kbk), m_report(report) {}

  Result<void> entry(const Entry& e, const VerifiedEntryFn& on_entry) {
    ++m_report.entries;
    if (!e.is_item) {
      other_entry(e);
      return on_entry ? on_entry(e, nullptr) : Result<void>{};
    }
    const crypto::Sha256Digest sum = crypto::sha256(e.data);
    const bool preferred = util::ends_with(e.version_dir, "-preferredversion");
    // The legacy and preferred-version copies hold the same bytes (kbk writes every copy so; Velero's other
    // version folders hold other versions of the object).
    if (e.version_dir.empty() || preferred || m_kbk) {
      const std::string k = key_text(e.key);
      auto [it, first] = m_first_copy.try_emplace(key_digest(k));
      if (first) {
        it->second.sum = sum;
        it->second.name = keep_name(k);
      } else if (it->second.sum != sum) {
        problem(k + ": the copy in " + e.path + " differs from the other copy");
      }
    }
    if (!m_last_ok || sum != m_last_sum) {
      m_last_sum = sum;
      m_last_ok = false;
      auto doc = json::parse(e.data, "entry " + e.path, Errc::corrupt);
      if (!doc) {
        problem(doc.error().message);
      } else if (!doc->IsObject()) {
        problem("entry " + e.path + ": not a JSON object");
      } else {
        m_last = std::move(*doc);
        m_last_ok = true;
      }
    }
    if (m_last_ok) {
      if (std::string why = item_identity_problem(m_last, e.key, e.version_dir); !why.empty()) {
        problem("entry " + e.path + ": " + why);
        m_last_ok = false;
      }
    }
    return on_entry ? on_entry(e, m_last_ok ? &m_last : nullptr) : Result<void>{};
  }

  // After the last entry. stored: the stored object's SHA-256 and size when read from a location.
  void finish(const std::string* stored_sum, const uint64_t* stored_bytes, const std::string& object) {
    check_end(stored_sum, stored_bytes, object);
    if (m_dropped > 0) m_report.problems.push_back("... and " + std::to_string(m_dropped) + " more problems");
  }

private:
  struct Copy {
    crypto::Sha256Digest sum{};
    std::pair<uint64_t, uint32_t> name{};  // in m_names
    bool listed = false;
  };

  std::pair<uint64_t, uint32_t> keep_name(std::string_view k) {
    if (auto at = m_names.add(k)) return {*at, static_cast<uint32_t>(k.size())};
    m_names_in_memory.emplace_back(k);  // the spool refused: held here instead
    return {UINT64_MAX, static_cast<uint32_t>(m_names_in_memory.size() - 1)};
  }
  std::string name_of(const Copy& c) const {
    if (c.name.first == UINT64_MAX) return m_names_in_memory[c.name.second];
    return m_names.read(c.name.first, c.name.second);
  }

  void check_end(const std::string* stored_sum, const uint64_t* stored_bytes, const std::string& object) {
    if (m_kbk && m_marker && stored_sum) {
      const std::string want = json::get_string(*m_marker, {"archive", "sha256"});
      if (want.empty()) problem("kbk-manifest.json has no archive.sha256 to check " + object + " against");
      else if (want != *stored_sum)
        problem(object + ": SHA-256 " + *stored_sum + " differs from the marker's " + want);
      const json::Value* bytes = json::at(*m_marker, {"archive", "bytes"});
      if (bytes && bytes->IsUint64() && stored_bytes && bytes->GetUint64() != *stored_bytes)
        problem(object + ": " + std::to_string(*stored_bytes) + " bytes, the marker says " +
                std::to_string(bytes->GetUint64()));
    }
    if (!m_manifest_seen) {
      if (m_kbk) problem("kbk/manifest.json is missing from the archive");
      else m_report.items_checked = m_first_copy.size();
      return;
    }
    if (!m_manifest_error.empty()) {
      problem(m_manifest_error);
      return;
    }
    const json::Document& manifest = m_manifest;
    const std::string api = json::get_string(manifest, {"apiVersion"});
    if (api != k_kbk_api_version)
      problem("kbk/manifest.json has apiVersion \"" + util::printable(api, 64) + "\" (this kbk reads " +
              k_kbk_api_version + ")");
    if (m_marker) {
      for (const char* field : {"name", "uid"}) {
        const std::string inner = json::get_string(manifest, {field});
        const std::string outer = json::get_string(*m_marker, {field});
        if (inner != outer)
          problem(std::string("kbk/manifest.json has ") + field + " \"" + util::printable(inner, 64) +
                  "\", the marker \"" + util::printable(outer, 64) + "\" (the archive of another backup?)");
      }
    }
    // The list, as spooled: "<key>\0<sha256>\n" per item.
    std::unordered_set<KeyDigest, KeyDigestHash> listed_absent;
    std::string block;
    uint64_t at = 0;
    const uint64_t end = m_listed.bytes();
    while (at < end || !block.empty()) {
      const size_t nl = block.find('\n');
      if (nl == std::string::npos) {
        if (at >= end) break;
        const size_t want = static_cast<size_t>(std::min<uint64_t>(end - at, 1u << 20));
        block += m_listed.read(at, want);
        at += want;
        continue;
      }
      const std::string_view record(block.data(), nl);
      const size_t zero = record.find('\0');
      const std::string key(record.substr(0, zero));
      const std::string want(zero == std::string_view::npos ? std::string_view() : record.substr(zero + 1));
      block.erase(0, nl + 1);
      const std::string text = util::printable(key, 256);
      const KeyDigest d = key_digest(key);
      auto found = m_first_copy.find(d);
      if (found == m_first_copy.end()) {
        if (!listed_absent.insert(d).second) problem(text + ": listed twice in kbk/manifest.json");
        else problem(text + ": in the manifest but not in the archive");
        continue;
      }
      if (found->second.listed) {
        problem(text + ": listed twice in kbk/manifest.json");
        continue;
      }
      found->second.listed = true;
      ++m_report.items_checked;
      const std::string have = hex(found->second.sum);
      if (have != want) problem(text + ": SHA-256 " + have + " differs from the manifest's " + want);
    }
    for (const auto& [d, c] : m_first_copy)
      if (!c.listed) problem(name_of(c) + ": in the archive but not in the manifest");
    if (const json::Value* count = m_marker ? json::at(*m_marker, {"counts", "items"}) : nullptr;
        count && count->IsUint64() && count->GetUint64() != m_listed_count)
      problem("kbk-manifest.json counts " + std::to_string(count->GetUint64()) + " items, kbk/manifest.json lists " +
              std::to_string(m_listed_count));
  }

  // kbk/manifest.json: read element by element; its problems are reported at the end, after the archive's own.
  void read_manifest(const Entry& e) {
    m_manifest_seen = true;
    std::string item_error;
    auto on_item = [&](json::Document& it) -> Result<void> {
      const size_t index = m_listed_count++;
      if (!item_error.empty()) return {};
      if (auto r = manifest_item_schema().check_path(it, "items[" + std::to_string(index) + "]", "kbk/manifest.json"); !r) {
        item_error = r.error().message;
        return {};
      }
      const ItemKey k{json::get_string(it, {"group"}), json::get_string(it, {"version"}),
                      json::get_string(it, {"resource"}), json::get_string(it, {"namespace"}),
                      json::get_string(it, {"name"})};
      std::string record = key_text(k);
      record += '\0';
      record += json::get_string(it, {"sha256"});
      record += '\n';
      if (auto at = m_listed.add(record); !at)
        return unexpected(Errc::io, "kbk/manifest.json: " + at.error().message);
      return {};
    };
    auto manifest = e.read ? json::parse_split(*e.read, "kbk/manifest.json", "items", on_item, Errc::corrupt)
                           : json::parse_split(e.data, "kbk/manifest.json", "items", on_item, Errc::corrupt);
    if (!manifest) {
      // (A stream cut inside it is the archive's error: read_archive returns that one.)
      m_manifest_error = manifest.error().message;
      return;
    }
    // The rest of the manifest (its items empty) against the schema, then the first item that did not pass: the
    // order in which checking the whole document finds them.
    if (auto r = manifest_schema().check(*manifest, "kbk/manifest.json"); !r) m_manifest_error = r.error().message;
    else if (!item_error.empty()) m_manifest_error = item_error;
    m_manifest = std::move(*manifest);
  }

  void other_entry(const Entry& e) {
    if (e.path == "metadata/version") return;
    if (e.path == "kbk/manifest.json") {
      read_manifest(e);
      return;
    }
    if (e.path == "kbk/results.json") {
      if (auto r = parse_document(e.data, "kbk/results.json", results_schema()); !r) problem(r.error().message);
      return;
    }
    // Velero ignores (and warns about) anything else; a kbk backup holds nothing else.
    if (m_kbk) problem("entry " + e.path + " is not part of a kbk backup");
  }

  void problem(std::string text) {
    if (m_report.problems.size() < k_max_problems) m_report.problems.push_back(std::move(text));
    else ++m_dropped;
  }

  std::string m_name;
  const json::Value* m_marker;
  bool m_kbk;
  VerifyReport& m_report;
  std::unordered_map<KeyDigest, Copy, KeyDigestHash> m_first_copy;  // item -> its first copy
  util::TextSpool m_names;                                          // the items' names, for messages
  std::vector<std::string> m_names_in_memory;                       // those the spool refused
  bool m_manifest_seen = false;
  std::string m_manifest_error;   // the manifest does not parse or type-check
  json::Document m_manifest;      // its fields, "items" empty
  util::TextSpool m_listed;       // its items, "<key>\0<sha256>\n" each
  uint64_t m_listed_count = 0;
  json::Document m_last;  // the last item parsed (its copies follow it)
  crypto::Sha256Digest m_last_sum{};
  bool m_last_ok = false;
  uint64_t m_dropped = 0;
};

Error not_found(storage::Backend& backend, const std::string& name) {
  return Error{Errc::not_found, "backup " + name + " not found in " + backend.display_url()};
}

// A Velero backup whose velero-backup.json says anything but Completed or PartiallyFailed is not read.
Result<void> require_finished(const OpenBackup& b) {
  if (b.source != BackupSource::velero) return {};
  const std::string phase = json::get_string(b.marker, {"status", "phase"});
  if (phase == "Completed" || phase == "PartiallyFailed") return {};
  return unexpected(Errc::precondition, "backup " + b.name + " has phase \"" + util::printable(phase, 64) +
                                            "\" in velero-backup.json (Completed or PartiallyFailed can be read)");
}

}  // namespace

Result<OpenBackup> open_backup(storage::Backend& backend, const std::string& name, const crypto::UserKey* user,
                               NeedKey need) {
  if (!valid_backup_name(name))
    return unexpected(Errc::config, "\"" + util::printable(name, 128) + "\" is not a backup name");
  BackupPaths paths{name};
  OpenBackup b;
  b.name = name;
  KBK_ASSIGN_OR_RETURN(auto marker, read_marker(backend, name));
  if (marker) {
    b.source = BackupSource::kbk;
    b.marker = std::move(*marker);
    b.encrypted = is_encrypted(b.marker);
    b.archive = archive_object(&b.marker, name);
    if (!b.encrypted) return b;
    if (!user) {
      if (need == NeedKey::yes) return key_required(name);
      return b;
    }
    KBK_ASSIGN_OR_RETURN(b.data_key, open_backup_key(backend, name, *user));
    KBK_ASSIGN_OR_RETURN(json::Document full, open_marker(b.marker, *b.data_key));
    KBK_TRY(check_marker(full, name, "backup " + name + ": kbk-manifest.json (sealed)"));
    b.marker = std::move(full);
    return b;
  }
  KBK_ASSIGN_OR_RETURN(auto velero, read_velero_backup(backend, name));
  if (velero) {
    b.source = BackupSource::velero;
    b.marker = std::move(*velero);
    b.archive = paths.tarball();
    return b;
  }
  KBK_ASSIGN_OR_RETURN(auto lock, backend.stat(paths.lock()));
  KBK_ASSIGN_OR_RETURN(auto tarball, backend.stat(paths.tarball()));
  if (lock || tarball)
    return unexpected(Errc::precondition, "backup " + name + " is incomplete (interrupted or still being written: no " +
                                              paths.marker() + "); remove it with kbk backup delete " + name);
  return not_found(backend, name);
}

namespace {
ReadOptions read_options(ManifestText manifest) {
  ReadOptions o;
  if (manifest == ManifestText::streamed) o.streamed = [](std::string_view path) { return path == "kbk/manifest.json"; };
  return o;
}
}  // namespace

Result<VerifyReport> read_verified(storage::Backend& backend, const OpenBackup& backup, const ReaderLimits& limits,
                                   const VerifiedEntryFn& on_entry, ManifestText manifest) {
  KBK_TRY(require_finished(backup));
  if (backup.encrypted && !backup.data_key) return key_required(backup.name);
  auto raw = backend.get_stream(backup.archive);
  if (!raw) {
    if (raw.error().is(Errc::not_found))
      return unexpected(Errc::corrupt, "backup " + backup.name + ": " + backup.archive + " is missing");
    return unexpected(std::move(raw).error().wrap("backup " + backup.name));
  }
  auto hashing = std::make_unique<HashingReader>(std::move(*raw));
  HashingReader& hashed = *hashing;
  std::unique_ptr<storage::Reader> source = std::move(hashing);
  if (backup.data_key)
    source = std::make_unique<DecryptingReader>(std::move(source), *backup.data_key,
                                                backend.display_url() + "/" + backup.archive);
  VerifyReport report;
  const bool kbk = backup.source == BackupSource::kbk;
  Verifier verifier(backup.name, kbk ? &backup.marker : nullptr, kbk, report);
  // A kbk backup's marker says how many objects it holds (the verifier holds the archive to that count): the entry
  // limit and the manifest's size limit follow it, up to k_max_declared_entries, so a backup of more than a million
  // objects reads.
  ReaderLimits effective = limits;
  if (const json::Value* c = kbk ? json::at(backup.marker, {"counts", "items"}) : nullptr; c && c->IsUint64()) {
    const uint64_t objects = std::min<uint64_t>(k_max_declared_entries / 2, c->GetUint64());
    effective.max_entries = std::max(limits.max_entries, 2 * objects + 1024);
    effective.max_manifest_bytes = std::max(limits.max_manifest_bytes, 512 * objects + (1u << 20));
  }
  KBK_TRY(read_archive(*source, backup.name, effective,
                       [&](const Entry& e) -> Result<void> { return verifier.entry(e, on_entry); },
                       read_options(manifest)));
  // read_archive read the stream to its end (the gzip trailer, the final encrypted segment): the digest is whole.
  const std::string sum = hashed.digest();
  const uint64_t bytes = hashed.bytes();
  verifier.finish(&sum, &bytes, backup.archive);
  return report;
}

Result<VerifyReport> verify_stream(storage::Reader& reader, const std::string& what, const ReaderLimits& limits,
                                   const VerifiedEntryFn& on_entry) {
  VerifyReport report;
  Verifier verifier(what, nullptr, false, report);
  KBK_TRY(read_archive(reader, what, limits, [&](const Entry& e) -> Result<void> { return verifier.entry(e, on_entry); },
                       read_options(ManifestText::streamed)));
  verifier.finish(nullptr, nullptr, what);
  return report;
}

namespace {

// Hashes the stored bytes and, at their end, compares them with the marker's archive.sha256 and bytes.
class CheckedReader final : public storage::Reader {
public:
  CheckedReader(std::unique_ptr<storage::Reader> inner, HashingReader& hashed, std::string object, std::string want_sum,
                std::optional<uint64_t> want_bytes)
      : m_inner(std::move(inner)), m_hashed(hashed), m_object(std::move(object)), m_want_sum(std::move(want_sum)),
        m_want_bytes(want_bytes) {}
  Result<size_t> read(char* buffer, size_t size) override {
    KBK_ASSIGN_OR_RETURN(size_t n, m_inner->read(buffer, size));
    if (n > 0 || m_checked) return n;
    m_checked = true;
    const std::string sum = m_hashed.digest();
    if (sum != m_want_sum)
      return unexpected(Errc::corrupt, m_object + ": SHA-256 " + sum + " differs from the marker's " +
                                           (m_want_sum.empty() ? std::string("(none)") : m_want_sum));
    if (m_want_bytes && *m_want_bytes != m_hashed.bytes())
      return unexpected(Errc::corrupt, m_object + ": " + std::to_string(m_hashed.bytes()) + " bytes, the marker says " +
                                           std::to_string(*m_want_bytes));
    return size_t{0};
  }

private:
  std::unique_ptr<storage::Reader> m_inner;
  HashingReader& m_hashed;
  std::string m_object, m_want_sum;
  std::optional<uint64_t> m_want_bytes;
  bool m_checked = false;
};

}  // namespace

Result<std::unique_ptr<storage::Reader>> open_archive_stream(storage::Backend& backend, const OpenBackup& backup,
                                                             Decrypt decrypt) {
  KBK_TRY(require_finished(backup));
  auto raw = backend.get_stream(backup.archive);
  if (!raw) {
    if (raw.error().is(Errc::not_found))
      return unexpected(Errc::corrupt, "backup " + backup.name + ": " + backup.archive + " is missing");
    return unexpected(std::move(raw).error().wrap("backup " + backup.name));
  }
  auto hashing = std::make_unique<HashingReader>(std::move(*raw));
  HashingReader& hashed = *hashing;
  std::unique_ptr<storage::Reader> source = std::move(hashing);
  if (decrypt == Decrypt::yes) {
    if (!backup.data_key) return key_required(backup.name);
    source = std::make_unique<DecryptingReader>(std::move(source), *backup.data_key,
                                                backend.display_url() + "/" + backup.archive);
  }
  if (backup.source != BackupSource::kbk) return source;  // Velero writes no checksum
  const json::Value* bytes = json::at(backup.marker, {"archive", "bytes"});
  std::optional<uint64_t> want_bytes;
  if (bytes && bytes->IsUint64()) want_bytes = bytes->GetUint64();
  return std::unique_ptr<storage::Reader>(std::make_unique<CheckedReader>(
      std::move(source), hashed, "backup " + backup.name + ": " + backup.archive,
      json::get_string(backup.marker, {"archive", "sha256"}), want_bytes));
}

Error verification_error(const std::string& name, const VerifyReport& report) {
  std::string line = "backup " + name + " failed verification: " + (report.problems.empty() ? "" : report.problems.front());
  if (report.problems.size() > 1)
    line += " (and " + std::to_string(report.problems.size() - 1) + " more; `kbk backup verify " + name + "` lists them)";
  return Error{Errc::corrupt, line};
}

Result<VerifyReport> verify_backup(storage::Backend& backend, const std::string& name, const crypto::UserKey* user) {
  KBK_ASSIGN_OR_RETURN(OpenBackup b, open_backup(backend, name, user, NeedKey::yes));
  return read_verified(backend, b, {}, nullptr);
}

}  // namespace kbk::archive
