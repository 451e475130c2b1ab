// --app FILE|DIR (repeatable) and --app-path DIR, shared by backup create, restore create and kbk app.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <kbk/app/definition.hpp>

namespace kbk::cli {

struct AppFlags {
  std::vector<std::string> apps;       // --app
  std::vector<std::string> app_path;   // --app-path (also $KBK_APP_PATH, ':'-separated)
};

// Adds --app (when with_app) and --app-path to cmd.
void add_app_flags(CLI::App* cmd, AppFlags& f, bool with_app);

// The applications of paths (files or folders), includes searched along --app-path. An unreadable path or an
// invalid definition exits 3 (Fatal) after printing every problem as FILE:LINE:COL on stderr.
std::shared_ptr<const app::Application> load_applications(const std::vector<std::string>& paths, const AppFlags& f);

}  // namespace kbk::cli
