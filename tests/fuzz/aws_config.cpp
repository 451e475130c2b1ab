// The AWS files and credential answers the s3:// backend reads. The first byte picks: the shared config and
// credentials files (two parts separated by kbk::fuzz::k_separator, written to the scratch folder and read by
// aws::load_config as AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE, for the default profile and for a profile
// the third part names), a credential_process's output, an STS AssumeRole answer (XML), or the SSO portal's
// GetRoleCredentials answer. Errors must be one printable line; credentials read must have both keys.
// fuzz-link: kbk_storage
#include <cstdlib>
#include <fstream>

#include <kbk/storage/aws.hpp>
#include <kbk/util/strings.hpp>

#include "fuzz_support.hpp"

namespace {

void write(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

void check(const kbk::Result<kbk::storage::aws::TimedCredentials>& c) {
  if (!c) {
    (void)kbk::util::printable(c.error().message);
    return;
  }
  if (c->credentials.access_key_id.empty() || c->credentials.secret_access_key.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kbk::storage;
  if (size == 0) return 0;
  const uint8_t pick = data[0] % 4;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (pick) {
    case 0: {
      auto parts = kbk::fuzz::split(data + 1, size - 1, 3);
      const std::string config = kbk::fuzz::scratch() + "/config", creds = kbk::fuzz::scratch() + "/credentials";
      write(config, parts[0]);
      write(creds, parts.size() > 1 ? parts[1] : std::string_view());
      aws::Environment env;
      env.getenv = [&](const std::string& name) -> std::optional<std::string> {
        if (name == "AWS_CONFIG_FILE") return config;
        if (name == "AWS_SHARED_CREDENTIALS_FILE") return creds;
        if (name == "HOME") return kbk::fuzz::scratch();
        return std::nullopt;
      };
      for (const std::string& profile : {std::string(), parts.size() > 2 ? std::string(parts[2]) : std::string("x")}) {
        auto c = aws::load_config(env, profile);
        if (!c) {
          (void)kbk::util::printable(c.error().message);
          continue;
        }
        (void)c->profile_value(c->profile, "aws_access_key_id");
        (void)c->has_profile("default");
      }
      break;
    }
    case 1: check(aws::parse_process_credentials(text, "credential_process")); break;
    case 2: check(aws::parse_sts_credentials(text)); break;
    default: check(aws::parse_sso_role_credentials(text));
  }
  return 0;
}
