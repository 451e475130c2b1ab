// The patch metadata of the built-in Kubernetes kinds: the `patchStrategy` / `patchMergeKey` tags of the API types
// (k8s.io/api), as published in the API's OpenAPI documents (x-kubernetes-patch-strategy / -patch-merge-key).
// Only fields that lead to a merging list are modelled; every other field merges as a map or is replaced as a
// list, which is what the server does for fields without tags.
#include "smp_meta.hpp"

#include <map>
#include <memory>
#include <set>
#include <vector>

namespace kbk::patch::detail {

struct Field {
  const Node* type = nullptr;
  Strategy strategy = Strategy::none;
  std::string merge_key;
};

struct Node {
  std::map<std::string, Field, std::less<>> fields;
};

namespace {

struct Table {
  std::vector<std::unique_ptr<Node>> nodes;
  std::map<std::string, const Node*, std::less<>> kinds;  // "group/Kind" (core group: "/Kind")

  Node* make() {
    nodes.push_back(std::make_unique<Node>());
    return nodes.back().get();
  }
};

void obj(Node* n, const char* name, const Node* type) { n->fields[name] = Field{type, Strategy::none, ""}; }
void merge_list(Node* n, const char* name, const Node* elem, const char* key) {
  n->fields[name] = Field{elem, Strategy::merge, key};
}
void merge_set(Node* n, const char* name) { n->fields[name] = Field{nullptr, Strategy::merge, ""}; }

Table build() {
  Table t;
  Node* meta = t.make();  // ObjectMeta
  merge_set(meta, "finalizers");
  merge_list(meta, "ownerReferences", nullptr, "uid");

  Node* container = t.make();  // Container and EphemeralContainer
  merge_list(container, "ports", nullptr, "containerPort");
  merge_list(container, "env", nullptr, "name");
  merge_list(container, "volumeMounts", nullptr, "mountPath");
  merge_list(container, "volumeDevices", nullptr, "devicePath");

  Node* pod_spec = t.make();
  merge_list(pod_spec, "volumes", nullptr, "name");  // merge,retainKeys
  merge_list(pod_spec, "initContainers", container, "name");
  merge_list(pod_spec, "containers", container, "name");
  merge_list(pod_spec, "ephemeralContainers", container, "name");
  merge_list(pod_spec, "imagePullSecrets", nullptr, "name");
  merge_list(pod_spec, "hostAliases", nullptr, "ip");
  merge_list(pod_spec, "topologySpreadConstraints", nullptr, "topologyKey");
  merge_list(pod_spec, "schedulingGates", nullptr, "name");
  merge_list(pod_spec, "resourceClaims", nullptr, "name");  // merge,retainKeys

  Node* cond_status = t.make();  // every *Status with conditions merged by type
  merge_list(cond_status, "conditions", nullptr, "type");

  Node* pod_status = t.make();
  merge_list(pod_status, "conditions", nullptr, "type");
  merge_list(pod_status, "podIPs", nullptr, "ip");
  merge_list(pod_status, "hostIPs", nullptr, "ip");
  merge_list(pod_status, "resourceClaimStatuses", nullptr, "name");

  Node* template_spec = t.make();  // PodTemplateSpec
  obj(template_spec, "metadata", meta);
  obj(template_spec, "spec", pod_spec);

  auto with_meta = [&](Node* n) { obj(n, "metadata", meta); return n; };

  Node* pod = with_meta(t.make());
  obj(pod, "spec", pod_spec);
  obj(pod, "status", pod_status);
  t.kinds["/Pod"] = pod;

  Node* pod_template = with_meta(t.make());
  obj(pod_template, "template", template_spec);
  t.kinds["/PodTemplate"] = pod_template;

  // Workloads: spec.template is a pod template; status.conditions merge by type.
  Node* workload_spec = t.make();
  obj(workload_spec, "template", template_spec);
  Node* workload = with_meta(t.make());
  obj(workload, "spec", workload_spec);
  obj(workload, "status", cond_status);
  for (const char* k : {"apps/Deployment", "apps/StatefulSet", "apps/DaemonSet", "apps/ReplicaSet",
                        "extensions/Deployment", "extensions/DaemonSet", "extensions/ReplicaSet", "batch/Job",
                        "/ReplicationController"})
    t.kinds[k] = workload;

  Node* job_template = t.make();  // JobTemplateSpec
  obj(job_template, "metadata", meta);
  obj(job_template, "spec", workload_spec);
  Node* cronjob_spec = t.make();
  obj(cronjob_spec, "jobTemplate", job_template);
  Node* cronjob = with_meta(t.make());
  obj(cronjob, "spec", cronjob_spec);
  t.kinds["batch/CronJob"] = cronjob;

  Node* service_spec = t.make();
  merge_list(service_spec, "ports", nullptr, "port");
  Node* service = with_meta(t.make());
  obj(service, "spec", service_spec);
  obj(service, "status", cond_status);
  t.kinds["/Service"] = service;

  Node* node_spec = t.make();
  merge_set(node_spec, "podCIDRs");
  Node* node_status = t.make();
  merge_list(node_status, "conditions", nullptr, "type");
  merge_list(node_status, "addresses", nullptr, "type");
  Node* node = with_meta(t.make());
  obj(node, "spec", node_spec);
  obj(node, "status", node_status);
  t.kinds["/Node"] = node;

  Node* with_status_conditions = with_meta(t.make());
  obj(with_status_conditions, "status", cond_status);
  for (const char* k : {"/Namespace", "/PersistentVolumeClaim", "autoscaling/HorizontalPodAutoscaler",
                        "policy/PodDisruptionBudget", "certificates.k8s.io/CertificateSigningRequest"})
    t.kinds[k] = with_status_conditions;

  Node* service_account = with_meta(t.make());
  merge_list(service_account, "secrets", nullptr, "name");
  t.kinds["/ServiceAccount"] = service_account;

  Node* webhook_config = with_meta(t.make());
  merge_list(webhook_config, "webhooks", nullptr, "name");
  t.kinds["admissionregistration.k8s.io/MutatingWebhookConfiguration"] = webhook_config;
  t.kinds["admissionregistration.k8s.io/ValidatingWebhookConfiguration"] = webhook_config;

  Node* csinode_spec = t.make();
  merge_list(csinode_spec, "drivers", nullptr, "name");
  Node* csinode = with_meta(t.make());
  obj(csinode, "spec", csinode_spec);
  t.kinds["storage.k8s.io/CSINode"] = csinode;

  // Built-in kinds whose only merging lists are in metadata.
  for (const char* k :
       {"/ConfigMap", "/Secret", "/PersistentVolume", "/Endpoints", "/Event", "/LimitRange", "/ResourceQuota",
        "apps/ControllerRevision", "networking.k8s.io/Ingress", "networking.k8s.io/IngressClass",
        "networking.k8s.io/NetworkPolicy", "extensions/Ingress", "extensions/NetworkPolicy",
        "rbac.authorization.k8s.io/Role", "rbac.authorization.k8s.io/RoleBinding",
        "rbac.authorization.k8s.io/ClusterRole", "rbac.authorization.k8s.io/ClusterRoleBinding",
        "storage.k8s.io/StorageClass", "storage.k8s.io/VolumeAttachment", "storage.k8s.io/CSIDriver",
        "storage.k8s.io/CSIStorageCapacity", "scheduling.k8s.io/PriorityClass", "coordination.k8s.io/Lease",
        "discovery.k8s.io/EndpointSlice", "node.k8s.io/RuntimeClass", "events.k8s.io/Event",
        "flowcontrol.apiserver.k8s.io/FlowSchema", "flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration",
        "admissionregistration.k8s.io/ValidatingAdmissionPolicy",
        "admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding"})
    t.kinds[k] = with_status_conditions;
  return t;
}

const Table& table() {
  static const Table t = build();
  return t;
}

}  // namespace

const Node* builtin_root(std::string_view api_version, std::string_view kind) {
  std::string group;
  if (auto slash = api_version.find('/'); slash != std::string_view::npos) group = api_version.substr(0, slash);
  // apps/v1beta1, v1beta2 and extensions/v1beta1 share the apps types' tags.
  if (group == "extensions" && (kind == "Deployment" || kind == "DaemonSet" || kind == "ReplicaSet")) group = "apps";
  std::string key = group + "/" + std::string(kind);
  auto it = table().kinds.find(key);
  return it == table().kinds.end() ? nullptr : it->second;
}

FieldInfo builtin_lookup(const Node* node, std::string_view key) {
  FieldInfo out;
  if (!node) return out;
  auto it = node->fields.find(key);
  if (it == node->fields.end()) return out;
  out.type.node = it->second.type;
  out.strategy = it->second.strategy;
  out.merge_key = it->second.merge_key;
  return out;
}

const json::Value* MetaSource::resolve(const json::Value* schema) const {
  for (int depth = 0; schema && depth < 16; ++depth) {
    if (const json::Value* ref = json::find(*schema, "$ref"); ref && ref->IsString() && m_root) {
      std::string_view r(ref->GetString(), ref->GetStringLength());
      const std::string_view prefix = "#/components/schemas/";
      if (r.substr(0, prefix.size()) != prefix) return schema;
      schema = json::at(*m_root, {"components", "schemas", r.substr(prefix.size())});
      continue;
    }
    const json::Value* all_of = json::find(*schema, "allOf");
    if (all_of && all_of->IsArray() && all_of->Size() == 1 && !json::find(*schema, "properties")) {
      schema = &(*all_of)[0];
      continue;
    }
    return schema;
  }
  return schema;
}

FieldInfo MetaSource::lookup(TypeRef parent, std::string_view key) const {
  if (parent.node) return builtin_lookup(parent.node, key);
  FieldInfo out;
  const json::Value* s = resolve(parent.schema);
  if (!s) return out;
  const json::Value* child = nullptr;
  if (const json::Value* props = json::find(*s, "properties")) child = json::find(*props, key);
  if (!child) {
    const json::Value* ap = json::find(*s, "additionalProperties");
    if (ap && ap->IsObject()) child = ap;
  }
  child = resolve(child);
  if (!child) return out;
  out.type.schema = child;
  const json::Value* type = json::find(*child, "type");
  bool is_array = type && type->IsString() && std::string_view(type->GetString()) == "array";
  if (!is_array) return out;
  out.type.schema = resolve(json::find(*child, "items"));
  std::string strategy = json::get_string(*child, {"x-kubernetes-patch-strategy"});
  std::string list_type = json::get_string(*child, {"x-kubernetes-list-type"});
  if (strategy.find("merge") != std::string::npos) {
    out.strategy = Strategy::merge;
    out.merge_key = json::get_string(*child, {"x-kubernetes-patch-merge-key"});
  } else if (strategy == "replace") {
    out.strategy = Strategy::replace;
  } else if (list_type == "map") {
    out.strategy = Strategy::merge;
    const json::Value* keys = json::find(*child, "x-kubernetes-list-map-keys");
    if (keys && keys->IsArray() && keys->Size() > 0 && (*keys)[0].IsString()) out.merge_key = (*keys)[0].GetString();
  } else if (list_type == "set") {
    out.strategy = Strategy::merge;
  }
  return out;
}

}  // namespace kbk::patch::detail
