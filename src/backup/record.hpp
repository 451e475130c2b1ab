// Everything a finished run knows, and the documents made from it (docs/format-archive.md sections 3-5):
// kbk/manifest.json and the location marker, kbk/results.json, velero-backup.json, Velero's resource list and
// results. Internal to the backup module.
#pragma once

#include <array>
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
  std::array<unsigned char, 32> sha256{};  // raw bytes: an item costs ~150 bytes of memory, not 250
  uint32_t size = 0;
  bool related = false;
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
  std::vector<ItemRecord> items;
  Summary summary;  // phase, times, counts, outcomes
  uint64_t ok = 0;
  std::string archive_key, archive_sha256;
  uint64_t archive_bytes = 0;
  bool encrypted = false;  // archive_key is <name>.kbk and archive_sha256 is of the stored, encrypted bytes
};

enum class WithItems { yes, no };
std::string manifest_json(const RunRecord& r, WithItems with_items);
// kbk/manifest.json streamed into the archive (sized in a first pass): the item list is never held as text.
Result<void> add_manifest(archive::ArchiveWriter& writer, const RunRecord& r);
std::string results_json(const RunRecord& r);
std::string velero_backup_json(const RunRecord& r);
std::string resource_list_json(const RunRecord& r);
std::string velero_results_json(const RunRecord& r);
std::string format_ttl(std::chrono::seconds ttl);  // Go's Duration.String(): "720h0m0s"

}  // namespace kbk::backup
