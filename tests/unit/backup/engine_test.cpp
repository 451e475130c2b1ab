#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <kbk/app/definition.hpp>
#include <kbk/archive/archive.hpp>
#include <kbk/archive/encryption.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/backup/backup.hpp>
#include <kbk/kube/resource.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

#include "fake_client.hpp"

using namespace kbk;
using kbk::testing::FakeClient;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/kbk-backup-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

// A small application cluster: namespace app holds a deployment and its pod with everything they reference;
// namespace other holds unrelated objects; cluster-scoped objects are partly referenced.
void add_app(FakeClient& c) {
  c.add("namespaces", R"({"metadata":{"name":"app","uid":"ns-app","labels":{"team":"a"}},"status":{"phase":"Active"}})");
  c.add("namespaces", R"({"metadata":{"name":"other","uid":"ns-other"},"status":{"phase":"Active"}})");
  c.add("namespaces", R"({"metadata":{"name":"kube-system","uid":"ks-uid"},"status":{"phase":"Active"}})");
  const std::string pod_spec = R"({"serviceAccountName":"web-sa","priorityClassName":"high",
    "volumes":[{"name":"c","configMap":{"name":"web-config"}},{"name":"s","secret":{"secretName":"web-secret"}},
               {"name":"d","persistentVolumeClaim":{"claimName":"data"}}],
    "containers":[{"name":"web","image":"nginx","envFrom":[{"secretRef":{"name":"env-secret"}}]}]})";
  c.add("deployments.apps", R"({"metadata":{"name":"web","namespace":"app","uid":"u-dep","labels":{"app":"web"}},
    "spec":{"replicas":1,"template":{"metadata":{"labels":{"app":"web"}},"spec":)" + pod_spec + "}}}");
  c.add("pods", R"({"metadata":{"name":"web-1","namespace":"app","uid":"u-pod","labels":{"app":"web"}},"spec":)" +
                    pod_spec + R"(,"status":{"phase":"Running"}})");
  c.add("configmaps", R"({"metadata":{"name":"web-config","namespace":"app","labels":{"app":"web"}},"data":{"k":"v"}})");
  c.add("configmaps", R"({"metadata":{"name":"unrelated","namespace":"app"},"data":{}})");
  c.add("configmaps", R"({"metadata":{"name":"doomed","namespace":"app","deletionTimestamp":"2026-11-26T00:00:00Z"}})");
  c.add("configmaps", R"({"metadata":{"name":"optout","namespace":"app","labels":{"velero.io/exclude-from-backup":"true"}}})");
  c.add("configmaps", R"({"metadata":{"name":"other-cm","namespace":"other"}})");
  c.add("secrets", R"({"metadata":{"name":"web-secret","namespace":"app"},"data":{"p":"eA=="}})");
  c.add("secrets", R"({"metadata":{"name":"env-secret","namespace":"app"},"data":{}})");
  c.add("secrets", R"({"metadata":{"name":"other-secret","namespace":"other"},"data":{}})");
  c.add("serviceaccounts", R"({"metadata":{"name":"web-sa","namespace":"app"}})");
  c.add("persistentvolumeclaims", R"({"metadata":{"name":"data","namespace":"app"},
    "spec":{"volumeName":"pv-data","storageClassName":"fast"},"status":{"phase":"Bound"}})");
  c.add("persistentvolumes", R"({"metadata":{"name":"pv-data"},"spec":{"storageClassName":"fast"}})");
  c.add("persistentvolumes", R"({"metadata":{"name":"unrelated-pv"},"spec":{"storageClassName":"slow"}})");
  c.add("storageclasses.storage.k8s.io", R"({"metadata":{"name":"fast"},"provisioner":"x"})");
  c.add("storageclasses.storage.k8s.io", R"({"metadata":{"name":"slow"},"provisioner":"x"})");
  c.add("priorityclasses.scheduling.k8s.io", R"({"metadata":{"name":"high"},"value":1000})");
  c.add("roles.rbac.authorization.k8s.io", R"({"metadata":{"name":"web-role","namespace":"app"},"rules":[]})");
  c.add("rolebindings.rbac.authorization.k8s.io", R"({"metadata":{"name":"web-rb","namespace":"app"},
    "subjects":[{"kind":"ServiceAccount","name":"web-sa"}],"roleRef":{"kind":"Role","name":"web-role"}})");
  c.add("clusterroles.rbac.authorization.k8s.io", R"({"metadata":{"name":"web-cr"},"rules":[]})");
  c.add("clusterroles.rbac.authorization.k8s.io", R"({"metadata":{"name":"unrelated-cr"},"rules":[]})");
  c.add("clusterrolebindings.rbac.authorization.k8s.io", R"({"metadata":{"name":"web-crb"},
    "subjects":[{"kind":"ServiceAccount","name":"web-sa","namespace":"app"}],"roleRef":{"kind":"ClusterRole","name":"web-cr"}})");
  c.add("ingresses.networking.k8s.io", R"({"metadata":{"name":"web-ing","namespace":"app"},"spec":{"ingressClassName":"nginx"}})");
  c.add("ingressclasses.networking.k8s.io", R"({"metadata":{"name":"nginx"},"spec":{}})");
  c.add("ingressclasses.networking.k8s.io", R"({"metadata":{"name":"traefik"},"spec":{}})");
  c.add("customresourcedefinitions.apiextensions.k8s.io", R"({"metadata":{"name":"widgets.example.com"},"spec":{}})");
  c.add("widgets.example.com", R"({"metadata":{"name":"w1","namespace":"app"},"spec":{}})");
  c.add("events", R"({"metadata":{"name":"ev1","namespace":"app"},"reason":"Started"})");
  c.add("events.events.k8s.io", R"({"metadata":{"name":"ev1","namespace":"app"},"reason":"Started"})");
}

struct Outcome {
  Result<backup::Summary> summary = unexpected(Errc::unknown, "not run");
  std::set<std::string> items;                   // "<gr>/<ns>/<name>" or "<gr>/<name>" from the legacy paths
  std::map<std::string, std::string> contents;   // same keys -> item JSON
  std::vector<std::string> paths;
};

Outcome run_backup(FakeClient& c, backup::Options o, const kube::Discovery& d = testing::make_discovery(),
                   util::ProgressSink* progress = nullptr) {
  TempDir dir;
  storage::OpenOptions oo;
  auto backend = storage::open(dir.path, oo);
  REQUIRE(backend.ok());
  if (o.name.empty()) o.name = "b1";
  o.parallel = 1;
  o.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  Outcome out;
  backup::RunContext ctx;
  ctx.progress = progress;
  ctx.server = "https://fake:6443";
  out.summary = backup::run(c, d, **backend, o, ctx);
  if (!out.summary) return out;
  auto reader = (*backend)->get_stream(archive::BackupPaths{o.name}.tarball());
  REQUIRE(reader.ok());
  auto r = archive::read_archive(**reader, o.name, {}, [&](const archive::Entry& e) -> Result<void> {
    out.paths.push_back(e.path);
    if (e.path == "kbk/manifest.json") out.contents[e.path] = std::string(e.data);
    if (e.is_item && e.version_dir.empty()) {
      std::string k = e.key.group_resource() + "/" + (e.key.namespace_.empty() ? "" : e.key.namespace_ + "/") + e.key.name;
      out.items.insert(k);
      out.contents[k] = std::string(e.data);
    }
    return {};
  });
  REQUIRE(r.ok());
  return out;
}

bool has(const Outcome& o, const std::string& k) { return o.items.count(k) > 0; }

}  // namespace

TEST_CASE("run backs up everything by default, without events and objects being deleted") {
  FakeClient c;
  add_app(c);
  auto o = run_backup(c, {});
  REQUIRE(o.summary.ok());
  CHECK(o.summary->phase == "Completed");
  for (std::string k : {"deployments.apps/app/web", "pods/app/web-1", "configmaps/app/web-config", "configmaps/app/unrelated",
                        "configmaps/other/other-cm", "secrets/other/other-secret", "persistentvolumes/unrelated-pv",
                        "storageclasses.storage.k8s.io/slow", "clusterroles.rbac.authorization.k8s.io/unrelated-cr",
                        "namespaces/app", "namespaces/other", "namespaces/kube-system", "widgets.example.com/app/w1",
                        "customresourcedefinitions.apiextensions.k8s.io/widgets.example.com"}) {
    INFO(k);
    CHECK(has(o, k));
  }
  CHECK_FALSE(has(o, "events/app/ev1"));
  CHECK_FALSE(has(o, "events.events.k8s.io/app/ev1"));
  CHECK_FALSE(has(o, "configmaps/app/doomed"));
  CHECK_FALSE(has(o, "configmaps/app/optout"));
  CHECK(o.summary->items == o.items.size());
  CHECK(o.summary->by_resource.at("configmaps") == 3);
  CHECK(o.summary->skipped == 2);
}

TEST_CASE("run asks for the definitions of custom resources only, not of built-in groups' types") {
  // Under roles that may get only the definitions a backup needs (kbk rbac), a GET of
  // customresourcedefinitions/roles.rbac.authorization.k8s.io would be a "forbidden" warning.
  FakeClient c;
  add_app(c);
  c.add("roles.rbac.authorization.k8s.io", R"({"metadata":{"name":"reader","namespace":"app"},"rules":[]})");
  backup::Options opts;
  opts.volume_data = false;
  opts.include_namespaces = {"app"};  // cluster-scoped definitions then come only as related objects, by GET
  auto o = run_backup(c, opts);
  REQUIRE(o.summary.ok());
  CHECK(has(o, "roles.rbac.authorization.k8s.io/app/reader"));
  CHECK(has(o, "customresourcedefinitions.apiextensions.k8s.io/widgets.example.com"));
  std::vector<std::string> crd_gets;
  for (const auto& call : c.calls())
    if (call.rfind("GET customresourcedefinitions.apiextensions.k8s.io ", 0) == 0) crd_gets.push_back(call);
  CHECK(crd_gets == std::vector<std::string>{"GET customresourcedefinitions.apiextensions.k8s.io /widgets.example.com"});
  CHECK(o.summary->warnings == 0);
}

TEST_CASE("is_builtin_group knows kube-apiserver's groups, not CRD groups under k8s.io") {
  for (const char* g : {"", "apps", "batch", "rbac.authorization.k8s.io", "networking.k8s.io", "storage.k8s.io",
                        "apiextensions.k8s.io", "flowcontrol.apiserver.k8s.io"})
    CHECK(kube::is_builtin_group(g));
  for (const char* g : {"example.com", "snapshot.storage.k8s.io", "gateway.networking.k8s.io", "velero.io", "k8s.io"})
    CHECK_FALSE(kube::is_builtin_group(g));
}

TEST_CASE("run writes item files with apiVersion and kind, as the API returned them otherwise") {
  FakeClient c;
  add_app(c);
  auto o = run_backup(c, {});
  REQUIRE(o.summary.ok());
  CHECK(o.contents["configmaps/app/web-config"] ==
        R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"web-config","namespace":"app","labels":{"app":"web"}},"data":{"k":"v"}})");
  CHECK(o.contents["deployments.apps/app/web"].rfind(R"({"apiVersion":"apps/v1","kind":"Deployment",)", 0) == 0);
  // metadata/version first; preferred-version copies; results and manifest last.
  REQUIRE(o.paths.size() > 3);
  CHECK(o.paths.front() == "metadata/version");
  CHECK(o.paths[o.paths.size() - 2] == "kbk/results.json");
  CHECK(o.paths.back() == "kbk/manifest.json");
  CHECK(std::count(o.paths.begin(), o.paths.end(), "resources/configmaps/v1-preferredversion/namespaces/app/web-config.json") == 1);
}

TEST_CASE("run writes the location files in order, the marker last") {
  FakeClient c;
  add_app(c);
  TempDir dir;
  auto backend = storage::open(dir.path, {});
  REQUIRE(backend.ok());
  backup::Options o;
  o.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  o.name = "nightly";
  backup::RunContext ctx;
  ctx.cluster_name = "prod-eu-1";
  auto s = backup::run(c, testing::make_discovery(), **backend, o, ctx);
  REQUIRE(s.ok());
  archive::BackupPaths p{"nightly"};
  std::vector<std::string> keys;
  REQUIRE((*backend)->list("backups/nightly/", [&](const storage::ObjectInfo& i) -> Result<void> {
    keys.push_back(i.key);
    return {};
  }).ok());
  CHECK(keys == std::vector<std::string>{p.lock(), p.marker(), p.logs(), p.resource_list(), p.results(), p.tarball(),
                                         p.velero_backup()});
  // Written in order: each file is no newer than the next.
  auto mtime = [&](const std::string& k) { return (**(*backend)->stat(k)).modified; };
  CHECK(mtime(p.lock()) <= mtime(p.tarball()));
  CHECK(mtime(p.tarball()) <= mtime(p.velero_backup()));
  CHECK(mtime(p.logs()) <= mtime(p.marker()));

  auto vb = json::parse(*(*backend)->get(p.velero_backup()));
  REQUIRE(vb.ok());
  CHECK(json::get_string(*vb, {"kind"}) == "Backup");
  CHECK(json::get_string(*vb, {"apiVersion"}) == "velero.io/v1");
  CHECK(json::get_string(*vb, {"status", "phase"}) == "Completed");
  CHECK(json::get_string(*vb, {"status", "formatVersion"}) == "1.1.0");
  CHECK(json::get_string(*vb, {"spec", "ttl"}) == "720h0m0s");
  CHECK(json::get_string(*vb, {"spec", "storageLocation"}) == "default");
  CHECK(json::get_string(*vb, {"metadata", "annotations", "velero.io/source-cluster-k8s-gitversion"}) == "v1.30.2");

  auto rl = archive::gunzip(*(*backend)->get(p.resource_list()), "resource list");
  REQUIRE(rl.ok());
  auto rld = json::parse(*rl);
  REQUIRE(rld.ok());
  const json::Value* cms = json::find(*rld, "v1/ConfigMap");
  REQUIRE(cms);
  REQUIRE(cms->IsArray());
  CHECK(cms->Size() == 3);
  CHECK(std::string((*cms)[0].GetString()) == "app/unrelated");

  auto marker = archive::read_marker(**backend, "nightly");
  REQUIRE(marker.ok());
  REQUIRE(marker->has_value());
  const json::Value& m = **marker;
  CHECK(json::get_string(m, {"phase"}) == "Completed");
  CHECK(json::get_string(m, {"cluster", "kubeSystemUID"}) == "ks-uid");
  CHECK(json::get_string(m, {"cluster", "name"}) == "prod-eu-1");
  CHECK(json::find(m, "items") == nullptr);
  CHECK(json::get_string(m, {"archive", "sha256"}).size() == 64);
  auto listing = archive::list_backups(**backend);
  REQUIRE(listing.ok());
  REQUIRE(listing->size() == 1);
  CHECK((*listing)[0].source == "kbk");
  CHECK((*listing)[0].items == s->items);
  CHECK((*listing)[0].cluster_name == "prod-eu-1");
  CHECK((*listing)[0].kube_system_uid == "ks-uid");
  CHECK(s->cluster_name == "prod-eu-1");
}

TEST_CASE("run refuses an existing backup name and a name being written") {
  FakeClient c;
  add_app(c);
  TempDir dir;
  auto backend = storage::open(dir.path, {});
  REQUIRE(backend.ok());
  backup::Options o;
  o.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  o.name = "b1";
  REQUIRE(backup::run(c, testing::make_discovery(), **backend, o).ok());
  auto again = backup::run(c, testing::make_discovery(), **backend, o);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Errc::precondition);

  REQUIRE((*backend)->put("backups/b2/kbk-lock.json", "{}", {}).ok());
  o.name = "b2";
  auto locked = backup::run(c, testing::make_discovery(), **backend, o);
  REQUIRE_FALSE(locked.ok());
  CHECK(locked.error().code == Errc::precondition);
  auto listing = archive::list_backups(**backend);
  REQUIRE(listing.ok());
  REQUIRE(listing->size() == 2);
  CHECK((*listing)[1].phase == "Incomplete");

  o.name = "Bad_Name";
  auto bad = backup::run(c, testing::make_discovery(), **backend, o);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == Errc::config);
}

TEST_CASE("Selection: a namespace filter leaves cluster-scoped types out but related ones follow") {
  FakeClient c;
  add_app(c);
  backup::Options o;
  o.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  o.include_namespaces = {"app"};
  auto r = run_backup(c, o);
  REQUIRE(r.summary.ok());
  CHECK(has(r, "configmaps/app/unrelated"));
  CHECK_FALSE(has(r, "configmaps/other/other-cm"));
  CHECK(has(r, "namespaces/app"));
  CHECK_FALSE(has(r, "namespaces/other"));
  // related: PVC -> PV -> StorageClass, pod -> PriorityClass, SA -> ClusterRoleBinding -> ClusterRole,
  // ingress -> IngressClass, widgets -> CRD
  for (std::string k : {"persistentvolumes/pv-data", "storageclasses.storage.k8s.io/fast",
                        "priorityclasses.scheduling.k8s.io/high", "clusterrolebindings.rbac.authorization.k8s.io/web-crb",
                        "clusterroles.rbac.authorization.k8s.io/web-cr", "ingressclasses.networking.k8s.io/nginx",
                        "customresourcedefinitions.apiextensions.k8s.io/widgets.example.com"}) {
    INFO(k);
    CHECK(has(r, k));
  }
  CHECK_FALSE(has(r, "persistentvolumes/unrelated-pv"));
  CHECK_FALSE(has(r, "storageclasses.storage.k8s.io/slow"));
  CHECK_FALSE(has(r, "clusterroles.rbac.authorization.k8s.io/unrelated-cr"));
  CHECK_FALSE(has(r, "ingressclasses.networking.k8s.io/traefik"));
  // namespaced types are listed per namespace
  CHECK(c.count_calls("LIST configmaps ns=app") == 1);
  CHECK(c.count_calls("LIST configmaps ns= ") == 0);
}

TEST_CASE("Selection: --with-related=false takes only what the filters select") {
  FakeClient c;
  add_app(c);
  backup::Options o;
  o.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  o.include_namespaces = {"app"};
  o.with_related = backup::WithRelated::no;
  auto r = run_backup(c, o);
  REQUIRE(r.summary.ok());
  CHECK_FALSE(has(r, "persistentvolumes/pv-data"));
  CHECK_FALSE(has(r, "clusterroles.rbac.authorization.k8s.io/web-cr"));
  CHECK(has(r, "persistentvolumeclaims/app/data"));
  CHECK(c.count_calls("GET persistentvolumes") == 0);
  CHECK(c.count_calls("GET clusterroles") == 0);
}

TEST_CASE("Selection: --include-cluster-resources tri-state") {
  FakeClient c;
  add_app(c);
  backup::Options no;
  no.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  no.include_cluster_resources = backup::ClusterResources::exclude;
  auto r = run_backup(c, no);
  REQUIRE(r.summary.ok());
  CHECK_FALSE(has(r, "persistentvolumes/unrelated-pv"));
  CHECK_FALSE(has(r, "persistentvolumes/pv-data"));  // even as a related object
  CHECK(has(r, "namespaces/app"));                   // namespaces are always taken
  CHECK(has(r, "configmaps/other/other-cm"));

  backup::Options yes;
  yes.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  yes.include_namespaces = {"app"};
  yes.include_cluster_resources = backup::ClusterResources::include;
  auto r2 = run_backup(c, yes);
  REQUIRE(r2.summary.ok());
  CHECK(has(r2, "persistentvolumes/unrelated-pv"));
  CHECK(has(r2, "storageclasses.storage.k8s.io/slow"));
  CHECK_FALSE(has(r2, "configmaps/other/other-cm"));
}

TEST_CASE("Selection: resource filters take kubectl's names and globs") {
  FakeClient c;
  add_app(c);
  backup::Options o;
  o.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  o.include_resources = {"deploy", "cm"};
  o.with_related = backup::WithRelated::no;
  auto r = run_backup(c, o);
  REQUIRE(r.summary.ok());
  CHECK(has(r, "deployments.apps/app/web"));
  CHECK(has(r, "configmaps/other/other-cm"));
  CHECK_FALSE(has(r, "pods/app/web-1"));
  CHECK_FALSE(has(r, "namespaces/app"));
  CHECK_FALSE(has(r, "persistentvolumes/unrelated-pv"));

  backup::Options g;
  g.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  g.include_resources = {"*.rbac.authorization.k8s.io"};
  g.with_related = backup::WithRelated::no;
  auto r2 = run_backup(c, g);
  REQUIRE(r2.summary.ok());
  CHECK(has(r2, "roles.rbac.authorization.k8s.io/app/web-role"));
  CHECK(has(r2, "clusterroles.rbac.authorization.k8s.io/unrelated-cr"));
  CHECK_FALSE(has(r2, "configmaps/app/web-config"));
}

TEST_CASE("Selection: an explicitly excluded type does not come back as a related object") {
  FakeClient c;
  add_app(c);
  backup::Options o;
  o.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  o.include_namespaces = {"app"};
  o.exclude_resources = {"secrets", "pv"};
  auto r = run_backup(c, o);
  REQUIRE(r.summary.ok());
  CHECK_FALSE(has(r, "secrets/app/web-secret"));
  CHECK_FALSE(has(r, "persistentvolumes/pv-data"));
  CHECK(has(r, "configmaps/app/web-config"));
  CHECK(r.summary->phase == "Completed");
  bool recorded = false;
  for (const auto& oc : r.summary->outcomes)
    recorded = recorded || (oc.reason == "RelatedExcluded" && oc.name == "pv-data");
  CHECK(recorded);
}

TEST_CASE("Selection: label selectors, or-selectors and namespaces holding selected objects") {
  FakeClient c;
  add_app(c);
  backup::Options o;
  o.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  o.label_selector = "app=web";
  auto r = run_backup(c, o);
  REQUIRE(r.summary.ok());
  CHECK(has(r, "deployments.apps/app/web"));
  CHECK(has(r, "pods/app/web-1"));
  CHECK(has(r, "configmaps/app/web-config"));
  CHECK(has(r, "secrets/app/env-secret"));  // related, unlabelled
  CHECK_FALSE(has(r, "configmaps/app/unrelated"));
  CHECK(has(r, "namespaces/app"));          // holds selected objects
  CHECK_FALSE(has(r, "namespaces/other"));
  CHECK(c.count_calls("LIST configmaps ns= sel=app=web") == 1);

  backup::Options orr;
  orr.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  orr.or_label_selectors = {"app=web", "team=a"};
  orr.with_related = backup::WithRelated::no;
  auto r2 = run_backup(c, orr);
  REQUIRE(r2.summary.ok());
  CHECK(has(r2, "namespaces/app"));
  CHECK(has(r2, "configmaps/app/web-config"));
  CHECK_FALSE(has(r2, "secrets/app/env-secret"));
  CHECK(c.count_calls("LIST configmaps ns= sel=team=a") == 1);

  backup::Options both;
  both.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  both.label_selector = "a=b";
  both.or_label_selectors = {"c=d"};
  auto bad = run_backup(c, both);
  REQUIRE_FALSE(bad.summary.ok());
  CHECK(bad.summary.error().code == Errc::config);
}

TEST_CASE("Selection: namespace globs and exclusions") {
  FakeClient c;
  add_app(c);
  backup::Options o;
  o.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  o.exclude_namespaces = {"ap*"};
  o.with_related = backup::WithRelated::no;
  auto r = run_backup(c, o);
  REQUIRE(r.summary.ok());
  CHECK(has(r, "configmaps/other/other-cm"));
  CHECK_FALSE(has(r, "configmaps/app/web-config"));
  CHECK_FALSE(has(r, "namespaces/app"));
  CHECK_FALSE(has(r, "persistentvolumes/unrelated-pv"));  // a namespace filter: no cluster-scoped types

  backup::Options g;
  g.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  g.include_namespaces = {"o*"};
  auto r2 = run_backup(c, g);
  REQUIRE(r2.summary.ok());
  CHECK(has(r2, "configmaps/other/other-cm"));
  CHECK_FALSE(has(r2, "configmaps/app/web-config"));
  CHECK(c.count_calls("LIST configmaps ns=other") == 1);
}

TEST_CASE("Selection: scoped filters, and not with the old ones") {
  FakeClient c;
  add_app(c);
  backup::Options o;
  o.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  o.include_namespaces = {"app"};
  o.include_cluster_scoped = {"storageclasses"};
  o.exclude_namespace_scoped = {"secrets"};
  auto r = run_backup(c, o);
  REQUIRE(r.summary.ok());
  CHECK(has(r, "storageclasses.storage.k8s.io/slow"));
  CHECK(has(r, "namespaces/app"));
  CHECK_FALSE(has(r, "persistentvolumes/unrelated-pv"));
  CHECK(has(r, "persistentvolumes/pv-data"));  // related, not excluded
  CHECK_FALSE(has(r, "secrets/app/web-secret"));

  backup::Options mixed;
  mixed.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  mixed.include_resources = {"pods"};
  mixed.include_cluster_scoped = {"storageclasses"};
  auto bad = run_backup(c, mixed);
  REQUIRE_FALSE(bad.summary.ok());
  CHECK(bad.summary.error().code == Errc::config);
}

TEST_CASE("Selection: --include-names and --exclude-names") {
  FakeClient c;
  add_app(c);
  backup::Options o;
  o.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  o.include_names = {"configmaps/app/web-*", "storageclasses/fast"};
  o.exclude_names = {"secrets/*/other-*"};
  o.with_related = backup::WithRelated::no;
  auto r = run_backup(c, o);
  REQUIRE(r.summary.ok());
  CHECK(has(r, "configmaps/app/web-config"));
  CHECK_FALSE(has(r, "configmaps/app/unrelated"));
  CHECK_FALSE(has(r, "configmaps/other/other-cm"));
  CHECK(has(r, "storageclasses.storage.k8s.io/fast"));
  CHECK_FALSE(has(r, "storageclasses.storage.k8s.io/slow"));
  CHECK(has(r, "secrets/app/web-secret"));  // no include pattern names secrets
  CHECK_FALSE(has(r, "secrets/other/other-secret"));

  backup::Options bad;
  bad.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  bad.include_names = {"justaname"};
  auto b = run_backup(c, bad);
  REQUIRE_FALSE(b.summary.ok());
  CHECK(b.summary.error().code == Errc::config);
}

TEST_CASE("Selection: events only when asked, through the core group once") {
  FakeClient c;
  add_app(c);
  backup::Options o;
  o.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  o.include_events = backup::IncludeEvents::yes;
  auto r = run_backup(c, o);
  REQUIRE(r.summary.ok());
  CHECK(has(r, "events/app/ev1"));
  CHECK_FALSE(has(r, "events.events.k8s.io/app/ev1"));
  CHECK(c.count_calls("LIST events.events.k8s.io") == 0);
}

TEST_CASE("run re-lists a type whose continue token expired and writes each object once") {
  FakeClient c;
  add_app(c);
  for (int i = 0; i < 25; ++i)
    c.add("configmaps", R"({"metadata":{"name":"bulk-)" + std::to_string(i) + R"(","namespace":"other"}})");
  c.expire_once("configmaps", 3);
  backup::Options o;
  o.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  o.page_size = 5;
  auto r = run_backup(c, o);
  REQUIRE(r.summary.ok());
  CHECK(r.summary->phase == "Completed");
  CHECK(c.count_calls("EXPIRED configmaps") == 1);
  CHECK(c.count_calls("LIST configmaps ") == 2);
  CHECK(r.summary->by_resource.at("configmaps") == 28);
  size_t bulk = 0;
  for (const auto& p : r.paths) bulk += p.find("/namespaces/other/bulk-") != std::string::npos;
  CHECK(bulk == 50);  // 25 objects, each once plus its preferred-version copy
}

TEST_CASE("run records 403s per type and namespace and ends PartiallyFailed") {
  FakeClient c;
  add_app(c);
  c.forbid("secrets", "");       // may not list across namespaces...
  c.forbid("secrets", "app");    // ...nor in app, but in other
  c.forbid("storageclasses.storage.k8s.io", "*");
  backup::Options o;
  o.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  auto r = run_backup(c, o);
  REQUIRE(r.summary.ok());
  CHECK(r.summary->phase == "PartiallyFailed");
  CHECK(has(r, "secrets/other/other-secret"));
  CHECK_FALSE(has(r, "secrets/app/web-secret"));
  CHECK(c.count_calls("LIST secrets ns=other") == 1);
  bool secrets_line = false, sc_line = false;
  for (const auto& l : r.summary->error_lines) {
    secrets_line = secrets_line || (l.find("secrets: namespace app: Forbidden") == 0);
    sc_line = sc_line || (l.find("storageclasses.storage.k8s.io: Forbidden") == 0);
  }
  CHECK(secrets_line);
  CHECK(sc_line);
  CHECK(r.summary->errors >= 2);
  CHECK(has(r, "configmaps/app/web-config"));
}

TEST_CASE("run treats broken API groups from discovery as failures") {
  FakeClient c;
  add_app(c);
  auto d = testing::make_discovery({"couldn't get resource list for metrics.k8s.io/v1beta1: 503"});
  auto r = run_backup(c, {}, d);
  REQUIRE(r.summary.ok());
  CHECK(r.summary->phase == "PartiallyFailed");
  REQUIRE_FALSE(r.summary->error_lines.empty());
  CHECK(r.summary->error_lines[0].find("metrics.k8s.io") != std::string::npos);
}

TEST_CASE("run writes items as pages arrive, before the LIST finishes") {
  struct Recorder final : util::ProgressSink {
    uint64_t last = 0;
    void update(const util::ProgressState& s) override { last = s.items_done; }
    void finish(const util::ProgressState& s) override { last = s.items_done; }
  } progress;
  FakeClient c;
  for (int i = 0; i < 40; ++i)
    c.add("configmaps", R"({"metadata":{"name":"cm-)" + std::to_string(i) + R"(","namespace":"ns"}})");
  std::vector<uint64_t> seen;
  c.after_page = [&](const std::string& gr, int page) {
    if (gr == "configmaps") seen.push_back(progress.last);
    (void)page;
  };
  backup::Options o;
  o.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  o.page_size = 10;
  o.include_resources = {"configmaps"};
  auto r = run_backup(c, o, testing::make_discovery(), &progress);
  REQUIRE(r.summary.ok());
  REQUIRE(seen.size() == 4);
  CHECK(seen[0] == 10);
  CHECK(seen[1] == 20);
  CHECK(seen[2] == 30);
}

TEST_CASE("explain says why an object is in or out") {
  FakeClient c;
  add_app(c);
  backup::Options o;
  o.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  o.include_namespaces = {"app"};
  auto in = backup::explain(c, testing::make_discovery(), o, "pv/pv-data");
  REQUIRE(in.ok());
  REQUIRE_FALSE(in->empty());
  CHECK((*in)[0] == "persistentvolumes/pv-data: INCLUDED");
  std::string all;
  for (const auto& l : *in) all += l + "\n";
  CHECK(all.find("cluster-scoped types are taken automatically only when every namespace is") != std::string::npos);
  CHECK(all.find("related object of persistentvolumeclaims/app/data") != std::string::npos);

  auto out = backup::explain(c, testing::make_discovery(), o, "cm/other/other-cm");
  REQUIRE(out.ok());
  CHECK((*out)[0] == "configmaps/other/other-cm: NOT INCLUDED");
  all.clear();
  for (const auto& l : *out) all += l + "\n";
  CHECK(all.find("namespace other not in --include-namespaces app") != std::string::npos);

  auto bad = backup::explain(c, testing::make_discovery(), o, "pv/ns/x");
  REQUIRE_FALSE(bad.ok());
}

TEST_CASE("verify_backup checks items against the manifest and the tarball against the marker") {
  FakeClient c;
  add_app(c);
  TempDir dir;
  auto backend = storage::open(dir.path, {});
  REQUIRE(backend.ok());
  backup::Options o;
  o.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  o.name = "v1";
  REQUIRE(backup::run(c, testing::make_discovery(), **backend, o).ok());
  auto good = archive::verify_backup(**backend, "v1");
  REQUIRE(good.ok());
  CHECK(good->problems.empty());
  CHECK(good->items_checked > 20);

  // Rewrite the tarball with one item changed and everything else (the manifest too) kept.
  archive::BackupPaths p{"v1"};
  std::vector<std::pair<std::string, std::string>> entries;
  auto reader = (*backend)->get_stream(p.tarball());
  REQUIRE(reader.ok());
  REQUIRE(archive::read_archive(**reader, "v1", {}, [&](const archive::Entry& e) -> Result<void> {
    entries.emplace_back(e.path, std::string(e.data));
    return {};
  }).ok());
  auto sink = (*backend)->put_stream(p.tarball(), {});
  REQUIRE(sink.ok());
  auto w = archive::make_writer(std::move(*sink));
  REQUIRE(w.ok());
  for (auto& [path, data] : entries) {
    if (path == "metadata/version") continue;
    if (path == "resources/configmaps/namespaces/app/web-config.json") data.replace(data.find("\"v\""), 3, "\"V\"");
    REQUIRE((*w)->add_file(path, data).ok());
  }
  REQUIRE((*w)->finish().ok());
  auto bad = archive::verify_backup(**backend, "v1");
  REQUIRE(bad.ok());
  std::string all;
  for (const auto& pr : bad->problems) all += pr + "\n";
  CHECK(all.find("configmaps/app/web-config: the copy in") != std::string::npos);
  CHECK(all.find("differs from the marker's") != std::string::npos);
}

namespace {

// A location whose archive uploads fail when committed (a full disk, a refused PUT); everything else works.
class FailingArchiveBackend final : public storage::Backend {
public:
  explicit FailingArchiveBackend(std::unique_ptr<storage::Backend> inner) : m_inner(std::move(inner)) {}
  std::string display_url() const override { return m_inner->display_url(); }
  Result<void> put(const std::string& k, std::string_view d, const storage::PutOptions& o) override {
    return m_inner->put(k, d, o);
  }
  Result<std::unique_ptr<storage::Writer>> put_stream(const std::string& k, const storage::PutOptions& o) override {
    KBK_ASSIGN_OR_RETURN(auto w, m_inner->put_stream(k, o));
    if (!util::ends_with(k, ".tar.gz") && !util::ends_with(k, ".kbk")) return w;
    return std::unique_ptr<storage::Writer>(std::make_unique<Refusing>(std::move(w)));
  }
  Result<std::string> get(const std::string& k) override { return m_inner->get(k); }
  Result<std::unique_ptr<storage::Reader>> get_stream(const std::string& k, uint64_t off, uint64_t len) override {
    return m_inner->get_stream(k, off, len);
  }
  Result<std::optional<storage::ObjectInfo>> stat(const std::string& k) override { return m_inner->stat(k); }
  Result<void> list(const std::string& p, const std::function<Result<void>(const storage::ObjectInfo&)>& f) override {
    return m_inner->list(p, f);
  }
  Result<std::vector<std::string>> list_prefixes(const std::string& p) override { return m_inner->list_prefixes(p); }
  Result<void> remove(const std::string& k) override { return m_inner->remove(k); }
  Result<void> remove_many(const std::vector<std::string>& k) override { return m_inner->remove_many(k); }
  Result<uint64_t> cleanup_incomplete(std::chrono::seconds s, const std::string& f) override { return m_inner->cleanup_incomplete(s, f); }

private:
  struct Refusing final : storage::Writer {
    std::unique_ptr<storage::Writer> inner;
    explicit Refusing(std::unique_ptr<storage::Writer> w) : inner(std::move(w)) {}
    Result<void> write(std::string_view d) override { return inner->write(d); }
    Result<void> commit() override { return unexpected(Errc::io, "upload refused: quota exceeded"); }
    void abort() override { inner->abort(); }
    uint64_t bytes_written() const override { return inner->bytes_written(); }
  };
  std::unique_ptr<storage::Backend> m_inner;
};

std::vector<std::string> keys_under(storage::Backend& b, const std::string& prefix) {
  std::vector<std::string> keys;
  REQUIRE(b.list(prefix, [&](const storage::ObjectInfo& i) -> Result<void> {
    keys.push_back(i.key);
    return {};
  }).ok());
  return keys;
}

// Captures the log lines of a scope.
struct LogCapture {
  std::vector<std::string> lines;
  LogCapture() {
    log::set_sink([this](std::string_view l) { lines.emplace_back(l); });
  }
  ~LogCapture() { log::set_sink(nullptr); }
  size_t count(std::string_view text) const {
    return static_cast<size_t>(std::count_if(lines.begin(), lines.end(),
                                             [&](const std::string& l) { return l.find(text) != std::string::npos; }));
  }
};

crypto::UserKey test_key() {
  auto k = crypto::parse_user_key(std::string(64, 'a'), "test key");  // 64 hex digits
  REQUIRE(k.ok());
  return std::move(*k);
}

}  // namespace

TEST_CASE("run with an encryption key writes the encrypted layout and no plaintext") {
  FakeClient c;
  add_app(c);
  c.add("configmaps", R"({"metadata":{"name":"marked","namespace":"app"},"data":{"k":"PLAINTEXT-MARKER-4711"}})");
  TempDir dir;
  auto backend = storage::open(dir.path, {});
  REQUIRE(backend.ok());
  const crypto::UserKey user = test_key();
  backup::Options o;
  o.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  o.name = "sealed";
  backup::RunContext ctx;
  ctx.server = "https://api.internal.example:6443";
  ctx.encryption_key = &user;
  LogCapture logs;
  auto s = backup::run(c, testing::make_discovery(), **backend, o, ctx);
  REQUIRE(s.ok());
  CHECK(s->encrypted);
  CHECK(logs.count("Secrets in plain text") == 0);
  archive::BackupPaths p{"sealed"};
  auto keys = keys_under(**backend, p.dir());
  REQUIRE(keys.size() == 7);
  CHECK(util::starts_with(keys[0], p.dir() + "kbk-key-"));
  CHECK(std::vector<std::string>(keys.begin() + 1, keys.end()) ==
        std::vector<std::string>{p.lock(), p.marker(), p.logs(archive::Encrypted::yes),
                                 p.resource_list(archive::Encrypted::yes), p.results(archive::Encrypted::yes),
                                 p.encrypted_archive()});
  // No object holds a Secret's or ConfigMap's value, the API server, or a namespace name in plaintext.
  for (const auto& k : keys) {
    auto data = (*backend)->get(k);
    REQUIRE(data.ok());
    INFO(k);
    CHECK(data->find("PLAINTEXT-MARKER-4711") == std::string::npos);
    CHECK(data->find("api.internal.example") == std::string::npos);
    if (k != p.lock()) CHECK(data->find("web-secret") == std::string::npos);
  }
  auto marker = archive::read_marker(**backend, "sealed");
  REQUIRE(marker.ok());
  REQUIRE(marker->has_value());
  CHECK(archive::is_encrypted(**marker));
  CHECK(json::get_string(**marker, {"phase"}) == "Completed");
  auto listing = archive::list_backups(**backend);
  REQUIRE(listing.ok());
  REQUIRE(listing->size() == 1);
  CHECK((*listing)[0].encrypted);
  CHECK((*listing)[0].phase == "Completed");
  CHECK((*listing)[0].items == s->items);
  CHECK((*listing)[0].cluster == "ks-uid");

  // With the key: the marker opens to the full one, and verify checks every item.
  auto dk = archive::open_backup_key(**backend, "sealed", user);
  REQUIRE(dk.ok());
  auto full = archive::open_marker(**marker, *dk);
  REQUIRE(full.ok());
  CHECK(json::get_string(*full, {"cluster", "server"}) == "https://api.internal.example:6443");
  CHECK(json::at(*full, {"counts", "byResource", "secrets"})->GetUint64() == 3);
  auto v = archive::verify_backup(**backend, "sealed", &user);
  REQUIRE(v.ok());
  CHECK(v->problems.empty());
  CHECK(v->items_checked == s->items);
  auto no_key = archive::verify_backup(**backend, "sealed");
  REQUIRE_FALSE(no_key.ok());
  CHECK(no_key.error().code == Errc::config);
  auto log = archive::read_object(**backend, p.logs(archive::Encrypted::yes), &*dk);
  REQUIRE(log.ok());
  auto text = archive::gunzip(*log, "log");
  REQUIRE(text.ok());
  CHECK(text->find("backup sealed: Completed") != std::string::npos);
}

TEST_CASE("run warns once when a plain backup holds Secrets, not counted as a warning") {
  FakeClient c;
  add_app(c);
  TempDir dir;
  auto backend = storage::open(dir.path, {});
  REQUIRE(backend.ok());
  backup::Options o;
  o.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  o.name = "plain";
  LogCapture logs;
  auto s = backup::run(c, testing::make_discovery(), **backend, o);
  REQUIRE(s.ok());
  CHECK(logs.count("backup plain holds 3 Secrets in plain text; pass --encryption-key-file to encrypt backups") == 1);
  CHECK(s->warnings == 0);
  CHECK(s->phase == "Completed");
  auto gz = (*backend)->get(archive::BackupPaths{"plain"}.logs());
  REQUIRE(gz.ok());
  auto text = archive::gunzip(*gz, "log");
  REQUIRE(text.ok());
  CHECK(text->find("holds 3 Secrets in plain text") != std::string::npos);

  backup::Options none;
  none.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
  none.name = "no-secrets";
  none.exclude_resources = {"secrets"};
  LogCapture logs2;
  REQUIRE(backup::run(c, testing::make_discovery(), **backend, none).ok());
  CHECK(logs2.count("Secrets in plain text") == 0);
}

TEST_CASE("run uploads the log of a backup that fails, and writes no marker") {
  FakeClient c;
  add_app(c);
  TempDir dir;
  auto inner = storage::open(dir.path, {});
  REQUIRE(inner.ok());
  FailingArchiveBackend backend(std::move(*inner));
  const crypto::UserKey user = test_key();
  for (bool encrypted : {false, true}) {
    INFO(encrypted);
    backup::Options o;
    o.volume_data = false;  // resources only: volumes_test.cpp covers the volume phase
    o.name = encrypted ? "failed-enc" : "failed";
    backup::RunContext ctx;
    if (encrypted) ctx.encryption_key = &user;
    auto s = backup::run(c, testing::make_discovery(), backend, o, ctx);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message.find("quota exceeded") != std::string::npos);
    archive::BackupPaths p{o.name};
    const auto enc = encrypted ? archive::Encrypted::yes : archive::Encrypted::no;
    auto st = backend.stat(p.marker());
    REQUIRE(st.ok());
    CHECK_FALSE(st->has_value());
    auto stored = backend.get(p.logs(enc));
    REQUIRE(stored.ok());
    std::optional<crypto::SecretKey> dk;
    if (encrypted) {
      auto k = archive::open_backup_key(backend, o.name, user);
      REQUIRE(k.ok());
      dk = *k;
    }
    auto gz = archive::read_object(backend, p.logs(enc), dk ? &*dk : nullptr);
    REQUIRE(gz.ok());
    auto text = archive::gunzip(*gz, "log");
    REQUIRE(text.ok());
    CHECK(text->find("backup " + o.name + " failed: ") != std::string::npos);
    CHECK(text->find("quota exceeded") != std::string::npos);
  }
  auto listing = archive::list_backups(backend);
  REQUIRE(listing.ok());
  REQUIRE(listing->size() == 2);
  CHECK((*listing)[0].phase == "Incomplete");
  CHECK((*listing)[1].phase == "Incomplete");
}

TEST_CASE("run with applications backs up what they select and what it needs, narrowed by the flags given") {
  FakeClient c;
  add_app(c);
  auto a = app::parse(R"(apiVersion: kbk.io/v1
kind: Application
metadata: {name: web}
spec:
  parts:
  - name: web
    names: [deployments/app/web]
)",
                      "web.yaml");
  REQUIRE(a.ok());
  backup::Options o;
  o.applications = std::make_shared<const app::Application>(std::move(*a));
  auto r = run_backup(c, o);
  REQUIRE(r.summary.ok());
  CHECK(r.summary->phase == "Completed");
  for (std::string k : {"deployments.apps/app/web", "configmaps/app/web-config", "secrets/app/web-secret",
                        "secrets/app/env-secret", "serviceaccounts/app/web-sa", "persistentvolumeclaims/app/data",
                        "persistentvolumes/pv-data", "storageclasses.storage.k8s.io/fast",
                        "priorityclasses.scheduling.k8s.io/high", "rolebindings.rbac.authorization.k8s.io/app/web-rb",
                        "roles.rbac.authorization.k8s.io/app/web-role",
                        "clusterrolebindings.rbac.authorization.k8s.io/web-crb",
                        "clusterroles.rbac.authorization.k8s.io/web-cr", "namespaces/app"}) {
    INFO(k);
    CHECK(has(r, k));
  }
  for (std::string k : {"pods/app/web-1", "configmaps/app/unrelated", "configmaps/other/other-cm", "namespaces/other",
                        "storageclasses.storage.k8s.io/slow", "widgets.example.com/app/w1"}) {
    INFO(k);
    CHECK_FALSE(has(r, k));
  }
  // The manifest says which applications the backup holds.
  REQUIRE(r.contents.count("kbk/manifest.json"));
  auto manifest = json::parse(r.contents["kbk/manifest.json"]);
  REQUIRE(manifest.ok());
  const json::Value* apps = json::at(*manifest, {"selection", "applications", "names"});
  REQUIRE(apps);
  REQUIRE(apps->IsArray());
  CHECK(json::to_string(*apps) == R"(["web"])");

  // A flag given narrows: --exclude-resources secrets leaves the Secrets out, everything else stays.
  FakeClient c2;
  add_app(c2);
  backup::Options narrowed = o;
  narrowed.exclude_resources = {"secrets"};
  auto n = run_backup(c2, narrowed);
  REQUIRE(n.summary.ok());
  CHECK_FALSE(has(n, "secrets/app/web-secret"));
  CHECK(has(n, "configmaps/app/web-config"));
  CHECK(has(n, "clusterroles.rbac.authorization.k8s.io/web-cr"));  // the namespace rule for cluster types does not narrow
}
