// The help layout of every command (see help.hpp).
#include "help.hpp"

#include <algorithm>
#include <map>
#include <sstream>

#include <kbk/util/strings.hpp>

namespace kbk::cli {

const char* const k_exit_status_section =
    "EXIT STATUS\n"
    "  0  success\n"
    "  1  failed\n"
    "  2  partially failed (some items failed; the rest was done)\n"
    "  3  usage or configuration error (flags, kubeconfig, config file, input files)\n"
    "  4  precondition: cluster or storage unreachable, permission missing, backup not found or already exists\n";

namespace {

constexpr size_t k_width = 110;      // descriptions wrap here
constexpr size_t k_name_column = 36;  // flag names and value names, then the description

const CLI::App* root_of(const CLI::App* app) {
  while (app->get_parent()) app = app->get_parent();
  return app;
}

bool is_hidden(const CLI::App* sub) { return sub->get_group().empty() || sub->get_name().empty(); }

std::vector<const CLI::App*> visible_subcommands(const CLI::App* app) {
  return app->get_subcommands([](const CLI::App* s) { return !is_hidden(s); });
}

// Wraps text at k_width, the first line after `first` columns, the others indented by `indent`.
std::string wrap(const std::string& text, size_t first, size_t indent) {
  std::string out;
  size_t col = first;
  for (const auto& para : util::split(text, '\n', false)) {
    if (!out.empty()) {
      out += "\n" + std::string(indent, ' ');
      col = indent;
    }
    bool start = true;
    for (const auto& word : util::split(para, ' ')) {
      if (!start && col + 1 + word.size() > k_width) {
        out += "\n" + std::string(indent, ' ');
        col = indent;
        start = true;
      }
      if (!start) {
        out += ' ';
        ++col;
      }
      out += word;
      col += word.size();
      start = false;
    }
  }
  return out;
}

std::string row(const std::string& left, const std::string& description) {
  std::string line = "  " + left;
  if (description.empty()) return line + "\n";
  if (line.size() + 2 > k_name_column) {
    line += "\n" + std::string(k_name_column, ' ');
  } else {
    line += std::string(k_name_column - line.size(), ' ');
  }
  return line + wrap(description, k_name_column, k_name_column) + "\n";
}

// A flag (--all) shows no value; an option shows its value name, in [=...] when the value is optional.
bool takes_value(const CLI::Option* opt) { return opt->get_type_size() != 0 && !opt->get_type_name().empty(); }

}  // namespace

std::string command_path(const CLI::App* app) {
  std::vector<std::string> parts;
  for (const CLI::App* a = app; a; a = a->get_parent()) parts.push_back(a->get_name());
  std::reverse(parts.begin(), parts.end());
  return util::join(parts, " ");
}

std::map<const CLI::App*, std::string>& exit_notes() {
  static std::map<const CLI::App*, std::string> notes;
  return notes;
}

void document(CLI::App* cmd, const std::vector<std::string>& examples, const std::string& notes,
              const std::string& exit_note) {
  if (!exit_note.empty()) exit_notes()[cmd] = exit_note;
  std::string text;
  if (!notes.empty()) {
    text += wrap(notes, 0, 0);
    text += "\n\n";
  }
  text += "Examples:\n";
  for (const auto& e : examples) text += "  " + e + "\n";
  cmd->footer(text);
}

json::Document help_document(const CLI::App* app) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("name", json::make_string(app->get_name(), a), a);
  d.AddMember("path", json::make_string(command_path(app), a), a);
  d.AddMember("description", json::make_string(app->get_description(), a), a);
  HelpFormatter f;
  std::string usage = f.make_usage(app, "");
  usage = usage.substr(usage.find('\n') + 1);
  while (!usage.empty() && (usage.back() == '\n' || usage.back() == ' ')) usage.pop_back();
  d.AddMember("usage", json::make_string(util::trim(usage), a), a);
  json::Value args(rapidjson::kArrayType), flags(rapidjson::kArrayType), cmds(rapidjson::kArrayType),
      examples(rapidjson::kArrayType);
  for (const CLI::Option* o : app->get_options([](const CLI::Option* x) { return x->get_positional(); })) {
    json::Value v(rapidjson::kObjectType);
    v.AddMember("name", json::make_string(o->get_name(true), a), a);
    v.AddMember("description", json::make_string(o->get_description(), a), a);
    v.AddMember("required", o->get_required(), a);
    v.AddMember("repeatable", o->get_expected_max() > 1, a);
    args.PushBack(v, a);
  }
  for (const CLI::Option* o : app->get_options([](const CLI::Option* x) { return x->nonpositional(); })) {
    json::Value v(rapidjson::kObjectType);
    json::Value names(rapidjson::kArrayType);
    for (const auto& l : o->get_lnames()) names.PushBack(json::make_string("--" + l, a), a);
    for (const auto& s : o->get_snames()) names.PushBack(json::make_string("-" + s, a), a);
    v.AddMember("names", names, a);
    v.AddMember("value", json::make_string(takes_value(o) ? o->get_type_name() : "", a), a);
    v.AddMember("valueOptional", takes_value(o) && o->get_expected_min() == 0, a);
    v.AddMember("default", json::make_string(o->get_expected_min() != 0 ? o->get_default_str() : "", a), a);
    v.AddMember("env", json::make_string(o->get_envname(), a), a);
    v.AddMember("description", json::make_string(o->get_description(), a), a);
    flags.PushBack(v, a);
  }
  for (const CLI::App* s : visible_subcommands(app)) {
    json::Value v(rapidjson::kObjectType);
    v.AddMember("name", json::make_string(s->get_name(), a), a);
    json::Value aliases(rapidjson::kArrayType);
    for (const auto& al : s->get_aliases()) aliases.PushBack(json::make_string(al, a), a);
    v.AddMember("aliases", aliases, a);
    v.AddMember("description", json::make_string(s->get_description(), a), a);
    cmds.PushBack(v, a);
  }
  bool inside = false;
  for (const auto& line : util::split(app->get_footer(), '\n', false)) {
    if (line == "Examples:") {
      inside = true;
      continue;
    }
    if (inside && util::starts_with(line, "  ")) examples.PushBack(json::make_string(line.substr(2), a), a);
  }
  d.AddMember("arguments", args, a);
  d.AddMember(json::make_string(app->get_parent() ? "flags" : "globalFlags", a), flags, a);
  d.AddMember("commands", cmds, a);
  d.AddMember("examples", examples, a);
  return d;
}

std::string HelpFormatter::option_row(const CLI::Option* opt) const {
  std::string names;
  for (const auto& s : opt->get_snames()) names += (names.empty() ? "-" : ", -") + s;
  for (const auto& l : opt->get_lnames()) names += (names.empty() ? "--" : ", --") + l;
  if (names.rfind("--", 0) == 0 || names.empty()) names = "    " + names;  // long-only flags line up after "-x, "
  if (takes_value(opt)) {
    std::string value = opt->get_type_name();
    if (opt->get_expected_min() == 0) names += "[=" + value + "]";  // --dry-run[=client|server]
    else names += " " + value;
  }
  std::string desc = opt->get_description();
  std::vector<std::string> extras;
  if (opt->get_required()) extras.push_back("required");
  if (!opt->get_default_str().empty() && opt->get_expected_min() != 0) extras.push_back("default " + opt->get_default_str());
  if (!opt->get_envname().empty()) extras.push_back("env " + opt->get_envname());
  if (!extras.empty()) desc += " (" + util::join(extras, "; ") + ")";
  return row(names, desc);
}

std::string HelpFormatter::make_usage(const CLI::App* app, std::string) const {
  std::string usage = command_path(app);
  if (!visible_subcommands(app).empty()) usage += " COMMAND";
  usage += " [flags]";
  for (const CLI::Option* p : app->get_options([](const CLI::Option* o) { return o->get_positional(); })) {
    std::string n = p->get_name(true);
    if (p->get_expected_max() > 1) n += "...";
    usage += p->get_required() ? " " + n : " [" + n + "]";
  }
  return "Usage:\n  " + usage + "\n";
}

std::string HelpFormatter::page(const CLI::App* app) const {
  const CLI::App* root = root_of(app);
  std::string out;
  if (!app->get_description().empty()) out += wrap(app->get_description(), 0, 0) + "\n\n";
  out += make_usage(app, "");

  auto positionals = app->get_options([](const CLI::Option* o) { return o->get_positional(); });
  if (!positionals.empty()) {
    out += "\nArguments:\n";
    for (const CLI::Option* p : positionals) {
      std::string desc = p->get_description();
      if (!p->get_default_str().empty()) desc += " (default " + p->get_default_str() + ")";
      out += row(p->get_name(true), desc);
    }
  }
  auto own = app->get_options([](const CLI::Option* o) { return o->nonpositional(); });
  if (app != root && !own.empty()) {
    out += "\nFlags:\n";
    for (const CLI::Option* o : own) out += option_row(o);
  }
  auto subs = visible_subcommands(app);
  if (!subs.empty()) {
    out += "\nAvailable Commands:\n";
    size_t width = 0;
    for (const CLI::App* s : subs) width = std::max(width, s->get_name().size());
    for (const CLI::App* s : subs) {
      std::string left = s->get_name() + std::string(width - s->get_name().size() + 2, ' ');
      std::string line = "  " + left;
      out += line + wrap(s->get_description(), line.size(), line.size()) + "\n";
    }
  }
  // On a command's page, the root's --help, --help-all and --version are not repeated as global flags.
  auto global = root->get_options([&](const CLI::Option* o) {
    if (!o->nonpositional()) return false;
    if (app == root) return true;
    return o != root->get_help_ptr() && o != root->get_help_all_ptr() && !o->check_lname("version");
  });
  if (!global.empty()) {
    out += "\nGlobal Flags:\n";
    for (const CLI::Option* o : global) out += option_row(o);
  }
  const std::string footer = app->get_footer();
  if (!footer.empty()) out += "\n" + footer;
  if (!subs.empty()) out += "\nUse \"" + command_path(app) + " COMMAND --help\" for more about a command.\n";
  out += "\n";
  out += k_exit_status_section;
  if (auto it = exit_notes().find(app); it != exit_notes().end()) out += "  " + wrap(it->second, 2, 2) + "\n";
  return out;
}

std::string HelpFormatter::make_help(const CLI::App* app, std::string, CLI::AppFormatMode mode) const {
  if (mode != CLI::AppFormatMode::All) return page(app);
  // --help-all: this page, then every command below it, depth first.
  std::string out = page(app);
  std::vector<const CLI::App*> todo = visible_subcommands(app);
  std::reverse(todo.begin(), todo.end());
  while (!todo.empty()) {
    const CLI::App* s = todo.back();
    todo.pop_back();
    out += "\n" + std::string(k_width, '-') + "\n" + command_path(s) + "\n\n" + page(s);
    auto kids = visible_subcommands(s);
    for (auto it = kids.rbegin(); it != kids.rend(); ++it) todo.push_back(*it);
  }
  return out;
}

}  // namespace kbk::cli
