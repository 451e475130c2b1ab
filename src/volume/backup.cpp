// The volume part of a backup (backup.hpp): gather, decide, take, record; a pool of workers with per-node slots.
#include <kbk/volume/backup.hpp>
#include <kbk/volume/kbk_mover.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <kbk/repo/operations.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/volume/decide.hpp>

namespace kbk::volume {

namespace {
// Claims one helper pod mounts at most (a node attaches a few dozen volumes at most, the temporary claims of
// snapshot-move-data among them).
constexpr size_t k_volumes_per_pod = 16;
}  // namespace

std::string describe(const VolumeResult& r) {
  std::string s = r.ref.display() + ": ";
  switch (r.outcome) {
    case VolumeResult::Outcome::completed:
      s += std::string(path_name(r.decision.path));
      if (r.decision.path == PathKind::snapshot && r.csi) s += " " + r.csi->snapshot_handle + " (" + r.csi->driver + ")";
      else
        s += ", " + util::human_bytes(r.bytes) + " in " + std::to_string(r.files) + (r.files == 1 ? " file" : " files");
      if (!r.mover_kind.empty() && r.decision.path != PathKind::snapshot)
        s += " (" + r.mover_kind + " mover: " + util::human_bytes(r.bytes_read_in_pod) + " read in the pod, " +
             util::human_bytes(r.bytes_through_host) + " through this host, " + util::human_bytes(r.bytes_uploaded) +
             " uploaded)";
      s += ", " + util::human_duration(r.duration_seconds);
      break;
    case VolumeResult::Outcome::skipped: s += "not taken"; break;
    case VolumeResult::Outcome::failed: s += std::string(path_name(r.decision.path)) + " failed: " + r.message; break;
  }
  if (!r.decision.reason.empty()) s += " (" + r.decision.reason + ")";
  return s;
}

namespace {

kube::ResourceType apps_type(const char* resource, const char* kind) {
  kube::ResourceType rt;
  rt.group = "apps";
  rt.version = "v1";
  rt.resource = resource;
  rt.kind = kind;
  rt.namespaced = true;
  return rt;
}

const json::Value* controller_of(const json::Value& obj) {
  const json::Value* owners = json::at(obj, {"metadata", "ownerReferences"});
  if (!owners || !owners->IsArray()) return nullptr;
  for (const auto& o : owners->GetArray()) {
    const json::Value* c = json::find(o, "controller");
    if (c && c->IsBool() && c->GetBool()) return &o;
  }
  return nullptr;
}

bool running(const json::Value& pod) {
  return json::get_string(pod, {"status", "phase"}) == "Running" && !json::get_string(pod, {"spec", "nodeName"}).empty() &&
         !json::at(pod, {"metadata", "deletionTimestamp"});
}

// The movers' client: the cluster's, with every exec's retried upgrades (429, 5xx, a connection lost before the
// answer) told to the backup's log, so `kbk backup logs` holds them as well as stderr at -v 1.
class ExecLogClient final : public kube::Client {
public:
  ExecLogClient(kube::Client& inner, std::function<void(const std::string&)> log)
      : m_inner(inner), m_log(std::move(log)) {}
  Result<json::Document> get(const kube::ResourceType& rt, std::string_view ns, std::string_view name,
                             std::string_view sub) override {
    return m_inner.get(rt, ns, name, sub);
  }
  Result<void> list(const kube::ResourceType& rt, std::string_view ns, const kube::ListOptions& o,
                    const std::function<Result<void>(kube::ListPage&)>& on_page) override {
    return m_inner.list(rt, ns, o, on_page);
  }
  Result<json::Document> create(const kube::ResourceType& rt, std::string_view ns, const json::Value& obj,
                                const kube::WriteOptions& o) override {
    return m_inner.create(rt, ns, obj, o);
  }
  Result<json::Document> update(const kube::ResourceType& rt, std::string_view ns, const json::Value& obj,
                                const kube::WriteOptions& o, std::string_view sub) override {
    return m_inner.update(rt, ns, obj, o, sub);
  }
  Result<json::Document> patch(const kube::ResourceType& rt, std::string_view ns, std::string_view name,
                               kube::PatchType type, std::string_view body, const kube::WriteOptions& o,
                               std::string_view sub) override {
    return m_inner.patch(rt, ns, name, type, body, o, sub);
  }
  Result<json::Document> remove(const kube::ResourceType& rt, std::string_view ns, std::string_view name,
                                const kube::DeleteOptions& o) override {
    return m_inner.remove(rt, ns, name, o);
  }
  Result<json::Document> request(std::string_view method, std::string_view path, std::string_view body,
                                 std::string_view content_type, std::string_view accept) override {
    return m_inner.request(method, path, body, content_type, accept);
  }
  Result<kube::RawResponse> request_raw(std::string_view method, std::string_view path, std::string_view body,
                                        std::string_view content_type, std::string_view accept) override {
    return m_inner.request_raw(method, path, body, content_type, accept);
  }
  Result<std::unique_ptr<kube::ExecSession>> exec(const kube::ExecRequest& request) override {
    if (request.on_retry || !m_log) return m_inner.exec(request);
    kube::ExecRequest r = request;
    r.on_retry = m_log;
    return m_inner.exec(r);
  }

private:
  kube::Client& m_inner;
  std::function<void(const std::string&)> m_log;
};

}  // namespace

struct VolumeBackup::Impl {
  kube::Client& client;
  storage::Backend& backend;
  VolumeBackupOptions opt;
  Temporaries temps;
  ExecLogClient exec_client;  // the movers'
  std::shared_ptr<Mover> mover;

  std::mutex repo_mutex;
  std::unique_ptr<repo::Lock> lock;
  bool repo_ready = false;

  std::mutex slot_mutex;
  std::condition_variable slot_cv;
  std::map<std::string, int> busy;

  std::mutex cache_mutex;
  std::map<std::string, std::shared_ptr<std::vector<json::Document>>> pods_by_ns;
  std::map<std::string, std::string> pod_security;
  std::map<std::string, std::optional<std::string>> snapshot_class;

  std::atomic<uint64_t> bytes_moved{0};
  std::mutex progress_mutex;
  util::ProgressState progress_state;
  uint64_t last_reported = 0;

  Impl(kube::Client& c, storage::Backend& b, VolumeBackupOptions o)
      : client(c), backend(b), opt(std::move(o)), temps(c, {{k_label_backup, opt.backup_name}}),
        exec_client(c, [this](const std::string& line) { log(line); }) {}

  void log(const std::string& line) {
    if (opt.log) opt.log(line);
    else log::info(1, line);
  }

  // ---- the repository: created on first use, one shared lock for the run, one Repository per worker ----------
  Result<void> ensure_repository() {
    std::lock_guard l(repo_mutex);
    if (repo_ready) return {};
    repo::OpenOptions oo;
    oo.key = opt.key;
    oo.create = true;
    auto r = repo::Repository::open(backend, oo);
    if (!r) return std::move(r).error().wrap("volume-data repository in " + backend.display_url());
    if ((*r)->created()) log("created the volume-data repository in " + backend.display_url());
    auto acquired = repo::Lock::acquire(backend, false);
    if (!acquired) return std::move(acquired).error().wrap("locking the volume-data repository");
    lock = std::move(*acquired);
    repo_ready = true;
    return {};
  }

  Result<std::unique_ptr<repo::Repository>> open_worker_repository() {
    KBK_TRY(ensure_repository());
    repo::OpenOptions oo;
    oo.key = opt.key;
    // The index is loaded by the mover that needs it (ensure_index): a volume whose fingerprint proves it unchanged
    // writes its snapshot without it, and kbk's in-pod mover loads its own.
    KBK_ASSIGN_OR_RETURN(auto r, repo::Repository::open(backend, oo));
    return r;
  }

  // ---- per-node slots ---------------------------------------------------------------------------------------------
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

  // ---- caches -------------------------------------------------------------------------------------------------------
  std::shared_ptr<std::vector<json::Document>> pods_in(const std::string& ns) {
    {
      std::lock_guard l(cache_mutex);
      if (auto it = pods_by_ns.find(ns); it != pods_by_ns.end()) return it->second;
    }
    auto pods = std::make_shared<std::vector<json::Document>>();
    kube::ListOptions lo;
    (void)client.list(types::pods(), ns, lo, [&](kube::ListPage& page) -> Result<void> {
      const json::Value* items = json::find(page.list, "items");
      if (items && items->IsArray())
        for (const auto& p : items->GetArray()) pods->push_back(json::clone(p));
      return {};
    });
    std::lock_guard l(cache_mutex);
    return pods_by_ns.emplace(ns, pods).first->second;
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

  Result<std::optional<std::string>> class_for(const std::string& driver, const json::Value& claim) {
    if (!json::get_string(claim, {"metadata", "annotations", "velero.io/csi-volumesnapshot-class"}).empty())
      return find_snapshot_class(client, driver, &claim);
    {
      std::lock_guard l(cache_mutex);
      if (auto it = snapshot_class.find(driver); it != snapshot_class.end()) return it->second;
    }
    KBK_ASSIGN_OR_RETURN(auto cls, find_snapshot_class(client, driver, nullptr));
    std::lock_guard l(cache_mutex);
    snapshot_class[driver] = cls;
    return cls;
  }

  std::string workload_of(const json::Value& pod) {
    const std::string ns = json::get_string(pod, {"metadata", "namespace"});
    const json::Value* c = controller_of(pod);
    if (!c) return "Pod/" + json::get_string(pod, {"metadata", "name"});
    const std::string kind = json::get_string(*c, {"kind"}), name = json::get_string(*c, {"name"});
    if (kind == "ReplicaSet") {
      if (auto rs = client.get(apps_type("replicasets", "ReplicaSet"), ns, name))
        if (const json::Value* d = controller_of(*rs)) return json::get_string(*d, {"kind"}) + "/" + json::get_string(*d, {"name"});
    }
    return kind + "/" + name;
  }

  // ---- one volume ---------------------------------------------------------------------------------------------------
  Result<void> gather(Job& job, VolumeResult& r, DecisionInput& in, std::vector<json::Document>& backed_up_pods) {
    const VolumeRef& ref = job.ref;
    job.pod_security = security_of(ref.namespace_);
    auto pods = pods_in(ref.namespace_);
    auto find_pod = [&](const std::string& name) -> const json::Value* {
      for (const auto& p : *pods)
        if (json::get_string(p, {"metadata", "name"}) == name) return &p;
      return nullptr;
    };
    if (ref.kind == VolumeRef::Kind::claim) {
      auto claim = client.get(types::claims(), ref.namespace_, ref.claim);
      if (!claim) {
        if (claim.error().is(Errc::not_found)) {
          r.code = "NotFound";
          return unexpected(Errc::not_found, "the claim no longer exists");
        }
        return std::move(claim).error();
      }
      job.claim = std::move(*claim);
      r.storage_class = json::get_string(job.claim, {"spec", "storageClassName"});
      r.capacity = json::get_string(job.claim, {"status", "capacity", "storage"});
      const std::string pv_name = json::get_string(job.claim, {"spec", "volumeName"});
      if (!pv_name.empty()) {
        if (auto pv = client.get(types::volumes(), "", pv_name)) job.pv = std::move(*pv);
      }
      if (job.pv.IsObject()) {
        r.driver = json::get_string(job.pv, {"spec", "csi", "driver"});
        r.source_type = volume_type_of_pv(job.pv);
      }
      for (const auto& p : *pods) {
        if (!running(p)) continue;
        const json::Value* vols = json::at(p, {"spec", "volumes"});
        if (!vols || !vols->IsArray()) continue;
        for (const auto& v : vols->GetArray())
          if (json::get_string(v, {"persistentVolumeClaim", "claimName"}) == ref.claim) {
            Job::Use u;
            u.pod = json::get_string(p, {"metadata", "name"});
            u.node = json::get_string(p, {"spec", "nodeName"});
            u.volume = json::get_string(v, {"name"});
            u.object = json::clone(p);
            job.uses.push_back(std::move(u));
          }
      }
      for (const auto& full : ref.pods) {
        const std::string name = full.substr(full.find('/') + 1);
        const json::Value* p = find_pod(name);
        if (!p) continue;
        const json::Value* vols = json::at(*p, {"spec", "volumes"});
        if (vols && vols->IsArray())
          for (const auto& v : vols->GetArray())
            if (json::get_string(v, {"persistentVolumeClaim", "claimName"}) == ref.claim) {
              backed_up_pods.push_back(json::clone(*p));
              in.pods.emplace_back(nullptr, json::get_string(v, {"name"}));
            }
      }
      in.claim = &job.claim;
      in.pv = job.pv.IsObject() ? &job.pv : nullptr;
      if (!r.driver.empty()) {
        KBK_ASSIGN_OR_RETURN(auto cls, class_for(r.driver, job.claim));
        if (cls) job.snapshot_class = *cls;
      }
      in.snapshot_class = !job.snapshot_class.empty();
    } else {
      const json::Value* p = find_pod(ref.pod);
      json::Document fetched;
      if (!p) {
        auto g = client.get(types::pods(), ref.namespace_, ref.pod);
        if (!g) {
          if (g.error().is(Errc::not_found)) r.code = "NotFound";
          return std::move(g).error().wrap("pod " + ref.namespace_ + "/" + ref.pod);
        }
        fetched = std::move(*g);
        p = &fetched;
      }
      const json::Value* vols = json::at(*p, {"spec", "volumes"});
      if (vols && vols->IsArray())
        for (const auto& v : vols->GetArray())
          if (json::get_string(v, {"name"}) == ref.pod_volume) job.pod_volume = json::clone(v);
      if (!job.pod_volume.IsObject()) {
        r.code = "NotFound";
        return unexpected(Errc::not_found, "pod " + ref.namespace_ + "/" + ref.pod + " has no volume " + ref.pod_volume);
      }
      json::erase(job.pod_volume, "name");
      r.source_type = volume_type_of_pod_volume(job.pod_volume);
      r.workload = workload_of(*p);
      if (running(*p)) {
        Job::Use u;
        u.pod = ref.pod;
        u.node = json::get_string(*p, {"spec", "nodeName"});
        u.volume = ref.pod_volume;
        u.object = json::clone(*p);
        job.uses.push_back(std::move(u));
      }
      backed_up_pods.push_back(json::clone(*p));
      in.pods.emplace_back(nullptr, ref.pod_volume);
      json::Document named = json::clone(job.pod_volume);
      json::set(named, "name", json::make_string(ref.pod_volume, named.GetAllocator()), named.GetAllocator());
      job.pod_volume = std::move(named);
      in.pod_volume = &job.pod_volume;
    }
    for (size_t i = 0; i < in.pods.size(); ++i) in.pods[i].first = &backed_up_pods[i];
    in.kind = ref.kind;
    in.running_use = !job.uses.empty();
    return {};
  }

  // A volume gathered and decided, not yet taken: process() in two steps, so that run() can give the volumes of one
  // node, namespace and mover identity one helper pod (run_pod_group). Not moved once made (`in` points into it).
  struct Planned {
    Job job;
    VolumeResult r;
    DecisionInput in;
    std::vector<json::Document> backed_up_pods;
    std::unique_ptr<DataPath> path;
    std::chrono::steady_clock::time_point start;
    bool final = false;  // r is the volume's result already (skipped, or failed before a path)
    VolumeResult gathered;  // r as prepare() left it: what a retry starts from
  };

  static VolumeResult& finish(Planned& p, VolumeResult::Outcome o, std::string message) {
    p.r.outcome = o;
    p.r.message = std::move(message);
    p.r.duration_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - p.start).count();
    p.final = true;
    return p.r;
  }

  std::unique_ptr<Planned> prepare(const VolumeRef& ref) {
    auto p = std::make_unique<Planned>();
    p->start = std::chrono::steady_clock::now();
    VolumeResult& r = p->r;
    r.ref = ref;
    if (interrupted()) {
      finish(*p, VolumeResult::Outcome::failed, "interrupted");
      return p;
    }
    Job& job = p->job;
    job.ref = ref;
    p->backed_up_pods.reserve(ref.pods.size() + 1);
    if (auto g = gather(job, r, p->in, p->backed_up_pods); !g) {
      finish(*p, g.error().is(Errc::not_found) ? VolumeResult::Outcome::skipped : VolumeResult::Outcome::failed,
             g.error().message);
      return p;
    }
    if (ref.kind == VolumeRef::Kind::claim && json::get_string(job.claim, {"status", "phase"}) != "Bound") {
      r.code = "NotBound";
      r.decision.reason = "the claim is " + json::get_string(job.claim, {"status", "phase"}, "Pending") +
                          ": no volume holds data yet";
      finish(*p, VolumeResult::Outcome::skipped, r.decision.reason);
      return p;
    }
    r.decision = decide(p->in, opt.settings);
    job.decision = r.decision;
    if (r.decision.path == PathKind::none) {
      if (r.decision.warning)
        r.code = r.decision.source == Decision::Source::policy && r.decision.reason.find("custom") != std::string::npos
                     ? "CustomAction"
                     : "NoSnapshotClass";
      finish(*p, VolumeResult::Outcome::skipped, r.decision.reason);
      return p;
    }
    p->path = opt.make_path ? opt.make_path(r.decision.path) : make_data_path(r.decision.path);
    if (!p->path) finish(*p, VolumeResult::Outcome::failed, std::string("no data path ") + path_name(r.decision.path));
    else p->gathered = r;
    return p;
  }

  Context context(std::unique_ptr<repo::Repository>& worker_repo, bool slots) {
    return Context{client, temps, opt.settings, *mover, opt.backup_name,
                   [this, &worker_repo]() -> Result<repo::Repository*> {
                     if (!worker_repo) {
                       KBK_ASSIGN_OR_RETURN(worker_repo, open_worker_repository());
                     }
                     return worker_repo.get();
                   },
                   [this, slots](const std::string& node) { return slots ? node_slot(node) : nullptr; },
                   [this](uint64_t n) { moved(n); },
                   [] {}};
  }

  // cut (may be null): the volume's windows, told when its data is cut; an error there fails the volume.
  VolumeResult process(const VolumeRef& ref, std::unique_ptr<repo::Repository>& worker_repo,
                       const std::function<Result<void>()>& cut = nullptr) {
    auto p = prepare(ref);
    if (p->final) return p->r;
    return take(*p, worker_repo, cut);
  }

  VolumeResult take(Planned& p, std::unique_ptr<repo::Repository>& worker_repo,
                    const std::function<Result<void>()>& cut = nullptr, int first_attempt = 1) {
    const VolumeRef& ref = p.r.ref;
    VolumeResult& r = p.r;
    Context ctx = context(worker_repo, true);
    std::optional<Result<void>> cut_result;
    std::mutex cut_mutex;
    ctx.cut = [&] {
      std::lock_guard l(cut_mutex);
      if (!cut_result) cut_result = cut ? cut() : Result<void>();
    };
    if (first_attempt == 1) log(ref.display() + ": " + path_name(r.decision.path) + " (" + r.decision.reason + ")");
    Result<void> done;
    for (int attempt = first_attempt;; ++attempt) {
      done = p.path->backup(p.job, ctx, r);
      if (done || attempt >= k_move_attempts || !stream_cut(done.error()) || interrupted()) break;
      // Once a pod's window (its hooks) was cut, another attempt would read what the window no longer holds still.
      if (cut && cut_result) break;
      // The data path removed its temporaries; blobs the cut attempt's repository marked as stored may never have
      // been: the next attempt starts afresh, into a new repository snapshot.
      worker_repo.reset();
      log(ref.display() + ": " + done.error().message + "; moving the volume again from the start (attempt " +
          std::to_string(attempt + 1) + " of " + std::to_string(k_move_attempts) + ")");
    }
    if (done) ctx.cut();  // a copy: its end was the cut
    if (done && cut_result && !*cut_result) {
      r.code = "HookFailed";
      return finish(p, VolumeResult::Outcome::failed, cut_result->error().message);
    }
    if (!done) {
      // Blobs this worker's repository marked as being stored may never have been: start it afresh.
      worker_repo.reset();
      return finish(p, VolumeResult::Outcome::failed, interrupted() ? "interrupted" : done.error().message);
    }
    return finish(p, VolumeResult::Outcome::completed, "");
  }

  // ---- one helper pod for several volumes (docs/mover.md section 7) -------------------------------------------------
  // The key of the pod a planned volume may share: its path, node, the pod's namespace and the mover's identity;
  // "" when it takes a pod of its own (no helper pod of kbk's, or no running pod tells which node has it).
  std::string pod_key(const Planned& p) const {
    if (p.final || !p.path || !p.path->plans() || p.job.uses.empty() || p.job.uses.front().node.empty()) return "";
    const PathKind k = p.r.decision.path;
    if (k != PathKind::snapshot_move && k != PathKind::fs_backup) return "";
    MoverIdentity id;
    std::string ns = p.job.ref.namespace_;
    if (k == PathKind::snapshot_move && !opt.settings.mover.namespace_.empty()) ns = opt.settings.mover.namespace_;
    else id = backup_identity(p.job);
    std::string key = std::string(path_name(k)) + "|" + p.job.uses.front().node + "|" + ns + "|" + id.describe();
    for (int64_t g : id.supplemental_groups) key += "," + std::to_string(g);
    return key;
  }

  // Takes the group's volumes in turn through one helper pod mounting them all; each keeps its own result. A pod
  // that does not start gives way to one pod per volume; a pod that goes away mid-way fails the volume it was
  // moving (as a volume's own pod would) and the volumes after it each get a pod of their own.
  void run_pod_group(const std::vector<Planned*>& group, std::unique_ptr<repo::Repository>& worker_repo) {
    const size_t n = group.size();
    std::vector<PodPlan> plans(n);
    std::vector<double> spent(n, 0);
    std::vector<bool> redo(n, false), planned(n, false);
    Context ctx = context(worker_repo, true);
    auto since = [](std::chrono::steady_clock::time_point t) {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    };
    auto record = [&](size_t k, Result<void> done) {
      Planned& p = *group[k];
      const double took = p.r.duration_seconds;
      if (done) {
        finish(p, VolumeResult::Outcome::completed, "");
      } else {
        worker_repo.reset();  // blobs it marked as being stored may never have been
        if (stream_cut(done.error()) && !interrupted()) redo[k] = true;
        finish(p, VolumeResult::Outcome::failed, interrupted() ? "interrupted" : done.error().message);
      }
      p.r.duration_seconds = took;
    };
    auto alone = [&](size_t k) {
      Planned& p = *group[k];
      const auto t0 = std::chrono::steady_clock::now();
      auto done = move_with_own_pod(p.job, ctx, p.r, plans[k], p.r.decision.path);
      plans[k].release = nullptr;
      p.r.duration_seconds = spent[k] + since(t0);
      record(k, std::move(done));
    };
    std::vector<size_t> members;
    for (size_t k = 0; k < n; ++k) {
      Planned& p = *group[k];
      const auto t0 = std::chrono::steady_clock::now();
      log(p.r.ref.display() + ": " + path_name(p.r.decision.path) + " (" + p.r.decision.reason + ")");
      auto made = interrupted() ? Result<PodPlan>(unexpected(Errc::cancelled, "interrupted"))
                                : p.path->plan(p.job, ctx, p.r);
      spent[k] = since(t0);
      if (!made) {
        p.r.duration_seconds = spent[k];
        record(k, std::move(made).error());
        continue;
      }
      plans[k] = std::move(*made);
      planned[k] = true;
      members.push_back(k);
    }
    if (members.size() < 2) {
      for (size_t k : members) alone(k);
    } else {
      const HelperPod& first = plans[members[0]].pod;
      HelperPod hp;
      hp.namespace_ = first.namespace_;
      hp.node = first.node;
      hp.identity = first.identity;
      hp.read_only = true;
      hp.volume.CopyFrom(first.volume, hp.volume.GetAllocator());
      hp.mount_path = "/data";
      hp.extra_tolerations.SetArray();
      std::vector<std::string> names;
      hp.lifetime_seconds = 0;
      for (size_t j = 0; j < members.size(); ++j) {
        const PodPlan& pl = plans[members[j]];
        names.push_back(group[members[j]]->r.ref.display());
        hp.lifetime_seconds += pl.pod.lifetime_seconds;
        if (pl.pod.extra_tolerations.IsArray())
          for (const auto& t : pl.pod.extra_tolerations.GetArray()) {
            bool have = false;
            for (const auto& h : hp.extra_tolerations.GetArray()) have = have || h == t;
            if (!have) hp.extra_tolerations.PushBack(json::Value(t, hp.extra_tolerations.GetAllocator()),
                                                     hp.extra_tolerations.GetAllocator());
          }
        if (j == 0) continue;
        json::Document v;
        v.CopyFrom(pl.pod.volume, v.GetAllocator());
        hp.more_volumes.emplace_back(std::move(v), "/data-" + std::to_string(j));
      }
      hp.volume_label = util::join(names, ", ");
      const std::string what = std::to_string(members.size()) + " volumes of " + hp.namespace_ +
                               (hp.node.empty() ? std::string() : " on node " + hp.node);
      json::Document obj = helper_pod_object(hp, opt.settings.mover, temps);
      std::string pod_name;
      Result<json::Document> pod = interrupted() ? Result<json::Document>(unexpected(Errc::cancelled, "interrupted"))
                                                 : create_temporary(client, types::pods(), hp.namespace_, obj);
      if (pod) {
        pod_name = json::get_string(*pod, {"metadata", "name"});
        temps.add(types::pods(), hp.namespace_, pod_name);
        log("helper pod " + hp.namespace_ + "/" + pod_name + " takes " + what + " in turn (" + hp.volume_label +
            "), as " + hp.identity.describe());
        pod = wait_pod_running(client, hp.namespace_, pod_name, opt.settings.mover_start_timeout,
                               opt.settings.poll_interval, true);
      }
      const auto t_start = std::chrono::steady_clock::now();
      if (!pod) {
        if (!pod_name.empty()) (void)temps.remove(types::pods(), hp.namespace_, pod_name);
        if (!interrupted())
          log("one helper pod for " + what + " did not start (" + pod.error().message +
              "): each of them gets a pod of its own");
        for (size_t k : members) {
          if (interrupted()) {
            p_fail(*group[k], spent[k]);
            continue;
          }
          alone(k);
        }
      } else {
        const std::string node = json::get_string(*pod, {"spec", "nodeName"});
        auto slot = node_slot(node);
        Context in_pod = context(worker_repo, false);  // the pod holds the node's slot for all of them
        const double shared = since(t_start) / static_cast<double>(members.size());
        bool gone = false;
        std::vector<size_t> in_group, later;
        for (size_t j = 0; j < members.size(); ++j) {
          const size_t k = members[j];
          Planned& p = *group[k];
          if (interrupted()) {
            p_fail(p, spent[k]);
            continue;
          }
          if (gone) {
            later.push_back(k);
            continue;
          }
          in_group.push_back(k);
          const auto t0 = std::chrono::steady_clock::now();
          auto done = move_in_pod(p.job, in_pod, p.r, *pod, j == 0 ? "/data" : "/data-" + std::to_string(j),
                                  plans[k].live, p.r.decision.path);
          p.r.duration_seconds = spent[k] + shared + since(t0);
          if (!done && !interrupted()) {
            auto now = client.get(types::pods(), hp.namespace_, pod_name);
            gone = !now || json::at(*now, {"metadata", "deletionTimestamp"}) ||
                   json::get_string(*now, {"status", "phase"}) != "Running";
            if (gone && j + 1 < members.size())
              log("helper pod " + hp.namespace_ + "/" + pod_name + " is gone (" +
                  (now ? json::get_string(*now, {"status", "phase"}, "deleted") : now.error().message) + ") while it moved " +
                  p.r.ref.display() + ": the " + std::to_string(members.size() - j - 1) +
                  " volumes after it each get a pod of their own");
          }
          record(k, std::move(done));
        }
        slot.reset();
        VolumeResult sink;
        drop_pod(hp.namespace_, pod_name, in_group.empty() ? sink : group[in_group.front()]->r);
        for (size_t k : in_group)
          if (plans[k].release) {
            plans[k].release(ctx, group[k]->r);
            plans[k].release = nullptr;
          }
        for (size_t k : later) {  // after the slot is free: each takes one of its own
          if (interrupted()) p_fail(*group[k], spent[k]);
          else alone(k);
        }
      }
    }
    // A volume whose exec stream was cut is moved again from the start, in a pod of its own (as process() does).
    for (size_t k = 0; k < n; ++k) {
      if (!redo[k] || interrupted()) continue;
      Planned& p = *group[k];
      log(p.r.ref.display() + ": " + p.r.message + "; moving the volume again from the start (attempt 2 of " +
          std::to_string(k_move_attempts) + ")");
      p.final = false;
      p.r = p.gathered;
      p.start = std::chrono::steady_clock::now();
      take(p, worker_repo, nullptr, 2);
    }
  }

  void p_fail(Planned& p, double spent) {
    finish(p, VolumeResult::Outcome::failed, "interrupted");
    p.r.duration_seconds = spent;
  }

  void drop_pod(const std::string& ns, const std::string& name, VolumeResult& r) {
    if (auto d = temps.remove(types::pods(), ns, name); !d)
      r.warnings.push_back("could not delete Pod " + ns + "/" + name + " yet: " + d.error().message);
  }

  void moved(uint64_t n) {
    const uint64_t total = bytes_moved += n;
    if (!opt.progress || total - last_reported < (8u << 20)) return;
    std::lock_guard l(progress_mutex);
    last_reported = total;
    progress_state.bytes_done = total;
    opt.progress->update(progress_state);
  }
};

VolumeBackup::VolumeBackup(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}

VolumeBackup::~VolumeBackup() {
  if (m_impl) m_impl->temps.cleanup();
}

Result<std::unique_ptr<VolumeBackup>> VolumeBackup::start(kube::Client& client, storage::Backend& backend,
                                                          VolumeBackupOptions options) {
  auto impl = std::make_unique<Impl>(client, backend, std::move(options));
  impl->mover = impl->opt.mover ? impl->opt.mover
                                : std::shared_ptr<Mover>(make_mover(impl->exec_client, impl->opt.settings.mover, impl->opt.key));
  // An existing repository must open with this backup's key (or without one): say so before anything is done.
  KBK_ASSIGN_OR_RETURN(bool exists, repo::repository_exists(backend));
  if (exists) {
    repo::OpenOptions oo;
    oo.key = impl->opt.key;
    auto r = repo::Repository::open(backend, oo);
    if (!r) return std::move(r).error().wrap("volume-data repository in " + backend.display_url());
  }
  // What killed kbk runs of this host left behind.
  CleanupOptions co;
  co.dead_owners_only = true;
  if (auto swept = cleanup_leftovers(client, co)) {
    for (const auto& o : swept->removed)
      impl->log("removed " + o.type.kind + " " + (o.namespace_.empty() ? o.name : o.namespace_ + "/" + o.name) +
                " left by a kbk run that was killed");
  } else {
    log::info(1, "not sweeping leftovers of killed kbk runs: " + swept.error().message);
  }
  return std::unique_ptr<VolumeBackup>(new VolumeBackup(std::move(impl)));
}

std::vector<std::string> VolumeBackup::window_pods(const VolumeRef& ref) const {
  std::vector<std::string> out;
  const auto& w = m_impl->opt.windows;
  if (!w) return out;
  if (ref.kind == VolumeRef::Kind::pod_volume) {
    if (w->has(ref.namespace_ + "/" + ref.pod)) out.push_back(ref.namespace_ + "/" + ref.pod);
  } else {
    for (const auto& p : ref.pods)
      if (w->has(p) && std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::vector<size_t>> VolumeBackup::window_groups(const std::vector<VolumeRef>& volumes) const {
  std::vector<std::vector<size_t>> tasks;
  std::map<std::string, size_t> task_of_pod;
  for (size_t i = 0; i < volumes.size(); ++i) {
    const auto pods = window_pods(volumes[i]);
    std::optional<size_t> task;
    for (const auto& p : pods)
      if (auto it = task_of_pod.find(p); it != task_of_pod.end()) {
        if (!task) {
          task = it->second;
        } else if (*task != it->second) {  // two groups meet through this volume: merge them
          const size_t from = it->second;
          for (size_t v : tasks[from]) tasks[*task].push_back(v);
          tasks[from].clear();
          for (auto& [pod, t] : task_of_pod)
            if (t == from) t = *task;
        }
      }
    if (!task) {
      task = tasks.size();
      tasks.emplace_back();
    }
    tasks[*task].push_back(i);
    for (const auto& p : pods) task_of_pod[p] = *task;
  }
  std::erase_if(tasks, [](const std::vector<size_t>& t) { return t.empty(); });
  return tasks;
}

void VolumeBackup::run_window_group(const std::vector<VolumeRef>& volumes, const std::vector<size_t>& group,
                                    std::vector<VolumeResult>& results, std::unique_ptr<repo::Repository>& repo) {
  Impl& m = *m_impl;
  PodWindows& w = *m.opt.windows;
  std::map<std::string, int> remaining;
  std::map<std::string, std::string> open_error, close_error;
  for (size_t i : group)
    for (const auto& p : window_pods(volumes[i])) ++remaining[p];
  for (const auto& [pod, n] : remaining)
    if (auto o = w.open(pod); !o) open_error[pod] = o.error().message;
  std::mutex gm;
  // A volume is done for its windows once cut (or once it ended without a cut); the last one closes the window.
  auto release = [&](size_t i) {
    for (const auto& p : window_pods(volumes[i])) {
      {
        std::lock_guard l(gm);
        if (--remaining[p] > 0) continue;
      }
      if (auto c = w.close(p); !c) {
        std::lock_guard l(gm);
        close_error[p] = c.error().message;
      }
    }
  };
  auto take = [&](size_t i, std::unique_ptr<repo::Repository>& r) {
    const auto pods = window_pods(volumes[i]);
    for (const auto& p : pods)
      if (auto it = open_error.find(p); it != open_error.end()) {
        results[i].ref = volumes[i];
        results[i].outcome = VolumeResult::Outcome::failed;
        results[i].code = "HookFailed";
        results[i].message = "not taken: " + it->second;
        release(i);
        return;
      }
    std::atomic<bool> released{false};
    results[i] = m.process(volumes[i], r, [&]() -> Result<void> {
      Result<void> held;
      for (const auto& p : pods)
        if (auto h = w.held(p); !h && held) held = std::move(h);
      if (!released.exchange(true)) release(i);
      return held;
    });
    if (!released.exchange(true)) release(i);
  };
  if (group.size() == 1) {
    take(group[0], repo);
  } else {
    std::vector<std::thread> threads;
    for (size_t k = 1; k < group.size(); ++k)
      threads.emplace_back([&, k] {
        std::unique_ptr<repo::Repository> own;
        take(group[k], own);
      });
    take(group[0], repo);
    for (auto& t : threads) t.join();
  }
  for (size_t i : group) {
    VolumeResult& r = results[i];
    if (r.outcome == VolumeResult::Outcome::completed) {
      const bool csi = r.decision.path == PathKind::snapshot_move || r.decision.path == PathKind::snapshot;
      for (const auto& p : window_pods(volumes[i])) w.cut(p, volumes[i].display(), csi ? "csi-snapshot" : "copy");
    }
    for (const auto& p : window_pods(volumes[i]))
      if (auto it = close_error.find(p); it != close_error.end() && r.outcome == VolumeResult::Outcome::completed) {
        r.outcome = VolumeResult::Outcome::failed;
        r.code = "HookFailed";
        r.message = it->second;
      }
  }
}

std::vector<VolumeResult> VolumeBackup::run(const std::vector<VolumeRef>& volumes) {
  Impl& m = *m_impl;
  for (const auto& line : m.opt.settings.describe()) m.log(line);
  std::vector<VolumeResult> results(volumes.size());
  m.progress_state.phase = "volumes";
  m.progress_state.items_total = volumes.size();
  auto done_one = [&](size_t i) {
    m.log(describe(results[i]));
    if (m.opt.progress) {
      std::lock_guard l(m.progress_mutex);
      ++m.progress_state.items_done;
      if (results[i].outcome == VolumeResult::Outcome::failed) ++m.progress_state.errors;
      m.progress_state.current = volumes[i].display();
      m.progress_state.bytes_done = m.bytes_moved;
      m.opt.progress->update(m.progress_state);
    }
  };
  // Tasks: a volume alone, or the volumes of pods with windows, together (volumes sharing such a pod join).
  const std::vector<std::vector<size_t>> window_tasks = window_groups(volumes);
  const size_t workers = static_cast<size_t>(std::max(1, m.opt.settings.volume_workers));
  // Runs each(0..count) on up to `workers` threads, each with a repository of its own (opened on first use).
  auto in_pool = [&](size_t count, const std::function<void(size_t, std::unique_ptr<repo::Repository>&)>& each) {
    std::atomic<size_t> next{0};
    auto worker = [&] {
      std::unique_ptr<repo::Repository> repo;
      for (size_t t = next++; t < count; t = next++) each(t, repo);
    };
    std::vector<std::thread> pool;
    for (size_t w = 1; w < std::min(workers, count); ++w) pool.emplace_back(worker);
    if (count > 0) worker();
    for (auto& t : pool) t.join();
  };
  // Volumes without windows are gathered and decided first, so that those a helper pod of kbk's would take on the
  // same node, in the same namespace and as the same user share one pod (docs/mover.md section 7).
  std::vector<size_t> singles;
  for (const auto& t : window_tasks)
    if (t.size() == 1 && window_pods(volumes[t[0]]).empty()) singles.push_back(t[0]);
  std::vector<std::unique_ptr<Impl::Planned>> planned(volumes.size());
  in_pool(singles.size(), [&](size_t k, std::unique_ptr<repo::Repository>&) { planned[singles[k]] = m.prepare(volumes[singles[k]]); });
  struct Task {
    std::vector<size_t> volumes;
    bool window = false, pod_group = false;
  };
  std::vector<Task> tasks;
  std::map<std::string, std::vector<size_t>> by_pod;
  for (const auto& t : window_tasks) {
    if (!(t.size() == 1 && window_pods(volumes[t[0]]).empty())) {
      tasks.push_back({t, true, false});
      continue;
    }
    const std::string key = m.pod_key(*planned[t[0]]);
    if (key.empty()) tasks.push_back({t, false, false});
    else by_pod[key].push_back(t[0]);
  }
  // A node's slots (--per-node-workers) are its pods at once: a group is split into as many pods as it may run at
  // once there, and no pod mounts more than k_volumes_per_pod.
  const int per_node = m.opt.settings.per_node_workers;
  for (auto& [key, members] : by_pod) {
    size_t parts = per_node <= 0 ? workers : std::min(workers, static_cast<size_t>(per_node));
    parts = std::max({parts, size_t{1}, (members.size() + k_volumes_per_pod - 1) / k_volumes_per_pod});
    parts = std::min(parts, members.size());
    std::vector<std::vector<size_t>> split(parts);
    for (size_t j = 0; j < members.size(); ++j) split[j % parts].push_back(members[j]);
    for (auto& part : split) tasks.push_back({std::move(part), false, true});
  }
  in_pool(tasks.size(), [&](size_t t, std::unique_ptr<repo::Repository>& repo) {
    const Task& task = tasks[t];
    if (task.window) {
      run_window_group(volumes, task.volumes, results, repo);
    } else if (task.pod_group && task.volumes.size() > 1) {
      std::vector<Impl::Planned*> group;
      for (size_t i : task.volumes) group.push_back(planned[i].get());
      m.run_pod_group(group, repo);
      for (size_t i : task.volumes) results[i] = std::move(planned[i]->r);
    } else {
      const size_t i = task.volumes[0];
      Impl::Planned& p = *planned[i];
      results[i] = p.final ? std::move(p.r) : m.take(p, repo);
    }
    for (size_t i : task.volumes) done_one(i);
  });
  for (const auto& e : m.temps.cleanup()) m.log(e);
  if (m.opt.progress && !volumes.empty()) {
    m.progress_state.current.clear();
    m.opt.progress->finish(m.progress_state);
  }
  m.lock.reset();
  return results;
}

}  // namespace kbk::volume
