// The volume part of a restore (restore.hpp).
#include <kbk/volume/restore.hpp>
#include <kbk/volume/kbk_mover.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kbk/crypto/hash.hpp>
#include <kbk/repo/operations.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::volume {

Result<std::vector<VolumeResult>> volumes_of_manifest(const json::Value& manifest) {
  std::vector<VolumeResult> out;
  const json::Value* vols = json::find(manifest, "volumes");
  if (!vols || !vols->IsArray()) return out;
  size_t i = 0;
  for (const auto& v : vols->GetArray()) {
    VolumeResult r;
    const std::string kind = json::get_string(v, {"kind"});
    r.ref.namespace_ = json::get_string(v, {"namespace"});
    if (kind == "PodVolume") {
      r.ref.kind = VolumeRef::Kind::pod_volume;
      r.ref.pod = json::get_string(v, {"pod"});
      r.ref.pod_volume = json::get_string(v, {"podVolume"});
    } else if (kind == "PersistentVolumeClaim") {
      r.ref.kind = VolumeRef::Kind::claim;
      r.ref.claim = json::get_string(v, {"claim"});
    } else {
      ++i;
      continue;  // a PersistentVolume without its claim: nothing a restore fills
    }
    if (const json::Value* pods = json::find(v, "pods"); pods && pods->IsArray())
      for (const auto& p : pods->GetArray())
        if (p.IsString()) r.ref.pods.emplace_back(p.GetString(), p.GetStringLength());
    r.storage_class = json::get_string(v, {"storageClass"});
    r.source_type = json::get_string(v, {"source"});
    r.driver = json::get_string(v, {"driver"});
    r.capacity = json::get_string(v, {"capacity"});
    if (auto d = read_data_members(v, r); !d)
      return unexpected(Errc::corrupt, "volumes[" + std::to_string(i) + "] (" + r.ref.display() + "): " +
                                           d.error().message);
    out.push_back(std::move(r));
    ++i;
  }
  return out;
}

std::vector<std::string> RestoreSettings::describe() const {
  std::vector<std::string> out;
  std::string movers = "volume movers: " + std::to_string(volume_workers) + " at once, " +
                       std::to_string(per_node_workers) + " per node, image " + mover.image;
  if (!mover.node_selector.empty()) {
    std::vector<std::string> kv;
    for (const auto& [k, v] : mover.node_selector) kv.push_back(k + "=" + v);
    movers += ", node selector " + util::join(kv, ",");
  }
  if (mover.tolerations.IsArray() && !mover.tolerations.Empty()) movers += ", tolerations " + json::to_string(mover.tolerations);
  if (mover.resources.IsObject()) movers += ", resources " + json::to_string(mover.resources);
  if (!mover.priority_class.empty()) movers += ", priority class " + mover.priority_class;
  out.push_back(movers);
  for (const auto& [k, v] : volume_type_mappings) out.push_back("volume type mapping: " + k + " volumes become claims of class " + v);
  for (const auto& [k, v] : pv_driver_mappings) out.push_back("PV driver mapping: " + k + " -> " + v + " (volumes adopted)");
  return out;
}

Result<std::map<std::string, std::string>> parse_type_mappings(const std::string& text, const std::string& flag) {
  std::map<std::string, std::string> out;
  for (const auto& part : util::split(text, ',')) {
    const std::string entry(util::trim(part));
    if (entry.empty()) continue;
    auto colon = entry.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == entry.size())
      return unexpected(Errc::config, flag + " " + entry + ": expected OLD:NEW");
    const std::string from = entry.substr(0, colon);
    if (out.count(from)) return unexpected(Errc::config, flag + " " + entry + ": " + from + " is mapped twice");
    out[from] = entry.substr(colon + 1);
  }
  return out;
}

const char* outcome_name(VolumeRestoreResult::Outcome o) {
  switch (o) {
    case VolumeRestoreResult::Outcome::restored: return "restored";
    case VolumeRestoreResult::Outcome::failed: return "failed";
    case VolumeRestoreResult::Outcome::skipped: return "skipped";
  }
  return "skipped";
}

json::Value to_json(const VolumeRestoreResult& r, json::Allocator& a) {
  json::Value v(rapidjson::kObjectType);
  auto set = [&](const char* k, const std::string& s) { json::set(v, k, json::make_string(s, a), a); };
  set("kind", "PersistentVolumeClaim");
  set("namespace", r.namespace_);
  set("name", r.claim);
  set("source", r.source);
  set("dataPath", path_name(r.path));
  set("outcome", outcome_name(r.outcome));
  json::set(v, "dataRestored", json::Value(r.data_restored()), a);
  set("reason", r.reason);
  set("message", r.message);
  json::set(v, "bytes", json::Value(r.bytes), a);
  json::set(v, "files", json::Value(r.files), a);
  json::set(v, "streamBytes", json::Value(r.stream_bytes), a);
  json::set(v, "durationSeconds", json::Value(static_cast<double>(static_cast<int64_t>(r.duration_seconds * 1000)) / 1000), a);
  if (!r.node.empty()) set("node", r.node);
  if (!r.mover.empty()) set("mover", r.mover);
  return v;
}

std::string describe(const VolumeRestoreResult& r) {
  std::string s = r.namespace_ + "/" + r.claim + ": ";
  switch (r.outcome) {
    case VolumeRestoreResult::Outcome::restored:
      if (r.path == PathKind::snapshot) s += "from snapshot";
      else s += util::human_bytes(r.bytes) + " in " + std::to_string(r.files) + (r.files == 1 ? " file" : " files");
      s += ", " + util::human_duration(r.duration_seconds);
      break;
    case VolumeRestoreResult::Outcome::skipped: s += "no data restored"; break;
    case VolumeRestoreResult::Outcome::failed: s += "failed"; break;
  }
  if (!r.message.empty()) s += " (" + r.message + ")";
  return s;
}

std::string snapshot_object_name(const std::string& restore, const std::string& ns, const std::string& claim) {
  return "kbk-" + crypto::sha256_hex(restore + "/" + ns + "/" + claim).substr(0, 24);
}

VolumeRestoreResult base_result(const RestoreTarget& t) {
  VolumeRestoreResult r;
  r.namespace_ = t.namespace_;
  r.claim = t.claim;
  r.source = t.record.ref.display();
  r.path = t.record.decision.path;
  return r;
}

namespace {

bool moved_data(const RestoreTarget& t) {
  return t.record.outcome == VolumeResult::Outcome::completed &&
         (t.record.decision.path == PathKind::snapshot_move || t.record.decision.path == PathKind::fs_backup ||
          t.record.decision.path == PathKind::fs_backup_workload);
}

// A claim of a class ("": the default), size and access modes (none: ReadWriteOnce), not yet created.
json::Document claim_object(const std::string& ns, const std::string& name, const std::string& cls,
                            const std::string& size, const std::vector<std::string>& access_modes) {
  json::Document pvc;
  pvc.SetObject();
  auto& a = pvc.GetAllocator();
  json::set(pvc, "apiVersion", json::make_string("v1", a), a);
  json::set(pvc, "kind", json::make_string("PersistentVolumeClaim", a), a);
  json::Value& md = json::ensure_object(pvc, "metadata", a);
  json::set(md, "name", json::make_string(name, a), a);
  json::set(md, "namespace", json::make_string(ns, a), a);
  json::Value& spec = json::ensure_object(pvc, "spec", a);
  json::Value modes(rapidjson::kArrayType);
  for (const auto& m : access_modes) modes.PushBack(json::make_string(m, a), a);
  if (modes.Empty()) modes.PushBack(json::make_string("ReadWriteOnce", a), a);
  json::set(spec, "accessModes", std::move(modes), a);
  if (!cls.empty()) json::set(spec, "storageClassName", json::make_string(cls, a), a);
  json::set(json::ensure_object(json::ensure_object(spec, "resources", a), "requests", a), "storage",
            json::make_string(size, a), a);
  return pvc;
}

}  // namespace

Result<ExtractResult> extract_volume(storage::Backend& backend, const crypto::UserKey* key,
                                     const std::vector<VolumeResult>& records, const std::string& which,
                                     const std::string& target, util::ProgressSink* progress) {
  const VolumeResult* found = nullptr;
  std::vector<std::string> names;
  for (const auto& r : records) {
    names.push_back(r.ref.display());
    if (r.ref.display() == which) found = &r;
  }
  if (!found)
    return unexpected(Errc::not_found, "volume " + which + " is not in the backup" +
                                           (names.empty() ? " (it names no volume)" : " (it has " + util::join(names, ", ") + ")"));
  if (found->outcome != VolumeResult::Outcome::completed || found->repository_snapshot.empty())
    return unexpected(Errc::precondition,
                      "volume " + which + ": the backup holds no data of it in the repository (" +
                          (found->decision.path == PathKind::snapshot ? "a CSI snapshot handle only: restore it into a cluster"
                                                                      : reason_code(*found) + (found->message.empty() ? "" : ": " + found->message)) +
                          ")");
  repo::OpenOptions oo;
  oo.key = key;
  KBK_ASSIGN_OR_RETURN(auto repo, repo::Repository::open(backend, oo));
  KBK_ASSIGN_OR_RETURN(auto lock, repo::Lock::acquire(backend, false));
  KBK_TRY(repo->load_index());
  KBK_ASSIGN_OR_RETURN(auto snaps, repo->list_snapshots());
  auto snap = repo::Repository::find_snapshot(snaps, found->repository_snapshot);
  if (!snap) return unexpected(Errc::not_found, "volume " + which + ": repository snapshot " +
                                                    found->repository_snapshot.substr(0, 12) + " is gone (pruned?)");
  repo::RestoreOptions ro;
  ro.progress = progress;
  ro.owners = ::geteuid() == 0;
  KBK_ASSIGN_OR_RETURN(auto res, repo::restore_to_folder(*repo, *snap, target, ro));
  // The volume root's own metadata (the repository holds what is below it).
  if (found->root.known) {
    if (ro.owners && ::chown(target.c_str(), found->root.uid, found->root.gid) != 0)
      res.warnings.push_back("chown " + target + ": " + std::strerror(errno));
    if (::chmod(target.c_str(), found->root.mode & 07777) != 0)
      res.warnings.push_back("chmod " + target + ": " + std::strerror(errno));
    struct timespec times[2];
    times[0].tv_sec = 0;
    times[0].tv_nsec = UTIME_OMIT;
    times[1].tv_sec = static_cast<time_t>(found->root.mtime);
    times[1].tv_nsec = static_cast<long>(found->root.mtime_nsec);
    (void)::utimensat(AT_FDCWD, target.c_str(), times, 0);
  }
  ExtractResult out;
  out.volume = which;
  out.snapshot = repo::to_hex(snap->id);
  out.target = target;
  out.files = res.files;
  out.dirs = res.dirs;
  out.bytes = res.bytes;
  out.warnings = std::move(res.warnings);
  lock->release();
  return out;
}

struct VolumeRestore::Impl {
  kube::Client& client;
  storage::Backend& backend;
  VolumeRestoreOptions opt;
  Temporaries temps;
  std::shared_ptr<Mover> mover;

  std::mutex repo_mutex;
  std::unique_ptr<repo::Lock> lock;
  std::vector<repo::Snapshot> snapshots;
  bool repo_ready = false;

  std::mutex cache_mutex;
  std::map<std::string, std::string> pod_security;
  std::map<std::string, std::set<std::pair<uint32_t, uint32_t>>> owners;  // snapshot id -> (uid, gid)

  std::mutex slot_mutex;
  std::condition_variable slot_cv;
  std::map<std::string, int> busy;

  std::atomic<uint64_t> bytes_moved{0};

  Impl(kube::Client& c, storage::Backend& b, VolumeRestoreOptions o)
      : client(c), backend(b), opt(std::move(o)), temps(c, {{k_label_restore, opt.restore_name}}) {}

  void log(const std::string& line) {
    if (opt.log) opt.log(line);
    else log::info(1, line);
  }

  Result<void> ensure_repository() {
    std::lock_guard l(repo_mutex);
    if (repo_ready) return {};
    repo::OpenOptions oo;
    oo.key = opt.key;
    auto r = repo::Repository::open(backend, oo);
    if (!r) return std::move(r).error().wrap("volume-data repository in " + backend.display_url());
    auto acquired = repo::Lock::acquire(backend, false);
    if (!acquired) return std::move(acquired).error().wrap("locking the volume-data repository");
    lock = std::move(*acquired);
    KBK_ASSIGN_OR_RETURN(snapshots, (*r)->list_snapshots());
    repo_ready = true;
    return {};
  }

  Result<std::unique_ptr<repo::Repository>> open_worker_repository() {
    KBK_TRY(ensure_repository());
    repo::OpenOptions oo;
    oo.key = opt.key;
    KBK_ASSIGN_OR_RETURN(auto r, repo::Repository::open(backend, oo));
    KBK_TRY(r->load_index());
    return r;
  }

  Result<repo::Snapshot> snapshot_of(const RestoreTarget& t) {
    KBK_TRY(ensure_repository());
    auto s = repo::Repository::find_snapshot(snapshots, t.record.repository_snapshot);
    if (!s) return unexpected(Errc::not_found, "repository snapshot " + t.record.repository_snapshot.substr(0, 12) +
                                                   " of " + t.record.ref.display() + " is not in " + backend.display_url() +
                                                   " (pruned, or another location)");
    return s;
  }

  std::string security_of(const std::string& ns) {
    {
      std::lock_guard l(cache_mutex);
      if (auto it = pod_security.find(ns); it != pod_security.end()) return it->second;
    }
    auto level = enforced_pod_security(client, ns);
    std::lock_guard l(cache_mutex);
    return pod_security[ns] = level ? *level : "";
  }

  // Every (uid, gid) owning an entry of the snapshot, the root's included when known.
  Result<std::set<std::pair<uint32_t, uint32_t>>> owners_of(repo::Repository& repo, const repo::Snapshot& snap,
                                                            const RootMeta& root) {
    const std::string id = repo::to_hex(snap.id);
    {
      std::lock_guard l(cache_mutex);
      if (auto it = owners.find(id); it != owners.end()) return it->second;
    }
    std::set<std::pair<uint32_t, uint32_t>> found;
    if (root.known) found.insert({root.uid, root.gid});
    KBK_TRY(repo::walk(repo, snap.tree, "", [&](const std::string&, const repo::Node& n) -> Result<void> {
      found.insert({n.uid, n.gid});
      return {};
    }));
    std::lock_guard l(cache_mutex);
    return owners[id] = found;
  }

  std::shared_ptr<void> node_slot(const std::string& node) {
    const int limit = opt.settings.per_node_workers;
    if (limit <= 0 || node.empty()) return nullptr;
    std::unique_lock l(slot_mutex);
    slot_cv.wait(l, [&] { return busy[node] < limit || interrupted(); });
    ++busy[node];
    return std::shared_ptr<void>(nullptr, [this, node](void*) {
      std::lock_guard g(slot_mutex);
      --busy[node];
      slot_cv.notify_all();
    });
  }

  Result<void> create_converted_claim(const RestoreTarget& t) {
    json::Document pvc = claim_object(t.namespace_, t.claim, t.storage_class, t.size, {});
    auto& a = pvc.GetAllocator();
    json::Value& md = json::ensure_object(pvc, "metadata", a);
    json::set(json::ensure_object(md, "labels", a), k_label_restore, json::make_string(label_value(opt.restore_name), a), a);
    json::set(json::ensure_object(md, "annotations", a), "kbk.io/converted-from",
              json::make_string(t.record.source_type + " volume " + t.record.ref.pod_volume + " of " +
                                    (t.record.workload.empty() ? "pod " + t.record.ref.pod : t.record.workload),
                                a),
              a);
    if (!opt.settings.mover.namespace_.empty())
      json::set(json::ensure_object(json::ensure_object(json::ensure_object(pvc, "spec", a), "selector", a), "matchLabels", a),
                k_label_restore_volume, json::make_string(snapshot_object_name(opt.restore_name, t.namespace_, t.claim), a), a);
    auto r = client.create(types::claims(), t.namespace_, pvc, {});
    if (!r && !r.error().is(Errc::already_exists)) return std::move(r).error().wrap("creating claim " + t.display());
    if (!r) return unexpected(Errc::already_exists, "claim " + t.display() + " exists already: its data is left as it is");
    log("created claim " + t.display() + " (class " + (t.storage_class.empty() ? "default" : t.storage_class) + ", " +
        t.size + ") for the " + t.record.source_type + " volume " + t.record.ref.display());
    return {};
  }

  // --mover-namespace: kbk's own namespace exists (made with Pod Security baseline when missing) and does not enforce
  // restricted (its movers restore owners as root).
  Result<void> ensure_mover_namespace() {
    return volume::ensure_mover_namespace(client, opt.settings.mover.namespace_,
                                          [this](const std::string& line) { log(line); });
  }

  // --mover-namespace: the claim filled there, of the target's class, size and access modes.
  Result<void> create_mover_claim(const RestoreTarget& t, const std::string& name) {
    const std::string& ns = opt.settings.mover.namespace_;
    json::Document pvc = claim_object(ns, name, t.storage_class, t.size.empty() ? "1Gi" : t.size, t.access_modes);
    temps.stamp(pvc, pvc.GetAllocator(), t.display());
    auto r = client.create(types::claims(), ns, pvc, {});
    if (!r && !r.error().is(Errc::already_exists)) return std::move(r).error().wrap("creating claim " + ns + "/" + name);
    temps.add(types::claims(), ns, name);
    return {};
  }

  // --mover-namespace, once the data is in: the volume is handed to the target claim as Velero's data mover does.
  // Reclaim policy Retain, the mover's claim deleted, the volume labelled for the target's selector and pre-bound to
  // it by claimRef; once the target is bound, the volume's own reclaim policy is back.
  Result<std::string> hand_over(const RestoreTarget& t, const std::string& name) {
    const std::string& ns = opt.settings.mover.namespace_;
    KBK_ASSIGN_OR_RETURN(auto claim, client.get(types::claims(), ns, name));
    const std::string pv = json::get_string(claim, {"spec", "volumeName"});
    if (pv.empty()) return unexpected(Errc::internal_error, "claim " + ns + "/" + name + " has no volume");
    KBK_ASSIGN_OR_RETURN(auto vol, client.get(types::volumes(), "", pv));
    const std::string policy = json::get_string(vol, {"spec", "persistentVolumeReclaimPolicy"}, "Delete");
    const std::string keep = std::string(R"({"metadata":{"labels":{")") + k_label_restore_volume + R"(":")" + name +
                             R"("}},"spec":{"persistentVolumeReclaimPolicy":"Retain"}})";
    if (auto p = client.patch(types::volumes(), "", pv, kube::PatchType::merge, keep, {}); !p)
      return std::move(p).error().wrap("keeping PersistentVolume " + pv);
    KBK_TRY(temps.remove(types::claims(), ns, name));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(opt.settings.bind_timeout);
    for (;;) {  // the mover's claim gone (its protection finalizer waits for the pod)
      auto c = client.get(types::claims(), ns, name);
      if (!c && c.error().is(Errc::not_found)) break;
      if (std::chrono::steady_clock::now() >= deadline)
        return unexpected(Errc::timeout, "claim " + ns + "/" + name + " was not deleted within " +
                                             util::human_duration(opt.settings.bind_timeout) + " (PersistentVolume " + pv +
                                             " holds the data, reclaim policy Retain)");
      KBK_TRY(pause(opt.settings.poll_interval));
    }
    json::Document ref;
    ref.SetObject();
    auto& a = ref.GetAllocator();
    json::Value& cr = json::ensure_object(json::ensure_object(ref, "spec", a), "claimRef", a);
    json::set(cr, "apiVersion", json::make_string("v1", a), a);
    json::set(cr, "kind", json::make_string("PersistentVolumeClaim", a), a);
    json::set(cr, "namespace", json::make_string(t.namespace_, a), a);
    json::set(cr, "name", json::make_string(t.claim, a), a);
    json::set(cr, "uid", json::Value(rapidjson::kNullType), a);
    json::set(cr, "resourceVersion", json::Value(rapidjson::kNullType), a);
    if (auto p = client.patch(types::volumes(), "", pv, kube::PatchType::merge, json::to_string(ref), {}); !p)
      return std::move(p).error().wrap("handing PersistentVolume " + pv + " to claim " + t.display());
    for (;;) {
      auto c = client.get(types::claims(), t.namespace_, t.claim);
      if (c && json::get_string(*c, {"status", "phase"}) == "Bound" && json::get_string(*c, {"spec", "volumeName"}) == pv)
        break;
      if (std::chrono::steady_clock::now() >= deadline) {
        const std::string why = last_event(client, t.namespace_, "PersistentVolumeClaim", t.claim);
        return unexpected(Errc::timeout, "claim " + t.display() + " did not bind to PersistentVolume " + pv + " within " +
                                             util::human_duration(opt.settings.bind_timeout) +
                                             (why.empty() ? "" : ": " + why) + " (the volume holds the data)");
      }
      KBK_TRY(pause(opt.settings.poll_interval));
    }
    if (policy != "Retain") {
      const std::string back = R"({"spec":{"persistentVolumeReclaimPolicy":")" + policy + R"("}})";
      if (auto p = client.patch(types::volumes(), "", pv, kube::PatchType::merge, back, {}); !p)
        log(t.display() + ": PersistentVolume " + pv + " keeps reclaim policy Retain: " + p.error().message);
    }
    log(t.display() + ": PersistentVolume " + pv + " filled in mover namespace " + ns + " and bound to the claim");
    return pv;
  }

  VolumeRestoreResult fill_one(const RestoreTarget& t, std::unique_ptr<repo::Repository>& worker_repo) {
    const auto start = std::chrono::steady_clock::now();
    VolumeRestoreResult r = base_result(t);
    auto done = [&](VolumeRestoreResult::Outcome o, std::string reason, std::string message) {
      r.outcome = o;
      r.reason = std::move(reason);
      r.message = std::move(message);
      r.duration_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return r;
    };
    if (interrupted()) return done(VolumeRestoreResult::Outcome::failed, "DataFailed", "interrupted");
    const auto& s = opt.settings;
    if (t.record.decision.path == PathKind::snapshot) {
      // Wait for the claim to bind (its volume is provisioned from the snapshot), then drop the restore's objects.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(s.bind_timeout);
      for (;;) {
        auto c = client.get(types::claims(), t.namespace_, t.claim);
        if (c && json::get_string(*c, {"status", "phase"}) == "Bound") break;
        if (std::chrono::steady_clock::now() >= deadline) {
          const std::string why = last_event(client, t.namespace_, "PersistentVolumeClaim", t.claim);
          return done(VolumeRestoreResult::Outcome::failed, "DataFailed",
                      "the claim did not bind from snapshot " + (t.record.csi ? t.record.csi->snapshot_handle : "") +
                          " within " + util::human_duration(s.bind_timeout) + (why.empty() ? "" : ": " + why));
        }
        if (auto p = pause(s.poll_interval); !p) return done(VolumeRestoreResult::Outcome::failed, "DataFailed", "interrupted");
      }
      const std::string name = snapshot_object_name(opt.restore_name, t.namespace_, t.claim);
      temps.forget(types::snapshots(), t.namespace_, name);
      temps.forget(types::snapshot_contents(), "", name);
      (void)client.remove(types::snapshots(), t.namespace_, name, {});
      (void)client.remove(types::snapshot_contents(), "", name, {});
      return done(VolumeRestoreResult::Outcome::restored, "FromSnapshot",
                  "from snapshot " + (t.record.csi ? t.record.csi->snapshot_handle : ""));
    }
    if (t.converted) {
      if (auto c = create_converted_claim(t); !c) return done(VolumeRestoreResult::Outcome::failed, "DataFailed", c.error().message);
    }
    auto fail = [&](const Error& e) {
      worker_repo.reset();
      return done(VolumeRestoreResult::Outcome::failed, "DataFailed", interrupted() ? "interrupted" : e.message);
    };
    if (!worker_repo) {
      auto opened = open_worker_repository();
      if (!opened) return fail(opened.error());
      worker_repo = std::move(*opened);
    }
    auto snap = snapshot_of(t);
    if (!snap) return fail(snap.error());
    // Who the mover runs as: root restoring owners, unless the namespace enforces restricted (check() made sure
    // the data has one non-root owner then, or --mover-ignore-owners was given).
    // --mover-namespace: the mover writes a claim of its own namespace, whose volume the target claim then gets.
    const bool handover = !s.mover.namespace_.empty();
    const std::string mover_claim = handover ? snapshot_object_name(opt.restore_name, t.namespace_, t.claim) : t.claim;
    if (handover)
      if (auto c = create_mover_claim(t, mover_claim); !c) return fail(c.error());
    HelperPod hp;
    hp.namespace_ = handover ? s.mover.namespace_ : t.namespace_;
    hp.volume_label = t.display();
    hp.read_only = false;
    hp.volume = *json::parse(R"({"persistentVolumeClaim":{"claimName":")" + mover_claim + R"("}})");
    hp.lifetime_seconds = s.volume_timeout;
    hp.identity.kind = MoverIdentity::Kind::root_writer;
    bool restore_owners = true;
    if (!handover && security_of(t.namespace_) == "restricted") {
      auto own = owners_of(*worker_repo, *snap, t.record.root);
      if (!own) return fail(own.error());
      hp.identity.kind = MoverIdentity::Kind::user;
      for (const auto& [uid, gid] : *own)
        if (uid != 0) {
          hp.identity.uid = uid;
          hp.identity.gid = gid;
          break;
        }
      hp.identity.fs_group = hp.identity.gid;
      restore_owners = false;
    }
    auto pod = start_helper_pod(client, temps, hp, s.mover, s.mover_start_timeout, s.poll_interval);
    if (!pod) return fail(pod.error());
    const std::string pod_name = json::get_string(*pod, {"metadata", "name"});
    r.node = json::get_string(*pod, {"spec", "nodeName"});
    r.mover = hp.namespace_ + "/" + pod_name;
    Result<MoveStats> moved = unexpected(Errc::internal_error, "not run");
    {
      auto slot = node_slot(r.node);
      for (int attempt = 1;; ++attempt) {
        moved = mover->restore(MoverTarget{hp.namespace_, pod_name, k_mover_container, "/data"}, *worker_repo, *snap,
                               t.record.root, restore_owners, [this](uint64_t n) { bytes_moved += n; });
        if (moved || interrupted()) break;
        // A helper pod that went away (evicted by a drain, deleted) leaves nothing to write into again: the volume
        // fails with a line that says so (as a backup's does, docs/mover.md section 2), not as a cut stream, and the
        // claim keeps k_annotation_data_pending, so that a rerun fills it.
        if (std::string why = pod_gone(client, hp.namespace_, pod_name); !why.empty()) {
          moved = unexpected(Errc::io, "helper pod " + r.mover + " was " + why + ": " + moved.error().message);
          break;
        }
        if (attempt >= k_move_attempts || !stream_cut(moved.error())) break;
        // The cut attempt wrote only paths of this snapshot, and each is written whole again (replaced, not merged).
        log(t.display() + ": " + moved.error().message + "; writing the whole snapshot again (attempt " +
            std::to_string(attempt + 1) + " of " + std::to_string(k_move_attempts) + ")");
      }
    }
    if (auto d = temps.remove(types::pods(), hp.namespace_, pod_name); !d)
      log("could not delete helper pod " + r.mover + " yet: " + d.error().message);
    if (!moved) return fail(moved.error());
    if (handover)
      if (auto h = hand_over(t, mover_claim); !h) return fail(h.error());
    // The data is in: the claim no longer waits for it (k_annotation_data_pending).
    const std::string clear = std::string(R"({"metadata":{"annotations":{")") + k_annotation_data_pending + R"(":null}}})";
    if (auto p = client.patch(types::claims(), t.namespace_, t.claim, kube::PatchType::merge, clear, {}); !p)
      log(t.display() + ": its data is restored, but the annotation " + k_annotation_data_pending +
          " stays: " + p.error().message);
    r.bytes = moved->bytes;
    r.files = moved->files;
    r.stream_bytes = moved->stream_bytes;
    for (const auto& w : moved->warnings) log(t.display() + ": " + w);
    return done(VolumeRestoreResult::Outcome::restored, t.converted ? "Converted" : "DataRestored",
                std::string(path_name(t.record.decision.path)) + " data of " + t.record.ref.display() +
                    (restore_owners ? "" : " (files owned by the mover's user: the namespace enforces restricted)") +
                    (handover ? " (written in mover namespace " + s.mover.namespace_ + ")" : ""));
  }
};

VolumeRestore::VolumeRestore(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
VolumeRestore::~VolumeRestore() {
  if (m_impl) m_impl->temps.cleanup();
}

Result<std::unique_ptr<VolumeRestore>> VolumeRestore::start(kube::Client& client, storage::Backend& backend,
                                                            VolumeRestoreOptions options) {
  auto impl = std::make_unique<Impl>(client, backend, std::move(options));
  impl->mover = impl->opt.mover ? impl->opt.mover : std::shared_ptr<Mover>(make_mover(client, impl->opt.settings.mover, impl->opt.key));
  CleanupOptions co;
  co.dead_owners_only = true;
  if (auto swept = cleanup_leftovers(client, co)) {
    for (const auto& o : swept->removed)
      impl->log("removed " + o.type.kind + " " + (o.namespace_.empty() ? o.name : o.namespace_ + "/" + o.name) +
                " left by a kbk run that was killed");
  }
  for (const auto& line : impl->opt.settings.describe()) impl->log(line);
  return std::unique_ptr<VolumeRestore>(new VolumeRestore(std::move(impl)));
}

Result<void> VolumeRestore::check(const std::vector<RestoreTarget>& targets) {
  Impl& m = *m_impl;
  std::vector<std::string> problems;
  std::unique_ptr<repo::Repository> repo;
  const bool handover = !m.opt.settings.mover.namespace_.empty();
  bool any = false;
  for (const auto& t : targets) any = any || moved_data(t);
  if (handover && any) KBK_TRY(m.ensure_mover_namespace());
  for (const auto& t : targets) {
    if (!moved_data(t)) continue;
    KBK_TRY(m.ensure_repository());
    KBK_ASSIGN_OR_RETURN(auto snap, m.snapshot_of(t));
    if (handover || m.security_of(t.namespace_) != "restricted" || m.opt.settings.ignore_owners) continue;
    if (!repo) {
      KBK_ASSIGN_OR_RETURN(repo, m.open_worker_repository());
    }
    KBK_ASSIGN_OR_RETURN(auto own, m.owners_of(*repo, snap, t.record.root));
    std::set<uint32_t> uids;
    for (const auto& [u, g] : own) uids.insert(u);
    if (uids.size() <= 1 && !uids.count(0)) continue;
    std::vector<std::string> list;
    for (const auto& [u, g] : own) list.push_back(std::to_string(u) + ":" + std::to_string(g));
    problems.push_back(t.display() + " holds files of " + util::join(list, ", "));
  }
  if (problems.empty()) return {};
  return unexpected(Errc::precondition,
                    "restoring file owners needs a root mover, and Pod Security restricted forbids one: " +
                        util::join(problems, "; ") +
                        ". Pass --mover-namespace NS to restore them with root movers in a namespace of kbk's own (the "
                        "volumes are then handed to the claims), relabel the namespace "
                        "(pod-security.kubernetes.io/enforce=baseline) for the restore, or pass --mover-ignore-owners to "
                        "restore the files as the volume's non-root owner");
}

std::vector<VolumeRestoreResult> VolumeRestore::prepare_snapshots(const std::vector<RestoreTarget>& targets) {
  Impl& m = *m_impl;
  std::vector<VolumeRestoreResult> failed;
  for (const auto& t : targets) {
    if (t.record.decision.path != PathKind::snapshot || t.record.outcome != VolumeResult::Outcome::completed || !t.record.csi)
      continue;
    const std::string name = snapshot_object_name(m.opt.restore_name, t.namespace_, t.claim);
    const CsiSnapshot& cs = *t.record.csi;
    std::string driver = cs.driver;
    if (auto it = m.opt.settings.pv_driver_mappings.find(driver); it != m.opt.settings.pv_driver_mappings.end()) driver = it->second;
    json::Document vsc;
    vsc.SetObject();
    auto& a = vsc.GetAllocator();
    json::set(vsc, "apiVersion", json::make_string("snapshot.storage.k8s.io/v1", a), a);
    json::set(vsc, "kind", json::make_string("VolumeSnapshotContent", a), a);
    json::set(json::ensure_object(vsc, "metadata", a), "name", json::make_string(name, a), a);
    m.temps.stamp(vsc, a, t.display());
    json::set(json::ensure_object(json::ensure_object(vsc, "metadata", a), "annotations", a), k_annotation_keep_storage,
              json::make_string("true", a), a);
    json::Value& spec = json::ensure_object(vsc, "spec", a);
    json::set(spec, "deletionPolicy", json::make_string("Retain", a), a);
    json::set(spec, "driver", json::make_string(driver, a), a);
    json::set(json::ensure_object(spec, "source", a), "snapshotHandle", json::make_string(cs.snapshot_handle, a), a);
    if (!cs.source_volume_mode.empty()) json::set(spec, "sourceVolumeMode", json::make_string(cs.source_volume_mode, a), a);
    if (!cs.volume_snapshot_class.empty())
      json::set(spec, "volumeSnapshotClassName", json::make_string(cs.volume_snapshot_class, a), a);
    json::Value& ref = json::ensure_object(spec, "volumeSnapshotRef", a);
    json::set(ref, "namespace", json::make_string(t.namespace_, a), a);
    json::set(ref, "name", json::make_string(name, a), a);
    VolumeRestoreResult fail = base_result(t);
    fail.outcome = VolumeRestoreResult::Outcome::failed;
    fail.reason = "DataFailed";
    auto c1 = m.client.create(types::snapshot_contents(), "", vsc, {});
    if (!c1 && !c1.error().is(Errc::already_exists)) {
      fail.message = "creating VolumeSnapshotContent " + name + ": " + c1.error().message;
      failed.push_back(fail);
      continue;
    }
    m.temps.add(types::snapshot_contents(), "", name, true);
    json::Document vs;
    vs.SetObject();
    auto& b = vs.GetAllocator();
    json::set(vs, "apiVersion", json::make_string("snapshot.storage.k8s.io/v1", b), b);
    json::set(vs, "kind", json::make_string("VolumeSnapshot", b), b);
    json::Value& md = json::ensure_object(vs, "metadata", b);
    json::set(md, "name", json::make_string(name, b), b);
    json::set(md, "namespace", json::make_string(t.namespace_, b), b);
    m.temps.stamp(vs, b, t.display());
    json::set(json::ensure_object(md, "annotations", b), k_annotation_keep_storage, json::make_string("true", b), b);
    json::set(json::ensure_object(json::ensure_object(vs, "spec", b), "source", b), "volumeSnapshotContentName",
              json::make_string(name, b), b);
    auto c2 = m.client.create(types::snapshots(), t.namespace_, vs, {});
    if (!c2 && !c2.error().is(Errc::already_exists)) {
      fail.message = "creating VolumeSnapshot " + t.namespace_ + "/" + name + ": " + c2.error().message;
      failed.push_back(fail);
      continue;
    }
    // Removed without touching the content's Retain policy: the storage keeps the snapshot for other restores.
    m.temps.add(types::snapshots(), t.namespace_, name, true);
    m.log(t.display() + ": VolumeSnapshot " + t.namespace_ + "/" + name + " from snapshot handle " + cs.snapshot_handle +
          " (" + driver + ")");
  }
  return failed;
}

bool VolumeRestore::data_pending(const RestoreTarget& t) {
  if (!moved_data(t) || t.record.repository_snapshot.empty()) return false;
  auto c = m_impl->client.get(types::claims(), t.namespace_, t.claim);
  if (!c) return false;
  const json::Value* v = json::at(*c, {"metadata", "annotations", k_annotation_data_pending});
  return v && v->IsString() && t.record.repository_snapshot == v->GetString();
}

Result<std::vector<std::string>> VolumeRestore::claim_users(const RestoreTarget& t) {
  std::vector<std::string> out;
  kube::ListOptions lo;
  KBK_TRY(m_impl->client.list(types::pods(), t.namespace_, lo, [&](kube::ListPage& page) -> Result<void> {
    const json::Value* items = json::find(page.list, "items");
    if (!items || !items->IsArray()) return {};
    for (const auto& p : items->GetArray()) {
      if (json::find(p["metadata"], "deletionTimestamp")) continue;
      const json::Value* vols = json::at(p, {"spec", "volumes"});
      if (!vols || !vols->IsArray()) continue;
      for (const auto& v : vols->GetArray())
        if (json::get_string(v, {"persistentVolumeClaim", "claimName"}) == t.claim) {
          out.push_back(json::get_string(p, {"metadata", "name"}));
          break;
        }
    }
    return {};
  }));
  return out;
}

std::vector<VolumeRestoreResult> VolumeRestore::fill(const std::vector<RestoreTarget>& targets) {
  Impl& m = *m_impl;
  std::vector<const RestoreTarget*> todo;
  for (const auto& t : targets)
    if (moved_data(t) || (t.record.decision.path == PathKind::snapshot && t.record.outcome == VolumeResult::Outcome::completed))
      todo.push_back(&t);
  std::vector<VolumeRestoreResult> results(todo.size());
  std::atomic<size_t> next{0};
  util::ProgressState state;
  state.phase = "volumes";
  state.items_total = todo.size();
  std::mutex progress_mutex;
  auto worker = [&] {
    std::unique_ptr<repo::Repository> repo;
    for (size_t i = next++; i < todo.size(); i = next++) {
      results[i] = m.fill_one(*todo[i], repo);
      m.log(describe(results[i]));
      if (m.opt.progress) {
        std::lock_guard l(progress_mutex);
        ++state.items_done;
        if (results[i].outcome == VolumeRestoreResult::Outcome::failed) ++state.errors;
        state.current = todo[i]->display();
        state.bytes_done = m.bytes_moved;
        m.opt.progress->update(state);
      }
    }
  };
  const size_t n = std::min<size_t>(static_cast<size_t>(std::max(1, m.opt.settings.volume_workers)), todo.size());
  std::vector<std::thread> pool;
  for (size_t w = 1; w < n; ++w) pool.emplace_back(worker);
  if (n > 0) worker();
  for (auto& t : pool) t.join();
  for (const auto& e : m.temps.cleanup()) m.log(e);
  if (m.opt.progress && !todo.empty()) m.opt.progress->finish(state);
  return results;
}

}  // namespace kbk::volume
