// load_config against fixture kubeconfigs: sources and merge rules, contexts and flags, every TLS and auth
// field, in-cluster configuration, and the one-line error each broken piece produces.
#include <kbk/kube/config.hpp>

#include <catch2/catch.hpp>

#include "config_test_env.hpp"

using namespace kbk;
using namespace kbk::kube;
using namespace kbk::kube::test;

namespace {

std::string ca_pem() { return read_all(fixture("certs/ca.crt")); }

ConfigFlags file_flags(const std::string& rel, const std::string& context = "") {
  ConfigFlags f;
  f.kubeconfig = fixture(rel);
  f.context = context;
  return f;
}

}  // namespace

TEST_CASE("load_config: --kubeconfig reads only that file, even when KUBECONFIG is set") {
  CleanEnv env;
  env.set("KUBECONFIG", fixture("kubeconfig/sub/b.yaml"));
  RestConfig c = load_config(file_flags("kubeconfig/a.yaml"));
  CHECK(c.context_name == "a-ctx");
  CHECK(c.server == "https://a.example:6443");
  CHECK(c.token == "token-from-a");
  CHECK(c.source == fixture("kubeconfig/a.yaml"));
}

TEST_CASE("load_config: a missing --kubeconfig file is an error") {
  CleanEnv env;
  ConfigFlags f;
  f.kubeconfig = fixture("kubeconfig/nope.yaml");
  CHECK(load_error(f) == "--kubeconfig: open " + fixture("kubeconfig/nope.yaml") + ": no such file or directory");
}

TEST_CASE("load_config: KUBECONFIG files merge first-wins per name and for current-context") {
  CleanEnv env;
  env.set("KUBECONFIG", fixture("kubeconfig/a.yaml") + ":" + fixture("kubeconfig/missing.yaml") + "::" +
                            fixture("kubeconfig/sub/b.yaml"));
  SECTION("current-context comes from the first file that sets it") {
    RestConfig c = load_config({});
    CHECK(c.context_name == "a-ctx");
    CHECK(c.cluster_name == "shared");
    CHECK(c.server == "https://a.example:6443");  // not b's "shared"
    CHECK(c.token == "token-from-a");             // not b's "shared-user"
    CHECK(c.ca_pem == ca_pem());                  // a's relative certificate-authority, resolved against a's folder
    CHECK(c.namespace_ == "a-ns");
    CHECK(c.source == fixture("kubeconfig/a.yaml") + ", " + fixture("kubeconfig/sub/b.yaml"));
  }
  SECTION("a context defined in both files is the first file's") {
    ConfigFlags f;
    f.context = "shared-ctx";
    RestConfig c = load_config(f);
    CHECK(c.cluster_name == "a-cluster");
    CHECK(c.server == "https://a-only.example:6443");  // trailing slash dropped
    CHECK(c.insecure_skip_tls_verify);
    CHECK(c.namespace_ == "default");  // b's "from-b" namespace lost with b's context
    CHECK_FALSE(c.namespace_explicit);
  }
  SECTION("names only the second file defines are found, with paths relative to that file") {
    ConfigFlags f;
    f.context = "b-ctx";
    RestConfig c = load_config(f);
    CHECK(c.server == "https://b-only.example:6443");
    CHECK(c.ca_pem == ca_pem());
    CHECK(c.tls_server_name == "api.b.internal");
    CHECK(c.client_cert_pem == read_all(fixture("certs/client.crt")));
    CHECK(c.client_key_pem == read_all(fixture("certs/client.key")));
  }
  SECTION("a context of the second file may use a cluster of the first") {
    ConfigFlags f;
    f.context = "mixed";
    RestConfig c = load_config(f);
    CHECK(c.server == "https://a.example:6443");
    CHECK(c.user_name == "b-user");
    CHECK_FALSE(c.client_key_pem.empty());
  }
}

TEST_CASE("load_config: the order of KUBECONFIG decides which file wins") {
  CleanEnv env;
  env.set("KUBECONFIG", fixture("kubeconfig/sub/b.yaml") + ":" + fixture("kubeconfig/a.yaml"));
  RestConfig c = load_config({});
  CHECK(c.context_name == "b-ctx");
  ConfigFlags f;
  f.context = "a-ctx";
  RestConfig a = load_config(f);
  CHECK(a.server == "https://b.example:6443");  // "shared" now comes from b
  CHECK(a.token == "token-from-b");
}

TEST_CASE("load_config: without KUBECONFIG, ~/.kube/config is read") {
  CleanEnv env;
  std::string text = read_all(fixture("kubeconfig/a.yaml"));
  // Absolute CA path: the copy lives in another folder.
  std::string abs_text = text;
  abs_text.replace(abs_text.find("../certs/ca.crt"), 15, fixture("certs/ca.crt"));
  env.home().write(".kube/config", abs_text);
  RestConfig c = load_config({});
  CHECK(c.context_name == "a-ctx");
  CHECK(c.source == env.home().file(".kube/config"));
  CHECK(c.ca_pem == ca_pem());
}

TEST_CASE("load_config: KUBECONFIG naming only missing files falls to in-cluster, else a clear error") {
  CleanEnv env;
  env.set("KUBECONFIG", "/nonexistent/one:/nonexistent/two");
  std::string msg = load_error({});
  CHECK(msg.rfind("no configuration: ", 0) == 0);
  CHECK(msg.find("/nonexistent/one, /nonexistent/two") != std::string::npos);
  CHECK(msg.find("KUBERNETES_SERVICE_HOST") != std::string::npos);
  CHECK(msg.find('\n') == std::string::npos);
}

TEST_CASE("load_config: nothing at all is the \"no configuration\" error") {
  CleanEnv env;
  std::string msg = load_error({});
  CHECK(msg.rfind("no configuration: KUBECONFIG is unset and " + env.home().file(".kube/config") + " does not exist", 0) ==
        0);
}

TEST_CASE("load_config: in-cluster service account") {
  CleanEnv env;
  env.set("KBK_SERVICEACCOUNT_DIR", fixture("serviceaccount"));
  env.set("KUBERNETES_SERVICE_HOST", "10.96.0.1");
  env.set("KUBERNETES_SERVICE_PORT", "443");
  SECTION("server, token (kept as token_file), CA and namespace") {
    RestConfig c = load_config({});
    CHECK(c.source == "in-cluster");
    CHECK(c.server == "https://10.96.0.1:443");
    CHECK(c.token == "sa-token-1");
    CHECK(c.token_file == fixture("serviceaccount") + "/token");
    CHECK(c.ca_pem == ca_pem());
    CHECK(c.namespace_ == "backup-ns");
  }
  SECTION("-n and POD_NAMESPACE come before the namespace file") {
    env.set("POD_NAMESPACE", "from-downward-api");
    CHECK(load_config({}).namespace_ == "from-downward-api");
    ConfigFlags f;
    f.namespace_ = "flag-ns";
    CHECK(load_config(f).namespace_ == "flag-ns");
  }
  SECTION("an IPv6 service host is bracketed") {
    env.set("KUBERNETES_SERVICE_HOST", "fd00::1");
    CHECK(load_config({}).server == "https://[fd00::1]:443");
  }
  SECTION("--as and --as-group apply") {
    ConfigFlags f;
    f.as_user = "bob";
    f.as_groups = {"g1"};
    RestConfig c = load_config(f);
    CHECK(c.impersonate_user == "bob");
    CHECK(c.impersonate_groups == std::vector<std::string>{"g1"});
  }
  SECTION("a kubeconfig, when present, wins over in-cluster") {
    env.set("KUBECONFIG", fixture("kubeconfig/a.yaml"));
    CHECK(load_config({}).source == fixture("kubeconfig/a.yaml"));
  }
  SECTION("without the token file in-cluster is not possible") {
    TempDir empty;
    env.set("KBK_SERVICEACCOUNT_DIR", empty.path());
    std::string msg = load_error({});
    CHECK(msg.rfind("no configuration: ", 0) == 0);
    CHECK(msg.find(empty.path() + "/token does not exist") != std::string::npos);
  }
}

TEST_CASE("load_config: --context, --cluster, --user, -n and --server override the kubeconfig") {
  CleanEnv env;
  ConfigFlags f = file_flags("kubeconfig/auth.yaml");
  SECTION("the current context and its namespace") {
    RestConfig c = load_config(f);
    CHECK(c.context_name == "token");
    CHECK(c.namespace_ == "team-a");
    CHECK(c.namespace_explicit);
  }
  SECTION("-n beats the context's namespace") {
    f.namespace_ = "other";
    RestConfig c = load_config(f);
    CHECK(c.namespace_ == "other");
    CHECK(c.namespace_explicit);
  }
  SECTION("--cluster and --user replace the context's") {
    f.cluster = "insecure";
    f.user = "basic";
    RestConfig c = load_config(f);
    CHECK(c.server == "https://insecure.example:6443");
    CHECK(c.username == "admin");
    CHECK(c.token.empty());
    CHECK(c.namespace_ == "team-a");
  }
  SECTION("--server replaces the address and drops the kubeconfig's tls-server-name") {
    f.context = "token-file";
    f.server = "https://10.0.0.1:6443";
    RestConfig c = load_config(f);
    CHECK(c.server == "https://10.0.0.1:6443");
    CHECK(c.tls_server_name.empty());
    CHECK(c.ca_pem == ca_pem());
  }
  SECTION("a malformed --server") {
    f.server = "10.0.0.1:6443";
    CHECK(load_error(f) == "--server: \"10.0.0.1:6443\" has no scheme; write https://10.0.0.1:6443");
    f.server = "ftp://10.0.0.1";
    CHECK(load_error(f) ==
          "--server: \"ftp://10.0.0.1\": unsupported scheme \"ftp\"; use https:// (or http:// for a plain-HTTP server)");
    f.server = "https://";
    CHECK(load_error(f) == "--server: \"https://\" has no host");
  }
  SECTION("--user alone, with no context and no cluster") {
    ConfigFlags g = file_flags("broken/no-current-context.yaml");
    g.user = "someone";
    CHECK(load_error(g) == "--user: given without --cluster, --server or a context, so there is no cluster to talk to");
    g.cluster = "c";
    CHECK(load_error(g) == "--user: user \"someone\" not found in " + fixture("broken/no-current-context.yaml"));
    g.user = "";
    RestConfig c = load_config(g);  // --cluster alone: anonymous
    CHECK(c.server == "https://c");
    CHECK(c.context_name.empty());
  }
  SECTION("--request-timeout") {
    f.request_timeout_seconds = 12.5;
    CHECK(load_config(f).request_timeout_seconds == 12.5);
    f.request_timeout_seconds = -1;
    CHECK(load_error(f) == "--request-timeout: must not be negative");
  }
  SECTION("an unknown --context lists what exists") {
    f.context = "nope";
    CHECK(load_error(f) ==
          "context \"nope\" not found in " + fixture("kubeconfig/auth.yaml") +
              " (contexts: basic, cert-data, cert-files, exec-v1, exec-v1beta1, http, http-proxy, impersonating, token, "
              "token-file)");
  }
  SECTION("an unknown --user or --cluster") {
    f.user = "ghost";
    CHECK(load_error(f) == "--user: user \"ghost\" not found in " + fixture("kubeconfig/auth.yaml"));
    f.user = "";
    f.cluster = "ghost";
    CHECK(load_error(f) == "--cluster: cluster \"ghost\" not found in " + fixture("kubeconfig/auth.yaml"));
  }
}

TEST_CASE("load_config: cluster TLS settings") {
  CleanEnv env;
  SECTION("certificate-authority file, relative to the kubeconfig") {
    RestConfig c = load_config(file_flags("kubeconfig/auth.yaml", "cert-files"));
    CHECK(c.ca_pem == ca_pem());
    CHECK_FALSE(c.insecure_skip_tls_verify);
  }
  SECTION("certificate-authority-data and tls-server-name") {
    RestConfig c = load_config(file_flags("kubeconfig/auth.yaml", "cert-data"));
    CHECK(c.ca_pem == ca_pem());
    CHECK(c.tls_server_name == "kubernetes.default");
  }
  SECTION("insecure-skip-tls-verify") {
    RestConfig c = load_config(file_flags("kubeconfig/auth.yaml", "basic"));
    CHECK(c.insecure_skip_tls_verify);
    CHECK(c.ca_pem.empty());
  }
  SECTION("plain http, no user") {
    RestConfig c = load_config(file_flags("kubeconfig/auth.yaml", "http"));
    CHECK(c.server == "http://127.0.0.1:8001");
    CHECK(c.user_name.empty());
    CHECK(c.token.empty());
    CHECK(c.client_cert_pem.empty());
    CHECK_FALSE(c.exec);
  }
  SECTION("proxy-url http and socks5") {
    CHECK(load_config(file_flags("kubeconfig/auth.yaml", "http-proxy")).proxy_url == "http://proxy.example:3128");
    CHECK(load_config(file_flags("kubeconfig/auth.yaml", "exec-v1")).proxy_url == "socks5://127.0.0.1:1080");
  }
}

TEST_CASE("load_config: user credentials") {
  CleanEnv env;
  SECTION("token") {
    RestConfig c = load_config(file_flags("kubeconfig/auth.yaml", "token"));
    CHECK(c.token == "static-token");
    CHECK(c.token_file.empty());
  }
  SECTION("tokenFile is read (trimmed) and kept for re-reading") {
    RestConfig c = load_config(file_flags("kubeconfig/auth.yaml", "token-file"));
    CHECK(c.token == "token-from-file");
    CHECK(c.token_file == fixture("kubeconfig/token.txt"));
  }
  SECTION("client certificate and key files") {
    RestConfig c = load_config(file_flags("kubeconfig/auth.yaml", "cert-files"));
    CHECK(c.client_cert_pem == read_all(fixture("certs/client.crt")));
    CHECK(c.client_key_pem == read_all(fixture("certs/client.key")));
    CHECK(c.token.empty());
  }
  SECTION("client certificate and key data") {
    RestConfig c = load_config(file_flags("kubeconfig/auth.yaml", "cert-data"));
    CHECK(c.client_cert_pem == read_all(fixture("certs/client.crt")));
    CHECK(c.client_key_pem == read_all(fixture("certs/client.key")));
  }
  SECTION("username and password") {
    RestConfig c = load_config(file_flags("kubeconfig/auth.yaml", "basic"));
    CHECK(c.username == "admin");
    CHECK(c.password == "s3cret");
  }
  SECTION("impersonation from the kubeconfig; --as and --as-group replace it") {
    ConfigFlags f = file_flags("kubeconfig/auth.yaml", "impersonating");
    RestConfig c = load_config(f);
    CHECK(c.impersonate_user == "alice");
    CHECK(c.impersonate_groups == std::vector<std::string>{"devs", "ops"});
    f.as_user = "bob";
    c = load_config(f);
    CHECK(c.impersonate_user == "bob");
    CHECK(c.impersonate_groups == std::vector<std::string>{"devs", "ops"});
    f.as_groups = {"qa"};
    CHECK(load_config(f).impersonate_groups == std::vector<std::string>{"qa"});
  }
  SECTION("--as-group without --as") {
    ConfigFlags f = file_flags("kubeconfig/auth.yaml", "token");
    f.as_groups = {"qa"};
    CHECK(load_error(f) == "--as-group: needs --as (impersonating groups needs a user to impersonate)");
  }
  SECTION("exec v1: command relative to the kubeconfig, args, env, cluster info") {
    RestConfig c = load_config(file_flags("kubeconfig/auth.yaml", "exec-v1"));
    REQUIRE(c.exec);
    CHECK(c.exec->api_version == "client.authentication.k8s.io/v1");
    CHECK(c.exec->command == fixture("kubeconfig/../exec/plugin.sh"));
    CHECK(c.exec->args == std::vector<std::string>{"--cluster", "one"});
    REQUIRE(c.exec->env.size() == 1);
    CHECK(c.exec->env[0] == std::pair<std::string, std::string>{"MODE", "token"});
    CHECK(c.exec->interactive_mode == "Never");
    CHECK(c.exec->install_hint == "install the test plugin");
    CHECK(c.exec->provide_cluster_info);
    CHECK(c.exec->cluster.server == "https://proxied.example:6443");
    CHECK(c.exec->cluster.proxy_url == "socks5://127.0.0.1:1080");
    CHECK(c.exec->cluster.config_json == R"({"audience":"kbk-tests"})");
    CHECK(c.token.empty());
  }
  SECTION("exec v1beta1: interactiveMode defaults to IfAvailable, a bare command stays for PATH lookup") {
    RestConfig c = load_config(file_flags("kubeconfig/auth.yaml", "exec-v1beta1"));
    REQUIRE(c.exec);
    CHECK(c.exec->interactive_mode == "IfAvailable");
    CHECK(c.exec->command == "sh");
    CHECK_FALSE(c.exec->provide_cluster_info);
  }
}

TEST_CASE("load_config: each broken context gives one line naming file, context, entry and field") {
  CleanEnv env;
  const std::string file = fixture("broken/contexts.yaml");
  const std::string dir = fixture("broken");
  auto error_of = [&](const std::string& context) { return load_error(file_flags("broken/contexts.yaml", context)); };
  auto cluster = [&](const std::string& ctx) { return file + ": context \"" + ctx + "\": cluster \"" + ctx + "\": "; };
  auto user = [&](const std::string& ctx, const std::string& u) {
    return file + ": context \"" + ctx + "\": user \"" + u + "\": ";
  };

  CHECK(error_of("ok").empty());  // the broken neighbours do not matter
  CHECK(error_of("missing-ca") ==
        cluster("missing-ca") + "certificate-authority: open " + dir + "/missing/ca.crt: no such file or directory");
  CHECK(error_of("bad-ca-data") == cluster("bad-ca-data") + "certificate-authority-data: not valid base64");
  CHECK(error_of("ca-not-pem") ==
        cluster("ca-not-pem") + "certificate-authority-data: no PEM certificate found (expected -----BEGIN CERTIFICATE-----)");
  CHECK(error_of("insecure-and-ca") ==
        cluster("insecure-and-ca") +
            "insecure-skip-tls-verify: cannot be combined with certificate-authority (specifying a root certificates "
            "file with the insecure flag is not allowed)");
  CHECK(error_of("no-scheme") == cluster("no-scheme") + "server: \"x.example:6443\" has no scheme; write https://x.example:6443");
  CHECK(error_of("ftp-server") == cluster("ftp-server") +
                                      "server: \"ftp://x.example\": unsupported scheme \"ftp\"; use https:// (or http:// "
                                      "for a plain-HTTP server)");
  CHECK(error_of("no-server") == cluster("no-server") + "server: missing");
  CHECK(error_of("bad-proxy") == cluster("bad-proxy") +
                                     "proxy-url: \"ftp://proxy.example:21\": unsupported scheme \"ftp\"; must be http, "
                                     "https, or socks5");
  CHECK(error_of("prod") ==
        user("prod", "admin") + "client-certificate: open /nonexistent/admin.crt: no such file or directory");
  CHECK(error_of("cert-without-key") ==
        user("cert-without-key", "cert-without-key") + "client-key: missing (client-certificate is set; both are needed)");
  CHECK(error_of("key-not-pem") == user("key-not-pem", "key-not-pem") + "client-key: " + dir +
                                       "/../certs/ca.crt: no PEM private key found (expected -----BEGIN ... PRIVATE "
                                       "KEY-----)");
  CHECK(error_of("cert-file-and-data") ==
        user("cert-file-and-data", "cert-file-and-data") +
            "client-certificate-data: both client-certificate and client-certificate-data are set; keep one");
  CHECK(error_of("token-and-basic") ==
        user("token-and-basic", "token-and-basic") +
            "username: more than one authentication method (token and username/password); keep one");
  CHECK(error_of("missing-token-file") == user("missing-token-file", "missing-token-file") + "tokenFile: open " + dir +
                                              "/nowhere/token: no such file or directory");
  CHECK(error_of("oidc") ==
        user("oidc", "oidc") +
            "auth-provider: \"oidc\" is not supported by kbk; use an exec credential plugin such as kubelogin (kubectl "
            "oidc-login) instead");
  CHECK(error_of("exec-v1alpha1") ==
        user("exec-v1alpha1", "exec-v1alpha1") +
            "exec: apiVersion: client.authentication.k8s.io/v1alpha1 is no longer supported (removed in Kubernetes 1.24); "
            "use client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1");
  CHECK(error_of("exec-no-interactive") ==
        user("exec-no-interactive", "exec-no-interactive") +
            "exec: interactiveMode: missing (required by client.authentication.k8s.io/v1; one of Never, IfAvailable, "
            "Always)");
  CHECK(error_of("exec-bad-interactive") == user("exec-bad-interactive", "exec-bad-interactive") +
                                                "exec: interactiveMode: \"Sometimes\" is not one of Never, IfAvailable, Always");
  CHECK(error_of("exec-no-command") == user("exec-no-command", "exec-no-command") + "exec: command: missing");
  CHECK(error_of("exec-no-api-version") ==
        user("exec-no-api-version", "exec-no-api-version") +
            "exec: apiVersion: missing (use client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1)");
  CHECK(error_of("groups-without-user") ==
        user("groups-without-user", "groups-without-user") +
            "as-groups: set without as (impersonating groups needs a user to impersonate)");
  CHECK(error_of("ghost-user") == file + ": context \"ghost-user\": user \"ghost\" not found in " + file);
  CHECK(error_of("ghost-cluster") == file + ": context \"ghost-cluster\": cluster \"ghost\" not found in " + file);
  CHECK(error_of("no-cluster") == file + ": context \"no-cluster\": cluster: not set");
}

TEST_CASE("load_config: broken files give one line naming the file") {
  CleanEnv env;
  auto error_of = [](const std::string& rel) { return load_error(file_flags(rel)); };
  auto path = [](const std::string& rel) { return fixture(rel); };

  std::string yaml = error_of("broken/invalid-yaml.yaml");
  CHECK(yaml == "invalid YAML in " + path("broken/invalid-yaml.yaml") + ": line 6: end of map not found");
  CHECK(error_of("broken/wrong-type.yaml") ==
        path("broken/wrong-type.yaml") + ": clusters[0] \"x\": cluster: server: expected a string, found a list");
  CHECK(error_of("broken/clusters-not-a-list.yaml") ==
        path("broken/clusters-not-a-list.yaml") + ": clusters: expected a list, found a mapping");
  CHECK(error_of("broken/duplicate-name.yaml") == path("broken/duplicate-name.yaml") + ": clusters: duplicate name \"x\"");
  CHECK(error_of("broken/not-a-mapping.yaml") ==
        path("broken/not-a-mapping.yaml") + ": not a kubeconfig: expected a mapping at the top level, found a list");
  CHECK(error_of("broken/two-documents.yaml") ==
        "invalid YAML in " + path("broken/two-documents.yaml") + ": holds 2 documents; a kubeconfig is one document");
  CHECK(error_of("broken/wrong-api-version.yaml") ==
        path("broken/wrong-api-version.yaml") + ": apiVersion: \"v2\" is not a kubeconfig version (expected v1)");
  CHECK(error_of("broken/unnamed.yaml") == path("broken/unnamed.yaml") + ": clusters[0]: name: missing");
  CHECK(error_of("broken/missing-current-context.yaml") ==
        "context \"nope\" (the current-context of " + path("broken/missing-current-context.yaml") + ") not found in " +
            path("broken/missing-current-context.yaml") + " (contexts: a, b)");
  CHECK(error_of("broken/no-current-context.yaml") ==
        path("broken/no-current-context.yaml") + ": no current-context is set and --context was not given (contexts: a)");
}

TEST_CASE("load_config: a broken file in KUBECONFIG stops loading, naming that file") {
  CleanEnv env;
  env.set("KUBECONFIG", fixture("kubeconfig/a.yaml") + ":" + fixture("broken/duplicate-name.yaml"));
  CHECK(load_error({}) == fixture("broken/duplicate-name.yaml") + ": clusters: duplicate name \"x\"");
}

TEST_CASE("load_config: an empty kubeconfig file is an empty configuration") {
  CleanEnv env;
  TempDir dir;
  ConfigFlags f;
  f.kubeconfig = dir.write("empty", "");
  CHECK(load_error(f).rfind("no configuration: " + f.kubeconfig + " holds no clusters, users or contexts", 0) == 0);
  f.server = "http://127.0.0.1:8080";
  RestConfig c = load_config(f);
  CHECK(c.server == "http://127.0.0.1:8080");
  CHECK(c.token.empty());
}

TEST_CASE("load_config: errors never carry secrets") {
  CleanEnv env;
  TempDir dir;
  ConfigFlags f;
  f.kubeconfig = dir.write("config", R"(apiVersion: v1
current-context: c
clusters: [{name: k, cluster: {server: "https://k"}}]
users: [{name: u, user: {token: supersecrettoken, username: admin, password: hunter2}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)");
  std::string msg = load_error(f);
  CHECK_FALSE(msg.empty());
  CHECK(msg.find("supersecrettoken") == std::string::npos);
  CHECK(msg.find("hunter2") == std::string::npos);
}
