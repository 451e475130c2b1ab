// Discovery: aggregated (apidiscovery.k8s.io v2 / v2beta1) in one request per root where served, else the legacy
// documents (/api, /api/v1, /apis, /apis/<g>/<v>, the group versions fetched in parallel); resolution of what
// users type with kubectl's rules (client-go restmapper: shortcut expansion, then a priority mapper that puts
// the core group first and the other groups in discovery order).
#include <kbk/kube/discovery.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

#include "discovery_parse.hpp"

namespace kbk::kube {

const char* const k_discovery_accept =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

namespace {

std::vector<std::string> string_array(const json::Value& obj, std::string_view key) {
  std::vector<std::string> out;
  const json::Value* a = json::find(obj, key);
  if (!a || !a->IsArray()) return out;
  for (const auto& v : a->GetArray()) {
    if (v.IsString()) out.emplace_back(v.GetString(), v.GetStringLength());
  }
  return out;
}

}  // namespace

bool is_aggregated_content_type(std::string_view content_type) {
  // application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList (parameters in any order).
  const auto parts = util::split(content_type, ';');
  if (parts.empty() || util::to_lower(util::trim(parts[0])) != "application/json") return false;
  std::map<std::string, std::string> params;
  for (size_t i = 1; i < parts.size(); ++i) {
    const auto eq = parts[i].find('=');
    if (eq == std::string::npos) continue;
    params[util::to_lower(util::trim(std::string_view(parts[i]).substr(0, eq)))] =
        std::string(util::trim(std::string_view(parts[i]).substr(eq + 1)));
  }
  return params["g"] == "apidiscovery.k8s.io" && params["as"] == "APIGroupDiscoveryList" &&
         (params["v"] == "v2" || params["v"] == "v2beta1");
}

Result<ParsedDiscovery> parse_aggregated(std::string_view body) {
  KBK_ASSIGN_OR_RETURN(json::Document doc, json::parse(body, "aggregated discovery document"));
  ParsedDiscovery out;
  const json::Value* items = json::find(doc, "items");
  if (!items || !items->IsArray()) return unexpected(Errc::parse, "aggregated discovery document: no items");
  for (const auto& item : items->GetArray()) {
    GroupInfo g;
    g.name = json::get_string(item, {"metadata", "name"});
    const json::Value* versions = json::find(item, "versions");
    if (!versions || !versions->IsArray()) continue;
    for (const auto& v : versions->GetArray()) {
      const std::string version = json::get_string(v, {"version"});
      const std::string gv = g.name.empty() ? version : g.name + "/" + version;
      if (json::get_string(v, {"freshness"}) == "Stale") {
        out.warnings.push_back("couldn't get resource list for " + gv + ": the server reports its discovery as stale");
        continue;
      }
      g.versions.push_back(version);
      const json::Value* resources = json::find(v, "resources");
      if (!resources || !resources->IsArray()) continue;
      for (const auto& r : resources->GetArray()) {
        const json::Value* kind = json::find(r, "responseKind");
        if (!kind || !kind->IsObject()) continue;  // client-go drops resources without a responseKind
        ResourceType rt;
        rt.group = g.name;
        rt.version = version;
        rt.resource = json::get_string(r, {"resource"});
        rt.kind = json::get_string(*kind, {"kind"});
        rt.singular = json::get_string(r, {"singularResource"});
        if (rt.singular.empty()) rt.singular = util::to_lower(rt.kind);
        rt.namespaced = json::get_string(r, {"scope"}) == "Namespaced";
        rt.verbs = string_array(r, "verbs");
        rt.short_names = string_array(r, "shortNames");
        rt.categories = string_array(r, "categories");
        if (const json::Value* subs = json::find(r, "subresources"); subs && subs->IsArray()) {
          for (const auto& s : subs->GetArray()) rt.subresources.push_back(json::get_string(s, {"subresource"}));
        }
        out.resources.push_back(std::move(rt));
      }
    }
    if (g.versions.empty()) continue;
    g.preferred_version = g.versions.front();
    out.groups.push_back(std::move(g));
  }
  return out;
}

Result<std::vector<ResourceType>> parse_resource_list(std::string_view body, std::string_view group,
                                                      std::string_view version) {
  KBK_ASSIGN_OR_RETURN(json::Document doc, json::parse(body, "APIResourceList"));
  const json::Value* resources = json::find(doc, "resources");
  if (!resources || !resources->IsArray())
    return unexpected(Errc::parse, "APIResourceList " + std::string(version) + ": no resources");
  std::vector<ResourceType> out;
  std::vector<std::pair<std::string, std::string>> subs;  // parent, subresource
  for (const auto& r : resources->GetArray()) {
    const std::string name = json::get_string(r, {"name"});
    if (const auto slash = name.find('/'); slash != std::string::npos) {
      subs.emplace_back(name.substr(0, slash), name.substr(slash + 1));
      continue;
    }
    ResourceType rt;
    rt.group = std::string(group);
    rt.version = std::string(version);
    rt.resource = name;
    rt.kind = json::get_string(r, {"kind"});
    rt.singular = json::get_string(r, {"singularName"});
    if (rt.singular.empty()) rt.singular = util::to_lower(rt.kind);
    const json::Value* ns = json::find(r, "namespaced");
    rt.namespaced = ns && ns->IsBool() && ns->GetBool();
    rt.verbs = string_array(r, "verbs");
    rt.short_names = string_array(r, "shortNames");
    rt.categories = string_array(r, "categories");
    out.push_back(std::move(rt));
  }
  for (const auto& [parent, sub] : subs) {
    for (auto& rt : out) {
      if (rt.resource == parent) rt.subresources.push_back(sub);
    }
  }
  return out;
}

Discovery::Discovery(std::vector<GroupInfo> groups, std::vector<ResourceType> all, std::vector<std::string> warnings)
    : m_groups(std::move(groups)), m_all(std::move(all)), m_warnings(std::move(warnings)) {}

namespace {

std::string gv_path(const std::string& group, const std::string& version) {
  return group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
}

// Legacy: fetches every group version's APIResourceList, a few at a time. Failures become warnings.
void fetch_legacy_versions(Client& client, const std::vector<GroupInfo>& groups, ParsedDiscovery& out) {
  struct Job {
    std::string group, version;
    std::vector<ResourceType> resources;
    std::string warning;
  };
  std::vector<Job> jobs;
  for (const auto& g : groups) {
    for (const auto& v : g.versions) jobs.push_back({g.name, v, {}, {}});
  }
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next++) < jobs.size();) {
      Job& job = jobs[i];
      const std::string gv = job.group.empty() ? job.version : job.group + "/" + job.version;
      auto raw = client.request_raw("GET", gv_path(job.group, job.version), "", "", "application/json, */*");
      if (!raw.ok()) {
        job.warning = "couldn't get resource list for " + gv + ": " + raw.error().message;
        continue;
      }
      auto parsed = parse_resource_list(raw->body, job.group, job.version);
      if (!parsed.ok()) {
        job.warning = "couldn't get resource list for " + gv + ": " + parsed.error().message;
        continue;
      }
      job.resources = std::move(*parsed);
    }
  };
  const size_t n = std::min<size_t>(8, jobs.size());
  std::vector<std::thread> threads;
  for (size_t i = 1; i < n; ++i) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  for (auto& job : jobs) {
    if (!job.warning.empty()) {
      out.warnings.push_back(job.warning);
      out.failed.emplace_back(job.group, job.version);
    }
    for (auto& rt : job.resources) out.resources.push_back(std::move(rt));
  }
}

bool body_is_aggregated(std::string_view body) {
  auto doc = json::parse(body);
  if (!doc.ok()) return false;
  const std::string av = json::get_string(*doc, {"apiVersion"});
  return json::get_string(*doc, {"kind"}) == "APIGroupDiscoveryList" &&
         (av == "apidiscovery.k8s.io/v2" || av == "apidiscovery.k8s.io/v2beta1");
}

}  // namespace

Result<Discovery> Discovery::fetch(Client& client) {
  ParsedDiscovery all;
  // Core group: /api
  std::vector<GroupInfo> legacy_groups;
  auto core = client.request_raw("GET", "/api", "", "", k_discovery_accept);
  if (!core.ok()) {
    if (!core.error().is(Errc::not_found)) return std::move(core).error().wrap("discovery of /api");
  } else if (is_aggregated_content_type(core->content_type) || body_is_aggregated(core->body)) {
    KBK_ASSIGN_OR_RETURN(ParsedDiscovery p, parse_aggregated(core->body));
    for (auto& g : p.groups) g.name.clear();
    for (auto& r : p.resources) r.group.clear();
    all.append(std::move(p));
  } else {
    KBK_ASSIGN_OR_RETURN(json::Document doc, json::parse(core->body, "/api"));
    GroupInfo g;
    g.versions = string_array(doc, "versions");
    if (!g.versions.empty()) {
      g.preferred_version = g.versions.front();
      legacy_groups.push_back(g);
      all.groups.push_back(std::move(g));
    }
  }
  // Other groups: /apis
  auto apis = client.request_raw("GET", "/apis", "", "", k_discovery_accept);
  if (!apis.ok()) return std::move(apis).error().wrap("discovery of /apis");
  if (is_aggregated_content_type(apis->content_type) || body_is_aggregated(apis->body)) {
    KBK_ASSIGN_OR_RETURN(ParsedDiscovery p, parse_aggregated(apis->body));
    all.append(std::move(p));
  } else {
    KBK_ASSIGN_OR_RETURN(json::Document doc, json::parse(apis->body, "/apis"));
    if (const json::Value* groups = json::find(doc, "groups"); groups && groups->IsArray()) {
      for (const auto& gj : groups->GetArray()) {
        GroupInfo g;
        g.name = json::get_string(gj, {"name"});
        if (const json::Value* vs = json::find(gj, "versions"); vs && vs->IsArray()) {
          for (const auto& v : vs->GetArray()) g.versions.push_back(json::get_string(v, {"version"}));
        }
        g.preferred_version = json::get_string(gj, {"preferredVersion", "version"});
        if (g.preferred_version.empty() && !g.versions.empty()) g.preferred_version = g.versions.front();
        if (g.name.empty() || g.versions.empty()) continue;
        legacy_groups.push_back(g);
        all.groups.push_back(std::move(g));
      }
    }
  }
  if (!legacy_groups.empty()) {
    ParsedDiscovery fetched;
    fetch_legacy_versions(client, legacy_groups, fetched);
    // Keep core first and the server's group order: stable-sort the fetched resources by group position.
    std::map<std::string, size_t> group_pos;
    for (size_t i = 0; i < all.groups.size(); ++i) group_pos.emplace(all.groups[i].name, i);
    for (auto& r : fetched.resources) all.resources.push_back(std::move(r));
    std::stable_sort(all.resources.begin(), all.resources.end(), [&](const ResourceType& a, const ResourceType& b) {
      return group_pos[a.group] < group_pos[b.group];
    });
    for (auto& w : fetched.warnings) all.warnings.push_back(std::move(w));
    // A version whose list failed is not served as far as kbk can tell; a group left without versions goes.
    for (const auto& [group, version] : fetched.failed) {
      for (auto& g : all.groups) {
        if (g.name != group) continue;
        g.versions.erase(std::remove(g.versions.begin(), g.versions.end(), version), g.versions.end());
        if (g.preferred_version == version) g.preferred_version = g.versions.empty() ? "" : g.versions.front();
      }
    }
    all.groups.erase(std::remove_if(all.groups.begin(), all.groups.end(),
                                    [](const GroupInfo& g) { return g.versions.empty(); }),
                     all.groups.end());
  }
  for (const auto& w : all.warnings) log::info(2, "discovery: " + w);  // callers decide how to show warnings()
  return Discovery(std::move(all.groups), std::move(all.resources), std::move(all.warnings));
}

void ParsedDiscovery::append(ParsedDiscovery other) {
  for (auto& f : other.failed) failed.push_back(std::move(f));
  for (auto& g : other.groups) groups.push_back(std::move(g));
  for (auto& r : other.resources) resources.push_back(std::move(r));
  for (auto& w : other.warnings) warnings.push_back(std::move(w));
}

// ---- queries ------------------------------------------------------------------------------------------------

namespace {

const GroupInfo* group_info(const std::vector<GroupInfo>& groups, std::string_view name) {
  for (const auto& g : groups) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

}  // namespace

std::vector<ResourceType> Discovery::preferred() const {
  // As client-go's ServerPreferredResources: a resource appears once per group, at the group's preferred version
  // when that version serves it, else at the first version that does.
  std::vector<ResourceType> out;
  std::map<std::pair<std::string, std::string>, size_t> index;
  for (const auto& rt : m_all) {
    const GroupInfo* g = group_info(m_groups, rt.group);
    const bool is_preferred = g && g->preferred_version == rt.version;
    auto key = std::make_pair(rt.group, rt.resource);
    auto it = index.find(key);
    if (it == index.end()) {
      index.emplace(key, out.size());
      out.push_back(rt);
    } else if (is_preferred) {
      out[it->second] = rt;
    }
  }
  return out;
}

const ResourceType* Discovery::find(std::string_view group, std::string_view resource) const {
  const ResourceType* first = nullptr;
  const GroupInfo* g = group_info(m_groups, group);
  for (const auto& rt : m_all) {
    if (rt.group != group || rt.resource != resource) continue;
    if (g && rt.version == g->preferred_version) return &rt;
    if (!first) first = &rt;
  }
  return first;
}

const ResourceType* Discovery::find(std::string_view group, std::string_view version, std::string_view resource) const {
  for (const auto& rt : m_all) {
    if (rt.group == group && rt.version == version && rt.resource == resource) return &rt;
  }
  return nullptr;
}

const ResourceType* Discovery::find_kind(std::string_view group, std::string_view kind) const {
  const ResourceType* first = nullptr;
  const GroupInfo* g = group_info(m_groups, group);
  for (const auto& rt : m_all) {
    if (rt.group != group || rt.kind != kind) continue;
    if (g && rt.version == g->preferred_version) return &rt;
    if (!first) first = &rt;
  }
  return first;
}

namespace {

struct Wanted {
  std::string resource;  // lower case
  std::string group;
  std::string version;
  bool has_group = false;
  bool has_version = false;
};

}  // namespace

Result<ResourceType> Discovery::resolve(std::string_view name) const {
  if (name.empty()) return unexpected(Errc::not_found, "the server doesn't have a resource type \"\"");
  // Group priority: core first, then discovery order.
  std::map<std::string, size_t> priority;
  priority.emplace("", 0);
  for (size_t i = 0; i < m_groups.size(); ++i) priority.emplace(m_groups[i].name, i + 1);
  auto group_rank = [&](const std::string& g) {
    auto it = priority.find(g);
    return it == priority.end() ? priority.size() : it->second;
  };
  auto version_rank = [&](const ResourceType& rt) {
    const GroupInfo* g = group_info(m_groups, rt.group);
    if (!g) return size_t{0};
    if (rt.version == g->preferred_version) return size_t{0};
    auto it = std::find(g->versions.begin(), g->versions.end(), rt.version);
    return static_cast<size_t>(it - g->versions.begin()) + 1;
  };
  // Candidates kubectl tries in order: resource.version.group, resource.group, then the plain name.
  const std::string text(name);
  const auto dot = text.find('.');
  std::vector<Wanted> tries;
  if (dot == std::string::npos) {
    tries.push_back({util::to_lower(text), "", "", false, false});
  } else {
    const auto dot2 = text.find('.', dot + 1);
    if (dot2 != std::string::npos)
      tries.push_back({util::to_lower(text.substr(0, dot)), text.substr(dot2 + 1), text.substr(dot + 1, dot2 - dot - 1),
                       true, true});
    tries.push_back({util::to_lower(text.substr(0, dot)), text.substr(dot + 1), "", true, false});
  }

  for (Wanted w : tries) {
    // Shortcut expansion (client-go restmapper/shortcut.go): not when the name is a full resource name.
    bool exact = false;
    for (const auto& rt : m_all) {
      if (w.has_group && rt.group != w.group) continue;
      if (rt.resource == w.resource || rt.singular == w.resource) {
        exact = true;
        break;
      }
    }
    if (!exact) {
      const ResourceType* chosen = nullptr;
      std::set<std::string> warned;
      std::vector<const ResourceType*> by_priority;
      for (const auto& rt : m_all) by_priority.push_back(&rt);
      std::stable_sort(by_priority.begin(), by_priority.end(),
                       [&](const ResourceType* a, const ResourceType* b) { return group_rank(a->group) < group_rank(b->group); });
      for (const ResourceType* rt : by_priority) {
        if (w.has_group && rt->group != w.group) continue;
        if (std::find(rt->short_names.begin(), rt->short_names.end(), w.resource) == rt->short_names.end()) continue;
        if (!chosen) {
          chosen = rt;
          continue;
        }
        if (rt->group == chosen->group && rt->resource == chosen->resource) continue;
        const std::string other = rt->group_resource();
        if (warned.insert(other).second)
          log::warning_once("short name \"" + w.resource + "\" could also match lower priority resource " + other);
      }
      if (!chosen && w.has_group) {
        // A group prefix with a short name: "hpa.autoscal" (client-go matches shortcut groups by prefix).
        for (const ResourceType* rt : by_priority) {
          if (util::starts_with(rt->group, w.group) &&
              std::find(rt->short_names.begin(), rt->short_names.end(), w.resource) != rt->short_names.end()) {
            chosen = rt;
            break;
          }
        }
      }
      if (chosen) {
        w.resource = chosen->resource;
        w.group = chosen->group;
        w.has_group = true;
      }
    }
    const ResourceType* best = nullptr;
    auto consider = [&](const ResourceType& rt) {
      if (!best || group_rank(rt.group) < group_rank(best->group) ||
          (rt.group == best->group && version_rank(rt) < version_rank(*best)))
        best = &rt;
    };
    for (const auto& rt : m_all) {
      if (w.has_group && rt.group != w.group) continue;
      if (w.has_version && rt.version != w.version) continue;
      if (rt.resource == w.resource || rt.singular == w.resource) consider(rt);
    }
    if (!best) {
      for (const auto& rt : m_all) {  // a Kind, as `kubectl get Deployment.apps`
        if (w.has_group && rt.group != w.group) continue;
        if (w.has_version && rt.version != w.version) continue;
        if (util::to_lower(rt.kind) == w.resource) consider(rt);
      }
    }
    if (best) return *best;
  }
  return unexpected(Errc::not_found, "the server doesn't have a resource type \"" + text + "\"");
}

}  // namespace kbk::kube
