// kbk app validate|show|diff|discover: application definitions (docs/format-application.md) checked offline, resolved
// against the live cluster with every object's reason, compared with a backup, and drafted from a running cluster.
#include <cstdio>
#include <cstdlib>
#include <map>

#include "app_flags.hpp"
#include "commands.hpp"
#include "key_file.hpp"
#include <kbk/app/discover.hpp>
#include <kbk/app/resolve.hpp>
#include <kbk/output/output.hpp>
#include <kbk/patch/modifiers.hpp>
#include <kbk/restore/backup.hpp>
#include <kbk/restore/plan.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/volume/policy.hpp>

namespace kbk::cli {

void add_app_flags(CLI::App* cmd, AppFlags& f, bool with_app) {
  if (with_app)
    cmd->add_option("--app", f.apps,
                    "Application definition FILE or DIR of them (repeatable; docs/format-application.md)")
        ->type_name("FILE|DIR");
  cmd->add_option("--app-path", f.app_path,
                  "Folder searched for applications included by name, after the including file's folder "
                  "(repeatable; also $KBK_APP_PATH, ':'-separated)")
      ->type_name(value::k_dir);
}

std::shared_ptr<const app::Application> load_applications(const std::vector<std::string>& paths, const AppFlags& f) {
  app::LoadOptions o;
  for (const auto& p : f.app_path)
    for (auto& d : util::split(p, ':')) o.search_path.push_back(d);
  if (const char* env = std::getenv("KBK_APP_PATH"); env && *env)
    for (auto& d : util::split(env, ':')) o.search_path.push_back(d);
  auto a = app::load(paths, o);
  if (!a) {
    if (a.error().code == Errc::io) throw Fatal(ExitCode::usage, a.error().message);
    for (const auto& c : a.error().causes) std::fprintf(stderr, "%s\n", c.message.c_str());
    throw Fatal(ExitCode::usage, util::join(paths, ", ") + ": invalid application definition (" +
                                     std::to_string(a.error().causes.size()) +
                                     (a.error().causes.size() == 1 ? " problem)" : " problems)"));
  }
  for (const auto& w : a->warnings) log::warning(w);
  return std::make_shared<const app::Application>(std::move(*a));
}

namespace {

int fail(const Error& e) {
  log::error(e.message);
  ExitCode code = exit_code_for(e);
  if (e.is(Errc::not_found) || e.is(Errc::precondition)) code = ExitCode::precondition;
  return static_cast<int>(code);
}

// ---- validate ------------------------------------------------------------------------------------------------

// Problems beyond the definition's own: its volume policy (read by the volume module's reader) and its modifier
// files (by the modifier reader), each as FILE:LINE:COL.
std::vector<std::string> check_references(const app::Application& a) {
  std::vector<std::string> problems;
  if (a.volume_policy) {
    auto p = volume::PolicySet::parse(a.volume_policy->text, a.volume_policy->origin);
    if (!p) {
      if (p.error().causes.empty()) problems.push_back(p.error().message);
      for (const auto& c : p.error().causes) problems.push_back(c.message);
    }
  }
  for (const auto& m : a.modifiers) {
    auto s = patch::ModifierSet::load(m);
    if (!s) {
      if (s.error().causes.empty()) problems.push_back(s.error().message);
      for (const auto& c : s.error().causes) problems.push_back(c.message);
    }
  }
  return problems;
}

int run_validate(const GlobalOptions& g, const std::vector<std::string>& files, const AppFlags& f) {
  const output::Format format = output_format(g, {output::Format::json});
  app::LoadOptions o;
  for (const auto& p : f.app_path)
    for (auto& d : util::split(p, ':')) o.search_path.push_back(d);
  if (const char* env = std::getenv("KBK_APP_PATH"); env && *env)
    for (auto& d : util::split(env, ':')) o.search_path.push_back(d);
  auto a = app::load(files, o);
  std::vector<std::string> problems;
  if (!a) {
    if (a.error().code == Errc::io) throw Fatal(ExitCode::usage, a.error().message);
    for (const auto& c : a.error().causes) problems.push_back(c.message);
  } else {
    problems = check_references(*a);
  }
  if (format.structured()) {
    json::Document out;
    out.SetObject();
    auto& al = out.GetAllocator();
    json::Value fs(rapidjson::kArrayType);
    for (const auto& file : files) fs.PushBack(json::make_string(file, al), al);
    out.AddMember("files", fs, al);
    out.AddMember("valid", problems.empty(), al);
    json::Value apps(rapidjson::kArrayType), parts(rapidjson::kArrayType), errs(rapidjson::kArrayType);
    if (a) {
      for (const auto& n : a->all_names) apps.PushBack(json::make_string(n, al), al);
      for (const auto& p : a->parts) parts.PushBack(json::make_string(p.name, al), al);
    }
    for (const auto& p : problems) errs.PushBack(json::make_string(p, al), al);
    out.AddMember("applications", apps, al);
    out.AddMember("parts", parts, al);
    out.AddMember("errors", errs, al);
    output::print(out, format);
  }
  if (!problems.empty()) {
    for (const auto& p : problems) std::fprintf(stderr, "%s\n", p.c_str());
    return static_cast<int>(ExitCode::usage);
  }
  if (format == output::Format::text)
    std::printf("%s: valid (%zu application%s, %zu part%s)\n", util::join(files, ", ").c_str(), a->all_names.size(),
                a->all_names.size() == 1 ? "" : "s", a->parts.size(), a->parts.size() == 1 ? "" : "s");
  return 0;
}

// ---- show ----------------------------------------------------------------------------------------------------

void print_resolution(const app::Resolution& r, const app::Application& a) {
  std::printf("Application %s: %zu objects in %zu part%s\n", a.display_name().c_str(), r.objects.size(), r.parts.size(),
              r.parts.size() == 1 ? "" : "s");
  std::map<int, std::vector<const app::Selected*>> by_part;
  for (const auto& o : r.objects) by_part[o.part].push_back(&o);
  for (size_t i = 0; i < r.parts.size(); ++i) {
    const auto& objs = by_part[static_cast<int>(i)];
    std::printf("\nPart %s: %zu object%s\n", r.parts[i].c_str(), objs.size(), objs.size() == 1 ? "" : "s");
    if (objs.empty()) continue;
    output::Table t({"OBJECT", "HOW", "REASON"});
    for (const auto* o : objs) t.add_row({o->display(), app::how_name(o->how), o->reason});
    std::string text = t.render();
    // Indented under its part.
    std::string indented;
    for (const auto& line : util::split(text, '\n')) indented += "  " + line + "\n";
    std::fputs(indented.c_str(), stdout);
  }
  if (!a.hooks.empty()) {
    std::printf("\nHooks (templates run by backup create --app: hooks/<template>.yaml beside the definition, docs/hooks.md):\n");
    for (const auto& h : a.hooks)
      std::printf("  %s: template %s in namespace %s, pods %s%s\n", h.application.c_str(), h.template_name.c_str(),
                  h.namespace_.c_str(), h.selector.c_str(), h.container.empty() ? "" : (", container " + h.container).c_str());
  }
  if (a.volume_policy) std::printf("\nVolume policy: %s\n", a.volume_policy->origin.c_str());
  if (!a.modifiers.empty()) {
    std::printf("\nModifiers when restored elsewhere:\n");
    for (const auto& m : a.modifiers) std::printf("  %s\n", m.c_str());
  }
  if (!r.warnings.empty()) {
    std::printf("\nWarnings:\n");
    for (const auto& w : r.warnings) std::printf("  %s\n", w.c_str());
  }
}

struct ShowFlags {
  std::vector<std::string> files;
  std::string explain;
  int parallel = 4;
  int64_t page_size = 500;
  AppFlags app;
};

int run_show(const GlobalOptions& g, const ShowFlags& f) {
  const output::Format format = output_format(g, {output::Format::json});
  auto progress_mode = output::parse_progress_mode(g.progress.empty() ? "auto" : g.progress);
  if (!progress_mode) throw Fatal(ExitCode::usage, progress_mode.error().message);
  auto apps = load_applications(f.files, f.app);
  const kube::RestConfig config = load_rest_config(g);
  auto client = make_client(g, config);
  const kube::Discovery discovery = fetch_discovery(*client);
  auto progress = output::make_progress(*progress_mode);
  app::ResolveOptions ro;
  ro.walk.parallel = f.parallel;
  ro.walk.page_size = f.page_size;
  ro.explain = f.explain;
  ro.progress = progress.get();
  ro.phase = "app show";
  auto r = app::resolve(*client, discovery, *apps, ro);
  if (!r) return fail(r.error());
  if (format.structured()) {
    auto doc = app::to_json(*r, *apps);
    output::print(doc, format);
  } else if (!f.explain.empty()) {
    for (const auto& l : r->explain) std::printf("%s\n", l.c_str());
  } else {
    print_resolution(*r, *apps);
  }
  return r->failures > 0 ? static_cast<int>(ExitCode::partial) : 0;
}

// ---- diff ----------------------------------------------------------------------------------------------------

struct DiffFlags {
  std::vector<std::string> files;
  std::string backup;
  std::string key_file;
  AppFlags app;
};

int run_diff(const GlobalOptions& g, const DiffFlags& f) {
  const output::Format format = output_format(g, {output::Format::json});
  if (f.backup.empty()) throw Fatal(ExitCode::usage, "--backup is required");
  auto apps = load_applications(f.files, f.app);
  const auto user_key = load_encryption_key(f.key_file);
  auto backend = open_storage(g);
  auto backup = restore::load_backup(*backend, f.backup, {}, user_key ? &*user_key : nullptr);
  if (!backup) return fail(backup.error());
  auto in_backup = restore::resolve_applications(*backup, *apps);
  if (!in_backup) return fail(in_backup.error());
  const kube::RestConfig config = load_rest_config(g);
  auto client = make_client(g, config);
  const kube::Discovery discovery = fetch_discovery(*client);
  auto now = app::resolve(*client, discovery, *apps);
  if (!now) return fail(now.error());
  const app::Diff d = app::diff(*now, *in_backup);
  if (format.structured()) {
    auto doc = app::to_json(d);
    auto& a = doc.GetAllocator();
    doc.AddMember("backup", json::make_string(f.backup, a), a);
    json::Value names(rapidjson::kArrayType);
    for (const auto& n : apps->names) names.PushBack(json::make_string(n, a), a);
    doc.AddMember("applications", names, a);
    output::print(doc, format);
  } else {
    std::printf("Application %s against backup %s\n", apps->display_name().c_str(), f.backup.c_str());
    std::printf("\nIn the cluster, not in the backup: %zu\n", d.only_now.size());
    for (const auto& o : d.only_now) std::printf("  + %s  (%s)\n", o.display().c_str(), o.reason.c_str());
    std::printf("\nIn the backup, not taken by the definition now: %zu\n", d.only_backup.size());
    for (const auto& o : d.only_backup) std::printf("  - %s  (%s)\n", o.display().c_str(), o.reason.c_str());
    std::printf("\nIn both: %zu\n", d.common);
  }
  return now->failures > 0 ? static_cast<int>(ExitCode::partial) : 0;
}

// ---- discover ------------------------------------------------------------------------------------------------

struct DiscoverFlags {
  std::vector<std::string> namespaces;
  int parallel = 4;
  int64_t page_size = 500;
};

int run_discover(const GlobalOptions& g, const DiscoverFlags& f) {
  const output::Format format = output_format(g, {output::Format::json});
  auto progress_mode = output::parse_progress_mode(g.progress.empty() ? "auto" : g.progress);
  if (!progress_mode) throw Fatal(ExitCode::usage, progress_mode.error().message);
  const kube::RestConfig config = load_rest_config(g);
  auto client = make_client(g, config);
  const kube::Discovery discovery = fetch_discovery(*client);
  auto progress = output::make_progress(*progress_mode);
  app::DiscoverOptions o;
  o.namespaces = f.namespaces;
  o.parallel = f.parallel;
  o.page_size = f.page_size;
  o.progress = progress.get();
  auto drafts = app::discover(*client, discovery, o);
  if (!drafts) return fail(drafts.error());
  for (const auto& w : drafts->warnings) log::warning(w);
  if (format.structured()) output::print(app::drafts_to_json(*drafts), format);
  else std::fputs(app::drafts_to_yaml(*drafts).c_str(), stdout);
  return drafts->failures > 0 ? static_cast<int>(ExitCode::partial) : 0;
}

}  // namespace

void register_app(CLI::App& root, GlobalOptions& g, RunState& state) {
  CLI::App* cmd = root.add_subcommand("app", "Application definitions: validate, show, diff against a backup, discover");
  document(cmd,
           {"kbk app discover shop > shop.yaml", "kbk app validate shop.yaml", "kbk app show shop.yaml",
            "kbk backup create shop-nightly --app shop.yaml",
            "kbk restore create --from-backup full-cluster --app shop.yaml"},
           "An application definition (docs/format-application.md, apiVersion kbk.io/v1, kind Application) says what "
           "an application is made of: parts selecting namespaces, resources, labels, names and cluster-scoped "
           "objects, includes of other applications, dependency following, a volume policy, hook references, "
           "restore order hints and the modifiers to apply when it is restored elsewhere. backup create --app and "
           "restore create --app take the same files.");

  auto vfiles = std::make_shared<std::vector<std::string>>();
  auto vapp = std::make_shared<AppFlags>();
  CLI::App* validate = cmd->add_subcommand(
      "validate", "Check application definitions offline: FILE: valid, or FILE:LINE:COL: message per problem (exit 3)");
  validate->add_option("FILE", *vfiles, "Definition files or folders of them")->required()->type_name(value::k_file);
  add_app_flags(validate, *vapp, false);
  document(validate, {"kbk app validate examples/apps/wordpress.yaml", "kbk app validate examples/apps/ -o json"},
           "Reads the definitions, their includes, volume policy and modifier files as backup create --app would. "
           "Every problem is one FILE:LINE:COL: message line on stderr; any problem exits 3. -o json prints "
           "{\"files\", \"valid\", \"applications\", \"parts\", \"errors\"}.");
  set_runner(validate, state, [&g, vfiles, vapp] { return run_validate(g, *vfiles, *vapp); });

  auto sf = std::make_shared<ShowFlags>();
  CLI::App* show = cmd->add_subcommand(
      "show", "Every object the applications take from the live cluster, by part, with why (matched, followed from X)");
  show->add_option("FILE", sf->files, "Definition files or folders of them")->required()->type_name(value::k_file);
  show->add_option("--explain", sf->explain, "Why this object is in or out: resource/namespace/name or resource/name")
      ->type_name("RESOURCE/NS/NAME");
  show->add_option("--parallel", sf->parallel, "Resource types listed at once")->capture_default_str()->type_name(value::k_count);
  show->add_option("--page-size", sf->page_size, "Objects per LIST page")->capture_default_str()->type_name(value::k_count);
  add_app_flags(show, sf->app, false);
  document(show,
           {"kbk app show examples/apps/wordpress.yaml", "kbk app show shop.yaml --explain configmaps/shop-backend/settings",
            "kbk app show shop.yaml -o jsonpath='{range .objects[*]}{.resource}/{.name}{\"\\n\"}{end}'"},
           "Reads the cluster as backup create --app would and writes nothing. Each object is listed under the part "
           "that took it, with HOW (matched, followed) and the reason (the selection that matched, or the object it "
           "was followed from). Exit 2 when some type or namespace could not be read.");
  set_runner(show, state, [&g, sf] { return run_show(g, *sf); });

  auto df = std::make_shared<DiffFlags>();
  CLI::App* diff = cmd->add_subcommand(
      "diff", "What the definitions take from the cluster now that backup B lacks, and what B holds they no longer take");
  diff->add_option("FILE", df->files, "Definition files or folders of them")->required()->type_name(value::k_file);
  diff->add_option("--backup", df->backup, "The backup to compare with")->required()->type_name(value::k_backup);
  add_encryption_key_option(diff, df->key_file, "Key or passphrase file of an encrypted backup");
  add_app_flags(diff, df->app, false);
  document(diff, {"kbk app diff shop.yaml --backup shop-nightly"},
           "The definitions are resolved twice: against the live cluster and against the backup's contents (the same "
           "walk, read from the archive). + lines are in the cluster and not in the backup, - lines the reverse.");
  set_runner(diff, state, [&g, df] { return run_diff(g, *df); });

  auto cf = std::make_shared<DiscoverFlags>();
  CLI::App* disc = cmd->add_subcommand(
      "discover", "Draft application definitions from a running cluster (YAML with a comment per part saying why)");
  disc->add_option("NAMESPACE", cf->namespaces,
                   "Namespaces to look at (default: all but kube-system, kube-public, kube-node-lease)")
      ->type_name(value::k_name);
  disc->add_option("--parallel", cf->parallel, "Resource types listed at once")->capture_default_str()->type_name(value::k_count);
  disc->add_option("--page-size", cf->page_size, "Objects per LIST page")->capture_default_str()->type_name(value::k_count);
  document(disc,
           {"kbk app discover", "kbk app discover shop blog > apps.yaml", "kbk app discover cert-manager -o json"},
           "Groups what it finds by Helm release (meta.helm.sh/release-* annotations and sh.helm.release.v1.* "
           "Secrets), app.kubernetes.io/part-of, instance and name labels, and owner graphs; a namespace holding "
           "several applications gives several definitions. Each part carries a comment on where it came from and "
           "what dependency following adds (pod-spec references, RBAC bound to its ServiceAccounts, cluster-scoped "
           "objects, webhooks, CRDs). The output is a draft: read it, rename, then kbk app validate. -o json (or "
           "yaml) prints {\"applications\": [{\"definition\", \"origin\", \"comments\"}], \"warnings\"}.");
  set_runner(disc, state, [&g, cf] { return run_discover(g, *cf); });
}

}  // namespace kbk::cli
