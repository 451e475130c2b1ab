#include <catch2/catch.hpp>

#include <kbk/restore/plan.hpp>
#include <kbk/restore/transforms.hpp>

#include "fake_client.hpp"

using namespace kbk;
using namespace kbk::restore;

TEST_CASE("make_modifiers_transform and make_mappings_transform in the plan", "[transforms]") {
  test::BackupBuilder b;
  b.add("persistentvolumeclaims", R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data","namespace":"app"},
        "spec":{"storageClassName":"standard"}})")
      .add("configmaps", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"app"},"data":{"a":"1"}})");
  auto rules = patch::ModifierSet::parse(R"(
version: v1
resourceModifierRules:
- conditions:
    groupResource: configmaps
    namespaces: [app]
  mergePatches:
  - patchData: '{"data":{"a":"2"}}'
)", "mods.yaml");
  REQUIRE(rules.ok());
  patch::Mappings m;
  m.storage_classes["standard"] = "fast";
  PlanOptions o;
  o.backup_name = "b";
  o.restore_name = "r";
  o.namespace_mappings = {{"app", "app2"}};  // the rule matches the original namespace
  o.transforms.push_back(make_modifiers_transform(std::move(*rules), "mods.yaml"));
  o.transforms.push_back(make_mappings_transform(m));
  auto plan = make_plan(b.backup, o);
  REQUIRE(plan.ok());
  for (const PlannedItem& i : plan->items) {
    if (i.resource == "configmaps") {
      CHECK(json::get_string(i.object.parse(), {"data", "a"}) == "2");
      CHECK(json::get_string(i.object.parse(), {"metadata", "namespace"}) == "app2");
    }
    if (i.resource == "persistentvolumeclaims") CHECK(json::get_string(i.object.parse(), {"spec", "storageClassName"}) == "fast");
  }
}

TEST_CASE("make_conversion_transform fails built-in APIs the cluster does not serve", "[transforms]") {
  test::BackupBuilder b;
  b.add("podsecuritypolicies.policy", R"({"apiVersion":"policy/v1beta1","kind":"PodSecurityPolicy","metadata":{"name":"p"}})")
      .add("widgets.example.com", R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"app"}})");
  patch::ServedApis served;
  served.add("v1", "Namespace");
  served.add("v1", "ConfigMap");
  PlanOptions o;
  o.selection.include_cluster_resources = true;
  o.transforms.push_back(make_conversion_transform(served));
  auto plan = make_plan(b.backup, o);
  REQUIRE(plan.ok());
  for (const PlannedItem& i : plan->items) {
    if (i.resource == "podsecuritypolicies") {
      REQUIRE(i.skip);
      CHECK(i.skip->reason == reason::transform_failed);
    }
    if (i.resource == "widgets") CHECK_FALSE(i.skip);  // custom resources: their CRD decides
  }
}
