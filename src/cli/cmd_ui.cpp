// kbk ui: parses its flags, wires the locations and the cluster to kbk::ui::Server (include/kbk/ui/server.hpp),
// prints the URL and serves until interrupted.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "commands.hpp"
#include "key_file.hpp"
#include <kbk/json/json.hpp>
#include <kbk/ui/server.hpp>
#include <kbk/util/log.hpp>

namespace kbk::cli {
namespace {

struct UiFlags {
  std::string listen = "127.0.0.1:0";
  std::vector<std::string> storage;
  bool open = false;
  std::string tls_cert, tls_key;
  std::string key_file;
};

int g_signal_pipe[2] = {-1, -1};
extern "C" void signal_to_pipe(int) {
  const char c = 1;
  [[maybe_unused]] auto n = ::write(g_signal_pipe[1], &c, 1);
}

// The flags passed on to the commands the page runs (no secrets: files are named, never read into arguments).
std::vector<std::string> passed_on(const GlobalOptions& g) {
  std::vector<std::string> a;
  auto add = [&](const char* flag, const std::string& v) {
    if (!v.empty()) a.push_back(std::string(flag) + "=" + v);
  };
  add("--kubeconfig", g.kube.kubeconfig);
  add("--context", g.kube.context);
  add("--cluster", g.kube.cluster);
  add("--user", g.kube.user);
  add("--server", g.kube.server);
  add("--as", g.kube.as_user);
  for (const auto& grp : g.kube.as_groups) add("--as-group", grp);
  for (const auto& s : g.storage_settings) add("--storage-setting", s);
  add("--limit-upload", g.limit_upload);
  add("--limit-download", g.limit_download);
  return a;
}

int run(const GlobalOptions& g, const UiFlags& f) {
  ui::Options o;
  o.listen = f.listen;
  o.tls_cert = f.tls_cert;
  o.tls_key = f.tls_key;
  o.encryption_key_file = f.key_file;
  if (auto key = load_encryption_key(f.key_file)) o.encryption_key = std::make_shared<const crypto::UserKey>(std::move(*key));
  std::vector<std::string> urls = f.storage;
  if (urls.empty()) urls.push_back(storage_url(g));  // KBK_STORAGE or the config file
  for (const auto& url : urls) {
    GlobalOptions one = g;
    one.storage = url;
    open_storage(one);  // a malformed URL or an unreachable location fails now, with its exit code
    o.locations.push_back({url, [one]() -> Result<std::unique_ptr<storage::Backend>> {
                             try {
                               return open_storage(one);
                             } catch (const Fatal& e) {
                               return unexpected(Errc::precondition, e.what());
                             }
                           }});
  }
  o.cluster = [g]() -> Result<std::unique_ptr<kube::Client>> {
    try {
      return make_client(g, load_rest_config(g));
    } catch (const Fatal& e) {
      return unexpected(Errc::precondition, e.what());
    }
  };
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) throw Fatal(ExitCode::failed, "cannot find this program's path (/proc/self/exe)");
  o.kbk_exe.assign(exe, static_cast<size_t>(n));
  o.global_args = passed_on(g);
  if (const char* t = std::getenv("KBK_UI_TOKEN"); t && *t) o.token = t;
  auto server = ui::Server::start(std::move(o));
  if (!server) throw Fatal(exit_code_for(server.error()), server.error().message);
  const output::Format format = output_format(g, {output::Format::json});
  if (format.structured()) {
    // {"apiVersion", "kind": "UI", "url", "locations"}: one document, printed before serving.
    json::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("apiVersion", "kbk.io/v1alpha1", a);
    d.AddMember("kind", "UI", a);
    d.AddMember("url", json::make_string((*server)->url(), a), a);
    json::Value locs(rapidjson::kArrayType);
    for (const auto& u : urls) locs.PushBack(json::make_string(u, a), a);
    d.AddMember("locations", locs, a);
    output::print(d, format);
  } else {
    std::printf("%s\n", (*server)->url().c_str());
  }
  std::fflush(stdout);
  std::fprintf(stderr, "Serving kbk ui; open the URL above (it holds the access token). Ctrl-C stops it.\n");
  if (f.open) {
    const std::string url = (*server)->url();
    if (::fork() == 0) {
      int null = ::open("/dev/null", O_RDWR);
      if (null >= 0) {
        ::dup2(null, 1);
        ::dup2(null, 2);
      }
      ::execlp("xdg-open", "xdg-open", url.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  if (::pipe(g_signal_pipe) != 0) throw Fatal(ExitCode::failed, "pipe failed");
  std::signal(SIGINT, signal_to_pipe);
  std::signal(SIGTERM, signal_to_pipe);
  std::signal(SIGCHLD, SIG_DFL);
  char c;
  while (::read(g_signal_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  (*server)->stop();
  return 0;
}

}  // namespace

void register_ui(CLI::App& app, GlobalOptions& g, RunState& state) {
  auto f = std::make_shared<UiFlags>();
  auto* cmd = app.add_subcommand("ui", "Serve a local web page to browse backups and compose restores");
  cmd->add_option("--listen", f->listen,
                  "HOST:PORT to serve on (port 0 picks a free one); a host that is not loopback needs --tls-cert/--tls-key")
      ->type_name("HOST:PORT")
      ->capture_default_str();
  cmd->add_option("--storage", f->storage, "A backup location to browse (repeatable; default: the global --storage)")
      ->type_name(value::k_url)
      ->allow_extra_args(false);
  cmd->add_flag("--open", f->open, "Open the URL in the desktop's browser (xdg-open)");
  cmd->add_option("--tls-cert", f->tls_cert, "PEM certificate to serve HTTPS with")->type_name(value::k_file);
  cmd->add_option("--tls-key", f->tls_key, "PEM private key of --tls-cert")->type_name(value::k_file);
  add_encryption_key_option(cmd, f->key_file,
                      "Key or passphrase file: opens encrypted backups' contents and is passed by name to the "
                      "restores, diffs and backups the page runs");
  document(cmd,
           {"kbk ui --storage /var/backups/kbk", "kbk ui --storage s3://corp-backups/prod --storage /mnt/old --open",
            "kbk ui --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem --storage s3://corp-backups/prod"},
           "Prints one URL holding a random access token (as Jupyter does) and serves until interrupted. Every "
           "request needs the token (401 otherwise); changes (restores, backups) also need the page's CSRF token and "
           "the page's own origin (403 otherwise). Every file of the page is inside the binary: nothing is fetched "
           "from anywhere. The page shows, for each view, the document the matching command prints with -o json "
           "(backup list, backup describe, backup inspect, diff backup, restore list/describe), and runs restores and "
           "backups as the kbk restore create / backup create command line it shows. docs/ui.md describes the API.");
  set_runner(cmd, state, [&g, f] { return run(g, *f); });
}

}  // namespace kbk::cli
