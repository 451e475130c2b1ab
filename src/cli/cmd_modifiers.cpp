// kbk modifiers validate|apply: check a resource-modifier file (Velero v1 or kbk.io/v1) and try it on objects
// offline, the way a restore would apply it (rules, then the storage-class, image and ingress-class mappings).
#include <cstdio>

#include "commands.hpp"
#include <kbk/json/json.hpp>
#include <kbk/output/output.hpp>
#include <kbk/patch/diff.hpp>
#include <kbk/patch/mappings.hpp>
#include <kbk/patch/modifiers.hpp>
#include <kbk/patch/objects.hpp>
#include <kbk/util/fs.hpp>
#include <kbk/util/log.hpp>

namespace kbk::cli {

std::string read_input(const std::string& path, const std::string& flag);    // cmd_patch.cpp
void print_objects(const GlobalOptions& g, std::vector<json::Document>& objs);  // cmd_patch.cpp

namespace {

int run_validate(const GlobalOptions& g, const std::string& file) {
  const output::Format format = output_format(g, {output::Format::json});
  auto text = util::read_file(file, util::k_max_input_file);
  if (!text) throw Fatal(ExitCode::usage, "cannot read " + text.error().message);  // the message names the file
  auto set = patch::ModifierSet::parse(*text, file);
  if (format.structured()) {
    json::Document out;
    out.SetObject();
    auto& a = out.GetAllocator();
    json::set(out, "file", json::make_string(file, a), a);
    json::set(out, "valid", json::Value(set.ok()), a);
    if (set.ok()) {
      json::set(out, "version", json::make_string(set->version(), a), a);
      json::set(out, "rules", json::Value(static_cast<uint64_t>(set->size())), a);
    } else {
      json::Value errs(rapidjson::kArrayType);
      for (const auto& c : set.error().causes) errs.PushBack(json::make_string(c.message, a), a);
      json::set(out, "errors", std::move(errs), a);
    }
    output::print(out, format);
  }
  if (!set) {
    for (const auto& c : set.error().causes) std::fprintf(stderr, "%s\n", c.message.c_str());
    return static_cast<int>(ExitCode::failed);
  }
  if (!format.structured()) std::printf("%s: valid (%zu rules)\n", file.c_str(), set->size());
  return 0;
}

struct ApplyOptions {
  std::vector<std::string> rules;
  std::string in;
  bool diff = false;
  std::vector<std::string> storage_class_mappings;
  std::vector<std::string> ingress_class_mappings;
  std::vector<std::string> image_mappings;
};

int run_apply(const GlobalOptions& g, const ApplyOptions& o) {
  std::vector<patch::ModifierSet> sets;
  patch::Mappings mappings;
  for (const auto& file : o.rules) {
    auto s = patch::ModifierSet::load(file);
    if (!s) {
      if (s.error().code == Errc::io) throw Fatal(ExitCode::usage, s.error().message);
      for (const auto& c : s.error().causes) std::fprintf(stderr, "%s\n", c.message.c_str());
      throw Fatal(ExitCode::usage, file + ": invalid modifier file");
    }
    const auto& m = s->mappings();
    for (const auto& [k, v] : m.storage_classes) mappings.storage_classes[k] = v;
    for (const auto& [k, v] : m.ingress_classes) mappings.ingress_classes[k] = v;
    mappings.images.insert(mappings.images.end(), m.images.begin(), m.images.end());
    sets.push_back(std::move(*s));
  }
  for (const auto& spec : o.storage_class_mappings) {
    auto m = patch::Mappings::parse_pairs(spec, "--storage-class-mappings");
    if (!m) throw Fatal(ExitCode::usage, m.error().message);
    for (auto& [k, v] : *m) mappings.storage_classes[k] = v;
  }
  for (const auto& spec : o.ingress_class_mappings) {
    auto m = patch::Mappings::parse_pairs(spec, "--ingress-class-mappings");
    if (!m) throw Fatal(ExitCode::usage, m.error().message);
    for (auto& [k, v] : *m) mappings.ingress_classes[k] = v;
  }
  for (const auto& spec : o.image_mappings) {
    auto m = patch::Mappings::parse_images(spec);
    if (!m) throw Fatal(ExitCode::usage, m.error().message);
    mappings.images.insert(mappings.images.end(), m->begin(), m->end());
  }
  if (sets.empty() && mappings.empty()) throw Fatal(ExitCode::usage, "give --rules FILE or a mapping flag");
  auto objs = patch::read_objects(read_input(o.in, "--in"), o.in == "-" ? "stdin" : o.in);
  if (!objs) throw Fatal(ExitCode::usage, objs.error().message);
  bool any_error = false;
  std::string diffs;
  for (auto& obj : *objs) {
    std::string what = patch::describe_object(obj);
    std::string before = o.diff ? json::to_yaml(obj) : std::string();
    for (const auto& set : sets) {
      patch::ApplyResult r = set.apply(obj);
      for (const auto& a : r.applied) {
        log::info(1, what + ": " + a.name + " applied");
        if (!a.note.empty()) log::info(0, "note: " + what + ": " + a.name + ": " + a.note);
      }
      for (const auto& e : r.errors) {
        log::error(what + ": " + e.message);
        any_error = true;
      }
    }
    for (const auto& change : mappings.apply(obj)) log::info(1, what + ": " + change);
    if (o.diff) diffs += patch::unified_diff(before, json::to_yaml(obj), what + " (before)", what + " (after)");
  }
  if (o.diff) std::fputs(diffs.c_str(), stdout);
  else print_objects(g, *objs);
  return any_error ? static_cast<int>(ExitCode::partial) : 0;
}

}  // namespace

void register_modifiers(CLI::App& app, GlobalOptions& g, RunState& state) {
  CLI::App* cmd = app.add_subcommand("modifiers", "Check and try resource-modifier files (see kbk-modifiers(5))");
  document(cmd, {"kbk modifiers validate rules.yaml", "kbk modifiers apply --rules rules.yaml --in deploy.yaml --diff"});

  auto file = std::make_shared<std::string>();
  CLI::App* validate = cmd->add_subcommand("validate", "Check a modifier file: prints FILE: valid (N rules), or "
                                                       "FILE:LINE:COL: message per problem on stderr");
  validate->add_option("FILE", *file, "The modifier file (YAML or JSON)")->required()->type_name(value::k_file);
  document(validate, {"kbk modifiers validate examples/modifiers/kbk-registry-migration.yaml",
                      "kbk modifiers validate rules.yaml -o json"},
           "Exit 0 when the file is valid, 1 when it holds problems (each FILE:LINE:COL: message on stderr), 3 when "
           "it cannot be read.");
  set_runner(validate, state, [&g, file] { return run_validate(g, *file); });

  auto o = std::make_shared<ApplyOptions>();
  CLI::App* apply = cmd->add_subcommand("apply", "Apply modifier rules (and mappings) to objects and print the result");
  apply->add_option("--rules", o->rules, "Modifier file (repeatable; applied in order)")->type_name(value::k_file);
  apply->add_option("--in", o->in, "Objects: YAML/JSON with one object, several documents or a List; - for stdin")
      ->required()
      ->type_name(value::k_file);
  apply->add_flag("--diff", o->diff, "Print a unified diff per object instead of the objects");
  add_list_option(apply, "--storage-class-mappings", o->storage_class_mappings, "old:new storage classes", value::k_mappings);
  add_list_option(apply, "--ingress-class-mappings", o->ingress_class_mappings, "old:new ingress classes", value::k_mappings);
  add_list_option(apply, "--image-mappings", o->image_mappings, "OLD=NEW image prefixes (OLD:NEW with exactly one ':')",
                  value::k_mappings);
  document(apply,
           {"kbk modifiers apply --rules rules.yaml --in deploy.yaml",
            "kubectl get deploy web -o yaml | kbk modifiers apply --rules rules.yaml --in - --diff",
            "kbk modifiers apply --image-mappings docker.io/library=mirror.local/library --in pods.yaml -o json"},
           "Prints the objects (YAML; -o json, -o jsonpath=...) as a restore would create them after these rules and "
           "mappings. Exit 2 when a rule failed on some object.");
  set_runner(apply, state, [&g, o] { return run_apply(g, *o); });
}

}  // namespace kbk::cli
