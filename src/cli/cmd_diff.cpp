// kbk diff backup A (B | --live | --to-dir DIR): what differs, object by object, between a backup and another backup,
// the cluster as it is now, or a folder of manifests (docs/fleet.md, "kbk diff"). Exit codes as diff(1): 0 the
// same, 1 different, 2 the comparison is incomplete; 3 and 4 as everywhere.
#include <cstdio>

#include "commands.hpp"
#include "flags.hpp"
#include "help.hpp"
#include "key_file.hpp"
#include "selection_flags.hpp"
#include <kbk/backup/scope.hpp>
#include <kbk/diff/diff.hpp>
#include <kbk/diff/sources.hpp>
#include <kbk/output/output.hpp>
#include <kbk/restore/backup.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::cli {
namespace {

struct DiffFlags {
  std::string from, to;
  bool live = false;
  std::string to_dir;
  SelectionFlags selection;
  std::string namespace_mappings;
  bool stat = false;
  int context = 3;
  int parallel = 4;
  std::string key_file;
};

constexpr int k_exit_same = 0, k_exit_different = 1, k_exit_incomplete = 2;

// An error inside diff: 1 means "different" here, so a failure that is not a usage error (3) or a precondition (4:
// a backup or folder not found, the cluster or location unreachable) exits 2.
int diff_fail(const Error& e) {
  log::error(e.message);
  if (e.is(Errc::not_found) || e.is(Errc::precondition)) return static_cast<int>(ExitCode::precondition);
  const ExitCode code = exit_code_for(e);
  if (code == ExitCode::usage || code == ExitCode::precondition) return static_cast<int>(code);
  return k_exit_incomplete;
}

// What the live side reads: backup create's walk with the selection as backup options (related objects followed, so
// the side holds everything the restore plan may pull in; the plan then selects both sides alike).
backup::Options live_options(const restore::Selection& s, const diff::Options& o, int parallel) {
  backup::Options b;
  b.name = "diff";
  b.include_namespaces = s.include_namespaces;
  b.exclude_namespaces = s.exclude_namespaces;
  b.include_resources = s.include_resources;
  b.exclude_resources = s.exclude_resources;
  if (s.include_cluster_resources)
    b.include_cluster_resources = *s.include_cluster_resources ? backup::ClusterResources::include
                                                               : backup::ClusterResources::exclude;
  b.label_selector = s.label_selector;
  b.or_label_selectors = s.or_selectors;
  b.include_names = s.include_names;
  b.exclude_names = s.exclude_names;
  b.applications = o.applications;
  b.parallel = parallel;
  return b;
}

std::string describe(const restore::Selection& s) {
  std::string out;
  auto list = [&](const char* flag, const std::vector<std::string>& v) {
    if (!v.empty()) out += std::string(out.empty() ? "" : " ") + flag + " " + util::join(v, ",");
  };
  list("--include-namespaces", s.include_namespaces);
  list("--exclude-namespaces", s.exclude_namespaces);
  list("--include-resources", s.include_resources);
  list("--exclude-resources", s.exclude_resources);
  list("--include-names", s.include_names);
  list("--exclude-names", s.exclude_names);
  if (!s.label_selector.empty()) out += std::string(out.empty() ? "" : " ") + "-l " + s.label_selector;
  if (s.include_cluster_resources)
    out += std::string(out.empty() ? "" : " ") + "--include-cluster-resources=" +
           (*s.include_cluster_resources ? "true" : "false");
  return out;
}

int run_diff(const GlobalOptions& g, const DiffFlags& f) {
  const output::Format format = output_format(g, {output::Format::json});
  const int sides = (!f.to.empty() ? 1 : 0) + (f.live ? 1 : 0) + (!f.to_dir.empty() ? 1 : 0);
  if (sides != 1)
    throw Fatal(ExitCode::usage, sides == 0 ? "kbk diff backup " + f.from + ": compare it with what? Give a second "
                                              "backup, --live or --to-dir DIR"
                                            : "kbk diff backup: give one of a second backup, --live and --to-dir DIR");
  if (f.context < 0) throw Fatal(ExitCode::usage, "--unified must be 0 or more lines");
  diff::Options o;
  {
    auto m = restore::parse_namespace_mappings(f.namespace_mappings);
    if (!m) throw Fatal(ExitCode::usage, "--namespace-mappings: " + m.error().message);
    o.namespace_mappings = std::move(*m);
  }
  const auto user_key = load_encryption_key(f.key_file);
  const crypto::UserKey* key = user_key ? &*user_key : nullptr;
  auto backend = open_storage(g);

  const bool flags_given = f.selection.given() || !g.kube.namespace_.empty();
  if (flags_given) {
    o.selection = restore_selection(g, f.selection, DashN::selects);
    o.applications = load_applications(f.selection);
  } else if (auto recorded = diff::recorded_selection(*backend, f.from, key); recorded && *recorded) {
    o.selection = std::move(**recorded);
    if (std::string d = describe(o.selection); !d.empty())
      log::info(0, "comparing what backup " + f.from + " selected (" + d + "); selection flags override it");
  }

  auto from = restore::load_backup(*backend, f.from, {}, key);
  if (!from) return diff_fail(from.error());

  restore::LoadedBackup to;
  std::vector<std::string> side_errors;
  std::string to_name;
  if (!f.to.empty()) {
    auto b = restore::load_backup(*backend, f.to, {}, key);
    if (!b) return diff_fail(b.error());
    to = std::move(*b);
    to_name = f.to;
  } else if (f.live) {
    const kube::RestConfig config = load_rest_config(g);
    auto client = make_client(g, config);
    kube::Discovery discovery = fetch_discovery(*client);
    backup::Options bo = live_options(diff::mapped_selection(o.selection, o.namespace_mappings), o, f.parallel);
    if (auto v = backup::validate(bo); !v) throw Fatal(ExitCode::usage, v.error().message);
    auto scope = backup::make_run_scope(bo, discovery);
    if (!scope) return diff_fail(scope.error());
    app::WalkOptions wo;
    wo.parallel = f.parallel;
    auto live = diff::read_live(*client, discovery, *scope->scope, wo);
    if (!live) return diff_fail(live.error());
    for (const auto& w : live->warnings) log::warning(w);
    side_errors = std::move(live->errors);
    to = std::move(live->objects);
    to_name = "live";
  } else {
    diff::KindTable kinds;
    kinds.add_backup(*from);
    auto dir = diff::read_folder(f.to_dir, kinds, g.kube.namespace_.empty() ? "default" : g.kube.namespace_);
    if (!dir) return diff_fail(dir.error());
    to = std::move(*dir);
    to_name = f.to_dir;
    while (to_name.size() > 1 && to_name.back() == '/') to_name.pop_back();
  }

  auto report = diff::compare(*from, to, o);
  if (!report) return diff_fail(report.error());
  report->from = f.from;
  report->to = to_name;
  report->errors.insert(report->errors.begin(), side_errors.begin(), side_errors.end());

  if (format.structured()) {
    output::print(diff::to_json(*report), format);
  } else if (f.stat) {
    output::Table t({"KIND", "ADDED", "REMOVED", "CHANGED", "UNCHANGED"});
    for (const auto& [kind, c] : report->by_kind)
      t.add_row({kind, std::to_string(c.added), std::to_string(c.removed), std::to_string(c.changed),
                 std::to_string(c.unchanged)});
    std::fputs(t.render().c_str(), stdout);
    std::printf("%s\n", diff::summary_line(*report).c_str());
  } else {
    std::fputs(diff::to_text(*report, f.context).c_str(), stdout);
  }
  std::fflush(stdout);
  for (const auto& w : report->warnings) log::warning(w);
  for (const auto& e : report->errors) log::error(e);
  if (!report->errors.empty()) return k_exit_incomplete;
  return report->different() ? k_exit_different : k_exit_same;
}

}  // namespace

void register_diff(CLI::App& app, GlobalOptions& g, RunState& state) {
  CLI::App* cmd = app.add_subcommand("diff", "Compare a backup with another backup, the live cluster or a folder");
  document(cmd, {"kbk diff backup nightly-1 nightly-2", "kbk diff backup nightly --live --stat"});
  auto f = std::make_shared<DiffFlags>();
  CLI::App* b = cmd->add_subcommand(
      "backup", "What differs between backup FROM and backup TO, the live cluster (--live) or a folder of manifests "
                "(--to-dir): objects added, removed and changed, with a unified YAML diff per changed object");
  b->add_option("FROM", f->from, "The backup compared")->required()->type_name(value::k_backup);
  b->add_option("TO", f->to, "A second backup of the same location")->type_name(value::k_backup);
  b->add_flag("--live", f->live, "Compare with the cluster of the current context, as it is now");
  b->add_option("--to-dir", f->to_dir,
                "Compare with the manifests in this folder (*.yaml, *.yml, *.json; restore create --to-dir writes them)")
      ->type_name(value::k_dir);
  add_selection_flags(b, f->selection, SelectionKind::restore);
  b->add_option("--namespace-mappings", f->namespace_mappings,
                "Compare FROM's namespace A with namespace B on the other side: A:B,C:D (as restore create maps them)")
      ->type_name(value::k_mappings);
  b->add_flag("--stat", f->stat, "Counts per kind instead of each object");
  // -U as diff(1): --context is the kubeconfig context (a global flag) and must keep meaning that with --live.
  b->add_option("-U,--unified", f->context, "Lines of context around each change")->type_name(value::k_count)->capture_default_str();
  b->add_option("--parallel", f->parallel, "Resource types listed at once (--live)")->type_name(value::k_count)->capture_default_str();
  add_encryption_key_option(b, f->key_file, "Key file of encrypted backups");
  document(b,
           {"kbk diff backup nightly-1 nightly-2",
            "# before a migration: what a restore of prod-1 would change in this cluster",
            "kbk diff backup prod-1 --live --namespace-mappings shop:shop-staging",
            "kbk diff backup nightly --live --stat",
            "kbk diff backup nightly --to-dir ./gitops/shop -n shop",
            "kbk diff backup nightly-1 nightly-2 -o json | jq '.items[] | select(.change==\"changed\") | .patch'"},
           "Both sides are compared as a restore would apply them: server-owned metadata, status, managedFields, "
           "cluster IPs and kbk's restore labels do not count, and what a restore leaves to the cluster or to a "
           "restored controller (pods of ReplicaSets, ReplicaSets of Deployments, the built-in namespaces, token "
           "Secrets) is not compared. Without selection flags the selection FROM was taken with applies to both "
           "sides; the flags, -n or --app replace it. -o json gives JSON Patch operations per changed object.",
           "kbk diff, as diff(1): 0 no differences, 1 differences found (not a failure), 2 the comparison is "
           "incomplete or failed (a backup that fails verification, a type the cluster would not list: the "
           "differences found are still printed); 3 and 4 as above.");
  set_runner(b, state, [&g, f] { return run_diff(g, *f); });
}

}  // namespace kbk::cli
