#include <catch2/catch.hpp>

#include <algorithm>

#include <kbk/kube/discovery.hpp>

#include "discovery_fake_client.hpp"
#include "discovery_fixtures.hpp"
#include "discovery_parse.hpp"

using namespace kbk;
using namespace kbk::kube;

namespace {

const ResourceType* by_name(const std::vector<ResourceType>& all, const std::string& group, const std::string& version,
                            const std::string& resource) {
  for (const auto& r : all) {
    if (r.group == group && r.version == version && r.resource == resource) return &r;
  }
  return nullptr;
}

void aggregated_cluster(DiscoveryFakeClient& c) { serve_aggregated_cluster(c); }

// The legacy cluster plus an aggregated API server (metrics) that is down.
void legacy_cluster(DiscoveryFakeClient& c) {
  serve_legacy_cluster(c);
  c.answers["/apis/metrics.k8s.io/v1beta1"] = {503, "text/plain", "service unavailable\n", false};
}

}  // namespace

TEST_CASE("is_aggregated_content_type reads the media type parameters in any order") {
  CHECK(is_aggregated_content_type("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"));
  CHECK(is_aggregated_content_type("application/json; as=APIGroupDiscoveryList; v=v2beta1; g=apidiscovery.k8s.io"));
  CHECK_FALSE(is_aggregated_content_type("application/json"));
  CHECK_FALSE(is_aggregated_content_type("application/json;g=apidiscovery.k8s.io;v=v1;as=APIGroupDiscoveryList"));
  CHECK_FALSE(is_aggregated_content_type("text/plain;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"));
}

TEST_CASE("parse_aggregated reads groups, versions, resources and subresources") {
  auto p = parse_aggregated(fixtures::k_aggregated_apis);
  REQUIRE(p.ok());
  std::vector<std::string> groups;
  for (const auto& g : p->groups) groups.push_back(g.name);
  CHECK(groups == std::vector<std::string>{"apps", "events.k8s.io", "autoscaling", "example.com"});
  const ResourceType* d = by_name(p->resources, "apps", "v1", "deployments");
  REQUIRE(d);
  CHECK(d->kind == "Deployment");
  CHECK(d->singular == "deployment");
  CHECK(d->namespaced);
  CHECK(d->short_names == std::vector<std::string>{"deploy"});
  CHECK(d->categories == std::vector<std::string>{"all"});
  CHECK(d->subresources == std::vector<std::string>{"scale", "status"});
  CHECK(d->has_verb("deletecollection"));
  CHECK(p->groups[2].versions == std::vector<std::string>{"v2", "v1"});
  CHECK(p->groups[2].preferred_version == "v2");
  // A resource without responseKind is dropped, as client-go drops it.
  CHECK_FALSE(by_name(p->resources, "example.com", "v1", "gadgets"));
  REQUIRE(p->warnings.size() == 1);
  CHECK(p->warnings[0].find("metrics.k8s.io/v1beta1") != std::string::npos);
}

TEST_CASE("parse_resource_list folds subresources into their parents") {
  auto p = parse_resource_list(fixtures::k_legacy_api_v1, "", "v1");
  REQUIRE(p.ok());
  const ResourceType* pods = by_name(*p, "", "v1", "pods");
  REQUIRE(pods);
  CHECK(pods->subresources == std::vector<std::string>{"exec", "status"});
  CHECK(pods->singular == "pod");  // from the kind when singularName is ""
  CHECK_FALSE(by_name(*p, "", "v1", "pods/exec"));
  const ResourceType* nodes = by_name(*p, "", "v1", "nodes");
  REQUIRE(nodes);
  CHECK_FALSE(nodes->namespaced);
}

TEST_CASE("Discovery::fetch uses aggregated discovery in one request per root") {
  DiscoveryFakeClient c;
  aggregated_cluster(c);
  auto d = Discovery::fetch(c);
  REQUIRE(d.ok());
  REQUIRE(c.seen.size() == 2);
  CHECK(c.seen[0].first == "/api");
  CHECK(c.seen[1].first == "/apis");
  CHECK(c.seen[0].second ==
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json");
  REQUIRE_FALSE(d->groups().empty());
  CHECK(d->groups()[0].name.empty());
  CHECK(d->groups()[0].preferred_version == "v1");
  CHECK(d->all_versions().front().group.empty());
  const ResourceType* ns = d->find("", "namespaces");
  REQUIRE(ns);
  CHECK_FALSE(ns->namespaced);
  CHECK(ns->subresources == std::vector<std::string>{"finalize", "status"});
  CHECK(d->warnings().size() == 1);
}

TEST_CASE("Discovery::fetch falls back to legacy documents and records broken groups as warnings") {
  DiscoveryFakeClient c;
  legacy_cluster(c);
  auto d = Discovery::fetch(c);
  REQUIRE(d.ok());
  // /api, /api/v1, /apis and each group version once.
  CHECK(c.seen.size() == 9);
  for (const auto& [path, accept] : c.seen) {
    if (path != "/api" && path != "/apis") CHECK(accept == "application/json, */*");
  }
  REQUIRE(d->warnings().size() == 1);
  CHECK(d->warnings()[0].find("metrics.k8s.io/v1beta1") != std::string::npos);
  CHECK(d->warnings()[0].find("the server is currently unable to handle the request") != std::string::npos);
  std::vector<std::string> groups;
  for (const auto& g : d->groups()) groups.push_back(g.name);
  CHECK(groups == std::vector<std::string>{"", "apps", "events.k8s.io", "extensions", "networking.k8s.io"});
  // Core first, then the groups in the server's order, whatever order the parallel fetches finished in.
  std::vector<std::string> seen_groups;
  for (const auto& r : d->all_versions()) {
    if (seen_groups.empty() || seen_groups.back() != r.group) seen_groups.push_back(r.group);
  }
  CHECK(seen_groups == std::vector<std::string>{"", "apps", "events.k8s.io", "extensions", "networking.k8s.io"});
  const ResourceType* dep = d->find("apps", "deployments");
  REQUIRE(dep);
  CHECK(dep->subresources == std::vector<std::string>{"scale", "status"});
}

TEST_CASE("Discovery::fetch tolerates a missing /api but not an unreachable server") {
  DiscoveryFakeClient c;
  aggregated_cluster(c);
  c.answers.erase("/api");
  auto d = Discovery::fetch(c);
  REQUIRE(d.ok());
  CHECK_FALSE(d->find("", "pods"));
  CHECK(d->find("apps", "deployments"));

  DiscoveryFakeClient down;
  aggregated_cluster(down);
  down.answers["/api"].unreachable = true;
  auto e = Discovery::fetch(down);
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().code == Errc::network);
}

TEST_CASE("Discovery::preferred gives one entry per group and resource") {
  DiscoveryFakeClient c;
  aggregated_cluster(c);
  auto d = Discovery::fetch(c);
  REQUIRE(d.ok());
  const auto pref = d->preferred();
  int hpas = 0;
  for (const auto& r : pref) {
    if (r.resource == "horizontalpodautoscalers") {
      ++hpas;
      CHECK(r.version == "v2");
    }
  }
  CHECK(hpas == 1);
  // Served only by a non-preferred version: still listed, at that version (client-go ServerPreferredResources).
  const ResourceType* legacy = by_name(pref, "autoscaling", "v1", "legacyscalers");
  CHECK(legacy);
  CHECK(d->find("autoscaling", "horizontalpodautoscalers")->version == "v2");
  CHECK(d->find("autoscaling", "v1", "horizontalpodautoscalers"));
  CHECK(d->find_kind("apps", "Deployment")->resource == "deployments");
  CHECK(d->find_kind("", "Event")->group.empty());
  CHECK_FALSE(d->find_kind("apps", "Widget"));
}
