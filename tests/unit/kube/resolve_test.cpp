#include <catch2/catch.hpp>

#include <kbk/kube/discovery.hpp>
#include <kbk/util/log.hpp>

#include "discovery_fake_client.hpp"
#include "discovery_fixtures.hpp"

using namespace kbk;
using namespace kbk::kube;

namespace {

Discovery aggregated() {
  DiscoveryFakeClient c;
  serve_aggregated_cluster(c);
  auto d = Discovery::fetch(c);
  REQUIRE(d.ok());
  return std::move(*d);
}

Discovery old_cluster() {
  DiscoveryFakeClient c;
  serve_legacy_cluster(c);
  auto d = Discovery::fetch(c);
  REQUIRE(d.ok());
  return std::move(*d);
}

std::string gvr(const Result<ResourceType>& r) {
  if (!r.ok()) return "error: " + r.error().message;
  return r->group + "/" + r->version + "/" + r->resource;
}

}  // namespace

TEST_CASE("Discovery::resolve accepts every way kubectl users name a deployment") {
  const Discovery d = aggregated();
  for (const char* name : {"deploy", "deployment", "deployments", "Deployment", "DEPLOYMENTS", "deployments.apps",
                           "deployment.apps", "deploy.apps", "deployments.v1.apps", "Deployment.apps",
                           "Deployment.v1.apps"}) {
    INFO(name);
    CHECK(gvr(d.resolve(name)) == "apps/v1/deployments");
  }
}

TEST_CASE("Discovery::resolve puts the core group first: events") {
  const Discovery d = aggregated();
  CHECK(gvr(d.resolve("events")) == "/v1/events");
  CHECK(gvr(d.resolve("event")) == "/v1/events");
  CHECK(gvr(d.resolve("ev")) == "/v1/events");
  CHECK(gvr(d.resolve("events.events.k8s.io")) == "events.k8s.io/v1/events");
  CHECK(gvr(d.resolve("events.v1.events.k8s.io")) == "events.k8s.io/v1/events");
}

TEST_CASE("Discovery::resolve picks the first group in discovery order: ingresses on old clusters") {
  const Discovery d = old_cluster();
  CHECK(gvr(d.resolve("ingresses")) == "extensions/v1beta1/ingresses");
  CHECK(gvr(d.resolve("ing")) == "extensions/v1beta1/ingresses");
  CHECK(gvr(d.resolve("ingresses.networking.k8s.io")) == "networking.k8s.io/v1beta1/ingresses");
  CHECK(gvr(d.resolve("events")) == "/v1/events");
}

TEST_CASE("Discovery::resolve prefers the group's preferred version") {
  const Discovery d = aggregated();
  CHECK(gvr(d.resolve("hpa")) == "autoscaling/v2/horizontalpodautoscalers");
  CHECK(gvr(d.resolve("horizontalpodautoscalers.v1.autoscaling")) == "autoscaling/v1/horizontalpodautoscalers");
  CHECK(gvr(d.resolve("legacyscalers")) == "autoscaling/v1/legacyscalers");
  CHECK(gvr(d.resolve("hpa.autoscal")) == "autoscaling/v2/horizontalpodautoscalers");  // group prefix, short name
}

TEST_CASE("Discovery::resolve warns about a shadowed short name") {
  const Discovery d = aggregated();
  std::vector<std::string> lines;
  log::set_sink([&](std::string_view l) { lines.emplace_back(l); });
  auto cm = d.resolve("cm");
  log::set_sink(nullptr);
  CHECK(gvr(cm) == "/v1/configmaps");
  bool warned = false;
  for (const auto& l : lines) {
    warned = warned || l.find("short name \"cm\" could also match lower priority resource widgets.example.com") !=
                           std::string::npos;
  }
  CHECK(warned);
  CHECK(gvr(d.resolve("wd")) == "example.com/v1/widgets");
  CHECK(gvr(d.resolve("cm.example.com")) == "example.com/v1/widgets");
  CHECK(gvr(d.resolve("widgets.example.com")) == "example.com/v1/widgets");
}

TEST_CASE("Discovery::resolve says what kubectl says for an unknown name") {
  const Discovery d = aggregated();
  auto r = d.resolve("frobs");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::not_found);
  CHECK(r.error().message == "the server doesn't have a resource type \"frobs\"");
  CHECK_FALSE(d.resolve("deployments.v2.apps").ok());
  CHECK_FALSE(d.resolve("pods.apps").ok());
  CHECK_FALSE(d.resolve("").ok());
}
