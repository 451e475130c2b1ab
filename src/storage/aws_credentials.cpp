// The AWS CLI credential chain (see aws.hpp for the order). Each source is a CredentialsProvider; temporary
// credentials are cached by RefreshingProvider until five minutes before they expire.
#include <kbk/storage/aws.hpp>

#include <array>
#include <cstdio>
#include <mutex>
#include <set>

#include <sys/wait.h>

#include <openssl/evp.h>

#include <kbk/crypto/hash.hpp>
#include <kbk/json/json.hpp>
#include <kbk/util/fs.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

#include "s3_xml.hpp"

namespace kbk::storage::aws {
namespace {

using Clock = std::chrono::system_clock;
constexpr auto k_refresh_margin = std::chrono::minutes(5);

class StaticProvider final : public CredentialsProvider {
public:
  StaticProvider(sigv4::Credentials c, std::string source) : m_creds(std::move(c)), m_source(std::move(source)) {}
  Result<sigv4::Credentials> get() override { return m_creds; }
  std::string source() const override { return m_source; }

private:
  sigv4::Credentials m_creds;
  std::string m_source;
};

// Caches what fetch() returns until shortly before its expiration, or until a server refuses it (invalidate).
class RefreshingProvider : public CredentialsProvider {
public:
  RefreshingProvider(std::string source, const util::Clock& clock) : m_source(std::move(source)), m_clock(clock) {}
  Result<sigv4::Credentials> get() final {
    std::lock_guard lock(m_mutex);
    if (m_cached && (!m_cached->expiration || m_clock.now() + k_refresh_margin < *m_cached->expiration))
      return m_cached->credentials;
    auto fresh = fetch();
    if (!fresh) {
      // Errors that already read as one complete line for the user (an SSO login to renew) stay as they are.
      if (fresh.error().reason != k_self_explaining) fresh.error().wrap("AWS credentials from " + m_source);
      return unexpected(std::move(fresh).error());
    }
    m_cached = std::move(*fresh);
    log::debug("aws: credentials from " + m_source + " (key id " + m_cached->credentials.access_key_id + ")" +
               (m_cached->expiration ? ", valid until " + util::format_rfc3339(*m_cached->expiration) : ""));
    return m_cached->credentials;
  }
  std::string source() const final { return m_source; }
  bool invalidate(const std::string& rejected_access_key_id) final {
    std::lock_guard lock(m_mutex);
    // Another thread may have refreshed already: then the cache holds new keys and stays.
    if (m_cached && (rejected_access_key_id.empty() || m_cached->credentials.access_key_id == rejected_access_key_id)) {
      log::info(2, "aws: credentials from " + m_source + " (key id " + m_cached->credentials.access_key_id +
                       ") were refused as expired; fetching new ones");
      m_cached.reset();
    }
    return true;
  }

  static constexpr const char* k_self_explaining = "kbk:self-explaining";

protected:
  virtual Result<TimedCredentials> fetch() = 0;
  const util::Clock& clock() const { return m_clock; }

private:
  std::mutex m_mutex;
  std::optional<TimedCredentials> m_cached;
  std::string m_source;
  const util::Clock& m_clock;
};

Result<TimedCredentials> from_json(const json::Value& doc, std::string_view what, const char* token_field) {
  TimedCredentials t;
  t.credentials.access_key_id = json::get_string(doc, {"AccessKeyId"});
  t.credentials.secret_access_key = json::get_string(doc, {"SecretAccessKey"});
  t.credentials.session_token = json::get_string(doc, {token_field});
  if (t.credentials.access_key_id.empty() || t.credentials.secret_access_key.empty())
    return unexpected(Errc::parse, std::string(what) + ": no AccessKeyId/SecretAccessKey in the response");
  std::string exp = json::get_string(doc, {"Expiration"});
  if (!exp.empty()) {
    auto tp = util::parse_rfc3339(exp);
    if (!tp) return unexpected(Errc::parse, std::string(what) + ": Expiration \"" + exp + "\" is not RFC 3339");
    t.expiration = *tp;
  }
  return t;
}

// ---- credential_process ----

class ProcessProvider final : public RefreshingProvider {
public:
  ProcessProvider(std::string command, std::string profile, const util::Clock& clock)
      : RefreshingProvider("profile " + profile + " (credential_process)", clock), m_command(std::move(command)) {}

protected:
  Result<TimedCredentials> fetch() override {
    FILE* f = ::popen(m_command.c_str(), "r");
    if (!f) return unexpected(Errc::io, "cannot run credential_process");
    std::string out;
    std::array<char, 4096> buf{};
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) out.append(buf.data(), n);
    int rc = ::pclose(f);
    if (rc != 0) {
      int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
      // The command line may embed secrets: name only its program.
      std::string program = m_command.substr(0, m_command.find(' '));
      return unexpected(Errc::config, "credential_process " + program + " exited with status " + std::to_string(code));
    }
    return parse_process_credentials(out, "credential_process output");
  }

private:
  std::string m_command;
};

// ---- STS ----

std::string sts_endpoint(const Config& config) {
  if (!config.sts_endpoint_url.empty()) {
    std::string e = config.sts_endpoint_url;
    while (!e.empty() && e.back() == '/') e.pop_back();
    return e;
  }
  if (config.region.empty()) return "https://sts.amazonaws.com";
  return "https://sts." + config.region + ".amazonaws.com";
}

std::string host_of(const std::string& url) {
  auto s = url.find("://");
  std::string rest = s == std::string::npos ? url : url.substr(s + 3);
  return rest.substr(0, rest.find('/'));
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += sigv4::uri_encode(k, sigv4::Slash::encode) + "=" + sigv4::uri_encode(v, sigv4::Slash::encode);
  }
  return out;
}

Result<TimedCredentials> call_sts(http::Transport& transport, const Config& config, const std::string& action,
                                  const std::vector<std::pair<std::string, std::string>>& params,
                                  const sigv4::Credentials* signer) {
  const std::string endpoint = sts_endpoint(config);
  std::vector<std::pair<std::string, std::string>> all{{"Action", action}, {"Version", "2011-06-15"}};
  all.insert(all.end(), params.begin(), params.end());
  http::Request req;
  req.method = "POST";
  req.url = endpoint + "/";
  req.body = form_encode(all);
  req.headers = {{"Host", host_of(endpoint)}, {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  req.idempotency = http::Idempotency::retry_all;  // STS calls have no side effects worth guarding
  req.timeout_seconds = 30;
  if (signer) {
    sigv4::Params p;
    p.credentials = *signer;
    p.region = config.region.empty() ? "us-east-1" : config.region;
    p.service = "sts";
    p.time = Clock::now();
    p.body_hash_header = sigv4::BodyHashHeader::omit;
    sigv4::Request sreq{"POST", "/", "", req.headers, crypto::sha256_hex(req.body)};
    auto s = sigv4::sign(sreq, p);
    req.headers.insert(req.headers.end(), s.add_headers.begin(), s.add_headers.end());
  }
  KBK_ASSIGN_OR_RETURN(auto resp, transport.send(req));
  if (resp.status != 200) {
    std::string code = xml::text(resp.body, "Code").value_or("HTTP " + std::to_string(resp.status));
    std::string message = xml::text(resp.body, "Message").value_or("");
    Error e(resp.status == 403 ? Errc::forbidden : Errc::config,
            "STS " + action + " at " + endpoint + ": " + code + (message.empty() ? "" : ": " + message));
    e.http_status = resp.status;
    e.reason = code;
    return unexpected(std::move(e));
  }
  return parse_sts_credentials(resp.body);
}

class AssumeRoleProvider final : public RefreshingProvider {
public:
  AssumeRoleProvider(const Config& config, std::string profile, std::shared_ptr<CredentialsProvider> source,
                     std::shared_ptr<http::Transport> transport, const util::Clock& clock)
      : RefreshingProvider("profile " + profile + " (role_arn via STS AssumeRole)", clock),
        m_config(config),
        m_profile(std::move(profile)),
        m_source(std::move(source)),
        m_transport(std::move(transport)) {}

protected:
  Result<TimedCredentials> fetch() override {
    KBK_ASSIGN_OR_RETURN(auto src, m_source->get());
    std::vector<std::pair<std::string, std::string>> params{
        {"RoleArn", m_config.profile_value(m_profile, "role_arn")},
        {"RoleSessionName", session_name()},
    };
    std::string ext = m_config.profile_value(m_profile, "external_id");
    if (!ext.empty()) params.emplace_back("ExternalId", ext);
    std::string dur = m_config.profile_value(m_profile, "duration_seconds");
    if (!dur.empty()) params.emplace_back("DurationSeconds", dur);
    auto r = call_sts(*m_transport, m_config, "AssumeRole", params, &src);
    // STS refusing the source's credentials as expired (a revoked session, a chained role's cache): refresh the
    // source once, as the S3 backend does for its own requests.
    if (!r && (r.error().reason == "ExpiredToken" || r.error().reason == "ExpiredTokenException") &&
        m_source->invalidate(src.access_key_id)) {
      log::info(2, "aws: STS refused the credentials from " + m_source->source() + " as expired; fetching new ones");
      KBK_ASSIGN_OR_RETURN(src, m_source->get());
      r = call_sts(*m_transport, m_config, "AssumeRole", params, &src);
    }
    return r;
  }

public:
  // The same role, another session: RoleSessionName kbk-mover-<time>, the policy and duration given.
  Result<std::optional<TimedCredentials>> scoped_session(const std::string& policy, int seconds) override {
    KBK_ASSIGN_OR_RETURN(auto src, m_source->get());
    std::vector<std::pair<std::string, std::string>> params{
        {"RoleArn", m_config.profile_value(m_profile, "role_arn")},
        {"RoleSessionName", "kbk-mover-" + std::to_string(Clock::to_time_t(Clock::now()))},
        {"Policy", policy},
        {"DurationSeconds", std::to_string(std::max(seconds, 900))},
    };
    std::string ext = m_config.profile_value(m_profile, "external_id");
    if (!ext.empty()) params.emplace_back("ExternalId", ext);
    auto r = call_sts(*m_transport, m_config, "AssumeRole", params, &src);
    if (!r) return unexpected(r.error().wrap("a session for the mover from " + source()));
    log::debug("aws: a session limited by a policy for the mover (key id " + r->credentials.access_key_id + ")");
    return std::optional<TimedCredentials>(std::move(*r));
  }

private:
  std::string session_name() const {
    std::string n = m_config.profile_value(m_profile, "role_session_name");
    return n.empty() ? "kbk-" + std::to_string(Clock::to_time_t(Clock::now())) : n;
  }
  Config m_config;
  std::string m_profile;
  std::shared_ptr<CredentialsProvider> m_source;
  std::shared_ptr<http::Transport> m_transport;
};

class WebIdentityProvider final : public RefreshingProvider {
public:
  WebIdentityProvider(const Config& config, std::string token_file, std::string role_arn, std::string session,
                      std::shared_ptr<http::Transport> transport, const util::Clock& clock)
      : RefreshingProvider("web identity token " + token_file, clock),
        m_config(config),
        m_token_file(std::move(token_file)),
        m_role_arn(std::move(role_arn)),
        m_session(std::move(session)),
        m_transport(std::move(transport)) {}

protected:
  Result<TimedCredentials> fetch() override {
    // The token file is rotated by the kubelet: read it on every refresh.
    KBK_ASSIGN_OR_RETURN(auto token, util::read_file(m_token_file, util::k_max_input_file));
    token = std::string(util::trim(token));
    std::string session = m_session.empty() ? "kbk-" + std::to_string(Clock::to_time_t(Clock::now())) : m_session;
    return call_sts(*m_transport, m_config, "AssumeRoleWithWebIdentity",
                    {{"RoleArn", m_role_arn}, {"RoleSessionName", session}, {"WebIdentityToken", token}}, nullptr);
  }

private:
  Config m_config;
  std::string m_token_file, m_role_arn, m_session;
  std::shared_ptr<http::Transport> m_transport;
};

// ---- container (ECS, EKS Pod Identity) ----

class ContainerProvider final : public RefreshingProvider {
public:
  ContainerProvider(std::string url, Environment env, std::shared_ptr<http::Transport> transport,
                    const util::Clock& clock)
      : RefreshingProvider("container credentials endpoint " + url, clock),
        m_url(std::move(url)),
        m_env(std::move(env)),
        m_transport(std::move(transport)) {}

protected:
  Result<TimedCredentials> fetch() override {
    http::Request req;
    req.url = m_url;
    req.timeout_seconds = 10;
    std::string auth;
    if (auto file = m_env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
      KBK_ASSIGN_OR_RETURN(auth, util::read_file(*file, util::k_max_input_file));
      auth = std::string(util::trim(auth));
    } else if (auto tok = m_env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
      auth = *tok;
    }
    if (!auth.empty()) req.headers.emplace_back("Authorization", auth);
    KBK_ASSIGN_OR_RETURN(auto resp, m_transport->send(req));
    if (resp.status != 200)
      return unexpected(Errc::precondition, "container credentials endpoint answered HTTP " + std::to_string(resp.status));
    KBK_ASSIGN_OR_RETURN(auto doc, json::parse(resp.body, "container credentials"));
    return from_json(doc, "container credentials", "Token");
  }

private:
  std::string m_url;
  Environment m_env;
  std::shared_ptr<http::Transport> m_transport;
};

// ---- EC2 instance metadata (IMDSv2) ----

class ImdsProvider final : public RefreshingProvider {
public:
  ImdsProvider(std::string endpoint, std::shared_ptr<http::Transport> transport, const util::Clock& clock)
      : RefreshingProvider("EC2 instance metadata " + endpoint, clock),
        m_endpoint(std::move(endpoint)),
        m_transport(std::move(transport)) {}

protected:
  Result<TimedCredentials> fetch() override {
    http::Request tok;
    tok.method = "PUT";
    tok.url = m_endpoint + "/latest/api/token";
    tok.headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}};
    tok.timeout_seconds = 2;
    KBK_ASSIGN_OR_RETURN(auto tresp, m_transport->send(tok));
    if (tresp.status != 200)
      return unexpected(Errc::precondition, "instance metadata token request answered HTTP " + std::to_string(tresp.status));
    http::Headers h{{"X-aws-ec2-metadata-token", tresp.body}};
    http::Request roles;
    roles.url = m_endpoint + "/latest/meta-data/iam/security-credentials/";
    roles.headers = h;
    roles.timeout_seconds = 2;
    KBK_ASSIGN_OR_RETURN(auto rresp, m_transport->send(roles));
    std::string role(util::trim(util::split(rresp.body, '\n').empty() ? "" : util::split(rresp.body, '\n')[0]));
    if (rresp.status != 200 || role.empty())
      return unexpected(Errc::precondition, "instance metadata has no IAM role (HTTP " + std::to_string(rresp.status) + ")");
    http::Request creds;
    creds.url = roles.url + role;
    creds.headers = h;
    creds.timeout_seconds = 2;
    KBK_ASSIGN_OR_RETURN(auto cresp, m_transport->send(creds));
    if (cresp.status != 200)
      return unexpected(Errc::precondition, "instance metadata credentials answered HTTP " + std::to_string(cresp.status));
    KBK_ASSIGN_OR_RETURN(auto doc, json::parse(cresp.body, "instance metadata credentials"));
    return from_json(doc, "instance metadata credentials", "Token");
  }

private:
  std::string m_endpoint;
  std::shared_ptr<http::Transport> m_transport;
};

// ---- IAM Identity Center (SSO) ----
//
// Behaviour as the AWS CLI v2 (botocore's SSOProvider): a profile with sso_account_id or sso_role_name is an SSO
// profile; it needs both plus sso_start_url and sso_region, from the profile (legacy) or from the
// "[sso-session NAME]" section its sso_session names (a value set in both must agree). The access token that
// `aws sso login` cached is looked up by the SHA-1 of the session name (legacy: of the start URL); kbk only reads
// it, on every refresh, so a login done while kbk runs is picked up.

struct SsoSettings {
  std::string profile;     // for the login hint
  std::string session;     // sso_session; "" for the legacy form
  std::string start_url, region, account_id, role_name;
  // What `aws sso login` is said to renew: the session name, or the start URL for the legacy form.
  std::string display() const { return session.empty() ? start_url : session; }
};

// nullopt when the profile is not an SSO profile; Errc::config when it is one but incomplete or inconsistent.
Result<std::optional<SsoSettings>> sso_settings(const Config& c, const std::string& profile) {
  std::string account = c.profile_value(profile, "sso_account_id");
  std::string role = c.profile_value(profile, "sso_role_name");
  if (account.empty() && role.empty()) return std::optional<SsoSettings>();
  std::map<std::string, std::string> values{{"sso_account_id", account},
                                            {"sso_role_name", role},
                                            {"sso_start_url", c.profile_value(profile, "sso_start_url")},
                                            {"sso_region", c.profile_value(profile, "sso_region")}};
  SsoSettings out;
  out.profile = profile;
  out.session = c.profile_value(profile, "sso_session");
  if (!out.session.empty()) {
    auto section = c.config_file.find("sso-session " + out.session);
    if (section == c.config_file.end())
      return unexpected(Errc::config, "AWS profile " + profile + ": sso_session \"" + out.session +
                                          "\" has no [sso-session " + out.session + "] section in the config file");
    for (const char* key : {"sso_start_url", "sso_region"}) {
      auto v = section->second.find(key);
      if (v == section->second.end() || v->second.empty()) continue;
      if (!values[key].empty() && values[key] != v->second)
        return unexpected(Errc::config, "AWS profile " + profile + ": " + key + " is \"" + values[key] +
                                            "\" but [sso-session " + out.session + "] says \"" + v->second + "\"");
      values[key] = v->second;
    }
  }
  std::string missing;
  for (const char* key : {"sso_account_id", "sso_role_name", "sso_start_url", "sso_region"})
    if (values[key].empty()) missing += std::string(missing.empty() ? "" : ", ") + key;
  if (!missing.empty())
    return unexpected(Errc::config, "AWS profile " + profile + " is set up for SSO but lacks " + missing +
                                        (out.session.empty() ? "" : " (in the profile or [sso-session " + out.session + "])"));
  out.account_id = values["sso_account_id"];
  out.role_name = values["sso_role_name"];
  out.start_url = values["sso_start_url"];
  out.region = values["sso_region"];
  return std::optional<SsoSettings>(std::move(out));
}

// expiresAt as the AWS CLI writes it: RFC 3339 ("2026-11-26T18:00:00Z"), or with a "UTC" suffix (older CLIs).
std::optional<Clock::time_point> parse_sso_expiry(std::string text) {
  if (util::ends_with(text, "UTC")) text = text.substr(0, text.size() - 3) + "Z";
  return util::parse_rfc3339(text);
}

class SsoProvider final : public RefreshingProvider {
public:
  SsoProvider(SsoSettings sso, std::string endpoint, std::string cache_dir, std::shared_ptr<http::Transport> transport,
              const util::Clock& clock)
      : RefreshingProvider("profile " + sso.profile + " (SSO " + sso.display() + ")", clock),
        m_sso(std::move(sso)),
        m_endpoint(std::move(endpoint)),
        m_cache_dir(std::move(cache_dir)),
        m_transport(std::move(transport)) {}

protected:
  Result<TimedCredentials> fetch() override {
    KBK_ASSIGN_OR_RETURN(auto token, access_token());
    http::Request req;
    req.url = m_endpoint + "/federation/credentials?account_id=" +
              sigv4::uri_encode(m_sso.account_id, sigv4::Slash::encode) +
              "&role_name=" + sigv4::uri_encode(m_sso.role_name, sigv4::Slash::encode);
    req.headers = {{"x-amz-sso_bearer_token", token}};
    req.timeout_seconds = 30;
    KBK_ASSIGN_OR_RETURN(auto resp, m_transport->send(req));
    if (resp.status == 401 || resp.status == 403) return login_needed("has expired");  // UnauthorizedException
    if (resp.status != 200) {
      std::string detail;
      if (auto doc = json::parse(resp.body, "SSO portal answer")) detail = json::get_string(*doc, {"message"});
      Error e(resp.status >= 500 ? Errc::service_unavailable : Errc::config,
              "SSO portal " + m_endpoint + ": role " + m_sso.role_name + " in account " + m_sso.account_id +
                  ": HTTP " + std::to_string(resp.status) + (detail.empty() ? "" : ": " + detail));
      e.http_status = resp.status;
      return unexpected(std::move(e));
    }
    return parse_sso_role_credentials(resp.body);
  }

private:
  Error login_needed(const std::string& state) const {
    Error e(Errc::unauthorized, "AWS SSO session " + m_sso.display() + " " + state + ": run `aws sso login --profile " +
                                    m_sso.profile + "`");
    e.reason = k_self_explaining;
    return e;
  }

  Result<std::string> access_token() const {
    const std::string path = m_cache_dir + "/" + sso_cache_file_name(m_sso.session.empty() ? m_sso.start_url : m_sso.session);
    auto text = util::read_file(path, util::k_max_input_file);
    if (!text) {
      log::debug("aws: no SSO token at " + path + ": " + text.error().message);
      return unexpected(login_needed("is not logged in (no token in " + m_cache_dir + ")"));
    }
    auto doc = json::parse(*text, path);
    if (!doc) return unexpected(Errc::parse, "AWS SSO token cache " + path + " is not JSON");
    std::string token = json::get_string(*doc, {"accessToken"});
    std::string expires = json::get_string(*doc, {"expiresAt"});
    if (token.empty()) return unexpected(login_needed("is not logged in (" + path + " holds no accessToken)"));
    auto expiry = parse_sso_expiry(expires);
    if (!expiry)
      return unexpected(Errc::parse, "AWS SSO token cache " + path + ": expiresAt \"" + expires + "\" is not a time");
    if (clock().now() >= *expiry) return unexpected(login_needed("has expired"));
    return token;
  }

  SsoSettings m_sso;
  std::string m_endpoint;
  std::string m_cache_dir;
  std::shared_ptr<http::Transport> m_transport;
};

// IMDS at the end of the default chain: when there is no instance metadata service at all (not on EC2: the
// connection fails or times out), the error is "no AWS credentials found" with every place the chain looked, not
// a network error about 169.254.169.254. Errors from a metadata service that answered stay as they are.
class LastResortImdsProvider final : public CredentialsProvider {
public:
  LastResortImdsProvider(std::string endpoint, std::shared_ptr<http::Transport> transport, const util::Clock& clock,
                         std::string looked)
      : m_imds(endpoint, std::move(transport), clock), m_endpoint(endpoint), m_looked(std::move(looked)) {}
  Result<sigv4::Credentials> get() override {
    auto c = m_imds.get();
    if (!c && (c.error().is(Errc::network) || c.error().is(Errc::timeout)))
      return unexpected(Errc::config, m_looked + " (no answer from " + m_endpoint + ")");
    return c;
  }
  std::string source() const override { return m_imds.source(); }
  bool invalidate(const std::string& rejected_access_key_id) override { return m_imds.invalidate(rejected_access_key_id); }

private:
  ImdsProvider m_imds;
  std::string m_endpoint;
  std::string m_looked;
};

class NoCredentialsProvider final : public CredentialsProvider {
public:
  explicit NoCredentialsProvider(std::string why) : m_why(std::move(why)) {}
  Result<sigv4::Credentials> get() override { return unexpected(Errc::config, m_why); }
  std::string source() const override { return "none"; }

private:
  std::string m_why;
};

std::optional<sigv4::Credentials> profile_keys(const Config& c, const std::string& profile) {
  sigv4::Credentials k{c.profile_value(profile, "aws_access_key_id"), c.profile_value(profile, "aws_secret_access_key"),
                       c.profile_value(profile, "aws_session_token")};
  if (k.access_key_id.empty() || k.secret_access_key.empty()) return std::nullopt;
  return k;
}

// What every source may need besides the configuration.
struct Deps {
  const Environment& env;
  std::shared_ptr<http::Transport> transport;
  const util::Clock& clock;
};

std::string imds_endpoint(const Environment& env) {
  return env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT").value_or("http://169.254.169.254");
}

std::string sso_endpoint(const Config& c, const SsoSettings& sso) {
  std::string e = c.sso_endpoint_url.empty() ? "https://portal.sso." + sso.region + ".amazonaws.com" : c.sso_endpoint_url;
  while (!e.empty() && e.back() == '/') e.pop_back();
  return e;
}

Result<std::shared_ptr<CredentialsProvider>> profile_chain(const Config& c, const std::string& profile, const Deps& d,
                                                           std::set<std::string>& seen, bool top);

Result<std::shared_ptr<CredentialsProvider>> credential_source(const std::string& profile, const std::string& source,
                                                               const Deps& d) {
  if (source == "Environment") {
    auto id = d.env.get("AWS_ACCESS_KEY_ID");
    auto secret = d.env.get("AWS_SECRET_ACCESS_KEY");
    if (!id || !secret)
      return unexpected(Errc::config, "AWS profile " + profile + ": credential_source Environment but AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set");
    return make_static_provider({*id, *secret, d.env.get("AWS_SESSION_TOKEN").value_or("")}, "environment");
  }
  if (source == "EcsContainer") {
    std::string url = d.env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI").value_or("");
    if (url.empty()) {
      auto rel = d.env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
      if (!rel) return unexpected(Errc::config, "AWS profile " + profile + ": credential_source EcsContainer outside a container");
      url = "http://169.254.170.2" + *rel;
    }
    return std::shared_ptr<CredentialsProvider>(std::make_shared<ContainerProvider>(url, d.env, d.transport, d.clock));
  }
  if (source == "Ec2InstanceMetadata")
    return std::shared_ptr<CredentialsProvider>(std::make_shared<ImdsProvider>(imds_endpoint(d.env), d.transport, d.clock));
  return unexpected(Errc::config, "AWS profile " + profile + ": unknown credential_source \"" + source + "\"");
}

Result<std::shared_ptr<CredentialsProvider>> profile_chain(const Config& c, const std::string& profile, const Deps& d,
                                                           std::set<std::string>& seen, bool top) {
  if (!seen.insert(profile).second)
    return unexpected(Errc::config, "AWS profile " + profile + ": source_profile chain loops back to itself");
  std::string role = c.profile_value(profile, "role_arn");
  if (!role.empty()) {
    std::string source_profile = c.profile_value(profile, "source_profile");
    std::string source = c.profile_value(profile, "credential_source");
    std::string wit = c.profile_value(profile, "web_identity_token_file");
    if (!wit.empty())
      return std::shared_ptr<CredentialsProvider>(std::make_shared<WebIdentityProvider>(
          c, util::expand_home(wit), role, c.profile_value(profile, "role_session_name"), d.transport, d.clock));
    std::shared_ptr<CredentialsProvider> src;
    if (!source_profile.empty()) {
      if (!c.has_profile(source_profile))
        return unexpected(Errc::config, "AWS profile " + profile + ": source_profile \"" + source_profile + "\" does not exist");
      // A source profile's own static keys win over its role (the AWS CLI rule for chained roles).
      if (source_profile == profile) {
        auto keys = profile_keys(c, profile);
        if (!keys) return unexpected(Errc::config, "AWS profile " + profile + ": source_profile is itself but it has no keys");
        src = make_static_provider(*keys, "profile " + profile);
      } else {
        KBK_ASSIGN_OR_RETURN(src, profile_chain(c, source_profile, d, seen, false));
      }
    } else if (!source.empty()) {
      KBK_ASSIGN_OR_RETURN(src, credential_source(profile, source, d));
    } else {
      return unexpected(Errc::config, "AWS profile " + profile + ": role_arn needs source_profile or credential_source");
    }
    return std::shared_ptr<CredentialsProvider>(std::make_shared<AssumeRoleProvider>(c, profile, src, d.transport, d.clock));
  }
  KBK_ASSIGN_OR_RETURN(auto sso, sso_settings(c, profile));
  if (sso) {
    std::string cache_dir = d.env.get("HOME").value_or("/root") + "/.aws/sso/cache";
    std::string endpoint = sso_endpoint(c, *sso);
    return std::shared_ptr<CredentialsProvider>(
        std::make_shared<SsoProvider>(std::move(*sso), std::move(endpoint), std::move(cache_dir), d.transport, d.clock));
  }
  if (auto keys = profile_keys(c, profile)) return make_static_provider(*keys, "profile " + profile);
  std::string process = c.profile_value(profile, "credential_process");
  if (!process.empty())
    return std::shared_ptr<CredentialsProvider>(std::make_shared<ProcessProvider>(process, profile, d.clock));
  if (!top)
    return unexpected(Errc::config, "AWS profile " + profile + " has no credentials (keys, role_arn, SSO or credential_process)");
  return std::shared_ptr<CredentialsProvider>();
}

}  // namespace

bool CredentialsProvider::invalidate(const std::string& rejected_access_key_id) {
  (void)rejected_access_key_id;
  return false;
}

Result<std::optional<TimedCredentials>> CredentialsProvider::scoped_session(const std::string&, int) {
  return std::optional<TimedCredentials>();
}

namespace {

class ScopedProvider final : public CredentialsProvider {
public:
  ScopedProvider(std::shared_ptr<CredentialsProvider> base, std::string policy, int seconds)
      : m_base(std::move(base)), m_policy(std::move(policy)), m_seconds(seconds) {}
  Result<sigv4::Credentials> get() override {
    std::lock_guard lock(m_mutex);
    if (m_unscoped) return m_base->get();
    if (m_cached && (!m_cached->expiration || Clock::now() + k_refresh_margin < *m_cached->expiration))
      return m_cached->credentials;
    KBK_ASSIGN_OR_RETURN(auto s, m_base->scoped_session(m_policy, m_seconds));
    if (!s) {
      m_unscoped = true;
      return m_base->get();
    }
    m_cached = std::move(*s);
    return m_cached->credentials;
  }
  std::string source() const override {
    std::lock_guard lock(m_mutex);
    return m_base->source() + (m_unscoped ? "" : ", a session of its own limited to the repository's packs");
  }
  bool invalidate(const std::string& rejected) override {
    std::lock_guard lock(m_mutex);
    if (m_unscoped) return m_base->invalidate(rejected);
    if (m_cached && (rejected.empty() || m_cached->credentials.access_key_id == rejected)) m_cached.reset();
    return true;
  }

private:
  std::shared_ptr<CredentialsProvider> m_base;
  std::string m_policy;
  int m_seconds;
  mutable std::mutex m_mutex;
  bool m_unscoped = false;
  std::optional<TimedCredentials> m_cached;
};

}  // namespace

std::shared_ptr<CredentialsProvider> make_scoped_provider(std::shared_ptr<CredentialsProvider> base, std::string policy,
                                                          int seconds) {
  return std::make_shared<ScopedProvider>(std::move(base), std::move(policy), seconds);
}

std::shared_ptr<CredentialsProvider> make_static_provider(sigv4::Credentials credentials, std::string source) {
  return std::make_shared<StaticProvider>(std::move(credentials), std::move(source));
}

Result<std::shared_ptr<CredentialsProvider>> make_default_chain(const Config& config, const Environment& env,
                                                                std::shared_ptr<http::Transport> transport,
                                                                const util::Clock* clock) {
  const Deps d{env, std::move(transport), clock ? *clock : util::system_clock()};
  // 1. environment keys
  auto id = env.get("AWS_ACCESS_KEY_ID");
  auto secret = env.get("AWS_SECRET_ACCESS_KEY");
  if (id && secret)
    return make_static_provider({*id, *secret, env.get("AWS_SESSION_TOKEN").value_or("")}, "environment");
  if (id || secret)
    log::warning("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together; ignoring the one that is set");
  // 2. profile role (3. its web identity) -- checked before env web identity only when the profile has a role
  bool profile_has_role = !config.profile_value(config.profile, "role_arn").empty();
  if (!profile_has_role) {
    auto token_file = env.get("AWS_WEB_IDENTITY_TOKEN_FILE");
    auto role = env.get("AWS_ROLE_ARN");
    if (token_file && role)
      return std::shared_ptr<CredentialsProvider>(std::make_shared<WebIdentityProvider>(
          config, *token_file, *role, env.get("AWS_ROLE_SESSION_NAME").value_or(""), d.transport, d.clock));
  }
  // 2-6. the profile (role_arn, web_identity_token_file, SSO, keys, credential_process)
  std::set<std::string> seen;
  KBK_ASSIGN_OR_RETURN(auto p, profile_chain(config, config.profile, d, seen, true));
  if (p) return p;
  // 7. container
  if (auto full = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
    return std::shared_ptr<CredentialsProvider>(std::make_shared<ContainerProvider>(*full, env, d.transport, d.clock));
  if (auto rel = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"))
    return std::shared_ptr<CredentialsProvider>(
        std::make_shared<ContainerProvider>("http://169.254.170.2" + *rel, env, d.transport, d.clock));
  // 8. instance metadata: the last place. When it is not there either, the error says every place looked at.
  const std::string credentials_file =
      env.get("AWS_SHARED_CREDENTIALS_FILE").value_or(env.get("HOME").value_or("~") + "/.aws/credentials");
  const std::string config_file = env.get("AWS_CONFIG_FILE").value_or(env.get("HOME").value_or("~") + "/.aws/config");
  const std::string looked = "no AWS credentials found; looked at AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                             "AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN, profile " + config.profile + " in " +
                             credentials_file + " and " + config_file +
                             ", AWS_CONTAINER_CREDENTIALS_FULL_URI/RELATIVE_URI, and EC2 instance metadata";
  if (util::to_lower(env.get("AWS_EC2_METADATA_DISABLED").value_or("")) == "true")
    return std::shared_ptr<CredentialsProvider>(
        std::make_shared<NoCredentialsProvider>(looked + " (off: AWS_EC2_METADATA_DISABLED=true)"));
  return std::shared_ptr<CredentialsProvider>(
      std::make_shared<LastResortImdsProvider>(imds_endpoint(env), d.transport, d.clock, looked));
}

Result<TimedCredentials> parse_sts_credentials(std::string_view body) {
  auto creds = xml::elements(body, "Credentials");
  if (creds.empty()) return unexpected(Errc::parse, "STS response holds no Credentials");
  TimedCredentials t;
  t.credentials.access_key_id = xml::text(creds[0], "AccessKeyId").value_or("");
  t.credentials.secret_access_key = xml::text(creds[0], "SecretAccessKey").value_or("");
  t.credentials.session_token = xml::text(creds[0], "SessionToken").value_or("");
  if (t.credentials.access_key_id.empty() || t.credentials.secret_access_key.empty())
    return unexpected(Errc::parse, "STS response Credentials lack AccessKeyId or SecretAccessKey");
  if (auto exp = xml::text(creds[0], "Expiration")) {
    auto tp = util::parse_rfc3339(*exp);
    if (!tp) return unexpected(Errc::parse, "STS response Expiration \"" + *exp + "\" is not RFC 3339");
    t.expiration = *tp;
  }
  return t;
}

Result<TimedCredentials> parse_process_credentials(std::string_view json_text, std::string_view what) {
  KBK_ASSIGN_OR_RETURN(auto doc, json::parse(json_text, what));
  const auto* version = json::find(doc, "Version");
  if (!version || !version->IsInt() || version->GetInt() != 1)
    return unexpected(Errc::config, std::string(what) + ": \"Version\": 1 expected");
  return from_json(doc, what, "SessionToken");
}

}  // namespace kbk::storage::aws

namespace kbk::storage::aws {

Result<TimedCredentials> parse_sso_role_credentials(std::string_view json_text) {
  KBK_ASSIGN_OR_RETURN(auto doc, json::parse(json_text, "SSO portal GetRoleCredentials answer"));
  const auto* rc = json::find(doc, "roleCredentials");
  if (!rc || !rc->IsObject()) return unexpected(Errc::parse, "SSO portal answer holds no roleCredentials");
  TimedCredentials t;
  t.credentials.access_key_id = json::get_string(*rc, {"accessKeyId"});
  t.credentials.secret_access_key = json::get_string(*rc, {"secretAccessKey"});
  t.credentials.session_token = json::get_string(*rc, {"sessionToken"});
  if (t.credentials.access_key_id.empty() || t.credentials.secret_access_key.empty())
    return unexpected(Errc::parse, "SSO portal roleCredentials lack accessKeyId or secretAccessKey");
  if (const auto* exp = json::find(*rc, "expiration")) {
    if (!exp->IsNumber()) return unexpected(Errc::parse, "SSO portal roleCredentials expiration is not a number");
    // Milliseconds since the epoch.
    t.expiration = Clock::time_point(std::chrono::duration_cast<Clock::duration>(
        std::chrono::milliseconds(static_cast<int64_t>(exp->GetDouble()))));
  }
  return t;
}

std::string sso_cache_file_name(std::string_view session_or_start_url) {
  // SHA-1 names a cache file here, as the AWS CLI does; it protects nothing.
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(session_or_start_url.data(), session_or_start_url.size(), digest, &len, EVP_sha1(), nullptr);
  static const char* const k_hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += k_hex[digest[i] >> 4];
    out += k_hex[digest[i] & 0xf];
  }
  return out + ".json";
}

}  // namespace kbk::storage::aws
