// The backup data paths (data_path.hpp).
#include <kbk/volume/data_path.hpp>

#include <chrono>
#include <optional>

#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::volume {

Job::Job() {
  claim.SetNull();
  pv.SetNull();
  pod_volume.SetNull();
}

namespace {

int64_t int_at(const json::Value* o, const char* key, int64_t def) {
  const json::Value* v = o ? json::find(*o, key) : nullptr;
  return v && v->IsInt64() ? v->GetInt64() : def;
}

}  // namespace

MoverIdentity backup_identity(const Job& job) {
  MoverIdentity id;
  if (job.pod_security != "restricted") return id;  // root_reader
  id.kind = MoverIdentity::Kind::user;
  for (const auto& use : job.uses) {
    const json::Value* psc = json::at(use.object, {"spec", "securityContext"});
    int64_t uid = int_at(psc, "runAsUser", -1), gid = int_at(psc, "runAsGroup", -1);
    // The container that mounts the volume may say otherwise.
    if (auto c = mounting_container(use.object, use.volume)) {
      const json::Value* cs = json::at(use.object, {"spec", "containers"});
      if (cs && cs->IsArray())
        for (const auto& ct : cs->GetArray())
          if (json::get_string(ct, {"name"}) == c->first) {
            const json::Value* csc = json::find(ct, "securityContext");
            uid = int_at(csc, "runAsUser", uid);
            gid = int_at(csc, "runAsGroup", gid);
          }
    }
    if (uid > 0) {
      id.uid = uid;
      id.gid = gid >= 0 ? gid : uid;
      if (const json::Value* sg = psc ? json::find(*psc, "supplementalGroups") : nullptr; sg && sg->IsArray())
        for (const auto& g : sg->GetArray())
          if (g.IsInt64()) id.supplemental_groups.push_back(g.GetInt64());
      if (int64_t fs = int_at(psc, "fsGroup", -1); fs >= 0) id.supplemental_groups.push_back(fs);
      break;
    }
  }
  return id;
}

std::optional<std::pair<std::string, std::string>> mounting_container(const json::Value& pod, const std::string& name) {
  const json::Value* cs = json::at(pod, {"spec", "containers"});
  if (!cs || !cs->IsArray()) return std::nullopt;
  for (const auto& c : cs->GetArray()) {
    const json::Value* mounts = json::find(c, "volumeMounts");
    if (!mounts || !mounts->IsArray()) continue;
    for (const auto& m : mounts->GetArray())
      if (json::get_string(m, {"name"}) == name && json::get_string(m, {"subPath"}).empty() &&
          json::get_string(m, {"subPathExpr"}).empty())
        return std::make_pair(json::get_string(c, {"name"}), json::get_string(m, {"mountPath"}));
  }
  return std::nullopt;
}

namespace {

SnapshotLabels labels_for(const Job& job, const Context& ctx, PathKind path) {
  SnapshotLabels l;
  l.name = job.ref.display();
  l.backup = ctx.backup_name;
  l.tags = {{"namespace", job.ref.namespace_}, {"path", path_name(path)}};
  if (job.ref.kind == VolumeRef::Kind::claim) l.tags.emplace_back("claim", job.ref.claim);
  else {
    l.tags.emplace_back("pod", job.ref.pod);
    l.tags.emplace_back("volume", job.ref.pod_volume);
  }
  return l;
}

void fill(VolumeResult& r, const MoveStats& s) {
  r.repository_snapshot = s.snapshot;
  r.bytes = s.bytes;
  r.files = s.files;
  r.stream_bytes = s.stream_bytes;
  r.new_bytes = s.new_bytes;
  r.stored_bytes = s.stored_bytes;
  r.bytes_read_in_pod = s.bytes_read_in_pod;
  r.bytes_through_host = s.bytes_through_host;
  r.bytes_uploaded = s.bytes_uploaded;
  r.bundle_bytes = s.bundle_bytes;
  r.unchanged_by = s.unchanged_by;
  r.mover_kind = s.kind;
  r.root = s.root;
  r.warnings.insert(r.warnings.end(), s.warnings.begin(), s.warnings.end());
}

// Deletes one temporary now; a failure is left to the final cleanup and noted.
void drop(Context& ctx, const kube::ResourceType& t, const std::string& ns, const std::string& name, VolumeResult& r) {
  if (auto d = ctx.temps.remove(t, ns, name); !d)
    r.warnings.push_back("could not delete " + t.kind + " " + ns + "/" + name + " yet: " + d.error().message);
}

}  // namespace

Result<PodPlan> DataPath::plan(const Job&, Context&, VolumeResult&) {
  return unexpected(Errc::internal_error, std::string("the ") + path_name(kind()) + " path has no helper pod to plan");
}

Result<void> move_in_pod(const Job& job, Context& ctx, VolumeResult& r, const json::Value& pod, const std::string& path,
                         Live live, PathKind kind) {
  const std::string ns = json::get_string(pod, {"metadata", "namespace"});
  const std::string name = json::get_string(pod, {"metadata", "name"});
  r.node = json::get_string(pod, {"spec", "nodeName"});
  r.mover = ns + "/" + name;
  auto slot = ctx.node_slot(r.node);
  const auto t0 = std::chrono::steady_clock::now();
  KBK_ASSIGN_OR_RETURN(repo::Repository * repo, ctx.repository());
  log::info(2, "volume-data repository ready for " + job.ref.display() + " after " +
                   util::human_duration(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()));
  MoverTarget target{ns, name, k_mover_container, path};
  auto stats = ctx.mover.backup(target, *repo, labels_for(job, ctx, kind), live, ctx.on_bytes);
  if (!stats) {
    // "the remote command has ended" says little when the pod itself went (a drain, a kubectl delete): say so.
    if (!interrupted())
      if (std::string why = pod_gone(ctx.client, ns, name); !why.empty())
        return std::move(stats).error().wrap("helper pod " + ns + "/" + name + " was " + why);
    return std::move(stats).error();
  }
  fill(r, *stats);
  return {};
}

Result<void> move_with_own_pod(const Job& job, Context& ctx, VolumeResult& r, PodPlan& plan, PathKind kind) {
  const auto& s = ctx.settings;
  auto pod = start_helper_pod(ctx.client, ctx.temps, plan.pod, s.mover, s.mover_start_timeout, s.poll_interval);
  Result<void> moved;
  if (pod) {
    moved = move_in_pod(job, ctx, r, *pod, plan.pod.mount_path, plan.live, kind);
    drop(ctx, types::pods(), plan.pod.namespace_, json::get_string(*pod, {"metadata", "name"}), r);
  } else {
    moved = std::move(pod).error();
  }
  if (plan.release) plan.release(ctx, r);
  return moved;
}

namespace {

class SnapshotMovePath final : public DataPath {
public:
  PathKind kind() const override { return PathKind::snapshot_move; }
  Result<void> backup(const Job& job, Context& ctx, VolumeResult& r) override {
    KBK_ASSIGN_OR_RETURN(PodPlan p, plan(job, ctx, r));
    return move_with_own_pod(job, ctx, r, p, kind());
  }
  bool plans() const override { return true; }
  Result<PodPlan> plan(const Job& job, Context& ctx, VolumeResult& r) override {
    const auto& s = ctx.settings;
    const std::string& ns = job.ref.namespace_;
    KBK_ASSIGN_OR_RETURN(TakenSnapshot snap, take_snapshot(ctx.client, ctx.temps, ns, job.ref.claim, job.snapshot_class,
                                                           s.csi_snapshot_timeout, s.poll_interval, ctx.cut));
    r.csi = snap.csi;
    // --mover-namespace: the snapshot re-bound into kbk's own namespace (Velero's data mover), where the claim from
    // it and a root mover read it whatever the volume's namespace enforces.
    std::optional<TakenSnapshot> rebound;
    if (!s.mover.namespace_.empty()) {
      KBK_TRY(ensure_mover_namespace(ctx.client, s.mover.namespace_, [](const std::string& l) { log::info(1, l); }));
      KBK_ASSIGN_OR_RETURN(rebound, rebind_snapshot(ctx.client, ctx.temps, snap, s.mover.namespace_, job.ref.display(),
                                                    s.csi_snapshot_timeout, s.poll_interval));
    }
    const TakenSnapshot& source = rebound ? *rebound : snap;
    const std::string& mover_ns = source.namespace_;  // the temporary claim's and the helper pod's
    // A temporary claim from the snapshot, of the claim's class and size.
    json::Document tmp;
    tmp.SetObject();
    auto& a = tmp.GetAllocator();
    json::set(tmp, "apiVersion", json::make_string("v1", a), a);
    json::set(tmp, "kind", json::make_string("PersistentVolumeClaim", a), a);
    json::Value& md = json::ensure_object(tmp, "metadata", a);
    std::string prefix = "kbk-" + job.ref.claim;
    if (prefix.size() > 40) prefix.resize(40);
    while (!prefix.empty() && (prefix.back() == '-' || prefix.back() == '.')) prefix.pop_back();
    json::set(md, "generateName", json::make_string(prefix + "-", a), a);
    json::set(md, "namespace", json::make_string(mover_ns, a), a);
    ctx.temps.stamp(tmp, a, job.ref.display());
    json::Value& spec = json::ensure_object(tmp, "spec", a);
    const std::string cls = json::get_string(job.claim, {"spec", "storageClassName"});
    if (!cls.empty()) json::set(spec, "storageClassName", json::make_string(cls, a), a);
    json::Value modes(rapidjson::kArrayType);
    modes.PushBack(json::make_string("ReadWriteOnce", a), a);
    json::set(spec, "accessModes", std::move(modes), a);
    const std::string mode = json::get_string(job.claim, {"spec", "volumeMode"});
    if (!mode.empty()) json::set(spec, "volumeMode", json::make_string(mode, a), a);
    std::string size = snap.csi.restore_size;
    if (size.empty() || size == "0") size = json::get_string(job.claim, {"status", "capacity", "storage"});
    if (size.empty()) size = json::get_string(job.claim, {"spec", "resources", "requests", "storage"});
    json::set(json::ensure_object(json::ensure_object(spec, "resources", a), "requests", a), "storage",
              json::make_string(size, a), a);
    json::Value& src = json::ensure_object(spec, "dataSource", a);
    json::set(src, "apiGroup", json::make_string("snapshot.storage.k8s.io", a), a);
    json::set(src, "kind", json::make_string("VolumeSnapshot", a), a);
    json::set(src, "name", json::make_string(source.name, a), a);
    auto created = create_temporary(ctx.client, types::claims(), mover_ns, tmp);
    if (!created)
      return std::move(created).error().wrap("creating a claim from VolumeSnapshot " + mover_ns + "/" + source.name);
    const std::string tmp_name = json::get_string(*created, {"metadata", "name"});
    ctx.temps.add(types::claims(), mover_ns, tmp_name);

    PodPlan p;
    HelperPod& hp = p.pod;
    hp.namespace_ = mover_ns;
    hp.volume_label = job.ref.display();
    hp.volume = *json::parse(R"({"persistentVolumeClaim":{"claimName":")" + tmp_name + R"(","readOnly":true}})");
    // In kbk's own namespace (baseline) the mover reads as root, whatever the volume's namespace enforces.
    if (rebound) hp.identity.kind = MoverIdentity::Kind::root_reader;
    else hp.identity = backup_identity(job);
    hp.lifetime_seconds = s.volume_timeout;
    p.live = Live::no;
    p.release = [mover_ns, tmp_name, rebound, ns, snap_name = snap.name](Context& c, VolumeResult& res) {
      drop(c, types::claims(), mover_ns, tmp_name, res);
      if (rebound) {  // the re-bound objects go without the storage's snapshot, which the volume's snapshot takes along
        drop(c, types::snapshots(), mover_ns, rebound->name, res);
        drop(c, types::snapshot_contents(), "", rebound->content, res);
      }
      drop(c, types::snapshots(), ns, snap_name, res);
    };
    return p;
  }
};

class FsBackupPath final : public DataPath {
public:
  PathKind kind() const override { return PathKind::fs_backup; }
  Result<void> backup(const Job& job, Context& ctx, VolumeResult& r) override {
    KBK_ASSIGN_OR_RETURN(PodPlan p, plan(job, ctx, r));
    return move_with_own_pod(job, ctx, r, p, kind());
  }
  bool plans() const override { return true; }
  Result<PodPlan> plan(const Job& job, Context& ctx, VolumeResult&) override {
    const auto& s = ctx.settings;
    PodPlan p;
    HelperPod& hp = p.pod;
    hp.namespace_ = job.ref.namespace_;
    hp.volume_label = job.ref.display();
    hp.identity = backup_identity(job);
    hp.lifetime_seconds = s.volume_timeout;
    const Job::Use* use = job.uses.empty() ? nullptr : &job.uses.front();
    if (job.ref.kind == VolumeRef::Kind::claim) {
      hp.volume = *json::parse(R"({"persistentVolumeClaim":{"claimName":")" + job.ref.claim + R"(","readOnly":true}})");
      // A ReadWriteOnce claim in use can be mounted a second time only on the node that has it.
      if (use) hp.node = use->node;
    } else {
      hp.volume.CopyFrom(job.pod_volume, hp.volume.GetAllocator());
      if (use) hp.node = use->node;  // hostPath is the node's; nfs is anywhere, but the workload's node can reach it
    }
    if (use) {
      if (const json::Value* t = json::at(use->object, {"spec", "tolerations"}); t && t->IsArray())
        hp.extra_tolerations.CopyFrom(*t, hp.extra_tolerations.GetAllocator());
    }
    p.live = Live::yes;
    return p;
  }
};

class WorkloadPath final : public DataPath {
public:
  PathKind kind() const override { return PathKind::fs_backup_workload; }
  Result<void> backup(const Job& job, Context& ctx, VolumeResult& r) override {
    std::optional<MoverTarget> target;
    for (const auto& use : job.uses) {
      if (auto c = mounting_container(use.object, use.volume)) {
        target = MoverTarget{job.ref.namespace_, use.pod, c->first, c->second};
        r.node = use.node;
        break;
      }
    }
    if (!target)
      return unexpected(Errc::precondition, job.uses.empty()
                                                ? "no running pod mounts it, so no workload can be read (drop "
                                                  "--fs-backup-via-workload to use a helper pod)"
                                                : "no container of pod " + job.ref.namespace_ + "/" + job.uses[0].pod +
                                                      " mounts it whole (only through subPath)");
    r.mover = target->namespace_ + "/" + target->pod;
    auto slot = ctx.node_slot(r.node);
    KBK_ASSIGN_OR_RETURN(repo::Repository * repo, ctx.repository());
    KBK_ASSIGN_OR_RETURN(MoveStats stats,
                         ctx.mover.backup(*target, *repo, labels_for(job, ctx, kind()), Live::yes, ctx.on_bytes));
    fill(r, stats);
    return {};
  }
};

class SnapshotOnlyPath final : public DataPath {
public:
  PathKind kind() const override { return PathKind::snapshot; }
  Result<void> backup(const Job& job, Context& ctx, VolumeResult& r) override {
    const auto& s = ctx.settings;
    const std::string& ns = job.ref.namespace_;
    KBK_ASSIGN_OR_RETURN(TakenSnapshot snap, take_snapshot(ctx.client, ctx.temps, ns, job.ref.claim, job.snapshot_class,
                                                           s.csi_snapshot_timeout, s.poll_interval, ctx.cut));
    // The storage keeps the snapshot: its content is Retain, and the API objects go (a restore makes new ones from
    // the handle, as Velero's CSI restore does).
    auto retain = ctx.client.patch(types::snapshot_contents(), "", snap.content, kube::PatchType::merge,
                                   R"({"spec":{"deletionPolicy":"Retain"}})", {});
    if (!retain) return std::move(retain).error().wrap("keeping VolumeSnapshotContent " + snap.content);
    r.csi = snap.csi;
    ctx.temps.forget(types::snapshots(), ns, snap.name);
    kube::DeleteOptions del;
    if (auto d = ctx.client.remove(types::snapshots(), ns, snap.name, del); !d && !d.error().is(Errc::not_found))
      r.warnings.push_back("could not delete VolumeSnapshot " + ns + "/" + snap.name + ": " + d.error().message);
    if (auto d = ctx.client.remove(types::snapshot_contents(), "", snap.content, del); !d && !d.error().is(Errc::not_found))
      r.warnings.push_back("could not delete VolumeSnapshotContent " + snap.content + ": " + d.error().message);
    return {};
  }
};

}  // namespace

std::unique_ptr<DataPath> make_data_path(PathKind kind) {
  switch (kind) {
    case PathKind::snapshot_move: return std::make_unique<SnapshotMovePath>();
    case PathKind::fs_backup: return std::make_unique<FsBackupPath>();
    case PathKind::fs_backup_workload: return std::make_unique<WorkloadPath>();
    case PathKind::snapshot: return std::make_unique<SnapshotOnlyPath>();
    case PathKind::none: return nullptr;
  }
  return nullptr;
}

}  // namespace kbk::volume
