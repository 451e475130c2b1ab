// Comparing a live object with the one a restore would create, and the merge patch between them
// (see applier.hpp: differences, update_patch).
#include <kbk/restore/applier.hpp>
#include <kbk/volume/restore.hpp>

#include <map>
#include <set>

namespace kbk::restore {
namespace {

// Members compared as whole maps (a key the backup lacks is a difference).
bool is_exact_member(std::string_view key) { return key == "data" || key == "binaryData" || key == "stringData"; }
bool is_skipped_member(std::string_view key) {
  return key == "apiVersion" || key == "kind" || key == "metadata" || key == "status";
}
bool is_restore_label(std::string_view key) { return key == k_label_backup_name || key == k_label_restore_name; }
// Annotations the sanitizers drop because controllers set them (volume binding, token uids): a live object
// carrying them is not "different", and an update never removes them.
bool is_controller_annotation(std::string_view key) {
  return key.rfind("pv.kubernetes.io/", 0) == 0 || key.rfind("volume.kubernetes.io/", 0) == 0 ||
         key.rfind("volume.beta.kubernetes.io/", 0) == 0 || key == "kubernetes.io/service-account.uid" ||
         // the Deployment controller's rollout bookkeeping: a Deployment at revision 3 in the source starts again
         // at revision 1 where it is restored, which is no difference a user made
         key.rfind("deployment.kubernetes.io/", 0) == 0 ||
         // kbk's own mark on a claim waiting for its data, removed by the restore once the data is in
         key == volume::k_annotation_data_pending;
}

// Every field desired has is equal in live (live may have more: defaults, allocated IPs). Iterative: a backup's
// object may nest json::k_max_depth levels.
bool subset(const json::Value& desired, const json::Value* live) {
  std::vector<std::pair<const json::Value*, const json::Value*>> todo{{&desired, live}};
  while (!todo.empty()) {
    auto [d, l] = todo.back();
    todo.pop_back();
    if (!l) {
      if (!d->IsNull()) return false;
    } else if (d->IsObject()) {
      if (!l->IsObject()) return false;
      for (const auto& m : d->GetObject())
        todo.push_back({&m.value, json::find(*l, std::string_view(m.name.GetString(), m.name.GetStringLength()))});
    } else if (d->IsArray()) {
      if (!l->IsArray() || l->Size() != d->Size()) return false;
      for (rapidjson::SizeType i = 0; i < d->Size(); ++i) todo.push_back({&(*d)[i], &(*l)[i]});
    } else if (!json::equal(*d, *l)) {
      return false;
    }
  }
  return true;
}

// labels/annotations as a map without the restore labels.
std::map<std::string, std::string> string_map(const json::Value& obj, std::string_view field) {
  std::map<std::string, std::string> out;
  const json::Value* m = json::at(obj, {"metadata", field});
  if (!m || !m->IsObject()) return out;
  for (const auto& kv : m->GetObject()) {
    std::string k(kv.name.GetString(), kv.name.GetStringLength());
    if (field == "labels" && is_restore_label(k)) continue;
    if (field == "annotations" && is_controller_annotation(k)) continue;
    out[k] = kv.value.IsString() ? std::string(kv.value.GetString(), kv.value.GetStringLength()) : json::to_string(kv.value);
  }
  return out;
}

// The members of d that differ from l, recursively, as a merge patch. Below k_diff_levels the differing value is
// taken whole (the merge patch means the same: it merges into live either way), so the recursion stays shallow
// however deep the object nests.
constexpr int k_diff_levels = 32;

void diff_into(const json::Value& d, const json::Value* l, json::Value& out, json::Allocator& alloc, int level = 0) {
  if (d.IsObject() && l && l->IsObject() && level < k_diff_levels) {
    out.SetObject();
    for (const auto& m : d.GetObject()) {
      std::string_view k(m.name.GetString(), m.name.GetStringLength());
      const json::Value* lv = json::find(*l, k);
      if (subset(m.value, lv)) continue;
      json::Value sub;
      diff_into(m.value, lv, sub, alloc, level + 1);
      json::set(out, k, std::move(sub), alloc);
    }
    return;
  }
  json::copy_into(out, d, alloc);
}

}  // namespace

std::vector<std::string> differences(const json::Value& live, const json::Value& desired) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  if (desired.IsObject())
    for (const auto& m : desired.GetObject()) {
      std::string k(m.name.GetString(), m.name.GetStringLength());
      if (is_skipped_member(k)) continue;
      seen.insert(k);
      const json::Value* lv = json::find(live, k);
      bool same = is_exact_member(k) ? (lv && json::equal(m.value, *lv)) : subset(m.value, lv);
      if (!same) out.push_back(k);
    }
  if (live.IsObject())
    for (const auto& m : live.GetObject()) {
      std::string k(m.name.GetString(), m.name.GetStringLength());
      if (is_exact_member(k) && !seen.count(k) && !(m.value.IsObject() && m.value.MemberCount() == 0)) out.push_back(k);
    }
  if (string_map(live, "labels") != string_map(desired, "labels")) out.push_back("labels");
  if (string_map(live, "annotations") != string_map(desired, "annotations")) out.push_back("annotations");
  return out;
}

json::Document update_patch(const json::Value& live, const json::Value& desired) {
  json::Document patch;
  patch.SetObject();
  auto& alloc = patch.GetAllocator();
  if (desired.IsObject())
    for (const auto& m : desired.GetObject()) {
      std::string_view k(m.name.GetString(), m.name.GetStringLength());
      if (is_skipped_member(k)) continue;
      const json::Value* lv = json::find(live, k);
      if (is_exact_member(k)) {
        if (lv && json::equal(m.value, *lv)) continue;
        json::Value v;
        json::copy_into(v, m.value, alloc);
        if (lv && lv->IsObject() && v.IsObject())
          for (const auto& lm : lv->GetObject())
            if (!json::find(m.value, std::string_view(lm.name.GetString(), lm.name.GetStringLength())))
              json::set(v, std::string_view(lm.name.GetString(), lm.name.GetStringLength()), json::Value(), alloc);
        json::set(patch, k, std::move(v), alloc);
        continue;
      }
      if (subset(m.value, lv)) continue;
      json::Value v;
      diff_into(m.value, lv, v, alloc);
      json::set(patch, k, std::move(v), alloc);
    }
  if (live.IsObject())
    for (const auto& m : live.GetObject()) {
      std::string_view k(m.name.GetString(), m.name.GetStringLength());
      if (is_exact_member(k) && !json::find(desired, k)) json::set(patch, k, json::Value(), alloc);
    }
  for (std::string_view field : {"labels", "annotations"}) {
    const json::Value* d = json::at(desired, {"metadata", field});
    const json::Value* l = json::at(live, {"metadata", field});
    json::Value m(rapidjson::kObjectType);
    if (d && d->IsObject())
      for (const auto& kv : d->GetObject()) {
        std::string_view k(kv.name.GetString(), kv.name.GetStringLength());
        const json::Value* lv = l ? json::find(*l, k) : nullptr;
        if (lv && json::equal(*lv, kv.value)) continue;
        json::Value v;
        json::copy_into(v, kv.value, alloc);
        json::set(m, k, std::move(v), alloc);
      }
    if (l && l->IsObject())
      for (const auto& kv : l->GetObject()) {
        std::string_view k(kv.name.GetString(), kv.name.GetStringLength());
        if (field == "annotations" && is_controller_annotation(k)) continue;
        if (!d || !json::find(*d, k)) json::set(m, k, json::Value(), alloc);
      }
    if (m.MemberCount() > 0) json::set(json::ensure_object(patch, "metadata", alloc), field, std::move(m), alloc);
  }
  return patch;
}

}  // namespace kbk::restore
