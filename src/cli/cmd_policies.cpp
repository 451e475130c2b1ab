// kbk policies check: read a Velero volume policy file (resource policies, version v1) as `backup create
// --resource-policies` does and, given a volume, say which policy matches it, offline (as `modifiers apply` tries
// modifier files).
#include <cstdio>

#include "commands.hpp"
#include <kbk/json/json.hpp>
#include <kbk/output/output.hpp>
#include <kbk/util/log.hpp>
#include <kbk/volume/policy.hpp>

namespace kbk::cli {

std::string read_input(const std::string& path, const std::string& flag);  // cmd_patch.cpp

namespace {

struct CheckOptions {
  std::string file;
  std::string pv, pvc, pod_volume;
};

json::Document read_object(const std::string& path, const std::string& flag) {
  auto doc = json::parse_yaml(read_input(path, flag), flag + " " + path);
  if (!doc) throw Fatal(ExitCode::usage, doc.error().message);
  if (!doc->IsObject()) throw Fatal(ExitCode::usage, flag + " " + path + ": expected one object");
  return std::move(*doc);
}

int run_check(const GlobalOptions& g, const CheckOptions& o) {
  const output::Format format = output_format(g, {output::Format::json});
  auto set = volume::PolicySet::load(o.file);
  if (!set) {
    for (size_t i = 1; i < set.error().causes.size(); ++i) log::info(0, set.error().causes[i].message);
    throw Fatal(ExitCode::usage, set.error().message);
  }
  for (const auto& w : set->warnings()) log::warning(w);

  json::Document pv, pvc, vol;
  volume::VolumeFilterData data;
  if (!o.pv.empty()) {
    pv = read_object(o.pv, "--pv");
    data.persistent_volume = &pv;
  }
  if (!o.pvc.empty()) {
    pvc = read_object(o.pvc, "--pvc");
    data.claim = &pvc;
  }
  if (!o.pod_volume.empty()) {
    vol = read_object(o.pod_volume, "--pod-volume");
    data.pod_volume = &vol;
  }
  const bool any = data.persistent_volume || data.claim || data.pod_volume;
  std::optional<volume::PolicyMatch> match;
  if (any) {
    auto m = set->match(data);
    if (!m) throw Fatal(ExitCode::usage, m.error().message);
    match = std::move(*m);
  }

  if (format.structured()) {
    json::Document out;
    out.SetObject();
    auto& a = out.GetAllocator();
    if (match) {
      json::set(out, "action", json::make_string(volume::policy_action_name(match->action), a), a);
      json::set(out, "rule", json::Value(static_cast<uint64_t>(match->rule)), a);
    } else {
      json::set(out, "action", json::Value(), a);
      json::set(out, "rule", json::Value(), a);
    }
    output::print(out, format);
    return 0;
  }
  if (!any) std::printf("%s: valid (%zu volume policies)\n", o.file.c_str(), set->size());
  else if (match) std::printf("%s: %s\n", volume::policy_action_name(match->action), set->describe(match->rule).c_str());
  else std::printf("no volume policy matches: the volume follows the pod annotations and flags\n");
  return 0;
}

}  // namespace

void register_policies(CLI::App& app, GlobalOptions& g, RunState& state) {
  CLI::App* cmd = app.add_subcommand("policies", "Check Velero volume policy files (backup create --resource-policies)");
  document(cmd, {"kbk policies check volume-policy.yaml"});
  auto o = std::make_shared<CheckOptions>();
  CLI::App* check = cmd->add_subcommand(
      "check", "Read a volume policy file strictly (FILE:LINE:COL errors, exit 3) and, given a volume, print the "
               "policy that matches it: {\"action\": skip|snapshot|fs-backup|custom|null, \"rule\": index|null}");
  check->add_option("FILE", o->file, "The policy file (version: v1, volumePolicies, includeExcludePolicy)")
      ->required()
      ->type_name(value::k_file);
  check->add_option("--pv", o->pv, "A PersistentVolume (JSON or YAML file, - for stdin)")->type_name(value::k_file);
  check->add_option("--pvc", o->pvc, "A PersistentVolumeClaim (its labels and phase)")->type_name(value::k_file);
  check->add_option("--pod-volume", o->pod_volume, "One entry of a pod's spec.volumes (e.g. {name: x, nfs: {...}})")
      ->type_name(value::k_file);
  document(check,
           {"kbk policies check volume-policy.yaml",
            "kubectl get pv pvc-4f2a -o yaml | kbk policies check volume-policy.yaml --pv - -o json"},
           "Without a volume: whether the file is valid. With --pv, --pvc or --pod-volume: the action of the first "
           "policy whose conditions all hold, as Velero matches them.");
  set_runner(check, state, [&g, o] { return run_check(g, *o); });
}

}  // namespace kbk::cli
