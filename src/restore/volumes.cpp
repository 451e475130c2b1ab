// Volume data in a restore (volumes.hpp): the transform, the applier decorator and the preflight lines.
#include <kbk/restore/volumes.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include <kbk/archive/encryption.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/volume/policy.hpp>

namespace kbk::restore {

namespace {

bool has_data(const volume::VolumeResult& r) {
  return r.outcome == volume::VolumeResult::Outcome::completed && r.decision.path != volume::PathKind::none;
}

// A DNS-1123 name from a workload name and a volume name.
std::string claim_name(const std::string& workload, const std::string& volume) {
  std::string s = util::to_lower(workload + "-" + volume);
  for (char& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) c = '-';
  if (s.size() > 253) s.resize(253);
  while (!s.empty() && !std::isalnum(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

// The pod spec of a pod or a workload's template; nullptr for other kinds.
json::Value* pod_spec(json::Document& obj, const std::string& resource) {
  if (resource == "pods") return json::find(obj, "spec");
  if (resource == "cronjobs") return json::at(obj, {"spec", "jobTemplate", "spec", "template", "spec"});
  if (resource == "deployments" || resource == "statefulsets" || resource == "daemonsets" || resource == "replicasets" ||
      resource == "jobs" || resource == "replicationcontrollers")
    return json::at(obj, {"spec", "template", "spec"});
  return nullptr;
}

const char* kind_of(const std::string& resource) {
  static const std::map<std::string, const char*> k = {
      {"pods", "Pod"}, {"deployments", "Deployment"}, {"statefulsets", "StatefulSet"}, {"daemonsets", "DaemonSet"},
      {"replicasets", "ReplicaSet"}, {"jobs", "Job"}, {"cronjobs", "CronJob"},
      {"replicationcontrollers", "ReplicationController"}};
  auto it = k.find(resource);
  return it == k.end() ? "" : it->second;
}

// A claim's size for data of `bytes`: twice the data, at least 1Gi, in whole Gi.
std::string size_for(uint64_t bytes) {
  const double gi = 1024.0 * 1024 * 1024;
  const uint64_t n = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(2.0 * static_cast<double>(bytes) / gi)));
  return std::to_string(n) + "Gi";
}

}  // namespace

struct VolumeData::Impl {
  VolumeDataOptions options;
  std::map<std::string, const volume::VolumeResult*> claims;   // "ns/claim" in the backup
  std::map<std::string, std::vector<const volume::VolumeResult*>> by_workload;  // "ns/Kind/name"
  mutable std::mutex mutex;
  std::map<std::string, volume::RestoreTarget> targets;        // "ns/claim" in the target
  std::vector<volume::VolumeRestoreResult> results;
  std::set<std::string> adopted;                               // target "ns/claim" of adopted volumes
  volume::VolumeRestore* restore = nullptr;                    // set by wrap(), owned by the applier
  std::vector<volume::RestoreTarget> frozen;                   // the targets once planned (prepare())

  void add_target(volume::RestoreTarget t) {
    std::lock_guard l(mutex);
    const std::string key = t.display();
    if (!targets.count(key)) targets.emplace(key, std::move(t));
  }
};

Result<std::shared_ptr<VolumeData>> VolumeData::from_manifest(const json::Value& manifest, VolumeDataOptions options) {
  auto vd = std::make_shared<VolumeData>();
  KBK_ASSIGN_OR_RETURN(vd->m_records, volume::volumes_of_manifest(manifest));
  vd->m_options = options;
  vd->m_impl = std::make_shared<Impl>();
  vd->m_impl->options = std::move(options);
  for (const auto& r : vd->m_records) {
    if (!has_data(r)) continue;
    if (r.ref.kind == volume::VolumeRef::Kind::claim) {
      vd->m_impl->claims[r.ref.namespace_ + "/" + r.ref.claim] = &r;
    } else if (vd->m_impl->options.settings.volume_type_mappings.count(r.source_type) &&
               r.decision.path != volume::PathKind::snapshot) {
      const std::string workload = r.workload.empty() ? "Pod/" + r.ref.pod : r.workload;
      vd->m_impl->by_workload[r.ref.namespace_ + "/" + workload].push_back(&r);
    }
  }
  return vd;
}

bool VolumeData::empty() const {
  return m_impl->claims.empty() && m_impl->by_workload.empty() && m_options.settings.pv_driver_mappings.empty();
}

std::function<bool(const json::Value& pv)> VolumeData::keep_pv() const {
  auto drivers = m_options.settings.pv_driver_mappings;
  return [drivers](const json::Value& pv) { return drivers.count(json::get_string(pv, {"spec", "csi", "driver"})) > 0; };
}

void VolumeData::attach(PlanOptions& options) {
  options.transforms.push_back(transform());
  options.keep_pv = keep_pv();
}

std::vector<volume::RestoreTarget> VolumeData::targets() const {
  std::lock_guard l(m_impl->mutex);
  std::vector<volume::RestoreTarget> out;
  for (const auto& [k, t] : m_impl->targets) out.push_back(t);
  return out;
}

std::vector<volume::VolumeRestoreResult> VolumeData::results() const {
  std::lock_guard l(m_impl->mutex);
  return m_impl->results;
}

// ---- the transform --------------------------------------------------------------------------------------------------

namespace {

class VolumeTransform final : public Transform {
public:
  explicit VolumeTransform(std::shared_ptr<VolumeData::Impl> impl) : m(std::move(impl)) {}
  std::string name() const override { return "volume data"; }

  Result<TransformOutcome> apply(const TransformContext& ctx, json::Document& obj) override {
    TransformOutcome out;
    if (!ctx.group.empty() && ctx.group != "apps" && ctx.group != "batch") return out;
    if (ctx.group.empty() && ctx.resource == "persistentvolumeclaims") return claim(ctx, obj);
    if (ctx.group.empty() && ctx.resource == "persistentvolumes") return volume(ctx, obj);
    if (!m->by_workload.empty()) return workload(ctx, obj);
    return out;
  }

private:
  void note(const TransformContext& ctx, const std::string& line) {
    if (ctx.notes) ctx.notes->push_back(line);
  }

  const std::map<std::string, std::string>& drivers() const { return m->options.settings.pv_driver_mappings; }

  Result<TransformOutcome> claim(const TransformContext& ctx, json::Document& obj) {
    TransformOutcome out;
    auto it = m->claims.find(ctx.original_namespace + "/" + ctx.name);
    if (it == m->claims.end()) return out;
    const volume::VolumeResult& r = *it->second;
    auto& a = obj.GetAllocator();
    json::Value& spec = json::ensure_object(obj, "spec", a);
    volume::RestoreTarget t;
    t.namespace_ = ctx.target_namespace;
    t.claim = ctx.name;
    t.record = r;
    if (drivers().count(r.driver) && !json::get_string(obj, {"spec", "volumeName"}).empty()) {
      // Its volume is adopted under the new driver: bound to the same handle, nothing to move.
      note(ctx, "volume adopted under driver " + drivers().at(r.driver) + " (--pv-driver-mappings): its data stays");
      std::lock_guard l(m->mutex);
      m->adopted.insert(t.display());
      return out;
    }
    for (const char* k : {"volumeName", "dataSource", "dataSourceRef"})
      if (json::erase(spec, k) && std::string(k) == "volumeName") note(ctx, "spec.volumeName removed (a new volume gets the data)");
    if (r.decision.path == volume::PathKind::snapshot && r.csi) {
      const std::string vs = volume::snapshot_object_name(m->options.restore_name, ctx.target_namespace, ctx.name);
      json::Value& src = json::ensure_object(spec, "dataSource", a);
      json::set(src, "apiGroup", json::make_string("snapshot.storage.k8s.io", a), a);
      json::set(src, "kind", json::make_string("VolumeSnapshot", a), a);
      json::set(src, "name", json::make_string(vs, a), a);
      note(ctx, "spec.dataSource: VolumeSnapshot " + vs + " of snapshot handle " + r.csi->snapshot_handle);
    } else {
      note(ctx, "data from repository snapshot " + r.repository_snapshot.substr(0, 8) + " (" +
                    volume::path_name(r.decision.path) + ")");
      json::Value& md = json::ensure_object(obj, "metadata", a);
      json::set(json::ensure_object(md, "annotations", a), volume::k_annotation_data_pending,
                json::make_string(r.repository_snapshot, a), a);
      if (!m->options.settings.mover.namespace_.empty()) {
        // Not provisioned: it waits for the volume filled in the mover namespace, labelled for this selector.
        const std::string id = volume::snapshot_object_name(m->options.restore_name, ctx.target_namespace, ctx.name);
        json::Value sel(rapidjson::kObjectType);
        json::set(json::ensure_object(sel, "matchLabels", a), volume::k_label_restore_volume, json::make_string(id, a), a);
        json::set(spec, "selector", std::move(sel), a);
        note(ctx, "spec.selector " + std::string(volume::k_label_restore_volume) + "=" + id +
                      " (its volume is filled in mover namespace " + m->options.settings.mover.namespace_ + ")");
      }
    }
    if (const json::Value* modes = json::at(obj, {"spec", "accessModes"}); modes && modes->IsArray())
      for (const auto& mode : modes->GetArray())
        if (mode.IsString()) t.access_modes.emplace_back(mode.GetString(), mode.GetStringLength());
    t.storage_class = json::get_string(obj, {"spec", "storageClassName"});
    t.size = json::get_string(obj, {"spec", "resources", "requests", "storage"});
    m->add_target(std::move(t));
    return out;
  }

  Result<TransformOutcome> volume(const TransformContext& ctx, json::Document& obj) {
    TransformOutcome out;
    const std::string driver = json::get_string(obj, {"spec", "csi", "driver"});
    if (auto d = drivers().find(driver); d != drivers().end()) {
      json::set(*json::at(obj, {"spec", "csi"}), "driver", json::make_string(d->second, obj.GetAllocator()), obj.GetAllocator());
      note(ctx, "spec.csi.driver " + driver + " -> " + d->second + " (--pv-driver-mappings; the volume handle is kept)");
      return out;
    }
    const std::string key = json::get_string(obj, {"spec", "claimRef", "namespace"}) + "/" +
                            json::get_string(obj, {"spec", "claimRef", "name"});
    if (m->claims.count(key)) {
      out.skip = true;
      out.skip_message = "the data of claim " + key + " is restored into a new volume";
    }
    return out;
  }

  Result<TransformOutcome> workload(const TransformContext& ctx, json::Document& obj) {
    TransformOutcome out;
    const char* kind = kind_of(ctx.resource);
    if (!*kind) return out;
    auto it = m->by_workload.find(ctx.original_namespace + "/" + kind + "/" + ctx.name);
    if (it == m->by_workload.end()) return out;
    json::Value* spec = pod_spec(obj, ctx.resource);
    json::Value* vols = spec ? json::find(*spec, "volumes") : nullptr;
    if (!vols || !vols->IsArray()) return out;
    auto& a = obj.GetAllocator();
    for (auto& v : vols->GetArray()) {
      const std::string vname = json::get_string(v, {"name"});
      const std::string type = volume::volume_type_of_pod_volume(v);
      auto mapped = m->options.settings.volume_type_mappings.find(type);
      if (mapped == m->options.settings.volume_type_mappings.end()) continue;
      const volume::VolumeResult* rec = nullptr;
      for (const auto* r : it->second)
        if (r->ref.pod_volume == vname) rec = r;
      if (!rec) continue;
      const std::string cname = claim_name(ctx.name, vname);
      json::Value repl(rapidjson::kObjectType);
      json::set(repl, "name", json::make_string(vname, a), a);
      json::set(json::ensure_object(repl, "persistentVolumeClaim", a), "claimName", json::make_string(cname, a), a);
      v.Swap(repl);
      out.changed = true;
      note(ctx, "volume " + vname + " (" + type + ") -> claim " + cname + " of class " + mapped->second +
                    " (--volume-type-mappings; data from repository snapshot " + rec->repository_snapshot.substr(0, 8) + ")");
      volume::RestoreTarget t;
      t.namespace_ = ctx.target_namespace;
      t.claim = cname;
      std::string cls = mapped->second;
      if (auto sc = m->options.storage_class_mappings.find(cls); sc != m->options.storage_class_mappings.end()) cls = sc->second;
      t.storage_class = cls;
      t.size = size_for(rec->bytes);
      t.record = *rec;
      t.converted = true;
      m->add_target(std::move(t));
    }
    return out;
  }

  std::shared_ptr<VolumeData::Impl> m;
};

// ---- the applier ------------------------------------------------------------------------------------------------------

class VolumeApplier final : public Applier {
public:
  VolumeApplier(std::unique_ptr<Applier> inner, std::unique_ptr<volume::VolumeRestore> restore,
                std::shared_ptr<VolumeData::Impl> impl)
      : m_inner(std::move(inner)), m_restore(std::move(restore)), m(std::move(impl)), m_targets(m->frozen) {
    m->restore = m_restore.get();
  }
  ~VolumeApplier() override { m->restore = nullptr; }

  std::string mode() const override { return m_inner->mode(); }
  bool dry_run() const override { return m_inner->dry_run(); }
  ItemResult apply(const PlannedItem& item) override { return m_inner->apply(item); }

  void before_tier(Tier t) override {
    m_inner->before_tier(t);
    if (t >= Tier::persistent_volume_claims && !m_snapshots_done) {
      m_snapshots_done = true;
      m_targets = m->frozen;
      for (auto& r : m_restore->prepare_snapshots(m_targets)) record(std::move(r));
    }
    if (t > Tier::persistent_volume_claims) run();
  }

  void end_tier(Tier t, const std::vector<const PlannedItem*>& items, std::vector<ItemResult*>& results) override {
    m_inner->end_tier(t, items, results);
    if (t != Tier::persistent_volume_claims) return;
    for (size_t i = 0; i < items.size(); ++i)
      if (items[i]->group.empty() && items[i]->resource == "persistentvolumeclaims")
        m_claim_results[items[i]->target_namespace + "/" + items[i]->target_name] = results[i];
    run();
  }

  void finish() override {
    m_inner->finish();
    run();
  }

private:
  void record(volume::VolumeRestoreResult r) {
    std::lock_guard l(m->mutex);
    m->results.push_back(std::move(r));
  }

  void run() {
    if (m_ran) return;
    m_ran = true;
    m_targets = m->frozen;
    std::vector<volume::RestoreTarget> todo;
    std::set<std::string> failed_before;
    {
      std::lock_guard l(m->mutex);
      for (const auto& r : m->results) failed_before.insert(r.namespace_ + "/" + r.claim);
      for (const auto& a : m->adopted) {
        volume::VolumeRestoreResult r;
        auto slash = a.find('/');
        r.namespace_ = a.substr(0, slash);
        r.claim = a.substr(slash + 1);
        r.outcome = volume::VolumeRestoreResult::Outcome::restored;
        r.reason = "VolumeAdopted";
        r.message = "the volume is adopted by its handle under the mapped driver (--pv-driver-mappings)";
        m->results.push_back(std::move(r));
      }
    }
    for (const auto& t : m_targets) {
      const std::string key = t.display();
      if (failed_before.count(key)) continue;
      if (!t.converted) {
        auto it = m_claim_results.find(key);
        if (it == m_claim_results.end()) continue;  // not applied (no claims tier ran)
        ItemResult* res = it->second;
        if (res->outcome != Outcome::created && m_restore->data_pending(t)) {
          // Left by a restore of this data that was killed or failed. No pod uses it: its data is written again
          // (whole files). A pod does: nothing is written under it, the volume fails with the way out.
          const auto users = m_restore->claim_users(t);
          if (users && users->empty()) {
            log::info(1, "volume " + key + ": the claim was left by an earlier restore of this data before its "
                         "data was in (annotation " + volume::k_annotation_data_pending + "): writing its data again");
            todo.push_back(t);
            continue;
          }
          volume::VolumeRestoreResult r = volume::base_result(t);
          r.outcome = volume::VolumeRestoreResult::Outcome::failed;
          r.reason = "DataPending";
          r.message = users ? "an earlier restore left the claim before its data was in, and pod " + users->front() +
                                  " uses it now: its data is not written under a running pod (delete the claim and "
                                  "the pods that use it, then restore again)"
                            : "an earlier restore left the claim before its data was in, and whether a pod uses it "
                              "cannot be told (" + users.error().message + "): its data is not written";
          log::warning("volume " + key + ": " + r.message);
          res->outcome = Outcome::failed;
          res->reason = "VolumeDataFailed";
          res->message = r.message;
          record(std::move(r));
          continue;
        }
        if (res->outcome != Outcome::created) {
          volume::VolumeRestoreResult r = volume::base_result(t);
          r.outcome = volume::VolumeRestoreResult::Outcome::skipped;
          r.reason = "NotCreated";
          r.message = std::string("the claim was ") + outcome_name(res->outcome) + " (" + res->reason +
                      "): its data is left as it is";
          record(std::move(r));
          continue;
        }
      }
      todo.push_back(t);
    }
    for (auto& r : m_restore->fill(todo)) {
      if (r.outcome == volume::VolumeRestoreResult::Outcome::failed) {
        log::warning("volume " + r.namespace_ + "/" + r.claim + ": " + r.message);
        if (auto it = m_claim_results.find(r.namespace_ + "/" + r.claim); it != m_claim_results.end()) {
          it->second->outcome = Outcome::failed;
          it->second->reason = "VolumeDataFailed";
          it->second->message = "claim created, its data was not restored: " + r.message;
        }
      }
      record(std::move(r));
    }
  }

  std::unique_ptr<Applier> m_inner;
  std::unique_ptr<volume::VolumeRestore> m_restore;
  std::shared_ptr<VolumeData::Impl> m;
  std::vector<volume::RestoreTarget> m_targets;
  std::map<std::string, ItemResult*> m_claim_results;
  bool m_snapshots_done = false;
  bool m_ran = false;
};

}  // namespace

std::shared_ptr<Transform> VolumeData::transform() { return std::make_shared<VolumeTransform>(m_impl); }

Result<std::unique_ptr<Applier>> VolumeData::wrap(std::unique_ptr<Applier> inner, kube::Client& client,
                                                  storage::Backend& backend, const crypto::UserKey* key,
                                                  util::ProgressSink* progress) {
  volume::VolumeRestoreOptions vo;
  vo.restore_name = m_options.restore_name;
  vo.settings = m_options.settings;
  vo.key = key;
  vo.progress = progress;
  KBK_ASSIGN_OR_RETURN(auto vr, volume::VolumeRestore::start(client, backend, std::move(vo)));
  return std::unique_ptr<Applier>(std::make_unique<VolumeApplier>(std::move(inner), std::move(vr), m_impl));
}

Result<void> VolumeData::prepare() {
  m_impl->frozen = targets();
  if (!m_impl->restore) return {};
  return m_impl->restore->check(m_impl->frozen);
}

std::vector<std::string> VolumeData::preflight_lines() const {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& t : targets()) {
    const volume::VolumeResult& r = t.record;
    std::string line = t.display() + ": ";
    if (r.decision.path == volume::PathKind::snapshot) {
      line += "a new volume from snapshot handle " + (r.csi ? r.csi->snapshot_handle : "") + " (" +
              (r.csi ? r.csi->driver : "") + "; the storage must still hold it: same cluster and storage)";
    } else {
      line += "data from repository snapshot " + r.repository_snapshot.substr(0, 8) + " (" + volume::path_name(r.decision.path) +
              ", " + util::human_bytes(r.bytes) + " in " + std::to_string(r.files) + " files) into a new volume of class " +
              (t.storage_class.empty() ? "(default)" : t.storage_class);
      if (t.converted) line += ", converted from the " + r.source_type + " volume " + r.ref.display() + " (" + t.size + ")";
    }
    out.push_back(line);
    seen.insert(r.ref.display());
  }
  {
    std::lock_guard l(m_impl->mutex);
    for (const auto& a : m_impl->adopted) out.push_back(a + ": volume adopted by its handle (--pv-driver-mappings), no data moved");
  }
  for (const auto& r : m_records) {
    if (seen.count(r.ref.display())) continue;
    if (r.ref.kind == volume::VolumeRef::Kind::pod_volume && has_data(r) && !m_options.settings.volume_type_mappings.count(r.source_type)) {
      out.push_back(r.ref.display() + ": " + r.source_type + " data in the backup is not restored: pass --volume-type-mappings " +
                    r.source_type + ":CLASS to restore it into a claim");
    } else if (!has_data(r) && r.ref.kind == volume::VolumeRef::Kind::claim) {
      out.push_back(r.ref.display() + ": no data in the backup (" + volume::reason_code(r) +
                    (r.message.empty() ? "" : ": " + r.message) + "): the claim is created empty");
    }
  }
  return out;
}

Result<std::shared_ptr<VolumeData>> load_volume_data(storage::Backend& backend, const std::string& name,
                                                     const crypto::UserKey* key, VolumeDataOptions options) {
  auto marker = archive::read_marker(backend, name);
  if (!marker || !*marker) return std::shared_ptr<VolumeData>();  // the restore's own reading says what is wrong
  json::Document manifest;
  if (archive::is_encrypted(**marker) && key) {
    KBK_ASSIGN_OR_RETURN(auto data_key, archive::open_backup_key(backend, name, *key));
    KBK_ASSIGN_OR_RETURN(manifest, archive::open_marker(**marker, data_key));
  } else {
    manifest = std::move(**marker);
  }
  KBK_ASSIGN_OR_RETURN(auto volumes, VolumeData::from_manifest(manifest, std::move(options)));
  if (volumes->empty()) return std::shared_ptr<VolumeData>();
  return volumes;
}

}  // namespace kbk::restore
