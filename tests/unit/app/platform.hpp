// A small platform for the app module's tests: two applications in one namespace (web and db), a Helm release
// in another (certs) whose webhook serves a CRD's conversion, and cluster-scoped objects around them.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "backup/fake_client.hpp"

namespace kbk::testing {

inline kube::Discovery platform_discovery() {
  std::vector<kube::ResourceType> all = {
      rt("", "v1", "namespaces", "Namespace", false),
      rt("", "v1", "pods", "Pod", true),
      rt("", "v1", "configmaps", "ConfigMap", true),
      rt("", "v1", "secrets", "Secret", true),
      rt("", "v1", "serviceaccounts", "ServiceAccount", true),
      rt("", "v1", "services", "Service", true),
      rt("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true),
      rt("", "v1", "persistentvolumes", "PersistentVolume", false),
      rt("apps", "v1", "deployments", "Deployment", true),
      rt("apps", "v1", "replicasets", "ReplicaSet", true),
      rt("apps", "v1", "statefulsets", "StatefulSet", true),
      rt("storage.k8s.io", "v1", "storageclasses", "StorageClass", false),
      rt("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false),
      rt("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false),
      rt("rbac.authorization.k8s.io", "v1", "roles", "Role", true),
      rt("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true),
      rt("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", false),
      rt("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", false),
      rt("apiregistration.k8s.io", "v1", "apiservices", "APIService", false),
      rt("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false),
      rt("example.com", "v1", "widgets", "Widget", true),
  };
  all[8].short_names = {"deploy"};
  all[2].short_names = {"cm"};
  std::vector<kube::GroupInfo> groups;
  for (const auto& r : all) {
    bool have = false;
    for (const auto& g : groups) have = have || g.name == r.group;
    if (!have) groups.push_back({r.group, r.version, {r.version}});
  }
  return kube::Discovery(groups, all, {});
}

inline std::vector<std::pair<std::string, std::string>> platform() {
  const std::string web = R"("labels":{"app.kubernetes.io/part-of":"web"})";
  const std::string helm = R"("annotations":{"meta.helm.sh/release-name":"certs","meta.helm.sh/release-namespace":"certs"},"labels":{"app.kubernetes.io/managed-by":"Helm"})";
  const std::string pod_spec = R"({"serviceAccountName":"web-sa","volumes":[{"name":"c","configMap":{"name":"web-config"}}],
      "containers":[{"name":"web","image":"nginx"}]})";
  return {
      {"namespaces", R"({"metadata":{"name":"shop"}})"},
      {"namespaces", R"({"metadata":{"name":"certs"}})"},
      {"namespaces", R"({"metadata":{"name":"empty"}})"},
      {"deployments.apps", R"({"metadata":{"name":"web","namespace":"shop","uid":"u-web",)" + web + R"(},"spec":{"template":{"metadata":{"labels":{"app":"web"}},"spec":)" + pod_spec + "}}}"},
      {"replicasets.apps", R"({"metadata":{"name":"web-123","namespace":"shop","uid":"u-rs","ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"web","uid":"u-web","controller":true}]},"spec":{"template":{"spec":)" + pod_spec + "}}}"},
      {"pods", R"({"metadata":{"name":"web-abc","namespace":"shop","uid":"u-pod",)" + web + R"(,"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-123","uid":"u-rs","controller":true}]},"spec":)" + pod_spec + "}"},
      {"services", R"({"metadata":{"name":"web","namespace":"shop",)" + web + R"(},"spec":{"selector":{"app":"web"}}})"},
      {"services", R"({"metadata":{"name":"metrics","namespace":"shop",)" + web + R"(},"spec":{}})"},
      {"services", R"({"metadata":{"name":"web-internal","namespace":"shop"},"spec":{"selector":{"app":"web"}}})"},
      {"configmaps", R"({"metadata":{"name":"web-config","namespace":"shop"},"data":{}})"},
      {"configmaps", R"({"metadata":{"name":"junk","namespace":"shop"},"data":{}})"},
      {"serviceaccounts", R"({"metadata":{"name":"web-sa","namespace":"shop"}})"},
      {"clusterroles.rbac.authorization.k8s.io", R"({"metadata":{"name":"web-cr"},"rules":[]})"},
      {"clusterrolebindings.rbac.authorization.k8s.io", R"({"metadata":{"name":"web-crb"},"subjects":[{"kind":"ServiceAccount","name":"web-sa","namespace":"shop"}],"roleRef":{"kind":"ClusterRole","name":"web-cr"}})"},
      {"apiservices.apiregistration.k8s.io", R"({"metadata":{"name":"v1.metrics.example.com"},"spec":{"service":{"namespace":"shop","name":"metrics"}}})"},
      {"widgets.example.com", R"({"metadata":{"name":"w1","namespace":"shop",)" + web + R"(},"spec":{}})"},
      {"customresourcedefinitions.apiextensions.k8s.io", R"({"metadata":{"name":"widgets.example.com"},"spec":{"conversion":{"strategy":"Webhook","webhook":{"clientConfig":{"service":{"namespace":"certs","name":"cert-webhook"}}}}}})"},
      // db: another application in the same namespace
      {"statefulsets.apps", R"({"metadata":{"name":"db","namespace":"shop","labels":{"app.kubernetes.io/part-of":"db"}},"spec":{"replicas":1,"template":{"spec":{"volumes":[{"name":"c","configMap":{"name":"db-config"}}],"containers":[{"name":"db","image":"mysql"}]}},"volumeClaimTemplates":[{"metadata":{"name":"data"}}]}})"},
      {"configmaps", R"({"metadata":{"name":"db-config","namespace":"shop"},"data":{}})"},
      {"persistentvolumeclaims", R"({"metadata":{"name":"data-db-0","namespace":"shop"},"spec":{"volumeName":"pv-db","storageClassName":"fast"}})"},
      {"persistentvolumes", R"({"metadata":{"name":"pv-db"},"spec":{"storageClassName":"fast"}})"},
      {"storageclasses.storage.k8s.io", R"({"metadata":{"name":"fast"},"provisioner":"x"})"},
      // certs: a Helm release
      {"deployments.apps", R"({"metadata":{"name":"cert-webhook","namespace":"certs",)" + helm + R"(},"spec":{"template":{"spec":{"containers":[{"name":"w","image":"x"}]}}}})"},
      {"services", R"({"metadata":{"name":"cert-webhook","namespace":"certs",)" + helm + R"(},"spec":{}})"},
      {"clusterroles.rbac.authorization.k8s.io", R"({"metadata":{"name":"certs-controller",)" + helm + R"(},"rules":[]})"},
      {"validatingwebhookconfigurations.admissionregistration.k8s.io", R"({"metadata":{"name":"certs-webhook"},"webhooks":[{"name":"w.certs.io","clientConfig":{"service":{"namespace":"certs","name":"cert-webhook"}}}]})"},
      {"secrets", R"({"metadata":{"name":"sh.helm.release.v1.certs.v1","namespace":"certs","labels":{"owner":"helm","name":"certs","version":"1"}},"type":"helm.sh/release.v1"})"},
      {"secrets", R"({"metadata":{"name":"sh.helm.release.v1.certs.v2","namespace":"certs","labels":{"owner":"helm","name":"certs","version":"2"}},"type":"helm.sh/release.v1"})"},
  };
}


}  // namespace kbk::testing
