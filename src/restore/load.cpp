// Reading a backup for restore (see backup.hpp). Everything is read and validated before the caller plans
// or applies anything.
#include <kbk/restore/backup.hpp>

#include <map>
#include <optional>
#include <tuple>

#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <kbk/archive/encryption.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::restore {
namespace {

std::string version_of(std::string_view api_version) {
  auto slash = api_version.find('/');
  return std::string(slash == std::string_view::npos ? api_version : api_version.substr(slash + 1));
}

// Validates one item without building a document (the item is kept as text, see json_text.hpp): one JSON
// object, nothing after it. Collects its top-level apiVersion and kind on the way (the first member of each
// name, as json::find reads it; "" when that is not a string).
struct ItemScan : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, ItemScan> {
  int depth = 0;
  bool root_is_object = false;
  enum class Want { none, api_version, kind } want = Want::none;
  bool seen_api_version = false, seen_kind = false;
  std::string api_version, kind;

  bool Default() {
    want = Want::none;
    return depth > 0;
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (depth == 1 && want == Want::api_version) api_version.assign(s, n);
    if (depth == 1 && want == Want::kind) kind.assign(s, n);
    return Default();
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    std::string_view k(s, n);
    want = Want::none;
    if (depth != 1) return true;
    if (k == "apiVersion" && !seen_api_version) {
      want = Want::api_version;
      seen_api_version = true;
    } else if (k == "kind" && !seen_kind) {
      want = Want::kind;
      seen_kind = true;
    }
    return true;
  }
  bool StartObject() {
    if (depth == 0) root_is_object = true;
    want = Want::none;
    ++depth;
    return root_is_object;
  }
  bool EndObject(rapidjson::SizeType) {
    --depth;
    return true;
  }
  bool StartArray() {
    want = Want::none;
    ++depth;
    return root_is_object;
  }
  bool EndArray(rapidjson::SizeType) {
    --depth;
    return true;
  }
};

Result<ItemScan> scan_item(std::string_view text, const std::string& where) {
  ItemScan scan;
  rapidjson::Reader reader;
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
  rapidjson::ParseResult r = reader.Parse<rapidjson::kParseFullPrecisionFlag>(is, scan);
  if (!scan.root_is_object && (r || r.Code() == rapidjson::kParseErrorTermination))
    return unexpected(Errc::corrupt, where + ": not a JSON object");
  if (!r)
    return unexpected(Errc::corrupt, where + ": invalid JSON at offset " + std::to_string(r.Offset()) + ": " +
                                         rapidjson::GetParseError_En(r.Code()));
  return scan;
}

}  // namespace

Result<LoadedBackup> load_archive(storage::Reader& reader, const std::string& what, const archive::ReaderLimits& limits) {
  LoadedBackup out;
  // (gr, ns, name) -> index in out.items and whether that copy is the preferred-version one.
  std::map<std::tuple<std::string, std::string, std::string>, std::pair<size_t, bool>> seen;
  auto on_entry = [&](const archive::Entry& e) -> Result<void> {
    if (e.path == "metadata/version") {
      out.format_version = std::string(util::trim(e.data));
      return {};
    }
    if (!e.is_item) {
      if (util::starts_with(e.path, "resources/")) out.warnings.push_back("ignored stray archive entry " + e.path);
      return {};
    }
    bool preferred = util::ends_with(e.version_dir, "-preferredversion");
    if (!e.version_dir.empty() && !preferred) return {};  // a non-preferred version copy: not restored
    KBK_ASSIGN_OR_RETURN(ItemScan scan, scan_item(e.data, what + ": entry " + e.path));
    auto key = std::make_tuple(e.key.group_resource(), e.key.namespace_, e.key.name);
    auto it = seen.find(key);
    if (it != seen.end() && (it->second.second || !preferred)) return {};  // keep the preferred copy
    BackupItem item;
    item.key = e.key;
    item.path = e.path;
    item.key.version = scan.api_version.empty() ? e.key.version : version_of(scan.api_version);
    item.kind = std::move(scan.kind);
    item.object = JsonText::adopt(std::string(e.data));
    if (it != seen.end()) {
      out.items[it->second.first] = std::move(item);
      it->second.second = true;
    } else {
      seen[key] = {out.items.size(), preferred};
      out.items.push_back(std::move(item));
    }
    return {};
  };
  KBK_TRY(archive::read_archive(reader, what, limits, on_entry));
  return out;
}

Result<LoadedBackup> load_backup(storage::Backend& backend, const std::string& name, const archive::ReaderLimits& limits,
                                 const crypto::UserKey* encryption_key) {
  archive::BackupPaths paths{name};
  std::string what = "backup " + name;
  BackupOrigin origin = BackupOrigin::kbk;
  std::optional<json::Document> marker;
  if (auto text = backend.get(paths.marker()); text) {
    KBK_ASSIGN_OR_RETURN(marker, json::parse(*text, what + ": " + paths.marker()));
  } else if (!text.error().is(Errc::not_found)) {
    return std::move(text).error().wrap(what);
  }
  if (!marker) {
    KBK_ASSIGN_OR_RETURN(auto velero, backend.stat(paths.velero_backup()));
    KBK_ASSIGN_OR_RETURN(auto lock, backend.stat(paths.lock()));
    KBK_ASSIGN_OR_RETURN(auto tarball, backend.stat(paths.tarball()));
    if (!velero) {
      if (tarball || lock)
        return unexpected(Errc::precondition, what + " in " + backend.display_url() +
                                                  " is incomplete (no completion marker " + paths.marker() + ")");
      return unexpected(Errc::not_found, "no backup " + name + " in " + backend.display_url());
    }
    KBK_ASSIGN_OR_RETURN(std::string text, backend.get(paths.velero_backup()));
    auto doc = json::parse(text, paths.velero_backup());
    if (!doc) return unexpected(Errc::corrupt, what + ": " + doc.error().message);
    std::string phase = json::get_string(*doc, {"status", "phase"});
    if (phase != "Completed" && phase != "PartiallyFailed")
      return unexpected(Errc::precondition, what + " has phase \"" + phase +
                                                "\" in velero-backup.json (Completed or PartiallyFailed is restorable)");
    origin = BackupOrigin::velero;
  }
  // An encrypted archive is decrypted and authenticated as it is read; read_archive reads it to its final
  // segment, so a wrong key, a modified or a truncated object fails here, before anything is planned.
  const json::Value* m = marker ? &*marker : nullptr;
  KBK_ASSIGN_OR_RETURN(auto data_key, archive::backup_data_key(backend, name, m, encryption_key));
  // The plaintext marker must agree with its sealed copy: the archive key read below is then authenticated.
  if (m && data_key) KBK_TRY(archive::open_marker(*m, *data_key));
  const std::string object = archive::archive_object(m, name);
  auto reader = archive::open_object(backend, object, data_key ? &*data_key : nullptr);
  if (!reader) {
    if (reader.error().is(Errc::not_found))
      return unexpected(Errc::corrupt, what + ": " + object + " is missing");
    return unexpected(std::move(reader).error().wrap(what));
  }
  KBK_ASSIGN_OR_RETURN(LoadedBackup loaded, load_archive(**reader, what, limits));
  loaded.name = name;
  loaded.origin = origin;
  return loaded;
}

}  // namespace kbk::restore
