// kbk version: the client's version and build, and the server's when a cluster is reachable.
#include <curl/curl.h>

#include <cstdio>

#include "commands.hpp"
#include <kbk/json/json.hpp>
#include <kbk/output/output.hpp>
#include <kbk/util/lazy_library.hpp>
#include <kbk/util/log.hpp>

namespace kbk::cli {
namespace {

struct VersionOptions {
  bool client_only = false;
};

std::string compiler() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return "gcc " + std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__) + "." + std::to_string(__GNUC_PATCHLEVEL__);
#else
  return "unknown";
#endif
}

std::string platform() {
#if defined(__x86_64__)
  const char* arch = "amd64";
#elif defined(__aarch64__)
  const char* arch = "arm64";
#else
  const char* arch = "unknown";
#endif
#if defined(__linux__)
  return std::string("linux/") + arch;
#elif defined(__APPLE__)
  return std::string("darwin/") + arch;
#else
  return std::string("unknown/") + arch;
#endif
}

json::Document client_version() {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  const std::string v = std::string("v") + KBK_VERSION;
  d.AddMember("gitVersion", json::make_string(v, a), a);
  d.AddMember("buildDate", json::make_string(__DATE__ " " __TIME__, a), a);
  d.AddMember("compiler", json::make_string(compiler(), a), a);
  d.AddMember("platform", json::make_string(platform(), a), a);
  // libcurl is opened on first use (util/lazy_library.hpp); in the in-pod mover's bundle it is not there at all.
  const std::string curl = util::lazy_library_available(util::k_libcurl_soname)
                               ? std::string(curl_version_info(CURLVERSION_NOW)->version)
                               : std::string(LIBCURL_VERSION) + " (built with; not loadable here)";
  d.AddMember("libcurl", json::make_string(curl, a), a);
  return d;
}

int run(const GlobalOptions& g, const VersionOptions& o) {
  const output::Format format = output_format(g, {output::Format::json});
  json::Document doc;
  doc.SetObject();
  auto& a = doc.GetAllocator();
  json::Document client = client_version();
  doc.AddMember("clientVersion", json::copy(client, a), a);
  auto print = [&] {
    if (format.structured()) {
      output::print(doc, format);
    } else {
      std::printf("Client Version: %s\n", json::get_string(doc, {"clientVersion", "gitVersion"}).c_str());
      std::printf("Build: %s, %s, libcurl %s, %s\n", json::get_string(doc, {"clientVersion", "buildDate"}).c_str(),
                  json::get_string(doc, {"clientVersion", "compiler"}).c_str(),
                  json::get_string(doc, {"clientVersion", "libcurl"}).c_str(),
                  json::get_string(doc, {"clientVersion", "platform"}).c_str());
      if (const auto* s = json::find(doc, "serverVersion"))
        std::printf("Server Version: %s\n", json::get_string(*s, {"gitVersion"}).c_str());
    }
    std::fflush(stdout);
  };
  if (o.client_only) {
    print();
    return 0;
  }
  kube::RestConfig config;
  try {
    config = load_rest_config(g);
  } catch (const Fatal&) {
    print();  // the client part still shows, as kubectl version does; main prints the one error line
    throw;
  }
  // One quick retry only: `kbk version` is how people check whether the cluster answers.
  kube::ClientOptions co;
  co.qps = g.qps;
  co.burst = g.burst;
  co.max_retries = 1;
  co.max_retry_seconds = 5;
  auto api = kube::make_client(config, co);
  auto server = api->request("GET", "/version");
  if (!server.ok()) {
    print();
    log::error("server version: " + server.error().message);
    return static_cast<int>(exit_code_for(server.error()));
  }
  doc.AddMember("serverVersion", json::copy(*server, a), a);
  print();
  return 0;
}

}  // namespace

void register_version(CLI::App& app, GlobalOptions& g, RunState& state) {
  static VersionOptions o;
  auto* cmd = app.add_subcommand("version", "Print the client version and the server's (when the cluster answers)");
  cmd->add_flag("--client", o.client_only, "Only the client version; do not contact the cluster");
  document(cmd, {"kbk version", "kbk version --client -o json", "kbk --version    # the client version only"},
           "The server's version needs a reachable cluster: without one the client part is printed and the exit "
           "status is 4.");
  set_runner(cmd, state, [&g] { return run(g, o); });
}

}  // namespace kbk::cli
