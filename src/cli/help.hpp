// Help pages: one layout for every command (kubectl's and Velero's habits), built by HelpFormatter from the CLI11
// tree and what each command registers with document():
//
//   <description>
//   Usage:            kbk backup create NAME [flags]
//   Arguments:        positionals, in upper case
//   Flags:            the command's own flags with value names (FILE, DURATION, ...), defaults and env variables
//   Available Commands:  (command groups)
//   Global Flags:     the flags every command takes (--storage, --context, -o, ...)
//   <notes>           what the command needs explaining
//   Examples:         every command has some
//   EXIT STATUS       0-4, always last
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <kbk/json/json.hpp>

namespace kbk::cli {

// Examples (command lines; a line starting with '#' is a comment above the next one) and optional notes, printed
// after Global Flags and before EXIT STATUS. Every command (groups too) calls this once: the CLI contract test
// fails a command whose --help has no Examples.
// exit_note: lines added to that command's EXIT STATUS section (a command that passes on another's exit code).
void document(CLI::App* cmd, const std::vector<std::string>& examples, const std::string& notes = "",
              const std::string& exit_note = "");

// A command's help as data (kbk help CMD -o json): name, path, description, usage, arguments, flags (with value
// names, defaults, env variables), commands, examples. For tools that build on the CLI.
json::Document help_document(const CLI::App* app);

// "kbk backup create": the command's path as typed.
std::string command_path(const CLI::App* app);

// The EXIT STATUS section (0-4), the last section of every help page.
extern const char* const k_exit_status_section;

class HelpFormatter final : public CLI::Formatter {
public:
  std::string make_help(const CLI::App* app, std::string name, CLI::AppFormatMode mode) const override;
  std::string make_usage(const CLI::App* app, std::string name) const override;

private:
  std::string page(const CLI::App* app) const;
  std::string option_row(const CLI::Option* opt) const;
};

}  // namespace kbk::cli
