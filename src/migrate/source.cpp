// The source's workloads: shutting them down before the last backup and bringing them back (migrate.hpp).
#include <kbk/migrate/migrate.hpp>

#include <chrono>
#include <cstdlib>
#include <thread>

#include <kbk/util/strings.hpp>

namespace kbk::migrate {
namespace {

kube::ResourceType type_of(const Workload& w) {
  kube::ResourceType rt;
  rt.group = w.group;
  rt.version = w.version;
  rt.resource = w.resource;
  rt.kind = w.kind;
  rt.namespaced = true;
  return rt;
}

bool is_cronjob(const Workload& w) { return w.resource == "cronjobs"; }

std::string annotation(const json::Value& obj, const char* key) {
  return json::get_string(obj, {"metadata", "annotations", key});
}

int64_t replicas_of(const json::Value& obj) {
  const json::Value* r = json::at(obj, {"spec", "replicas"});
  return r && r->IsInt64() ? r->GetInt64() : 1;
}

std::string merge_patch(const char* ann_key, const std::string* ann_value, const std::string& spec_member,
                        const json::Value& spec_value) {
  json::Document p;
  p.SetObject();
  auto& a = p.GetAllocator();
  json::Value anns(rapidjson::kObjectType);
  json::set(anns, ann_key, ann_value ? json::make_string(*ann_value, a) : json::Value(), a);
  json::Value md(rapidjson::kObjectType);
  json::set(md, "annotations", std::move(anns), a);
  json::set(p, "metadata", std::move(md), a);
  json::Value spec(rapidjson::kObjectType);
  json::Value v;
  json::copy_into(v, spec_value, a);
  json::set(spec, spec_member, std::move(v), a);
  json::set(p, "spec", std::move(spec), a);
  return json::to_string(p);
}

}  // namespace

std::string Workload::display() const {
  return (group.empty() ? resource : resource + "." + group) + "/" + namespace_ + "/" + name;
}

std::vector<Workload> workloads_in(const restore::LoadedBackup& backup) {
  std::vector<Workload> out;
  for (const restore::BackupItem& it : backup.items) {
    const std::string gr = it.key.group_resource();
    const bool scalable = gr == "deployments.apps" || gr == "statefulsets.apps" || gr == "replicationcontrollers" ||
                          gr == "replicasets.apps" || gr == "cronjobs.batch";
    if (!scalable || it.key.namespace_.empty()) continue;
    if (gr == "replicasets.apps") {
      // A Deployment's ReplicaSets follow their Deployment.
      json::Document obj = it.object.parse();
      const json::Value* owners = json::at(obj, {"metadata", "ownerReferences"});
      if (owners && owners->IsArray() && !owners->Empty()) continue;
    }
    out.push_back(Workload{it.key.group, it.key.version, it.key.resource, it.kind, it.key.namespace_, it.key.name});
  }
  return out;
}

std::vector<SourceItem> shut_down(kube::Client& client, const std::vector<Workload>& workloads, double timeout) {
  std::vector<SourceItem> out;
  kube::WriteOptions w;
  for (const Workload& wl : workloads) {
    SourceItem item{wl.display(), "", "", true};
    const kube::ResourceType rt = type_of(wl);
    auto live = client.get(rt, wl.namespace_, wl.name);
    if (!live) {
      item.action = live.error().is(Errc::not_found) ? "gone" : "failed";
      item.ok = live.error().is(Errc::not_found);
      item.message = live.error().message;
      out.push_back(std::move(item));
      continue;
    }
    json::Document value;
    std::string recorded;
    const char* key = is_cronjob(wl) ? k_suspend_annotation : k_replicas_annotation;
    if (is_cronjob(wl)) {
      const json::Value* s = json::at(*live, {"spec", "suspend"});
      const bool suspended = s && s->IsBool() && s->GetBool();
      recorded = annotation(*live, key).empty() ? (suspended ? "true" : "false") : annotation(*live, key);
      value.SetBool(true);
      item.action = suspended ? "already suspended" : "suspended";
    } else {
      const int64_t n = replicas_of(*live);
      recorded = annotation(*live, key).empty() ? std::to_string(n) : annotation(*live, key);
      value.SetInt64(0);
      item.action = "scaled " + std::to_string(n) + " -> 0";
    }
    auto r = client.patch(rt, wl.namespace_, wl.name, kube::PatchType::merge,
                          merge_patch(key, &recorded, is_cronjob(wl) ? "suspend" : "replicas", value), w);
    if (!r) {
      item.action = "failed";
      item.ok = false;
      item.message = r.error().message;
    } else {
      item.message = std::string(key) + "=" + recorded;
    }
    out.push_back(std::move(item));
  }
  // Quiet before the last backup: every scaled workload has no replica left.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
  for (size_t k = 0; k < workloads.size(); ++k) {
    const Workload& wl = workloads[k];
    if (is_cronjob(wl) || !out[k].ok || out[k].action == "gone") continue;
    for (;;) {
      auto live = client.get(type_of(wl), wl.namespace_, wl.name);
      const json::Value* n = live ? json::at(*live, {"status", "replicas"}) : nullptr;
      if (!live || !n || !n->IsInt64() || n->GetInt64() == 0) break;
      if (std::chrono::steady_clock::now() > deadline) {
        out[k].message += "; still " + std::to_string(n->GetInt64()) + " replica(s) after " + util::human_duration(timeout);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
  return out;
}

std::vector<SourceItem> bring_up(kube::Client& client, const std::vector<Workload>& workloads) {
  std::vector<SourceItem> out;
  kube::WriteOptions w;
  for (const Workload& wl : workloads) {
    SourceItem item{wl.display(), "", "", true};
    const kube::ResourceType rt = type_of(wl);
    auto live = client.get(rt, wl.namespace_, wl.name);
    if (!live) {
      item.action = live.error().is(Errc::not_found) ? "gone" : "failed";
      item.ok = false;
      item.message = live.error().message;
      out.push_back(std::move(item));
      continue;
    }
    const char* key = is_cronjob(wl) ? k_suspend_annotation : k_replicas_annotation;
    const std::string recorded = annotation(*live, key);
    if (recorded.empty()) {
      item.action = "left as it is";
      item.message = std::string("no ") + key + " annotation";
      out.push_back(std::move(item));
      continue;
    }
    json::Document value;
    if (is_cronjob(wl)) {
      value.SetBool(recorded == "true");
      item.action = recorded == "true" ? "left suspended" : "unsuspended";
    } else {
      char* end = nullptr;
      const long long n = std::strtoll(recorded.c_str(), &end, 10);
      if (end == recorded.c_str() || *end != '\0' || n < 0) {
        item.action = "failed";
        item.ok = false;
        item.message = std::string(key) + " is not a replica count: " + util::printable(recorded, 40);
        out.push_back(std::move(item));
        continue;
      }
      value.SetInt64(n);
      item.action = "scaled back to " + std::to_string(n);
    }
    auto r = client.patch(rt, wl.namespace_, wl.name, kube::PatchType::merge,
                          merge_patch(key, nullptr, is_cronjob(wl) ? "suspend" : "replicas", value), w);
    if (!r) {
      item.action = "failed";
      item.ok = false;
      item.message = r.error().message;
    }
    out.push_back(std::move(item));
  }
  return out;
}

namespace {

class ShutdownUndo : public restore::Transform {
public:
  std::string name() const override { return "source shutdown"; }
  Result<restore::TransformOutcome> apply(const restore::TransformContext& ctx, json::Document& obj) override {
    restore::TransformOutcome out;
    json::Value* anns = json::at(obj, {"metadata", "annotations"});
    if (!anns || !anns->IsObject()) return out;
    auto& a = obj.GetAllocator();
    for (const char* key : {k_replicas_annotation, k_suspend_annotation}) {
      const json::Value* v = json::find(*anns, key);
      if (!v || !v->IsString()) continue;
      const std::string recorded = v->GetString();
      json::Value& spec = json::ensure_object(obj, "spec", a);
      if (std::string_view(key) == k_suspend_annotation) {
        json::set(spec, "suspend", json::Value(recorded == "true"), a);
      } else {
        char* end = nullptr;
        const long long n = std::strtoll(recorded.c_str(), &end, 10);
        if (end == recorded.c_str() || *end != '\0' || n < 0)
          return unexpected(Errc::invalid, std::string(key) + " is not a replica count");
        json::set(spec, "replicas", json::Value(static_cast<int64_t>(n)), a);
      }
      json::erase(*anns, key);
      if (ctx.notes) ctx.notes->push_back(std::string(key) + ": " + (std::string_view(key) == k_suspend_annotation ? "suspend " : "replicas ") + recorded + " as before the source was shut down");
      out.changed = true;
    }
    if (anns->MemberCount() == 0) json::erase(*json::find(obj, "metadata"), "annotations");
    return out;
  }
};

}  // namespace

std::shared_ptr<restore::Transform> make_shutdown_undo_transform() { return std::make_shared<ShutdownUndo>(); }

}  // namespace kbk::migrate
