#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>
#include <pthread.h>
#include <unistd.h>

#include <kbk/archive/archive.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/restore/backup.hpp>
#include <kbk/restore/rollback.hpp>
#include <kbk/patch/modifiers.hpp>
#include <kbk/restore/engine.hpp>
#include <kbk/restore/transforms.hpp>

#include "fake_client.hpp"

using namespace kbk;
using namespace kbk::restore;

namespace {

namespace fs = std::filesystem;

struct Location {
  fs::path dir;
  std::unique_ptr<storage::Backend> backend;
  Location() {
    static int n = 0;
    dir = fs::temp_directory_path() / ("kbk-restore-load-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(dir);
    storage::OpenOptions o;
    o.create = true;
    auto b = storage::open("file://" + dir.string(), o);
    REQUIRE(b.ok());
    backend = std::move(*b);
  }
  ~Location() { fs::remove_all(dir); }

  // Writes backups/<name>/<name>.tar.gz with the items given, then, for a kbk backup, kbk/manifest.json listing
  // them with their checksums and the marker with the archive's (as the backup engine does); for a Velero backup,
  // velero-backup.json.
  void write(const std::string& name, const std::vector<std::pair<archive::ItemKey, std::string>>& items,
             const std::vector<std::pair<std::string, std::string>>& files = {}, const std::string& velero_phase = "",
             bool lie_about_first_item = false) {
    archive::BackupPaths p{name};
    auto sink = backend->put_stream(p.tarball(), {});
    REQUIRE(sink.ok());
    auto w = archive::make_writer(std::move(*sink));
    REQUIRE(w.ok());
    std::string listed;
    for (const auto& [key, json] : items) {
      auto sum = (*w)->add_item(key, json, true);
      REQUIRE(sum.ok());
      if (lie_about_first_item && listed.empty()) *sum = std::string(64, 'a');  // an item changed after the backup
      listed += std::string(listed.empty() ? "" : ",") + R"({"group":")" + key.group + R"(","version":")" + key.version +
                R"(","resource":")" + key.resource + R"(","namespace":")" + key.namespace_ + R"(","name":")" +
                key.name + R"(","sha256":")" + *sum + R"("})";
    }
    for (const auto& [path, data] : files) REQUIRE((*w)->add_file(path, data).ok());
    const std::string head = R"({"apiVersion":"kbk.io/v1alpha1","kind":"BackupManifest","name":")" + name +
                             R"(","uid":"u-)" + name + R"(","phase":"Completed","counts":{"items":)" +
                             std::to_string(items.size()) + "}";
    if (velero_phase.empty()) REQUIRE((*w)->add_file("kbk/manifest.json", head + R"(,"items":[)" + listed + "]}").ok());
    REQUIRE((*w)->finish().ok());
    if (velero_phase.empty()) {
      const std::string archive_member = R"(,"archive":{"key":")" + p.tarball() + R"(","bytes":)" +
                                         std::to_string((*w)->bytes_written()) + R"(,"sha256":")" +
                                         (*w)->stream_sha256() + R"("}})";
      REQUIRE(backend->put(p.marker(), head + archive_member, {}).ok());
    } else {
      REQUIRE(backend->put(p.velero_backup(), R"({"kind":"Backup","status":{"phase":")" + velero_phase + R"("}})", {}).ok());
    }
  }
};

archive::ItemKey key(const std::string& group, const std::string& version, const std::string& resource,
                     const std::string& ns, const std::string& name) {
  archive::ItemKey k;
  k.group = group;
  k.version = version;
  k.resource = resource;
  k.namespace_ = ns;
  k.name = name;
  return k;
}

const char* k_cm = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","namespace":"app"},"data":{"k":"legacy"}})";

}  // namespace

TEST_CASE("load_backup reads a complete kbk backup", "[load]") {
  Location loc;
  loc.write("b1", {{key("", "v1", "configmaps", "app", "cfg"), k_cm},
                   {key("apps", "v1", "deployments", "app", "web"), R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"app"}})"}});
  auto b = load_backup(*loc.backend, "b1");
  REQUIRE(b.ok());
  CHECK(b->origin == BackupOrigin::kbk);
  CHECK(b->items.size() == 2);
  CHECK(json::get_string(b->marker.parse(), {"uid"}) == "u-b1");
}

TEST_CASE("load_backup of a Velero backup prefers the preferred-version copy and skips other versions", "[load]") {
  Location loc;
  loc.write("b1", {{key("", "v1", "configmaps", "app", "cfg"), k_cm},
                   {key("apps", "v1", "deployments", "app", "web"), R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"app"}})"}},
            {{"resources/configmaps/v2-preferredversion/namespaces/app/other.json",
              R"({"apiVersion":"v2","kind":"ConfigMap","metadata":{"name":"other","namespace":"app"}})"},
             {"resources/configmaps/v1beta1/namespaces/app/cfg.json",
              R"({"apiVersion":"v1beta1","kind":"ConfigMap","metadata":{"name":"cfg","namespace":"app"}})"}},
            "Completed");
  auto b = load_backup(*loc.backend, "b1");
  REQUIRE(b.ok());
  CHECK(b->origin == BackupOrigin::velero);
  CHECK(b->marker.is_null());
  CHECK(b->format_version == "1.1.0");
  REQUIRE(b->items.size() == 3);
  for (const BackupItem& it : b->items) {
    CHECK(it.key.version != "v1beta1");  // non-preferred version copies are not restored
    if (it.key.name == "other") CHECK(it.key.version == "v2");
    if (it.key.resource == "deployments") CHECK(it.kind == "Deployment");
  }
}

TEST_CASE("load_backup keeps each item's text in archive order and reads apiVersion and kind from the top level", "[load]") {
  Location loc;
  // ownerReferences (with their own apiVersion and kind) come before the object's own; strings with escapes,
  // numbers of every kind, nesting.
  const std::string pod = R"({"metadata":{"name":"p","namespace":"app","ownerReferences":[{"apiVersion":"apps/v1",)"
                          R"("kind":"ReplicaSet","name":"rs","controller":true}]},"spec":{"containers":[{"name":"c",)"
                          R"("args":["a\"b","\u00e9\n"],"resources":{"limits":{"cpu":0.5}}}]},"kind":"Pod","apiVersion":"v1"})";
  const std::string ns = R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"app","uid":"u1"},"n":[-1,18446744073709551615,1e300]})";
  const std::string cm = R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"z","namespace":"app"},"data":{"k":"v"}})";
  const std::string secret = R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"app"},"type":"Opaque"})";
  loc.write("b1", {{key("", "v1", "pods", "app", "p"), pod},
                   {key("", "v1", "namespaces", "", "app"), ns},
                   {key("", "v1", "configmaps", "app", "z"), cm},
                   {key("", "v1", "secrets", "app", "s"), secret}});
  auto b = load_backup(*loc.backend, "b1");
  REQUIRE(b.ok());
  REQUIRE(b->items.size() == 4);
  std::vector<std::string> names;
  for (const BackupItem& it : b->items) names.push_back(it.key.resource + "/" + it.key.name);
  CHECK(names == std::vector<std::string>{"pods/p", "namespaces/app", "configmaps/z", "secrets/s"});
  CHECK(b->items[0].kind == "Pod");
  CHECK(b->items[0].key.version == "v1");
  CHECK(b->items[3].kind == "Secret");
  const std::string originals[] = {pod, ns, cm, secret};
  for (size_t i = 0; i < 4; ++i) {
    INFO(originals[i]);
    CHECK(b->items[i].object.text() == originals[i]);
    auto want = json::parse(originals[i]);
    REQUIRE(want.ok());
    CHECK(json::equal(b->items[i].object.parse(), *want));
  }
  // A restore's load keeps the same texts in its spool.
  auto spooled = load_backup(*loc.backend, "b1", {}, nullptr, Texts::spooled);
  REQUIRE(spooled.ok());
  REQUIRE(spooled->spool);
  REQUIRE(spooled->items.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    CHECK(spooled->items[i].object.held_text() == nullptr);
    CHECK(spooled->items[i].object.text() == originals[i]);
  }
  json::Document p = b->items[0].object.parse();
  CHECK(json::get_string(p, {"spec", "containers"}).empty());
  REQUIRE(json::at(p, {"spec", "containers"}) != nullptr);
  CHECK(json::get_string((*json::at(p, {"spec", "containers"}))[0]["args"][0], {}) == "a\"b");
}

TEST_CASE("load_backup refuses an item that is not one JSON object, naming the entry", "[load]") {
  Location loc;
  struct Case {
    const char* text;
    const char* says;
  };
  const Case cases[] = {
      {R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x")", "invalid JSON at offset"},  // truncated
      {R"({"apiVersion":"v1"} {"kind":"x"})", "invalid JSON at offset"},                           // two values
      {"", "invalid JSON at offset"},
      {"42", "not a JSON object"},
      {R"("text")", "not a JSON object"},
      {R"([{"apiVersion":"v1"}])", "not a JSON object"},
      {R"({"apiVersion":"v1","kind":"ConfigMap","data":{"k":"\x"}})", "invalid JSON at offset"},  // bad escape
      // Go's decoder takes the last of two members, RapidJSON's find the first: never both.
      {R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"evil","namespace":"app"},"kind":"ConfigMap"})",
       "member \"kind\" appears twice"},
      {R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"evil","namespace":"kube-system"}})",
       "metadata.namespace differs"},
      {R"({"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"evil","namespace":"app"}})",
       "not of the group its path names"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    loc.write("bad", {{key("", "v1", "configmaps", "app", "cfg"), k_cm}, {key("", "v1", "configmaps", "app", "evil"), c.text}});
    auto b = load_backup(*loc.backend, "bad");
    REQUIRE_FALSE(b.ok());
    CHECK(b.error().code == Errc::corrupt);
    INFO(b.error().message);
    CHECK(b.error().message.find("backup bad failed verification: entry resources/configmaps/namespaces/app/evil.json") == 0);
    CHECK(b.error().message.find(c.says) != std::string::npos);
  }
}

TEST_CASE("load_backup requires the completion marker or a finished Velero backup", "[load]") {
  Location loc;
  auto missing = load_backup(*loc.backend, "nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::not_found);

  loc.write("velero-ok", {{key("", "v1", "configmaps", "app", "cfg"), k_cm}}, {}, "Completed");
  auto v = load_backup(*loc.backend, "velero-ok");
  REQUIRE(v.ok());
  CHECK(v->origin == BackupOrigin::velero);
  CHECK(v->items.size() == 1);

  loc.write("velero-running", {{key("", "v1", "configmaps", "app", "cfg"), k_cm}}, {}, "InProgress");
  auto running = load_backup(*loc.backend, "velero-running");
  REQUIRE_FALSE(running.ok());
  CHECK(running.error().code == Errc::precondition);
  CHECK(running.error().message.find("InProgress") != std::string::npos);

  loc.write("partial", {{key("", "v1", "configmaps", "app", "cfg"), k_cm}});
  REQUIRE(loc.backend->remove(archive::BackupPaths{"partial"}.marker()).ok());
  auto incomplete = load_backup(*loc.backend, "partial");
  REQUIRE_FALSE(incomplete.ok());
  CHECK(incomplete.error().code == Errc::precondition);
}

TEST_CASE("restore_backup applies nothing from a truncated or hostile archive", "[load]") {
  Location loc;
  std::vector<std::pair<archive::ItemKey, std::string>> items;
  for (int i = 0; i < 200; ++i)
    items.push_back({key("", "v1", "configmaps", "app", "cm" + std::to_string(i)),
                     R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm)" + std::to_string(i) +
                         R"(","namespace":"app"},"data":{"k":")" + std::string(2000, static_cast<char>('a' + i % 26)) + R"("}})"});
  loc.write("good", items);
  PlanOptions po;
  po.restore_name = "r";
  RunOptions ro;

  SECTION("truncated") {
    archive::BackupPaths p{"good"};
    auto data = loc.backend->get(p.tarball());
    REQUIRE(data.ok());
    REQUIRE(loc.backend->put(p.tarball(), data->substr(0, data->size() / 2), {}).ok());
    test::FakeClient client;
    test::FakeResolver types(client);
    auto applier = make_cluster_applier(client, types, {});
    po.backup_name = "good";
    auto r = restore_backup(*loc.backend, po, *applier, ro);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::corrupt);
    CHECK(r.error().message.find("backup good") != std::string::npos);
    CHECK(client.writes() == 0);
  }
  SECTION("an item that is not a JSON object") {
    loc.write("bad", {{key("", "v1", "configmaps", "app", "cfg"), k_cm}, {key("", "v1", "configmaps", "app", "evil"), "[1,2,3]"}});
    test::FakeClient client;
    test::FakeResolver types(client);
    auto applier = make_cluster_applier(client, types, {});
    po.backup_name = "bad";
    auto r = restore_backup(*loc.backend, po, *applier, ro);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::corrupt);
    CHECK(r.error().message.find("backup bad") != std::string::npos);
    CHECK(r.error().message.find("resources/configmaps/namespaces/app/evil.json") != std::string::npos);
    CHECK(client.writes() == 0);
  }
  SECTION("an item whose checksum is not the manifest's (what `backup verify` rejects)") {
    loc.write("changed", items, {}, "", true);
    test::FakeClient client;
    test::FakeResolver types(client);
    auto applier = make_cluster_applier(client, types, {});
    po.backup_name = "changed";
    auto r = restore_backup(*loc.backend, po, *applier, ro);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::corrupt);
    CHECK(r.error().message.find("backup changed failed verification: configmaps/app/cm0: SHA-256") == 0);
    CHECK(client.writes() == 0);
  }
  SECTION("an archive whose checksum is not the marker's") {
    archive::BackupPaths p{"good"};
    auto data = loc.backend->get(p.tarball());
    REQUIRE(data.ok());
    std::string other = *data;
    loc.write("other", {{key("", "v1", "configmaps", "app", "x"),
                         R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"app"}})"}});
    auto swapped = loc.backend->get(archive::BackupPaths{"other"}.tarball());
    REQUIRE(swapped.ok());
    REQUIRE(loc.backend->put(p.tarball(), *swapped, {}).ok());
    test::FakeClient client;
    test::FakeResolver types(client);
    auto applier = make_cluster_applier(client, types, {});
    po.backup_name = "good";
    auto r = restore_backup(*loc.backend, po, *applier, ro);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("backup good failed verification") == 0);
    CHECK(r.error().message.find("differs from the marker's") != std::string::npos);
    CHECK(client.writes() == 0);
  }
  SECTION("--to-dir: a folder that stops taking files stops the run with one error") {
    const fs::path out = loc.dir / "out";
    auto applier = make_dir_applier(out.string());
    REQUIRE(applier.ok());
    fs::remove_all(out);  // every write fails now, as on a full disk
    po.backup_name = "good";
    auto r = restore_backup(*loc.backend, po, **applier, ro);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.rfind("--to-dir " + out.string() + ": ", 0) == 0);
    CHECK(r.error().message.find("No such file or directory; stopped after 0 manifest(s) written") != std::string::npos);
  }
  SECTION("intact: everything restored") {
    test::FakeClient client;
    test::FakeResolver types(client);
    auto applier = make_cluster_applier(client, types, {});
    po.backup_name = "good";
    auto r = restore_backup(*loc.backend, po, *applier, ro);
    REQUIRE(r.ok());
    CHECK(client.count("configmaps") == 200);
    REQUIRE(upload_report(*loc.backend, *r, "log line\n").ok());
    archive::RestorePaths rp{"r"};
    for (const std::string& k : {rp.logs(), rp.results(), rp.resource_list(), rp.marker()}) {
      auto st = loc.backend->stat(k);
      REQUIRE(st.ok());
      CHECK(st->has_value());
    }
    auto list = loc.backend->get(rp.resource_list());
    REQUIRE(list.ok());
    auto text = archive::gunzip(*list, "resource list");
    REQUIRE(text.ok());
    CHECK(text->find("\"v1/ConfigMap\":[\"app/cm0(created)\"") != std::string::npos);
    // The rollback record, written from the texts the restore spooled (past its buffer: 200 x 2 KiB), holds every
    // created object as it was sent.
    auto rb = read_rollback_record(*loc.backend, "r", nullptr);
    REQUIRE(rb.ok());
    REQUIRE(rb->size() == 201);  // and the namespace the restore made for them
    size_t matched = 0;
    for (const RollbackEntry& e : *rb) {
      CHECK(e.action == "created");
      if (e.resource == "namespaces") {
        CHECK(e.name == "app");
        continue;
      }
      CHECK(e.before.IsNull());
      CHECK_FALSE(e.uid.empty());
      const int i = std::stoi(e.name.substr(2));
      const std::string data = json::get_string(e.applied, {"data", "k"});
      matched += data == std::string(2000, static_cast<char>('a' + i % 26)) && json::get_string(e.applied, {"metadata", "name"}) == e.name;
    }
    CHECK(matched == 200);
  }
}

namespace {

// Runs fn on a thread whose stack is an eighth of the default (8 MiB): a walk that recursed once per level of a
// k_max_depth-deep object would overflow it.
void on_small_stack(const std::function<void()>& fn) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 1 << 20);
  pthread_t t;
  auto call = [](void* p) -> void* {
    (*static_cast<const std::function<void()>*>(p))();
    return nullptr;
  };
  REQUIRE(pthread_create(&t, &attr, call, const_cast<std::function<void()>*>(&fn)) == 0);
  pthread_join(t, nullptr);
  pthread_attr_destroy(&attr);
}

std::string deep_configmap(const std::string& name, const std::string& leaf) {
  const unsigned nested = json::k_max_depth - 1;  // under "deep", below the object's own level
  std::string s = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
                  R"(","namespace":"app","labels":{"a":"b"}},"data":{"k":"v"},"deep":)";
  for (unsigned i = 0; i < nested; ++i) s += R"({"a":)";
  s += "\"" + leaf + "\"";
  for (unsigned i = 0; i < nested; ++i) s += "}";
  return s + "}";
}

}  // namespace

TEST_CASE("an item as deep as json::k_max_depth goes through every restore path on a 1 MiB stack", "[load]") {
  Location loc;
  loc.write("deep", {{key("", "v1", "configmaps", "app", "d"), deep_configmap("d", "backup")}});
  auto doc = json::parse(deep_configmap("d", "backup"));
  REQUIRE(doc.ok());
  REQUIRE(json::depth(*doc) == json::k_max_depth);
  auto rules = patch::ModifierSet::parse(R"(version: v1
resourceModifierRules:
- conditions:
    groupResource: configmaps
  mergePatches:
  - patchData: |
      {"metadata": {"labels": {"modified": "yes"}}}
- conditions:
    groupResource: configmaps
  strategicPatches:
  - patchData: |
      {"data": {"s": "t"}}
- conditions:
    groupResource: configmaps
  patches:
  - {operation: add, path: /data/p, value: q}
)", "rules.yaml");
  REQUIRE(rules.ok());
  PlanOptions po;
  po.backup_name = "deep";
  po.restore_name = "r";
  po.transforms.push_back(make_modifiers_transform(std::move(*rules), "rules.yaml"));
  RunOptions ro;
  ro.parallel = 1;  // every item on the calling thread
  on_small_stack([&] {
    auto plan_only = make_plan_only_applier();
    auto dry = restore_backup(*loc.backend, po, *plan_only, ro);
    REQUIRE(dry.ok());
    CHECK(exit_code(*dry) == ExitCode::ok);

    const fs::path out = loc.dir / "out";
    auto dir = make_dir_applier(out.string());
    REQUIRE(dir.ok());
    auto written = restore_backup(*loc.backend, po, **dir, ro);
    REQUIRE(written.ok());
    CHECK(exit_code(*written) == ExitCode::ok);

    // Into a cluster, and again over the live objects with the update policy: compared, then patched.
    test::FakeClient client;
    test::FakeResolver types(client);
    ClusterApplierOptions co;
    co.existing = ExistingPolicy::update;
    co.sleep = [](double) {};
    auto applier = make_cluster_applier(client, types, co);
    auto first = restore_backup(*loc.backend, po, *applier, ro);
    REQUIRE(first.ok());
    CHECK(client.count("configmaps") == 1);
    loc.write("deep2", {{key("", "v1", "configmaps", "app", "d"), deep_configmap("d", "changed")}});
    po.backup_name = "deep2";
    auto second = restore_backup(*loc.backend, po, *applier, ro);
    REQUIRE(second.ok());
    const json::Document* live = client.find("configmaps", "app", "d");
    REQUIRE(live != nullptr);
    CHECK(json::get_string(*live, {"metadata", "labels", "modified"}) == "yes");
    CHECK(json::to_string(*live).find("\"changed\"") != std::string::npos);
  });
  size_t manifests = 0;
  for (const auto& e : fs::directory_iterator(loc.dir / "out")) {
    ++manifests;
    CHECK(fs::file_size(e.path()) < 400 * 1000);  // YAML: block style for 64 levels, flow below
  }
  CHECK(manifests >= 1);
}
