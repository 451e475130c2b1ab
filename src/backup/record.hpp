// Everything a finished run knows, and the documents made from it (docs/format-archive.md sections 3-5):
// kbk/manifest.json and the location marker, kbk/results.json, velero-backup.json, Velero's resource list and
// results. Internal to the backup module.
#pragma once

#include <array>
#include <functional>
#include <cstdint>
#include <string>
#include <vector>

#include <kbk/archive/archive.hpp>
#include <kbk/backup/backup.hpp>
#include <kbk/backup/options.hpp>
#include <kbk/kube/discovery.hpp>

namespace kbk::backup {

struct ItemRecord {
  uint32_t type = 0;  // index into RunRecord::types
  std::string ns, name;
  std::array<unsigned char, 32> sha256{};
  uint32_t size = 0;
  bool related = false;
};

// The run's item records, spooled to an unlinked temporary file (mode 0600, in $TMPDIR or /tmp) in a compact binary
// form once they pass a small buffer, so a backup of a million objects holds none of them in memory (each costs
// about 60 bytes of page cache instead of ~300 bytes of heap). Read back in the order added. Not thread-safe: the
// backup's sink adds under its lock.
class ItemSpool {
public:
  ItemSpool() = default;
  ~ItemSpool();
  ItemSpool(const ItemSpool&) = delete;
  ItemSpool& operator=(const ItemSpool&) = delete;

  Result<void> add(const ItemRecord& item);
  uint64_t size() const { return m_count; }
  bool empty() const { return m_count == 0; }
  // Calls f(const ItemRecord&) for each record in the order added; f returns void.
  template <class F>
  Result<void> for_each(F&& f) const {
    ItemRecord rec;
    return scan([&](const ItemRecord& r) { f(r); }, rec);
  }
  // Did the records of this type arrive sorted by "ns/name" (as a paged LIST returns them)? Then a reader can
  // stream them in that order without sorting.
  bool sorted(uint32_t type) const { return type >= m_types.size() || m_types[type].sorted; }
  uint64_t count(uint32_t type) const { return type < m_types.size() ? m_types[type].count : 0; }

private:
  struct TypeState {
    uint64_t count = 0;
    std::string last;  // "ns/name" of its last record
    bool sorted = true;
  };
  Result<void> scan(const std::function<void(const ItemRecord&)>& f, ItemRecord& rec) const;
  Result<void> flush() const;
  mutable std::string m_buf;
  mutable int m_fd = -1;
  mutable uint64_t m_file_bytes = 0;
  uint64_t m_count = 0;
  std::vector<TypeState> m_types;
};

struct TypeRecord {
  std::string group, version, resource, kind;
  std::string group_resource() const { return group.empty() ? resource : resource + "." + group; }
  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
};

struct RunRecord {
  std::string name, uid, tool_version, server;
  std::string kube_system_uid, cluster_name;
  std::string git_version, major, minor, platform;
  Options options;
  std::vector<kube::GroupInfo> groups;
  std::vector<TypeRecord> types;
  ItemSpool items;
  Summary summary;  // phase, times, counts, outcomes
  uint64_t ok = 0;
  std::string archive_key, archive_sha256;
  uint64_t archive_bytes = 0;
  bool encrypted = false;  // archive_key is <name>.kbk and archive_sha256 is of the stored, encrypted bytes
};

enum class WithItems { yes, no };
Result<std::string> manifest_json(const RunRecord& r, WithItems with_items);
// kbk/manifest.json streamed into the archive (sized in a first pass): the item list is never held as text.
Result<void> add_manifest(archive::ArchiveWriter& writer, const RunRecord& r);
std::string results_json(const RunRecord& r);
std::string velero_backup_json(const RunRecord& r);
// Velero's resource list, already gzipped (built through the compressor: only compressed bytes are held).
Result<std::string> resource_list_gz(const RunRecord& r);
std::string velero_results_json(const RunRecord& r);
std::string format_ttl(std::chrono::seconds ttl);  // Go's Duration.String(): "720h0m0s"

}  // namespace kbk::backup
