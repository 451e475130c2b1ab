// kbk restore create|list|describe|logs and kbk auth can-i-restore. create reads the backup from the location,
// plans, checks the identity may write what the plan holds, and applies it to the cluster (or a server-side dry
// run, a plan, a folder of manifests); list/describe/logs read restores/<name>/.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>

#include "app_flags.hpp"
#include "crossing_flags.hpp"
#include "commands.hpp"
#include "hooks_text.hpp"
#include "volume_flags.hpp"
#include <kbk/restore/volumes.hpp>
#include <kbk/volume/cluster.hpp>
#include "key_file.hpp"
#include <kbk/archive/documents.hpp>
#include <kbk/archive/encryption.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/compress/gzip.hpp>
#include <kbk/crypto/hash.hpp>
#include <kbk/json/json.hpp>
#include <kbk/kube/access.hpp>
#include <kbk/kube/discovery.hpp>
#include <kbk/output/output.hpp>
#include <kbk/rbac/rbac.hpp>
#include <kbk/restore/applier.hpp>
#include <kbk/restore/engine.hpp>
#include <kbk/restore/hooks.hpp>
#include <kbk/restore/preflight.hpp>
#include <kbk/restore/records.hpp>
#include <kbk/restore/rollback.hpp>
#include <kbk/restore/wait.hpp>
#include <kbk/restore/transforms.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/storage/wrappers.hpp>
#include <kbk/util/fs.hpp>
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
  std::string restore_volumes;  // Velero's --restore-volumes[=false]: false = --no-volume-data
  std::string key_file;  // --encryption-key-file
  std::string wait;      // --wait[=TIMEOUT]: "" not given
  CrossingFlags crossing;
  AppFlags app;          // --app, --app-path
  std::string app_modifiers = "auto";  // --app-modifiers auto|always|never
  RestoreVolumeFlags volumes;
  std::string hooks_file;  // --hooks
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
  if (!f.include_cluster_resources.empty())
    s.include_cluster_resources = parse_bool_flag("--include-cluster-resources", f.include_cluster_resources);
  return s;
}

// Collects the run's log lines for restores/<name>/restore-<name>-logs.gz.
// What the restore logs, for its stored log: compressed as it comes (a line per item), so a restore of a million
// objects does not hold their log lines.
struct LogCapture {
  std::mutex mutex;
  compress::GzipWriter log;
};

// The target's discovery decides the conversions: custom resources through a compatible version of their CRD
// (from the backup), removed built-in APIs to their replacements.
restore::TargetApis add_conversions(restore::PlanOptions& po, const kube::Discovery& discovery) {
  restore::TargetApis target = restore::TargetApis::from_discovery(discovery);
  po.transforms.insert(po.transforms.begin(), restore::make_conversion_transform(target.served()));
  po.transforms.insert(po.transforms.begin(), restore::make_custom_resource_version_transform(target));
  return target;
}

// The target cluster's identity for the restore record: server, kube-system UID, version ("" when unreadable).
void describe_target(kube::Client& client, const kube::RestConfig& config, restore::RestoreRequest& request) {
  request.target_server = config.server;
  if (auto v = client.request("GET", "/version"); v) request.target_server_version = json::get_string(*v, {"gitVersion"});
  if (auto ns = client.request("GET", "/api/v1/namespaces/kube-system"); ns)
    request.target_kube_system_uid = json::get_string(*ns, {"metadata", "uid"});
}

// The permission check of a plan: every (type, namespace) it writes, with the verbs the policy needs; with volume
// data (volumes, planned), what restoring each volume cannot do without (helper pods, pods/exec, snapshot objects,
// the mover namespace's; volume/permissions.hpp), so a missing one stops the restore before anything is applied.
Result<kube::WriteAccessReport> check_plan_access(kube::Client& client, const restore::Plan& plan,
                                                  restore::ExistingPolicy policy, const restore::VolumeData* volumes) {
  KBK_ASSIGN_OR_RETURN(auto report,
                       kube::check_write_access(client, restore::write_targets(plan), restore::write_verbs(policy)));
  if (!volumes) return report;
  rbac::Needs needs;
  rbac::add_volume_restore_needs(needs, volumes->targets(), volumes->settings(), true);
  if (needs.verbs.empty()) return report;
  KBK_ASSIGN_OR_RETURN(auto vol, rbac::check(client, needs));
  report.checked += vol.checked;
  for (auto& d : vol.denied) report.denied.push_back(std::move(d));
  for (auto& n : vol.notes) report.notes.push_back(std::move(n));
  return report;
}

std::string permission_hint(const std::string& backup) {
  return "; nothing was applied (kbk auth can-i-restore --from-backup " + backup + " lists every missing permission)";
}

// --preflight: per group/version/kind of the backup, served as-is, converted or no matching API; against a
// cluster also whether the identity may write it all. Applies nothing. Offline (--to-dir, --dry-run=client)
// against the latest Kubernetes APIs.
int run_preflight(const GlobalOptions& g, const CreateFlags& f, restore::PlanOptions po, storage::Backend& backend,
                  const output::Format& format, const crypto::UserKey* user_key, restore::ExistingPolicy policy,
                  const restore::VolumeData* volumes) {
  restore::TargetApis target;
  std::string target_description;
  std::unique_ptr<kube::Client> client;
  bool routes_served = false;
  if (!f.to_dir.empty() || f.dry_run == "client") {
    po.transforms.insert(po.transforms.begin(), restore::make_latest_conversion_transform());
    target_description = "the latest Kubernetes APIs kbk knows (no cluster)";
  } else {
    const kube::RestConfig config = load_rest_config(g);
    client = make_client(g, config);
    auto discovery = kube::Discovery::fetch(*client);
    if (!discovery) return fail(discovery.error());
    target = add_conversions(po, *discovery);
    routes_served = !target.versions_of("route.openshift.io", "Route").empty();
    target_description = "cluster " + config.server;
    if (auto v = client->request("GET", "/version"); v)
      if (std::string git = json::get_string(*v, {"gitVersion"}); !git.empty()) target_description += " (" + git + ")";
  }
  restore::add_crossing_transforms(po, crossing_options(f.crossing, false), routes_served);
  auto backup = restore::load_backup(backend, f.from_backup, {}, user_key);
  if (!backup) return fail(backup.error());
  restore::SourceApis source;
  // The marker load_backup checked (an encrypted backup's sealed copy, which holds its apiGroups).
  if (!backup->marker.is_null()) source = restore::SourceApis::from_manifest(backup->marker.parse());
  // The permission check needs the plan, which preflight() consumes: plan a copy first.
  std::optional<kube::WriteAccessReport> access;
  if (client) {
    auto plan = restore::make_plan(*backup, po);
    if (!plan) return fail(plan.error());
    auto a = check_plan_access(*client, *plan, policy, volumes);
    if (!a) return fail(a.error());
    access = std::move(*a);
  }
  if (target.empty()) target = restore::latest_kubernetes_apis(*backup);
  auto report = restore::preflight(*backup, po, target, target_description, source);
  if (!report) return fail(report.error());
  const bool writable = !access || access->writable();
  // Per volume: what the restore will do with its data (volume/restore.hpp).
  const std::vector<std::string> volume_lines = volumes ? volumes->preflight_lines() : std::vector<std::string>();
  if (format.structured()) {
    json::Document doc = restore::preflight_to_json(*report);
    {
      json::Value v(rapidjson::kArrayType);
      for (const auto& l : volume_lines) v.PushBack(json::make_string(l, doc.GetAllocator()), doc.GetAllocator());
      json::set(doc, "volumes", std::move(v), doc.GetAllocator());
    }
    if (access) {
      auto& a = doc.GetAllocator();
      json::Value perm(rapidjson::kObjectType);
      perm.AddMember("user", json::make_string(access->user, a), a);
      perm.AddMember("writable", access->writable(), a);
      perm.AddMember("checked", static_cast<uint64_t>(access->checked), a);
      json::Value denied(rapidjson::kArrayType);
      for (const auto& d : access->denied) {
        json::Value e(rapidjson::kObjectType);
        e.AddMember("resource", json::make_string(d.type.group_resource(), a), a);
        e.AddMember("namespace", json::make_string(d.namespace_, a), a);
        json::Value verbs(rapidjson::kArrayType);
        for (const auto& v : d.verbs) verbs.PushBack(json::make_string(v, a), a);
        e.AddMember("verbs", verbs, a);
        denied.PushBack(e, a);
      }
      perm.AddMember("denied", denied, a);
      json::set(doc, "permissions", std::move(perm), a);
    }
    output::print(doc, format);
  } else {
    std::fputs(restore::preflight_text(*report).c_str(), stdout);
    if (!volume_lines.empty()) {
      std::printf("\nVolumes:\n");
      for (const auto& l : volume_lines) std::printf("  %s\n", l.c_str());
    }
    if (access) {
      if (access->writable()) {
        std::printf("Permissions: %s may create, get and patch everything this restore writes (%zu type/namespace pairs)\n",
                    access->user.empty() ? "the current identity" : ("user \"" + access->user + "\"").c_str(),
                    access->checked);
      } else {
        std::printf("Permissions: %s cannot write %zu of %zu type/namespace pairs; the restore would fail:\n",
                    access->user.empty() ? "the current identity" : ("user \"" + access->user + "\"").c_str(),
                    access->denied.size(), access->checked);
        for (size_t i = 0; i < access->denied.size() && i < 20; ++i)
          std::printf("  cannot %s\n", access->denied[i].line().c_str());
        if (access->denied.size() > 20)
          std::printf("  ... and %zu more (-o json lists them all)\n", access->denied.size() - 20);
      }
    }
  }
  return static_cast<int>(report->restorable() && writable ? ExitCode::ok : ExitCode::partial);
}

std::string sha256_of_file(const std::string& path) {
  auto text = util::read_file(path, util::k_max_input_file);
  return text ? crypto::sha256_hex(*text) : std::string();
}

// The applications' restore.modifiers (docs/format-application.md section 7): applied after --resource-modifiers
// when the application is restored elsewhere. auto: unless the target is the backup's source cluster (same
// kube-system UID), where they would rewrite the application in place; offline runs count as elsewhere.
void add_application_modifiers(restore::PlanOptions& po, restore::RestoreRequest& request, const std::string& mode,
                               storage::Backend& backend, const std::string& backup, kube::Client* target,
                               const restore::Transform* mappings) {
  const app::Application& a = *po.applications;
  bool apply = mode == "always";
  std::string why = "--app-modifiers always";
  if (mode == "auto") {
    std::string source_uid, target_uid;
    if (auto m = archive::read_marker(backend, backup); m && *m) source_uid = json::get_string(**m, {"cluster", "kubeSystemUID"});
    if (target) {
      kube::ResourceType ns;
      ns.version = "v1";
      ns.resource = "namespaces";
      ns.kind = "Namespace";
      if (auto d = target->get(ns, "", "kube-system")) target_uid = json::get_string(*d, {"metadata", "uid"});
    }
    apply = !target || source_uid.empty() || target_uid.empty() || source_uid != target_uid;
    why = !target ? "no target cluster (offline)" : apply ? "the target is not the backup's source cluster"
                                                          : "the target is the backup's source cluster";
  } else if (mode == "never") {
    why = "--app-modifiers never";
  }
  log::info(0, std::string("application modifiers (") + util::join(a.modifiers, ", ") + "): " +
                   (apply ? "applied" : "not applied") + ", " + why);
  if (!apply) return;
  for (const std::string& file : a.modifiers) {
    auto set = patch::ModifierSet::load(file);
    if (!set) {
      for (const auto& c : set.error().causes) std::fprintf(stderr, "%s\n", c.message.c_str());
      throw Fatal(ExitCode::usage, file + ": invalid modifier file of application " + a.display_name());
    }
    // After the command line's modifier files, before the mappings (the pipeline's order).
    auto at = std::find_if(po.transforms.begin(), po.transforms.end(),
                           [&](const std::shared_ptr<restore::Transform>& t) { return t.get() == mappings; });
    po.transforms.insert(at, restore::make_modifiers_transform(std::move(*set), file));
    request.resource_modifiers.push_back({file, sha256_of_file(file)});
  }
}

int run_create(const GlobalOptions& g, CreateFlags f) {
  const output::Format format = output_format(g, {output::Format::json});
  auto progress_mode = or_usage(output::parse_progress_mode(g.progress.empty() ? "auto" : g.progress));
  if (!g.kube.namespace_.empty())
    throw Fatal(ExitCode::usage, "-n selects nothing for a restore: use --include-namespaces " + g.kube.namespace_ +
                                     " (and --namespace-mappings " + g.kube.namespace_ + ":NEW to restore it under another name)");
  if (f.from_backup.empty()) throw Fatal(ExitCode::usage, "--from-backup is required");
  if (f.dry_run_given && f.dry_run.empty()) f.dry_run = "client";
  if (f.dry_run == "none") f.dry_run.clear();
  if (!f.dry_run.empty() && f.dry_run != "client" && f.dry_run != "server")
    throw Fatal(ExitCode::usage, "--dry-run must be client or server, not \"" + f.dry_run + "\"");
  if (!f.to_dir.empty() && f.dry_run == "server")
    throw Fatal(ExitCode::usage, "--to-dir writes manifests without a cluster; it cannot be combined with --dry-run=server");
  if (f.parallel < 1) throw Fatal(ExitCode::usage, "--parallel must be at least 1");
  // Velero's --restore-volumes=false is kbk's --no-volume-data.
  if (!f.restore_volumes.empty() && !parse_bool_flag("--restore-volumes", f.restore_volumes)) f.volumes.no_volume_data = true;
  const bool offline = !f.to_dir.empty() || f.dry_run == "client";
  const bool changes_cluster = f.to_dir.empty() && f.dry_run.empty();
  std::optional<double> wait_timeout;
  if (!f.wait.empty()) {
    wait_timeout = util::parse_duration(f.wait);
    if (!wait_timeout)
      throw Fatal(ExitCode::usage, "--wait \"" + f.wait + "\": expected a duration such as 5m or 90s (a bare --wait waits 5m)");
    if (!changes_cluster) throw Fatal(ExitCode::usage, "--wait waits for a real restore; it cannot be combined with --dry-run or --to-dir");
  }
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

  // What was asked, for the restore record (restore describe).
  restore::RestoreRequest request;
  request.selection = po.selection;
  request.namespace_mappings = po.namespace_mappings;
  request.existing_resource_policy = restore::existing_policy_name(co.existing);
  request.restore_status = f.restore_status;
  request.preserve_node_ports = f.preserve_nodeports;
  request.restore_labels = !f.no_restore_labels;
  request.dry_run = f.dry_run;
  request.to_dir = f.to_dir;

  // Transforms, in pipeline order within their stages: modifier files, then mappings.
  for (const std::string& file : f.resource_modifiers) {
    auto set = patch::ModifierSet::load(file);
    if (!set) throw Fatal(ExitCode::usage, "--resource-modifiers: " + set.error().message);
    po.transforms.push_back(restore::make_modifiers_transform(std::move(*set), file));
    request.resource_modifiers.push_back({file, sha256_of_file(file)});
  }
  patch::Mappings mappings;
  for (const std::string& s : f.storage_class_mappings)
    for (auto& [k, v] : or_usage(patch::Mappings::parse_pairs(s, "--storage-class-mappings"))) mappings.storage_classes[k] = v;
  for (const std::string& s : f.ingress_class_mappings)
    for (auto& [k, v] : or_usage(patch::Mappings::parse_pairs(s, "--ingress-class-mappings"))) mappings.ingress_classes[k] = v;
  for (const std::string& s : f.image_mappings)
    for (auto& m : or_usage(patch::Mappings::parse_images(s))) mappings.images.push_back(std::move(m));
  request.storage_class_mappings = mappings.storage_classes;
  request.ingress_class_mappings = mappings.ingress_classes;
  request.image_mappings = split_list(f.image_mappings);
  std::map<std::string, std::string> class_mappings = mappings.storage_classes;
  std::shared_ptr<restore::Transform> mappings_transform;
  if (!mappings.empty()) {
    mappings_transform = restore::make_mappings_transform(std::move(mappings));
    po.transforms.push_back(mappings_transform);
  }
  if (f.app_modifiers != "auto" && f.app_modifiers != "always" && f.app_modifiers != "never")
    throw Fatal(ExitCode::usage, "--app-modifiers must be auto, always or never, not \"" + f.app_modifiers + "\"");
  if (!f.app.apps.empty()) {
    po.applications = load_applications(f.app.apps, f.app);
    request.applications = po.applications->all_names;
    for (const auto& file : po.applications->files) request.application_files.push_back({file, sha256_of_file(file)});
  }
  // Restore hooks (docs/hooks.md section 6): the pods' annotations, --hooks and the applications' templates. Their
  // transform goes first, so modifiers and image mappings see the init containers it adds.
  std::shared_ptr<const hooks::HooksFile> hooks_file;
  if (!f.hooks_file.empty() || (po.applications && !po.applications->hooks.empty())) {
    hooks::HooksFile all;
    if (!f.hooks_file.empty()) {
      auto loaded = hooks::load_file(f.hooks_file);
      if (!loaded) {
        for (const auto& c : loaded.error().causes) std::fprintf(stderr, "%s\n", c.message.c_str());
        throw Fatal(ExitCode::usage, "--hooks: " + loaded.error().message);
      }
      all = std::move(*loaded);
      if (all.restore.empty()) log::info(0, "--hooks " + f.hooks_file + ": the file has no restore hooks (spec.restore)");
      request.hooks_files.push_back({f.hooks_file, sha256_of_file(f.hooks_file)});
    }
    if (po.applications)
      if (auto t = hooks::add_template_hooks(po.applications->hooks, all); !t) throw Fatal(ExitCode::usage, t.error().message);
    hooks_file = std::make_shared<const hooks::HooksFile>(std::move(all));
  }
  auto restore_hooks = std::make_shared<restore::RestoreHooks>(hooks_file, po.namespace_mappings);
  po.transforms.insert(po.transforms.begin(), restore_hooks->transform());

  const volume::RestoreSettings volume_settings = restore_volume_settings(f.volumes);

  const auto user_key = load_encryption_key(f.key_file);
  auto progress = output::make_progress(progress_mode);
  // The archive's download shows as its own phase (bytes, bytes/s, ETA) before the restore's items.
  auto meter = std::make_shared<storage::TransferProgress>(*progress);
  auto backend = open_storage(g, false, meter);
  // Volume data: the backup's volume records (its marker, opened with the key when sealed).
  std::shared_ptr<restore::VolumeData> volumes;
  if (!f.volumes.no_volume_data) {
    restore::VolumeDataOptions vo;
    vo.restore_name = f.name;
    vo.settings = volume_settings;
    vo.storage_class_mappings = class_mappings;
    auto vd = restore::load_volume_data(*backend, f.from_backup, user_key ? &*user_key : nullptr, std::move(vo));
    if (!vd) return fail(vd.error());
    volumes = std::move(*vd);
    if (volumes) volumes->attach(po);
  }
  if (f.preflight)
    return run_preflight(g, f, std::move(po), *backend, format, user_key ? &*user_key : nullptr, co.existing,
                         volumes.get());
  archive::RestorePaths rpaths{f.name};
  if (changes_cluster) {
    auto existing = backend->stat(rpaths.marker());
    if (existing && *existing)
      throw Fatal(ExitCode::precondition, "restore " + f.name + " already exists in " + backend->display_url());
  }

  std::unique_ptr<kube::Client> client;
  std::unique_ptr<restore::TypeResolver> types;
  std::unique_ptr<restore::Applier> applier;
  restore::RunOptions ro;
  bool routes_served = false;
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
    routes_served = !add_conversions(po, *discovery).versions_of("route.openshift.io", "Route").empty();
    describe_target(*client, config, request);
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
    // Before anything is applied: may this identity write everything the plan holds? A read-only identity gets
    // one line and exit 4, never a run of Forbidden errors.
    const restore::ExistingPolicy policy = co.existing;
    const std::string backup_name = f.from_backup;
    const restore::VolumeData* planned_volumes = f.dry_run.empty() ? volumes.get() : nullptr;  // data is moved
    ro.before_apply = [c, policy, backup_name, planned_volumes](const restore::Plan& plan) -> Result<void> {
      KBK_ASSIGN_OR_RETURN(auto access, check_plan_access(*c, plan, policy, planned_volumes));
      for (const auto& n : access.notes) log::info(1, n);
      if (!access.writable()) return unexpected(Errc::precondition, access.summary() + permission_hint(backup_name));
      return {};
    };
  }

  if (po.applications && !po.applications->modifiers.empty())
    add_application_modifiers(po, request, f.app_modifiers, *backend, f.from_backup, client.get(),
                              mappings_transform.get());
  auto rewrites = restore::add_crossing_transforms(po, crossing_options(f.crossing, false), routes_served);

  auto capture = std::make_shared<LogCapture>();
  log::set_sink([capture](std::string_view line) {
    std::lock_guard lock(capture->mutex);
    capture->log.write(line);
    if (line.empty() || line.back() != '\n') capture->log.write("\n");
  });
  ro.parallel = f.parallel;
  ro.progress = progress.get();
  ro.hooks = restore_hooks.get();
  ro.hooks_client = changes_cluster ? client.get() : nullptr;
  ro.encryption_key = user_key ? &*user_key : nullptr;
  std::optional<volume::InterruptHandler> interrupts;
  if (volumes && client && f.dry_run.empty() && f.to_dir.empty()) {
    auto wrapped = volumes->wrap(std::move(applier), *client, *backend, ro.encryption_key, progress.get());
    if (!wrapped) return fail(wrapped.error());
    applier = std::move(*wrapped);
    ro.after_planning = [&volumes] { return volumes->prepare(); };
    interrupts.emplace();  // Ctrl-C removes helper pods and the restore's snapshot objects, then exits
  }
  log::info(1, "restore " + f.name + " from backup " + f.from_backup + " (" + applier->mode() + ")");
  auto report = restore::restore_backup(*backend, po, *applier, ro);
  interrupts.reset();
  if (report && rewrites)
    for (const std::string& u : rewrites->unmatched())
      report->warnings.push_back(u + ": the restore holds no such object (nothing set)");
  if (report && volumes) report->volumes = volumes->results();
  meter->finish();
  if (!report) {
    log::set_sink(nullptr);
    return fail(report.error());
  }
  report->request = request;
  if (changes_cluster) {
    log::set_sink(nullptr);  // nothing more goes into the capture
    if (auto up = restore::upload_report(*backend, *report, capture->log, ro.encryption_key); !up)
      log::warning("restore " + f.name + ": results not written to " + backend->display_url() + ": " + up.error().message);
  }
  log::set_sink(nullptr);
  int rc = static_cast<int>(restore::exit_code(*report));
  std::optional<restore::WaitReport> waited;
  if (wait_timeout && client && rc != static_cast<int>(ExitCode::failed)) {
    restore::WaitOptions wo;
    wo.timeout = *wait_timeout;
    auto targets = restore::workloads_of(*report);
    log::info(1, "waiting up to " + util::human_duration(*wait_timeout) + " for " + std::to_string(targets.size()) +
                     " workload(s) to be ready");
    waited = restore::wait_ready(*client, targets, wo);
    if (!waited->ready()) {
      log::error("restore " + f.name + ": " + waited->summary());
      if (rc == 0) rc = static_cast<int>(ExitCode::partial);
    }
  }
  if (format.structured()) {
    json::Document doc = restore::report_to_json(*report);
    if (waited) restore::add_wait(doc, *waited, doc.GetAllocator());
    output::print(doc, format);
  } else {
    std::fputs(restore::summary_text(*report).c_str(), stdout);
    if (waited) std::printf("Wait: %s\n", waited->summary().c_str());
  }
  // The summary (or the JSON document) lists every failure; stderr gets the one line that names the first.
  if (const std::string line = restore::failure_line(*report); !line.empty()) log::error(line);
  return rc;
}

// ---- rollback -------------------------------------------------------------------------------------------------

struct RollbackFlags {
  std::string name;
  bool dry_run = false;
  bool force = false;
  std::string key_file;
  double delete_timeout = 300;
};

int run_rollback(const GlobalOptions& g, const RollbackFlags& f) {
  const output::Format format = output_format(g, {output::Format::json});
  const auto user_key = load_encryption_key(f.key_file);
  auto backend = open_storage(g, false);
  auto entries = restore::read_rollback_record(*backend, f.name, user_key ? &*user_key : nullptr);
  if (!entries) return fail(entries.error());
  const kube::RestConfig config = load_rest_config(g);
  auto client = make_client(g, config);
  auto types = restore::make_discovery_resolver(*client);
  if (auto r = types->refresh(); !r) return fail(r.error());
  restore::RollbackOptions o;
  o.dry_run = f.dry_run ? restore::RollbackDryRun::yes : restore::RollbackDryRun::no;
  o.force = f.force ? restore::RollbackForce::yes : restore::RollbackForce::no;
  o.delete_timeout = f.delete_timeout;
  restore::RollbackReport report = restore::rollback(*client, *types, f.name, *entries, o);
  for (const auto& i : report.items)
    if (i.failed() || i.left_alone()) log::record(log::Level::warning, i.outcome + " " + i.item + ": " + i.message);
  if (!f.dry_run)
    if (auto up = restore::upload_rollback_report(*backend, report); !up)
      log::warning("restore " + f.name + ": rollback outcome not written to " + backend->display_url() + ": " +
                   up.error().message);
  if (format.structured()) output::print(restore::rollback_to_json(report), format);
  else std::fputs(restore::rollback_summary_text(report).c_str(), stdout);
  return static_cast<int>(restore::exit_code(report));
}

// ---- auth can-i-restore --------------------------------------------------------------------------------------

struct CanIRestoreFlags {
  std::string from_backup;
  std::string namespace_mappings;
  std::vector<std::string> include_namespaces, exclude_namespaces, include_resources, exclude_resources;
  std::string existing_policy = "none";
  std::string key_file;
};

// Without --from-backup: create, get and patch on every type kbk restores, across the cluster (or in -n). With it:
// exactly what that backup's restore would write (its plan, after the selection and the namespace mappings).
int run_can_i_restore(const GlobalOptions& g, const CanIRestoreFlags& f) {
  const output::Format format = output_format(g, {output::Format::json});
  const auto policy = or_usage(restore::parse_existing_policy(f.existing_policy));
  const kube::RestConfig config = load_rest_config(g);
  auto client = make_client(g, config);
  auto discovery = fetch_discovery(*client);
  std::vector<kube::WriteTarget> targets;
  std::string scope;
  std::shared_ptr<restore::VolumeData> volumes;  // --from-backup: its volume data, as restore create moves it
  std::optional<kube::WriteAccessReport> report_of_plan;
  if (f.from_backup.empty()) {
    if (!f.namespace_mappings.empty() || !f.include_namespaces.empty() || !f.exclude_namespaces.empty() ||
        !f.include_resources.empty() || !f.exclude_resources.empty())
      throw Fatal(ExitCode::usage, "the selection and mapping flags need --from-backup (the backup they select from)");
    for (auto& rt : discovery.preferred()) {
      if (!rt.backupable()) continue;
      kube::WriteTarget t;
      t.type = rt;
      t.namespace_ = rt.namespaced ? g.kube.namespace_ : "";
      targets.push_back(std::move(t));
    }
    scope = g.kube.namespace_.empty() ? "every type kbk restores, across the cluster"
                                      : "every type kbk restores, in namespace " + g.kube.namespace_ + " (and cluster-scoped ones)";
  } else {
    CreateFlags cf;
    cf.include_namespaces = f.include_namespaces;
    cf.exclude_namespaces = f.exclude_namespaces;
    cf.include_resources = f.include_resources;
    cf.exclude_resources = f.exclude_resources;
    restore::PlanOptions po;
    po.backup_name = f.from_backup;
    po.restore_name = "can-i-restore";
    po.selection = selection_of(cf);
    po.namespace_mappings = or_usage(restore::parse_namespace_mappings(f.namespace_mappings));
    add_conversions(po, discovery);
    const auto user_key = load_encryption_key(f.key_file);
    auto backend = open_storage(g);
    restore::VolumeDataOptions vo;
    vo.restore_name = "can-i-restore";
    auto vd = restore::load_volume_data(*backend, f.from_backup, user_key ? &*user_key : nullptr, std::move(vo));
    if (!vd) return fail(vd.error());
    volumes = std::move(*vd);
    if (volumes) volumes->attach(po);
    auto backup = restore::load_backup(*backend, f.from_backup, {}, user_key ? &*user_key : nullptr);
    if (!backup) return fail(backup.error());
    auto plan = restore::make_plan(*backup, po);
    if (!plan) return fail(plan.error());
    auto checked = check_plan_access(*client, *plan, policy, volumes.get());
    if (!checked) return fail(checked.error());
    report_of_plan = std::move(*checked);
    scope = "what restoring backup " + f.from_backup + " writes (and its volume data moves)";
  }
  const auto verbs = restore::write_verbs(policy);
  auto report = report_of_plan ? Result<kube::WriteAccessReport>(std::move(*report_of_plan))
                               : kube::check_write_access(*client, targets, verbs);
  if (!report) return fail(report.error());
  for (const auto& n : report->notes) log::warning(n);
  const std::string who = report->user.empty() ? "the current identity" : "user \"" + report->user + "\"";
  if (format.structured()) {
    json::Document doc(rapidjson::kObjectType);
    auto& a = doc.GetAllocator();
    doc.AddMember("user", json::make_string(report->user, a), a);
    doc.AddMember("backup", json::make_string(f.from_backup, a), a);
    doc.AddMember("namespace", json::make_string(g.kube.namespace_, a), a);
    doc.AddMember("writable", report->writable(), a);
    doc.AddMember("checked", static_cast<uint64_t>(report->checked), a);
    json::Value vs(rapidjson::kArrayType);
    for (const auto& v : verbs) vs.PushBack(json::make_string(v, a), a);
    doc.AddMember("verbs", vs, a);
    json::Value denied(rapidjson::kArrayType);
    for (const auto& d : report->denied) {
      json::Value e(rapidjson::kObjectType);
      e.AddMember("resource", json::make_string(d.type.resource, a), a);
      e.AddMember("group", json::make_string(d.type.group, a), a);
      e.AddMember("namespaced", d.type.namespaced, a);
      e.AddMember("namespace", json::make_string(d.namespace_, a), a);
      json::Value dv(rapidjson::kArrayType);
      for (const auto& v : d.verbs) dv.PushBack(json::make_string(v, a), a);
      e.AddMember("verbs", dv, a);
      denied.PushBack(e, a);
    }
    doc.AddMember("denied", denied, a);
    json::Value notes(rapidjson::kArrayType);
    for (const auto& n : report->notes) notes.PushBack(json::make_string(n, a), a);
    doc.AddMember("notes", notes, a);
    output::print(doc, format);
  } else if (report->writable()) {
    std::printf("%s may %s %s (%zu type/namespace pairs)\n", who.c_str(), util::join(verbs, ", ").c_str(),
                scope.c_str(), report->checked);
  } else {
    output::Table table({"RESOURCE", "NAMESPACE", "CANNOT"});
    for (const auto& d : report->denied)
      table.add_row({d.type.group_resource(), d.namespace_.empty() ? (d.type.namespaced ? "(all)" : "(cluster)") : d.namespace_,
                     util::join(d.verbs, ",")});
    std::fputs(table.render().c_str(), stdout);
    log::error(std::to_string(report->denied.size()) + " of " + std::to_string(report->checked) +
               " type/namespace pairs are not writable by " + who + ": a restore would fail");
  }
  return report->writable() ? 0 : static_cast<int>(ExitCode::precondition);
}

// ---- list / describe / logs ----------------------------------------------------------------------------------

// A record written before the field names followed docs/output.md ("started"/"completed"): read either.
std::string record_time(const json::Value& m, const char* now_name, const char* old_name) {
  std::string v = json::get_string(m, {now_name});
  return v.empty() ? json::get_string(m, {old_name}) : v;
}

std::string pr(std::string_view s) { return util::printable(s, 1024); }

// Restore names are backup names' kind (DNS subdomains); anything else under restores/ is named and skipped.
int run_list(const GlobalOptions& g, const std::vector<std::string>& only) {
  const output::Format format = output_format(g, {output::Format::json, output::Format::name});
  auto backend = open_storage(g);
  std::vector<std::string> names;
  if (only.empty()) {
    auto listed = restore::list_restore_names(*backend);
    if (!listed) return fail(listed.error());
    names = std::move(*listed);
  } else {
    names = only;
  }
  std::vector<json::Document> records;
  output::Table t({"NAME", "BACKUP", "STATUS", "CREATED", "UPDATED", "SKIPPED", "FAILED", "STARTED"});
  int code = 0;
  for (const std::string& n : names) {
    if (!archive::valid_backup_name(n)) {
      log::error("restores/" + pr(n) + "/: not a restore name (skipped)");
      code = std::max(code, static_cast<int>(ExitCode::partial));
      continue;
    }
    auto m = restore::read_restore_record(*backend, n);
    if (!m) {
      if (m.error().is(Errc::not_found)) {
        if (!only.empty()) code = std::max(code, fail(Error(Errc::not_found, "no restore " + n + " in " + backend->display_url())));
        continue;  // no marker: not a finished kbk restore
      }
      if (!m.error().is(Errc::corrupt)) return fail(m.error());
      log::error(m.error().message + " (skipped)");
      code = std::max(code, static_cast<int>(ExitCode::partial));
      continue;
    }
    auto count = [&](const char* k) {
      const json::Value* v = json::at(*m, {"counts", k});
      return v && v->IsUint64() ? std::to_string(v->GetUint64()) : std::string("0");
    };
    if (format == output::Format::name) {
      std::printf("%s\n", n.c_str());
      continue;
    }
    t.add_row({n, pr(json::get_string(*m, {"backup"})), pr(json::get_string(*m, {"phase"})), count("created"),
               count("updated"), count("skipped"), count("failed"), pr(json::get_string(*m, {"startTimestamp"}))});
    records.push_back(std::move(*m));
  }
  if (format.structured()) output::print(restore::restore_list_to_json(records), format);
  else if (format == output::Format::text && !t.empty()) std::fputs(t.render().c_str(), stdout);
  else if (format == output::Format::text && only.empty())
    std::fprintf(stderr, "No restores found in %s.\n", backend->display_url().c_str());
  return code;
}

std::string joined_or_none(const json::Value* v) {
  std::vector<std::string> out;
  if (v && v->IsArray())
    for (const auto& s : v->GetArray())
      if (s.IsString()) out.push_back(pr(std::string_view(s.GetString(), s.GetStringLength())));
  return out.empty() ? "<none>" : util::join(out, ", ");
}

std::string map_or_none(const json::Value* v) {
  std::vector<std::string> out;
  if (v && v->IsObject())
    for (const auto& kv : v->GetObject())
      if (kv.value.IsString())
        out.push_back(pr(std::string_view(kv.name.GetString(), kv.name.GetStringLength())) + ":" +
                      pr(std::string_view(kv.value.GetString(), kv.value.GetStringLength())));
  return out.empty() ? "<none>" : util::join(out, ", ");
}

int run_describe(const GlobalOptions& g, const std::string& name, bool details) {
  const output::Format format = output_format(g, {output::Format::json});
  if (!archive::valid_backup_name(name)) throw Fatal(ExitCode::usage, "\"" + pr(name) + "\" is not a restore name");
  auto backend = open_storage(g);
  auto loaded = restore::load_restore_record(*backend, name, details);
  if (!loaded) {
    if (loaded.error().is(Errc::not_found)) return fail(Error(Errc::not_found, "no restore " + name + " in " + backend->display_url()));
    return fail(loaded.error());
  }
  if (format.structured()) {
    output::print(restore::restore_describe_to_json(*loaded), format);
    return 0;
  }
  json::Document* m = &loaded->record;
  const json::Document& results = loaded->results;
  const json::Document& list = loaded->resource_list;
  auto gs = [](const json::Value& v, std::initializer_list<std::string_view> path) { return pr(json::get_string(v, path)); };
  std::printf("Name:         %s\nBackup:       %s\nPhase:        %s\nMode:         %s\nStarted:      %s\nCompleted:    %s\n",
              name.c_str(), gs(*m, {"backup"}).c_str(), gs(*m, {"phase"}).c_str(),
              gs(*m, {"mode"}).c_str(), pr(record_time(*m, "startTimestamp", "started")).c_str(),
              pr(record_time(*m, "completionTimestamp", "completed")).c_str());
  if (const json::Value* t = json::find(*m, "target"); t && t->IsObject() && !gs(*t, {"server"}).empty()) {
    std::string version = gs(*t, {"serverVersion"});
    std::string uid = gs(*t, {"kubeSystemUID"});
    std::printf("Cluster:      %s%s%s\n", gs(*t, {"server"}).c_str(),
                version.empty() ? "" : (" (" + version).c_str(),
                version.empty() ? "" : (uid.empty() ? ")" : (", kube-system uid " + uid + ")").c_str()));
  }
  if (const json::Value* s = json::find(*m, "spec"); s && s->IsObject()) {
    // What was asked, as Velero's describe shows a restore's spec.
    std::printf("\nNamespaces:\n  Included:  %s\n  Excluded:  %s\n", joined_or_none(json::find(*s, "includedNamespaces")).c_str(),
                joined_or_none(json::find(*s, "excludedNamespaces")).c_str());
    std::printf("Resources:\n  Included:  %s\n  Excluded:  %s\n", joined_or_none(json::find(*s, "includedResources")).c_str(),
                joined_or_none(json::find(*s, "excludedResources")).c_str());
    std::string icr = "auto";
    if (const json::Value* v = json::find(*s, "includeClusterResources"); v && v->IsBool()) icr = v->GetBool() ? "true" : "false";
    std::printf("  Cluster-scoped:  %s\n", icr.c_str());
    std::printf("Names:\n  Included:  %s\n  Excluded:  %s\n", joined_or_none(json::find(*s, "includeNames")).c_str(),
                joined_or_none(json::find(*s, "excludeNames")).c_str());
    std::string ls = gs(*s, {"labelSelector"});
    std::printf("Label selector:  %s\n", ls.empty() ? "<none>" : ls.c_str());
    std::printf("Or label selectors:  %s\n", joined_or_none(json::find(*s, "orLabelSelectors")).c_str());
    std::printf("\nNamespace mappings:      %s\n", map_or_none(json::find(*s, "namespaceMapping")).c_str());
    std::printf("Storage class mappings:  %s\n", map_or_none(json::find(*s, "storageClassMapping")).c_str());
    std::printf("Ingress class mappings:  %s\n", map_or_none(json::find(*s, "ingressClassMapping")).c_str());
    std::printf("Image mappings:          %s\n", joined_or_none(json::find(*s, "imageMappings")).c_str());
    std::printf("Resource modifiers:      ");
    const json::Value* mods = json::find(*s, "resourceModifiers");
    if (!mods || !mods->IsArray() || mods->Empty()) {
      std::printf("<none>\n");
    } else {
      std::printf("\n");
      for (const auto& mod : mods->GetArray())
        std::printf("  %s (sha256 %s)\n", gs(mod, {"file"}).c_str(), gs(mod, {"sha256"}).c_str());
    }
    if (const json::Value* apps = json::find(*s, "applications"); apps && apps->IsArray() && !apps->Empty()) {
      std::printf("Applications:            %s\n", joined_or_none(apps).c_str());
      if (const json::Value* files = json::find(*s, "applicationFiles"); files && files->IsArray())
        for (const auto& file : files->GetArray())
          std::printf("  %s (sha256 %s)\n", gs(file, {"file"}).c_str(),
                      gs(file, {"sha256"}).c_str());
    }
    std::printf("Existing resource policy:  %s\n", gs(*s, {"existingResourcePolicy"}).c_str());
    auto flag = [&](const char* k) {
      const json::Value* v = json::find(*s, k);
      return v && v->IsBool() && v->GetBool() ? "true" : "false";
    };
    std::printf("Restore status:  %s\nPreserve node ports:  %s\nRestore labels:  %s\n", flag("restoreStatus"),
                flag("preserveNodePorts"), flag("restoreLabels"));
  }
  std::printf("\nItems:\n");
  auto key_of = [](const json::Value& n) { return pr(std::string_view(n.GetString(), n.GetStringLength())); };
  if (const json::Value* c = json::find(*m, "counts"); c && c->IsObject())
    for (const auto& kv : c->GetObject())
      std::printf("  %-10s %s\n", key_of(kv.name).c_str(), json::to_string(kv.value).c_str());
  if (const json::Value* r = json::find(*m, "reasons"); r && r->IsObject()) {
    std::printf("Reasons:\n");
    for (const auto& kv : r->GetObject())
      std::printf("  %-34s %s\n", key_of(kv.name).c_str(), json::to_string(kv.value).c_str());
  }
  if (const json::Value* v = json::find(*m, "volumes"); v && v->IsArray() && !v->Empty()) {
    std::printf("Volumes:\n");
    for (const auto& vol : v->GetArray()) {
      std::string ns = pr(json::get_string(vol, {"namespace"}));
      const json::Value* restored = json::find(vol, "dataRestored");
      std::string what;
      if (restored && restored->IsBool() && restored->GetBool()) {
        what = "data restored (" + pr(json::get_string(vol, {"dataPath"}));
        const json::Value* bytes = json::find(vol, "bytes");
        if (bytes && bytes->IsUint64() && json::get_string(vol, {"dataPath"}) != "snapshot")
          what += ", " + util::human_bytes(bytes->GetUint64());
        what += ")";
      } else {
        what = std::string(json::get_string(vol, {"outcome"}) == "failed" ? "failed" : "without data") + " (" +
               pr(json::get_string(vol, {"reason"})) + ")";
      }
      std::printf("  %s %s%s: %s\n", pr(json::get_string(vol, {"kind"})).c_str(), ns.empty() ? "" : (ns + "/").c_str(),
                  pr(json::get_string(vol, {"name"})).c_str(), what.c_str());
    }
  }
  if (const json::Value* hk = json::find(*m, "hooks"); hk && hk->IsObject()) print_hooks(*hk, details);
  auto strings_of = [&](const json::Value* l, std::vector<std::string>& lines) {
    if (l && l->IsArray())
      for (const auto& s : l->GetArray())
        if (s.IsString()) lines.push_back(pr(std::string_view(s.GetString(), s.GetStringLength())));
  };
  for (const char* which : {"errors", "warnings"}) {
    const json::Value* w = json::find(results, which);
    if (!w || !w->IsObject()) continue;
    std::vector<std::string> lines;
    for (const char* k : {"velero", "cluster"}) strings_of(json::find(*w, k), lines);
    if (const json::Value* ns = json::find(*w, "namespaces"); ns && ns->IsObject())
      for (const auto& kv : ns->GetObject()) strings_of(&kv.value, lines);
    if (lines.empty()) continue;
    std::printf("%s:\n", which[0] == 'e' ? "Errors" : "Warnings");
    for (const auto& l : lines) std::printf("  %s\n", l.c_str());
  }
  if (list.IsObject()) {
    std::printf("Resource list:\n");
    for (const auto& kv : list.GetObject()) {
      std::printf("  %s:\n", key_of(kv.name).c_str());
      std::vector<std::string> lines;
      strings_of(&kv.value, lines);
      for (const auto& l : lines) std::printf("    - %s\n", l.c_str());
    }
  }
  return 0;
}

int run_logs(const GlobalOptions& g, const std::string& name) {
  const output::Format format = output_format(g, {output::Format::json});
  if (!archive::valid_backup_name(name)) throw Fatal(ExitCode::usage, "\"" + pr(name) + "\" is not a restore name");
  auto backend = open_storage(g);
  archive::RestorePaths p{name};
  compress::InflateLimits limits;
  limits.max_bytes = archive::k_max_log_bytes;
  limits.ratio_after = archive::k_bomb_ratio_after;
  auto reader = archive::open_gzip_object(*backend, p.logs(), "restore " + name + ": " + p.logs(), nullptr, limits);
  if (!reader) {
    if (reader.error().is(Errc::not_found))
      return fail(Error(Errc::not_found, "no logs for restore " + name + " in " + backend->display_url()));
    return fail(reader.error());
  }
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::Value lines(rapidjson::kArrayType);
  // Lines as they come (the log is from the location: made printable; -o json holds them, within the limit).
  auto r = archive::each_line(**reader, [&](std::string_view line) {
    if (format.structured()) {
      lines.PushBack(json::make_string(util::valid_utf8(line) ? std::string(line) : pr(line), a), a);
    } else {
      std::string out = util::printable(line, 0, util::Newlines::keep) + "\n";
      std::fwrite(out.data(), 1, out.size(), stdout);
    }
  });
  if (!r) {
    std::fflush(stdout);
    return fail(r.error());
  }
  if (format.structured()) {
    // {"name": ..., "lines": [...]}: one JSON document, one string per log line.
    d.AddMember("name", json::make_string(name, a), a);
    d.AddMember("lines", lines, a);
    output::print(d, format);
    return 0;
  }
  return 0;
}

}  // namespace

void register_restore(CLI::App& app, GlobalOptions& g, RunState& state) {
  CLI::App* restore = app.add_subcommand("restore", "Restore backups into a cluster and inspect past restores");
  document(restore,
           {"kbk restore create --from-backup nightly", "kbk restore create --from-backup nightly --preflight",
            "kbk restore list", "kbk restore describe nightly-20261126070000"});

  auto* create = restore->add_subcommand("create", "Restore a backup into the cluster (or a dry run, or a folder of manifests)");
  auto f = std::make_shared<CreateFlags>();
  create->add_option("NAME", f->name, "Name of the restore (default <backup>-<YYYYMMDDhhmmss>)");
  create->add_option("--from-backup", f->from_backup, "The backup to restore")->required()->type_name(value::k_backup);
  add_list_option(create, "--include-namespaces", f->include_namespaces,
                  "Namespaces to restore, as named in the backup (globs; default all)", value::k_namespaces);
  add_list_option(create, "--exclude-namespaces", f->exclude_namespaces, "Namespaces to leave out (globs)", value::k_namespaces);
  add_list_option(create, "--include-resources", f->include_resources,
                  "Resources to restore (any name kubectl accepts, globs)", value::k_resources);
  add_list_option(create, "--exclude-resources", f->exclude_resources, "Resources to leave out", value::k_resources);
  add_list_option(create, "--include-names", f->include_names,
                  "Only these objects: resource/namespace/name or resource/name (globs)", value::k_patterns);
  add_list_option(create, "--exclude-names", f->exclude_names,
                  "Leave these objects out: resource/namespace/name or resource/name", value::k_patterns);
  add_bool_option(create, "--include-cluster-resources", f->include_cluster_resources,
                  "Restore cluster-scoped resources: true (also bare), false; unset: only when all namespaces are");
  create->add_option("-l,--selector", f->selector, "Only objects whose backed-up labels match this selector")
      ->type_name(value::k_selector);
  create->add_option("--or-selector", f->or_selector, "Objects matching any of these selectors: \"a=b or c=d\"")
      ->type_name(value::k_selector);
  create->add_option("--namespace-mappings", f->namespace_mappings,
                     "Restore namespaces under new names, rewriting every reference: old:new,old2:new2")
      ->type_name(value::k_mappings);
  create->add_option("--existing-resource-policy", f->existing_policy,
                     "Objects that already exist: none (skip, say whether they differ), update (patch them), recreate (delete and create)")
      ->type_name("none|update|recreate")
      ->capture_default_str();
  create->add_flag("--restore-status", f->restore_status, "Also write each object's status (through the status subresource)");
  create->add_flag("--preserve-nodeports", f->preserve_nodeports, "Keep Services' nodePorts");
  create->add_flag("--no-restore-labels", f->no_restore_labels, "Do not add the kbk.io/backup-name and kbk.io/restore-name labels");
  CLI::Option* dry_run = create->add_option("--dry-run", f->dry_run,
                                             "client (also bare --dry-run): plan only, no cluster; server: every "
                                             "write sent with dryRun=All, nothing changes")
                            ->expected(0, 1)
                            ->type_name("client|server");
  create->add_option("--to-dir", f->to_dir,
                     "Write the final manifests to this empty or new folder (no cluster needed) instead of applying them")
      ->type_name(value::k_dir);
  create->add_option("--parallel", f->parallel,
                     "Items applied at once within one tier (an object whose create waits out a Retry-After or a "
                     "backoff does not hold one)")
      ->type_name(value::k_count)
      ->capture_default_str();
  create->add_option("--resource-modifiers", f->resource_modifiers,
                     "Resource-modifier file (Velero's version: v1, or kbk.io/v1); repeatable, applied in order")
      ->type_name(value::k_file);
  add_list_option(create, "--storage-class-mappings", f->storage_class_mappings,
                  "old:new storage classes (PVCs, PVs, StatefulSet templates)", value::k_mappings);
  add_list_option(create, "--ingress-class-mappings", f->ingress_class_mappings, "old:new ingress classes", value::k_mappings);
  add_list_option(create, "--image-mappings", f->image_mappings, "OLD=NEW image prefixes (registry/repository)", value::k_mappings);
  add_encryption_key_option(create, f->key_file, "Key file of an encrypted backup (also for --preflight, --to-dir, --dry-run)");
  add_app_flags(create, f->app, true);
  create->add_option("--app-modifiers", f->app_modifiers,
                     "Apply the applications' restore.modifiers: auto (unless restoring into the backup's source "
                     "cluster), always, never")
      ->capture_default_str()
      ->type_name("auto|always|never");
  add_volume_restore_flags(create, f->volumes);
  add_crossing_flags(create, f->crossing, false);
  create->add_flag("--preflight", f->preflight,
                   "Only report, per group/version/kind of the backup, whether the target serves it, kbk converts it "
                   "(to which version) or skips it (why), and whether this identity may write it all; exit 2 when "
                   "something would not restore. Offline with --to-dir or --dry-run=client: against the latest "
                   "Kubernetes APIs");
  add_bool_option(create, "--restore-volumes", f->restore_volumes,
                  "Velero's flag: false restores the resources only (as --no-volume-data); true (the default) "
                  "restores the volume data the backup holds");
  CLI::Option* wait_opt = create->add_option("--wait", f->wait,
                     "After the restore, wait until its Deployments are available, StatefulSets and DaemonSets ready "
                     "and Jobs complete, at most this long (bare --wait: 5m); exit 2 when they are not")
      ->expected(0, 1)
      ->default_str("5m")
      ->type_name(value::k_duration);
  create->add_option("--hooks", f->hooks_file,
                     "Hooks file (docs/hooks.md: kbk.io/v1 Hooks, or a Velero Restore's spec.hooks): init containers "
                     "added to restored pods and pod templates, exec hooks run in restored pods once their container "
                     "is running (or ready)")
      ->type_name(value::k_file);
  add_duration_option(create, "--crd-timeout", f->crd_timeout, "How long to wait for restored CRDs to be Established");
  add_duration_option(create, "--namespace-timeout", f->namespace_timeout, "How long to wait for a Terminating namespace to go");
  document(create,
           {"kbk restore create --from-backup nightly",
            "# into another namespace, with a new storage class and a registry mirror",
            "kbk restore create --from-backup nightly --namespace-mappings shop:shop-staging \\",
            "    --storage-class-mappings old-ssd:standard --image-mappings docker.io/library=mirror.local/library",
            "# what would happen, without changing anything",
            "kbk restore create --from-backup nightly --preflight",
            "kbk restore create --from-backup nightly --dry-run=server",
            "kbk restore create --from-backup nightly --to-dir ./review",
            "# one application out of a whole-cluster backup (kbk app, docs/format-application.md)",
            "kbk restore create --from-backup full --app examples/apps/wordpress.yaml",
            "# wait until the restored workloads are ready; undo the restore",
            "kbk restore create r1 --from-backup nightly --existing-resource-policy update --wait=10m",
            "kbk restore rollback r1",
            "# volume data into a namespace that enforces restricted Pod Security (root movers run elsewhere)",
            "kbk restore create --from-backup nightly --mover-namespace kbk-movers",
            "# the database's restore side: recovery in an init container, replication reset once it is ready",
            "kbk restore create --from-backup db --namespace-mappings shop:shop-copy --hooks examples/hooks/mysql-replica.yaml"},
           "Before anything is applied the identity's permissions are checked (create, get and patch on every type "
           "in every namespace the plan writes; delete too with --existing-resource-policy recreate): a read-only "
           "identity gets one line and exit status 4. Volume data the backup holds is written into the restored "
           "claims by helper pods before any workload is created (docs/volumes.md). Restore hooks (docs/hooks.md): "
           "Velero's init.hook.restore.velero.io and post.hook.restore.velero.io pod annotations are read without "
           "--hooks; init containers go into restored pods and the pod templates of restored workloads; exec hooks "
           "run once everything is restored, in pods that come back under their names (restored pods, StatefulSet "
           "pods), each waiting for its container; a hook with onError Fail that fails makes the restore "
           "PartiallyFailed (exit 2) and names the pod. -n selects nothing here: use --include-namespaces.");
  set_runner(create, state, [&g, f, dry_run, wait_opt] {
    f->dry_run_given = dry_run->count() > 0;  // a bare --dry-run has no value: never mistake it for a real restore
    if (wait_opt->count() > 0 && f->wait.empty()) f->wait = "5m";
    return run_create(g, *f);
  });

  auto* list = restore->add_subcommand("list", "List the restores recorded in the storage location (all, or the ones named)");
  list->alias("get");
  auto list_names = std::make_shared<std::vector<std::string>>();
  list->add_option("NAMES", *list_names, "Only these restores (a missing one exits 4)")->type_name("RESTORE");
  document(list, {"kbk restore list", "kbk restore get nightly-20261126070000 -o yaml",
                  "kbk restore list -o jsonpath='{range .items[*]}{.name}{\"\\t\"}{.phase}{\"\\n\"}{end}'"},
           "restore get is restore list (Velero's name). -o json prints {\"kind\": \"RestoreList\", \"items\": [...]}, "
           "each item the restore's record as restore describe -o json shows it.");
  set_runner(list, state, [&g, list_names] { return run_list(g, *list_names); });

  auto* describe = restore->add_subcommand("describe", "Show what a restore was asked to do and its outcome");
  auto describe_name = std::make_shared<std::string>();
  auto details = std::make_shared<bool>(false);
  describe->add_option("NAME", *describe_name, "Restore name")->required()->type_name("RESTORE");
  describe->add_flag("--details", *details, "Also list every restored object");
  document(describe, {"kbk restore describe nightly-20261126070000", "kbk restore describe nightly-20261126070000 --details -o json"},
           "Shows the request (backup, selection, namespace/storage-class/ingress-class/image mappings, resource "
           "modifier files with their SHA-256, existing-resource policy, target cluster and its kube-system UID), "
           "then the counts, reasons, volumes restored without data, errors and warnings.");
  set_runner(describe, state, [&g, describe_name, details] { return run_describe(g, *describe_name, *details); });

  auto* logs = restore->add_subcommand("logs", "Print a restore's log from the storage location");
  auto logs_name = std::make_shared<std::string>();
  logs->add_option("NAME", *logs_name, "Restore name")->required()->type_name("RESTORE");
  document(logs, {"kbk restore logs nightly-20261126070000", "kbk restore logs nightly-20261126070000 | grep ERROR"},
           "Each line carries an RFC 3339 timestamp and a level (ERROR, WARN, INFO), then one line per item.");
  set_runner(logs, state, [&g, logs_name] { return run_logs(g, *logs_name); });

  auto* rb = restore->add_subcommand("rollback", "Undo a restore: delete what it created, put back what it updated");
  auto rf = std::make_shared<RollbackFlags>();
  rb->add_option("NAME", rf->name, "Restore name")->required()->type_name("RESTORE");
  rb->add_flag("--dry-run", rf->dry_run, "Only say what would be deleted and put back");
  rb->add_flag("--force", rf->force, "Also delete or put back objects changed since the restore");
  add_encryption_key_option(rb, rf->key_file, "Key file of the restored backup (its rollback record is encrypted)");
  add_duration_option(rb, "--delete-timeout", rf->delete_timeout,
                      "How long to wait for a recreated object to go before the old one is created again");
  document(rb,
           {"kbk restore rollback nightly-20261126070000 --dry-run",
            "kbk restore rollback nightly-20261126070000",
            "kbk restore rollback nightly-20261126070000 --force -o json"},
           "Reads the rollback record the restore wrote (docs/format-archive.md section 6.1) and, in reverse apply "
           "order, deletes each object the restore created and puts each object it updated or recreated back as it "
           "was before; only where the object is still the one the restore left (same uid, and the same "
           "resourceVersion or no change in the fields the restore set). Anything changed since is reported "
           "(changed-since, gone) and left alone unless --force. Running it again changes nothing (already-gone, "
           "already-as-before). Writes restores/NAME/kbk-rollback.json unless --dry-run.",
           "2 when an object was left alone or failed; 4 when the restore or its rollback record does not exist");
  set_runner(rb, state, [&g, rf] { return run_rollback(g, *rf); });

  // kbk auth can-i-restore lives beside restore create: it plans the same way.
  CLI::App* auth = app.get_subcommand("auth");
  auto* can = auth->add_subcommand("can-i-restore",
                                   "List the resource types (and namespaces) the current identity cannot create, get or patch");
  auto cf = std::make_shared<CanIRestoreFlags>();
  can->add_option("--from-backup", cf->from_backup,
                  "Check exactly what restoring this backup writes (its plan after selection and mappings)")
      ->type_name(value::k_backup);
  can->add_option("--namespace-mappings", cf->namespace_mappings, "As restore create: old:new,old2:new2")
      ->type_name(value::k_mappings);
  add_list_option(can, "--include-namespaces", cf->include_namespaces, "As restore create", value::k_namespaces);
  add_list_option(can, "--exclude-namespaces", cf->exclude_namespaces, "As restore create", value::k_namespaces);
  add_list_option(can, "--include-resources", cf->include_resources, "As restore create", value::k_resources);
  add_list_option(can, "--exclude-resources", cf->exclude_resources, "As restore create", value::k_resources);
  can->add_option("--existing-resource-policy", cf->existing_policy, "recreate also needs delete")
      ->type_name("none|update|recreate")
      ->capture_default_str();
  add_encryption_key_option(can, cf->key_file, "Key file of an encrypted backup (with --from-backup)");
  document(can,
           {"kbk auth can-i-restore", "kbk auth can-i-restore -n shop",
            "kbk auth can-i-restore --from-backup nightly --namespace-mappings shop:shop-staging -o json"},
           "Checks create, get and patch (delete too for --existing-resource-policy recreate) with one "
           "SelfSubjectRulesReview per namespace and SelfSubjectAccessReviews for cluster-scoped types. Without "
           "--from-backup: every type kbk restores, across the cluster (or in the namespace of -n). restore create "
           "and restore create --preflight run the same check on their plan. Exit 0 when everything is writable, "
           "4 when not.");
  set_runner(can, state, [&g, cf] { return run_can_i_restore(g, *cf); });
}

}  // namespace kbk::cli
