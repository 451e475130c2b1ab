// The selection flags (Velero's names, plus kbk's name patterns and --app), registered and read in one place so
// that `backup create`, `kbk rbac` and `kbk diff` select with the same words and the same library calls
// (backup::make_run_scope for what is read from a cluster, the restore plan for what is compared or restored).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <kbk/app/definition.hpp>
#include <kbk/backup/options.hpp>
#include <kbk/restore/options.hpp>

namespace kbk::cli {

struct GlobalOptions;

struct SelectionFlags {
  std::vector<std::string> include_namespaces, exclude_namespaces, include_resources, exclude_resources;
  std::string include_cluster_resources;  // "" (unset), else true|false
  std::vector<std::string> include_cluster_scoped, exclude_cluster_scoped, include_namespace_scoped,
      exclude_namespace_scoped;
  std::string selector, or_selector;
  std::vector<std::string> include_names, exclude_names;
  std::string with_related;  // "" (default true), else true|false
  std::vector<std::string> apps;      // --app FILE|DIR
  std::vector<std::string> app_path;  // --app-path DIR

  // Whether any selection flag (or --app) was given.
  bool given() const;
  bool scoped_given() const;
};

// Which flags a command takes: the backup's (every filter, the scoped ones and --with-related too) or the restore's
// (the filters restore create applies to a backup's contents).
enum class SelectionKind { backup, restore };

// Whether --app and --app-path are registered here, or by the command itself (backup create and restore create take
// app_flags.hpp's, registered where their help lists them).
enum class AppOptions { here, own };

void add_selection_flags(CLI::App* cmd, SelectionFlags& f, SelectionKind kind, AppOptions apps = AppOptions::here);

// The applications of --app (with --app-path), null without --app. Fatal(usage) with every problem found.
std::shared_ptr<const app::Application> load_applications(const SelectionFlags& f);

// Whether -n selects a namespace (backup create, diff: as kubectl users expect; with --include-namespaces too it is
// a usage error) or means something else for the command (kbk rbac: where the ServiceAccount lives).
enum class DashN { selects, other };

// Fills the selection members of o (not its name, ttl, ...); --app is loaded into o.applications. Fatal(usage) for
// bad values.
void apply_selection(const GlobalOptions& g, const SelectionFlags& f, DashN n, backup::Options& o);
// The same without --app (AppOptions::own: the command loads its applications itself).
void apply_selection_filters(const GlobalOptions& g, const SelectionFlags& f, DashN n, backup::Options& o);

// The same flags as restore's Selection (the scoped filters have no restore equivalent: Fatal(usage) naming them).
restore::Selection restore_selection(const GlobalOptions& g, const SelectionFlags& f, DashN n);

}  // namespace kbk::cli
