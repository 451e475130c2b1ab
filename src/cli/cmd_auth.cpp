// kbk auth can-i-backup: which resource types (and namespaces) the current identity cannot list or get, checked
// with SelfSubjectAccessReviews and SelfSubjectRulesReviews before a backup would silently miss them.
#include <cstdio>

#include "commands.hpp"
#include <kbk/json/json.hpp>
#include <kbk/kube/access.hpp>
#include <kbk/kube/discovery.hpp>
#include <kbk/output/output.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::cli {
namespace {

json::Value strings(const std::vector<std::string>& v, json::Allocator& a) {
  json::Value arr(rapidjson::kArrayType);
  for (const auto& s : v) arr.PushBack(json::make_string(s, a), a);
  return arr;
}

int run(const GlobalOptions& g) {
  const output::Format format = output_format(g, {output::Format::json});
  const kube::RestConfig config = load_rest_config(g);
  auto client = make_client(g, config);
  auto discovery = fetch_discovery(*client);
  std::vector<kube::ResourceType> types;
  for (auto& rt : discovery.preferred()) {
    if (rt.backupable())
      types.push_back(std::move(rt));
  }
  // -n narrows the check to one namespace (plus cluster-scoped types); otherwise the whole cluster.
  const std::string ns = g.kube.namespace_;
  auto report = kube::check_backup_access(*client, types, ns);
  if (!report.ok()) {
    log::error("checking access: " + report.error().message);
    return static_cast<int>(exit_code_for(report.error()));
  }
  for (const auto& n : report->notes) log::warning(n);

  if (format.structured()) {
    json::Document doc;
    doc.SetObject();
    auto& a = doc.GetAllocator();
    doc.AddMember("user", json::make_string(report->user, a), a);
    doc.AddMember("namespace", json::make_string(report->namespace_, a), a);
    doc.AddMember("readable", report->readable(), a);
    doc.AddMember("checked", static_cast<uint64_t>(report->checked), a);
    json::Value denied(rapidjson::kArrayType);
    for (const auto& d : report->denied) {
      json::Value e(rapidjson::kObjectType);
      e.AddMember("resource", json::make_string(d.type.resource, a), a);
      e.AddMember("group", json::make_string(d.type.group, a), a);
      e.AddMember("version", json::make_string(d.type.version, a), a);
      e.AddMember("namespaced", d.type.namespaced, a);
      e.AddMember("verbs", strings(d.verbs, a), a);
      e.AddMember("namespaces", strings(d.namespaces, a), a);
      denied.PushBack(e, a);
    }
    doc.AddMember("denied", denied, a);
    doc.AddMember("notes", strings(report->notes, a), a);
    output::print(doc, format);
  } else if (report->readable()) {
    std::printf("%s can read all %zu resource types kbk backs up%s\n",
                report->user.empty() ? "The current identity" : ("User \"" + report->user + "\"").c_str(),
                report->checked, ns.empty() ? "" : (" in namespace " + ns).c_str());
  } else {
    output::Table table({"RESOURCE", "APIVERSION", "CANNOT", "WHERE"});
    for (const auto& d : report->denied) {
      std::string where;
      if (!d.type.namespaced) where = "cluster";
      else if (!ns.empty()) where = "namespace " + ns;
      else if (d.namespaces.empty()) where = "all namespaces";
      else where = util::join(d.namespaces, ",");
      table.add_row({d.type.group_resource(), d.type.api_version(), util::join(d.verbs, ","), where});
    }
    const std::string text = table.render();
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fprintf(stderr, "kbk: %zu of %zu resource types are not fully readable by %s: a backup would miss them\n",
                 report->denied.size(), report->checked,
                 report->user.empty() ? "the current identity" : ("user \"" + report->user + "\"").c_str());
  }
  return report->readable() ? 0 : static_cast<int>(ExitCode::partial);
}

}  // namespace

void register_auth(CLI::App& app, GlobalOptions& g, RunState& state) {
  auto* auth = app.add_subcommand("auth", "Inspect what the current identity may do (before a backup or restore runs)");
  document(auth, {"kbk auth can-i-backup", "kbk auth can-i-restore --from-backup nightly"});
  auto* cmd = auth->add_subcommand(
      "can-i-backup", "List the resource types (and namespaces) the current identity cannot list or get");
  set_runner(cmd, state, [&g] { return run(g); });
  document(cmd, {"kbk auth can-i-backup", "kbk auth can-i-backup -n shop", "kbk auth can-i-backup --as system:serviceaccount:kbk:backup -o json"},
           "Checks list and get on every type kbk backs up with SelfSubjectAccessReviews (at cluster scope, or in "
           "the namespace given with -n); types denied at cluster scope are checked namespace by namespace with "
           "SelfSubjectRulesReviews. Exit 0 when everything is readable, 2 when not.");
  // auth can-i-restore is registered by register_restore (it plans as restore create does).
}

}  // namespace kbk::cli
