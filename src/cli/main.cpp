// kbk: back up, restore and migrate Kubernetes resources and volumes, straight through a kubeconfig.
//
// main builds the command tree (one register_* per command file), then runs the command line through CLI11 with
// what a newcomer needs around it, once for every command: `kbk help CMD`, `kbk --version`, a bare command group
// printing its help, an unknown command or flag named with the nearest one ("did you mean") and the command's
// --help, the config file's defaults, and one error line with a documented exit code.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <new>
#include <tuple>

#include "commands.hpp"
#include "config_file.hpp"
#include "flags.hpp"
#include "help.hpp"
#include <kbk/storage/wrappers.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::cli {

void set_runner(CLI::App* cmd, RunState& state, std::function<int()> body) {
  cmd->callback([&state, body = std::move(body)] {
    state.ran = true;
    state.exit_code = body();
  });
}

kube::RestConfig load_rest_config(const GlobalOptions& g) { return kube::load_config(g.kube); }

std::unique_ptr<kube::Client> make_client(const GlobalOptions& g, const kube::RestConfig& config) {
  kube::ClientOptions opts;
  opts.qps = g.qps;
  opts.burst = g.burst;
  return kube::make_client(config, opts);
}

kube::Discovery fetch_discovery(kube::Client& client) {
  auto discovery = kube::Discovery::fetch(client);
  if (!discovery) throw Fatal(exit_code_for(discovery.error()), discovery.error().message);
  for (const auto& w : discovery->warnings()) log::warning(w);
  return std::move(*discovery);
}

std::string storage_url(const GlobalOptions& g) {
  if (!g.storage.empty()) return g.storage;  // the flag, KBK_STORAGE, or the config file (in that order)
  throw Fatal(ExitCode::usage, "no storage location: pass --storage URL, set KBK_STORAGE, or set storage in " +
                                   (g.config_path.empty() ? std::string("~/.config/kbk/config.yaml") : g.config_path));
}

std::unique_ptr<storage::Backend> open_storage(const GlobalOptions& g, bool create,
                                               std::shared_ptr<storage::TransferProgress> progress) {
  storage::OpenOptions opts;
  opts.create = create;
  for (const auto& kv : g.storage_settings) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Fatal(ExitCode::usage, "--storage-setting " + kv + ": expected KEY=VALUE");
    opts.settings.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  // Rates are checked here, before anything is opened, so a typo names its flag and touches nothing.
  for (const auto& [flag, value, key] : {std::tuple{"--limit-upload", &g.limit_upload, "limit-upload"},
                                         std::tuple{"--limit-download", &g.limit_download, "limit-download"}}) {
    if (value->empty()) continue;
    if (auto rate = storage::parse_rate_schedule(*value); !rate) throw Fatal(ExitCode::usage, std::string(flag) + ": " + rate.error().message);
    opts.settings.emplace_back(key, *value);
  }
  auto b = storage::open(storage_url(g), opts);
  if (!b) throw Fatal(b.error().is(Errc::config) ? ExitCode::usage : ExitCode::precondition, b.error().message);
  auto wrapped = storage::apply_wrappers(std::move(*b), opts);
  if (!wrapped) throw Fatal(ExitCode::usage, wrapped.error().message);
  if (progress) return storage::wrap_transfer_progress(std::move(*wrapped), std::move(progress));
  return std::move(*wrapped);
}

output::Format output_format(const GlobalOptions& g, const std::vector<output::Format>& allowed) {
  auto f = output::parse_format(g.output, allowed);
  if (!f) throw Fatal(ExitCode::usage, f.error().message);
  return *f;
}

namespace {

// ---- the command line before CLI11 sees it -------------------------------------------------------------------

// Where the words of the command line lead: root ... the deepest command they name. `unknown` is a word found
// where a command of a group was expected; `next` is the index of the first argument after the command words.
struct Route {
  std::vector<CLI::App*> path;
  std::string unknown;
  size_t next = 1;
};

std::vector<CLI::App*> visible(CLI::App* app) {
  return app->get_subcommands([](CLI::App* s) { return !s->get_group().empty() && !s->get_name().empty(); });
}

CLI::App* find_subcommand(CLI::App* app, const std::string& word) {
  for (CLI::App* s : visible(app))
    if (s->check_name(word)) return s;
  // Hidden commands (group "": kbk mover serve, which kbk runs in pods) are routed, never listed or suggested.
  for (CLI::App* s : app->get_subcommands([](CLI::App* c) { return c->get_group().empty() && !c->get_name().empty(); }))
    if (s->check_name(word)) return s;
  return nullptr;
}

std::vector<std::string> subcommand_names(CLI::App* app) {
  std::vector<std::string> names;
  for (CLI::App* s : visible(app)) {
    names.push_back(s->get_name());
    for (const auto& a : s->get_aliases()) names.push_back(a);
  }
  return names;
}

CLI::Option* find_option(const std::vector<CLI::App*>& path, const std::string& name) {
  for (auto it = path.rbegin(); it != path.rend(); ++it)
    if (CLI::Option* o = (*it)->get_option_no_throw(name)) return o;
  return nullptr;
}

// "--context=x" -> "--context"; "-v9" -> "-v"; "-n" -> "-n". attached: a value is part of the token.
std::string option_name(const std::string& token, bool& attached) {
  attached = false;
  if (util::starts_with(token, "--")) {
    auto eq = token.find('=');
    attached = eq != std::string::npos;
    return token.substr(0, eq);
  }
  attached = token.size() > 2;
  return token.substr(0, 2);
}

bool takes_value(const CLI::Option* o) { return o->get_type_size() != 0 && o->get_expected_min() > 0; }

Route route(CLI::App& root, const std::vector<std::string>& args) {
  Route r;
  r.path.push_back(&root);
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") break;
    if (a.size() > 1 && a[0] == '-') {
      bool attached = false;
      const std::string name = option_name(a, attached);
      const CLI::Option* o = find_option(r.path, name);
      if (o && takes_value(o) && !attached) ++i;
      continue;
    }
    CLI::App* cur = r.path.back();
    if (visible(cur).empty()) break;  // a command: the rest is its arguments
    CLI::App* sub = find_subcommand(cur, a);
    if (!sub) {
      r.unknown = a;
      break;
    }
    r.path.push_back(sub);
  }
  r.next = i;
  return r;
}

std::string help_hint(const std::vector<CLI::App*>& path) { return "see " + command_path(path.back()) + " --help"; }

std::string quoted_list(const std::vector<std::string>& v, size_t max = 3) {
  std::vector<std::string> q;
  for (size_t i = 0; i < v.size() && i < max; ++i) q.push_back("\"" + v[i] + "\"");
  return util::join(q, " or ");
}

std::string unknown_command_message(const std::vector<CLI::App*>& path, const std::string& word) {
  std::string msg = "unknown command \"" + word + "\" for \"" + command_path(path.back()) + "\"";
  if (auto near = util::suggestions(word, subcommand_names(path.back())); !near.empty())
    msg += "; did you mean " + quoted_list(near) + "?";
  return msg + " (" + help_hint(path) + ")";
}

// The first flag from args[from] on that no command of the path knows, with the flags it could have meant.
std::string unknown_flag_message(const std::vector<CLI::App*>& path, const std::vector<std::string>& args, size_t from) {
  for (size_t i = from; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") break;
    if (a.size() < 2 || a[0] != '-') continue;
    bool attached = false;
    const std::string name = option_name(a, attached);
    if (const CLI::Option* o = find_option(path, name)) {
      if (takes_value(o) && !attached) ++i;
      continue;
    }
    std::vector<std::string> candidates;
    for (const CLI::App* app : path)
      for (const CLI::Option* o : app->get_options([](const CLI::Option* x) { return x->nonpositional(); })) {
        for (const auto& l : o->get_lnames()) candidates.push_back("--" + l);
        for (const auto& s : o->get_snames()) candidates.push_back("-" + s);
      }
    std::string msg = "unknown flag \"" + name + "\" for \"" + command_path(path.back()) + "\"";
    if (auto near = util::suggestions(name, candidates); !near.empty()) msg += "; did you mean " + quoted_list(near) + "?";
    return msg + " (" + help_hint(path) + ")";
  }
  return "";
}

// CLI11's words for a parse error, as one line with the command's --help named.
std::string parse_error_message(const CLI::ParseError& e, const Route& r, const std::vector<std::string>& args) {
  // A mistyped flag is the root of most parse errors (a required value then looks missing): it is named first.
  if (std::string flag = unknown_flag_message(r.path, args, 0); !flag.empty()) return flag;
  // CLI11 names an ExtrasError after the command it happened in, so the type tells, not get_name().
  if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
    std::string what = e.what();
    std::string prefix = "The following arguments were not expected: ";
    if (!util::starts_with(what, prefix)) prefix = "The following argument was not expected: ";
    if (util::starts_with(what, prefix)) {
      // CLI11 lists them last first; the command line's order reads better.
      auto words = util::split(what.substr(prefix.size()), ' ');
      std::reverse(words.begin(), words.end());
      return "unexpected argument" + std::string(words.size() > 1 ? "s" : "") + " \"" + util::join(words, " ") +
             "\" for \"" + command_path(r.path.back()) + "\" (" + help_hint(r.path) + ")";
    }
  }
  std::string what = e.what();
  if (!what.empty() && what.back() == '\n') what.pop_back();
  return what + " (" + help_hint(r.path) + ")";
}

// Every command the command line's words went through, as CLI11 parsed them.
std::vector<CLI::App*> parsed_path(CLI::App& root) {
  std::vector<CLI::App*> path{&root};
  for (;;) {
    auto subs = path.back()->get_subcommands();
    if (subs.empty()) break;
    path.push_back(subs.front());
  }
  return path;
}

void register_help(CLI::App& app, GlobalOptions& g, RunState& state) {
  auto* help = app.add_subcommand("help", "Help about any command: kbk help backup create");
  auto words = std::make_shared<std::vector<std::string>>();
  help->add_option("COMMAND", *words, "The command to describe (several words for a command of a group)");
  document(help, {"kbk help", "kbk help backup create", "kbk help restore create -o json    # the page as data"},
           "-o json prints the command's name, usage, arguments, flags (value names, defaults, env variables), "
           "commands and examples.");
  set_runner(help, state, [&app, &g, words] {
    const output::Format format = output_format(g, {output::Format::json});
    std::vector<CLI::App*> path{&app};
    for (const auto& w : *words) {
      CLI::App* sub = find_subcommand(path.back(), w);
      if (!sub) throw Fatal(ExitCode::usage, unknown_command_message(path, w));
      path.push_back(sub);
    }
    if (format.structured()) output::print(help_document(path.back()), format);
    else std::fputs(path.back()->help().c_str(), stdout);
    return 0;
  });
}

}  // namespace

}  // namespace kbk::cli

int main(int argc, char** argv) {
  using namespace kbk;
  using namespace kbk::cli;
  // A file size limit (ulimit -f) makes a write fail with EFBIG, reported as one error, instead of killing kbk.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"kbk: back up, restore and migrate Kubernetes clusters through a kubeconfig", "kbk"};
  app.formatter(std::make_shared<HelpFormatter>());  // before any subcommand: they inherit it
  app.require_subcommand(0, 1);  // one command per level: `kbk help backup` reads "backup" as help's argument
  app.fallthrough(true);  // global flags may follow the subcommand, as with kubectl (inherited by subcommands)
  app.set_help_all_flag("--help-all", "Help for every command");
  app.set_version_flag("--version", std::string("kbk v") + KBK_VERSION, "Print the client version and exit");
  GlobalOptions g;
  RunState state;
  app.add_option("--kubeconfig", g.kube.kubeconfig, "Path to the kubeconfig file (else $KUBECONFIG, ~/.kube/config, in-cluster)")
      ->type_name(value::k_file);
  app.add_option("--context", g.kube.context, "The kubeconfig context to use")->type_name(value::k_name);
  app.add_option("--cluster", g.kube.cluster, "The kubeconfig cluster to use")->type_name(value::k_name);
  app.add_option("--user", g.kube.user, "The kubeconfig user to use")->type_name(value::k_name);
  app.add_option("-n,--namespace", g.kube.namespace_,
                 "The namespace: backup create backs up only this namespace; auth checks it")
      ->type_name(value::k_name);
  app.add_option("--as", g.kube.as_user, "Username to impersonate")->type_name(value::k_name);
  app.add_option("--as-group", g.kube.as_groups, "Group to impersonate (repeatable)")->type_name("GROUP");
  app.add_option("--server", g.kube.server, "The address of the API server (overrides the kubeconfig)")
      ->type_name(value::k_url);
  add_duration_option(&app, "--request-timeout", g.kube.request_timeout_seconds,
                      "How long one request may take, e.g. 30s or 1m (0: no limit)");
  app.add_option("--qps", g.qps,
                 "Maximum requests per second to the API server; 0 (the default): no client-side limit, the server's "
                 "priority and fairness paces kbk (429 with Retry-After, retried up to 10 times)")
      ->type_name(value::k_number)
      ->capture_default_str();
  app.add_option("--burst", g.burst, "Maximum burst of requests above --qps (with --qps above 0)")
      ->type_name(value::k_count)
      ->capture_default_str();
  app.add_option("-v,--v", g.verbosity, "Log verbosity (0-9, as kubectl)")->type_name(value::k_count);
  app.add_option("--log-file", g.log_file,
                 "Also write the log to this file, with timestamps and levels (info lines even at -v 0)")
      ->type_name(value::k_file);
  app.add_option("-o,--output", g.output,
                 "Output format: json, yaml, jsonpath=TEMPLATE, jsonpath-file=FILE, wide, name (as the command "
                 "supports; see docs/output.md)")
      ->type_name(value::k_format);
  app.add_option("--progress", g.progress,
                 "Progress on stderr: auto (tty on a terminal), tty (items/s, bytes/s, ETA), json (JSON lines), none")
      ->type_name("auto|tty|json|none")
      ->default_str("auto");
  app.add_option("--storage", g.storage,
                 "Backup location: file:///path, /path or s3://bucket/prefix[?endpoint=URL&region=R&path-style=true] "
                 "(AWS credentials as the AWS CLI finds them)")
      ->type_name(value::k_url)
      ->envname("KBK_STORAGE");
  app.add_option("--storage-setting", g.storage_settings,
                 "Location setting KEY=VALUE, as the URL's query options (endpoint, region, path-style, ca-bundle, "
                 "profile, ...; repeatable)")
      ->type_name(value::k_key_value);
  app.add_option("--limit-upload", g.limit_upload,
                 "Upload bandwidth cap per second, e.g. 500KiB, 10MiB, 1G (a bare number is KiB/s); by time of day: "
                 "50MiB@08:00-20:00,500MiB (a rate per window of local time, the last rate for the rest)")
      ->type_name(value::k_rate);
  app.add_option("--limit-download", g.limit_download,
                 "Download bandwidth cap per second, e.g. 500KiB, 10MiB, 1G (a bare number is KiB/s); by time of day "
                 "as --limit-upload")
      ->type_name(value::k_rate);
  document(&app,
           {"# back up two namespaces into a folder, then list the backups",
            "kbk backup create nightly --include-namespaces shop,db --storage /var/backups/kbk",
            "kbk backup list --storage /var/backups/kbk",
            "# restore into the current context's cluster under another namespace",
            "kbk restore create --from-backup nightly --namespace-mappings shop:shop-staging",
            "# defaults for every command",
            "printf 'storage: s3://corp-backups/prod\\n' > ~/.config/kbk/config.yaml"},
           "Every command takes -o json, --help and kubectl's global flags. Defaults for --storage, "
           "--encryption-key-file, --qps and more can live in $XDG_CONFIG_HOME/kbk/config.yaml (kbk(1), CONFIG FILE). "
           "Run \"kbk help COMMAND\" or \"kbk COMMAND --help\" for a command's flags and examples.");

  ConfigFile config;
  app.parse_complete_callback([&] {
    const auto path = parsed_path(app);
    // The config file's defaults, before anything reads the flags (help and completion work without it).
    const std::string leaf = path.size() > 1 ? path[1]->get_name() : "";
    if (leaf != "help" && leaf != "completion") {
      config = load_config_file();
      g.config_path = config.path;
      apply_config_file(config, path);
    }
    log::set_verbosity(g.verbosity);
    if (!g.log_file.empty() && !log::set_log_file(g.log_file))
      throw Fatal(ExitCode::usage, "--log-file " + g.log_file + ": cannot open for writing");
  });

  register_version(app, g, state);
  register_api_resources(app, g, state);
  register_auth(app, g, state);
  register_backup(app, g, state);
  register_restore(app, g, state);
  register_diff(app, g, state);
  register_migrate(app, g, state);
  register_rbac(app, g, state);
  register_schedule(app, g, state);
  register_modifiers(app, g, state);
  register_patch(app, g, state);
  register_prune(app, g, state);
  register_storage(app, g, state);
  register_debug(app, g, state);
  register_repo(app, g, state);
  register_app(app, g, state);
  register_policies(app, g, state);
  register_ui(app, g, state);
  register_cleanup(app, g, state);
  register_mover(app, g, state);
  register_completion(app, g, state);
  register_help(app, g, state);
  guard_list_flags(app);
  // Every group takes at most one command; none prints the group's help (below), as kubectl and velero do.
  std::function<void(CLI::App&)> one_command = [&](CLI::App& a) {
    for (CLI::App* s : a.get_subcommands([](CLI::App*) { return true; })) {
      if (!s->get_subcommands([](CLI::App*) { return true; }).empty()) s->require_subcommand(0, 1);
      one_command(*s);
    }
  };
  one_command(app);

  std::vector<std::string> args(argv + 1, argv + argc);
  const Route r = route(app, args);
  try {
    if (!r.unknown.empty()) throw Fatal(ExitCode::usage, unknown_command_message(r.path, r.unknown));
    app.parse(argc, argv);
    if (!state.ran) {
      // A command group (or kbk) without its command: its help, as kubectl and velero print it.
      std::fputs(parsed_path(app).back()->help().c_str(), stdout);
      return 0;
    }
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "kbk: error: %s\n", log::redact(parse_error_message(e, r, args)).c_str());
    return static_cast<int>(ExitCode::usage);
  } catch (const Fatal& e) {
    std::fprintf(stderr, "kbk: error: %s\n", log::redact(e.what()).c_str());
    return static_cast<int>(e.code());
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "kbk: error: out of memory\n");
    return static_cast<int>(ExitCode::failed);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kbk: error: %s\n", log::redact(e.what()).c_str());
    return static_cast<int>(ExitCode::failed);
  }
  return state.exit_code;
}
