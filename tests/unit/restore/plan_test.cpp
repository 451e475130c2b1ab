#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include <kbk/restore/plan.hpp>

#include "fake_client.hpp"

using namespace kbk;
using namespace kbk::restore;
using kbk::restore::test::BackupBuilder;

namespace {

PlanOptions options() {
  PlanOptions o;
  o.backup_name = "b1";
  o.restore_name = "r1";
  return o;
}

const PlannedItem* find_item(const Plan& p, const std::string& gr, const std::string& name) {
  for (const PlannedItem& i : p.items)
    if (i.group_resource() == gr && i.target_name == name) return &i;
  return nullptr;
}

// make_plan reads the backup; make_plan_releasing_backup (what restore_backup uses) frees item texts as it goes
// and must plan the same: tests that look up other items (owners, Services, Namespaces) run both.
enum class Mode { read, release };
Result<Plan> plan_with(Mode mode, const LoadedBackup& backup, const PlanOptions& o) {
  if (mode == Mode::read) return make_plan(backup, o);
  LoadedBackup copy = backup;
  return make_plan_releasing_backup(copy, o);
}

std::string cm(const std::string& ns, const std::string& name) {
  return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name + R"(","namespace":")" + ns + R"("},"data":{"a":"1"}})";
}

}  // namespace

TEST_CASE("tier_for", "[plan]") {
  CHECK(tier_for("apiextensions.k8s.io", "customresourcedefinitions") == Tier::crds);
  CHECK(tier_for("", "namespaces") == Tier::namespaces);
  CHECK(tier_for("storage.k8s.io", "storageclasses") == Tier::storage_classes);
  CHECK(tier_for("", "persistentvolumes") == Tier::persistent_volumes);
  CHECK(tier_for("", "persistentvolumeclaims") == Tier::persistent_volume_claims);
  CHECK(tier_for("rbac.authorization.k8s.io", "clusterrolebindings") == Tier::rbac);
  CHECK(tier_for("", "serviceaccounts") == Tier::rbac);
  CHECK(tier_for("", "secrets") == Tier::config);
  CHECK(tier_for("scheduling.k8s.io", "priorityclasses") == Tier::policy);
  CHECK(tier_for("", "services") == Tier::services);
  CHECK(tier_for("batch", "cronjobs") == Tier::workloads);
  CHECK(tier_for("networking.k8s.io", "ingresses") == Tier::other);
  CHECK(tier_for("example.com", "widgets") == Tier::other);
  CHECK(tier_for("admissionregistration.k8s.io", "validatingwebhookconfigurations") == Tier::webhooks);
}

TEST_CASE("make_plan orders items by tier whatever the backup order", "[plan]") {
  BackupBuilder b;
  b.add("validatingwebhookconfigurations.admissionregistration.k8s.io",
        R"({"apiVersion":"admissionregistration.k8s.io/v1","kind":"ValidatingWebhookConfiguration","metadata":{"name":"vw"}})")
      .add("ingresses.networking.k8s.io", R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"ing","namespace":"app"}})")
      .add("deployments.apps", R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"app"},"spec":{}})")
      .add("services", R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"app"},"spec":{}})")
      .add("limitranges", R"({"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"lr","namespace":"app"}})")
      .add("secrets", R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"app"}})")
      .add("configmaps", cm("app", "c"))
      .add("rolebindings.rbac.authorization.k8s.io", R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"rb","namespace":"app"}})")
      .add("persistentvolumeclaims", R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data","namespace":"app"},"spec":{}})")
      .add("persistentvolumes", R"({"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"pv1"},"spec":{"persistentVolumeReclaimPolicy":"Retain"}})")
      .add("storageclasses.storage.k8s.io", R"({"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"fast"}})")
      .add("namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"app"}})")
      .add("customresourcedefinitions.apiextensions.k8s.io",
           R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"widgets.example.com"}})");
  auto plan = make_plan(b.backup, options());
  REQUIRE(plan.ok());
  std::vector<std::string> order;
  for (const PlannedItem& i : plan->items) order.push_back(i.group_resource());
  CHECK(order == std::vector<std::string>{
                     "customresourcedefinitions.apiextensions.k8s.io", "namespaces", "storageclasses.storage.k8s.io",
                     "persistentvolumes", "persistentvolumeclaims", "rolebindings.rbac.authorization.k8s.io",
                     "configmaps", "secrets", "limitranges", "services", "deployments.apps",
                     "ingresses.networking.k8s.io",
                     "validatingwebhookconfigurations.admissionregistration.k8s.io"});
  for (size_t i = 0; i < plan->items.size(); ++i) CHECK(plan->items[i].order == i + 1);
}

TEST_CASE("make_plan orders a tier by group/resource, namespace and name as strings order them", "[plan]") {
  // Types whose resource is a prefix of another's, or differs only after the group's dot, in a scrambled backup
  // order: the plan sorts an index and permutes the items in place, comparing group_resource() without building it.
  const std::vector<std::pair<std::string, std::string>> types = {  // {resource.group, apiVersion}
      {"widgets.example.com", "example.com/v1"}, {"widgetsx.example.com", "example.com/v1"},
      {"widgets.a.io", "a.io/v1"}, {"widget.example.com", "example.com/v1"}, {"gadgets.example.com", "example.com/v1"}};
  const std::vector<std::string> kinds = {"Widget", "WidgetX", "Widget", "Widget1", "Gadget"};
  std::vector<std::tuple<std::string, std::string, std::string>> added;  // group_resource, namespace, name
  BackupBuilder b;
  uint32_t seed = 7;
  for (int n = 0; n < 40; ++n) {
    seed = seed * 1103515245u + 12345u;
    const size_t t = (seed >> 16) % types.size();
    const std::string ns = std::string("ns-") + static_cast<char>('a' + (seed >> 8) % 3);
    const std::string name = "o" + std::to_string((seed >> 4) % 1000);
    if (std::find(added.begin(), added.end(), std::make_tuple(types[t].first, ns, name)) != added.end()) continue;
    added.emplace_back(types[t].first, ns, name);
    b.add(types[t].first, R"({"apiVersion":")" + types[t].second + R"(","kind":")" + kinds[t] +
                              R"(","metadata":{"name":")" + name + R"(","namespace":")" + ns + R"("}})");
  }
  auto plan = make_plan(b.backup, options());
  REQUIRE(plan.ok());
  std::vector<std::tuple<std::string, std::string, std::string>> got;
  for (const PlannedItem& i : plan->items)
    if (i.resource != "namespaces") got.emplace_back(i.group_resource(), i.target_namespace, i.target_name);
  std::sort(added.begin(), added.end());
  CHECK(got == added);
}

TEST_CASE("make_plan leaves cluster-managed objects to the cluster", "[plan]") {
  BackupBuilder b;
  b.add("namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kube-system"}})")
      .add("namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}})")
      .add("configmaps", cm("app", "kube-root-ca.crt"))
      .add("clusterroles.rbac.authorization.k8s.io", R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"system:controller:x"}})")
      .add("clusterroles.rbac.authorization.k8s.io", R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"admin","labels":{"kubernetes.io/bootstrapping":"rbac-defaults"}}})")
      .add("clusterroles.rbac.authorization.k8s.io", R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"mine"}})")
      .add("services", R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"kubernetes","namespace":"default"},"spec":{}})")
      .add("nodes", R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}})")
      .add("events", R"({"apiVersion":"v1","kind":"Event","metadata":{"name":"e1","namespace":"app"}})")
      .add("leases.coordination.k8s.io", R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"kube-controller-manager","namespace":"kube-system"}})")
      .add("apiservices.apiregistration.k8s.io", R"({"apiVersion":"apiregistration.k8s.io/v1","kind":"APIService","metadata":{"name":"v1.apps","labels":{"kube-aggregator.kubernetes.io/automanaged":"onstart"}}})")
      .add("jobs.batch", R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"done","namespace":"app"},"spec":{},"status":{"completionTime":"2026-01-01T00:00:00Z"}})")
      .add("pods", R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"finished","namespace":"app"},"spec":{},"status":{"phase":"Succeeded"}})")
      .add("pods", R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"mirror","namespace":"app","annotations":{"kubernetes.io/config.mirror":"x"}},"spec":{}})")
      .add("secrets", R"({"apiVersion":"v1","kind":"Secret","type":"kubernetes.io/service-account-token","metadata":{"name":"builder-token-abcde","namespace":"app","annotations":{"kubernetes.io/service-account.name":"builder"}}})")
      .add("serviceaccounts", R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default","namespace":"app"}})");
  auto plan = make_plan(b.backup, options());
  REQUIRE(plan.ok());
  auto reason_of = [&](const std::string& gr, const std::string& name) -> std::string {
    const PlannedItem* i = find_item(*plan, gr, name);
    REQUIRE(i);
    return i->skip ? i->skip->reason : "applied";
  };
  CHECK(reason_of("namespaces", "kube-system") == reason::managed_by_cluster);
  CHECK(reason_of("namespaces", "default") == reason::managed_by_cluster);
  CHECK(reason_of("configmaps", "kube-root-ca.crt") == reason::managed_by_cluster);
  CHECK(reason_of("clusterroles.rbac.authorization.k8s.io", "system:controller:x") == reason::managed_by_cluster);
  CHECK(reason_of("clusterroles.rbac.authorization.k8s.io", "admin") == reason::managed_by_cluster);
  CHECK(reason_of("clusterroles.rbac.authorization.k8s.io", "mine") == "applied");
  CHECK(reason_of("services", "kubernetes") == reason::managed_by_cluster);
  CHECK(reason_of("nodes", "n1") == reason::managed_by_cluster);
  CHECK(reason_of("events", "e1") == reason::managed_by_cluster);
  CHECK(reason_of("leases.coordination.k8s.io", "kube-controller-manager") == reason::managed_by_cluster);
  CHECK(reason_of("apiservices.apiregistration.k8s.io", "v1.apps") == reason::managed_by_cluster);
  CHECK(reason_of("jobs.batch", "done") == reason::managed_by_cluster);
  CHECK(reason_of("pods", "finished") == reason::managed_by_cluster);
  CHECK(reason_of("pods", "mirror") == reason::managed_by_cluster);
  CHECK(reason_of("secrets", "builder-token-abcde") == reason::service_account_token);
  // The default ServiceAccount is merged into the live one, not created.
  const PlannedItem* sa = find_item(*plan, "serviceaccounts", "default");
  REQUIRE(sa);
  CHECK_FALSE(sa->skip);
  CHECK(sa->action == ItemAction::merge_service_account);
}

TEST_CASE("make_plan skips what a restored controller recreates", "[plan]") {
  BackupBuilder b;
  b.add("deployments.apps", R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"app","uid":"d1"},"spec":{}})")
      .add("replicasets.apps", R"({"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web-5f","namespace":"app","uid":"r1","ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"web","uid":"d1","controller":true}]},"spec":{}})")
      .add("pods", R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-5f-x","namespace":"app","ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-5f","uid":"r1","controller":true}]},"spec":{}})")
      .add("replicasets.apps", R"({"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"orphan","namespace":"app","ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"gone","uid":"zz","controller":true}]},"spec":{}})")
      .add("services", R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"app"},"spec":{"selector":{"app":"web"}}})")
      .add("endpoints", R"({"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"web","namespace":"app"}})")
      .add("services", R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"ext","namespace":"app"},"spec":{}})")
      .add("endpoints", R"({"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"ext","namespace":"app"}})")
      .add("endpointslices.discovery.k8s.io", R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"web-abc","namespace":"app","labels":{"kubernetes.io/service-name":"web"}}})")
      .add("cronjobs.batch", R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"nightly","namespace":"app","uid":"c1"},"spec":{}})")
      .add("jobs.batch", R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"nightly-1","namespace":"app","ownerReferences":[{"apiVersion":"batch/v1","kind":"CronJob","name":"nightly","uid":"c1","controller":true}]},"spec":{}})");
  Mode mode = GENERATE(Mode::read, Mode::release);
  auto plan = plan_with(mode, b.backup, options());
  REQUIRE(plan.ok());
  auto skipped = [&](const std::string& gr, const std::string& name) {
    const PlannedItem* i = find_item(*plan, gr, name);
    REQUIRE(i);
    return i->skip ? i->skip->reason : std::string("applied");
  };
  CHECK(skipped("deployments.apps", "web") == "applied");
  CHECK(skipped("replicasets.apps", "web-5f") == reason::controller_owned);
  CHECK(skipped("pods", "web-5f-x") == reason::controller_owned);
  CHECK(skipped("endpoints", "web") == reason::controller_owned);
  CHECK(skipped("endpointslices.discovery.k8s.io", "web-abc") == reason::controller_owned);
  CHECK(skipped("endpoints", "ext") == "applied");  // selector-less Service: endpoints are the user's
  CHECK(skipped("jobs.batch", "nightly-1") == reason::controller_owned);
  // The owner is not in the restore: restored, without its ownerReferences.
  const PlannedItem* orphan = find_item(*plan, "replicasets.apps", "orphan");
  REQUIRE(orphan);
  CHECK_FALSE(orphan->skip);
  CHECK(json::at(orphan->object.parse(), {"metadata", "ownerReferences"}) == nullptr);

  // Restoring only the pods: their ReplicaSet is not part of the restore, so the pod comes back.
  PlanOptions o = options();
  o.selection.include_resources = {"pods"};
  auto only_pods = plan_with(mode, b.backup, o);
  REQUIRE(only_pods.ok());
  const PlannedItem* pod = find_item(*only_pods, "pods", "web-5f-x");
  REQUIRE(pod);
  CHECK_FALSE(pod->skip);
}

TEST_CASE("make_plan_releasing_backup frees what no later step reads and keeps what other items look up", "[plan]") {
  // The ReplicaSet and the Service are planned before the Pod and the Endpoints that look them up: their texts
  // must outlive their own turn.
  BackupBuilder b;
  b.add("replicasets.apps", R"({"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web-5f","namespace":"app","uid":"r1","ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"web","uid":"d1","controller":true}]},"spec":{}})")
      .add("services", R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"app"},"spec":{"selector":{"app":"web"}}})")
      .add("deployments.apps", R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"app","uid":"d1"},"spec":{}})")
      .add("pods", R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-5f-x","namespace":"app","ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-5f","uid":"r1","controller":true}]},"spec":{}})")
      .add("endpoints", R"({"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"web","namespace":"app"}})")
      .add("configmaps", cm("app", "plain"))
      .add("configmaps", cm("elsewhere", "unselected"))
      .add("namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"app","labels":{"team":"a"}}})");
  PlanOptions o = options();
  o.selection.include_namespaces = {"app"};
  LoadedBackup backup = b.backup;
  auto plan = make_plan_releasing_backup(backup, o);
  REQUIRE(plan.ok());
  CHECK(find_item(*plan, "pods", "web-5f-x")->skip->message ==
        "recreated by its controller ReplicaSet/web-5f (itself recreated by Deployment/web)");
  CHECK(find_item(*plan, "endpoints", "web")->skip->message == "recreated by its controller Service/web");
  CHECK(json::get_string(find_item(*plan, "configmaps", "plain")->object.parse(), {"data", "a"}) == "1");
  CHECK(json::get_string(find_item(*plan, "namespaces", "app")->object.parse(), {"metadata", "labels", "team"}) == "a");
  std::map<std::string, bool> released;
  for (const BackupItem& it : backup.items) released[it.key.resource + "/" + it.key.name] = it.object.is_null();
  CHECK(released == std::map<std::string, bool>{{"pods/web-5f-x", true}, {"endpoints/web", true},
                                                {"configmaps/plain", true}, {"configmaps/unselected", true},
                                                {"replicasets/web-5f", false}, {"deployments/web", false},
                                                {"services/web", false}, {"namespaces/app", false}});
}

TEST_CASE("make_plan applies the selection to original namespaces and adds restore labels", "[plan]") {
  BackupBuilder b;
  b.add("namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"app","labels":{"team":"a"}}})")
      .add("configmaps", cm("app", "one"))
      .add("configmaps", cm("other", "two"))
      .add("configmaps", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"three","namespace":"app","labels":{"tier":"db"}}})")
      .add("clusterroles.rbac.authorization.k8s.io", R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"mine"}})");
  Mode mode = GENERATE(Mode::read, Mode::release);
  PlanOptions o = options();
  o.selection.include_namespaces = {"ap*"};
  o.namespace_mappings = {{"app", "app2"}};
  auto plan = plan_with(mode, b.backup, o);
  REQUIRE(plan.ok());
  CHECK(find_item(*plan, "configmaps", "one"));
  CHECK(find_item(*plan, "configmaps", "three"));
  CHECK_FALSE(find_item(*plan, "configmaps", "two"));
  CHECK_FALSE(find_item(*plan, "clusterroles.rbac.authorization.k8s.io", "mine"));  // cluster resources: auto
  const PlannedItem* one = find_item(*plan, "configmaps", "one");
  CHECK(one->target_namespace == "app2");
  CHECK(json::get_string(one->object.parse(), {"metadata", "namespace"}) == "app2");
  CHECK(json::get_string(one->object.parse(), {"metadata", "labels", "kbk.io/backup-name"}) == "b1");
  CHECK(json::get_string(one->object.parse(), {"metadata", "labels", "kbk.io/restore-name"}) == "r1");
  const PlannedItem* ns = find_item(*plan, "namespaces", "app2");
  REQUIRE(ns);
  CHECK(json::get_string(ns->object.parse(), {"metadata", "labels", "team"}) == "a");

  o.selection.label_selector = "tier=db";
  o.restore_labels = RestoreLabels::omit;
  auto by_label = plan_with(mode, b.backup, o);
  REQUIRE(by_label.ok());
  CHECK(find_item(*by_label, "configmaps", "three"));
  CHECK_FALSE(find_item(*by_label, "configmaps", "one"));
  // The namespace object does not match the selector but is created for the item, from the backup.
  const PlannedItem* synth = find_item(*by_label, "namespaces", "app2");
  REQUIRE(synth);
  CHECK(synth->synthesized);
  CHECK(json::get_string(synth->object.parse(), {"metadata", "labels", "team"}) == "a");
  CHECK(json::at(find_item(*by_label, "configmaps", "three")->object.parse(), {"metadata", "labels", "kbk.io/backup-name"}) == nullptr);

  o = options();
  o.selection.include_names = {"configmaps/app/t*"};
  auto by_name = make_plan(b.backup, o);
  REQUIRE(by_name.ok());
  CHECK(find_item(*by_name, "configmaps", "three"));
  CHECK_FALSE(find_item(*by_name, "configmaps", "one"));

  o = options();
  o.selection.exclude_resources = {"cm"};
  auto no_cm = make_plan(b.backup, o);
  REQUIRE(no_cm.ok());
  CHECK_FALSE(find_item(*no_cm, "configmaps", "one"));
  CHECK(find_item(*no_cm, "clusterroles.rbac.authorization.k8s.io", "mine"));
}

TEST_CASE("make_plan: PVs of dynamic provisioning are not restored and their claims lose volumeName", "[plan]") {
  BackupBuilder b;
  b.add("persistentvolumes", R"({"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"pvc-123"},"spec":{"persistentVolumeReclaimPolicy":"Delete","claimRef":{"namespace":"app","name":"data","uid":"u"}}})")
      .add("persistentvolumeclaims", R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data","namespace":"app","annotations":{"pv.kubernetes.io/bind-completed":"yes"}},"spec":{"volumeName":"pvc-123"}})")
      .add("persistentvolumes", R"({"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"nfs-1"},"spec":{"persistentVolumeReclaimPolicy":"Retain","claimRef":{"namespace":"app","name":"shared","uid":"u2","resourceVersion":"7"}}})")
      .add("persistentvolumeclaims", R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"shared","namespace":"app"},"spec":{"volumeName":"nfs-1"}})");
  auto plan = make_plan(b.backup, options());
  REQUIRE(plan.ok());
  const PlannedItem* pv = find_item(*plan, "persistentvolumes", "pvc-123");
  REQUIRE(pv->skip);
  CHECK(pv->skip->reason == reason::dynamic_pv);
  const PlannedItem* pvc = find_item(*plan, "persistentvolumeclaims", "data");
  CHECK(json::at(pvc->object.parse(), {"spec", "volumeName"}) == nullptr);
  CHECK(json::at(pvc->object.parse(), {"metadata", "annotations", "pv.kubernetes.io/bind-completed"}) == nullptr);
  const PlannedItem* retain = find_item(*plan, "persistentvolumes", "nfs-1");
  CHECK_FALSE(retain->skip);
  CHECK(json::at(retain->object.parse(), {"spec", "claimRef", "uid"}) == nullptr);
  CHECK(json::get_string(find_item(*plan, "persistentvolumeclaims", "shared")->object.parse(), {"spec", "volumeName"}) == "nfs-1");

  // Into a mapped namespace of a cluster that still has the PV: skipped, the claim provisions a new volume.
  PlanOptions o = options();
  o.namespace_mappings = {{"app", "app-copy"}};
  o.pv_exists = [](const std::string& name) { return name == "nfs-1"; };
  auto mapped = make_plan(b.backup, o);
  REQUIRE(mapped.ok());
  const PlannedItem* in_use = find_item(*mapped, "persistentvolumes", "nfs-1");
  REQUIRE(in_use->skip);
  CHECK(in_use->skip->reason == reason::pv_in_use);
  CHECK(json::at(find_item(*mapped, "persistentvolumeclaims", "shared")->object.parse(), {"spec", "volumeName"}) == nullptr);
}

TEST_CASE("make_plan follows the CRD of selected custom resources", "[plan]") {
  BackupBuilder b;
  b.add("customresourcedefinitions.apiextensions.k8s.io", R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"widgets.example.com"}})")
      .add("widgets.example.com", R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"app"}})");
  PlanOptions o = options();
  o.selection.include_namespaces = {"app"};
  auto plan = make_plan(b.backup, o);
  REQUIRE(plan.ok());
  CHECK(find_item(*plan, "customresourcedefinitions.apiextensions.k8s.io", "widgets.example.com"));
  o.selection.include_cluster_resources = false;
  auto without = make_plan(b.backup, o);
  REQUIRE(without.ok());
  CHECK_FALSE(find_item(*without, "customresourcedefinitions.apiextensions.k8s.io", "widgets.example.com"));
}

namespace {
class SkipSecrets : public Transform {
public:
  std::string name() const override { return "test-transform"; }
  Result<TransformOutcome> apply(const TransformContext& ctx, json::Document& obj) override {
    TransformOutcome out;
    if (ctx.resource == "secrets") {
      out.skip = true;
      out.skip_message = "no secrets here";
      return out;
    }
    if (ctx.resource == "services") return unexpected(Errc::invalid, "cannot patch");
    json::set(json::ensure_object(obj, "metadata", obj.GetAllocator()), "annotations", json::Value(rapidjson::kObjectType), obj.GetAllocator());
    json::set(obj["metadata"]["annotations"], "seen-ns", json::make_string(ctx.original_namespace + ">" + ctx.target_namespace, obj.GetAllocator()), obj.GetAllocator());
    ctx.notes->push_back("test-transform touched it");
    out.changed = true;
    return out;
  }
};
}  // namespace

TEST_CASE("make_plan runs transforms with the original and the target namespace at hand", "[plan]") {
  BackupBuilder b;
  b.add("configmaps", cm("app", "c"))
      .add("secrets", R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"app"}})")
      .add("services", R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"svc","namespace":"app"},"spec":{}})");
  PlanOptions o = options();
  o.namespace_mappings = {{"app", "b"}};
  o.transforms.push_back(std::make_shared<SkipSecrets>());
  auto plan = make_plan(b.backup, o);
  REQUIRE(plan.ok());
  const PlannedItem* c = find_item(*plan, "configmaps", "c");
  CHECK(json::get_string(c->object.parse(), {"metadata", "annotations", "seen-ns"}) == "app>b");
  CHECK(std::find(c->notes.begin(), c->notes.end(), "test-transform touched it") != c->notes.end());
  CHECK(find_item(*plan, "secrets", "s")->skip->reason == reason::transform_skip);
  CHECK(find_item(*plan, "services", "svc")->skip->reason == reason::transform_failed);
  CHECK(find_item(*plan, "services", "svc")->skip->failed);
}

TEST_CASE("manifest_file_name", "[plan]") {
  PlannedItem i;
  i.order = 7;
  i.group = "apps";
  i.resource = "deployments";
  i.namespaced = true;
  i.target_namespace = "app";
  i.target_name = "web";
  CHECK(manifest_file_name(i) == "0007-deployments.apps-app-web.yaml");
  PlannedItem n;
  n.order = 12;
  n.resource = "namespaces";
  n.target_name = "app";
  CHECK(manifest_file_name(n) == "0012-namespaces-_cluster-app.yaml");
}

namespace {

// Two applications sharing a namespace and a cluster-scoped object of each.
BackupBuilder two_apps() {
  BackupBuilder b;
  b.add("namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}})")
      .add("namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"other"}})")
      .add("deployments.apps", R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop","labels":{"app":"web"}},
           "spec":{"template":{"spec":{"volumes":[{"name":"c","configMap":{"name":"web-config"}}],"containers":[{"name":"w","image":"x"}]}}}})")
      .add("statefulsets.apps", R"({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db","namespace":"shop","labels":{"app":"web"}},"spec":{}})")
      .add("configmaps", cm("shop", "web-config"))
      .add("deployments.apps", R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"shop-api","namespace":"shop","labels":{"app":"api"}},"spec":{}})")
      .add("configmaps", cm("other", "unrelated"))
      .add("clusterroles.rbac.authorization.k8s.io", R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"web-reader","labels":{"app":"web"}}})")
      .add("clusterroles.rbac.authorization.k8s.io", R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"api-reader","labels":{"app":"api"}}})");
  return b;
}

std::shared_ptr<const app::Application> web_app(const std::string& extra = "") {
  auto a = app::parse(R"(apiVersion: kbk.io/v1
kind: Application
metadata: {name: web}
spec:
  parts:
  - {name: web, selector: app=web}
)" + extra,
                      "web.yaml");
  REQUIRE(a.ok());
  return std::make_shared<const app::Application>(std::move(*a));
}

std::vector<std::string> planned(const Plan& p) {
  std::vector<std::string> v;
  for (const PlannedItem& i : p.items)
    if (!i.skip) v.push_back(i.display());
  return v;
}

}  // namespace

TEST_CASE("make_plan with applications restores what they select in the backup, and nothing of the others", "[plan]") {
  for (Mode mode : {Mode::read, Mode::release}) {
    auto b = two_apps();
    PlanOptions o = options();
    o.applications = web_app();
    auto plan = plan_with(mode, b.backup, o);
    REQUIRE(plan.ok());
    auto got = planned(*plan);
    std::sort(got.begin(), got.end());
    CHECK(got == std::vector<std::string>{"clusterroles.rbac.authorization.k8s.io/web-reader",
                                          "configmaps/shop/web-config", "deployments.apps/shop/web", "namespaces/shop",
                                          "statefulsets.apps/shop/db"});
    // The flags narrow where they are given, and only there: cluster-scoped objects stay the application's.
    o.selection.include_namespaces = {"shop"};
    o.selection.exclude_resources = {"statefulsets"};
    auto narrowed = plan_with(mode, b.backup, o);
    REQUIRE(narrowed.ok());
    got = planned(*narrowed);
    std::sort(got.begin(), got.end());
    CHECK(got == std::vector<std::string>{"clusterroles.rbac.authorization.k8s.io/web-reader",
                                          "configmaps/shop/web-config", "deployments.apps/shop/web", "namespaces/shop"});
  }
}

TEST_CASE("make_plan orders items within a tier by the applications' restore order hints", "[plan]") {
  auto b = two_apps();
  b.add("deployments.apps", R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"aaa","namespace":"shop","labels":{"app":"web"}},"spec":{}})");
  PlanOptions o = options();
  o.applications = web_app("  restore:\n    order: [statefulsets/shop/db, deployments/shop/web]\n");
  auto plan = make_plan(b.backup, o);
  REQUIRE(plan.ok());
  std::vector<std::string> workloads;
  std::vector<int> waves;
  for (const PlannedItem& i : plan->items)
    if (i.tier == Tier::workloads) {
      workloads.push_back(i.display());
      waves.push_back(i.wave);
    }
  // Without hints the tier is sorted by type and name (aaa, web, db); the hints put db first, web second.
  CHECK(workloads == std::vector<std::string>{"statefulsets.apps/shop/db", "deployments.apps/shop/web", "deployments.apps/shop/aaa"});
  CHECK(waves == std::vector<int>{0, 1, 2});
  // The other tiers keep their order: the ConfigMap is still restored before every workload.
  const PlannedItem* c = find_item(*plan, "configmaps", "web-config");
  REQUIRE(c);
  CHECK(c->tier == Tier::config);
}

TEST_CASE("make_plan names the related objects a selection pulls in, and warns when it matches nothing", "[plan]") {
  BackupBuilder b;
  b.add("customresourcedefinitions.apiextensions.k8s.io", R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"widgets.example.com"}})")
      .add("widgets.example.com", R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"app"}})")
      .add("configmaps", cm("app", "c1"));
  PlanOptions o = options();
  o.selection.include_namespaces = {"app"};
  for (Mode mode : {Mode::read, Mode::release}) {
    auto plan = plan_with(mode, b.backup, o);
    REQUIRE(plan.ok());
    CHECK(std::find(plan->warnings.begin(), plan->warnings.end(),
                    "1 related object follows the selection (CRDs of custom resources, PVs of claims): "
                    "customresourcedefinitions.apiextensions.k8s.io/widgets.example.com") != plan->warnings.end());
  }
  o.selection.include_namespaces = {"doesnotexist", "ap*"};
  auto plan = make_plan(b.backup, o);
  REQUIRE(plan.ok());
  CHECK(std::find(plan->warnings.begin(), plan->warnings.end(),
                  "--include-namespaces doesnotexist: backup b1 holds no namespace of that name") != plan->warnings.end());
  CHECK(std::none_of(plan->warnings.begin(), plan->warnings.end(),
                     [](const std::string& w) { return w.find("--include-namespaces ap*") != std::string::npos; }));
  o.selection.include_namespaces = {"doesnotexist"};
  auto empty = make_plan(b.backup, o);
  REQUIRE(empty.ok());
  CHECK(std::find(empty->warnings.begin(), empty->warnings.end(), "the selection matched no object of backup b1") !=
        empty->warnings.end());
}

TEST_CASE("make_plan reads in its selection pass only the objects that need it, and decides the same", "[plan]") {
  // A pod whose ownerReferences key is spelled with a \u escape: the text test must not take it for an object
  // without owners. A ConfigMap selected by label and one left out by it: -l reads every object.
  BackupBuilder b;
  b.add("replicasets.apps", R"({"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web-5f","namespace":"app","uid":"r1"},"spec":{}})")
      .add("pods", R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-5f-x","namespace":"app","owner\u0052eferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-5f","uid":"r1","controller":true}]},"spec":{}})")
      .add("configmaps", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"in","namespace":"app","labels":{"tier":"web"}},"data":{"a":"1"}})")
      .add("configmaps", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"out","namespace":"app","labels":{"tier":"db"}},"data":{"a":"1"}})");
  Mode mode = GENERATE(Mode::read, Mode::release);
  auto plan = plan_with(mode, b.backup, options());
  REQUIRE(plan.ok());
  const PlannedItem* pod = find_item(*plan, "pods", "web-5f-x");
  REQUIRE(pod);
  REQUIRE(pod->skip);
  CHECK(pod->skip->reason == reason::controller_owned);
  PlanOptions o = options();
  o.selection.label_selector = "tier=web";
  auto by_label = plan_with(mode, b.backup, o);
  REQUIRE(by_label.ok());
  CHECK(find_item(*by_label, "configmaps", "in") != nullptr);
  CHECK(find_item(*by_label, "configmaps", "out") == nullptr);
}

TEST_CASE("make_plan keeps managedFields for the applier, and status only when restored", "[plan]") {
  BackupBuilder b;
  b.add("configmaps", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"app","managedFields":[{"manager":"kubectl","operation":"Apply"}]},"data":{"a":"1"},"status":{"x":1}})");
  PlanOptions o = options();
  auto plain = make_plan(b.backup, o);
  REQUIRE(plain.ok());
  const PlannedItem* c = find_item(*plain, "configmaps", "c");
  REQUIRE(c);
  CHECK(json::get_string(c->managed_fields.parse()[0], {"manager"}) == "kubectl");
  CHECK(c->status.is_null());
  CHECK(json::at(c->object.parse(), {"metadata", "managedFields"}) == nullptr);
  CHECK(json::at(c->object.parse(), {"status"}) == nullptr);
  o.restore_status = RestoreStatus::yes;
  auto with_status = make_plan(b.backup, o);
  REQUIRE(with_status.ok());
  c = find_item(*with_status, "configmaps", "c");
  REQUIRE(c);
  CHECK(json::at(c->status.parse(), {"x"}) != nullptr);
  CHECK(json::at(c->object.parse(), {"status"}) == nullptr);
}
