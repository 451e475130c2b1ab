#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <kbk/app/definition.hpp>
#include <kbk/json/json.hpp>

using namespace kbk;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/kbk-app-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& rel, const std::string& text) const {
    const std::string p = path + "/" + rel;
    fs::create_directories(fs::path(p).parent_path());
    std::ofstream(p) << text;
    return p;
  }
};

std::string all_messages(const Error& e) {
  std::string s;
  for (const auto& c : e.causes) s += c.message + "\n";
  return s;
}

const char* k_wordpress = R"(apiVersion: kbk.io/v1
kind: Application
metadata:
  name: wordpress
  description: WordPress and MySQL
spec:
  parts:
  - name: web
    namespaces: [blog]
    selector: app.kubernetes.io/instance=wordpress
  - name: db
    names: [statefulsets/blog/mysql]
    follow: false
    exclude:
      names: [secrets/blog/scratch]
  - name: rbac
    clusterResources: [clusterroles]
    selector:
      matchLabels: {app: wordpress}
      matchExpressions:
      - {key: tier, operator: In, values: [web, db]}
  exclude:
    names: [configmaps/blog/cache]
  hooks:
  - template: mysql-flush-tables
    namespace: blog
    selector: app=mysql
    timeout: 30s
  restore:
    order: [statefulsets/blog/mysql, deployments]
)";

}  // namespace

TEST_CASE("parse reads parts, excludes, hooks and restore hints") {
  auto app = app::parse(k_wordpress, "wordpress.yaml");
  REQUIRE(app.ok());
  CHECK(app->names == std::vector<std::string>{"wordpress"});
  REQUIRE(app->parts.size() == 3);
  CHECK(app->parts[0].name == "wordpress/web");
  CHECK(app->parts[0].select.namespaces[0].text == "blog");
  CHECK(app->parts[0].select.namespaces[0].where == "wordpress.yaml:9:18");
  CHECK(app->parts[0].select.selector == "app.kubernetes.io/instance=wordpress");
  CHECK(app->parts[0].follow);
  CHECK_FALSE(app->parts[1].follow);
  // The part's own exclude first, then the application's.
  REQUIRE(app->parts[1].excludes.size() == 2);
  CHECK(app->parts[1].excludes[0].names[0].text == "secrets/blog/scratch");
  CHECK(app->parts[1].excludes[1].names[0].text == "configmaps/blog/cache");
  REQUIRE(app->parts[0].excludes.size() == 1);
  CHECK(app->parts[2].select.selector == "app=wordpress,tier in (web,db)");
  REQUIRE(app->hooks.size() == 1);
  CHECK(app->hooks[0].template_name == "mysql-flush-tables");
  CHECK(app->hooks[0].application == "wordpress");
  REQUIRE(app->restore_order.size() == 2);
  CHECK(app->restore_order[1].text == "deployments");
}

TEST_CASE("parse reports every problem as FILE:LINE:COL") {
  const char* bad = R"(apiVersion: kbk.io/v1
kind: Application
metadata:
  name: Bad_Name
spec:
  parts:
  - name: web
    namespace: [blog]
    selector: "app in (x"
  - name: web
    names: [deployments]
  - name: empty
    follow: maybe
  hooks:
  - template: x
)";
  auto app = app::parse(bad, "bad.yaml");
  REQUIRE_FALSE(app.ok());
  CHECK(app.error().code == Errc::invalid);
  const std::string all = all_messages(app.error());
  INFO(all);
  CHECK(all.find("bad.yaml:4:9: metadata.name \"Bad_Name\" must be a DNS-1123 subdomain") != std::string::npos);
  CHECK(all.find("bad.yaml:8:5: unknown field \"namespace\" in a part (allowed:") != std::string::npos);
  CHECK(all.find("bad.yaml:9:15: part \"web\".selector:") != std::string::npos);
  CHECK(all.find("bad.yaml:10:11: part \"web\": duplicate part name") != std::string::npos);
  CHECK(all.find("bad.yaml:11:13: part \"web\".names \"deployments\": expected resource/namespace/name") != std::string::npos);
  CHECK(all.find("bad.yaml:12:5: part \"empty\" selects nothing") != std::string::npos);
  CHECK(all.find("bad.yaml:13:13: part \"empty\": follow must be true or false") != std::string::npos);
  CHECK(all.find("bad.yaml:15:5: spec.hooks: namespace must be a namespace name") != std::string::npos);
  CHECK(all.find("bad.yaml:15:5: spec.hooks: selector is required") != std::string::npos);
  CHECK(app.error().message == app.error().causes.front().message);
}

TEST_CASE("parse refuses other versions and kinds, and syntax errors with their position") {
  auto v2 = app::parse("apiVersion: kbk.io/v2\nkind: Application\nmetadata: {name: a}\nspec: {parts: []}\n", "v2.yaml");
  REQUIRE_FALSE(v2.ok());
  CHECK(v2.error().message == "v2.yaml:1:13: unsupported apiVersion \"kbk.io/v2\" (supported: kbk.io/v1)");
  auto kind = app::parse("apiVersion: kbk.io/v1\nkind: Backup\nmetadata: {name: a}\nspec: {parts: [{name: p, namespaces: [a]}]}\n", "k.yaml");
  REQUIRE_FALSE(kind.ok());
  CHECK(kind.error().message == "k.yaml:2:7: kind must be Application, not \"Backup\"");
  auto syntax = app::parse("apiVersion: kbk.io/v1\nkind: [Application\n", "s.yaml");
  REQUIRE_FALSE(syntax.ok());
  CHECK(syntax.error().message.rfind("s.yaml:", 0) == 0);
  auto nothing = app::parse("apiVersion: kbk.io/v1\nkind: Application\nmetadata: {name: a}\nspec: {}\n", "n.yaml");
  REQUIRE_FALSE(nothing.ok());
  CHECK(nothing.error().message == "n.yaml:4:7: spec needs parts or includes (an application of nothing)");
}

TEST_CASE("load composes includes by file and by name along the search path") {
  TempDir dir;
  dir.write("shared/rbac.yaml", R"(apiVersion: kbk.io/v1
kind: Application
metadata: {name: rbac}
spec:
  parts:
  - {name: roles, clusterResources: [clusterroles], selector: team=web}
  restore:
    modifiers: [rbac-mods.yaml]
)");
  dir.write("shared/rbac-mods.yaml", "version: v1\nresourceModifierRules: []\n");
  dir.write("apps/mysql.yaml", R"(apiVersion: kbk.io/v1
kind: Application
metadata: {name: mysql}
spec:
  parts:
  - {name: db, namespaces: [blog], selector: app=mysql}
  exclude:
    names: [secrets/blog/mysql-scratch]
)");
  dir.write("apps/mods.yaml", "version: v1\nresourceModifierRules: []\n");
  const std::string top = dir.write("apps/wordpress.yaml", R"(apiVersion: kbk.io/v1
kind: Application
metadata: {name: wordpress}
spec:
  includes:
  - file: mysql.yaml
  - name: rbac
  parts:
  - {name: web, namespaces: [blog], selector: app=wordpress}
  exclude:
    namespaces: [blog-old]
  restore:
    modifiers: [mods.yaml]
)");
  SECTION("found through --app-path") {
    app::LoadOptions o;
    o.search_path = {dir.path + "/shared"};
    auto app = app::load({top}, o);
    REQUIRE(app.ok());
    CHECK(app->names == std::vector<std::string>{"wordpress"});
    CHECK(app->all_names == std::vector<std::string>{"wordpress", "mysql", "rbac"});
    REQUIRE(app->parts.size() == 3);
    CHECK(app->parts[0].name == "wordpress/web");
    CHECK(app->parts[1].name == "mysql/db");
    CHECK(app->parts[2].name == "rbac/roles");
    // mysql's own exclude, then wordpress's, which applies to what it includes.
    REQUIRE(app->parts[1].excludes.size() == 2);
    CHECK(app->parts[1].excludes[0].names[0].text == "secrets/blog/mysql-scratch");
    CHECK(app->parts[1].excludes[1].namespaces[0].text == "blog-old");
    // Included applications' modifiers first, the including one's last.
    REQUIRE(app->modifiers.size() == 2);
    CHECK(app->modifiers[0] == dir.path + "/shared/rbac-mods.yaml");
    CHECK(app->modifiers[1] == dir.path + "/apps/mods.yaml");
  }
  SECTION("a name not found names every folder searched") {
    auto app = app::load({top});
    REQUIRE_FALSE(app.ok());
    CHECK(app.error().message == top + ":7:5: include \"rbac\": no rbac.yaml or rbac.yml in " + dir.path +
                                     "/apps (add folders with --app-path)");
  }
}

TEST_CASE("load refuses include cycles naming the cycle, and counts a diamond once") {
  TempDir dir;
  const std::string a = dir.write("a.yaml", R"(apiVersion: kbk.io/v1
kind: Application
metadata: {name: a}
spec:
  includes: [{file: b.yaml}, {file: d.yaml}]
  parts: [{name: p, namespaces: [a]}]
)");
  dir.write("b.yaml", R"(apiVersion: kbk.io/v1
kind: Application
metadata: {name: b}
spec:
  includes: [{name: c}, {file: d.yaml}]
)");
  dir.write("c.yaml", R"(apiVersion: kbk.io/v1
kind: Application
metadata: {name: c}
spec:
  includes:
  - file: a.yaml
)");
  dir.write("d.yaml", R"(apiVersion: kbk.io/v1
kind: Application
metadata: {name: d}
spec:
  parts: [{name: p, namespaces: [d]}]
)");
  auto app = app::load({a});
  REQUIRE_FALSE(app.ok());
  CHECK(app.error().message == dir.path + "/c.yaml:6:5: include cycle: a.yaml -> b.yaml -> c.yaml -> a.yaml");

  dir.write("c.yaml", R"(apiVersion: kbk.io/v1
kind: Application
metadata: {name: c}
spec:
  parts: [{name: p, namespaces: [c]}]
)");
  auto ok = app::load({a});
  REQUIRE(ok.ok());
  std::vector<std::string> parts;
  for (const auto& p : ok->parts) parts.push_back(p.name);
  CHECK(parts == std::vector<std::string>{"a/p", "c/p", "d/p"});
}

TEST_CASE("load reads a folder and multi-document files; volume policies must agree") {
  TempDir dir;
  dir.write("apps/two.yaml", R"(apiVersion: kbk.io/v1
kind: Application
metadata: {name: one}
spec:
  parts: [{name: p, namespaces: [one]}]
  volumePolicy:
    inline:
      version: v1
      volumePolicies:
      - conditions: {storageClass: [local]}
        action: {type: skip}
---
apiVersion: kbk.io/v1
kind: Application
metadata: {name: two}
spec:
  parts: [{name: p, namespaces: [two]}]
)");
  dir.write("apps/notes.txt", "not an application\n");
  auto app = app::load({dir.path + "/apps"});
  REQUIRE(app.ok());
  CHECK(app->names == std::vector<std::string>{"one", "two"});
  REQUIRE(app->volume_policy);
  // The inline policy keeps the definition's line and column numbers.
  const std::string& t = app->volume_policy->text;
  CHECK(t.rfind("\n\n\n\n\n\n\n      version: v1\n      volumePolicies:\n", 0) == 0);
  CHECK(t.find("---") == std::string::npos);
  CHECK(t.find("name: two") == std::string::npos);
  auto policy = json::parse_yaml(t, "inline policy");
  REQUIRE(policy.ok());
  CHECK(json::get_string(*policy, {"version"}) == "v1");
  CHECK(json::find(*policy, "volumePolicies")->Size() == 1);

  dir.write("apps/three.yaml", R"(apiVersion: kbk.io/v1
kind: Application
metadata: {name: three}
spec:
  parts: [{name: p, namespaces: [three]}]
  volumePolicy: {file: missing.yaml}
)");
  auto bad = app::load({dir.path + "/apps"});
  REQUIRE_FALSE(bad.ok());
  INFO(all_messages(bad.error()));
  CHECK(all_messages(bad.error()).find("three.yaml:6:24: volume policy file " + dir.path + "/apps/missing.yaml") !=
        std::string::npos);
}

TEST_CASE("load says which path cannot be read") {
  auto app = app::load({"/nonexistent/app.yaml"});
  REQUIRE_FALSE(app.ok());
  CHECK(app.error().code == Errc::io);
  CHECK(app.error().message.rfind("/nonexistent/app.yaml: cannot read", 0) == 0);
}
