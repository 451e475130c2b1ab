// A WebSocket server on loopback for the pods/exec client's tests: accepts one connection at a time, reads the
// upgrade request and hands the connection to the test's script, which answers the handshake (or refuses it)
// and writes frames byte-exact, so every framing case (splits, fragments, pings, bad frames) can be produced.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

#include "websocket.hpp"

namespace kbk::kube::test {

struct WsConn {
  int fd = -1;
  std::string request;   // the request head as received
  std::string buffered;  // bytes read past the head

  std::string header(const std::string& name) const {
    std::string lower = request;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string n = "\r\n" + name + ":";
    for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t at = lower.find(n);
    if (at == std::string::npos) return "";
    size_t b = at + n.size();
    const size_t e = request.find("\r\n", b);
    while (b < e && request[b] == ' ') ++b;
    return request.substr(b, e - b);
  }
  std::string target() const {
    const size_t a = request.find(' ');
    return request.substr(a + 1, request.find(' ', a + 1) - a - 1);
  }
  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Each byte in its own TCP segment (Nagle off, a pause between), so the client sees every split.
  void send_bytewise(std::string_view data) {
    for (char c : data) {
      send(std::string_view(&c, 1));
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  void accept_upgrade(const std::string& protocol) {
    send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
         ws::accept_for(header("Sec-WebSocket-Key")) + "\r\nSec-WebSocket-Protocol: " + protocol + "\r\n\r\n");
  }
  void refuse(int code, const std::string& body) {
    send("HTTP/1.1 " + std::to_string(code) + " Refused\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body);
  }
  // Channel message as one frame.
  void channel(uint8_t ch, std::string_view data) {
    std::string payload(1, static_cast<char>(ch));
    payload.append(data);
    send(ws::server_frame(ws::binary, payload));
  }
  void exit_status(int code) {
    if (code == 0) {
      channel(3, R"({"metadata":{},"status":"Success"})");
    } else {
      channel(3, R"({"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: command terminated with exit code )" +
                     std::to_string(code) + R"(","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":")" +
                     std::to_string(code) + "\"}]}}");
    }
  }
  void close_frame(uint16_t code, std::string_view reason = "") {
    std::string p;
    p.push_back(static_cast<char>(code >> 8));
    p.push_back(static_cast<char>(code & 0xff));
    p.append(reason);
    send(ws::server_frame(ws::close, p));
  }
  bool read_more(int timeout_ms = 5000) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[65536];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    buffered.append(buf, static_cast<size_t>(n));
    return true;
  }
  struct Frame {
    uint8_t opcode = 0;
    bool fin = false;
    bool masked = false;
    std::string payload;  // unmasked
  };
  // Reads one client frame (false at EOF or timeout).
  bool read_frame(Frame& f, int timeout_ms = 5000) {
    for (;;) {
      if (buffered.size() >= 2) {
        const auto* b = reinterpret_cast<const unsigned char*>(buffered.data());
        size_t h = 2;
        uint64_t len = b[1] & 0x7f;
        if (len == 126) h += 2;
        if (len == 127) h += 8;
        const bool masked = b[1] & 0x80;
        if (masked) h += 4;
        if (buffered.size() >= h) {
          if (len == 126) len = (uint64_t{b[2]} << 8) | b[3];
          if (len == 127) {
            len = 0;
            for (int i = 2; i < 10; ++i) len = (len << 8) | b[i];
          }
          if (buffered.size() >= h + len) {
            f.fin = b[0] & 0x80;
            f.opcode = b[0] & 0x0f;
            f.masked = masked;
            f.payload = buffered.substr(h, len);
            if (masked) {
              uint32_t key;
              std::memcpy(&key, buffered.data() + h - 4, 4);
              ws::apply_mask(f.payload.data(), f.payload.size(), key);
            }
            buffered.erase(0, h + len);
            return true;
          }
        }
      }
      if (!read_more(timeout_ms)) return false;
    }
  }
};

class WsTestServer {
public:
  using Script = std::function<void(WsConn&)>;
  explicit WsTestServer(Script script) : m_script(std::move(script)) {
    m_listen = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(m_listen, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(m_listen, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(m_listen, 8) != 0)
      throw std::runtime_error("test server: cannot listen");
    socklen_t len = sizeof a;
    ::getsockname(m_listen, reinterpret_cast<sockaddr*>(&a), &len);
    m_port = ntohs(a.sin_port);
    m_thread = std::thread([this] { serve(); });
  }
  ~WsTestServer() {
    m_stop = true;
    ::shutdown(m_listen, SHUT_RDWR);
    ::close(m_listen);
    m_thread.join();
  }
  WsTestServer(const WsTestServer&) = delete;
  WsTestServer& operator=(const WsTestServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }
  int connections() const { return m_connections.load(); }
  // The scripts' own findings (they run on the server thread, where Catch2 assertions must not be used).
  std::atomic<bool> script_ok{true};
  std::string last_request;

private:
  void serve() {
    while (!m_stop) {
      pollfd p{m_listen, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int fd = ::accept(m_listen, nullptr, nullptr);
      if (fd < 0) continue;
      ++m_connections;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      WsConn c;
      c.fd = fd;
      while (c.buffered.find("\r\n\r\n") == std::string::npos)
        if (!c.read_more()) break;
      const size_t e = c.buffered.find("\r\n\r\n");
      if (e != std::string::npos) {
        c.request = c.buffered.substr(0, e + 4);
        c.buffered.erase(0, e + 4);
        last_request = c.request;
        m_script(c);
      }
      ::close(fd);
    }
  }

  Script m_script;
  int m_listen = -1;
  int m_port = 0;
  std::atomic<bool> m_stop{false};
  std::atomic<int> m_connections{0};
  std::thread m_thread;
};

}  // namespace kbk::kube::test
