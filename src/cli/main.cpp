// kbk: back up, restore and migrate Kubernetes resources and volumes, straight through a kubeconfig.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <tuple>

#include "commands.hpp"
#include <kbk/storage/wrappers.hpp>
#include <kbk/util/log.hpp>

namespace kbk::cli {

const char* const k_exit_status_footer =
    "\nEXIT STATUS\n"
    "  0  success\n"
    "  1  failed\n"
    "  2  partially failed (some items failed; the rest was done)\n"
    "  3  usage or configuration error (flags, kubeconfig, input files)\n"
    "  4  precondition: cluster or storage unreachable, backup not found or already exists\n";

void set_runner(CLI::App* cmd, RunState& state, std::function<int()> body) {
  cmd->footer(k_exit_status_footer);
  cmd->callback([&state, body = std::move(body)] { state.exit_code = body(); });
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
  if (!g.storage.empty()) return g.storage;
  if (const char* env = std::getenv("KBK_STORAGE"); env && *env) return env;
  throw Fatal(ExitCode::usage, "no storage location: pass --storage URL or set KBK_STORAGE");
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
    if (auto rate = storage::parse_rate(*value); !rate) throw Fatal(ExitCode::usage, std::string(flag) + ": " + rate.error().message);
    opts.settings.emplace_back(key, *value);
  }
  auto b = storage::open(storage_url(g), opts);
  if (!b) throw Fatal(b.error().is(Errc::config) ? ExitCode::usage : ExitCode::precondition, b.error().message);
  auto wrapped = storage::apply_wrappers(std::move(*b), opts);
  if (!wrapped) throw Fatal(ExitCode::usage, wrapped.error().message);
  if (progress) return storage::wrap_transfer_progress(std::move(*wrapped), std::move(progress));
  return std::move(*wrapped);
}

}  // namespace kbk::cli

int main(int argc, char** argv) {
  using namespace kbk;
  using namespace kbk::cli;
  CLI::App app{"kbk: back up, restore and migrate Kubernetes clusters through a kubeconfig", "kbk"};
  app.require_subcommand(1);
  app.fallthrough(true);  // global flags may follow the subcommand, as with kubectl (inherited by subcommands)
  app.footer(k_exit_status_footer);
  app.set_help_all_flag("--help-all", "Help for every command");
  GlobalOptions g;
  RunState state;
  app.add_option("--kubeconfig", g.kube.kubeconfig, "Path to the kubeconfig file (else $KUBECONFIG, ~/.kube/config, in-cluster)");
  app.add_option("--context", g.kube.context, "The kubeconfig context to use");
  app.add_option("--cluster", g.kube.cluster, "The kubeconfig cluster to use");
  app.add_option("--user", g.kube.user, "The kubeconfig user to use");
  app.add_option("-n,--namespace", g.kube.namespace_, "The namespace for namespaced commands");
  app.add_option("--as", g.kube.as_user, "Username to impersonate");
  app.add_option("--as-group", g.kube.as_groups, "Group to impersonate (repeatable)");
  app.add_option("--server", g.kube.server, "The address of the API server (overrides the kubeconfig)");
  app.add_option("--request-timeout", g.kube.request_timeout_seconds, "Seconds to wait for one request (0: default)");
  app.add_option("--qps", g.qps, "Maximum requests per second to the API server")->capture_default_str();
  app.add_option("--burst", g.burst, "Maximum burst of requests above --qps")->capture_default_str();
  app.add_option("-v,--v", g.verbosity, "Log verbosity (0-9, as kubectl)");
  app.add_option("--log-file", g.log_file, "Also write the log to this file");
  app.add_option("-o,--output", g.output, "Output format: json, yaml, wide, name (command dependent)");
  app.add_option("--progress", g.progress, "Progress on stderr: auto (tty on a terminal), tty (items/s, bytes/s, ETA), json (JSON lines), none")->default_str("auto");
  app.add_option("--storage", g.storage, "Backup location URL: file:///path, /path or s3://bucket/prefix[?endpoint=URL&region=R&path-style=true] (env KBK_STORAGE; AWS credentials as the AWS CLI finds them)");
  app.add_option("--storage-setting", g.storage_settings,
                 "Location setting KEY=VALUE, as the URL's query options (endpoint, region, path-style, ca-bundle, profile, ...; repeatable)");
  app.add_option("--limit-upload", g.limit_upload, "Upload bandwidth cap per second, e.g. 500KiB, 10MiB, 1G (a bare number is KiB/s)");
  app.add_option("--limit-download", g.limit_download, "Download bandwidth cap per second, e.g. 500KiB, 10MiB, 1G (a bare number is KiB/s)");
  app.parse_complete_callback([&] {
    log::set_verbosity(g.verbosity);
    if (!g.log_file.empty() && !log::set_log_file(g.log_file))
      throw Fatal(ExitCode::usage, "--log-file " + g.log_file + ": cannot open for writing");
  });

  register_version(app, g, state);
  register_api_resources(app, g, state);
  register_auth(app, g, state);
  register_backup(app, g, state);
  register_restore(app, g, state);
  register_modifiers(app, g, state);
  register_patch(app, g, state);
  register_prune(app, g, state);
  register_storage(app, g, state);
  register_debug(app, g, state);
  register_repo(app, g, state);
  register_policies(app, g, state);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "kbk: error: %s (see kbk --help)\n", e.what());
    return static_cast<int>(ExitCode::usage);
  } catch (const Fatal& e) {
    std::fprintf(stderr, "kbk: error: %s\n", log::redact(e.what()).c_str());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kbk: error: %s\n", log::redact(e.what()).c_str());
    return static_cast<int>(ExitCode::failed);
  }
  return state.exit_code;
}
