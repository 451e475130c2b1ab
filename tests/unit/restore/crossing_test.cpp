// The crossing transforms (restore/crossing.hpp) through make_plan, as restore create and migrate run them: Route ->
// Ingress, LoadBalancer Services loosened from the old cloud, Secret / ConfigMap values rewritten.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include <unistd.h>

#include <kbk/restore/crossing.hpp>
#include <kbk/restore/plan.hpp>
#include <kbk/util/strings.hpp>

#include "fake_client.hpp"

using namespace kbk;
using namespace kbk::restore;

namespace {

const PlannedItem* find_item(const Plan& plan, const std::string& resource, const std::string& name) {
  for (const PlannedItem& i : plan.items)
    if (i.resource == resource && i.target_name == name) return &i;
  return nullptr;
}

bool has_note(const PlannedItem& item, const std::string& part) {
  for (const std::string& n : item.notes)
    if (n.find(part) != std::string::npos) return true;
  return false;
}

std::string all_notes(const Plan& plan) {
  std::string out;
  for (const PlannedItem& i : plan.items)
    for (const std::string& n : i.notes) out += n + "\n";
  return out;
}

Plan plan_with(test::BackupBuilder& b, const CrossingOptions& o, bool routes_served,
               std::shared_ptr<ValueRewriteTransform>* rewrites = nullptr) {
  PlanOptions po;
  po.backup_name = "b";
  po.restore_name = "r";
  po.selection.include_cluster_resources = true;
  auto t = add_crossing_transforms(po, o, routes_served);
  if (rewrites) *rewrites = t;
  auto plan = make_plan(b.backup, po);
  REQUIRE(plan.ok());
  return std::move(*plan);
}

const char* k_service = R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"shop"},
  "spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":8080},{"port":9090,"targetPort":9090}]}})";

}  // namespace

TEST_CASE("an edge Route becomes an Ingress with its certificate in a Secret beside it", "[crossing]") {
  test::BackupBuilder b;
  b.add("services", k_service)
      .add("routes.route.openshift.io", R"({"apiVersion":"route.openshift.io/v1","kind":"Route",
        "metadata":{"name":"web","namespace":"shop","labels":{"app":"web"},
                    "annotations":{"haproxy.router.openshift.io/timeout":"60s","team":"a"}},
        "spec":{"host":"web.apps.example.com","path":"/shop","to":{"kind":"Service","name":"web"},
                "port":{"targetPort":8080},
                "tls":{"termination":"edge","certificate":"CERT\n","key":"KEY\n","caCertificate":"CA\n",
                       "insecureEdgeTerminationPolicy":"Redirect"}}})")
      .add("customresourcedefinitions.apiextensions.k8s.io", R"({"apiVersion":"apiextensions.k8s.io/v1",
        "kind":"CustomResourceDefinition","metadata":{"name":"routes.route.openshift.io"},
        "spec":{"group":"route.openshift.io","names":{"plural":"routes","kind":"Route"},"scope":"Namespaced",
                "versions":[{"name":"v1","served":true,"storage":true}]}})");
  CrossingOptions o;
  o.route.ingress_class = "nginx";
  o.lb.reset = false;
  Plan plan = plan_with(b, o, false);

  const PlannedItem* ing = find_item(plan, "ingresses", "web");
  REQUIRE(ing);
  REQUIRE_FALSE(ing->skip);
  CHECK(ing->group == "networking.k8s.io");
  json::Document d = ing->object.parse();
  CHECK(json::get_string(d, {"kind"}) == "Ingress");
  CHECK(json::get_string(d, {"spec", "ingressClassName"}) == "nginx");
  const json::Value* rule = json::at(d, {"spec", "rules"});
  REQUIRE(rule);
  REQUIRE(rule->Size() == 1);
  CHECK(json::get_string((*rule)[0], {"host"}) == "web.apps.example.com");
  const json::Value& path = (*json::at((*rule)[0], {"http", "paths"}))[0];
  CHECK(json::get_string(path, {"path"}) == "/shop");
  CHECK(json::get_string(path, {"pathType"}) == "Prefix");
  CHECK(json::get_string(path, {"backend", "service", "name"}) == "web");
  // targetPort 8080 is the Service's port named http: the Ingress names it.
  CHECK(json::get_string(path, {"backend", "service", "port", "name"}) == "http");
  const json::Value* tls = json::at(d, {"spec", "tls"});
  REQUIRE(tls);
  REQUIRE(tls->Size() == 1);
  CHECK(json::get_string((*tls)[0], {"secretName"}) == "web-tls");
  // OpenShift's own annotations go, the others stay.
  CHECK(json::get_string(d, {"metadata", "annotations", "team"}) == "a");
  CHECK_FALSE(json::at(d, {"metadata", "annotations", "haproxy.router.openshift.io/timeout"}));
  CHECK(has_note(*ing, "Route shop/web -> Ingress: host web.apps.example.com, path /shop, backend web"));
  CHECK(has_note(*ing, "insecureEdgeTerminationPolicy Redirect"));

  const PlannedItem* secret = find_item(plan, "secrets", "web-tls");
  REQUIRE(secret);
  CHECK(secret->target_namespace == "shop");
  json::Document s = secret->object.parse();
  CHECK(json::get_string(s, {"type"}) == "kubernetes.io/tls");
  CHECK(util::base64_decode(json::get_string(s, {"data", "tls.crt"})).value_or("") == "CERT\nCA\n");
  CHECK(util::base64_decode(json::get_string(s, {"data", "tls.key"})).value_or("") == "KEY\n");
  // The certificate text is in no note.
  CHECK(all_notes(plan).find("KEY\n") == std::string::npos);

  // The Route CRD is not restored where Routes are converted.
  const PlannedItem* crd = find_item(plan, "customresourcedefinitions", "routes.route.openshift.io");
  REQUIRE(crd);
  CHECK(crd->skip);
}

TEST_CASE("Routes stay Routes where the target serves them", "[crossing]") {
  test::BackupBuilder b;
  b.add("services", k_service)
      .add("routes.route.openshift.io", R"({"apiVersion":"route.openshift.io/v1","kind":"Route",
        "metadata":{"name":"web","namespace":"shop"},"spec":{"host":"h.example.com","to":{"kind":"Service","name":"web"}}})");
  CrossingOptions o;
  Plan plan = plan_with(b, o, true);
  const PlannedItem* route = find_item(plan, "routes", "web");
  REQUIRE(route);
  CHECK_FALSE(route->skip);
  CHECK(json::get_string(route->object.parse(), {"kind"}) == "Route");
  CHECK_FALSE(find_item(plan, "ingresses", "web"));
}

TEST_CASE("passthrough, wildcard and numbered ports: converted with what the user must add", "[crossing]") {
  test::BackupBuilder b;
  b.add("services", k_service)
      .add("routes.route.openshift.io", R"({"apiVersion":"route.openshift.io/v1","kind":"Route",
        "metadata":{"name":"api","namespace":"shop"},
        "spec":{"host":"api.apps.example.com","wildcardPolicy":"Subdomain","to":{"kind":"Service","name":"web"},
                "port":{"targetPort":9090},"tls":{"termination":"passthrough"},
                "alternateBackends":[{"kind":"Service","name":"web2","weight":10}]}})")
      .add("routes.route.openshift.io", R"({"apiVersion":"route.openshift.io/v1","kind":"Route",
        "metadata":{"name":"job","namespace":"shop"},"spec":{"host":"j.example.com","to":{"kind":"Job","name":"x"}}})");
  CrossingOptions o;
  Plan plan = plan_with(b, o, false);
  const PlannedItem* api = find_item(plan, "ingresses", "api");
  REQUIRE(api);
  json::Document d = api->object.parse();
  const json::Value& rule = (*json::at(d, {"spec", "rules"}))[0];
  CHECK(json::get_string(rule, {"host"}) == "*.apps.example.com");
  const json::Value& path = (*json::at(rule, {"http", "paths"}))[0];
  CHECK(json::get_string(path, {"path"}) == "/");
  // The Service's port 9090 has no name: the Ingress uses its number.
  const json::Value* num = json::at(path, {"backend", "service", "port", "number"});
  REQUIRE(num);
  CHECK(num->GetInt() == 9090);
  CHECK(has_note(*api, "nginx.ingress.kubernetes.io/ssl-passthrough"));
  CHECK(has_note(*api, "alternateBackends (weighted) dropped"));
  CHECK(has_note(*api, "wildcardPolicy Subdomain -> host *.apps.example.com"));
  CHECK_FALSE(find_item(plan, "secrets", "api-tls"));

  // A Route to something other than a Service cannot become an Ingress: that item fails, named.
  const PlannedItem* job = nullptr;
  for (const PlannedItem& i : plan.items)
    if (i.source_name == "job") job = &i;
  REQUIRE(job);
  REQUIRE(job->skip);
  CHECK(job->skip->message.find("spec.to is not a Service") != std::string::npos);
}

TEST_CASE("LoadBalancer Services lose the old cloud's binding and get the mapped annotations", "[crossing]") {
  test::BackupBuilder b;
  b.add("services", R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"public","namespace":"shop",
        "annotations":{"service.beta.kubernetes.io/aws-load-balancer-eip-allocations":"eipalloc-1",
                       "service.beta.kubernetes.io/aws-load-balancer-internal":"true",
                       "service.beta.kubernetes.io/aws-load-balancer-extra-security-groups":"sg-1","team":"a"}},
        "spec":{"type":"LoadBalancer","loadBalancerIP":"203.0.113.10","ports":[{"port":80}]}})")
      .add("services", R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"inner","namespace":"shop",
        "annotations":{"service.beta.kubernetes.io/aws-load-balancer-internal":"true"}},
        "spec":{"type":"ClusterIP","ports":[{"port":80}]}})");
  auto mappings = parse_lb_annotation_mappings(
      "service.beta.kubernetes.io/aws-load-balancer-internal:networking.gke.io/load-balancer-type=Internal,"
      "service.beta.kubernetes.io/aws-load-balancer-extra-*:-,"
      "team:owner,"
      "+:cloud.google.com/l4-rbs=enabled");
  REQUIRE(mappings.ok());
  CrossingOptions o;
  o.lb.mappings = *mappings;
  Plan plan = plan_with(b, o, true);

  const PlannedItem* lb = find_item(plan, "services", "public");
  REQUIRE(lb);
  json::Document d = lb->object.parse();
  CHECK_FALSE(json::at(d, {"spec", "loadBalancerIP"}));
  const json::Value* ann = json::at(d, {"metadata", "annotations"});
  REQUIRE(ann);
  CHECK_FALSE(json::find(*ann, "service.beta.kubernetes.io/aws-load-balancer-eip-allocations"));
  CHECK_FALSE(json::find(*ann, "service.beta.kubernetes.io/aws-load-balancer-internal"));
  CHECK_FALSE(json::find(*ann, "service.beta.kubernetes.io/aws-load-balancer-extra-security-groups"));
  CHECK_FALSE(json::find(*ann, "team"));
  CHECK(json::get_string(*ann, {"networking.gke.io/load-balancer-type"}) == "Internal");
  CHECK(json::get_string(*ann, {"owner"}) == "a");  // renamed, value kept
  CHECK(json::get_string(*ann, {"cloud.google.com/l4-rbs"}) == "enabled");
  CHECK(has_note(*lb, "spec.loadBalancerIP dropped"));
  CHECK(has_note(*lb, "load balancer binding annotations dropped: service.beta.kubernetes.io/aws-load-balancer-eip-allocations"));

  // Not a LoadBalancer: untouched.
  const PlannedItem* inner = find_item(plan, "services", "inner");
  REQUIRE(inner);
  CHECK(json::get_string(inner->object.parse(), {"metadata", "annotations", "service.beta.kubernetes.io/aws-load-balancer-internal"}) ==
        "true");
  CHECK(inner->notes.empty());
}

TEST_CASE("parse_lb_annotation_mappings refuses what it cannot mean", "[crossing]") {
  for (const char* bad : {"nocolon", ":new", "old:", "+:-", "+:justakey", "old:bad key", "old:star*"}) {
    INFO(bad);
    auto r = parse_lb_annotation_mappings(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(Errc::config));
    CHECK(r.error().message.find("--lb-annotation-mappings") != std::string::npos);
  }
  auto ok = parse_lb_annotation_mappings(" a:b , c:- ,, +:k=v ");
  REQUIRE(ok.ok());
  REQUIRE(ok->size() == 3);
  CHECK((*ok)[0].to_key == "b");
  CHECK((*ok)[1].drop);
  CHECK(((*ok)[2].set_value && (*ok)[2].to_key == "k" && (*ok)[2].to_value == "v"));
}

TEST_CASE("--set-secret and --set-configmap rewrite values without ever naming them", "[crossing]") {
  char path[] = "/tmp/kbk-crossing-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  const std::string secret_value = "s3cr3t-after-migration";
  REQUIRE(::write(fd, secret_value.data(), secret_value.size()) == static_cast<ssize_t>(secret_value.size()));
  ::close(fd);
  auto s = parse_value_rewrite("shop/db:password=@" + std::string(path), "--set-secret");
  ::unlink(path);
  REQUIRE(s.ok());
  CHECK(s->value == secret_value);
  auto c = parse_value_rewrite("shop/settings:DB_HOST=db.new.svc", "--set-configmap");
  REQUIRE(c.ok());
  auto unused = parse_value_rewrite("shop/absent:k=v", "--set-configmap");
  REQUIRE(unused.ok());

  test::BackupBuilder b;
  b.add("secrets", R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","namespace":"shop"},
        "data":{"user":"YXBw","password":"b2xk"},"stringData":{"password":"old"}})")
      .add("configmaps", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"shop"},
        "data":{"DB_PORT":"5432"},"binaryData":{"DB_HOST":"AAEC"}})");
  CrossingOptions o;
  o.lb.reset = false;
  o.secrets.push_back(*s);
  o.configmaps.push_back(*c);
  o.configmaps.push_back(*unused);
  std::shared_ptr<ValueRewriteTransform> rewrites;
  Plan plan = plan_with(b, o, true, &rewrites);
  REQUIRE(rewrites);

  const PlannedItem* sec = find_item(plan, "secrets", "db");
  REQUIRE(sec);
  json::Document sd = sec->object.parse();
  CHECK(util::base64_decode(json::get_string(sd, {"data", "password"})).value_or("") == secret_value);
  CHECK(json::get_string(sd, {"data", "user"}) == "YXBw");
  CHECK_FALSE(json::at(sd, {"stringData", "password"}));  // it would win over data on the server
  CHECK(has_note(*sec, "data.password set by --set-secret"));
  const PlannedItem* cm = find_item(plan, "configmaps", "settings");
  REQUIRE(cm);
  json::Document cd = cm->object.parse();
  CHECK(json::get_string(cd, {"data", "DB_HOST"}) == "db.new.svc");
  CHECK(json::get_string(cd, {"data", "DB_PORT"}) == "5432");
  CHECK_FALSE(json::at(cd, {"binaryData", "DB_HOST"}));
  CHECK(all_notes(plan).find(secret_value) == std::string::npos);
  CHECK(all_notes(plan).find("db.new.svc") == std::string::npos);

  const auto missing = rewrites->unmatched();
  REQUIRE(missing.size() == 1);
  CHECK(missing[0] == "--set-configmap shop/absent:k");
}

TEST_CASE("parse_value_rewrite: a malformed flag names the flag, never the value", "[crossing]") {
  for (const char* bad : {"db:password=x", "shop/db=password", "shop/db:=x", "/db:k=x", "shop/:k=x"}) {
    INFO(bad);
    auto r = parse_value_rewrite(bad, "--set-secret");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("--set-secret") != std::string::npos);
  }
  auto r = parse_value_rewrite("shop/db:password=hunter2-but-malformed:x/y", "--set-secret");
  REQUIRE(r.ok());  // everything after the first '=' is the value, whatever it holds
  CHECK(r->value == "hunter2-but-malformed:x/y");
  auto missing = parse_value_rewrite("shop/db:password=@/nonexistent/kbk-test-file", "--set-secret");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().is(Errc::config));
  CHECK(missing.error().message.find("--set-secret shop/db:password") != std::string::npos);
}
