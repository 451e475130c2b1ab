// The backup engine. The walk (app/walk.hpp) goes through the cluster (main pass: parallel paged LISTs; then
// related objects, ServiceAccount bindings, CRDs of custom resources, Namespace objects) with the flags or the
// applications as its scope, and hands every selected object to a BackupSink: the archive writer for a backup, a
// recorder for --explain. run() wraps it in the location's
// finalization order: lock, tarball, velero-backup.json, resource list, results, logs, marker.
#include <kbk/backup/backup.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <unistd.h>
#include <unordered_set>

#include <kbk/archive/archive.hpp>
#include <kbk/archive/encryption.hpp>
#include <kbk/app/scope.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/backup/scope.hpp>
#include <kbk/backup/selection.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

#include <kbk/volume/backup.hpp>

#include "hooks.hpp"
#include "record.hpp"
#include "volumes.hpp"

namespace kbk::backup {

namespace {

// Where the walk's objects go.
class ItemSink {
public:
  virtual ~ItemSink() = default;
  // Returns the item's SHA-256 (hex).
  virtual Result<std::string> write(const archive::ItemKey& key, std::string_view json) = 0;
  virtual uint64_t bytes() const { return 0; }
};

class ArchiveSink final : public ItemSink {
public:
  explicit ArchiveSink(archive::ArchiveWriter& w) : m_writer(w) {}
  Result<std::string> write(const archive::ItemKey& key, std::string_view json) override {
    return m_writer.add_item(key, json, true);  // kbk reads every type at its preferred version
  }
  uint64_t bytes() const override { return m_writer.bytes_written(); }

private:
  archive::ArchiveWriter& m_writer;
};

class NullSink final : public ItemSink {
public:
  Result<std::string> write(const archive::ItemKey&, std::string_view) override { return std::string(); }
};

// The object's JSON with apiVersion and kind first when the LIST left them out.
std::string serialize(const kube::ResourceType& rt, const json::Value& obj) {
  std::string body = json::to_string(obj);
  const bool has_api = json::find(obj, "apiVersion") != nullptr;
  const bool has_kind = json::find(obj, "kind") != nullptr;
  if (has_api && has_kind) return body;
  std::string prefix = "{";
  if (!has_api) prefix += "\"apiVersion\":\"" + rt.api_version() + "\"";
  if (!has_kind) prefix += std::string(has_api ? "" : ",") + "\"kind\":\"" + rt.kind + "\"";
  if (body.size() > 2) prefix += ",";
  return prefix + body.substr(1);
}

std::string new_uid() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd());
  unsigned char b[16];
  for (auto& c : b) c = static_cast<unsigned char>(rng());
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  std::string h = util::hex_encode(b, 16);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

// The walk's sink for a backup: writes each object to the archive and keeps the run's record, counts and log.
class BackupSink final : public app::Sink {
public:
  BackupSink(ItemSink& items, util::ProgressSink& progress, RunRecord& record, std::vector<std::string>& log)
      : m_items(items), m_progress(progress), m_record(record), m_log(log) {}
  void set_hooks(BackupHooks* hooks) { m_hooks = hooks; }

  Result<void> take(const kube::ResourceType& rt, const json::Value& obj, const app::Reason& why) override {
    const std::string ns = rt.namespaced ? json::get_string(obj, {"metadata", "namespace"}) : "";
    const std::string name = json::get_string(obj, {"metadata", "name"});
    std::string body = serialize(rt, obj);
    archive::ItemKey ik{rt.group, rt.version, rt.resource, ns, name};
    KBK_ASSIGN_OR_RETURN(std::string sum, m_items.write(ik, body));
    m_volumes.observe(rt.group, rt.resource, obj);
    if (m_hooks && rt.group.empty() && rt.resource == "pods") m_hooks->observe(obj);
    std::lock_guard lock(m_mu);
    ItemRecord rec;
    rec.type = type_index(rt);
    rec.ns = ns;
    rec.name = name;
    if (auto raw = util::hex_decode(sum); raw && raw->size() == rec.sha256.size())
      std::copy(raw->begin(), raw->end(), rec.sha256.begin());
    rec.size = static_cast<uint32_t>(body.size());
    rec.related = why.how == app::How::followed;
    KBK_TRY(m_record.items.add(rec));
    ++m_record.summary.by_resource[rt.group_resource()];
    return {};
  }

  void outcome(const Outcome& o) override {
    std::string line = o.line();
    if (o.outcome == "failed") note(log::Level::error, line);
    else if (o.outcome == "warning") note(log::Level::warning, line);
    else log::info(2, line);
    std::lock_guard lock(m_mu);
    Summary& s = m_record.summary;
    if (o.outcome == "failed") {
      ++s.errors;
      s.error_lines.push_back(line);
    } else if (o.outcome == "warning") {
      ++s.warnings;
      s.warning_lines.push_back(line);
    } else {
      ++s.skipped;
    }
    s.outcomes.push_back(o);
  }

  void note(log::Level level, const std::string& line) override {
    if (level == log::Level::info) log::info(1, line);
    else log::write(level, line);
    std::lock_guard lock(m_mu);
    m_log.push_back(log::format_line(level, line));
  }

  // Every claim, unclaimed volume and data-holding pod volume of the objects written, with what came of its data.
  std::vector<VolumeRecord> volumes(const std::vector<volume::VolumeResult>& results, bool volume_data) const {
    return m_volumes.records(results, volume_data);
  }

  void progress(const std::string& current) override { report(current, false); }
  // The last progress report, once the archive is stored: its bytes are then the stored size.
  void finish_progress() { report("", true); }

  // The volumes the written objects name (claims with their pods, data-holding pod volumes).
  std::vector<volume::VolumeRef> volume_refs() const { return m_volumes.refs(); }

  // The volumes' outcomes: a failed volume fails the backup (PartiallyFailed) with its reason; a volume that was
  // to be taken and could not be (no snapshot class for a snapshot policy, a custom action) is a warning.
  void record_volume_outcomes(const std::vector<volume::VolumeResult>& results) {
    for (const auto& r : results) {
      const bool claim = r.ref.kind == volume::VolumeRef::Kind::claim;
      const std::string name = claim ? r.ref.claim : r.ref.pod + "/" + r.ref.pod_volume;
      if (r.outcome == volume::VolumeResult::Outcome::failed)
        outcome({"failed", "VolumeDataFailed", "volume", "", claim ? "persistentvolumeclaims" : "pods", r.ref.namespace_,
                 name, 0, std::string(volume::path_name(r.decision.path)) + ": " + r.message});
      else if (r.outcome == volume::VolumeResult::Outcome::skipped && r.decision.warning)
        outcome({"warning", volume::reason_code(r), "volume", "", claim ? "persistentvolumeclaims" : "pods",
                 r.ref.namespace_, name, 0, r.decision.reason});
    }
  }

private:
  void report(const std::string& current, bool finish) {
    util::ProgressState st;
    st.phase = "backup";
    {
      std::lock_guard lock(m_mu);
      st.items_done = m_record.items.size();
      st.warnings = m_record.summary.warnings;
      st.errors = m_record.summary.errors;
    }
    st.current = current;
    st.bytes_done = m_items.bytes();
    if (finish) m_progress.finish(st);
    else m_progress.update(st);
  }

  uint32_t type_index(const kube::ResourceType& rt) {
    // under m_mu
    std::string gr = rt.group_resource();
    auto it = m_type_index.find(gr);
    if (it != m_type_index.end()) return it->second;
    uint32_t idx = static_cast<uint32_t>(m_record.types.size());
    m_record.types.push_back({rt.group, rt.version, rt.resource, rt.kind});
    m_type_index.emplace(gr, idx);
    return idx;
  }

  ItemSink& m_items;
  BackupHooks* m_hooks = nullptr;
  util::ProgressSink& m_progress;
  RunRecord& m_record;
  std::vector<std::string>& m_log;  // the run's log lines (uploaded as <name>-logs.gz)
  VolumeTracker m_volumes;
  std::mutex m_mu;
  std::map<std::string, uint32_t> m_type_index;
};

app::WalkOptions walk_options(const Options& o) {
  app::WalkOptions wo;
  wo.parallel = o.parallel;
  wo.page_size = o.page_size;
  return wo;
}

void cluster_identity(kube::Client& client, const kube::Discovery& discovery, RunRecord& rec) {
  if (auto v = client.request("GET", "/version")) {
    rec.git_version = json::get_string(*v, {"gitVersion"});
    rec.major = json::get_string(*v, {"major"});
    rec.minor = json::get_string(*v, {"minor"});
    rec.platform = json::get_string(*v, {"platform"});
  }
  if (const kube::ResourceType* ns = discovery.find("", "namespaces"))
    if (auto d = client.get(*ns, "", "kube-system")) rec.kube_system_uid = json::get_string(*d, {"metadata", "uid"});
}

std::string lock_json(const std::string& name, const std::string& started) {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  d.AddMember("apiVersion", json::make_string(archive::k_kbk_api_version, a), a);
  d.AddMember("kind", "BackupLock", a);
  d.AddMember("name", json::make_string(name, a), a);
  d.AddMember("host", json::make_string(host, a), a);
  d.AddMember("pid", static_cast<int64_t>(::getpid()), a);
  d.AddMember("startTimestamp", json::make_string(started, a), a);
  return json::to_pretty(d) + "\n";
}

// A selection that matches nothing is most likely a typo: each --include-namespaces entry that names no namespace
// of the cluster is a warning of the backup (it still completes, exit 0), and so is an empty backup.
void selection_warnings(kube::Client& client, const kube::Discovery& discovery, const Options& options,
                        const RunRecord& rec, app::Sink& sink) {
  const kube::ResourceType* ns_rt = discovery.find("", "namespaces");
  std::vector<std::string> existing;
  bool known = false;
  if (ns_rt && !options.include_namespaces.empty()) {
    kube::ListOptions lo;
    lo.limit = options.page_size;
    known = client.list(*ns_rt, "", lo, [&](kube::ListPage& page) -> Result<void> {
                    if (const json::Value* items = json::find(page.list, "items"); items && items->IsArray())
                      for (const auto& it : items->GetArray()) existing.push_back(json::get_string(it, {"metadata", "name"}));
                    return {};
                  }).ok();
  }
  if (known) {
    for (const auto& pattern : options.include_namespaces) {
      if (pattern == "*") continue;
      if (std::any_of(existing.begin(), existing.end(), [&](const std::string& ns) { return util::glob_match(pattern, ns); }))
        continue;
      const bool glob = pattern.find_first_of("*?[") != std::string::npos;
      sink.outcome({"warning", "NoMatch", "selection", "", "", "", "", 0,
                    glob ? "--include-namespaces " + pattern + " matches no namespace of the cluster"
                         : "namespace " + pattern + " does not exist (--include-namespaces)"});
    }
  }
  if (rec.items.empty() && rec.summary.errors == 0)
    sink.outcome({"warning", "NoMatch", "selection", "", "", "", "", 0, "the selection matched no object: the backup is empty"});
}

}  // namespace

Result<Summary> run(kube::Client& client, const kube::Discovery& discovery, storage::Backend& backend,
                    const Options& options, const RunContext& context) {
  if (!archive::valid_backup_name(options.name))
    return unexpected(Errc::config, "backup name \"" + options.name +
                                        "\": use lower-case letters, digits, '-' and '.' (a DNS subdomain name)");
  KBK_ASSIGN_OR_RETURN(RunScope scope, make_run_scope(options, discovery));
  const util::Clock& clock = context.clock ? *context.clock : util::system_clock();
  util::ProgressSink& progress = context.progress ? *context.progress : util::null_progress();
  archive::BackupPaths paths{options.name};

  // Refuse an existing name before touching anything, then take the name with an exclusive lock object.
  for (const auto& key : {paths.marker(), paths.velero_backup(), paths.lock()}) {
    KBK_ASSIGN_OR_RETURN(auto st, backend.stat(key));
    if (st)
      return unexpected(Errc::precondition, "backup " + options.name + " already exists in " + backend.display_url() +
                                                (key == paths.lock() ? " (or is being written; an interrupted one is "
                                                                       "removed with kbk backup delete " +
                                                                           options.name + ")"
                                                                     : ""));
  }
  // The volume data phase checks the location's repository (and its key) before anything is written.
  std::unique_ptr<volume::VolumeBackup> volumes;
  std::vector<std::string> volume_log;
  std::mutex volume_log_mutex;
  BackupSink* active_sink = nullptr;
  // The hooks file is read first: a broken one stops the backup before anything is done (docs/hooks.md).
  std::shared_ptr<const hooks::HooksFile> hooks_file;
  {
    hooks::HooksFile all;
    if (!options.hooks_file.empty()) {
      auto f = hooks::load_file(options.hooks_file);
      if (!f) return std::move(f).error();
      all = std::move(*f);
    }
    if (options.applications) KBK_TRY(hooks::add_template_hooks(options.applications->hooks, all));
    if (!all.backup.empty()) hooks_file = std::make_shared<const hooks::HooksFile>(std::move(all));
  }
  auto backup_hooks = std::make_shared<BackupHooks>(client, hooks_file, [&](log::Level level, const std::string& line) {
    if (active_sink) return active_sink->note(level, line);
    log::write(level, line);
    std::lock_guard lock(volume_log_mutex);
    volume_log.push_back(log::format_line(level, line));
  });
  if (options.volume_data) {
    volume::VolumeBackupOptions vo;
    vo.backup_name = options.name;
    vo.settings = options.volumes;
    if (!vo.settings.policies && options.applications && options.applications->volume_policy) {
      // The applications' volume policy is the backup's unless --resource-policies names one.
      const auto& vp = *options.applications->volume_policy;
      auto set = volume::PolicySet::parse(vp.text, vp.origin);
      if (!set) return std::move(set).error().wrap("application volume policy at " + vp.where);
      vo.settings.policies = std::make_shared<const volume::PolicySet>(std::move(*set));
    }
    vo.key = context.encryption_key;
    vo.progress = context.progress;
    vo.windows = backup_hooks;
    vo.make_path = context.volume_paths;
    vo.log = [&](const std::string& line) {
      if (active_sink) return active_sink->note(log::Level::info, line);
      log::info(1, line);
      std::lock_guard lock(volume_log_mutex);
      volume_log.push_back(log::format_line(log::Level::info, line));
    };
    KBK_ASSIGN_OR_RETURN(volumes, volume::VolumeBackup::start(client, backend, std::move(vo)));
  }
  const auto start = clock.now();
  RunRecord rec;
  rec.name = options.name;
  rec.uid = new_uid();
  rec.tool_version = context.tool_version;
  rec.server = context.server;
  rec.cluster_name = context.cluster_name;
  rec.options = options;
  rec.groups = discovery.groups();
  rec.archive_key = paths.tarball();
  rec.summary.name = options.name;
  rec.summary.labels = options.labels;
  rec.summary.location = backend.display_url();
  rec.summary.started = util::format_rfc3339(start);
  rec.summary.expiration = util::format_rfc3339(start + options.ttl);
  storage::PutOptions once;
  once.if_exists = storage::IfExists::fail;
  once.content_type = "application/json";
  if (auto r = backend.put(paths.lock(), lock_json(options.name, rec.summary.started), once); !r) {
    if (r.error().is(Errc::already_exists))
      return unexpected(Errc::precondition, "backup " + options.name + " is being written by another kbk");
    return std::move(r).error().wrap("backup " + options.name);
  }
  cluster_identity(client, discovery, rec);
  rec.summary.cluster_name = rec.cluster_name;
  rec.summary.kube_system_uid = rec.kube_system_uid;

  // From here on the run has a log; it is uploaded even when the run fails (the marker never is). Its lines are
  // stamped with the time and level (log::format_line), as --log-file's.
  std::vector<std::string> run_log;
  for (const auto& note : context.log_notes) run_log.push_back(log::format_line(log::Level::info, note));
  std::optional<archive::NewBackupKey> key;
  bool key_stored = false;
  const archive::Encrypted enc = context.encryption_key ? archive::Encrypted::yes : archive::Encrypted::no;
  storage::PutOptions gz_put;
  gz_put.content_type = "application/gzip";
  auto put = [&](const std::string& obj, const std::string& data, const storage::PutOptions& po) -> Result<void> {
    if (auto r = backend.put(obj, data, po); !r) return std::move(r).error().wrap("backup " + options.name);
    return {};
  };
  // gzip, and encrypted with the backup's data key when it has one.
  auto seal = [&](std::string_view text) {
    std::string gz = archive::gzip(text);
    return key ? crypto::encrypt(key->data_key, gz) : gz;
  };
  auto upload_log = [&]() -> Result<void> {
    std::string log_text;
    for (const auto& l : run_log) log_text += log::redact(l);  // each line ends with its newline
    return put(paths.logs(enc), seal(log_text), gz_put);
  };

  auto body = [&]() -> Result<void> {
    if (context.encryption_key) {
      KBK_ASSIGN_OR_RETURN(key, archive::new_backup_key(*context.encryption_key));
      if (auto r = backend.put(paths.key_object(key->object.key_id), key->object.json, once); !r)
        return std::move(r).error().wrap("backup " + options.name + ": writing the key object");
      key_stored = true;
      rec.encrypted = true;
      rec.archive_key = paths.encrypted_archive();
      const std::string line = "backup " + options.name +
                               " is encrypted (data key " + key->data_key.data_key_id() +
                               "): no velero-backup.json is written, Velero cannot read encrypted backups";
      log::info(0, line);
      run_log.push_back(log::format_line(log::Level::info, line));
    }
    KBK_ASSIGN_OR_RETURN(auto stored, backend.put_stream(rec.archive_key, {}));
    archive::EncryptingWriter* encrypting = nullptr;
    if (key) {
      auto w = std::make_unique<archive::EncryptingWriter>(std::move(stored), key->data_key);
      encrypting = w.get();
      stored = std::move(w);
    }
    archive::WriterOptions wo;
    wo.mtime = start;
    KBK_ASSIGN_OR_RETURN(auto writer, archive::make_writer(std::move(stored), wo));
    ArchiveSink item_sink(*writer);
    BackupSink sink(item_sink, progress, rec, run_log);
    sink.set_hooks(backup_hooks.get());
    sink.note(log::Level::info, "backup " + options.name + ": collecting" +
                                    (options.applications ? " application " + options.applications->display_name() : ""));
    if (auto r = app::walk(client, discovery, *scope.scope, sink, walk_options(options)); !r)
      return std::move(r).error().wrap("backup " + options.name);
    selection_warnings(client, discovery, options, rec, sink);
    std::vector<volume::VolumeResult> volume_results;
    if (volumes) {
      {
        std::lock_guard lock(volume_log_mutex);
        for (const auto& l : volume_log) run_log.push_back(l);
        active_sink = &sink;
      }
      volume_results = volumes->run(sink.volume_refs());
      sink.record_volume_outcomes(volume_results);
      active_sink = nullptr;
      if (volume::interrupted()) return unexpected(Errc::cancelled, "backup " + options.name + " interrupted");
    }
    if (backup_hooks->any()) {
      active_sink = &sink;
      backup_hooks->run_unused();  // pods with hooks and no volume taken: pre, then post, as Velero
      active_sink = nullptr;
      for (const auto& l : backup_hooks->error_lines())
        sink.outcome({"failed", "HookFailed", "hook", "", "pods", "", "", 0, l});
      for (const auto& l : backup_hooks->warning_lines())
        sink.outcome({"warning", "HookFailed", "hook", "", "pods", "", "", 0, l});
      rec.summary.hooks = std::make_shared<const json::Document>(backup_hooks->to_json());
    }
    rec.summary.volumes = sink.volumes(volume_results, options.volume_data);

    Summary& s = rec.summary;
    s.items = rec.items.size();
    rec.ok = s.items;
    s.phase = s.errors > 0 ? "PartiallyFailed" : "Completed";
    const auto end = clock.now();
    s.completed = util::format_rfc3339(end);
    s.duration_seconds = std::chrono::duration<double>(end - start).count();
    s.encrypted = rec.encrypted;
    if (auto it = s.by_resource.find("secrets"); it != s.by_resource.end() && it->second > 0 && !rec.encrypted) {
      // Said once, not counted as a warning of the backup: the backup itself is fine.
      const std::string line = "backup " + options.name + " holds " + std::to_string(it->second) +
                               (it->second == 1 ? " Secret" : " Secrets") +
                               " in plain text; pass --encryption-key-file to encrypt backups";
      log::warning(line);
      run_log.push_back(log::format_line(log::Level::warning, line));
    }
    // Every volume in the log: how its data was taken, or why it is not in the backup.
    for (const auto& v : s.volumes)
      run_log.push_back(log::format_line(log::Level::info, v.data ? "volume " + volume::describe(*v.data)
                                                                  : "volume data not included: " + v.display() +
                                                                        " (" + v.message + ")"));
    run_log.push_back(log::format_line(log::Level::info, "backup " + options.name + ": " + s.phase + ", " +
                                                             std::to_string(s.items) + " items, " +
                                                             std::to_string(s.warnings) + " warnings, " +
                                                             std::to_string(s.errors) + " errors"));

    KBK_TRY(writer->add_file("kbk/results.json", results_json(rec)));
    KBK_TRY(add_manifest(*writer, rec));
    if (auto r = writer->finish(); !r) return std::move(r).error().wrap("backup " + options.name + ": writing the archive");
    sink.finish_progress();
    rec.archive_bytes = writer->bytes_written();
    rec.archive_sha256 = encrypting ? encrypting->stored_sha256() : writer->stream_sha256();
    s.bytes = rec.archive_bytes;

    storage::PutOptions json_put;
    json_put.content_type = "application/json";
    if (!key) KBK_TRY(put(paths.velero_backup(), velero_backup_json(rec), json_put));
    KBK_ASSIGN_OR_RETURN(std::string resource_list, resource_list_gz(rec));
    KBK_TRY(put(paths.resource_list(enc), key ? crypto::encrypt(key->data_key, resource_list) : resource_list, gz_put));
    KBK_TRY(put(paths.results(enc), seal(velero_results_json(rec)), gz_put));
    KBK_TRY(upload_log());
    // Last: the marker. Its presence is what makes the backup complete.
    KBK_ASSIGN_OR_RETURN(std::string marker, manifest_json(rec, WithItems::no));
    if (key) {
      KBK_ASSIGN_OR_RETURN(marker, archive::seal_marker(marker, key->data_key));
    }
    KBK_TRY(put(paths.marker(), marker, json_put));
    return {};
  };

  if (auto r = body(); !r) {
    // The log says why; without the marker the backup stays Incomplete. An encrypted backup whose key object
    // could not be written has no readable place for a log: it stays local (stderr, --log-file).
    run_log.push_back(log::format_line(log::Level::error, "backup " + options.name + " failed: " + r.error().message));
    if (!key || key_stored) {
      if (auto up = backend.stat(paths.logs(enc)); up && !*up) {
        if (auto u = upload_log(); !u)
          log::warning("backup " + options.name + ": the log could not be written: " + u.error().message);
      }
    }
    return std::move(r).error();
  }
  return std::move(rec.summary);
}

Result<std::vector<std::string>> explain(kube::Client& client, const kube::Discovery& discovery, const Options& options,
                                         const std::string& target) {
  KBK_ASSIGN_OR_RETURN(RunScope scope, make_run_scope(options, discovery));
  const Selection& selection = *scope.selection;
  auto parts = util::split(target, '/', false);
  if (parts.size() < 2 || parts.size() > 3)
    return unexpected(Errc::config, "--explain " + target + ": expected resource/namespace/name or resource/name");
  auto rt = discovery.resolve(parts[0]);
  if (!rt) return unexpected(Errc::config, "--explain " + target + ": " + rt.error().message);
  const kube::ResourceType* pref = discovery.find(rt->group, rt->resource);
  if (pref) rt = *pref;
  if (rt->namespaced != (parts.size() == 3))
    return unexpected(Errc::config, "--explain " + target + ": " + rt->group_resource() + " is " +
                                        (rt->namespaced ? "namespaced: use resource/namespace/name"
                                                        : "cluster-scoped: use resource/name"));
  const std::string ns = parts.size() == 3 ? parts[1] : "";
  const std::string name = parts.back();
  std::vector<std::string> lines;
  const std::string what = rt->group_resource() + "/" + (ns.empty() ? "" : ns + "/") + name;

  // The static checks, on the live object.
  std::vector<std::string> checks;
  auto obj = client.get(*rt, ns, name);
  if (!obj) checks.push_back("object: " + obj.error().message);
  checks.push_back("type " + rt->group_resource() + ": " + scope.scope->type(*rt).reason);
  if (!ns.empty()) checks.push_back("namespace: " + scope.scope->namespace_(ns).reason);
  if (!options.applications)
    if (auto d = selection.names(*rt, ns, name); !d.reason.empty()) checks.push_back("names: " + d.reason);
  if (obj) {
    if (!options.applications)
      if (auto d = selection.labels(*obj); !d.reason.empty()) checks.push_back("labels: " + d.reason);
    if (json::at(*obj, {"metadata", "deletionTimestamp"})) checks.push_back("being deleted (deletionTimestamp set)");
  }

  // The dry run tells whether it ends up in the backup, and how.
  RunRecord rec;
  rec.options = options;
  NullSink items;
  std::vector<std::string> log_lines;
  BackupSink sink(items, util::null_progress(), rec, log_lines);
  std::vector<std::string> events;
  app::WalkOptions wo = walk_options(options);
  wo.trace_key = app::item_key(rt->group_resource(), ns, name);
  wo.trace = &events;
  KBK_TRY(app::walk(client, discovery, *scope.scope, sink, wo));
  bool in = false;
  for (const auto& e : events)
    if (util::starts_with(e, "taken")) in = true;
  lines.push_back(what + ": " + (in ? "INCLUDED" : "NOT INCLUDED"));
  for (const auto& c : checks) lines.push_back("  " + c);
  for (const auto& e : events)
    if (!util::starts_with(e, "type ")) lines.push_back("  " + e);
  if (!in && options.with_related == WithRelated::yes)
    lines.push_back("  no backed-up object references it (related objects follow PVC, pod and workload references, "
                    "service accounts, bindings, ingresses and custom resources)");
  return lines;
}

}  // namespace kbk::backup
