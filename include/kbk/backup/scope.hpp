// The walk's scope for a backup's options: the flags alone, or the applications narrowed by the flags given
// (docs/format-application.md section 9). backup create, `kbk rbac` (what that scope reads) and `kbk diff --live`
// (the live side) take it from here, so the three select alike.
#pragma once

#include <memory>

#include <kbk/app/walk.hpp>
#include <kbk/backup/options.hpp>
#include <kbk/backup/selection.hpp>
#include <kbk/kube/discovery.hpp>
#include <kbk/util/error.hpp>

namespace kbk::backup {

struct RunScope {
  std::unique_ptr<Selection> selection;  // scope refers to it: held apart so that RunScope can move
  std::unique_ptr<app::Scope> apps;      // the applications' own scope (null without --app)
  std::unique_ptr<app::Scope> scope;     // what the walk asks
};

// Resolves the options' resource names through discovery (Selection::make) and builds the scope. Errc::config
// for a definition that does not fit the cluster.
Result<RunScope> make_run_scope(const Options& options, const kube::Discovery& discovery);

}  // namespace kbk::backup
