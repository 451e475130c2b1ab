// Readiness of restored workloads (wait.hpp).
#include <kbk/restore/wait.hpp>

#include <chrono>
#include <cmath>
#include <thread>

#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

namespace kbk::restore {
namespace {

int64_t int_at(const json::Value& v, std::initializer_list<std::string_view> path, int64_t def = 0) {
  const json::Value* x = json::at(v, path);
  return x && x->IsInt64() ? x->GetInt64() : def;
}

bool condition(const json::Value& live, std::string_view type, std::string* reason = nullptr) {
  const json::Value* conds = json::at(live, {"status", "conditions"});
  if (!conds || !conds->IsArray()) return false;
  for (const auto& c : conds->GetArray())
    if (json::get_string(c, {"type"}) == type && json::get_string(c, {"status"}) == "True") {
      if (reason) *reason = json::get_string(c, {"reason"});
      return true;
    }
  return false;
}

bool is_workload(const std::string& group, const std::string& resource) {
  if (group == "apps") return resource == "deployments" || resource == "statefulsets" || resource == "daemonsets";
  return group == "batch" && resource == "jobs";
}

ReadyState of(Readiness r, std::string m) { return ReadyState{r, std::move(m)}; }

}  // namespace

std::string WaitTarget::display() const {
  return (group.empty() ? resource : resource + "." + group) + "/" + (namespace_.empty() ? "" : namespace_ + "/") + name;
}

std::vector<WaitTarget> workloads_of(const RestoreReport& report) {
  std::vector<WaitTarget> out;
  for (const ItemReport& i : report.items) {
    if (i.result.outcome != Outcome::created && i.result.outcome != Outcome::updated) continue;
    if (!is_workload(i.group, i.resource)) continue;
    out.push_back(WaitTarget{i.group, i.version, i.resource, i.kind, i.target_namespace, i.target_name});
  }
  return out;
}

ReadyState readiness(const std::string& kind, const json::Value& live) {
  const int64_t generation = int_at(live, {"metadata", "generation"});
  const int64_t observed = int_at(live, {"status", "observedGeneration"}, -1);
  if (kind == "Job") {
    std::string reason;
    if (condition(live, "Complete")) return of(Readiness::ready, "complete");
    if (condition(live, "Failed", &reason)) return of(Readiness::failed, "failed" + (reason.empty() ? "" : ": " + reason));
    return of(Readiness::waiting, std::to_string(int_at(live, {"status", "succeeded"})) + " succeeded, " +
                                      std::to_string(int_at(live, {"status", "active"})) + " active");
  }
  if (observed < generation) return of(Readiness::waiting, "the controller has not seen generation " + std::to_string(generation));
  if (kind == "Deployment") {
    const int64_t want = int_at(live, {"spec", "replicas"}, 1);
    const int64_t updated = int_at(live, {"status", "updatedReplicas"});
    const int64_t available = int_at(live, {"status", "availableReplicas"});
    const int64_t total = int_at(live, {"status", "replicas"});
    std::string m = std::to_string(available) + " of " + std::to_string(want) + " available";
    if (want == 0 && total == 0) return of(Readiness::ready, "scaled to 0");
    if (updated >= want && available >= want && total == updated) return of(Readiness::ready, m);
    return of(Readiness::waiting, m);
  }
  if (kind == "StatefulSet") {
    const int64_t want = int_at(live, {"spec", "replicas"}, 1);
    const int64_t ready = int_at(live, {"status", "readyReplicas"});
    const std::string cur = json::get_string(live, {"status", "currentRevision"});
    const std::string upd = json::get_string(live, {"status", "updateRevision"});
    std::string m = std::to_string(ready) + " of " + std::to_string(want) + " ready";
    if (ready >= want && (upd.empty() || cur == upd)) return of(Readiness::ready, m);
    return of(Readiness::waiting, m);
  }
  if (kind == "DaemonSet") {
    const int64_t want = int_at(live, {"status", "desiredNumberScheduled"});
    const int64_t ready = int_at(live, {"status", "numberReady"});
    std::string m = std::to_string(ready) + " of " + std::to_string(want) + " ready";
    return of(ready >= want ? Readiness::ready : Readiness::waiting, m);
  }
  return of(Readiness::ready, "");
}

bool WaitReport::ready() const {
  for (const WaitItem& i : items)
    if (i.state != Readiness::ready) return false;
  return true;
}

std::string WaitReport::summary() const {
  std::vector<std::string> bad;
  for (const WaitItem& i : items)
    if (i.state != Readiness::ready) bad.push_back(i.item + " (" + i.message + ")");
  if (bad.empty()) return std::to_string(items.size()) + " workload(s) ready after " + util::human_duration(seconds);
  return std::to_string(bad.size()) + " of " + std::to_string(items.size()) + " workload(s) not ready after " +
         util::human_duration(seconds) + ": " + util::join(bad, ", ");
}

WaitReport wait_ready(kube::Client& client, const std::vector<WaitTarget>& targets, const WaitOptions& o) {
  std::function<void(double)> sleep = o.sleep;
  if (!sleep) sleep = [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
  const double poll = o.poll_interval > 0 ? o.poll_interval : 1;
  WaitReport report;
  report.timeout_seconds = o.timeout;
  for (const WaitTarget& t : targets) report.items.push_back(WaitItem{t.display(), Readiness::waiting, "not read yet"});
  const auto start = std::chrono::steady_clock::now();
  const int polls = std::max(1, static_cast<int>(std::ceil(o.timeout / poll)) + 1);
  for (int n = 0; n < polls; ++n) {
    bool done = true;
    for (size_t k = 0; k < targets.size(); ++k) {
      WaitItem& item = report.items[k];
      if (item.state != Readiness::waiting) continue;  // ready, or failed for good
      const WaitTarget& t = targets[k];
      kube::ResourceType rt;
      rt.group = t.group;
      rt.version = t.version;
      rt.resource = t.resource;
      rt.kind = t.kind;
      rt.namespaced = true;
      auto live = client.get(rt, t.namespace_, t.name);
      if (!live) {
        item.state = Readiness::waiting;
        item.message = live.error().is(Errc::not_found) ? "not found" : live.error().message;
        done = false;
        continue;
      }
      ReadyState s = readiness(t.kind, *live);
      item.state = s.state;
      item.message = s.message;
      if (s.state == Readiness::waiting) done = false;
    }
    if (done) break;
    if (n + 1 < polls) sleep(poll);
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

json::Document wait_to_json(const WaitReport& r) {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  json::set(d, "ready", json::Value(r.ready()), a);
  json::set(d, "timeoutSeconds", json::Value(r.timeout_seconds), a);
  json::set(d, "durationSeconds", json::Value(util::round_seconds(r.seconds)), a);
  json::Value items(rapidjson::kArrayType);
  for (const WaitItem& i : r.items) {
    json::Value e(rapidjson::kObjectType);
    json::set(e, "item", json::make_string(i.item, a), a);
    const char* s = i.state == Readiness::ready ? "ready" : i.state == Readiness::failed ? "failed" : "not-ready";
    json::set(e, "state", json::make_string(s, a), a);
    json::set(e, "message", json::make_string(i.message, a), a);
    items.PushBack(std::move(e), a);
  }
  json::set(d, "items", std::move(items), a);
  return d;
}

void add_wait(json::Value& obj, const WaitReport& r, json::Allocator& a) {
  json::Document w = wait_to_json(r);
  json::Value v;
  json::copy_into(v, w, a);
  json::set(obj, "wait", std::move(v), a);
}

}  // namespace kbk::restore
