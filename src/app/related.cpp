#include "related.hpp"

#include <set>

namespace kbk::app {
namespace {

std::string str(const json::Value* v) {
  return v && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : std::string();
}

class Collector {
public:
  explicit Collector(std::string ns) : m_ns(std::move(ns)) {}
  void add(const char* group, const char* resource, bool namespaced, const std::string& name, const char* via) {
    add_in(group, resource, namespaced ? m_ns : "", name, via);
  }
  void add_in(const std::string& group, const std::string& resource, const std::string& ns, const std::string& name,
              const std::string& via) {
    if (name.empty()) return;
    Ref r{group, resource, "", ns, name, via};
    if (m_seen.insert(r).second) m_out.push_back(std::move(r));
  }
  void add_kind(const std::string& group, const std::string& kind, const std::string& name, const std::string& via) {
    if (name.empty() || kind.empty()) return;
    Ref r{group, "", kind, m_ns, name, via};
    if (m_seen.insert(r).second) m_out.push_back(std::move(r));
  }
  std::vector<Ref> take() { return std::move(m_out); }

  void pod_spec(const json::Value& spec) {
    std::string sa = str(json::find(spec, "serviceAccountName"));
    if (sa.empty()) sa = str(json::find(spec, "serviceAccount"));
    add("", "serviceaccounts", true, sa, "serviceAccountName");
    add("scheduling.k8s.io", "priorityclasses", false, str(json::find(spec, "priorityClassName")), "priorityClassName");
    if (auto* ips = json::find(spec, "imagePullSecrets"); ips && ips->IsArray())
      for (const auto& s : ips->GetArray()) add("", "secrets", true, str(json::find(s, "name")), "imagePullSecrets");
    if (auto* vols = json::find(spec, "volumes"); vols && vols->IsArray()) {
      for (const auto& v : vols->GetArray()) {
        add("", "persistentvolumeclaims", true, json::get_string(v, {"persistentVolumeClaim", "claimName"}),
            "volume persistentVolumeClaim");
        add("", "configmaps", true, json::get_string(v, {"configMap", "name"}), "volume configMap");
        add("", "secrets", true, json::get_string(v, {"secret", "secretName"}), "volume secret");
        add("", "secrets", true, json::get_string(v, {"csi", "nodePublishSecretRef", "name"}),
            "volume csi nodePublishSecretRef");
        if (auto* srcs = json::at(v, {"projected", "sources"}); srcs && srcs->IsArray()) {
          for (const auto& s : srcs->GetArray()) {
            add("", "configmaps", true, json::get_string(s, {"configMap", "name"}), "projected volume configMap");
            add("", "secrets", true, json::get_string(s, {"secret", "name"}), "projected volume secret");
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
            add("", "configmaps", true, json::get_string(e, {"valueFrom", "configMapKeyRef", "name"}),
                "env configMapKeyRef");
            add("", "secrets", true, json::get_string(e, {"valueFrom", "secretKeyRef", "name"}), "env secretKeyRef");
          }
        }
        if (auto* ef = json::find(c, "envFrom"); ef && ef->IsArray()) {
          for (const auto& e : ef->GetArray()) {
            add("", "configmaps", true, json::get_string(e, {"configMapRef", "name"}), "envFrom configMapRef");
            add("", "secrets", true, json::get_string(e, {"secretRef", "name"}), "envFrom secretRef");
          }
        }
      }
    }
  }

  void ingress_backend(const json::Value* backend) {
    if (!backend) return;
    std::string svc = json::get_string(*backend, {"service", "name"});
    if (svc.empty()) svc = json::get_string(*backend, {"serviceName"});  // extensions/v1beta1, networking v1beta1
    add("", "services", true, svc, "ingress backend");
  }

private:
  std::string m_ns;
  std::set<Ref> m_seen;
  std::vector<Ref> m_out;
};

std::string group_of(const std::string& api_version) {
  auto slash = api_version.find('/');
  return slash == std::string::npos ? std::string() : api_version.substr(0, slash);
}

}  // namespace

std::vector<Ref> related_refs(const std::string& gr, const json::Value& obj, Follow follow) {
  Collector c(json::get_string(obj, {"metadata", "namespace"}));
  if (follow == Follow::none) return {};
  const bool app = follow == Follow::application;
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
                  json::get_string(tmpl, {"metadata", "name"}) + "-" + sts + "-" + std::to_string(i),
                  "volumeClaimTemplates");
    }
  } else if (gr == "cronjobs.batch") {
    if (auto* spec = json::at(obj, {"spec", "jobTemplate", "spec", "template", "spec"})) c.pod_spec(*spec);
  } else if (gr == "persistentvolumeclaims") {
    c.add("", "persistentvolumes", false, json::get_string(obj, {"spec", "volumeName"}), "volumeName");
    c.add("storage.k8s.io", "storageclasses", false, json::get_string(obj, {"spec", "storageClassName"}),
          "storageClassName");
  } else if (gr == "persistentvolumes") {
    c.add("storage.k8s.io", "storageclasses", false, json::get_string(obj, {"spec", "storageClassName"}),
          "storageClassName");
  } else if (gr == "rolebindings.rbac.authorization.k8s.io" || gr == "clusterrolebindings.rbac.authorization.k8s.io") {
    const std::string kind = json::get_string(obj, {"roleRef", "kind"});
    const std::string name = json::get_string(obj, {"roleRef", "name"});
    if (kind == "ClusterRole") c.add("rbac.authorization.k8s.io", "clusterroles", false, name, "roleRef");
    else if (kind == "Role" && gr[0] == 'r') c.add("rbac.authorization.k8s.io", "roles", true, name, "roleRef");
  } else if (gr == "ingresses.networking.k8s.io" || gr == "ingresses.extensions") {
    std::string cls = json::get_string(obj, {"spec", "ingressClassName"});
    if (cls.empty()) cls = json::get_string(obj, {"metadata", "annotations", "kubernetes.io/ingress.class"});
    c.add("networking.k8s.io", "ingressclasses", false, cls, "ingressClassName");
    if (app) {
      c.ingress_backend(json::at(obj, {"spec", "defaultBackend"}));
      c.ingress_backend(json::at(obj, {"spec", "backend"}));
      if (auto* rules = json::at(obj, {"spec", "rules"}); rules && rules->IsArray())
        for (const auto& r : rules->GetArray())
          if (auto* paths = json::at(r, {"http", "paths"}); paths && paths->IsArray())
            for (const auto& p : paths->GetArray()) c.ingress_backend(json::find(p, "backend"));
      if (auto* tls = json::at(obj, {"spec", "tls"}); tls && tls->IsArray())
        for (const auto& t : tls->GetArray()) c.add("", "secrets", true, str(json::find(t, "secretName")), "tls secretName");
    }
  } else if (gr == "serviceaccounts") {
    if (auto* ips = json::find(obj, "imagePullSecrets"); ips && ips->IsArray())
      for (const auto& s : ips->GetArray()) c.add("", "secrets", true, str(json::find(s, "name")), "imagePullSecrets");
  } else if (app && gr == "customresourcedefinitions.apiextensions.k8s.io") {
    if (auto* svc = json::at(obj, {"spec", "conversion", "webhook", "clientConfig", "service"}))
      c.add_in("", "services", json::get_string(*svc, {"namespace"}), json::get_string(*svc, {"name"}),
               "conversion webhook");
    // apiextensions.k8s.io/v1beta1
    if (auto* svc = json::at(obj, {"spec", "conversion", "webhookClientConfig", "service"}))
      c.add_in("", "services", json::get_string(*svc, {"namespace"}), json::get_string(*svc, {"name"}),
               "conversion webhook");
  }
  if (app) {
    if (auto* owners = json::at(obj, {"metadata", "ownerReferences"}); owners && owners->IsArray())
      for (const auto& o : owners->GetArray())
        c.add_kind(group_of(json::get_string(o, {"apiVersion"})), json::get_string(o, {"kind"}),
                   json::get_string(o, {"name"}), "ownerReference");
  }
  return c.take();
}

}  // namespace kbk::app
