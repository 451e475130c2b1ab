// The walk (see walk.hpp). This is the collection backup create has always run (parallel paged LISTs, related
// objects after the main pass), with the selection behind a Scope and the destination behind a Sink, so that
// applications, app show and restore --app run the same code over the live cluster or a backup's contents.
#include <kbk/app/walk.hpp>
#include <kbk/kube/resource.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <kbk/util/key_set.hpp>
#include <kbk/util/strings.hpp>

#include "related.hpp"

namespace kbk::app {

const char* how_name(How h) {
  switch (h) {
    case How::matched: return "matched";
    case How::followed: return "followed";
    case How::namespace_: return "namespace";
    case How::helm: return "helm";
  }
  return "matched";
}

std::string Reason::text() const {
  switch (how) {
    case How::matched: return detail.empty() ? std::string("selected") : detail;
    case How::followed: return "followed from " + from + (detail.empty() ? "" : " via " + detail);
    case How::namespace_: return "namespace of selected objects";
    case How::helm: return "newest storage Secret of Helm release " + from + (detail.empty() ? "" : " " + detail);
  }
  return detail;
}

std::string Outcome::line() const {
  if (scope == "selection") return "selection: " + reason + ": " + message;  // about the flags, not a type
  std::string s = group.empty() ? resource : resource + "." + group;
  if (s.empty()) s = "api discovery";
  if (!ns.empty()) s += (scope == "item" ? "/" : ": namespace ") + ns;
  if (!name.empty()) s += "/" + name;
  s += ": " + reason;
  if (!message.empty()) s += ": " + message;
  return s;
}

void Sink::note(log::Level level, const std::string& line) {
  if (level == log::Level::info) log::info(1, line);
  else log::write(level, line);
}

std::string item_key(std::string_view gr, std::string_view ns, std::string_view name) {
  std::string k(gr);
  k += '\x1f';
  k += ns;
  k += '\x1f';
  k += name;
  return k;
}

std::string display_key(std::string_view gr, std::string_view ns, std::string_view name) {
  std::string s(gr);
  s += '/';
  if (!ns.empty()) {
    s += ns;
    s += '/';
  }
  s += name;
  return s;
}

namespace {

// A LIST whose continue token expired (410) starts again from the top, with pages four times larger each time so
// that it needs fewer continue tokens; objects already taken are skipped.
constexpr int k_relist_attempts = 5;

bool label_true(const json::Value& obj, std::string_view key) {
  const json::Value* labels = json::at(obj, {"metadata", "labels"});
  const json::Value* v = labels ? json::find(*labels, key) : nullptr;
  return v && v->IsString() && std::string_view(v->GetString(), v->GetStringLength()) == "true";
}

// sh.helm.release.v1.<name>.v<N> -> N (0 when the name is not a storage Secret of that release).
int64_t helm_secret_version(std::string_view secret, std::string_view release) {
  const std::string prefix = "sh.helm.release.v1." + std::string(release) + ".v";
  if (!util::starts_with(secret, prefix)) return 0;
  std::string_view n = secret.substr(prefix.size());
  if (n.empty() || n.size() > 9) return 0;
  int64_t v = 0;
  for (char c : n) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + (c - '0');
  }
  return v;
}

struct Pending {
  std::string from;  // display key of the object that referenced it
  std::string via;
  int part = -1;
};

// The LISTs of one type the main pass makes at most before it lists more broadly (list_type).
constexpr size_t k_max_lists_per_type = 4;

class Walker {
public:
  Walker(kube::Client& client, const kube::Discovery& discovery, const Scope& scope, Sink& sink, const WalkOptions& opt)
      : m_client(client), m_discovery(discovery), m_scope(scope), m_sink(sink), m_opt(opt) {
    m_types = discovery.preferred();
  }

  Result<void> run() {
    for (const auto& w : m_discovery.warnings())
      add_outcome({"failed", "DiscoveryFailed", "type", "", "", "", "", 0, w});
    KBK_TRY(list_namespaces());
    KBK_TRY(main_pass());
    KBK_TRY(helm_parts());
    // Following: each step may take objects that lead to more; stop when a round takes nothing new.
    for (size_t before = SIZE_MAX; before != taken_count();) {
      before = taken_count();
      KBK_TRY(drain_related());
      KBK_TRY(scan_bindings());
      KBK_TRY(drain_related());
      KBK_TRY(crds_of_custom_resources());
      KBK_TRY(drain_related());
      KBK_TRY(webhooks_of_services());
      KBK_TRY(helm_release_secrets());
    }
    KBK_TRY(namespace_objects());
    m_sink.progress("");
    return {};
  }

private:
  // ---- bookkeeping -------------------------------------------------------------------------------------------
  size_t taken_count() {
    std::lock_guard lock(m_mu);
    return m_taken.size();
  }

  void trace(const std::string& key, const std::string& event) {
    if (!m_opt.trace || key != m_opt.trace_key) return;
    std::lock_guard lock(m_trace_mu);
    m_opt.trace->push_back(event);
  }

  void add_outcome(Outcome o) {
    if (m_opt.trace && o.scope == "item")
      trace(item_key(o.group.empty() ? o.resource : o.resource + "." + o.group, o.ns, o.name),
            o.outcome + ": " + o.reason + (o.message.empty() ? "" : " (" + o.message + ")"));
    std::lock_guard lock(m_sink_mu);
    m_sink.outcome(o);
  }

  void note(log::Level level, const std::string& line) {
    std::lock_guard lock(m_sink_mu);
    m_sink.note(level, line);
  }

  void progress(const std::string& current) {
    std::lock_guard lock(m_sink_mu);
    m_sink.progress(current);
  }

  Outcome api_outcome(const kube::ResourceType& rt, std::string_view ns, std::string_view name, const Error& e,
                      const char* fallback_reason) {
    Outcome o;
    o.outcome = "failed";
    o.scope = name.empty() ? "type" : "item";
    o.group = rt.group;
    o.resource = rt.resource;
    o.ns = std::string(ns);
    o.name = std::string(name);
    o.http_status = e.http_status;
    o.message = e.message;
    switch (e.code) {
      case Errc::forbidden: o.reason = "Forbidden"; break;
      case Errc::unauthorized: o.reason = "Unauthorized"; break;
      case Errc::gone: o.reason = "Gone"; break;
      case Errc::not_found: o.reason = "NotFound"; break;
      default: o.reason = fallback_reason;
    }
    return o;
  }

  Result<void> fatal_if_any() {
    std::lock_guard lock(m_mu);
    if (m_fatal) return *m_fatal;
    return {};
  }

  const kube::ResourceType* find_type(std::string_view group, std::string_view resource) const {
    for (const auto& rt : m_types)
      if (rt.group == group && rt.resource == resource) return &rt;
    return nullptr;
  }

  // ---- one object --------------------------------------------------------------------------------------------
  // Takes obj unless it is being deleted, opted out, or already taken.
  Result<void> take(const kube::ResourceType& rt, const json::Value& obj, const Reason& why) {
    const std::string ns = rt.namespaced ? json::get_string(obj, {"metadata", "namespace"}) : "";
    const std::string name = json::get_string(obj, {"metadata", "name"});
    const std::string gr = rt.group_resource();
    if (name.empty()) return {};
    const std::string key = item_key(gr, ns, name);
    if (json::at(obj, {"metadata", "deletionTimestamp"})) {
      add_outcome({"skipped", "BeingDeleted", "item", rt.group, rt.resource, ns, name, 0, "deletionTimestamp is set"});
      return {};
    }
    if (label_true(obj, "velero.io/exclude-from-backup")) {
      add_outcome({"skipped", "ExcludedByLabel", "item", rt.group, rt.resource, ns, name, 0,
                   "label velero.io/exclude-from-backup=true"});
      return {};
    }
    if (label_true(obj, "kbk.io/temporary")) {
      // What a kbk run creates while it moves volume data (helper pods, temporary claims and snapshots; volume
      // module, docs/volumes.md): never backed up, never restored.
      add_outcome({"skipped", "KbkTemporary", "item", rt.group, rt.resource, ns, name, 0,
                   "label kbk.io/temporary=true: a kbk volume mover's object"});
      return {};
    }
    {
      std::lock_guard lock(m_mu);
      if (!m_taken.insert(key)) return {};
    }
    if (auto r = m_sink.take(rt, obj, why); !r) {
      std::lock_guard lock(m_mu);
      if (!m_fatal) m_fatal = r.error();
      return std::move(r).error();
    }
    const Follow follow = m_scope.follow(why.part);
    std::vector<Ref> refs = related_refs(gr, obj, follow);
    {
      std::lock_guard lock(m_mu);
      if (!ns.empty()) m_ns_with_items.emplace(ns, why.part);
      if (m_taken_types.insert(gr).second) m_type_part[gr] = why.part;
      if (follow != Follow::none && gr == "serviceaccounts") m_service_accounts.emplace(ns + "/" + name, why.part);
      if (follow == Follow::application && gr == "services") m_services.emplace(ns + "/" + name, why.part);
      if (follow == Follow::application) {
        const std::string rel = json::get_string(obj, {"metadata", "annotations", "meta.helm.sh/release-name"});
        const std::string rel_ns = json::get_string(obj, {"metadata", "annotations", "meta.helm.sh/release-namespace"});
        if (!rel.empty() && !rel_ns.empty() && !(gr == "secrets" && util::starts_with(name, "sh.helm.release.v1.")))
          m_helm_followed.emplace(rel_ns + "/" + rel, Pending{display_key(gr, ns, name), "Helm release annotations", why.part});
      }
      const std::string from = display_key(gr, ns, name);
      for (auto& r : refs) {
        if (!r.resource.empty() && m_taken.contains(item_key(r.group_resource(), r.ns, r.name))) continue;
        std::string via = r.via;
        Pending p{from, std::move(via), why.part};
        // Types are listed in parallel: of several objects referring to the same one, the first part, then the
        // smallest key, is named, so the reason does not depend on which LIST answered first.
        auto [at, added] = m_pending.emplace(std::move(r), p);
        if (!added && std::tie(p.part, p.from, p.via) < std::tie(at->second.part, at->second.from, at->second.via))
          at->second = std::move(p);
      }
    }
    if (m_opt.trace) {
      if (why.how == How::matched)
        trace(key, "taken in the main pass" + (why.detail.empty() ? std::string() : ": " + why.detail) +
                       (why.part >= 0 ? " (" + m_scope.part_name(why.part) + ")" : ""));
      else if (why.how == How::followed)
        trace(key, "taken as a related object of " + why.from + (why.detail.empty() ? "" : " via " + why.detail) +
                       (why.part >= 0 ? " (" + m_scope.part_name(why.part) + ")" : ""));
      else
        trace(key, "taken: " + why.text() + (why.part >= 0 ? " (" + m_scope.part_name(why.part) + ")" : ""));
    }
    return {};
  }

  // A listed object: asks the scope, records explicit exclusions.
  Result<void> consider(const kube::ResourceType& rt, const json::Value& obj) {
    const Match m = m_scope.object(rt, obj);
    if (!m.included) {
      const std::string ns = rt.namespaced ? json::get_string(obj, {"metadata", "namespace"}) : "";
      const std::string name = json::get_string(obj, {"metadata", "name"});
      if (!m.skip_outcome.empty())
        add_outcome({"skipped", m.skip_outcome, "item", rt.group, rt.resource, ns, name, 0, m.reason});
      else if (m_opt.trace && !m.reason.empty())
        trace(item_key(rt.group_resource(), ns, name), "not taken: " + m.reason);
      return {};
    }
    return take(rt, obj, Reason{How::matched, m.part, m.reason, ""});
  }

  // ---- main pass ---------------------------------------------------------------------------------------------
  Result<void> list_namespaces() {
    const kube::ResourceType* ns_rt = find_type("", "namespaces");
    if (!ns_rt) return {};
    kube::ListOptions lo;
    lo.limit = m_opt.page_size;
    auto r = m_client.list(*ns_rt, "", lo, [&](kube::ListPage& page) -> Result<void> {
      const json::Value* items = json::find(page.list, "items");
      if (!items || !items->IsArray()) return {};
      for (const auto& it : items->GetArray()) {
        std::string name = json::get_string(it, {"metadata", "name"});
        m_existing_namespaces.push_back(name);
        if (m_scope.namespace_(name).included) m_namespace_docs.emplace_back(name, json::to_string(it));
      }
      return {};
    });
    m_namespaces_known = r.ok();
    if (!r) {
      // Without the namespace list kbk cannot fall back to per-namespace LISTs, nor take Namespace objects.
      add_outcome(api_outcome(*ns_rt, "", "", r.error(), "ListFailed"));
    }
    return {};
  }

  std::vector<std::string> namespaces_for_fallback() const {
    if (m_scope.lists_per_namespace()) return m_scope.namespaces_to_list(m_existing_namespaces);
    std::vector<std::string> out;
    for (const auto& ns : m_existing_namespaces)
      if (m_scope.namespace_(ns).included) out.push_back(ns);
    return out;
  }

  // One LIST of a type in one scope (ns "" = cluster-wide), re-listed from the start when the continue token
  // expires; objects already taken are skipped on the second round.
  Result<void> list_scope(const kube::ResourceType& rt, const std::string& ns, const std::string& selector,
                          std::optional<Error>& api_error) {
    kube::ListOptions lo;
    lo.limit = m_opt.page_size;
    lo.label_selector = selector;
    const bool filter_ns = rt.namespaced && ns.empty() && !m_scope.namespaces_include_everything();
    for (int attempt = 1;; ++attempt) {
      auto r = m_client.list(rt, ns, lo, [&](kube::ListPage& page) -> Result<void> {
        json::Value* items = json::find(page.list, "items");
        if (!items || !items->IsArray()) return {};
        for (auto& it : items->GetArray()) {
          if (filter_ns && !m_scope.namespace_(json::get_string(it, {"metadata", "namespace"})).included) continue;
          KBK_TRY(consider(rt, it));
        }
        progress(rt.group_resource());
        return {};
      });
      if (r) return {};
      KBK_TRY(fatal_if_any());
      if (r.error().is(Errc::gone) && attempt < k_relist_attempts) {
        if (lo.limit > 0) lo.limit = std::min<int64_t>(lo.limit * 4, 10000);
        note(log::Level::info, rt.group_resource() + (ns.empty() ? "" : " in namespace " + ns) +
                                   ": the continue token expired; listing again from the start (pages of " +
                                   std::to_string(lo.limit) + ")");
        continue;
      }
      api_error = std::move(r).error();
      return {};
    }
  }

  Result<void> list_type(const kube::ResourceType& rt) {
    std::vector<std::string> selectors = m_scope.list_selectors(rt);
    bool per_namespace = rt.namespaced && m_scope.lists_per_namespace();
    std::vector<std::string> namespaces;
    if (per_namespace) namespaces = m_scope.namespaces_to_list(m_existing_namespaces);
    // Every selector in every namespace is one LIST, and requests are what the client's QPS limit counts: twenty
    // applications over a hundred namespaces would be thousands of LISTs per type where a backup makes one. Past
    // k_max_lists_per_type the type is listed more broadly (per namespace without selectors, else cluster-wide) and
    // the scope selects client-side, as it always does.
    if (per_namespace && selectors.size() * namespaces.size() > k_max_lists_per_type) {
      if (namespaces.size() <= k_max_lists_per_type) {
        selectors = {""};
      } else {
        per_namespace = false;
        if (selectors.size() > k_max_lists_per_type) selectors = {""};
      }
    } else if (!per_namespace && selectors.size() > k_max_lists_per_type) {
      selectors = {""};
    }
    for (const auto& selector : selectors) {
      if (per_namespace) {
        for (const auto& ns : namespaces) {
          std::optional<Error> err;
          KBK_TRY(list_scope(rt, ns, selector, err));
          if (err) add_outcome(api_outcome(rt, ns, "", *err, "ListFailed"));
        }
        continue;
      }
      std::optional<Error> err;
      KBK_TRY(list_scope(rt, "", selector, err));
      if (!err) continue;
      if (err->is(Errc::forbidden) && rt.namespaced && m_namespaces_known) {
        note(log::Level::info, rt.group_resource() + ": may not list across namespaces; listing namespace by namespace");
        for (const auto& ns : namespaces_for_fallback()) {
          std::optional<Error> nerr;
          KBK_TRY(list_scope(rt, ns, selector, nerr));
          if (nerr) add_outcome(api_outcome(rt, ns, "", *nerr, "ListFailed"));
        }
        continue;
      }
      if (err->is(Errc::not_found)) {
        add_outcome({"warning", "NotFound", "type", rt.group, rt.resource, "", "", err->http_status,
                     "no longer served: " + err->message});
        continue;
      }
      add_outcome(api_outcome(rt, "", "", *err, "ListFailed"));
    }
    return {};
  }

  // Runs job(i) for i in [0, n) on up to m_opt.parallel threads; stops at the first fatal error.
  template <class Job>
  Result<void> parallel(size_t n, Job job) {
    std::atomic<size_t> next{0};
    auto worker = [&] {
      for (size_t i; (i = next++) < n;) {
        {
          std::lock_guard lock(m_mu);
          if (m_fatal) return;
        }
        auto r = job(i);
        if (!r) {
          std::lock_guard lock(m_mu);
          if (!m_fatal) m_fatal = r.error();
          return;
        }
      }
    };
    const size_t threads_n = std::min<size_t>(static_cast<size_t>(std::max(1, m_opt.parallel)), std::max<size_t>(n, 1));
    std::vector<std::thread> threads;
    for (size_t i = 1; i < threads_n; ++i) threads.emplace_back(worker);
    worker();
    for (auto& t : threads) t.join();
    return fatal_if_any();
  }

  Result<void> main_pass() {
    std::vector<const kube::ResourceType*> jobs;
    for (const auto& rt : m_types) {
      if (rt.group.empty() && rt.resource == "namespaces") continue;  // taken at the end
      auto d = m_scope.type(rt);
      if (m_opt.trace && util::starts_with(m_opt.trace_key, rt.group_resource() + '\x1f')) {
        std::lock_guard lock(m_trace_mu);
        m_opt.trace->push_back(std::string(d.included ? "type listed: " : "type not listed: ") + d.reason);
      }
      if (d.included) jobs.push_back(&rt);
    }
    // Velero's order for the core group: pods, then claims, then volumes (hooks and snapshots rely on it).
    auto rank = [](const kube::ResourceType* rt) {
      if (!rt->group.empty()) return 3;
      if (rt->resource == "pods") return 0;
      if (rt->resource == "persistentvolumeclaims") return 1;
      if (rt->resource == "persistentvolumes") return 2;
      return 3;
    };
    std::stable_sort(jobs.begin(), jobs.end(), [&](auto* a, auto* b) { return rank(a) < rank(b); });
    return parallel(jobs.size(), [&](size_t i) {
      progress(jobs[i]->group_resource());
      return list_type(*jobs[i]);
    });
  }

  // ---- following ---------------------------------------------------------------------------------------------
  // A followed object: asks the scope before and after fetching it.
  Result<void> take_followed(const kube::ResourceType& rt, const json::Value& obj, const Pending& p) {
    const std::string ns = rt.namespaced ? json::get_string(obj, {"metadata", "namespace"}) : "";
    const std::string name = json::get_string(obj, {"metadata", "name"});
    const Match m = m_scope.related(rt, ns, name, &obj, p.part);
    if (!m.included) {
      if (!m.skip_outcome.empty())
        add_outcome({"skipped", m.skip_outcome, "item", rt.group, rt.resource, ns, name, 0,
                     "referenced by " + p.from + "; " + m.reason});
      else if (!m.reason.empty())
        trace(item_key(rt.group_resource(), ns, name), "not taken: " + m.reason);
      return {};
    }
    return take(rt, obj, Reason{How::followed, p.part, p.via, p.from});
  }

  Result<void> fetch_related(const Ref& ref, const Pending& p) {
    const kube::ResourceType* rt = nullptr;
    if (!ref.resource.empty()) {
      rt = find_type(ref.group, ref.resource);
    } else if (const kube::ResourceType* k = m_discovery.find_kind(ref.group, ref.kind)) {
      rt = find_type(k->group, k->resource);  // an owner: its scope decides its namespace
    }
    if (!rt) return {};
    const std::string ns = rt->namespaced ? ref.ns : "";
    if (rt->namespaced && ns.empty()) return {};
    {
      std::lock_guard lock(m_mu);
      if (m_taken.contains(item_key(rt->group_resource(), ns, ref.name))) return {};
    }
    const std::string msg_via = "referenced by " + p.from;
    if (auto d = m_scope.related_type(*rt); !d.included) {
      add_outcome({"skipped", "RelatedExcluded", "item", rt->group, rt->resource, ns, ref.name, 0, msg_via + "; " + d.reason});
      return {};
    }
    if (auto m = m_scope.related(*rt, ns, ref.name, nullptr, p.part); !m.included) {
      add_outcome({"skipped", m.skip_outcome.empty() ? "RelatedExcluded" : m.skip_outcome, "item", rt->group,
                   rt->resource, ns, ref.name, 0, msg_via + "; " + m.reason});
      return {};
    }
    auto doc = m_client.get(*rt, ns, ref.name);
    if (!doc) {
      if (doc.error().is(Errc::not_found)) {
        add_outcome({"skipped", "RelatedNotFound", "item", rt->group, rt->resource, ns, ref.name, 404,
                     msg_via + " but not found"});
        return {};
      }
      Outcome o = api_outcome(*rt, ns, ref.name, doc.error(), "GetFailed");
      o.message = msg_via + ": " + o.message;
      add_outcome(std::move(o));
      return {};
    }
    return take_followed(*rt, *doc, p);
  }

  Result<void> drain_related() {
    for (;;) {
      std::map<Ref, Pending> batch;
      {
        std::lock_guard lock(m_mu);
        batch.swap(m_pending);
      }
      if (batch.empty()) return {};
      std::vector<std::pair<const Ref*, const Pending*>> items;
      for (const auto& [ref, p] : batch) items.emplace_back(&ref, &p);
      KBK_TRY(parallel(items.size(), [&](size_t i) {
        progress("related " + items[i].first->group_resource());
        return fetch_related(*items[i].first, *items[i].second);
      }));
    }
  }

  // Lists a cluster-scoped type or a namespaced one across namespaces (falling back to the given namespaces when
  // that is forbidden), calling on_item for each object. API failures become warnings naming `purpose`.
  Result<void> list_for_following(const kube::ResourceType& rt, const std::set<std::string>& fallback_namespaces,
                                  const std::string& selector, const std::string& purpose,
                                  const std::function<Result<void>(const json::Value&)>& on_item) {
    auto list_in = [&](const std::string& ns) -> Result<void> {
      kube::ListOptions lo;
      lo.limit = m_opt.page_size;
      lo.label_selector = selector;
      return m_client.list(rt, ns, lo, [&](kube::ListPage& page) -> Result<void> {
        const json::Value* items = json::find(page.list, "items");
        if (!items || !items->IsArray()) return {};
        for (const auto& it : items->GetArray()) KBK_TRY(on_item(it));
        return {};
      });
    };
    const bool one_namespace = rt.namespaced && fallback_namespaces.size() == 1;
    auto r = list_in(one_namespace ? *fallback_namespaces.begin() : "");
    if (!r && r.error().is(Errc::forbidden) && rt.namespaced && !one_namespace) {
      r = Result<void>();
      for (const auto& ns : fallback_namespaces) {
        auto nr = list_in(ns);
        if (!nr) KBK_TRY(fatal_if_any());
        if (!nr) add_outcome({"warning", "RelatedListFailed", "type", rt.group, rt.resource, ns, "",
                              nr.error().http_status, purpose + ": " + nr.error().message});
      }
    }
    if (!r) {
      KBK_TRY(fatal_if_any());
      add_outcome({"warning", "RelatedListFailed", "type", rt.group, rt.resource,
                   one_namespace ? *fallback_namespaces.begin() : "", "", r.error().http_status,
                   purpose + ": " + r.error().message});
    }
    return {};
  }

  // ServiceAccount -> the RoleBindings and ClusterRoleBindings naming it (their roles follow through roleRef).
  Result<void> scan_bindings() {
    std::map<std::string, int> sas;
    {
      std::lock_guard lock(m_mu);
      for (const auto& [sa, part] : m_service_accounts)
        if (m_scanned_service_accounts.insert(sa).second) sas.emplace(sa, part);
    }
    if (sas.empty()) return {};
    std::set<std::string> namespaces;
    for (const auto& [sa, part] : sas) namespaces.insert(sa.substr(0, sa.find('/')));
    for (const char* resource : {"clusterrolebindings", "rolebindings"}) {
      const kube::ResourceType* rt = find_type("rbac.authorization.k8s.io", resource);
      if (!rt || !m_scope.related_type(*rt).included) continue;
      KBK_TRY(list_for_following(*rt, namespaces, "", "bindings of service accounts", [&](const json::Value& b) -> Result<void> {
        const std::string bns = json::get_string(b, {"metadata", "namespace"});
        const json::Value* subjects = json::find(b, "subjects");
        if (!subjects || !subjects->IsArray()) return {};
        for (const auto& s : subjects->GetArray()) {
          if (json::get_string(s, {"kind"}) != "ServiceAccount") continue;
          std::string sns = json::get_string(s, {"namespace"});
          if (sns.empty()) sns = bns;
          const std::string sa = sns + "/" + json::get_string(s, {"name"});
          auto it = sas.find(sa);
          if (it == sas.end()) continue;
          if (!bns.empty() && !m_scope.namespace_(bns).included) return {};
          return take_followed(*rt, b, Pending{"serviceaccounts/" + sa, "subjects", it->second});
        }
        return {};
      }));
    }
    return {};
  }

  // Custom resource -> its CustomResourceDefinition (named "<plural>.<group>"), as Velero's backupCRD.
  Result<void> crds_of_custom_resources() {
    const kube::ResourceType* crd = find_type("apiextensions.k8s.io", "customresourcedefinitions");
    if (!crd || !m_scope.related_type(*crd).included) return {};
    std::map<std::string, int> grs;
    {
      std::lock_guard lock(m_mu);
      for (const auto& gr : m_taken_types)
        if (m_scanned_types.insert(gr).second) grs.emplace(gr, m_type_part[gr]);
    }
    for (const auto& [gr, part] : grs) {
      if (m_scope.follow(part) == Follow::none) continue;
      // Only a custom resource has a definition: asking for "roles.rbac.authorization.k8s.io" would be a 404 at best
      // and, under roles that may get only the definitions the backup needs, a "forbidden" warning.
      auto dot = gr.find('.');
      if (dot == std::string::npos || kube::is_builtin_group(std::string_view(gr).substr(dot + 1))) continue;
      {
        std::lock_guard lock(m_mu);
        if (m_taken.contains(item_key(crd->group_resource(), "", gr))) continue;
      }
      Pending p{gr + " objects", "custom resource", part};
      if (auto m = m_scope.related(*crd, "", gr, nullptr, part); !m.included) {
        add_outcome({"skipped", m.skip_outcome.empty() ? "RelatedExcluded" : m.skip_outcome, "item", crd->group,
                     crd->resource, "", gr, 0, "definition of " + gr + "; " + m.reason});
        continue;
      }
      auto doc = m_client.get(*crd, "", gr);
      if (!doc) {
        if (!doc.error().is(Errc::not_found))
          add_outcome({"warning", "GetFailed", "item", crd->group, crd->resource, "", gr, doc.error().http_status,
                       "definition of " + gr + ": " + doc.error().message});
        continue;
      }
      KBK_TRY(take_followed(*crd, *doc, p));
    }
    return {};
  }

  // Service -> the admission webhook configurations and APIServices that call it (applications only).
  Result<void> webhooks_of_services() {
    std::map<std::string, int> services;
    {
      std::lock_guard lock(m_mu);
      for (const auto& [svc, part] : m_services)
        if (m_scanned_services.insert(svc).second) services.emplace(svc, part);
    }
    if (services.empty()) return {};
    if (!m_callers_loaded) {
      m_callers_loaded = true;
      struct Caller {
        const char* group;
        const char* resource;
      };
      for (const Caller& c : {Caller{"admissionregistration.k8s.io", "validatingwebhookconfigurations"},
                              Caller{"admissionregistration.k8s.io", "mutatingwebhookconfigurations"},
                              Caller{"apiregistration.k8s.io", "apiservices"}}) {
        const kube::ResourceType* rt = find_type(c.group, c.resource);
        if (!rt || !m_scope.related_type(*rt).included) continue;
        KBK_TRY(list_for_following(*rt, {}, "", "callers of services", [&](const json::Value& obj) -> Result<void> {
          std::vector<std::string> targets;
          if (auto* whs = json::find(obj, "webhooks"); whs && whs->IsArray())
            for (const auto& w : whs->GetArray())
              if (auto* svc = json::at(w, {"clientConfig", "service"}))
                targets.push_back(json::get_string(*svc, {"namespace"}) + "/" + json::get_string(*svc, {"name"}));
          if (auto* svc = json::at(obj, {"spec", "service"}))
            targets.push_back(json::get_string(*svc, {"namespace"}) + "/" + json::get_string(*svc, {"name"}));
          if (targets.empty()) return {};
          m_callers.push_back({rt, json::clone(obj), std::move(targets)});
          return {};
        }));
      }
    }
    for (const auto& c : m_callers) {
      for (const auto& t : c.targets) {
        auto it = services.find(t);
        if (it == services.end()) continue;
        const char* via = c.rt->resource == "apiservices" ? "APIService spec.service" : "webhook clientConfig.service";
        KBK_TRY(take_followed(*c.rt, c.doc, Pending{"services/" + t, via, it->second}));
        break;
      }
    }
    return {};
  }

  // The newest storage Secret of a release: LIST secrets owner=helm,name=<release> in its namespace.
  Result<std::optional<json::Document>> newest_release_secret(const std::string& ns, const std::string& release,
                                                              int64_t& version) {
    const kube::ResourceType* secrets = find_type("", "secrets");
    if (!secrets) return std::optional<json::Document>();
    std::optional<json::Document> best;
    version = 0;
    KBK_TRY(list_for_following(*secrets, {ns}, "owner=helm,name=" + release, "storage Secrets of Helm release " + ns + "/" + release,
                               [&](const json::Value& s) -> Result<void> {
                                 const int64_t v = helm_secret_version(json::get_string(s, {"metadata", "name"}), release);
                                 if (v > version) {
                                   version = v;
                                   best = json::clone(s);
                                 }
                                 return {};
                               }));
    return best;
  }

  Result<void> helm_parts() {
    for (const auto& [part, rel] : m_scope.helm_releases()) {
      int64_t version = 0;
      KBK_ASSIGN_OR_RETURN(auto secret, newest_release_secret(rel.namespace_, rel.name, version));
      if (!secret) {
        add_outcome({"warning", "HelmReleaseNotFound", "item", "", "secrets", rel.namespace_,
                     "sh.helm.release.v1." + rel.name, 0,
                     m_scope.part_name(part) + ": no storage Secret of Helm release " + rel.namespace_ + "/" + rel.name});
        continue;
      }
      const kube::ResourceType* secrets = find_type("", "secrets");
      KBK_TRY(take(*secrets, *secret, Reason{How::helm, part, "(v" + std::to_string(version) + ")",
                                             rel.namespace_ + "/" + rel.name}));
    }
    return {};
  }

  // Objects carrying Helm's release annotations -> the release's newest storage Secret (applications only).
  Result<void> helm_release_secrets() {
    std::map<std::string, Pending> releases;
    {
      std::lock_guard lock(m_mu);
      for (const auto& [rel, p] : m_helm_followed)
        if (m_scanned_releases.insert(rel).second) releases.emplace(rel, p);
    }
    for (const auto& [rel, p] : releases) {
      const std::string ns = rel.substr(0, rel.find('/'));
      const std::string name = rel.substr(rel.find('/') + 1);
      int64_t version = 0;
      KBK_ASSIGN_OR_RETURN(auto secret, newest_release_secret(ns, name, version));
      if (!secret) continue;
      const kube::ResourceType* secrets = find_type("", "secrets");
      KBK_TRY(take_followed(*secrets, *secret, p));
    }
    return {};
  }

  // Namespace objects last: which ones to take depends on what was taken.
  Result<void> namespace_objects() {
    const kube::ResourceType* ns_rt = find_type("", "namespaces");
    if (!ns_rt) return {};
    auto td = m_scope.type(*ns_rt);
    if (m_opt.trace && util::starts_with(m_opt.trace_key, std::string("namespaces\x1f"))) {
      std::lock_guard lock(m_trace_mu);
      m_opt.trace->push_back(std::string(td.included ? "type listed: " : "type not listed: ") + td.reason);
    }
    if (!td.included) return {};
    std::map<std::string, int> with_items;
    {
      std::lock_guard lock(m_mu);
      with_items = m_ns_with_items;
    }
    for (const auto& [name, text] : m_namespace_docs) {
      auto doc = json::parse(text, "namespace " + name);
      if (!doc) continue;
      auto it = with_items.find(name);
      const bool has_items = it != with_items.end();
      const Match m = m_scope.namespace_object(name, *doc, has_items, has_items ? it->second : -1);
      trace(item_key("namespaces", "", name),
            std::string(m.included ? "namespace kept: " : "namespace not kept: ") + m.reason);
      if (!m.included) continue;
      KBK_TRY(take(*ns_rt, *doc, Reason{has_items ? How::namespace_ : How::matched, m.part,
                                        has_items ? std::string() : m.reason, ""}));
    }
    return {};
  }

  kube::Client& m_client;
  const kube::Discovery& m_discovery;
  const Scope& m_scope;
  Sink& m_sink;
  const WalkOptions& m_opt;
  std::vector<kube::ResourceType> m_types;

  std::mutex m_mu;        // the walk's state below
  std::mutex m_sink_mu;   // outcome(), note(), progress() one at a time
  std::mutex m_trace_mu;
  std::optional<Error> m_fatal;
  util::KeySet m_taken;  // item keys taken (digests: a million objects cost 24 MiB, not ~150)
  std::map<Ref, Pending> m_pending;
  std::map<std::string, int> m_service_accounts, m_services, m_ns_with_items;
  std::set<std::string> m_scanned_service_accounts, m_scanned_services, m_scanned_types, m_scanned_releases;
  std::set<std::string> m_taken_types;
  std::map<std::string, int> m_type_part;
  std::map<std::string, Pending> m_helm_followed;
  struct CallerDoc {
    const kube::ResourceType* rt;
    json::Document doc;
    std::vector<std::string> targets;
  };
  std::vector<CallerDoc> m_callers;
  bool m_callers_loaded = false;
  std::vector<std::string> m_existing_namespaces;
  std::vector<std::pair<std::string, std::string>> m_namespace_docs;
  bool m_namespaces_known = false;
};

}  // namespace

Result<void> walk(kube::Client& source, const kube::Discovery& discovery, const Scope& scope, Sink& sink,
                  const WalkOptions& options) {
  Walker w(source, discovery, scope, sink, options);
  return w.run();
}

}  // namespace kbk::app
