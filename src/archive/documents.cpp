// The location's documents: bounded reads, one JSON reader, the formats' schemas (see documents.hpp).
#include <kbk/archive/documents.hpp>

#include <kbk/archive/encryption.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::archive {

using json::Field;
using json::Schema;

namespace {

class GunzipReader final : public storage::Reader {
public:
  GunzipReader(std::unique_ptr<storage::Reader> inner, std::string what, const compress::InflateLimits& limits)
      : m_inner(std::move(inner)),
        m_gz([this](char* b, size_t n) { return m_inner->read(b, n); }, std::move(what), limits) {}
  Result<size_t> read(char* buffer, size_t size) override { return m_gz.read(buffer, size); }

private:
  std::unique_ptr<storage::Reader> m_inner;
  compress::GzipReader m_gz;
};

Result<std::string> read_capped(storage::Reader& reader, std::string_view what, uint64_t max_bytes) {
  std::string out;
  char buf[64 * 1024];
  for (;;) {
    KBK_ASSIGN_OR_RETURN(size_t n, reader.read(buf, sizeof buf));
    if (n == 0) break;
    if (out.size() + n > max_bytes)
      return unexpected(Errc::corrupt, std::string(what) + ": larger than the limit of " + compress::limit_text(max_bytes));
    out.append(buf, n);
  }
  return out;
}

}  // namespace

Result<std::string> read_bounded(storage::Backend& backend, const std::string& key, std::string_view what,
                                 uint64_t max_bytes, const crypto::SecretKey* data_key) {
  KBK_ASSIGN_OR_RETURN(auto reader, open_object(backend, key, data_key));
  return read_capped(*reader, what, max_bytes);
}

std::unique_ptr<storage::Reader> gunzip_reader(std::unique_ptr<storage::Reader> inner, std::string what,
                                               const compress::InflateLimits& limits) {
  return std::make_unique<GunzipReader>(std::move(inner), std::move(what), limits);
}

Result<std::unique_ptr<storage::Reader>> open_gzip_object(storage::Backend& backend, const std::string& key,
                                                          std::string what, const crypto::SecretKey* data_key,
                                                          const compress::InflateLimits& limits) {
  KBK_ASSIGN_OR_RETURN(auto reader, open_object(backend, key, data_key));
  return gunzip_reader(std::move(reader), std::move(what), limits);
}

Result<void> each_line(storage::Reader& reader, const std::function<void(std::string_view line)>& on_line,
                       size_t max_line) {
  std::string line;
  char buf[64 * 1024];
  for (;;) {
    KBK_ASSIGN_OR_RETURN(size_t n, reader.read(buf, sizeof buf));
    if (n == 0) break;
    std::string_view chunk(buf, n);
    while (!chunk.empty()) {
      const size_t nl = chunk.find('\n');
      line.append(chunk.substr(0, nl));
      if (nl == std::string_view::npos) break;
      on_line(line);
      line.clear();
      chunk.remove_prefix(nl + 1);
    }
    while (line.size() > max_line) {
      on_line(std::string_view(line).substr(0, max_line));
      line.erase(0, max_line);
    }
  }
  if (!line.empty()) on_line(line);
  return {};
}

Result<json::Document> parse_document(std::string_view text, std::string_view what, const Schema& schema) {
  KBK_ASSIGN_OR_RETURN(json::Document doc, json::parse(text, what, Errc::corrupt));
  KBK_TRY(schema.check(doc, what));
  return doc;
}

Result<json::Document> read_document(storage::Backend& backend, const std::string& key, std::string_view what,
                                     const Schema& schema, const DocumentOptions& options) {
  std::string text;
  if (options.gzipped == Gzipped::yes) {
    compress::InflateLimits limits;
    limits.max_bytes = options.max_bytes;
    limits.ratio_after = k_bomb_ratio_after;
    KBK_ASSIGN_OR_RETURN(auto reader, open_gzip_object(backend, key, std::string(what), options.data_key, limits));
    KBK_ASSIGN_OR_RETURN(text, read_capped(*reader, what, options.max_bytes));
  } else {
    KBK_ASSIGN_OR_RETURN(text, read_bounded(backend, key, what, options.max_bytes, options.data_key));
  }
  return parse_document(text, what, schema);
}

// ---- schemas -------------------------------------------------------------------------------------------------

namespace {

Schema strings() { return Schema::array(Schema::string()); }
Schema line() { return Schema::string(json::check_single_line); }
Schema time() { return Schema::string(json::check_rfc3339); }

std::string check_phase(std::string_view s) {
  if (s == "Completed" || s == "PartiallyFailed") return "";
  return "\"" + util::printable(s, 64) + "\" is not a phase of a finished backup (Completed or PartiallyFailed)";
}

std::string check_item_sha256(std::string_view s) {
  if (s.empty()) return "missing (64 hexadecimal digits expected)";
  return json::check_sha256_hex(s);
}

std::string check_name(std::string_view s) {
  if (s.empty()) return "empty";
  return json::check_single_line(s);
}

// One entry of a backup's or a restore's "volumes" (what names a volume; the reason it has no data).
Schema volume() {
  return Schema::object({Field("kind", line()), Field("namespace", line()), Field("name", line()),
                         Field("pod", line()), Field("podVolume", line()), Field("claim", line()),
                         Field("persistentVolume", line()), Field("storageClass", line()), Field("source", line()),
                         Field("driver", line()), Field("capacity", line()), Field("pods", Schema::array(line())),
                         Field("dataIncluded", Schema::boolean()), Field("dataRestored", Schema::boolean()),
                         Field("outcome", line()), Field("reason", line()), Field("message", Schema::string())});
}

std::vector<Field> marker_fields() {
  return {
      Field("apiVersion", line(), json::required),
      Field("kind", line()),
      Field("name", Schema::string(check_name), json::required),
      Field("uid", line()),
      Field("tool", Schema::object({Field("name", line()), Field("version", line())})),
      Field("cluster", Schema::object({Field("name", line()), Field("server", line()), Field("kubeSystemUID", line()),
                                       Field("serverVersion", Schema::object({Field("gitVersion", line()),
                                                                              Field("major", line()),
                                                                              Field("minor", line()),
                                                                              Field("platform", line())}))})),
      Field("selection",
            Schema::object({Field("includedNamespaces", strings()), Field("excludedNamespaces", strings()),
                            Field("includedResources", strings()), Field("excludedResources", strings()),
                            Field("includeClusterResources", Schema::boolean().or_null()),
                            Field("includedClusterScopedResources", strings()),
                            Field("excludedClusterScopedResources", strings()),
                            Field("includedNamespaceScopedResources", strings()),
                            Field("excludedNamespaceScopedResources", strings()), Field("labelSelector", line()),
                            Field("orLabelSelectors", strings()), Field("includeNames", strings()),
                            Field("excludeNames", strings()), Field("withRelated", Schema::boolean()),
                            Field("includeEvents", Schema::boolean())})),
      Field("apiGroups", Schema::array(Schema::object({Field("name", line(), json::required),
                                                       Field("preferredVersion", line()),
                                                       Field("versions", Schema::array(line()))}))),
      Field("phase", Schema::string(check_phase)),
      Field("startTimestamp", time()),
      Field("completionTimestamp", time()),
      Field("expiration", time()),
      Field("ttl", line()),
      Field("counts", Schema::object({Field("items", Schema::uint()), Field("warnings", Schema::uint()),
                                      Field("errors", Schema::uint()), Field("skipped", Schema::uint()),
                                      Field("byResource", Schema::map(Schema::uint()))})),
      Field("archive", Schema::object({Field("key", line()), Field("compression", line()),
                                       Field("encrypted", Schema::boolean()), Field("bytes", Schema::uint()),
                                       Field("sha256", Schema::string(json::check_sha256_hex))})),
      Field("errors", strings()),
      Field("warnings", strings()),
      Field("encryption", Schema::object({Field("version", Schema::integer(), json::required),
                                          Field("dataKeyId", line())})),
      Field("sealed", Schema::string()),
      Field("labels", Schema::map(line())),
      Field("volumeOptions", Schema::object({Field("snapshotVolumes", Schema::boolean().or_null()),
                                             Field("defaultVolumesToFsBackup", Schema::boolean()),
                                             Field("snapshotMoveData", Schema::boolean())})),
      Field("volumes", Schema::array(volume())),
  };
}

}  // namespace

const Schema& marker_schema() {
  static const Schema s = Schema::object(marker_fields());
  return s;
}

const Schema& manifest_item_schema() {
  static const Schema s = Schema::object({Field("group", line(), json::required),
                                          Field("version", line(), json::required),
                                          Field("resource", Schema::string(check_name), json::required),
                                          Field("kind", line()), Field("namespace", line(), json::required),
                                          Field("name", Schema::string(check_name), json::required),
                                          Field("sha256", Schema::string(check_item_sha256), json::required),
                                          Field("size", Schema::uint()), Field("related", Schema::boolean())});
  return s;
}

const Schema& manifest_schema() {
  static const Schema s = [] {
    auto fields = marker_fields();
    fields.emplace_back("items", Schema::array(manifest_item_schema()), json::required);
    return Schema::object(std::move(fields));
  }();
  return s;
}

const Schema& results_schema() {
  static const Schema s = Schema::object(
      {Field("apiVersion", line()), Field("kind", line()),
       Field("counts", Schema::object({Field("ok", Schema::uint()), Field("skipped", Schema::uint()),
                                       Field("warning", Schema::uint()), Field("failed", Schema::uint())})),
       Field("entries", Schema::array(Schema::object(
                            {Field("outcome", line()), Field("reason", line()), Field("scope", line()),
                             Field("resource", line()), Field("group", line()), Field("namespace", line()),
                             Field("name", line()), Field("httpStatus", Schema::integer()),
                             Field("message", Schema::string())})))});
  return s;
}

const Schema& velero_backup_schema() {
  static const Schema s = Schema::object(
      {Field("kind", line()), Field("apiVersion", line()),
       Field("metadata", Schema::object({Field("name", line()), Field("namespace", line()), Field("uid", line()),
                                         Field("creationTimestamp", time()),
                                         Field("labels", Schema::map(Schema::string())),
                                         Field("annotations", Schema::map(Schema::string()))})),
       Field("spec", Schema::object({Field("includedNamespaces", strings()), Field("excludedNamespaces", strings()),
                                     Field("includedResources", strings()), Field("excludedResources", strings()),
                                     Field("includeClusterResources", Schema::boolean().or_null()),
                                     Field("ttl", line()), Field("storageLocation", line())})),
       Field("status", Schema::object({Field("version", Schema::integer()), Field("formatVersion", line()),
                                       Field("phase", line()), Field("expiration", time()),
                                       Field("startTimestamp", time()), Field("completionTimestamp", time()),
                                       Field("progress", Schema::object({Field("totalItems", Schema::uint()),
                                                                         Field("itemsBackedUp", Schema::uint())})),
                                       Field("warnings", Schema::uint()), Field("errors", Schema::uint())}))});
  return s;
}

const Schema& lock_schema() {
  static const Schema s = Schema::object({Field("apiVersion", line()), Field("kind", line()), Field("name", line()),
                                          Field("host", line()), Field("pid", Schema::integer()),
                                          Field("startTimestamp", time())});
  return s;
}

const Schema& resource_list_schema() {
  static const Schema s = Schema::map(Schema::array(line()));
  return s;
}

const Schema& velero_results_schema() {
  static const Schema result =
      Schema::object({Field("velero", Schema::array(Schema::string())), Field("cluster", Schema::array(Schema::string())),
                      Field("namespaces", Schema::map(Schema::array(Schema::string())))});
  static const Schema s = Schema::object({Field("errors", result), Field("warnings", result)});
  return s;
}

const Schema& restore_record_schema() {
  static const Schema s = Schema::object(
      {Field("apiVersion", line()), Field("kind", line()), Field("name", line()), Field("backup", line()),
       Field("mode", line()), Field("dryRun", Schema::boolean()), Field("phase", line()),
       Field("started", time()), Field("completed", time()),  // the names of records before docs/output.md
       Field("startTimestamp", time()), Field("completionTimestamp", time()),
       Field("durationSeconds", Schema::number()),
       Field("spec", Schema::object({Field("backupName", line()), Field("includedNamespaces", strings()),
                                     Field("excludedNamespaces", strings()), Field("includedResources", strings()),
                                     Field("excludedResources", strings()), Field("includeNames", strings()),
                                     Field("excludeNames", strings()), Field("labelSelector", line()),
                                     Field("orLabelSelectors", strings()),
                                     Field("includeClusterResources", Schema::boolean().or_null()),
                                     Field("namespaceMapping", Schema::map(line())),
                                     Field("storageClassMapping", Schema::map(line())),
                                     Field("ingressClassMapping", Schema::map(line())),
                                     Field("imageMappings", strings()),
                                     Field("resourceModifiers",
                                           Schema::array(Schema::object({Field("file", line()),
                                                                         Field("sha256", line())}))),
                                     Field("applications", strings()),
                                     Field("applicationFiles",
                                           Schema::array(Schema::object({Field("file", line()),
                                                                         Field("sha256", line())}))),
                                     Field("hooksFiles",
                                           Schema::array(Schema::object({Field("file", line()),
                                                                         Field("sha256", line())}))),
                                     Field("existingResourcePolicy", line()), Field("restoreStatus", Schema::boolean()),
                                     Field("preserveNodePorts", Schema::boolean()),
                                     Field("restoreLabels", Schema::boolean()),
                                     Field("dryRun", line()),  // "", "client" or "server" (the record's dryRun is the boolean)
                                     Field("toDir", line())})),
       Field("target", Schema::object({Field("server", line()), Field("kubeSystemUID", line()),
                                       Field("serverVersion", line())})),
       Field("counts", Schema::map(Schema::uint())), Field("reasons", Schema::map(Schema::uint())),
       Field("warnings", Schema::array(Schema::string())), Field("volumes", Schema::array(volume())),
       Field("rollback", Schema::object({Field("version", Schema::uint()), Field("object", line()),
                                         Field("encrypted", Schema::boolean()), Field("items", Schema::uint())})),
       // Restore hooks (docs/hooks.md section 5 and 6): the counts and a record per pod.
       Field("hooks", Schema::object({Field("attempted", Schema::uint()), Field("failed", Schema::uint()),
                                      Field("pods", Schema::array(Schema::object(
                                                        {Field("pod", line()),
                                                         Field("hooks", Schema::array(Schema::object(
                                                                            {Field("phase", line()), Field("name", line()),
                                                                             Field("container", line()),
                                                                             Field("command", Schema::array(Schema::string())),
                                                                             Field("outcome", line()),
                                                                             Field("exitCode", Schema::integer().or_null()),
                                                                             Field("output", Schema::string()),
                                                                             Field("message", Schema::string())})))})))}))});
  return s;
}

std::string item_identity_problem(const json::Value& object, const ItemKey& key, std::string_view version_dir) {
  const std::string api_version = json::get_string(object, {"apiVersion"});
  const std::string kind = json::get_string(object, {"kind"});
  if (api_version.empty()) return "the object has no apiVersion";
  if (kind.empty()) return "the object has no kind";
  const auto slash = api_version.find('/');
  const std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  const std::string version = slash == std::string::npos ? api_version : api_version.substr(slash + 1);
  if (group != key.group)
    return "its apiVersion \"" + util::printable(api_version, 128) + "\" is not of the group its path names (\"" +
           key.group + "\")";
  if (!version_dir.empty() && version != key.version)
    return "its apiVersion \"" + util::printable(api_version, 128) + "\" is not the version its path names (\"" +
           key.version + "\")";
  const json::Value* name = json::at(object, {"metadata", "name"});
  if (!name || !name->IsString() || std::string_view(name->GetString(), name->GetStringLength()) != key.name)
    return "its metadata.name differs from the name its path gives (\"" + key.name + "\")";
  const json::Value* ns = json::at(object, {"metadata", "namespace"});
  std::string_view ns_text = ns && ns->IsString() ? std::string_view(ns->GetString(), ns->GetStringLength()) : "";
  if (ns && !ns->IsString() && !ns->IsNull()) return "its metadata.namespace is not a string";
  if (ns_text != key.namespace_)
    return key.namespace_.empty() ? "a cluster-scoped path, but the object names namespace \"" +
                                        util::printable(ns_text, 128) + "\""
                                  : "its metadata.namespace differs from the namespace its path gives (\"" +
                                        key.namespace_ + "\")";
  return "";
}

}  // namespace kbk::archive
