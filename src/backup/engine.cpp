// The backup engine. A Collector walks the cluster (main pass: parallel paged LISTs; then related objects,
// ServiceAccount bindings, CRDs of custom resources, Namespace objects) and hands every selected object to an
// ItemSink: the archive writer for a backup, a recorder for --explain. run() wraps it in the location's
// finalization order: lock, tarball, velero-backup.json, resource list, results, logs, marker.
#include <kbk/backup/backup.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <unistd.h>
#include <unordered_set>

#include <kbk/archive/archive.hpp>
#include <kbk/archive/encryption.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/backup/selection.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

#include "record.hpp"
#include "related.hpp"

namespace kbk::backup {

std::string Outcome::line() const {
  std::string s = group.empty() ? resource : resource + "." + group;
  if (s.empty()) s = "api discovery";
  if (!ns.empty()) s += (scope == "item" ? "/" : ": namespace ") + ns;
  if (!name.empty()) s += "/" + name;
  s += ": " + reason;
  if (!message.empty()) s += ": " + message;
  return s;
}

namespace {

// A LIST whose continue token expired (410) starts again from the top, with pages four times larger each time so
// that it needs fewer continue tokens; objects already written are skipped.
constexpr int k_relist_attempts = 5;

enum class Origin { main, related };

// Where selected objects go.
class ItemSink {
public:
  virtual ~ItemSink() = default;
  // Returns the item's SHA-256 (hex).
  virtual Result<std::string> write(const archive::ItemKey& key, std::string_view json) = 0;
  virtual uint64_t bytes() const { return 0; }
};

class ArchiveSink final : public ItemSink {
public:
  explicit ArchiveSink(archive::ArchiveWriter& w) : m_writer(w) {}
  Result<std::string> write(const archive::ItemKey& key, std::string_view json) override {
    return m_writer.add_item(key, json, true);  // kbk reads every type at its preferred version
  }
  uint64_t bytes() const override { return m_writer.bytes_written(); }

private:
  archive::ArchiveWriter& m_writer;
};

class NullSink final : public ItemSink {
public:
  Result<std::string> write(const archive::ItemKey&, std::string_view) override { return std::string(); }
};

std::string item_key(std::string_view gr, std::string_view ns, std::string_view name) {
  std::string k(gr);
  k += '\x1f';
  k += ns;
  k += '\x1f';
  k += name;
  return k;
}

// The object's JSON with apiVersion and kind first when the LIST left them out.
std::string serialize(const kube::ResourceType& rt, const json::Value& obj) {
  std::string body = json::to_string(obj);
  const bool has_api = json::find(obj, "apiVersion") != nullptr;
  const bool has_kind = json::find(obj, "kind") != nullptr;
  if (has_api && has_kind) return body;
  std::string prefix = "{";
  if (!has_api) prefix += "\"apiVersion\":\"" + rt.api_version() + "\"";
  if (!has_kind) prefix += std::string(has_api ? "" : ",") + "\"kind\":\"" + rt.kind + "\"";
  if (body.size() > 2) prefix += ",";
  return prefix + body.substr(1);
}

bool label_true(const json::Value& obj, std::string_view key) {
  const json::Value* labels = json::at(obj, {"metadata", "labels"});
  const json::Value* v = labels ? json::find(*labels, key) : nullptr;
  return v && v->IsString() && std::string_view(v->GetString(), v->GetStringLength()) == "true";
}

std::string new_uid() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd());
  unsigned char b[16];
  for (auto& c : b) c = static_cast<unsigned char>(rng());
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  std::string h = util::hex_encode(b, 16);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

struct Trace {
  std::string key;  // item_key of the --explain target
  std::vector<std::string> events;
};

class Collector {
public:
  Collector(kube::Client& client, const kube::Discovery& discovery, const Selection& selection, ItemSink& sink,
            util::ProgressSink& progress, RunRecord& record, Trace* trace, std::vector<std::string>& log)
      : m_log(log), m_client(client), m_discovery(discovery), m_sel(selection), m_opt(selection.options()), m_sink(sink),
        m_progress(progress), m_record(record), m_trace(trace) {
    m_types = discovery.preferred();
  }

  // The whole collection. Errors returned are fatal (the sink failed); API failures become outcomes.
  Result<void> collect() {
    note(log::Level::info, "backup " + m_opt.name + ": collecting");
    for (const auto& w : m_discovery.warnings())
      add_outcome({"failed", "DiscoveryFailed", "type", "", "", "", "", 0, w});
    KBK_TRY(list_namespaces());
    KBK_TRY(main_pass());
    if (m_opt.with_related == WithRelated::yes) {
      KBK_TRY(drain_related());
      KBK_TRY(scan_bindings());
      KBK_TRY(drain_related());
      KBK_TRY(crds_of_custom_resources());
      KBK_TRY(drain_related());
    }
    KBK_TRY(namespace_objects());
    report_progress("");
    return {};
  }

  // The last progress report, once the archive is stored: its bytes are then the stored size.
  void finish_progress() { report_progress("", true); }

  const std::vector<kube::ResourceType>& types() const { return m_types; }

private:
  // ---- bookkeeping -------------------------------------------------------------------------------------------
  void note(log::Level level, const std::string& line) {
    if (level == log::Level::info) log::info(1, line);
    else log::write(level, line);
    std::lock_guard lock(m_mu);
    m_log.push_back(line);
  }

  void add_outcome(Outcome o) {
    std::string line = o.line();
    if (o.outcome == "failed") note(log::Level::error, line);
    else if (o.outcome == "warning") note(log::Level::warning, line);
    else log::info(2, line);
    if (m_trace && o.scope == "item" &&
        item_key(o.group.empty() ? o.resource : o.resource + "." + o.group, o.ns, o.name) == m_trace->key)
      m_trace->events.push_back(o.outcome + ": " + o.reason + (o.message.empty() ? "" : " (" + o.message + ")"));
    std::lock_guard lock(m_mu);
    Summary& s = m_record.summary;
    if (o.outcome == "failed") {
      ++s.errors;
      s.error_lines.push_back(line);
    } else if (o.outcome == "warning") {
      ++s.warnings;
      s.warning_lines.push_back(line);
    } else {
      ++s.skipped;
    }
    s.outcomes.push_back(std::move(o));
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

  void report_progress(const std::string& current, bool finish = false) {
    util::ProgressState st;
    st.phase = "backup";
    {
      std::lock_guard lock(m_mu);
      st.items_done = m_record.items.size();
      st.warnings = m_record.summary.warnings;
      st.errors = m_record.summary.errors;
    }
    st.current = current;
    st.bytes_done = m_sink.bytes();
    if (finish) m_progress.finish(st);
    else m_progress.update(st);
  }

  uint32_t type_index(const kube::ResourceType& rt) {
    // under m_mu
    std::string gr = rt.group_resource();
    auto it = m_type_index.find(gr);
    if (it != m_type_index.end()) return it->second;
    uint32_t idx = static_cast<uint32_t>(m_record.types.size());
    m_record.types.push_back({rt.group, rt.version, rt.resource, rt.kind});
    m_type_index.emplace(gr, idx);
    return idx;
  }

  const kube::ResourceType* find_type(std::string_view group, std::string_view resource) const {
    for (const auto& rt : m_types)
      if (rt.group == group && rt.resource == resource) return &rt;
    return nullptr;
  }

  // ---- one object --------------------------------------------------------------------------------------------
  // Writes obj unless it is being deleted, opted out, or already written. via: what pulled a related object in.
  Result<void> consider(const kube::ResourceType& rt, const json::Value& obj, Origin origin, const std::string& via) {
    const std::string ns = json::get_string(obj, {"metadata", "namespace"});
    const std::string name = json::get_string(obj, {"metadata", "name"});
    const std::string gr = rt.group_resource();
    if (name.empty()) return {};
    const std::string key = item_key(gr, rt.namespaced ? ns : "", name);
    if (json::at(obj, {"metadata", "deletionTimestamp"})) {
      add_outcome({"skipped", "BeingDeleted", "item", rt.group, rt.resource, ns, name, 0, "deletionTimestamp is set"});
      return {};
    }
    if (label_true(obj, "velero.io/exclude-from-backup")) {
      add_outcome({"skipped", "ExcludedByLabel", "item", rt.group, rt.resource, ns, name, 0,
                   "label velero.io/exclude-from-backup=true"});
      return {};
    }
    if (auto d = m_sel.names(rt, ns, name); !d.included) {
      if (d.reason.rfind("excluded by", 0) == 0)
        add_outcome({"skipped", "ExcludedByName", "item", rt.group, rt.resource, ns, name, 0, d.reason});
      else if (m_trace && key == m_trace->key)
        m_trace->events.push_back("not taken: " + d.reason);
      return {};
    }
    {
      std::lock_guard lock(m_mu);
      if (!m_written.insert(key).second) return {};
    }
    std::string body = serialize(rt, obj);
    archive::ItemKey ik{rt.group, rt.version, rt.resource, rt.namespaced ? ns : "", name};
    auto sum = m_sink.write(ik, body);
    if (!sum) {
      std::lock_guard lock(m_mu);
      if (!m_fatal) m_fatal = sum.error();
      return std::move(sum).error();
    }
    std::vector<Ref> refs;
    if (m_opt.with_related == WithRelated::yes) refs = related_refs(gr, obj);
    {
      std::lock_guard lock(m_mu);
      ItemRecord rec;
      rec.type = type_index(rt);
      rec.ns = ik.namespace_;
      rec.name = name;
      if (auto raw = util::hex_decode(*sum); raw && raw->size() == rec.sha256.size())
        std::copy(raw->begin(), raw->end(), rec.sha256.begin());
      rec.size = static_cast<uint32_t>(body.size());
      rec.related = origin == Origin::related;
      m_record.items.push_back(std::move(rec));
      ++m_record.summary.by_resource[gr];
      if (!ik.namespace_.empty()) m_ns_with_items.insert(ik.namespace_);
      m_written_types.insert(gr);
      if (gr == "serviceaccounts") m_service_accounts.insert(ns + "/" + name);
      const std::string from = gr + "/" + (ns.empty() ? "" : ns + "/") + name;
      for (auto& r : refs) {
        if (m_written.count(item_key(r.group_resource(), r.ns, r.name))) continue;
        m_pending.emplace(std::move(r), from);
      }
    }
    if (m_trace && key == m_trace->key)
      m_trace->events.push_back(origin == Origin::main ? "taken in the main pass"
                                                       : "taken as a related object of " + via);
    return {};
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
        if (m_sel.namespace_(name).included) m_namespace_docs.emplace_back(name, serialize(*ns_rt, it));
      }
      return {};
    });
    m_namespaces_known = r.ok();
    if (!r) {
      // Without the namespace list kbk cannot fall back to per-namespace LISTs, nor write Namespace objects.
      add_outcome(api_outcome(*ns_rt, "", "", r.error(), "ListFailed"));
    }
    return {};
  }

  std::vector<std::string> namespaces_for_fallback() const {
    if (m_sel.lists_per_namespace()) return m_sel.namespaces_to_list(m_existing_namespaces);
    std::vector<std::string> out;
    for (const auto& ns : m_existing_namespaces)
      if (m_sel.namespace_(ns).included) out.push_back(ns);
    return out;
  }

  // One LIST of a type in one scope (ns "" = cluster-wide), re-listed from the start when the continue token
  // expires; objects already written are skipped on the second round.
  Result<void> list_scope(const kube::ResourceType& rt, const std::string& ns, const std::string& selector,
                          std::optional<Error>& api_error) {
    kube::ListOptions lo;
    lo.limit = m_opt.page_size;
    lo.label_selector = selector;
    const bool filter_ns = rt.namespaced && ns.empty() && !m_sel.namespaces_include_everything();
    for (int attempt = 1;; ++attempt) {
      auto r = m_client.list(rt, ns, lo, [&](kube::ListPage& page) -> Result<void> {
        json::Value* items = json::find(page.list, "items");
        if (!items || !items->IsArray()) return {};
        for (auto& it : items->GetArray()) {
          if (filter_ns && !m_sel.namespace_(json::get_string(it, {"metadata", "namespace"})).included) continue;
          KBK_TRY(consider(rt, it, Origin::main, ""));
        }
        report_progress(rt.group_resource());
        return {};
      });
      if (r) return {};
      {
        std::lock_guard lock(m_mu);
        if (m_fatal) return *m_fatal;
      }
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
    for (const auto& selector : m_sel.list_selectors()) {
      if (rt.namespaced && m_sel.lists_per_namespace()) {
        for (const auto& ns : m_sel.namespaces_to_list(m_existing_namespaces)) {
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

  Result<void> main_pass() {
    std::vector<const kube::ResourceType*> jobs;
    for (const auto& rt : m_types) {
      if (rt.group.empty() && rt.resource == "namespaces") continue;  // written at the end
      auto d = m_sel.type(rt);
      if (m_trace && util::starts_with(m_trace->key, rt.group_resource() + '\x1f'))
        m_trace->events.push_back(std::string(d.included ? "type listed: " : "type not listed: ") + d.reason);
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
    std::atomic<size_t> next{0};
    auto worker = [&] {
      for (size_t i; (i = next++) < jobs.size();) {
        {
          std::lock_guard lock(m_mu);
          if (m_fatal) return;
        }
        report_progress(jobs[i]->group_resource());
        auto r = list_type(*jobs[i]);
        if (!r) {
          std::lock_guard lock(m_mu);
          if (!m_fatal) m_fatal = r.error();
          return;
        }
      }
    };
    const size_t n = std::min<size_t>(static_cast<size_t>(std::max(1, m_opt.parallel)), std::max<size_t>(jobs.size(), 1));
    std::vector<std::thread> threads;
    for (size_t i = 1; i < n; ++i) threads.emplace_back(worker);
    worker();
    for (auto& t : threads) t.join();
    std::lock_guard lock(m_mu);
    if (m_fatal) return *m_fatal;
    return {};
  }

  // ---- related objects ---------------------------------------------------------------------------------------
  Result<void> fetch_related(const Ref& ref, const std::string& via) {
    const kube::ResourceType* rt = find_type(ref.group, ref.resource);
    if (!rt) return {};
    {
      std::lock_guard lock(m_mu);
      if (m_written.count(item_key(rt->group_resource(), ref.ns, ref.name))) return {};
    }
    const std::string msg_via = "referenced by " + via;
    if (auto d = m_sel.related(*rt); !d.included) {
      add_outcome({"skipped", "RelatedExcluded", "item", rt->group, rt->resource, ref.ns, ref.name, 0,
                   msg_via + "; " + d.reason});
      return {};
    }
    if (!ref.ns.empty()) {
      if (auto d = m_sel.namespace_(ref.ns); !d.included) {
        add_outcome({"skipped", "RelatedExcluded", "item", rt->group, rt->resource, ref.ns, ref.name, 0,
                     msg_via + "; " + d.reason});
        return {};
      }
    }
    auto doc = m_client.get(*rt, ref.ns, ref.name);
    if (!doc) {
      if (doc.error().is(Errc::not_found)) {
        add_outcome({"skipped", "RelatedNotFound", "item", rt->group, rt->resource, ref.ns, ref.name, 404,
                     msg_via + " but not found"});
        return {};
      }
      Outcome o = api_outcome(*rt, ref.ns, ref.name, doc.error(), "GetFailed");
      o.message = msg_via + ": " + o.message;
      add_outcome(std::move(o));
      return {};
    }
    return consider(*rt, *doc, Origin::related, via);
  }

  Result<void> drain_related() {
    for (;;) {
      std::map<Ref, std::string> batch;
      {
        std::lock_guard lock(m_mu);
        batch.swap(m_pending);
      }
      if (batch.empty()) return {};
      for (const auto& [ref, via] : batch) {
        report_progress("related " + ref.group_resource());
        KBK_TRY(fetch_related(ref, via));
      }
    }
  }

  // ServiceAccount -> the RoleBindings and ClusterRoleBindings naming it (their roles follow through roleRef).
  Result<void> scan_bindings() {
    std::set<std::string> sas;
    {
      std::lock_guard lock(m_mu);
      sas = m_service_accounts;
    }
    if (sas.empty()) return {};
    for (const char* resource : {"clusterrolebindings", "rolebindings"}) {
      const kube::ResourceType* rt = find_type("rbac.authorization.k8s.io", resource);
      if (!rt || !m_sel.related(*rt).included) continue;
      auto on_binding = [&](const json::Value& b) -> Result<void> {
        const std::string bns = json::get_string(b, {"metadata", "namespace"});
        const json::Value* subjects = json::find(b, "subjects");
        if (!subjects || !subjects->IsArray()) return {};
        for (const auto& s : subjects->GetArray()) {
          if (json::get_string(s, {"kind"}) != "ServiceAccount") continue;
          std::string sns = json::get_string(s, {"namespace"});
          if (sns.empty()) sns = bns;
          const std::string sa = sns + "/" + json::get_string(s, {"name"});
          if (!sas.count(sa)) continue;
          if (!bns.empty() && !m_sel.namespace_(bns).included) return {};
          return consider(*rt, b, Origin::related, "serviceaccounts/" + sa);
        }
        return {};
      };
      auto list_in = [&](const std::string& ns) -> Result<void> {
        kube::ListOptions lo;
        lo.limit = m_opt.page_size;
        return m_client.list(*rt, ns, lo, [&](kube::ListPage& page) -> Result<void> {
          const json::Value* items = json::find(page.list, "items");
          if (!items || !items->IsArray()) return {};
          for (const auto& it : items->GetArray()) KBK_TRY(on_binding(it));
          return {};
        });
      };
      auto r = list_in("");
      if (!r && r.error().is(Errc::forbidden) && rt->namespaced) {
        std::set<std::string> namespaces;
        for (const auto& sa : sas) namespaces.insert(sa.substr(0, sa.find('/')));
        r = Result<void>();
        for (const auto& ns : namespaces) {
          auto nr = list_in(ns);
          if (!nr) {
            std::lock_guard lock(m_mu);
            if (m_fatal) return *m_fatal;
          }
          if (!nr) add_outcome({"warning", "RelatedListFailed", "type", rt->group, rt->resource, ns, "",
                                nr.error().http_status, "bindings of service accounts: " + nr.error().message});
        }
      }
      if (!r) {
        std::lock_guard lock(m_mu);
        if (m_fatal) return *m_fatal;
      }
      if (!r)
        add_outcome({"warning", "RelatedListFailed", "type", rt->group, rt->resource, "", "", r.error().http_status,
                     "bindings of service accounts: " + r.error().message});
    }
    return {};
  }

  // Custom resource -> its CustomResourceDefinition (named "<plural>.<group>"), as Velero's backupCRD.
  Result<void> crds_of_custom_resources() {
    const kube::ResourceType* crd = find_type("apiextensions.k8s.io", "customresourcedefinitions");
    if (!crd || !m_sel.related(*crd).included) return {};
    std::set<std::string> grs;
    {
      std::lock_guard lock(m_mu);
      grs = m_written_types;
    }
    for (const auto& gr : grs) {
      auto dot = gr.find('.');
      if (dot == std::string::npos || gr.find('.', dot + 1) == std::string::npos) continue;  // core, apps, batch...
      {
        std::lock_guard lock(m_mu);
        if (m_written.count(item_key(crd->group_resource(), "", gr))) continue;
      }
      auto doc = m_client.get(*crd, "", gr);
      if (!doc) {
        if (!doc.error().is(Errc::not_found))
          add_outcome({"warning", "GetFailed", "item", crd->group, crd->resource, "", gr, doc.error().http_status,
                       "definition of backed-up " + gr + ": " + doc.error().message});
        continue;
      }
      KBK_TRY(consider(*crd, *doc, Origin::related, gr + " objects"));
    }
    return {};
  }

  // Namespace objects last: which ones to keep depends on what was written.
  Result<void> namespace_objects() {
    const kube::ResourceType* ns_rt = find_type("", "namespaces");
    if (!ns_rt) return {};
    auto td = m_sel.type(*ns_rt);
    if (m_trace && util::starts_with(m_trace->key, std::string("namespaces\x1f")))
      m_trace->events.push_back(std::string(td.included ? "type listed: " : "type not listed: ") + td.reason);
    if (!td.included) return {};
    std::set<std::string> with_items;
    {
      std::lock_guard lock(m_mu);
      with_items = m_ns_with_items;
    }
    for (const auto& [name, text] : m_namespace_docs) {
      auto doc = json::parse(text, "namespace " + name);
      if (!doc) continue;
      auto d = m_sel.namespace_object(name, *doc, with_items.count(name) > 0);
      if (m_trace && item_key("namespaces", "", name) == m_trace->key)
        m_trace->events.push_back(std::string(d.included ? "namespace kept: " : "namespace not kept: ") + d.reason);
      if (!d.included) continue;
      KBK_TRY(consider(*ns_rt, *doc, Origin::main, ""));
    }
    return {};
  }

private:
  std::vector<std::string>& m_log;  // the run's log lines (uploaded as <name>-logs.gz)
  kube::Client& m_client;
  const kube::Discovery& m_discovery;
  const Selection& m_sel;
  const Options& m_opt;
  ItemSink& m_sink;
  util::ProgressSink& m_progress;
  RunRecord& m_record;
  Trace* m_trace;
  std::vector<kube::ResourceType> m_types;

  std::mutex m_mu;
  std::optional<Error> m_fatal;
  std::unordered_set<std::string> m_written;
  std::map<std::string, uint32_t> m_type_index;
  std::map<Ref, std::string> m_pending;
  std::set<std::string> m_service_accounts;
  std::set<std::string> m_written_types;
  std::set<std::string> m_ns_with_items;
  std::vector<std::string> m_existing_namespaces;
  std::vector<std::pair<std::string, std::string>> m_namespace_docs;
  bool m_namespaces_known = false;
};

void cluster_identity(kube::Client& client, const kube::Discovery& discovery, RunRecord& rec) {
  if (auto v = client.request("GET", "/version")) {
    rec.git_version = json::get_string(*v, {"gitVersion"});
    rec.major = json::get_string(*v, {"major"});
    rec.minor = json::get_string(*v, {"minor"});
    rec.platform = json::get_string(*v, {"platform"});
  }
  if (const kube::ResourceType* ns = discovery.find("", "namespaces"))
    if (auto d = client.get(*ns, "", "kube-system")) rec.kube_system_uid = json::get_string(*d, {"metadata", "uid"});
}

std::string lock_json(const std::string& name, const std::string& started) {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  d.AddMember("apiVersion", json::make_string(archive::k_kbk_api_version, a), a);
  d.AddMember("kind", "BackupLock", a);
  d.AddMember("name", json::make_string(name, a), a);
  d.AddMember("host", json::make_string(host, a), a);
  d.AddMember("pid", static_cast<int64_t>(::getpid()), a);
  d.AddMember("startTimestamp", json::make_string(started, a), a);
  return json::to_pretty(d) + "\n";
}

}  // namespace

Result<Summary> run(kube::Client& client, const kube::Discovery& discovery, storage::Backend& backend,
                    const Options& options, const RunContext& context) {
  if (!archive::valid_backup_name(options.name))
    return unexpected(Errc::config, "backup name \"" + options.name +
                                        "\": use lower-case letters, digits, '-' and '.' (a DNS subdomain name)");
  KBK_ASSIGN_OR_RETURN(Selection selection, Selection::make(options, discovery));
  const util::Clock& clock = context.clock ? *context.clock : util::system_clock();
  util::ProgressSink& progress = context.progress ? *context.progress : util::null_progress();
  archive::BackupPaths paths{options.name};

  // Refuse an existing name before touching anything, then take the name with an exclusive lock object.
  for (const auto& key : {paths.marker(), paths.velero_backup(), paths.lock()}) {
    KBK_ASSIGN_OR_RETURN(auto st, backend.stat(key));
    if (st)
      return unexpected(Errc::precondition, "backup " + options.name + " already exists in " + backend.display_url() +
                                                (key == paths.lock() ? " (or is being written; an interrupted one is "
                                                                       "removed with kbk backup delete " +
                                                                           options.name + ")"
                                                                     : ""));
  }
  const auto start = clock.now();
  RunRecord rec;
  rec.name = options.name;
  rec.uid = new_uid();
  rec.tool_version = context.tool_version;
  rec.server = context.server;
  rec.options = options;
  rec.groups = discovery.groups();
  rec.archive_key = paths.tarball();
  rec.summary.name = options.name;
  rec.summary.location = backend.display_url();
  rec.summary.started = util::format_rfc3339(start);
  rec.summary.expiration = util::format_rfc3339(start + options.ttl);
  storage::PutOptions once;
  once.if_exists = storage::IfExists::fail;
  once.content_type = "application/json";
  if (auto r = backend.put(paths.lock(), lock_json(options.name, rec.summary.started), once); !r) {
    if (r.error().is(Errc::already_exists))
      return unexpected(Errc::precondition, "backup " + options.name + " is being written by another kbk");
    return std::move(r).error().wrap("backup " + options.name);
  }
  cluster_identity(client, discovery, rec);

  // From here on the run has a log; it is uploaded even when the run fails (the marker never is).
  std::vector<std::string> run_log;
  std::optional<archive::NewBackupKey> key;
  bool key_stored = false;
  const archive::Encrypted enc = context.encryption_key ? archive::Encrypted::yes : archive::Encrypted::no;
  storage::PutOptions gz_put;
  gz_put.content_type = "application/gzip";
  auto put = [&](const std::string& obj, const std::string& data, const storage::PutOptions& po) -> Result<void> {
    if (auto r = backend.put(obj, data, po); !r) return std::move(r).error().wrap("backup " + options.name);
    return {};
  };
  // gzip, and encrypted with the backup's data key when it has one.
  auto seal = [&](std::string_view text) {
    std::string gz = archive::gzip(text);
    return key ? crypto::encrypt(key->data_key, gz) : gz;
  };
  auto upload_log = [&]() -> Result<void> {
    std::string log_text;
    for (const auto& l : run_log) log_text += log::redact(l) + "\n";
    return put(paths.logs(enc), seal(log_text), gz_put);
  };

  auto body = [&]() -> Result<void> {
    if (context.encryption_key) {
      KBK_ASSIGN_OR_RETURN(key, archive::new_backup_key(*context.encryption_key));
      if (auto r = backend.put(paths.key_object(key->object.key_id), key->object.json, once); !r)
        return std::move(r).error().wrap("backup " + options.name + ": writing the key object");
      key_stored = true;
      rec.encrypted = true;
      rec.archive_key = paths.encrypted_archive();
      const std::string line = "backup " + options.name +
                               " is encrypted (data key " + key->data_key.data_key_id() +
                               "): no velero-backup.json is written, Velero cannot read encrypted backups";
      log::info(0, line);
      run_log.push_back(line);
    }
    KBK_ASSIGN_OR_RETURN(auto stored, backend.put_stream(rec.archive_key, {}));
    archive::EncryptingWriter* encrypting = nullptr;
    if (key) {
      auto w = std::make_unique<archive::EncryptingWriter>(std::move(stored), key->data_key);
      encrypting = w.get();
      stored = std::move(w);
    }
    archive::WriterOptions wo;
    wo.mtime = start;
    KBK_ASSIGN_OR_RETURN(auto writer, archive::make_writer(std::move(stored), wo));
    ArchiveSink item_sink(*writer);
    Collector collector(client, discovery, selection, item_sink, progress, rec, nullptr, run_log);
    if (auto r = collector.collect(); !r) return std::move(r).error().wrap("backup " + options.name);

    Summary& s = rec.summary;
    s.items = rec.items.size();
    rec.ok = s.items;
    s.phase = s.errors > 0 ? "PartiallyFailed" : "Completed";
    const auto end = clock.now();
    s.completed = util::format_rfc3339(end);
    s.duration_seconds = std::chrono::duration<double>(end - start).count();
    s.encrypted = rec.encrypted;
    if (auto it = s.by_resource.find("secrets"); it != s.by_resource.end() && it->second > 0 && !rec.encrypted) {
      // Said once, not counted as a warning of the backup: the backup itself is fine.
      const std::string line = "backup " + options.name + " holds " + std::to_string(it->second) +
                               (it->second == 1 ? " Secret" : " Secrets") +
                               " in plain text; pass --encryption-key-file to encrypt backups";
      log::warning(line);
      run_log.push_back(line);
    }
    run_log.push_back("backup " + options.name + ": " + s.phase + ", " + std::to_string(s.items) + " items, " +
                      std::to_string(s.warnings) + " warnings, " + std::to_string(s.errors) + " errors");

    KBK_TRY(writer->add_file("kbk/results.json", results_json(rec)));
    KBK_TRY(add_manifest(*writer, rec));
    if (auto r = writer->finish(); !r) return std::move(r).error().wrap("backup " + options.name + ": writing the archive");
    collector.finish_progress();
    rec.archive_bytes = writer->bytes_written();
    rec.archive_sha256 = encrypting ? encrypting->stored_sha256() : writer->stream_sha256();
    s.bytes = rec.archive_bytes;

    storage::PutOptions json_put;
    json_put.content_type = "application/json";
    if (!key) KBK_TRY(put(paths.velero_backup(), velero_backup_json(rec), json_put));
    KBK_TRY(put(paths.resource_list(enc), seal(resource_list_json(rec)), gz_put));
    KBK_TRY(put(paths.results(enc), seal(velero_results_json(rec)), gz_put));
    KBK_TRY(upload_log());
    // Last: the marker. Its presence is what makes the backup complete.
    std::string marker = manifest_json(rec, WithItems::no);
    if (key) {
      KBK_ASSIGN_OR_RETURN(marker, archive::seal_marker(marker, key->data_key));
    }
    KBK_TRY(put(paths.marker(), marker, json_put));
    return {};
  };

  if (auto r = body(); !r) {
    // The log says why; without the marker the backup stays Incomplete. An encrypted backup whose key object
    // could not be written has no readable place for a log: it stays local (stderr, --log-file).
    run_log.push_back("backup " + options.name + " failed: " + r.error().message);
    if (!key || key_stored) {
      if (auto up = backend.stat(paths.logs(enc)); up && !*up) {
        if (auto u = upload_log(); !u)
          log::warning("backup " + options.name + ": the log could not be written: " + u.error().message);
      }
    }
    return std::move(r).error();
  }
  return std::move(rec.summary);
}

Result<std::vector<std::string>> explain(kube::Client& client, const kube::Discovery& discovery, const Options& options,
                                         const std::string& target) {
  KBK_ASSIGN_OR_RETURN(Selection selection, Selection::make(options, discovery));
  auto parts = util::split(target, '/', false);
  if (parts.size() < 2 || parts.size() > 3)
    return unexpected(Errc::config, "--explain " + target + ": expected resource/namespace/name or resource/name");
  auto rt = discovery.resolve(parts[0]);
  if (!rt) return unexpected(Errc::config, "--explain " + target + ": " + rt.error().message);
  const kube::ResourceType* pref = discovery.find(rt->group, rt->resource);
  if (pref) rt = *pref;
  if (rt->namespaced != (parts.size() == 3))
    return unexpected(Errc::config, "--explain " + target + ": " + rt->group_resource() + " is " +
                                        (rt->namespaced ? "namespaced: use resource/namespace/name"
                                                        : "cluster-scoped: use resource/name"));
  const std::string ns = parts.size() == 3 ? parts[1] : "";
  const std::string name = parts.back();
  std::vector<std::string> lines;
  const std::string what = rt->group_resource() + "/" + (ns.empty() ? "" : ns + "/") + name;

  // The static checks, on the live object.
  std::vector<std::string> checks;
  auto obj = client.get(*rt, ns, name);
  if (!obj) checks.push_back("object: " + obj.error().message);
  checks.push_back("type " + rt->group_resource() + ": " + selection.type(*rt).reason);
  if (!ns.empty()) checks.push_back("namespace: " + selection.namespace_(ns).reason);
  if (auto d = selection.names(*rt, ns, name); !d.reason.empty()) checks.push_back("names: " + d.reason);
  if (obj) {
    if (auto d = selection.labels(*obj); !d.reason.empty()) checks.push_back("labels: " + d.reason);
    if (json::at(*obj, {"metadata", "deletionTimestamp"})) checks.push_back("being deleted (deletionTimestamp set)");
  }

  // The dry run tells whether it ends up in the backup, and how.
  RunRecord rec;
  rec.options = options;
  Trace trace;
  trace.key = item_key(rt->group_resource(), ns, name);
  NullSink sink;
  std::vector<std::string> log_lines;
  Collector collector(client, discovery, selection, sink, util::null_progress(), rec, &trace, log_lines);
  KBK_TRY(collector.collect());
  bool in = false;
  for (const auto& e : trace.events)
    if (util::starts_with(e, "taken")) in = true;
  lines.push_back(what + ": " + (in ? "INCLUDED" : "NOT INCLUDED"));
  for (const auto& c : checks) lines.push_back("  " + c);
  for (const auto& e : trace.events)
    if (!util::starts_with(e, "type ")) lines.push_back("  " + e);
  if (!in && options.with_related == WithRelated::yes)
    lines.push_back("  no backed-up object references it (related objects follow PVC, pod and workload references, "
                    "service accounts, bindings, ingresses and custom resources)");
  return lines;
}

}  // namespace kbk::backup
