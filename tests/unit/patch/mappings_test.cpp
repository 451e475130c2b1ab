// Storage-class, ingress-class and image mappings.
#include <catch2/catch.hpp>

#include <kbk/json/json.hpp>
#include <kbk/patch/mappings.hpp>

using namespace kbk;

TEST_CASE("parse_image_ref normalises Docker Hub references", "[mappings]") {
  CHECK(patch::parse_image_ref("nginx")->normalized() == "docker.io/library/nginx");
  CHECK(patch::parse_image_ref("nginx:1.25")->normalized() == "docker.io/library/nginx:1.25");
  CHECK(patch::parse_image_ref("bitnami/redis:7")->normalized() == "docker.io/bitnami/redis:7");
  CHECK(patch::parse_image_ref("localhost:5000/app:v1")->normalized() == "localhost:5000/app:v1");
  CHECK(patch::parse_image_ref("quay.io/org/app@sha256:abc")->normalized() == "quay.io/org/app@sha256:abc");
  CHECK(patch::parse_image_ref("index.docker.io/library/nginx")->normalized() == "docker.io/library/nginx");
  CHECK_FALSE(patch::parse_image_ref("").has_value());
  CHECK_FALSE(patch::parse_image_ref("nginx:").has_value());
}

TEST_CASE("map_image matches prefixes at component boundaries", "[mappings]") {
  auto m = patch::Mappings::parse_images("nginx=registry.local/nginx,quay.io=mirror.local/quay,docker.io/bitnami:mirror.local/bitnami");
  REQUIRE(m.ok());
  REQUIRE(m->size() == 3);
  CHECK(patch::map_image("nginx:1.25", *m) == "registry.local/nginx:1.25");
  CHECK(patch::map_image("docker.io/library/nginx", *m) == "registry.local/nginx");
  CHECK(patch::map_image("nginx@sha256:abc", *m) == "registry.local/nginx@sha256:abc");
  CHECK_FALSE(patch::map_image("nginx-exporter:1", *m).has_value());  // not at a boundary
  CHECK(patch::map_image("quay.io/org/app:2", *m) == "mirror.local/quay/org/app:2");
  CHECK(patch::map_image("bitnami/redis:7", *m) == "mirror.local/bitnami/redis:7");
  auto tag = patch::Mappings::parse_images("nginx:1.25=nginx:1.27");
  REQUIRE(tag.ok());
  CHECK(patch::map_image("nginx:1.25", *tag) == "nginx:1.27");
  CHECK_FALSE(patch::map_image("nginx:1.25.3", *tag).has_value());
  CHECK_FALSE(patch::Mappings::parse_images("a:b:c").ok());  // two ':' and no '='
}

TEST_CASE("Mappings::apply maps storage classes, ingress classes and images", "[mappings]") {
  patch::Mappings m;
  m.storage_classes = *patch::Mappings::parse_pairs("standard:fast,gp2:gp3", "--storage-class-mappings");
  m.ingress_classes = {{"nginx", "traefik"}};
  m.images = *patch::Mappings::parse_images("nginx=registry.local/nginx");
  auto pvc = json::parse_yaml(R"(apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: d, annotations: {volume.beta.kubernetes.io/storage-class: gp2}}
spec: {storageClassName: standard}
)");
  auto changes = m.apply(*pvc);
  CHECK(changes.size() == 2);
  CHECK(json::get_string(*pvc, {"spec", "storageClassName"}) == "fast");
  CHECK(json::get_string(*pvc, {"metadata", "annotations", "volume.beta.kubernetes.io/storage-class"}) == "gp3");
  auto sts = json::parse_yaml(R"(apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  template: {spec: {initContainers: [{name: i, image: "nginx:1"}], containers: [{name: c, image: postgres}]}}
  volumeClaimTemplates: [{metadata: {name: data}, spec: {storageClassName: gp2}}]
)");
  m.apply(*sts);
  CHECK(json::get_string(*sts, {"spec", "volumeClaimTemplates"}).empty());
  CHECK(json::to_string(*json::at(*sts, {"spec", "volumeClaimTemplates"})) ==
        R"([{"metadata":{"name":"data"},"spec":{"storageClassName":"gp3"}}])");
  CHECK(json::to_string(*json::at(*sts, {"spec", "template", "spec"})) ==
        R"({"initContainers":[{"name":"i","image":"registry.local/nginx:1"}],"containers":[{"name":"c","image":"postgres"}]})");
  auto ing = json::parse_yaml(R"(apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i, annotations: {kubernetes.io/ingress.class: nginx}}
spec: {ingressClassName: nginx}
)");
  CHECK(m.apply(*ing).size() == 2);
  CHECK(json::get_string(*ing, {"spec", "ingressClassName"}) == "traefik");
  auto cron = json::parse_yaml(R"(apiVersion: batch/v1
kind: CronJob
metadata: {name: c}
spec: {jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: nginx}]}}}}}
)");
  m.apply(*cron);
  CHECK(json::get_string(*cron, {"spec", "jobTemplate", "spec", "template", "spec"}).empty());
  CHECK(json::to_string(*json::at(*cron, {"spec", "jobTemplate", "spec", "template", "spec", "containers"})) ==
        R"([{"name":"c","image":"registry.local/nginx"}])");
}

TEST_CASE("group_resource_for pluralises kinds", "[mappings]") {
  CHECK(patch::group_resource_for("apps/v1", "Deployment") == "deployments.apps");
  CHECK(patch::group_resource_for("v1", "PersistentVolumeClaim") == "persistentvolumeclaims");
  CHECK(patch::group_resource_for("networking.k8s.io/v1", "Ingress") == "ingresses.networking.k8s.io");
  CHECK(patch::group_resource_for("networking.k8s.io/v1", "NetworkPolicy") == "networkpolicies.networking.k8s.io");
  CHECK(patch::group_resource_for("v1", "Endpoints") == "endpoints");
}

#include <kbk/patch/diff.hpp>

TEST_CASE("unified_diff prints hunks with context", "[diff]") {
  CHECK(patch::unified_diff("a\nb\n", "a\nb\n", "x", "y").empty());
  CHECK(patch::unified_diff("a\nb\nc\nd\ne\nf\ng\nh\n", "a\nb\nc\nD\ne\nf\ng\nh\n", "before", "after") ==
        "--- before\n+++ after\n@@ -1,7 +1,7 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n");
  CHECK(patch::unified_diff("x\n", "x\ny\n", "a", "b") == "--- a\n+++ b\n@@ -1,1 +1,2 @@\n x\n+y\n");
}
