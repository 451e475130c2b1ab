// pods/exec over WebSocket: the opening handshake on an http::Stream, then one I/O thread per session that moves
// frames between the socket and bounded buffers (see include/kbk/kube/pod_exec.hpp for the contract).
//
// The I/O thread never blocks on a consumer: output goes into Pipes, and while one is full (or a sink is
// busy) the socket is not read, so TCP pushes back on the server. Input is encoded into frames by the writing
// thread and queued (bounded) for the I/O thread. poll() waits on the socket and an eventfd that cancel(), new
// input and readers making room write to.
#include "pod_exec_impl.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <kbk/json/json.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

#include "pipe.hpp"
#include "status.hpp"
#include "websocket.hpp"

namespace kbk::kube {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint8_t k_stdin = 0, k_stdout = 1, k_stderr = 2, k_error = 3, k_close_signal = 255;
constexpr size_t k_max_status_bytes = 1 << 20;
constexpr size_t k_max_response_head = 64 * 1024;
constexpr size_t k_frame_bytes = 256 * 1024;  // stdin is sent in frames of at most this much

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", s);
  return buf;
}

double seconds_until(Clock::time_point t) { return std::chrono::duration<double>(t - Clock::now()).count(); }

int poll_ms(std::optional<Clock::time_point> deadline, double cap_seconds) {
  double s = cap_seconds;
  if (deadline) s = std::min(s, std::max(0.0, seconds_until(*deadline)));
  return static_cast<int>(s * 1000) + 1;
}

Error with_target(Error e, const ExecRequest& r) {
  e.message = "exec in " + exec_target(r) + ": " + e.message;
  return e;
}

// Waits until fd is ready for `events` or the wake fd fires. false on timeout.
bool wait_fd(int fd, short events, int wake_fd, int ms) {
  pollfd p[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
  return ::poll(p, wake_fd >= 0 ? 2 : 1, ms) > 0;
}

// ---------------------------------------------------------------------------------------------- handshake

struct Upgrade {
  std::unique_ptr<http::Stream> stream;
  std::string protocol;
  std::string leftover;  // bytes after the response head: the first frames
};

// The status line and headers of an HTTP/1.1 response.
struct ResponseHead {
  int status = 0;
  http::Headers headers;
};

std::optional<ResponseHead> parse_head(std::string_view text) {
  ResponseHead h;
  size_t eol = text.find("\r\n");
  const std::string_view line = text.substr(0, eol);
  if (!util::starts_with(line, "HTTP/1.")) return std::nullopt;
  const size_t sp = line.find(' ');
  if (sp == std::string_view::npos) return std::nullopt;
  h.status = std::atoi(std::string(line.substr(sp + 1, 3)).c_str());
  if (h.status < 100) return std::nullopt;
  while (eol != std::string_view::npos) {
    text.remove_prefix(eol + 2);
    eol = text.find("\r\n");
    const std::string_view l = text.substr(0, eol);
    if (l.empty()) break;
    const size_t colon = l.find(':');
    if (colon == std::string_view::npos) continue;
    h.headers.emplace_back(std::string(util::trim(l.substr(0, colon))), std::string(util::trim(l.substr(colon + 1))));
  }
  return h;
}

Result<void> send_all(http::Stream& s, std::string_view data, std::optional<Clock::time_point> deadline) {
  while (!data.empty()) {
    KBK_ASSIGN_OR_RETURN(http::Stream::IoResult r, s.send(data.data(), data.size()));
    if (r.status == http::Stream::Io::ok) {
      data.remove_prefix(r.bytes);
      continue;
    }
    if (deadline && Clock::now() >= *deadline) return unexpected(Errc::timeout, "timed out sending the upgrade request");
    wait_fd(s.socket(), POLLOUT, -1, poll_ms(deadline, 1.0));
  }
  return {};
}

// Reads until the end of the response head ("\r\n\r\n"); returns everything read (head and what followed).
Result<std::string> read_head(http::Stream& s, std::optional<Clock::time_point> deadline, size_t* head_end) {
  std::string buf;
  char chunk[16384];
  for (;;) {
    KBK_ASSIGN_OR_RETURN(http::Stream::IoResult r, s.recv(chunk, sizeof chunk));
    if (r.status == http::Stream::Io::ok) {
      buf.append(chunk, r.bytes);
      if (const size_t e = buf.find("\r\n\r\n"); e != std::string::npos) {
        *head_end = e + 4;
        return buf;
      }
      if (buf.size() > k_max_response_head) return unexpected(Errc::bad_request, "the upgrade response head is too long");
      continue;
    }
    if (r.status == http::Stream::Io::closed)
      return unexpected(Errc::network, "the server closed the connection before answering the upgrade");
    if (deadline && Clock::now() >= *deadline) return unexpected(Errc::timeout, "timed out waiting for the upgrade response");
    wait_fd(s.socket(), POLLIN, -1, poll_ms(deadline, 1.0));
  }
}

// The body of a refused upgrade (Content-Length, else until the server closes; at most 64 KiB, 5 s).
std::string read_error_body(http::Stream& s, const ResponseHead& head, std::string body) {
  size_t want = k_max_response_head;
  if (auto cl = http::find_header(head.headers, "Content-Length")) want = std::min<size_t>(want, std::strtoull(cl->c_str(), nullptr, 10));
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  char chunk[16384];
  while (body.size() < want && Clock::now() < deadline) {
    auto r = s.recv(chunk, sizeof chunk);
    if (!r.ok() || r->status == http::Stream::Io::closed) break;
    if (r->status == http::Stream::Io::ok) {
      body.append(chunk, r->bytes);
      continue;
    }
    wait_fd(s.socket(), POLLIN, -1, 200);
  }
  if (body.size() > want) body.resize(want);
  return body;
}

Result<Upgrade> upgrade_once(const ExecEndpoint& ep, const ExecRequest& req, bool force_exec,
                             std::optional<Clock::time_point> deadline, int* status_out) {
  KBK_ASSIGN_OR_RETURN(Auth auth, ep.credentials->current(force_exec));
  http::TransportOptions topts = ep.credentials->transport_options(auth.client_cert_pem, auth.client_key_pem, ep.user_agent);
  topts.connect_timeout_seconds = req.connect_timeout_seconds;
  if (deadline) topts.connect_timeout_seconds = std::max(0.001, std::min(topts.connect_timeout_seconds, seconds_until(*deadline)));
  const std::string url = ep.base_url + exec_path(req);
  if (ep.limiter) ep.limiter->acquire();
  KBK_ASSIGN_OR_RETURN(std::unique_ptr<http::Stream> stream, http::open_stream(topts, url));

  const std::string key = ws::make_key();
  std::string protocols;
  for (const auto& p : req.protocols) protocols += (protocols.empty() ? "" : ", ") + p;
  std::string head = "GET " + stream->request_target() + " HTTP/1.1\r\nHost: " + stream->host() +
                     "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
                     key + "\r\nSec-WebSocket-Protocol: " + protocols + "\r\nUser-Agent: " + ep.user_agent + "\r\n";
  if (!auth.authorization.empty()) head += "Authorization: " + auth.authorization + "\r\n";
  for (const auto& [k, v] : ep.credentials->impersonation_headers()) head += k + ": " + v + "\r\n";
  head += "\r\n";
  log::info(6, "GET " + url + " (WebSocket upgrade, " + protocols + ")");
  KBK_TRY(send_all(*stream, head, deadline));

  size_t head_end = 0;
  KBK_ASSIGN_OR_RETURN(std::string got, read_head(*stream, deadline, &head_end));
  auto parsed = parse_head(std::string_view(got).substr(0, head_end));
  if (!parsed) return unexpected(Errc::bad_request, "the server's answer to the upgrade is not HTTP/1.1");
  *status_out = parsed->status;
  log::info(6, "exec upgrade answered " + std::to_string(parsed->status));
  if (log::enabled(8))
    for (const auto& [k, v] : parsed->headers) log::info(8, "Response Header: " + k + ": " + v);
  if (parsed->status != 101) {
    std::string body = read_error_body(*stream, *parsed, got.substr(head_end));
    RequestContext ctx{"GET", "create", "pods/exec", req.pod};
    int retry_after = 0;
    if (auto ra = http::find_header(parsed->headers, "Retry-After"))
      retry_after = std::atoi(std::string(util::trim(*ra)).c_str());
    Error e = status_error(parsed->status, body, ctx, retry_after);
    if (parsed->status == 400 && util::trim(body).empty())
      e.message = "the API server refused the WebSocket upgrade (400 Bad Request; it may speak only SPDY)";
    return e;
  }
  const std::string upgrade = util::to_lower(http::find_header(parsed->headers, "Upgrade").value_or(""));
  if (upgrade != "websocket") {
    return unexpected(Errc::unsupported, "the API server switched to \"" + upgrade +
                                             "\" instead of WebSocket (kbk speaks only WebSocket, not SPDY)");
  }
  if (http::find_header(parsed->headers, "Sec-WebSocket-Accept").value_or("") != ws::accept_for(key))
    return unexpected(Errc::bad_request, "the server's Sec-WebSocket-Accept does not match the key sent");
  const std::string proto = http::find_header(parsed->headers, "Sec-WebSocket-Protocol").value_or("");
  bool offered = false;
  for (const auto& p : req.protocols) offered = offered || p == proto;
  if (!offered) {
    return unexpected(Errc::unsupported, proto.empty() ? "the server chose no subprotocol (offered " + protocols + ")"
                                                       : "the server chose subprotocol " + proto + ", not one offered (" + protocols + ")");
  }
  Upgrade u;
  u.stream = std::move(stream);
  u.protocol = proto;
  u.leftover = got.substr(head_end);
  return u;
}

// ---------------------------------------------------------------------------------------------- the session

class WsExecSession final : public ExecSession {
public:
  WsExecSession(Upgrade up, ExecRequest req, std::optional<Clock::time_point> deadline)
      : m_stream(std::move(up.stream)),
        m_protocol(std::move(up.protocol)),
        m_request(std::move(req)),
        m_deadline(deadline),
        m_stdout(m_request.buffer_bytes),
        m_stderr(m_request.buffer_bytes) {
    m_status.protocol = m_protocol;
    m_wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    m_stdout.set_on_room([this] { wake(); });
    m_stderr.set_on_room([this] { wake(); });
    if (!m_request.stdout_) m_stdout.close();
    if (!m_request.stderr_ || m_request.stderr_mode == StderrMode::tail) m_stderr.close();
    m_thread = std::thread([this, leftover = std::move(up.leftover)] { run(leftover); });
  }
  ~WsExecSession() override {
    cancel();
    if (m_thread.joinable()) m_thread.join();
    if (m_wake >= 0) ::close(m_wake);
  }
  WsExecSession(const WsExecSession&) = delete;
  WsExecSession& operator=(const WsExecSession&) = delete;

  const std::string& protocol() const override { return m_protocol; }
  bool can_close_stdin() const override { return m_protocol == k_exec_protocol_v5; }

  Result<void> write_stdin(std::string_view data) override {
    if (!m_request.stdin_) return unexpected(Errc::precondition, "exec in " + exec_target(m_request) + ": stdin was not requested");
    while (!data.empty()) {
      const std::string_view part = data.substr(0, k_frame_bytes);
      const char channel = static_cast<char>(k_stdin);
      const uint32_t mask = ws::make_mask();
      {
        std::unique_lock lock(m_mutex);
        m_out_space.wait(lock, [&] { return m_out.size() < m_request.buffer_bytes || m_ended || m_cancel.load(); });
        if (m_cancel.load() && !m_ended) return unexpected(Errc::cancelled, "exec in " + exec_target(m_request) + ": cancelled");
        if (m_error) return *m_error;
        if (m_ended) return unexpected(Errc::io, "exec in " + exec_target(m_request) + ": the remote command has ended");
        if (m_stdin_closed) return unexpected(Errc::precondition, "exec in " + exec_target(m_request) + ": stdin is closed");
        // Masked straight into the queue (no frame built apart and copied in): a bulk stream's bytes are copied
        // once here, not twice.
        ws::append_frame(m_out, ws::binary, part, mask, false, std::string_view(&channel, 1));
        m_status.stdin_bytes += part.size();
      }
      wake();
      data.remove_prefix(part.size());
    }
    return {};
  }

  Result<void> close_stdin() override {
    if (!m_request.stdin_) return unexpected(Errc::precondition, "exec in " + exec_target(m_request) + ": stdin was not requested");
    if (!can_close_stdin())
      return unexpected(Errc::unsupported, "exec in " + exec_target(m_request) + ": " + m_protocol +
                                               " cannot close stdin (the server is older than Kubernetes 1.30)");
    {
      std::lock_guard lock(m_mutex);
      if (m_stdin_closed || m_ended) return {};
      m_stdin_closed = true;
      const char signal[2] = {static_cast<char>(k_close_signal), static_cast<char>(k_stdin)};
      ws::append_frame(m_out, ws::binary, std::string_view(signal, 2), ws::make_mask());
    }
    wake();
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
    m_done_cv.wait(lock, [&] { return m_ended; });
    if (m_error) return *m_error;
    return m_status;
  }

  void cancel() override {
    m_cancel.store(true);
    wake();
  }

private:
  void wake() {
    if (m_wake < 0) return;
    const uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(m_wake, &one, sizeof one);
  }

  void queue_control(ws::Opcode op, std::string_view payload) {
    std::lock_guard lock(m_mutex);
    ws::append_frame(m_out, op, payload, ws::make_mask());
  }

  // Ends the session: m_error (if any) set, pipes closed or failed, waiters woken.
  void finish(std::optional<Error> error) {
    {
      std::lock_guard lock(m_mutex);
      if (error) {
        m_error = with_target(std::move(*error), m_request);
        log::info(4, m_error->message);
      }
      m_ended = true;
    }
    if (m_error) {
      m_stdout.fail(*m_error);
      m_stderr.fail(*m_error);
    } else {
      m_stdout.close();
      m_stderr.close();
    }
    m_out_space.notify_all();
    m_done_cv.notify_all();
  }

  Result<void> deliver(uint8_t channel, std::string_view data) {
    if (data.empty()) return {};
    if (channel == k_stdout) {
      if (!m_request.stdout_) return {};
      m_status.stdout_bytes += data.size();
      if (m_request.on_stdout) return m_request.on_stdout(data);
      m_stdout.push(data);
      return {};
    }
    if (channel == k_stderr) {
      if (!m_request.stderr_) return {};
      m_status.stderr_bytes += data.size();
      if (m_request.on_stderr) return m_request.on_stderr(data);
      if (m_request.stderr_mode == StderrMode::read) {
        m_stderr.push(data);
        return {};
      }
      std::string& tail = m_status.stderr_tail;
      tail.append(data);
      if (tail.size() > m_request.stderr_tail_bytes) tail.erase(0, tail.size() - m_request.stderr_tail_bytes);
      return {};
    }
    if (channel == k_error) {
      if (m_status_json.size() + data.size() > k_max_status_bytes)
        return unexpected(Errc::request_entity_too_large, "the exit status message is larger than 1 MiB");
      m_status_json.append(data);
      return {};
    }
    log::debug("exec: ignoring data on unknown channel " + std::to_string(channel));
    return {};
  }

  // The Status on channel 3 (parse_exec_status).
  Result<void> take_status() {
    KBK_ASSIGN_OR_RETURN(ExecStatusReport r, parse_exec_status(m_status_json));
    if (r.exit_code) m_status.exit_code = *r.exit_code;
    m_command_error = std::move(r.command_error);
    m_have_status = true;
    return {};
  }

  Result<void> on_piece(const ws::Piece& p) {
    if (p.kind == ws::Piece::Kind::control) {
      if (p.opcode == ws::ping) {
        queue_control(ws::pong, p.bytes);
      } else if (p.opcode == ws::close) {
        m_close_received = true;
        if (p.bytes.size() >= 2) {
          m_close_code = static_cast<uint16_t>((static_cast<unsigned char>(p.bytes[0]) << 8) | static_cast<unsigned char>(p.bytes[1]));
          m_close_reason = std::string(p.bytes.substr(2));
        }
        if (!m_close_sent) {
          char code[2] = {static_cast<char>(m_close_code >> 8), static_cast<char>(m_close_code & 0xff)};
          queue_control(ws::close, std::string_view(code, p.bytes.size() >= 2 ? 2 : 0));
          m_close_sent = true;
        }
      }
      return {};
    }
    std::string_view bytes = p.bytes;
    if (p.first) {
      if (bytes.empty()) return {};  // an empty message (the server's "ready" marker)
      m_channel = static_cast<uint8_t>(bytes[0]);
      bytes.remove_prefix(1);
    }
    KBK_TRY(deliver(m_channel, bytes));
    if (p.last && m_channel == k_error && !m_status_json.empty() && !m_have_status) KBK_TRY(take_status());
    return {};
  }

  std::optional<Error> end_error() {
    if (m_command_error) return m_command_error;
    if (m_have_status) return std::nullopt;
    std::string why = m_close_received ? "the server closed the stream (code " + std::to_string(m_close_code) +
                                             (m_close_reason.empty() ? "" : ": " + m_close_reason) + ")"
                                       : "the connection was closed";
    return Error{Errc::network, why + " before the command's exit status"};
  }

  void run(const std::string& leftover) {
    ws::FrameDecoder decoder;
    const auto handler = [this](const ws::Piece& p) { return on_piece(p); };
    std::string sending;
    size_t sent = 0;
    bool recv_ready = true;
    bool peer_closed = false;
    const auto ping_every = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(m_request.ping_interval_seconds));
    Clock::time_point next_ping = Clock::now() + ping_every;
    std::vector<char> rbuf(256 * 1024);
    const bool stdout_read_mode = m_request.stdout_ && !m_request.on_stdout;
    const bool stderr_read_mode = m_request.stderr_ && !m_request.on_stderr && m_request.stderr_mode == StderrMode::read;

    auto fail = [&](Error e) {
      if (e.code == Errc::bad_request || e.code == Errc::request_entity_too_large) {
        // Tell the server why, best effort, before dropping the connection.
        char code[2] = {static_cast<char>(ws::FrameDecoder::close_code_for(e) >> 8),
                        static_cast<char>(ws::FrameDecoder::close_code_for(e) & 0xff)};
        std::string frame;
        ws::append_frame(frame, ws::close, std::string_view(code, 2), ws::make_mask());
        (void)m_stream->send(frame.data(), frame.size());
      }
      finish(std::move(e));
    };

    Clock::time_point last_rx = Clock::now();
    const auto stall = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(m_request.stall_timeout_seconds));
    bool was_paused = false;
    if (!leftover.empty()) {
      if (auto r = decoder.feed(leftover, handler); !r) return fail(std::move(r).error());
    }
    for (;;) {
      if (m_cancel.load()) return finish(Error{Errc::cancelled, "cancelled"});
      if (m_deadline && Clock::now() >= *m_deadline)
        return finish(Error{Errc::timeout, "timed out after " + seconds_text(m_request.timeout_seconds)});
      if (was_paused) last_rx = Clock::now();  // a reader behind us is not the server's silence
      if (m_request.stall_timeout_seconds > 0 && !m_close_received && Clock::now() - last_rx >= stall)
        return finish(Error{Errc::timeout, "nothing from the server for " + seconds_text(m_request.stall_timeout_seconds) +
                                               " (not even an answer to a ping): the connection is lost"});
      bool progress = false;

      // Out: whole frames queued by writers and by this thread (pong, close, ping).
      if (sent == sending.size()) {
        sending.clear();
        sent = 0;
        std::lock_guard lock(m_mutex);
        if (!m_out.empty()) {
          sending.swap(m_out);
          m_out_space.notify_all();
        }
      }
      bool want_write = false;
      if (sent < sending.size()) {
        auto r = m_stream->send(sending.data() + sent, sending.size() - sent);
        if (!r) return finish(std::move(r).error());
        if (r->status == http::Stream::Io::ok) {
          sent += r->bytes;
          progress = true;
        } else {
          want_write = true;
        }
      }
      // Our Close went out after theirs came: the session is over.
      if (m_close_received && m_close_sent && sent == sending.size()) {
        std::lock_guard lock(m_mutex);
        if (m_out.empty()) break;
      }
      if (peer_closed) break;

      // In, unless a reader is behind.
      const bool paused = (stdout_read_mode && m_stdout.full_and_arm()) || (stderr_read_mode && m_stderr.full_and_arm());
      was_paused = paused;
      if (!paused && recv_ready && !m_close_received) {
        auto r = m_stream->recv(rbuf.data(), rbuf.size());
        if (!r) {
          if (m_have_status) return finish(end_error());  // a reset after the status: the outcome is known
          return finish(std::move(r).error());
        }
        if (r->status == http::Stream::Io::ok) {
          last_rx = Clock::now();
          if (auto fed = decoder.feed(std::string_view(rbuf.data(), r->bytes), handler); !fed)
            return fail(std::move(fed).error());
          progress = true;
        } else if (r->status == http::Stream::Io::closed) {
          peer_closed = true;
          progress = true;
        } else {
          recv_ready = false;
        }
      }
      if (m_request.ping_interval_seconds > 0 && Clock::now() >= next_ping) {
        queue_control(ws::ping, "kbk");
        next_ping = Clock::now() + ping_every;
        progress = true;
      }
      if (progress) continue;

      short events = 0;
      if (!paused && !m_close_received) events |= POLLIN;
      if (want_write) events |= POLLOUT;
      pollfd p[2] = {{m_stream->socket(), events, 0}, {m_wake, POLLIN, 0}};
      double cap = 1.0;
      if (m_request.ping_interval_seconds > 0) cap = std::min(cap, std::max(0.0, seconds_until(next_ping)));
      if (m_request.stall_timeout_seconds > 0) cap = std::min(cap, std::max(0.0, seconds_until(last_rx + stall)));
      const int n = ::poll(p, 2, poll_ms(m_deadline, cap));
      if (n > 0) {
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) recv_ready = true;
        if (p[1].revents & POLLIN) {
          uint64_t v;
          [[maybe_unused]] auto k = ::read(m_wake, &v, sizeof v);
        }
      }
    }
    finish(end_error());
  }

  std::unique_ptr<http::Stream> m_stream;
  std::string m_protocol;
  ExecRequest m_request;
  std::optional<Clock::time_point> m_deadline;
  Pipe m_stdout;
  Pipe m_stderr;
  int m_wake = -1;
  std::atomic<bool> m_cancel{false};

  std::mutex m_mutex;
  std::condition_variable m_out_space, m_done_cv;
  std::string m_out;
  bool m_stdin_closed = false;
  bool m_ended = false;
  std::optional<Error> m_error;
  ExecStatus m_status;

  // I/O thread only
  uint8_t m_channel = 0;
  std::string m_status_json;
  bool m_have_status = false;
  std::optional<Error> m_command_error;
  bool m_close_received = false;
  bool m_close_sent = false;
  uint16_t m_close_code = 1005;
  std::string m_close_reason;

  std::thread m_thread;
};

}  // namespace

std::string exec_target(const ExecRequest& r) {
  std::string s = "pod " + r.namespace_ + "/" + r.pod;
  if (!r.container.empty()) s += " container " + r.container;
  return s;
}

std::string exec_path(const ExecRequest& r) {
  std::string p = "/api/v1/namespaces/" + util::url_encode(r.namespace_) + "/pods/" + util::url_encode(r.pod) + "/exec?";
  bool first = true;
  auto add = [&](const std::string& k, const std::string& v) {
    p += (first ? "" : "&") + k + "=" + util::url_encode(v);
    first = false;
  };
  for (const auto& c : r.command) add("command", c);
  if (!r.container.empty()) add("container", r.container);
  if (r.stdin_) add("stdin", "true");
  if (r.stdout_) add("stdout", "true");
  if (r.stderr_) add("stderr", "true");
  return p;
}

Result<ExecStatusReport> parse_exec_status(std::string_view text) {
  auto doc = json::parse(text, "the exec status");
  if (!doc) return std::move(doc).error();
  ExecStatusReport out;
  const std::string status = json::get_string(*doc, {"status"});
  if (status == "Success") {
    out.exit_code = 0;
    return out;
  }
  const std::string reason = json::get_string(*doc, {"reason"});
  if (reason == "NonZeroExitCode") {
    if (const json::Value* causes = json::at(*doc, {"details", "causes"}); causes && causes->IsArray()) {
      for (const auto& c : causes->GetArray()) {
        if (json::get_string(c, {"reason"}) != "ExitCode") continue;
        const std::string code_text = json::get_string(c, {"message"});
        char* end = nullptr;
        const long code = std::strtol(code_text.c_str(), &end, 10);
        if (!code_text.empty() && end && *end == '\0') {
          out.exit_code = static_cast<int>(code);
          return out;
        }
      }
    }
    return unexpected(Errc::bad_request, "a NonZeroExitCode status without an ExitCode cause: " +
                                             json::get_string(*doc, {"message"}));
  }
  int code = 0;
  if (const json::Value* c = json::find(*doc, "code"); c && c->IsInt()) code = c->GetInt();
  std::string message = json::get_string(*doc, {"message"});
  if (message.empty()) message = "the command failed (status " + status + (reason.empty() ? "" : ", " + reason) + ")";
  // The command could not run (a missing executable, ...): the session ends normally, wait() says why.
  out.command_error = Error{errc_for_status(reason, code ? code : 500), message};
  out.command_error->reason = reason;
  return out;
}

Result<std::unique_ptr<ExecSession>> open_exec_session(const ExecEndpoint& ep, const ExecRequest& req) {
  if (req.command.empty()) return unexpected(Errc::invalid, "exec in " + exec_target(req) + ": no command");
  if (req.protocols.empty()) return unexpected(Errc::invalid, "exec in " + exec_target(req) + ": no subprotocol offered");
  std::optional<Clock::time_point> deadline;
  if (req.timeout_seconds > 0) deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(req.timeout_seconds));
  // A transient refusal of the upgrade (429, 5xx) or a connection lost before the answer: no command ran (the
  // API server starts it only once it switched protocols), so the upgrade is sent again, a bounded number of times
  // with a growing wait (Retry-After when larger), each logged.
  constexpr int k_attempts = 5;
  int transient = 0;
  bool refreshed = false;
  for (;;) {
    int status = 0;
    auto up = upgrade_once(ep, req, refreshed, deadline, &status);
    if (!up) {
      if (status == 401 && !refreshed && ep.credentials->can_refresh()) {
        log::info(4, "401 Unauthorized: running the exec credential plugin again");
        refreshed = true;
        continue;
      }
      // "unable to upgrade connection: container not found" and its kind come as 500 too, and do not pass.
      const bool retryable =
          (http::is_retryable_status(status) && up.error().message.find("unable to upgrade connection") == std::string::npos) ||
          (status == 0 && up.error().code == Errc::network);
      if (retryable && ++transient < k_attempts) {
        double wait = std::min(8.0, 0.5 * static_cast<double>(1 << (transient - 1)));
        wait = std::max(wait, std::min(30.0, static_cast<double>(up.error().retry_after_seconds)));
        if (deadline && seconds_until(*deadline) <= wait) return with_target(std::move(up).error(), req);
        const std::string line = "exec in " + exec_target(req) + ": " + up.error().message + "; trying again in " +
                                 util::human_duration(wait) + " (attempt " + std::to_string(transient + 1) + " of " +
                                 std::to_string(k_attempts) + ")";
        if (req.on_retry) req.on_retry(line);
        else log::info(1, line);
        http::sleep_seconds(wait);
        continue;
      }
      Error e = std::move(up).error();
      if (e.code == Errc::network || e.code == Errc::tls || (e.code == Errc::timeout && status == 0))
        e.wrap("cannot reach the API server");
      return with_target(std::move(e), req);
    }
    log::info(4, "exec in " + exec_target(req) + " over " + up->protocol);
    return std::unique_ptr<ExecSession>(std::make_unique<WsExecSession>(std::move(*up), req, deadline));
  }
}

Result<ExecStatus> run_exec(Client& client, const ExecRequest& request, const ExecInput& input) {
  ExecRequest req = request;
  req.stdin_ = request.stdin_ || input != nullptr;
  if (!req.on_stdout) req.on_stdout = [](std::string_view) -> Result<void> { return {}; };
  KBK_ASSIGN_OR_RETURN(std::unique_ptr<ExecSession> session, client.exec(req));
  if (input) {
    std::vector<char> buf(256 * 1024);
    for (;;) {
      auto n = input(buf.data(), buf.size());
      if (!n) {
        session->cancel();
        return std::move(n).error();
      }
      if (*n == 0) break;
      if (auto w = session->write_stdin(std::string_view(buf.data(), *n)); !w) {
        if (w.error().code == Errc::io) break;  // the command ended early: wait() says how
        return std::move(w).error();
      }
    }
    if (session->can_close_stdin()) (void)session->close_stdin();
  } else if (req.stdin_ && session->can_close_stdin()) {
    (void)session->close_stdin();
  }
  return session->wait();
}

}  // namespace kbk::kube
