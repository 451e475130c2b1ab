// kbk patch: apply a JSON, merge or strategic merge patch to objects from a file or stdin, offline, as
// `kubectl patch --local` does (strategic merge patch of kinds without patch metadata falls back, with a note).
#include <cstdio>

#include "commands.hpp"
#include <kbk/json/json.hpp>
#include <kbk/output/output.hpp>
#include <kbk/patch/diff.hpp>
#include <kbk/patch/json_patch.hpp>
#include <kbk/patch/objects.hpp>
#include <kbk/patch/strategic.hpp>
#include <kbk/util/fs.hpp>
#include <kbk/util/log.hpp>

namespace kbk::cli {

// Shared with cmd_modifiers.cpp: reads a file or "-" (stdin); Fatal(usage) when unreadable.
std::string read_input(const std::string& path, const std::string& flag) {
  if (path == "-") {
    std::string out;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) out.append(buf, n);
    return out;
  }
  auto text = util::read_file(path, util::k_max_input_file);
  if (!text) throw Fatal(ExitCode::usage, flag + ": " + text.error().message);  // the message names the file
  return std::move(*text);
}

// Prints one object, or a List of several, in the -o format (yaml by default).
void print_objects(const GlobalOptions& g, std::vector<json::Document>& objs) {
  output::Format format = output_format(g, {output::Format::json});
  if (format == output::Format::text) format = output::Format::yaml;  // objects print as YAML by default
  json::Document list;
  const json::Value* v = nullptr;
  if (objs.size() == 1) {
    v = &objs[0];
  } else {
    list = patch::make_list(objs);
    v = &list;
  }
  output::print(*v, format);
}

namespace {

struct PatchOptions {
  std::string type = "strategic";
  std::string patch;
  std::string patch_file;
  std::string in;
  std::string schema;
  bool diff = false;
};

int run(const GlobalOptions& g, const PatchOptions& o) {
  if (o.type != "json" && o.type != "merge" && o.type != "strategic")
    throw Fatal(ExitCode::usage, "--type must be json, merge or strategic, not \"" + o.type + "\"");
  if (o.patch.empty() == o.patch_file.empty()) throw Fatal(ExitCode::usage, "give exactly one of --patch and --patch-file");
  std::string patch_text = o.patch_file.empty() ? o.patch : read_input(o.patch_file, "--patch-file");
  auto patch_doc = json::parse_yaml(patch_text, "--patch");  // JSON or YAML, as kubectl -p
  if (!patch_doc) throw Fatal(ExitCode::usage, patch_doc.error().message);
  auto objs = patch::read_objects(read_input(o.in, "--in"), o.in == "-" ? "stdin" : o.in);
  if (!objs) throw Fatal(ExitCode::usage, objs.error().message);
  if (objs->empty()) throw Fatal(ExitCode::usage, "--in " + o.in + ": no objects");
  json::Document schema;
  patch::SmpOptions smp;
  if (!o.schema.empty()) {
    auto s = json::parse_yaml(read_input(o.schema, "--schema"), o.schema);
    if (!s) throw Fatal(ExitCode::usage, s.error().message);
    schema = std::move(*s);
    smp.schema = &schema;
    smp.schema_root = &schema;
  }
  std::optional<patch::JsonPatch> jp;
  if (o.type == "json") {
    auto p = patch::JsonPatch::parse(*patch_doc);
    if (!p) throw Fatal(ExitCode::usage, "--patch: " + p.error().message);
    jp = std::move(*p);
  } else if (o.type == "strategic" && !patch_doc->IsObject()) {
    throw Fatal(ExitCode::usage, "--patch: a strategic merge patch must be a JSON object");
  }
  std::string diffs;
  for (auto& obj : *objs) {
    std::string what = patch::describe_object(obj);
    std::string before = o.diff ? json::to_yaml(obj) : std::string();
    if (o.type == "json") {
      if (auto r = jp->apply(obj); !r) {
        log::error(what + ": " + r.error().message);
        return static_cast<int>(ExitCode::failed);
      }
    } else if (o.type == "merge") {
      patch::apply_merge_patch(obj, *patch_doc, obj.GetAllocator());
    } else {
      auto r = patch::apply_strategic_merge_patch(obj, *patch_doc, smp);
      if (!r) {
        log::error(what + ": " + r.error().message);
        return static_cast<int>(ExitCode::failed);
      }
      if (*r != patch::SmpSource::builtin) log::info(0, "note: " + what + ": strategic merge patch applied with " + patch::smp_source_name(*r));
    }
    if (o.diff) diffs += patch::unified_diff(before, json::to_yaml(obj), what + " (before)", what + " (after)");
  }
  if (o.diff) {
    std::fputs(diffs.c_str(), stdout);
    return 0;
  }
  print_objects(g, *objs);
  return 0;
}

}  // namespace

void register_patch(CLI::App& app, GlobalOptions& g, RunState& state) {
  auto o = std::make_shared<PatchOptions>();
  CLI::App* cmd = app.add_subcommand("patch", "Apply a JSON, merge or strategic merge patch to objects, offline");
  cmd->add_option("--type", o->type, "Patch type: json (RFC 6902), merge (RFC 7386) or strategic")
      ->type_name("json|merge|strategic")
      ->capture_default_str();
  cmd->add_option("-p,--patch", o->patch, "The patch, JSON or YAML (as kubectl -p)")->type_name("PATCH");
  cmd->add_option("--patch-file", o->patch_file, "Read the patch from this file")->type_name(value::k_file);
  cmd->add_option("--in", o->in, "Objects: a YAML/JSON file with one object, several documents or a List; - for stdin")
      ->required()
      ->type_name(value::k_file);
  cmd->add_option("--schema", o->schema,
                  "OpenAPI v3 schema of the kind (strategic patches of custom resources use its list metadata)")
      ->type_name(value::k_file);
  cmd->add_flag("--diff", o->diff, "Print a unified diff of each object instead of the objects");
  document(cmd,
           {"kbk patch --type merge -p '{\"spec\":{\"replicas\":3}}' --in deploy.yaml",
            "kbk patch --type json -p '[{\"op\":\"remove\",\"path\":\"/spec/template/spec/nodeName\"}]' --in pod.yaml --diff",
            "kubectl get deploy web -o yaml | kbk patch -p 'spec: {replicas: 1}' --in - -o json"},
           "As kubectl patch --local: strategic merge patches use the patch metadata of built-in kinds (a custom "
           "resource falls back to a merge patch unless --schema gives its list metadata). Objects print as YAML; "
           "-o json and -o jsonpath=... too.");
  set_runner(cmd, state, [&g, o] { return run(g, *o); });
}

}  // namespace kbk::cli
