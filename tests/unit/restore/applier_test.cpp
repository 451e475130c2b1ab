#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <thread>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include <kbk/restore/engine.hpp>
#include <kbk/util/fs.hpp>

#include "fake_client.hpp"

using namespace kbk;
using namespace kbk::restore;
using kbk::restore::test::BackupBuilder;
using kbk::restore::test::FakeClient;
using kbk::restore::test::FakeResolver;

namespace {

PlanOptions options() {
  PlanOptions o;
  o.backup_name = "b1";
  o.restore_name = "r1";
  return o;
}

ClusterApplierOptions fast(ExistingPolicy policy = ExistingPolicy::none) {
  ClusterApplierOptions o;
  o.existing = policy;
  o.sleep = [](double) {};
  o.poll_interval = 1;
  o.crd_established_timeout = 5;
  o.delete_timeout = 10;
  o.namespace_terminating_timeout = 10;
  o.default_service_account_wait = 2;
  return o;
}

const ItemReport* find_report(const RestoreReport& r, const std::string& resource, const std::string& name) {
  for (const ItemReport& i : r.items)
    if (i.resource == resource && i.target_name == name) return &i;
  return nullptr;
}

BackupBuilder app_backup() {
  BackupBuilder b;
  b.add("namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"app","uid":"n1"},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}})")
      .add("configmaps", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","namespace":"app","uid":"c1","resourceVersion":"9",
          "labels":{"app":"web"},"managedFields":[{"manager":"argocd-controller","operation":"Apply","apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{"f:data":{}}}]},"data":{"k":"v"}})")
      .add("deployments.apps", R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"app","uid":"d1"},
          "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}}},"status":{"replicas":2,"readyReplicas":2}})")
      .add("serviceaccounts", R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default","namespace":"app","annotations":{"team":"a"}},
          "imagePullSecrets":[{"name":"regcred"}]})");
  return b;
}

RestoreReport run(const LoadedBackup& backup, const PlanOptions& po, Applier& applier) {
  auto plan = make_plan(backup, po);
  REQUIRE(plan.ok());
  RunOptions ro;
  ro.parallel = 4;
  RestoreReport r = execute(std::move(*plan), applier, ro);  // as restore_backup does: texts freed once applied
  r.name = po.restore_name;
  r.backup = po.backup_name;
  return r;
}

}  // namespace

// Sees each item while it is applied and again at the end of its tier.
class WatchingApplier : public Applier {
public:
  std::string mode() const override { return "watching"; }
  // Every item whole (and only the ConfigMap with managedFields) while it is applied.
  ItemResult apply(const PlannedItem& item) override {
    std::lock_guard<std::mutex> lock(m_mutex);
    seen_when_applied[item.display()] = item.object.parse().IsObject() && (!item.managed_fields.is_null()) == has_mf(item);
    return {Outcome::created, "created", ""};
  }
  void end_tier(Tier, const std::vector<const PlannedItem*>& items, std::vector<ItemResult*>&) override {
    for (const PlannedItem* i : items) freed_at_end_of_tier[i->display()] = i->object.is_null() && i->managed_fields.is_null();
  }
  std::map<std::string, bool> seen_when_applied, freed_at_end_of_tier;

private:
  static bool has_mf(const PlannedItem& item) { return item.display() == "configmaps/app/cfg"; }
  std::mutex m_mutex;
};

TEST_CASE("execute of a moved plan frees each item's texts once it is applied, not before", "[applier]") {
  auto plan = make_plan(app_backup().backup, options());
  REQUIRE(plan.ok());
  WatchingApplier applier;
  RunOptions ro;
  ro.parallel = 4;
  RestoreReport r = execute(std::move(*plan), applier, ro);
  CHECK(r.phase() == "Completed");
  const std::map<std::string, bool> all{{"namespaces/app", true}, {"configmaps/app/cfg", true},
                                        {"deployments.apps/app/web", true}, {"serviceaccounts/app/default", true}};
  CHECK(applier.seen_when_applied == all);  // whole objects, and the ConfigMap's managedFields, when applied
  CHECK(applier.freed_at_end_of_tier == all);
  // Reading a plan leaves it whole.
  auto kept = make_plan(app_backup().backup, options());
  REQUIRE(kept.ok());
  WatchingApplier reader;
  execute(*kept, reader, ro);
  for (const PlannedItem& i : kept->items) CHECK_FALSE(i.object.is_null());
}

TEST_CASE("cluster applier creates in order, with fieldManager kbk, and re-applies managedFields", "[applier]") {
  FakeClient client;
  FakeResolver types(client);
  auto applier = make_cluster_applier(client, types, fast());
  RestoreReport r = run(app_backup().backup, options(), *applier);
  CHECK(r.phase() == "Completed");
  CHECK(exit_code(r) == ExitCode::ok);
  CHECK(find_report(r, "namespaces", "app")->result.outcome == Outcome::created);
  CHECK(find_report(r, "configmaps", "cfg")->result.outcome == Outcome::created);
  CHECK(find_report(r, "deployments", "web")->result.outcome == Outcome::created);

  const json::Document* cfg = client.find("configmaps", "app", "cfg");
  REQUIRE(cfg);
  CHECK(json::get_string(*cfg, {"metadata", "labels", "kbk.io/restore-name"}) == "r1");
  CHECK(json::get_string(*cfg, {"metadata", "uid"}) != "c1");
  const json::Value* mf = json::at(*cfg, {"metadata", "managedFields"});
  REQUIRE(mf);
  CHECK(json::get_string((*mf)[0], {"manager"}) == "argocd-controller");
  // Status is not written unless asked.
  CHECK(json::at(*client.find("deployments.apps", "app", "web"), {"status"}) == nullptr);

  // The namespace was created before anything in it, and the create bodies carried no managedFields.
  auto calls = client.calls();
  size_t ns_at = 0, cm_at = 0;
  for (size_t i = 0; i < calls.size(); ++i) {
    if (calls[i].method == "create" && calls[i].gr == "namespaces") ns_at = i;
    if (calls[i].method == "create" && calls[i].gr == "configmaps") {
      cm_at = i;
      CHECK(calls[i].body.find("managedFields") == std::string::npos);
    }
  }
  CHECK(ns_at < cm_at);

  // The default ServiceAccount: left to the cluster, pull secrets and annotations merged in.
  const ItemReport* sa = find_report(r, "serviceaccounts", "default");
  CHECK(sa->result.outcome == Outcome::skipped);
  CHECK(sa->result.reason == "managed-by-cluster");
  const json::Document* live_sa = client.find("serviceaccounts", "app", "default");
  REQUIRE(live_sa);
  CHECK(json::get_string((*live_sa)["imagePullSecrets"][0], {"name"}) == "regcred");
  CHECK(json::get_string(*live_sa, {"metadata", "annotations", "team"}) == "a");
}

namespace {

// A ConfigMap created by kubectl (one Update entry owning its fields) whose status-like entry of another manager
// owns only what a create does not send.
BackupBuilder owned_backup() {
  BackupBuilder b;
  b.add("namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"app"}})")
      .add("configmaps", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","namespace":"app",
          "labels":{"app":"web"},"managedFields":[
            {"manager":"kubectl-create","operation":"Update","apiVersion":"v1","time":"2024-01-02T03:04:05Z","fieldsType":"FieldsV1",
             "fieldsV1":{"f:data":{".":{},"f:k":{}},"f:metadata":{"f:labels":{".":{},"f:app":{}}}}},
            {"manager":"auditor","operation":"Update","apiVersion":"v1","time":"2024-01-02T03:04:06Z","fieldsType":"FieldsV1",
             "fieldsV1":{"f:status":{"f:seen":{}}},"subresource":"status"}]},"data":{"k":"v"}})");
  return b;
}

// What kube-apiserver's field manager does with the entries of a create, for the one manager owning everything:
// the entry of the creating identity gets the create's time and the restore labels; the others stay.
void keep_entries(json::Document& doc, const std::string& manager) {
  json::Value* mf = json::at(doc, {"metadata", "managedFields"});
  if (!mf || !mf->IsArray()) return;
  auto& a = doc.GetAllocator();
  for (auto& e : mf->GetArray()) {
    if (json::get_string(e, {"manager"}) != manager || json::get_string(e, {"operation"}) != "Update" ||
        !json::get_string(e, {"subresource"}).empty())
      continue;
    json::set(e, "time", json::make_string("2026-12-07T05:00:00Z", a), a);
    json::Value& labels = json::ensure_object(json::ensure_object(e["fieldsV1"], "f:metadata", a), "f:labels", a);
    for (const char* k : {".", "f:kbk.io/backup-name", "f:kbk.io/restore-name"})
      json::set(labels, k, json::Value(rapidjson::kObjectType), a);
  }
}

size_t count_calls(const FakeClient& client, const std::string& method, const std::string& gr) {
  size_t n = 0;
  for (const auto& c : client.calls()) n += c.method == method && c.gr == gr;
  return n;
}

}  // namespace

TEST_CASE("cluster applier sends managedFields with the create, and patches them only when the server did not keep them", "[applier]") {
  FakeClient client;
  FakeResolver types(client);
  auto applier = make_cluster_applier(client, types, fast());
  const json::Document source = owned_backup().backup.items.back().object.parse();
  const std::string backed_up = json::to_string(*json::at(source, {"metadata", "managedFields"}));

  SECTION("kept: one request, under the owning entry's manager") {
    client.field_manager = keep_entries;
    RestoreReport r = run(owned_backup().backup, options(), *applier);
    CHECK(r.phase() == "Completed");
    CHECK(count_calls(client, "create", "configmaps") == 1);
    CHECK(count_calls(client, "patch-json", "configmaps") == 0);
    for (const auto& c : client.calls())
      if (c.method == "create" && c.gr == "configmaps") {
        CHECK(c.field_manager == "kubectl-create");
        CHECK(c.body.find("\"managedFields\"") != std::string::npos);
      } else if (c.method == "create") {
        CHECK(c.field_manager == "kbk");  // the namespace carried no entries
      }
    const json::Value* mf = json::at(*client.find("configmaps", "app", "cfg"), {"metadata", "managedFields"});
    REQUIRE(mf);
    REQUIRE(mf->Size() == 2);
    CHECK(json::get_string((*mf)[0], {"manager"}) == "kubectl-create");
    CHECK(json::get_string((*mf)[1], {"time"}) == "2024-01-02T03:04:06Z");
  }
  SECTION("not kept (every field went to the creating manager alone): patched back as backed up") {
    client.field_manager = [](json::Document& doc, const std::string& manager) {
      if (!json::at(doc, {"metadata", "managedFields"})) return;
      auto entries = json::parse(R"([{"manager":"","operation":"Update","apiVersion":"v1","time":"2026-12-07T05:00:00Z",
          "fieldsType":"FieldsV1","fieldsV1":{"f:data":{".":{},"f:k":{}}}}])");
      json::set((*entries)[0], "manager", json::make_string(manager, entries->GetAllocator()), entries->GetAllocator());
      json::Value v;
      v.CopyFrom(*entries, doc.GetAllocator());
      json::set(doc["metadata"], "managedFields", std::move(v), doc.GetAllocator());
    };
    RestoreReport r = run(owned_backup().backup, options(), *applier);
    CHECK(r.phase() == "Completed");
    CHECK(count_calls(client, "create", "configmaps") == 1);
    CHECK(count_calls(client, "patch-json", "configmaps") == 1);
    const json::Value* mf = json::at(*client.find("configmaps", "app", "cfg"), {"metadata", "managedFields"});
    REQUIRE(mf);
    CHECK(json::to_string(*mf) == backed_up);
  }
  SECTION("a time changed on an entry the create does not own: patched back") {
    client.field_manager = [](json::Document& doc, const std::string& manager) {
      keep_entries(doc, manager);
      json::Value* mf = json::at(doc, {"metadata", "managedFields"});
      if (!mf || !mf->IsArray() || mf->Size() < 2) return;
      json::set((*mf)[1], "time", json::make_string("2026-12-07T05:00:00Z", doc.GetAllocator()), doc.GetAllocator());
    };
    run(owned_backup().backup, options(), *applier);
    CHECK(count_calls(client, "patch-json", "configmaps") == 1);
  }
}

namespace {

// A modifier's kind of change: an annotation no backed-up entry owns.
class AnnotateConfigMaps : public Transform {
public:
  std::string name() const override { return "annotate"; }
  Result<TransformOutcome> apply(const TransformContext& ctx, json::Document& obj) override {
    TransformOutcome out;
    if (ctx.resource != "configmaps") return out;
    auto& a = obj.GetAllocator();
    json::set(json::ensure_object(json::ensure_object(obj, "metadata", a), "annotations", a), "restored-by",
              json::make_string("kbk", a), a);
    out.changed = true;
    return out;
  }
};

// keep_entries, and the creating entry also owns an annotation (what the field manager does with a field the
// object sets that no entry owned).
void keep_entries_and_annotation(json::Document& doc, const std::string& manager) {
  keep_entries(doc, manager);
  json::Value* mf = json::at(doc, {"metadata", "managedFields"});
  if (!mf || !mf->IsArray()) return;
  auto& a = doc.GetAllocator();
  for (auto& e : mf->GetArray())
    if (json::get_string(e, {"manager"}) == manager && json::get_string(e, {"subresource"}).empty()) {
      json::Value& md = json::ensure_object(e["fieldsV1"], "f:metadata", a);
      json::Value& ann = json::ensure_object(md, "f:annotations", a);
      json::set(ann, ".", json::Value(rapidjson::kObjectType), a);
      json::set(ann, "f:restored-by", json::Value(rapidjson::kObjectType), a);
    }
}

}  // namespace

TEST_CASE("cluster applier: a field a modifier added is owned by the creating entry, in one request", "[applier]") {
  FakeClient client;
  FakeResolver types(client);
  auto applier = make_cluster_applier(client, types, fast());
  client.field_manager = keep_entries_and_annotation;

  SECTION("changed by a transform: the create's entries stand (the annotation is the creating manager's)") {
    PlanOptions po = options();
    po.transforms.push_back(std::make_shared<AnnotateConfigMaps>());
    RestoreReport r = run(owned_backup().backup, po, *applier);
    CHECK(r.phase() == "Completed");
    CHECK(count_calls(client, "create", "configmaps") == 1);
    CHECK(count_calls(client, "patch-json", "configmaps") == 0);
    const json::Document* cm = client.find("configmaps", "app", "cfg");
    REQUIRE(cm);
    CHECK(json::get_string(*cm, {"metadata", "annotations", "restored-by"}) == "kbk");
    const json::Value* mf = json::at(*cm, {"metadata", "managedFields"});
    REQUIRE(mf);
    REQUIRE(mf->Size() == 2);
    CHECK(json::get_string((*mf)[0], {"manager"}) == "kubectl-create");
    CHECK(json::at((*mf)[0], {"fieldsV1", "f:metadata", "f:annotations", "f:restored-by"}) != nullptr);
    CHECK(json::at((*mf)[0], {"fieldsV1", "f:data", "f:k"}) != nullptr);
    CHECK(json::get_string((*mf)[1], {"time"}) == "2024-01-02T03:04:06Z");
  }
  SECTION("not changed by the restore: a field no entry owned is not given away, the entries are patched back") {
    run(owned_backup().backup, options(), *applier);
    CHECK(count_calls(client, "patch-json", "configmaps") == 1);
    const json::Value* mf = json::at(*client.find("configmaps", "app", "cfg"), {"metadata", "managedFields"});
    REQUIRE(mf);
    CHECK(json::at((*mf)[0], {"fieldsV1", "f:metadata", "f:annotations"}) == nullptr);
  }
  SECTION("changed by a transform, but the creating entry lost a field it owned: patched back") {
    client.field_manager = [](json::Document& doc, const std::string& manager) {
      keep_entries_and_annotation(doc, manager);
      json::Value* mf = json::at(doc, {"metadata", "managedFields"});
      if (!mf || !mf->IsArray()) return;
      json::Value* data = json::at((*mf)[0], {"fieldsV1", "f:data"});
      if (data) json::erase(*data, "f:k");
    };
    PlanOptions po = options();
    po.transforms.push_back(std::make_shared<AnnotateConfigMaps>());
    run(owned_backup().backup, po, *applier);
    CHECK(count_calls(client, "patch-json", "configmaps") == 1);
  }
}

TEST_CASE("cluster applier writes status through the status subresource with --restore-status", "[applier]") {
  FakeClient client;
  FakeResolver types(client);
  auto applier = make_cluster_applier(client, types, fast());
  PlanOptions po = options();
  po.restore_status = RestoreStatus::yes;
  RestoreReport r = run(app_backup().backup, po, *applier);
  CHECK(r.phase() == "Completed");
  const json::Document* d = client.find("deployments.apps", "app", "web");
  REQUIRE(d);
  CHECK(json::at(*d, {"status", "readyReplicas"}) != nullptr);
  bool status_put = false;
  for (const auto& c : client.calls()) status_put = status_put || (c.method == "update" && c.subresource == "status");
  CHECK(status_put);
}

TEST_CASE("existing-resource-policy none skips and says whether the live object differs", "[applier]") {
  FakeClient client;
  FakeResolver types(client);
  client.seed("namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"app"},"spec":{"finalizers":["kubernetes"]}})");
  client.seed("configmaps", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","namespace":"app","labels":{"app":"web"}},"data":{"k":"changed"}})");
  client.seed("deployments.apps", R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"app"},
      "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"strategy":{"type":"RollingUpdate"}}})");
  auto applier = make_cluster_applier(client, types, fast(ExistingPolicy::none));
  RestoreReport r = run(app_backup().backup, options(), *applier);
  CHECK(r.phase() == "Completed");
  CHECK(exit_code(r) == ExitCode::ok);
  const ItemReport* cfg = find_report(r, "configmaps", "cfg");
  CHECK(cfg->result.outcome == Outcome::skipped);
  CHECK(cfg->result.reason == "exists-differs");
  CHECK(cfg->result.message.find("data") != std::string::npos);
  // A live object with server defaults the backup lacks is still "the same".
  CHECK(find_report(r, "deployments", "web")->result.reason == "exists-identical");
  CHECK(json::get_string(*client.find("configmaps", "app", "cfg"), {"data", "k"}) == "changed");
}

TEST_CASE("existing-resource-policy update patches the live object", "[applier]") {
  FakeClient client;
  FakeResolver types(client);
  client.seed("namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"app"},"spec":{"finalizers":["kubernetes"]}})");
  client.seed("configmaps", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","namespace":"app","labels":{"app":"web","stray":"x"}},"data":{"k":"changed","extra":"1"}})");
  auto applier = make_cluster_applier(client, types, fast(ExistingPolicy::update));
  RestoreReport r = run(app_backup().backup, options(), *applier);
  const ItemReport* cfg = find_report(r, "configmaps", "cfg");
  CHECK(cfg->result.outcome == Outcome::updated);
  const json::Document* live = client.find("configmaps", "app", "cfg");
  CHECK(json::get_string(*live, {"data", "k"}) == "v");
  CHECK(json::at(*live, {"data", "extra"}) == nullptr);
  CHECK(json::at(*live, {"metadata", "labels", "stray"}) == nullptr);
  CHECK(json::get_string(*live, {"metadata", "labels", "kbk.io/restore-name"}) == "r1");
  CHECK(differences(*live, json::Value()).empty() == false);  // sanity: differences() sees data vs nothing
}

TEST_CASE("existing-resource-policy recreate deletes, waits until gone and creates", "[applier]") {
  FakeClient client;
  FakeResolver types(client);
  client.seed("namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"app"},"spec":{"finalizers":["kubernetes"]}})");
  std::string old_uid = client.seed("configmaps", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","namespace":"app"},"data":{"k":"changed"}})");
  client.gets_until_gone = 3;
  auto applier = make_cluster_applier(client, types, fast(ExistingPolicy::recreate));
  RestoreReport r = run(app_backup().backup, options(), *applier);
  const ItemReport* cfg = find_report(r, "configmaps", "cfg");
  CHECK(cfg->result.outcome == Outcome::updated);
  CHECK(cfg->result.reason == "recreated");
  const json::Document* live = client.find("configmaps", "app", "cfg");
  REQUIRE(live);
  CHECK(json::get_string(*live, {"metadata", "uid"}) != old_uid);
  CHECK(json::get_string(*live, {"data", "k"}) == "v");
  // The namespace is never deleted by recreate, only updated.
  for (const auto& c : client.calls()) CHECK_FALSE((c.method == "remove" && c.gr == "namespaces"));
}

TEST_CASE("cluster applier waits for a Terminating namespace", "[applier]") {
  FakeClient client;
  FakeResolver types(client);
  client.seed("namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"app"}})");
  client.gets_until_gone = 2;
  REQUIRE(client.remove(test::type_of("namespaces", "v1", false), "", "app", {}).ok());
  auto applier = make_cluster_applier(client, types, fast());
  RestoreReport r = run(app_backup().backup, options(), *applier);
  CHECK(find_report(r, "namespaces", "app")->result.outcome == Outcome::created);
  CHECK(find_report(r, "configmaps", "cfg")->result.outcome == Outcome::created);
}

TEST_CASE("cluster applier waits for CRDs to be Established and refreshes discovery", "[applier]") {
  BackupBuilder b;
  b.add("customresourcedefinitions.apiextensions.k8s.io", R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
        "metadata":{"name":"widgets.example.com"},"spec":{"group":"example.com","scope":"Namespaced","names":{"plural":"widgets","kind":"Widget"},
        "versions":[{"name":"v1","served":true,"storage":true}]}})")
      .add("widgets.example.com", R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"app"},"spec":{"size":3}})");
  SECTION("established") {
    FakeClient client;
    FakeResolver types(client);
    auto applier = make_cluster_applier(client, types, fast());
    RestoreReport r = run(b.backup, options(), *applier);
    CHECK(r.phase() == "Completed");
    CHECK(types.refreshes == 1);
    CHECK(client.find("widgets.example.com", "app", "w1"));
  }
  SECTION("never established") {
    FakeClient client;
    client.crds_established = false;
    FakeResolver types(client);
    auto applier = make_cluster_applier(client, types, fast());
    RestoreReport r = run(b.backup, options(), *applier);
    const ItemReport* crd = find_report(r, "customresourcedefinitions", "widgets.example.com");
    CHECK(crd->result.reason == "crd-not-established");
    CHECK(crd->result.message.find("not Established") != std::string::npos);
    const ItemReport* w = find_report(r, "widgets", "w1");
    CHECK(w->result.outcome == Outcome::failed);
    CHECK(w->result.reason == "crd-not-established");
    CHECK_FALSE(client.find("widgets.example.com", "app", "w1"));
    CHECK(r.phase() == "PartiallyFailed");
    CHECK(exit_code(r) == ExitCode::partial);
  }
}

TEST_CASE("a forbidden type fails its items and the rest is restored", "[applier]") {
  FakeClient client;
  client.forbidden.insert("deployments.apps");
  FakeResolver types(client);
  auto applier = make_cluster_applier(client, types, fast());
  RestoreReport r = run(app_backup().backup, options(), *applier);
  const ItemReport* d = find_report(r, "deployments", "web");
  CHECK(d->result.outcome == Outcome::failed);
  CHECK(d->result.reason == "Forbidden");
  CHECK(client.find("configmaps", "app", "cfg"));
  CHECK(exit_code(r) == ExitCode::partial);
  CHECK(summary_text(r).find("deployments.apps/app/web") != std::string::npos);
}

TEST_CASE("server dry run reports items in namespaces it would create as pending and changes nothing", "[applier]") {
  FakeClient client;
  FakeResolver types(client);
  BackupBuilder b = app_backup();
  b.add("configmaps", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d","namespace":"default"},"data":{}})")
      .add("customresourcedefinitions.apiextensions.k8s.io", R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"widgets.example.com"},"spec":{}})")
      .add("widgets.example.com", R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default"}})");
  auto applier = make_server_dry_run_applier(client, types, fast());
  size_t objects_before = client.count("namespaces") + client.count("configmaps");
  RestoreReport r = run(b.backup, options(), *applier);
  CHECK(r.dry_run);
  CHECK(r.phase() == "Completed");
  CHECK(find_report(r, "namespaces", "app")->result.reason == "would-create");
  const ItemReport* cfg = find_report(r, "configmaps", "cfg");
  CHECK(cfg->result.outcome == Outcome::created);
  CHECK(cfg->result.reason == "would-create-pending-namespace");
  CHECK(cfg->result.message == "would create (pending namespace app)");
  CHECK(find_report(r, "configmaps", "d")->result.reason == "would-create");
  CHECK(find_report(r, "widgets", "w1")->result.reason == "would-create-pending-crd");
  CHECK(find_report(r, "serviceaccounts", "default")->result.reason == "managed-by-cluster");
  for (const auto& c : client.calls())
    if (c.method != "get") CHECK(c.dry_run);
  CHECK(client.count("namespaces") + client.count("configmaps") == objects_before);
  CHECK(summary_text(r).find("would create") != std::string::npos);
}

TEST_CASE("to-dir writes one manifest per item in apply order and refuses a non-empty folder", "[applier]") {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("kbk-restore-todir-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto applier = make_dir_applier(dir.string());
  REQUIRE(applier.ok());
  PlanOptions po = options();
  po.namespace_mappings = {{"app", "copy"}};
  RestoreReport r = run(app_backup().backup, po, **applier);
  CHECK(r.phase() == "Completed");
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  // 0002 is the default ServiceAccount: left to the cluster, no file.
  CHECK(files == std::vector<std::string>{"0001-namespaces-_cluster-copy.yaml", "0003-configmaps-copy-cfg.yaml",
                                          "0004-deployments.apps-copy-web.yaml"});
  CHECK(find_report(r, "serviceaccounts", "default")->result.outcome == Outcome::skipped);
  auto text = util::read_file((dir / "0003-configmaps-copy-cfg.yaml").string());
  REQUIRE(text.ok());
  auto parsed = json::parse_yaml(*text);
  REQUIRE(parsed.ok());
  CHECK(json::get_string(*parsed, {"metadata", "namespace"}) == "copy");
  CHECK(json::at(*parsed, {"metadata", "uid"}) == nullptr);
  CHECK((fs::status(dir / "0003-configmaps-copy-cfg.yaml").permissions() & fs::perms::others_read) == fs::perms::none);

  auto again = make_dir_applier(dir.string());
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Errc::config);
  CHECK(again.error().message.find("not empty") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("differences and update_patch", "[applier]") {
  auto live = json::parse(R"({"metadata":{"name":"s","labels":{"a":"1","kbk.io/restore-name":"old"}},
      "spec":{"clusterIP":"10.0.0.1","ports":[{"port":80,"nodePort":30001,"protocol":"TCP"}],"type":"ClusterIP"}})");
  auto same = json::parse(R"({"metadata":{"name":"s","labels":{"a":"1","kbk.io/restore-name":"new"}},
      "spec":{"ports":[{"port":80,"protocol":"TCP"}],"type":"ClusterIP"}})");
  CHECK(differences(*live, *same).empty());
  auto other = json::parse(R"({"metadata":{"name":"s","labels":{"b":"2"}},"spec":{"ports":[{"port":81}],"type":"ClusterIP"}})");
  auto diffs = differences(*live, *other);
  CHECK(diffs == std::vector<std::string>{"spec", "labels"});
  json::Document patch = update_patch(*live, *other);
  // Binding annotations set by the volume controller do not make a PVC different, nor are they removed.
  auto pvc_live = json::parse(R"({"metadata":{"name":"c","annotations":{"pv.kubernetes.io/bind-completed":"yes","a":"1"}},"spec":{"volumeName":"pv1"}})");
  auto pvc_want = json::parse(R"({"metadata":{"name":"c","annotations":{"a":"2"}},"spec":{}})");
  CHECK(differences(*pvc_live, *pvc_want) == std::vector<std::string>{"annotations"});
  CHECK(json::to_string(update_patch(*pvc_live, *pvc_want)) == R"({"metadata":{"annotations":{"a":"2"}}})");
  CHECK(json::to_string(patch) == R"({"spec":{"ports":[{"port":81}]},"metadata":{"labels":{"b":"2","a":null,"kbk.io/restore-name":null}}})");
  // A Deployment rolled out twice in the source is at revision 1 where it was restored: the same Deployment.
  auto deploy_live = json::parse(R"({"metadata":{"name":"d","annotations":{"deployment.kubernetes.io/revision":"1"}},"spec":{"replicas":2}})");
  auto deploy_want = json::parse(R"({"metadata":{"name":"d","annotations":{"deployment.kubernetes.io/revision":"2"}},"spec":{"replicas":2}})");
  CHECK(differences(*deploy_live, *deploy_want).empty());
  auto deploy_scaled = json::parse(R"({"metadata":{"name":"d","annotations":{"deployment.kubernetes.io/revision":"2"}},"spec":{"replicas":3}})");
  CHECK(differences(*deploy_live, *deploy_scaled) == std::vector<std::string>{"spec"});
}

TEST_CASE("exit_code: 1 when every item that was tried failed, 0 when only skips", "[applier]") {
  FakeClient client;
  for (const char* gr : {"namespaces", "configmaps", "deployments.apps"}) client.forbidden.insert(gr);
  FakeResolver types(client);
  auto applier = make_cluster_applier(client, types, fast());
  RestoreReport r = run(app_backup().backup, options(), *applier);
  CHECK(r.phase() == "Failed");
  CHECK(exit_code(r) == ExitCode::failed);

  BackupBuilder only_skips;
  only_skips.add("nodes", R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}})");
  FakeClient c2;
  FakeResolver t2(c2);
  auto a2 = make_cluster_applier(c2, t2, fast());
  RestoreReport r2 = run(only_skips.backup, options(), *a2);
  CHECK(r2.phase() == "Completed");
  CHECK(exit_code(r2) == ExitCode::ok);
  CHECK(c2.writes() == 0);
}

// Records the order in which items finish; "db" takes a while.
class OrderApplier : public Applier {
public:
  std::string mode() const override { return "order"; }
  ItemResult apply(const PlannedItem& item) override {
    if (item.target_name == "db") std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::lock_guard<std::mutex> lock(m_mutex);
    order.push_back(item.display());
    return {Outcome::created, "created", ""};
  }
  std::vector<std::string> order;

private:
  std::mutex m_mutex;
};

TEST_CASE("execute applies a tier's waves one after the other", "[applier]") {
  Plan plan;
  auto item = [](const std::string& name, int wave) {
    PlannedItem p;
    p.tier = Tier::workloads;
    p.namespaced = true;
    p.group = "apps";
    p.resource = "deployments";
    p.target_namespace = "shop";
    p.target_name = name;
    p.wave = wave;
    p.object = JsonText::adopt(R"({"metadata":{"name":")" + name + R"("}})");
    return p;
  };
  for (const char* n : {"a", "b", "c", "d"}) plan.items.push_back(item(n, 1));
  plan.items.insert(plan.items.begin(), item("db", 0));
  size_t n = 0;
  for (auto& p : plan.items) p.order = ++n;
  OrderApplier applier;
  RunOptions ro;
  ro.parallel = 8;
  RestoreReport r = execute(plan, applier, ro);
  CHECK(r.phase() == "Completed");
  REQUIRE(applier.order.size() == 5);
  // The slow item is alone in the first wave: the second wave starts when it is done, though 8 workers were free.
  CHECK(applier.order[0] == "deployments.apps/shop/db");
}

// "a" is not done the first time: the server asked for a wait (ItemResult::retry_in).
class DeferringApplier : public Applier {
public:
  std::string mode() const override { return "deferring"; }
  ItemResult apply(const PlannedItem& item) override {
    std::lock_guard<std::mutex> lock(m_mutex);
    order.push_back(item.target_name);
    if (item.target_name == "a" && std::count(order.begin(), order.end(), "a") == 1) {
      ItemResult later{Outcome::failed, "TooManyRequests", "create: Too many requests, please try again later."};
      later.retry_in = 1;
      return later;
    }
    return {Outcome::created, "created", ""};
  }
  std::vector<std::string> order;

private:
  std::mutex m_mutex;
};

TEST_CASE("execute: an item waiting out a retry does not hold its worker, and is reported once", "[applier]") {
  Plan plan;
  for (const char* n : {"a", "b", "c"}) {
    PlannedItem p;
    p.tier = Tier::config;
    p.namespaced = true;
    p.resource = "configmaps";
    p.target_namespace = "shop";
    p.target_name = n;
    p.object = JsonText::adopt(std::string(R"({"metadata":{"name":")") + n + R"("}})");
    plan.items.push_back(std::move(p));
  }
  size_t n = 0;
  for (auto& p : plan.items) p.order = ++n;
  DeferringApplier applier;
  RunOptions ro;
  ro.parallel = 1;  // one worker: before, it slept a's wait before b and c
  RestoreReport r = execute(plan, applier, ro);
  CHECK(applier.order == std::vector<std::string>{"a", "b", "c", "a"});
  REQUIRE(r.items.size() == 3);
  CHECK(r.phase() == "Completed");
  CHECK(r.count(Outcome::created) == 3);
  CHECK(r.items[0].target_name == "a");
  CHECK(r.items[0].result.reason == "created");
}
