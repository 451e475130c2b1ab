#include "flags.hpp"

#include <kbk/util/exit_code.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::cli {

CLI::Option* add_duration_option(CLI::App* cmd, const std::string& name, double& seconds, const std::string& help) {
  const std::string flag = name.substr(name.rfind(',') == std::string::npos ? 0 : name.rfind(',') + 1);
  auto* opt = cmd->add_option_function<std::string>(
      name,
      [&seconds, flag](const std::string& text) {
        auto d = util::parse_duration(text);
        if (!d)
          throw CLI::ValidationError(flag + " \"" + text +
                                     "\": expected a duration such as 30s, 1m30s or 2h45m (a bare number is seconds)");
        seconds = *d;
      },
      help);
  opt->type_name(value::k_duration);
  if (seconds > 0) opt->default_str(util::format_duration(seconds));
  return opt;
}

CLI::Option* add_list_option(CLI::App* cmd, const std::string& name, std::vector<std::string>& values,
                             const std::string& help, const char* value_name) {
  return cmd->add_option(name, values, help + " (comma-separated, repeatable)")
      ->type_name(value_name)
      ->allow_extra_args(false);
}

std::vector<std::string> split_list(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& s : values)
    for (auto& p : util::split(s, ',')) {
      auto t = util::trim(p);
      if (!t.empty()) out.emplace_back(t);
    }
  return out;
}

CLI::Option* add_bool_option(CLI::App* cmd, const std::string& name, std::string& value, const std::string& help) {
  // Bare, CLI11 gives the option its default string: "true". (--help does not show it as a default.)
  return cmd->add_option(name, value, help)->expected(0, 1)->type_name(value::k_bool)->default_str("true");
}

bool parse_bool_flag(const std::string& flag, const std::string& v) {
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no") return false;
  throw Fatal(ExitCode::usage, flag + " must be true or false, not \"" + v + "\"");
}

void guard_list_flags(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    if (opt->nonpositional() && opt->get_items_expected_max() > 1) opt->allow_extra_args(false);
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) guard_list_flags(*sub);
}

}  // namespace kbk::cli
