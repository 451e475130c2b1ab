// Restore hooks (hooks.hpp, docs/hooks.md section 6).
#include <kbk/restore/hooks.hpp>

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

#include <kbk/restore/backup.hpp>
#include <kbk/restore/engine.hpp>
#include <kbk/restore/mapping.hpp>
#include <kbk/restore/plan.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::restore {

namespace {

// A backed-up pod with exec hooks.
struct ExecTarget {
  std::string source_ns, name, target_ns;
  std::string owner_kind;  // the kind of its controller ("" when none)
  std::vector<hooks::RestoreExec> exec;
};

// The init hooks an item got: a pod's, or a workload template's.
struct InitAdded {
  std::string group, resource, source_ns, name;  // the item
  std::string kind;
  hooks::PodRecord record;                         // pod: target ns/name; phase "init", outcome "added"
};

bool is_workload(const std::string& kind) {
  return kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" || kind == "ReplicaSet" ||
         kind == "ReplicationController" || kind == "Job" || kind == "CronJob";
}

json::Value* pod_template(json::Document& obj, const std::string& kind) {
  if (kind == "CronJob") return json::at(obj, {"spec", "jobTemplate", "spec", "template"});
  return json::at(obj, {"spec", "template"});
}

std::string controller_kind(const json::Value& pod) {
  const json::Value* owners = json::at(pod, {"metadata", "ownerReferences"});
  if (!owners || !owners->IsArray()) return "";
  for (const auto& o : owners->GetArray()) {
    const json::Value* c = json::find(o, "controller");
    if (c && c->IsBool() && c->GetBool()) return json::get_string(o, {"kind"});
  }
  return "";
}

std::vector<std::string> command_of(const json::Value& c) {
  std::vector<std::string> out;
  for (const char* k : {"command", "args"})
    if (const json::Value* v = json::find(c, k); v && v->IsArray())
      for (const auto& x : v->GetArray())
        if (x.IsString()) out.emplace_back(x.GetString(), x.GetStringLength());
  return out;
}

}  // namespace

struct RestoreHooks::Impl {
  std::shared_ptr<const hooks::HooksFile> file;
  NamespaceMap mappings;
  std::mutex mu;
  std::vector<ExecTarget> targets;
  std::vector<InitAdded> inits;

  // spec: a pod spec. Adds the hooks' init containers first (after a restore-wait container, as Velero); one whose
  // name the pod has already is left out (a backup of a pod restored before). Returns the records.
  std::vector<hooks::HookRecord> add_init(json::Value& spec, const hooks::PodRestoreHooks& h, json::Allocator& a,
                                          const std::string& where, std::vector<std::string>* notes) {
    std::vector<hooks::HookRecord> recs;
    for (const auto& p : h.problems) {
      hooks::HookRecord r;
      r.phase = "init";
      r.name = "annotation";
      r.outcome = "failed";
      r.on_error = "Fail";
      r.started = hooks::timestamp_ms();
      r.message = p + ": no init container added";
      recs.push_back(std::move(r));
    }
    if (h.init_containers.empty()) return recs;
    json::Value* existing = json::find(spec, "initContainers");
    json::Value list(rapidjson::kArrayType);
    size_t first = 0;
    if (existing && existing->IsArray() && !existing->Empty() &&
        json::get_string((*existing)[0], {"name"}) == "restore-wait") {
      list.PushBack(json::copy((*existing)[0], a), a);
      first = 1;
    }
    auto has = [&](const std::string& name) {
      if (existing && existing->IsArray())
        for (const auto& c : existing->GetArray())
          if (json::get_string(c, {"name"}) == name) return true;
      for (const auto& c : list.GetArray())
        if (json::get_string(c, {"name"}) == name) return true;
      return false;
    };
    for (const auto& init : h.init_containers) {
      hooks::HookRecord r;
      r.phase = "init";
      r.name = init.name;
      r.container = json::get_string(init.container, {"name"});
      r.command = command_of(init.container);
      r.on_error = "Fail";
      r.started = hooks::timestamp_ms();
      if (has(r.container)) {
        r.outcome = "skipped";
        r.message = "the pod has an init container " + r.container + " already";
      } else {
        list.PushBack(json::copy(init.container, a), a);
        r.outcome = "added";
        r.message = "added to " + where;
        if (notes) notes->push_back("init container " + r.container + " added by a restore hook (" + init.name + ")");
      }
      recs.push_back(std::move(r));
    }
    if (existing && existing->IsArray())
      for (size_t i = first; i < existing->Size(); ++i) list.PushBack(json::copy((*existing)[i], a), a);
    json::set(spec, "initContainers", std::move(list), a);
    return recs;
  }
};

namespace {

class HooksTransform final : public Transform {
public:
  explicit HooksTransform(std::shared_ptr<RestoreHooks::Impl> impl) : m(std::move(impl)) {}
  std::string name() const override { return "restore-hooks"; }

  void prepare(const LoadedBackup& backup) override {
    const bool file_exec = m->file && std::any_of(m->file->restore.begin(), m->file->restore.end(),
                                                  [](const hooks::RestoreEntry& e) { return !e.exec.empty(); });
    std::vector<ExecTarget> targets;
    for (const auto& it : backup.items) {
      if (!it.key.group.empty() || it.key.resource != "pods") continue;
      if (!file_exec && it.object.text().find("post.hook.restore.velero.io/") == std::string::npos) continue;
      json::Document pod = it.object.parse();
      const std::string target_ns = mapped_namespace(m->mappings, it.key.namespace_);
      hooks::PodRestoreHooks h = hooks::restore_hooks_for(pod, it.key.namespace_, target_ns, m->file.get());
      if (h.exec.empty()) continue;
      targets.push_back({it.key.namespace_, it.key.name, target_ns, controller_kind(pod), std::move(h.exec)});
    }
    std::lock_guard l(m->mu);
    m->targets = std::move(targets);
    m->inits.clear();
  }

  Result<TransformOutcome> apply(const TransformContext& ctx, json::Document& obj) override {
    TransformOutcome out;
    const bool pod = ctx.group.empty() && ctx.resource == "pods";
    if (!pod && !is_workload(ctx.kind)) return out;
    if (!m->file && json::to_string(obj).find("init.hook.restore.velero.io/") == std::string::npos) return out;
    json::Value* spec = nullptr;
    json::Document as_pod;  // a workload's template seen as a pod: its labels and annotations, the workload's name
    std::string where;
    if (pod) {
      spec = json::find(obj, "spec");
      where = "the pod's initContainers";
    } else {
      json::Value* tmpl = pod_template(obj, ctx.kind);
      if (!tmpl || !tmpl->IsObject()) return out;
      spec = json::find(*tmpl, "spec");
      as_pod.SetObject();
      auto& a = as_pod.GetAllocator();
      json::Value md(rapidjson::kObjectType);
      if (const json::Value* tm = json::find(*tmpl, "metadata"); tm && tm->IsObject()) md.CopyFrom(*tm, a);
      json::set(md, "name", json::make_string(ctx.name, a), a);
      json::set(as_pod, "metadata", std::move(md), a);
      where = "the pod template of " + ctx.kind + " " + ctx.target_namespace + "/" + ctx.name +
              ": it runs whenever one of its pods starts";
    }
    if (!spec || !spec->IsObject()) return out;
    const json::Value& subject = pod ? static_cast<const json::Value&>(obj) : static_cast<const json::Value&>(as_pod);
    hooks::PodRestoreHooks h = hooks::restore_hooks_for(subject, ctx.original_namespace, ctx.target_namespace, m->file.get());
    if (h.init_containers.empty() && h.problems.empty()) return out;
    InitAdded added{ctx.group, ctx.resource, ctx.original_namespace, ctx.name, ctx.kind, {}};
    added.record.pod = ctx.target_namespace + "/" + ctx.name;
    added.record.hooks = m->add_init(*spec, h, obj.GetAllocator(), where, ctx.notes);
    out.changed = std::any_of(added.record.hooks.begin(), added.record.hooks.end(),
                              [](const hooks::HookRecord& r) { return r.outcome == "added"; });
    std::lock_guard l(m->mu);
    m->inits.push_back(std::move(added));
    return out;
  }

private:
  std::shared_ptr<RestoreHooks::Impl> m;
};

const ItemReport* find_item(const RestoreReport& report, const std::string& group, const std::string& resource,
                            const std::string& source_ns, const std::string& name) {
  for (const auto& i : report.items)
    if (i.group == group && i.resource == resource && i.source_namespace == source_ns && i.source_name == name) return &i;
  return nullptr;
}

bool restored(const ItemReport& i) { return i.result.outcome == Outcome::created || i.result.outcome == Outcome::updated; }

void skip_all(hooks::PodRecord& rec, const std::vector<hooks::RestoreExec>& exec, const std::string& why) {
  for (const auto& x : exec) {
    hooks::HookRecord r;
    r.phase = "exec";
    r.name = x.exec.name;
    r.container = x.exec.container;
    r.command = x.exec.command;
    r.on_error = hooks::on_error_name(x.exec.on_error);
    r.outcome = "skipped";
    r.message = why;
    rec.hooks.push_back(std::move(r));
  }
}

}  // namespace

RestoreHooks::RestoreHooks(std::shared_ptr<const hooks::HooksFile> file, NamespaceMap mappings)
    : m_impl(std::make_shared<Impl>()) {
  m_impl->file = std::move(file);
  m_impl->mappings = std::move(mappings);
}

RestoreHooks::~RestoreHooks() = default;

std::shared_ptr<Transform> RestoreHooks::transform() { return std::make_shared<HooksTransform>(m_impl); }

void RestoreHooks::run(kube::Client* client, RestoreReport& report, const RunOptions& options) {
  Impl& m = *m_impl;
  std::lock_guard l(m.mu);
  // pod (target ns/name) -> its record; init records first, exec hooks appended as they run.
  std::vector<hooks::PodRecord> records;
  std::map<std::string, size_t> by_pod;
  auto record_of = [&](const std::string& pod) -> hooks::PodRecord& {
    auto [it, fresh] = by_pod.emplace(pod, records.size());
    if (fresh) {
      records.emplace_back();
      records.back().pod = pod;
    }
    return records[it->second];
  };
  for (auto& init : m.inits) {
    const ItemReport* item = find_item(report, init.group, init.resource, init.source_ns, init.name);
    if (!item) continue;  // not in this restore's plan
    hooks::PodRecord& rec = record_of(init.record.pod + (init.kind == "Pod" ? "" : " (" + init.kind + ")"));
    for (auto h : init.record.hooks) {
      if (h.outcome == "added" && !restored(*item)) {
        h.outcome = "skipped";
        h.message = "the " + init.kind + " was not restored (" + item->result.reason + ")";
      }
      rec.hooks.push_back(std::move(h));
    }
  }
  struct Job {
    size_t record;
    const ExecTarget* target;
  };
  std::vector<Job> jobs;
  for (const auto& t : m.targets) {
    const ItemReport* item = find_item(report, "", "pods", t.source_ns, t.name);
    if (!item) continue;
    const std::string pod = t.target_ns + "/" + t.name;
    const size_t idx = [&] {
      (void)record_of(pod);
      return by_pod[pod];
    }();
    std::string skip;
    if (item->result.reason == reason::controller_owned) {
      if (t.owner_kind != "StatefulSet")
        skip = "the pod is recreated by its " + (t.owner_kind.empty() ? std::string("controller") : t.owner_kind) +
               " under a new name: exec hooks run in pods that come back under their names (restored pods, "
               "StatefulSet pods)";
    } else if (!restored(*item)) {
      skip = "the pod was not restored (" + item->result.reason + ")";
    }
    if (skip.empty() && !client) skip = "not run: nothing was restored into a cluster (" + report.mode + ")";
    if (!skip.empty()) {
      skip_all(records[idx], t.exec, skip);
      continue;
    }
    jobs.push_back({idx, &t});
  }
  if (!jobs.empty()) {
    log::info(1, "restore hooks: exec hooks of " + std::to_string(jobs.size()) + " pod(s), each waiting for its container");
    hooks::RestoreRunOptions ro;
    ro.poll_interval = options.poll_interval;
    ro.sleep = options.sleep;
    ro.log = [](const std::string& line) { log::record(log::Level::info, line); };
    // Pods in parallel (each may wait minutes for its container), at most `parallel` at once.
    const size_t width = std::max<size_t>(1, options.parallel);
    for (size_t start = 0; start < jobs.size(); start += width) {
      std::vector<std::thread> threads;
      for (size_t k = start; k < jobs.size() && k < start + width; ++k)
        threads.emplace_back([&, k] {
          const Job& j = jobs[k];
          hooks::run_restore_hooks(*client, j.target->target_ns, j.target->name, j.target->exec, records[j.record], ro);
        });
      for (auto& t : threads) t.join();
    }
  }
  for (const auto& r : records)
    for (const auto& h : r.hooks) {
      if (h.outcome != "failed") continue;
      const std::string line = hooks::describe(r.pod, h);
      if (h.on_error == "Fail") log::record(log::Level::error, line);
      else log::record(log::Level::warning, line);
    }
  report.hooks = std::move(records);
}

}  // namespace kbk::restore
