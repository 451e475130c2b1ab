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
//   4. the profile's aws_access_key_id/aws_secret_access_key (credentials file first, then config file)
//   5. the profile's credential_process (JSON Version 1 on stdout, cached until its Expiration)
//   6. container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI (EKS Pod Identity) or _RELATIVE_URI (ECS),
//      with AWS_CONTAINER_AUTHORIZATION_TOKEN or AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
//   7. EC2 instance metadata (IMDSv2 token first), unless AWS_EC2_METADATA_DISABLED=true
// Temporary credentials are cached and refreshed five minutes before they expire. STS is reached at
// AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL / https://sts.REGION.amazonaws.com. Secrets are never logged.
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
};

std::shared_ptr<CredentialsProvider> make_static_provider(sigv4::Credentials credentials, std::string source);

// The chain above for config. transport carries STS, container and instance-metadata requests.
// Errc::config when the profile asks for something impossible (role_arn without a source, a cycle).
Result<std::shared_ptr<CredentialsProvider>> make_default_chain(const Config& config, const Environment& env,
                                                                std::shared_ptr<http::Transport> transport);

// STS: the XML of AssumeRole / AssumeRoleWithWebIdentity responses -> credentials (exposed for tests).
Result<TimedCredentials> parse_sts_credentials(std::string_view xml);
// credential_process output (Version 1 JSON) -> credentials.
Result<TimedCredentials> parse_process_credentials(std::string_view json_text, std::string_view what);

}  // namespace kbk::storage::aws
