#include "related.hpp"

#include <set>
#include <tuple>

namespace kbk::backup {
namespace {

std::string str(const json::Value* v) {
  return v && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : std::string();
}

class Collector {
public:
  explicit Collector(std::string ns) : m_ns(std::move(ns)) {}
  void add(const char* group, const char* resource, bool namespaced, const std::string& name) {
    if (name.empty()) return;
    Ref r{group, resource, namespaced ? m_ns : "", name};
    if (m_seen.insert(r).second) m_out.push_back(std::move(r));
  }
  std::vector<Ref> take() { return std::move(m_out); }

  void pod_spec(const json::Value& spec) {
    std::string sa = str(json::find(spec, "serviceAccountName"));
    if (sa.empty()) sa = str(json::find(spec, "serviceAccount"));
    add("", "serviceaccounts", true, sa);
    add("scheduling.k8s.io", "priorityclasses", false, str(json::find(spec, "priorityClassName")));
    if (auto* ips = json::find(spec, "imagePullSecrets"); ips && ips->IsArray())
      for (const auto& s : ips->GetArray()) add("", "secrets", true, str(json::find(s, "name")));
    if (auto* vols = json::find(spec, "volumes"); vols && vols->IsArray()) {
      for (const auto& v : vols->GetArray()) {
        add("", "persistentvolumeclaims", true, json::get_string(v, {"persistentVolumeClaim", "claimName"}));
        add("", "configmaps", true, json::get_string(v, {"configMap", "name"}));
        add("", "secrets", true, json::get_string(v, {"secret", "secretName"}));
        add("", "secrets", true, json::get_string(v, {"csi", "nodePublishSecretRef", "name"}));
        if (auto* srcs = json::at(v, {"projected", "sources"}); srcs && srcs->IsArray()) {
          for (const auto& s : srcs->GetArray()) {
            add("", "configmaps", true, json::get_string(s, {"configMap", "name"}));
            add("", "secrets", true, json::get_string(s, {"secret", "name"}));
          }
        }
      }
    }
    for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
      auto* cs = json::find(spec, list);
      if (!cs || !cs->IsArray()) continue;
      for (const auto& c : cs->GetArray()) {
        if (auto* env = json::find(c, "env"); env && env->IsArray()) {
          for (const auto& e : env->GetArray()) {
            add("", "configmaps", true, json::get_string(e, {"valueFrom", "configMapKeyRef", "name"}));
            add("", "secrets", true, json::get_string(e, {"valueFrom", "secretKeyRef", "name"}));
          }
        }
        if (auto* ef = json::find(c, "envFrom"); ef && ef->IsArray()) {
          for (const auto& e : ef->GetArray()) {
            add("", "configmaps", true, json::get_string(e, {"configMapRef", "name"}));
            add("", "secrets", true, json::get_string(e, {"secretRef", "name"}));
          }
        }
      }
    }
  }

private:
  std::string m_ns;
  std::set<Ref> m_seen;
  std::vector<Ref> m_out;
};

}  // namespace

std::vector<Ref> related_refs(const std::string& gr, const json::Value& obj) {
  Collector c(json::get_string(obj, {"metadata", "namespace"}));
  if (gr == "pods") {
    if (auto* spec = json::find(obj, "spec")) c.pod_spec(*spec);
  } else if (gr == "deployments.apps" || gr == "replicasets.apps" || gr == "statefulsets.apps" ||
             gr == "daemonsets.apps" || gr == "jobs.batch" || gr == "replicationcontrollers" ||
             gr == "deployments.extensions" || gr == "replicasets.extensions" || gr == "daemonsets.extensions") {
    if (auto* spec = json::at(obj, {"spec", "template", "spec"})) c.pod_spec(*spec);
    if (gr == "statefulsets.apps") {
      // The claims a StatefulSet's pods get: <template>-<statefulset>-<ordinal>.
      const std::string sts = json::get_string(obj, {"metadata", "name"});
      int64_t replicas = 1;
      if (auto* r = json::at(obj, {"spec", "replicas"}); r && r->IsInt64()) replicas = r->GetInt64();
      if (auto* t = json::at(obj, {"spec", "volumeClaimTemplates"}); t && t->IsArray())
        for (const auto& tmpl : t->GetArray())
          for (int64_t i = 0; i < replicas && i < 10000; ++i)
            c.add("", "persistentvolumeclaims", true,
                  json::get_string(tmpl, {"metadata", "name"}) + "-" + sts + "-" + std::to_string(i));
    }
  } else if (gr == "cronjobs.batch") {
    if (auto* spec = json::at(obj, {"spec", "jobTemplate", "spec", "template", "spec"})) c.pod_spec(*spec);
  } else if (gr == "persistentvolumeclaims") {
    c.add("", "persistentvolumes", false, json::get_string(obj, {"spec", "volumeName"}));
    c.add("storage.k8s.io", "storageclasses", false, json::get_string(obj, {"spec", "storageClassName"}));
  } else if (gr == "persistentvolumes") {
    c.add("storage.k8s.io", "storageclasses", false, json::get_string(obj, {"spec", "storageClassName"}));
  } else if (gr == "rolebindings.rbac.authorization.k8s.io" || gr == "clusterrolebindings.rbac.authorization.k8s.io") {
    const std::string kind = json::get_string(obj, {"roleRef", "kind"});
    const std::string name = json::get_string(obj, {"roleRef", "name"});
    if (kind == "ClusterRole") c.add("rbac.authorization.k8s.io", "clusterroles", false, name);
    else if (kind == "Role" && gr[0] == 'r') c.add("rbac.authorization.k8s.io", "roles", true, name);
  } else if (gr == "ingresses.networking.k8s.io" || gr == "ingresses.extensions") {
    std::string cls = json::get_string(obj, {"spec", "ingressClassName"});
    if (cls.empty()) cls = json::get_string(obj, {"metadata", "annotations", "kubernetes.io/ingress.class"});
    c.add("networking.k8s.io", "ingressclasses", false, cls);
  } else if (gr == "serviceaccounts") {
    if (auto* ips = json::find(obj, "imagePullSecrets"); ips && ips->IsArray())
      for (const auto& s : ips->GetArray()) c.add("", "secrets", true, str(json::find(s, "name")));
  }
  return c.take();
}

}  // namespace kbk::backup
