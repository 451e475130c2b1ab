// AWS settings and credentials the way the AWS CLI finds them, for the S3 backend (and anything else that signs
// requests with SigV4).
//
// Settings: AWS_PROFILE (else "default"), AWS_CONFIG_FILE (~/.aws/config, sections "[profile NAME]" and
// "[default]"), AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials, sections "[NAME]"), AWS_REGION /
// AWS_DEFAULT_REGION / the profile's region, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL / the profile's
// endpoint_url, AWS_CA_BUNDLE / the profile's ca_bundle.
//
// Credentials, first source that applies wins (the AWS CLI's order):
//   1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN)
//   2. the profile's role_arn with source_profile or credential_source, through STS AssumeRole
//   3. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (or the profile's web_identity_token_file +
//      role_arn), through STS AssumeRoleWithWebIdentity (EKS IRSA)
//   4. IAM Identity Center (SSO): the profile's sso_account_id + sso_role_name with sso_session = NAME (an
//      "[sso-session NAME]" section holding sso_start_url and sso_region) or the legacy sso_start_url/sso_region
//      in the profile. The access token is read from the AWS CLI's cache, ~/.aws/sso/cache/<sha1 hex of the
//      session name, or of the start URL for the legacy form>.json (accessToken, expiresAt); kbk never logs in:
//      a missing or expired token is Errc::unauthorized, "AWS SSO session NAME has expired: run `aws sso login
//      --profile P`". Role credentials come from the portal's GET /federation/credentials at
//      AWS_ENDPOINT_URL_SSO / AWS_ENDPOINT_URL / https://portal.sso.SSO_REGION.amazonaws.com.
//   5. the profile's aws_access_key_id/aws_secret_access_key (credentials file first, then config file)
//   6. the profile's credential_process (JSON Version 1 on stdout, cached until its Expiration)
//   7. container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI (EKS Pod Identity) or _RELATIVE_URI (ECS),
//      with AWS_CONTAINER_AUTHORIZATION_TOKEN or AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
//   8. EC2 instance metadata (IMDSv2 token first), unless AWS_EC2_METADATA_DISABLED=true
// Temporary credentials are cached and refreshed five minutes before they expire, and dropped at once when a
// server refuses them as expired (CredentialsProvider::invalidate; the S3 backend then retries the request once).
// STS is reached at AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL / https://sts.REGION.amazonaws.com. Secrets (keys,
// session tokens, the SSO access token) are never logged.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <kbk/http/http.hpp>
#include <kbk/storage/sigv4.hpp>
#include <kbk/util/error.hpp>
#include <kbk/util/time.hpp>

namespace kbk::storage::aws {

// The process environment, or a test's.
struct Environment {
  std::function<std::optional<std::string>(const std::string& name)> getenv;
  static Environment process();
  // A non-empty variable's value.
  std::optional<std::string> get(const std::string& name) const;
};

// INI sections -> key -> value (keys lowercased; "[profile x]" kept as written).
using Ini = std::map<std::string, std::map<std::string, std::string>>;
Result<Ini> parse_ini(std::string_view text, std::string_view what);

struct Config {
  std::string profile;                          // the profile used
  std::map<std::string, std::string> values;    // the profile's config-file values
  std::map<std::string, std::string> credentials_values;  // its credentials-file values
  Ini config_file;                              // whole files, for source_profile chains
  Ini credentials_file;
  std::string region;                           // "" when none is configured
  std::string s3_endpoint_url;                  // "" = AWS
  std::string sts_endpoint_url;                 // "" = AWS
  std::string sso_endpoint_url;                 // "" = https://portal.sso.SSO_REGION.amazonaws.com
  std::string ca_bundle;                        // a PEM file path, "" = system store

  // A profile's value from the credentials file, else the config file ("" when absent).
  std::string profile_value(const std::string& profile_name, const std::string& key) const;
  bool has_profile(const std::string& profile_name) const;
};

// Reads the files and variables. profile "" = AWS_PROFILE, else "default". A profile named explicitly (argument
// or AWS_PROFILE) that exists in neither file is Errc::config; missing files are fine.
Result<Config> load_config(const Environment& env, const std::string& profile = "");

struct TimedCredentials {
  sigv4::Credentials credentials;
  std::optional<std::chrono::system_clock::time_point> expiration;  // nullopt = long-lived
};

class CredentialsProvider {
public:
  virtual ~CredentialsProvider() = default;
  // Current credentials, fetched or refreshed as needed. Thread safe.
  virtual Result<sigv4::Credentials> get() = 0;
  // Where they come from, for messages ("environment", "profile prod (credential_process)").
  virtual std::string source() const = 0;
  // A server refused credentials as expired (S3 ExpiredToken): forget them if they are still the cached ones
  // (rejected_access_key_id; "" = whatever is cached), so the next get() fetches fresh ones. Returns whether the
  // next get() can differ: false for sources that cannot refresh (static keys), where a retry is pointless.
  virtual bool invalidate(const std::string& rejected_access_key_id);
  // A session of its own for another process (the in-pod mover, docs/mover.md section 6), limited by an IAM session
  // policy (JSON) and lasting `seconds` (STS takes 900 up to the role's maximum). Only sources that call STS
  // AssumeRole themselves (a profile's role_arn) can make one; the others return std::nullopt, and the caller hands
  // over what get() returns.
  virtual Result<std::optional<TimedCredentials>> scoped_session(const std::string& policy, int seconds);
};

std::shared_ptr<CredentialsProvider> make_static_provider(sigv4::Credentials credentials, std::string source);

// Credentials for another process: scoped sessions of `base` (scoped_session(policy, seconds)), each kept until five
// minutes before it expires or until invalidate() names it; where base cannot make one, base's own credentials.
std::shared_ptr<CredentialsProvider> make_scoped_provider(std::shared_ptr<CredentialsProvider> base, std::string policy,
                                                          int seconds);

// The chain above for config. transport carries STS, SSO portal, container and instance-metadata requests.
// clock decides when cached credentials are due for refresh (nullptr = the system clock; it must outlive the
// chain). Errc::config when the profile asks for something impossible (role_arn without a source, a cycle, an
// SSO profile missing a setting or naming an sso-session that does not exist).
Result<std::shared_ptr<CredentialsProvider>> make_default_chain(const Config& config, const Environment& env,
                                                                std::shared_ptr<http::Transport> transport,
                                                                const util::Clock* clock = nullptr);

// STS: the XML of AssumeRole / AssumeRoleWithWebIdentity responses -> credentials (exposed for tests).
Result<TimedCredentials> parse_sts_credentials(std::string_view xml);
// credential_process output (Version 1 JSON) -> credentials.
Result<TimedCredentials> parse_process_credentials(std::string_view json_text, std::string_view what);
// The SSO portal's GetRoleCredentials answer ({"roleCredentials": {..., "expiration": ms since the epoch}}).
Result<TimedCredentials> parse_sso_role_credentials(std::string_view json_text);
// The AWS CLI's SSO token cache file name for a session name (or, legacy, a start URL): "<sha1 hex>.json".
std::string sso_cache_file_name(std::string_view session_or_start_url);

}  // namespace kbk::storage::aws
