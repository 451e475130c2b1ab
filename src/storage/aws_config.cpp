// AWS CLI settings: environment variables and the shared config/credentials files.
#include <kbk/storage/aws.hpp>

#include <cstdlib>

#include <unistd.h>

#include <kbk/util/fs.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::storage::aws {

Environment Environment::process() {
  return Environment{[](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  }};
}

std::optional<std::string> Environment::get(const std::string& name) const {
  if (!getenv) return std::nullopt;
  auto v = getenv(name);
  if (!v || v->empty()) return std::nullopt;
  return v;
}

Result<Ini> parse_ini(std::string_view text, std::string_view what) {
  Ini ini;
  std::string section;
  std::string last_key;
  int line_no = 0;
  for (const auto& raw : util::split(text, '\n', false)) {
    ++line_no;
    std::string_view line = raw;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view t = util::trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t.front() == '[') {
      if (t.back() != ']')
        return unexpected(Errc::config, std::string(what) + " line " + std::to_string(line_no) + ": unterminated section");
      section = std::string(util::trim(t.substr(1, t.size() - 2)));
      ini[section];
      last_key.clear();
      continue;
    }
    // Indented lines continue the previous value (nested settings like "s3 =\n  addressing_style = path").
    if ((line[0] == ' ' || line[0] == '\t') && !last_key.empty()) {
      auto eq = t.find('=');
      if (eq != std::string_view::npos && !section.empty()) {
        std::string nested = last_key + "." + util::to_lower(util::trim(t.substr(0, eq)));
        ini[section][nested] = std::string(util::trim(t.substr(eq + 1)));
      }
      continue;
    }
    auto eq = t.find('=');
    if (eq == std::string_view::npos)
      return unexpected(Errc::config, std::string(what) + " line " + std::to_string(line_no) + ": expected key = value");
    if (section.empty())
      return unexpected(Errc::config, std::string(what) + " line " + std::to_string(line_no) + ": value outside a [section]");
    last_key = util::to_lower(util::trim(t.substr(0, eq)));
    ini[section][last_key] = std::string(util::trim(t.substr(eq + 1)));
  }
  return ini;
}

namespace {

Result<Ini> read_ini(const std::string& path) {
  auto text = util::read_file(path, util::k_max_input_file);
  if (!text) {
    if (text.error().is(Errc::not_found)) return Ini{};
    // read_file may report a missing file as io; treat an unreadable-because-absent file as empty.
    if (::access(path.c_str(), F_OK) != 0) return Ini{};
    return unexpected(text.error());
  }
  return parse_ini(*text, path);
}

std::string home_path(const Environment& env, const std::string& rel) {
  auto home = env.get("HOME");
  return (home ? *home : std::string("/root")) + "/" + rel;
}

// "~/x" with the environment's HOME (tests pass their own).
std::string expand(const Environment& env, const std::string& path) {
  if (path == "~" || util::starts_with(path, "~/")) return home_path(env, path.size() > 2 ? path.substr(2) : "");
  return path;
}

}  // namespace

std::string Config::profile_value(const std::string& name, const std::string& key) const {
  auto c = credentials_file.find(name);
  if (c != credentials_file.end()) {
    auto v = c->second.find(key);
    if (v != c->second.end()) return v->second;
  }
  auto f = config_file.find(name == "default" ? "default" : "profile " + name);
  if (f == config_file.end() && name == "default") f = config_file.find("profile default");
  if (f != config_file.end()) {
    auto v = f->second.find(key);
    if (v != f->second.end()) return v->second;
  }
  return "";
}

bool Config::has_profile(const std::string& name) const {
  return credentials_file.count(name) || config_file.count("profile " + name) ||
         (name == "default" && config_file.count("default"));
}

Result<Config> load_config(const Environment& env, const std::string& profile) {
  Config c;
  bool explicit_profile = !profile.empty();
  c.profile = profile;
  if (c.profile.empty()) {
    if (auto p = env.get("AWS_PROFILE")) {
      c.profile = *p;
      explicit_profile = true;
    } else if (auto p2 = env.get("AWS_DEFAULT_PROFILE")) {
      c.profile = *p2;
      explicit_profile = true;
    } else {
      c.profile = "default";
    }
  }
  std::string config_path = env.get("AWS_CONFIG_FILE").value_or(home_path(env, ".aws/config"));
  std::string creds_path = env.get("AWS_SHARED_CREDENTIALS_FILE").value_or(home_path(env, ".aws/credentials"));
  config_path = expand(env, config_path);
  creds_path = expand(env, creds_path);
  KBK_ASSIGN_OR_RETURN(c.config_file, read_ini(config_path));
  KBK_ASSIGN_OR_RETURN(c.credentials_file, read_ini(creds_path));
  if (explicit_profile && !c.has_profile(c.profile))
    return unexpected(Errc::config, "AWS profile \"" + c.profile + "\" is in neither " + config_path + " nor " + creds_path);
  auto cf = c.config_file.find(c.profile == "default" ? "default" : "profile " + c.profile);
  if (cf != c.config_file.end()) c.values = cf->second;
  auto cr = c.credentials_file.find(c.profile);
  if (cr != c.credentials_file.end()) c.credentials_values = cr->second;

  auto value = [&](const std::string& key) { return c.profile_value(c.profile, key); };
  c.region = env.get("AWS_REGION").value_or(env.get("AWS_DEFAULT_REGION").value_or(value("region")));
  c.s3_endpoint_url = env.get("AWS_ENDPOINT_URL_S3").value_or(env.get("AWS_ENDPOINT_URL").value_or(""));
  if (c.s3_endpoint_url.empty()) {
    c.s3_endpoint_url = value("s3.endpoint_url");
    if (c.s3_endpoint_url.empty()) c.s3_endpoint_url = value("endpoint_url");
  }
  c.sts_endpoint_url = env.get("AWS_ENDPOINT_URL_STS").value_or(env.get("AWS_ENDPOINT_URL").value_or(""));
  if (c.sts_endpoint_url.empty()) {
    c.sts_endpoint_url = value("sts.endpoint_url");
    if (c.sts_endpoint_url.empty()) c.sts_endpoint_url = value("endpoint_url");
  }
  // IAM Identity Center portal (service id SSO): for tests and private endpoints.
  c.sso_endpoint_url = env.get("AWS_ENDPOINT_URL_SSO").value_or(env.get("AWS_ENDPOINT_URL").value_or(""));
  if (c.sso_endpoint_url.empty()) {
    c.sso_endpoint_url = value("sso.endpoint_url");
    if (c.sso_endpoint_url.empty()) c.sso_endpoint_url = value("endpoint_url");
  }
  c.ca_bundle = env.get("AWS_CA_BUNDLE").value_or(value("ca_bundle"));
  if (!c.ca_bundle.empty()) c.ca_bundle = expand(env, c.ca_bundle);
  log::debug("aws: profile " + c.profile + ", region " + (c.region.empty() ? "(none)" : c.region) +
             (c.s3_endpoint_url.empty() ? "" : ", S3 endpoint " + c.s3_endpoint_url));
  return c;
}

}  // namespace kbk::storage::aws
