#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

#include "rest_client_fake_transport.hpp"
#include "query.hpp"
#include "rest_client_impl.hpp"

using namespace kbk;
using namespace kbk::kube;

namespace {

ResourceType configmaps() {
  ResourceType rt;
  rt.version = "v1";
  rt.resource = "configmaps";
  rt.kind = "ConfigMap";
  rt.namespaced = true;
  return rt;
}

ResourceType deployments() {
  ResourceType rt;
  rt.group = "apps";
  rt.version = "v1";
  rt.resource = "deployments";
  rt.kind = "Deployment";
  rt.namespaced = true;
  return rt;
}

RestConfig config(std::string server = "https://k8s.example:6443") {
  RestConfig c;
  c.server = std::move(server);
  c.token = "s3cr3t-token";
  return c;
}

std::string path_of(const http::Request& r) {
  const std::string prefix = "https://k8s.example:6443";
  return r.url.rfind(prefix, 0) == 0 ? r.url.substr(prefix.size()) : r.url;
}

std::string page(const std::vector<std::string>& names, const std::string& cont, int remaining = -1) {
  std::string items;
  for (const auto& n : names) {
    if (!items.empty()) items += ",";
    items += R"({"metadata":{"name":")" + n + R"(","namespace":"default"}})";
  }
  std::string meta = R"("resourceVersion":"77")";
  if (!cont.empty()) meta += R"(,"continue":")" + cont + "\"";
  if (remaining >= 0) meta += R"(,"remainingItemCount":)" + std::to_string(remaining);
  return R"({"kind":"ConfigMapList","apiVersion":"v1","metadata":{)" + meta + R"(},"items":[)" + items + "]}\n";
}

struct Fixture {
  std::shared_ptr<FakeTransport> fake = std::make_shared<FakeTransport>();
  std::vector<double> sleeps;
  std::unique_ptr<Client> client;
  explicit Fixture(RestConfig c = config(), ClientOptions o = {}) {
    client = make_client(c, o, fake, [this](double s) { sleeps.push_back(s); });
  }
};

}  // namespace

TEST_CASE("list pages through limit and continue, one page at a time") {
  Fixture f;
  f.fake->handler = [](const http::Request& r) -> Result<http::Response> {
    const std::string p = path_of(r);
    if (p == "/api/v1/namespaces/default/configmaps?limit=2&labelSelector=app%3Dweb&resourceVersion=5")
      return FakeTransport::answer(200, page({"a", "b"}, "t1", 3));
    if (p == "/api/v1/namespaces/default/configmaps?limit=2&continue=t1&labelSelector=app%3Dweb")
      return FakeTransport::answer(200, page({"c", "d"}, "t2", 1));
    if (p == "/api/v1/namespaces/default/configmaps?limit=2&continue=t2&labelSelector=app%3Dweb")
      return FakeTransport::answer(200, page({"e"}, ""));
    return FakeTransport::answer(404, "404 page not found\n", {{"Content-Type", "text/plain"}});
  };
  ListOptions o;
  o.limit = 2;
  o.label_selector = "app=web";
  o.resource_version = "5";
  std::vector<std::string> names;
  std::vector<std::optional<int64_t>> remaining;
  auto r = f.client->list(configmaps(), "default", o, [&](ListPage& p) -> Result<void> {
    for (const auto& item : p.list["items"].GetArray()) names.push_back(json::get_string(item, {"metadata", "name"}));
    remaining.push_back(p.remaining_item_count);
    CHECK(p.resource_version == "77");
    return {};
  });
  REQUIRE(r.ok());
  CHECK(names == std::vector<std::string>{"a", "b", "c", "d", "e"});
  CHECK(remaining == std::vector<std::optional<int64_t>>{3, 1, std::nullopt});
  CHECK(f.fake->seen.size() == 3);
}

TEST_CASE("list stops when on_page fails and returns its error") {
  Fixture f;
  f.fake->handler = [](const http::Request&) -> Result<http::Response> {
    return FakeTransport::answer(200, page({"a"}, "more"));
  };
  int pages = 0;
  auto r = f.client->list(configmaps(), "", ListOptions{}, [&](ListPage&) -> Result<void> {
    if (++pages == 2) return unexpected(Errc::io, "disk full");
    return {};
  });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::io);
  CHECK(pages == 2);
  CHECK(path_of(f.fake->seen[0]) == "/api/v1/configmaps?limit=500");
}

TEST_CASE("list returns an expired continue token as Errc::gone") {
  Fixture f;
  f.fake->handler = [](const http::Request& r) -> Result<http::Response> {
    if (path_of(r).find("continue=") == std::string::npos) return FakeTransport::answer(200, page({"a"}, "old"));
    return FakeTransport::answer(
        410,
        R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.","reason":"Expired","code":410})");
  };
  auto r = f.client->list(configmaps(), "default", ListOptions{}, [](ListPage&) -> Result<void> { return {}; });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::gone);
  CHECK(r.error().http_status == 410);
}

TEST_CASE("make_client sends the user agent, token, accept and impersonation headers") {
  RestConfig c = config();
  c.impersonate_user = "jane";
  c.impersonate_groups = {"devs", "ops"};
  Fixture f(c);
  f.fake->handler = [](const http::Request&) -> Result<http::Response> {
    return FakeTransport::answer(200, R"({"metadata":{"name":"x"}})");
  };
  auto r = f.client->get(configmaps(), "default", "x");
  REQUIRE(r.ok());
  const auto& req = f.fake->seen.at(0);
  CHECK(req.method == "GET");
  CHECK(path_of(req) == "/api/v1/namespaces/default/configmaps/x");
  CHECK(http::find_header(req.headers, "User-Agent") == std::optional<std::string>(std::string("kbk/") + KBK_VERSION));
  CHECK(http::find_header(req.headers, "Authorization") == std::optional<std::string>("Bearer s3cr3t-token"));
  CHECK(http::find_header(req.headers, "Accept") == std::optional<std::string>("application/json"));
  CHECK(http::find_header(req.headers, "Impersonate-User") == std::optional<std::string>("jane"));
  CHECK(http::find_headers(req.headers, "Impersonate-Group") == std::vector<std::string>{"devs", "ops"});
}

TEST_CASE("make_client sends basic auth and no credentials over plain http") {
  RestConfig c = config();
  c.token.clear();
  c.username = "admin";
  c.password = "pw";
  Fixture f(c);
  f.fake->handler = [](const http::Request&) -> Result<http::Response> { return FakeTransport::answer(200, "{}"); };
  REQUIRE(f.client->request("GET", "/version").ok());
  CHECK(http::find_header(f.fake->seen.at(0).headers, "Authorization") ==
        std::optional<std::string>("Basic " + util::base64_encode("admin:pw")));

  Fixture plain(config("http://127.0.0.1:8080"));
  plain.fake->handler = f.fake->handler;
  REQUIRE(plain.client->request("GET", "/version").ok());
  CHECK_FALSE(http::find_header(plain.fake->seen.at(0).headers, "Authorization"));
  CHECK(plain.fake->seen.at(0).url == "http://127.0.0.1:8080/version");
}

TEST_CASE("make_client re-reads a tokenFile when it changes") {
  char dir[] = "/tmp/kbk-token-XXXXXX";
  REQUIRE(mkdtemp(dir));
  const std::string file = std::string(dir) + "/token";
  std::ofstream(file) << "first\n";
  RestConfig c = config();
  c.token.clear();
  c.token_file = file;
  Fixture f(c);
  f.fake->handler = [](const http::Request&) -> Result<http::Response> { return FakeTransport::answer(200, "{}"); };
  REQUIRE(f.client->request("GET", "/version").ok());
  CHECK(http::find_header(f.fake->seen.back().headers, "Authorization") == std::optional<std::string>("Bearer first"));
  // A rotated token (new content, new mtime).
  std::ofstream(file + ".new") << "second";
  struct timespec times[2] = {{1000, 0}, {1000, 0}};
  REQUIRE(utimensat(AT_FDCWD, (file + ".new").c_str(), times, 0) == 0);
  REQUIRE(std::rename((file + ".new").c_str(), file.c_str()) == 0);
  REQUIRE(f.client->request("GET", "/version").ok());
  CHECK(http::find_header(f.fake->seen.back().headers, "Authorization") == std::optional<std::string>("Bearer second"));
  std::remove(file.c_str());
  rmdir(dir);
}

TEST_CASE("make_client retries 503 and 429 with the policy and gives Status errors otherwise") {
  Fixture f;
  int calls = 0;
  f.fake->handler = [&](const http::Request&) -> Result<http::Response> {
    ++calls;
    if (calls == 1) return FakeTransport::answer(503, "", {{"Content-Type", "text/plain"}});
    if (calls == 2) return FakeTransport::answer(429, "Too many requests, please try again later.\n", {{"Retry-After", "2"}});
    return FakeTransport::answer(
        403,
        R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"x\" is forbidden: User \"jane\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"default\"","reason":"Forbidden","details":{"name":"x","kind":"configmaps"},"code":403})");
  };
  auto r = f.client->get(configmaps(), "default", "x");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::forbidden);
  CHECK(r.error().message.find("cannot get resource \"configmaps\"") != std::string::npos);
  CHECK(calls == 3);
  REQUIRE(f.sleeps.size() == 2);
  CHECK(f.sleeps[1] == Approx(2));
}

TEST_CASE("a review POST is asked again after a 503; another POST is not sent twice after one") {
  // Restore's permission check (SelfSubjectAccessReviews) ended a restore with exit 4 on one 503 under chaos
  // faults: reviews store nothing, so they are retried like GETs.
  Fixture f;
  int calls = 0;
  f.fake->handler = [&](const http::Request&) -> Result<http::Response> {
    ++calls;
    if (calls == 1)
      return FakeTransport::answer(503, R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"the server is currently unable to handle the request","reason":"ServiceUnavailable","code":503})",
                                   {{"Retry-After", "1"}});
    return FakeTransport::answer(201, R"({"kind":"SelfSubjectAccessReview","status":{"allowed":true}})");
  };
  auto r = f.client->request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "{}");
  REQUIRE(r.ok());
  CHECK(calls == 2);
  REQUIRE(f.sleeps.size() == 1);
  CHECK(f.sleeps[0] == Approx(1));

  calls = 0;
  auto w = f.client->request("POST", "/api/v1/namespaces/default/configmaps", "{}");
  REQUIRE_FALSE(w.ok());
  CHECK(w.error().code == Errc::service_unavailable);
  CHECK(calls == 1);
}

TEST_CASE("post_stores_nothing: the review APIs, not their neighbours") {
  CHECK(post_stores_nothing("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"));
  CHECK(post_stores_nothing("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"));
  CHECK(post_stores_nothing("/apis/authorization.k8s.io/v1/subjectaccessreviews?timeout=10s"));
  CHECK(post_stores_nothing("/apis/authorization.k8s.io/v1/namespaces/shop/localsubjectaccessreviews"));
  CHECK(post_stores_nothing("/apis/authentication.k8s.io/v1/selfsubjectreviews"));
  CHECK(post_stores_nothing("/apis/authentication.k8s.io/v1beta1/tokenreviews"));
  CHECK_FALSE(post_stores_nothing("/api/v1/namespaces/default/configmaps"));
  CHECK_FALSE(post_stores_nothing("/apis/example.com/v1/reviews"));
  CHECK_FALSE(post_stores_nothing("/apis/authorization.k8s.io/v1"));
}

TEST_CASE("a JSON patch that only replaces is sent again after a 503; one that adds is not") {
  CHECK(json_patch_is_idempotent(R"([{"op":"replace","path":"/metadata/managedFields","value":[]}])"));
  CHECK(json_patch_is_idempotent(R"([{"op":"test","path":"/a","value":1},{"op":"replace","path":"/a","value":2}])"));
  CHECK_FALSE(json_patch_is_idempotent(R"([{"op":"add","path":"/spec/list/-","value":1}])"));
  CHECK_FALSE(json_patch_is_idempotent(R"([{"op":"replace","path":"/a","value":1},{"op":"remove","path":"/b"}])"));
  CHECK_FALSE(json_patch_is_idempotent("[]"));
  CHECK_FALSE(json_patch_is_idempotent("not json"));

  Fixture f;
  int calls = 0;
  f.fake->handler = [&](const http::Request&) -> Result<http::Response> {
    ++calls;
    if (calls % 2 == 1) return FakeTransport::answer(503, "", {{"Content-Type", "text/plain"}});
    return FakeTransport::answer(200, R"({"kind":"ConfigMap","metadata":{"name":"x"}})");
  };
  REQUIRE(f.client->patch(configmaps(), "default", "x", PatchType::json,
                          R"([{"op":"replace","path":"/metadata/managedFields","value":[]}])", {}).ok());
  CHECK(calls == 2);
  calls = 0;
  auto r = f.client->patch(configmaps(), "default", "x", PatchType::json, R"([{"op":"add","path":"/data/k","value":"v"}])", {});
  REQUIRE_FALSE(r.ok());
  CHECK(calls == 1);
}

TEST_CASE("defaults: no client-side rate limit, ten retries of a 429 with Retry-After") {
  ClientOptions defaults;
  CHECK(defaults.qps == 0);
  CHECK(defaults.max_retries == 10);
  Fixture f;
  int calls = 0;
  f.fake->handler = [&](const http::Request&) -> Result<http::Response> {
    ++calls;
    if (calls <= 10) return FakeTransport::answer(429, "Too many requests, please try again later.\n", {{"Retry-After", "1"}});
    return FakeTransport::answer(200, R"({"kind":"ConfigMap","metadata":{"name":"x"}})");
  };
  REQUIRE(f.client->get(configmaps(), "default", "x").ok());
  CHECK(calls == 11);
  CHECK(f.sleeps.size() == 10);
}

TEST_CASE("make_client shows each Warning header once") {
  Fixture f;
  std::vector<std::string> lines;
  log::set_sink([&](std::string_view l) { lines.emplace_back(l); });
  f.fake->handler = [](const http::Request&) -> Result<http::Response> {
    return FakeTransport::answer(200, "{}", {{"Warning", R"x(299 - "unknown field \"spec.colour\" (rest_client_test)")x"}});
  };
  REQUIRE(f.client->request("GET", "/x").ok());
  REQUIRE(f.client->request("GET", "/x").ok());
  log::set_sink(nullptr);
  int n = 0;
  for (const auto& l : lines) n += l.find("unknown field \"spec.colour\" (rest_client_test)") != std::string::npos;
  CHECK(n == 1);
}

TEST_CASE("create posts to the collection with write options") {
  Fixture f;
  f.fake->handler = [](const http::Request& r) -> Result<http::Response> {
    return FakeTransport::answer(201, r.body);
  };
  auto obj = json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop"},"spec":{"replicas":2}})");
  REQUIRE(obj.ok());
  WriteOptions w;
  w.dry_run = DryRun::yes;
  w.field_validation = "Strict";
  auto r = f.client->create(deployments(), "", *obj, w);
  REQUIRE(r.ok());
  const auto& req = f.fake->seen.at(0);
  CHECK(req.method == "POST");
  CHECK(path_of(req) == "/apis/apps/v1/namespaces/shop/deployments?dryRun=All&fieldManager=kbk&fieldValidation=Strict");
  CHECK(http::find_header(req.headers, "Content-Type") == std::optional<std::string>("application/json"));
  CHECK(json::get_string(*r, {"metadata", "name"}) == "web");
}

TEST_CASE("create resolves a 409 after a dropped first attempt by comparing the object") {
  auto obj = json::parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"default","labels":{"a":"1"}},"data":{"k":"v"}})");
  REQUIRE(obj.ok());
  const std::string stored =
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"default","uid":"u1","resourceVersion":"9","labels":{"a":"1"}},"data":{"k":"v"}})";
  auto run = [&](const std::string& found_body) {
    Fixture f;
    int posts = 0;
    f.fake->handler = [&](const http::Request& r) -> Result<http::Response> {
      if (r.method == "POST") {
        if (++posts == 1) {
          Error e{Errc::network, "POST x: Connection reset by peer"};
          e.reason = "sent";
          return e;
        }
        return FakeTransport::answer(
            409,
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"cm\" already exists","reason":"AlreadyExists","details":{"name":"cm","kind":"configmaps"},"code":409})");
      }
      return FakeTransport::answer(200, found_body);
    };
    auto r = f.client->create(configmaps(), "default", *obj, WriteOptions{});
    CHECK(posts == 2);
    return r;
  };
  auto same = run(stored);
  REQUIRE(same.ok());
  CHECK(json::get_string(*same, {"metadata", "uid"}) == "u1");

  std::string other = stored;
  other.replace(other.find(R"("k":"v")"), 7, R"("k":"w")");
  auto different = run(other);
  REQUIRE_FALSE(different.ok());
  CHECK(different.error().code == Errc::already_exists);
}

TEST_CASE("a deferred create hands its retry wait back and still resolves a 409 after its reset first attempt") {
  auto obj = json::parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"default"},"data":{"k":"v"}})");
  REQUIRE(obj.ok());
  Fixture f;
  int posts = 0;
  f.fake->handler = [&](const http::Request& r) -> Result<http::Response> {
    if (r.method == "POST") {
      if (++posts == 1) {  // the server made the object, the answer was lost
        Error e{Errc::network, "POST x: Connection reset by peer"};
        e.reason = "sent";
        return e;
      }
      return FakeTransport::answer(
          409,
          R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"cm\" already exists","reason":"AlreadyExists","details":{"name":"cm","kind":"configmaps"},"code":409})");
    }
    return FakeTransport::answer(
        200, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"default","uid":"u1"},"data":{"k":"v"}})");
  };
  Deferral deferral;
  WriteOptions w;
  w.deferral = &deferral;
  auto first = f.client->create(configmaps(), "default", *obj, w);
  REQUIRE_FALSE(first.ok());
  CHECK(deferral.deferred);  // not final: the caller sends it again after deferral.seconds
  CHECK(deferral.seconds > 0);
  CHECK(posts == 1);
  auto again = f.client->create(configmaps(), "default", *obj, w);
  REQUIRE(again.ok());
  CHECK_FALSE(deferral.deferred);
  CHECK(json::get_string(*again, {"metadata", "uid"}) == "u1");
  CHECK(posts == 2);
}

TEST_CASE("create does not second-guess a plain 409") {
  Fixture f;
  f.fake->handler = [](const http::Request&) -> Result<http::Response> {
    return FakeTransport::answer(409, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"cm\" already exists","reason":"AlreadyExists","code":409})");
  };
  auto obj = json::parse(R"({"metadata":{"name":"cm"}})");
  auto r = f.client->create(configmaps(), "default", *obj, WriteOptions{});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::already_exists);
  CHECK(f.fake->seen.size() == 1);
}

TEST_CASE("update, patch and remove use the object URL, content types and options") {
  Fixture f;
  f.fake->handler = [](const http::Request&) -> Result<http::Response> { return FakeTransport::answer(200, "{}"); };
  auto obj = json::parse(R"({"metadata":{"name":"web","namespace":"shop","resourceVersion":"3"},"status":{"replicas":1}})");
  REQUIRE(f.client->update(deployments(), "shop", *obj, WriteOptions{}, "status").ok());
  WriteOptions apply;
  apply.force = true;
  apply.field_manager = "kbk-restore";
  REQUIRE(f.client->patch(deployments(), "shop", "web", PatchType::apply, "{}", apply).ok());
  REQUIRE(f.client->patch(deployments(), "shop", "web", PatchType::strategic, "{}", WriteOptions{}, "scale").ok());
  DeleteOptions d;
  d.propagation_policy = "Background";
  REQUIRE(f.client->remove(deployments(), "shop", "web", d).ok());
  const auto& s = f.fake->seen;
  REQUIRE(s.size() == 4);
  CHECK(s[0].method == "PUT");
  CHECK(path_of(s[0]) == "/apis/apps/v1/namespaces/shop/deployments/web/status?fieldManager=kbk");
  CHECK(s[1].method == "PATCH");
  CHECK(path_of(s[1]) == "/apis/apps/v1/namespaces/shop/deployments/web?fieldManager=kbk-restore&force=true");
  CHECK(http::find_header(s[1].headers, "Content-Type") == std::optional<std::string>("application/apply-patch+yaml"));
  CHECK(path_of(s[2]) == "/apis/apps/v1/namespaces/shop/deployments/web/scale?fieldManager=kbk");
  CHECK(http::find_header(s[2].headers, "Content-Type") ==
        std::optional<std::string>("application/strategic-merge-patch+json"));
  CHECK(s[3].method == "DELETE");
  CHECK(path_of(s[3]) == "/apis/apps/v1/namespaces/shop/deployments/web");
  CHECK(s[3].body == R"({"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"})");
}

TEST_CASE("request_raw returns the body and Content-Type; transport failures say the server is unreachable") {
  Fixture f;
  f.fake->handler = [](const http::Request& r) -> Result<http::Response> {
    if (path_of(r) == "/down") {
      Error e{Errc::network, "GET https://k8s.example:6443/down: Failed to connect"};
      e.reason = "not_sent";
      return e;
    }
    return FakeTransport::answer(200, "{}", {{"Content-Type", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"}});
  };
  auto raw = f.client->request_raw("GET", "/apis", "", "", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
  REQUIRE(raw.ok());
  CHECK(raw->content_type == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
  CHECK(http::find_header(f.fake->seen.at(0).headers, "Accept") ==
        std::optional<std::string>("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"));
  ClientOptions no_retries;
  no_retries.max_retries = 0;
  Fixture g(config(), no_retries);
  g.fake->handler = f.fake->handler;
  auto down = g.client->request("GET", "/down");
  REQUIRE_FALSE(down.ok());
  CHECK(down.error().code == Errc::network);
  CHECK(down.error().message.rfind("cannot reach the API server: ", 0) == 0);
}

TEST_CASE("same_created_object compares what was sent with what is stored") {
  auto sent = json::parse(R"({"kind":"ConfigMap","metadata":{"name":"a","annotations":{"x":"1"}},"data":{"k":"v"}})");
  auto stored = json::parse(R"({"kind":"ConfigMap","metadata":{"name":"a","uid":"u","annotations":{"x":"1","y":"2"}},"data":{"k":"v"}})");
  auto other = json::parse(R"({"kind":"ConfigMap","metadata":{"name":"a","annotations":{"x":"2"}},"data":{"k":"v"}})");
  CHECK(same_created_object(*sent, *stored));
  CHECK_FALSE(same_created_object(*sent, *other));
}
