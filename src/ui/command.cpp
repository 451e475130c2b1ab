// The command lines the page runs and exports (docs/ui.md, "Restore spec" and "Backup spec").
#include <kbk/ui/server.hpp>

#include <algorithm>

#include <kbk/archive/location.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::ui {
namespace {

std::string shell_quote(const std::string& s) {
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("-_./:=,@%+").find(c) != std::string_view::npos;
      }))
    return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// A value must not carry a line break or NUL (it would not survive the export as one argument).
bool clean(const std::string& s) { return s.find_first_of(std::string("\n\r\0", 3)) == std::string::npos; }

struct Builder {
  std::vector<std::string> args;
  std::string error;

  std::vector<std::string> strings(const json::Value& spec, const char* field) {
    std::vector<std::string> out;
    const json::Value* v = json::find(spec, field);
    if (!v || v->IsNull()) return out;
    if (v->IsString()) {
      for (auto& s : util::split(v->GetString(), ',', false))
        if (!util::trim(s).empty()) out.emplace_back(util::trim(s));
      return out;
    }
    if (!v->IsArray()) {
      fail(std::string(field) + ": expected a list of strings");
      return out;
    }
    for (const auto& e : v->GetArray()) {
      if (!e.IsString()) {
        fail(std::string(field) + ": expected a list of strings");
        return {};
      }
      std::string s(util::trim(e.GetString()));
      if (!s.empty()) out.push_back(s);
    }
    return out;
  }
  std::string string(const json::Value& spec, const char* field) {
    const json::Value* v = json::find(spec, field);
    if (!v || v->IsNull()) return "";
    if (!v->IsString()) {
      fail(std::string(field) + ": expected a string");
      return "";
    }
    return std::string(util::trim(v->GetString()));
  }
  // {"old": "new"} or "old:new,old2:new2" as old:new pairs joined by commas (sep between).
  std::vector<std::string> pairs(const json::Value& spec, const char* field, char sep) {
    std::vector<std::string> out;
    const json::Value* v = json::find(spec, field);
    if (!v || v->IsNull()) return out;
    if (v->IsObject()) {
      for (const auto& kv : v->GetObject()) {
        if (!kv.value.IsString()) {
          fail(std::string(field) + "." + kv.name.GetString() + ": expected a string");
          return {};
        }
        std::string k(util::trim(kv.name.GetString())), val(util::trim(kv.value.GetString()));
        if (k.empty() && val.empty()) continue;
        if (k.empty() || val.empty()) {
          fail(std::string(field) + ": " + (k.empty() ? "a mapping to " + val + " names nothing to map"
                                                      : k + " is mapped to nothing"));
          return {};
        }
        out.push_back(k + sep + val);
      }
      return out;
    }
    return strings(spec, field);
  }
  void fail(std::string m) {
    if (error.empty()) error = std::move(m);
  }
  void flag(const std::string& name, const std::string& value) {
    if (value.empty()) return;
    if (!clean(value)) return fail(name + ": a value holds a line break");
    args.push_back(name + "=" + value);
  }
  void list(const std::string& name, const std::vector<std::string>& values) {
    if (!values.empty()) flag(name, util::join(values, ","));
  }
};

std::string display_of(const std::vector<std::string>& args) {
  std::string out = "kbk";
  for (const auto& a : args) out += " " + shell_quote(a);
  return out;
}

}  // namespace

Result<Command> restore_command(const json::Value& spec, const std::string& modifiers_path, const std::string& storage) {
  if (!spec.IsObject()) return unexpected(Errc::config, "the restore spec must be a JSON object");
  Builder b;
  b.args = {"restore", "create"};
  const std::string backup = b.string(spec, "backup");
  if (backup.empty()) return unexpected(Errc::config, "backup: choose the backup to restore");
  if (!archive::valid_backup_name(backup)) return unexpected(Errc::config, "backup: " + backup + " is not a backup name");
  const std::string name = b.string(spec, "name");
  if (!name.empty()) {
    if (name[0] == '-' || !clean(name)) return unexpected(Errc::config, "name: " + name + " is not a restore name");
    b.args.push_back(name);
  }
  b.flag("--from-backup", backup);
  b.list("--include-namespaces", b.strings(spec, "includeNamespaces"));
  b.list("--exclude-namespaces", b.strings(spec, "excludeNamespaces"));
  b.list("--include-resources", b.strings(spec, "includeResources"));
  b.list("--exclude-resources", b.strings(spec, "excludeResources"));
  b.list("--include-names", b.strings(spec, "includeNames"));
  b.list("--exclude-names", b.strings(spec, "excludeNames"));
  b.flag("--selector", b.string(spec, "selector"));
  b.flag("--or-selector", b.string(spec, "orSelector"));
  for (const auto& app : b.strings(spec, "applications")) b.flag("--app", app);  // files or folders, one per flag
  b.list("--namespace-mappings", b.pairs(spec, "namespaceMappings", ':'));
  b.list("--storage-class-mappings", b.pairs(spec, "storageClassMappings", ':'));
  b.list("--image-mappings", b.pairs(spec, "imageMappings", '='));
  const std::string policy = b.string(spec, "existingResourcePolicy");
  if (!policy.empty() && policy != "none" && policy != "update" && policy != "recreate")
    return unexpected(Errc::config, "existingResourcePolicy: expected none, update or recreate, not " + policy);
  if (policy != "none") b.flag("--existing-resource-policy", policy);
  b.flag("--storage", storage);
  Command c;
  if (const json::Value* m = json::find(spec, "modifiers"); m && m->IsString()) c.modifiers = m->GetString();
  if (!util::trim(c.modifiers).empty()) {
    std::vector<std::string> shown = b.args;
    shown.push_back("--resource-modifiers=MODIFIERS.yaml");
    b.flag("--resource-modifiers", modifiers_path);
    c.display = display_of(shown);
  } else {
    c.modifiers.clear();
  }
  if (!b.error.empty()) return unexpected(Errc::config, b.error);
  if (c.display.empty()) c.display = display_of(b.args);
  c.args = std::move(b.args);
  return c;
}

Result<Command> backup_command(const json::Value& spec, const std::string& storage) {
  if (!spec.IsObject()) return unexpected(Errc::config, "the backup spec must be a JSON object");
  Builder b;
  b.args = {"backup", "create"};
  const std::string name = b.string(spec, "name");
  if (name.empty()) return unexpected(Errc::config, "name: give the backup a name");
  if (name[0] == '-' || !clean(name)) return unexpected(Errc::config, "name: " + name + " is not a backup name");
  b.args.push_back(name);
  b.list("--include-namespaces", b.strings(spec, "includeNamespaces"));
  b.list("--exclude-namespaces", b.strings(spec, "excludeNamespaces"));
  b.list("--include-resources", b.strings(spec, "includeResources"));
  b.list("--exclude-resources", b.strings(spec, "excludeResources"));
  b.flag("--selector", b.string(spec, "selector"));
  b.flag("--ttl", b.string(spec, "ttl"));
  b.list("--labels", b.pairs(spec, "labels", '='));
  if (const json::Value* v = json::find(spec, "includeClusterResources"); v && v->IsBool())
    b.flag("--include-cluster-resources", v->GetBool() ? "true" : "false");
  b.flag("--storage", storage);
  if (!b.error.empty()) return unexpected(Errc::config, b.error);
  Command c;
  c.display = display_of(b.args);
  c.args = std::move(b.args);
  return c;
}

}  // namespace kbk::ui
