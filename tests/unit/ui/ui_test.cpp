// kbk ui's pieces on their own: --listen parsing and the loopback rule, the restore and backup command lines the
// page runs and exports, and patch validation at the right line.
#include <catch2/catch.hpp>

#include <kbk/json/json.hpp>
#include <kbk/ui/assets.hpp>
#include <kbk/ui/server.hpp>

using namespace kbk;

namespace {
json::Document spec(const char* text) { return json::parse(text, "spec").value(); }
}  // namespace

TEST_CASE("--listen: HOST:PORT, [v6]:PORT; loopback addresses") {
  CHECK(ui::parse_listen("127.0.0.1:0").value() == std::pair<std::string, int>{"127.0.0.1", 0});
  CHECK(ui::parse_listen("[::1]:8443").value() == std::pair<std::string, int>{"::1", 8443});
  CHECK(ui::parse_listen("0.0.0.0:80").value().first == "0.0.0.0");
  for (const char* bad : {"127.0.0.1", ":80", "host:", "host:99999", "host:8o", "[::1]80"}) {
    auto r = ui::parse_listen(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::config);
    CHECK(r.error().message.find(std::string("--listen ") + bad) == 0);
  }
  CHECK(ui::is_loopback("127.0.0.1"));
  CHECK(ui::is_loopback("127.1.2.3"));
  CHECK(ui::is_loopback("::1"));
  CHECK(ui::is_loopback("localhost"));
  CHECK_FALSE(ui::is_loopback("0.0.0.0"));
  CHECK_FALSE(ui::is_loopback("10.0.0.1"));
}

TEST_CASE("a restore spec becomes restore create's flags, each as --flag=VALUE") {
  auto s = spec(R"({"backup": "nightly", "name": "r1", "includeNamespaces": ["shop", "db"], "includeResources": "configmaps, services",
                    "selector": "app=web", "applications": ["apps/web.yaml", "apps/db"], "namespaceMappings": {"shop": "shop2"}, "storageClassMappings": {"gp2": "gp3"},
                    "imageMappings": {"docker.io": "mirror.local"}, "existingResourcePolicy": "update",
                    "modifiers": "version: kbk.io/v1\nrules: []\n"})");
  auto c = ui::restore_command(s, "/tmp/x/modifiers.yaml", "file:///b");
  REQUIRE(c);
  CHECK(c->args == std::vector<std::string>{"restore", "create", "r1", "--from-backup=nightly", "--include-namespaces=shop,db",
                                            "--include-resources=configmaps,services", "--selector=app=web",
                                            "--app=apps/web.yaml", "--app=apps/db", "--namespace-mappings=shop:shop2", "--storage-class-mappings=gp2:gp3",
                                            "--image-mappings=docker.io=mirror.local", "--existing-resource-policy=update",
                                            "--storage=file:///b", "--resource-modifiers=/tmp/x/modifiers.yaml"});
  CHECK(c->modifiers == "version: kbk.io/v1\nrules: []\n");
  CHECK(c->display ==
        "kbk restore create r1 --from-backup=nightly --include-namespaces=shop,db --include-resources=configmaps,services "
        "--selector=app=web --app=apps/web.yaml --app=apps/db --namespace-mappings=shop:shop2 --storage-class-mappings=gp2:gp3 "
        "--image-mappings=docker.io=mirror.local --existing-resource-policy=update --storage=file:///b "
        "--resource-modifiers=MODIFIERS.yaml");
}

TEST_CASE("a restore spec with nothing but the backup; values that would be flags or break a line are refused") {
  auto c = ui::restore_command(spec(R"({"backup": "b1", "modifiers": "  \n"})"), "M", "");
  REQUIRE(c);
  CHECK(c->args == std::vector<std::string>{"restore", "create", "--from-backup=b1"});
  CHECK(c->modifiers.empty());
  CHECK(c->display == "kbk restore create --from-backup=b1");
  CHECK(ui::restore_command(spec(R"({"backup": "b1", "selector": "a b"})"), "M", "")->display ==
        "kbk restore create --from-backup=b1 '--selector=a b'");
  struct Bad {
    const char* spec;
    const char* message;
  };
  for (const Bad& b : {Bad{R"({})", "backup: choose the backup to restore"},
                       Bad{R"({"backup": "--all"})", "backup: --all is not a backup name"},
                       Bad{R"({"backup": "b", "name": "-x"})", "name: -x is not a restore name"},
                       Bad{R"({"backup": "b", "selector": "a\nb"})", "--selector: a value holds a line break"},
                       Bad{R"({"backup": "b", "includeNamespaces": [1]})", "includeNamespaces: expected a list of strings"},
                       Bad{R"({"backup": "b", "namespaceMappings": {"shop": ""}})", "namespaceMappings: shop is mapped to nothing"},
                       Bad{R"({"backup": "b", "existingResourcePolicy": "merge"})", "existingResourcePolicy: expected none, update or recreate, not merge"}}) {
    auto r = ui::restore_command(spec(b.spec), "M", "");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::config);
    CHECK(r.error().message == b.message);
  }
}

TEST_CASE("a backup spec becomes backup create's flags") {
  auto c = ui::backup_command(spec(R"({"name": "b2", "includeNamespaces": "shop", "ttl": "24h", "labels": {"tier": "prod"}})"), "file:///b");
  REQUIRE(c);
  CHECK(c->args == std::vector<std::string>{"backup", "create", "b2", "--include-namespaces=shop", "--ttl=24h",
                                            "--labels=tier=prod", "--storage=file:///b"});
  CHECK_FALSE(ui::backup_command(spec(R"({"includeNamespaces": "shop"})"), ""));
}

TEST_CASE("patches are validated as typed, each problem at its line and column") {
  CHECK(ui::validate_patch("strategic", "spec:\n  type: NodePort\n").empty());
  CHECK(ui::validate_patch("merge", R"({"metadata": {"labels": {"a": null}}})").empty());
  CHECK(ui::validate_patch("json", "- {op: replace, path: /spec/replicas, value: 2}\n").empty());

  auto p = ui::validate_patch("strategic", "{\n  \"spec\": {\n    \"type\": NodePort\n  }\n}");
  REQUIRE(p.size() == 1);
  CHECK(p[0].line == 3);
  CHECK(p[0].column == 13);
  CHECK(p[0].message.find("invalid JSON") == 0);

  // A text nested 100,000 levels (a request body from whoever reaches the server): problems, never a crash.
  CHECK_FALSE(ui::validate_patch("merge", std::string(100000, '[') + std::string(100000, ']')).empty());

  p = ui::validate_patch("strategic", "spec:\n  type: NodePort\n  bad: : :\n");
  REQUIRE(p.size() == 1);
  CHECK(p[0].line == 3);

  p = ui::validate_patch("merge", "- a\n- b\n");
  REQUIRE(p.size() == 1);
  CHECK(p[0].message.find("a JSON merge patch is a map") == 0);

  p = ui::validate_patch("json", "- op: replace\n  path: /spec/replicas\n  value: 2\n- op: frob\n  path: /x\n- op: add\n  path: spec\n  value: 1\n- op: add\n  path: /a\n");
  REQUIRE(p.size() == 3);
  CHECK(p[0].line == 4);
  CHECK(p[0].message == "op frob is not add, remove, replace, move, copy or test");
  CHECK(p[1].line == 7);
  CHECK(p[1].message == "path spec is not a JSON pointer (it starts with /)");
  CHECK(p[2].line == 9);
  CHECK(p[2].message == "the add operation has no value");

  CHECK(ui::validate_patch("json", "op: add\n")[0].message.find("a JSON patch is a list") == 0);
  CHECK(ui::validate_patch("yaml", "a: b")[0].message.find("unknown patch type") == 0);
  CHECK(ui::validate_patch("strategic", "  \n")[0].message == "the patch is empty");
}

TEST_CASE("a modifier file's problems come with their line and column") {
  CHECK(ui::validate_modifiers("version: kbk.io/v1\nrules:\n- conditions: {groupResource: configmaps}\n  mergePatches: [{patchData: {a: b}}]\n").empty());
  auto p = ui::validate_modifiers("version: kbk.io/v1\nrules:\n- conditions: {groupResource: configmaps}\n  bogus: 1\n");
  REQUIRE_FALSE(p.empty());
  CHECK(p[0].line == 4);
  CHECK(p[0].column > 0);
  CHECK(p[0].message.find("MODIFIERS.yaml") == std::string::npos);
}

TEST_CASE("the page's files are embedded in the binary") {
  for (const char* name : {"index.html", "app.js", "app.css"}) {
    const ui::Asset* a = ui::find_asset(name);
    REQUIRE(a != nullptr);
    CHECK(a->size > 100);
  }
  CHECK(std::string(ui::find_asset("index.html")->content_type) == "text/html; charset=utf-8");
  CHECK(std::string(ui::find_asset("app.js")->content_type) == "text/javascript; charset=utf-8");
  CHECK(ui::find_asset("../CMakeLists.txt") == nullptr);
  CHECK(ui::find_asset("missing.js") == nullptr);
}
