// The flags of restore create and migrate that change objects for another cluster or cloud (docs/migration.md,
// "Crossing clusters"): Route -> Ingress, LoadBalancer Services, Secret and ConfigMap values. Declared and turned
// into transforms in one place, so both commands read them the same way.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <kbk/restore/crossing.hpp>
#include <kbk/restore/plan.hpp>

namespace kbk::cli {

struct CrossingFlags {
  std::vector<std::string> set_secret, set_configmap;
  std::vector<std::string> lb_annotation_mappings;
  std::string lb_reset;  // "" = not given (the command's default), else true|false
  std::string ingress_class;
};

// lb_reset_default: restore create false (a restore into the same cloud keeps its address), migrate true.
void add_crossing_flags(CLI::App* cmd, CrossingFlags& f, bool lb_reset_default);

// The options the flags say. Fatal(usage) for bad values (a Secret value on the command line, an unreadable
// @FILE, a malformed mapping).
restore::CrossingOptions crossing_options(const CrossingFlags& f, bool lb_reset_default);

}  // namespace kbk::cli
