// Running a command in a pod's container over `pods/exec`, as `kubectl exec` does: the data path of volume
// movers (tar streams in and out of helper pods) and of hooks.
//
// The real stream is the Kubernetes channel protocol over RFC 6455 WebSocket (our own client over an HTTP/1.1
// libcurl connection, src/kube/websocket.cpp): subprotocol `v5.channel.k8s.io` where the server speaks it (stdin
// can be closed: the command sees EOF), else `v4.channel.k8s.io` (API servers before 1.30: stdin cannot be
// closed, so only self-delimiting input such as a tar stream may be sent; close_stdin() says Errc::unsupported).
// Auth, TLS and proxies are the REST client's (kube::Client::exec).
//
// Flow control: every buffer is bounded (ExecRequest::buffer_bytes). Output that nobody has read stops the
// socket being read (the server and the command then block, as on a pipe); write_stdin() blocks while the
// socket cannot take more. A fast producer therefore never grows memory on either side.
//
// Threads: one I/O thread per session. write_stdin()/close_stdin() may be called from one thread while
// read_stdout()/read_stderr() are called from others; cancel() from anywhere, including a signal handler.
// Output sinks (ExecRequest::on_stdout/on_stderr) run on the I/O thread: while one blocks, nothing else moves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/util/error.hpp>

namespace kbk::kube {

inline constexpr const char* k_exec_protocol_v5 = "v5.channel.k8s.io";
inline constexpr const char* k_exec_protocol_v4 = "v4.channel.k8s.io";

enum class StderrMode {
  tail,  // kept as ExecStatus::stderr_tail (the last stderr_tail_bytes); never blocks the stream
  read,  // buffered for read_stderr() (bounded: a reader must keep up, as with stdout)
};

struct ExecRequest {
  std::string namespace_;
  std::string pod;
  std::string container;               // "" = the pod's only container (the server refuses when it has several)
  std::vector<std::string> command;    // argv; no shell unless you run one
  bool stdin_ = false;                 // open the command's stdin (write_stdin / close_stdin)
  bool stdout_ = true;
  bool stderr_ = true;
  StderrMode stderr_mode = StderrMode::tail;
  size_t stderr_tail_bytes = 64 * 1024;
  // Sinks instead of read_stdout()/read_stderr(): called on the I/O thread in order, chunk by chunk; blocking
  // in one holds the socket back (flow control). An error return cancels the session with that error.
  std::function<Result<void>(std::string_view)> on_stdout;
  std::function<Result<void>(std::string_view)> on_stderr;
  size_t buffer_bytes = 4 * 1024 * 1024;  // per direction: unread output, unsent input
  double timeout_seconds = 0;          // the whole session (connect to exit status); 0 = none
  double connect_timeout_seconds = 30;
  double ping_interval_seconds = 30;   // keeps idle proxies and load balancers from dropping a quiet stream
  // Errc::timeout when nothing at all (not even a pong) arrived for this long while kbk was ready to read: a
  // connection that died without a reset (a lost API server, a dropped NAT entry). 0 = off. With pings every
  // 30 s, 90 s or more suits any command, however quiet.
  double stall_timeout_seconds = 0;
  // Subprotocols offered, in order of preference (tests force v4 with {k_exec_protocol_v4}).
  std::vector<std::string> protocols = {k_exec_protocol_v5, k_exec_protocol_v4};
  // Told of each retried upgrade (429/5xx, a connection lost before the answer) with its line, instead of the line
  // going to log::info(1): a caller with a log of its own (a backup's, `kbk backup logs`) records it there.
  std::function<void(const std::string&)> on_retry;
};

// How the remote command ended.
struct ExecStatus {
  int exit_code = 0;          // the command's exit code (0 on Success)
  std::string protocol;       // the subprotocol that was negotiated
  std::string stderr_tail;    // StderrMode::tail: the end of stderr
  uint64_t stdout_bytes = 0;
  uint64_t stderr_bytes = 0;
  uint64_t stdin_bytes = 0;
};

// A running remote command. Destroying a session that has not ended cancels it.
class ExecSession {
public:
  virtual ~ExecSession() = default;

  virtual const std::string& protocol() const = 0;
  // Whether close_stdin() can signal EOF (v5), as opposed to v4 where the command never sees EOF on stdin.
  virtual bool can_close_stdin() const = 0;

  // Queues data for the command's stdin; blocks while buffer_bytes are already waiting. Errc::cancelled after
  // cancel(); the session's error once it has failed; Errc::precondition when stdin was not requested or was
  // closed. A command that exits before reading all input is not an error here: wait() tells how it ended.
  virtual Result<void> write_stdin(std::string_view data) = 0;
  // Sends EOF to the command's stdin after what was queued (v5); Errc::unsupported on v4.
  virtual Result<void> close_stdin() = 0;

  // Blocks until output is there; 0 at the end of the stream. Not for a channel that has a sink.
  virtual Result<size_t> read_stdout(char* buffer, size_t size) = 0;
  virtual Result<size_t> read_stderr(char* buffer, size_t size) = 0;

  // Waits for the exit status; output still unread is discarded (read it first). Errors: the stream failed
  // (Errc::network, tls, timeout, cancelled) or the command could not run (the server's message, e.g. a missing
  // executable: Errc::internal_error). A non-zero exit code is not an error: see ExecStatus::exit_code.
  virtual Result<ExecStatus> wait() = 0;

  // Ends the session at once: the connection is closed, blocked calls return Errc::cancelled. Async-signal-safe.
  virtual void cancel() = 0;
};

// Runs a whole command: feeds stdin from `input` (called on the calling thread until it returns 0; nullptr
// sends nothing), closes stdin when the protocol can, streams output to the request's sinks, and returns the
// exit status. stdout without a sink is discarded. Errors as ExecSession::wait(), or input's error.
using ExecInput = std::function<Result<size_t>(char* buffer, size_t size)>;
class Client;
Result<ExecStatus> run_exec(Client& client, const ExecRequest& request, const ExecInput& input = nullptr);

// "pod ns/name" or "pod ns/name container c", for messages.
std::string exec_target(const ExecRequest& request);

// A session served by a function instead of a pod: the fake for tests of code that uses exec (volume movers,
// hooks) and the shape of what a fake Client::exec returns. The function runs on its own thread with a
// FakeExecIo; stdin, stdout and stderr are bounded pipes with the same flow control as the real session.
class FakeExecIo {
public:
  virtual ~FakeExecIo() = default;
  virtual Result<size_t> read_stdin(char* buffer, size_t size) = 0;  // 0 at EOF (after close_stdin)
  virtual Result<void> write_stdout(std::string_view data) = 0;       // Errc::cancelled once cancelled
  virtual Result<void> write_stderr(std::string_view data) = 0;
  virtual bool cancelled() const = 0;
};
// handler returns the exit code, or an error that wait() returns (as a server Status that is not an exit code).
using FakeExecHandler = std::function<Result<int>(const ExecRequest&, FakeExecIo&)>;
std::unique_ptr<ExecSession> make_fake_exec_session(const ExecRequest& request, FakeExecHandler handler,
                                                    std::string protocol = k_exec_protocol_v5);

}  // namespace kbk::kube
