// kbk completion bash|zsh|fish: a completion script for the shell, generated from the command tree itself (every
// command, alias, flag and value name), so it never falls behind the CLI. Flag values complete by their value
// name: FILE and DIR as paths, A|B|C as those words, BACKUP and RESTORE as the names `kbk backup list -o name` and
// `kbk restore list -o name` print for the location on the command line (--storage) or configured.
#include <cstdio>
#include <map>
#include <set>

#include "commands.hpp"
#include <kbk/util/strings.hpp>

namespace kbk::cli {
namespace {

struct Flag {
  std::vector<std::string> names;  // "--include-namespaces", "-n"
  std::string kind;                // "" (no value), any, file, dir, backup, restore, words:a b c
  std::string description;
};

struct Command {
  std::string path;  // "" for kbk itself, "backup create"
  std::string description;
  std::vector<std::pair<std::string, std::string>> subs;  // name, description (aliases listed as names too)
  std::map<std::string, std::string> canonical;           // name or alias -> name
  std::vector<Flag> flags;                                // own flags (global ones are separate)
  std::string positional;                                 // kind of the first argument
};

std::string kind_of(const std::string& type_name) {
  if (type_name == value::k_file) return "file";
  if (type_name == value::k_dir) return "dir";
  if (type_name == value::k_backup) return "backup";
  if (type_name == "RESTORE") return "restore";
  if (type_name == value::k_format) return "words:json yaml jsonpath= jsonpath-file= wide name";
  if (type_name.find('|') != std::string::npos) return "words:" + util::join(util::split(type_name, '|'), " ");
  return "any";
}

Flag flag_of(const CLI::Option* o) {
  Flag f;
  for (const auto& l : o->get_lnames()) f.names.push_back("--" + l);
  for (const auto& s : o->get_snames()) f.names.push_back("-" + s);
  // Only a value that must follow is completed as one: an optional value (--dry-run[=client]) goes after '='.
  if (o->get_type_size() != 0 && o->get_expected_min() > 0 && !o->get_type_name().empty()) f.kind = kind_of(o->get_type_name());
  f.description = o->get_description();
  return f;
}

bool hidden(const CLI::App* s) { return s->get_group().empty() || s->get_name().empty(); }

void collect(const CLI::App* app, const std::string& path, std::vector<Command>& out) {
  Command c;
  c.path = path;
  c.description = app->get_description();
  if (app->get_parent()) {  // the root's flags are the global ones
    for (const CLI::Option* o : app->get_options([](const CLI::Option* x) { return x->nonpositional(); }))
      c.flags.push_back(flag_of(o));
  }
  for (const CLI::Option* o : app->get_options([](const CLI::Option* x) { return x->get_positional(); })) {
    c.positional = kind_of(o->get_type_name());
    break;
  }
  std::vector<const CLI::App*> kids;
  for (const CLI::App* s : app->get_subcommands([](const CLI::App* x) { return !hidden(x); })) {
    c.subs.emplace_back(s->get_name(), s->get_description());
    c.canonical[s->get_name()] = s->get_name();
    for (const auto& a : s->get_aliases()) {
      c.subs.emplace_back(a, "alias of " + s->get_name());
      c.canonical[a] = s->get_name();
    }
    kids.push_back(s);
  }
  out.push_back(c);
  for (const CLI::App* s : kids) collect(s, path.empty() ? s->get_name() : path + " " + s->get_name(), out);
}

std::vector<Flag> global_flags(const CLI::App& root) {
  std::vector<Flag> flags;
  for (const CLI::Option* o : root.get_options([](const CLI::Option* x) { return x->nonpositional(); })) {
    if (o == root.get_help_ptr() || o == root.get_help_all_ptr()) continue;  // each command has its own
    flags.push_back(flag_of(o));
  }
  return flags;
}

// ---- the shell functions bash and zsh share (POSIX case statements) ------------------------------------------

std::string shared_functions(const std::vector<Command>& cmds, const std::vector<Flag>& globals) {
  std::string s;
  s += "# The command tree: subcommands, flags and how values complete, per command path.\n";
  s += "__kbk_subs() {\n  case \"$1\" in\n";
  for (const auto& c : cmds) {
    if (c.subs.empty()) continue;
    std::vector<std::string> names;
    for (const auto& [n, d] : c.subs) names.push_back(n);
    s += "    \"" + c.path + "\") echo \"" + util::join(names, " ") + "\";;\n";
  }
  s += "  esac\n}\n";
  s += "__kbk_described() {\n  case \"$1\" in\n";
  for (const auto& c : cmds) {
    if (c.subs.empty()) continue;
    s += "    \"" + c.path + "\") cat <<'KBK_EOF'\n";
    for (const auto& [n, d] : c.subs) {
      std::string desc = d;
      for (auto& ch : desc)
        if (ch == '\n') ch = ' ';
      s += n + ":" + desc + "\n";
    }
    s += "KBK_EOF\n      ;;\n";
  }
  s += "  esac\n}\n";
  s += "__kbk_canonical() {\n  case \"$1/$2\" in\n";
  for (const auto& c : cmds)
    for (const auto& [alias, name] : c.canonical) s += "    \"" + c.path + "/" + alias + "\") echo " + name + ";;\n";
  s += "  esac\n}\n";
  std::string global_names;
  for (const auto& f : globals)
    for (const auto& n : f.names) global_names += " " + n;
  s += "__kbk_flags() {\n  case \"$1\" in\n";
  for (const auto& c : cmds) {
    std::string names;
    for (const auto& f : c.flags)
      for (const auto& n : f.names) names += (names.empty() ? "" : " ") + n;
    s += "    \"" + c.path + "\") echo \"" + names + global_names + "\";;\n";
  }
  s += "  esac\n}\n";
  s += "# How a flag's value completes: file, dir, backup, restore, words:..., any; nothing when it takes none.\n";
  s += "__kbk_value() {\n  case \"$1/$2\" in\n";
  for (const auto& c : cmds)
    for (const auto& f : c.flags)
      if (!f.kind.empty())
        for (const auto& n : f.names) s += "    \"" + c.path + "/" + n + "\") echo \"" + f.kind + "\";;\n";
  for (const auto& f : globals)
    if (!f.kind.empty())
      for (const auto& n : f.names) s += "    */" + n + ") echo \"" + f.kind + "\";;\n";
  s += "  esac\n}\n";
  s += "__kbk_positional() {\n  case \"$1\" in\n";
  for (const auto& c : cmds)
    if (!c.positional.empty() && c.positional != "any") s += "    \"" + c.path + "\") echo \"" + c.positional + "\";;\n";
  s += "  esac\n}\n";
  return s;
}

// The words typed so far (after the program name, before the word being completed): sets __kbk_path (the
// command they name) and __kbk_storage (a --storage given, for listing backups). Shared by bash and zsh.
const char* const k_walk = R"SH(__kbk_walk() {
  __kbk_path=""
  __kbk_storage=()
  local w flag kind sub skip=0 prevflag=""
  for w in "$@"; do
    if [ "$skip" = 1 ]; then
      skip=0
      [ "$w" = "=" ] && { skip=1; continue; }
      [ "$prevflag" = "--storage" ] && __kbk_storage=(--storage "$w")
      continue
    fi
    case "$w" in
      --) break ;;
      =) continue ;;
      -*)
        flag=${w%%=*}
        kind=$(__kbk_value "$__kbk_path" "$flag")
        if [ -n "$kind" ]; then
          case "$w" in
            *=*) [ "$flag" = "--storage" ] && __kbk_storage=(--storage "${w#*=}") ;;
            *) skip=1; prevflag=$flag ;;
          esac
        fi
        continue ;;
    esac
    sub=$(__kbk_canonical "$__kbk_path" "$w")
    [ -n "$sub" ] && __kbk_path=${__kbk_path:+$__kbk_path }$sub
  done
}
)SH";

std::string bash_script(const std::vector<Command>& cmds, const std::vector<Flag>& globals) {
  std::string s = "# bash completion for kbk                                      -*- shell-script -*-\n"
                  "# Generated by `kbk completion bash` (kbk v" KBK_VERSION "). Load it with\n"
                  "#   source <(kbk completion bash)\n"
                  "# or install it as /usr/share/bash-completion/completions/kbk.\n\n";
  s += shared_functions(cmds, globals);
  s += k_walk;
  s += R"SH(
__kbk_complete_kind() {  # kind word
  local IFS=$'\n'
  case "$1" in
    file) COMPREPLY=($(compgen -f -- "$2")); compopt -o filenames 2>/dev/null ;;
    dir) COMPREPLY=($(compgen -d -- "$2")); compopt -o filenames 2>/dev/null ;;
    backup) COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" "${__kbk_storage[@]}" backup list -o name 2>/dev/null)" -- "$2")) ;;
    restore) COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" "${__kbk_storage[@]}" restore list -o name 2>/dev/null)" -- "$2")) ;;
    words:*) local list=${1#words:}; COMPREPLY=($(compgen -W "${list// /$'\n'}" -- "$2")) ;;
  esac
  if [[ $1 == words:* && ${COMPREPLY[0]} == *= ]]; then compopt -o nospace 2>/dev/null; fi
}

_kbk() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} kind valflag=""
  local __kbk_path
  local -a __kbk_storage
  COMPREPLY=()
  __kbk_walk "${COMP_WORDS[@]:1:COMP_CWORD-1}"
  if [[ $cur == "=" ]]; then cur=""; valflag=$prev
  elif [[ $prev == "=" ]]; then valflag=${COMP_WORDS[COMP_CWORD-2]}
  elif [[ $prev == -* && $prev != *=* ]]; then valflag=$prev
  fi
  if [[ -n $valflag ]]; then
    kind=$(__kbk_value "$__kbk_path" "$valflag")
    if [[ -n $kind ]]; then
      [[ $kind != any ]] && __kbk_complete_kind "$kind" "$cur"
      return 0
    fi
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(__kbk_flags "$__kbk_path")" -- "$cur"))
    return 0
  fi
  local subs
  subs=$(__kbk_subs "$__kbk_path")
  if [[ -n $subs ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    return 0
  fi
  kind=$(__kbk_positional "$__kbk_path")
  [[ -n $kind ]] && __kbk_complete_kind "$kind" "$cur"
  return 0
}

complete -F _kbk kbk
)SH";
  return s;
}

std::string zsh_script(const std::vector<Command>& cmds, const std::vector<Flag>& globals) {
  std::string s = "#compdef kbk\n"
                  "# zsh completion for kbk. Generated by `kbk completion zsh` (kbk v" KBK_VERSION ").\n"
                  "# Install it as _kbk in a folder of $fpath (/usr/share/zsh/vendor-completions/_kbk), or load it\n"
                  "# in ~/.zshrc after compinit with: source <(kbk completion zsh)\n\n";
  s += shared_functions(cmds, globals);
  s += k_walk;
  s += R"SH(
__kbk_complete_kind() {  # kind
  local -a names
  case "$1" in
    file) _files ;;
    dir) _files -/ ;;
    backup) names=(${(f)"$(${words[1]} "${__kbk_storage[@]}" backup list -o name 2>/dev/null)"}); compadd -a names ;;
    restore) names=(${(f)"$(${words[1]} "${__kbk_storage[@]}" restore list -o name 2>/dev/null)"}); compadd -a names ;;
    words:*) names=(${=${1#words:}}); compadd -S '' -a names ;;
  esac
}

_kbk() {
  local cur=${words[CURRENT]} prev=${words[CURRENT-1]} kind valflag=""
  local __kbk_path
  local -a __kbk_storage lines subs flags
  __kbk_walk "${(@)words[2,CURRENT-1]}"
  if [[ $cur == *=* && $cur == -* ]]; then
    valflag=${cur%%=*}
    kind=$(__kbk_value "$__kbk_path" "$valflag")
    if [[ -n $kind && $kind != any ]]; then
      compset -P '*='
      __kbk_complete_kind "$kind"
    fi
    return 0
  fi
  [[ $prev == -* && $prev != *=* ]] && valflag=$prev
  if [[ -n $valflag ]]; then
    kind=$(__kbk_value "$__kbk_path" "$valflag")
    if [[ -n $kind ]]; then
      [[ $kind != any ]] && __kbk_complete_kind "$kind"
      return 0
    fi
  fi
  if [[ $cur == -* ]]; then
    flags=(${=$(__kbk_flags "$__kbk_path")})
    compadd -a flags
    return 0
  fi
  lines=(${(f)"$(__kbk_described "$__kbk_path")"})
  if (( ${#lines} )); then
    _describe -t commands 'kbk command' lines
    return 0
  fi
  kind=$(__kbk_positional "$__kbk_path")
  [[ -n $kind ]] && __kbk_complete_kind "$kind"
  return 0
}

if [[ ${funcstack[1]} == _kbk ]]; then
  _kbk "$@"
else
  compdef _kbk kbk
fi
)SH";
  return s;
}

std::string fish_quote(std::string s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  return out + "'";
}

std::string fish_flag(const Flag& f, const std::string& condition) {
  std::string line = "complete -c kbk";
  if (!condition.empty()) line += " -n " + fish_quote(condition);
  for (const auto& n : f.names) {
    if (util::starts_with(n, "--")) line += " -l " + n.substr(2);
    else line += " -s " + n.substr(1);
  }
  if (f.kind == "file") line += " -r -F";
  else if (f.kind == "dir") line += " -r -a '(__fish_complete_directories)'";
  else if (f.kind == "backup") line += " -r -f -a '(__kbk_list backup)'";
  else if (f.kind == "restore") line += " -r -f -a '(__kbk_list restore)'";
  else if (util::starts_with(f.kind, "words:")) line += " -r -f -a " + fish_quote(f.kind.substr(6));
  else if (f.kind == "any") line += " -r -f";
  line += " -d " + fish_quote(f.description);
  return line + "\n";
}

std::string fish_script(const std::vector<Command>& cmds, const std::vector<Flag>& globals) {
  std::string s = "# fish completion for kbk. Generated by `kbk completion fish` (kbk v" KBK_VERSION ").\n"
                  "# Install it as ~/.config/fish/completions/kbk.fish (or vendor_completions.d), or load it with\n"
                  "#   kbk completion fish | source\n\n";
  s += "function __kbk_canonical\n    switch \"$argv[1]/$argv[2]\"\n";
  for (const auto& c : cmds)
    for (const auto& [alias, name] : c.canonical)
      s += "        case " + fish_quote(c.path + "/" + alias) + "\n            echo " + name + "\n";
  s += "    end\nend\n\n";
  s += "function __kbk_takes_value\n    switch \"$argv[1]/$argv[2]\"\n";
  std::vector<std::string> patterns;
  for (const auto& c : cmds)
    for (const auto& f : c.flags)
      if (!f.kind.empty())
        for (const auto& n : f.names) patterns.push_back(fish_quote(c.path + "/" + n));
  for (const auto& f : globals)
    if (!f.kind.empty())
      for (const auto& n : f.names) patterns.push_back(fish_quote("*/" + n));
  s += "        case " + util::join(patterns, " ") + "\n            return 0\n";
  s += "    end\n    return 1\nend\n\n";
  s += R"FISH(# The command the words typed so far name ("" for kbk itself), and a --storage among them.
function __kbk_path
    set -l tokens (commandline -opc)
    set -l path ""
    set -l skip 0
    set -g __kbk_storage
    set -l prevflag ""
    for w in $tokens[2..-1]
        if test $skip = 1
            set skip 0
            test "$prevflag" = --storage; and set -g __kbk_storage --storage $w
            continue
        end
        switch $w
            case --
                break
            case '--storage=*'
                set -g __kbk_storage --storage (string replace -- '--storage=' '' $w)
                continue
            case '-*'
                if not string match -q -- '*=*' $w; and __kbk_takes_value "$path" $w
                    set skip 1
                    set prevflag $w
                end
                continue
        end
        set -l sub (__kbk_canonical "$path" $w)
        if test -n "$sub"
            set path (string trim -- "$path $sub")
        end
    end
    echo $path
end

function __kbk_at
    test (__kbk_path) = "$argv[1]"
end

function __kbk_list
    __kbk_path >/dev/null
    set -l kbk (commandline -opc)[1]
    $kbk $__kbk_storage $argv[1] list -o name 2>/dev/null
end

complete -c kbk -f
)FISH";
  for (const auto& f : globals) s += fish_flag(f, "");
  for (const auto& c : cmds) {
    const std::string at = "__kbk_at \"" + c.path + "\"";
    for (const auto& [n, d] : c.subs) s += "complete -c kbk -n " + fish_quote(at) + " -f -a " + n + " -d " + fish_quote(d) + "\n";
    for (const auto& f : c.flags) s += fish_flag(f, at);
    if (c.positional == "file") s += "complete -c kbk -n " + fish_quote(at) + " -F\n";
    else if (c.positional == "backup") s += "complete -c kbk -n " + fish_quote(at) + " -f -a '(__kbk_list backup)'\n";
    else if (c.positional == "restore") s += "complete -c kbk -n " + fish_quote(at) + " -f -a '(__kbk_list restore)'\n";
    else if (util::starts_with(c.positional, "words:"))
      s += "complete -c kbk -n " + fish_quote(at) + " -f -a " + fish_quote(c.positional.substr(6)) + "\n";
  }
  return s;
}

}  // namespace

std::string completion_script(const CLI::App& root, const std::string& shell) {
  std::vector<Command> cmds;
  collect(&root, "", cmds);
  const auto globals = global_flags(root);
  if (shell == "bash") return bash_script(cmds, globals);
  if (shell == "zsh") return zsh_script(cmds, globals);
  if (shell == "fish") return fish_script(cmds, globals);
  throw Fatal(ExitCode::usage, "completion: unknown shell \"" + shell + "\" (bash, zsh, fish)");
}

void register_completion(CLI::App& app, GlobalOptions& g, RunState& state) {
  auto* cmd = app.add_subcommand("completion", "Print a shell completion script (bash, zsh, fish)");
  auto shell = std::make_shared<std::string>();
  cmd->add_option("SHELL", *shell, "bash, zsh or fish")->required()->type_name("bash|zsh|fish");
  document(cmd,
           {"# bash: this shell only, then every new one",
            "source <(kbk completion bash)",
            "kbk completion bash > ~/.local/share/bash-completion/completions/kbk",
            "# zsh (after compinit in ~/.zshrc)",
            "source <(kbk completion zsh)",
            "# fish",
            "kbk completion fish > ~/.config/fish/completions/kbk.fish"},
           "Completes commands, aliases and flags; values of flags by their kind (files for FILE, the words of "
           "true|false and similar lists, backup and restore names from the location given with --storage, "
           "KBK_STORAGE or the config file). Packages install the scripts where each shell looks: "
           "share/bash-completion/completions/kbk, share/zsh/vendor-completions/_kbk, "
           "share/fish/vendor_completions.d/kbk.fish.");
  set_runner(cmd, state, [&app, &g, shell] {
    const output::Format format = output_format(g, {output::Format::json});
    const std::string s = completion_script(app, *shell);
    if (format.structured()) {  // {"shell": "bash", "script": "..."}
      json::Document d(rapidjson::kObjectType);
      auto& a = d.GetAllocator();
      d.AddMember("shell", json::make_string(*shell, a), a);
      d.AddMember("script", json::make_string(s, a), a);
      output::print(d, format);
      return 0;
    }
    std::fwrite(s.data(), 1, s.size(), stdout);
    return 0;
  });
}

}  // namespace kbk::cli
