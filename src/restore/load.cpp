// Reading a backup for restore (see backup.hpp). Everything is read and validated before the caller plans
// or applies anything.
#include <kbk/restore/backup.hpp>

#include <map>
#include <optional>
#include <tuple>

#include <functional>

#include <kbk/archive/reader.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::restore {
namespace {

std::string version_of(std::string_view api_version) {
  auto slash = api_version.find('/');
  return std::string(slash == std::string_view::npos ? api_version : api_version.substr(slash + 1));
}

// Collects the items a verified read hands out (archive::read_verified parsed and checked each one).
class Collector {
public:
  explicit Collector(LoadedBackup& out) : m_out(out) {}

  Result<void> operator()(const archive::Entry& e, const json::Value* object) {
    if (e.path == "metadata/version") {
      m_out.format_version = std::string(util::trim(e.data));
      return {};
    }
    if (!e.is_item) {
      if (util::starts_with(e.path, "resources/")) m_out.warnings.push_back("ignored stray archive entry " + e.path);
      return {};
    }
    if (!object) return {};  // a problem the verifier reported: the load fails after the read
    bool preferred = util::ends_with(e.version_dir, "-preferredversion");
    if (!e.version_dir.empty() && !preferred) return {};  // a non-preferred version copy: not restored
    auto key = std::make_tuple(e.key.group_resource(), e.key.namespace_, e.key.name);
    auto it = m_seen.find(key);
    if (it != m_seen.end() && (it->second.second || !preferred)) return {};  // keep the preferred copy
    BackupItem item;
    item.key = e.key;
    item.path = e.path;
    const std::string api_version = json::get_string(*object, {"apiVersion"});
    item.key.version = api_version.empty() ? e.key.version : version_of(api_version);
    item.kind = json::get_string(*object, {"kind"});
    item.object = JsonText::adopt(std::string(e.data));
    if (it != m_seen.end()) {
      m_out.items[it->second.first] = std::move(item);
      it->second.second = true;
    } else {
      m_seen[key] = {m_out.items.size(), preferred};
      m_out.items.push_back(std::move(item));
    }
    return {};
  }

private:
  LoadedBackup& m_out;
  // (gr, ns, name) -> index in out.items and whether that copy is the preferred-version one.
  std::map<std::tuple<std::string, std::string, std::string>, std::pair<size_t, bool>> m_seen;
};

}  // namespace

Result<LoadedBackup> load_archive(storage::Reader& reader, const std::string& what, const archive::ReaderLimits& limits) {
  LoadedBackup out;
  Collector collect(out);
  KBK_ASSIGN_OR_RETURN(archive::VerifyReport report, archive::verify_stream(reader, what, limits, std::ref(collect)));
  if (!report.problems.empty()) return archive::verification_error(what, report);
  return out;
}

Result<LoadedBackup> load_backup(storage::Backend& backend, const std::string& name, const archive::ReaderLimits& limits,
                                 const crypto::UserKey* encryption_key) {
  // The marker (or velero-backup.json) is checked and an encrypted backup's key opened and its sealed marker
  // compared before the archive is read; the archive is then read to its end (the gzip CRC, the final encrypted
  // segment) and verified as `kbk backup verify` does. Nothing is handed to the planner before all of it passed.
  KBK_ASSIGN_OR_RETURN(archive::OpenBackup opened,
                       archive::open_backup(backend, name, encryption_key, archive::NeedKey::yes));
  LoadedBackup loaded;
  Collector collect(loaded);
  KBK_ASSIGN_OR_RETURN(archive::VerifyReport report, archive::read_verified(backend, opened, limits, std::ref(collect)));
  if (!report.problems.empty()) return archive::verification_error(name, report);
  loaded.name = name;
  loaded.origin = opened.source == archive::BackupSource::velero ? BackupOrigin::velero : BackupOrigin::kbk;
  if (opened.source == archive::BackupSource::kbk) loaded.marker = JsonText::of(opened.marker);
  return loaded;
}

}  // namespace kbk::restore
