// The selection flags shared by backup create, kbk rbac and kbk diff (selection_flags.hpp).
#include "selection_flags.hpp"

#include "commands.hpp"
#include "flags.hpp"
#include <kbk/util/log.hpp>

namespace kbk::cli {

bool SelectionFlags::given() const {
  return !include_namespaces.empty() || !exclude_namespaces.empty() || !include_resources.empty() ||
         !exclude_resources.empty() || !include_cluster_resources.empty() || scoped_given() || !selector.empty() ||
         !or_selector.empty() || !include_names.empty() || !exclude_names.empty() || !apps.empty();
}

bool SelectionFlags::scoped_given() const {
  return !include_cluster_scoped.empty() || !exclude_cluster_scoped.empty() || !include_namespace_scoped.empty() ||
         !exclude_namespace_scoped.empty();
}

void add_selection_flags(CLI::App* cmd, SelectionFlags& f, SelectionKind kind, AppOptions apps) {
  add_list_option(cmd, "--include-namespaces", f.include_namespaces, "Namespaces to include (globs; default all)",
                  value::k_namespaces);
  add_list_option(cmd, "--exclude-namespaces", f.exclude_namespaces, "Namespaces to exclude (globs)", value::k_namespaces);
  add_list_option(cmd, "--include-resources", f.include_resources,
                  "Resources to include (any name kubectl accepts, globs such as *.apps; default all)", value::k_resources);
  add_list_option(cmd, "--exclude-resources", f.exclude_resources, "Resources to exclude", value::k_resources);
  add_bool_option(cmd, "--include-cluster-resources", f.include_cluster_resources,
                  "Include cluster-scoped resources: true (also bare), false; unset: only when all namespaces are");
  if (kind == SelectionKind::backup) {
    add_list_option(cmd, "--include-cluster-scoped-resources", f.include_cluster_scoped,
                    "Cluster-scoped resources to include (not with the --*-resources filters above)", value::k_resources);
    add_list_option(cmd, "--exclude-cluster-scoped-resources", f.exclude_cluster_scoped,
                    "Cluster-scoped resources to exclude", value::k_resources);
    add_list_option(cmd, "--include-namespace-scoped-resources", f.include_namespace_scoped,
                    "Namespace-scoped resources to include", value::k_resources);
    add_list_option(cmd, "--exclude-namespace-scoped-resources", f.exclude_namespace_scoped,
                    "Namespace-scoped resources to exclude", value::k_resources);
  }
  cmd->add_option("-l,--selector", f.selector, "Only objects matching this label selector")->type_name(value::k_selector);
  cmd->add_option("--or-selector", f.or_selector, "Objects matching any of these selectors: \"a=b or c=d\"")
      ->type_name(value::k_selector);
  add_list_option(cmd, "--include-names", f.include_names,
                  "Only these objects of the types named: resource/namespace/name or resource/name (globs)", value::k_patterns);
  add_list_option(cmd, "--exclude-names", f.exclude_names,
                  "Leave these objects out: resource/namespace/name or resource/name", value::k_patterns);
  if (kind == SelectionKind::backup)
    add_bool_option(cmd, "--with-related", f.with_related,
                    "Also back up what selected objects reference (PVC->PV->StorageClass, ConfigMaps, Secrets, "
                    "ServiceAccounts and their bindings, PriorityClasses, IngressClasses, CRDs); default true");
  if (apps == AppOptions::own) return;
  add_list_option(cmd, "--app", f.apps,
                  "Application definitions (docs/format-application.md): a file, or a folder of *.yaml; the filters "
                  "above narrow what they select",
                  value::k_file);
  add_list_option(cmd, "--app-path", f.app_path, "Folders searched for applications included by name", value::k_dir);
}

std::shared_ptr<const app::Application> load_applications(const SelectionFlags& f) {
  if (f.apps.empty()) return nullptr;
  app::LoadOptions lo;
  lo.search_path = split_list(f.app_path);
  auto a = app::load(split_list(f.apps), lo);
  if (!a) {
    for (size_t i = 1; i < a.error().causes.size(); ++i) log::error(a.error().causes[i].message);
    throw Fatal(ExitCode::usage, a.error().causes.empty() ? a.error().message : a.error().causes[0].message);
  }
  return std::make_shared<const app::Application>(std::move(*a));
}

namespace {

std::vector<std::string> namespaces_of(const GlobalOptions& g, const SelectionFlags& f, DashN n) {
  std::vector<std::string> ns = split_list(f.include_namespaces);
  if (n == DashN::selects && !g.kube.namespace_.empty()) {
    if (!ns.empty())
      throw Fatal(ExitCode::usage, "-n " + g.kube.namespace_ + " and --include-namespaces both select namespaces: "
                                   "use one (--include-namespaces a,b for several)");
    ns = {g.kube.namespace_};
  }
  return ns;
}

}  // namespace

void apply_selection(const GlobalOptions& g, const SelectionFlags& f, DashN n, backup::Options& o) {
  apply_selection_filters(g, f, n, o);
  o.applications = load_applications(f);
}

void apply_selection_filters(const GlobalOptions& g, const SelectionFlags& f, DashN n, backup::Options& o) {
  o.include_namespaces = namespaces_of(g, f, n);
  o.exclude_namespaces = split_list(f.exclude_namespaces);
  o.include_resources = split_list(f.include_resources);
  o.exclude_resources = split_list(f.exclude_resources);
  if (!f.include_cluster_resources.empty())
    o.include_cluster_resources = parse_bool_flag("--include-cluster-resources", f.include_cluster_resources)
                                      ? backup::ClusterResources::include
                                      : backup::ClusterResources::exclude;
  o.include_cluster_scoped = split_list(f.include_cluster_scoped);
  o.exclude_cluster_scoped = split_list(f.exclude_cluster_scoped);
  o.include_namespace_scoped = split_list(f.include_namespace_scoped);
  o.exclude_namespace_scoped = split_list(f.exclude_namespace_scoped);
  o.label_selector = f.selector;
  o.or_label_selectors = backup::split_or_selector(f.or_selector);
  o.include_names = split_list(f.include_names);
  o.exclude_names = split_list(f.exclude_names);
  o.with_related = f.with_related.empty() || parse_bool_flag("--with-related", f.with_related) ? backup::WithRelated::yes
                                                                                                : backup::WithRelated::no;
}

restore::Selection restore_selection(const GlobalOptions& g, const SelectionFlags& f, DashN n) {
  if (f.scoped_given())
    throw Fatal(ExitCode::usage, "the scoped filters (--include-cluster-scoped-resources and friends) select what a "
                                 "backup reads; here use --include-resources, --exclude-resources and "
                                 "--include-cluster-resources");
  restore::Selection s;
  s.include_namespaces = namespaces_of(g, f, n);
  s.exclude_namespaces = split_list(f.exclude_namespaces);
  s.include_resources = split_list(f.include_resources);
  s.exclude_resources = split_list(f.exclude_resources);
  s.include_names = split_list(f.include_names);
  s.exclude_names = split_list(f.exclude_names);
  s.label_selector = f.selector;
  s.or_selectors = backup::split_or_selector(f.or_selector);
  if (!f.include_cluster_resources.empty())
    s.include_cluster_resources = parse_bool_flag("--include-cluster-resources", f.include_cluster_resources);
  return s;
}

}  // namespace kbk::cli
