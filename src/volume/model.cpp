// The volume module's data (model.hpp): names, flag parsers, the settings' log lines and the record members.
#include <kbk/volume/model.hpp>

#include <cstdio>

#include <kbk/crypto/hash.hpp>
#include <kbk/kube/label_selector.hpp>
#include <kbk/repo/format.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::volume {

std::string VolumeRef::display() const {
  if (kind == Kind::claim) return namespace_ + "/" + claim;
  return namespace_ + "/" + pod + "/" + pod_volume;
}

const char* path_name(PathKind k) {
  switch (k) {
    case PathKind::none: return "none";
    case PathKind::snapshot_move: return "snapshot-move-data";
    case PathKind::fs_backup: return "fs-backup";
    case PathKind::fs_backup_workload: return "fs-backup-workload";
    case PathKind::snapshot: return "snapshot";
  }
  return "none";
}

namespace {
std::optional<PathKind> path_from_name(const std::string& s) {
  for (PathKind k : {PathKind::none, PathKind::snapshot_move, PathKind::fs_backup, PathKind::fs_backup_workload,
                     PathKind::snapshot})
    if (s == path_name(k)) return k;
  return std::nullopt;
}
}  // namespace

const char* source_name(Decision::Source s) {
  switch (s) {
    case Decision::Source::policy: return "policy";
    case Decision::Source::annotation: return "annotation";
    case Decision::Source::flag: return "flag";
    case Decision::Source::default_: return "default";
  }
  return "default";
}

const char* outcome_name(VolumeResult::Outcome o) {
  switch (o) {
    case VolumeResult::Outcome::completed: return "completed";
    case VolumeResult::Outcome::skipped: return "skipped";
    case VolumeResult::Outcome::failed: return "failed";
  }
  return "skipped";
}

MoverSettings::MoverSettings() {
  tolerations.SetArray();
  resources.SetNull();
}
MoverSettings::MoverSettings(const MoverSettings& o)
    : image(o.image), node_selector(o.node_selector), priority_class(o.priority_class), namespace_(o.namespace_),
      kind(o.kind), ignore_inode(o.ignore_inode) {
  tolerations.CopyFrom(o.tolerations, tolerations.GetAllocator());
  resources.CopyFrom(o.resources, resources.GetAllocator());
}
MoverSettings& MoverSettings::operator=(const MoverSettings& o) {
  if (this == &o) return *this;
  image = o.image;
  node_selector = o.node_selector;
  priority_class = o.priority_class;
  namespace_ = o.namespace_;
  kind = o.kind;
  ignore_inode = o.ignore_inode;
  tolerations.CopyFrom(o.tolerations, tolerations.GetAllocator());
  resources.CopyFrom(o.resources, resources.GetAllocator());
  return *this;
}

Result<json::Document> parse_tolerations(const std::string& text) {
  json::Document out;
  out.SetArray();
  auto& a = out.GetAllocator();
  for (const auto& part : util::split(text, ',')) {
    const std::string entry(util::trim(part));
    if (entry.empty()) continue;
    auto bad = [&](const std::string& why) {
      return unexpected(Errc::config, "--mover-tolerations " + entry + ": " + why +
                                          " (expected key=value:Effect, key:Effect, key=Exists:Effect or :Effect)");
    };
    std::string key_value = entry, effect;
    if (auto colon = entry.rfind(':'); colon != std::string::npos) {
      key_value = entry.substr(0, colon);
      effect = entry.substr(colon + 1);
    }
    if (!effect.empty() && effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute")
      return bad("effect " + effect + " is not NoSchedule, PreferNoSchedule or NoExecute");
    std::string key = key_value, value;
    bool exists = true;
    if (auto eq = key_value.find('='); eq != std::string::npos) {
      key = key_value.substr(0, eq);
      value = key_value.substr(eq + 1);
      exists = value == "Exists";
      if (exists) value.clear();
    }
    if (key.empty() && !value.empty()) return bad("a value needs a key");
    if (!key.empty())
      if (auto sel = kube::LabelSelector::parse(key); !sel) return bad("key " + key + " is not a valid taint key");
    json::Value t(rapidjson::kObjectType);
    if (!key.empty()) json::set(t, "key", json::make_string(key, a), a);
    json::set(t, "operator", json::make_string(exists ? "Exists" : "Equal", a), a);
    if (!exists) json::set(t, "value", json::make_string(value, a), a);
    if (!effect.empty()) json::set(t, "effect", json::make_string(effect, a), a);
    out.PushBack(t, a);
  }
  return out;
}

Result<json::Document> parse_resources(const std::string& text) {
  json::Document out;
  out.SetObject();
  auto& a = out.GetAllocator();
  for (const auto& part : util::split(text, ',')) {
    const std::string entry(util::trim(part));
    if (entry.empty()) continue;
    auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0)
      return unexpected(Errc::config, "--mover-resources " + entry + ": expected NAME=QUANTITY (cpu=500m,memory=256Mi,"
                                                                     "limits.memory=1Gi)");
    std::string name = entry.substr(0, eq);
    const std::string qty = entry.substr(eq + 1);
    std::string section = "requests";
    if (util::starts_with(name, "limits.")) {
      section = "limits";
      name = name.substr(7);
    } else if (util::starts_with(name, "requests.")) {
      name = name.substr(9);
    }
    if (name != "cpu" && name != "memory" && name != "ephemeral-storage")
      return unexpected(Errc::config, "--mover-resources " + entry + ": " + name +
                                          " is not cpu, memory or ephemeral-storage");
    if (!parse_quantity(qty)) return unexpected(Errc::config, "--mover-resources " + entry + ": " + qty + " is not a quantity");
    json::set(json::ensure_object(out, section, a), name, json::make_string(qty, a), a);
  }
  return out;
}

Result<std::map<std::string, std::string>> parse_node_selector(const std::string& text) {
  std::map<std::string, std::string> out;
  for (const auto& part : util::split(text, ',')) {
    const std::string entry(util::trim(part));
    if (entry.empty()) continue;
    auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0)
      return unexpected(Errc::config, "--mover-node-selector " + entry + ": expected KEY=VALUE");
    if (auto sel = kube::LabelSelector::parse(entry); !sel)
      return unexpected(Errc::config, "--mover-node-selector " + entry + ": " + sel.error().message);
    out[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return out;
}

std::vector<std::string> BackupSettings::describe() const {
  std::vector<std::string> out;
  auto flag = [](const std::optional<bool>& b) { return b ? (*b ? std::string("true") : std::string("false")) : std::string("unset"); };
  out.push_back("volume data: --snapshot-volumes " + flag(snapshot_volumes) + ", --snapshot-move-data " +
                flag(snapshot_move_data) + ", --default-volumes-to-fs-backup " +
                (default_volumes_to_fs_backup ? "true" : "false") + ", --fs-backup-via-workload " +
                (fs_backup_via_workload ? "true" : "false") +
                (policies ? ", --resource-policies " + policies->file() + " (" + std::to_string(policies->size()) +
                                " volume policies)"
                          : ""));
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
  if (!mover.namespace_.empty()) movers += ", mover namespace " + mover.namespace_;
  out.push_back(movers);
  out.push_back("volume timeouts: CSI snapshot " + util::human_duration(csi_snapshot_timeout) + ", mover start " +
                util::human_duration(mover_start_timeout) + ", per volume " + util::human_duration(volume_timeout));
  return out;
}

std::string label_value(const std::string& value) {
  if (value.size() <= 63) return value;
  return value.substr(0, 57) + crypto::sha256_hex(value).substr(0, 6);
}

std::string reason_code(const VolumeResult& r) {
  if (!r.code.empty()) return r.code;
  switch (r.outcome) {
    case VolumeResult::Outcome::completed: return "DataIncluded";
    case VolumeResult::Outcome::failed: return "DataFailed";
    case VolumeResult::Outcome::skipped: break;
  }
  switch (r.decision.source) {
    case Decision::Source::policy: return "SkippedByPolicy";
    case Decision::Source::annotation: return "SkippedByAnnotation";
    case Decision::Source::flag: return "SkippedByFlag";
    case Decision::Source::default_: return "NotOptedIn";
  }
  return "NotOptedIn";
}

namespace {
void set_str(json::Value& o, const char* k, const std::string& v, json::Allocator& a) {
  json::set(o, k, json::make_string(v, a), a);
}
void set_u64(json::Value& o, const char* k, uint64_t v, json::Allocator& a) { json::set(o, k, json::Value(v), a); }
uint64_t get_u64(const json::Value& o, const char* k) {
  const json::Value* v = json::find(o, k);
  return v && v->IsUint64() ? v->GetUint64() : 0;
}
}  // namespace

void write_data_members(json::Value& record, const VolumeResult& r, json::Allocator& a) {
  json::set(record, "dataIncluded", json::Value(r.data_included()), a);
  set_str(record, "reason", reason_code(r), a);
  set_str(record, "message", r.message, a);
  set_str(record, "dataPath", path_name(r.decision.path), a);
  set_str(record, "outcome", outcome_name(r.outcome), a);
  json::Value decision(rapidjson::kObjectType);
  set_str(decision, "source", source_name(r.decision.source), a);
  if (r.decision.rule) set_u64(decision, "rule", *r.decision.rule, a);
  else json::set(decision, "rule", json::Value(), a);
  set_str(decision, "reason", r.decision.reason, a);
  json::set(record, "decision", std::move(decision), a);
  if (!r.workload.empty()) set_str(record, "workload", r.workload, a);
  if (r.outcome != VolumeResult::Outcome::completed) {
    json::set(record, "data", json::Value(), a);
    return;
  }
  json::Value data(rapidjson::kObjectType);
  if (!r.repository_snapshot.empty()) set_str(data, "repositorySnapshot", r.repository_snapshot, a);
  if (r.csi) {
    json::Value c(rapidjson::kObjectType);
    set_str(c, "driver", r.csi->driver, a);
    set_str(c, "snapshotHandle", r.csi->snapshot_handle, a);
    set_str(c, "volumeSnapshotClass", r.csi->volume_snapshot_class, a);
    set_str(c, "restoreSize", r.csi->restore_size, a);
    set_str(c, "sourceVolumeMode", r.csi->source_volume_mode, a);
    json::set(data, "csiSnapshot", std::move(c), a);
  }
  if (r.root.known) {
    json::Value root(rapidjson::kObjectType);
    set_u64(root, "uid", r.root.uid, a);
    set_u64(root, "gid", r.root.gid, a);
    char mode[16];
    std::snprintf(mode, sizeof mode, "%04o", r.root.mode & 07777);
    set_str(root, "mode", mode, a);
    json::set(root, "mtime", json::Value(r.root.mtime), a);
    json::set(root, "mtimeNsec", json::Value(r.root.mtime_nsec), a);
    json::set(data, "root", std::move(root), a);
  }
  set_u64(data, "bytes", r.bytes, a);
  set_u64(data, "files", r.files, a);
  set_u64(data, "streamBytes", r.stream_bytes, a);
  set_u64(data, "newBytes", r.new_bytes, a);
  set_u64(data, "storedBytes", r.stored_bytes, a);
  if (!r.mover_kind.empty()) set_str(data, "moverKind", r.mover_kind, a);
  set_u64(data, "bytesReadInPod", r.bytes_read_in_pod, a);
  set_u64(data, "bytesThroughHost", r.bytes_through_host, a);
  set_u64(data, "bytesUploaded", r.bytes_uploaded, a);
  set_u64(data, "bundleBytes", r.bundle_bytes, a);
  if (!r.unchanged_by.empty()) set_str(data, "unchangedBy", r.unchanged_by, a);
  json::set(data, "durationSeconds", json::Value(static_cast<double>(static_cast<int64_t>(r.duration_seconds * 1000)) / 1000), a);
  if (!r.node.empty()) set_str(data, "node", r.node, a);
  if (!r.mover.empty()) set_str(data, "mover", r.mover, a);
  json::Value warnings(rapidjson::kArrayType);
  for (const auto& w : r.warnings) warnings.PushBack(json::make_string(w, a), a);
  json::set(data, "warnings", std::move(warnings), a);
  json::set(record, "data", std::move(data), a);
}

Result<void> read_data_members(const json::Value& record, VolumeResult& r) {
  const std::string path = json::get_string(record, {"dataPath"}, "none");
  auto kind = path_from_name(path);
  if (!kind) return unexpected(Errc::corrupt, "volume record: unknown dataPath \"" + path + "\"");
  r.decision.path = *kind;
  const std::string outcome = json::get_string(record, {"outcome"}, "skipped");
  if (outcome == "completed") r.outcome = VolumeResult::Outcome::completed;
  else if (outcome == "failed") r.outcome = VolumeResult::Outcome::failed;
  else r.outcome = VolumeResult::Outcome::skipped;
  r.code = json::get_string(record, {"reason"});
  r.message = json::get_string(record, {"message"});
  r.workload = json::get_string(record, {"workload"});
  const std::string source = json::get_string(record, {"decision", "source"}, "default");
  for (auto s : {Decision::Source::policy, Decision::Source::annotation, Decision::Source::flag, Decision::Source::default_})
    if (source == source_name(s)) r.decision.source = s;
  if (const json::Value* rule = json::at(record, {"decision", "rule"}); rule && rule->IsUint64())
    r.decision.rule = static_cast<size_t>(rule->GetUint64());
  r.decision.reason = json::get_string(record, {"decision", "reason"});
  const json::Value* data = json::find(record, "data");
  if (!data || !data->IsObject()) {
    if (r.outcome == VolumeResult::Outcome::completed)
      return unexpected(Errc::corrupt, "volume record: completed without data");
    return {};
  }
  r.repository_snapshot = json::get_string(*data, {"repositorySnapshot"});
  if (const json::Value* c = json::find(*data, "csiSnapshot"); c && c->IsObject()) {
    CsiSnapshot cs;
    cs.driver = json::get_string(*c, {"driver"});
    cs.snapshot_handle = json::get_string(*c, {"snapshotHandle"});
    cs.volume_snapshot_class = json::get_string(*c, {"volumeSnapshotClass"});
    cs.restore_size = json::get_string(*c, {"restoreSize"});
    cs.source_volume_mode = json::get_string(*c, {"sourceVolumeMode"});
    r.csi = cs;
  }
  if (const json::Value* root = json::find(*data, "root"); root && root->IsObject()) {
    r.root.known = true;
    r.root.uid = static_cast<uint32_t>(get_u64(*root, "uid"));
    r.root.gid = static_cast<uint32_t>(get_u64(*root, "gid"));
    r.root.mode = static_cast<uint32_t>(std::strtoul(json::get_string(*root, {"mode"}, "0755").c_str(), nullptr, 8));
    if (const json::Value* m = json::find(*root, "mtime"); m && m->IsInt64()) r.root.mtime = m->GetInt64();
    if (const json::Value* m = json::find(*root, "mtimeNsec"); m && m->IsUint()) r.root.mtime_nsec = m->GetUint();
  }
  r.bytes = get_u64(*data, "bytes");
  r.files = get_u64(*data, "files");
  r.stream_bytes = get_u64(*data, "streamBytes");
  r.new_bytes = get_u64(*data, "newBytes");
  r.stored_bytes = get_u64(*data, "storedBytes");
  r.mover_kind = json::get_string(*data, {"moverKind"});
  r.bytes_read_in_pod = get_u64(*data, "bytesReadInPod");
  r.bytes_through_host = get_u64(*data, "bytesThroughHost");
  r.bytes_uploaded = get_u64(*data, "bytesUploaded");
  r.bundle_bytes = get_u64(*data, "bundleBytes");
  r.unchanged_by = json::get_string(*data, {"unchangedBy"});
  if (const json::Value* d = json::find(*data, "durationSeconds"); d && d->IsNumber()) r.duration_seconds = d->GetDouble();
  r.node = json::get_string(*data, {"node"});
  r.mover = json::get_string(*data, {"mover"});
  if (r.decision.path == PathKind::snapshot && (!r.csi || r.csi->snapshot_handle.empty()))
    return unexpected(Errc::corrupt, "volume record: a snapshot without csiSnapshot.snapshotHandle");
  if ((r.decision.path == PathKind::snapshot_move || r.decision.path == PathKind::fs_backup ||
       r.decision.path == PathKind::fs_backup_workload) &&
      r.outcome == VolumeResult::Outcome::completed && !repo::parse_id(r.repository_snapshot))
    return unexpected(Errc::corrupt, "volume record: repositorySnapshot \"" + r.repository_snapshot +
                                         "\" is not a snapshot id");
  return {};
}

}  // namespace kbk::volume
