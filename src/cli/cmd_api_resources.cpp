// kbk api-resources: the resource types the server serves (one row per group/resource at its preferred version,
// as kubectl api-resources) and whether kbk backs each up (it needs list, get, create and delete).
#include <algorithm>
#include <cstdio>

#include "commands.hpp"
#include <kbk/json/json.hpp>
#include <kbk/kube/discovery.hpp>
#include <kbk/output/output.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::cli {
namespace {

struct ApiResourcesOptions {
  std::string namespaced;  // "", "true", "false"
  std::string api_group;
  std::vector<std::string> verbs;
  bool no_headers = false;
};

json::Value string_array(const std::vector<std::string>& v, json::Allocator& a) {
  json::Value arr(rapidjson::kArrayType);
  for (const auto& s : v) arr.PushBack(json::make_string(s, a), a);
  return arr;
}

int run(const GlobalOptions& g, const ApiResourcesOptions& o, CLI::App* cmd) {
  const output::Format format = output_format(g, {output::Format::json, output::Format::wide, output::Format::name});
  if (!o.namespaced.empty() && o.namespaced != "true" && o.namespaced != "false")
    throw Fatal(ExitCode::usage, "--namespaced must be true or false, not \"" + o.namespaced + "\"");
  const bool group_filter = cmd->count("--api-group") > 0;

  const kube::RestConfig config = load_rest_config(g);
  auto client = make_client(g, config);
  auto discovery = fetch_discovery(*client);
  // A group whose discovery failed (a broken aggregated API) is missing from the list: kubectl exits 1 there;
  // kbk prints what it has and says "partially failed".
  const int code = discovery.warnings().empty() ? 0 : static_cast<int>(ExitCode::partial);

  std::vector<kube::ResourceType> rows;
  for (auto& rt : discovery.preferred()) {
    if (!o.namespaced.empty() && rt.namespaced != (o.namespaced == "true")) continue;
    if (group_filter && rt.group != o.api_group) continue;
    bool verbs_ok = true;
    for (const auto& v : o.verbs) verbs_ok = verbs_ok && rt.has_verb(v);
    if (!verbs_ok) continue;
    rows.push_back(std::move(rt));
  }
  // kubectl's order: by group, then by name.
  std::stable_sort(rows.begin(), rows.end(), [](const kube::ResourceType& a, const kube::ResourceType& b) {
    return a.group != b.group ? a.group < b.group : a.resource < b.resource;
  });

  if (format.structured()) {
    json::Document doc;
    doc.SetObject();
    auto& a = doc.GetAllocator();
    json::Value list(rapidjson::kArrayType);
    for (const auto& rt : rows) {
      json::Value r(rapidjson::kObjectType);
      r.AddMember("name", json::make_string(rt.resource, a), a);
      r.AddMember("singularName", json::make_string(rt.singular, a), a);
      r.AddMember("shortNames", string_array(rt.short_names, a), a);
      r.AddMember("group", json::make_string(rt.group, a), a);
      r.AddMember("version", json::make_string(rt.version, a), a);
      r.AddMember("namespaced", rt.namespaced, a);
      r.AddMember("kind", json::make_string(rt.kind, a), a);
      r.AddMember("verbs", string_array(rt.verbs, a), a);
      r.AddMember("categories", string_array(rt.categories, a), a);
      r.AddMember("backup", rt.backupable(), a);
      list.PushBack(r, a);
    }
    doc.AddMember("resources", list, a);
    output::print(doc, format);
    return code;
  }
  if (format == output::Format::name) {
    for (const auto& rt : rows) std::printf("%s\n", rt.group_resource().c_str());
    return code;
  }
  const bool wide = format == output::Format::wide;
  std::vector<std::string> headers{"NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND", "BACKUP"};
  if (wide) {
    headers.push_back("VERBS");
    headers.push_back("CATEGORIES");
  }
  output::Table table(headers);
  for (const auto& rt : rows) {
    std::vector<std::string> row{rt.resource, util::join(rt.short_names, ","), rt.api_version(),
                                 rt.namespaced ? "true" : "false", rt.kind, rt.backupable() ? "yes" : "no"};
    if (wide) {
      row.push_back("[" + util::join(rt.verbs, " ") + "]");
      row.push_back(util::join(rt.categories, ","));
    }
    table.add_row(std::move(row));
  }
  std::string text = table.render();
  if (o.no_headers) {
    const auto nl = text.find('\n');
    text = nl == std::string::npos ? "" : text.substr(nl + 1);
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  return code;
}

}  // namespace

void register_api_resources(CLI::App& app, GlobalOptions& g, RunState& state) {
  static ApiResourcesOptions o;
  auto* cmd = app.add_subcommand(
      "api-resources",
      "List the resource types the server serves and whether kbk backs them up (needs list, get, create, delete)");
  cmd->add_option("--namespaced", o.namespaced, "true: only namespaced types; false: only cluster-scoped types")
      ->type_name(value::k_bool);
  cmd->add_option("--api-group", o.api_group, "Only types of this API group (\"\" for the core group)")->type_name("GROUP");
  cmd->add_option("--verbs", o.verbs, "Only types that support all of these verbs (comma separated)")
      ->delimiter(',')
      ->type_name("VERBS");
  cmd->add_flag("--no-headers", o.no_headers, "Omit the table header");
  set_runner(cmd, state, [&g, cmd] { return run(g, o, cmd); });
  document(cmd,
           {"kbk api-resources", "kbk api-resources --namespaced=false -o wide", "kbk api-resources --api-group apps -o name",
            "# the types kbk would leave out of a backup",
            "kbk api-resources -o jsonpath='{range .resources[?(@.backup==false)]}{.name}.{.group}{\"\\n\"}{end}'"},
           "Output (-o): table (default), wide (adds VERBS, CATEGORIES), name (resource.group), json, yaml, jsonpath. "
           "JSON: {\"resources\":[{\"name\",\"singularName\",\"shortNames\",\"group\",\"version\",\"namespaced\","
           "\"kind\",\"verbs\",\"categories\",\"backup\"}]}. Groups whose discovery fails (a broken aggregated API) "
           "are reported as warnings; the rest is listed and the exit status is 2 (kubectl exits 1).");
}

}  // namespace kbk::cli
