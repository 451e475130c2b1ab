#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

#include <kbk/app/definition.hpp>
#include <kbk/app/memory_source.hpp>
#include <kbk/app/resolve.hpp>
#include <kbk/app/scope.hpp>

#include "backup/fake_client.hpp"
#include "platform.hpp"

using namespace kbk;
using kbk::testing::FakeClient;
using kbk::testing::platform;
using kbk::testing::platform_discovery;

namespace {

const char* k_definition = R"(apiVersion: kbk.io/v1
kind: Application
metadata: {name: platform}
spec:
  parts:
  - name: web
    namespaces: [shop]
    selector: app.kubernetes.io/part-of=web
  - name: certs
    helmRelease: {namespace: certs, name: certs}
)";

app::Application load(const char* text) {
  auto a = app::parse(text, "platform.yaml");
  if (!a) FAIL(a.error().message);
  return std::move(*a);
}

std::map<std::string, const app::Selected*> by_display(const app::Resolution& r) {
  std::map<std::string, const app::Selected*> m;
  for (const auto& o : r.objects) m[o.display()] = &o;
  return m;
}

}  // namespace

TEST_CASE("resolve takes what parts select and what they lead to, each with its reason") {
  FakeClient c;
  for (const auto& [gr, text] : platform()) c.add(gr, text);
  const auto d = platform_discovery();
  auto r = app::resolve(c, d, load(k_definition));
  REQUIRE(r.ok());
  auto m = by_display(*r);
  std::set<std::string> got;
  for (const auto& [k, v] : m) got.insert(k);
  const std::set<std::string> want = {
      // web: matched
      "deployments.apps/shop/web", "pods/shop/web-abc", "services/shop/web", "services/shop/metrics",
      "widgets.example.com/shop/w1",
      // web: followed
      "configmaps/shop/web-config", "serviceaccounts/shop/web-sa", "replicasets.apps/shop/web-123",
      "clusterrolebindings.rbac.authorization.k8s.io/web-crb", "clusterroles.rbac.authorization.k8s.io/web-cr",
      "customresourcedefinitions.apiextensions.k8s.io/widgets.example.com",
      "apiservices.apiregistration.k8s.io/v1.metrics.example.com",
      // certs: the release's objects, its newest storage Secret, the webhook calling its Service
      "deployments.apps/certs/cert-webhook", "services/certs/cert-webhook",
      "clusterroles.rbac.authorization.k8s.io/certs-controller", "secrets/certs/sh.helm.release.v1.certs.v2",
      "validatingwebhookconfigurations.admissionregistration.k8s.io/certs-webhook",
      // namespaces of selected objects
      "namespaces/shop", "namespaces/certs"};
  CHECK(got == want);
  REQUIRE(r->parts == std::vector<std::string>{"platform/web", "platform/certs"});
  CHECK(m["deployments.apps/shop/web"]->how == app::How::matched);
  CHECK(m["deployments.apps/shop/web"]->reason == "namespace shop, selector app.kubernetes.io/part-of=web");
  CHECK(m["deployments.apps/shop/web"]->part == 0);
  CHECK(m["configmaps/shop/web-config"]->how == app::How::followed);
  CHECK(m["configmaps/shop/web-config"]->part == 0);
  CHECK(m["replicasets.apps/shop/web-123"]->reason == "followed from pods/shop/web-abc via ownerReference");
  CHECK(m["clusterroles.rbac.authorization.k8s.io/web-cr"]->reason ==
        "followed from clusterrolebindings.rbac.authorization.k8s.io/web-crb via roleRef");
  CHECK(m["apiservices.apiregistration.k8s.io/v1.metrics.example.com"]->reason ==
        "followed from services/shop/metrics via APIService spec.service");
  CHECK(m["secrets/certs/sh.helm.release.v1.certs.v2"]->how == app::How::helm);
  CHECK(m["secrets/certs/sh.helm.release.v1.certs.v2"]->reason ==
        "newest storage Secret of Helm release certs/certs (v2)");
  CHECK(m["clusterroles.rbac.authorization.k8s.io/certs-controller"]->part == 1);
  CHECK(m["clusterroles.rbac.authorization.k8s.io/certs-controller"]->reason == "Helm release certs/certs");
  CHECK(m["validatingwebhookconfigurations.admissionregistration.k8s.io/certs-webhook"]->reason ==
        "followed from services/certs/cert-webhook via webhook clientConfig.service");
  CHECK(m["namespaces/shop"]->how == app::How::namespace_);
}

TEST_CASE("resolve lists per namespace with the parts' selectors when every part allows it") {
  FakeClient c;
  for (const auto& [gr, text] : platform()) c.add(gr, text);
  auto r = app::resolve(c, platform_discovery(), load(R"(apiVersion: kbk.io/v1
kind: Application
metadata: {name: web}
spec:
  parts:
  - {name: web, namespaces: [shop], selector: app.kubernetes.io/part-of=web}
)"));
  REQUIRE(r.ok());
  CHECK(c.count_calls("LIST configmaps ns=shop sel=app.kubernetes.io/part-of=web") == 1);
  CHECK(c.count_calls("LIST configmaps ns= ") == 0);
  CHECK(c.count_calls("LIST configmaps ns=shop") == 1);
  // A Helm release part may select any object: then every type is listed whole.
  FakeClient all;
  for (const auto& [gr, text] : platform()) all.add(gr, text);
  REQUIRE(app::resolve(all, platform_discovery(), load(k_definition)).ok());
  CHECK(all.count_calls("LIST configmaps ns= sel=") == 1);
}

TEST_CASE("resolve lists more broadly when selectors times namespaces would be many LISTs, and takes the same") {
  // Six applications, each its own selector over the same three namespaces: 18 LISTs per type if listed as given.
  std::string def;
  for (int i = 0; i < 6; ++i)
    def += "---\napiVersion: kbk.io/v1\nkind: Application\nmetadata: {name: a" + std::to_string(i) +
           "}\nspec:\n  parts:\n  - {name: p, namespaces: [shop, certs, empty], selector: app.kubernetes.io/part-of=" +
           (i == 0 ? std::string("web") : "x" + std::to_string(i)) + "}\n";
  FakeClient c;
  for (const auto& [gr, text] : platform()) c.add(gr, text);
  auto r = app::resolve(c, platform_discovery(), load(def.c_str()));
  REQUIRE(r.ok());
  // Three namespaces: one LIST each without a selector; the scope selects client-side.
  CHECK(c.count_calls("LIST configmaps ns=shop sel=app") == 0);
  CHECK(c.count_calls("LIST configmaps ns=shop sel=") == 1);
  CHECK(c.count_calls("LIST configmaps ns=") == 3);
  std::set<std::string> got;
  for (const auto& o : r->objects) got.insert(o.display());
  CHECK(got.count("deployments.apps/shop/web"));
  CHECK(got.count("configmaps/shop/web-config"));  // followed
  CHECK_FALSE(got.count("statefulsets.apps/shop/db"));
  CHECK_FALSE(got.count("configmaps/shop/junk"));
}

TEST_CASE("resolve over a backup's contents gives what it gives over the cluster") {
  FakeClient c;
  app::MemorySource backup;
  const auto objects = platform();
  const auto d = platform_discovery();
  for (const auto& [gr, text] : objects) c.add(gr, text);
  for (const auto& [gr, text] : objects) {
    const kube::ResourceType* t = nullptr;
    for (const auto& r : d.all_versions())
      if (r.group_resource() == gr) t = &r;
    REQUIRE(t);
    auto doc = json::parse(text);
    backup.add(*t, json::get_string(*doc, {"metadata", "namespace"}), json::get_string(*doc, {"metadata", "name"}), &text);
  }
  const auto app_def = load(k_definition);
  auto live = app::resolve(c, d, app_def);
  auto from_backup = app::resolve(backup, backup.discovery(), app_def);
  REQUIRE(live.ok());
  REQUIRE(from_backup.ok());
  CHECK(from_backup->keys() == live->keys());
  auto diff = app::diff(*live, *from_backup);
  CHECK(diff.only_now.empty());
  CHECK(diff.only_backup.empty());
  CHECK(diff.common == live->objects.size());
  // kubectl's short names resolve against a backup's types too.
  auto deploy = backup.discovery().resolve("deploy");
  REQUIRE(deploy.ok());
  CHECK(deploy->group_resource() == "deployments.apps");
}

TEST_CASE("resolve applies excludes to matched and followed objects, and follow: false stops following") {
  FakeClient c;
  for (const auto& [gr, text] : platform()) c.add(gr, text);
  const auto d = platform_discovery();
  auto r = app::resolve(c, d, load(R"(apiVersion: kbk.io/v1
kind: Application
metadata: {name: platform}
spec:
  parts:
  - name: web
    namespaces: [shop]
    selector: app.kubernetes.io/part-of=web
    exclude:
      resources: [pods]
  - name: db
    names: [statefulsets/shop/db]
    follow: false
  exclude:
    names: [configmaps/shop/web-config, clusterroles/web-cr]
)"));
  REQUIRE(r.ok());
  auto m = by_display(*r);
  CHECK(m.count("deployments.apps/shop/web"));
  CHECK_FALSE(m.count("pods/shop/web-abc"));
  CHECK_FALSE(m.count("replicasets.apps/shop/web-123"));  // only the excluded pod led to it
  CHECK_FALSE(m.count("configmaps/shop/web-config"));
  CHECK_FALSE(m.count("clusterroles.rbac.authorization.k8s.io/web-cr"));
  CHECK(m.count("clusterrolebindings.rbac.authorization.k8s.io/web-crb"));
  CHECK(m.count("statefulsets.apps/shop/db"));
  CHECK_FALSE(m.count("configmaps/shop/db-config"));  // db does not follow
  CHECK_FALSE(m.count("persistentvolumeclaims/shop/data-db-0"));
  bool excluded_outcome = false;
  for (const auto& o : r->outcomes)
    if (o.reason == "ExcludedByApplication" && o.name == "web-config") excluded_outcome = true;
  CHECK(excluded_outcome);
}

TEST_CASE("resolve explains why an object is in or out, part by part") {
  FakeClient c;
  for (const auto& [gr, text] : platform()) c.add(gr, text);
  const auto d = platform_discovery();
  app::ResolveOptions o;
  o.explain = "cm/shop/web-config";
  auto r = app::resolve(c, d, load(k_definition), o);
  REQUIRE(r.ok());
  std::string all;
  for (const auto& l : r->explain) all += l + "\n";
  INFO(all);
  CHECK(r->explain[0] == "configmaps/shop/web-config: INCLUDED");
  CHECK(all.find("part platform/web: does not select it: labels do not match selector app.kubernetes.io/part-of=web") !=
        std::string::npos);
  CHECK(all.find("taken as a related object of deployments.apps/shop/web via volume configMap (platform/web)") !=
        std::string::npos);

  o.explain = "cm/shop/junk";
  auto out = app::resolve(c, d, load(k_definition), o);
  REQUIRE(out.ok());
  CHECK(out->explain[0] == "configmaps/shop/junk: NOT INCLUDED");
}

TEST_CASE("AppScope refuses a type under the wrong scope field, naming where it is written") {
  const auto d = platform_discovery();
  auto a = load(R"(apiVersion: kbk.io/v1
kind: Application
metadata: {name: x}
spec:
  parts:
  - name: rbac
    resources: [clusterroles]
)");
  auto s = app::AppScope::make(a, d);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == Errc::config);
  CHECK(s.error().message ==
        "platform.yaml:7:17: part x/rbac: resources \"clusterroles\" is cluster-scoped: list it under clusterResources");
  auto unknown = load(R"(apiVersion: kbk.io/v1
kind: Application
metadata: {name: x}
spec:
  parts:
  - name: p
    resources: [gizmos]
)");
  auto w = app::AppScope::make(unknown, d);
  REQUIRE(w.ok());
  REQUIRE((*w)->warnings().size() == 1);
  CHECK((*w)->warnings()[0] == "platform.yaml:7:17: part x/p: resources \"gizmos\" matches no type this source serves");
}
