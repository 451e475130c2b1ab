// kbk debug exec: run a command in a pod through kbk's own pods/exec client (WebSocket v5/v4), with stdin and
// stdout passed through, exiting with the remote command's exit code. For users checking that kbk can reach
// their pods (auth, proxies, RBAC for pods/exec) before a volume backup needs it, and for kbk's tests.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <thread>

#include "commands.hpp"
#include <kbk/json/json.hpp>
#include <kbk/kube/pod_exec.hpp>
#include <kbk/output/output.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::cli {
namespace {

struct ExecOptions {
  std::string pod;
  std::string container;
  std::vector<std::string> command;
  bool stdin_ = false;
  std::string protocol = "auto";
  double timeout_seconds = 0;  // --timeout (flags.hpp's duration: 30s, 5m, or seconds)
};

std::atomic<kube::ExecSession*> g_session{nullptr};
std::atomic<bool> g_interrupted{false};

extern "C" void on_signal(int) {
  g_interrupted.store(true);
  if (kube::ExecSession* s = g_session.load()) s->cancel();  // async-signal-safe (an eventfd write)
}

Result<void> write_fd(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return unexpected(Errc::io, std::string("writing ") + (fd == 1 ? "stdout" : "stderr") + " failed");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

constexpr size_t k_json_stdout_limit = 1 << 20;

int run(GlobalOptions& g, const ExecOptions& o) {
  const output::Format format = output_format(g, {output::Format::json});
  const bool json_out = format.structured();
  if (o.pod.empty()) throw Fatal(ExitCode::usage, "debug exec: no pod (kbk debug exec POD -- CMD [ARG...])");
  if (o.command.empty()) throw Fatal(ExitCode::usage, "debug exec: no command (kbk debug exec POD -- CMD [ARG...])");
  if (o.protocol != "auto" && o.protocol != "v5" && o.protocol != "v4")
    throw Fatal(ExitCode::usage, "--protocol " + o.protocol + ": expected auto, v5 or v4");
  const kube::RestConfig config = load_rest_config(g);
  auto client = make_client(g, config);

  kube::ExecRequest req;
  req.namespace_ = config.namespace_;
  req.pod = o.pod;
  req.container = o.container;
  req.command = o.command;
  req.stdin_ = o.stdin_;
  req.timeout_seconds = o.timeout_seconds;
  if (o.protocol == "v5") req.protocols = {kube::k_exec_protocol_v5};
  if (o.protocol == "v4") req.protocols = {kube::k_exec_protocol_v4};
  std::string captured;
  bool truncated = false;
  if (json_out) {
    req.on_stdout = [&](std::string_view d) -> Result<void> {
      const size_t room = k_json_stdout_limit - captured.size();
      if (d.size() > room) truncated = true;
      captured.append(d.substr(0, room));
      return {};
    };
  } else {
    req.on_stdout = [](std::string_view d) { return write_fd(1, d); };
  }
  req.on_stderr = [](std::string_view d) { return write_fd(2, d); };

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {}, old_term {};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  auto session = client->exec(req);
  if (!session) {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
    throw Fatal(exit_code_for(session.error()), session.error().message);
  }
  g_session.store(session->get());
  if (g_interrupted.load()) (*session)->cancel();

  // stdin: a thread copies fd 0 into the session until EOF (then closes the command's stdin where the protocol
  // can) or until the session ends.
  std::atomic<bool> ended{false};
  std::thread feeder;
  std::optional<Error> input_error;
  if (o.stdin_) {
    feeder = std::thread([&] {
      std::vector<char> buf(256 * 1024);
      while (!ended.load()) {
        pollfd p{0, POLLIN, 0};
        const int r = ::poll(&p, 1, 200);
        if (r <= 0) continue;
        const ssize_t n = ::read(0, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          input_error = Error{Errc::io, "reading stdin failed"};
          (*session)->cancel();
          return;
        }
        if (n == 0) {
          if ((*session)->can_close_stdin()) {
            (void)(*session)->close_stdin();
          } else {
            log::info(2, "stdin ended; " + (*session)->protocol() + " cannot pass the end on to the command");
          }
          return;
        }
        if (!(*session)->write_stdin(std::string_view(buf.data(), static_cast<size_t>(n)))) return;
      }
    });
  }
  auto status = (*session)->wait();
  ended.store(true);
  if (feeder.joinable()) feeder.join();
  g_session.store(nullptr);
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (input_error) throw Fatal(ExitCode::failed, input_error->message);
  if (!status) {
    if (status.error().code == Errc::cancelled && g_interrupted.load())
      throw Fatal(ExitCode::failed, "exec in " + kube::exec_target(req) + ": interrupted");
    throw Fatal(exit_code_for(status.error()), status.error().message);
  }
  if (json_out) {
    json::Document d;
    d.SetObject();
    auto& a = d.GetAllocator();
    d.AddMember("pod", json::make_string(req.namespace_ + "/" + req.pod, a), a);
    if (!req.container.empty()) d.AddMember("container", json::make_string(req.container, a), a);
    d.AddMember("protocol", json::make_string(status->protocol, a), a);
    d.AddMember("exitCode", status->exit_code, a);
    d.AddMember("stdout", json::make_string(captured, a), a);
    d.AddMember("stdoutTruncated", truncated, a);
    d.AddMember("stdoutBytes", static_cast<uint64_t>(status->stdout_bytes), a);
    d.AddMember("stderrBytes", static_cast<uint64_t>(status->stderr_bytes), a);
    d.AddMember("stdinBytes", static_cast<uint64_t>(status->stdin_bytes), a);
    output::print(d, format);
  }
  log::info(2, "exec in " + kube::exec_target(req) + " over " + status->protocol + ": exit code " +
                   std::to_string(status->exit_code) + ", " + std::to_string(status->stdout_bytes) + " bytes out");
  return status->exit_code;
}

}  // namespace

void register_debug(CLI::App& app, GlobalOptions& g, RunState& state) {
  auto* debug = app.add_subcommand("debug", "Diagnostics: reach the cluster the way volume operations will");
  document(debug, {"kbk debug exec -n shop web-0 -- ls /data"});
  auto opts = std::make_shared<ExecOptions>();
  auto* exec = debug->add_subcommand(
      "exec",
      "Run a command in a pod through kbk's pods/exec client (WebSocket v5.channel.k8s.io, else v4): stdout and "
      "stderr are passed through, -i passes stdin, and kbk exits with the command's exit code. Ctrl-C ends the "
      "session at once.");
  // Not ->required(): CLI11 would then report a missing pod before an unknown flag; run() checks both.
  exec->add_option("POD", opts->pod, "The pod (in -n NAMESPACE)");
  exec->add_option("COMMAND", opts->command, "The command and its arguments, after --");
  exec->add_option("-c,--container", opts->container, "The container (needed when the pod has several)")
      ->type_name(value::k_name);
  exec->add_flag("-i,--stdin", opts->stdin_,
                 "Pass stdin to the command; its end closes the command's stdin on v5 (on v4 the command never "
                 "sees the end: send self-delimiting input such as a tar stream)");
  exec->add_option("--protocol", opts->protocol, "Subprotocol to offer: auto (v5, then v4), v5 or v4")
      ->type_name("auto|v5|v4")
      ->default_str("auto");
  add_duration_option(exec, "--timeout", opts->timeout_seconds, "How long the whole session may take (0: no limit)");
  set_runner(exec, state, [&g, opts] { return run(g, *opts); });
  document(exec,
           {"kbk debug exec -n shop web-0 -- tar c -C /data . > data.tar",
            "kbk debug exec -n shop web-0 -c app -i -- sh -c 'cat > /tmp/x' < x"},
           "", "With a command that ran: its exit code (0-255) instead; 1-4 above are then also the command's.");
}

}  // namespace kbk::cli
