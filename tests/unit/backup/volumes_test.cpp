// What a backup says about volumes (docs/format-archive.md section 3.3) and about selections that match nothing.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include <kbk/archive/location.hpp>
#include <kbk/backup/backup.hpp>
#include <kbk/backup/options.hpp>
#include <kbk/json/json.hpp>
#include <kbk/storage/backend.hpp>

#include "fake_client.hpp"

using namespace kbk;
using kbk::testing::FakeClient;
namespace fs = std::filesystem;

namespace {

struct Dir {
  std::string path;
  Dir() {
    char tmpl[] = "/tmp/kbk-volumes-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~Dir() { fs::remove_all(path); }
};

// A StatefulSet-like app: a pod mounting a claim bound to a CSI volume, plus an emptyDir and a hostPath; a PV no
// backed-up claim names; and a pod with only config volumes.
void add_stateful(FakeClient& c) {
  c.add("namespaces", R"({"metadata":{"name":"db","uid":"ns-db"},"status":{"phase":"Active"}})");
  c.add("namespaces", R"({"metadata":{"name":"kube-system","uid":"ks-uid"},"status":{"phase":"Active"}})");
  c.add("pods", R"({"metadata":{"name":"db-0","namespace":"db"},"spec":{"volumes":[
      {"name":"data","persistentVolumeClaim":{"claimName":"data-db-0"}},
      {"name":"cache","emptyDir":{"sizeLimit":"512Mi"}},
      {"name":"logs","hostPath":{"path":"/var/log/db"}},
      {"name":"conf","configMap":{"name":"db-conf"}},
      {"name":"token","projected":{"sources":[]}}],
    "containers":[{"name":"db","image":"postgres"}]}})");
  c.add("pods", R"({"metadata":{"name":"web","namespace":"db"},"spec":{"volumes":[{"name":"c","configMap":{"name":"db-conf"}}],
    "containers":[{"name":"web","image":"nginx"}]}})");
  c.add("configmaps", R"({"metadata":{"name":"db-conf","namespace":"db"},"data":{}})");
  c.add("persistentvolumeclaims", R"({"metadata":{"name":"data-db-0","namespace":"db"},
    "spec":{"volumeName":"pvc-1234","storageClassName":"fast","resources":{"requests":{"storage":"1Gi"}}},
    "status":{"phase":"Bound","capacity":{"storage":"2Gi"}}})");
  c.add("persistentvolumes", R"({"metadata":{"name":"pvc-1234"},"spec":{"storageClassName":"fast","capacity":{"storage":"2Gi"},
    "csi":{"driver":"hostpath.csi.k8s.io","volumeHandle":"h1"},"claimRef":{"namespace":"db","name":"data-db-0"}}})");
  c.add("persistentvolumes", R"({"metadata":{"name":"old-nfs"},"spec":{"storageClassName":"","capacity":{"storage":"10Gi"},
    "nfs":{"server":"10.0.0.9","path":"/export"}}})");
}

Result<backup::Summary> run(FakeClient& c, backup::Options o, std::string* marker = nullptr) {
  Dir dir;
  storage::OpenOptions oo;
  auto backend = storage::open(dir.path, oo);
  REQUIRE(backend.ok());
  if (o.name.empty()) o.name = "b1";
  o.parallel = 1;
  backup::RunContext ctx;
  ctx.server = "https://fake:6443";
  auto s = backup::run(c, testing::make_discovery(), **backend, o, ctx);
  if (s && marker) {
    auto text = (*backend)->get(archive::BackupPaths{o.name}.marker());
    REQUIRE(text.ok());
    *marker = *text;
  }
  return s;
}

const backup::VolumeRecord* find(const std::vector<backup::VolumeRecord>& v, const std::string& kind,
                                 const std::string& name) {
  for (const auto& r : v)
    if (r.kind == kind && (r.claim == name || r.volume == name || r.pod + ":" + r.pod_volume == name)) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("run lists every claim, unclaimed volume and data-holding pod volume, none with its data") {
  FakeClient c;
  add_stateful(c);
  std::string marker;
  backup::Options o;
  o.volume_data = false;  // --no-volume-data: the records say so
  auto s = run(c, o, &marker);
  REQUIRE(s.ok());
  CHECK(s->phase == "Completed");
  REQUIRE(s->volumes.size() == 4);

  const auto* claim = find(s->volumes, "PersistentVolumeClaim", "data-db-0");
  REQUIRE(claim);
  CHECK(claim->namespace_ == "db");
  CHECK(claim->volume == "pvc-1234");
  CHECK(claim->storage_class == "fast");
  CHECK(claim->capacity == "2Gi");  // status.capacity over the request
  CHECK(claim->source == "csi");
  CHECK(claim->driver == "hostpath.csi.k8s.io");
  CHECK(claim->pods == std::vector<std::string>{"db/db-0"});
  CHECK_FALSE(claim->data_included);
  CHECK(claim->reason == "VolumeDataNotRequested");
  CHECK(claim->message == "--no-volume-data: the backup holds the resources only");
  CHECK_FALSE(claim->data);

  const auto* nfs = find(s->volumes, "PersistentVolume", "old-nfs");
  REQUIRE(nfs);  // no backed-up claim names it
  CHECK(nfs->source == "nfs");
  CHECK(nfs->reason == "VolumeDataNotRequested");
  CHECK(nfs->capacity == "10Gi");
  CHECK_FALSE(find(s->volumes, "PersistentVolume", "pvc-1234"));  // told with its claim

  const auto* cache = find(s->volumes, "PodVolume", "db-0:cache");
  REQUIRE(cache);
  CHECK(cache->source == "emptyDir");
  CHECK(cache->capacity == "512Mi");
  const auto* logs = find(s->volumes, "PodVolume", "db-0:logs");
  REQUIRE(logs);
  CHECK(logs->source == "hostPath");
  CHECK_FALSE(find(s->volumes, "PodVolume", "db-0:conf"));   // a ConfigMap is backed up as an object
  CHECK_FALSE(find(s->volumes, "PodVolume", "db-0:token"));
  for (const auto& v : s->volumes) CHECK_FALSE(v.data_included);
  CHECK(s->warnings == 0);  // said, not counted against the backup

  // The marker (what describe and -o json read) carries the same list.
  auto m = json::parse(marker, "marker");
  REQUIRE(m.ok());
  const json::Value* vols = json::find(*m, "volumes");
  REQUIRE(vols);
  REQUIRE(vols->IsArray());
  CHECK(vols->Size() == 4);
  bool saw_claim = false;
  for (const auto& v : vols->GetArray()) {
    CHECK(json::find(v, "dataIncluded")->IsFalse());
    if (json::get_string(v, {"claim"}) == "data-db-0") {
      saw_claim = true;
      CHECK(json::get_string(v, {"persistentVolume"}) == "pvc-1234");
      CHECK(json::get_string(v, {"driver"}) == "hostpath.csi.k8s.io");
    }
  }
  CHECK(saw_claim);
  CHECK(json::find(*m, "volumeOptions") != nullptr);
}

TEST_CASE("a volume whose data cannot be taken fails the backup (PartiallyFailed), named with its reason") {
  // The fake cluster refuses to create the helper pod: the claim's data cannot be read. Never a silent hole.
  FakeClient c;
  add_stateful(c);
  std::string marker;
  backup::Options o;
  o.volumes.default_volumes_to_fs_backup = true;
  o.volumes.poll_interval = 0.01;
  auto s = run(c, o, &marker);
  REQUIRE(s.ok());
  CHECK(s->phase == "PartiallyFailed");
  const auto* claim = find(s->volumes, "PersistentVolumeClaim", "data-db-0");
  REQUIRE(claim);
  CHECK_FALSE(claim->data_included);
  REQUIRE(claim->data);
  CHECK(claim->data->outcome == volume::VolumeResult::Outcome::failed);
  CHECK(claim->reason == "DataFailed");
  CHECK(claim->message.find("helper pod") != std::string::npos);
  std::string errors;
  for (const auto& l : s->error_lines) errors += l + "\n";
  CHECK(errors.find("VolumeDataFailed") != std::string::npos);
  CHECK(errors.find("data-db-0") != std::string::npos);
  // The PersistentVolume told with its claim; one without a claim in the backup says why it has no data.
  const auto* nfs = find(s->volumes, "PersistentVolume", "old-nfs");
  REQUIRE(nfs);
  CHECK(nfs->reason == "ClaimNotInBackup");
  auto m = json::parse(marker, "marker");
  REQUIRE(m.ok());
  bool saw = false;
  for (const auto& v : json::find(*m, "volumes")->GetArray()) {
    if (json::get_string(v, {"claim"}) != "data-db-0") continue;
    saw = true;
    CHECK(json::get_string(v, {"outcome"}) == "failed");
    CHECK(json::get_string(v, {"dataPath"}) == "fs-backup");
    CHECK(json::get_string(v, {"decision", "source"}) == "flag");
    CHECK(json::find(v, "dataIncluded")->IsFalse());
  }
  CHECK(saw);
}

TEST_CASE("run records Velero's volume flags as asked, and the backup's labels") {
  FakeClient c;
  add_stateful(c);
  backup::Options o;
  o.volume_data = false;
  o.volumes.snapshot_volumes = false;
  o.labels = {{"tier", "prod"}};
  std::string marker;
  auto s = run(c, o, &marker);
  REQUIRE(s.ok());
  auto m = json::parse(marker, "marker");
  REQUIRE(m.ok());
  CHECK(json::at(*m, {"volumeOptions", "snapshotVolumes"})->IsFalse());
  CHECK(json::at(*m, {"volumeOptions", "defaultVolumesToFsBackup"})->IsFalse());
  CHECK(json::get_string(*m, {"labels", "tier"}) == "prod");
  CHECK(s->labels.at("tier") == "prod");
}

TEST_CASE("run warns about an --include-namespaces entry that names no namespace, and about an empty backup") {
  FakeClient c;
  add_stateful(c);
  backup::Options o;
  o.volume_data = false;
  o.include_namespaces = {"db", "doesnotexist", "nope-*"};
  auto s = run(c, o);
  REQUIRE(s.ok());
  CHECK(s->phase == "Completed");  // a warning, not a failure
  CHECK(s->warnings == 2);
  std::string all;
  for (const auto& l : s->warning_lines) all += l + "\n";
  CHECK(all.find("namespace doesnotexist does not exist (--include-namespaces)") != std::string::npos);
  CHECK(all.find("--include-namespaces nope-* matches no namespace of the cluster") != std::string::npos);

  backup::Options none;
  none.include_namespaces = {"doesnotexist"};
  auto empty = run(c, none);
  REQUIRE(empty.ok());
  CHECK(empty->items == 0);
  all.clear();
  for (const auto& l : empty->warning_lines) all += l + "\n";
  CHECK(all.find("namespace doesnotexist does not exist") != std::string::npos);
  CHECK(all.find("the selection matched no object: the backup is empty") != std::string::npos);
}

TEST_CASE("summary_to_json uses the marker's names and rounds the duration to milliseconds") {
  backup::Summary s;
  s.name = "b1";
  s.phase = "Completed";
  s.started = "2026-11-26T07:00:00Z";
  s.completed = "2026-11-26T07:00:01Z";
  s.duration_seconds = 0.031497650000000002;
  s.items = 3;
  s.by_resource = {{"configmaps", 3}};
  s.warning_lines = {"w"};
  s.warnings = 1;
  auto d = backup::summary_to_json(s);
  CHECK(json::get_string(d, {"startTimestamp"}) == "2026-11-26T07:00:00Z");
  CHECK(json::get_string(d, {"completionTimestamp"}) == "2026-11-26T07:00:01Z");
  CHECK(json::find(d, "durationSeconds")->GetDouble() == 0.031);
  CHECK(json::to_string(*json::find(d, "durationSeconds")) == "0.031");
  CHECK(json::at(d, {"counts", "items"})->GetUint64() == 3);
  CHECK(json::at(d, {"counts", "byResource", "configmaps"})->GetUint64() == 3);
  CHECK(json::find(d, "warnings")->IsArray());
  CHECK_FALSE(json::find(d, "started"));
  CHECK_FALSE(json::find(d, "itemsByResource"));
}

TEST_CASE("parse_labels takes KEY=VALUE pairs in Kubernetes label syntax") {
  auto l = backup::parse_labels("tier=prod, app.kubernetes.io/name=shop,empty=");
  REQUIRE(l.ok());
  CHECK(l->at("tier") == "prod");
  CHECK(l->at("app.kubernetes.io/name") == "shop");
  CHECK(l->at("empty").empty());
  for (const char* bad : {"novalue", "=x", "bad key=x", "k=bad value!"}) {
    INFO(bad);
    auto r = backup::parse_labels(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(Errc::config));
    CHECK(r.error().message.rfind("--labels ", 0) == 0);
  }
}
