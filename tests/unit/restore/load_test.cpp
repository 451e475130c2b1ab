#include <catch2/catch.hpp>

#include <filesystem>
#include <unistd.h>

#include <kbk/archive/archive.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/restore/backup.hpp>
#include <kbk/restore/engine.hpp>

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

  // Writes backups/<name>/<name>.tar.gz with the items given, then the marker (or velero-backup.json).
  void write(const std::string& name, const std::vector<std::pair<archive::ItemKey, std::string>>& items,
             const std::vector<std::pair<std::string, std::string>>& files = {}, const std::string& velero_phase = "") {
    archive::BackupPaths p{name};
    auto sink = backend->put_stream(p.tarball(), {});
    REQUIRE(sink.ok());
    auto w = archive::make_writer(std::move(*sink));
    REQUIRE(w.ok());
    for (const auto& [key, json] : items) REQUIRE((*w)->add_item(key, json, true).ok());
    for (const auto& [path, data] : files) REQUIRE((*w)->add_file(path, data).ok());
    REQUIRE((*w)->finish().ok());
    if (velero_phase.empty()) {
      REQUIRE(backend->put(p.marker(), "{}", {}).ok());
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

TEST_CASE("load_backup reads a complete kbk backup and prefers the preferred-version copy", "[load]") {
  Location loc;
  loc.write("b1", {{key("", "v1", "configmaps", "app", "cfg"), k_cm},
                   {key("apps", "v1", "deployments", "app", "web"), R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"app"}})"}},
            {{"resources/configmaps/v2-preferredversion/namespaces/app/other.json",
              R"({"apiVersion":"v2","kind":"ConfigMap","metadata":{"name":"other","namespace":"app"}})"},
             {"resources/configmaps/v1beta1/namespaces/app/cfg.json", R"({"apiVersion":"v1beta1","kind":"ConfigMap","metadata":{"name":"cfg"}})"}});
  auto b = load_backup(*loc.backend, "b1");
  REQUIRE(b.ok());
  CHECK(b->origin == BackupOrigin::kbk);
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
  const std::string kind_twice = R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"app"},"kind":"Other"})";
  loc.write("b1", {{key("", "v1", "pods", "app", "p"), pod},
                   {key("", "v1", "namespaces", "", "app"), ns},
                   {key("", "v1", "configmaps", "app", "z"), cm},
                   {key("", "v1", "secrets", "app", "s"), kind_twice}});
  auto b = load_backup(*loc.backend, "b1");
  REQUIRE(b.ok());
  REQUIRE(b->items.size() == 4);
  std::vector<std::string> names;
  for (const BackupItem& it : b->items) names.push_back(it.key.resource + "/" + it.key.name);
  CHECK(names == std::vector<std::string>{"pods/p", "namespaces/app", "configmaps/z", "secrets/s"});
  CHECK(b->items[0].kind == "Pod");
  CHECK(b->items[0].key.version == "v1");
  CHECK(b->items[3].kind == "Secret");  // the first "kind", as json::find reads it
  const std::string originals[] = {pod, ns, cm, kind_twice};
  for (size_t i = 0; i < 4; ++i) {
    INFO(originals[i]);
    CHECK(b->items[i].object.text() == originals[i]);
    if (i == 3) continue;  // json::equal does not take duplicate keys; the text is the same
    auto want = json::parse(originals[i]);
    REQUIRE(want.ok());
    CHECK(json::equal(b->items[i].object.parse(), *want));
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
  };
  for (const Case& c : cases) {
    INFO(c.text);
    loc.write("bad", {{key("", "v1", "configmaps", "app", "good"), k_cm}, {key("", "v1", "configmaps", "app", "evil"), c.text}});
    auto b = load_backup(*loc.backend, "bad");
    REQUIRE_FALSE(b.ok());
    CHECK(b.error().code == Errc::corrupt);
    CHECK(b.error().message.find("backup bad: entry resources/configmaps/namespaces/app/evil.json") != std::string::npos);
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
    loc.write("bad", {{key("", "v1", "configmaps", "app", "a"), k_cm}, {key("", "v1", "configmaps", "app", "evil"), "[1,2,3]"}});
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
  }
}
