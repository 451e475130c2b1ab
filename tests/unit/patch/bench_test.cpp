// Micro-benchmark (hidden: run with `unit_patch "[.bench]"`, or scripts/bench-patch): a realistic modifier file and
// mappings applied to 10,000 parsed objects, against a baseline measured in the same run (a deep copy of each
// object, the least any transform costs). Prints numbers; asserts nothing about time.
#include <catch2/catch.hpp>

#include <ctime>
#include <cstdio>
#include <cstdlib>

#include <kbk/json/json.hpp>
#include <kbk/patch/modifiers.hpp>

using namespace kbk;

namespace {

const char* const k_rules = R"(version: kbk.io/v1
mappings:
  storageClasses: {gp2: gp3, standard: fast}
  images: {nginx: registry.example.com/nginx, quay.io: registry.example.com/quay}
rules:
- name: private registry
  conditions:
    groupResource: "{deployments,statefulsets,daemonsets}.apps"
    where: [{path: /spec/template/spec/containers/*/image, regex: "^(docker\\.io/)?bitnami/"}]
  actions:
  - replaceRegex: {path: /spec/template/spec/containers/*/image, regex: "^(docker\\.io/)?bitnami/", replacement: "registry.example.com/bitnami/"}
  - setLabels: {migrated-by: kbk}
- name: cleanup
  actions:
  - remove: /metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration
  - setAnnotations: {restored-by: kbk}
- name: scale
  conditions: {groupResource: deployments.apps, namespaces: ["shop-*"], matches: [{path: /spec/replicas, value: 3}]}
  patches: [{op: replace, path: /spec/replicas, value: 1}]
- name: sidecar image
  conditions: {groupResource: deployments.apps, labelSelector: {matchLabels: {tier: front}}}
  strategicPatches: [{patchData: {spec: {template: {spec: {containers: [{name: metrics, image: "exporter:2"}]}}}}}]
)";

std::string deployment(int i) {
  std::string n = std::to_string(i);
  return R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web-)" + n +
         R"(","namespace":"shop-)" + std::to_string(i % 20) +
         R"(","labels":{"app":"web","tier":"front"},"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"apiVersion\":\"apps/v1\"}","team":"a"}},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web","tier":"front"}},"spec":{"containers":[{"name":"web","image":"nginx:1.25","ports":[{"containerPort":80}],"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"resources":{"requests":{"cpu":"100m","memory":"64Mi"}}},{"name":"cache","image":"bitnami/redis:7"},{"name":"metrics","image":"exporter:1"}],"volumes":[{"name":"cfg","configMap":{"name":"cfg"}}]}}}})";
}

std::string pvc(int i) {
  return R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data-)" + std::to_string(i) +
         R"(","namespace":"shop-1"},"spec":{"storageClassName":"gp2","accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}})";
}

std::string configmap(int i) {
  return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-)" + std::to_string(i) +
         R"(","namespace":"shop-2"},"data":{"a":"b","c":"d"}})";
}

}  // namespace

TEST_CASE("ModifierSet::apply throughput on 10,000 objects", "[.bench]") {
  auto set = patch::ModifierSet::parse(k_rules, "bench.yaml");
  REQUIRE(set.ok());
  std::vector<json::Document> objs;
  const int n = std::getenv("KBK_BENCH_OBJECTS") ? std::atoi(std::getenv("KBK_BENCH_OBJECTS")) : 10000;
  for (int i = 0; i < n; ++i) {
    std::string text = i % 2 == 0 ? deployment(i) : (i % 4 == 1 ? pvc(i) : configmap(i));
    auto d = json::parse(text);
    REQUIRE(d.ok());
    objs.push_back(std::move(*d));
  }
  // CPU time of this thread: other processes on the machine do not count.
  auto now = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  };
  // Baseline: one deep copy per object.
  double t0 = now();
  size_t sink = 0;
  for (const auto& o : objs) {
    json::Document c = json::clone(o);
    sink += c.MemberCount();
  }
  double copy_s = now() - t0;
  // Transform: rules + mappings, in place, no re-serialisation.
  t0 = now();
  size_t changed = 0;
  for (auto& o : objs) {
    auto r = set->apply(o);
    changed += r.changed ? 1 : 0;
    changed += set->mappings().apply(o).empty() ? 0 : 1;
    REQUIRE(r.errors.empty());
  }
  double apply_s = now() - t0;
  std::printf("bench-patch: %d objects (1/2 Deployments, 1/4 PVCs, 1/4 ConfigMaps), 4 rules + mappings\n", n);
  std::printf("  baseline deep copy: %10.0f objects/s (CPU time)\n", n / copy_s);
  std::printf("  modifiers+mappings: %10.0f objects/s (%.1f us/object, %.1fx the copy)\n", n / apply_s,
              apply_s * 1e6 / n, apply_s / copy_s);
  CHECK(sink > 0);
  CHECK(changed > 0);
}
