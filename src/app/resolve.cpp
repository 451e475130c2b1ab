// Recording what applications take (see resolve.hpp).
#include <kbk/app/resolve.hpp>

#include <algorithm>
#include <map>
#include <mutex>
#include <tuple>

#include <kbk/app/scope.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::app {
namespace {

class RecordingSink final : public Sink {
public:
  RecordingSink(Resolution& r, util::ProgressSink* progress, std::string phase)
      : m_r(r), m_progress(progress), m_phase(std::move(phase)) {}
  void progress(const std::string& current) override { report(current, false); }
  void finish() { report("", true); }
  Result<void> take(const kube::ResourceType& rt, const json::Value& obj, const Reason& why) override {
    Selected s;
    s.group = rt.group;
    s.version = rt.version;
    s.resource = rt.resource;
    s.kind = rt.kind;
    s.ns = rt.namespaced ? json::get_string(obj, {"metadata", "namespace"}) : "";
    s.name = json::get_string(obj, {"metadata", "name"});
    s.part = why.part;
    s.how = why.how;
    s.reason = why.text();
    s.from = why.from;
    std::lock_guard lock(m_mu);
    m_r.objects.push_back(std::move(s));
    return {};
  }
  void outcome(const Outcome& o) override {
    if (o.outcome == "failed") {
      ++m_r.failures;
      log::warning(o.line());
    } else if (o.outcome == "warning") {
      log::warning(o.line());
    } else {
      log::info(2, o.line());
    }
    if (o.outcome != "skipped") m_r.warnings.push_back(o.line());
    m_r.outcomes.push_back(o);
  }

private:
  void report(const std::string& current, bool finish) {
    if (!m_progress) return;
    util::ProgressState st;
    st.phase = m_phase;
    {
      std::lock_guard lock(m_mu);
      st.items_done = m_r.objects.size();
    }
    st.errors = m_r.failures;
    st.current = current;
    if (finish) m_progress->finish(st);
    else m_progress->update(st);
  }
  Resolution& m_r;
  util::ProgressSink* m_progress;
  std::string m_phase;
  std::mutex m_mu;
};

bool before(const Selected& a, const Selected& b) {
  return std::make_tuple(a.part, a.group_resource(), a.ns, a.name) < std::make_tuple(b.part, b.group_resource(), b.ns, b.name);
}

json::Value str(std::string_view s, json::Allocator& a) { return json::make_string(s, a); }

json::Value selected_json(const Selected& s, const std::vector<std::string>& parts, json::Allocator& a) {
  json::Value o(rapidjson::kObjectType);
  o.AddMember("group", str(s.group, a), a);
  o.AddMember("version", str(s.version, a), a);
  o.AddMember("resource", str(s.resource, a), a);
  o.AddMember("kind", str(s.kind, a), a);
  o.AddMember("namespace", str(s.ns, a), a);
  o.AddMember("name", str(s.name, a), a);
  if (s.part >= 0 && static_cast<size_t>(s.part) < parts.size()) o.AddMember("part", str(parts[static_cast<size_t>(s.part)], a), a);
  else o.AddMember("part", json::Value(), a);
  o.AddMember("how", str(how_name(s.how), a), a);
  o.AddMember("reason", str(s.reason, a), a);
  if (s.from.empty()) o.AddMember("from", json::Value(), a);
  else o.AddMember("from", str(s.from, a), a);
  return o;
}

}  // namespace

std::set<std::string> Resolution::keys() const {
  std::set<std::string> k;
  for (const auto& o : objects) k.insert(o.key());
  return k;
}

Result<Resolution> resolve(kube::Client& source, const kube::Discovery& discovery, const Application& app) {
  static const ResolveOptions defaults;
  return resolve(source, discovery, app, defaults);
}

Result<Resolution> resolve(kube::Client& source, const kube::Discovery& discovery, const Application& app,
                           const ResolveOptions& options) {
  KBK_ASSIGN_OR_RETURN(auto scope, AppScope::make(app, discovery));
  Resolution r;
  for (const auto& p : app.parts) r.parts.push_back(p.name);
  r.warnings = scope->warnings();
  RecordingSink sink(r, options.progress, options.phase);
  WalkOptions wo = options.walk;
  std::vector<std::string> events;
  std::string what;
  if (!options.explain.empty()) {
    auto parts = util::split(options.explain, '/', false);
    if (parts.size() < 2 || parts.size() > 3)
      return unexpected(Errc::config, "--explain " + options.explain + ": expected resource/namespace/name or resource/name");
    auto rt = discovery.resolve(parts[0]);
    if (!rt) return unexpected(Errc::config, "--explain " + options.explain + ": " + rt.error().message);
    if (const kube::ResourceType* pref = discovery.find(rt->group, rt->resource)) rt = *pref;
    if (rt->namespaced != (parts.size() == 3))
      return unexpected(Errc::config, "--explain " + options.explain + ": " + rt->group_resource() + " is " +
                                          (rt->namespaced ? "namespaced: use resource/namespace/name"
                                                          : "cluster-scoped: use resource/name"));
    const std::string ns = parts.size() == 3 ? parts[1] : "";
    what = display_key(rt->group_resource(), ns, parts.back());
    wo.trace_key = item_key(rt->group_resource(), ns, parts.back());
    wo.trace = &events;
    auto obj = source.get(*rt, ns, parts.back());
    if (!obj) r.explain.push_back("object: " + obj.error().message);
    else
      for (auto& l : scope->explain(*rt, *obj)) r.explain.push_back(std::move(l));
  }
  KBK_TRY(walk(source, discovery, *scope, sink, wo));
  sink.finish();
  std::sort(r.objects.begin(), r.objects.end(), before);
  if (!options.explain.empty()) {
    bool in = false;
    for (const auto& e : events)
      if (util::starts_with(e, "taken")) in = true;
    std::vector<std::string> lines{what + ": " + (in ? "INCLUDED" : "NOT INCLUDED")};
    for (const auto& l : r.explain) lines.push_back("  " + l);
    for (const auto& e : events)
      if (!util::starts_with(e, "type ")) lines.push_back("  " + e);
    if (!in) lines.push_back("  no selected object leads to it (docs/format-application.md section 4 lists what is followed)");
    r.explain = std::move(lines);
  }
  return r;
}

Diff diff(const Resolution& now, const Resolution& backup) {
  Diff d;
  std::map<std::string, const Selected*> in_backup;
  for (const auto& o : backup.objects) in_backup.emplace(o.key(), &o);
  std::set<std::string> in_now;
  for (const auto& o : now.objects) {
    in_now.insert(o.key());
    if (in_backup.count(o.key())) ++d.common;
    else d.only_now.push_back(o);
  }
  for (const auto& o : backup.objects)
    if (!in_now.count(o.key())) d.only_backup.push_back(o);
  return d;
}

json::Document to_json(const Resolution& r, const Application& app) {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  json::Value names(rapidjson::kArrayType);
  for (const auto& n : app.names) names.PushBack(str(n, a), a);
  d.AddMember("applications", names, a);
  json::Value objects(rapidjson::kArrayType);
  std::vector<uint64_t> per_part(r.parts.size(), 0);
  for (const auto& o : r.objects) {
    objects.PushBack(selected_json(o, r.parts, a), a);
    if (o.part >= 0 && static_cast<size_t>(o.part) < per_part.size()) ++per_part[static_cast<size_t>(o.part)];
  }
  d.AddMember("objects", objects, a);
  json::Value parts(rapidjson::kArrayType);
  for (size_t i = 0; i < r.parts.size(); ++i) {
    json::Value p(rapidjson::kObjectType);
    p.AddMember("name", str(r.parts[i], a), a);
    p.AddMember("objects", per_part[i], a);
    parts.PushBack(p, a);
  }
  d.AddMember("parts", parts, a);
  json::Value hooks(rapidjson::kArrayType);
  for (const auto& h : app.hooks) {
    json::Value o(rapidjson::kObjectType);
    o.AddMember("application", str(h.application, a), a);
    o.AddMember("template", str(h.template_name, a), a);
    o.AddMember("namespace", str(h.namespace_, a), a);
    o.AddMember("selector", str(h.selector, a), a);
    o.AddMember("container", str(h.container, a), a);
    hooks.PushBack(o, a);
  }
  d.AddMember("hooks", hooks, a);
  json::Value warnings(rapidjson::kArrayType);
  for (const auto& w : r.warnings) warnings.PushBack(str(w, a), a);
  d.AddMember("warnings", warnings, a);
  if (!r.explain.empty()) {
    json::Value ex(rapidjson::kArrayType);
    for (const auto& l : r.explain) ex.PushBack(str(l, a), a);
    d.AddMember("explain", ex, a);
  }
  return d;
}

json::Document to_json(const Diff& diff) {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  auto list = [&](const std::vector<Selected>& v) {
    json::Value arr(rapidjson::kArrayType);
    for (const auto& o : v) {
      json::Value e(rapidjson::kObjectType);
      e.AddMember("group", str(o.group, a), a);
      e.AddMember("resource", str(o.resource, a), a);
      e.AddMember("namespace", str(o.ns, a), a);
      e.AddMember("name", str(o.name, a), a);
      e.AddMember("reason", str(o.reason, a), a);
      arr.PushBack(e, a);
    }
    return arr;
  };
  d.AddMember("onlyInCluster", list(diff.only_now), a);
  d.AddMember("onlyInBackup", list(diff.only_backup), a);
  d.AddMember("inBoth", static_cast<uint64_t>(diff.common), a);
  return d;
}

}  // namespace kbk::app
