// check_backup_access: the reviews behind `kbk auth can-i-backup`, against a fake API answering like RBAC.
#include <catch2/catch.hpp>

#include <map>
#include <mutex>
#include <set>

#include <kbk/kube/access.hpp>

using namespace kbk;
using namespace kbk::kube;

namespace {

ResourceType type(std::string group, std::string resource, bool namespaced) {
  ResourceType rt;
  rt.group = std::move(group);
  rt.version = "v1";
  rt.resource = std::move(resource);
  rt.namespaced = namespaced;
  return rt;
}

// Allowed: (namespace or "" for cluster scope, verb, group/resource). Rules per namespace for the rules review.
struct RbacFake : Client {
  std::set<std::string> allowed;  // "ns|verb|group|resource"
  std::map<std::string, std::string> rules;  // namespace -> resourceRules JSON
  std::vector<std::string> namespaces{"a", "b"};
  bool can_list_namespaces = true;
  bool incomplete = false;  // what the rules review says about other authorizers
  std::mutex mutex;
  int access_reviews = 0;
  int rules_reviews = 0;

  using Doc = Result<json::Document>;
  Doc get(const ResourceType&, std::string_view, std::string_view, std::string_view) override { return no(); }
  Result<void> list(const ResourceType& rt, std::string_view, const ListOptions&,
                    const std::function<Result<void>(ListPage&)>& on_page) override {
    if (rt.resource != "namespaces") return unexpected(Errc::unsupported, "fake");
    if (!can_list_namespaces) {
      Error e{Errc::forbidden, "namespaces is forbidden: User \"v\" cannot list resource \"namespaces\""};
      e.http_status = 403;
      return e;
    }
    std::string items;
    for (const auto& n : namespaces) items += (items.empty() ? "" : ",") + std::string(R"({"metadata":{"name":")") + n + "\"}}";
    ListPage p;
    p.list = std::move(*json::parse(R"({"items":[)" + items + "]}"));
    return on_page(p);
  }
  Doc create(const ResourceType&, std::string_view, const json::Value&, const WriteOptions&) override { return no(); }
  Doc update(const ResourceType&, std::string_view, const json::Value&, const WriteOptions&, std::string_view) override { return no(); }
  Doc patch(const ResourceType&, std::string_view, std::string_view, PatchType, std::string_view, const WriteOptions&,
            std::string_view) override { return no(); }
  Doc remove(const ResourceType&, std::string_view, std::string_view, const DeleteOptions&) override { return no(); }
  Doc request(std::string_view method, std::string_view path, std::string_view body, std::string_view,
              std::string_view) override {
    REQUIRE(method == "POST");
    auto req = json::parse(body);
    REQUIRE(req.ok());
    if (path == "/apis/authentication.k8s.io/v1/selfsubjectreviews")
      return json::parse(R"({"status":{"userInfo":{"username":"jane"}}})");
    if (path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews") {
      const json::Value& a = (*req)["spec"]["resourceAttributes"];
      const std::string key = json::get_string(a, {"namespace"}) + "|" + json::get_string(a, {"verb"}) + "|" +
                              json::get_string(a, {"group"}) + "|" + json::get_string(a, {"resource"});
      std::lock_guard lock(mutex);
      ++access_reviews;
      return json::parse(std::string(R"({"status":{"allowed":)") + (allowed.count(key) ? "true" : "false") + "}}");
    }
    if (path == "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews") {
      const std::string ns = json::get_string(*req, {"spec", "namespace"});
      std::lock_guard lock(mutex);
      ++rules_reviews;
      auto it = rules.find(ns);
      return json::parse(R"({"status":{"resourceRules":)" + (it == rules.end() ? std::string("[]") : it->second) +
                         R"(,"incomplete":)" + (incomplete ? "true" : "false") + "}}");
    }
    return no();
  }

private:
  static Doc no() { return unexpected(Errc::unsupported, "fake"); }
};

}  // namespace

TEST_CASE("rules_allow honours wildcards and ignores name-limited rules") {
  auto rules = json::parse(R"([
    {"verbs":["get","list"],"apiGroups":[""],"resources":["configmaps"]},
    {"verbs":["*"],"apiGroups":["apps"],"resources":["*"]},
    {"verbs":["get","list"],"apiGroups":[""],"resources":["secrets"],"resourceNames":["one"]},
    {"verbs":["create"],"apiGroups":["authorization.k8s.io"],"resources":["selfsubjectaccessreviews"]}
  ])");
  REQUIRE(rules.ok());
  CHECK(rules_allow(*rules, "list", "", "configmaps"));
  CHECK_FALSE(rules_allow(*rules, "list", "batch", "configmaps"));
  CHECK(rules_allow(*rules, "list", "apps", "deployments"));
  CHECK_FALSE(rules_allow(*rules, "list", "", "secrets"));
  CHECK_FALSE(rules_allow(*rules, "delete", "", "configmaps"));
  CHECK_FALSE(rules_allow(json::Value(), "list", "", "configmaps"));
}

TEST_CASE("check_backup_access reports nothing when everything is readable") {
  RbacFake f;
  for (const char* v : {"list", "get"}) {
    f.allowed.insert(std::string("|") + v + "||configmaps");
    f.allowed.insert(std::string("|") + v + "||nodes");
  }
  auto r = check_backup_access(f, {type("", "configmaps", true), type("", "nodes", false)}, "");
  REQUIRE(r.ok());
  CHECK(r->readable());
  CHECK(r->user == "jane");
  CHECK(r->checked == 2);
  CHECK(f.access_reviews == 4);
  CHECK(f.rules_reviews == 0);
}

TEST_CASE("check_backup_access looks namespace by namespace at types denied cluster-wide") {
  RbacFake f;
  f.allowed = {"|list||nodes"};  // get on nodes denied; nothing namespaced at cluster scope
  f.rules["a"] = R"([{"verbs":["get","list","watch"],"apiGroups":[""],"resources":["configmaps","secrets"]}])";
  f.rules["b"] = R"([{"verbs":["get","list"],"apiGroups":[""],"resources":["configmaps"]}])";
  auto r = check_backup_access(f, {type("", "configmaps", true), type("", "secrets", true), type("", "nodes", false)}, "");
  REQUIRE(r.ok());
  CHECK_FALSE(r->readable());
  CHECK(f.rules_reviews == 2);
  REQUIRE(r->denied.size() == 2);
  // configmaps: readable in every namespace, so not reported.
  CHECK(r->denied[0].type.resource == "secrets");
  CHECK(r->denied[0].verbs == std::vector<std::string>{"list", "get"});
  CHECK(r->denied[0].namespaces == std::vector<std::string>{"b"});
  CHECK(r->denied[1].type.resource == "nodes");
  CHECK(r->denied[1].verbs == std::vector<std::string>{"get"});
  CHECK(r->denied[1].namespaces.empty());
}

TEST_CASE("check_backup_access notes when namespaces cannot be listed") {
  RbacFake f;
  f.can_list_namespaces = false;
  auto r = check_backup_access(f, {type("", "configmaps", true)}, "");
  REQUIRE(r.ok());
  REQUIRE(r->denied.size() == 1);
  CHECK(r->denied[0].namespaces.empty());
  REQUIRE(r->notes.size() == 1);
  CHECK(r->notes[0].find("cannot list namespaces") != std::string::npos);
}

TEST_CASE("check_backup_access in one namespace asks about that namespace only") {
  RbacFake f;
  f.allowed = {"shop|list||configmaps", "shop|get||configmaps", "|list||nodes", "|get||nodes"};
  auto r = check_backup_access(f, {type("", "configmaps", true), type("", "nodes", false)}, "shop");
  REQUIRE(r.ok());
  CHECK(r->readable());
  CHECK(r->namespace_ == "shop");
  CHECK(f.rules_reviews == 0);
}

TEST_CASE("check_backup_access in one namespace names it for denied namespaced types") {
  RbacFake f;
  f.allowed = {"|list||nodes", "|get||nodes", "shop|get||secrets"};
  auto r = check_backup_access(f, {type("", "secrets", true), type("", "nodes", false)}, "shop");
  REQUIRE(r.ok());
  REQUIRE(r->denied.size() == 1);
  CHECK(r->denied[0].type.resource == "secrets");
  CHECK(r->denied[0].verbs == std::vector<std::string>{"list"});
  CHECK(r->denied[0].namespaces == std::vector<std::string>{"shop"});
}

// check_write_access: the reviews behind `kbk auth can-i-restore` and restore's own check.

namespace {
std::vector<WriteTarget> targets() {
  return {{type("", "configmaps", true), "shop"},
          {type("apps", "deployments", true), "shop"},
          {type("", "configmaps", true), "db"},
          {type("", "namespaces", false), ""}};
}
}  // namespace

TEST_CASE("check_write_access decides namespaced targets with one rules review per namespace") {
  RbacFake f;
  f.rules["shop"] = R"([{"verbs":["*"],"apiGroups":["","apps"],"resources":["*"]}])";
  f.rules["db"] = R"([{"verbs":["get","list","watch"],"apiGroups":[""],"resources":["*"]}])";
  f.allowed = {"|create||namespaces", "|get||namespaces", "|patch||namespaces"};
  auto r = check_write_access(f, targets(), {"create", "get", "patch"});
  REQUIRE(r.ok());
  CHECK(r->user == "jane");
  CHECK(r->checked == 4);
  REQUIRE(r->denied.size() == 1);
  CHECK(r->denied[0].type.resource == "configmaps");
  CHECK(r->denied[0].namespace_ == "db");
  CHECK(r->denied[0].verbs == std::vector<std::string>{"create", "patch"});  // in the order asked
  CHECK(r->denied[0].line() == "create,patch configmaps in namespace db");
  CHECK(r->summary() == "user \"jane\" cannot create,patch configmaps in namespace db");
  CHECK(f.rules_reviews == 2);   // one per namespace
  CHECK(f.access_reviews == 3);  // the cluster-scoped target, once per verb
}

TEST_CASE("check_write_access names a read-only identity's first denial and counts the rest") {
  RbacFake f;
  f.rules["shop"] = f.rules["db"] = R"([{"verbs":["get","list"],"apiGroups":["*"],"resources":["*"]}])";
  auto r = check_write_access(f, targets(), {"create", "get", "patch", "delete"});
  REQUIRE(r.ok());
  CHECK_FALSE(r->writable());
  REQUIRE(r->denied.size() == 4);
  CHECK(r->summary() == "user \"jane\" cannot create,patch,delete configmaps in namespace shop (and 3 more)");
}

TEST_CASE("check_write_access asks access reviews when the rules review is incomplete") {
  RbacFake f;
  f.incomplete = true;  // a webhook authorizer may allow more than RBAC says
  f.rules["shop"] = f.rules["db"] = "[]";
  for (const char* ns : {"shop", "db"})
    for (const char* v : {"create", "get", "patch"}) {
      f.allowed.insert(std::string(ns) + "|" + v + "||configmaps");
      f.allowed.insert(std::string(ns) + "|" + v + "|apps|deployments");
    }
  for (const char* v : {"create", "get", "patch"}) f.allowed.insert(std::string("|") + v + "||namespaces");
  auto r = check_write_access(f, targets(), {"create", "get", "patch"});
  REQUIRE(r.ok());
  CHECK(r->writable());
  CHECK(f.access_reviews == 12);
  REQUIRE(r->notes.size() == 1);
  CHECK(r->notes[0].find("incomplete") != std::string::npos);
}
