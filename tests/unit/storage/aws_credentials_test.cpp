// The AWS CLI settings and credential chain, with an injected environment and temporary ~/.aws files; the sources
// that talk to STS, a container endpoint or instance metadata are checked end to end against the strict fake, which
// issues temporary keys and then accepts only correctly signed S3 requests made with them.
#include <kbk/storage/aws.hpp>

#include <catch2/catch.hpp>

#include <kbk/http/http.hpp>

#include <filesystem>
#include <fstream>
#include <map>

#include <kbk/storage/s3.hpp>
#include <kbk/util/log.hpp>

#include "aws_test_env.hpp"
#include "test_servers.hpp"

namespace fs = std::filesystem;
using namespace kbk;
using namespace kbk::storage;

namespace {

using test::Home;
using test::env_of;

sigv4::Credentials creds_of(const aws::Environment& env, const std::string& profile = "") {
  auto cfg = aws::load_config(env, profile);
  if (!cfg) FAIL(cfg.error().message);
  auto chain = aws::make_default_chain(*cfg, env, nullptr);
  if (!chain) FAIL(chain.error().message);
  auto c = (*chain)->get();
  if (!c) FAIL(c.error().message);
  return *c;
}

test::ServerProcess& fake() {
  std::string why;
  auto* s = test::strict_s3(&why);
  if (!s) FAIL("strict fake S3 did not start: " << why);
  return *s;
}

// A put and get through the fake with the chain env describes; fails the test with the error otherwise.
void round_trip(const aws::Environment& env) {
  auto b = make_s3_backend("s3://" + std::string(test::k_bucket) + "/" + test::unique_prefix(), {}, env);
  if (!b) FAIL(b.error().message);
  auto p = (*b)->put("cred-check", "ok", {});
  if (!p) FAIL(p.error().message);
  CHECK(*(*b)->get("cred-check") == "ok");
}

}  // namespace

TEST_CASE("parse_ini: sections, comments, nested values, errors") {
  auto ini = aws::parse_ini("# c\n[default]\nregion = eu-west-1\n; c\n[profile x]\ns3 =\n  addressing_style = path\n"
                            "Aws_Access_Key_Id=AK\n",
                            "config");
  REQUIRE(ini.ok());
  CHECK((*ini)["default"]["region"] == "eu-west-1");
  CHECK((*ini)["profile x"]["s3.addressing_style"] == "path");
  CHECK((*ini)["profile x"]["aws_access_key_id"] == "AK");
  auto bad = aws::parse_ini("[default]\nno equals sign\n", "config");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("config line 2") != std::string::npos);
  CHECK_FALSE(aws::parse_ini("key = outside\n", "f").ok());
}

TEST_CASE("load_config: profile selection, region/endpoint/CA precedence") {
  Home h;
  h.write(".aws/config", "[default]\nregion = us-west-2\n[profile prod]\nregion = eu-north-1\nendpoint_url = https://minio.prod\n"
                         "ca_bundle = ~/ca.pem\n");
  h.write(".aws/credentials", "[prod]\naws_access_key_id = AKPROD\naws_secret_access_key = SKPROD\n");
  auto base = aws::load_config(env_of({{"HOME", h.dir.string()}}));
  REQUIRE(base.ok());
  CHECK(base->profile == "default");
  CHECK(base->region == "us-west-2");

  auto prod = aws::load_config(env_of({{"HOME", h.dir.string()}, {"AWS_PROFILE", "prod"}}));
  REQUIRE(prod.ok());
  CHECK(prod->region == "eu-north-1");
  CHECK(prod->s3_endpoint_url == "https://minio.prod");
  CHECK(prod->ca_bundle == h.path("ca.pem"));

  auto env_wins = aws::load_config(env_of({{"HOME", h.dir.string()}, {"AWS_PROFILE", "prod"},
                                           {"AWS_REGION", "ap-south-1"}, {"AWS_DEFAULT_REGION", "x"},
                                           {"AWS_ENDPOINT_URL", "http://generic"}, {"AWS_ENDPOINT_URL_S3", "http://s3only"},
                                           {"AWS_CA_BUNDLE", "/etc/ca.pem"}}));
  REQUIRE(env_wins.ok());
  CHECK(env_wins->region == "ap-south-1");
  CHECK(env_wins->s3_endpoint_url == "http://s3only");
  CHECK(env_wins->sts_endpoint_url == "http://generic");
  CHECK(env_wins->ca_bundle == "/etc/ca.pem");

  // Other file locations.
  h.write("elsewhere/creds", "[alt]\naws_access_key_id = AKALT\naws_secret_access_key = SKALT\n");
  h.write("elsewhere/conf", "[profile alt]\nregion = sa-east-1\n");
  auto alt = aws::load_config(env_of({{"HOME", "/nonexistent"}, {"AWS_SHARED_CREDENTIALS_FILE", h.path("elsewhere/creds")},
                                      {"AWS_CONFIG_FILE", h.path("elsewhere/conf")}}),
                              "alt");
  REQUIRE(alt.ok());
  CHECK(alt->region == "sa-east-1");

  auto missing = aws::load_config(env_of({{"HOME", h.dir.string()}, {"AWS_PROFILE", "nope"}}));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().is(Errc::config));
  CHECK(missing.error().message.find("\"nope\"") != std::string::npos);
}

TEST_CASE("make_default_chain: environment keys, then profile keys, then credential_process") {
  Home h;
  h.write(".aws/credentials", "[default]\naws_access_key_id = AKFILE\naws_secret_access_key = SKFILE\n"
                              "aws_session_token = TKFILE\n");
  h.write(".aws/config", "[profile proc]\ncredential_process = " + h.path("proc.sh") + " --secret-arg\n"
                         "[profile broken]\ncredential_process = " + h.path("fail.sh") + " --secret-arg\n"
                         "[profile cfgkeys]\naws_access_key_id = AKCFG\naws_secret_access_key = SKCFG\n");
  h.write("proc.sh", "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"AKPROC\", \"SecretAccessKey\": \"SKPROC\", "
                     "\"SessionToken\": \"TKPROC\", \"Expiration\": \"2099-01-01T00:00:00Z\"}'\n");
  h.write("fail.sh", "#!/bin/sh\necho oops >&2\nexit 3\n");
  fs::permissions(h.path("proc.sh"), fs::perms::owner_all);
  fs::permissions(h.path("fail.sh"), fs::perms::owner_all);
  const std::string home = h.dir.string();

  auto env_keys = creds_of(env_of({{"HOME", home}, {"AWS_ACCESS_KEY_ID", "AKENV"}, {"AWS_SECRET_ACCESS_KEY", "SKENV"},
                                   {"AWS_SESSION_TOKEN", "TKENV"}, {"AWS_PROFILE", "proc"}}));
  CHECK(env_keys.access_key_id == "AKENV");  // environment keys win over any profile
  CHECK(env_keys.session_token == "TKENV");

  auto file = creds_of(env_of({{"HOME", home}}));
  CHECK(file.access_key_id == "AKFILE");
  CHECK(file.session_token == "TKFILE");
  CHECK(creds_of(env_of({{"HOME", home}}), "cfgkeys").access_key_id == "AKCFG");

  auto proc = creds_of(env_of({{"HOME", home}, {"AWS_PROFILE", "proc"}}));
  CHECK(proc.access_key_id == "AKPROC");
  CHECK(proc.secret_access_key == "SKPROC");
  CHECK(proc.session_token == "TKPROC");

  auto env = env_of({{"HOME", home}, {"AWS_PROFILE", "broken"}});
  auto cfg = aws::load_config(env);
  REQUIRE(cfg.ok());
  auto chain = aws::make_default_chain(*cfg, env, nullptr);
  REQUIRE(chain.ok());
  auto err = (*chain)->get();
  REQUIRE_FALSE(err.ok());
  CHECK(err.error().message.find("exited with status 3") != std::string::npos);
  CHECK(err.error().message.find("--secret-arg") == std::string::npos);  // command arguments may hold secrets
}

TEST_CASE("make_default_chain: configuration errors are named") {
  Home h;
  h.write(".aws/config", "[profile lonely]\nrole_arn = arn:aws:iam::1:role/r\n"
                         "[profile loop-a]\nrole_arn = arn:a\nsource_profile = loop-b\n"
                         "[profile loop-b]\nrole_arn = arn:b\nsource_profile = loop-a\n"
                         "[profile ghost]\nrole_arn = arn:g\nsource_profile = nobody\n");
  for (const char* p : {"lonely", "loop-a", "ghost"}) {
    INFO(p);
    auto env = env_of({{"HOME", h.dir.string()}, {"AWS_PROFILE", p}});
    auto cfg = aws::load_config(env);
    REQUIRE(cfg.ok());
    auto chain = aws::make_default_chain(*cfg, env, nullptr);
    REQUIRE_FALSE(chain.ok());
    CHECK(chain.error().is(Errc::config));
    CHECK(chain.error().message.find(p) != std::string::npos);
  }
  auto none = env_of({{"HOME", "/nonexistent"}});
  auto cfg = aws::load_config(none);
  REQUIRE(cfg.ok());
  auto chain = aws::make_default_chain(*cfg, none, nullptr);
  REQUIRE(chain.ok());
  auto c = (*chain)->get();
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().message.find("no AWS credentials found") != std::string::npos);
  // It says where it looked, each place once.
  for (const char* where : {"AWS_ACCESS_KEY_ID", "AWS_WEB_IDENTITY_TOKEN_FILE", "profile default",
                            "/nonexistent/.aws/credentials", "/nonexistent/.aws/config", "AWS_CONTAINER_CREDENTIALS",
                            "EC2 instance metadata", "AWS_EC2_METADATA_DISABLED"}) {
    INFO(where);
    CHECK(c.error().message.find(where) != std::string::npos);
  }
  CHECK(c.error().message.find("/nonexistent/.aws/credentials") == c.error().message.rfind("/nonexistent/.aws/credentials"));
}

TEST_CASE("make_default_chain: without instance metadata either, the error is 'no AWS credentials found' naming the places") {
  // IMDS on a port nothing listens on: no instance metadata service at all (not on EC2).
  aws::Environment env{[](const std::string& n) -> std::optional<std::string> {
    if (n == "HOME") return std::string("/nonexistent");
    if (n == "AWS_EC2_METADATA_SERVICE_ENDPOINT") return std::string("http://127.0.0.1:1");
    return std::nullopt;
  }};
  auto cfg = aws::load_config(env);
  REQUIRE(cfg.ok());
  auto curl = http::make_curl_transport(http::TransportOptions{});
  REQUIRE(curl.ok());
  auto chain = aws::make_default_chain(*cfg, env, std::shared_ptr<http::Transport>(std::move(*curl)));
  REQUIRE(chain.ok());
  auto c = (*chain)->get();
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().is(Errc::config));
  CHECK(c.error().message.rfind("no AWS credentials found; looked at AWS_ACCESS_KEY_ID", 0) == 0);
  CHECK(c.error().message.find("no answer from http://127.0.0.1:1") != std::string::npos);
}

TEST_CASE("role_arn + source_profile: STS AssumeRole signed with the source keys, then S3 with the role's") {
  Home h;
  h.write(".aws/credentials", std::string("[base]\naws_access_key_id = ") + test::k_strict_access_key +
                                  "\naws_secret_access_key = " + test::k_strict_secret_key + "\n");
  h.write(".aws/config", "[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/kbk-backup\n"
                         "source_profile = base\nrole_session_name = nightly\nregion = us-east-1\n");
  round_trip(env_of({{"HOME", h.dir.string()}, {"AWS_PROFILE", "deploy"}, {"AWS_ENDPOINT_URL", fake().endpoint()}}));
  auto calls = test::control(fake(), "GET", "/__sts_calls").body;
  CHECK(calls.find("\"AssumeRole\"") != std::string::npos);
  CHECK(calls.find("arn:aws:iam::123456789012:role/kbk-backup") != std::string::npos);
  CHECK(calls.find("\"nightly\"") != std::string::npos);
}

TEST_CASE("web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN through STS (EKS IRSA)") {
  Home h;
  h.write("token", "kbk-test-web-identity-token\n");
  round_trip(env_of({{"HOME", h.dir.string()}, {"AWS_WEB_IDENTITY_TOKEN_FILE", h.path("token")},
                     {"AWS_ROLE_ARN", "arn:aws:iam::1:role/irsa"}, {"AWS_ENDPOINT_URL", fake().endpoint()}}));
  CHECK(test::control(fake(), "GET", "/__sts_calls").body.find("arn:aws:iam::1:role/irsa") != std::string::npos);

  h.write("token", "a-forged-token");
  auto env = env_of({{"HOME", h.dir.string()}, {"AWS_WEB_IDENTITY_TOKEN_FILE", h.path("token")},
                     {"AWS_ROLE_ARN", "arn:aws:iam::1:role/irsa"}, {"AWS_ENDPOINT_URL", fake().endpoint()}});
  auto b = make_s3_backend("s3://" + std::string(test::k_bucket) + "/" + test::unique_prefix(), {}, env);
  REQUIRE(b.ok());
  auto r = (*b)->put("x", "y", {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("InvalidIdentityToken") != std::string::npos);
  CHECK(r.error().message.find("a-forged-token") == std::string::npos);
}

TEST_CASE("container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI with a token file (EKS Pod Identity)") {
  Home h;
  h.write("pod-identity-token", "kbk-test-container-token\n");
  round_trip(env_of({{"HOME", h.dir.string()},
                     {"AWS_CONTAINER_CREDENTIALS_FULL_URI", fake().endpoint() + "/__container-credentials"},
                     {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", h.path("pod-identity-token")},
                     {"AWS_ENDPOINT_URL_S3", fake().endpoint()}}));
}

TEST_CASE("instance metadata: IMDSv2 token, role name, then the role's credentials") {
  std::map<std::string, std::string> vars{{"HOME", "/nonexistent"},
                                          {"AWS_EC2_METADATA_SERVICE_ENDPOINT", fake().endpoint()},
                                          {"AWS_ENDPOINT_URL_S3", fake().endpoint()}};
  auto inner = env_of(vars);
  // env_of disables IMDS; this test turns it back on.
  aws::Environment env{[inner](const std::string& n) -> std::optional<std::string> {
    if (n == "AWS_EC2_METADATA_DISABLED") return std::nullopt;
    return inner.getenv(n);
  }};
  round_trip(env);
}
