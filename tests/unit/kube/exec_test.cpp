// run_exec_plugin with a real plugin (fixtures/exec/plugin.sh): ExecCredential v1 and v1beta1, caching until
// expiry (counted through the file the plugin appends to), force, the environment it gets, and every failure.
#include <kbk/kube/config.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <kbk/json/json.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

#include "config_test_env.hpp"

using namespace kbk;
using namespace kbk::kube;
using namespace kbk::kube::test;

namespace {

const std::string k_v1 = "client.authentication.k8s.io/v1";
const std::string k_v1beta1 = "client.authentication.k8s.io/v1beta1";

// A plugin config whose counter file lives in `dir` (which also makes its cache entry unique to the test).
ExecConfig plugin(const TempDir& dir, std::vector<std::pair<std::string, std::string>> env = {}) {
  ExecConfig e;
  e.api_version = k_v1;
  e.command = fixture("exec/plugin.sh");
  e.interactive_mode = "Never";
  e.env = std::move(env);
  e.env.emplace_back("COUNTER_FILE", dir.file("counter"));
  return e;
}

size_t runs(const TempDir& dir) {
  return util::split(read_all(dir.file("counter")), '\n').size();
}

std::string error_of(const Result<ExecCredential>& r) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::config);
  CHECK(r.error().message.find('\n') == std::string::npos);
  return r.error().message;
}

}  // namespace

TEST_CASE("run_exec_plugin: a v1 token is cached until it expires; force re-runs") {
  TempDir dir;
  ExecConfig e = plugin(dir, {{"EXPIRY", "future"}});
  auto first = run_exec_plugin(e, "https://k.example", false);
  REQUIRE(first.ok());
  CHECK(first->token == "plugin-token-1");
  REQUIRE(first->expires);
  auto now = std::chrono::system_clock::now();
  CHECK(*first->expires > now + std::chrono::minutes(50));
  CHECK(*first->expires < now + std::chrono::minutes(70));

  auto second = run_exec_plugin(e, "https://k.example", false);
  REQUIRE(second.ok());
  CHECK(second->token == "plugin-token-1");
  CHECK(runs(dir) == 1);

  auto forced = run_exec_plugin(e, "https://k.example", true);
  REQUIRE(forced.ok());
  CHECK(forced->token == "plugin-token-2");
  CHECK(runs(dir) == 2);
  // The forced result replaces the cached one.
  CHECK(run_exec_plugin(e, "https://k.example", false)->token == "plugin-token-2");
  CHECK(runs(dir) == 2);
}

TEST_CASE("run_exec_plugin: an expired credential is fetched again on every call") {
  TempDir dir;
  ExecConfig e = plugin(dir, {{"EXPIRY", "past"}});
  CHECK(run_exec_plugin(e, "https://k.example", false)->token == "plugin-token-1");
  CHECK(run_exec_plugin(e, "https://k.example", false)->token == "plugin-token-2");
  CHECK(runs(dir) == 2);
}

TEST_CASE("run_exec_plugin: a credential without expiry is kept for the whole run") {
  TempDir dir;
  ExecConfig e = plugin(dir);
  for (int i = 0; i < 3; ++i) CHECK(run_exec_plugin(e, "https://k.example", false)->token == "plugin-token-1");
  CHECK(runs(dir) == 1);
  SECTION("another server is another cache entry") {
    CHECK(run_exec_plugin(e, "https://other.example", false)->token == "plugin-token-2");
    CHECK(runs(dir) == 2);
  }
}

TEST_CASE("run_exec_plugin: v1beta1") {
  TempDir dir;
  ExecConfig e = plugin(dir, {{"API_VERSION", k_v1beta1}, {"EXPIRY", "future"}});
  e.api_version = k_v1beta1;
  e.interactive_mode = "IfAvailable";
  auto r = run_exec_plugin(e, "https://k.example", false);
  REQUIRE(r.ok());
  CHECK(r->token == "plugin-token-1");
  CHECK(r->expires);
}

TEST_CASE("run_exec_plugin: client certificate and key") {
  TempDir dir;
  ExecConfig e = plugin(dir, {{"MODE", "cert"}, {"CERT_FILE", fixture("certs/client.crt")},
                              {"KEY_FILE", fixture("certs/client.key")}});
  auto r = run_exec_plugin(e, "https://k.example", false);
  REQUIRE(r.ok());
  CHECK(r->token.empty());
  CHECK(r->client_cert_pem == read_all(fixture("certs/client.crt")));
  CHECK(r->client_key_pem == read_all(fixture("certs/client.key")));
}

TEST_CASE("run_exec_plugin: arguments, environment and KUBERNETES_EXEC_INFO") {
  TempDir dir;
  ExecConfig e = plugin(dir, {{"INFO_FILE", dir.file("info")}, {"ARGS_FILE", dir.file("args")},
                              {"STDIN_FILE", dir.file("stdin")}});
  e.args = {"get-token", "--cluster", "prod east"};
  SECTION("without provideClusterInfo only spec.interactive is sent") {
    REQUIRE(run_exec_plugin(e, "https://k.example", false).ok());
    CHECK(read_all(dir.file("args")) == "get-token\n--cluster\nprod east\n");
    CHECK(read_all(dir.file("stdin")) == "/dev/null\n");  // not interactive: no stdin
    auto info = json::parse(read_all(dir.file("info")));
    REQUIRE(info.ok());
    CHECK(json::get_string(*info, {"kind"}) == "ExecCredential");
    CHECK(json::get_string(*info, {"apiVersion"}) == k_v1);
    const json::Value* interactive = json::at(*info, {"spec", "interactive"});
    REQUIRE(interactive);
    CHECK(interactive->IsFalse());
    CHECK_FALSE(json::at(*info, {"spec", "cluster"}));
  }
  SECTION("with provideClusterInfo spec.cluster describes the cluster") {
    e.provide_cluster_info = true;
    e.cluster.server = "https://k.example";
    e.cluster.certificate_authority_pem = read_all(fixture("certs/ca.crt"));
    e.cluster.tls_server_name = "api.internal";
    e.cluster.proxy_url = "socks5://127.0.0.1:1080";
    e.cluster.config_json = R"({"audience":"x"})";
    REQUIRE(run_exec_plugin(e, "https://k.example", false).ok());
    auto info = json::parse(read_all(dir.file("info")));
    REQUIRE(info.ok());
    CHECK(json::get_string(*info, {"spec", "cluster", "server"}) == "https://k.example");
    CHECK(json::get_string(*info, {"spec", "cluster", "tls-server-name"}) == "api.internal");
    CHECK(json::get_string(*info, {"spec", "cluster", "proxy-url"}) == "socks5://127.0.0.1:1080");
    CHECK(util::base64_decode(json::get_string(*info, {"spec", "cluster", "certificate-authority-data"})) ==
          read_all(fixture("certs/ca.crt")));
    CHECK(json::get_string(*info, {"spec", "cluster", "config", "audience"}) == "x");
    CHECK_FALSE(json::at(*info, {"spec", "cluster", "insecure-skip-tls-verify"}));
  }
}

// Points stdin at /dev/null for the scope, so that the test does not depend on how it was started.
class StdinFromDevNull {
public:
  StdinFromDevNull() : m_saved(::dup(STDIN_FILENO)) {
    int fd = ::open("/dev/null", O_RDONLY);
    REQUIRE(fd >= 0);
    ::dup2(fd, STDIN_FILENO);
    ::close(fd);
  }
  ~StdinFromDevNull() {
    ::dup2(m_saved, STDIN_FILENO);
    ::close(m_saved);
  }
  StdinFromDevNull(const StdinFromDevNull&) = delete;
  StdinFromDevNull& operator=(const StdinFromDevNull&) = delete;

private:
  int m_saved;
};

TEST_CASE("run_exec_plugin: interactiveMode Always without a terminal") {
  StdinFromDevNull no_terminal;
  TempDir dir;
  ExecConfig e = plugin(dir);
  e.interactive_mode = "Always";
  std::string msg = error_of(run_exec_plugin(e, "https://k.example", false));
  CHECK(msg == "exec plugin \"" + e.command +
                   "\": interactiveMode is Always but standard input is not a terminal (exec plugin cannot support "
                   "interactive mode)");
  CHECK_FALSE(util::read_file(dir.file("counter")).ok());  // never started
}

TEST_CASE("run_exec_plugin: a missing executable names it and shows the install hint") {
  ExecConfig e;
  e.api_version = k_v1;
  e.interactive_mode = "Never";
  e.command = "kbk-test-no-such-plugin";
  e.install_hint = "kbk-test-no-such-plugin is needed:\n  apt-get install kbk-test-plugin\n";
  CHECK(error_of(run_exec_plugin(e, "https://k.example", false)) ==
        "exec plugin \"kbk-test-no-such-plugin\": executable not found on PATH. kbk-test-no-such-plugin is needed: "
        "apt-get install kbk-test-plugin");
  SECTION("a path relative to the kubeconfig's folder") {
    e.command = "./bin/missing-plugin";
    e.base_dir = fixture("exec");
    e.install_hint.clear();
    std::string msg = error_of(run_exec_plugin(e, "https://k.example", false));
    CHECK(msg.rfind("exec plugin \"./bin/missing-plugin\": executable not found. It looks like you are trying to use a "
                    "client-go credential plugin that is not installed",
                    0) == 0);
  }
}

TEST_CASE("run_exec_plugin: a relative command runs from the kubeconfig's folder") {
  TempDir dir;
  ExecConfig e = plugin(dir);
  e.command = "./plugin.sh";
  e.base_dir = fixture("exec");
  auto r = run_exec_plugin(e, "https://k.example", false);
  REQUIRE(r.ok());
  CHECK(r->token == "plugin-token-1");
}

TEST_CASE("run_exec_plugin: failures name the plugin and what went wrong") {
  TempDir dir;
  auto failing = [&](const std::string& mode, std::vector<std::pair<std::string, std::string>> extra = {}) {
    extra.emplace_back("MODE", mode);
    ExecConfig e = plugin(dir, extra);
    return error_of(run_exec_plugin(e, "https://k.example", false));
  };
  const std::string name = "exec plugin \"" + fixture("exec/plugin.sh") + "\": ";
  CHECK(failing("fail") == name + "failed with exit code 7");
  std::string garbage = failing("garbage");
  CHECK(garbage.rfind(name + "output: invalid JSON at offset ", 0) == 0);
  CHECK(util::ends_with(garbage, "(expected an ExecCredential)"));
  CHECK(failing("nostatus") == name + "returned no status");
  CHECK(failing("empty") == name + "returned neither status.token nor clientCertificateData and clientKeyData");
  CHECK(failing("cert-only", {{"CERT_FILE", fixture("certs/client.crt")}}) ==
        name + "returned only one of clientCertificateData and clientKeyData, not both");
  CHECK(failing("token", {{"EXPIRY", "bad"}}) ==
        name + "status.expirationTimestamp: \"tomorrow\" is not an RFC 3339 time");
  CHECK(failing("token", {{"API_VERSION", k_v1beta1}}) ==
        name + "returned apiVersion \"" + k_v1beta1 + "\" but the kubeconfig configures \"" + k_v1 + "\"");
  SECTION("a failed run does not poison the cache") {
    ExecConfig e = plugin(dir, {{"MODE", "fail"}});
    CHECK_FALSE(run_exec_plugin(e, "https://k.example", false).ok());
    CHECK_FALSE(run_exec_plugin(e, "https://k.example", false).ok());
  }
}

TEST_CASE("run_exec_plugin: the plugin of a kubeconfig context, end to end") {
  CleanEnv env;
  ConfigFlags f;
  f.kubeconfig = fixture("kubeconfig/auth.yaml");
  f.context = "exec-v1";
  RestConfig c = load_config(f);
  REQUIRE(c.exec);
  auto r = run_exec_plugin(*c.exec, c.server, false);
  REQUIRE(r.ok());
  CHECK(r->token == "plugin-token-0");  // that context sets no counter file
}

TEST_CASE("run_exec_plugin: the token never reaches the log") {
  TempDir dir;
  ExecConfig e = plugin(dir, {{"TOKEN", "verysecretvalue"}, {"EXPIRY", "future"}});
  std::string logged;
  int old = log::verbosity();
  log::set_verbosity(9);
  log::set_sink([&](std::string_view line) { logged += line; });
  auto r = run_exec_plugin(e, "https://k.example", false);
  auto again = run_exec_plugin(e, "https://k.example", true);
  log::set_sink(nullptr);
  log::set_verbosity(old);
  REQUIRE(r.ok());
  CHECK(r->token == "verysecretvalue-1");
  CHECK(again->token == "verysecretvalue-2");
  CHECK_FALSE(logged.empty());
  CHECK(logged.find("verysecretvalue") == std::string::npos);
}
