// Every definition in examples/apps/ loads, and the KubeSphere host one takes what a host cluster's teams listed.
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>
#include <string>

#include <kbk/app/definition.hpp>
#include <kbk/app/resolve.hpp>

#include "backup/fake_client.hpp"
#include "source_dir.hpp"

using namespace kbk;
using kbk::testing::FakeClient;
using kbk::testing::rt;

namespace {

std::string example(const std::string& name) { return test::source_path("examples/apps/" + name); }

std::vector<std::string> part_names(const app::Application& a) {
  std::vector<std::string> v;
  for (const auto& p : a.parts) v.push_back(p.name);
  return v;
}

}  // namespace

TEST_CASE("load reads every example of examples/apps") {
  SECTION("the folder as a whole") {
    auto all = app::load({test::source_path("examples/apps")});
    REQUIRE(all.ok());
    CHECK(std::set<std::string>(all->all_names.begin(), all->all_names.end()) ==
          std::set<std::string>{"cert-manager", "kubesphere-host", "mysql", "shop", "shop-rbac", "wordpress"});
  }
  SECTION("wordpress includes mysql by name, with its volume policy, hook, order hints and modifiers") {
    auto a = app::load({example("wordpress.yaml")});
    REQUIRE(a.ok());
    CHECK(part_names(*a) == std::vector<std::string>{"wordpress/web", "mysql/database"});
    REQUIRE(a->volume_policy);
    CHECK(a->volume_policy->text.find("fs-backup") != std::string::npos);
    REQUIRE(a->hooks.size() == 1);
    CHECK(a->hooks[0].template_name == "mysql");
    REQUIRE(a->restore_order.size() == 2);
    CHECK(a->restore_order[0].text == "statefulsets/blog/mysql");
    REQUIRE(a->modifiers.size() == 1);
    CHECK(a->modifiers[0] == example("modifiers/wordpress-staging.yaml"));
  }
  SECTION("cert-manager: the Helm release, its namespace, CRDs, ClusterIssuers and webhooks") {
    auto a = app::load({example("cert-manager.yaml")});
    REQUIRE(a.ok());
    REQUIRE(a->parts.size() == 5);
    REQUIRE(a->parts[0].helm_release);
    CHECK(a->parts[0].helm_release->namespace_ == "cert-manager");
  }
  SECTION("shop spans three namespaces and includes the shared cluster RBAC") {
    auto a = app::load({example("shop.yaml")});
    REQUIRE(a.ok());
    CHECK(part_names(*a) == std::vector<std::string>{"shop/frontend", "shop/backend", "shop/data", "shop-rbac/cluster-rbac"});
  }
}

TEST_CASE("resolve of kubesphere-host.yaml takes the five categories of a host cluster and nothing of users' apps") {
  std::vector<kube::ResourceType> all = {
      rt("", "v1", "namespaces", "Namespace", false),
      rt("", "v1", "configmaps", "ConfigMap", true),
      rt("", "v1", "secrets", "Secret", true),
      rt("apps", "v1", "deployments", "Deployment", true),
      rt("rbac.authorization.k8s.io", "v1", "roles", "Role", true),
      rt("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true),
      rt("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false),
      rt("iam.kubesphere.io", "v1alpha2", "users", "User", false),
      rt("iam.kubesphere.io", "v1alpha2", "globalroles", "GlobalRole", false),
      rt("iam.kubesphere.io", "v1alpha2", "globalrolebindings", "GlobalRoleBinding", false),
      rt("iam.kubesphere.io", "v1alpha2", "workspaceroles", "WorkspaceRole", false),
      rt("iam.kubesphere.io", "v1alpha2", "loginrecords", "LoginRecord", false),
      rt("tenant.kubesphere.io", "v1alpha2", "workspacetemplates", "WorkspaceTemplate", false),
      rt("cluster.kubesphere.io", "v1alpha1", "clusters", "Cluster", false),
      rt("core.kubefed.io", "v1beta1", "kubefedclusters", "KubeFedCluster", true),
      rt("types.kubefed.io", "v1beta1", "federatednamespaces", "FederatedNamespace", true),
      rt("alerting.kubesphere.io", "v2beta1", "rulegroups", "RuleGroup", true),
      rt("alerting.kubesphere.io", "v2beta1", "clusterrulegroups", "ClusterRuleGroup", false),
      rt("notification.kubesphere.io", "v2beta2", "receivers", "Receiver", false),
      rt("notification.kubesphere.io", "v2beta2", "configs", "Config", false),
      rt("monitoring.coreos.com", "v1", "prometheuses", "Prometheus", true),
      rt("monitoring.coreos.com", "v1", "servicemonitors", "ServiceMonitor", true),
      rt("monitoring.kubesphere.io", "v1alpha2", "dashboards", "Dashboard", true),
      rt("monitoring.kubesphere.io", "v1alpha2", "clusterdashboards", "ClusterDashboard", false),
      rt("installer.kubesphere.io", "v1alpha1", "clusterconfigurations", "ClusterConfiguration", true),
  };
  std::vector<kube::GroupInfo> groups;
  for (const auto& r : all) {
    bool have = false;
    for (const auto& g : groups) have = have || g.name == r.group;
    if (!have) groups.push_back({r.group, r.version, {r.version}});
  }
  const kube::Discovery d(groups, all, {});
  FakeClient c;
  auto named = [](const std::string& name, const std::string& ns = "", const std::string& labels = "") {
    return R"({"metadata":{"name":")" + name + "\"" + (ns.empty() ? "" : R"(,"namespace":")" + ns + "\"") +
           (labels.empty() ? "" : R"(,"labels":)" + labels) + "}}";
  };
  for (const char* ns : {"kubesphere-system", "shop", "kube-federation-system", "kubesphere-monitoring-system"})
    c.add("namespaces", named(ns));
  c.add("namespaces", named("proj1", "", R"({"kubesphere.io/workspace":"ws1"})"));
  c.add("users.iam.kubesphere.io", named("admin"));
  c.add("globalroles.iam.kubesphere.io", named("platform-admin"));
  c.add("globalrolebindings.iam.kubesphere.io", named("admin-platform-admin", "", R"({"iam.kubesphere.io/user-ref":"admin"})"));
  c.add("workspaceroles.iam.kubesphere.io", named("ws1-admin"));
  c.add("loginrecords.iam.kubesphere.io", named("admin-x7k2p"));
  c.add("workspacetemplates.tenant.kubesphere.io", named("ws1"));
  c.add("clusters.cluster.kubesphere.io", named("member-1"));
  c.add("kubefedclusters.core.kubefed.io", named("member-1", "kube-federation-system"));
  c.add("federatednamespaces.types.kubefed.io", named("proj1", "proj1"));
  c.add("rulegroups.alerting.kubesphere.io", named("cpu", "proj1"));
  c.add("clusterrulegroups.alerting.kubesphere.io", named("node-rules"));
  c.add("receivers.notification.kubesphere.io", named("global-email"));
  c.add("configs.notification.kubesphere.io", named("default-email"));
  c.add("prometheuses.monitoring.coreos.com", named("k8s", "kubesphere-monitoring-system"));
  c.add("servicemonitors.monitoring.coreos.com", named("ks-apiserver", "kubesphere-monitoring-system"));
  c.add("servicemonitors.monitoring.coreos.com", named("shop-metrics", "shop"));
  c.add("dashboards.monitoring.kubesphere.io", named("d1", "proj1"));
  c.add("clusterdashboards.monitoring.kubesphere.io", named("nodes"));
  c.add("clusterconfigurations.installer.kubesphere.io", named("ks-installer", "kubesphere-system"));
  c.add("configmaps", named("kubesphere-config", "kubesphere-system"));
  c.add("configmaps", named("unrelated", "kubesphere-system"));
  c.add("secrets", named("oauthclient", "kubesphere-system", R"({"config.kubesphere.io/type":"oauthclient"})"));
  c.add("secrets", named("db", "shop"));
  c.add("roles.rbac.authorization.k8s.io", named("admin", "proj1"));
  c.add("rolebindings.rbac.authorization.k8s.io",
        R"({"metadata":{"name":"admin-admin","namespace":"proj1","labels":{"iam.kubesphere.io/user-ref":"admin"}},
            "roleRef":{"kind":"Role","name":"admin"},"subjects":[{"kind":"User","name":"admin"}]})");
  c.add("deployments.apps", named("web", "shop"));
  c.add("customresourcedefinitions.apiextensions.k8s.io", named("users.iam.kubesphere.io"));

  auto a = app::load({example("kubesphere-host.yaml")});
  REQUIRE(a.ok());
  auto r = app::resolve(c, d, *a);
  REQUIRE(r.ok());
  std::set<std::string> got;
  for (const auto& o : r->objects) got.insert(o.display());
  const std::set<std::string> want = {
      // users, roles and projects
      "users.iam.kubesphere.io/admin", "globalroles.iam.kubesphere.io/platform-admin",
      "globalrolebindings.iam.kubesphere.io/admin-platform-admin", "workspaceroles.iam.kubesphere.io/ws1-admin",
      "workspacetemplates.tenant.kubesphere.io/ws1", "namespaces/proj1",
      "rolebindings.rbac.authorization.k8s.io/proj1/admin-admin", "roles.rbac.authorization.k8s.io/proj1/admin",
      // system configuration
      "configmaps/kubesphere-system/kubesphere-config",
      "clusterconfigurations.installer.kubesphere.io/kubesphere-system/ks-installer",
      "secrets/kubesphere-system/oauthclient",
      // federation
      "clusters.cluster.kubesphere.io/member-1", "kubefedclusters.core.kubefed.io/kube-federation-system/member-1",
      "federatednamespaces.types.kubefed.io/proj1/proj1",
      // alerts and notifications
      "rulegroups.alerting.kubesphere.io/proj1/cpu", "clusterrulegroups.alerting.kubesphere.io/node-rules",
      "receivers.notification.kubesphere.io/global-email", "configs.notification.kubesphere.io/default-email",
      // monitoring
      "prometheuses.monitoring.coreos.com/kubesphere-monitoring-system/k8s",
      "servicemonitors.monitoring.coreos.com/kubesphere-monitoring-system/ks-apiserver",
      "dashboards.monitoring.kubesphere.io/proj1/d1", "clusterdashboards.monitoring.kubesphere.io/nodes",
      // the CRD of a custom resource taken, and the namespaces of namespaced objects taken
      "customresourcedefinitions.apiextensions.k8s.io/users.iam.kubesphere.io", "namespaces/kubesphere-system",
      "namespaces/kube-federation-system", "namespaces/kubesphere-monitoring-system"};
  CHECK(got == want);
  // Left out: login records (excluded), users' applications and the rest of kubesphere-system.
  CHECK_FALSE(got.count("loginrecords.iam.kubesphere.io/admin-x7k2p"));
  CHECK_FALSE(got.count("servicemonitors.monitoring.coreos.com/shop/shop-metrics"));
  CHECK_FALSE(got.count("deployments.apps/shop/web"));
  CHECK_FALSE(got.count("namespaces/shop"));
}
