// The migration's phases (migrate.hpp).
#include <kbk/migrate/migrate.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <set>

#include <kbk/archive/location.hpp>
#include <kbk/backup/backup.hpp>
#include <kbk/kube/access.hpp>
#include <kbk/kube/discovery.hpp>
#include <kbk/restore/applier.hpp>
#include <kbk/restore/hooks.hpp>
#include <kbk/restore/plan.hpp>
#include <kbk/restore/preflight.hpp>
#include <kbk/restore/transforms.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

namespace kbk::migrate {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void add(json::Value& obj, std::string_view key, std::string_view value, json::Allocator& a) {
  json::set(obj, key, json::make_string(value, a), a);
}

json::Value strings(const std::vector<std::string>& v, json::Allocator& a) {
  json::Value arr(rapidjson::kArrayType);
  for (const std::string& s : v) arr.PushBack(json::make_string(s, a), a);
  return arr;
}

class Run {
public:
  Run(Cluster& source, Cluster& target, storage::Backend& backend, const Options& o)
      : m_src(source), m_dst(target), m_backend(backend), m_o(o) {
    m_r.name = o.name;
    m_r.mode = o.mode;
    m_r.source_server = source.server;
    m_r.target_server = target.server;
  }

  Result<Report> run() {
    const bool rehearse = m_o.mode == Mode::rehearse;
    const bool shutdown = !rehearse && m_o.shutdown_source == ShutdownSource::yes;
    m_r.backup = m_o.name;
    m_r.restore = rehearse ? m_o.name + "-rehearsal" : m_o.name;
    const std::string first_backup = shutdown ? m_o.name + "-pre" : m_o.name;
    // Names taken: refuse before anything is written.
    for (const std::string& b : {first_backup, m_o.name}) {
      auto st = m_backend.stat(archive::BackupPaths{b}.marker());
      if (st && *st) return unexpected(Errc::precondition, "backup " + b + " already exists in " + m_backend.display_url());
    }
    if (auto st = m_backend.stat(archive::RestorePaths{m_r.restore}.marker()); st && *st)
      return unexpected(Errc::precondition, "restore " + m_r.restore + " already exists in " + m_backend.display_url());
    KBK_ASSIGN_OR_RETURN(m_src_discovery, kube::Discovery::fetch(*m_src.client));
    KBK_ASSIGN_OR_RETURN(m_dst_discovery, kube::Discovery::fetch(*m_dst.client));
    m_types = restore::make_discovery_resolver(*m_dst.client);

    // 1. backup (the copy taken before anything changes)
    if (!phase("backup", [&] { return take_backup(first_backup); })) return finish("Failed");
    // 2. preflight against B
    if (!phase("preflight", [&] { return preflight(first_backup); })) return finish(m_r.blockers.empty() ? "Failed" : "Blocked");
    // 3. shutdown + the last backup
    if (shutdown) {
      if (!phase("shutdown", [&] { return shut_down_source(); })) return fail_and_recover("shutting down the source failed");
      if (!phase("backup", [&] { return take_backup(m_o.name); })) return fail_and_recover("the backup after the shutdown failed");
    }
    // 4. restore into B
    if (!phase("restore", [&] { return restore(); })) return fail_and_recover(m_r.failure);
    // 5. wait
    if (!phase("wait", [&] { return wait(); })) return fail_and_recover(m_r.failure);
    // 6. verify
    if (!phase("verify", [&] { return verify(); })) return fail_and_recover(m_r.failure);
    if (rehearse) {
      roll_back_target();
      return finish(m_r.rolled_back && m_r.rolled_back->phase() == "Completed" ? "Rehearsed" : "Failed");
    }
    return finish("Succeeded");
  }

private:
  // Runs one phase, timing it; false when it failed (its message says why).
  template <class F>
  bool phase(const std::string& name, F&& f) {
    const auto start = Clock::now();
    log::info(1, "migrate " + m_o.name + ": " + name);
    std::string why = f();
    m_r.phases.push_back(PhaseReport{name, why.empty() ? "ok" : "failed", since(start), why});
    if (!why.empty()) {
      if (m_r.failure.empty()) m_r.failure = name + ": " + why;
      log::error("migrate " + m_o.name + ": " + name + ": " + why);
    }
    return why.empty();
  }

  Result<Report> finish(const std::string& phase) {
    m_r.phase = phase;
    return std::move(m_r);
  }

  // After the restore may have written to B (or the source was shut down): B rolled back, A brought back up.
  Result<Report> fail_and_recover(const std::string& why) {
    if (m_r.failure.empty()) m_r.failure = why;
    bool clean = true;
    if (m_r.restored) {
      roll_back_target();
      clean = m_r.rolled_back && m_r.rolled_back->phase() == "Completed";
    }
    if (!m_workloads.empty() && !m_r.shutdown.empty()) {
      const auto start = Clock::now();
      m_r.brought_up = bring_up(*m_src.client, m_workloads);
      std::vector<std::string> bad;
      for (const SourceItem& i : m_r.brought_up)
        if (!i.ok) bad.push_back(i.item + ": " + i.message);
      m_r.phases.push_back(PhaseReport{"bring-up", bad.empty() ? "ok" : "failed", since(start), util::join(bad, "; ")});
      clean = clean && bad.empty();
    }
    return finish(clean ? "RolledBack" : "Failed");
  }

  void roll_back_target() {
    const auto start = Clock::now();
    restore::RollbackOptions ro;
    auto entries = restore::rollback_entries(*m_r.restored);
    m_r.rolled_back = restore::rollback(*m_dst.client, *m_types, m_r.restore, entries, ro);
    std::vector<std::string> bad;
    for (const restore::RollbackItem& i : m_r.rolled_back->items)
      if (i.failed() || i.left_alone()) bad.push_back(i.outcome + " " + i.item + ": " + i.message);
    m_r.phases.push_back(PhaseReport{"rollback", bad.empty() ? "ok" : "failed", since(start), util::join(bad, "; ")});
    if (auto up = restore::upload_rollback_report(m_backend, *m_r.rolled_back); !up)
      log::warning("restore " + m_r.restore + ": rollback outcome not written: " + up.error().message);
  }

  std::string take_backup(const std::string& name) {
    backup::Options bo = m_o.backup;
    bo.name = name;
    // NAME-pre, the copy taken before a shutdown, is the resources only; the data moves in NAME, once A is quiet.
    bo.volume_data = m_o.volume_data && name == m_o.name;
    backup::RunContext ctx;
    ctx.server = m_src.server;
    ctx.cluster_name = m_src.cluster_name;
    ctx.encryption_key = m_o.encryption_key;
    auto s = backup::run(*m_src.client, m_src_discovery, m_backend, bo, ctx);
    if (!s) return s.error().message;
    if (s->phase != "Completed")
      return "backup " + name + " " + s->phase + (s->error_lines.empty() ? "" : ": " + s->error_lines.front());
    return "";
  }

  // The restore's plan options for backup `name` (transforms included; the volume data's after the user's).
  restore::PlanOptions plan_options(const std::string& backup_name, restore::VolumeData* volumes = nullptr) {
    restore::PlanOptions po;
    po.backup_name = backup_name;
    po.restore_name = m_r.restore;
    po.namespace_mappings = m_mappings;
    restore::TargetApis target = restore::TargetApis::from_discovery(m_dst_discovery);
    m_routes_served = !target.versions_of("route.openshift.io", "Route").empty();
    po.transforms.push_back(restore::make_custom_resource_version_transform(target));
    po.transforms.push_back(restore::make_conversion_transform(target.served()));
    po.transforms.push_back(make_shutdown_undo_transform());
    for (const auto& t : m_o.transforms) po.transforms.push_back(t);
    if (volumes) volumes->attach(po);
    m_rewrites = restore::add_crossing_transforms(po, m_o.crossing, m_routes_served);
    kube::Client* c = m_dst.client;
    po.pv_exists = [c](const std::string& pv_name) {
      kube::ResourceType pv;
      pv.version = "v1";
      pv.resource = "persistentvolumes";
      pv.kind = "PersistentVolume";
      return c->get(pv, "", pv_name).ok();
    };
    return po;
  }

  std::string preflight(const std::string& backup_name) {
    auto loaded = restore::load_backup(m_backend, backup_name, {}, m_o.encryption_key);
    if (!loaded) return loaded.error().message;
    m_workloads = workloads_in(*loaded);
    // Namespace mappings: the user's, and for a rehearsal every namespace of the backup under its suffix.
    m_mappings = m_o.namespace_mappings;
    if (m_o.mode == Mode::rehearse) {
      std::set<std::string> namespaces;
      for (const restore::BackupItem& it : loaded->items) {
        if (!it.key.namespace_.empty()) namespaces.insert(it.key.namespace_);
        if (it.key.group_resource() == "namespaces") namespaces.insert(it.key.name);
      }
      for (const std::string& ns : namespaces) {
        auto f = m_o.namespace_mappings.find(ns);
        m_mappings[ns] = (f == m_o.namespace_mappings.end() ? ns : f->second) + m_o.rehearsal_suffix;
      }
    }
    restore::PlanOptions po = plan_options(backup_name);
    auto plan = restore::make_plan(*loaded, po);
    if (!plan) return plan.error().message;
    // API versions: restore's preflight over the same plan options.
    restore::SourceApis source;
    if (!loaded->marker.is_null()) source = restore::SourceApis::from_manifest(loaded->marker.parse());
    {
      auto again = restore::load_backup(m_backend, backup_name, {}, m_o.encryption_key);
      if (!again) return again.error().message;
      auto report = restore::preflight(*again, po, restore::TargetApis::from_discovery(m_dst_discovery),
                                       "cluster " + m_dst.server, source);
      if (!report) return report.error().message;
      for (const restore::PreflightLine& l : report->lines) {
        if (l.result == restore::PreflightResult::no_match)
          m_r.blockers.push_back(l.api_version() + " " + l.kind + ": no matching API in the target (" +
                                 std::to_string(l.items) + " item(s)): " + l.reason);
        if (l.result == restore::PreflightResult::converted) {
          std::string line = l.api_version() + " " + l.kind + ": converted to " + l.to;
          m_r.preflight_notes.push_back(line);
          for (const std::string& n : l.notes) m_r.preflight_notes.push_back("    " + n);
        }
      }
    }
    // Permissions on B.
    auto access = kube::check_write_access(*m_dst.client, restore::write_targets(*plan), restore::write_verbs(m_o.existing));
    if (!access) return "checking permissions on the target: " + access.error().message;
    if (!access->writable()) m_r.blockers.push_back(access->summary());
    // Name clashes and storage classes.
    std::set<std::string> classes;
    size_t clashes = 0;
    for (const restore::PlannedItem& p : plan->items) {
      if (p.skip) continue;
      json::Document obj = p.object.parse();
      if (p.group.empty() && p.resource == "persistentvolumeclaims") {
        std::string sc = json::get_string(obj, {"spec", "storageClassName"});
        if (!sc.empty()) classes.insert(sc);
      }
      if (p.group == "apps" && p.resource == "statefulsets")
        if (const json::Value* t = json::at(obj, {"spec", "volumeClaimTemplates"}); t && t->IsArray())
          for (const auto& c : t->GetArray())
            if (std::string sc = json::get_string(c, {"spec", "storageClassName"}); !sc.empty()) classes.insert(sc);
      if (m_o.existing != restore::ExistingPolicy::none || p.synthesized ||
          p.action == restore::ItemAction::merge_service_account)
        continue;
      auto rt = m_types->find(p.group, p.version, p.resource);
      if (!rt) continue;  // a CRD the restore creates first
      // An object already there as the restore would write it is fine (the restore skips it as identical); one
      // that differs would be left as it is, so B would not hold what was asked.
      auto live = m_dst.client->get(*rt, p.namespaced ? p.target_namespace : "", p.target_name);
      if (!live) continue;
      auto diffs = restore::differences(*live, obj);
      if (!diffs.empty() && ++clashes <= 20)
        m_r.blockers.push_back(p.display() + " already exists in the target and differs in " + util::join(diffs, ", ") +
                               " (--existing-resource-policy update or recreate to overwrite it)");
    }
    if (clashes > 20) m_r.blockers.push_back("... and " + std::to_string(clashes - 20) + " more objects already in the target");
    for (const std::string& sc : classes) {
      kube::ResourceType st;
      st.group = "storage.k8s.io";
      st.version = "v1";
      st.resource = "storageclasses";
      st.kind = "StorageClass";
      auto live = m_dst.client->get(st, "", sc);
      if (!live && live.error().is(Errc::not_found))
        m_r.blockers.push_back("StorageClass " + sc + " does not exist in the target (--storage-class-mappings " + sc + ":NEW)");
    }
    if (!m_r.blockers.empty())
      return std::to_string(m_r.blockers.size()) + " blocker(s): " + m_r.blockers.front() +
             (m_r.blockers.size() > 1 ? " (and more)" : "");
    return "";
  }

  std::string shut_down_source() {
    m_r.shutdown = shut_down(*m_src.client, m_workloads, m_o.shutdown_timeout);
    for (const SourceItem& i : m_r.shutdown)
      if (!i.ok) return i.item + ": " + i.message;
    return "";
  }

  std::string restore() {
    std::shared_ptr<restore::VolumeData> volumes;
    if (m_o.volume_data) {
      restore::VolumeDataOptions vo;
      vo.restore_name = m_r.restore;
      vo.settings = m_o.restore_volumes;
      vo.storage_class_mappings = m_o.storage_class_mappings;
      auto vd = restore::load_volume_data(m_backend, m_o.name, m_o.encryption_key, std::move(vo));
      if (!vd) return "volume data of backup " + m_o.name + ": " + vd.error().message;
      volumes = std::move(*vd);
    }
    restore::PlanOptions po = plan_options(m_o.name, volumes.get());
    // Velero's restore hooks in the backed-up pods' annotations run in B as restore create runs them
    // (docs/hooks.md section 6): their transform first, so the other transforms see the init containers.
    restore::RestoreHooks restore_hooks(nullptr, m_mappings);
    po.transforms.insert(po.transforms.begin(), restore_hooks.transform());
    restore::ClusterApplierOptions co;
    co.existing = m_o.existing;
    std::unique_ptr<restore::Applier> applier = restore::make_cluster_applier(*m_dst.client, *m_types, co);
    restore::RunOptions ro;
    ro.parallel = m_o.parallel;
    ro.encryption_key = m_o.encryption_key;
    ro.hooks = &restore_hooks;
    ro.hooks_client = m_dst.client;
    if (volumes) {  // claims filled from the repository before any workload of B starts
      auto wrapped = volumes->wrap(std::move(applier), *m_dst.client, m_backend, m_o.encryption_key, nullptr);
      if (!wrapped) return "volume data: " + wrapped.error().message;
      applier = std::move(*wrapped);
      ro.after_planning = [&volumes] { return volumes->prepare(); };
    }
    auto report = restore::restore_backup(m_backend, po, *applier, ro);
    if (report && volumes) report->volumes = volumes->results();
    if (!report) return report.error().message;
    report->name = m_r.restore;
    report->backup = m_o.name;
    report->request.namespace_mappings = m_mappings;
    report->request.existing_resource_policy = restore::existing_policy_name(m_o.existing);
    report->request.target_server = m_dst.server;
    if (m_rewrites)
      for (const std::string& u : m_rewrites->unmatched())
        report->warnings.push_back(u + ": the restore holds no such object (nothing set)");
    std::string log_text = "kbk migrate " + m_o.name + (m_o.mode == Mode::rehearse ? " --rehearse" : "") + "\n";
    if (auto up = restore::upload_report(m_backend, *report, log_text, m_o.encryption_key); !up)
      log::warning("restore " + m_r.restore + ": results not written: " + up.error().message);
    m_r.restored = std::move(*report);
    const restore::RestoreReport& r = *m_r.restored;
    if (r.count(restore::Outcome::failed) > 0) {
      std::vector<std::string> failed;
      for (const restore::ItemReport& i : r.items)
        if (i.result.outcome == restore::Outcome::failed && failed.size() < 3)
          failed.push_back(i.resource + "/" + (i.target_namespace.empty() ? "" : i.target_namespace + "/") + i.target_name +
                           ": " + i.result.reason + (i.result.message.empty() ? "" : ": " + i.result.message));
      m_r.failure = "restore: " + std::to_string(r.count(restore::Outcome::failed)) + " item(s) failed: " + util::join(failed, "; ");
      return std::to_string(r.count(restore::Outcome::failed)) + " item(s) failed: " + util::join(failed, "; ");
    }
    if (r.hook_failed()) {  // a restore hook with onError Fail: B is not as the application needs it
      std::string first;
      for (const auto& p : r.hooks)
        for (const auto& h : p.hooks)
          if (first.empty() && h.outcome == "failed" && h.on_error == "Fail") first = hooks::describe(p.pod, h);
      m_r.failure = "restore hook: " + first;
      return m_r.failure;
    }
    return "";
  }

  std::string wait() {
    restore::WaitOptions wo;
    wo.timeout = m_o.wait_timeout;
    m_r.waited = restore::wait_ready(*m_dst.client, restore::workloads_of(*m_r.restored), wo);
    if (!m_r.waited->ready()) return m_r.waited->summary();
    return "";
  }

  // diff --live semantics on what the restore wrote: every object read back from B holds every field it set.
  std::string verify() {
    for (const restore::RollbackEntry& e : restore::rollback_entries(*m_r.restored)) {
      auto rt = m_types->find(e.group, e.version, e.resource);
      if (!rt) {
        m_r.verify_problems.push_back(e.display() + ": its type is not served");
        continue;
      }
      auto live = m_dst.client->get(*rt, e.namespaced ? e.namespace_ : "", e.name);
      if (!live) {
        m_r.verify_problems.push_back(e.display() + ": " + live.error().message);
        continue;
      }
      if (!e.applied.IsObject()) continue;
      auto diffs = restore::differences(*live, e.applied);
      if (!diffs.empty()) m_r.verify_problems.push_back(e.display() + " differs in " + util::join(diffs, ", "));
    }
    for (const restore::ItemReport& i : m_r.restored->items)
      if (i.result.reason == "exists-differs")
        m_r.verify_problems.push_back(i.resource + "/" + i.target_namespace + "/" + i.target_name +
                                      ": exists in the target and differs (" + i.result.message + ")");
    if (m_r.verify_problems.empty()) return "";
    return std::to_string(m_r.verify_problems.size()) + " object(s) differ from what was restored: " + m_r.verify_problems.front();
  }

  Cluster& m_src;
  Cluster& m_dst;
  storage::Backend& m_backend;
  const Options& m_o;
  Report m_r;
  kube::Discovery m_src_discovery, m_dst_discovery;
  std::unique_ptr<restore::TypeResolver> m_types;
  restore::NamespaceMap m_mappings;
  std::vector<Workload> m_workloads;
  bool m_routes_served = false;
  std::shared_ptr<restore::ValueRewriteTransform> m_rewrites;
};

}  // namespace

ExitCode Report::exit_code() const {
  if (phase == "Succeeded" || phase == "Rehearsed") return ExitCode::ok;
  if (phase == "Blocked") return ExitCode::precondition;
  if (phase == "RolledBack") return ExitCode::failed;
  return ExitCode::partial;
}

Result<Report> run(Cluster& source, Cluster& target, storage::Backend& backend, const Options& options) {
  Run r(source, target, backend, options);
  return r.run();
}

json::Document to_json(const Report& r) {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  add(d, "apiVersion", archive::k_kbk_api_version, a);
  add(d, "kind", "Migration", a);
  add(d, "name", r.name, a);
  add(d, "mode", r.mode == Mode::rehearse ? "rehearse" : "migrate", a);
  add(d, "phase", r.phase, a);
  add(d, "failure", r.failure, a);
  json::Value src(rapidjson::kObjectType), dst(rapidjson::kObjectType);
  add(src, "server", r.source_server, a);
  add(dst, "server", r.target_server, a);
  json::set(d, "source", std::move(src), a);
  json::set(d, "target", std::move(dst), a);
  add(d, "backup", r.backup, a);
  add(d, "restore", r.restore, a);
  json::Value phases(rapidjson::kArrayType);
  double total = 0;
  for (const PhaseReport& p : r.phases) {
    json::Value e(rapidjson::kObjectType);
    add(e, "name", p.name, a);
    add(e, "status", p.status, a);
    json::set(e, "durationSeconds", json::Value(util::round_seconds(p.seconds)), a);
    add(e, "message", p.message, a);
    phases.PushBack(std::move(e), a);
    total += p.seconds;
  }
  json::set(d, "phases", std::move(phases), a);
  json::set(d, "durationSeconds", json::Value(util::round_seconds(total)), a);
  json::set(d, "blockers", strings(r.blockers, a), a);
  json::set(d, "conversions", strings(r.preflight_notes, a), a);
  for (auto [key, list] : {std::pair{"shutdown", &r.shutdown}, std::pair{"broughtUp", &r.brought_up}}) {
    json::Value arr(rapidjson::kArrayType);
    for (const SourceItem& i : *list) {
      json::Value e(rapidjson::kObjectType);
      add(e, "item", i.item, a);
      add(e, "action", i.action, a);
      add(e, "message", i.message, a);
      json::set(e, "ok", json::Value(i.ok), a);
      arr.PushBack(std::move(e), a);
    }
    json::set(d, key, std::move(arr), a);
  }
  if (r.restored) {
    json::Document rd = restore::report_to_json(*r.restored, true);
    json::set(d, "restoreReport", json::copy(rd, a), a);
  }
  if (r.waited) {
    json::Document w = restore::wait_to_json(*r.waited);
    json::set(d, "wait", json::copy(w, a), a);
  }
  json::Value verify(rapidjson::kObjectType);
  json::set(verify, "ok", json::Value(r.restored && r.verify_problems.empty()), a);
  json::set(verify, "problems", strings(r.verify_problems, a), a);
  json::set(d, "verify", std::move(verify), a);
  if (r.rolled_back) {
    json::Document rb = restore::rollback_to_json(*r.rolled_back);
    json::set(d, "rollback", json::copy(rb, a), a);
  }
  return d;
}

std::string to_text(const Report& r) {
  std::string out = "Migration " + r.name + (r.mode == Mode::rehearse ? " (rehearsal)" : "") + ": " + r.phase + "\n";
  out += "  Source: " + r.source_server + "\n  Target: " + r.target_server + "\n";
  if (!r.failure.empty()) out += "  Failure: " + util::printable(r.failure, 1000) + "\n";
  out += "Phases:\n";
  for (const PhaseReport& p : r.phases) {
    char line[160];
    std::snprintf(line, sizeof line, "  %-10s %-7s %8.1fs", p.name.c_str(), p.status.c_str(), p.seconds);
    out += line;
    if (!p.message.empty()) out += "  " + util::printable(p.message, 500);
    out += "\n";
  }
  if (!r.blockers.empty()) {
    out += "Blockers:\n";
    for (const std::string& b : r.blockers) out += "  " + util::printable(b, 500) + "\n";
  }
  if (!r.preflight_notes.empty()) {
    out += "Conversions:\n";
    for (const std::string& n : r.preflight_notes) out += "  " + util::printable(n, 500) + "\n";
  }
  if (!r.shutdown.empty()) {
    out += "Source shut down:\n";
    for (const SourceItem& i : r.shutdown) out += "  " + i.item + ": " + i.action + "\n";
  }
  if (!r.brought_up.empty()) {
    out += "Source brought back up:\n";
    for (const SourceItem& i : r.brought_up) out += "  " + i.item + ": " + i.action + (i.ok ? "" : " (" + i.message + ")") + "\n";
  }
  if (r.restored) {
    const auto& x = *r.restored;
    out += "Restore " + x.name + ": " + std::to_string(x.count(restore::Outcome::created)) + " created, " +
           std::to_string(x.count(restore::Outcome::updated)) + " updated, " +
           std::to_string(x.count(restore::Outcome::skipped)) + " skipped, " +
           std::to_string(x.count(restore::Outcome::failed)) + " failed\n";
  }
  if (r.waited) out += "Wait: " + r.waited->summary() + "\n";
  if (!r.verify_problems.empty()) {
    out += "Verify:\n";
    for (const std::string& p : r.verify_problems) out += "  " + util::printable(p, 500) + "\n";
  } else if (r.restored && r.phases.size() && r.phases.back().name != "restore") {
    out += "Verify: every object the restore wrote holds what it set\n";
  }
  if (r.rolled_back) {
    size_t undone = 0;
    for (const auto& i : r.rolled_back->items)
      if (!i.failed() && !i.left_alone()) ++undone;
    out += "Rollback of " + r.restore + ": " + r.rolled_back->phase() + " (" + std::to_string(undone) + " of " +
           std::to_string(r.rolled_back->items.size()) + " undone)\n";
  }
  return out;
}

}  // namespace kbk::migrate
