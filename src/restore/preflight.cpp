// Restoring into another Kubernetes version (see preflight.hpp and docs/migration.md).
#include <kbk/restore/preflight.hpp>

#include <kbk/patch/mappings.hpp>

#include <algorithm>
#include <set>
#include <tuple>

#include <kbk/archive/location.hpp>
#include <kbk/restore/transforms.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::restore {
namespace {

std::pair<std::string, std::string> split_api_version(std::string_view api_version) {
  size_t slash = api_version.find('/');
  if (slash == std::string_view::npos) return {"", std::string(api_version)};
  return {std::string(api_version.substr(0, slash)), std::string(api_version.substr(slash + 1))};
}

std::string join_gv(std::string_view group, std::string_view version) {
  return group.empty() ? std::string(version) : std::string(group) + "/" + std::string(version);
}

std::string type_key(std::string_view group, std::string_view kind) {
  return std::string(group) + "/" + std::string(kind);
}

// Group/versions Kubernetes removed (all their kinds), and the kinds removed from every version.
constexpr std::string_view k_removed_group_versions[] = {
    "extensions/v1beta1",                       // 1.16 (workloads, NetworkPolicy, PSP), 1.22 (Ingress)
    "apps/v1beta1", "apps/v1beta2",             // 1.16
    "networking.k8s.io/v1beta1",                // 1.22
    "batch/v1beta1", "batch/v2alpha1",          // 1.25
    "policy/v1beta1",                           // 1.25
    "autoscaling/v2beta1",                      // 1.25
    "autoscaling/v2beta2",                      // 1.26
    "apiextensions.k8s.io/v1beta1",             // 1.22
    "admissionregistration.k8s.io/v1beta1",     // 1.22
    "apiregistration.k8s.io/v1beta1",           // 1.22
    "authentication.k8s.io/v1beta1",            // 1.22
    "authorization.k8s.io/v1beta1",             // 1.22
    "certificates.k8s.io/v1beta1",              // 1.22
    "coordination.k8s.io/v1beta1",              // 1.22
    "rbac.authorization.k8s.io/v1beta1",        // 1.22
    "rbac.authorization.k8s.io/v1alpha1",       // 1.22
    "scheduling.k8s.io/v1beta1",                // 1.22
    "scheduling.k8s.io/v1alpha1",               // 1.22
    "storage.k8s.io/v1beta1",                   // 1.22 (CSIStorageCapacity 1.27)
    "discovery.k8s.io/v1beta1",                 // 1.25
    "events.k8s.io/v1beta1",                    // 1.25
    "node.k8s.io/v1beta1",                      // 1.25
    "flowcontrol.apiserver.k8s.io/v1beta1",     // 1.26
    "flowcontrol.apiserver.k8s.io/v1beta2",     // 1.29
    "flowcontrol.apiserver.k8s.io/v1beta3",     // 1.32
};
constexpr std::string_view k_removed_kinds[] = {"PodSecurityPolicy"};  // 1.25, no replacement

// "extensions/v1beta1 Ingress" -> "networking.k8s.io/v1", from patch::known_conversions().
const std::map<std::string, std::string>& conversion_targets() {
  static const std::map<std::string, std::string> m = [] {
    std::map<std::string, std::string> out;
    for (const std::string& line : patch::known_conversions()) {
      size_t arrow = line.find(" -> ");
      if (arrow == std::string::npos) continue;
      std::string to = line.substr(arrow + 4);
      if (to.empty() || to[0] == '(') continue;  // removed without replacement
      out[line.substr(0, arrow)] = to;
    }
    return out;
  }();
  return m;
}

// The versions of a backed-up CRD (v1 or v1beta1 shape): name -> {served, schema or null}.
struct CrdVersion {
  bool served = false;
  const json::Value* schema = nullptr;
};

std::map<std::string, CrdVersion> crd_versions(const json::Value& crd) {
  std::map<std::string, CrdVersion> out;
  const json::Value* spec = json::find(crd, "spec");
  if (!spec) return out;
  const json::Value* common = json::at(*spec, {"validation", "openAPIV3Schema"});  // v1beta1: every version
  const json::Value* versions = json::find(*spec, "versions");
  if (versions && versions->IsArray() && !versions->Empty()) {
    for (const auto& v : versions->GetArray()) {
      std::string name = json::get_string(v, {"name"});
      if (name.empty()) continue;
      CrdVersion cv;
      const json::Value* served = json::find(v, "served");
      cv.served = !served || (served->IsBool() && served->GetBool());
      cv.schema = json::at(v, {"schema", "openAPIV3Schema"});
      if (!cv.schema) cv.schema = common;
      out[name] = cv;
    }
  } else if (std::string v = json::get_string(*spec, {"version"}); !v.empty()) {
    out[v] = CrdVersion{true, common};
  }
  return out;
}

// ---- transforms --------------------------------------------------------------------------------------------------

class CustomResourceVersionTransform : public Transform {
public:
  explicit CustomResourceVersionTransform(TargetApis target) : m_target(std::move(target)) {}
  std::string name() const override { return "custom-resource versions"; }
  TransformStage stage() const override { return TransformStage::convert; }

  void prepare(const LoadedBackup& backup) override {
    m_crds.clear();
    for (const BackupItem& it : backup.items) {
      if (it.key.group != "apiextensions.k8s.io" || it.key.resource != "customresourcedefinitions") continue;
      json::Document crd = it.object.parse();
      std::string group = json::get_string(crd, {"spec", "group"});
      std::string kind = json::get_string(crd, {"spec", "names", "kind"});
      if (!group.empty() && !kind.empty()) m_crds[type_key(group, kind)] = std::move(crd);
    }
  }

  Result<TransformOutcome> apply(const TransformContext& ctx, json::Document& obj) override {
    TransformOutcome out;
    if (m_target.empty()) return out;
    std::string kind = json::get_string(obj, {"kind"});
    auto [group, version] = split_api_version(json::get_string(obj, {"apiVersion"}));
    auto crd = m_crds.find(type_key(group, kind));
    if (crd == m_crds.end() || m_target.serves(group, version, kind)) return out;
    std::vector<std::string> served = m_target.versions_of(group, kind);
    if (served.empty()) return out;  // the target does not know the kind: the backup's CRD brings it
    CustomResourceVersion c = choose_custom_resource_version(crd->second, version, served);
    std::string from = join_gv(group, version) + " " + kind;
    if (c.to_version.empty()) {
      out.skip = true;
      out.skip_message = from + " is not served by the target (its CRD serves " + util::join(served, ", ") +
                         "): " + c.reason;
      return out;
    }
    auto& a = obj.GetAllocator();
    json::set(obj, "apiVersion", json::make_string(join_gv(group, c.to_version), a), a);
    out.changed = true;
    if (ctx.notes) ctx.notes->push_back("converted " + from + " -> " + join_gv(group, c.to_version) + " " + kind +
                                        " (" + c.reason + ")");
    return out;
  }

private:
  TargetApis m_target;
  std::map<std::string, json::Document> m_crds;  // "group/Kind" -> the backed-up CRD
};

class LatestConversionTransform : public Transform {
public:
  std::string name() const override { return m_inner ? m_inner->name() : "API-version conversion"; }
  TransformStage stage() const override { return TransformStage::convert; }
  void prepare(const LoadedBackup& backup) override {
    m_inner = make_conversion_transform(latest_kubernetes_apis(backup).served());
  }
  Result<TransformOutcome> apply(const TransformContext& ctx, json::Document& obj) override {
    if (!m_inner) return TransformOutcome{};
    return m_inner->apply(ctx, obj);
  }

private:
  std::shared_ptr<Transform> m_inner;
};

// Preflight: marks where the convert stage starts (notes index) and records how it ended for each item.
struct ConvertRecord {
  std::string group, version, kind;  // as backed up
  std::string api_version;           // after the convert stage
  std::vector<std::string> notes;    // added by the convert stage
};

struct RecordBook {
  std::map<std::tuple<std::string, std::string, std::string, std::string>, ConvertRecord> records;  // group, resource, ns, name
  std::map<std::tuple<std::string, std::string, std::string>, size_t> notes_start;                // resource, ns, name
};

class RecordStart : public Transform {
public:
  explicit RecordStart(std::shared_ptr<RecordBook> book) : m_book(std::move(book)) {}
  std::string name() const override { return "preflight"; }
  TransformStage stage() const override { return TransformStage::convert; }
  Result<TransformOutcome> apply(const TransformContext& ctx, json::Document&) override {
    m_book->notes_start[{ctx.resource, ctx.original_namespace, ctx.name}] = ctx.notes ? ctx.notes->size() : 0;
    return TransformOutcome{};
  }

private:
  std::shared_ptr<RecordBook> m_book;
};

class RecordEnd : public Transform {
public:
  explicit RecordEnd(std::shared_ptr<RecordBook> book) : m_book(std::move(book)) {}
  std::string name() const override { return "preflight"; }
  TransformStage stage() const override { return TransformStage::convert; }
  Result<TransformOutcome> apply(const TransformContext& ctx, json::Document& obj) override {
    ConvertRecord r{ctx.group, ctx.version, ctx.kind, json::get_string(obj, {"apiVersion"}), {}};
    if (ctx.notes) {
      size_t start = m_book->notes_start[{ctx.resource, ctx.original_namespace, ctx.name}];
      for (size_t i = start; i < ctx.notes->size(); ++i) r.notes.push_back((*ctx.notes)[i]);
    }
    std::string final_group = split_api_version(r.api_version).first;
    m_book->records[{final_group, ctx.resource, ctx.original_namespace, ctx.name}] = r;
    // A conversion that changed the kind (an OpenShift Route -> an Ingress): the plan names the new resource.
    if (std::string kind = json::get_string(obj, {"kind"}); !kind.empty() && kind != ctx.kind) {
      std::string gr = patch::group_resource_for(r.api_version, kind);
      m_book->records[{final_group, gr.substr(0, gr.find('.')), ctx.original_namespace, ctx.name}] = r;
    }
    m_book->records[{ctx.group, ctx.resource, ctx.original_namespace, ctx.name}] = std::move(r);
    return TransformOutcome{};
  }

private:
  std::shared_ptr<RecordBook> m_book;
};

}  // namespace

// ---- TargetApis ------------------------------------------------------------------------------------------------

void TargetApis::add(std::string_view group, std::string_view version, std::string_view kind) {
  m_served.add(join_gv(group, version), kind);
  auto& list = m_versions[type_key(group, kind)];
  if (std::find(list.begin(), list.end(), version) == list.end()) list.emplace_back(version);
}

bool TargetApis::serves(std::string_view group, std::string_view version, std::string_view kind) const {
  return !m_served.empty() && m_served.serves(join_gv(group, version), kind);
}

std::vector<std::string> TargetApis::versions_of(std::string_view group, std::string_view kind) const {
  auto it = m_versions.find(type_key(group, kind));
  return it == m_versions.end() ? std::vector<std::string>{} : it->second;
}

TargetApis TargetApis::from_discovery(const kube::Discovery& discovery) {
  TargetApis t;
  // Group versions in the server's order (preferred first), so versions_of() lists the preferred one first.
  for (const kube::GroupInfo& g : discovery.groups())
    for (const std::string& v : g.versions)
      for (const kube::ResourceType& rt : discovery.all_versions())
        if (rt.group == g.name && rt.version == v) t.add(rt.group, rt.version, rt.kind);
  for (const kube::ResourceType& rt : discovery.all_versions()) t.add(rt.group, rt.version, rt.kind);
  return t;
}

bool removed_from_kubernetes(std::string_view group_version, std::string_view kind) {
  for (std::string_view k : k_removed_kinds)
    if (k == kind) return true;
  for (std::string_view gv : k_removed_group_versions)
    if (gv == group_version) return true;
  return false;
}

TargetApis latest_kubernetes_apis(const LoadedBackup& backup) {
  TargetApis t;
  std::set<std::pair<std::string, std::string>> seen;  // apiVersion, kind
  for (const BackupItem& it : backup.items) {
    std::string api_version = join_gv(it.key.group, it.key.version);
    if (it.kind.empty() || !seen.insert({api_version, it.kind}).second) continue;
    if (!removed_from_kubernetes(api_version, it.kind)) {
      t.add(it.key.group, it.key.version, it.kind);
      continue;
    }
    auto to = conversion_targets().find(api_version + " " + it.kind);
    if (to == conversion_targets().end()) continue;
    auto [group, version] = split_api_version(to->second);
    t.add(group, version, it.kind);
  }
  // Nothing in the backup: still "a target", so conversions are not switched off.
  if (t.empty()) t.add("", "v1", "Namespace");
  return t;
}

// ---- SourceApis ------------------------------------------------------------------------------------------------

SourceApis SourceApis::from_manifest(const json::Value& manifest) {
  SourceApis s;
  s.server_version = json::get_string(manifest, {"cluster", "serverVersion", "gitVersion"});
  const json::Value* groups = json::find(manifest, "apiGroups");
  if (!groups || !groups->IsArray()) return s;
  s.known = true;
  for (const auto& g : groups->GetArray()) {
    kube::GroupInfo info;
    info.name = json::get_string(g, {"name"});
    info.preferred_version = json::get_string(g, {"preferredVersion"});
    if (const json::Value* vs = json::find(g, "versions"); vs && vs->IsArray())
      for (const auto& v : vs->GetArray())
        if (v.IsString()) info.versions.emplace_back(v.GetString(), v.GetStringLength());
    s.groups[info.name] = std::move(info);
  }
  return s;
}

std::string SourceApis::describe(const std::string& group) const {
  if (!known) return "";
  auto it = groups.find(group);
  if (it == groups.end()) return "";
  std::vector<std::string> parts;
  for (const std::string& v : it->second.versions)
    parts.push_back(v == it->second.preferred_version ? v + " (preferred)" : v);
  return "source served " + util::join(parts, ", ");
}

// ---- custom resources ------------------------------------------------------------------------------------------

CustomResourceVersion choose_custom_resource_version(const json::Value& backup_crd, const std::string& version,
                                                     const std::vector<std::string>& target_versions) {
  CustomResourceVersion out;
  std::map<std::string, CrdVersion> versions = crd_versions(backup_crd);
  std::string strategy = json::get_string(backup_crd, {"spec", "conversion", "strategy"}, "None");
  auto from = versions.find(version);
  std::vector<std::string> why_not;
  for (const std::string& to : target_versions) {
    if (to == version) {
      out.reason = "served as-is";
      return out;
    }
    auto cand = versions.find(to);
    if (cand == versions.end()) {
      why_not.push_back(to + " is not a version of the backup's CRD");
      continue;
    }
    if (from != versions.end() && from->second.schema && cand->second.schema &&
        json::equal(*from->second.schema, *cand->second.schema)) {
      out.changed = true;
      out.to_version = to;
      out.reason = "the backup's CRD gives " + version + " and " + to + " identical schemas";
      return out;
    }
    if (strategy == "None" && from != versions.end() && from->second.served && cand->second.served) {
      out.changed = true;
      out.to_version = to;
      out.reason = "the backup's CRD serves " + version + " and " + to +
                   " with conversion strategy None: only apiVersion differs";
      return out;
    }
    if (from == versions.end()) why_not.push_back("the backup's CRD has no version " + version);
    else if (strategy != "None")
      why_not.push_back("the backup's CRD converts " + version + " -> " + to + " with strategy " + strategy +
                        " and their schemas differ");
    else why_not.push_back("the backup's CRD does not serve both " + version + " and " + to);
  }
  std::sort(why_not.begin(), why_not.end());
  why_not.erase(std::unique(why_not.begin(), why_not.end()), why_not.end());
  out.reason = why_not.empty() ? "no served version" : util::join(why_not, "; ");
  return out;
}

std::shared_ptr<Transform> make_custom_resource_version_transform(TargetApis target) {
  return std::make_shared<CustomResourceVersionTransform>(std::move(target));
}

std::shared_ptr<Transform> make_latest_conversion_transform() { return std::make_shared<LatestConversionTransform>(); }

// ---- preflight -----------------------------------------------------------------------------------------------

const char* preflight_result_name(PreflightResult r) {
  switch (r) {
    case PreflightResult::served: return "served";
    case PreflightResult::converted: return "converted";
    case PreflightResult::no_match: return "no-match";
    case PreflightResult::not_restored: return "not-restored";
  }
  return "?";
}

size_t PreflightReport::count(PreflightResult r) const {
  return static_cast<size_t>(std::count_if(lines.begin(), lines.end(), [r](const PreflightLine& l) { return l.result == r; }));
}

size_t PreflightReport::items(PreflightResult r) const {
  size_t n = 0;
  for (const PreflightLine& l : lines)
    if (l.result == r) n += l.items;
  return n;
}

Result<PreflightReport> preflight(LoadedBackup& backup, const PlanOptions& options, const TargetApis& target,
                                  std::string target_description, const SourceApis& source) {
  auto book = std::make_shared<RecordBook>();
  PlanOptions po = options;
  std::set<std::string> convert_names;
  for (const auto& t : po.transforms)
    if (t->stage() == TransformStage::convert) convert_names.insert(t->name());
  po.transforms.insert(po.transforms.begin(), std::make_shared<RecordStart>(book));
  po.transforms.push_back(std::make_shared<RecordEnd>(book));
  KBK_ASSIGN_OR_RETURN(Plan plan, make_plan_releasing_backup(backup, po));
  // Convert-stage transforms are prepared now; their names may depend on it.
  for (const auto& t : po.transforms)
    if (t->stage() == TransformStage::convert) convert_names.insert(t->name());

  // Kinds the restore itself creates CRDs for: "group/Kind" -> served versions.
  std::map<std::string, std::set<std::string>> crd_served;
  for (const PlannedItem& p : plan.items) {
    if (p.skip || p.group != "apiextensions.k8s.io" || p.resource != "customresourcedefinitions") continue;
    json::Document crd = p.object.parse();
    std::string key = type_key(json::get_string(crd, {"spec", "group"}), json::get_string(crd, {"spec", "names", "kind"}));
    for (const auto& [name, v] : crd_versions(crd))
      if (v.served) crd_served[key].insert(name);
  }

  struct Acc {
    PreflightLine line;
    std::set<std::string> notes;
  };
  std::map<std::tuple<std::string, std::string, std::string, int, std::string, std::string>, Acc> acc;
  auto add = [&](std::string group, std::string version, std::string kind, const std::string& resource,
                 PreflightResult result, std::string to, std::string reason, const std::vector<std::string>& notes) {
    auto key = std::make_tuple(group, version, kind, static_cast<int>(result), to, reason);
    Acc& a = acc[key];
    if (a.line.items == 0) {
      a.line.group = std::move(group);
      a.line.version = std::move(version);
      a.line.kind = std::move(kind);
      a.line.resource = resource;
      a.line.result = result;
      a.line.to = std::move(to);
      a.line.reason = std::move(reason);
      a.line.source = source.describe(a.line.group);
    }
    ++a.line.items;
    for (const std::string& n : notes)
      if (!util::starts_with(n, "converted ") && a.notes.insert(n).second) a.line.notes.push_back(n);
  };

  for (const PlannedItem& p : plan.items) {
    if (p.synthesized) continue;
    const ConvertRecord* rec = nullptr;
    if (auto f = book->records.find({p.group, p.resource, p.source_namespace, p.source_name}); f != book->records.end())
      rec = &f->second;
    if (p.skip) {
      if (!rec && (p.skip->reason == reason::transform_failed || p.skip->reason == reason::transform_skip)) {
        std::string msg = p.skip->message;
        bool in_convert = false;
        for (const std::string& n : convert_names)
          if (util::starts_with(msg, n + ": ")) {
            msg = msg.substr(n.size() + 2);
            in_convert = true;
          }
        if (in_convert) {
          add(p.group, p.version, p.kind, p.resource, PreflightResult::no_match, "", msg, {});
          continue;
        }
      }
      if (rec) add(rec->group, rec->version, rec->kind, p.resource, PreflightResult::not_restored, "", p.skip->reason, {});
      else add(p.group, p.version, p.kind, p.resource, PreflightResult::not_restored, "", p.skip->reason, {});
      continue;
    }
    std::string group = rec ? rec->group : p.group, version = rec ? rec->version : p.version, kind = rec ? rec->kind : p.kind;
    std::string final_version = join_gv(p.group, p.version);
    if (!target.serves(p.group, p.version, p.kind)) {
      auto c = crd_served.find(type_key(p.group, p.kind));
      if (c == crd_served.end() || !c->second.count(p.version)) {
        add(group, version, kind, p.resource, PreflightResult::no_match, "",
            "the target does not serve " + final_version + " " + p.kind + " and the backup has no CRD serving it" +
                (target.versions_of(p.group, p.kind).empty()
                     ? ""
                     : " (the target serves " + util::join(target.versions_of(p.group, p.kind), ", ") + ")"),
            {});
        continue;
      }
    }
    if (group == p.group && version == p.version) add(group, version, kind, p.resource, PreflightResult::served, "", "", {});
    else add(group, version, kind, p.resource, PreflightResult::converted, final_version, "", rec ? rec->notes : std::vector<std::string>{});
  }

  PreflightReport report;
  report.backup = backup.name;
  report.target = std::move(target_description);
  report.source = source.server_version;
  for (auto& [k, a] : acc) report.lines.push_back(std::move(a.line));
  return report;
}

json::Document preflight_to_json(const PreflightReport& report) {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  auto s = [&](std::string_view v) { return json::make_string(v, a); };
  json::set(d, "apiVersion", s(archive::k_kbk_api_version), a);
  json::set(d, "kind", s("RestorePreflight"), a);
  json::set(d, "backup", s(report.backup), a);
  json::set(d, "target", s(report.target), a);
  json::set(d, "sourceVersion", s(report.source), a);
  json::set(d, "restorable", json::Value(report.restorable()), a);
  json::Value summary(rapidjson::kObjectType);
  for (PreflightResult r : {PreflightResult::served, PreflightResult::converted, PreflightResult::no_match, PreflightResult::not_restored}) {
    json::Value c(rapidjson::kObjectType);
    json::set(c, "apis", json::Value(static_cast<uint64_t>(report.count(r))), a);
    json::set(c, "items", json::Value(static_cast<uint64_t>(report.items(r))), a);
    json::set(summary, preflight_result_name(r), std::move(c), a);
  }
  json::set(d, "summary", std::move(summary), a);
  json::Value apis(rapidjson::kArrayType);
  for (const PreflightLine& l : report.lines) {
    json::Value o(rapidjson::kObjectType);
    json::set(o, "apiVersion", s(l.api_version()), a);
    json::set(o, "group", s(l.group), a);
    json::set(o, "version", s(l.version), a);
    json::set(o, "kind", s(l.kind), a);
    json::set(o, "resource", s(l.resource), a);
    json::set(o, "result", s(preflight_result_name(l.result)), a);
    json::set(o, "items", json::Value(static_cast<uint64_t>(l.items)), a);
    if (!l.to.empty()) json::set(o, "to", s(l.to), a);
    if (!l.reason.empty()) json::set(o, "reason", s(l.reason), a);
    if (!l.source.empty()) json::set(o, "source", s(l.source), a);
    json::Value notes(rapidjson::kArrayType);
    for (const std::string& n : l.notes) notes.PushBack(s(n), a);
    json::set(o, "notes", std::move(notes), a);
    apis.PushBack(std::move(o), a);
  }
  json::set(d, "apis", std::move(apis), a);
  return d;
}

std::string preflight_text(const PreflightReport& report) {
  auto plural = [](size_t n) { return std::to_string(n) + (n == 1 ? " item" : " items"); };
  std::string out = "Preflight of backup " + report.backup + (report.source.empty() ? "" : " (source " + report.source + ")") +
                    " against " + report.target + "\n";
  for (const PreflightLine& l : report.lines) {
    std::string line = l.api_version() + " " + l.kind + ": ";
    switch (l.result) {
      case PreflightResult::served:
        line += "served as-is (" + plural(l.items) + ")";
        break;
      case PreflightResult::converted:
        line += "converted to " + l.to + " (" + plural(l.items) + (l.source.empty() ? "" : "; " + l.source) + ")";
        break;
      case PreflightResult::no_match:
        line += "no matching API, skipped (" + plural(l.items) + (l.source.empty() ? "" : "; " + l.source) + "): " + l.reason;
        break;
      case PreflightResult::not_restored:
        line += "not restored: " + l.reason + " (" + plural(l.items) + ")";
        break;
    }
    out += line + "\n";
    for (const std::string& n : l.notes) out += "    " + n + "\n";
  }
  out += std::to_string(report.lines.size()) + " API line(s): " + std::to_string(report.count(PreflightResult::served)) +
         " served as-is, " + std::to_string(report.count(PreflightResult::converted)) + " converted, " +
         std::to_string(report.count(PreflightResult::no_match)) + " without a matching API";
  if (size_t n = report.items(PreflightResult::no_match)) out += " (" + plural(n) + " would be skipped)";
  out += "\n";
  return out;
}

}  // namespace kbk::restore
