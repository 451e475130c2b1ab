// kbk rbac: what a backup asks is what the printed roles allow; a restore's roles add escalate and bind.
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>
#include <string>

#include <kbk/rbac/rbac.hpp>

#include "../backup/fake_client.hpp"

using namespace kbk;

namespace {

// (kind, namespace, group, resource, verb) of every rule the objects grant.
std::set<std::string> grants(const std::vector<json::Document>& objects) {
  std::set<std::string> out;
  for (const auto& o : objects) {
    const std::string kind = json::get_string(o, {"kind"});
    if (kind != "Role" && kind != "ClusterRole") continue;
    const std::string ns = json::get_string(o, {"metadata", "namespace"});
    for (const auto& r : o["rules"].GetArray())
      for (const auto& g : r["apiGroups"].GetArray())
        for (const auto& res : r["resources"].GetArray())
          for (const auto& v : r["verbs"].GetArray())
            out.insert(kind + " " + ns + " " + g.GetString() + "/" + res.GetString() + " " + v.GetString() +
                       (r.HasMember("resourceNames") ? " names" : ""));
  }
  return out;
}

}  // namespace

TEST_CASE("probe_backup records the backup's reads: per-namespace lists become a Role, cluster reads a ClusterRole",
          "[rbac]") {
  testing::FakeClient c;
  c.add("namespaces", R"({"metadata":{"name":"app","uid":"ns-app"},"status":{"phase":"Active"}})");
  c.add("namespaces", R"({"metadata":{"name":"kube-system","uid":"ks-uid"},"status":{"phase":"Active"}})");
  c.add("configmaps", R"({"metadata":{"name":"cfg","namespace":"app"},"data":{"k":"v"}})");
  backup::Options o;
  o.include_namespaces = {"app"};
  o.include_resources = {"configmaps"};
  auto needs = rbac::probe_backup(c, testing::make_discovery(), o, std::filesystem::temp_directory_path().string());
  REQUIRE(needs.ok());
  rbac::RenderOptions ro;
  auto objects = rbac::render(*needs, ro);
  const auto g = grants(objects);
  CHECK(g.count("Role app /configmaps list") == 1);
  CHECK(g.count("ClusterRole  /namespaces list") == 1);
  // Nothing the backup did not ask: no write verb anywhere, no other namespaced type.
  for (const auto& line : g) {
    INFO(line);
    CHECK(line.find(" create") == std::string::npos);
    CHECK(line.find(" patch") == std::string::npos);
    if (line.rfind("Role ", 0) == 0) CHECK(line == "Role app /configmaps list");
  }
  // The kinds, in apply order, and the bindings name the ServiceAccount kbk/kbk.
  std::vector<std::string> kinds;
  for (const auto& d : objects) kinds.push_back(json::get_string(d, {"kind"}));
  CHECK(kinds == std::vector<std::string>{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role",
                                          "RoleBinding"});
  CHECK(json::get_string(objects[3]["subjects"][0], {"namespace"}) == "kbk");
  CHECK(json::get_string(objects[5]["roleRef"], {"name"}) == "kbk-backup");
}

TEST_CASE("restore_needs: write verbs per target, escalate and bind for RBAC objects", "[rbac]") {
  std::vector<kube::WriteTarget> targets(3);
  targets[0].type = testing::rt("", "v1", "configmaps", "ConfigMap", true);
  targets[0].namespace_ = "dr";
  targets[1].type = testing::rt("rbac.authorization.k8s.io", "v1", "roles", "Role", true);
  targets[1].namespace_ = "dr";
  targets[2].type = testing::rt("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true);
  targets[2].namespace_ = "dr";
  rbac::RenderOptions ro;
  ro.purpose = "restore";
  ro.service_account = "restorer";
  auto objects = rbac::render(rbac::restore_needs(targets, {"create", "get", "patch"}), ro);
  const auto g = grants(objects);
  for (const char* v : {"create", "get", "patch"}) CHECK(g.count(std::string("Role dr /configmaps ") + v) == 1);
  CHECK(g.count("Role dr rbac.authorization.k8s.io/roles escalate") == 1);
  CHECK(g.count("Role dr rbac.authorization.k8s.io/roles bind") == 1);
  CHECK(g.count("Role dr rbac.authorization.k8s.io/clusterroles bind") == 1);
  CHECK(g.count("Role dr /configmaps delete") == 0);
  // The target namespace is created first (its Role needs it), besides the ServiceAccount's.
  CHECK(json::get_string(objects[0], {"metadata", "name"}) == "dr");
  CHECK(json::get_string(objects[1], {"metadata", "name"}) == "kbk");
  CHECK(json::get_string(objects[3], {"metadata", "name"}) == "restorer-restore");
}

TEST_CASE("probe_backup with volume data: the path each volume takes adds what that path asks, where it asks it",
          "[rbac]") {
  testing::FakeClient c;
  c.add("namespaces", R"({"metadata":{"name":"app","uid":"ns-app"},"status":{"phase":"Active"}})");
  c.add("namespaces", R"({"metadata":{"name":"kube-system","uid":"ks-uid"},"status":{"phase":"Active"}})");
  c.add("persistentvolumeclaims", R"({"metadata":{"name":"data","namespace":"app"},
    "spec":{"volumeName":"pv-data","storageClassName":"fast"},"status":{"phase":"Bound"}})");
  c.add("persistentvolumes", R"({"metadata":{"name":"pv-data"},"spec":{"storageClassName":"fast",
    "csi":{"driver":"csi.example.com","volumeHandle":"h1"}}})");
  c.add("volumesnapshotclasses.snapshot.storage.k8s.io", R"({"metadata":{"name":"snap"},"driver":"csi.example.com"})");
  backup::Options o;
  o.include_namespaces = {"app"};
  o.include_resources = {"persistentvolumeclaims"};
  const std::string tmp = std::filesystem::temp_directory_path().string();
  rbac::RenderOptions ro;

  auto needs = rbac::probe_backup(c, testing::make_discovery(), o, tmp);
  REQUIRE(needs.ok());
  auto g = grants(rbac::render(*needs, ro));
  // snapshot-move-data (the claim's CSI driver has a VolumeSnapshotClass): snapshot, claim, helper pod, exec.
  for (const char* v : {"create", "get", "delete"}) {
    CHECK(g.count(std::string("Role app snapshot.storage.k8s.io/volumesnapshots ") + v) == 1);
    CHECK(g.count(std::string("Role app /persistentvolumeclaims ") + v) == 1);
    CHECK(g.count(std::string("Role app /pods ") + v) == 1);
  }
  CHECK(g.count("Role app /pods/exec create") == 1);
  CHECK(g.count("ClusterRole  snapshot.storage.k8s.io/volumesnapshotcontents patch") == 1);
  CHECK(g.count("ClusterRole  snapshot.storage.k8s.io/volumesnapshotcontents create") == 0);
  // The reads that decided it are recorded as made; the volume is not limited to today's name.
  CHECK(g.count("ClusterRole  /persistentvolumes get") == 1);
  CHECK(g.count("ClusterRole  snapshot.storage.k8s.io/volumesnapshotclasses list") == 1);

  // --mover-namespace: the claim, pod and exec in kbk's namespace, the snapshot re-bound there.
  o.volumes.mover.namespace_ = "movers";
  needs = rbac::probe_backup(c, testing::make_discovery(), o, tmp);
  REQUIRE(needs.ok());
  g = grants(rbac::render(*needs, ro));
  CHECK(g.count("Role app /pods create") == 0);
  CHECK(g.count("Role app snapshot.storage.k8s.io/volumesnapshots create") == 1);
  CHECK(g.count("Role movers /pods create") == 1);
  CHECK(g.count("Role movers /pods/exec create") == 1);
  CHECK(g.count("Role movers snapshot.storage.k8s.io/volumesnapshots create") == 1);
  CHECK(g.count("ClusterRole  snapshot.storage.k8s.io/volumesnapshotcontents create") == 1);
  CHECK(g.count("ClusterRole  /namespaces create") == 1);

  // Resources only: no write anywhere.
  o.volume_data = false;
  needs = rbac::probe_backup(c, testing::make_discovery(), o, tmp);
  REQUIRE(needs.ok());
  for (const auto& line : grants(rbac::render(*needs, ro))) {
    INFO(line);
    CHECK(line.find(" create") == std::string::npos);
    CHECK(line.find(" delete") == std::string::npos);
  }
}
