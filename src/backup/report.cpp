// A backup run's summary as a JSON document (-o json of backup create), in the field names of the backup's marker
// (docs/format-archive.md section 3, docs/output.md): what `backup describe -o json` calls a field, this does too.
#include <kbk/backup/backup.hpp>

#include <kbk/util/strings.hpp>

namespace kbk::backup {
namespace {

json::Value strings(const std::vector<std::string>& v, json::Allocator& a) {
  json::Value arr(rapidjson::kArrayType);
  for (const auto& s : v) arr.PushBack(json::make_string(s, a), a);
  return arr;
}

}  // namespace

json::Value volume_to_json(const VolumeRecord& v, json::Allocator& a) {
  json::Value o(rapidjson::kObjectType);
  o.AddMember("kind", json::make_string(v.kind, a), a);
  o.AddMember("namespace", json::make_string(v.namespace_, a), a);
  if (v.kind == "PodVolume") {
    o.AddMember("pod", json::make_string(v.pod, a), a);
    o.AddMember("podVolume", json::make_string(v.pod_volume, a), a);
  } else {
    o.AddMember("claim", json::make_string(v.claim, a), a);
    o.AddMember("persistentVolume", json::make_string(v.volume, a), a);
    o.AddMember("storageClass", json::make_string(v.storage_class, a), a);
  }
  o.AddMember("source", json::make_string(v.source, a), a);
  o.AddMember("driver", json::make_string(v.driver, a), a);
  o.AddMember("capacity", json::make_string(v.capacity, a), a);
  if (v.kind == "PersistentVolumeClaim") o.AddMember("pods", strings(v.pods, a), a);
  if (v.data) {
    // dataIncluded, reason, message, dataPath, outcome, decision, workload and data (section 3.3)
    volume::write_data_members(o, *v.data, a);
    return o;
  }
  o.AddMember("dataIncluded", v.data_included, a);
  o.AddMember("reason", json::make_string(v.reason, a), a);
  o.AddMember("message", json::make_string(v.message, a), a);
  return o;
}

json::Document summary_to_json(const Summary& s) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("apiVersion", "kbk.io/v1alpha1", a);
  d.AddMember("kind", "BackupSummary", a);
  d.AddMember("name", json::make_string(s.name, a), a);
  d.AddMember("phase", json::make_string(s.phase, a), a);
  d.AddMember("location", json::make_string(s.location, a), a);
  json::Value cluster(rapidjson::kObjectType);
  cluster.AddMember("name", json::make_string(s.cluster_name, a), a);
  cluster.AddMember("kubeSystemUID", json::make_string(s.kube_system_uid, a), a);
  d.AddMember("cluster", cluster, a);
  d.AddMember("startTimestamp", json::make_string(s.started, a), a);
  d.AddMember("completionTimestamp", json::make_string(s.completed, a), a);
  d.AddMember("expiration", json::make_string(s.expiration, a), a);
  d.AddMember("durationSeconds", util::round_seconds(s.duration_seconds), a);
  json::Value counts(rapidjson::kObjectType);
  counts.AddMember("items", s.items, a);
  counts.AddMember("warnings", s.warnings, a);
  counts.AddMember("errors", s.errors, a);
  counts.AddMember("skipped", s.skipped, a);
  json::Value by(rapidjson::kObjectType);
  for (const auto& [gr, n] : s.by_resource) by.AddMember(json::make_string(gr, a), json::Value(static_cast<uint64_t>(n)), a);
  counts.AddMember("byResource", by, a);
  d.AddMember("counts", counts, a);
  json::Value archive(rapidjson::kObjectType);
  archive.AddMember("encrypted", s.encrypted, a);
  archive.AddMember("bytes", s.bytes, a);
  d.AddMember("archive", archive, a);
  d.AddMember("errors", strings(s.error_lines, a), a);
  d.AddMember("warnings", strings(s.warning_lines, a), a);
  json::Value labels(rapidjson::kObjectType);
  for (const auto& [k, v] : s.labels) labels.AddMember(json::make_string(k, a), json::make_string(v, a), a);
  d.AddMember("labels", labels, a);
  json::Value vols(rapidjson::kArrayType);
  for (const auto& v : s.volumes) vols.PushBack(volume_to_json(v, a), a);
  d.AddMember("volumes", vols, a);
  if (s.hooks && s.hooks->IsObject()) {
    json::Value h;
    h.CopyFrom(*s.hooks, a);
    d.AddMember("hooks", h, a);
  }
  return d;
}

}  // namespace kbk::backup
