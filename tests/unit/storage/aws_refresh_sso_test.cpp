// Credentials that keep working for long runs: S3 refusing credentials as expired makes the backend fetch fresh
// ones and resend once; cached credentials are refreshed before they expire over a simulated run of hours; IAM
// Identity Center (SSO) profiles read the AWS CLI's token cache and get role credentials from the portal (the
// strict fake plays S3, STS and the portal).
#include <kbk/storage/aws.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include <kbk/json/json.hpp>
#include <kbk/storage/s3.hpp>
#include <kbk/util/exit_code.hpp>
#include <kbk/util/log.hpp>

#include "aws_test_env.hpp"
#include "test_servers.hpp"

namespace fs = std::filesystem;
using namespace kbk;
using namespace kbk::storage;
using SysClock = std::chrono::system_clock;

namespace {

using test::Home;
using test::env_of;

test::ServerProcess& fake() {
  std::string why;
  auto* s = test::strict_s3(&why);
  if (!s) FAIL("strict fake S3 did not start: " << why);
  return *s;
}

json::Document control_json(const std::string& path) {
  auto doc = json::parse(test::control(fake(), "GET", path).body);
  REQUIRE(doc.ok());
  return std::move(*doc);
}

// The access key ids that signed the requests whose path contains `match`, in order, per method.
std::vector<std::string> signers(const std::string& match, const std::string& method) {
  std::vector<std::string> out;
  auto log = control_json("/__log");
  for (const auto& e : log.GetArray())
    if (json::get_string(e, {"path"}).find(match) != std::string::npos && json::get_string(e, {"method"}) == method)
      out.push_back(json::get_string(e, {"access_key"}));
  return out;
}

void fault(const std::string& op, const std::string& kind, const std::string& match, int part = 0) {
  std::string body = "{\"op\":\"" + op + "\",\"kind\":\"" + kind + "\",\"count\":1,\"match\":\"" + match + "\"" +
                     (part ? ",\"part\":" + std::to_string(part) : "") + "}";
  REQUIRE(test::control(fake(), "POST", "/__fault", body).status == 200);
}

std::string make_data(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7919 + i / 4096) & 0xff);
  return s;
}

class FakeClock final : public util::Clock {
public:
  explicit FakeClock(SysClock::time_point t) : m_now(t) {}
  SysClock::time_point now() const override { return m_now; }
  void advance(SysClock::duration d) { m_now += d; }

private:
  SysClock::time_point m_now;
};

// 2030-01-01T00:00:00Z: credential n of the counting credential_process expires n hours after it.
const SysClock::time_point k_t0 = SysClock::time_point(std::chrono::seconds(1893456000));

// A credential_process that counts its runs in a file and hands out AK<n>, expiring n hours after k_t0.
void write_counting_process(const Home& h) {
  h.write("issue.sh", "#!/bin/sh\nc=" + h.path("count") +
                          "\nn=$(( $(cat \"$c\" 2>/dev/null || echo 0) + 1 ))\necho $n > \"$c\"\n"
                          "exp=$(date -u -d @$(( 1893456000 + n * 3600 )) +%Y-%m-%dT%H:%M:%SZ)\n"
                          "printf '{\"Version\": 1, \"AccessKeyId\": \"AK%d\", \"SecretAccessKey\": \"SK%d\", "
                          "\"SessionToken\": \"TK%d\", \"Expiration\": \"%s\"}\\n' $n $n $n $exp\n");
  fs::permissions(h.path("issue.sh"), fs::perms::owner_all);
  h.write(".aws/config", "[profile long]\ncredential_process = " + h.path("issue.sh") + "\n");
}

int runs_of(const Home& h) {
  std::ifstream in(h.path("count"));
  int n = 0;
  in >> n;
  return n;
}

// An in-process S3 for the simulated clock: AK<n> is valid until k_t0 + n hours of that clock; a request signed
// with an expired key, or any request while reject_next > 0, gets 400 ExpiredToken. Records every signer.
class ExpiringS3 final : public http::Transport {
public:
  explicit ExpiringS3(const FakeClock& clock) : m_clock(clock) {}
  Result<http::Response> send(const http::Request& req) override {
    std::lock_guard lock(m_mutex);
    std::string auth = http::find_header(req.headers, "Authorization").value_or("");
    auto at = auth.find("Credential=");
    std::string key = at == std::string::npos ? "" : auth.substr(at + 11, auth.find('/', at) - at - 11);
    signers.push_back(key);
    http::Response r;
    const bool expired = key.size() < 3 || m_clock.now() >= k_t0 + std::chrono::hours(std::stoi(key.substr(2)));
    if (expired || reject_next > 0) {
      if (!expired) --reject_next;
      ++rejected;
      r.status = 400;
      r.body = "<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message>"
               "<RequestId>R1</RequestId></Error>";
      return r;
    }
    r.status = 200;
    r.headers = {{"ETag", "\"e\""}};
    return r;
  }
  std::vector<std::string> signers;
  int rejected = 0;
  int reject_next = 0;

private:
  std::mutex m_mutex;
  const FakeClock& m_clock;
};

S3Settings fake_settings() {
  S3Settings s;
  s.bucket = "b";
  s.prefix = "p/";
  s.endpoint = "http://127.0.0.1:9";  // never dialled: the transport is in-process
  s.region = "us-east-1";
  s.retry_backoff_seconds = 0.001;
  return s;
}

std::shared_ptr<aws::CredentialsProvider> chain_of(const aws::Environment& env, const util::Clock* clock) {
  auto cfg = aws::load_config(env);
  if (!cfg) FAIL(cfg.error().message);
  auto chain = aws::make_default_chain(*cfg, env, nullptr, clock);
  if (!chain) FAIL(chain.error().message);
  return *chain;
}

}  // namespace

// ---- refresh after ExpiredToken --------------------------------------------------------------------------------

TEST_CASE("S3Core::call: ExpiredToken drops the cached credentials and resends once with new ones") {
  Home h;
  write_counting_process(h);
  FakeClock clock(k_t0);
  auto s3 = std::make_shared<ExpiringS3>(clock);
  auto backend = make_s3_backend(fake_settings(), chain_of(env_of({{"HOME", h.dir.string()}, {"AWS_PROFILE", "long"}}), &clock), s3);
  s3->reject_next = 1;  // AK1 is refused though not yet expired (a revoked session)
  auto r = backend->put("obj", "data", {});
  REQUIRE(r.ok());
  CHECK(s3->signers == std::vector<std::string>{"AK1", "AK2"});
  CHECK(runs_of(h) == 2);
  // The next request keeps the fresh key.
  REQUIRE(backend->put("obj2", "data", {}).ok());
  CHECK(s3->signers.back() == "AK2");

  // Refused again right after the refresh: one clear error, no loop.
  s3->reject_next = 2;
  auto again = backend->put("obj3", "data", {});
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().is(Errc::unauthorized));
  CHECK(again.error().message.find("ExpiredToken") != std::string::npos);
  CHECK(again.error().message.find("still refused after a refresh") != std::string::npos);
  CHECK(s3->signers.size() == 5u);  // obj: AK1 refused, AK2; obj2: AK2; obj3: AK2 refused, AK3 refused
}

TEST_CASE("S3Core::call: static keys that expire are one error naming their source, sent once") {
  FakeClock clock(k_t0 + std::chrono::hours(1000));
  auto s3 = std::make_shared<ExpiringS3>(clock);
  auto creds = chain_of(env_of({{"HOME", "/nonexistent"}, {"AWS_ACCESS_KEY_ID", "AK1"},
                                {"AWS_SECRET_ACCESS_KEY", "SK1"}, {"AWS_SESSION_TOKEN", "TK1"}}), &clock);
  CHECK(creds->source() == "environment");
  auto backend = make_s3_backend(fake_settings(), creds, s3);
  auto r = backend->put("obj", "data", {});
  REQUIRE_FALSE(r.ok());
  CHECK(s3->signers.size() == 1u);  // nothing to refresh: no pointless resend
  const std::string& m = r.error().message;
  CHECK(m.find('\n') == std::string::npos);
  CHECK(m.find("ExpiredToken") != std::string::npos);
  CHECK(m.find("credentials from environment have expired and kbk cannot refresh them") != std::string::npos);
  CHECK(m.find("SK1") == std::string::npos);
  CHECK(m.find("TK1") == std::string::npos);
  CHECK(exit_code_for(r.error()) == ExitCode::precondition);
}

TEST_CASE("RefreshingProvider: a simulated six-hour run refreshes before each expiry and no request fails") {
  Home h;
  write_counting_process(h);
  FakeClock clock(k_t0);
  auto s3 = std::make_shared<ExpiringS3>(clock);
  auto backend = make_s3_backend(fake_settings(), chain_of(env_of({{"HOME", h.dir.string()}, {"AWS_PROFILE", "long"}}), &clock), s3);
  int failed = 0;
  for (int minute = 0; minute < 6 * 60; ++minute) {
    if (!backend->put("obj-" + std::to_string(minute), "data", {}).ok()) ++failed;
    clock.advance(std::chrono::minutes(1));
  }
  CHECK(failed == 0);
  CHECK(s3->rejected == 0);
  CHECK(s3->signers.size() == 360u);  // one request per put: no retry was needed
  // Each hour-long credential was replaced five minutes before it ran out: AK1..AK7 in order.
  std::vector<std::string> distinct;
  for (const auto& k : s3->signers)
    if (distinct.empty() || distinct.back() != k) distinct.push_back(k);
  CHECK(distinct == std::vector<std::string>{"AK1", "AK2", "AK3", "AK4", "AK5", "AK6", "AK7"});
  CHECK(runs_of(h) == 7);
}

TEST_CASE("S3 ExpiredToken with role credentials: new AssumeRole, request re-signed, multipart parts replayed") {
  Home h;
  h.write(".aws/credentials", std::string("[base]\naws_access_key_id = ") + test::k_strict_access_key +
                                  "\naws_secret_access_key = " + test::k_strict_secret_key + "\n");
  h.write(".aws/config", "[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/kbk-refresh\n"
                         "source_profile = base\nregion = us-east-1\n");
  auto env = env_of({{"HOME", h.dir.string()}, {"AWS_PROFILE", "deploy"}, {"AWS_ENDPOINT_URL", fake().endpoint()}});
  const std::string prefix = test::unique_prefix();
  auto b = make_s3_backend("s3://" + std::string(test::k_bucket) + "/" + prefix + "?part-size=5MiB&retry-backoff=0.001",
                           {}, env);
  REQUIRE(b.ok());

  // A single PUT: the fake expires the role's key on it, for good.
  fault("PUT", "expire-key", prefix + "/single");
  REQUIRE((*b)->put("single", "payload", {}).ok());
  auto puts = signers(prefix + "/single", "PUT");
  REQUIRE(puts.size() == 2u);
  CHECK(puts[0] != puts[1]);
  CHECK(puts[1].rfind("ASIA", 0) == 0);
  CHECK(*(*b)->get("single") == "payload");

  // A streamed multipart upload whose second part meets the expiry; parts in flight with the old key are refused
  // too. Each is resent from its buffer with the new key and the object is whole.
  const std::string data = make_data(12u << 20);
  fault("UploadPart", "expire-key", prefix + "/big", 2);
  auto w = (*b)->put_stream("big", {});
  REQUIRE(w.ok());
  REQUIRE((*w)->write(data).ok());
  auto committed = (*w)->commit();
  REQUIRE(committed.ok());
  auto got = (*b)->get("big");
  REQUIRE(got.ok());
  CHECK(*got == data);
  std::set<std::string> part_signers;
  for (const auto& k : signers(prefix + "/big", "PUT")) part_signers.insert(k);
  CHECK(part_signers.size() == 2u);  // the expired key and the fresh one
  int role_calls = 0;
  const auto sts_calls = control_json("/__sts_calls");
  for (const auto& c : sts_calls.GetArray())
    if (json::get_string(c, {"role_arn"}) == "arn:aws:iam::123456789012:role/kbk-refresh") ++role_calls;
  CHECK(role_calls == 3);  // first credentials, then one refresh per expiry
}

// ---- IAM Identity Center (SSO) ---------------------------------------------------------------------------------

namespace {

const char* const k_sso_token = "kbk-test-sso-access-token";  // what the fake portal accepts

struct SsoHome : Home {
  SsoHome() {
    write(".aws/config",
          "[profile dev]\nsso_session = my-sso\nsso_account_id = 111122223333\nsso_role_name = KbkBackup\n"
          "region = us-east-1\n"
          "[sso-session my-sso]\nsso_start_url = https://example.awsapps.com/start\nsso_region = eu-west-1\n"
          "sso_registration_scopes = sso:account:access\n"
          "[profile legacy]\nsso_start_url = https://example.awsapps.com/start\nsso_region = eu-west-1\n"
          "sso_account_id = 444455556666\nsso_role_name = KbkLegacy\nregion = us-east-1\n"
          "[profile no-region]\nsso_session = no-region-session\nsso_account_id = 1\nsso_role_name = r\n"
          "[sso-session no-region-session]\nsso_start_url = https://example.awsapps.com/start\n"
          "[profile ghost-session]\nsso_session = nobody\nsso_account_id = 1\nsso_role_name = r\n"
          "[profile disagree]\nsso_session = my-sso\nsso_start_url = https://other.awsapps.com/start\n"
          "sso_account_id = 1\nsso_role_name = r\n"
          "[profile from-sso]\nrole_arn = arn:aws:iam::111122223333:role/kbk-from-sso\nsource_profile = chained\n"
          "region = us-east-1\n"
          "[profile chained]\nsso_session = my-sso\nsso_account_id = 777788889999\nsso_role_name = KbkChain\n");
  }
  // The AWS CLI's cache file for a session name (sha1 hex computed independently, with Python's hashlib).
  void token(const std::string& sha1, const std::string& access_token, const std::string& expires_at) const {
    write(".aws/sso/cache/" + sha1 + ".json",
          "{\"startUrl\": \"https://example.awsapps.com/start\", \"region\": \"eu-west-1\", \"accessToken\": \"" +
              access_token + "\", \"expiresAt\": \"" + expires_at + "\", \"refreshToken\": \"kbk-test-refresh\"}");
  }
  aws::Environment env(const std::string& profile) const {
    return env_of({{"HOME", dir.string()}, {"AWS_PROFILE", profile}, {"AWS_ENDPOINT_URL_SSO", fake().endpoint()},
                   {"AWS_ENDPOINT_URL_S3", fake().endpoint()}});
  }
};

const char* const k_my_sso_sha1 = "0ad374308c5a4e22f723adf10145eafad7c4031c";         // sha1("my-sso")
const char* const k_start_url_sha1 = "e8be5486177c5b5392bd9aa76563515b29358e6e";  // sha1(the start URL)

Result<void> sso_put(const aws::Environment& env) {
  auto b = make_s3_backend("s3://" + std::string(test::k_bucket) + "/" + test::unique_prefix(), {}, env);
  if (!b) return unexpected(b.error());
  KBK_TRY((*b)->put("sso-check", "ok", {}));
  auto got = (*b)->get("sso-check");
  if (!got) return unexpected(got.error());
  if (*got != "ok") return unexpected(Errc::corrupt, "read back something else");
  return {};
}

bool sso_called_with(const std::string& account, const std::string& role) {
  const auto calls = control_json("/__sso_calls");
  for (const auto& c : calls.GetArray())
    if (json::get_string(c, {"account_id"}) == account && json::get_string(c, {"role_name"}) == role) return true;
  return false;
}

}  // namespace

TEST_CASE("sso_cache_file_name: SHA-1 hex of the session name or start URL, as the AWS CLI names it") {
  CHECK(aws::sso_cache_file_name("my-sso") == std::string(k_my_sso_sha1) + ".json");
  CHECK(aws::sso_cache_file_name("https://example.awsapps.com/start") == std::string(k_start_url_sha1) + ".json");
}

TEST_CASE("parse_sso_role_credentials: roleCredentials with expiration in milliseconds") {
  auto t = aws::parse_sso_role_credentials(
      R"({"roleCredentials": {"accessKeyId": "ASIAX", "secretAccessKey": "s", "sessionToken": "t", "expiration": 1893456000000}})");
  REQUIRE(t.ok());
  CHECK(t->credentials.access_key_id == "ASIAX");
  CHECK(t->credentials.session_token == "t");
  REQUIRE(t->expiration);
  CHECK(*t->expiration == k_t0);
  CHECK_FALSE(aws::parse_sso_role_credentials(R"({"message": "nope"})").ok());
  CHECK_FALSE(aws::parse_sso_role_credentials(R"({"roleCredentials": {"accessKeyId": "A"}})").ok());
}

TEST_CASE("SSO profile with sso_session: cached token, portal role credentials, S3 with them; token never logged") {
  SsoHome h;
  h.token(k_my_sso_sha1, k_sso_token, "2099-01-01T00:00:00Z");
  std::vector<std::string> lines;
  std::mutex lines_mutex;
  log::set_verbosity(9);
  log::set_sink([&](std::string_view l) {
    std::lock_guard lock(lines_mutex);
    lines.emplace_back(l);
  });
  auto r = sso_put(h.env("dev"));
  log::set_sink(nullptr);
  log::set_verbosity(0);
  if (!r) FAIL(r.error().message);
  CHECK(sso_called_with("111122223333", "KbkBackup"));
  bool saw_portal = false;
  for (const auto& l : lines) {
    INFO(l);
    CHECK(l.find(k_sso_token) == std::string::npos);
    CHECK(l.find("kbk-test-refresh") == std::string::npos);
    if (l.find("/federation/credentials") != std::string::npos) saw_portal = true;
  }
  CHECK(saw_portal);  // the trace did cover the portal request
}

TEST_CASE("SSO legacy profile: sso_start_url in the profile, token cached under the start URL's hash") {
  SsoHome h;
  h.token(k_start_url_sha1, k_sso_token, "2099-01-01T00:00:00UTC");  // the older CLIs' expiresAt form
  auto r = sso_put(h.env("legacy"));
  if (!r) FAIL(r.error().message);
  CHECK(sso_called_with("444455556666", "KbkLegacy"));
}

TEST_CASE("SSO: expired, missing or refused token is one line telling which login to run") {
  SsoHome h;
  SECTION("expired in the cache") {
    h.token(k_my_sso_sha1, k_sso_token, "2020-01-01T00:00:00Z");
    auto r = sso_put(h.env("dev"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "AWS SSO session my-sso has expired: run `aws sso login --profile dev`");
    CHECK(r.error().is(Errc::unauthorized));
    CHECK(exit_code_for(r.error()) == ExitCode::precondition);
  }
  SECTION("no cache file") {
    auto r = sso_put(h.env("dev"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.rfind("AWS SSO session my-sso is not logged in", 0) == 0);
    CHECK(r.error().message.find(": run `aws sso login --profile dev`") != std::string::npos);
    CHECK(exit_code_for(r.error()) == ExitCode::precondition);
  }
  SECTION("the portal refuses the token") {
    h.token(k_my_sso_sha1, "a-revoked-token", "2099-01-01T00:00:00Z");
    auto r = sso_put(h.env("dev"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "AWS SSO session my-sso has expired: run `aws sso login --profile dev`");
    CHECK(r.error().message.find("a-revoked-token") == std::string::npos);
  }
  SECTION("legacy profile names its start URL") {
    auto r = sso_put(h.env("legacy"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("AWS SSO session https://example.awsapps.com/start") == 0);
    CHECK(r.error().message.find("--profile legacy`") != std::string::npos);
  }
}

TEST_CASE("SSO as a role's source_profile: STS refusing the SSO credentials as expired gets them renewed once") {
  SsoHome h;
  h.token(k_my_sso_sha1, k_sso_token, "2099-01-01T00:00:00Z");
  auto env = env_of({{"HOME", h.dir.string()}, {"AWS_PROFILE", "from-sso"}, {"AWS_ENDPOINT_URL", fake().endpoint()}});
  auto sso_calls = [] {
    int n = 0;
    const auto calls = control_json("/__sso_calls");
    for (const auto& c : calls.GetArray())
      if (json::get_string(c, {"role_name"}) == "KbkChain") ++n;
    return n;
  };
  const int before = sso_calls();
  // The first AssumeRole expires the SSO role credentials that signed it.
  fault("AssumeRole", "expire-key", "arn:aws:iam::111122223333:role/kbk-from-sso");
  auto r = sso_put(env);
  if (!r) FAIL(r.error().message);
  CHECK(sso_called_with("777788889999", "KbkChain"));
  CHECK(sso_calls() - before == 2);  // the first credentials, then one renewal

  // With the login expired, the role profile gives the same one-line advice, naming the SSO profile.
  h.token(k_my_sso_sha1, k_sso_token, "2020-01-01T00:00:00Z");
  auto expired = sso_put(env_of({{"HOME", h.dir.string()}, {"AWS_PROFILE", "from-sso"},
                                 {"AWS_ENDPOINT_URL", fake().endpoint()}}));
  REQUIRE_FALSE(expired.ok());
  CHECK(expired.error().message == "AWS SSO session my-sso has expired: run `aws sso login --profile chained`");
}

TEST_CASE("SSO: incomplete or inconsistent profiles are configuration errors naming the profile") {
  SsoHome h;
  const std::map<std::string, std::string> expect{
      {"no-region", "lacks sso_region"},
      {"ghost-session", "[sso-session nobody]"},
      {"disagree", "https://other.awsapps.com/start"},
  };
  for (const auto& [profile, words] : expect) {
    INFO(profile);
    auto env = h.env(profile);
    auto cfg = aws::load_config(env);
    REQUIRE(cfg.ok());
    auto chain = aws::make_default_chain(*cfg, env, nullptr);
    REQUIRE_FALSE(chain.ok());
    CHECK(chain.error().is(Errc::config));
    CHECK(chain.error().message.find("AWS profile " + profile) != std::string::npos);
    CHECK(chain.error().message.find(words) != std::string::npos);
  }
}
