// Reading a backup for restore (see backup.hpp). Everything is read and validated before the caller plans
// or applies anything.
#include <kbk/restore/backup.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
#include <unordered_map>

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
    const std::string gr = e.key.group_resource();
    const auto [index, seen_preferred] = find(gr, e.key.namespace_, e.key.name);
    if (index != k_none && (seen_preferred || !preferred)) return {};  // keep the preferred copy
    if (index != k_none) {
      // The preferred copy of an item read before: the verifier holds both copies to the same bytes, so only the
      // path changes (the text is not kept twice).
      m_out.items[index].path = e.path;
      m_preferred[index] = true;
      return {};
    }
    BackupItem item;
    item.key = e.key;
    item.path = e.path;
    const std::string api_version = json::get_string(*object, {"apiVersion"});
    item.key.version = api_version.empty() ? e.key.version : version_of(api_version);
    item.kind = json::get_string(*object, {"kind"});
    item.object = JsonText::adopt(std::string(e.data), m_out.spool);
    const uint64_t d = digest(gr, e.key.namespace_, e.key.name);
    if (!m_seen.emplace(d, static_cast<uint32_t>(m_out.items.size())).second)
      m_collided.emplace(std::make_tuple(gr, e.key.namespace_, e.key.name), m_out.items.size());
    m_preferred.push_back(preferred);
    m_out.items.push_back(std::move(item));
    return {};
  }

private:
  static constexpr size_t k_none = SIZE_MAX;
  static uint64_t digest(const std::string& gr, const std::string& ns, const std::string& name) {
    std::string k;
    k.reserve(gr.size() + ns.size() + name.size() + 2);
    k.append(gr).append(1, '\0').append(ns).append(1, '\0').append(name);
    return std::hash<std::string>{}(k);
  }
  // The item of (gr, ns, name) read before (k_none if none) and whether its copy is the preferred-version one.
  std::pair<size_t, bool> find(const std::string& gr, const std::string& ns, const std::string& name) const {
    auto it = m_seen.find(digest(gr, ns, name));
    if (it == m_seen.end()) return {k_none, false};
    const BackupItem& b = m_out.items[it->second];
    if (b.key.namespace_ == ns && b.key.name == name && b.key.group_resource() == gr)
      return {it->second, m_preferred[it->second]};
    auto c = m_collided.find(std::make_tuple(gr, ns, name));  // another key with the same digest
    if (c == m_collided.end()) return {k_none, false};
    return {c->second, m_preferred[c->second]};
  }

  LoadedBackup& m_out;
  // Items by a digest of (gr, ns, name): about 40 bytes an item (a map of the names took about 170); the rare key
  // whose digest another took first is kept by its names.
  std::unordered_map<uint64_t, uint32_t> m_seen;
  std::map<std::tuple<std::string, std::string, std::string>, size_t> m_collided;
  std::vector<bool> m_preferred;  // per item: its copy is the preferred-version one
};

}  // namespace

Result<LoadedBackup> load_archive(storage::Reader& reader, const std::string& what, const archive::ReaderLimits& limits,
                                  Texts texts) {
  LoadedBackup out;
  if (texts == Texts::spooled) out.spool = make_sealed_spool();
  Collector collect(out);
  KBK_ASSIGN_OR_RETURN(archive::VerifyReport report, archive::verify_stream(reader, what, limits, std::ref(collect)));
  if (!report.problems.empty()) return archive::verification_error(what, report);
  return out;
}

Result<LoadedBackup> load_backup(storage::Backend& backend, const std::string& name, const archive::ReaderLimits& limits,
                                 const crypto::UserKey* encryption_key, Texts texts) {
  // The marker (or velero-backup.json) is checked and an encrypted backup's key opened and its sealed marker
  // compared before the archive is read; the archive is then read to its end (the gzip CRC, the final encrypted
  // segment) and verified as `kbk backup verify` does. Nothing is handed to the planner before all of it passed.
  KBK_ASSIGN_OR_RETURN(archive::OpenBackup opened,
                       archive::open_backup(backend, name, encryption_key, archive::NeedKey::yes));
  LoadedBackup loaded;
  if (texts == Texts::spooled) loaded.spool = make_sealed_spool();
  Collector collect(loaded);
  KBK_ASSIGN_OR_RETURN(archive::VerifyReport report, archive::read_verified(backend, opened, limits, std::ref(collect)));
  if (!report.problems.empty()) return archive::verification_error(name, report);
  loaded.name = name;
  loaded.origin = opened.source == archive::BackupSource::velero ? BackupOrigin::velero : BackupOrigin::kbk;
  if (opened.source == archive::BackupSource::kbk) loaded.marker = JsonText::of(opened.marker);
  return loaded;
}

}  // namespace kbk::restore
