// Velero's volume policies: the strict parser (FILE:LINE:COL errors) and the matching matrix of
// internal/resourcepolicies (first match wins, all conditions, capacity bounds, csi attributes, labels, phases).
#include <catch2/catch.hpp>

#include <kbk/volume/policy.hpp>

using namespace kbk;
using namespace kbk::volume;

namespace {

json::Document doc(const std::string& text) { return std::move(*json::parse(text, "test")); }

PolicySet must_parse(const std::string& text) {
  auto p = PolicySet::parse(text, "p.yaml");
  if (!p) FAIL(p.error().message);
  return std::move(*p);
}

std::string error_of(const std::string& text) {
  auto p = PolicySet::parse(text, "p.yaml");
  REQUIRE_FALSE(p);
  CHECK(p.error().code == Errc::config);
  return p.error().message;
}

// action name and rule index of the match, "none" when nothing matched.
std::string match(const PolicySet& set, const json::Value* pv, const json::Value* pvc, const json::Value* vol = nullptr) {
  VolumeFilterData d;
  d.persistent_volume = pv;
  d.claim = pvc;
  d.pod_volume = pv ? nullptr : vol;
  auto m = set.match(d);
  REQUIRE(m);
  if (!*m) return "none";
  return std::string(policy_action_name((*m)->action)) + "#" + std::to_string((*m)->rule);
}

const char* k_velero_example = R"(version: v1
includeExcludePolicy:
  includedClusterScopedResources: ["crd", "pv"]
  excludedClusterScopedResources: []
  includedNamespaceScopedResources: ["pod", "service", "deployment", "pvc"]
  excludedNamespaceScopedResources: ["configmap", "secret"]
volumePolicies:
- conditions:
    capacity: "10,100Gi"
    csi: { driver: ebs.csi.aws.com }
    storageClass: [gp2, standard]
    pvcPhase: [Pending]
  action: { type: skip }
- conditions:
    nfs: { server: 192.168.200.90 }
  action: { type: fs-backup }
- conditions:
    pvcLabels: { environment: production }
  action: { type: snapshot }
- conditions:
    csi: { driver: aws.efs.csi.driver, volumeAttributes: { protocol: nfs } }
  action: { type: fs-backup }
- conditions:
    volumeTypes: [emptyDir, downwardAPI, configMap, cinder]
  action: { type: skip }
)";

}  // namespace

TEST_CASE("PolicySet::parse accepts Velero's documented example unchanged") {
  PolicySet set = must_parse(k_velero_example);
  CHECK(set.size() == 5);
  REQUIRE(set.include_exclude());
  CHECK(set.include_exclude()->excluded_namespace_scoped == std::vector<std::string>{"configmap", "secret"});
  CHECK(set.warnings().empty());
  CHECK(set.describe(1) == "volumePolicies[1] (fs-backup) at p.yaml:14:3");
}

TEST_CASE("PolicySet::parse refuses unknown and duplicate keys with FILE:LINE:COL") {
  CHECK(error_of("version: v1\nvolumePolicies:\n- conditions:\n    capacty: \"0,1Gi\"\n  action: {type: skip}\n") ==
        "p.yaml:4:5: field capacty not found in volumePolicies[0].conditions (known: capacity, csi, nfs, pvcLabels, "
        "pvcPhase, storageClass, volumeTypes)");
  CHECK(error_of("version: v1\nvolumePolicy: []\n").rfind("p.yaml:2:1: field volumePolicy not found", 0) == 0);
  CHECK(error_of("version: v1\nversion: v1\n") == "p.yaml:2:1: mapping key \"version\" already defined");
  CHECK(error_of("version: v1\nvolumePolicies:\n- action: {type: skip, params: {}}\n") ==
        "p.yaml:3:24: field params not found in volumePolicies[0].action (known: parameters, type)");
  CHECK(error_of("version: v1\nvolumePolicies:\n- conditions:\n    nfs: {server: a, host: b}\n  action: {type: skip}\n")
            .rfind("p.yaml:4:22: field host not found in volumePolicies[0].conditions.nfs", 0) == 0);
}

TEST_CASE("PolicySet::parse checks values as Velero's Validate does") {
  CHECK(error_of("version: v2\nvolumePolicies: []\n") ==
        "p.yaml:1:10: version: incompatible version number v2 with supported version v1");
  CHECK(error_of("volumePolicies: []\n") == "p.yaml:1:1: version: missing (expected v1)");
  CHECK(error_of("version: v1\nvolumePolicies:\n- action: {type: copy}\n") ==
        "p.yaml:3:18: volumePolicies[0].action.type: invalid action type copy (expected skip, snapshot, fs-backup or "
        "custom)");
  CHECK(error_of("version: v1\nvolumePolicies:\n- conditions: {}\n").find("invalid action type") != std::string::npos);
  CHECK(error_of("version: v1\nvolumePolicies:\n- conditions: {capacity: \"10Gi\"}\n  action: {type: skip}\n")
            .find("wrong format of Capacity 10Gi") != std::string::npos);
  CHECK(error_of("version: v1\nvolumePolicies:\n- conditions: {capacity: \"10Gi,1Gi\"}\n  action: {type: skip}\n")
            .find("illegal values for capacity") != std::string::npos);
  CHECK(error_of("version: v1\nvolumePolicies:\n- conditions: {capacity: \"1Qi,\"}\n  action: {type: skip}\n")
            .find("not a Kubernetes quantity") != std::string::npos);
  CHECK(error_of("version: v1\nvolumePolicies:\n- conditions: {storageClass: gp2}\n  action: {type: skip}\n") ==
        "p.yaml:3:30: volumePolicies[0].conditions.storageClass: expected a list of strings");
  CHECK(error_of("version: v1\nvolumePolicies:\n- conditions: {pvcLabels: [a]}\n  action: {type: skip}\n") ==
        "p.yaml:3:27: pvcLabels must be a map of string to string");
  CHECK(error_of("version: v1\nvolumePolicies:\n- conditions: {csi: {volumeAttributes: {a: b}}}\n  action: {type: skip}\n")
            .find("csi driver should not be empty when filtering by volume attributes") != std::string::npos);
  CHECK(error_of("version: v1\nincludeExcludePolicy:\n  includedClusterScopedResources: ['*']\n")
            .find("cannot use '*' in includes or excludes") != std::string::npos);
  CHECK(error_of("version: v1\nincludeExcludePolicy:\n  includedNamespaceScopedResources: [pod]\n  "
                 "excludedNamespaceScopedResources: [pod]\n")
            .find("excludes list cannot contain an item in the includes list: pod") != std::string::npos);
  CHECK(error_of("version: v1\nvolumePolicies: [\n").rfind("p.yaml:", 0) == 0);  // a YAML syntax error
  // Every problem is a cause, in file order.
  auto p = PolicySet::parse("version: v1\nvolumePolicies:\n- action: {type: a}\n- action: {type: b}\n", "p.yaml");
  REQUIRE_FALSE(p);
  REQUIRE(p.error().causes.size() == 2);
  CHECK(p.error().causes[1].message.rfind("p.yaml:4:", 0) == 0);
}

TEST_CASE("PolicySet::parse warns about values that can never match") {
  PolicySet set = must_parse("version: v1\nvolumePolicies:\n- conditions: {volumeTypes: [hostpath], pvcPhase: [Done]}\n"
                             "  action: {type: skip}\n");
  REQUIRE(set.warnings().size() == 2);
  CHECK(set.warnings()[0] == "p.yaml:3:30: volumePolicies[0].conditions.volumeTypes: hostpath is not a volume type "
                             "Velero knows: it never matches");
}

TEST_CASE("PolicySet::match: first match wins, all conditions hold") {
  PolicySet set = must_parse(k_velero_example);
  auto pv_csi = [](const std::string& driver, const std::string& cap, const std::string& cls, const std::string& attrs) {
    return doc(R"({"kind":"PersistentVolume","spec":{"capacity":{"storage":")" + cap + R"("},"storageClassName":")" +
               cls + R"(","csi":{"driver":")" + driver + R"(","volumeHandle":"h","volumeAttributes":{)" + attrs + "}}}}");
  };
  auto pvc = [](const std::string& phase, const std::string& labels) {
    return doc(R"({"metadata":{"name":"c","labels":{)" + labels + R"(}},"status":{"phase":")" + phase + R"("}})");
  };
  json::Document pending = pvc("Pending", "");
  json::Document bound_prod = pvc("Bound", R"("environment":"production","team":"a")");
  json::Document bound = pvc("Bound", "");

  json::Document ebs = pv_csi("ebs.csi.aws.com", "50Gi", "gp2", "");
  CHECK(match(set, &ebs, &pending) == "skip#0");
  CHECK(match(set, &ebs, &bound) == "none");          // pvcPhase Pending required
  CHECK(match(set, &ebs, &bound_prod) == "snapshot#2");  // extra labels are fine
  json::Document big = pv_csi("ebs.csi.aws.com", "200Gi", "gp2", "");
  CHECK(match(set, &big, &pending) == "none");       // above 100Gi
  json::Document bytes10 = pv_csi("ebs.csi.aws.com", "10", "standard", "");
  CHECK(match(set, &bytes10, &pending) == "skip#0");  // "10,100Gi": 10 bytes is the lower bound, inclusive
  json::Document other_class = pv_csi("ebs.csi.aws.com", "50Gi", "fast", "");
  CHECK(match(set, &other_class, &pending) == "none");

  json::Document efs_nfs = pv_csi("aws.efs.csi.driver", "1Gi", "efs", R"("protocol":"nfs")");
  json::Document efs_smb = pv_csi("aws.efs.csi.driver", "1Gi", "efs", R"("protocol":"smb")");
  CHECK(match(set, &efs_nfs, &bound) == "fs-backup#3");
  CHECK(match(set, &efs_smb, &bound) == "none");

  json::Document nfs_pv = doc(R"({"spec":{"capacity":{"storage":"1Gi"},"nfs":{"server":"192.168.200.90","path":"/x"}}})");
  CHECK(match(set, &nfs_pv, &bound) == "fs-backup#1");
  json::Document nfs_other = doc(R"({"spec":{"nfs":{"server":"10.0.0.1","path":"/x"}}})");
  CHECK(match(set, &nfs_other, &bound) == "none");

  json::Document empty_dir = doc(R"({"name":"scratch","emptyDir":{}})");
  CHECK(match(set, nullptr, nullptr, &empty_dir) == "skip#4");
  json::Document host = doc(R"({"name":"h","hostPath":{"path":"/var/x"}})");
  CHECK(match(set, nullptr, nullptr, &host) == "none");
  // A pod volume that is a claim: its type is "", only claim conditions can match it.
  json::Document claim_vol = doc(R"({"name":"d","persistentVolumeClaim":{"claimName":"c"}})");
  CHECK(match(set, nullptr, &bound_prod, &claim_vol) == "snapshot#2");
  // An unbound claim alone.
  CHECK(match(set, nullptr, &bound_prod) == "snapshot#2");
  VolumeFilterData nothing;
  CHECK_FALSE(set.match(nothing));
}

TEST_CASE("PolicySet::match: capacity bounds, empty conditions, nfs and csi wildcards") {
  PolicySet set = must_parse(R"(version: v1
volumePolicies:
- conditions: {capacity: "0,1Gi"}
  action: {type: skip}
- conditions: {capacity: "5Gi,"}
  action: {type: snapshot}
- conditions: {nfs: {}}
  action: {type: fs-backup}
- conditions: {csi: {}}
  action: {type: custom, parameters: {plugin: x}}
- conditions: {}
  action: {type: fs-backup}
)");
  json::Document small = doc(R"({"spec":{"capacity":{"storage":"1Gi"},"hostPath":{"path":"/a"}}})");
  json::Document mid = doc(R"({"spec":{"capacity":{"storage":"2Gi"},"csi":{"driver":"d","volumeHandle":"h"}}})");
  json::Document large = doc(R"({"spec":{"capacity":{"storage":"5Gi"},"hostPath":{"path":"/a"}}})");
  json::Document nfs = doc(R"({"spec":{"capacity":{"storage":"3Gi"},"nfs":{"server":"s","path":"/p"}}})");
  json::Document none = doc(R"({"spec":{"capacity":{"storage":"3Gi"},"hostPath":{"path":"/a"}}})");
  CHECK(match(set, &small, nullptr) == "skip#0");   // 1Gi <= 1Gi
  CHECK(match(set, &large, nullptr) == "snapshot#1");  // 5Gi >= 5Gi
  CHECK(match(set, &nfs, nullptr) == "fs-backup#2");
  CHECK(match(set, &mid, nullptr) == "custom#3");
  CHECK(match(set, &none, nullptr) == "fs-backup#4");  // no conditions: every volume
  // A pod volume has capacity 0: "0,1Gi" matches it.
  json::Document ed = doc(R"({"name":"x","emptyDir":{}})");
  CHECK(match(set, nullptr, nullptr, &ed) == "skip#0");
  VolumeFilterData d;
  d.persistent_volume = &mid;
  auto m = set.match(d);
  REQUIRE(m);
  REQUIRE(*m);
  CHECK(json::get_string((*m)->parameters, {"plugin"}) == "x");
}

TEST_CASE("volume_type_of_pv and volume_type_of_pod_volume use Velero's names") {
  CHECK(volume_type_of_pv(doc(R"({"spec":{"storageos":{}}})")) == "storageOS");
  CHECK(volume_type_of_pv(doc(R"({"spec":{"local":{"path":"/x"}}})")) == "local");
  CHECK(volume_type_of_pod_volume(doc(R"({"name":"a","persistentVolumeClaim":{"claimName":"c"}})")).empty());
  CHECK(volume_type_of_pod_volume(doc(R"({"name":"a","hostPath":{"path":"/"}})")) == "hostPath");
  CHECK(volume_type_of_pod_volume(doc(R"({"name":"a","ephemeral":{}})")) == "ephemeral");
}

TEST_CASE("parse_quantity reads Kubernetes quantities") {
  CHECK(*parse_quantity("10Gi") == 10.0L * 1024 * 1024 * 1024);
  CHECK(*parse_quantity("1.5G") == 1.5e9L);
  CHECK(*parse_quantity("500m") == Approx(0.5));
  CHECK(*parse_quantity("1e3") == 1000.0L);
  CHECK(*parse_quantity("128974848") == 128974848.0L);
  CHECK_FALSE(parse_quantity("10GB"));
  CHECK_FALSE(parse_quantity("Gi"));
  CHECK_FALSE(parse_quantity(""));
}
