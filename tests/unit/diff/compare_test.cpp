// kbk diff's comparison: what counts as a change once both sides are planned as a restore plans them.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include <kbk/diff/diff.hpp>
#include <kbk/diff/sources.hpp>
#include <kbk/json/json.hpp>
#include <kbk/util/strings.hpp>

using namespace kbk;

namespace {

// One item as a backup holds it.
void add(restore::LoadedBackup& b, const std::string& group, const std::string& version, const std::string& resource,
         const std::string& kind, const std::string& ns, const std::string& name, const std::string& json_text) {
  restore::BackupItem it;
  it.key.group = group;
  it.key.version = version;
  it.key.resource = resource;
  it.key.namespace_ = ns;
  it.key.name = name;
  it.kind = kind;
  it.path = resource + "/" + ns + "/" + name;
  auto doc = json::parse(json_text);
  REQUIRE(doc.ok());
  it.object = restore::JsonText::of(*doc);
  b.items.push_back(std::move(it));
}

std::string deployment(const std::string& ns, const std::string& image, const std::string& rv, int generation,
                       const std::string& extra_labels = "") {
  return R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":")" + ns +
         R"(","uid":"u-)" + rv + R"(","resourceVersion":")" + rv + R"(","generation":)" + std::to_string(generation) +
         R"(,"creationTimestamp":"2026-01-01T00:00:00Z","labels":{"app":"web")" + extra_labels +
         R"(},"managedFields":[{"manager":"kubectl-)" + rv +
         R"(","operation":"Update"}]},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":")" +
         image + R"("}]}}},"status":{"observedGeneration":)" + std::to_string(generation) + R"(,"replicas":2}})";
}

std::string replica_set(const std::string& ns, const std::string& name, const std::string& owner_uid) {
  return R"({"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":")" + name + R"(","namespace":")" + ns +
         R"(","ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"web","uid":")" + owner_uid +
         R"(","controller":true}]},"spec":{"replicas":2}})";
}

std::string service(const std::string& ns, const std::string& cluster_ip) {
  return R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":")" + ns +
         R"(","resourceVersion":"9"},"spec":{"clusterIP":")" + cluster_ip + R"(","clusterIPs":[")" + cluster_ip +
         R"("],"ports":[{"port":80,"targetPort":8080}],"selector":{"app":"web"}}})";
}

std::string config_map(const std::string& ns, const std::string& name, const std::string& value) {
  return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name + R"(","namespace":")" + ns +
         R"("},"data":{"k":")" + value + R"("}})";
}

std::string role_binding(const std::string& ns) {
  return R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"rb","namespace":")" +
         ns + R"("},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"r"},"subjects":[{"kind":"ServiceAccount","name":"app","namespace":")" +
         ns + R"("}]})";
}

}  // namespace

TEST_CASE("compare reports the user's change and nothing the server or a controller did", "[diff]") {
  restore::LoadedBackup a, b;
  add(a, "apps", "v1", "deployments", "Deployment", "shop", "web", deployment("shop", "nginx:1.25", "10", 1));
  add(a, "apps", "v1", "replicasets", "ReplicaSet", "shop", "web-aaa", replica_set("shop", "web-aaa", "u-10"));
  add(a, "", "v1", "services", "Service", "shop", "web", service("shop", "10.0.0.1"));
  add(a, "", "v1", "configmaps", "ConfigMap", "shop", "old", config_map("shop", "old", "1"));
  add(a, "", "v1", "configmaps", "ConfigMap", "shop", "same", config_map("shop", "same", "1"));
  // B: the image changed (new generation, resourceVersion, managedFields, status, a new ReplicaSet), the Service got
  // another cluster IP, one ConfigMap went and another came.
  add(b, "apps", "v1", "deployments", "Deployment", "shop", "web", deployment("shop", "nginx:1.27", "20", 2));
  add(b, "apps", "v1", "replicasets", "ReplicaSet", "shop", "web-aaa", replica_set("shop", "web-aaa", "u-20"));
  add(b, "apps", "v1", "replicasets", "ReplicaSet", "shop", "web-bbb", replica_set("shop", "web-bbb", "u-20"));
  add(b, "", "v1", "services", "Service", "shop", "web", service("shop", "10.0.0.99"));
  add(b, "", "v1", "configmaps", "ConfigMap", "shop", "new", config_map("shop", "new", "1"));
  add(b, "", "v1", "configmaps", "ConfigMap", "shop", "same", config_map("shop", "same", "1"));

  auto r = diff::compare(a, b, {});
  REQUIRE(r.ok());
  CHECK(r->counts.changed == 1);
  CHECK(r->counts.added == 1);
  CHECK(r->counts.removed == 1);
  CHECK(r->counts.unchanged == 2);  // the Service and the unchanged ConfigMap
  CHECK(r->not_compared.at("controller-owned") == 3);
  REQUIRE(r->changes.size() == 3);
  CHECK(r->changes[0].display() == "configmaps/shop/new");
  CHECK(r->changes[0].change == diff::Change::added);
  CHECK(r->changes[1].display() == "configmaps/shop/old");
  CHECK(r->changes[1].change == diff::Change::removed);
  CHECK(r->changes[2].display() == "deployments.apps/shop/web");
  CHECK(r->changes[2].group_kind() == "Deployment.apps");
  CHECK(r->by_kind.at("ConfigMap").added == 1);
  CHECK(r->by_kind.at("Deployment.apps").changed == 1);

  json::Document j = diff::to_json(*r);
  CHECK(json::get_string(j, {"kind"}) == "Diff");
  const json::Value& items = j["items"];
  REQUIRE(items.Size() == 3);
  CHECK(json::to_string(items[2]["patch"]) ==
        R"([{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:1.27"}])");
  CHECK(!items[0].HasMember("patch"));

  r->from = "nightly-1";
  r->to = "nightly-2";
  std::string text = diff::to_text(*r);
  CHECK(text.find("added configmaps/shop/new\n") != std::string::npos);
  CHECK(text.find("removed configmaps/shop/old\n") != std::string::npos);
  CHECK(text.find("--- nightly-1/deployments.apps/shop/web\n+++ nightly-2/deployments.apps/shop/web\n") !=
        std::string::npos);
  INFO(text);
  CHECK(text.find("\n-        - image: nginx:1.25\n+        - image: nginx:1.27\n") != std::string::npos);
  // Nothing else changed in the Deployment: one line out, one line in.
  size_t minus = 0, plus = 0;
  for (const std::string& line : util::split(text, '\n')) {
    if (line[0] == '-' && line.rfind("--- ", 0) != 0) ++minus;
    if (line[0] == '+' && line.rfind("+++ ", 0) != 0) ++plus;
  }
  CHECK(minus == 1);
  CHECK(plus == 1);
  CHECK(diff::summary_line(*r) ==
        "3 objects differ: 1 changed, 1 added, 1 removed; 2 unchanged; 3 not compared (what a restore would not "
        "apply: controller-owned 3)");
}

TEST_CASE("compare maps the from side's namespaces and ignores restore labels", "[diff]") {
  restore::LoadedBackup a, b;
  add(a, "apps", "v1", "deployments", "Deployment", "shop", "web", deployment("shop", "nginx:1.25", "1", 1));
  add(a, "rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", "shop", "rb", role_binding("shop"));
  // As restored with --namespace-mappings shop:staging --image-mappings: kbk's labels on everything.
  add(b, "apps", "v1", "deployments", "Deployment", "staging", "web",
      deployment("staging", "mirror.local/nginx:1.25", "5", 1,
                 R"(,"kbk.io/backup-name":"nightly","kbk.io/restore-name":"r1")"));
  std::string rb = role_binding("staging");
  rb.insert(rb.find(R"("namespace":"staging"})") + 21, R"(,"labels":{"kbk.io/backup-name":"nightly","kbk.io/restore-name":"r1"})");
  add(b, "rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", "staging", "rb", rb);

  diff::Options o;
  o.namespace_mappings = {{"shop", "staging"}};
  o.selection.include_namespaces = {"shop"};
  auto r = diff::compare(a, b, o);
  REQUIRE(r.ok());
  CHECK(r->counts.unchanged == 1);  // the RoleBinding, its subject's namespace mapped too
  REQUIRE(r->counts.changed == 1);
  REQUIRE(r->changes.size() == 1);
  CHECK(r->changes[0].display() == "deployments.apps/staging/web");
  json::Document j = diff::to_json(*r);
  CHECK(json::to_string(j["items"][0]["patch"]) ==
        R"([{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"mirror.local/nginx:1.25"}])");

  // Without the mapping the objects are somewhere else: removed and added.
  restore::LoadedBackup a2, b2;
  add(a2, "apps", "v1", "deployments", "Deployment", "shop", "web", deployment("shop", "nginx:1.25", "1", 1));
  add(b2, "apps", "v1", "deployments", "Deployment", "staging", "web", deployment("staging", "nginx:1.25", "5", 1));
  auto r2 = diff::compare(a2, b2, {});
  REQUIRE(r2.ok());
  CHECK(r2->counts.removed == 1);
  CHECK(r2->counts.added == 1);
}

TEST_CASE("compare leaves out the Deployment controller's revision and a one-sided default ServiceAccount", "[diff]") {
  const std::string sa_default =
      R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default","namespace":"shop"}})";
  const std::string sa_app = R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"app","namespace":"shop"}})";
  restore::LoadedBackup a, b;
  std::string d1 = deployment("shop", "nginx:1.25", "1", 1);
  d1.insert(d1.find(R"("labels")"), R"("annotations":{"deployment.kubernetes.io/revision":"1"},)");
  add(a, "apps", "v1", "deployments", "Deployment", "shop", "web", d1);
  add(a, "", "v1", "serviceaccounts", "ServiceAccount", "shop", "default", sa_default);
  add(a, "", "v1", "serviceaccounts", "ServiceAccount", "shop", "app", sa_app);
  // B: a folder of manifests: the rollout counted on, no default ServiceAccount, and the app's one missing.
  std::string d2 = deployment("shop", "nginx:1.25", "7", 3);
  d2.insert(d2.find(R"("labels")"), R"("annotations":{"deployment.kubernetes.io/revision":"4"},)");
  add(b, "apps", "v1", "deployments", "Deployment", "shop", "web", d2);
  auto r = diff::compare(a, b, {});
  REQUIRE(r.ok());
  CHECK(r->counts.unchanged == 1);
  REQUIRE(r->changes.size() == 1);
  CHECK(r->changes[0].display() == "serviceaccounts/shop/app");
  CHECK(r->changes[0].change == diff::Change::removed);
  CHECK(r->not_compared["managed-by-cluster"] == 1);
  // Another annotation still counts (the revision alone left no annotations on the from side).
  restore::LoadedBackup c, e;
  add(c, "apps", "v1", "deployments", "Deployment", "shop", "web", d1);
  std::string d3 = d1;
  d3.insert(d3.find(R"("deployment.kubernetes.io/revision")"), R"("team":"blue",)");
  add(e, "apps", "v1", "deployments", "Deployment", "shop", "web", d3);
  auto r2 = diff::compare(c, e, {});
  REQUIRE(r2.ok());
  REQUIRE(r2->changes.size() == 1);
  json::Document j = diff::to_json(*r2);
  CHECK(json::to_string(j["items"][0]["patch"]) == R"([{"op":"add","path":"/metadata/annotations","value":{"team":"blue"}}])");
}

TEST_CASE("compare applies the selection to both sides", "[diff]") {
  restore::LoadedBackup a, b;
  add(a, "", "v1", "configmaps", "ConfigMap", "shop", "c", config_map("shop", "c", "1"));
  add(a, "", "v1", "configmaps", "ConfigMap", "blog", "c", config_map("blog", "c", "1"));
  add(b, "", "v1", "configmaps", "ConfigMap", "shop", "c", config_map("shop", "c", "1"));
  add(b, "", "v1", "configmaps", "ConfigMap", "blog", "c", config_map("blog", "c", "2"));
  add(b, "", "v1", "configmaps", "ConfigMap", "blog", "d", config_map("blog", "d", "2"));
  diff::Options o;
  o.selection.include_namespaces = {"shop"};
  auto r = diff::compare(a, b, o);
  REQUIRE(r.ok());
  CHECK_FALSE(r->different());
  CHECK(r->counts.unchanged == 1);
  CHECK(diff::summary_line(*r) == "no differences: 1 object the same");

  restore::LoadedBackup a2 = a, b2 = b;
  diff::Options bad;
  bad.selection.label_selector = "a in (";
  CHECK(diff::compare(a2, b2, bad).error().is(Errc::config));
}

TEST_CASE("to_sorted_yaml orders members so member order is no change", "[diff]") {
  auto x = json::parse(R"({"b":{"d":1,"c":[{"z":1,"w":2}]},"a":"s"})");
  REQUIRE(x.ok());
  CHECK(diff::to_sorted_yaml(*x) == "a: s\nb:\n  c:\n    - w: 2\n      z: 1\n  d: 1\n");
}

TEST_CASE("mapped_selection maps namespaces named in the filters", "[diff]") {
  restore::Selection s;
  s.include_namespaces = {"shop", "blog*"};
  s.exclude_namespaces = {"shop-old"};
  s.include_names = {"deployments/shop/web", "clusterroles/admin"};
  auto m = diff::mapped_selection(s, {{"shop", "staging"}, {"shop-old", "staging-old"}});
  CHECK(m.include_namespaces == std::vector<std::string>{"staging", "blog*"});
  CHECK(m.exclude_namespaces == std::vector<std::string>{"staging-old"});
  CHECK(m.include_names == std::vector<std::string>{"deployments/staging/web", "clusterroles/admin"});
}

TEST_CASE("read_folder reads manifests with the kinds' resources and namespaces", "[diff]") {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("kbk-diff-test-" + std::to_string(::getpid()));
  fs::create_directories(dir / "sub");
  {
    std::ofstream(dir / "a.yaml") << "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: v\n---\n"
                                     "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: r\n";
    std::ofstream(dir / "sub" / "b.json")
        << R"({"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"e","namespace":"x"}},)"
           R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"x"}},)"
           R"({"apiVersion":"example.com/v1","kind":"Policy","metadata":{"name":"p"}}]})";
    std::ofstream(dir / "notes.txt") << "not a manifest";
  }
  diff::KindTable kinds;
  auto f = diff::read_folder(dir.string(), kinds, "team");
  REQUIRE(f.ok());
  REQUIRE(f->items.size() == 5);
  CHECK(f->items[0].key.group_resource() == "configmaps");
  CHECK(f->items[0].key.namespace_ == "team");
  CHECK(f->items[1].key.group_resource() == "clusterroles.rbac.authorization.k8s.io");
  CHECK(f->items[1].key.namespace_ == "");
  CHECK(f->items[2].key.group_resource() == "endpoints");
  CHECK(f->items[3].key.group_resource() == "widgets.example.com");
  CHECK(f->items[3].key.namespace_ == "x");
  CHECK(f->items[4].key.group_resource() == "policies.example.com");
  CHECK(f->items[4].key.namespace_ == "");

  // A backup's own types win over the guess.
  restore::LoadedBackup b;
  add(b, "example.com", "v1", "policy", "Policy", "x", "p", R"({"apiVersion":"example.com/v1","kind":"Policy","metadata":{"name":"p","namespace":"x"}})");
  kinds.add_backup(b);
  auto g = diff::read_folder(dir.string(), kinds, "team");
  REQUIRE(g.ok());
  CHECK(g->items[4].key.group_resource() == "policy.example.com");
  CHECK(g->items[4].key.namespace_ == "team");

  std::ofstream(dir / "sub" / "bad.yaml") << "kind: [";
  auto bad = diff::read_folder(dir.string(), kinds, "team");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().is(Errc::config));
  CHECK(bad.error().message.find("bad.yaml") != std::string::npos);
  CHECK(diff::read_folder((dir / "missing").string(), kinds, "team").error().is(Errc::not_found));
  fs::remove_all(dir);
}
