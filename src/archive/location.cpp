// The location's per-backup files (docs/format-archive.md section 5): gzip helpers, listing, deletion.
#include <kbk/archive/location.hpp>

#include <map>

#include <zlib.h>

#include <algorithm>

#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

namespace kbk::archive {

std::string gzip(std::string_view data) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(data.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

Result<std::string> gunzip(std::string_view data, std::string_view what, uint64_t max_bytes) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return unexpected(Errc::internal_error, "zlib: init failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[65536];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return unexpected(Errc::corrupt, std::string(what) + ": damaged gzip data");
    }
    out.append(buf, sizeof buf - zs.avail_out);
    if (out.size() > max_bytes) {
      inflateEnd(&zs);
      return unexpected(Errc::corrupt, std::string(what) + ": decompressed size over the limit");
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      return unexpected(Errc::corrupt, std::string(what) + ": truncated gzip data");
    }
  }
  inflateEnd(&zs);
  return out;
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
  if (v && v->IsUint64()) return v->GetUint64();
  if (v && v->IsInt64() && v->GetInt64() > 0) return static_cast<uint64_t>(v->GetInt64());
  return 0;
}

}  // namespace

Result<std::optional<json::Document>> read_marker(storage::Backend& backend, const std::string& name) {
  BackupPaths paths{name};
  auto text = backend.get(paths.marker());
  if (!text) {
    if (text.error().is(Errc::not_found)) return std::optional<json::Document>{};
    return std::move(text).error();
  }
  KBK_ASSIGN_OR_RETURN(json::Document doc, json::parse(*text, "backup " + name + ": kbk-manifest.json"));
  const std::string api = json::get_string(doc, {"apiVersion"});
  if (api != k_kbk_api_version)
    return unexpected(Errc::unsupported, "backup " + name + ": kbk-manifest.json has apiVersion \"" + api +
                                             "\"; this kbk reads " + k_kbk_api_version);
  return std::optional<json::Document>(std::move(doc));
}

namespace {

std::map<std::string, std::string> labels_of(const json::Value* v) {
  std::map<std::string, std::string> out;
  if (v && v->IsObject())
    for (const auto& m : v->GetObject())
      if (m.value.IsString()) out[m.name.GetString()] = m.value.GetString();
  return out;
}

}  // namespace

Result<std::vector<BackupListing>> list_backups(storage::Backend& backend) {
  KBK_ASSIGN_OR_RETURN(auto dirs, backend.list_prefixes("backups/"));
  std::vector<BackupListing> out;
  for (auto dir : dirs) {
    if (!dir.empty() && dir.back() == '/') dir.pop_back();
    BackupPaths paths{dir};
    BackupListing l;
    l.name = dir;
    auto marker = read_marker(backend, dir);
    if (!marker) return std::move(marker).error();
    if (marker->has_value()) {
      const json::Value& m = **marker;
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
      out.push_back(std::move(l));
      continue;
    }
    KBK_ASSIGN_OR_RETURN(auto lock, backend.stat(paths.lock()));
    if (lock) {
      l.source = "kbk";
      l.phase = "Incomplete";
      // When the writer started (prune spares young incomplete backups: another kbk may be writing them).
      if (auto text = backend.get(paths.lock()))
        if (auto doc = json::parse(*text, "backup " + dir + ": kbk-lock.json"))
          l.started = json::get_string(*doc, {"startTimestamp"});
      if (!util::parse_rfc3339(l.started)) l.started = util::format_rfc3339(lock->modified);
      // No marker yet to say so: an encrypted backup writes its key object right after the lock.
      KBK_TRY(backend.list(paths.dir() + "kbk-key-", [&](const storage::ObjectInfo&) -> Result<void> {
        l.encrypted = true;
        return {};
      }));
      out.push_back(std::move(l));
      continue;
    }
    auto vb = backend.get(paths.velero_backup());
    if (!vb) {
      if (vb.error().is(Errc::not_found)) continue;
      return std::move(vb).error();
    }
    auto doc = json::parse(*vb, "backup " + dir + ": velero-backup.json");
    if (!doc) continue;  // not a backup we can describe; Velero would skip it as well
    const std::string phase = json::get_string(*doc, {"status", "phase"});
    if (phase != "Completed" && phase != "PartiallyFailed") continue;
    l.source = "velero";
    l.phase = phase;
    l.started = json::get_string(*doc, {"status", "startTimestamp"});
    l.completed = json::get_string(*doc, {"status", "completionTimestamp"});
    l.expires = json::get_string(*doc, {"status", "expiration"});
    l.items = get_u64(*doc, {"status", "progress", "itemsBackedUp"});
    l.warnings = get_u64(*doc, {"status", "warnings"});
    l.errors = get_u64(*doc, {"status", "errors"});
    if (auto st = backend.stat(paths.tarball()); st && st->has_value()) l.bytes = (*st)->size;
    l.labels = labels_of(json::at(*doc, {"metadata", "labels"}));
    out.push_back(std::move(l));
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
  KBK_TRY(backend.remove(paths.lock()));
  return static_cast<uint64_t>(keys.size());
}

}  // namespace kbk::archive
