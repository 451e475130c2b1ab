// The location's per-backup files (docs/format-archive.md section 5): gzip helpers, listing, deletion.
#include <kbk/archive/location.hpp>

#include <map>

#include <algorithm>

#include <kbk/archive/documents.hpp>
#include <kbk/compress/gzip.hpp>

#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

namespace kbk::archive {

std::string gzip(std::string_view data) { return compress::gzip(data); }

Result<std::string> gunzip(std::string_view data, std::string_view what, uint64_t max_bytes) {
  compress::InflateLimits limits;
  limits.max_bytes = max_bytes;
  return compress::gunzip(data, what, limits);
}

bool valid_backup_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return alnum(name.front()) && alnum(name.back()) && name.find("..") == std::string_view::npos;
}

namespace {

uint64_t get_u64(const json::Value& obj, std::initializer_list<std::string_view> path) {
  const json::Value* v = json::at(obj, path);
  return v && v->IsUint64() ? v->GetUint64() : 0;
}

}  // namespace

namespace {

Result<void> check_api_version(const json::Value& marker, std::string_view what) {
  const std::string api = json::get_string(marker, {"apiVersion"});
  if (api == k_kbk_api_version) return {};
  if (util::starts_with(api, "kbk.io/"))
    return unexpected(Errc::unsupported, std::string(what) + " has apiVersion \"" + util::printable(api, 64) +
                                             "\"; this kbk reads " + k_kbk_api_version);
  return unexpected(Errc::corrupt, std::string(what) + ": apiVersion \"" + util::printable(api, 64) +
                                       "\" is not a kbk marker's (" + k_kbk_api_version + ")");
}

}  // namespace

Result<void> check_marker(const json::Value& marker, const std::string& name, std::string_view what) {
  KBK_TRY(check_api_version(marker, what));
  const std::string kind = json::get_string(marker, {"kind"});
  if (!kind.empty() && kind != "BackupManifest")
    return unexpected(Errc::corrupt, std::string(what) + ": kind \"" + util::printable(kind, 64) +
                                         "\" is not BackupManifest");
  const std::string named = json::get_string(marker, {"name"});
  if (named != name)
    return unexpected(Errc::corrupt, std::string(what) + " names backup \"" + util::printable(named, 64) +
                                         "\", not " + name + " (a marker copied from another backup?)");
  // The archive is this backup's own object: a marker must not steer readers to another backup's or any other key.
  const BackupPaths paths{name};
  const bool encrypted = json::at(marker, {"archive", "encrypted"}) && json::at(marker, {"archive", "encrypted"})->IsTrue();
  const std::string key = json::get_string(marker, {"archive", "key"});
  const std::string want = encrypted ? paths.encrypted_archive() : paths.tarball();
  if (!key.empty() && key != want)
    return unexpected(Errc::corrupt, std::string(what) + ": archive.key \"" + util::printable(key, 128) +
                                         "\" is not this backup's archive (" + want + ")");
  if (encrypted && key.empty())
    return unexpected(Errc::corrupt, std::string(what) + ": an encrypted backup's marker without archive.key");
  return {};
}

Result<std::optional<json::Document>> read_marker(storage::Backend& backend, const std::string& name) {
  BackupPaths paths{name};
  const std::string what = "backup " + name + ": kbk-manifest.json";
  auto text = read_bounded(backend, paths.marker(), what, k_max_document_bytes);
  if (!text) {
    if (text.error().is(Errc::not_found)) return std::optional<json::Document>{};
    return std::move(text).error();
  }
  // The version first: another version's marker may have other fields and types.
  KBK_ASSIGN_OR_RETURN(json::Document doc, json::parse(*text, what, Errc::corrupt));
  if (doc.IsObject()) KBK_TRY(check_api_version(doc, what));
  KBK_TRY(marker_schema().check(doc, what));
  KBK_TRY(check_marker(doc, name, what));
  return std::optional<json::Document>(std::move(doc));
}

Result<std::optional<json::Document>> read_velero_backup(storage::Backend& backend, const std::string& name) {
  BackupPaths paths{name};
  auto doc = read_document(backend, paths.velero_backup(), "backup " + name + ": velero-backup.json",
                           velero_backup_schema());
  if (!doc) {
    if (doc.error().is(Errc::not_found)) return std::optional<json::Document>{};
    return std::move(doc).error();
  }
  return std::optional<json::Document>(std::move(*doc));
}

namespace {

std::map<std::string, std::string> labels_of(const json::Value* v) {
  std::map<std::string, std::string> out;
  if (v && v->IsObject())
    for (const auto& m : v->GetObject())
      if (m.value.IsString()) out[m.name.GetString()] = m.value.GetString();
  return out;
}

// One backups/<name>/ folder as list shows it; nullopt when it is no backup (nothing kbk or Velero would list).
Result<std::optional<BackupListing>> list_one(storage::Backend& backend, const std::string& dir) {
  BackupPaths paths{dir};
  BackupListing l;
  l.name = dir;
  if (!valid_backup_name(dir))
    return unexpected(Errc::corrupt, "backups/" + util::printable(dir, 128) + "/: not a backup name");
  KBK_ASSIGN_OR_RETURN(auto marker, read_marker(backend, dir));
  if (marker) {
    const json::Value& m = *marker;
    l.source = "kbk";
    l.phase = json::get_string(m, {"phase"});
    l.started = json::get_string(m, {"startTimestamp"});
    l.completed = json::get_string(m, {"completionTimestamp"});
    l.expires = json::get_string(m, {"expiration"});
    l.items = get_u64(m, {"counts", "items"});
    l.warnings = get_u64(m, {"counts", "warnings"});
    l.errors = get_u64(m, {"counts", "errors"});
    l.bytes = get_u64(m, {"archive", "bytes"});
    l.cluster = json::get_string(m, {"cluster", "kubeSystemUID"});
    l.kube_system_uid = l.cluster;
    l.cluster_name = json::get_string(m, {"cluster", "name"});
    if (l.cluster.empty()) l.cluster = json::get_string(m, {"cluster", "server"});
    const json::Value* enc = json::at(m, {"archive", "encrypted"});
    l.encrypted = enc && enc->IsBool() && enc->GetBool();
    l.labels = labels_of(json::find(m, "labels"));
    return std::optional<BackupListing>(std::move(l));
  }
  KBK_ASSIGN_OR_RETURN(auto lock, backend.stat(paths.lock()));
  if (lock) {
    l.source = "kbk";
    l.phase = "Incomplete";
    // When the writer started (prune spares young incomplete backups: another kbk may be writing them). A lock
    // that does not read is dated by its modification time.
    if (auto doc = read_document(backend, paths.lock(), "backup " + dir + ": kbk-lock.json", lock_schema(),
                                 {Gzipped::no, k_max_small_bytes}))
      l.started = json::get_string(*doc, {"startTimestamp"});
    if (!util::parse_rfc3339(l.started)) l.started = util::format_rfc3339(lock->modified);
    // No marker yet to say so: an encrypted backup writes its key object right after the lock.
    KBK_TRY(backend.list(paths.dir() + "kbk-key-", [&](const storage::ObjectInfo&) -> Result<void> {
      l.encrypted = true;
      return {};
    }));
    return std::optional<BackupListing>(std::move(l));
  }
  KBK_ASSIGN_OR_RETURN(auto vb, read_velero_backup(backend, dir));
  if (!vb) return std::optional<BackupListing>{};
  const std::string phase = json::get_string(*vb, {"status", "phase"});
  if (phase != "Completed" && phase != "PartiallyFailed") return std::optional<BackupListing>{};  // as Velero lists
  l.source = "velero";
  l.phase = phase;
  l.started = json::get_string(*vb, {"status", "startTimestamp"});
  l.completed = json::get_string(*vb, {"status", "completionTimestamp"});
  l.expires = json::get_string(*vb, {"status", "expiration"});
  l.items = get_u64(*vb, {"status", "progress", "itemsBackedUp"});
  l.warnings = get_u64(*vb, {"status", "warnings"});
  l.errors = get_u64(*vb, {"status", "errors"});
  if (auto st = backend.stat(paths.tarball()); st && st->has_value()) l.bytes = (*st)->size;
  l.labels = labels_of(json::at(*vb, {"metadata", "labels"}));
  return std::optional<BackupListing>(std::move(l));
}

}  // namespace

Result<std::vector<BackupListing>> list_backups(storage::Backend& backend, std::vector<Error>* skipped) {
  KBK_ASSIGN_OR_RETURN(auto dirs, backend.list_prefixes("backups/"));
  std::vector<BackupListing> out;
  for (auto dir : dirs) {
    if (!dir.empty() && dir.back() == '/') dir.pop_back();
    auto one = list_one(backend, dir);
    if (!one) {
      // The location's own failures (unreachable, denied) end the listing; one backup that does not read is
      // skipped when the caller collects those.
      const Errc c = one.error().code;
      const bool about_this_backup = c == Errc::corrupt || c == Errc::unsupported || c == Errc::parse;
      if (!skipped || !about_this_backup) return std::move(one).error();
      skipped->push_back(std::move(one).error());
      continue;
    }
    if (*one) out.push_back(std::move(**one));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

Result<uint64_t> delete_backup(storage::Backend& backend, const std::string& name) {
  BackupPaths paths{name};
  std::vector<std::string> keys;
  KBK_TRY(backend.list(paths.dir(), [&](const storage::ObjectInfo& o) -> Result<void> {
    keys.push_back(o.key);
    return {};
  }));
  if (keys.empty()) return unexpected(Errc::not_found, "backup " + name + " not found in " + backend.display_url());
  // The marker goes first: an interrupted delete never leaves a complete-looking backup with parts missing. The
  // lock goes last: until then the rest lists as an Incomplete backup, which prune and backup delete finish.
  KBK_TRY(backend.remove(paths.marker()));
  std::vector<std::string> rest;
  for (const auto& k : keys)
    if (k != paths.marker() && k != paths.lock()) rest.push_back(k);
  KBK_TRY(backend.remove_many(rest));
  // A killed backup's unfinished uploads (a hidden temp file, a multipart upload) are the backup's too.
  KBK_ASSIGN_OR_RETURN(uint64_t unfinished, backend.cleanup_incomplete(std::chrono::seconds(0), paths.dir()));
  KBK_TRY(backend.remove(paths.lock()));
  return static_cast<uint64_t>(keys.size()) + unfinished;
}

}  // namespace kbk::archive
