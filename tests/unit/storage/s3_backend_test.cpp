// The s3:// backend against the strict fake S3: what s3rver cannot check (Content-Length on every write,
// If-None-Match, Content-MD5) and the failure paths (throttling, 500s, truncated bodies, dropped connections, a
// failing multipart part, interrupted uploads, region redirects, error messages).
#include <kbk/storage/s3.hpp>

#include <catch2/catch.hpp>

#include <random>

#include <kbk/json/json.hpp>
#include <kbk/util/log.hpp>

#include "test_servers.hpp"

using namespace kbk;
using namespace kbk::storage;

namespace {

test::ServerProcess& fake() {
  test::use_test_aws_files();
  std::string why;
  auto* s = test::strict_s3(&why);
  if (!s) FAIL("strict fake S3 did not start: " << why);
  return *s;
}

std::string url(const std::string& extra = "", const std::string& bucket = test::k_bucket) {
  return "s3://" + bucket + "/" + test::unique_prefix() + "?endpoint=" + fake().endpoint() +
         "&profile=strict&part-size=5MiB&retry-backoff=0.001" + extra;
}

std::unique_ptr<Backend> open_ok(const std::string& u) {
  auto b = storage::open(u);
  if (!b) FAIL(b.error().message);
  return std::move(*b);
}

std::string prefix_of(const std::string& u) {
  auto start = u.find('/', 5) + 1;
  return u.substr(start, u.find('?') - start);
}

void fault(const std::string& op, const std::string& kind, int count, const std::string& match, int part = 0) {
  std::string body = "{\"op\":\"" + op + "\",\"kind\":\"" + kind + "\",\"count\":" + std::to_string(count) +
                     ",\"match\":\"" + match + "\"" + (part ? ",\"part\":" + std::to_string(part) : "") + "}";
  REQUIRE(test::control(fake(), "POST", "/__fault", body).status == 200);
}

// The requests the fake saw whose path contains `match`.
std::vector<json::Document> requests(const std::string& match) {
  auto r = test::control(fake(), "GET", "/__log");
  auto doc = json::parse(r.body);
  REQUIRE(doc.ok());
  std::vector<json::Document> out;
  for (const auto& e : doc->GetArray())
    if (json::get_string(e, {"path"}).find(match) != std::string::npos) out.push_back(json::clone(e));
  return out;
}

std::string header(const json::Value& entry, const char* name) { return json::get_string(entry, {"headers", name}); }

std::string make_data(size_t n) {
  std::mt19937 rng(42);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

struct LogCapture {
  std::vector<std::string> lines;
  std::mutex m;
  LogCapture() {
    log::set_sink([this](std::string_view l) {
      std::lock_guard lock(m);
      lines.emplace_back(l);
    });
  }
  ~LogCapture() { log::set_sink(nullptr); }
  bool contains(const std::string& s) {
    std::lock_guard lock(m);
    for (const auto& l : lines)
      if (l.find(s) != std::string::npos) return true;
    return false;
  }
};

}  // namespace

TEST_CASE("S3 put: Content-Length on every write, never chunked; If-None-Match and Content-MD5 where due") {
  const std::string u = url();
  auto b = open_ok(u);
  const std::string p = prefix_of(u);
  PutOptions exclusive;
  exclusive.if_exists = IfExists::fail;
  REQUIRE(b->put("small", "x", {}).ok());
  REQUIRE(b->put("exclusive", "y", exclusive).ok());
  auto w = b->put_stream("multi", {});
  REQUIRE(w.ok());
  const std::string data = make_data((11u << 20) + 5);
  REQUIRE((*w)->write(data).ok());
  REQUIRE((*w)->commit().ok());
  REQUIRE(b->remove_many({"small", "exclusive"}).ok());

  int writes = 0, parts = 0;
  for (const auto& e : requests(p)) {
    std::string method = json::get_string(e, {"method"});
    if (method != "PUT" && method != "POST") continue;
    ++writes;
    INFO(method << " " << json::get_string(e, {"path"}) << "?" << json::get_string(e, {"query"}));
    CHECK(json::get_string(e, {"content_length"}) != "");
    CHECK(json::get_string(e, {"transfer_encoding"}) == "");
    if (json::get_string(e, {"query"}).find("partNumber=") != std::string::npos) ++parts;
    if (json::get_string(e, {"path"}).find("/exclusive") != std::string::npos)
      CHECK(header(e, "if-none-match") == "*");
    if (json::get_string(e, {"query"}).find("delete") != std::string::npos) CHECK(header(e, "content-md5") != "");
  }
  CHECK(parts == 3);  // 5 MiB + 5 MiB + 1 MiB
  CHECK(writes >= 7);
  CHECK(*b->get("multi") == data);
}

TEST_CASE("S3 get_range: one ranged GET, no HEAD and no If-Match (a pack's range from the index)") {
  const std::string u = url();
  auto b = open_ok(u);
  const std::string p = prefix_of(u);
  const std::string data = make_data(100000);
  REQUIRE(b->put("data/ab/pack", data, {}).ok());
  auto got = b->get_range("data/ab/pack", 1000, 5000);
  REQUIRE(got.ok());
  CHECK((*got == data.substr(1000, 5000)));
  int gets = 0, heads = 0;
  for (const auto& e : requests(p + "/data/ab/pack")) {
    const std::string method = json::get_string(e, {"method"});
    if (method == "HEAD") ++heads;
    if (method != "GET") continue;
    ++gets;
    CHECK(header(e, "range") == "bytes=1000-5999");
    CHECK(header(e, "if-match") == "");
  }
  CHECK(gets == 1);
  CHECK(heads == 0);
  // get_stream still pins its ranges: a HEAD, then GETs with If-Match.
  auto s = b->get_stream("data/ab/pack", 1000, 5000);
  REQUIRE(s.ok());
  char buf[8192];
  while (*(*s)->read(buf, sizeof buf) > 0) {
  }
  heads = 0;
  for (const auto& e : requests(p + "/data/ab/pack")) heads += json::get_string(e, {"method"}) == "HEAD";
  CHECK(heads == 1);
}

TEST_CASE("S3 put with object-lock=true: Content-MD5 on every object and part write") {
  const std::string u = url("&object-lock=true");
  auto b = open_ok(u);
  REQUIRE(b->put("locked", "abc", {}).ok());
  REQUIRE(b->put("locked-big", make_data((6u << 20)), {}).ok());
  int checked = 0;
  for (const auto& e : requests(prefix_of(u))) {
    std::string q = json::get_string(e, {"query"});
    if (json::get_string(e, {"method"}) == "PUT") {
      CHECK(header(e, "content-md5") != "");
      ++checked;
    }
  }
  CHECK(checked == 3);  // one PUT, two parts
}

TEST_CASE("S3 retries: SlowDown, 500, dropped connections and truncated bodies are retried") {
  auto b = open_ok(url());
  fault("PUT", "slowdown", 2, "retry-put");
  REQUIRE(b->put("retry-put", "v1", {}).ok());
  int puts = 0;
  for (const auto& e : requests("/retry-put"))
    if (json::get_string(e, {"method"}) == "PUT") ++puts;
  CHECK(puts == 3);  // two throttled, one accepted
  fault("GET", "500", 2, "retry-put");
  auto got = b->get("retry-put");
  REQUIRE(got.ok());
  CHECK(*got == "v1");
  fault("PUT", "reset", 1, "retry-reset");
  REQUIRE(b->put("retry-reset", "v2", {}).ok());
  CHECK(*b->get("retry-reset") == "v2");

  const std::string data = make_data(3u << 20);
  REQUIRE(b->put("retry-trunc", data, {}).ok());
  fault("GET", "truncate", 1, "retry-trunc");
  auto whole = b->get("retry-trunc");
  REQUIRE(whole.ok());
  CHECK((*whole == data));
  fault("GET", "truncate", 1, "retry-trunc");
  auto s = b->get_stream("retry-trunc", 10, 1000);
  REQUIRE(s.ok());
  std::string part(2000, '\0');
  auto n = (*s)->read(part.data(), part.size());
  REQUIRE(n.ok());
  CHECK(part.substr(0, *n) == data.substr(10, *n));
  fault("UploadPart", "500", 1, "retry-part", 2);
  REQUIRE(b->put("retry-part", make_data(12u << 20), {}).ok());
}

TEST_CASE("S3 retries give up after max-retries with one clear message") {
  auto b = open_ok(url("&max-retries=2"));
  fault("PUT", "slowdown", 10, "give-up");
  auto r = b->put("give-up", "x", {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().is(Errc::too_many_requests));
  CHECK(r.error().reason == "SlowDown");
  const std::string& m = r.error().message;
  CHECK(m.find("s3://kbk-test/") != std::string::npos);
  CHECK(m.find("give-up") != std::string::npos);
  CHECK(m.find("SlowDown") != std::string::npos);
  CHECK(m.find("request id") != std::string::npos);
  REQUIRE(test::control(fake(), "POST", "/__reset").status == 200);
}

TEST_CASE("S3 multipart: a failing part aborts the upload and leaves no object") {
  const std::string u = url();
  auto b = open_ok(u);
  fault("UploadPart", "fail-part", 1, "doomed", 2);
  auto w = b->put_stream("doomed", {});
  REQUIRE(w.ok());
  auto r1 = (*w)->write(make_data(16u << 20));
  auto r2 = r1.ok() ? (*w)->commit() : r1;
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.error().message.find("UploadPart 2") != std::string::npos);
  CHECK(r2.error().message.find("InvalidPart") != std::string::npos);
  CHECK_FALSE(b->stat("doomed")->has_value());
  auto ups = test::control(fake(), "GET", "/__uploads");
  CHECK(ups.body.find(prefix_of(u)) == std::string::npos);
}

// Writers of simulated killed processes: never committed and never aborted (destroying one would abort its
// upload). Kept reachable for the life of the test binary so LeakSanitizer does not report the simulation.
static void abandon(std::unique_ptr<kbk::storage::Writer> w) {
  static auto* abandoned = new std::vector<kbk::storage::Writer*>;  // never destroyed: stays reachable at exit
  abandoned->push_back(w.release());
}

TEST_CASE("S3 cleanup_incomplete aborts multipart uploads older than the age, under the prefix only") {
  const std::string u = url();
  auto b = open_ok(u);
  {
    auto w = b->put_stream("interrupted", {});
    REQUIRE(w.ok());
    REQUIRE((*w)->write(make_data(11u << 20)).ok());  // two parts sent, the rest buffered
    abandon(std::move(*w));  // a killed process: never committed, never aborted
  }
  auto other = open_ok(url());
  {
    auto w = other->put_stream("elsewhere", {});
    REQUIRE(w.ok());
    REQUIRE((*w)->write(make_data(11u << 20)).ok());
    abandon(std::move(*w));
  }
  CHECK(test::control(fake(), "GET", "/__uploads").body.find(prefix_of(u) + "/interrupted") != std::string::npos);
  auto young = b->cleanup_incomplete(std::chrono::hours(24), "");
  REQUIRE(young.ok());
  CHECK(*young == 0);
  REQUIRE(test::control(fake(), "POST", "/__age_uploads", "{\"seconds\": 90000}").status == 200);
  auto old = b->cleanup_incomplete(std::chrono::hours(24), "");
  REQUIRE(old.ok());
  CHECK(*old == 1);
  auto left = test::control(fake(), "GET", "/__uploads").body;
  CHECK(left.find(prefix_of(u) + "/interrupted") == std::string::npos);
  CHECK(left.find("/elsewhere") != std::string::npos);  // another location's upload is not ours
  CHECK_FALSE(b->stat("interrupted")->has_value());
  (void)other->cleanup_incomplete(std::chrono::seconds(0), "");
}

TEST_CASE("S3 region redirect: followed once, with a warning naming the right region") {
  LogCapture logs;
  auto b = open_ok(url("&region=eu-west-3"));
  REQUIRE(b->put("redirected", "x", {}).ok());
  CHECK(*b->get("redirected") == "x");
  CHECK(logs.contains("is in region us-east-1, not eu-west-3"));
}

TEST_CASE("S3 list: pagination with continuation tokens") {
  REQUIRE(test::control(fake(), "POST", "/__page_size", "{\"page_size\": 3}").status == 200);
  auto b = open_ok(url());
  std::vector<std::string> want;
  for (int i = 0; i < 10; ++i) {
    std::string k = "p/" + std::to_string(i) + "/obj";
    REQUIRE(b->put(k, "x", {}).ok());
    want.push_back(k);
  }
  std::sort(want.begin(), want.end());
  std::vector<std::string> got;
  REQUIRE(b->list("p/", [&](const ObjectInfo& i) -> Result<void> {
               got.push_back(i.key);
               return {};
             }).ok());
  auto folders = b->list_prefixes("p/");
  REQUIRE(test::control(fake(), "POST", "/__page_size", "{\"page_size\": 1000}").status == 200);
  CHECK(got == want);
  REQUIRE(folders.ok());
  CHECK(folders->size() == 10);
}

TEST_CASE("S3 errors: one message naming bucket, key, code and request id") {
  auto missing_bucket = open_ok(url("", "no-such-bucket"));
  auto r = missing_bucket->get("some/key");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().is(Errc::precondition));
  CHECK(r.error().message.find("s3://no-such-bucket/") != std::string::npos);
  CHECK(r.error().message.find("NoSuchBucket") != std::string::npos);
  CHECK(r.error().message.find("request id") != std::string::npos);

  auto b = open_ok(url());
  auto nk = b->get("not/there");
  REQUIRE_FALSE(nk.ok());
  CHECK(nk.error().is(Errc::not_found));
  CHECK(nk.error().message.find("not/there") != std::string::npos);
  CHECK(nk.error().message.find("NoSuchKey") != std::string::npos);
  CHECK(nk.error().http_status == 404);
}

TEST_CASE("S3 signing: a wrong secret is refused as unauthorized, and no secret reaches the log") {
  aws::Environment env{[](const std::string& n) -> std::optional<std::string> {
    if (n == "AWS_ACCESS_KEY_ID") return std::string(test::k_strict_access_key);
    if (n == "AWS_SECRET_ACCESS_KEY") return std::string("not-the-secret-XYZZY");
    if (n == "AWS_EC2_METADATA_DISABLED") return std::string("true");
    if (n == "HOME") return std::string("/nonexistent");
    return std::nullopt;
  }};
  LogCapture logs;
  int old_v = log::verbosity();
  log::set_verbosity(10);
  std::string u = url();
  u.replace(u.find("&profile=strict"), 15, "");
  auto b = make_s3_backend(u, {}, env);
  REQUIRE(b.ok());
  auto r = (*b)->put("denied", "x", {});
  log::set_verbosity(old_v);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().is(Errc::unauthorized));
  CHECK(r.error().reason == "SignatureDoesNotMatch");
  CHECK_FALSE(logs.contains("not-the-secret-XYZZY"));
  CHECK_FALSE(r.error().message.find("not-the-secret") != std::string::npos);
}

TEST_CASE("resolve_s3_settings: URL options, flags, AWS config and defaults") {
  aws::Config cfg;
  cfg.profile = "default";
  cfg.region = "eu-central-1";
  auto s = resolve_s3_settings("s3://bucket/a/b/", {}, cfg);
  REQUIRE(s.ok());
  CHECK(s->bucket == "bucket");
  CHECK(s->prefix == "a/b/");
  CHECK(s->region == "eu-central-1");
  CHECK(s->endpoint.empty());

  OpenOptions o;
  o.settings = {{"s3-region", "flag-region"}, {"s3-endpoint", "http://10.0.0.1:9000/"}, {"path-style", "true"}};
  auto f = resolve_s3_settings("s3://b?region=url-region&part-size=64MiB", o, cfg);
  REQUIRE(f.ok());
  CHECK(f->region == "url-region");  // the URL wins over flags
  CHECK(f->endpoint == "http://10.0.0.1:9000");
  CHECK(f->addressing == Addressing::path);
  CHECK(f->part_size == (64ull << 20));
  CHECK(f->prefix.empty());

  cfg.s3_endpoint_url = "https://minio.example";
  CHECK(resolve_s3_settings("s3://b", {}, cfg)->endpoint == "https://minio.example");

  for (const char* bad : {"s3://", "s3:///prefix", "s3://b?part-size=1MiB", "s3://b?addressing=sideways",
                          "s3://b?endpoint=ftp://x", "s3://b?insecure-tls=maybe", "s3://b/a//c"}) {
    INFO(bad);
    auto e = resolve_s3_settings(bad, {}, cfg);
    REQUIRE_FALSE(e.ok());
    CHECK(e.error().is(Errc::config));
  }
}

// ---- listings that lie (docs/security.md, the bucket writer and a hostile endpoint) ---------------------------------

namespace {

// Stores objects under raw keys straight into the fake's bucket (keys kbk's own writes would never send).
void put_raw(const std::vector<std::string>& keys) {
  std::string body = "{\"bucket\":\"" + std::string(test::k_bucket) + "\",\"objects\":[";
  for (size_t i = 0; i < keys.size(); ++i) {
    json::Document k;
    const json::Value v = json::make_string(keys[i], k.GetAllocator());
    body += (i ? ",{\"key\":" : "{\"key\":") + json::to_string(v) + ",\"body\":\"x\"}";
  }
  body += "]}";
  REQUIRE(test::control(fake(), "POST", "/__put_raw", body).status == 200);
}

std::vector<std::string> keys_under(Backend& b, const std::string& prefix, Result<void>* result = nullptr) {
  std::vector<std::string> got;
  auto r = b.list(prefix, [&](const ObjectInfo& i) -> Result<void> {
    got.push_back(i.key);
    return {};
  });
  if (result) *result = r;
  else REQUIRE(r.ok());
  return got;
}

}  // namespace

TEST_CASE("S3 listings that lie: keys outside the prefix asked for are dropped, a token given twice is an error") {
  const std::string u = url();
  auto b = open_ok(u);
  REQUIRE(b->put("backups/b1/a", "x", {}).ok());
  fault("ListObjectsV2", "foreign-keys", 1, prefix_of(u));
  CHECK(keys_under(*b, "backups/b1/") == std::vector<std::string>{"backups/b1/a"});
  fault("ListObjectsV2", "loop-token", 1000, prefix_of(u));
  Result<void> r;
  keys_under(*b, "backups/b1/", &r);
  REQUIRE(test::control(fake(), "POST", "/__reset").status == 200);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("NextContinuationToken it gave before") != std::string::npos);
  CHECK(requests("list-type=2").size() < 10);  // it stopped at the second page, not at the fault's count
}

TEST_CASE("S3 listings that lie: a page larger than any real one is refused with one line, not held (issue 19)") {
  const std::string u = url();
  auto b = open_ok(u);
  REQUIRE(b->put("backups/b1/a", "x", {}).ok());
  REQUIRE(test::control(fake(), "POST", "/__reset").status == 200);  // the request log from here
  fault("ListObjectsV2", "huge-page", 1, prefix_of(u));
  Result<void> r;
  const auto keys = keys_under(*b, "backups/b1/", &r);
  REQUIRE_FALSE(r.ok());
  CHECK(keys.empty());
  CHECK(r.error().message.find("ListObjectsV2: the answer is larger than 32.0 MiB") != std::string::npos);
  CHECK(r.error().message.find('\n') == std::string::npos);
  size_t listings = 0;  // since the reset: refused, not retried
  for (const auto& e : requests(""))
    if (json::get_string(e, {"query"}).find("list-type=2") != std::string::npos) ++listings;
  CHECK(listings == 1);
  CHECK(keys_under(*b, "backups/b1/") == std::vector<std::string>{"backups/b1/a"});  // the next listing is served
}

TEST_CASE("S3 listings of hostile keys: .., control characters and 20,000 keys come back as they are, page by page") {
  const std::string u = url();
  const std::string p = prefix_of(u);
  auto b = open_ok(u);
  put_raw({p + "/backups/../kbk-manifest.json", p + "/backups/./x", p + "/backups/a\x1b[31m/kbk-manifest.json",
           p + "/backups//y"});
  auto hostile = keys_under(*b, "backups/");
  CHECK(hostile == std::vector<std::string>{"backups/../kbk-manifest.json", "backups/./x", "backups//y",
                                             "backups/a\x1b[31m/kbk-manifest.json"});
  // And as folders: the backup listing refuses each by name (tests/unit/archive/s3_listing_test.cpp).
  auto folders = b->list_prefixes("backups/");
  REQUIRE(folders.ok());
  CHECK(folders->size() == 4);
  std::vector<std::string> many;
  for (int i = 0; i < 20000; ++i) many.push_back(p + "/huge/" + std::to_string(100000 + i));
  put_raw(many);
  CHECK(keys_under(*b, "huge/").size() == 20000);
  CHECK(b->remove_many(keys_under(*b, "huge/")).ok());
  CHECK(keys_under(*b, "huge/").empty());
}
