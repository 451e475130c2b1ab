// The command line: global options and one registration function per command file (one file per command,
// as restic: an options struct, flag setup, a short run() that wires library objects together and prints).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <kbk/kube/client.hpp>
#include <kbk/kube/config.hpp>
#include <kbk/kube/discovery.hpp>
#include <kbk/kube/rest_client.hpp>
#include <kbk/output/output.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/storage/wrappers.hpp>
#include <kbk/util/exit_code.hpp>

#include "flags.hpp"
#include "help.hpp"

namespace kbk::cli {

struct GlobalOptions {
  kube::ConfigFlags kube;
  double qps = 0;     // no client-side limit: the API server's priority and fairness (429 + Retry-After) paces kbk
  int burst = 100;
  int verbosity = 0;
  std::string log_file;
  std::string output;          // -o
  std::string progress;        // --progress auto|tty|json|none
  std::string storage;         // --storage (env KBK_STORAGE, then the config file)
  std::vector<std::string> storage_settings;  // --storage-setting KEY=VALUE (as the URL's query options)
  std::string limit_upload, limit_download;    // --limit-upload / --limit-download
  std::string config_path;     // the config file read ("" when none), for messages
};

// Set by the subcommand that ran; main returns it.
struct RunState {
  int exit_code = 0;
  bool ran = false;  // a command ran (else main prints the help of the command group named)
};

// Builds the REST config and client from the global flags (throws Fatal on a broken kubeconfig).
kube::RestConfig load_rest_config(const GlobalOptions& g);
std::unique_ptr<kube::Client> make_client(const GlobalOptions& g, const kube::RestConfig& config);
// Discovery for commands that cannot go on without it: prints its warnings (broken API groups) once, and
// throws Fatal with the exit code of the error (4 when the cluster is unreachable) when it fails.
kube::Discovery fetch_discovery(kube::Client& client);
// --storage (flag, else $KBK_STORAGE, else the config file); Fatal(usage) when none is set.
std::string storage_url(const GlobalOptions& g);
// Opens the location of --storage with --storage-setting and the bandwidth limits applied (every command that
// touches a location opens it here). create: make the folder when missing (backup create). progress: when given,
// every transfer is counted and reported to it (outside the bandwidth limit, so it shows the capped pace).
// Throws Fatal: exit 3 for a malformed URL, setting or rate (naming the flag), 4 when the location is unreachable.
std::unique_ptr<storage::Backend> open_storage(const GlobalOptions& g, bool create = false,
                                               std::shared_ptr<storage::TransferProgress> progress = nullptr);

// Parses -o for a command printing these formats (json brings yaml and jsonpath; docs/output.md); Fatal(usage)
// naming the supported formats otherwise. Print structured formats with output::print(doc, format).
output::Format output_format(const GlobalOptions& g, const std::vector<output::Format>& allowed);

// Wraps a command body: sets the exit code it returns. Document the command with document() (help.hpp): its
// examples and notes; every help page ends with EXIT STATUS.
void set_runner(CLI::App* cmd, RunState& state, std::function<int()> body);

// One per command file.
void register_version(CLI::App& app, GlobalOptions& g, RunState& state);
void register_api_resources(CLI::App& app, GlobalOptions& g, RunState& state);
void register_auth(CLI::App& app, GlobalOptions& g, RunState& state);
void register_backup(CLI::App& app, GlobalOptions& g, RunState& state);
void register_restore(CLI::App& app, GlobalOptions& g, RunState& state);
void register_modifiers(CLI::App& app, GlobalOptions& g, RunState& state);
void register_patch(CLI::App& app, GlobalOptions& g, RunState& state);
void register_prune(CLI::App& app, GlobalOptions& g, RunState& state);
void register_storage(CLI::App& app, GlobalOptions& g, RunState& state);
void register_debug(CLI::App& app, GlobalOptions& g, RunState& state);
void register_repo(CLI::App& app, GlobalOptions& g, RunState& state);
void register_app(CLI::App& app, GlobalOptions& g, RunState& state);
void register_policies(CLI::App& app, GlobalOptions& g, RunState& state);
void register_completion(CLI::App& app, GlobalOptions& g, RunState& state);
void register_ui(CLI::App& app, GlobalOptions& g, RunState& state);
void register_diff(CLI::App& app, GlobalOptions& g, RunState& state);
void register_migrate(CLI::App& app, GlobalOptions& g, RunState& state);
void register_rbac(CLI::App& app, GlobalOptions& g, RunState& state);
void register_mover(CLI::App& app, GlobalOptions& g, RunState& state);
void register_schedule(CLI::App& app, GlobalOptions& g, RunState& state);
void register_cleanup(CLI::App& app, GlobalOptions& g, RunState& state);

}  // namespace kbk::cli
