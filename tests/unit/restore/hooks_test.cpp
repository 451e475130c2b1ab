// Restore hooks in the restore pipeline: init containers added to restored pods and to restored workloads' pod
// templates (as planned), exec hooks run only in pods that come back under their names, outcomes in the report.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <thread>

#include <kbk/restore/engine.hpp>
#include <kbk/restore/hooks.hpp>
#include <kbk/restore/mapping.hpp>

#include "fake_client.hpp"

using namespace kbk;
using namespace kbk::restore;
using kbk::restore::test::BackupBuilder;
using kbk::restore::test::FakeClient;
using kbk::restore::test::FakeResolver;

namespace {

BackupBuilder hooked_backup() {
  BackupBuilder b;
  b.add("namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}})")
      // A plain pod: both annotations.
      .add("pods", R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"db-0","namespace":"shop","labels":{"app":"db"},
          "annotations":{"init.hook.restore.velero.io/container-image":"busybox",
                         "init.hook.restore.velero.io/command":"[\"sh\",\"-c\",\"recover\"]",
                         "post.hook.restore.velero.io/command":"[\"sh\",\"-c\",\"reset\"]",
                         "post.hook.restore.velero.io/on-error":"Fail",
                         "post.hook.restore.velero.io/wait-timeout":"1s"}},
          "spec":{"initContainers":[{"name":"setup","image":"busybox"}],"containers":[{"name":"db","image":"mariadb"}]}})")
      // A StatefulSet whose template carries the init annotation, and its pod (recreated under its name).
      .add("statefulsets.apps", R"({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"pg","namespace":"shop","uid":"s1"},
          "spec":{"selector":{"matchLabels":{"app":"pg"}},"template":{"metadata":{"labels":{"app":"pg"},
            "annotations":{"init.hook.restore.velero.io/container-image":"postgres",
                           "init.hook.restore.velero.io/container-name":"recover"}},
            "spec":{"containers":[{"name":"pg","image":"postgres"}]}}}})")
      .add("pods", R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"pg-0","namespace":"shop","labels":{"app":"pg"},
          "ownerReferences":[{"apiVersion":"apps/v1","kind":"StatefulSet","name":"pg","uid":"s1","controller":true}],
          "annotations":{"post.hook.restore.velero.io/command":"true","post.hook.restore.velero.io/wait-timeout":"1s"}},
          "spec":{"containers":[{"name":"pg","image":"postgres"}]}})")
      // A ReplicaSet's pod: recreated under another name, its exec hook cannot follow it.
      .add("replicasets.apps", R"({"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web","namespace":"shop","uid":"r1"},
          "spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
            "spec":{"containers":[{"name":"web","image":"nginx"}]}}}})")
      .add("pods", R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-x1","namespace":"shop","labels":{"app":"web"},
          "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web","uid":"r1","controller":true}],
          "annotations":{"post.hook.restore.velero.io/command":"true"}},
          "spec":{"containers":[{"name":"web","image":"nginx"}]}})");
  return b;
}

PlanOptions options(RestoreHooks& rh) {
  PlanOptions o;
  o.backup_name = "b1";
  o.restore_name = "r1";
  o.namespace_mappings = {{"shop", "copy"}};
  o.transforms.push_back(rh.transform());
  return o;
}

const PlannedItem* planned(const Plan& p, const std::string& gr, const std::string& name) {
  for (const PlannedItem& i : p.items)
    if (i.group_resource() == gr && i.target_name == name) return &i;
  return nullptr;
}

std::vector<std::string> init_names(const json::Value& spec) {
  std::vector<std::string> out;
  if (const json::Value* ics = json::find(spec, "initContainers"); ics && ics->IsArray())
    for (const auto& c : ics->GetArray()) out.push_back(json::get_string(c, {"name"}));
  return out;
}

const hooks::PodRecord* record(const RestoreReport& r, const std::string& pod) {
  for (const auto& p : r.hooks)
    if (p.pod == pod) return &p;
  return nullptr;
}

}  // namespace

TEST_CASE("restore hooks: init containers go first into restored pods and workload templates", "[hooks]") {
  RestoreHooks rh(nullptr, {{"shop", "copy"}});
  auto backup = hooked_backup();
  auto plan = make_plan(backup.backup, options(rh));
  REQUIRE(plan.ok());
  const PlannedItem* pod = planned(*plan, "pods", "db-0");
  REQUIRE(pod);
  json::Document obj = pod->object.parse();
  CHECK(init_names(*json::find(obj, "spec")) == std::vector<std::string>{"restore-init-db-0", "setup"});
  CHECK(json::to_string(*json::at(obj, {"spec", "initContainers"})).find(R"("command":["sh","-c","recover"])") !=
        std::string::npos);
  CHECK(std::any_of(pod->notes.begin(), pod->notes.end(),
                    [](const std::string& n) { return n.find("init container restore-init-db-0 added") != std::string::npos; }));
  const PlannedItem* sts = planned(*plan, "statefulsets.apps", "pg");
  REQUIRE(sts);
  json::Document s = sts->object.parse();
  CHECK(init_names(*json::at(s, {"spec", "template", "spec"})) == std::vector<std::string>{"recover"});
  // The controllers' pods are not restored (their controllers make them); the ReplicaSet's template is unchanged.
  CHECK(planned(*plan, "pods", "pg-0")->skip.has_value());
  json::Document rs = planned(*plan, "replicasets.apps", "web")->object.parse();
  CHECK(init_names(*json::at(rs, {"spec", "template", "spec"})).empty());
}

TEST_CASE("restore hooks: without a cluster exec hooks are recorded as not run; init hooks as added", "[hooks]") {
  RestoreHooks rh(nullptr, {{"shop", "copy"}});
  auto backup = hooked_backup();
  auto plan = make_plan(backup.backup, options(rh));
  REQUIRE(plan.ok());
  auto applier = make_plan_only_applier();
  RestoreReport r = execute(std::move(*plan), *applier, RunOptions{});
  rh.run(nullptr, r);
  const hooks::PodRecord* db = record(r, "copy/db-0");
  REQUIRE(db);
  REQUIRE(db->hooks.size() == 2);
  CHECK(db->hooks[0].phase == "init");
  CHECK(db->hooks[0].outcome == "added");
  CHECK(db->hooks[0].command == std::vector<std::string>{"sh", "-c", "recover"});
  CHECK(db->hooks[1].phase == "exec");
  CHECK(db->hooks[1].outcome == "skipped");
  const hooks::PodRecord* sts = record(r, "copy/pg (StatefulSet)");
  REQUIRE(sts);
  CHECK(sts->hooks[0].message.find("pod template of StatefulSet copy/pg") != std::string::npos);
  REQUIRE(record(r, "copy/pg-0"));
  CHECK(record(r, "copy/pg-0")->hooks[0].outcome == "skipped");
  const hooks::PodRecord* web = record(r, "copy/web-x1");
  REQUIRE(web);
  CHECK(web->hooks[0].message.find("recreated by its ReplicaSet under a new name") != std::string::npos);
  CHECK_FALSE(r.hook_failed());
  CHECK(r.phase() == "Completed");
  json::Document d = report_to_json(r);
  CHECK(json::at(d, {"hooks", "pods"})->Size() == 4);
}

TEST_CASE("restore hooks: a pod that never runs fails its onError Fail hook: PartiallyFailed, exit 2, the pod named",
          "[hooks]") {
  FakeClient client;  // creates pods without a status: they never run
  FakeResolver types(client);
  ClusterApplierOptions co;
  co.sleep = [](double) {};
  co.default_service_account_wait = 1;
  auto applier = make_cluster_applier(client, types, co);
  RestoreHooks rh(nullptr, {{"shop", "copy"}});
  auto backup = hooked_backup();
  auto plan = make_plan(backup.backup, options(rh));
  REQUIRE(plan.ok());
  RestoreReport r = execute(std::move(*plan), *applier, RunOptions{});
  r.name = "r1";
  RestoreHooks::RunOptions ro;
  ro.poll_interval = 0.05;
  rh.run(&client, r, ro);
  CHECK(r.count(Outcome::failed) == 0);
  const hooks::PodRecord* db = record(r, "copy/db-0");
  REQUIRE(db);
  REQUIRE(db->hooks.size() == 2);
  CHECK(db->hooks[1].outcome == "failed");
  CHECK(db->hooks[1].message.find("waitTimeout") != std::string::npos);
  // The StatefulSet's pod is looked for under its name in the target namespace (the fake runs no controller).
  REQUIRE(record(r, "copy/pg-0"));
  CHECK(record(r, "copy/pg-0")->hooks[0].message.find("does not exist") != std::string::npos);
  CHECK(r.hook_failed());
  CHECK(r.phase() == "PartiallyFailed");
  CHECK(exit_code(r) == ExitCode::partial);
  const std::string text = summary_text(r);
  CHECK(text.find("exec hook annotation in pod copy/db-0") != std::string::npos);
}
