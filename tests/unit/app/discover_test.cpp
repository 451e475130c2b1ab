#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>

#include <kbk/app/definition.hpp>
#include <kbk/app/discover.hpp>
#include <kbk/app/resolve.hpp>

#include "backup/fake_client.hpp"
#include "platform.hpp"

using namespace kbk;
using kbk::testing::FakeClient;

namespace {

std::set<std::string> resolve_draft(FakeClient& c, const kube::Discovery& d, const std::string& yaml, const std::string& name) {
  // The draft as a user would save it: the printed YAML, read back by the definition reader.
  auto all = app::parse(yaml, "drafts.yaml");
  REQUIRE(all.ok());
  app::Application one = *all;
  one.parts.clear();
  for (const auto& p : all->parts)
    if (p.application == name) one.parts.push_back(p);
  one.names = {name};
  auto r = app::resolve(c, d, one);
  REQUIRE(r.ok());
  std::set<std::string> got;
  for (const auto& o : r->objects) got.insert(o.display());
  return got;
}

}  // namespace

TEST_CASE("discover drafts one definition per application, splitting a shared namespace") {
  FakeClient c;
  for (const auto& [gr, text] : kbk::testing::platform()) c.add(gr, text);
  const auto d = kbk::testing::platform_discovery();
  auto drafts = app::discover(c, d);
  REQUIRE(drafts.ok());
  std::map<std::string, const app::Draft*> by_name;
  for (const auto& a : drafts->applications) by_name[a.name] = &a;
  std::set<std::string> names;
  for (const auto& [n, a] : by_name) names.insert(n);
  // web and db share namespace shop; certs is a Helm release; shop's unattributable ConfigMap gets its own draft;
  // the empty namespace is an application of its own.
  CHECK(names == std::set<std::string>{"certs", "db", "empty", "shop-unassigned", "web"});
  CHECK(by_name["certs"]->origin == "Helm release certs/certs");
  CHECK(by_name["web"]->origin == "label app.kubernetes.io/part-of=web");

  const std::string yaml = app::drafts_to_yaml(*drafts);
  INFO(yaml);
  // Comments say where each part came from.
  CHECK(yaml.find("# from Helm release certs/certs") != std::string::npos);
  CHECK(yaml.find("objects labelled app.kubernetes.io/part-of=web in shop (other applications share the namespace)") !=
        std::string::npos);
  CHECK(yaml.find("services/shop/web-internal (selects the pods of") != std::string::npos);
  CHECK(yaml.find("following adds") != std::string::npos);
  // The printed YAML is valid definitions.
  auto parsed = app::parse(yaml, "drafts.yaml");
  if (!parsed)
    for (const auto& cause : parsed.error().causes) UNSCOPED_INFO(cause.message);
  REQUIRE(parsed.ok());
  CHECK(parsed->names.size() == 5);

  // Each draft, resolved, takes its application and nothing of the others.
  auto web = resolve_draft(c, d, yaml, "web");
  for (std::string k : {"deployments.apps/shop/web", "services/shop/web", "services/shop/web-internal",
                        "configmaps/shop/web-config", "serviceaccounts/shop/web-sa",
                        "clusterroles.rbac.authorization.k8s.io/web-cr", "widgets.example.com/shop/w1",
                        "customresourcedefinitions.apiextensions.k8s.io/widgets.example.com"}) {
    INFO(k);
    CHECK(web.count(k));
  }
  for (std::string k : {"statefulsets.apps/shop/db", "configmaps/shop/db-config", "configmaps/shop/junk",
                        "deployments.apps/certs/cert-webhook"}) {
    INFO(k);
    CHECK_FALSE(web.count(k));
  }
  auto db = resolve_draft(c, d, yaml, "db");
  for (std::string k : {"statefulsets.apps/shop/db", "configmaps/shop/db-config", "persistentvolumeclaims/shop/data-db-0",
                        "persistentvolumes/pv-db", "storageclasses.storage.k8s.io/fast"}) {
    INFO(k);
    CHECK(db.count(k));
  }
  CHECK_FALSE(db.count("deployments.apps/shop/web"));
  auto certs = resolve_draft(c, d, yaml, "certs");
  CHECK(certs.count("secrets/certs/sh.helm.release.v1.certs.v2"));
  CHECK_FALSE(certs.count("secrets/certs/sh.helm.release.v1.certs.v1"));
  CHECK(certs.count("validatingwebhookconfigurations.admissionregistration.k8s.io/certs-webhook"));
  CHECK(certs.count("clusterroles.rbac.authorization.k8s.io/certs-controller"));
  auto rest = resolve_draft(c, d, yaml, "shop-unassigned");
  CHECK(rest == std::set<std::string>{"configmaps/shop/junk", "namespaces/shop"});
}

TEST_CASE("discover of one namespace holding one application takes the namespace whole") {
  FakeClient c;
  c.add("namespaces", R"({"metadata":{"name":"solo"}})");
  c.add("deployments.apps", R"({"metadata":{"name":"api","namespace":"solo","labels":{"app.kubernetes.io/name":"api"}},"spec":{}})");
  c.add("configmaps", R"({"metadata":{"name":"settings","namespace":"solo"}})");
  c.add("configmaps", R"({"metadata":{"name":"kube-root-ca.crt","namespace":"solo"}})");
  c.add("pods", R"({"metadata":{"name":"api-1","namespace":"solo","labels":{"app.kubernetes.io/name":"api"}},
                    "spec":{"volumes":[{"name":"ca","configMap":{"name":"kube-root-ca.crt"}}],"containers":[{"name":"c","image":"x"}]}})");
  c.add("namespaces", R"({"metadata":{"name":"elsewhere"}})");
  c.add("configmaps", R"({"metadata":{"name":"x","namespace":"elsewhere"}})");
  app::DiscoverOptions o;
  o.namespaces = {"solo"};
  auto drafts = app::discover(c, kbk::testing::platform_discovery(), o);
  REQUIRE(drafts.ok());
  REQUIRE(drafts->applications.size() == 1);
  const auto& a = drafts->applications[0];
  CHECK(a.name == "api");
  auto def = a.definition();
  CHECK(json::to_string(*json::at(def, {"spec", "parts"})) == R"([{"name":"workloads","namespaces":["solo"]}])");
  CHECK(c.count_calls("LIST configmaps ns=elsewhere") == 0);
  // What the cluster makes is not drafted, nor named among what following adds.
  CHECK(app::drafts_to_yaml(*drafts).find("kube-root-ca.crt") == std::string::npos);
  auto j = app::drafts_to_json(*drafts);
  CHECK(json::get_string(j, {"applications"}) == "");
  CHECK(json::find(j, "applications")->Size() == 1);
}
