// Built-in sanitizers (see sanitize.hpp). velero-facts.md 3.4-3.6 is the reference; kbk also drops what
// Velero leaves for its plugins (job selectors, PVC provisioner annotations) and keeps user-set nodePorts.
#include <kbk/restore/sanitize.hpp>

#include <set>

#include <kbk/util/strings.hpp>

namespace kbk::restore {
namespace {

std::string str(const json::Value* v) { return v && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : ""; }

bool erase_noted(json::Value& obj, std::string_view key, const std::string& where, Notes& notes) {
  if (!json::find(obj, key)) return false;
  json::erase(obj, key);
  notes.push_back("removed " + where);
  return true;
}

void erase_annotation(json::Document& obj, std::string_view key, Notes& notes) {
  if (json::Value* ann = json::at(obj, {"metadata", "annotations"}); ann && ann->IsObject())
    erase_noted(*ann, key, "annotation " + std::string(key), notes);
}

void erase_label_in(json::Value* labels, std::string_view key, const std::string& where, Notes& notes) {
  if (labels && labels->IsObject()) erase_noted(*labels, key, where + " " + std::string(key), notes);
}

}  // namespace

void reset_metadata(json::Document& obj, json::Document& managed_fields, json::Document& status, Notes& notes) {
  reset_metadata(obj, &managed_fields, &status, notes);
}

void reset_metadata(json::Document& obj, json::Document* managed_fields, json::Document* status, Notes& notes) {
  if (managed_fields) managed_fields->SetNull();
  if (status) status->SetNull();
  if (json::Value* md = json::find(obj, "metadata"); md && md->IsObject()) {
    for (const char* key : {"uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
                            "deletionGracePeriodSeconds", "selfLink"})
      json::erase(*md, key);
    if (json::find(*md, "name")) json::erase(*md, "generateName");
    if (json::Value* owners = json::find(*md, "ownerReferences")) {
      if (owners->IsArray() && !owners->Empty()) notes.push_back("removed ownerReferences");
      json::erase(*md, "ownerReferences");
    }
    if (json::Value* mf = json::find(*md, "managedFields")) {
      if (managed_fields && mf->IsArray() && !mf->Empty())
        json::copy_into(*managed_fields, *mf, managed_fields->GetAllocator());
      json::erase(*md, "managedFields");
    }
  }
  if (json::Value* st = json::find(obj, "status")) {
    if (status && !st->IsNull()) json::copy_into(*status, *st, status->GetAllocator());
    json::erase(obj, "status");
  }
}

namespace {

// Whether an entry of managedFields owns spec.<field> (f:spec.f:<field> in its fieldsV1).
bool spec_field_owned(const json::Value& entries, std::string_view field) {
  const std::string key = "f:" + std::string(field);
  for (const auto& e : entries.GetArray()) {
    const json::Value* spec = json::at(e, {"fieldsV1", "f:spec"});
    if (spec && spec->IsObject() && json::find(*spec, key)) return true;
  }
  return false;
}

}  // namespace

void sanitize_service(json::Document& obj, NodePorts node_ports, Notes& notes, const json::Value* managed_fields) {
  json::Value* spec = json::find(obj, "spec");
  if (!spec || !spec->IsObject()) return;
  std::string cluster_ip = str(json::find(*spec, "clusterIP"));
  if (cluster_ip != "None") {
    erase_noted(*spec, "clusterIP", "spec.clusterIP", notes);
    erase_noted(*spec, "clusterIPs", "spec.clusterIPs", notes);
  }
  if (managed_fields && managed_fields->IsArray() && !managed_fields->Empty())
    for (const char* f : {"ipFamilies", "ipFamilyPolicy"})
      if (!spec_field_owned(*managed_fields, f)) erase_noted(*spec, f, std::string("spec.") + f, notes);
  if (node_ports == NodePorts::preserve) return;
  // nodePorts the user wrote down (kubectl apply's last-applied-configuration) are kept, as Velero does.
  std::set<std::string> kept_names;
  std::set<int64_t> kept_ports;
  bool keep_health = false;
  std::string last = json::get_string(obj, {"metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration"});
  if (!last.empty()) {
    if (auto doc = json::parse(last); doc.ok()) {
      if (const json::Value* ports = json::at(*doc, {"spec", "ports"}); ports && ports->IsArray())
        for (const auto& p : ports->GetArray()) {
          if (!p.IsObject() || !json::find(p, "nodePort")) continue;
          std::string name = str(json::find(p, "name"));
          if (!name.empty()) kept_names.insert(name);
          else if (const json::Value* port = json::find(p, "port"); port && port->IsInt64()) kept_ports.insert(port->GetInt64());
        }
      keep_health = json::at(*doc, {"spec", "healthCheckNodePort"}) != nullptr;
    }
  }
  if (json::Value* ports = json::find(*spec, "ports"); ports && ports->IsArray()) {
    for (auto& p : ports->GetArray()) {
      if (!p.IsObject() || !json::find(p, "nodePort")) continue;
      std::string name = str(json::find(p, "name"));
      const json::Value* port = json::find(p, "port");
      bool keep = name.empty() ? (port && port->IsInt64() && kept_ports.count(port->GetInt64()))
                               : kept_names.count(name) > 0;
      if (!keep) {
        json::erase(p, "nodePort");
        notes.push_back("removed spec.ports[" + (name.empty() ? std::to_string(port && port->IsInt64() ? port->GetInt64() : 0) : name) + "].nodePort");
      }
    }
  }
  if (!keep_health) erase_noted(*spec, "healthCheckNodePort", "spec.healthCheckNodePort", notes);
}

void sanitize_pod(json::Document& obj, Notes& notes) {
  json::Value* spec = json::find(obj, "spec");
  if (!spec || !spec->IsObject()) return;
  erase_noted(*spec, "nodeName", "spec.nodeName", notes);
  erase_noted(*spec, "priority", "spec.priority", notes);
  std::string sa = str(json::find(*spec, "serviceAccountName"));
  if (sa.empty()) sa = str(json::find(*spec, "serviceAccount"));
  if (sa.empty()) sa = "default";
  std::string prefix = sa + "-token-";
  std::set<std::string> dropped;
  if (json::Value* vols = json::find(*spec, "volumes"); vols && vols->IsArray()) {
    for (auto it = vols->Begin(); it != vols->End();) {
      std::string name = str(json::find(*it, "name"));
      if (util::starts_with(name, prefix)) {
        dropped.insert(name);
        it = vols->Erase(it);
      } else {
        ++it;
      }
    }
  }
  if (dropped.empty()) return;
  for (const char* list : {"containers", "initContainers", "ephemeralContainers"}) {
    json::Value* cs = json::find(*spec, list);
    if (!cs || !cs->IsArray()) continue;
    for (auto& c : cs->GetArray()) {
      json::Value* mounts = json::find(c, "volumeMounts");
      if (!mounts || !mounts->IsArray()) continue;
      for (auto it = mounts->Begin(); it != mounts->End();) {
        if (dropped.count(str(json::find(*it, "name")))) it = mounts->Erase(it);
        else ++it;
      }
    }
  }
  for (const std::string& d : dropped) notes.push_back("removed legacy token volume " + d);
}

void sanitize_job(json::Document& obj, Notes& notes) {
  for (const char* label : {"controller-uid", "batch.kubernetes.io/controller-uid"}) {
    erase_label_in(json::at(obj, {"metadata", "labels"}), label, "label", notes);
    erase_label_in(json::at(obj, {"spec", "template", "metadata", "labels"}), label, "template label", notes);
  }
  json::Value* spec = json::find(obj, "spec");
  if (!spec || !spec->IsObject()) return;
  const json::Value* manual = json::find(*spec, "manualSelector");
  if (manual && manual->IsBool() && manual->GetBool()) {
    for (const char* label : {"controller-uid", "batch.kubernetes.io/controller-uid"})
      erase_label_in(json::at(*spec, {"selector", "matchLabels"}), label, "selector label", notes);
    return;
  }
  erase_noted(*spec, "selector", "spec.selector (generated)", notes);
  json::erase(*spec, "manualSelector");
}

void sanitize_pvc(json::Document& obj, bool drop_volume_name, Notes& notes) {
  for (const char* a : {"pv.kubernetes.io/bind-completed", "pv.kubernetes.io/bound-by-controller",
                        "volume.beta.kubernetes.io/storage-provisioner", "volume.kubernetes.io/storage-provisioner",
                        "volume.kubernetes.io/selected-node", "velero.io/volume-snapshot-name",
                        "velero.io/data-upload-name"})
    erase_annotation(obj, a, notes);
  if (drop_volume_name)
    if (json::Value* spec = json::find(obj, "spec"); spec && spec->IsObject())
      erase_noted(*spec, "volumeName", "spec.volumeName (volume is provisioned again)", notes);
}

void sanitize_pv(json::Document& obj, Notes& notes) {
  for (const char* a : {"pv.kubernetes.io/bound-by-controller", "pv.kubernetes.io/bind-completed"})
    erase_annotation(obj, a, notes);
  if (json::Value* claim = json::at(obj, {"spec", "claimRef"}); claim && claim->IsObject()) {
    json::erase(*claim, "uid");
    json::erase(*claim, "resourceVersion");
  }
}

void sanitize_service_account(json::Document& obj, Notes& notes) {
  std::string prefix = json::get_string(obj, {"metadata", "name"}) + "-token-";
  json::Value* secrets = json::find(obj, "secrets");
  if (!secrets || !secrets->IsArray()) return;
  for (auto it = secrets->Begin(); it != secrets->End();) {
    std::string name = str(json::find(*it, "name"));
    if (util::starts_with(name, prefix)) {
      notes.push_back("removed secrets[] entry " + name + " (token generated by the cluster)");
      it = secrets->Erase(it);
    } else {
      ++it;
    }
  }
}

bool is_auto_token_secret(const json::Value& obj) {
  if (json::get_string(obj, {"type"}) != "kubernetes.io/service-account-token") return false;
  std::string sa = json::get_string(obj, {"metadata", "annotations", "kubernetes.io/service-account.name"});
  if (sa.empty()) return false;
  return util::starts_with(json::get_string(obj, {"metadata", "name"}), sa + "-token-");
}

void sanitize_token_secret(json::Document& obj, Notes& notes) {
  if (json::get_string(obj, {"type"}) != "kubernetes.io/service-account-token") return;
  erase_annotation(obj, "kubernetes.io/service-account.uid", notes);
  if (json::Value* data = json::find(obj, "data"); data && data->IsObject())
    for (const char* k : {"token", "ca.crt", "namespace"}) erase_noted(*data, k, std::string("data.") + k + " (refilled by the cluster)", notes);
}

void sanitize_namespace(json::Document& obj, Notes& notes) {
  (void)notes;
  if (json::Value* md = json::find(obj, "metadata"); md && md->IsObject()) {
    std::vector<std::string> drop;
    for (auto& m : md->GetObject()) {
      std::string k(m.name.GetString(), m.name.GetStringLength());
      if (k != "name" && k != "labels" && k != "annotations") drop.push_back(k);
    }
    for (const std::string& k : drop) json::erase(*md, k);
  }
  std::vector<std::string> drop;
  for (auto& m : obj.GetObject()) {
    std::string k(m.name.GetString(), m.name.GetStringLength());
    if (k != "apiVersion" && k != "kind" && k != "metadata" && k != "spec") drop.push_back(k);
  }
  for (const std::string& k : drop) json::erase(obj, k);
}

void sanitize_crd(json::Document& obj, Notes& notes) {
  json::Value* spec = json::find(obj, "spec");
  if (!spec || !spec->IsObject()) return;
  json::Value* puf = json::find(*spec, "preserveUnknownFields");
  if (!puf || !puf->IsBool() || !puf->GetBool()) return;
  puf->SetBool(false);
  auto& alloc = obj.GetAllocator();
  if (json::Value* versions = json::find(*spec, "versions"); versions && versions->IsArray())
    for (auto& v : versions->GetArray()) {
      json::Value* schema = json::at(v, {"schema", "openAPIV3Schema"});
      if (schema && schema->IsObject()) json::set(*schema, "x-kubernetes-preserve-unknown-fields", json::Value(true), alloc);
    }
  notes.push_back("spec.preserveUnknownFields moved into the schemas (x-kubernetes-preserve-unknown-fields)");
}

}  // namespace kbk::restore
