// kbk schedule print NAME --schedule CRON [backup flags]: the CronJob that runs that backup in the cluster, then a
// prune of this cluster's backups (docs/fleet.md, "Running in the cluster"). The command line that works on a
// laptop becomes an in-cluster schedule in one step; nothing is sent to the cluster.
#include <cstdio>

#include "commands.hpp"
#include "flags.hpp"
#include "help.hpp"
#include "selection_flags.hpp"
#include <kbk/output/output.hpp>
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
};

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

json::Value container(const std::string& name, const ScheduleFlags& f, const std::vector<std::string>& args,
                      const std::string& storage, json::Allocator& a) {
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
  c.AddMember("volumeMounts", json::Value(*mounts, a), a);
  return c;
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
  if (!s.apps.empty())
    throw Fatal(ExitCode::usage, "--app: the CronJob's pod has no application files; select with the flags, or mount "
                                 "the definitions and add --app to the printed args yourself");
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
      "securityContext":{"runAsNonRoot":true,"runAsUser":65532,"runAsGroup":65532,"seccompProfile":{"type":"RuntimeDefault"}},
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
  json::Value containers(rapidjson::kArrayType);
  if (prune) {
    json::Value init(rapidjson::kArrayType);
    init.PushBack(container("backup", f, backup_args, g.storage, a), a);
    pod.AddMember("initContainers", init, a);
    containers.PushBack(container("prune", f, prune_args, g.storage, a), a);
  } else {
    containers.PushBack(container("backup", f, backup_args, g.storage, a), a);
  }
  pod.AddMember("containers", containers, a);

  if (format.structured()) {
    output::print(d, format);
    return 0;
  }
  std::printf("# kbk schedule print %s: backup%s of cluster %s, \"%s\", as ServiceAccount %s/%s.\n", f.name.c_str(),
              prune ? " then prune" : "", cluster.c_str(), f.schedule.c_str(), ns.c_str(), f.service_account.c_str());
  std::printf("# Its permissions: kbk rbac --for backup [the same selection] -n %s --service-account %s\n", ns.c_str(),
              f.service_account.c_str());
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
  p->add_option("--keep-last", f->keep_last, "Then prune this cluster's backups: keep the N newest")->type_name("N");
  p->add_option("--keep-daily", f->keep_daily, "Prune: keep one per day for N days")->type_name("N");
  p->add_option("--keep-weekly", f->keep_weekly, "Prune: keep one per ISO week for N weeks")->type_name("N");
  p->add_option("--keep-monthly", f->keep_monthly, "Prune: keep one per month for N months")->type_name("N");
  p->add_option("--keep-within", f->keep_within, "Prune: keep everything within this span (7d, 1m)")->type_name("SPAN");
  document(p,
           {"kbk schedule print nightly --schedule '0 2 * * *' --include-namespaces shop,db --ttl 720h \\",
            "    --keep-daily 14 --storage s3://fleet-backups/prod --credentials-secret kbk-s3 | kubectl apply -f -",
            "kbk rbac --for backup --include-namespaces shop,db | kubectl apply -f -"},
           "Prints a batch/v1 CronJob in -n (default kbk): concurrencyPolicy Forbid, a non-root read-only pod "
           "(uid 65532) running backup create NAME- (the UTC time appended) with the selection given and "
           "--cluster-name (default the kubeconfig's cluster: in the pod there is no kubeconfig), then, with a "
           "--keep-* rule, kbk prune --cluster of this cluster's backups only once the backup succeeded. The "
           "location is the pod's KBK_STORAGE; credentials come from --credentials-secret or the ServiceAccount "
           "(IRSA, EKS Pod Identity, GKE Workload Identity). Nothing is sent to the cluster.");
  set_runner(p, state, [&g, f] { return run_print(g, *f); });
}

}  // namespace kbk::cli
