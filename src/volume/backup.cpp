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
    KBK_ASSIGN_OR_RETURN(auto r, repo::Repository::open(backend, oo));
    KBK_TRY(r->load_index());
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

  // cut (may be null): the volume's windows, told when its data is cut; an error there fails the volume.
  VolumeResult process(const VolumeRef& ref, std::unique_ptr<repo::Repository>& worker_repo,
                       const std::function<Result<void>()>& cut = nullptr) {
    const auto start = std::chrono::steady_clock::now();
    VolumeResult r;
    r.ref = ref;
    auto finish = [&](VolumeResult::Outcome o, std::string message) {
      r.outcome = o;
      r.message = std::move(message);
      r.duration_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return r;
    };
    if (interrupted()) return finish(VolumeResult::Outcome::failed, "interrupted");
    Job job;
    job.ref = ref;
    DecisionInput in;
    std::vector<json::Document> backed_up_pods;
    backed_up_pods.reserve(ref.pods.size() + 1);
    if (auto g = gather(job, r, in, backed_up_pods); !g) {
      if (g.error().is(Errc::not_found)) return finish(VolumeResult::Outcome::skipped, g.error().message);
      return finish(VolumeResult::Outcome::failed, g.error().message);
    }
    if (ref.kind == VolumeRef::Kind::claim && json::get_string(job.claim, {"status", "phase"}) != "Bound") {
      r.code = "NotBound";
      r.decision.reason = "the claim is " + json::get_string(job.claim, {"status", "phase"}, "Pending") +
                          ": no volume holds data yet";
      return finish(VolumeResult::Outcome::skipped, r.decision.reason);
    }
    r.decision = decide(in, opt.settings);
    job.decision = r.decision;
    if (r.decision.path == PathKind::none) {
      if (r.decision.warning)
        r.code = r.decision.source == Decision::Source::policy && r.decision.reason.find("custom") != std::string::npos
                     ? "CustomAction"
                     : "NoSnapshotClass";
      return finish(VolumeResult::Outcome::skipped, r.decision.reason);
    }
    auto path = opt.make_path ? opt.make_path(r.decision.path) : make_data_path(r.decision.path);
    if (!path) return finish(VolumeResult::Outcome::failed, std::string("no data path ") + path_name(r.decision.path));
    Context ctx{client, temps, opt.settings, *mover, opt.backup_name,
                [&]() -> Result<repo::Repository*> {
                  if (!worker_repo) {
                    KBK_ASSIGN_OR_RETURN(worker_repo, open_worker_repository());
                  }
                  return worker_repo.get();
                },
                [this](const std::string& node) { return node_slot(node); },
                [this](uint64_t n) { moved(n); },
                nullptr};
    std::optional<Result<void>> cut_result;
    std::mutex cut_mutex;
    ctx.cut = [&] {
      std::lock_guard l(cut_mutex);
      if (!cut_result) cut_result = cut ? cut() : Result<void>();
    };
    log(ref.display() + ": " + path_name(r.decision.path) + " (" + r.decision.reason + ")");
    Result<void> done;
    for (int attempt = 1;; ++attempt) {
      done = path->backup(job, ctx, r);
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
      return finish(VolumeResult::Outcome::failed, cut_result->error().message);
    }
    if (!done) {
      // Blobs this worker's repository marked as being stored may never have been: start it afresh.
      worker_repo.reset();
      return finish(VolumeResult::Outcome::failed, interrupted() ? "interrupted" : done.error().message);
    }
    return finish(VolumeResult::Outcome::completed, "");
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
  const std::vector<std::vector<size_t>> tasks = window_groups(volumes);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    std::unique_ptr<repo::Repository> repo;
    for (size_t t = next++; t < tasks.size(); t = next++) {
      if (tasks[t].size() == 1 && window_pods(volumes[tasks[t][0]]).empty()) {
        const size_t i = tasks[t][0];
        results[i] = m.process(volumes[i], repo);
        done_one(i);
      } else {
        run_window_group(volumes, tasks[t], results, repo);
        for (size_t i : tasks[t]) done_one(i);
      }
    }
  };
  const size_t n = std::min<size_t>(static_cast<size_t>(std::max(1, m.opt.settings.volume_workers)), tasks.size());
  std::vector<std::thread> pool;
  for (size_t w = 1; w < n; ++w) pool.emplace_back(worker);
  if (n > 0) worker();
  for (auto& t : pool) t.join();
  for (const auto& e : m.temps.cleanup()) m.log(e);
  if (m.opt.progress && !volumes.empty()) {
    m.progress_state.current.clear();
    m.opt.progress->finish(m.progress_state);
  }
  m.lock.reset();
  return results;
}

}  // namespace kbk::volume
