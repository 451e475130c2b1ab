// The run's documents, written with RapidJSON's streaming writer (the item list can be long).
#include "record.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include <fcntl.h>
#include <unistd.h>

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <kbk/archive/archive.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/compress/gzip.hpp>
#include <kbk/kube/label_selector.hpp>
#include <kbk/util/fs.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::backup {

using kube::LabelSelector;

// ---- ItemSpool ----------------------------------------------------------------------------------------------------
// Record: type u32, size u32, related u8, sha256 32 bytes, ns length u16, ns, name length u16, name (little endian).

namespace {
constexpr size_t k_spool_buffer = 256u << 10;

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u16(std::string& out, size_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>((v >> 8) & 0xff));
}
uint32_t get_u32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}
size_t get_u16(const unsigned char* p) { return static_cast<size_t>(p[0]) | static_cast<size_t>(p[1]) << 8; }
}  // namespace

ItemSpool::~ItemSpool() {
  if (m_fd >= 0) ::close(m_fd);
}

Result<void> ItemSpool::add(const ItemRecord& item) {
  if (item.ns.size() > 0xffff || item.name.size() > 0xffff)
    return unexpected(Errc::invalid, "object name longer than 65535 bytes: " + util::printable(item.name, 80));
  put_u32(m_buf, item.type);
  put_u32(m_buf, item.size);
  m_buf.push_back(item.related ? 1 : 0);
  m_buf.append(reinterpret_cast<const char*>(item.sha256.data()), item.sha256.size());
  put_u16(m_buf, item.ns.size());
  m_buf += item.ns;
  put_u16(m_buf, item.name.size());
  m_buf += item.name;
  ++m_count;
  if (item.type >= m_types.size()) m_types.resize(item.type + 1);
  TypeState& t = m_types[item.type];
  std::string key = item.ns + "/" + item.name;
  if (t.count > 0 && key < t.last) t.sorted = false;
  if (t.sorted) t.last = std::move(key);
  ++t.count;
  if (m_buf.size() >= k_spool_buffer) return flush();
  return {};
}

Result<void> ItemSpool::flush() const {
  if (m_buf.empty()) return {};
  if (m_fd < 0) {
    KBK_ASSIGN_OR_RETURN(m_fd, util::open_unlinked_temp("kbk-items"));
  }
  KBK_TRY(util::pwrite_all(m_fd, m_buf, m_file_bytes, "the item list's temporary file"));
  m_file_bytes += m_buf.size();
  m_buf.clear();
  return {};
}

Result<void> ItemSpool::scan(const std::function<void(const ItemRecord&)>& f, ItemRecord& rec) const {
  // Decodes whole records from `data`; returns the bytes used (a record cut at the end is left for the next block).
  auto decode = [&](const std::string& data) -> size_t {
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    size_t at = 0;
    for (;;) {
      constexpr size_t fixed = 4 + 4 + 1 + 32 + 2;
      if (data.size() - at < fixed) return at;
      const size_t ns_len = get_u16(p + at + fixed - 2);
      if (data.size() - at < fixed + ns_len + 2) return at;
      const size_t name_len = get_u16(p + at + fixed + ns_len);
      const size_t total = fixed + ns_len + 2 + name_len;
      if (data.size() - at < total) return at;
      rec.type = get_u32(p + at);
      rec.size = get_u32(p + at + 4);
      rec.related = p[at + 8] != 0;
      std::memcpy(rec.sha256.data(), p + at + 9, rec.sha256.size());
      rec.ns.assign(data, at + fixed, ns_len);
      rec.name.assign(data, at + fixed + ns_len + 2, name_len);
      f(rec);
      at += total;
    }
  };
  if (m_fd >= 0) {
    std::string block;
    uint64_t off = 0;
    while (off < m_file_bytes) {
      const size_t keep = block.size();
      const size_t want = static_cast<size_t>(std::min<uint64_t>(k_spool_buffer, m_file_bytes - off));
      block.resize(keep + want);
      ssize_t n = ::pread(m_fd, block.data() + keep, want, static_cast<off_t>(off));
      if (n < 0 && errno == EINTR) {
        block.resize(keep);
        continue;
      }
      if (n <= 0) return unexpected(Errc::io, std::string("reading the item list's temporary file: ") + std::strerror(errno));
      block.resize(keep + static_cast<size_t>(n));
      off += static_cast<uint64_t>(n);
      block.erase(0, decode(block));
    }
    if (!block.empty()) return unexpected(Errc::io, "the item list's temporary file ends inside a record");
  }
  if (decode(m_buf) != m_buf.size()) return unexpected(Errc::io, "the item list's buffer ends inside a record");
  return {};
}

namespace {

using PrettyWriter = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

template <class W>
void str(W& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
template <class W>
void key(W& w, std::string_view s) {
  w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
template <class W>
void str_array(W& w, std::string_view k, const std::vector<std::string>& v) {
  key(w, k);
  w.StartArray();
  for (const auto& s : v) str(w, s);
  w.EndArray();
}

template <class W>
void selection(W& w, const Options& o) {
  w.StartObject();
  str_array(w, "includedNamespaces", o.include_namespaces.empty() ? std::vector<std::string>{"*"} : o.include_namespaces);
  str_array(w, "excludedNamespaces", o.exclude_namespaces);
  str_array(w, "includedResources", o.include_resources);
  str_array(w, "excludedResources", o.exclude_resources);
  key(w, "includeClusterResources");
  if (o.include_cluster_resources == ClusterResources::automatic) w.Null();
  else w.Bool(o.include_cluster_resources == ClusterResources::include);
  str_array(w, "includedClusterScopedResources", o.include_cluster_scoped);
  str_array(w, "excludedClusterScopedResources", o.exclude_cluster_scoped);
  str_array(w, "includedNamespaceScopedResources", o.include_namespace_scoped);
  str_array(w, "excludedNamespaceScopedResources", o.exclude_namespace_scoped);
  key(w, "labelSelector");
  str(w, o.label_selector);
  str_array(w, "orLabelSelectors", o.or_label_selectors);
  str_array(w, "includeNames", o.include_names);
  str_array(w, "excludeNames", o.exclude_names);
  key(w, "withRelated");
  w.Bool(o.with_related == WithRelated::yes);
  key(w, "includeEvents");
  w.Bool(o.include_events == IncludeEvents::yes);
  key(w, "applications");
  if (!o.applications) {
    w.Null();
  } else {
    const app::Application& a = *o.applications;
    w.StartObject();
    str_array(w, "names", a.names);
    str_array(w, "included", a.all_names);
    str_array(w, "files", a.files);
    std::vector<std::string> parts;
    for (const auto& p : a.parts) parts.push_back(p.name);
    str_array(w, "parts", parts);
    key(w, "volumePolicy");
    if (a.volume_policy) str(w, a.volume_policy->origin);
    else w.Null();
    key(w, "hooks");
    w.StartArray();
    for (const auto& h : a.hooks) {
      w.StartObject();
      key(w, "application");
      str(w, h.application);
      key(w, "template");
      str(w, h.template_name);
      key(w, "namespace");
      str(w, h.namespace_);
      key(w, "selector");
      str(w, h.selector);
      key(w, "container");
      str(w, h.container);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndObject();
}

}  // namespace

std::string format_ttl(std::chrono::seconds ttl) {
  long long s = ttl.count();
  long long h = s / 3600, m = (s % 3600) / 60, sec = s % 60;
  if (s == 0) return "0s";
  if (h > 0) return std::to_string(h) + "h" + std::to_string(m) + "m" + std::to_string(sec) + "s";
  if (m > 0) return std::to_string(m) + "m" + std::to_string(sec) + "s";
  return std::to_string(sec) + "s";
}

namespace {

// RapidJSON output streams: one that only counts, one that hands 64 KiB chunks to the archive.
struct CountingStream {
  using Ch = char;
  uint64_t n = 0;
  void Put(char) { ++n; }
  void Flush() {}
};

struct ChunkStream {
  using Ch = char;
  const archive::ArchiveWriter::ChunkSink* sink = nullptr;
  std::string buf;
  std::optional<Error> error;
  void Put(char c) {
    buf.push_back(c);
    if (buf.size() >= 65536) Flush();
  }
  void Flush() {
    if (buf.empty() || error) return;
    auto r = (*sink)(buf);
    if (!r) error = r.error();
    buf.clear();
  }
};

template <class W>
Result<void> write_manifest(W& w, const RunRecord& r, WithItems with_items) {
  const Summary& s = r.summary;
  w.StartObject();
  key(w, "apiVersion"); str(w, archive::k_kbk_api_version);
  key(w, "kind"); str(w, "BackupManifest");
  key(w, "name"); str(w, r.name);
  key(w, "uid"); str(w, r.uid);
  key(w, "tool"); w.StartObject(); key(w, "name"); str(w, "kbk"); key(w, "version"); str(w, r.tool_version); w.EndObject();
  key(w, "cluster");
  w.StartObject();
  key(w, "name"); str(w, r.cluster_name);
  key(w, "server"); str(w, r.server);
  key(w, "kubeSystemUID"); str(w, r.kube_system_uid);
  key(w, "serverVersion");
  w.StartObject();
  key(w, "gitVersion"); str(w, r.git_version);
  key(w, "major"); str(w, r.major);
  key(w, "minor"); str(w, r.minor);
  key(w, "platform"); str(w, r.platform);
  w.EndObject();
  w.EndObject();
  key(w, "selection"); selection(w, r.options);
  key(w, "apiGroups");
  w.StartArray();
  for (const auto& g : r.groups) {
    w.StartObject();
    key(w, "name"); str(w, g.name);
    key(w, "preferredVersion"); str(w, g.preferred_version);
    str_array(w, "versions", g.versions);
    w.EndObject();
  }
  w.EndArray();
  key(w, "phase"); str(w, s.phase);
  key(w, "startTimestamp"); str(w, s.started);
  key(w, "completionTimestamp"); str(w, s.completed);
  key(w, "expiration"); str(w, s.expiration);
  key(w, "ttl"); str(w, format_ttl(r.options.ttl));
  key(w, "counts");
  w.StartObject();
  key(w, "items"); w.Uint64(s.items);
  key(w, "warnings"); w.Uint64(s.warnings);
  key(w, "errors"); w.Uint64(s.errors);
  key(w, "skipped"); w.Uint64(s.skipped);
  key(w, "byResource");
  w.StartObject();
  for (const auto& [gr, n] : s.by_resource) {
    key(w, gr);
    w.Uint64(n);
  }
  w.EndObject();
  w.EndObject();
  key(w, "archive");
  w.StartObject();
  key(w, "key"); str(w, r.archive_key);
  key(w, "compression"); str(w, "gzip");
  key(w, "encrypted"); w.Bool(r.encrypted);
  key(w, "bytes"); w.Uint64(r.archive_bytes);
  key(w, "sha256"); str(w, r.archive_sha256);
  w.EndObject();
  str_array(w, "errors", s.error_lines);
  str_array(w, "warnings", s.warning_lines);
  key(w, "labels");
  w.StartObject();
  for (const auto& [k, v] : r.options.labels) {
    key(w, k);
    str(w, v);
  }
  w.EndObject();
  // Velero's volume flags as asked (null: not given) and kbk's own (section 3.3).
  const volume::BackupSettings& vs = r.options.volumes;
  key(w, "volumeOptions");
  w.StartObject();
  key(w, "snapshotVolumes");
  if (vs.snapshot_volumes) w.Bool(*vs.snapshot_volumes);
  else w.Null();
  key(w, "snapshotMoveData");
  if (vs.snapshot_move_data) w.Bool(*vs.snapshot_move_data);
  else w.Null();
  key(w, "defaultVolumesToFsBackup"); w.Bool(vs.default_volumes_to_fs_backup);
  key(w, "fsBackupViaWorkload"); w.Bool(vs.fs_backup_via_workload);
  key(w, "volumeData"); w.Bool(r.options.volume_data);
  w.EndObject();
  key(w, "volumes");
  w.StartArray();
  for (const auto& v : s.volumes) {
    json::Document d;
    volume_to_json(v, d.GetAllocator()).Accept(w);
  }
  w.EndArray();
  if (s.hooks && s.hooks->IsObject()) {
    key(w, "hooks");
    s.hooks->Accept(w);
  }
  if (with_items == WithItems::yes) {
    key(w, "items");
    w.StartArray();
    KBK_TRY(r.items.for_each([&](const ItemRecord& it) {
      const TypeRecord& t = r.types[it.type];
      w.StartObject();
      key(w, "group"); str(w, t.group);
      key(w, "version"); str(w, t.version);
      key(w, "resource"); str(w, t.resource);
      key(w, "kind"); str(w, t.kind);
      key(w, "namespace"); str(w, it.ns);
      key(w, "name"); str(w, it.name);
      key(w, "sha256"); str(w, util::hex_encode(it.sha256.data(), it.sha256.size()));
      key(w, "size"); w.Uint(it.size);
      key(w, "related"); w.Bool(it.related);
      w.EndObject();
    }));
    w.EndArray();
  }
  w.EndObject();
  return {};
}

}  // namespace

Result<std::string> manifest_json(const RunRecord& r, WithItems with_items) {
  rapidjson::StringBuffer buf;
  PrettyWriter w(buf);
  w.SetIndent(' ', 2);
  if (auto written = write_manifest(w, r, with_items); !written) return unexpected(written.error());
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

Result<void> add_manifest(archive::ArchiveWriter& writer, const RunRecord& r) {
  CountingStream counter;
  {
    rapidjson::PrettyWriter<CountingStream> w(counter);
    w.SetIndent(' ', 2);
    KBK_TRY(write_manifest(w, r, WithItems::yes));
  }
  const uint64_t size = counter.n + 1;  // + "\n"
  return writer.add_file_stream("kbk/manifest.json", size, [&](const archive::ArchiveWriter::ChunkSink& sink) -> Result<void> {
    ChunkStream out;
    out.sink = &sink;
    rapidjson::PrettyWriter<ChunkStream> w(out);
    w.SetIndent(' ', 2);
    KBK_TRY(write_manifest(w, r, WithItems::yes));
    out.Put('\n');
    out.Flush();
    if (out.error) return *out.error;
    return {};
  });
}

std::string results_json(const RunRecord& r) {
  rapidjson::StringBuffer buf;
  PrettyWriter w(buf);
  w.SetIndent(' ', 2);
  uint64_t skipped = 0, warning = 0, failed = 0;
  for (const auto& o : r.summary.outcomes) {
    if (o.outcome == "skipped") ++skipped;
    else if (o.outcome == "warning") ++warning;
    else ++failed;
  }
  w.StartObject();
  key(w, "apiVersion"); str(w, archive::k_kbk_api_version);
  key(w, "kind"); str(w, "BackupResults");
  key(w, "counts");
  w.StartObject();
  key(w, "ok"); w.Uint64(r.ok);
  key(w, "skipped"); w.Uint64(skipped);
  key(w, "warning"); w.Uint64(warning);
  key(w, "failed"); w.Uint64(failed);
  w.EndObject();
  key(w, "entries");
  w.StartArray();
  for (const auto& o : r.summary.outcomes) {
    w.StartObject();
    key(w, "outcome"); str(w, o.outcome);
    key(w, "reason"); str(w, o.reason);
    key(w, "scope"); str(w, o.scope);
    key(w, "group"); str(w, o.group);
    key(w, "resource"); str(w, o.resource);
    key(w, "namespace"); str(w, o.ns);
    key(w, "name"); str(w, o.name);
    if (o.http_status) {
      key(w, "httpStatus");
      w.Int(o.http_status);
    }
    key(w, "message"); str(w, o.message);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

std::string velero_backup_json(const RunRecord& r) {
  const Options& o = r.options;
  const Summary& s = r.summary;
  rapidjson::StringBuffer buf;
  PrettyWriter w(buf);
  w.SetIndent(' ', 2);
  auto nonempty = [&](std::string_view k, const std::vector<std::string>& v) {
    if (!v.empty()) str_array(w, k, v);
  };
  w.StartObject();
  key(w, "kind"); str(w, "Backup");
  key(w, "apiVersion"); str(w, "velero.io/v1");
  key(w, "metadata");
  w.StartObject();
  key(w, "name"); str(w, r.name);
  key(w, "namespace"); str(w, "velero");
  key(w, "uid"); str(w, r.uid);
  key(w, "creationTimestamp"); str(w, s.started);
  key(w, "labels");
  w.StartObject();
  for (const auto& [k, v] : o.labels) {
    if (k == "velero.io/storage-location") continue;
    key(w, k);
    str(w, v);
  }
  key(w, "velero.io/storage-location"); str(w, o.storage_location);
  w.EndObject();
  key(w, "annotations");
  w.StartObject();
  if (!r.git_version.empty()) {
    key(w, "velero.io/source-cluster-k8s-gitversion"); str(w, r.git_version);
    key(w, "velero.io/source-cluster-k8s-major-version"); str(w, r.major);
    key(w, "velero.io/source-cluster-k8s-minor-version"); str(w, r.minor);
  }
  key(w, "kbk.io/tool-version"); str(w, r.tool_version);
  if (!o.label_selector.empty()) {
    key(w, "kbk.io/label-selector");
    str(w, o.label_selector);
  }
  w.EndObject();
  w.EndObject();
  key(w, "spec");
  w.StartObject();
  str_array(w, "includedNamespaces", o.include_namespaces.empty() ? std::vector<std::string>{"*"} : o.include_namespaces);
  nonempty("excludedNamespaces", o.exclude_namespaces);
  nonempty("includedResources", o.include_resources);
  nonempty("excludedResources", o.exclude_resources);
  nonempty("includedClusterScopedResources", o.include_cluster_scoped);
  nonempty("excludedClusterScopedResources", o.exclude_cluster_scoped);
  nonempty("includedNamespaceScopedResources", o.include_namespace_scoped);
  nonempty("excludedNamespaceScopedResources", o.exclude_namespace_scoped);
  if (o.include_cluster_resources != ClusterResources::automatic) {
    key(w, "includeClusterResources");
    w.Bool(o.include_cluster_resources == ClusterResources::include);
  }
  auto write_selector = [&](const std::string& text) {
    auto sel = LabelSelector::parse(text);
    json::Document d = sel ? sel->to_label_selector() : json::Document();
    if (!d.IsObject()) d.SetObject();
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> sw(sb);
    d.Accept(sw);
    w.RawValue(sb.GetString(), sb.GetSize(), rapidjson::kObjectType);
  };
  if (!o.label_selector.empty()) {
    key(w, "labelSelector");
    write_selector(o.label_selector);
  }
  if (!o.or_label_selectors.empty()) {
    key(w, "orLabelSelectors");
    w.StartArray();
    for (const auto& t : o.or_label_selectors) write_selector(t);
    w.EndArray();
  }
  key(w, "ttl"); str(w, format_ttl(o.ttl));
  key(w, "storageLocation"); str(w, o.storage_location);
  key(w, "snapshotVolumes"); w.Bool(false);
  key(w, "defaultVolumesToFsBackup"); w.Bool(false);
  key(w, "hooks"); w.StartObject(); w.EndObject();
  key(w, "metadata"); w.StartObject(); w.EndObject();
  w.EndObject();
  key(w, "status");
  w.StartObject();
  key(w, "version"); w.Int(1);
  key(w, "formatVersion"); str(w, archive::k_velero_format_version);
  key(w, "phase"); str(w, s.phase);
  key(w, "expiration"); str(w, s.expiration);
  key(w, "startTimestamp"); str(w, s.started);
  key(w, "completionTimestamp"); str(w, s.completed);
  key(w, "progress");
  w.StartObject();
  key(w, "totalItems"); w.Uint64(s.items);
  key(w, "itemsBackedUp"); w.Uint64(s.items);
  w.EndObject();
  if (s.warnings) {
    key(w, "warnings");
    w.Uint64(s.warnings);
  }
  if (s.errors) {
    key(w, "errors");
    w.Uint64(s.errors);
  }
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

// Velero's resource list, gzipped: {"apiVersion/Kind": ["ns/name", ...]} with keys and names sorted. A type whose records
// arrived sorted (a paged LIST's order) streams from the spool; the others are collected and sorted, so memory
// holds at most one such type's names.
Result<std::string> resource_list_gz(const RunRecord& r) {
  std::map<std::string, std::vector<uint32_t>> keys;  // "apiVersion/Kind" -> its types
  for (uint32_t t = 0; t < r.types.size(); ++t)
    if (r.items.count(t) > 0) keys[r.types[t].api_version() + "/" + r.types[t].kind].push_back(t);
  auto display = [](const ItemRecord& it) { return it.ns.empty() ? it.name : it.ns + "/" + it.name; };
  // Small types are collected in one pass; each large one is read on its own pass.
  constexpr uint64_t k_small = 20000;
  std::map<uint32_t, std::vector<std::string>> small;
  for (const auto& [k, types] : keys)
    for (uint32_t t : types)
      if (types.size() > 1 || r.items.count(t) <= k_small || !r.items.sorted(t)) small[t];
  if (!small.empty())
    KBK_TRY(r.items.for_each([&](const ItemRecord& it) {
      auto f = small.find(it.type);
      if (f != small.end() && r.items.count(it.type) <= k_small) f->second.push_back(display(it));
    }));
  compress::GzipWriter gz;
  rapidjson::Writer<compress::GzipWriter> w(gz);
  w.StartObject();
  for (const auto& [k, types] : keys) {
    key(w, k);
    w.StartArray();
    const uint32_t t0 = types.front();
    if (types.size() == 1 && r.items.count(t0) > k_small && r.items.sorted(t0)) {
      KBK_TRY(r.items.for_each([&](const ItemRecord& it) {
        if (it.type == t0) str(w, display(it));
      }));
    } else {
      std::vector<std::string> names;
      for (uint32_t t : types) {
        if (r.items.count(t) > k_small) {  // a large type that arrived unsorted: read and sorted on its own
          KBK_TRY(r.items.for_each([&](const ItemRecord& it) {
            if (it.type == t) names.push_back(display(it));
          }));
        } else {
          auto& v = small[t];
          names.insert(names.end(), std::make_move_iterator(v.begin()), std::make_move_iterator(v.end()));
          std::vector<std::string>().swap(v);
        }
      }
      std::sort(names.begin(), names.end());
      for (const auto& n : names) str(w, n);
    }
    w.EndArray();
  }
  w.EndObject();
  gz.Put('\n');
  return gz.finish();
}

std::string velero_results_json(const RunRecord& r) {
  struct Bucket {
    std::vector<std::string> velero, cluster;
    std::map<std::string, std::vector<std::string>> namespaces;
  };
  Bucket errors, warnings;
  for (const auto& o : r.summary.outcomes) {
    if (o.outcome == "skipped") continue;
    Bucket& b = o.outcome == "failed" ? errors : warnings;
    if (!o.ns.empty()) b.namespaces[o.ns].push_back(o.line());
    else if (o.scope == "item") b.cluster.push_back(o.line());
    else b.velero.push_back(o.line());
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto bucket = [&](std::string_view k, const Bucket& b) {
    key(w, k);
    w.StartObject();
    if (!b.velero.empty()) str_array(w, "velero", b.velero);
    if (!b.cluster.empty()) str_array(w, "cluster", b.cluster);
    if (!b.namespaces.empty()) {
      key(w, "namespaces");
      w.StartObject();
      for (const auto& [ns, v] : b.namespaces) str_array(w, ns, v);
      w.EndObject();
    }
    w.EndObject();
  };
  w.StartObject();
  bucket("errors", errors);
  bucket("warnings", warnings);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

}  // namespace kbk::backup
