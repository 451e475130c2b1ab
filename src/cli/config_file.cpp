#include "config_file.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include <kbk/util/exit_code.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::cli {
namespace {

namespace fs = std::filesystem;

// Keys whose values are file paths: relative ones are read from the config file's folder, "~/" is $HOME.
bool is_path_key(const std::string& key) {
  return key == "encryption-key-file" || key == "kubeconfig" || key == "log-file";
}

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

[[noreturn]] void bad(const std::string& file, int line, const std::string& what) {
  throw Fatal(ExitCode::usage, file + (line > 0 ? ":" + std::to_string(line) : "") + ": " + what);
}

std::string resolve_path(const std::string& file, const std::string& value) {
  if (value.empty()) return value;
  if (value == "~" || util::starts_with(value, "~/")) {
    const std::string home = env_or_empty("HOME");
    if (!home.empty()) return home + value.substr(1);
  }
  fs::path p(value);
  if (p.is_absolute()) return value;
  return (fs::path(file).parent_path() / p).lexically_normal().string();
}

}  // namespace

const std::vector<std::string>& config_keys() {
  static const std::vector<std::string> k_keys = {
      "storage", "storage-setting", "encryption-key-file", "kubeconfig", "context", "qps", "burst",
      "request-timeout", "limit-upload", "limit-download", "progress", "log-file"};
  return k_keys;
}

ConfigFile load_config_file() {
  ConfigFile cfg;
  std::string path = env_or_empty("KBK_CONFIG");
  const bool explicit_path = !path.empty();
  if (!explicit_path) {
    std::string base = env_or_empty("XDG_CONFIG_HOME");
    if (base.empty() || !fs::path(base).is_absolute()) {  // the XDG spec ignores relative values
      const std::string home = env_or_empty("HOME");
      if (home.empty()) return cfg;
      base = home + "/.config";
    }
    path = base + "/kbk/config.yaml";
  }
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (explicit_path) bad(path, 0, "cannot read the config file named by KBK_CONFIG: no such file");
    return cfg;
  }
  if (fs::is_directory(path, ec)) bad(path, 0, "is a folder, not a config file");
  std::ifstream in(path, std::ios::binary);
  if (!in) bad(path, 0, "cannot read the config file");
  std::stringstream ss;
  ss << in.rdbuf();
  cfg.path = path;

  YAML::Node root;
  try {
    root = YAML::Load(ss.str());
  } catch (const YAML::ParserException& e) {
    bad(path, e.mark.line + 1, "not valid YAML: " + e.msg);
  }
  if (!root || root.IsNull()) return cfg;  // an empty file (or only comments)
  if (!root.IsMap()) bad(path, root.Mark().line + 1, "expected settings as `key: value` lines");
  for (const auto& kv : root) {
    const int line = kv.first.Mark().line + 1;
    if (!kv.first.IsScalar()) bad(path, line, "a key must be a plain word");
    const std::string key = kv.first.as<std::string>();
    const auto& keys = config_keys();
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      std::string msg = "unknown setting \"" + key + "\"";
      if (auto near = util::suggestions(key, keys); !near.empty()) msg += "; did you mean \"" + near.front() + "\"?";
      msg += " (settings: " + util::join(keys, ", ") + ")";
      bad(path, line, msg);
    }
    ConfigSetting s;
    s.key = key;
    s.line = line;
    const YAML::Node& v = kv.second;
    if (key == "storage-setting") {
      if (v.IsMap()) {
        for (const auto& item : v) {
          if (!item.second.IsScalar()) bad(path, item.first.Mark().line + 1, "storage-setting values are single words");
          s.values.push_back(item.first.as<std::string>() + "=" + item.second.as<std::string>());
        }
      } else if (v.IsSequence()) {
        for (const auto& item : v) {
          if (!item.IsScalar() || item.as<std::string>().find('=') == std::string::npos)
            bad(path, item.Mark().line + 1, "storage-setting entries are KEY=VALUE");
          s.values.push_back(item.as<std::string>());
        }
      } else {
        bad(path, line, "storage-setting is a map (region: eu-west-1) or a list of KEY=VALUE");
      }
    } else {
      if (!v.IsScalar()) bad(path, line, key + " takes one value, not a list or a map");
      std::string value = v.as<std::string>();
      if (is_path_key(key)) value = resolve_path(path, value);
      s.values.push_back(value);
    }
    cfg.settings.push_back(std::move(s));
  }
  return cfg;
}

void apply_config_file(const ConfigFile& config, const std::vector<CLI::App*>& path) {
  for (const ConfigSetting& s : config.settings) {
    const std::string flag = "--" + s.key;
    CLI::Option* opt = nullptr;
    for (auto it = path.rbegin(); it != path.rend() && !opt; ++it) opt = (*it)->get_option_no_throw(flag);
    if (!opt) continue;  // this command has no such flag: the setting is for other commands
    if (opt->count() > 0) continue;  // the command line wins
    if (!opt->get_envname().empty() && std::getenv(opt->get_envname().c_str())) continue;  // then the environment
    if (s.key == "kubeconfig" && std::getenv("KUBECONFIG")) continue;  // KUBECONFIG outranks the config file too
    try {
      for (const auto& v : s.values) opt->add_result(v);
      opt->run_callback();
    } catch (const CLI::Error& e) {
      bad(config.path, s.line, e.what());  // the message names the flag the key stands for
    }
  }
}

}  // namespace kbk::cli
