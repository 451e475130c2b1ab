// Drafting application definitions from a running cluster (see discover.hpp).
#include <kbk/app/discover.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

#include <kbk/app/definition.hpp>
#include <kbk/app/walk.hpp>
#include <kbk/kube/label_selector.hpp>
#include <kbk/util/strings.hpp>

#include "related.hpp"

namespace kbk::app {
namespace {

const std::set<std::string> k_system_namespaces = {"kube-system", "kube-public", "kube-node-lease"};

constexpr const char* k_part_of = "app.kubernetes.io/part-of";
constexpr const char* k_instance = "app.kubernetes.io/instance";
constexpr const char* k_name = "app.kubernetes.io/name";

bool is_events(std::string_view gr) { return gr == "events" || gr == "events.events.k8s.io"; }

std::map<std::string, std::string> string_map(const json::Value* v) {
  std::map<std::string, std::string> m;
  if (!v || !v->IsObject()) return m;
  for (const auto& kv : v->GetObject())
    if (kv.value.IsString()) m.emplace(kv.name.GetString(), kv.value.GetString());
  return m;
}

// One object of the cluster, as much of it as grouping needs.
struct Node {
  const kube::ResourceType* rt = nullptr;
  std::string gr, ns, name, uid;
  std::map<std::string, std::string> labels;
  std::string helm;                      // "ns/name" of the release whose annotations it carries
  std::vector<std::string> owner_uids;
  bool controller_owned = false;
  std::vector<Ref> refs;
  std::map<std::string, std::string> pod_labels;  // pods: their labels; workloads: their template's
  std::map<std::string, std::string> selector;    // Services
  std::vector<std::string> subjects;              // bindings: "ns/name" of the ServiceAccounts they name
  std::vector<std::string> calls;                 // webhooks, APIServices: "ns/name" of the Services they call
  std::string helm_storage;                       // a release's storage Secret: "ns/name" of the release
  int64_t helm_version = 0;
  bool managed = false;  // made by the cluster (default ServiceAccount, kube-root-ca.crt, tokens, Endpoints)
  int group = -1;
  std::string how;       // why it is in its group
  std::map<int, std::string> used_by;  // group -> how the group uses it
  std::string display() const { return display_key(gr, ns, name); }
};

int64_t helm_version_of(const std::string& secret, const std::string& release) {
  const std::string prefix = "sh.helm.release.v1." + release + ".v";
  if (!util::starts_with(secret, prefix)) return 0;
  int64_t v = 0;
  for (char c : secret.substr(prefix.size())) {
    if (c < '0' || c > '9' || v > 100000000) return 0;
    v = v * 10 + (c - '0');
  }
  return v;
}

Node make_node(const kube::ResourceType& rt, const json::Value& obj) {
  Node n;
  n.rt = &rt;
  n.gr = rt.group_resource();
  n.ns = rt.namespaced ? json::get_string(obj, {"metadata", "namespace"}) : "";
  n.name = json::get_string(obj, {"metadata", "name"});
  n.uid = json::get_string(obj, {"metadata", "uid"});
  n.labels = string_map(json::at(obj, {"metadata", "labels"}));
  const auto ann = string_map(json::at(obj, {"metadata", "annotations"}));
  if (auto r = ann.find("meta.helm.sh/release-name"), s = ann.find("meta.helm.sh/release-namespace");
      r != ann.end() && s != ann.end() && !r->second.empty() && !s->second.empty())
    n.helm = s->second + "/" + r->second;
  if (auto* owners = json::at(obj, {"metadata", "ownerReferences"}); owners && owners->IsArray())
    for (const auto& o : owners->GetArray()) {
      n.owner_uids.push_back(json::get_string(o, {"uid"}));
      if (auto* c = json::find(o, "controller"); c && c->IsBool() && c->GetBool()) n.controller_owned = true;
    }
  n.refs = related_refs(n.gr, obj, Follow::application);
  if (n.gr == "pods") n.pod_labels = n.labels;
  else if (const json::Value* t = json::at(obj, {"spec", "template", "metadata", "labels"})) n.pod_labels = string_map(t);
  if (n.gr == "services") n.selector = string_map(json::at(obj, {"spec", "selector"}));
  if (n.gr == "rolebindings.rbac.authorization.k8s.io" || n.gr == "clusterrolebindings.rbac.authorization.k8s.io")
    if (auto* subjects = json::find(obj, "subjects"); subjects && subjects->IsArray())
      for (const auto& s : subjects->GetArray())
        if (json::get_string(s, {"kind"}) == "ServiceAccount") {
          std::string sns = json::get_string(s, {"namespace"});
          if (sns.empty()) sns = n.ns;
          n.subjects.push_back(sns + "/" + json::get_string(s, {"name"}));
        }
  if (auto* whs = json::find(obj, "webhooks"); whs && whs->IsArray())
    for (const auto& w : whs->GetArray())
      if (auto* svc = json::at(w, {"clientConfig", "service"}))
        n.calls.push_back(json::get_string(*svc, {"namespace"}) + "/" + json::get_string(*svc, {"name"}));
  if (n.gr == "apiservices.apiregistration.k8s.io")
    if (auto* svc = json::at(obj, {"spec", "service"}))
      n.calls.push_back(json::get_string(*svc, {"namespace"}) + "/" + json::get_string(*svc, {"name"}));
  if (n.gr == "secrets") {
    const std::string type = json::get_string(obj, {"type"});
    auto owner = n.labels.find("owner"), rel = n.labels.find("name");
    if (owner != n.labels.end() && owner->second == "helm" && rel != n.labels.end()) {
      n.helm_version = helm_version_of(n.name, rel->second);
      if (n.helm_version > 0) n.helm_storage = n.ns + "/" + rel->second;
    }
    if (type == "kubernetes.io/service-account-token") n.managed = true;
  }
  if ((n.gr == "serviceaccounts" && n.name == "default") || (n.gr == "configmaps" && n.name == "kube-root-ca.crt") ||
      n.gr == "endpoints" || n.gr == "endpointslices.discovery.k8s.io" ||
      (n.gr == "services" && n.ns == "default" && n.name == "kubernetes"))
    n.managed = true;
  return n;
}

// Everything in the namespaces looked at and every cluster-scoped object, nothing followed.
class DiscoverScope final : public Scope {
public:
  DiscoverScope(std::vector<std::string> namespaces, const kube::Discovery& d) : m_namespaces(std::move(namespaces)) {
    for (const auto& rt : d.all_versions()) m_served.insert(rt.group_resource());
  }
  Decision type(const kube::ResourceType& rt) const override {
    const std::string gr = rt.group_resource();
    if (auto verb = rt.missing_backup_verb(); !verb.empty()) return {false, gr + " does not support " + std::string(verb)};
    if (is_events(gr)) return {false, "events are not part of applications"};
    if (gr == "events.events.k8s.io" || (rt.group == "extensions" && m_served.count(rt.resource + ".apps")) ||
        (gr == "ingresses.extensions" && m_served.count("ingresses.networking.k8s.io")) ||
        (gr == "networkpolicies.extensions" && m_served.count("networkpolicies.networking.k8s.io")))
      return {false, "listed through its current group"};
    return {true, ""};
  }
  Decision namespace_(std::string_view ns) const override {
    if (m_namespaces.empty()) return {!k_system_namespaces.count(std::string(ns)), ""};
    return {std::find(m_namespaces.begin(), m_namespaces.end(), ns) != m_namespaces.end(), ""};
  }
  bool namespaces_include_everything() const override { return false; }
  bool lists_per_namespace() const override { return !m_namespaces.empty(); }
  std::vector<std::string> namespaces_to_list(const std::vector<std::string>& existing) const override {
    std::vector<std::string> out;
    for (const auto& ns : m_namespaces)
      if (std::find(existing.begin(), existing.end(), ns) != existing.end()) out.push_back(ns);
    return out;
  }
  std::vector<std::string> list_selectors(const kube::ResourceType&) const override { return {""}; }
  Match object(const kube::ResourceType&, const json::Value&) const override { return {true, -1, "", ""}; }
  Decision related_type(const kube::ResourceType&) const override { return {true, ""}; }
  Match related(const kube::ResourceType&, std::string_view, std::string_view, const json::Value*, int) const override {
    return {true, -1, "", ""};
  }
  Match namespace_object(std::string_view ns, const json::Value&, bool, int) const override {
    return {namespace_(ns).included, -1, "", ""};
  }
  Follow follow(int) const override { return Follow::none; }

private:
  std::vector<std::string> m_namespaces;
  std::set<std::string> m_served;
};

class NodeSink final : public Sink {
public:
  NodeSink(std::vector<Node>& nodes, Drafts& drafts, util::ProgressSink* progress)
      : m_nodes(nodes), m_drafts(drafts), m_progress(progress) {}
  Result<void> take(const kube::ResourceType& rt, const json::Value& obj, const Reason&) override {
    Node n = make_node(rt, obj);
    std::lock_guard lock(m_mu);
    m_nodes.push_back(std::move(n));
    return {};
  }
  void outcome(const Outcome& o) override {
    if (o.outcome == "failed") ++m_drafts.failures;
    if (o.outcome != "skipped") {
      m_drafts.warnings.push_back(o.line());
    }
  }
  void progress(const std::string& current) override {
    if (!m_progress) return;
    util::ProgressState st;
    st.phase = "app discover";
    {
      std::lock_guard lock(m_mu);
      st.items_done = m_nodes.size();
    }
    st.current = current;
    if (current.empty()) m_progress->finish(st);
    else m_progress->update(st);
  }

private:
  std::vector<Node>& m_nodes;
  Drafts& m_drafts;
  util::ProgressSink* m_progress;
  std::mutex m_mu;
};

std::string sanitize_name(std::string s) {
  s = util::to_lower(s);
  for (char& c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) c = '-';
  while (!s.empty() && (s.front() == '-' || s.front() == '.')) s.erase(s.begin());
  while (!s.empty() && (s.back() == '-' || s.back() == '.')) s.pop_back();
  if (s.size() > 200) s.resize(200);
  return s.empty() ? "app" : s;
}

bool selector_matches(const std::map<std::string, std::string>& selector, const std::map<std::string, std::string>& labels) {
  if (selector.empty()) return false;
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

// Groups and the drafts made of them.
struct Group {
  enum class Kind { helm, label, namespace_, unassigned } kind = Kind::label;
  std::string key;    // "ns/release", "label=value", namespace
  std::string label;  // label key for Kind::label
  std::string value;
  std::string name;   // application name
  std::vector<size_t> members;
};

class Analysis {
public:
  Analysis(std::vector<Node>& nodes) : m_nodes(nodes) {
    for (size_t i = 0; i < m_nodes.size(); ++i) {
      const Node& n = m_nodes[i];
      if (!n.uid.empty()) m_by_uid[n.uid] = i;
      m_by_key[item_key(n.gr, n.ns, n.name)] = i;
    }
  }

  std::vector<Group> run() {
    group_by_helm_and_labels();
    propagate_owners();
    services_by_selector();
    usage();
    leftovers();
    return std::move(m_groups);
  }

  std::vector<Node>& nodes() { return m_nodes; }

private:
  int group_for(Group::Kind kind, const std::string& key, const std::string& label, const std::string& value,
                const std::string& name) {
    const std::string k = std::to_string(static_cast<int>(kind)) + "\x1f" + key;
    auto it = m_group_index.find(k);
    if (it != m_group_index.end()) return it->second;
    Group g;
    g.kind = kind;
    g.key = key;
    g.label = label;
    g.value = value;
    g.name = name;
    m_groups.push_back(std::move(g));
    m_group_index[k] = static_cast<int>(m_groups.size() - 1);
    return static_cast<int>(m_groups.size() - 1);
  }

  void join(size_t i, int g, std::string how) {
    m_nodes[i].group = g;
    m_nodes[i].how = std::move(how);
    m_groups[static_cast<size_t>(g)].members.push_back(i);
  }

  void group_by_helm_and_labels() {
    // The newest storage Secret of each release.
    std::map<std::string, std::pair<int64_t, size_t>> newest;
    for (size_t i = 0; i < m_nodes.size(); ++i) {
      const Node& n = m_nodes[i];
      if (n.helm_storage.empty()) continue;
      auto& best = newest[n.helm_storage];
      if (n.helm_version > best.first) best = {n.helm_version, i};
    }
    for (const auto& [rel, best] : newest) {
      m_newest_storage[rel] = best.second;
      const std::string name = rel.substr(rel.find('/') + 1);
      join(best.second, group_for(Group::Kind::helm, rel, "", "", name), "Helm storage Secret (newest)");
    }
    for (size_t i = 0; i < m_nodes.size(); ++i) {
      Node& n = m_nodes[i];
      if (n.group >= 0 || n.managed || !n.helm_storage.empty()) continue;
      if (!n.helm.empty()) {
        join(i, group_for(Group::Kind::helm, n.helm, "", "", n.helm.substr(n.helm.find('/') + 1)), "Helm annotations");
        continue;
      }
      for (const char* key : {k_part_of, k_instance, k_name}) {
        auto it = n.labels.find(key);
        if (it == n.labels.end() || it->second.empty()) continue;
        join(i, group_for(Group::Kind::label, std::string(key) + "=" + it->second, key, it->second, it->second),
             "label " + std::string(key) + "=" + it->second);
        break;
      }
    }
  }

  void propagate_owners() {
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t i = 0; i < m_nodes.size(); ++i) {
        Node& n = m_nodes[i];
        if (n.group >= 0 || n.managed) continue;
        for (const auto& uid : n.owner_uids) {
          auto it = m_by_uid.find(uid);
          if (it == m_by_uid.end() || m_nodes[it->second].group < 0) continue;
          join(i, m_nodes[it->second].group, "owned by " + m_nodes[it->second].display());
          changed = true;
          break;
        }
      }
    }
  }

  void services_by_selector() {
    std::map<std::string, std::vector<size_t>> pods_by_ns;  // grouped pods and workloads with pod labels
    for (size_t i = 0; i < m_nodes.size(); ++i)
      if (m_nodes[i].group >= 0 && !m_nodes[i].pod_labels.empty()) pods_by_ns[m_nodes[i].ns].push_back(i);
    for (size_t i = 0; i < m_nodes.size(); ++i) {
      Node& s = m_nodes[i];
      if (s.gr != "services" || s.group >= 0 || s.selector.empty()) continue;
      for (size_t pi : pods_by_ns[s.ns]) {
        const Node& p = m_nodes[pi];
        if (!selector_matches(s.selector, p.pod_labels)) continue;
        join(i, p.group, "selects the pods of " + p.display());
        break;
      }
    }
  }

  std::optional<size_t> find(const std::string& gr, const std::string& ns, const std::string& name) const {
    auto it = m_by_key.find(item_key(gr, ns, name));
    if (it == m_by_key.end()) return std::nullopt;
    return it->second;
  }

  void use(size_t target, int g, const std::string& why, std::vector<size_t>& queue) {
    Node& t = m_nodes[target];
    if (t.group == g) return;
    if (t.used_by.emplace(g, why).second) queue.push_back(target);
  }

  // What each group refers to, transitively: following will add these (they are noted, not made members).
  void usage() {
    std::vector<size_t> queue;
    std::map<std::string, std::set<int>> sa_groups, svc_groups;
    auto visit = [&](size_t i, int g) {
      const Node& n = m_nodes[i];
      for (const Ref& r : n.refs) {
        if (r.resource.empty()) continue;  // owners: the other way round
        if (auto t = find(r.group_resource(), r.ns, r.name)) use(*t, g, r.via + " of " + n.display(), queue);
      }
      if (n.gr == "serviceaccounts") sa_groups[n.ns + "/" + n.name].insert(g);
      if (n.gr == "services") svc_groups[n.ns + "/" + n.name].insert(g);
      auto dot = n.gr.find('.');
      if (dot != std::string::npos && n.gr.find('.', dot + 1) != std::string::npos)
        if (auto crd = find("customresourcedefinitions.apiextensions.k8s.io", "", n.gr))
          use(*crd, g, "definition of " + n.gr, queue);
      if (!n.helm.empty())
        if (auto it = m_newest_storage.find(n.helm); it != m_newest_storage.end() && m_nodes[it->second].group != g)
          use(it->second, g, "storage Secret of Helm release " + n.helm, queue);
    };
    for (;;) {
      for (size_t i = 0; i < m_nodes.size(); ++i)
        if (m_nodes[i].group >= 0 && !m_visited.count({i, m_nodes[i].group})) {
          m_visited.insert({i, m_nodes[i].group});
          visit(i, m_nodes[i].group);
        }
      while (!queue.empty()) {
        const size_t i = queue.back();
        queue.pop_back();
        for (const auto& [g, why] : m_nodes[i].used_by)
          if (m_visited.insert({i, g}).second) visit(i, g);
      }
      // Bindings naming a group's ServiceAccounts, webhooks and APIServices calling its Services.
      bool added = false;
      for (size_t i = 0; i < m_nodes.size(); ++i) {
        const Node& n = m_nodes[i];
        for (const auto& sa : n.subjects)
          if (auto it = sa_groups.find(sa); it != sa_groups.end())
            for (int g : it->second)
              if (n.group != g && !n.used_by.count(g)) {
                use(i, g, "binds ServiceAccount " + sa, queue);
                added = true;
              }
        for (const auto& svc : n.calls)
          if (auto it = svc_groups.find(svc); it != svc_groups.end())
            for (int g : it->second)
              if (n.group != g && !n.used_by.count(g)) {
                use(i, g, "calls Service " + svc, queue);
                added = true;
              }
      }
      if (!added && queue.empty()) break;
    }
  }

  // Namespaced objects no group has and no group uses: a namespace with one group gives them to it, a namespace
  // with none is an application of its own, a namespace with several keeps them apart (<ns>-unassigned).
  void leftovers() {
    std::map<std::string, std::set<int>> ns_groups;
    for (const Node& n : m_nodes)
      if (n.group >= 0 && !n.ns.empty()) ns_groups[n.ns].insert(n.group);
    for (size_t i = 0; i < m_nodes.size(); ++i) {
      Node& n = m_nodes[i];
      if (n.group >= 0 || n.ns.empty() || n.managed || n.controller_owned || !n.used_by.empty()) continue;
      auto& gs = ns_groups[n.ns];
      if (gs.empty()) {
        join(i, group_for(Group::Kind::namespace_, n.ns, "", "", n.ns), "in namespace " + n.ns);
      } else if (gs.size() == 1 && m_groups[static_cast<size_t>(*gs.begin())].kind != Group::Kind::unassigned) {
        join(i, *gs.begin(), "the only application in namespace " + n.ns);
      } else {
        join(i, group_for(Group::Kind::unassigned, n.ns, "", "", n.ns + "-unassigned"),
             "namespace " + n.ns + " holds several applications");
      }
    }
    // Namespaces with only managed objects still make an application: the namespace itself.
    for (size_t i = 0; i < m_nodes.size(); ++i) {
      Node& n = m_nodes[i];
      // default always exists: holding nothing of its own, it is no application.
      if (n.gr != "namespaces" || n.group >= 0 || n.name == "default") continue;
      if (ns_groups.count(n.name) && !ns_groups[n.name].empty()) continue;
      bool has_objects = false;
      for (const Node& o : m_nodes) has_objects = has_objects || (o.ns == n.name && o.group >= 0);
      if (!has_objects) join(i, group_for(Group::Kind::namespace_, n.name, "", "", n.name), "namespace " + n.name);
    }
  }

  std::vector<Node>& m_nodes;
  std::vector<Group> m_groups;
  std::map<std::string, int> m_group_index;
  std::map<std::string, size_t> m_by_uid, m_by_key;
  std::set<std::pair<size_t, int>> m_visited;
  std::map<std::string, size_t> m_newest_storage;  // release "ns/name" -> its newest storage Secret
};

json::Value strings(const std::vector<std::string>& v, json::Allocator& a) {
  json::Value arr(rapidjson::kArrayType);
  for (const auto& s : v) arr.PushBack(json::make_string(s, a), a);
  return arr;
}

std::string summarize(const std::vector<std::string>& items, size_t max = 8) {
  std::string s;
  for (size_t i = 0; i < items.size() && i < max; ++i) s += (i ? ", " : "") + items[i];
  if (items.size() > max) s += " and " + std::to_string(items.size() - max) + " more";
  return s;
}

Draft make_draft(const Group& g, const std::vector<Node>& nodes, int gi, const std::map<std::string, std::set<int>>& ns_groups,
                 const std::vector<Group>& groups) {
  Draft d;
  d.name = sanitize_name(g.name);
  std::set<std::string> namespaces;
  std::vector<const Node*> cluster_members, ns_members, unlabeled_joined, controller_owned;
  for (size_t i : g.members) {
    const Node& n = nodes[i];
    if (!n.ns.empty()) namespaces.insert(n.ns);
    if (n.gr == "namespaces") {  // a namespace in the group (labelled, or one holding nothing else)
      namespaces.insert(n.name);
      continue;
    }
    (n.ns.empty() ? cluster_members : ns_members).push_back(&n);
  }
  d.namespaces.assign(namespaces.begin(), namespaces.end());
  std::vector<std::string> followed, shared;
  for (const Node& n : nodes) {
    auto it = n.used_by.find(gi);
    // What the cluster makes (kube-root-ca.crt, default ServiceAccounts, tokens) is followed, but not worth a word.
    if (it == n.used_by.end() || n.group == gi || n.managed) continue;
    followed.push_back(n.display() + " (" + it->second + ")");
    std::vector<std::string> others;
    for (const auto& [og, why] : n.used_by)
      if (og != gi) others.push_back(groups[static_cast<size_t>(og)].name);
    if (n.group >= 0 && n.group != gi) others.push_back(groups[static_cast<size_t>(n.group)].name);
    if (!others.empty()) shared.push_back(n.display() + " (also " + util::join(others, ", ") + ")");
  }
  d.objects = g.members.size() + followed.size();
  auto add_part = [&](const std::string& name, const std::function<void(json::Value&, json::Allocator&)>& fill,
                      std::vector<std::string> comments) {
    DraftPart p;
    p.part.SetObject();
    auto& a = p.part.GetAllocator();
    p.part.AddMember("name", json::make_string(name, a), a);
    fill(p.part, a);
    p.comments = std::move(comments);
    d.parts.push_back(std::move(p));
  };
  // Namespaces only this application lives in are taken whole.
  bool exclusive = !namespaces.empty();
  for (const auto& ns : namespaces) {
    auto it = ns_groups.find(ns);
    exclusive = exclusive && it != ns_groups.end() && it->second.size() == 1;
  }
  for (const Node* n : ns_members)
    if (n->controller_owned) controller_owned.push_back(n);
  auto members_note = [&](const std::vector<const Node*>& v) {
    std::vector<std::string> s;
    for (const Node* n : v)
      if (!n->controller_owned) s.push_back(n->display());
    return summarize(s);
  };
  std::vector<std::string> following_note;
  if (!followed.empty()) following_note.push_back("following adds " + std::to_string(followed.size()) + ": " + summarize(followed));
  if (!shared.empty()) following_note.push_back("shared with other applications: " + summarize(shared));
  if (!controller_owned.empty())
    following_note.push_back(std::to_string(controller_owned.size()) +
                             " object(s) owned by controllers of this application (ReplicaSets, Pods, ...) are taken "
                             "and skipped at restore: their controllers recreate them");

  if (g.kind == Group::Kind::helm) {
    const std::string rel_ns = g.key.substr(0, g.key.find('/'));
    const std::string rel = g.key.substr(g.key.find('/') + 1);
    d.origin = "Helm release " + g.key;
    std::vector<std::string> c{"from Helm release " + g.key + ": every object with its meta.helm.sh/release-* "
                               "annotations (" + std::to_string(g.members.size()) + " now) and the newest storage Secret"};
    if (!members_note(ns_members).empty()) c.push_back("namespaced: " + members_note(ns_members));
    if (!cluster_members.empty()) c.push_back("cluster-scoped: " + members_note(cluster_members));
    c.insert(c.end(), following_note.begin(), following_note.end());
    add_part("release", [&](json::Value& p, json::Allocator& a) {
      json::Value h(rapidjson::kObjectType);
      h.AddMember("namespace", json::make_string(rel_ns, a), a);
      h.AddMember("name", json::make_string(rel, a), a);
      p.AddMember("helmRelease", h, a);
    }, c);
    // Objects that joined without the annotations (owned by release objects, or the only app of a namespace).
    std::vector<std::string> extra;
    for (const Node* n : ns_members)
      if (n->helm.empty() && !n->controller_owned && n->helm_storage.empty()) extra.push_back(display_key(n->gr, n->ns, n->name));
    if (!extra.empty())
      add_part("unannotated", [&](json::Value& p, json::Allocator& a) {
        json::Value names(rapidjson::kArrayType);
        for (const auto& e : extra) {
          // names take resource/namespace/name with the resource as kubectl knows it
          names.PushBack(json::make_string(e, a), a);
        }
        p.AddMember("names", names, a);
      }, {"in the release's namespace without Helm's annotations (" + summarize(extra) + ")"});
    return d;
  }
  if (g.kind == Group::Kind::label || g.kind == Group::Kind::namespace_) {
    if (g.kind == Group::Kind::label) d.origin = "label " + g.label + "=" + g.value;
    else d.origin = "namespace " + g.key;
    const std::string sel = g.kind == Group::Kind::label ? g.label + "=" + g.value : "";
    if (!ns_members.empty() || g.kind == Group::Kind::namespace_) {
      std::vector<std::string> c;
      if (exclusive || sel.empty())
        c.push_back("every object of namespace" + std::string(namespaces.size() == 1 ? " " : "s ") +
                    util::join(d.namespaces, ", ") + ": no other application lives there" +
                    (sel.empty() ? "" : " (its objects carry " + sel + ")"));
      else
        c.push_back("objects labelled " + sel + " in " + util::join(d.namespaces, ", ") +
                    " (other applications share the namespace)");
      if (const std::string m = members_note(ns_members); !m.empty()) c.push_back("members: " + m);
      c.insert(c.end(), following_note.begin(), following_note.end());
      add_part(g.kind == Group::Kind::label ? "workloads" : "namespace", [&](json::Value& p, json::Allocator& a) {
        p.AddMember("namespaces", strings(d.namespaces, a), a);
        if (!(exclusive || sel.empty())) p.AddMember("selector", json::make_string(sel, a), a);
      }, c);
      following_note.clear();
      if (!(exclusive || sel.empty())) {
        std::vector<std::string> extra;
        std::vector<std::string> why;
        for (const Node* n : ns_members) {
          if (n->controller_owned || util::starts_with(n->how, "label ")) continue;
          extra.push_back(display_key(n->gr, n->ns, n->name));
          why.push_back(n->display() + " (" + n->how + ")");
        }
        if (!extra.empty())
          add_part("unlabelled", [&](json::Value& p, json::Allocator& a) { p.AddMember("names", strings(extra, a), a); },
                   {"without the label but part of it: " + summarize(why)});
      }
    }
    if (!cluster_members.empty()) {
      std::set<std::string> types;
      for (const Node* n : cluster_members) types.insert(n->gr);
      std::vector<std::string> c{"cluster-scoped objects labelled " + sel + ": " + members_note(cluster_members)};
      c.insert(c.end(), following_note.begin(), following_note.end());
      add_part("cluster", [&](json::Value& p, json::Allocator& a) {
        p.AddMember("clusterResources", strings(std::vector<std::string>(types.begin(), types.end()), a), a);
        if (!sel.empty()) p.AddMember("selector", json::make_string(sel, a), a);
      }, c);
    }
    return d;
  }
  // unassigned
  d.origin = "namespace " + g.key + ", not attributable to one application";
  std::vector<std::string> names;
  for (const Node* n : ns_members)
    if (!n->controller_owned) names.push_back(display_key(n->gr, n->ns, n->name));
  std::vector<std::string> c{"namespace " + g.key + " holds several applications; these objects belong to none of "
                             "them by label, owner or reference: assign them or drop this definition"};
  c.insert(c.end(), following_note.begin(), following_note.end());
  add_part("objects", [&](json::Value& p, json::Allocator& a) { p.AddMember("names", strings(names, a), a); }, c);
  return d;
}

std::string indent(const std::string& text, const std::string& prefix) {
  std::string out;
  for (const auto& line : util::split(text, '\n', false)) {
    if (line.empty()) continue;
    out += prefix + line + "\n";
  }
  return out;
}

}  // namespace

json::Document Draft::definition() const {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  d.AddMember("apiVersion", json::make_string(k_api_version, a), a);
  d.AddMember("kind", json::make_string(k_kind, a), a);
  json::Value meta(rapidjson::kObjectType);
  meta.AddMember("name", json::make_string(name, a), a);
  meta.AddMember("description", json::make_string("drafted by kbk app discover from " + origin, a), a);
  d.AddMember("metadata", meta, a);
  json::Value spec(rapidjson::kObjectType);
  json::Value parts_v(rapidjson::kArrayType);
  for (const auto& p : parts) {
    json::Value v;
    v.CopyFrom(p.part, a);
    parts_v.PushBack(v, a);
  }
  spec.AddMember("parts", parts_v, a);
  d.AddMember("spec", spec, a);
  return d;
}

Result<Drafts> discover(kube::Client& client, const kube::Discovery& discovery, const DiscoverOptions& options) {
  Drafts out;
  std::vector<Node> nodes;
  DiscoverScope scope(options.namespaces, discovery);
  NodeSink sink(nodes, out, options.progress);
  WalkOptions wo;
  wo.parallel = options.parallel;
  wo.page_size = options.page_size;
  KBK_TRY(walk(client, discovery, scope, sink, wo));
  out.objects = nodes.size();
  // A stable order whatever order the parallel LISTs delivered in.
  std::sort(nodes.begin(), nodes.end(), [](const Node& a, const Node& b) {
    return std::tie(a.gr, a.ns, a.name) < std::tie(b.gr, b.ns, b.name);
  });
  Analysis analysis(nodes);
  std::vector<Group> groups = analysis.run();
  std::map<std::string, std::set<int>> ns_groups;
  for (const Node& n : nodes)
    if (n.group >= 0 && !n.ns.empty()) ns_groups[n.ns].insert(n.group);
  std::set<std::string> names;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    Draft d = make_draft(groups[gi], nodes, static_cast<int>(gi), ns_groups, groups);
    if (d.parts.empty()) continue;
    std::string base = d.name;
    for (int k = 2; !names.insert(d.name).second; ++k) d.name = base + "-" + std::to_string(k);
    out.applications.push_back(std::move(d));
  }
  std::stable_sort(out.applications.begin(), out.applications.end(),
                   [](const Draft& a, const Draft& b) { return a.name < b.name; });
  return out;
}

std::string drafts_to_yaml(const Drafts& d) {
  std::ostringstream out;
  out << "# Drafted by kbk app discover from " << d.objects << " objects: " << d.applications.size()
      << " application(s). A draft is a start: read it, then `kbk app show` it.\n";
  if (d.failures)
    out << "# Some types or namespaces could not be read (" << d.failures << "): the drafts may miss objects.\n";
  bool first = true;
  for (const auto& a : d.applications) {
    if (!first) out << "---\n";
    first = false;
    out << "# " << a.name << ": " << a.origin << " (" << a.objects << " objects"
        << (a.namespaces.empty() ? "" : " in " + util::join(a.namespaces, ", ")) << ")\n";
    out << "apiVersion: " << k_api_version << "\nkind: " << k_kind << "\nmetadata:\n";
    json::Document meta;
    meta.SetObject();
    meta.AddMember("name", json::make_string(a.name, meta.GetAllocator()), meta.GetAllocator());
    meta.AddMember("description", json::make_string("drafted by kbk app discover from " + a.origin, meta.GetAllocator()),
                   meta.GetAllocator());
    out << indent(json::to_yaml(meta), "  ");
    out << "spec:\n  parts:\n";
    for (const auto& p : a.parts) {
      for (const auto& c : p.comments) out << "  # " << c << "\n";
      json::Document arr;
      arr.SetArray();
      json::Value v;
      v.CopyFrom(p.part, arr.GetAllocator());
      arr.PushBack(v, arr.GetAllocator());
      out << indent(json::to_yaml(arr), "  ");
    }
  }
  return out.str();
}

json::Document drafts_to_json(const Drafts& d) {
  json::Document out;
  out.SetObject();
  auto& a = out.GetAllocator();
  json::Value apps(rapidjson::kArrayType);
  for (const auto& draft : d.applications) {
    json::Value o(rapidjson::kObjectType);
    json::Document def = draft.definition();
    json::Value dv;
    dv.CopyFrom(def, a);
    o.AddMember("definition", dv, a);
    o.AddMember("origin", json::make_string(draft.origin, a), a);
    o.AddMember("objects", static_cast<uint64_t>(draft.objects), a);
    json::Value comments(rapidjson::kObjectType);
    for (const auto& p : draft.parts)
      comments.AddMember(json::make_string(json::get_string(p.part, {"name"}), a), strings(p.comments, a), a);
    o.AddMember("comments", comments, a);
    apps.PushBack(o, a);
  }
  out.AddMember("applications", apps, a);
  out.AddMember("warnings", strings(d.warnings, a), a);
  out.AddMember("objectsRead", static_cast<uint64_t>(d.objects), a);
  return out;
}

}  // namespace kbk::app
