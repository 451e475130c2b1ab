// kbk schedule print NAME --schedule CRON [backup flags]: the CronJob that runs that backup in the cluster, then a
// prune of this cluster's backups (docs/fleet.md, "Running in the cluster"). The command line that works on a
// laptop becomes an in-cluster schedule in one step; nothing is sent to the cluster.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "commands.hpp"
#include "flags.hpp"
#include "help.hpp"
#include "selection_flags.hpp"
#include <kbk/output/output.hpp>
#include <kbk/util/fs.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

namespace kbk::cli {
namespace {

struct ScheduleFlags {
  std::string name;
  std::string schedule;
  std::string image = std::string("kbk:") + KBK_VERSION;
  std::string service_account = "kbk";
  std::string cluster_name;
  std::string credentials_secret;
  SelectionFlags selection;
  double ttl = 0;
  std::string fail_on;
  std::vector<std::string> labels;
  bool include_events = false;
  std::string keep_last, keep_daily, keep_weekly, keep_monthly, keep_within;
  std::string time_zone;
  std::string encryption_key_secret;  // NAME[:KEY]
  std::string encryption_key_file;    // refused: the key never goes into the manifests
};

// Where the pod finds what the printed objects hold (docs/fleet.md, "A schedule").
constexpr const char* k_app_dir = "/etc/kbk/app";
constexpr const char* k_key_dir = "/etc/kbk/encryption";
// A ConfigMap holds at most 1 MiB (the API server refuses more).
constexpr size_t k_configmap_max = 1024 * 1024;

bool dns_label(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max || s.front() == '-' || s.back() == '-') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

// Five fields of characters cron takes (the API server checks the rest, as kubectl apply shows).
bool cron_like(const std::string& s) {
  if (!s.empty() && s.front() == '@') return s.size() > 1;
  auto fields = util::split(s, ' ');
  if (fields.size() != 5) return false;
  for (const auto& f : fields)
    for (char c : f)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '*' || c == '/' || c == ',' || c == '-' || c == '?'))
        return false;
  return true;
}

json::Value strs(const std::vector<std::string>& v, json::Allocator& a) {
  json::Value out(rapidjson::kArrayType);
  for (const auto& s : v) out.PushBack(json::make_string(s, a), a);
  return out;
}

// The flags a list flag was given with, one value per occurrence as kbk's list flags take them.
void list_args(std::vector<std::string>& args, const char* flag, const std::vector<std::string>& values) {
  for (const auto& v : values) {
    args.push_back(flag);
    args.push_back(v);
  }
}

// A volume the backup container mounts read-only: the applications' ConfigMap, the encryption key's Secret.
struct Mount {
  std::string name, path;
};

json::Value container(const std::string& name, const ScheduleFlags& f, const std::vector<std::string>& args,
                      const std::string& storage, const std::vector<Mount>& extra, json::Allocator& a) {
  json::Value c(rapidjson::kObjectType);
  c.AddMember("name", json::make_string(name, a), a);
  c.AddMember("image", json::make_string(f.image, a), a);
  c.AddMember("args", strs(args, a), a);
  json::Value env(rapidjson::kArrayType);
  auto add_env = [&](const char* n, const std::string& v) {
    json::Value e(rapidjson::kObjectType);
    e.AddMember("name", rapidjson::StringRef(n), a);
    e.AddMember("value", json::make_string(v, a), a);
    env.PushBack(e, a);
  };
  add_env("KBK_STORAGE", storage);
  add_env("HOME", "/tmp");
  c.AddMember("env", env, a);
  if (!f.credentials_secret.empty()) {
    // AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_REGION, AWS_ENDPOINT_URL) from a Secret: never in args.
    json::Value from(rapidjson::kArrayType), ref(rapidjson::kObjectType), sec(rapidjson::kObjectType);
    sec.AddMember("name", json::make_string(f.credentials_secret, a), a);
    ref.AddMember("secretRef", sec, a);
    from.PushBack(ref, a);
    c.AddMember("envFrom", from, a);
  }
  // Sized from scripts/bench: a resource backup holds one LIST page per worker and streams the archive.
  auto parsed = json::parse(R"({"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"memory":"512Mi"}})");
  c.AddMember("resources", json::Value(*parsed, a), a);
  auto sc = json::parse(R"({"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"runAsNonRoot":true,
                            "capabilities":{"drop":["ALL"]}})");
  c.AddMember("securityContext", json::Value(*sc, a), a);
  auto mounts = json::parse(R"([{"name":"tmp","mountPath":"/tmp"}])");
  json::Value m(*mounts, a);
  for (const Mount& x : extra) {
    json::Value v(rapidjson::kObjectType);
    v.AddMember("name", json::make_string(x.name, a), a);
    v.AddMember("mountPath", json::make_string(x.path, a), a);
    v.AddMember("readOnly", true, a);
    m.PushBack(v, a);
  }
  c.AddMember("volumeMounts", m, a);
  return c;
}

// The files --app read (the definitions, their includes, the volume policy file), laid out in the pod as they lie
// on this machine below their deepest common folder, so relative includes and policy paths resolve the same way.
struct AppFiles {
  std::filesystem::path root;                          // the common folder here; k_app_dir in the pod
  std::vector<std::pair<std::string, std::string>> files;  // path below root -> content
  std::vector<std::string> app_args;                   // --app ... --app-path ..., pod paths
};

std::filesystem::path absolute_path(const std::string& p) {
  std::error_code ec;
  std::filesystem::path a = std::filesystem::weakly_canonical(std::filesystem::absolute(p), ec);
  return ec ? std::filesystem::absolute(p).lexically_normal() : a;
}

// Whether `p` lies in folder `dir` (or is it).
bool within(const std::filesystem::path& p, const std::filesystem::path& dir) {
  auto r = p.lexically_relative(dir);
  return !r.empty() && *r.begin() != "..";
}

AppFiles app_files(const app::Application& apps, const SelectionFlags& s) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (const std::string& f : apps.files) files.push_back(absolute_path(f));
  if (apps.volume_policy && !apps.volume_policy->file.empty()) files.push_back(absolute_path(apps.volume_policy->file));
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  std::vector<fs::path> given;  // the --app paths (files or folders)
  for (const std::string& p : split_list(s.apps)) given.push_back(absolute_path(p));
  AppFiles out;
  out.root = files.empty() ? fs::path("/") : files.front().parent_path();
  auto widen = [&](const fs::path& p) {
    while (!within(p, out.root) && out.root.has_relative_path()) out.root = out.root.parent_path();
  };
  for (const fs::path& f : files) widen(f);
  for (const fs::path& g : given) widen(g);
  size_t total = 0;
  for (const fs::path& f : files) {
    auto text = util::read_file(f.string(), util::k_max_input_file);
    if (!text) throw Fatal(ExitCode::usage, "--app: " + text.error().message);
    total += text->size();
    out.files.emplace_back(f.lexically_relative(out.root).generic_string(), std::move(*text));
  }
  if (total > k_configmap_max - 4096)
    throw Fatal(ExitCode::usage, "--app: the definitions and their files take " + std::to_string(total) +
                                 " bytes, more than a ConfigMap holds (1 MiB)");
  auto in_pod = [&](const fs::path& p) {
    const std::string rel = p.lexically_relative(out.root).generic_string();
    return rel == "." || rel.empty() ? std::string(k_app_dir) : std::string(k_app_dir) + "/" + rel;
  };
  for (const fs::path& g : given) out.app_args.insert(out.app_args.end(), {"--app", in_pod(g)});
  // Folders searched for includes by name: those that hold a file read (the others hold nothing the pod needs).
  for (const std::string& d : split_list(s.app_path)) {
    const fs::path dir = absolute_path(d);
    if (std::any_of(files.begin(), files.end(), [&](const fs::path& f) { return within(f, dir); }))
      out.app_args.insert(out.app_args.end(), {"--app-path", in_pod(dir)});
  }
  return out;
}

// The ConfigMap the pod mounts at k_app_dir: one key per file (ConfigMap keys take no '/'), placed back at its path
// by the volume's items.
json::Value app_configmap(const std::string& name, const std::string& ns, const json::Value& labels,
                          const AppFiles& files, json::Value& volume_items, json::Allocator& a) {
  json::Value cm(rapidjson::kObjectType), meta(rapidjson::kObjectType), data(rapidjson::kObjectType);
  cm.AddMember("apiVersion", "v1", a);
  cm.AddMember("kind", "ConfigMap", a);
  meta.AddMember("name", json::make_string(name, a), a);
  meta.AddMember("namespace", json::make_string(ns, a), a);
  meta.AddMember("labels", json::Value(labels, a), a);
  cm.AddMember("metadata", meta, a);
  for (size_t i = 0; i < files.files.size(); ++i) {
    const auto& [path, text] = files.files[i];
    std::string base = std::filesystem::path(path).filename().string();
    for (char& c : base)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) c = '_';
    const std::string key = std::to_string(i) + "-" + base;
    data.AddMember(json::make_string(key, a), json::make_string(text, a), a);
    json::Value item(rapidjson::kObjectType);
    item.AddMember("key", json::make_string(key, a), a);
    item.AddMember("path", json::make_string(path, a), a);
    volume_items.PushBack(item, a);
  }
  cm.AddMember("data", data, a);
  return cm;
}

int run_print(const GlobalOptions& g, const ScheduleFlags& f) {
  const output::Format format = output_format(g, {output::Format::json});
  if (!dns_label(f.name, 52))
    throw Fatal(ExitCode::usage, "schedule name " + f.name + ": lower-case letters, digits and '-', at most 52 "
                                 "characters (a CronJob's name; its Jobs add 11)");
  if (!cron_like(f.schedule))
    throw Fatal(ExitCode::usage, "--schedule \"" + f.schedule + "\": expected five cron fields (\"0 2 * * *\") or "
                                 "@daily, @hourly, ...");
  if (g.storage.empty())
    throw Fatal(ExitCode::usage, "no storage location: pass --storage URL (the CronJob's KBK_STORAGE)");
  if (!dns_label(f.service_account, 63)) throw Fatal(ExitCode::usage, "--service-account " + f.service_account + ": not a name");
  const std::string ns = g.kube.namespace_.empty() ? "kbk" : g.kube.namespace_;
  if (!dns_label(ns, 63)) throw Fatal(ExitCode::usage, "-n " + ns + ": not a namespace name");
  if (!f.fail_on.empty() && f.fail_on != "partial" && f.fail_on != "warning")
    throw Fatal(ExitCode::usage, "--fail-on " + f.fail_on + ": expected partial or warning");
  std::string cluster = f.cluster_name;
  if (cluster.empty()) {
    // The kubeconfig's cluster, as backup create records it on a laptop; in the pod there is no kubeconfig.
    try {
      cluster = load_rest_config(g).cluster_name;
    } catch (const Fatal&) {
    }
    if (cluster.empty())
      throw Fatal(ExitCode::usage, "--cluster-name: no kubeconfig cluster to name the backups after; pass "
                                   "--cluster-name NAME (in the pod there is no kubeconfig)");
  }
  // The backup's own flags, checked here as backup create checks them.
  backup::Options probe;
  apply_selection(g, f.selection, DashN::other, probe);
  if (auto v = backup::validate(probe); !v) throw Fatal(ExitCode::usage, v.error().message);

  std::vector<std::string> backup_args{"backup", "create", f.name + "-", "--cluster-name", cluster};
  const SelectionFlags& s = f.selection;
  list_args(backup_args, "--include-namespaces", s.include_namespaces);
  list_args(backup_args, "--exclude-namespaces", s.exclude_namespaces);
  list_args(backup_args, "--include-resources", s.include_resources);
  list_args(backup_args, "--exclude-resources", s.exclude_resources);
  if (!s.include_cluster_resources.empty()) backup_args.push_back("--include-cluster-resources=" + s.include_cluster_resources);
  list_args(backup_args, "--include-cluster-scoped-resources", s.include_cluster_scoped);
  list_args(backup_args, "--exclude-cluster-scoped-resources", s.exclude_cluster_scoped);
  list_args(backup_args, "--include-namespace-scoped-resources", s.include_namespace_scoped);
  list_args(backup_args, "--exclude-namespace-scoped-resources", s.exclude_namespace_scoped);
  if (!s.selector.empty()) backup_args.insert(backup_args.end(), {"--selector", s.selector});
  if (!s.or_selector.empty()) backup_args.insert(backup_args.end(), {"--or-selector", s.or_selector});
  list_args(backup_args, "--include-names", s.include_names);
  list_args(backup_args, "--exclude-names", s.exclude_names);
  if (!s.with_related.empty()) backup_args.push_back("--with-related=" + s.with_related);
  std::optional<AppFiles> apps;
  if (!s.apps.empty()) {
    apps = app_files(*probe.applications, s);  // apply_selection loaded and checked them
    backup_args.insert(backup_args.end(), apps->app_args.begin(), apps->app_args.end());
  }
  // The key file comes from a Secret mounted read-only: never the key itself in the printed objects or the args.
  if (!f.encryption_key_file.empty())
    throw Fatal(ExitCode::usage, "--encryption-key-file: the key does not go into the printed manifests; put it in a "
                                 "Secret (kubectl create secret generic kbk-key -n " + ns + " --from-file=key=" +
                                 f.encryption_key_file + ") and pass --encryption-key-secret kbk-key");
  std::string key_secret, key_name = "key";
  if (!f.encryption_key_secret.empty()) {
    const auto colon = f.encryption_key_secret.find(':');
    key_secret = f.encryption_key_secret.substr(0, colon);
    if (colon != std::string::npos) key_name = f.encryption_key_secret.substr(colon + 1);
    const bool key_ok = !key_name.empty() && key_name.size() <= 253 &&
                        std::all_of(key_name.begin(), key_name.end(), [](char c) {
                          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
                        }) && key_name != "." && key_name != "..";
    if (!dns_label(key_secret, 253) || !key_ok)
      throw Fatal(ExitCode::usage, "--encryption-key-secret " + f.encryption_key_secret +
                                   ": expected a Secret's name, optionally :KEY (default key)");
    backup_args.insert(backup_args.end(), {"--encryption-key-file", std::string(k_key_dir) + "/" + key_name});
  }
  if (f.include_events) backup_args.push_back("--include-events");
  if (f.ttl > 0) backup_args.insert(backup_args.end(), {"--ttl", util::format_duration(f.ttl)});
  if (!f.fail_on.empty()) backup_args.insert(backup_args.end(), {"--fail-on", f.fail_on});
  list_args(backup_args, "--labels", f.labels);
  backup_args.insert(backup_args.end(), {"--labels", "kbk.io/schedule=" + f.name});

  std::vector<std::string> prune_args{"prune", "--cluster", cluster};
  bool prune = false;
  for (auto [flag, v] : {std::pair<const char*, const std::string*>{"--keep-last", &f.keep_last},
                         {"--keep-daily", &f.keep_daily}, {"--keep-weekly", &f.keep_weekly},
                         {"--keep-monthly", &f.keep_monthly}, {"--keep-within", &f.keep_within}})
    if (!v->empty()) {
      prune_args.insert(prune_args.end(), {flag, *v});
      prune = true;
    }

  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  auto doc = json::parse(R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{},"spec":{
      "concurrencyPolicy":"Forbid","startingDeadlineSeconds":3600,"successfulJobsHistoryLimit":3,
      "failedJobsHistoryLimit":3,"jobTemplate":{"spec":{"backoffLimit":2,"template":{"metadata":{},"spec":{
      "restartPolicy":"Never","automountServiceAccountToken":true,
      "securityContext":{"runAsNonRoot":true,"runAsUser":65532,"runAsGroup":65532,"fsGroup":65532,"seccompProfile":{"type":"RuntimeDefault"}},
      "volumes":[{"name":"tmp","emptyDir":{}}]}}}}}})");
  d.CopyFrom(*doc, a);
  json::Value& meta = d["metadata"];
  meta.AddMember("name", json::make_string(f.name, a), a);
  meta.AddMember("namespace", json::make_string(ns, a), a);
  auto labels = json::parse(R"({"app.kubernetes.io/name":"kbk","app.kubernetes.io/component":"backup"})");
  meta.AddMember("labels", json::Value(*labels, a), a);
  json::Value& spec = d["spec"];
  spec.AddMember("schedule", json::make_string(f.schedule, a), a);
  if (!f.time_zone.empty()) spec.AddMember("timeZone", json::make_string(f.time_zone, a), a);
  json::Value& tmpl = spec["jobTemplate"]["spec"]["template"];
  tmpl["metadata"].AddMember("labels", json::Value(*labels, a), a);
  json::Value& pod = tmpl["spec"];
  pod.AddMember("serviceAccountName", json::make_string(f.service_account, a), a);
  // The backup first; the prune only once it succeeded (an init container that fails fails the pod).
  std::vector<Mount> backup_mounts;
  json::Document configmap;
  if (apps) {
    json::Value items(rapidjson::kArrayType);
    configmap.CopyFrom(app_configmap(f.name + "-app", ns, *labels, *apps, items, configmap.GetAllocator()),
                       configmap.GetAllocator());
    json::Value vol(rapidjson::kObjectType), src(rapidjson::kObjectType);
    vol.AddMember("name", "app", a);
    src.AddMember("name", json::make_string(f.name + "-app", a), a);
    src.AddMember("items", json::Value(items, a), a);
    vol.AddMember("configMap", src, a);
    pod["volumes"].PushBack(vol, a);
    backup_mounts.push_back({"app", k_app_dir});
  }
  if (!key_secret.empty()) {
    // Readable by the pod's group only (fsGroup 65532), as kbk writes its own files 0600.
    json::Value vol(rapidjson::kObjectType), src(rapidjson::kObjectType), items(rapidjson::kArrayType),
        item(rapidjson::kObjectType);
    vol.AddMember("name", "encryption-key", a);
    src.AddMember("secretName", json::make_string(key_secret, a), a);
    item.AddMember("key", json::make_string(key_name, a), a);
    item.AddMember("path", json::make_string(key_name, a), a);
    items.PushBack(item, a);
    src.AddMember("items", items, a);
    src.AddMember("defaultMode", 0440, a);
    vol.AddMember("secret", src, a);
    pod["volumes"].PushBack(vol, a);
    backup_mounts.push_back({"encryption-key", k_key_dir});
  }
  json::Value containers(rapidjson::kArrayType);
  if (prune) {
    json::Value init(rapidjson::kArrayType);
    init.PushBack(container("backup", f, backup_args, g.storage, backup_mounts, a), a);
    pod.AddMember("initContainers", init, a);
    containers.PushBack(container("prune", f, prune_args, g.storage, {}, a), a);
  } else {
    containers.PushBack(container("backup", f, backup_args, g.storage, backup_mounts, a), a);
  }
  pod.AddMember("containers", containers, a);

  if (format.structured()) {
    if (!apps) {
      output::print(d, format);
      return 0;
    }
    // Two objects: a v1 List, as kbk rbac prints them.
    json::Document list(rapidjson::kObjectType);
    auto& la = list.GetAllocator();
    list.AddMember("apiVersion", "v1", la);
    list.AddMember("kind", "List", la);
    json::Value items(rapidjson::kArrayType);
    items.PushBack(json::Value(configmap, la), la);
    items.PushBack(json::Value(d, la), la);
    list.AddMember("items", items, la);
    output::print(list, format);
    return 0;
  }
  std::printf("# kbk schedule print %s: backup%s of cluster %s, \"%s\", as ServiceAccount %s/%s.\n", f.name.c_str(),
              prune ? " then prune" : "", cluster.c_str(), f.schedule.c_str(), ns.c_str(), f.service_account.c_str());
  std::printf("# Its permissions: kbk rbac --for backup [the same selection] -n %s --service-account %s\n", ns.c_str(),
              f.service_account.c_str());
  if (!key_secret.empty())
    std::printf("# The encryption key: Secret %s/%s, key %s (kubectl create secret generic %s -n %s "
                "--from-file=%s=FILE)\n", ns.c_str(), key_secret.c_str(), key_name.c_str(), key_secret.c_str(), ns.c_str(),
                key_name.c_str());
  if (apps) std::printf("---\n%s", json::to_yaml(configmap).c_str());
  std::printf("---\n%s", json::to_yaml(d).c_str());
  return 0;
}

}  // namespace

void register_schedule(CLI::App& app, GlobalOptions& g, RunState& state) {
  CLI::App* cmd = app.add_subcommand("schedule", "Run backups in the cluster on a schedule (Kubernetes CronJobs)");
  document(cmd, {"kbk schedule print nightly --schedule '0 2 * * *' --include-namespaces shop --storage s3://b/fleet"});
  auto f = std::make_shared<ScheduleFlags>();
  CLI::App* p = cmd->add_subcommand("print", "Print the CronJob that runs this backup (and a prune) in the cluster");
  p->add_option("NAME", f->name, "The CronJob's name, and the prefix of its backups' names (NAME-YYYYMMDDhhmmss)")
      ->required()
      ->type_name(value::k_name);
  p->add_option("--schedule", f->schedule, "When, in cron syntax (\"0 2 * * *\") or @daily")->required()->type_name("CRON");
  p->add_option("--time-zone", f->time_zone, "The schedule's time zone (CronJob spec.timeZone), e.g. Europe/Berlin")
      ->type_name(value::k_name);
  add_selection_flags(p, f->selection, SelectionKind::backup);
  p->add_flag("--include-events", f->include_events, "The backups include events");
  add_duration_option(p, "--ttl", f->ttl, "How long each backup is kept (backup create --ttl)");
  p->add_option("--fail-on", f->fail_on, "backup create --fail-on: partial or warning")->type_name("partial|warning");
  add_list_option(p, "--labels", f->labels, "Labels of each backup: KEY=VALUE (kbk.io/schedule=NAME is added)",
                  value::k_key_value);
  p->add_option("--cluster-name", f->cluster_name, "The name the backups record (default the kubeconfig's cluster)")
      ->type_name(value::k_name);
  p->add_option("--image", f->image, "The kbk image (examples/deploy/Dockerfile builds one)")
      ->type_name("IMAGE")
      ->capture_default_str();
  p->add_option("--service-account", f->service_account, "The ServiceAccount the pod runs as (in -n, default kbk)")
      ->type_name(value::k_name)
      ->capture_default_str();
  p->add_option("--credentials-secret", f->credentials_secret,
                "A Secret whose keys become the pod's environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...)")
      ->type_name(value::k_name);
  p->add_option("--encryption-key-secret", f->encryption_key_secret,
                "Encrypt the backups with the key file in this Secret (NAME or NAME:KEY, default key key), mounted "
                "read-only in the pod")
      ->type_name("SECRET[:KEY]");
  // Not add_encryption_key_option: KBK_ENCRYPTION_KEY_FILE set for other commands must not make this one refuse.
  p->add_option("--encryption-key-file", f->encryption_key_file,
                "Refused: the key never goes into the printed manifests (use --encryption-key-secret)")
      ->type_name(value::k_file);
  p->add_option("--keep-last", f->keep_last, "Then prune this cluster's backups: keep the N newest")->type_name("N");
  p->add_option("--keep-daily", f->keep_daily, "Prune: keep one per day for N days")->type_name("N");
  p->add_option("--keep-weekly", f->keep_weekly, "Prune: keep one per ISO week for N weeks")->type_name("N");
  p->add_option("--keep-monthly", f->keep_monthly, "Prune: keep one per month for N months")->type_name("N");
  p->add_option("--keep-within", f->keep_within, "Prune: keep everything within this span (7d, 1m)")->type_name("SPAN");
  document(p,
           {"kbk schedule print nightly --schedule '0 2 * * *' --include-namespaces shop,db --ttl 720h \\",
            "    --keep-daily 14 --storage s3://fleet-backups/prod --credentials-secret kbk-s3 | kubectl apply -f -",
            "kbk rbac --for backup --include-namespaces shop,db | kubectl apply -f -",
            "# an application, encrypted: its definitions in a ConfigMap, the key from a Secret, both mounted",
            "kubectl create secret generic kbk-key -n kbk --from-file=key=backup.key",
            "kbk schedule print blog --schedule @daily --app blog.yaml --encryption-key-secret kbk-key \\",
            "    --storage s3://fleet-backups/prod | kubectl apply -f -"},
           "Prints a batch/v1 CronJob in -n (default kbk): concurrencyPolicy Forbid, a non-root read-only pod "
           "(uid 65532) running backup create NAME- (the UTC time appended) with the selection given and "
           "--cluster-name (default the kubeconfig's cluster: in the pod there is no kubeconfig), then, with a "
           "--keep-* rule, kbk prune --cluster of this cluster's backups only once the backup succeeded. The "
           "location is the pod's KBK_STORAGE; credentials come from --credentials-secret or the ServiceAccount "
           "(IRSA, EKS Pod Identity, GKE Workload Identity). --app also prints a ConfigMap NAME-app of the "
           "definitions' files, mounted read-only at /etc/kbk/app (-o json: a v1 List of both); "
           "--encryption-key-secret mounts the key file from a Secret at /etc/kbk/encryption. Nothing is sent to "
           "the cluster.");
  set_runner(p, state, [&g, f] { return run_print(g, *f); });
}

}  // namespace kbk::cli
