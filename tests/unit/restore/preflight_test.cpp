#include <catch2/catch.hpp>

#include <kbk/restore/preflight.hpp>
#include <kbk/restore/transforms.hpp>

#include "fake_client.hpp"

using namespace kbk;
using namespace kbk::restore;

namespace {

json::Document doc(const char* text) {
  auto d = json::parse(text);
  REQUIRE(d.ok());
  return std::move(*d);
}

const PlannedItem* find_item(const Plan& plan, const std::string& kind, const std::string& name) {
  for (const PlannedItem& p : plan.items)
    if (p.kind == kind && p.source_name == name) return &p;
  return nullptr;
}

const PreflightLine* find_line(const PreflightReport& r, const std::string& api_version, const std::string& kind) {
  for (const PreflightLine& l : r.lines)
    if (l.api_version() == api_version && l.kind == kind) return &l;
  return nullptr;
}

// A CRD as a v1 cluster returns it: widgets.example.com with the given versions JSON and strategy.
std::string widget_crd(const std::string& versions, const std::string& strategy = "None") {
  return R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"widgets.example.com"},
    "spec":{"group":"example.com","scope":"Namespaced","names":{"plural":"widgets","singular":"widget","kind":"Widget"},
    "conversion":{"strategy":")" + strategy + R"("},"versions":)" + versions + "}}";
}

const char* k_schema_a = R"({"type":"object","properties":{"spec":{"type":"object","properties":{"size":{"type":"integer"}}}}})";
const char* k_schema_b = R"({"type":"object","properties":{"spec":{"type":"object","properties":{"sizeGiB":{"type":"integer"}}}}})";

std::string version(const std::string& name, bool served, const char* schema) {
  return R"({"name":")" + name + R"(","served":)" + (served ? "true" : "false") + R"(,"storage":false,"schema":{"openAPIV3Schema":)" +
         schema + "}}";
}

}  // namespace

TEST_CASE("choose_custom_resource_version", "[preflight]") {
  SECTION("conversion strategy None with both versions served: only apiVersion changes") {
    auto crd = doc(widget_crd("[" + version("v1alpha1", true, k_schema_a) + "," + version("v1", true, k_schema_b) + "]").c_str());
    auto c = choose_custom_resource_version(crd, "v1alpha1", {"v1"});
    CHECK(c.changed);
    CHECK(c.to_version == "v1");
    CHECK(c.reason.find("strategy None") != std::string::npos);
  }
  SECTION("identical schemas are compatible even with a conversion webhook") {
    auto crd = doc(widget_crd("[" + version("v1alpha1", true, k_schema_a) + "," + version("v1", true, k_schema_a) + "]", "Webhook").c_str());
    auto c = choose_custom_resource_version(crd, "v1alpha1", {"v1"});
    CHECK(c.to_version == "v1");
    CHECK(c.reason.find("identical schemas") != std::string::npos);
  }
  SECTION("a webhook between different schemas: no compatible version, and the reason says so") {
    auto crd = doc(widget_crd("[" + version("v1alpha1", true, k_schema_a) + "," + version("v1", true, k_schema_b) + "]", "Webhook").c_str());
    auto c = choose_custom_resource_version(crd, "v1alpha1", {"v1"});
    CHECK_FALSE(c.changed);
    CHECK(c.to_version.empty());
    CHECK(c.reason == "the backup's CRD converts v1alpha1 -> v1 with strategy Webhook and their schemas differ");
  }
  SECTION("a version the backup's CRD did not serve is not a safe target under strategy None") {
    auto crd = doc(widget_crd("[" + version("v1alpha1", true, k_schema_a) + "," + version("v1", false, k_schema_b) + "]").c_str());
    auto c = choose_custom_resource_version(crd, "v1alpha1", {"v1"});
    CHECK(c.to_version.empty());
    CHECK(c.reason == "the backup's CRD does not serve both v1alpha1 and v1");
  }
  SECTION("the target's preferred version is tried first; unknown versions are named") {
    auto crd = doc(widget_crd("[" + version("v1alpha1", true, k_schema_a) + "," + version("v1", true, k_schema_a) + "]").c_str());
    auto c = choose_custom_resource_version(crd, "v1alpha1", {"v2", "v1"});
    CHECK(c.to_version == "v1");
    auto none = choose_custom_resource_version(crd, "v1alpha1", {"v2"});
    CHECK(none.to_version.empty());
    CHECK(none.reason == "v2 is not a version of the backup's CRD");
  }
  SECTION("apiextensions.k8s.io/v1beta1 CRDs: spec.validation is every version's schema") {
    auto crd = doc(R"({"apiVersion":"apiextensions.k8s.io/v1beta1","kind":"CustomResourceDefinition","metadata":{"name":"widgets.example.com"},
      "spec":{"group":"example.com","names":{"plural":"widgets","kind":"Widget"},"conversion":{"strategy":"Webhook"},
        "validation":{"openAPIV3Schema":{"type":"object"}},
        "versions":[{"name":"v1beta1","served":true,"storage":true},{"name":"v1","served":true,"storage":false}]}})");
    auto c = choose_custom_resource_version(crd, "v1beta1", {"v1"});
    CHECK(c.to_version == "v1");
  }
}

TEST_CASE("make_custom_resource_version_transform", "[preflight]") {
  test::BackupBuilder b;
  b.add("customresourcedefinitions.apiextensions.k8s.io",
        widget_crd("[" + version("v1alpha1", true, k_schema_a) + "," + version("v1", true, k_schema_b) + "]"))
      .add("gadgets.example.com", R"({"apiVersion":"example.com/v1alpha1","kind":"Gadget","metadata":{"name":"g","namespace":"app"}})")
      .add("widgets.example.com", R"({"apiVersion":"example.com/v1alpha1","kind":"Widget","metadata":{"name":"w","namespace":"app"},"spec":{"size":1}})");
  TargetApis target;
  target.add("", "v1", "Namespace");
  target.add("apiextensions.k8s.io", "v1", "CustomResourceDefinition");
  target.add("example.com", "v1", "Widget");
  target.add("example.com", "v1", "Gadget");

  PlanOptions o;
  o.backup_name = "b";
  o.restore_name = "r";
  o.namespace_mappings = {{"app", "app2"}};
  o.transforms.push_back(make_custom_resource_version_transform(target));
  auto plan = make_plan(b.backup, o);
  REQUIRE(plan.ok());
  const PlannedItem* w = find_item(*plan, "Widget", "w");
  REQUIRE(w);
  REQUIRE_FALSE(w->skip);
  CHECK(json::get_string(w->object.parse(), {"apiVersion"}) == "example.com/v1");
  CHECK(w->version == "v1");
  CHECK(json::get_string(w->object.parse(), {"metadata", "namespace"}) == "app2");
  // Gadget has no CRD in the backup: the transform leaves it alone (the cluster decides).
  const PlannedItem* g = find_item(*plan, "Gadget", "g");
  REQUIRE(g);
  CHECK_FALSE(g->skip);
  CHECK(json::get_string(g->object.parse(), {"apiVersion"}) == "example.com/v1alpha1");

  SECTION("incompatible versions are skipped with the reason, not failed") {
    test::BackupBuilder b2;
    b2.add("customresourcedefinitions.apiextensions.k8s.io",
           widget_crd("[" + version("v1alpha1", true, k_schema_a) + "," + version("v1", true, k_schema_b) + "]", "Webhook"))
        .add("widgets.example.com", R"({"apiVersion":"example.com/v1alpha1","kind":"Widget","metadata":{"name":"w","namespace":"app"}})");
    auto plan2 = make_plan(b2.backup, o);
    REQUIRE(plan2.ok());
    const PlannedItem* w2 = find_item(*plan2, "Widget", "w");
    REQUIRE(w2);
    REQUIRE(w2->skip);
    CHECK(w2->skip->reason == reason::transform_skip);
    CHECK_FALSE(w2->skip->failed);
    CHECK(w2->skip->message.find("example.com/v1alpha1 Widget is not served by the target (its CRD serves v1)") != std::string::npos);
  }
}

TEST_CASE("make_latest_conversion_transform converts removed APIs without a cluster", "[preflight]") {
  test::BackupBuilder b;
  b.add("ingresses.extensions", R"({"apiVersion":"extensions/v1beta1","kind":"Ingress","metadata":{"name":"web","namespace":"app"},
          "spec":{"backend":{"serviceName":"web","servicePort":80}}})")
      .add("horizontalpodautoscalers.autoscaling", R"({"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler",
          "metadata":{"name":"web","namespace":"app"},"spec":{"maxReplicas":3,"scaleTargetRef":{"kind":"Deployment","name":"web"}}})")
      .add("podsecuritypolicies.policy", R"({"apiVersion":"policy/v1beta1","kind":"PodSecurityPolicy","metadata":{"name":"psp"}})");
  PlanOptions o;
  o.backup_name = "b";
  o.restore_name = "r";
  o.transforms.push_back(make_latest_conversion_transform());
  auto plan = make_plan(b.backup, o);
  REQUIRE(plan.ok());
  const PlannedItem* ing = find_item(*plan, "Ingress", "web");
  REQUIRE(ing);
  REQUIRE_FALSE(ing->skip);
  CHECK(json::get_string(ing->object.parse(), {"apiVersion"}) == "networking.k8s.io/v1");
  // The plan item names the new group too (the applier resolves the type from it; --to-dir names the file after it).
  CHECK(ing->group == "networking.k8s.io");
  CHECK(ing->version == "v1");
  CHECK(ing->group_resource() == "ingresses.networking.k8s.io");
  CHECK(json::get_string(ing->object.parse(), {"spec", "defaultBackend", "service", "name"}) == "web");
  // autoscaling/v1 is still served by current Kubernetes: unchanged.
  const PlannedItem* hpa = find_item(*plan, "HorizontalPodAutoscaler", "web");
  REQUIRE(hpa);
  CHECK(json::get_string(hpa->object.parse(), {"apiVersion"}) == "autoscaling/v1");
  const PlannedItem* psp = find_item(*plan, "PodSecurityPolicy", "psp");
  REQUIRE(psp);
  REQUIRE(psp->skip);
  CHECK(psp->skip->message.find("removed from Kubernetes without a replacement") != std::string::npos);
}

TEST_CASE("removed_from_kubernetes", "[preflight]") {
  CHECK(removed_from_kubernetes("extensions/v1beta1", "Ingress"));
  CHECK(removed_from_kubernetes("policy/v1beta1", "PodDisruptionBudget"));
  CHECK(removed_from_kubernetes("autoscaling/v2beta2", "HorizontalPodAutoscaler"));
  CHECK_FALSE(removed_from_kubernetes("autoscaling/v1", "HorizontalPodAutoscaler"));
  CHECK_FALSE(removed_from_kubernetes("policy/v1", "PodDisruptionBudget"));
  CHECK_FALSE(removed_from_kubernetes("example.com/v1beta1", "Widget"));
}

TEST_CASE("SourceApis::from_manifest", "[preflight]") {
  auto m = doc(R"({"cluster":{"serverVersion":{"gitVersion":"v1.21.14"}},
    "apiGroups":[{"name":"policy","preferredVersion":"v1","versions":["v1","v1beta1"]}]})");
  SourceApis s = SourceApis::from_manifest(m);
  CHECK(s.known);
  CHECK(s.server_version == "v1.21.14");
  CHECK(s.describe("policy") == "source served v1 (preferred), v1beta1");
  CHECK(s.describe("batch").empty());
  CHECK_FALSE(SourceApis::from_manifest(doc(R"({"cluster":{}})")).known);
}

TEST_CASE("preflight", "[preflight]") {
  test::BackupBuilder b;
  b.add("poddisruptionbudgets.policy", R"({"apiVersion":"policy/v1beta1","kind":"PodDisruptionBudget","metadata":{"name":"web","namespace":"app"},
          "spec":{"minAvailable":1,"selector":{}}})")
      .add("deployments.apps", R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"app"},
          "spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}}}}})")
      .add("deployments.apps", R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api","namespace":"app"},
          "spec":{"selector":{"matchLabels":{"app":"api"}},"template":{"metadata":{"labels":{"app":"api"}}}}})")
      .add("podsecuritypolicies.policy", R"({"apiVersion":"policy/v1beta1","kind":"PodSecurityPolicy","metadata":{"name":"psp"}})")
      .add("customresourcedefinitions.apiextensions.k8s.io",
           widget_crd("[" + version("v1alpha1", true, k_schema_a) + "," + version("v1", true, k_schema_b) + "]"))
      .add("widgets.example.com", R"({"apiVersion":"example.com/v1alpha1","kind":"Widget","metadata":{"name":"w","namespace":"app"}})")
      .add("gadgets.other.io", R"({"apiVersion":"other.io/v1","kind":"Gadget","metadata":{"name":"g","namespace":"app"}})")
      .add("configmaps", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kube-root-ca.crt","namespace":"app"}})");
  b.backup.name = "old";
  TargetApis target;
  for (const char* k : {"Namespace", "ConfigMap"}) target.add("", "v1", k);
  target.add("apps", "v1", "Deployment");
  target.add("policy", "v1", "PodDisruptionBudget");
  target.add("apiextensions.k8s.io", "v1", "CustomResourceDefinition");
  target.add("example.com", "v1", "Widget");
  SourceApis source = SourceApis::from_manifest(doc(R"({"cluster":{"serverVersion":{"gitVersion":"v1.21.14"}},
    "apiGroups":[{"name":"policy","preferredVersion":"v1beta1","versions":["v1beta1"]}]})"));

  PlanOptions o;
  o.backup_name = "old";
  o.restore_name = "r";
  o.selection.include_cluster_resources = true;
  o.transforms.push_back(make_custom_resource_version_transform(target));
  o.transforms.push_back(make_conversion_transform(target.served()));
  auto r = preflight(b.backup, o, target, "cluster https://example:6443 (v1.30.14)", source);
  REQUIRE(r.ok());
  CHECK(r->backup == "old");
  CHECK(r->source == "v1.21.14");

  const PreflightLine* pdb = find_line(*r, "policy/v1beta1", "PodDisruptionBudget");
  REQUIRE(pdb);
  CHECK(pdb->result == PreflightResult::converted);
  CHECK(pdb->to == "policy/v1");
  CHECK(pdb->source == "source served v1beta1 (preferred)");
  REQUIRE(pdb->notes.size() == 1);
  CHECK(pdb->notes[0].find("empty spec.selector") != std::string::npos);

  const PreflightLine* deploy = find_line(*r, "apps/v1", "Deployment");
  REQUIRE(deploy);
  CHECK(deploy->result == PreflightResult::served);
  CHECK(deploy->items == 2);

  const PreflightLine* psp = find_line(*r, "policy/v1beta1", "PodSecurityPolicy");
  REQUIRE(psp);
  CHECK(psp->result == PreflightResult::no_match);
  CHECK(psp->reason.find("removed from Kubernetes without a replacement API") != std::string::npos);

  const PreflightLine* widget = find_line(*r, "example.com/v1alpha1", "Widget");
  REQUIRE(widget);
  CHECK(widget->result == PreflightResult::converted);
  CHECK(widget->to == "example.com/v1");

  const PreflightLine* gadget = find_line(*r, "other.io/v1", "Gadget");
  REQUIRE(gadget);
  CHECK(gadget->result == PreflightResult::no_match);
  CHECK(gadget->reason == "the target does not serve other.io/v1 Gadget and the backup has no CRD serving it");

  const PreflightLine* cm = find_line(*r, "v1", "ConfigMap");
  REQUIRE(cm);
  CHECK(cm->result == PreflightResult::not_restored);
  CHECK(cm->reason == reason::managed_by_cluster);

  CHECK_FALSE(r->restorable());
  CHECK(r->count(PreflightResult::no_match) == 2);

  std::string text = preflight_text(*r);
  CHECK(text.find("policy/v1beta1 PodDisruptionBudget: converted to policy/v1 (1 item; source served v1beta1 (preferred))") !=
        std::string::npos);
  CHECK(text.find("apps/v1 Deployment: served as-is (2 items)") != std::string::npos);
  json::Document j = preflight_to_json(*r);
  CHECK(json::get_string(j, {"kind"}) == "RestorePreflight");
  const json::Value* restorable = json::find(j, "restorable");
  REQUIRE(restorable);
  CHECK(restorable->IsFalse());
  const json::Value* nm = json::at(j, {"summary", "no-match", "items"});
  REQUIRE(nm);
  CHECK(nm->GetUint64() == 2);

  SECTION("a backup that fits the target is restorable") {
    test::BackupBuilder ok;
    ok.add("deployments.apps", R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"app"},
          "spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}}}}})");
    auto r2 = preflight(ok.backup, o, target, "cluster", SourceApis{});
    REQUIRE(r2.ok());
    CHECK(r2->restorable());
    REQUIRE(r2->lines.size() == 1);
    CHECK(r2->lines[0].source.empty());
  }
}
