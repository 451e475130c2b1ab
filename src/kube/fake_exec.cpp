// make_fake_exec_session(): an ExecSession served by a function on its own thread, with the same bounded pipes
// and blocking behaviour as the real one, so code that execs (volume movers, hooks) is unit tested for flow
// control and early exits, not only for what it sends.
#include <kbk/kube/pod_exec.hpp>

#include <atomic>
#include <thread>

#include "pipe.hpp"

namespace kbk::kube {
namespace {

class FakeSession final : public ExecSession, private FakeExecIo {
public:
  FakeSession(const ExecRequest& request, FakeExecHandler handler, std::string protocol)
      : m_request(request),
        m_protocol(std::move(protocol)),
        m_stdin(request.buffer_bytes),
        m_stdout(request.buffer_bytes),
        m_stderr(request.buffer_bytes) {
    if (!m_request.stdin_) m_stdin.close();
    m_status.protocol = m_protocol;
    m_thread = std::thread([this, handler = std::move(handler)] {
      Result<int> r = handler(m_request, *this);
      std::lock_guard lock(m_mutex);
      if (m_cancel.load()) {
        m_error = Error{Errc::cancelled, "exec in " + exec_target(m_request) + ": cancelled"};
      } else if (!r) {
        m_error = std::move(r).error();
        m_error->message = "exec in " + exec_target(m_request) + ": " + m_error->message;
      } else {
        m_status.exit_code = *r;
      }
      m_stdin.reader_gone();
      if (m_error) {
        m_stdout.fail(*m_error);
        m_stderr.fail(*m_error);
      } else {
        m_stdout.close();
        m_stderr.close();
      }
      m_ended = true;
      m_done.notify_all();
    });
  }
  ~FakeSession() override {
    cancel();
    m_thread.join();
  }
  FakeSession(const FakeSession&) = delete;
  FakeSession& operator=(const FakeSession&) = delete;

  const std::string& protocol() const override { return m_protocol; }
  bool can_close_stdin() const override { return m_protocol == k_exec_protocol_v5; }

  Result<void> write_stdin(std::string_view data) override {
    if (!m_request.stdin_) return unexpected(Errc::precondition, "exec in " + exec_target(m_request) + ": stdin was not requested");
    if (m_cancel.load()) return unexpected(Errc::cancelled, "exec in " + exec_target(m_request) + ": cancelled");
    auto r = m_stdin.write(data);
    if (!r) {
      if (m_cancel.load()) return unexpected(Errc::cancelled, "exec in " + exec_target(m_request) + ": cancelled");
      return unexpected(Errc::io, "exec in " + exec_target(m_request) + ": the remote command has ended");
    }
    std::lock_guard lock(m_mutex);
    m_status.stdin_bytes += data.size();
    return {};
  }
  Result<void> close_stdin() override {
    if (!can_close_stdin()) return unexpected(Errc::unsupported, "exec in " + exec_target(m_request) + ": " + m_protocol + " cannot close stdin");
    m_stdin.close();
    return {};
  }
  Result<size_t> read_stdout(char* buffer, size_t size) override {
    if (m_request.on_stdout) return unexpected(Errc::precondition, "stdout goes to a sink");
    return m_stdout.read(buffer, size);
  }
  Result<size_t> read_stderr(char* buffer, size_t size) override {
    if (m_request.on_stderr || m_request.stderr_mode == StderrMode::tail)
      return unexpected(Errc::precondition, "stderr is not in read mode");
    return m_stderr.read(buffer, size);
  }
  Result<ExecStatus> wait() override {
    m_stdout.discard();
    m_stderr.discard();
    std::unique_lock lock(m_mutex);
    m_done.wait(lock, [&] { return m_ended; });
    if (m_error) return *m_error;
    return m_status;
  }
  void cancel() override {
    // Not async-signal-safe in the fake (pipes take locks); tests cancel from threads.
    m_cancel.store(true);
    const Error e{Errc::cancelled, "exec in " + exec_target(m_request) + ": cancelled"};
    m_stdin.fail(e);
    m_stdout.fail(e);
    m_stderr.fail(e);
  }

private:
  // FakeExecIo, for the handler
  Result<size_t> read_stdin(char* buffer, size_t size) override { return m_stdin.read(buffer, size); }
  Result<void> write_stdout(std::string_view data) override {
    if (m_cancel.load()) return unexpected(Errc::cancelled, "cancelled");
    if (!m_request.stdout_) return {};
    {
      std::lock_guard lock(m_mutex);
      m_status.stdout_bytes += data.size();
    }
    if (m_request.on_stdout) return m_request.on_stdout(data);
    return m_stdout.write(data);
  }
  Result<void> write_stderr(std::string_view data) override {
    if (m_cancel.load()) return unexpected(Errc::cancelled, "cancelled");
    if (!m_request.stderr_) return {};
    {
      std::lock_guard lock(m_mutex);
      m_status.stderr_bytes += data.size();
      if (!m_request.on_stderr && m_request.stderr_mode == StderrMode::tail) {
        std::string& tail = m_status.stderr_tail;
        tail.append(data);
        if (tail.size() > m_request.stderr_tail_bytes) tail.erase(0, tail.size() - m_request.stderr_tail_bytes);
        return {};
      }
    }
    if (m_request.on_stderr) return m_request.on_stderr(data);
    return m_stderr.write(data);
  }
  bool cancelled() const override { return m_cancel.load(); }

  ExecRequest m_request;
  std::string m_protocol;
  Pipe m_stdin, m_stdout, m_stderr;
  std::atomic<bool> m_cancel{false};
  std::mutex m_mutex;
  std::condition_variable m_done;
  bool m_ended = false;
  std::optional<Error> m_error;
  ExecStatus m_status;
  std::thread m_thread;
};

}  // namespace

std::unique_ptr<ExecSession> make_fake_exec_session(const ExecRequest& request, FakeExecHandler handler,
                                                    std::string protocol) {
  return std::make_unique<FakeSession>(request, std::move(handler), std::move(protocol));
}

}  // namespace kbk::kube
