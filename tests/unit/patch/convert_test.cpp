// API-version conversion, table-driven: realistic objects as clusters of 1.15-1.21 stored them, and the objects a
// 1.30 API server accepts for them (expected outputs written by hand from the Kubernetes API reference).
#include <catch2/catch.hpp>

#include <kbk/json/json.hpp>
#include <kbk/patch/convert.hpp>

using namespace kbk;

namespace {

patch::ServedApis served_130() {
  patch::ServedApis s;
  for (const char* k : {"Pod", "Service", "ConfigMap", "Secret", "PersistentVolumeClaim"}) s.add("v1", k);
  for (const char* k : {"Deployment", "DaemonSet", "ReplicaSet", "StatefulSet", "ControllerRevision"}) s.add("apps/v1", k);
  s.add("networking.k8s.io/v1", "Ingress");
  s.add("networking.k8s.io/v1", "IngressClass");
  s.add("batch/v1", "CronJob");
  s.add("batch/v1", "Job");
  s.add("policy/v1", "PodDisruptionBudget");
  s.add("autoscaling/v2", "HorizontalPodAutoscaler");
  s.add("apiextensions.k8s.io/v1", "CustomResourceDefinition");
  s.add("discovery.k8s.io/v1", "EndpointSlice");
  s.add("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration");
  s.add("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration");
  for (const char* k : {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}) s.add("rbac.authorization.k8s.io/v1", k);
  s.add("storage.k8s.io/v1", "StorageClass");
  s.add("scheduling.k8s.io/v1", "PriorityClass");
  return s;
}

struct Case {
  const char* name;
  const char* input;
  patch::ConversionStatus status;
  const char* expected;  // YAML; for no_match a substring of the reason
};

const Case k_cases[] = {
    {"Ingress extensions/v1beta1 -> networking.k8s.io/v1 (backends, pathType)", R"(
apiVersion: extensions/v1beta1
kind: Ingress
metadata: {name: web, namespace: shop, annotations: {kubernetes.io/ingress.class: nginx}}
spec:
  backend: {serviceName: default-http, servicePort: 80}
  tls: [{hosts: [shop.example.com], secretName: tls}]
  rules:
  - host: shop.example.com
    http:
      paths:
      - {path: /, backend: {serviceName: web, servicePort: http}}
      - {path: /api, pathType: Prefix, backend: {serviceName: api, servicePort: 8080}}
)",
     patch::ConversionStatus::converted, R"(
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop, annotations: {kubernetes.io/ingress.class: nginx}}
spec:
  defaultBackend: {service: {name: default-http, port: {number: 80}}}
  tls: [{hosts: [shop.example.com], secretName: tls}]
  rules:
  - host: shop.example.com
    http:
      paths:
      - {path: /, backend: {service: {name: web, port: {name: http}}}, pathType: ImplementationSpecific}
      - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {number: 8080}}}}
)"},
    {"CronJob batch/v1beta1 -> batch/v1", R"(
apiVersion: batch/v1beta1
kind: CronJob
metadata: {name: backup, namespace: ops}
spec:
  schedule: "0 3 * * *"
  concurrencyPolicy: Forbid
  jobTemplate: {spec: {template: {spec: {restartPolicy: OnFailure, containers: [{name: b, image: busybox}]}}}}
)",
     patch::ConversionStatus::converted, R"(
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup, namespace: ops}
spec:
  schedule: "0 3 * * *"
  concurrencyPolicy: Forbid
  jobTemplate: {spec: {template: {spec: {restartPolicy: OnFailure, containers: [{name: b, image: busybox}]}}}}
)"},
    {"PodDisruptionBudget policy/v1beta1 with an empty selector -> match nothing", R"(
apiVersion: policy/v1beta1
kind: PodDisruptionBudget
metadata: {name: none, namespace: shop}
spec: {minAvailable: 1, selector: {}}
)",
     patch::ConversionStatus::converted, R"(
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: none, namespace: shop}
spec:
  minAvailable: 1
  selector:
    matchExpressions: [{key: pdb.kubernetes.io/deprecated-v1beta1-empty-selector-match, operator: Exists}]
)"},
    {"HorizontalPodAutoscaler autoscaling/v2beta1 -> v2 (metric shapes)", R"(
apiVersion: autoscaling/v2beta1
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 10
  metrics:
  - {type: Resource, resource: {name: cpu, targetAverageUtilization: 70}}
  - {type: Resource, resource: {name: memory, targetAverageValue: 500Mi}}
  - {type: Pods, pods: {metricName: rps, targetAverageValue: "100"}}
  - {type: Object, object: {target: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: web}, metricName: hits, targetValue: "2k"}}
  - {type: External, external: {metricName: queue, metricSelector: {matchLabels: {q: a}}, targetAverageValue: "30"}}
status: {currentReplicas: 2, desiredReplicas: 2}
)",
     patch::ConversionStatus::converted, R"(
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 10
  metrics:
  - {type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}}
  - {type: Resource, resource: {name: memory, target: {type: AverageValue, averageValue: 500Mi}}}
  - {type: Pods, pods: {metric: {name: rps}, target: {type: AverageValue, averageValue: "100"}}}
  - {type: Object, object: {describedObject: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: web}, metric: {name: hits}, target: {type: Value, value: "2k"}}}
  - {type: External, external: {metric: {name: queue, selector: {matchLabels: {q: a}}}, target: {type: AverageValue, averageValue: "30"}}}
)"},
    {"HorizontalPodAutoscaler autoscaling/v1 with metrics annotations -> v2", R"(
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  name: web
  namespace: shop
  annotations:
    autoscaling.alpha.kubernetes.io/metrics: '[{"type":"Pods","pods":{"metricName":"rps","targetAverageValue":"10"}}]'
    autoscaling.alpha.kubernetes.io/conditions: '[]'
    team: a
spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, maxReplicas: 5, targetCPUUtilizationPercentage: 80}
)",
     patch::ConversionStatus::converted, R"(
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop, annotations: {team: a}}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 5
  metrics:
  - {type: Pods, pods: {metric: {name: rps}, target: {type: AverageValue, averageValue: "10"}}}
  - {type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}}
)"},
    {"Deployment extensions/v1beta1 without selector -> apps/v1", R"(
apiVersion: extensions/v1beta1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  rollbackTo: {revision: 1}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec: {containers: [{name: web, image: nginx}]}
)",
     patch::ConversionStatus::converted, R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: web, tier: front}}
    spec: {containers: [{name: web, image: nginx}]}
  selector: {matchLabels: {app: web, tier: front}}
  revisionHistoryLimit: 2147483647
  progressDeadlineSeconds: 2147483647
)"},
    {"DaemonSet extensions/v1beta1 keeps its OnDelete default", R"(
apiVersion: extensions/v1beta1
kind: DaemonSet
metadata: {name: agent, namespace: kube-system}
spec:
  templateGeneration: 3
  selector: {matchLabels: {app: agent}}
  template: {metadata: {labels: {app: agent}}, spec: {containers: [{name: a, image: agent}]}}
)",
     patch::ConversionStatus::converted, R"(
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: agent}}
  template: {metadata: {labels: {app: agent}}, spec: {containers: [{name: a, image: agent}]}}
  updateStrategy: {type: OnDelete}
)"},
    {"StatefulSet apps/v1beta2 -> apps/v1", R"(
apiVersion: apps/v1beta2
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template: {metadata: {labels: {app: db}}, spec: {containers: [{name: pg, image: postgres}]}}
)",
     patch::ConversionStatus::converted, R"(
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template: {metadata: {labels: {app: db}}, spec: {containers: [{name: pg, image: postgres}]}}
)"},
    {"CustomResourceDefinition apiextensions.k8s.io/v1beta1 -> v1", R"(
apiVersion: apiextensions.k8s.io/v1beta1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  version: v1
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  validation:
    openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: integer}}}}}
  subresources: {status: {}}
  additionalPrinterColumns:
  - {name: Size, type: integer, JSONPath: .spec.size}
  preserveUnknownFields: false
)",
     patch::ConversionStatus::converted, R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: integer}}}}}
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
)"},
    {"EndpointSlice discovery.k8s.io/v1beta1 topology -> nodeName and zone", R"(
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata: {name: web-abc, namespace: shop}
addressType: IPv4
endpoints:
- addresses: [10.0.0.5]
  conditions: {ready: true}
  topology: {kubernetes.io/hostname: node-1, topology.kubernetes.io/zone: eu-1a, topology.kubernetes.io/region: eu-1}
ports: [{name: http, port: 80, protocol: TCP}]
)",
     patch::ConversionStatus::converted, R"(
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc, namespace: shop}
addressType: IPv4
endpoints:
- addresses: [10.0.0.5]
  conditions: {ready: true}
  nodeName: node-1
  zone: eu-1a
  deprecatedTopology: {topology.kubernetes.io/region: eu-1}
ports: [{name: http, port: 80, protocol: TCP}]
)"},
    {"ValidatingWebhookConfiguration v1beta1 -> v1 (sideEffects, defaults)", R"(
apiVersion: admissionregistration.k8s.io/v1beta1
kind: ValidatingWebhookConfiguration
metadata: {name: policy}
webhooks:
- name: a.example.com
  clientConfig: {service: {name: hook, namespace: sys}}
  rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
- name: b.example.com
  sideEffects: Some
  failurePolicy: Fail
  clientConfig: {url: "https://b.example.com"}
)",
     patch::ConversionStatus::converted, R"(
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: policy}
webhooks:
- name: a.example.com
  clientConfig: {service: {name: hook, namespace: sys}}
  rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  sideEffects: None
  admissionReviewVersions: [v1beta1]
  failurePolicy: Ignore
  matchPolicy: Exact
  timeoutSeconds: 30
- name: b.example.com
  sideEffects: NoneOnDryRun
  failurePolicy: Fail
  clientConfig: {url: "https://b.example.com"}
  admissionReviewVersions: [v1beta1]
  matchPolicy: Exact
  timeoutSeconds: 30
)"},
    {"ClusterRole rbac v1beta1 -> v1", R"(
apiVersion: rbac.authorization.k8s.io/v1beta1
kind: ClusterRole
metadata: {name: reader}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
)",
     patch::ConversionStatus::converted, R"(
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
)"},
    {"served versions are left alone", R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {template: {spec: {containers: []}}}
)",
     patch::ConversionStatus::unchanged, R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {template: {spec: {containers: []}}}
)"},
    {"PodSecurityPolicy has no replacement", R"(
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: restricted}
spec: {privileged: false}
)",
     patch::ConversionStatus::no_match, "removed from Kubernetes without a replacement"},
    {"a Deployment whose selector cannot be derived is skipped", R"(
apiVersion: apps/v1beta1
kind: Deployment
metadata: {name: web}
spec: {template: {spec: {containers: []}}}
)",
     patch::ConversionStatus::no_match, "no labels to derive it from"},
    {"unknown APIs are skipped with a reason", R"(
apiVersion: example.com/v1alpha1
kind: Widget
metadata: {name: w}
)",
     patch::ConversionStatus::no_match, "kbk knows no conversion"},
};

}  // namespace

TEST_CASE("convert_to_served converts removed APIs to served versions", "[convert]") {
  patch::ServedApis served = served_130();
  for (const Case& c : k_cases) {
    INFO(c.name);
    auto in = json::parse_yaml(c.input, "input");
    REQUIRE(in.ok());
    json::Document before = json::clone(*in);
    auto r = patch::convert_to_served(*in, served);
    CHECK(r.status == c.status);
    if (c.status == patch::ConversionStatus::no_match) {
      INFO("reason: " << r.reason);
      CHECK(r.reason.find(c.expected) != std::string::npos);
      CHECK(json::equal(*in, before));
      continue;
    }
    auto want = json::parse_yaml(c.expected, "expected");
    REQUIRE(want.ok());
    INFO("got:\n" << json::to_yaml(*in));
    CHECK(json::equal(*in, *want));
    if (c.status == patch::ConversionStatus::converted) CHECK_FALSE(r.to.empty());
  }
}

TEST_CASE("convert_to_served reports when the target serves no version of the kind", "[convert]") {
  patch::ServedApis served;
  served.add("v1", "Pod");
  auto in = json::parse_yaml("apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: c}\n");
  REQUIRE(in.ok());
  auto r = patch::convert_to_served(*in, served);
  CHECK(r.status == patch::ConversionStatus::no_match);
  CHECK(r.reason == "the target serves neither batch/v1beta1 nor batch/v1 for CronJob");
  CHECK_FALSE(patch::known_conversions().empty());
}
