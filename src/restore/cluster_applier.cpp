// The appliers that talk to a cluster: the real one and the server-side dry run (see applier.hpp).
#include <kbk/restore/applier.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <kbk/restore/options.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::restore {
namespace {

ItemResult result(Outcome o, std::string reason, std::string message = "") {
  return ItemResult{o, std::move(reason), std::move(message)};
}

ItemResult api_failure(const Error& e, const std::string& doing) {
  return result(Outcome::failed, errc_name(e.code), doing + ": " + e.message);
}

bool is_crd(const PlannedItem& item) { return item.group == "apiextensions.k8s.io" && item.resource == "customresourcedefinitions"; }
bool is_namespace(const PlannedItem& item) { return item.group.empty() && item.resource == "namespaces"; }

// ---- managedFields in the create -----------------------------------------------------------------------------
// kube-apiserver's field manager decodes the managedFields a create carries (decodeLiveOrNew), then gives every
// field the object sets to the creating manager: the entry of that manager's identity (manager, operation Update,
// the create's apiVersion, no subresource) keeps its fields plus those, with the create's time, and every other
// entry keeps only fields the object does not set (a status subresource's entry: status is not sent). So a create
// under the identity of the entry that owns the object's fields brings the backed-up entries back in one request
// whenever the others own only what the create leaves out. Whether it did is read from the server's answer; when
// it did not (an Apply entry, fields shared by several managers, a time changed) the entries are patched back as
// before. An object a transform changed (a modifier added an annotation, say) has fields no backed-up entry owns:
// the creating manager's entry comes to own them, as it owns kbk's restore labels, and that alone does not cost the
// second request.

// The manager to create under: of the backed-up Update entries without subresource at the create's apiVersion,
// the one owning the most fields; "" when there is none.
std::string creating_manager(const json::Value& entries, const std::string& api_version) {
  std::string best;
  size_t best_size = 0;
  if (!entries.IsArray()) return best;
  for (const auto& e : entries.GetArray()) {
    if (!e.IsObject() || json::get_string(e, {"operation"}) != "Update" ||
        !json::get_string(e, {"subresource"}).empty() || json::get_string(e, {"apiVersion"}) != api_version)
      continue;
    std::string manager = json::get_string(e, {"manager"});
    const json::Value* fields = json::find(e, "fieldsV1");
    const size_t size = fields ? json::to_string(*fields).size() : 0;
    if (manager.empty() || (!best.empty() && size <= best_size)) continue;
    best = std::move(manager);
    best_size = size;
  }
  return best;
}

std::string entry_identity(const json::Value& e) {
  const std::string op = json::get_string(e, {"operation"});
  return json::get_string(e, {"manager"}) + '\x1f' + op + '\x1f' +
         (op == "Update" ? json::get_string(e, {"apiVersion"}) : std::string()) + '\x1f' +
         json::get_string(e, {"subresource"});
}

// An entry's fieldsV1 without kbk's restore labels, which the creating manager comes to own with the create.
json::Document fields_without_restore_labels(const json::Value& entry) {
  json::Document fields;
  if (const json::Value* f = json::find(entry, "fieldsV1")) json::copy_into(fields, *f, fields.GetAllocator());
  json::Value* md = fields.IsObject() ? json::find(fields, "f:metadata") : nullptr;
  json::Value* labels = md && md->IsObject() ? json::find(*md, "f:labels") : nullptr;
  if (!labels || !labels->IsObject()) return fields;
  for (const char* k : {k_label_backup_name, k_label_restore_name}) json::erase(*labels, std::string("f:") + k);
  if (labels->MemberCount() == 0 || (labels->MemberCount() == 1 && json::find(*labels, "."))) json::erase(*md, "f:labels");
  if (md->MemberCount() == 0) json::erase(fields, "f:metadata");
  return fields;
}

// Whether fieldsV1 set `got` holds every field of `want` (both trees of "f:", "k:", "v:", "i:" and "." keys whose
// leaves are empty objects).
bool fields_cover(const json::Value& got, const json::Value& want) {
  if (!want.IsObject()) return json::equal(got, want);
  if (!got.IsObject()) return false;
  for (const auto& m : want.GetObject()) {
    const json::Value* g = json::find(got, std::string_view(m.name.GetString(), m.name.GetStringLength()));
    if (!g || !fields_cover(*g, m.value)) return false;
  }
  return true;
}

// Whether the entries the create left are the backed-up ones: the same identities with the same fields and times,
// except the creating manager's entry, whose time is the create's and which owns kbk's restore labels as well.
// transformed: the restore changed the object (PlannedItem::transformed), so the creating manager's entry may also
// own fields no backed-up entry owned (any it took from another entry shows in that entry's fields).
bool create_kept_entries(const json::Value& backed_up, const json::Value& written, const std::string& manager,
                         const std::string& api_version, bool transformed) {
  const json::Value* live = json::at(written, {"metadata", "managedFields"});
  if (!backed_up.IsArray() || !live || !live->IsArray() || live->Size() != backed_up.Size()) return false;
  std::map<std::string, const json::Value*> by_identity;
  for (const auto& e : live->GetArray()) {
    if (!e.IsObject() || !by_identity.emplace(entry_identity(e), &e).second) return false;
  }
  const std::string creator = manager + '\x1f' + "Update" + '\x1f' + api_version + '\x1f';
  for (const auto& want : backed_up.GetArray()) {
    if (!want.IsObject()) return false;
    const std::string id = entry_identity(want);
    auto it = by_identity.find(id);
    if (it == by_identity.end()) return false;
    const json::Value& got = *it->second;
    if (json::get_string(want, {"fieldsType"}) != json::get_string(got, {"fieldsType"})) return false;
    if (id == creator) {
      const json::Document w = fields_without_restore_labels(want), g = fields_without_restore_labels(got);
      if (!(transformed ? fields_cover(g, w) : json::equal(w, g))) return false;
      continue;
    }
    if (json::get_string(want, {"time"}) != json::get_string(got, {"time"})) return false;
    const json::Value* a = json::find(want, "fieldsV1");
    const json::Value* b = json::find(got, "fieldsV1");
    if (!a != !b || (a && !json::equal(*a, *b))) return false;
  }
  return true;
}

bool condition_true(const json::Value& obj, std::string_view type, std::string* message = nullptr) {
  const json::Value* conds = json::at(obj, {"status", "conditions"});
  if (!conds || !conds->IsArray()) return false;
  for (const auto& c : conds->GetArray())
    if (json::get_string(c, {"type"}) == type) {
      if (message) *message = json::get_string(c, {"message"});
      return json::get_string(c, {"status"}) == "True";
    }
  return false;
}

class ClusterApplier : public Applier {
public:
  ClusterApplier(kube::Client& client, TypeResolver& types, const ClusterApplierOptions& options, kube::DryRun dry)
      : m_client(client), m_types(types), m_opt(options), m_dry(dry) {
    if (!m_opt.sleep)
      m_opt.sleep = [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
    if (m_opt.poll_interval <= 0) m_opt.poll_interval = 0.5;
  }

  std::string mode() const override { return m_dry == kube::DryRun::yes ? "dry-run=server" : "cluster"; }
  bool dry_run() const override { return m_dry == kube::DryRun::yes; }

  ItemResult apply(const PlannedItem& item) override {
    std::optional<kube::ResourceType> rt;
    {
      std::lock_guard<std::mutex> lock(m_types_mutex);
      if (m_failed_crds.count(item.group_resource()))
        return result(Outcome::failed, "crd-not-established",
                      "its CustomResourceDefinition " + item.group_resource() + " is not Established");
      rt = m_types.find(item.group, item.version, item.resource);
      if (!rt) {
        auto served = m_types.served_versions(item.group, item.resource);
        if (served.empty())
          return result(Outcome::failed, "type-not-served",
                        item.group_resource() + " is not served by the cluster (is its CRD restored or installed?)");
        return result(Outcome::failed, "version-not-served",
                      item.group_resource() + " " + item.version + " is not served (the cluster serves " +
                          util::join(served, ", ") + "); an API-version conversion is needed");
      }
    }
    // The planned object is held as text (json_text.hpp): parsed here, for this call only.
    json::Document obj = item.object.parse();
    if (item.action == ItemAction::merge_service_account) return merge_service_account(item, obj, *rt);
    return create(item, obj, *rt, Outcome::created, "created", 0, Waits::handed_back);
  }

  void end_tier(Tier tier, const std::vector<const PlannedItem*>& items, std::vector<ItemResult*>& results) override {
    if (tier != Tier::crds) return;
    bool any = false;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!is_crd(*items[i])) continue;
      ItemResult& r = *results[i];
      if (r.outcome != Outcome::created && r.outcome != Outcome::updated && r.reason != "exists-identical" &&
          r.reason != "exists-differs")
        continue;
      any = true;
      if (m_dry == kube::DryRun::yes) continue;
      wait_established(*items[i], r);
    }
    if (any && m_dry == kube::DryRun::no) {
      std::lock_guard<std::mutex> lock(m_types_mutex);
      if (auto e = m_types.refresh(); !e) log::warning("refreshing discovery after the CRDs: " + e.error().message);
    }
  }

private:
  kube::WriteOptions write_options(std::string manager = k_field_manager) const {
    kube::WriteOptions w;
    w.dry_run = m_dry;
    w.field_manager = std::move(manager);
    return w;
  }
  std::string ns_of(const PlannedItem& item) const { return item.namespaced ? item.target_namespace : ""; }
  int polls(double timeout) const { return std::max(1, static_cast<int>(std::ceil(timeout / m_opt.poll_interval))); }

  // Polls until GET says not found. false on timeout or another error.
  bool wait_gone(const kube::ResourceType& rt, const PlannedItem& item, double timeout, std::string& why) {
    for (int i = 0; i < polls(timeout); ++i) {
      auto live = m_client.get(rt, ns_of(item), item.target_name);
      if (!live && live.error().is(Errc::not_found)) return true;
      if (!live) {
        why = live.error().message;
        return false;
      }
      m_opt.sleep(m_opt.poll_interval);
    }
    why = "still there after " + util::human_duration(timeout);
    return false;
  }

  // The create's retry bookkeeping while the item waits in the engine's queue (see ItemResult::retry_in).
  kube::Deferral& deferral_of(const PlannedItem& item) {
    std::lock_guard<std::mutex> lock(m_deferrals_mutex);
    return m_deferrals[&item];  // a map: the reference stays valid while other items come and go
  }
  void forget_deferral(const PlannedItem& item) {
    std::lock_guard<std::mutex> lock(m_deferrals_mutex);
    m_deferrals.erase(&item);
  }

  // Waits::handed_back: the create is the item's first write (straight from apply()), so a wait the server asks
  // for goes back to the engine (ItemResult::retry_in) instead of holding this worker; nothing of the item is
  // written yet, and the next apply() sends the same create again with the same retry counts.
  enum class Waits { in_worker, handed_back };
  ItemResult create(const PlannedItem& item, const json::Value& obj, const kube::ResourceType& rt, Outcome outcome,
                    const std::string& reason, int attempt = 0, Waits waits = Waits::in_worker) {
    // The backed-up managedFields go with the create, under the identity of the entry that owns the object's
    // fields (see creating_manager): where the server keeps them, that is the only request.
    std::string manager;
    json::Document with_entries;
    if (m_dry == kube::DryRun::no) {
      json::Document mf = item.managed_fields.parse();
      manager = creating_manager(mf, rt.api_version());
      if (!manager.empty()) {
        with_entries = json::clone(obj);
        auto& a = with_entries.GetAllocator();
        json::set(json::ensure_object(with_entries, "metadata", a), "managedFields", json::copy(mf, a), a);
      }
    }
    kube::WriteOptions first = write_options(manager.empty() ? k_field_manager : manager);
    first.deferral = waits == Waits::handed_back ? &deferral_of(item) : nullptr;
    const json::Value& body = manager.empty() ? obj : static_cast<const json::Value&>(with_entries);
    auto created = m_client.create(rt, ns_of(item), body, first);
    if (first.deferral) {
      if (!created && first.deferral->deferred) {
        ItemResult later = api_failure(created.error(), "create");
        later.retry_in = first.deferral->seconds;
        return later;
      }
      forget_deferral(item);
    }
    if (!created && !manager.empty() && (created.error().is(Errc::invalid) || created.error().is(Errc::bad_request)) &&
        created.error().message.find("managedFields") != std::string::npos) {
      // A server that refuses the entries in a create: without them, as before (patched back after).
      manager.clear();
      created = m_client.create(rt, ns_of(item), obj, write_options());
    }
    if (created) return after_write(item, rt, *created, outcome, reason, manager);
    if (created.error().is(Errc::already_exists) && attempt == 0) return existing(item, obj, rt);
    return api_failure(created.error(), "create");
  }

  // managedFields back as they were (so GitOps tools keep ownership) and status when asked. created_under: the
  // manager a create carrying the backed-up entries was sent under ("" when it carried none).
  ItemResult after_write(const PlannedItem& item, const kube::ResourceType& rt, const json::Value& written,
                         Outcome outcome, const std::string& reason, const std::string& created_under = "") {
    std::vector<std::string> problems;
    if (m_dry == kube::DryRun::yes) return result(outcome, reason);
    std::string uid = json::get_string(written, {"metadata", "uid"});
    std::string rv = json::get_string(written, {"metadata", "resourceVersion"});
    if (json::Document mf = item.managed_fields.parse();
        mf.IsArray() && !mf.Empty() &&
        (created_under.empty() || !create_kept_entries(mf, written, created_under, rt.api_version(), item.transformed))) {
      json::Document body;
      body.SetArray();
      auto& a = body.GetAllocator();
      json::Value op(rapidjson::kObjectType);
      json::set(op, "op", json::make_string("replace", a), a);
      json::set(op, "path", json::make_string("/metadata/managedFields", a), a);
      json::Value value;
      json::copy_into(value, mf, a);
      json::set(op, "value", std::move(value), a);
      body.PushBack(std::move(op), a);
      auto r = m_client.patch(rt, ns_of(item), item.target_name, kube::PatchType::json, json::to_string(body),
                              write_options());
      if (!r) problems.push_back("managedFields not re-applied: " + r.error().message);
      else rv = json::get_string(*r, {"metadata", "resourceVersion"});
    }
    if (json::Document status = item.status.parse(); status.IsObject() && status.MemberCount() > 0) {
      bool has_status = rt.subresources.empty() ||
                        std::find(rt.subresources.begin(), rt.subresources.end(), "status") != rt.subresources.end();
      if (has_status) {
        std::string err = write_status(item, status, rt, written, rv);
        if (!err.empty()) problems.push_back("status not restored: " + err);
      }
    }
    ItemResult res = result(outcome, reason, util::join(problems, "; "));
    res.uid = std::move(uid);
    res.resource_version = std::move(rv);
    res.applied = item.object;  // a copy of where it is kept when spooled
    return res;
  }

  // rv: the resourceVersion the written status left.
  std::string write_status(const PlannedItem& item, const json::Value& status, const kube::ResourceType& rt,
                           const json::Value& written, std::string& rv) {
    json::Document obj = json::clone(written);
    for (int attempt = 0; attempt < 3; ++attempt) {
      json::Value st;
      json::copy_into(st, status, obj.GetAllocator());
      json::set(obj, "status", std::move(st), obj.GetAllocator());
      auto r = m_client.update(rt, ns_of(item), obj, write_options(), "status");
      if (r) {
        rv = json::get_string(*r, {"metadata", "resourceVersion"});
        return "";
      }
      if (!r.error().is(Errc::conflict)) return r.error().message;
      auto live = m_client.get(rt, ns_of(item), item.target_name);
      if (!live) return live.error().message;
      obj = std::move(*live);
    }
    return "conflicting updates";
  }

  ItemResult existing(const PlannedItem& item, const json::Value& obj, const kube::ResourceType& rt) {
    auto live = m_client.get(rt, ns_of(item), item.target_name);
    if (!live) return api_failure(live.error(), "already exists, and reading it failed");
    // Being deleted (a Terminating namespace, a finalizer running): wait until it is gone, then create.
    if (json::at(*live, {"metadata", "deletionTimestamp"}) || json::get_string(*live, {"status", "phase"}) == "Terminating") {
      if (m_dry == kube::DryRun::yes)
        return result(Outcome::created, "created", "being deleted in the cluster; would be created once it is gone");
      double timeout = is_namespace(item) ? m_opt.namespace_terminating_timeout : m_opt.delete_timeout;
      std::string why;
      if (!wait_gone(rt, item, timeout, why))
        return result(Outcome::failed, is_namespace(item) ? "namespace-terminating" : "being-deleted",
                      "exists and is being deleted: " + why);
      return create(item, obj, rt, Outcome::created, "created", 1);
    }
    std::vector<std::string> diffs = differences(*live, obj);
    if (diffs.empty()) return result(Outcome::skipped, "exists-identical", "already exists and matches the backup");
    ExistingPolicy policy = m_opt.existing;
    if (policy == ExistingPolicy::recreate && (is_namespace(item) || is_crd(item))) policy = ExistingPolicy::update;
    std::string what = util::join(diffs, ", ");
    switch (policy) {
      case ExistingPolicy::none:
        return result(Outcome::skipped, "exists-differs",
                      "already exists and differs from the backup in " + what + " (existing-resource-policy none)");
      case ExistingPolicy::update: {
        json::Document patch = update_patch(*live, obj);
        auto r = m_client.patch(rt, ns_of(item), item.target_name, kube::PatchType::merge, json::to_string(patch),
                                write_options());
        if (!r) return api_failure(r.error(), "update (merge patch of " + what + ")");
        ItemResult res = after_write(item, rt, *r, Outcome::updated, "updated");
        res.message = "patched " + what + (res.message.empty() ? "" : "; " + res.message);
        if (m_dry == kube::DryRun::no) res.before = JsonText::of(*live, item.object.spool());
        return res;
      }
      case ExistingPolicy::recreate: {
        kube::DeleteOptions d;
        d.dry_run = m_dry;
        d.propagation_policy = "Background";
        auto r = m_client.remove(rt, ns_of(item), item.target_name, d);
        if (!r && !r.error().is(Errc::not_found)) return api_failure(r.error(), "recreate: delete");
        if (m_dry == kube::DryRun::yes)
          return result(Outcome::updated, "recreated", "would be deleted and created again (differs in " + what + ")");
        std::string why;
        if (!wait_gone(rt, item, m_opt.delete_timeout, why))
          return result(Outcome::failed, "delete-timeout", "recreate: deleted but " + why);
        ItemResult res = create(item, obj, rt, Outcome::updated, "recreated", 1);
        if (res.outcome == Outcome::updated) {
          res.message = "deleted and created again (differed in " + what + ")" + (res.message.empty() ? "" : "; " + res.message);
          res.before = JsonText::of(*live, item.object.spool());
        }
        return res;
      }
    }
    return result(Outcome::failed, "internal", "unknown policy");
  }

  // The `default` ServiceAccount belongs to the cluster; the backed-up imagePullSecrets and annotations are
  // merged into the live one (existing values win), as Velero does.
  ItemResult merge_service_account(const PlannedItem& item, const json::Value& obj, const kube::ResourceType& rt) {
    Result<json::Document> live = m_client.get(rt, ns_of(item), item.target_name);
    int waits = m_dry == kube::DryRun::yes ? 0 : polls(m_opt.default_service_account_wait);
    for (int i = 0; i < waits && !live && live.error().is(Errc::not_found); ++i) {
      m_opt.sleep(m_opt.poll_interval);
      live = m_client.get(rt, ns_of(item), item.target_name);
    }
    if (!live && live.error().is(Errc::not_found)) return create(item, obj, rt, Outcome::created, "created");
    if (!live) return api_failure(live.error(), "reading the live default ServiceAccount");

    json::Document patch;
    patch.SetObject();
    auto& a = patch.GetAllocator();
    std::vector<std::string> merged;
    std::set<std::string> have;
    json::Value pulls(rapidjson::kArrayType);
    if (const json::Value* l = json::find(*live, "imagePullSecrets"); l && l->IsArray())
      for (const auto& s : l->GetArray()) {
        have.insert(json::get_string(s, {"name"}));
        json::Value c;
        json::copy_into(c, s, a);
        pulls.PushBack(std::move(c), a);
      }
    if (const json::Value* b = json::find(obj, "imagePullSecrets"); b && b->IsArray())
      for (const auto& s : b->GetArray()) {
        std::string name = json::get_string(s, {"name"});
        if (name.empty() || have.count(name)) continue;
        have.insert(name);
        merged.push_back("imagePullSecret " + name);
        json::Value c;
        json::copy_into(c, s, a);
        pulls.PushBack(std::move(c), a);
      }
    if (!merged.empty()) json::set(patch, "imagePullSecrets", std::move(pulls), a);
    json::Value ann(rapidjson::kObjectType);
    const json::Value* live_ann = json::at(*live, {"metadata", "annotations"});
    if (const json::Value* b = json::at(obj, {"metadata", "annotations"}); b && b->IsObject())
      for (const auto& kv : b->GetObject()) {
        std::string_view k(kv.name.GetString(), kv.name.GetStringLength());
        if (live_ann && json::find(*live_ann, k)) continue;
        merged.push_back("annotation " + std::string(k));
        json::Value v;
        json::copy_into(v, kv.value, a);
        json::set(ann, k, std::move(v), a);
      }
    if (ann.MemberCount() > 0) json::set(json::ensure_object(patch, "metadata", a), "annotations", std::move(ann), a);
    if (merged.empty())
      return result(Outcome::skipped, "managed-by-cluster", "the default ServiceAccount is left to the cluster");
    auto r = m_client.patch(rt, ns_of(item), item.target_name, kube::PatchType::merge, json::to_string(patch),
                            write_options());
    if (!r) return api_failure(r.error(), "merging into the default ServiceAccount");
    return result(Outcome::skipped, "managed-by-cluster",
                  std::string("the default ServiceAccount is left to the cluster; ") +
                      (m_dry == kube::DryRun::yes ? "would merge " : "merged ") + util::join(merged, ", "));
  }

  void wait_established(const PlannedItem& item, ItemResult& r) {
    kube::ResourceType crd_type;
    crd_type.group = "apiextensions.k8s.io";
    crd_type.version = item.version;
    crd_type.resource = "customresourcedefinitions";
    crd_type.kind = "CustomResourceDefinition";
    {
      std::lock_guard<std::mutex> lock(m_types_mutex);
      if (auto t = m_types.find(item.group, item.version, item.resource)) crd_type = *t;
    }
    std::string last;
    for (int i = 0; i < polls(m_opt.crd_established_timeout); ++i) {
      auto live = m_client.get(crd_type, "", item.target_name);
      if (live) {
        std::string msg;
        bool established = condition_true(*live, "Established", &msg);
        bool accepted = condition_true(*live, "NamesAccepted", &last);
        if (established && accepted) return;
        if (!accepted && !last.empty()) last = "NamesAccepted: " + last;
        else if (!msg.empty()) last = msg;
      } else {
        last = live.error().message;
      }
      m_opt.sleep(m_opt.poll_interval);
    }
    {
      std::lock_guard<std::mutex> lock(m_types_mutex);
      m_failed_crds.insert(item.target_name);
    }
    r = result(Outcome::failed, "crd-not-established",
               "CustomResourceDefinition " + item.target_name + " is not Established after " +
                   util::human_duration(m_opt.crd_established_timeout) + (last.empty() ? "" : " (" + last + ")") +
                   ": its custom resources cannot be restored");
  }

  kube::Client& m_client;
  TypeResolver& m_types;
  std::mutex m_types_mutex;
  std::mutex m_deferrals_mutex;
  std::map<const PlannedItem*, kube::Deferral> m_deferrals;  // items whose create waits in the engine's queue
  std::set<std::string> m_failed_crds;  // CRD names (<plural>.<group>) that never became Established
  ClusterApplierOptions m_opt;
  kube::DryRun m_dry;
};

// --dry-run=server: the cluster applier with dryRun=All, plus what a dry run cannot ask the server: objects
// in a namespace, or of a CRD, that this restore would create first.
class ServerDryRunApplier : public Applier {
public:
  ServerDryRunApplier(kube::Client& client, TypeResolver& types, const ClusterApplierOptions& options)
      : m_inner(client, types, options, kube::DryRun::yes) {}

  std::string mode() const override { return "dry-run=server"; }
  bool dry_run() const override { return true; }

  ItemResult apply(const PlannedItem& item) override {
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      if (item.namespaced && m_pending_namespaces.count(item.target_namespace) &&
          item.action == ItemAction::merge_service_account)
        return result(Outcome::skipped, "managed-by-cluster",
                      "the default ServiceAccount is left to the cluster (pending namespace " + item.target_namespace + ")");
      if (item.namespaced && m_pending_namespaces.count(item.target_namespace))
        return rename(result(Outcome::created, "would-create-pending-namespace",
                             "would create (pending namespace " + item.target_namespace + ")"));
      if (m_pending_crds.count(item.group_resource()))
        return rename(result(Outcome::created, "would-create-pending-crd",
                             "would create (pending CRD " + item.group_resource() + ")"));
    }
    ItemResult r = m_inner.apply(item);
    if (r.outcome == Outcome::created && r.reason == "created") {
      std::lock_guard<std::mutex> lock(m_mutex);
      if (is_namespace(item)) m_pending_namespaces.insert(item.target_name);
      if (is_crd(item)) m_pending_crds.insert(item.target_name);
    }
    return rename(std::move(r));
  }

  void end_tier(Tier tier, const std::vector<const PlannedItem*>& items, std::vector<ItemResult*>& results) override {
    m_inner.end_tier(tier, items, results);
  }

private:
  static ItemResult rename(ItemResult r) {
    if (r.reason == "created") r.reason = "would-create";
    else if (r.reason == "updated") r.reason = "would-update";
    else if (r.reason == "recreated") r.reason = "would-recreate";
    return r;
  }

  ClusterApplier m_inner;
  std::mutex m_mutex;
  std::set<std::string> m_pending_namespaces;
  std::set<std::string> m_pending_crds;  // CRD names = <plural>.<group>
};

}  // namespace

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::created: return "created";
    case Outcome::updated: return "updated";
    case Outcome::skipped: return "skipped";
    case Outcome::failed: return "failed";
  }
  return "failed";
}

std::unique_ptr<Applier> make_cluster_applier(kube::Client& client, TypeResolver& types,
                                              const ClusterApplierOptions& options) {
  return std::make_unique<ClusterApplier>(client, types, options, kube::DryRun::no);
}

std::unique_ptr<Applier> make_server_dry_run_applier(kube::Client& client, TypeResolver& types,
                                                     const ClusterApplierOptions& options) {
  return std::make_unique<ServerDryRunApplier>(client, types, options);
}

}  // namespace kbk::restore
