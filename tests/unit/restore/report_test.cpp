// The restore's report: its record ("spec", "target", "volumes"; docs/format-archive.md section 6), the summary's
// cut lists, and what a plan writes (for the permission check).
#include <catch2/catch.hpp>

#include <kbk/json/json.hpp>
#include <kbk/restore/engine.hpp>

using namespace kbk;
using namespace kbk::restore;

namespace {

ItemReport item(std::string resource, std::string kind, std::string ns, std::string name, Outcome o, std::string reason,
                std::string message = "") {
  ItemReport i;
  i.resource = std::move(resource);
  i.kind = std::move(kind);
  i.version = "v1";
  i.target_namespace = ns;
  i.source_namespace = ns;
  i.target_name = name;
  i.source_name = name;
  i.result = ItemResult{o, std::move(reason), std::move(message)};
  return i;
}

RestoreReport report() {
  RestoreReport r;
  r.name = "r1";
  r.backup = "nightly";
  r.mode = "cluster";
  r.started = std::chrono::system_clock::from_time_t(1795676400);  // 2026-11-26T07:00:00Z
  r.completed = r.started + std::chrono::milliseconds(2137);
  r.items.push_back(item("persistentvolumeclaims", "PersistentVolumeClaim", "shop", "data-db-0", Outcome::created, "created"));
  r.items.push_back(item("persistentvolumes", "PersistentVolume", "", "pv-1", Outcome::created, "created"));
  r.items.push_back(item("persistentvolumes", "PersistentVolume", "", "pv-2", Outcome::skipped, "dynamically-provisioned-pv"));
  r.items.push_back(item("configmaps", "ConfigMap", "shop", "cm", Outcome::failed, "Forbidden", "configmaps is forbidden"));
  for (int i = 0; i < 55; ++i)
    r.items.push_back(item("secrets", "Secret", "shop", "s" + std::to_string(i), Outcome::skipped, "exists-differs", "data"));
  r.request.selection.include_namespaces = {"shop"};
  r.request.namespace_mappings = {{"shop", "shop-staging"}};
  r.request.storage_class_mappings = {{"old", "new"}};
  r.request.image_mappings = {"docker.io/library=mirror.local/library"};
  r.request.resource_modifiers = {{"rules.yaml", std::string(64, 'a')}};
  r.request.existing_resource_policy = "update";
  r.request.target_server = "https://10.0.0.1:6443";
  r.request.target_kube_system_uid = "ks-uid";
  r.request.target_server_version = "v1.30.2";
  return r;
}

}  // namespace

TEST_CASE("report_to_json records what was asked, the target cluster and the volumes restored without data") {
  auto d = report_to_json(report(), false);
  CHECK(json::get_string(d, {"kind"}) == "Restore");
  CHECK(json::get_string(d, {"startTimestamp"}) == "2026-11-26T07:00:00Z");
  CHECK(json::get_string(d, {"completionTimestamp"}) == "2026-11-26T07:00:02Z");
  CHECK(json::to_string(*json::find(d, "durationSeconds")) == "2.137");
  CHECK_FALSE(json::find(d, "started"));
  CHECK(json::get_string(d, {"spec", "backupName"}) == "nightly");
  CHECK(json::at(d, {"spec", "includedNamespaces"})->Size() == 1);
  CHECK(json::get_string(d, {"spec", "namespaceMapping", "shop"}) == "shop-staging");
  CHECK(json::get_string(d, {"spec", "storageClassMapping", "old"}) == "new");
  CHECK(std::string((*json::at(d, {"spec", "imageMappings"}))[0].GetString()) == "docker.io/library=mirror.local/library");
  const json::Value* mods = json::at(d, {"spec", "resourceModifiers"});
  REQUIRE(mods);
  REQUIRE(mods->Size() == 1);
  CHECK(json::get_string((*mods)[0], {"file"}) == "rules.yaml");
  CHECK(json::get_string((*mods)[0], {"sha256"}) == std::string(64, 'a'));
  CHECK(json::get_string(d, {"spec", "existingResourcePolicy"}) == "update");
  CHECK(json::at(d, {"spec", "includeClusterResources"})->IsNull());
  CHECK(json::get_string(d, {"target", "kubeSystemUID"}) == "ks-uid");
  CHECK(json::get_string(d, {"target", "server"}) == "https://10.0.0.1:6443");
  const json::Value* vols = json::find(d, "volumes");
  REQUIRE(vols);
  REQUIRE(vols->Size() == 2);  // the skipped PV was not restored at all
  CHECK(json::get_string((*vols)[0], {"kind"}) == "PersistentVolumeClaim");
  CHECK(json::get_string((*vols)[0], {"name"}) == "data-db-0");
  CHECK(json::find((*vols)[0], "dataRestored")->IsFalse());
  CHECK(json::get_string((*vols)[1], {"name"}) == "pv-1");
}

TEST_CASE("summary_text says which volumes came back without data and counts what a cut list leaves out") {
  const std::string s = summary_text(report());
  CHECK(s.find("Volumes: 1 PersistentVolumeClaim(s) and 1 PersistentVolume(s) restored without data (the backup "
               "holds no data for it)") != std::string::npos);
  CHECK(s.find("  PersistentVolumeClaim shop/data-db-0\n") != std::string::npos);
  CHECK(s.find("  PersistentVolume pv-1\n") != std::string::npos);
  // 55 objects that differ, 50 shown: the other 5 are counted, with where to see them.
  CHECK(s.find("  ... and 5 more (kbk restore describe r1 --details, or -o json)\n") != std::string::npos);
  CHECK(s.find("secrets/shop/s49") != std::string::npos);
  CHECK(s.find("secrets/shop/s50:") == std::string::npos);
  // the failure once, in the summary
  const auto first = s.find("configmaps/shop/cm: Forbidden");
  REQUIRE(first != std::string::npos);
  CHECK(s.find("configmaps/shop/cm: Forbidden", first + 1) == std::string::npos);
}

TEST_CASE("write_targets lists each type once per target namespace, skipping what is not written") {
  Plan plan;
  auto planned = [](std::string group, std::string resource, bool namespaced, std::string ns, bool skipped) {
    PlannedItem p;
    p.group = std::move(group);
    p.version = "v1";
    p.resource = std::move(resource);
    p.namespaced = namespaced;
    p.target_namespace = std::move(ns);
    if (skipped) p.skip = PlanSkip{"managed-by-cluster", "", false};
    return p;
  };
  plan.items.push_back(planned("", "configmaps", true, "a", false));
  plan.items.push_back(planned("", "configmaps", true, "a", false));
  plan.items.push_back(planned("", "configmaps", true, "b", false));
  plan.items.push_back(planned("apps", "deployments", true, "a", false));
  plan.items.push_back(planned("", "namespaces", false, "", false));
  plan.items.push_back(planned("", "serviceaccounts", true, "a", true));
  auto t = write_targets(plan);
  REQUIRE(t.size() == 4);
  CHECK(t[0].type.resource == "configmaps");
  CHECK(t[0].namespace_ == "a");
  CHECK(t[1].namespace_ == "b");
  CHECK(t[2].type.group == "apps");
  CHECK(t[3].type.resource == "namespaces");
  CHECK(t[3].namespace_.empty());
  CHECK(write_verbs(ExistingPolicy::none) == std::vector<std::string>{"create", "get", "patch"});
  CHECK(write_verbs(ExistingPolicy::recreate) == std::vector<std::string>{"create", "get", "patch", "delete"});
}
