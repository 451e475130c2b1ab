#include "volumes.hpp"

#include <algorithm>

namespace kbk::backup {
namespace {

std::string str(const json::Value& v, std::initializer_list<std::string_view> path) { return json::get_string(v, path); }

// Pod volume types whose content is Kubernetes objects kbk backs up anyway (or nothing at all): not data.
bool is_object_volume(std::string_view type) {
  return type == "configMap" || type == "secret" || type == "downwardAPI" || type == "projected" ||
         type == "serviceAccountToken";
}

// The volume source of a pod volume or a PersistentVolume spec: the one member that is not a common field.
std::string source_type(const json::Value& spec, std::initializer_list<std::string_view> common) {
  if (!spec.IsObject()) return "";
  for (const auto& m : spec.GetObject()) {
    std::string_view k(m.name.GetString(), m.name.GetStringLength());
    if (std::find(common.begin(), common.end(), k) == common.end() && m.value.IsObject()) return std::string(k);
  }
  return "";
}

}  // namespace

std::string VolumeRecord::display() const {
  std::string s = kind + " ";
  if (kind == "PodVolume") {
    s += namespace_ + "/" + pod + " volume " + pod_volume + " (" + source + ")";
    return s;
  }
  s += kind == "PersistentVolumeClaim" ? namespace_ + "/" + claim : volume;
  std::vector<std::string> details;
  if (kind == "PersistentVolumeClaim" && !volume.empty()) details.push_back(volume);
  if (!storage_class.empty()) details.push_back(storage_class);
  if (!driver.empty()) details.push_back(driver);
  else if (!source.empty()) details.push_back(source);
  if (!capacity.empty()) details.push_back(capacity);
  if (!details.empty()) {
    s += " (";
    for (size_t i = 0; i < details.size(); ++i) s += (i ? ", " : "") + details[i];
    s += ")";
  }
  return s;
}

std::string VolumeRecord::ref_key() const {
  if (kind == "PersistentVolumeClaim") return namespace_ + "/" + claim;
  if (kind == "PodVolume") return namespace_ + "/" + pod + "/" + pod_volume;
  return "";
}

std::vector<volume::VolumeRef> VolumeTracker::refs() const {
  std::vector<volume::VolumeRef> out;
  for (const auto& r : records({}, false)) {
    volume::VolumeRef ref;
    ref.namespace_ = r.namespace_;
    if (r.kind == "PersistentVolumeClaim") {
      ref.kind = volume::VolumeRef::Kind::claim;
      ref.claim = r.claim;
      ref.pods = r.pods;
    } else if (r.kind == "PodVolume") {
      ref.kind = volume::VolumeRef::Kind::pod_volume;
      ref.pod = r.pod;
      ref.pod_volume = r.pod_volume;
    } else {
      continue;
    }
    out.push_back(std::move(ref));
  }
  return out;
}

void VolumeTracker::observe(std::string_view group, std::string_view resource, const json::Value& obj) {
  if (!group.empty()) return;
  const std::string ns = str(obj, {"metadata", "namespace"});
  const std::string name = str(obj, {"metadata", "name"});
  if (resource == "persistentvolumeclaims") {
    Claim c;
    c.ns = ns;
    c.name = name;
    c.volume = str(obj, {"spec", "volumeName"});
    c.storage_class = str(obj, {"spec", "storageClassName"});
    c.capacity = str(obj, {"status", "capacity", "storage"});
    if (c.capacity.empty()) c.capacity = str(obj, {"spec", "resources", "requests", "storage"});
    std::lock_guard lock(m_mu);
    m_claims[ns + "/" + name] = std::move(c);
  } else if (resource == "persistentvolumes") {
    Volume v;
    v.name = name;
    v.claim_ns = str(obj, {"spec", "claimRef", "namespace"});
    v.claim = str(obj, {"spec", "claimRef", "name"});
    v.storage_class = str(obj, {"spec", "storageClassName"});
    v.driver = str(obj, {"spec", "csi", "driver"});
    if (const json::Value* spec = json::find(obj, "spec"))
      v.source = source_type(*spec, {"capacity", "accessModes", "claimRef", "mountOptions", "nodeAffinity",
                                     "persistentVolumeReclaimPolicy", "storageClassName", "volumeMode",
                                     "volumeAttributesClassName"});
    v.capacity = str(obj, {"spec", "capacity", "storage"});
    std::lock_guard lock(m_mu);
    m_volumes[name] = std::move(v);
  } else if (resource == "pods") {
    const json::Value* vols = json::at(obj, {"spec", "volumes"});
    if (!vols || !vols->IsArray()) return;
    std::lock_guard lock(m_mu);
    for (const auto& v : vols->GetArray()) {
      const std::string vname = str(v, {"name"});
      const std::string type = source_type(v, {"name"});
      if (type.empty() || is_object_volume(type)) continue;
      if (type == "persistentVolumeClaim") {
        m_mounts[ns + "/" + str(v, {"persistentVolumeClaim", "claimName"})].push_back(ns + "/" + name);
        continue;
      }
      if (type == "ephemeral") continue;  // a generic ephemeral volume is a claim of its own (<pod>-<volume>)
      VolumeRecord r;
      r.kind = "PodVolume";
      r.namespace_ = ns;
      r.pod = name;
      r.pod_volume = vname;
      r.source = type;
      if (type == "csi") r.driver = str(v, {"csi", "driver"});
      if (type == "emptyDir") r.capacity = str(v, {"emptyDir", "sizeLimit"});
      m_pod_volumes.push_back(std::move(r));
    }
  }
}

std::vector<VolumeRecord> VolumeTracker::records(const std::vector<volume::VolumeResult>& results,
                                                 bool volume_data) const {
  std::lock_guard lock(m_mu);
  std::vector<VolumeRecord> out;
  for (const auto& [key, c] : m_claims) {
    VolumeRecord r;
    r.kind = "PersistentVolumeClaim";
    r.namespace_ = c.ns;
    r.claim = c.name;
    r.volume = c.volume;
    r.storage_class = c.storage_class;
    r.capacity = c.capacity;
    if (auto v = m_volumes.find(c.volume); v != m_volumes.end()) {
      r.driver = v->second.driver;
      r.source = v->second.source;
      if (r.storage_class.empty()) r.storage_class = v->second.storage_class;
      if (r.capacity.empty()) r.capacity = v->second.capacity;
    }
    if (auto m = m_mounts.find(key); m != m_mounts.end()) r.pods = m->second;
    std::sort(r.pods.begin(), r.pods.end());
    out.push_back(std::move(r));
  }
  for (const auto& [name, v] : m_volumes) {
    if (!v.claim.empty() && m_claims.count(v.claim_ns + "/" + v.claim)) continue;  // told with its claim
    VolumeRecord r;
    r.kind = "PersistentVolume";
    r.volume = name;
    r.namespace_ = v.claim_ns;
    r.claim = v.claim;
    r.storage_class = v.storage_class;
    r.driver = v.driver;
    r.source = v.source;
    r.capacity = v.capacity;
    out.push_back(std::move(r));
  }
  std::vector<VolumeRecord> pod_volumes = m_pod_volumes;
  std::sort(pod_volumes.begin(), pod_volumes.end(), [](const VolumeRecord& a, const VolumeRecord& b) {
    return std::tie(a.namespace_, a.pod, a.pod_volume) < std::tie(b.namespace_, b.pod, b.pod_volume);
  });
  for (auto& r : pod_volumes) out.push_back(std::move(r));
  std::map<std::string, const volume::VolumeResult*> by_key;
  for (const auto& res : results) by_key[res.ref.key()] = &res;
  for (auto& r : out) {
    r.data_included = false;
    if (auto it = by_key.find(r.ref_key()); !r.ref_key().empty() && it != by_key.end()) {
      r.data = *it->second;
      r.data_included = r.data->data_included();
      r.reason = volume::reason_code(*r.data);
      r.message = r.data->message.empty() ? r.data->decision.reason : r.data->message;
    } else if (!volume_data) {
      r.reason = k_not_requested_reason;
      r.message = k_not_requested_message;
    } else if (r.kind == "PersistentVolume") {
      r.reason = k_no_claim_reason;
      r.message = k_no_claim_message;
    } else {
      // The volume phase names every claim and pod volume; one it did not (it was interrupted) has no data.
      r.reason = "DataFailed";
      r.message = "the volume data phase did not reach it";
    }
  }
  return out;
}

}  // namespace kbk::backup
