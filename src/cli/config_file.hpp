// The config file: defaults for global and common flags, so a user types `kbk backup list` instead of repeating
// --storage and --encryption-key-file (docs/config.md).
//
//   $KBK_CONFIG, else $XDG_CONFIG_HOME/kbk/config.yaml, else ~/.config/kbk/config.yaml (a missing file there is no
//   config; a missing $KBK_CONFIG file is an error). Keys are flag names without dashes:
//     storage: s3://corp-backups/prod
//     storage-setting: {region: eu-west-1}      # or a list of KEY=VALUE
//     encryption-key-file: ~/.config/kbk/backup.key
//     kubeconfig, context, qps, burst, request-timeout, limit-upload, limit-download, progress, log-file
//   Precedence: a flag on the command line > its environment variable (KBK_STORAGE, KBK_ENCRYPTION_KEY_FILE,
//   KUBECONFIG) > the config file > the built-in default. Relative paths are relative to the config file's folder.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace kbk::cli {

struct ConfigSetting {
  std::string key;                  // the flag's name without dashes: "storage"
  std::vector<std::string> values;  // one value; storage-setting may hold several KEY=VALUE
  int line = 0;                     // 1-based, for messages
};

struct ConfigFile {
  std::string path;  // "" when there is no config file
  std::vector<ConfigSetting> settings;
};

// The keys a config file may hold (the flags they stand for), for --help, docs and messages.
const std::vector<std::string>& config_keys();

// Finds and reads the config file. Throws Fatal(usage) with one line "FILE:LINE: ..." for a file that is not
// YAML, holds an unknown key or a value of the wrong shape.
ConfigFile load_config_file();

// Gives every flag of the command line's command path (the leaf, then its parents) that was not given on the
// command line, and whose environment variable is not set, the config file's value, as if it had been typed.
// A value the flag refuses (a bad duration) is a Fatal(usage) naming FILE:LINE.
void apply_config_file(const ConfigFile& config, const std::vector<CLI::App*>& path);

}  // namespace kbk::cli
