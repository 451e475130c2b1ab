// Resource modifiers: Velero's test catalogue (velero-facts section 4.3, numbers in the test names) and kbk.io/v1.
#include <catch2/catch.hpp>

#include <kbk/json/json.hpp>
#include <kbk/patch/modifiers.hpp>

using namespace kbk;

namespace {

patch::ModifierSet load(const std::string& yaml) {
  auto s = patch::ModifierSet::parse(yaml, "rules.yaml");
  INFO((s.ok() ? std::string("ok") : s.error().message));
  REQUIRE(s.ok());
  return std::move(*s);
}

json::Document obj(const std::string& text) {
  auto d = json::parse_yaml(text, "object");
  REQUIRE(d.ok());
  return std::move(*d);
}

std::vector<std::string> errors_of(const std::string& yaml) {
  auto s = patch::ModifierSet::parse(yaml, "rules.yaml");
  std::vector<std::string> out;
  if (!s.ok())
    for (const auto& c : s.error().causes) out.push_back(c.message);
  return out;
}

const char* const k_pvc = R"(apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: test-pvc, namespace: foo, labels: {test: "1"}}
spec: {storageClassName: standard}
)";

const char* const k_deploy = R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: test-deployment, namespace: foo, labels: {app: nginx}}
spec:
  replicas: 1
  template:
    metadata: {labels: {app: nginx}}
    spec:
      containers:
      - {name: nginx, image: nginx1}
)";

}  // namespace

TEST_CASE("ModifierSet::parse reads Velero v1 rules (catalogue 1, 2, 4, 6-9)", "[modifiers]") {
  auto s = load(R"(version: v1
resourceModifierRules:
- conditions:
    groupResource: persistentvolumeclaims
    resourceNameRegex: ".*"
    namespaces: [bar, foo]
  patches:
  - {operation: replace, path: /spec/storageClassName, value: premium}
  - {operation: remove, path: /metadata/labels/test}
- conditions: {groupResource: deployments.apps, labelSelector: {matchLabels: {a: b}}}
- conditions:
    groupResource: pods
    matches: [{path: /metadata/annotations/foo, value: bar}]
  mergePatches:
  - patchData: |
      metadata:
        annotations:
          foo: null
- conditions: {groupResource: pods}
  strategicPatches:
  - patchData: '{"spec":{"containers":[{"name":"nginx","image":"repo2/nginx"}]}}'
)");
  CHECK(s.size() == 4);
  CHECK(s.version() == "v1");
  auto pvc = obj(k_pvc);
  auto r = s.apply(pvc, {"persistentvolumeclaims", "", nullptr, nullptr});
  CHECK(r.errors.empty());
  CHECK(json::get_string(pvc, {"spec", "storageClassName"}) == "premium");
  CHECK(json::at(pvc, {"metadata", "labels", "test"}) == nullptr);
}

TEST_CASE("ModifierSet::parse is strict: unknown fields with line and column (catalogue 3)", "[modifiers]") {
  auto errs = errors_of("version1: v1\nresourceModifierRules: []\n");
  REQUIRE_FALSE(errs.empty());
  CHECK(errs[0].find("rules.yaml:1:1:") == 0);
  auto errs2 = errors_of(R"(version: v1
resourceModifierRules:
- conditions:
    groupResource: pods
    nameRegex: x
  patches:
  - {operation: add, path: /a, value: b, valu: c}
)");
  REQUIRE(errs2.size() == 2);
  CHECK(errs2[0] == "rules.yaml:5:5: unknown field \"nameRegex\" in rule 0.conditions (allowed: groupResource, "
                    "labelSelector, matches, namespaces, resourceNameRegex)");
  CHECK(errs2[1].find("rules.yaml:7:42: unknown field \"valu\"") == 0);
}

TEST_CASE("ModifierSet::parse validates like Velero (catalogue 48-54)", "[modifiers]") {
  CHECK(errors_of("version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n  patches: [{operation: add, path: /a, value: b}]\n").empty());
  CHECK_FALSE(errors_of("version: v2\nresourceModifierRules:\n- conditions: {groupResource: pods}\n").empty());
  CHECK_FALSE(errors_of("version: v1\nresourceModifierRules: []\n").empty());
  CHECK_FALSE(errors_of("version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n  patches: [{operation: invalid, path: /a}]\n").empty());
  CHECK_FALSE(errors_of("version: v1\nresourceModifierRules:\n- conditions: {groupResource: \"\"}\n  patches: [{operation: add, path: /a, value: b}]\n").empty());
  CHECK_FALSE(errors_of("version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n  patches: [{operation: add, path: /a, value: b}]\n  mergePatches: [{patchData: '{}'}]\n").empty());
  CHECK_FALSE(errors_of("version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n  patches: [{operation: add, path: \"\"}]\n").empty());
  CHECK_FALSE(errors_of("version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n  patches: [{path: /a}]\n").empty());
  // Case-insensitive version and operation names.
  CHECK(errors_of("version: V1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n  patches: [{operation: Replace, path: /a, value: b}]\n").empty());
}

TEST_CASE("ModifierSet::apply quotes JSON patch values as Velero does (catalogue 10-12, 17, 42-45)", "[modifiers]") {
  auto s = load(R"(version: v1
resourceModifierRules:
- conditions: {groupResource: configmaps}
  patches:
  - {operation: add, path: /data/quoted, value: "\"true\""}
  - {operation: add, path: /data/raw, value: "true"}
  - {operation: add, path: /data/num, value: "2"}
  - {operation: add, path: /data/null, value: "null"}
  - {operation: add, path: /data/obj, value: '{"a": [1]}'}
  - {operation: add, path: /data/str, value: premium}
  - {operation: add, path: /data/empty, value: ""}
  - {operation: replace, path: /data/test, value: "\"false\""}
)");
  auto cm = obj("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {test: \"true\"}\n");
  auto r = s.apply(cm);
  INFO((r.errors.empty() ? "" : r.errors[0].message));
  REQUIRE(r.errors.empty());
  CHECK(json::to_string(*json::find(cm, "data")) ==
        R"({"test":"false","quoted":"true","raw":true,"num":2,"null":null,"obj":{"a":[1]},"str":"premium","empty":""})");
}

TEST_CASE("ModifierSet::apply: invalid name regex is reported at load time (catalogue 13)", "[modifiers]") {
  auto errs = errors_of("version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods, resourceNameRegex: \"[a-z\"}\n  patches: [{operation: add, path: /a, value: b}]\n");
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].find("rules.yaml:3:") == 0);
}

TEST_CASE("ModifierSet::apply evaluates conditions on the original object (catalogue 14-16)", "[modifiers]") {
  auto two = [](const char* second_target) {
    return std::string(R"(version: v1
resourceModifierRules:
- conditions: {groupResource: persistentvolumeclaims, matches: [{path: /spec/storageClassName, value: standard}]}
  patches: [{operation: replace, path: /spec/storageClassName, value: premium}]
- conditions: {groupResource: persistentvolumeclaims, matches: [{path: /spec/storageClassName, value: )") +
           second_target + R"(}]}
  patches: [{operation: replace, path: /spec/storageClassName, value: gold}]
)";
  };
  {
    auto s = load(two("premium"));
    auto pvc = obj(k_pvc);
    s.apply(pvc);
    CHECK(json::get_string(pvc, {"spec", "storageClassName"}) == "premium");  // 15
  }
  {
    auto s = load(two("standard"));
    auto pvc = obj(k_pvc);
    s.apply(pvc);
    CHECK(json::get_string(pvc, {"spec", "storageClassName"}) == "gold");  // 16
  }
  {
    auto s = load("version: v1\nresourceModifierRules:\n- conditions: {groupResource: persistentvolumeclaims}\n"
                  "  patches:\n  - {operation: test, path: /spec/storageClassName, value: standard}\n"
                  "  - {operation: replace, path: /spec/storageClassName, value: premium}\n");
    auto pvc = obj(k_pvc);
    s.apply(pvc);
    CHECK(json::get_string(pvc, {"spec", "storageClassName"}) == "premium");  // 14
  }
}

TEST_CASE("ModifierSet::apply matches namespace, name regex and labels (catalogue 17-22, 25-26)", "[modifiers]") {
  auto run = [](const std::string& conditions, const char* test_value) {
    auto s = load("version: v1\nresourceModifierRules:\n- conditions: {groupResource: deployments.apps" + conditions +
                  "}\n  patches:\n  - {operation: test, path: /spec/replicas, value: \"" + test_value +
                  "\"}\n  - {operation: replace, path: /spec/replicas, value: \"2\"}\n");
    auto d = obj(k_deploy);
    auto r = s.apply(d);
    CHECK(r.errors.empty());
    return json::at(d, {"spec", "replicas"})->GetInt();
  };
  CHECK(run(", resourceNameRegex: \"^test-.*$\", namespaces: [foo]", "1") == 2);  // 17
  CHECK(run(", resourceNameRegex: \"^test-.*$\", namespaces: [foo]", "5") == 1);  // 18
  CHECK(run(", namespaces: [foo]", "1") == 2);                                    // 19/20
  CHECK(run("", "1") == 2);                                                       // 21
  CHECK(run(", namespaces: [bar]", "1") == 1);                                    // 22
  CHECK(run(", labelSelector: {matchLabels: {app: nginx}}", "1") == 2);          // 25
  CHECK(run(", labelSelector: {matchLabels: {app: nginx-mismatch}}", "1") == 1); // 26
  CHECK(run(", labelSelector: {matchExpressions: [{key: app, operator: In, values: [nginx, x]}]}", "1") == 2);
  CHECK(run(", labelSelector: {matchExpressions: [{key: app, operator: DoesNotExist}]}", "1") == 1);
}

TEST_CASE("ModifierSet::apply adds and copies containers (catalogue 23, 24)", "[modifiers]") {
  auto s = load(R"(version: v1
resourceModifierRules:
- conditions: {groupResource: deployments.apps}
  patches:
  - {operation: add, path: /spec/template/spec/containers/1, value: '{"name": "mysql", "image": "mysql"}'}
)");
  auto d = obj(k_deploy);
  s.apply(d);
  CHECK(json::to_string(*json::at(d, {"spec", "template", "spec", "containers"})) ==
        R"([{"name":"nginx","image":"nginx1"},{"name":"mysql","image":"mysql"}])");
  auto s2 = load(R"(version: v1
resourceModifierRules:
- conditions: {groupResource: deployments.apps}
  patches:
  - {operation: copy, from: /spec/template/spec/containers/0, path: /spec/template/spec/containers/1}
  - {operation: test, path: /spec/template/spec/containers/1/image, value: nginx1}
  - {operation: replace, path: /spec/template/spec/containers/1/name, value: mysql}
  - {operation: replace, path: /spec/template/spec/containers/1/image, value: mysql}
)");
  auto d2 = obj(k_deploy);
  s2.apply(d2);
  CHECK(json::to_string(*json::at(d2, {"spec", "template", "spec", "containers"})) ==
        R"([{"name":"nginx","image":"nginx1"},{"name":"mysql","image":"mysql"}])");
}

TEST_CASE("ModifierSet::apply strategic patches (catalogue 27-31)", "[modifiers]") {
  auto s = load(R"(version: v1
resourceModifierRules:
- conditions: {groupResource: pods, namespaces: [fake]}
  strategicPatches:
  - patchData: |
      spec:
        containers:
        - name: nginx
          image: nginx1
        volumes:
        - name: vol1
          nfs: null
          persistentVolumeClaim: {claimName: pvc1}
)");
  auto pod = obj(R"(apiVersion: v1
kind: Pod
metadata: {name: p, namespace: fake}
spec:
  containers: [{name: nginx, image: nginx}]
  volumes:
  - {name: vol1, nfs: {server: s, path: /p}}
  - {name: vol2, emptyDir: {}}
)");
  auto r = s.apply(pod);
  REQUIRE(r.errors.empty());
  CHECK(json::to_string(*json::find(pod, "spec")) ==
        R"({"containers":[{"name":"nginx","image":"nginx1"}],"volumes":[{"name":"vol1","persistentVolumeClaim":{"claimName":"pvc1"}},{"name":"vol2","emptyDir":{}}]})");
  auto svc_rules = load(R"(version: v1
resourceModifierRules:
- conditions: {groupResource: services}
  strategicPatches:
  - patchData: |
      spec:
        $setElementOrder/ports: [{port: 8001}, {port: 9000}, {port: 8002}]
        ports:
        - {name: fake, port: 9000, protocol: TCP, targetPort: 9000}
        - {$patch: delete, port: 8000}
)");
  auto svc = obj(R"(apiVersion: v1
kind: Service
metadata: {name: s, namespace: n}
spec:
  ports:
  - {name: a, port: 8001}
  - {name: b, port: 8000}
  - {name: c, port: 8002}
)");
  REQUIRE(svc_rules.apply(svc).errors.empty());
  CHECK(json::to_string(*json::at(svc, {"spec", "ports"})) ==
        R"([{"name":"a","port":8001},{"name":"fake","port":9000,"protocol":"TCP","targetPort":9000},{"name":"c","port":8002}])");
}

TEST_CASE("ModifierSet::apply merge patches (catalogue 32-36, 46)", "[modifiers]") {
  auto run = [](const char* data) {
    auto s = load(std::string("version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n  mergePatches:\n  - patchData: '") + data + "'\n");
    auto pod = obj("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: \"n\", labels: {a: b}}\n");
    auto r = s.apply(pod);
    CHECK(r.errors.empty());
    return json::to_string(*json::at(pod, {"metadata"}));
  };
  CHECK(run(R"({"metadata":{"labels":{"a":"c"}}})") == R"({"name":"p","namespace":"n","labels":{"a":"c"}})");
  CHECK(run("metadata: {labels: {a: c}}") == R"({"name":"p","namespace":"n","labels":{"a":"c"}})");
  CHECK(run("metadata: {labels: {a: null}}") == R"({"name":"p","namespace":"n","labels":{}})");
  CHECK(run("metadata: {labels: {x: null}}") == R"({"name":"p","namespace":"n","labels":{"a":"b"}})");
  CHECK_FALSE(errors_of("version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n  mergePatches: [{patchData: 'a: b:'}]\n").empty());
}

TEST_CASE("ModifierSet::apply matches groupResource globs (catalogue 37, 38)", "[modifiers]") {
  auto s = load("version: v1\nresourceModifierRules:\n- conditions: {groupResource: \"*\"}\n  mergePatches: [{patchData: '{\"metadata\":{\"labels\":{\"hit\":\"core\"}}}'}]\n"
                "- conditions: {groupResource: \"*.apps\"}\n  mergePatches: [{patchData: '{\"metadata\":{\"labels\":{\"hit\":\"apps\"}}}'}]\n");
  auto cm = obj("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
  s.apply(cm, {"configmaps", "", nullptr, nullptr});
  CHECK(json::get_string(cm, {"metadata", "labels", "hit"}) == "core");
  auto fake = obj("apiVersion: apps/v1\nkind: Fake\nmetadata: {name: f}\n");
  s.apply(fake, {"fake.apps", "", nullptr, nullptr});
  CHECK(json::get_string(fake, {"metadata", "labels", "hit"}) == "apps");
  auto d = obj(k_deploy);
  s.apply(d);  // deployments.apps derived from apiVersion/kind
  CHECK(json::get_string(d, {"metadata", "labels", "hit"}) == "apps");
}

TEST_CASE("ModifierSet::apply: matches through a string is no match (catalogue 39-41)", "[modifiers]") {
  auto run = [](const char* path, const char* value) {
    auto s = load(std::string("version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods, matches: [{path: ") +
                  path + ", value: " + value + "}]}\n  mergePatches: [{patchData: '{\"metadata\":{\"labels\":{\"hit\":\"y\"}}}'}]\n");
    auto pod = obj("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n, labels: {a: b}}\n");
    auto r = s.apply(pod);
    CHECK(r.errors.empty());
    return json::at(pod, {"metadata", "labels", "hit"}) != nullptr;
  };
  CHECK(run("/metadata/labels/a", "b"));
  CHECK_FALSE(run("/metadata/labels/a", "c"));
  CHECK_FALSE(run("/metadata/labels/a/b", "c"));
}

TEST_CASE("ModifierSet::apply: strategic patch of a custom resource falls back and says so (catalogue 47)", "[modifiers]") {
  auto s = load("version: v1\nresourceModifierRules:\n- conditions: {groupResource: widgets.example.com}\n  strategicPatches: [{patchData: '{\"spec\":{\"size\":2}}'}]\n");
  auto w = obj("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 1}\n");
  auto r = s.apply(w);
  REQUIRE(r.errors.empty());
  REQUIRE(r.applied.size() == 1);
  CHECK(r.applied[0].note.find("JSON merge patch") != std::string::npos);
  CHECK(json::at(w, {"spec", "size"})->GetInt() == 2);
}

TEST_CASE("ModifierSet::apply: kbk.io/v1 where conditions, actions and chaining", "[modifiers]") {
  auto s = load(R"(version: kbk.io/v1
chain: true
rules:
- name: bump images
  conditions:
    where:
    - {path: /spec/template/spec/containers/*/image, regex: "^nginx"}
  actions:
  - replaceRegex: {path: /spec/template/spec/containers/*/image, regex: "^nginx[0-9]*$", replacement: "registry.local/nginx:1.27"}
  - setLabels: {migrated: "true"}
  - setAnnotations: {kbk.io/note: moved}
- name: sees the first rule
  conditions:
    where:
    - {path: /metadata/labels/migrated, equals: "true"}
    - {path: /spec/paused, exists: false}
  patches:
  - {op: replace, path: /spec/replicas, value: 3}
  actions:
  - copy: {from: /metadata/labels/app, to: /metadata/annotations/app-label}
  - remove: /metadata/labels/a*
)");
  CHECK(s.chained());
  CHECK(s.version() == "kbk.io/v1");
  auto d = obj(k_deploy);
  auto r = s.apply(d);
  INFO(json::to_string(d));
  REQUIRE(r.errors.empty());
  CHECK(r.applied.size() == 2);
  CHECK(json::get_string(d, {"spec", "template", "spec", "containers"}).empty());
  CHECK(json::to_string(*json::at(d, {"spec", "template", "spec", "containers"})) ==
        R"([{"name":"nginx","image":"registry.local/nginx:1.27"}])");
  CHECK(json::at(d, {"spec", "replicas"})->GetInt() == 3);
  CHECK(json::to_string(*json::find(d, "metadata")) ==
        R"({"name":"test-deployment","namespace":"foo","labels":{"migrated":"true"},"annotations":{"kbk.io/note":"moved","app-label":"nginx"}})");
}

TEST_CASE("ModifierSet::parse: kbk.io/v1 errors and mappings", "[modifiers]") {
  auto errs = errors_of(R"(version: kbk.io/v1
rules:
- name: nothing
  conditions: {where: [{path: /a}]}
)");
  REQUIRE(errs.size() == 2);
  CHECK(errs[0].find("rules.yaml:4:") == 0);
  CHECK(errs[1].find("nothing to do") != std::string::npos);
  auto s = load(R"(version: kbk.io/v1
mappings:
  storageClasses: {standard: fast}
  images: {nginx: registry.local/nginx}
rules:
- actions: [{setLabels: {a: b}}]
)");
  CHECK(s.mappings().storage_classes.at("standard") == "fast");
  REQUIRE(s.mappings().images.size() == 1);
}

TEST_CASE("ModifierSet::parse: kbk.io/v1 values are typed YAML and quoted scalars stay strings", "[modifiers]") {
  auto s = load(R"(version: kbk.io/v1
rules:
- mergePatches: [{patchData: {metadata: {labels: {a: "true", b: "1", d: 'x: y'}}}}]
  patches: [{op: add, path: /data/n, value: {k: "2", l: [1, "1", true, null]}}]
)");
  auto cm = obj("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {}\n");
  auto r = s.apply(cm);
  REQUIRE(r.errors.empty());
  CHECK(json::to_string(*json::at(cm, {"metadata", "labels"})) == R"({"a":"true","b":"1","d":"x: y"})");
  CHECK(json::to_string(*json::at(cm, {"data", "n"})) == R"({"k":"2","l":[1,"1",true,null]})");
}
