// Flag helpers every command uses, so the whole CLI reads the same (docs/development.md, "Adding a command"):
// value names in --help, durations, comma lists, true/false options and the positional guard on list flags.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace kbk::cli {

// Value names shown in --help ("--ttl DURATION"); CLI11's TEXT/INT/FLOAT never show.
namespace value {
inline constexpr const char* k_file = "FILE";
inline constexpr const char* k_dir = "DIR";
inline constexpr const char* k_url = "URL";
inline constexpr const char* k_duration = "DURATION";
inline constexpr const char* k_count = "N";
inline constexpr const char* k_number = "NUMBER";
inline constexpr const char* k_rate = "RATE";
inline constexpr const char* k_selector = "SELECTOR";
inline constexpr const char* k_name = "NAME";
inline constexpr const char* k_backup = "BACKUP";  // a backup name (shell completion lists the location's backups)
inline constexpr const char* k_bool = "true|false";
inline constexpr const char* k_format = "FORMAT";
inline constexpr const char* k_namespaces = "NAMESPACES";  // comma list, repeatable, globs
inline constexpr const char* k_resources = "RESOURCES";
inline constexpr const char* k_patterns = "PATTERNS";
inline constexpr const char* k_mappings = "MAPPINGS";
inline constexpr const char* k_key_value = "KEY=VALUE";
inline constexpr const char* k_string = "STRING";
}  // namespace value

// A duration flag: Go syntax (30s, 1m30s, 2h45m; a bare number is seconds), checked at parse time by
// util::parse_duration (exit 3 naming the flag). --help shows DURATION and the default as a duration.
CLI::Option* add_duration_option(CLI::App* cmd, const std::string& name, double& seconds, const std::string& help);

// A comma-separated, repeatable list flag (--include-namespaces a,b --include-namespaces c). Each occurrence takes
// exactly one value (the positional guard); split_list() turns the values into items.
CLI::Option* add_list_option(CLI::App* cmd, const std::string& name, std::vector<std::string>& values,
                             const std::string& help, const char* value_name);
std::vector<std::string> split_list(const std::vector<std::string>& values);

// An option that is true when given bare (--with-related), or takes =true / =false (Velero's spelling).
// `value` holds "" when the flag was not given. parse_bool_flag() reads it.
CLI::Option* add_bool_option(CLI::App* cmd, const std::string& name, std::string& value, const std::string& help);
bool parse_bool_flag(const std::string& flag, const std::string& v);

// The positional guard, once for the whole tree (main calls it after every command registered): no flag that
// takes several values may swallow the words after it, so `restore create --include-namespaces shop myrestore`
// names the restore `myrestore`. Every list flag takes one value per occurrence (commas for more).
void guard_list_flags(CLI::App& app);

}  // namespace kbk::cli
