// kbk restore create|list|describe|logs. create reads the backup from the location, plans and applies it to
// the cluster (or a server-side dry run, a plan, a folder of manifests); list/describe/logs read restores/<name>/.
#include <cstdio>
#include <memory>
#include <mutex>

#include "commands.hpp"
#include "key_file.hpp"
#include <kbk/archive/encryption.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/json/json.hpp>
#include <kbk/kube/discovery.hpp>
#include <kbk/output/output.hpp>
#include <kbk/restore/applier.hpp>
#include <kbk/restore/engine.hpp>
#include <kbk/restore/preflight.hpp>
#include <kbk/restore/transforms.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/storage/wrappers.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

namespace kbk::cli {
namespace {

int fail(const Error& e) {
  log::error(e.message);  // clears a progress line first
  ExitCode code = exit_code_for(e);
  if (e.is(Errc::not_found) || e.is(Errc::precondition)) code = ExitCode::precondition;
  return static_cast<int>(code);
}

output::Format format_of(const GlobalOptions& g, const std::vector<output::Format>& allowed) {
  auto f = output::parse_format(g.output, allowed);
  if (!f) throw Fatal(ExitCode::usage, f.error().message);
  return *f;
}

std::vector<std::string> split_list(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& s : in)
    for (auto& p : util::split(s, ',')) out.push_back(std::string(util::trim(p)));
  return out;
}

template <class T>
T or_usage(Result<T> r) {
  if (!r) throw Fatal(ExitCode::usage, r.error().message);
  return std::move(*r);
}

// ---- create --------------------------------------------------------------------------------------------------

struct CreateFlags {
  std::string name;
  std::string from_backup;
  std::vector<std::string> include_namespaces, exclude_namespaces, include_resources, exclude_resources;
  std::vector<std::string> include_names, exclude_names;
  std::string include_cluster_resources;
  std::string selector, or_selector;
  std::string namespace_mappings;
  std::string existing_policy = "none";
  bool restore_status = false;
  bool preserve_nodeports = false;
  bool no_restore_labels = false;
  std::string dry_run;  // "", "client", "server"
  bool dry_run_given = false;
  std::string to_dir;
  int parallel = 8;
  std::vector<std::string> resource_modifiers;
  std::vector<std::string> storage_class_mappings, ingress_class_mappings, image_mappings;
  double crd_timeout = 60;
  double namespace_timeout = 600;
  bool preflight = false;
  std::string key_file;  // --encryption-key-file
};

restore::Selection selection_of(const CreateFlags& f) {
  restore::Selection s;
  s.include_namespaces = split_list(f.include_namespaces);
  s.exclude_namespaces = split_list(f.exclude_namespaces);
  s.include_resources = split_list(f.include_resources);
  s.exclude_resources = split_list(f.exclude_resources);
  s.include_names = split_list(f.include_names);
  s.exclude_names = split_list(f.exclude_names);
  s.label_selector = f.selector;
  if (!f.or_selector.empty()) {
    std::string rest = f.or_selector;
    size_t pos;
    while ((pos = rest.find(" or ")) != std::string::npos) {
      s.or_selectors.push_back(std::string(util::trim(rest.substr(0, pos))));
      rest = rest.substr(pos + 4);
    }
    s.or_selectors.push_back(std::string(util::trim(rest)));
  }
  if (!f.include_cluster_resources.empty()) {
    if (f.include_cluster_resources == "true") s.include_cluster_resources = true;
    else if (f.include_cluster_resources == "false") s.include_cluster_resources = false;
    else throw Fatal(ExitCode::usage, "--include-cluster-resources must be true or false");
  }
  return s;
}

// Collects the run's log lines for restores/<name>/restore-<name>-logs.gz.
struct LogCapture {
  std::mutex mutex;
  std::string text;
};

// The target's discovery decides the conversions: custom resources through a compatible version of their CRD
// (from the backup), removed built-in APIs to their replacements.
restore::TargetApis add_conversions(restore::PlanOptions& po, const kube::Discovery& discovery) {
  restore::TargetApis target = restore::TargetApis::from_discovery(discovery);
  po.transforms.insert(po.transforms.begin(), restore::make_conversion_transform(target.served()));
  po.transforms.insert(po.transforms.begin(), restore::make_custom_resource_version_transform(target));
  return target;
}

// --preflight: per group/version/kind of the backup, served as-is, converted or no matching API; applies nothing.
// Against the cluster's discovery, or offline (--to-dir, --dry-run=client) against the latest Kubernetes APIs.
int run_preflight(const GlobalOptions& g, const CreateFlags& f, restore::PlanOptions po, storage::Backend& backend,
                  output::Format format, const crypto::UserKey* user_key) {
  restore::TargetApis target;
  std::string target_description;
  if (!f.to_dir.empty() || f.dry_run == "client") {
    po.transforms.insert(po.transforms.begin(), restore::make_latest_conversion_transform());
    target_description = "the latest Kubernetes APIs kbk knows (no cluster)";
  } else {
    const kube::RestConfig config = load_rest_config(g);
    auto client = make_client(g, config);
    auto discovery = kube::Discovery::fetch(*client);
    if (!discovery) return fail(discovery.error());
    target = add_conversions(po, *discovery);
    target_description = "cluster " + config.server;
    if (auto v = client->request("GET", "/version"); v)
      if (std::string git = json::get_string(*v, {"gitVersion"}); !git.empty()) target_description += " (" + git + ")";
  }
  auto backup = restore::load_backup(backend, f.from_backup, {}, user_key);
  if (!backup) return fail(backup.error());
  restore::SourceApis source;
  if (auto m = archive::read_marker(backend, f.from_backup); m && *m) {
    // An encrypted backup's apiGroups are in its sealed marker (load_backup opened the key already).
    if (archive::is_encrypted(**m) && user_key) {
      auto dk = archive::open_backup_key(backend, f.from_backup, *user_key);
      auto full = dk ? archive::open_marker(**m, *dk) : Result<json::Document>(dk.error());
      if (!full) return fail(full.error());
      source = restore::SourceApis::from_manifest(*full);
    } else {
      source = restore::SourceApis::from_manifest(**m);
    }
  }
  if (target.empty()) target = restore::latest_kubernetes_apis(*backup);
  auto report = restore::preflight(*backup, po, target, target_description, source);
  if (!report) return fail(report.error());
  if (format == output::Format::json) output::print_json(restore::preflight_to_json(*report));
  else std::fputs(restore::preflight_text(*report).c_str(), stdout);
  return static_cast<int>(report->restorable() ? ExitCode::ok : ExitCode::partial);
}

int run_create(const GlobalOptions& g, CreateFlags f) {
  auto format = format_of(g, {output::Format::json, output::Format::text});
  auto progress_mode = or_usage(output::parse_progress_mode(g.progress.empty() ? "auto" : g.progress));
  if (f.from_backup.empty()) throw Fatal(ExitCode::usage, "--from-backup is required");
  if (f.dry_run_given && f.dry_run.empty()) f.dry_run = "client";
  if (f.dry_run == "none") f.dry_run.clear();
  if (!f.dry_run.empty() && f.dry_run != "client" && f.dry_run != "server")
    throw Fatal(ExitCode::usage, "--dry-run must be client or server, not \"" + f.dry_run + "\"");
  if (!f.to_dir.empty() && f.dry_run == "server")
    throw Fatal(ExitCode::usage, "--to-dir writes manifests without a cluster; it cannot be combined with --dry-run=server");
  if (f.parallel < 1) throw Fatal(ExitCode::usage, "--parallel must be at least 1");
  const bool offline = !f.to_dir.empty() || f.dry_run == "client";
  const bool changes_cluster = f.to_dir.empty() && f.dry_run.empty();
  if (f.name.empty()) f.name = f.from_backup + "-" + util::format_compact(util::system_clock().now());

  restore::PlanOptions po;
  po.backup_name = f.from_backup;
  po.restore_name = f.name;
  po.selection = selection_of(f);
  po.namespace_mappings = or_usage(restore::parse_namespace_mappings(f.namespace_mappings));
  restore::ClusterApplierOptions co;
  co.existing = or_usage(restore::parse_existing_policy(f.existing_policy));
  co.crd_established_timeout = f.crd_timeout;
  co.namespace_terminating_timeout = f.namespace_timeout;
  po.restore_status = f.restore_status ? restore::RestoreStatus::yes : restore::RestoreStatus::no;
  po.node_ports = f.preserve_nodeports ? restore::NodePorts::preserve : restore::NodePorts::reset;
  po.restore_labels = f.no_restore_labels ? restore::RestoreLabels::omit : restore::RestoreLabels::add;

  // Transforms, in pipeline order within their stages: modifier files, then mappings.
  for (const std::string& file : f.resource_modifiers) {
    auto set = patch::ModifierSet::load(file);
    if (!set) throw Fatal(ExitCode::usage, "--resource-modifiers " + file + ": " + set.error().message);
    po.transforms.push_back(restore::make_modifiers_transform(std::move(*set), file));
  }
  patch::Mappings mappings;
  for (const std::string& s : f.storage_class_mappings)
    for (auto& [k, v] : or_usage(patch::Mappings::parse_pairs(s, "--storage-class-mappings"))) mappings.storage_classes[k] = v;
  for (const std::string& s : f.ingress_class_mappings)
    for (auto& [k, v] : or_usage(patch::Mappings::parse_pairs(s, "--ingress-class-mappings"))) mappings.ingress_classes[k] = v;
  for (const std::string& s : f.image_mappings)
    for (auto& m : or_usage(patch::Mappings::parse_images(s))) mappings.images.push_back(std::move(m));
  if (!mappings.empty()) po.transforms.push_back(restore::make_mappings_transform(std::move(mappings)));

  const auto user_key = load_encryption_key(f.key_file);
  auto progress = output::make_progress(progress_mode);
  // The archive's download shows as its own phase (bytes, bytes/s, ETA) before the restore's items.
  auto meter = std::make_shared<storage::TransferProgress>(*progress);
  auto backend = open_storage(g, false, meter);
  if (f.preflight) return run_preflight(g, f, std::move(po), *backend, format, user_key ? &*user_key : nullptr);
  archive::RestorePaths rpaths{f.name};
  if (changes_cluster) {
    auto existing = backend->stat(rpaths.marker());
    if (existing && *existing)
      throw Fatal(ExitCode::precondition, "restore " + f.name + " already exists in " + backend->display_url());
  }

  std::unique_ptr<kube::Client> client;
  std::unique_ptr<restore::TypeResolver> types;
  std::unique_ptr<restore::Applier> applier;
  if (!f.to_dir.empty()) {
    auto a = restore::make_dir_applier(f.to_dir);
    if (!a) throw Fatal(a.error().is(Errc::config) ? ExitCode::usage : ExitCode::failed, a.error().message);
    applier = std::move(*a);
    po.transforms.insert(po.transforms.begin(), restore::make_latest_conversion_transform());
  } else if (offline) {
    applier = restore::make_plan_only_applier();
    po.transforms.insert(po.transforms.begin(), restore::make_latest_conversion_transform());
  } else {
    const kube::RestConfig config = load_rest_config(g);
    client = make_client(g, config);
    auto discovery = kube::Discovery::fetch(*client);
    if (!discovery) return fail(discovery.error());
    add_conversions(po, *discovery);
    types = restore::make_discovery_resolver(*client);
    kube::Client* c = client.get();
    po.pv_exists = [c](const std::string& name) {
      kube::ResourceType pv;
      pv.version = "v1";
      pv.resource = "persistentvolumes";
      pv.kind = "PersistentVolume";
      return c->get(pv, "", name).ok();
    };
    applier = f.dry_run == "server" ? restore::make_server_dry_run_applier(*client, *types, co)
                                    : restore::make_cluster_applier(*client, *types, co);
  }

  auto capture = std::make_shared<LogCapture>();
  log::set_sink([capture](std::string_view line) {
    std::lock_guard lock(capture->mutex);
    capture->text.append(line);
    if (line.empty() || line.back() != '\n') capture->text += '\n';
  });
  restore::RunOptions ro;
  ro.parallel = f.parallel;
  ro.progress = progress.get();
  ro.encryption_key = user_key ? &*user_key : nullptr;
  log::info(1, "restore " + f.name + " from backup " + f.from_backup + " (" + applier->mode() + ")");
  auto report = restore::restore_backup(*backend, po, *applier, ro);
  meter->finish();
  if (!report) {
    log::set_sink(nullptr);
    return fail(report.error());
  }
  if (changes_cluster) {
    std::string log_text;
    {
      std::lock_guard lock(capture->mutex);
      log_text = capture->text;
    }
    if (auto up = restore::upload_report(*backend, *report, log_text); !up)
      log::warning("restore " + f.name + ": results not written to " + backend->display_url() + ": " + up.error().message);
  }
  log::set_sink(nullptr);
  if (format == output::Format::json) output::print_json(restore::report_to_json(*report));
  else std::fputs(restore::summary_text(*report).c_str(), stdout);
  return static_cast<int>(restore::exit_code(*report));
}

// ---- list / describe / logs ----------------------------------------------------------------------------------

Result<json::Document> read_marker(storage::Backend& backend, const std::string& name) {
  archive::RestorePaths p{name};
  KBK_ASSIGN_OR_RETURN(std::string text, backend.get(p.marker()));
  return json::parse(text, p.marker());
}

int run_list(const GlobalOptions& g) {
  auto format = format_of(g, {output::Format::json, output::Format::text, output::Format::name});
  auto backend = open_storage(g);
  auto names = backend->list_prefixes("restores/");
  if (!names) return fail(names.error());
  json::Document all;
  all.SetArray();
  output::Table t({"NAME", "BACKUP", "STATUS", "CREATED", "UPDATED", "SKIPPED", "FAILED", "STARTED"});
  for (std::string n : *names) {
    if (!n.empty() && n.back() == '/') n.pop_back();
    auto m = read_marker(*backend, n);
    if (!m) continue;  // no marker: not a finished kbk restore
    auto count = [&](const char* k) {
      const json::Value* v = json::at(*m, {"counts", k});
      return v && v->IsUint64() ? std::to_string(v->GetUint64()) : std::string("0");
    };
    if (format == output::Format::name) {
      std::printf("%s\n", n.c_str());
      continue;
    }
    t.add_row({n, json::get_string(*m, {"backup"}), json::get_string(*m, {"phase"}), count("created"), count("updated"),
               count("skipped"), count("failed"), json::get_string(*m, {"started"})});
    json::Value v;
    v.CopyFrom(*m, all.GetAllocator());
    all.PushBack(std::move(v), all.GetAllocator());
  }
  if (format == output::Format::json) output::print_json(all);
  else if (format == output::Format::text && !t.empty()) std::fputs(t.render().c_str(), stdout);
  return 0;
}

int run_describe(const GlobalOptions& g, const std::string& name, bool details) {
  auto format = format_of(g, {output::Format::json, output::Format::text});
  auto backend = open_storage(g);
  auto m = read_marker(*backend, name);
  if (!m) {
    if (m.error().is(Errc::not_found)) return fail(Error(Errc::not_found, "no restore " + name + " in " + backend->display_url()));
    return fail(m.error());
  }
  archive::RestorePaths p{name};
  json::Document results;
  if (auto gz = backend->get(p.results()); gz)
    if (auto text = archive::gunzip(*gz, p.results()); text)
      if (auto d = json::parse(*text, p.results()); d) results = std::move(*d);
  json::Document list;
  if (details)
    if (auto gz = backend->get(p.resource_list()); gz)
      if (auto text = archive::gunzip(*gz, p.resource_list()); text)
        if (auto d = json::parse(*text, p.resource_list()); d) list = std::move(*d);
  if (format == output::Format::json) {
    auto& a = m->GetAllocator();
    if (results.IsObject()) {
      json::Value r;
      r.CopyFrom(results, a);
      json::set(*m, "results", std::move(r), a);
    }
    if (list.IsObject()) {
      json::Value r;
      r.CopyFrom(list, a);
      json::set(*m, "resourceList", std::move(r), a);
    }
    output::print_json(*m);
    return 0;
  }
  std::printf("Name:       %s\nBackup:     %s\nPhase:      %s\nMode:       %s\nStarted:    %s\nCompleted:  %s\n",
              name.c_str(), json::get_string(*m, {"backup"}).c_str(), json::get_string(*m, {"phase"}).c_str(),
              json::get_string(*m, {"mode"}).c_str(), json::get_string(*m, {"started"}).c_str(),
              json::get_string(*m, {"completed"}).c_str());
  std::printf("Items:\n");
  if (const json::Value* c = json::find(*m, "counts"); c && c->IsObject())
    for (const auto& kv : c->GetObject())
      std::printf("  %-10s %s\n", kv.name.GetString(), json::to_string(kv.value).c_str());
  if (const json::Value* r = json::find(*m, "reasons"); r && r->IsObject()) {
    std::printf("Reasons:\n");
    for (const auto& kv : r->GetObject()) std::printf("  %-34s %s\n", kv.name.GetString(), json::to_string(kv.value).c_str());
  }
  for (const char* which : {"errors", "warnings"}) {
    const json::Value* w = json::find(results, which);
    if (!w || !w->IsObject()) continue;
    std::vector<std::string> lines;
    for (const char* k : {"velero", "cluster"})
      if (const json::Value* l = json::find(*w, k); l && l->IsArray())
        for (const auto& s : l->GetArray()) lines.push_back(s.GetString());
    if (const json::Value* ns = json::find(*w, "namespaces"); ns && ns->IsObject())
      for (const auto& kv : ns->GetObject())
        for (const auto& s : kv.value.GetArray()) lines.push_back(s.GetString());
    if (lines.empty()) continue;
    std::printf("%s:\n", which[0] == 'e' ? "Errors" : "Warnings");
    for (const auto& l : lines) std::printf("  %s\n", l.c_str());
  }
  if (list.IsObject()) {
    std::printf("Resource list:\n");
    for (const auto& kv : list.GetObject()) {
      std::printf("  %s:\n", kv.name.GetString());
      for (const auto& s : kv.value.GetArray()) std::printf("    - %s\n", s.GetString());
    }
  }
  return 0;
}

int run_logs(const GlobalOptions& g, const std::string& name) {
  auto backend = open_storage(g);
  archive::RestorePaths p{name};
  auto gz = backend->get(p.logs());
  if (!gz) {
    if (gz.error().is(Errc::not_found)) return fail(Error(Errc::not_found, "no logs for restore " + name + " in " + backend->display_url()));
    return fail(gz.error());
  }
  auto text = archive::gunzip(*gz, p.logs());
  if (!text) return fail(text.error());
  auto format = output::parse_format(g.output, {output::Format::text, output::Format::json});
  if (!format) throw Fatal(ExitCode::usage, format.error().message);
  if (*format == output::Format::json) {
    // {"name": ..., "lines": [...]}: one JSON document, one string per log line (as kbk backup logs).
    json::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("name", json::make_string(name, a), a);
    json::Value lines(rapidjson::kArrayType);
    for (const auto& line : util::split(*text, '\n')) lines.PushBack(json::make_string(line, a), a);
    d.AddMember("lines", lines, a);
    output::print_json(d);
    return 0;
  }
  std::fputs(text->c_str(), stdout);
  return 0;
}

}  // namespace

void register_restore(CLI::App& app, GlobalOptions& g, RunState& state) {
  CLI::App* restore = app.add_subcommand("restore", "Restore backups into a cluster and inspect past restores");
  restore->require_subcommand(1);

  auto* create = restore->add_subcommand("create", "Restore a backup into the cluster (or a dry run, or a folder of manifests)");
  auto f = std::make_shared<CreateFlags>();
  create->add_option("name", f->name, "Name of the restore (default <backup>-<YYYYMMDDhhmmss>)");
  create->add_option("--from-backup", f->from_backup, "The backup to restore")->required();
  create->add_option("--include-namespaces", f->include_namespaces, "Namespaces to restore, as in the backup (globs; default all)");
  create->add_option("--exclude-namespaces", f->exclude_namespaces, "Namespaces to leave out (globs)");
  create->add_option("--include-resources", f->include_resources, "Resources to restore (any name kubectl accepts, globs)");
  create->add_option("--exclude-resources", f->exclude_resources, "Resources to leave out");
  create->add_option("--include-names", f->include_names, "Only these objects: resource/namespace/name or resource/name (globs)");
  create->add_option("--exclude-names", f->exclude_names, "Leave these objects out: resource/namespace/name or resource/name");
  CLI::Option* cluster = create->add_option("--include-cluster-resources", f->include_cluster_resources,
                                             "Restore cluster-scoped resources: true (also bare), false, or unset "
                                             "(only when all namespaces are)")
                            ->expected(0, 1);
  create->add_option("-l,--selector", f->selector, "Only objects whose backed-up labels match this selector");
  create->add_option("--or-selector", f->or_selector, "Objects matching any of these selectors: \"a=b or c=d\"");
  create->add_option("--namespace-mappings", f->namespace_mappings,
                     "Restore namespaces under new names, rewriting every reference: old:new,old2:new2");
  create->add_option("--existing-resource-policy", f->existing_policy,
                     "Objects that already exist: none (skip, say whether they differ), update (patch them), recreate (delete and create)")
      ->capture_default_str();
  create->add_flag("--restore-status", f->restore_status, "Also write each object's status (through the status subresource)");
  create->add_flag("--preserve-nodeports", f->preserve_nodeports, "Keep Services' nodePorts");
  create->add_flag("--no-restore-labels", f->no_restore_labels, "Do not add the kbk.io/backup-name and kbk.io/restore-name labels");
  CLI::Option* dry_run = create->add_option("--dry-run", f->dry_run,
                                             "client (also bare --dry-run): plan only, no cluster; server: every "
                                             "write sent with dryRun=All, nothing changes")
                            ->expected(0, 1);
  create->add_option("--to-dir", f->to_dir,
                     "Write the final manifests to this empty or new folder (no cluster needed) instead of applying them");
  create->add_option("--parallel", f->parallel, "Items applied at once within one tier")->capture_default_str();
  create->add_option("--resource-modifiers", f->resource_modifiers,
                     "Resource-modifier file (Velero's version: v1, or kbk.io/v1); repeatable, applied in order");
  create->add_option("--storage-class-mappings", f->storage_class_mappings, "old:new storage classes (PVCs, PVs, StatefulSet templates)");
  create->add_option("--ingress-class-mappings", f->ingress_class_mappings, "old:new ingress classes");
  create->add_option("--image-mappings", f->image_mappings, "OLD=NEW image prefixes (registry/repository)");
  add_encryption_key_option(create, f->key_file, "Key file of an encrypted backup (also for --preflight, --to-dir, --dry-run)");
  create->add_flag("--preflight", f->preflight,
                   "Only report, per group/version/kind of the backup, whether the target serves it, kbk converts it "
                   "(to which version) or skips it (why); exit 2 when something would be skipped. Offline with "
                   "--to-dir or --dry-run=client: against the latest Kubernetes APIs");
  create->add_option("--crd-timeout", f->crd_timeout, "Seconds to wait for restored CRDs to be Established")->capture_default_str();
  create->add_option("--namespace-timeout", f->namespace_timeout, "Seconds to wait for a Terminating namespace to go")->capture_default_str();
  set_runner(create, state, [&g, f, dry_run, cluster] {
    if (cluster->count() > 0 && f->include_cluster_resources.empty()) f->include_cluster_resources = "true";
    f->dry_run_given = dry_run->count() > 0;  // a bare --dry-run has no value: never mistake it for a real restore
    return run_create(g, *f);
  });

  auto* list = restore->add_subcommand("list", "List the restores recorded in the storage location");
  set_runner(list, state, [&g] { return run_list(g); });

  auto* describe = restore->add_subcommand("describe", "Show a restore's outcome from the storage location");
  auto describe_name = std::make_shared<std::string>();
  auto details = std::make_shared<bool>(false);
  describe->add_option("name", *describe_name, "Restore name")->required();
  describe->add_flag("--details", *details, "Also list every restored object");
  set_runner(describe, state, [&g, describe_name, details] { return run_describe(g, *describe_name, *details); });

  auto* logs = restore->add_subcommand("logs", "Print a restore's log from the storage location");
  auto logs_name = std::make_shared<std::string>();
  logs->add_option("name", *logs_name, "Restore name")->required();
  set_runner(logs, state, [&g, logs_name] { return run_logs(g, *logs_name); });
}

}  // namespace kbk::cli
