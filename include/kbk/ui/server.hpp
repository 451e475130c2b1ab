// kbk ui: a page served from the binary on the user's machine to browse backups and compose restores
// (docs/ui.md). The server answers only requests carrying its random access token (constant-time compare, 401
// otherwise), refuses state-changing requests without the page's CSRF token or from another origin (403), serves
// only assets embedded in the binary, and returns for each view the JSON document the matching CLI command prints
// with -o json (include/kbk/archive/report.hpp, include/kbk/restore/records.hpp). Restores and backups started from
// the page run this binary with the command line the page exports, so the page cannot do what the CLI would not.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <kbk/crypto/encryption.hpp>
#include <kbk/json/json.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/error.hpp>

namespace kbk::ui {

struct Location {
  std::string url;  // as given (--storage), shown on the page and passed to the commands it runs
  std::function<Result<std::unique_ptr<storage::Backend>>()> open;
};

struct Options {
  std::string listen = "127.0.0.1:0";  // HOST:PORT; a host that is not loopback needs tls_cert and tls_key
  std::string tls_cert, tls_key;
  std::vector<Location> locations;
  // The live cluster for "diff against live" (null: the page says no cluster is configured).
  std::function<Result<std::unique_ptr<kube::Client>>()> cluster;
  std::string kbk_exe;                   // the binary run for restores and backups (this one)
  std::vector<std::string> global_args;  // flags passed on to it (--kubeconfig, --context, --storage-setting ...)
  std::string encryption_key_file;       // passed as --encryption-key-file to the commands run when set
  std::shared_ptr<const crypto::UserKey> encryption_key;  // read from that file: opens encrypted backups' contents
  std::string token;                     // the access token; "" draws 32 random bytes (hex)
};

// Checks the options (Errc::config naming the flag at fault), binds, and serves on a thread of its own.
class Server {
public:
  static Result<std::unique_ptr<Server>> start(Options options);
  virtual ~Server() = default;
  virtual std::string url() const = 0;  // http(s)://HOST:PORT/?token=TOKEN
  virtual void wait() = 0;              // until stop() (or a signal handler calling it)
  virtual void stop() = 0;
};

// ---- pieces the server is made of, tested on their own ---------------------------------------------------------

// HOST:PORT (or [v6]:PORT) split; Errc::config for anything else.
Result<std::pair<std::string, int>> parse_listen(const std::string& listen);
bool is_loopback(const std::string& host);

// A restore as the page composes it (docs/ui.md, "Restore spec") turned into the `kbk restore create` arguments
// (each flag as --flag=VALUE, so no value is read as a flag), the modifier file they name (empty when none) and
// the command line shown to the user (the modifier file as MODIFIERS.yaml). `storage` is passed as --storage. Errc::config names the field at fault.
struct Command {
  std::vector<std::string> args;  // after the binary: restore create ...
  std::string modifiers;          // the resource-modifier file's text (kbk.io/v1), "" when none
  std::string display;            // kbk restore create ... (shell-quoted)
};
Result<Command> restore_command(const json::Value& spec, const std::string& modifiers_path, const std::string& storage);
Result<Command> backup_command(const json::Value& spec, const std::string& storage);

// A patch as typed in the composer: kind "strategic", "merge" or "json" (RFC 6902), text in YAML or JSON.
// Problems carry the 1-based line and column in `text` where the reader stopped.
struct Problem {
  int line = 0, column = 0;
  std::string message;
};
std::vector<Problem> validate_patch(const std::string& kind, const std::string& text);

// A modifier file's problems as FILE:LINE:COL messages split into line, column and message.
std::vector<Problem> validate_modifiers(const std::string& text);

}  // namespace kbk::ui
