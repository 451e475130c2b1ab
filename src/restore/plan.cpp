// Building the restore plan (see plan.hpp): select, decide what the cluster or a restored controller owns,
// sanitize, transform, map namespaces, label, order.
#include <kbk/restore/plan.hpp>

#include <kbk/patch/mappings.hpp>

#include <kbk/app/memory_source.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>

#include <kbk/restore/mapping.hpp>
#include <kbk/restore/sanitize.hpp>
#include <kbk/restore/select.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::restore {

Tier tier_for(std::string_view group, std::string_view resource) {
  struct Row {
    const char* group;
    const char* resource;
    Tier tier;
  };
  static const Row k_rows[] = {
      {"apiextensions.k8s.io", "customresourcedefinitions", Tier::crds},
      {"", "namespaces", Tier::namespaces},
      {"storage.k8s.io", "storageclasses", Tier::storage_classes},
      {"snapshot.storage.k8s.io", "volumesnapshotclasses", Tier::storage_classes},
      {"", "persistentvolumes", Tier::persistent_volumes},
      {"", "persistentvolumeclaims", Tier::persistent_volume_claims},
      {"", "serviceaccounts", Tier::rbac},
      {"rbac.authorization.k8s.io", "clusterroles", Tier::rbac},
      {"rbac.authorization.k8s.io", "roles", Tier::rbac},
      {"rbac.authorization.k8s.io", "clusterrolebindings", Tier::rbac},
      {"rbac.authorization.k8s.io", "rolebindings", Tier::rbac},
      {"", "secrets", Tier::config},
      {"", "configmaps", Tier::config},
      {"", "limitranges", Tier::policy},
      {"", "resourcequotas", Tier::policy},
      {"scheduling.k8s.io", "priorityclasses", Tier::policy},
      {"", "services", Tier::services},
      {"", "endpoints", Tier::services},
      {"discovery.k8s.io", "endpointslices", Tier::services},
      {"apps", "deployments", Tier::workloads},
      {"apps", "statefulsets", Tier::workloads},
      {"apps", "daemonsets", Tier::workloads},
      {"apps", "replicasets", Tier::workloads},
      {"extensions", "deployments", Tier::workloads},
      {"extensions", "daemonsets", Tier::workloads},
      {"extensions", "replicasets", Tier::workloads},
      {"", "replicationcontrollers", Tier::workloads},
      {"batch", "jobs", Tier::workloads},
      {"batch", "cronjobs", Tier::workloads},
      {"", "pods", Tier::workloads},
      {"admissionregistration.k8s.io", "mutatingwebhookconfigurations", Tier::webhooks},
      {"admissionregistration.k8s.io", "validatingwebhookconfigurations", Tier::webhooks},
      {"admissionregistration.k8s.io", "validatingadmissionpolicies", Tier::webhooks},
      {"admissionregistration.k8s.io", "validatingadmissionpolicybindings", Tier::webhooks},
  };
  for (const Row& r : k_rows)
    if (group == r.group && resource == r.resource) return r.tier;
  return Tier::other;
}

const char* tier_name(Tier t) {
  switch (t) {
    case Tier::crds: return "crds";
    case Tier::namespaces: return "namespaces";
    case Tier::storage_classes: return "storage-classes";
    case Tier::persistent_volumes: return "persistent-volumes";
    case Tier::persistent_volume_claims: return "persistent-volume-claims";
    case Tier::rbac: return "rbac";
    case Tier::config: return "config";
    case Tier::policy: return "policy";
    case Tier::services: return "services";
    case Tier::workloads: return "workloads";
    case Tier::other: return "other";
    case Tier::webhooks: return "webhooks";
  }
  return "other";
}

std::string PlannedItem::display() const {
  std::string s = group_resource() + "/";
  if (namespaced) s += target_namespace + "/";
  return s + target_name;
}

std::string manifest_file_name(const PlannedItem& item) {
  char num[32];
  std::snprintf(num, sizeof num, "%04zu", item.order);
  return std::string(num) + "-" + item.group_resource() + "-" + (item.namespaced ? item.target_namespace : "_cluster") +
         "-" + item.target_name + ".yaml";
}

namespace {

// group_resource() of a against b's ("deployments.apps" against "configmaps"), as std::string's < would order them,
// without building either string: <0, 0 or >0.
int compare_group_resource(const PlannedItem& a, const PlannedItem& b) {
  auto at = [](const PlannedItem& p, size_t i) -> int {  // the i-th byte of p.group_resource(), -1 past its end
    const size_t r = p.resource.size();
    if (i < r) return static_cast<unsigned char>(p.resource[i]);
    if (p.group.empty()) return -1;
    if (i == r) return '.';
    i -= r + 1;
    return i < p.group.size() ? static_cast<unsigned char>(p.group[i]) : -1;
  };
  for (size_t i = 0;; ++i) {
    const int x = at(a, i), y = at(b, i);
    if (x != y) return x < y ? -1 : 1;
    if (x < 0) return 0;
  }
}

bool is_builtin_namespace(std::string_view ns) {
  return ns == "default" || ns == "kube-system" || ns == "kube-public" || ns == "kube-node-lease";
}

std::string str_at(const json::Value& v, std::initializer_list<std::string_view> path) { return json::get_string(v, path); }

bool has_label(const json::Value& obj, std::string_view key, std::string_view value) {
  const json::Value* labels = json::at(obj, {"metadata", "labels"});
  const json::Value* v = labels ? json::find(*labels, key) : nullptr;
  return v && v->IsString() && std::string_view(v->GetString(), v->GetStringLength()) == value;
}

bool has_key(const json::Value& obj, std::initializer_list<std::string_view> path) { return json::at(obj, path) != nullptr; }

// Why the cluster itself owns this object (o, the item parsed), or "" when it does not.
std::string managed_by_cluster(const BackupItem& it, const json::Value& o, const std::string& target_ns,
                               const std::string& target_name) {
  const std::string gr = it.key.group_resource();
  const std::string& ns = it.key.namespace_;
  const std::string& name = it.key.name;
  if (gr == "nodes" || gr == "events" || gr == "events.events.k8s.io" || gr == "volumeattachments.storage.k8s.io" ||
      gr == "csinodes.storage.k8s.io" || gr == "componentstatuses")
    return gr + " are managed by the cluster";
  if (gr == "leases.coordination.k8s.io" && (ns == "kube-system" || ns == "kube-node-lease"))
    return "controller and node leases are managed by the cluster";
  if (gr == "namespaces" && is_builtin_namespace(target_name))
    return "namespace " + target_name + " exists in every cluster";
  if (gr == "configmaps" && name == "kube-root-ca.crt") return "kube-root-ca.crt is published by the cluster";
  if ((gr == "services" || gr == "endpoints" || gr == "endpointslices.discovery.k8s.io") && ns == "default" &&
      (name == "kubernetes" || has_label(o, "kubernetes.io/service-name", "kubernetes")))
    return "the default/kubernetes Service belongs to the API server";
  if (util::starts_with(gr, "clusterroles.rbac") || util::starts_with(gr, "clusterrolebindings.rbac") ||
      util::starts_with(gr, "roles.rbac") || util::starts_with(gr, "rolebindings.rbac")) {
    if (has_label(o, "kubernetes.io/bootstrapping", "rbac-defaults")) return "bootstrap RBAC (rbac-defaults)";
    if (util::starts_with(name, "system:")) return "system: RBAC belongs to the cluster";
  }
  if (gr == "apiservices.apiregistration.k8s.io" && has_key(o, {"metadata", "labels", "kube-aggregator.kubernetes.io/automanaged"}))
    return "automanaged APIService";
  if (gr == "pods") {
    if (has_key(o, {"metadata", "annotations", "kubernetes.io/config.mirror"})) return "mirror pod of a static pod";
    std::string phase = str_at(o, {"status", "phase"});
    if (phase == "Succeeded" || phase == "Failed") return "pod already finished (" + phase + ")";
  }
  if (gr == "jobs.batch") {
    if (has_key(o, {"status", "completionTime"})) return "job already completed";
    if (const json::Value* conds = json::at(o, {"status", "conditions"}); conds && conds->IsArray())
      for (const auto& c : conds->GetArray()) {
        std::string type = str_at(c, {"type"});
        if ((type == "Complete" || type == "Failed") && str_at(c, {"status"}) == "True")
          return "job already finished (" + type + ")";
      }
  }
  (void)target_ns;
  return "";
}

// Items looked up by (group/resource, namespace, name) and by (kind, namespace, name): a sorted list of
// (digest, item) pairs, 16 bytes an item each, every hit checked against the item itself (a std::map of the names
// took about 300 bytes an item). Of several items with one key, the last in the backup is found.
struct Index {
  const LoadedBackup& backup;
  std::map<std::string, size_t> by_uid;  // owners' uids, filled by the planner's first pass (select)

  explicit Index(const LoadedBackup& b) : backup(b) {
    m_gr.reserve(b.items.size());
    m_kind.reserve(b.items.size());
    for (size_t i = 0; i < b.items.size(); ++i) {
      const BackupItem& it = b.items[i];
      m_gr.emplace_back(digest(it.key.group_resource(), it.key.namespace_, it.key.name), static_cast<uint32_t>(i));
      m_kind.emplace_back(digest(it.kind, it.key.namespace_, it.key.name), static_cast<uint32_t>(i));
    }
    std::sort(m_gr.begin(), m_gr.end());
    std::sort(m_kind.begin(), m_kind.end());
  }
  std::optional<size_t> find_gr(const std::string& gr, const std::string& ns, const std::string& name) const {
    return find(m_gr, gr, ns, name, [&](const BackupItem& it) { return it.key.group_resource() == gr; });
  }
  std::optional<size_t> find_kind(const std::string& kind, const std::string& ns, const std::string& name) const {
    return find(m_kind, kind, ns, name, [&](const BackupItem& it) { return it.kind == kind; });
  }

private:
  using Entry = std::pair<uint64_t, uint32_t>;
  static uint64_t digest(std::string_view a, std::string_view b, std::string_view c) {
    std::string k;
    k.reserve(a.size() + b.size() + c.size() + 2);
    k.append(a).append(1, '\0').append(b).append(1, '\0').append(c);
    return std::hash<std::string>{}(k);
  }
  template <class Same>
  std::optional<size_t> find(const std::vector<Entry>& list, const std::string& a, const std::string& ns,
                             const std::string& name, Same same) const {
    const uint64_t d = digest(a, ns, name);
    auto lo = std::lower_bound(list.begin(), list.end(), Entry{d, 0});
    auto hi = std::upper_bound(lo, list.end(), Entry{d, UINT32_MAX});
    for (auto e = hi; e != lo;) {  // the last item first
      --e;
      const BackupItem& it = backup.items[e->second];
      if (it.key.namespace_ == ns && it.key.name == name && same(it)) return e->second;
    }
    return std::nullopt;
  }
  std::vector<Entry> m_gr, m_kind;
};

// Controller kinds whose children a restored controller recreates: child gr -> owner kinds.
bool controller_recreates(const std::string& child_gr, const std::string& owner_kind) {
  if (child_gr == "replicasets.apps" || child_gr == "replicasets.extensions") return owner_kind == "Deployment";
  if (child_gr == "pods")
    return owner_kind == "ReplicaSet" || owner_kind == "StatefulSet" || owner_kind == "Job" ||
           owner_kind == "DaemonSet" || owner_kind == "ReplicationController";
  if (child_gr == "controllerrevisions.apps") return owner_kind == "StatefulSet" || owner_kind == "DaemonSet";
  if (child_gr == "jobs.batch") return owner_kind == "CronJob";
  return false;
}

class Planner {
public:
  // With `release`, the same backup as b, each item's text is released as soon as no later step reads it.
  Planner(const LoadedBackup& b, const PlanOptions& o, const Selector& s, LoadedBackup* release = nullptr)
      : m_b(b), m_o(o), m_sel(s), m_index(b), m_release(release) {}

  // restore --app: what the applications select (item keys), and the warnings met finding it.
  void only(std::set<std::string> keys, std::vector<std::string> warnings) {
    m_app_keys = std::move(keys);
    m_has_app = true;
    m_plan.warnings.insert(m_plan.warnings.end(), warnings.begin(), warnings.end());
  }

  Result<Plan> run() {
    select();
    for (size_t i = 0; i < m_b.items.size(); ++i)
      if (!m_selected[i]) release(i);
    // Decide PV fate first: PVCs depend on it.
    for (size_t i = 0; i < m_b.items.size(); ++i)
      if (m_selected[i] && m_b.items[i].key.group_resource() == "persistentvolumes") decide_pv(i);
    for (size_t i = 0; i < m_b.items.size(); ++i) {
      if (!m_selected[i]) continue;
      m_plan.items.push_back(plan_item(i));
      release(i);
    }
    for (PlannedItem& e : m_extra) m_plan.items.push_back(std::move(e));
    m_extra.clear();
    synthesize_namespaces();
    order();
    return std::move(m_plan);
  }

private:
  TypeNames names(const BackupItem& it) const { return {it.key.group, it.key.resource, it.kind}; }

  // Whether the selection pass must read item i's object (see select()): for the label selectors, a claim's volume,
  // the uid of an item that may own others (a kind controller_recreates names as owner), and what planning looks
  // up (ownerReferences, an EndpointSlice's Service). Parsing is most of planning's cost, so an item that needs none
  // of these (a ConfigMap, a Secret, a Service without -l) is parsed only when it is planned. The text test is
  // conservative: "ownerReferences" anywhere, or any \u escape (a key could spell it so), means parse.
  bool select_reads(const BackupItem& it) const {
    if (m_sel.reads_object() || is_owner_kind(it.kind)) return true;
    const std::string gr = it.key.group_resource();
    if (gr == "persistentvolumeclaims" || gr == "endpointslices.discovery.k8s.io") return true;
    const std::string& text = it.object.text();
    return text.find("ownerReferences") != std::string::npos || text.find("\\u") != std::string::npos;
  }

  static bool is_owner_kind(const std::string& kind) {
    for (const char* k : {"Deployment", "ReplicaSet", "StatefulSet", "Job", "DaemonSet", "ReplicationController", "CronJob"})
      if (kind == k) return true;
    return false;
  }

  // The one pass over every item (items are held as text): uids for the index, the selection, and the volumes of
  // claims, parsing what needs it (select_reads). Later steps parse only the items they plan or look up.
  void select() {
    m_selected.assign(m_b.items.size(), false);
    std::map<size_t, std::string> claim_volumes;
    const json::Document none;
    for (size_t i = 0; i < m_b.items.size(); ++i) {
      const BackupItem& it = m_b.items[i];
      const bool reads = select_reads(it);
      json::Document parsed;
      if (reads) parsed = it.object.parse();
      const json::Value& o = reads ? static_cast<const json::Value&>(parsed) : none;
      // Only owners are looked up by uid (recreated_by: the owner kinds of controller_recreates).
      std::string uid = is_owner_kind(it.kind) ? str_at(o, {"metadata", "uid"}) : "";
      if (!uid.empty()) m_index.by_uid[uid] = i;
      m_selected[i] = m_sel.matches(names(it), it.key.namespace_, it.key.name, o) &&
                      (!m_has_app || m_app_keys.count(app::item_key(it.key.group_resource(), it.key.namespace_, it.key.name)));
      if (m_selected[i] && it.key.group_resource() == "persistentvolumeclaims")
        claim_volumes[i] = str_at(o, {"spec", "volumeName"});
      if (m_release) note_lookups(it, o);
    }
    if (m_release) resolve_lookups();
    // Related cluster-scoped objects follow the selected ones (unless the user excluded their type or all
    // cluster resources): the CRD of a selected custom resource, the PV of a selected PVC.
    if (m_sel.cluster_resources_explicitly_excluded()) return;
    size_t n = m_b.items.size();
    for (size_t i = 0; i < n; ++i) {
      if (!m_selected[i]) continue;
      const BackupItem& it = m_b.items[i];
      if (!it.key.group.empty()) follow(m_index.find_gr("customresourcedefinitions.apiextensions.k8s.io", "", it.key.group_resource()));
      if (auto c = claim_volumes.find(i); c != claim_volumes.end() && !c->second.empty())
        follow(m_index.find_gr("persistentvolumes", "", c->second));
    }
  }

  // Which other items planning item `it` may read (recreated_by): the Service of Endpoints and EndpointSlices,
  // the controllers in ownerReferences. Resolved to indexes (a superset: by uid and by kind/name) once the
  // uids are known.
  void note_lookups(const BackupItem& it, const json::Value& o) {
    const std::string gr = it.key.group_resource();
    if (gr == "endpoints") m_lookup_services.insert({it.key.namespace_, it.key.name});
    if (gr == "endpointslices.discovery.k8s.io")
      m_lookup_services.insert({it.key.namespace_, json::get_string(o, {"metadata", "labels", "kubernetes.io/service-name"})});
    const json::Value* owners = json::at(o, {"metadata", "ownerReferences"});
    if (!owners || !owners->IsArray()) return;
    for (const auto& ref : owners->GetArray()) {
      const json::Value* ctrl = json::find(ref, "controller");
      if (!ctrl || !ctrl->IsBool() || !ctrl->GetBool() || !controller_recreates(gr, str_at(ref, {"kind"}))) continue;
      m_lookup_uids.insert(str_at(ref, {"uid"}));
      m_lookup_kinds.insert({str_at(ref, {"kind"}), it.key.namespace_, str_at(ref, {"name"})});
    }
  }

  void resolve_lookups() {
    m_keep.assign(m_b.items.size(), false);
    for (size_t i = 0; i < m_b.items.size(); ++i)  // synthesize_namespaces reads the backed-up Namespaces
      if (m_b.items[i].key.group_resource() == "namespaces") m_keep[i] = true;
    for (const auto& [ns, name] : m_lookup_services)
      if (auto s = m_index.find_gr("services", ns, name)) m_keep[*s] = true;
    for (const std::string& uid : m_lookup_uids)
      if (auto u = m_index.by_uid.find(uid); u != m_index.by_uid.end()) m_keep[u->second] = true;
    for (const auto& k : m_lookup_kinds)
      if (auto f = m_index.find_kind(std::get<0>(k), std::get<1>(k), std::get<2>(k))) m_keep[*f] = true;
  }

  void release(size_t i) {
    if (m_release && !m_keep[i]) m_release->items[i].object.release();
  }

  void follow(std::optional<size_t> idx) {
    if (!idx || m_selected[*idx]) return;
    const BackupItem& it = m_b.items[*idx];
    if (m_sel.resource_explicitly_excluded(names(it))) return;
    m_selected[*idx] = true;
    ++m_followed;
    if (m_followed_names.size() < k_followed_named) {
      const auto& k = it.key;
      m_followed_names.push_back(k.group_resource() + "/" + (k.namespace_.empty() ? "" : k.namespace_ + "/") + k.name);
    }
  }

  void decide_pv(size_t i) {
    const BackupItem& it = m_b.items[i];
    json::Document o = it.object.parse();
    if (m_o.keep_pv && m_o.keep_pv(o)) return;
    std::string policy = str_at(o, {"spec", "persistentVolumeReclaimPolicy"});
    if (policy == "Delete") {
      m_pv_skip[it.key.name] = {reason::dynamic_pv,
                                "reclaim policy Delete and no volume data in this backup: its claim provisions a new volume"};
      return;
    }
    std::string claim_ns = str_at(o, {"spec", "claimRef", "namespace"});
    if (!claim_ns.empty() && m_o.namespace_mappings.count(claim_ns) && m_o.pv_exists && m_o.pv_exists(it.key.name)) {
      m_pv_skip[it.key.name] = {reason::pv_in_use,
                                "PersistentVolume " + it.key.name + " exists in the cluster and its claim moves from " +
                                    claim_ns + " to " + m_o.namespace_mappings.at(claim_ns) +
                                    ": restoring it would bind one volume twice; the claim provisions a new volume"};
    }
  }

  // The restored controller that will recreate item i (obj, the item parsed), or "" when none.
  std::string recreated_by(size_t i, const json::Value& obj, int depth = 0) {
    if (depth > 8) return "";
    const BackupItem& it = m_b.items[i];
    const std::string gr = it.key.group_resource();
    if ((gr == "endpoints" || gr == "endpointslices.discovery.k8s.io")) {
      std::string svc = gr == "endpoints" ? it.key.name : json::get_string(obj, {"metadata", "labels", "kubernetes.io/service-name"});
      if (svc.empty()) return "";
      auto s = m_index.find_gr("services", it.key.namespace_, svc);
      if (!s || !m_selected[*s]) return "";
      json::Document service = m_b.items[*s].object.parse();
      const json::Value* sel = json::at(service, {"spec", "selector"});
      if (sel && sel->IsObject() && sel->MemberCount() > 0) return "Service/" + svc;
      return "";
    }
    const json::Value* owners = json::at(obj, {"metadata", "ownerReferences"});
    if (!owners || !owners->IsArray()) return "";
    for (const auto& ref : owners->GetArray()) {
      const json::Value* ctrl = json::find(ref, "controller");
      if (!ctrl || !ctrl->IsBool() || !ctrl->GetBool()) continue;
      std::string kind = str_at(ref, {"kind"});
      if (!controller_recreates(gr, kind)) continue;
      std::optional<size_t> owner;
      if (auto u = m_index.by_uid.find(str_at(ref, {"uid"})); u != m_index.by_uid.end()) owner = u->second;
      else owner = m_index.find_kind(kind, it.key.namespace_, str_at(ref, {"name"}));
      if (!owner || !m_selected[*owner]) continue;
      // The owner must itself come back: restored, or recreated by its own restored controller.
      std::optional<std::string> grand = owner_fate(*owner, depth + 1);
      if (!grand) continue;
      return kind + "/" + str_at(ref, {"name"}) + (grand->empty() ? "" : " (itself recreated by " + *grand + ")");
    }
    return "";
  }

  // For an owner: nullopt when the cluster manages it (it does not come back), else recreated_by(owner, depth).
  // Memoized, as every pod of a ReplicaSet asks the same of it (and each answer parses the owner).
  std::optional<std::string> owner_fate(size_t owner, int depth) {
    auto key = std::make_pair(owner, depth);
    if (auto f = m_owner_fate.find(key); f != m_owner_fate.end()) return f->second;
    const BackupItem& o = m_b.items[owner];
    json::Document doc = o.object.parse();
    std::optional<std::string> fate;
    std::string target_ns = mapped_namespace(m_o.namespace_mappings, o.key.namespace_);
    if (managed_by_cluster(o, doc, target_ns, o.key.name).empty()) fate = recreated_by(owner, doc, depth);
    m_owner_fate[key] = fate;
    return fate;
  }

  PlannedItem plan_item(size_t i) {
    const BackupItem& it = m_b.items[i];
    PlannedItem p;
    p.group = it.key.group;
    p.resource = it.key.resource;
    p.kind = it.kind;
    p.version = it.key.version;
    p.namespaced = !it.key.namespace_.empty();
    p.source_namespace = it.key.namespace_;
    p.source_name = it.key.name;
    p.target_namespace = p.namespaced ? mapped_namespace(m_o.namespace_mappings, it.key.namespace_) : "";
    bool is_ns = p.group.empty() && p.resource == "namespaces";
    p.target_name = is_ns ? mapped_namespace(m_o.namespace_mappings, it.key.name) : it.key.name;
    p.tier = tier_for(p.group, p.resource);
    const std::string gr = p.group_resource();

    auto skip = [&](const char* code, std::string message, bool failed = false) {
      p.skip = PlanSkip{code, std::move(message), failed};
      return std::move(p);
    };
    if (it.key.name.empty() || p.kind.empty() || p.version.empty())
      return skip(reason::invalid_item, "item " + it.path + " lacks a name, apiVersion or kind", true);
    // The working copy, changed in place from here on (items are held as text: parsing is the copy).
    json::Document obj = it.object.parse();
    if (!obj.IsObject()) return skip(reason::invalid_item, "item " + it.path + " is not a JSON object", true);
    if (std::string why = managed_by_cluster(it, obj, p.target_namespace, p.target_name); !why.empty())
      return skip(reason::managed_by_cluster, why);
    if (std::string by = recreated_by(i, obj); !by.empty())
      return skip(reason::controller_owned, "recreated by its controller " + by);
    if (gr == "secrets" && is_auto_token_secret(obj))
      return skip(reason::service_account_token, "token Secret generated by the cluster for its ServiceAccount");
    if (gr == "persistentvolumes")
      if (auto f = m_pv_skip.find(it.key.name); f != m_pv_skip.end()) return skip(f->second.first.c_str(), f->second.second);

    std::string volume = gr == "persistentvolumeclaims" ? str_at(obj, {"spec", "volumeName"}) : "";
    json::Document status, managed_fields;
    // Status is copied out only when the plan keeps it (--restore-status, not for Namespaces).
    const bool keep_status = m_o.restore_status != RestoreStatus::no && !is_ns;
    reset_metadata(obj, &managed_fields, keep_status ? &status : nullptr, p.notes);
    if (gr == "namespaces") sanitize_namespace(obj, p.notes);
    else if (gr == "services") sanitize_service(obj, m_o.node_ports, p.notes, &managed_fields);
    else if (gr == "pods") sanitize_pod(obj, p.notes);
    else if (gr == "jobs.batch") sanitize_job(obj, p.notes);
    else if (gr == "persistentvolumes") sanitize_pv(obj, p.notes);
    else if (gr == "serviceaccounts") sanitize_service_account(obj, p.notes);
    else if (gr == "secrets") sanitize_token_secret(obj, p.notes);
    else if (gr == "customresourcedefinitions.apiextensions.k8s.io") sanitize_crd(obj, p.notes);
    else if (gr == "persistentvolumeclaims") sanitize_pvc(obj, !volume.empty() && m_pv_skip.count(volume) > 0, p.notes);
    if (gr == "serviceaccounts" && it.key.name == "default") p.action = ItemAction::merge_service_account;

    TransformContext ctx{p.group, p.version, p.resource, p.kind, it.key.namespace_, it.key.namespace_, it.key.name, &p.notes};
    std::vector<json::Document> extra;
    if (run_transforms(TransformStage::convert, ctx, obj, p, extra)) return p;
    // A conversion may have changed the apiVersion, group included (extensions/v1beta1 -> networking.k8s.io/v1),
    // and the kind (an OpenShift Route -> an Ingress).
    std::string api_version = json::get_string(obj, {"apiVersion"});
    if (!api_version.empty()) {
      size_t slash = api_version.find('/');
      p.group = slash == std::string::npos ? "" : api_version.substr(0, slash);
      p.version = api_version.substr(slash == std::string::npos ? 0 : slash + 1);
      if (std::string kind = json::get_string(obj, {"kind"}); !kind.empty() && kind != p.kind) {
        p.kind = kind;
        std::string converted = patch::group_resource_for(api_version, kind);
        p.resource = converted.substr(0, converted.find('.'));
      }
      p.tier = tier_for(p.group, p.resource);
    }
    ctx.target_namespace = p.target_namespace;
    if (run_transforms(TransformStage::modify, ctx, obj, p, extra)) return p;
    map_namespaces(obj, p.group, p.kind, m_o.namespace_mappings, p.notes);
    add_restore_labels(obj);
    for (json::Document& e : extra) add_extra(p, e);
    p.object = JsonText::of(obj, m_b.spool);
    p.status = JsonText::of(status, m_b.spool);
    p.managed_fields = JsonText::of(managed_fields, m_b.spool);
    return p;
  }

  // An object a transform made beside item p (extra in TransformOutcome): planned in p's target namespace.
  void add_extra(const PlannedItem& parent, json::Document& obj) {
    PlannedItem e;
    const std::string api_version = json::get_string(obj, {"apiVersion"});
    const size_t slash = api_version.find('/');
    e.group = slash == std::string::npos ? "" : api_version.substr(0, slash);
    e.version = api_version.substr(slash == std::string::npos ? 0 : slash + 1);
    e.kind = json::get_string(obj, {"kind"});
    std::string gr = patch::group_resource_for(api_version, e.kind);
    e.resource = gr.substr(0, gr.find('.'));
    e.namespaced = parent.namespaced;
    e.source_namespace = parent.source_namespace;
    e.target_namespace = parent.target_namespace;
    e.source_name = e.target_name = json::get_string(obj, {"metadata", "name"});
    e.tier = tier_for(e.group, e.resource);
    e.synthesized = true;
    e.notes.push_back("made for " + parent.display() + " by a conversion");
    json::Value& md = json::ensure_object(obj, "metadata", obj.GetAllocator());
    if (parent.namespaced) json::set(md, "namespace", json::make_string(parent.target_namespace, obj.GetAllocator()), obj.GetAllocator());
    add_restore_labels(obj);
    e.object = JsonText::of(obj, m_b.spool);
    m_extra.push_back(std::move(e));
  }

  // Runs the transforms of one stage on obj; true when one failed or skipped the item (p.skip says which).
  bool run_transforms(TransformStage stage, const TransformContext& ctx, json::Document& obj, PlannedItem& p,
                      std::vector<json::Document>& extra) {
    for (const auto& t : m_o.transforms) {
      if (t->stage() != stage) continue;
      auto r = t->apply(ctx, obj);
      if (!r) {
        p.skip = PlanSkip{reason::transform_failed, t->name() + ": " + r.error().message, true};
        return true;
      }
      if (r->skip) {
        p.skip = PlanSkip{reason::transform_skip, t->name() + ": " + r->skip_message, false};
        return true;
      }
      if (stage == TransformStage::modify && r->changed) p.transformed = true;
      for (json::Document& e : r->extra) extra.push_back(std::move(e));
    }
    return false;
  }

  void add_restore_labels(json::Document& obj) {
    if (m_o.restore_labels == RestoreLabels::omit || !obj.IsObject()) return;
    auto& alloc = obj.GetAllocator();
    json::Value& md = json::ensure_object(obj, "metadata", alloc);
    json::Value& labels = json::ensure_object(md, "labels", alloc);
    json::set(labels, k_label_backup_name, json::make_string(label_value(m_o.backup_name), alloc), alloc);
    json::set(labels, k_label_restore_name, json::make_string(label_value(m_o.restore_name), alloc), alloc);
  }

  // Every namespace an applied item lands in is created first: from the backed-up Namespace when the
  // backup has it (labels, annotations, spec), else blank.
  void synthesize_namespaces() {
    std::set<std::string> planned, needed;
    for (const PlannedItem& p : m_plan.items) {
      if (p.group.empty() && p.resource == "namespaces") planned.insert(p.target_name);
      else if (p.namespaced && !p.skip) needed.insert(p.target_namespace);
    }
    std::map<std::string, std::string> reverse;
    for (const auto& [from, to] : m_o.namespace_mappings) reverse[to] = from;
    std::erase_if(needed, [&](const std::string& ns) { return planned.count(ns) || is_builtin_namespace(ns); });
    for (const std::string& ns : needed) {
      std::string source = reverse.count(ns) ? reverse[ns] : ns;
      PlannedItem p;
      p.group = "";
      p.version = "v1";
      p.resource = "namespaces";
      p.kind = "Namespace";
      p.source_name = source;
      p.target_name = ns;
      p.tier = Tier::namespaces;
      p.synthesized = true;
      json::Document obj, managed_fields;
      if (auto idx = m_index.find_gr("namespaces", "", source)) {
        obj = m_b.items[*idx].object.parse();
        json::Document status;
        reset_metadata(obj, managed_fields, status, p.notes);
        sanitize_namespace(obj, p.notes);
        map_namespaces(obj, "", "Namespace", m_o.namespace_mappings, p.notes);
        p.notes.push_back("namespace created for the restored items (from the backed-up Namespace)");
      } else {
        auto r = json::parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{}})");
        obj = std::move(*r);
        json::set(obj["metadata"], "name", json::make_string(ns, obj.GetAllocator()), obj.GetAllocator());
        p.notes.push_back("namespace created for the restored items (not in the backup)");
      }
      add_restore_labels(obj);
      p.object = JsonText::of(obj, m_b.spool);
      p.managed_fields = JsonText::of(managed_fields, m_b.spool);
      m_plan.items.push_back(std::move(p));
    }
  }

  // The first restore order hint an item matches (section 7 of docs/format-application.md); the hint count when none.
  int wave_of(const PlannedItem& p) const {
    if (!m_o.applications) return 0;
    const auto& hints = m_o.applications->restore_order;
    const TypeNames type{p.group, p.resource, p.kind};
    for (size_t h = 0; h < hints.size(); ++h) {
      const std::string& text = hints[h].text;
      if (text.find('/') == std::string::npos) {
        if (resource_pattern_matches(text, type)) return static_cast<int>(h);
        continue;
      }
      auto np = app::parse_name_pattern(text);
      if (!np || !resource_pattern_matches(np->resource, type)) continue;
      if (np->cluster ? !p.source_namespace.empty() : !util::glob_match(np->ns, p.source_namespace)) continue;
      if (util::glob_match(np->name, p.source_name)) return static_cast<int>(h);
    }
    return static_cast<int>(hints.size());
  }

  void order() {
    for (PlannedItem& p : m_plan.items) p.wave = wave_of(p);
    // Sorted through an index (8 bytes an item), then permuted in place: a stable sort of the items themselves
    // takes a buffer of half of them (about 260 bytes an item, 260 MB at a million objects), and the comparison no
    // longer builds group_resource() strings.
    auto& items = m_plan.items;
    std::vector<size_t> idx(items.size());
    for (size_t k = 0; k < idx.size(); ++k) idx[k] = k;
    std::stable_sort(idx.begin(), idx.end(), [&items](size_t x, size_t y) {
      const PlannedItem& a = items[x];
      const PlannedItem& b = items[y];
      if (a.tier != b.tier) return a.tier < b.tier;
      if (a.wave != b.wave) return a.wave < b.wave;
      if (int c = compare_group_resource(a, b)) return c < 0;
      if (a.target_namespace != b.target_namespace) return a.target_namespace < b.target_namespace;
      return a.target_name < b.target_name;
    });
    // Position k takes the item at idx[k]: each cycle of the permutation is rotated once.
    for (size_t start = 0; start < idx.size(); ++start) {
      if (idx[start] == start) continue;
      PlannedItem held = std::move(items[start]);
      size_t k = start;
      for (;;) {
        const size_t from = idx[k];
        idx[k] = k;
        if (from == start) {
          items[k] = std::move(held);
          break;
        }
        items[k] = std::move(items[from]);
        k = from;
      }
    }
    size_t n = 0;
    for (PlannedItem& p : m_plan.items) p.order = p.skip ? 0 : ++n;
    m_plan.selected = static_cast<size_t>(std::count(m_selected.begin(), m_selected.end(), true));
    if (m_followed) {
      // Named, up to a few: "2 related objects follow the selection: persistentvolumes/pv-a, ... (CRDs of ...)".
      std::string line = std::to_string(m_followed) + (m_followed == 1 ? " related object follows" : " related objects follow") +
                         " the selection (CRDs of custom resources, PVs of claims): " + util::join(m_followed_names, ", ");
      if (m_followed > m_followed_names.size()) line += " and " + std::to_string(m_followed - m_followed_names.size()) + " more";
      m_plan.warnings.push_back(line);
    }
    // A selection that matches nothing is most likely a typo: say so (the restore still completes).
    for (const std::string& pattern : m_o.selection.include_namespaces) {
      if (pattern == "*") continue;
      const bool any = std::any_of(m_b.items.begin(), m_b.items.end(), [&](const BackupItem& it) {
        return util::glob_match(pattern, it.key.namespace_) ||
               (it.key.group_resource() == "namespaces" && util::glob_match(pattern, it.key.name));
      });
      if (!any)
        m_plan.warnings.push_back("--include-namespaces " + pattern + ": backup " + m_o.backup_name +
                                  " holds no namespace " + (pattern.find_first_of("*?[") == std::string::npos ? "of that name" : "matching it"));
    }
    if (m_plan.selected == 0) m_plan.warnings.push_back("the selection matched no object of backup " + m_o.backup_name);
  }

  std::vector<PlannedItem> m_extra;  // objects transforms made beside items (add_extra)
  const LoadedBackup& m_b;
  const PlanOptions& m_o;
  const Selector& m_sel;
  Index m_index;
  std::vector<bool> m_selected;
  size_t m_followed = 0;
  static constexpr size_t k_followed_named = 5;
  std::vector<std::string> m_followed_names;
  std::map<std::string, std::pair<std::string, std::string>> m_pv_skip;  // PV name -> reason, message
  std::map<std::pair<size_t, int>, std::optional<std::string>> m_owner_fate;  // (owner, depth) -> owner_fate()
  LoadedBackup* m_release = nullptr;
  bool m_has_app = false;
  std::set<std::string> m_app_keys;
  std::set<std::pair<std::string, std::string>> m_lookup_services;                // ns, name
  std::set<std::string> m_lookup_uids;
  std::set<std::tuple<std::string, std::string, std::string>> m_lookup_kinds;    // kind, ns, name
  std::vector<bool> m_keep;  // items whose text later steps may still read
  Plan m_plan;
};

}  // namespace

Result<app::Resolution> resolve_applications(const LoadedBackup& backup, const app::Application& applications) {
  static const app::ResolveOptions defaults;
  return resolve_applications(backup, applications, defaults);
}

Result<app::Resolution> resolve_applications(const LoadedBackup& backup, const app::Application& applications,
                                             const app::ResolveOptions& options) {
  app::MemorySource source;
  // The source reads texts in place: spooled ones are read back for the walk (and dropped with it).
  std::vector<std::string> texts;
  texts.reserve(backup.items.size());  // never reallocated: the source keeps pointers into it
  for (size_t i = 0; i < backup.items.size(); ++i) {
    const BackupItem& it = backup.items[i];
    kube::ResourceType rt;
    rt.group = it.key.group;
    rt.version = it.key.version;
    rt.resource = it.key.resource;
    rt.kind = it.kind;
    rt.namespaced = !it.key.namespace_.empty();
    const std::string* text = it.object.held_text();
    if (!text) text = &texts.emplace_back(it.object.text());
    source.add(rt, it.key.namespace_, it.key.name, text);
  }
  return app::resolve(source, source.discovery(), applications, options);
}

namespace {

// With applications, cluster-scoped objects are theirs to select: the flags narrow only where they are given
// (docs/format-application.md section 9).
Selection selection_for(const PlanOptions& options) {
  Selection s = options.selection;
  if (options.applications && !s.include_cluster_resources) s.include_cluster_resources = true;
  return s;
}

Result<Plan> plan(const LoadedBackup& backup, const PlanOptions& options, LoadedBackup* release) {
  KBK_ASSIGN_OR_RETURN(Selector sel, Selector::compile(selection_for(options)));
  std::optional<app::Resolution> apps;
  if (options.applications) {
    KBK_ASSIGN_OR_RETURN(apps, resolve_applications(backup, *options.applications));
    log::info(1, "applications " + options.applications->display_name() + " select " +
                     std::to_string(apps->objects.size()) + " of the backup's " + std::to_string(backup.items.size()) +
                     " objects");
  }
  for (const auto& t : options.transforms) t->prepare(backup);
  Planner planner(backup, options, sel, release);
  if (apps) planner.only(apps->keys(), apps->warnings);
  return planner.run();
}

}  // namespace

Result<Plan> make_plan(const LoadedBackup& backup, const PlanOptions& options) { return plan(backup, options, nullptr); }

Result<Plan> make_plan_releasing_backup(LoadedBackup& backup, const PlanOptions& options) {
  return plan(backup, options, &backup);
}

}  // namespace kbk::restore
