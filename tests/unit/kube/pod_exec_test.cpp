// The pods/exec client (Client::exec) against a local WebSocket server that plays the API server byte-exact.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include <kbk/kube/pod_exec.hpp>
#include <kbk/kube/rest_client.hpp>

#include "ws_test_server.hpp"

using namespace kbk;
using namespace kbk::kube;
using kbk::kube::test::WsConn;
using kbk::kube::test::WsTestServer;

namespace {

std::unique_ptr<Client> client_for(const WsTestServer& s) {
  RestConfig c;
  c.server = s.url();
  c.source = "test";
  ClientOptions o;
  o.qps = 0;
  return make_client(c, o);
}

ExecRequest request(std::vector<std::string> command) {
  ExecRequest r;
  r.namespace_ = "shop";
  r.pod = "web-0";
  r.container = "app";
  r.command = std::move(command);
  return r;
}

std::string read_all_stdout(ExecSession& s) {
  std::string out;
  char buf[7000];
  for (;;) {
    auto n = s.read_stdout(buf, sizeof buf);
    REQUIRE(n.ok());
    if (*n == 0) return out;
    out.append(buf, *n);
  }
}

// Reads client frames until a Close arrives; returns its code (0 when none came).
int wait_for_close(WsConn& c) {
  WsConn::Frame f;
  while (c.read_frame(f)) {
    if (f.opcode == ws::close) return f.payload.size() >= 2 ? (static_cast<unsigned char>(f.payload[0]) << 8) | static_cast<unsigned char>(f.payload[1]) : 1005;
  }
  return 0;
}

}  // namespace

TEST_CASE("Client::exec negotiates v5, passes argv, and returns stdout and the exit code") {
  std::atomic<int> close_code{0};
  std::string req;
  {
    WsTestServer server([&](WsConn& c) {
      c.accept_upgrade("v5.channel.k8s.io");
      c.channel(1, "");  // the server's ready marker: an empty message
      c.channel(1, "hello ");
      c.channel(2, "warning: x\n");
      c.channel(1, "world");
      c.exit_status(3);
      c.close_frame(1000);
      close_code = wait_for_close(c);
    });
    auto client = client_for(server);
    auto session = client->exec(request({"sh", "-c", "echo a&b; exit 3", "x y"}));
    REQUIRE(session.ok());
    CHECK((*session)->protocol() == "v5.channel.k8s.io");
    CHECK((*session)->can_close_stdin());
    CHECK(read_all_stdout(**session) == "hello world");
    auto st = (*session)->wait();
    REQUIRE(st.ok());
    CHECK(st->exit_code == 3);
    CHECK(st->stderr_tail == "warning: x\n");
    CHECK(st->stdout_bytes == 11);
    session->reset();
    req = server.last_request;
  }  // the server's script has finished here (its destructor joins it)
  CHECK_THAT(req, Catch::StartsWith("GET /api/v1/namespaces/shop/pods/web-0/exec?command=sh&command=-c&command=echo%20a%26b%3B%20exit%203&command=x%20y&container=app&stdout=true&stderr=true HTTP/1.1\r\n"));
  CHECK_THAT(req, Catch::Contains("Sec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io\r\n"));
  CHECK_THAT(req, Catch::Contains("Upgrade: websocket\r\n"));
  CHECK_THAT(req, Catch::Contains("Sec-WebSocket-Version: 13\r\n"));
  CHECK_THAT(req, Catch::Contains("Host: 127.0.0.1:"));
  CHECK(close_code == 1000);  // the client answered the close handshake
}

TEST_CASE("Client::exec reads frames split at every byte, fragmented messages and pings between fragments") {
  std::atomic<bool> pong_ok{false};
  const std::string big(100000, 'z');
  WsTestServer server([&](WsConn& c) {
    c.accept_upgrade("v4.channel.k8s.io");
    std::string bytes = ws::server_frame(ws::binary, std::string("\x01" "ab", 3), false);
    bytes += ws::server_frame(ws::ping, "are you there");
    bytes += ws::server_frame(ws::continuation, "cd", false);
    bytes += ws::server_frame(ws::continuation, "", false);
    bytes += ws::server_frame(ws::continuation, "ef");
    bytes += ws::server_frame(ws::binary, std::string("\x02" "err", 4));
    c.send_bytewise(bytes);
    c.send(ws::server_frame(ws::binary, "\x01" + big));
    WsConn::Frame f;
    while (c.read_frame(f)) {
      if (f.opcode == ws::pong) {
        pong_ok = f.payload == "are you there" && f.masked;
        break;
      }
    }
    std::string st = R"({"metadata":{},"status":"Success"})";
    c.send_bytewise(ws::server_frame(ws::binary, "\x03" + st));
    c.close_frame(1000);
    wait_for_close(c);
  });
  auto client = client_for(server);
  auto r = request({"cat"});
  r.protocols = {k_exec_protocol_v4};
  auto session = client->exec(r);
  REQUIRE(session.ok());
  CHECK_FALSE((*session)->can_close_stdin());
  CHECK(read_all_stdout(**session) == "abcdef" + big);
  auto st = (*session)->wait();
  REQUIRE(st.ok());
  CHECK(st->exit_code == 0);
  CHECK(st->stderr_tail == "err");
  CHECK(pong_ok);
}

TEST_CASE("Client::exec sends stdin in masked channel-0 frames and closes it with v5's channel 255") {
  std::string got;
  std::atomic<bool> closed_signal{false};
  std::atomic<bool> all_masked{true};
  WsTestServer server([&](WsConn& c) {
    c.accept_upgrade("v5.channel.k8s.io");
    WsConn::Frame f;
    while (c.read_frame(f)) {
      all_masked = all_masked && f.masked;
      if (f.opcode != ws::binary || f.payload.empty()) continue;
      if (f.payload[0] == 0) got += f.payload.substr(1);
      if (static_cast<unsigned char>(f.payload[0]) == 255 && f.payload.size() == 2 && f.payload[1] == 0) {
        closed_signal = true;
        break;
      }
    }
    c.channel(1, std::to_string(got.size()));
    c.exit_status(0);
    c.close_frame(1000);
    wait_for_close(c);
  });
  auto client = client_for(server);
  auto r = request({"wc", "-c"});
  r.stdin_ = true;
  auto session = client->exec(r);
  REQUIRE(session.ok());
  std::string input;
  for (int i = 0; i < 5000; ++i) input += "line " + std::to_string(i) + "\n";
  for (int i = 0; i < 20; ++i) REQUIRE((*session)->write_stdin(input).ok());
  REQUIRE((*session)->close_stdin().ok());
  CHECK(read_all_stdout(**session) == std::to_string(input.size() * 20));
  auto st = (*session)->wait();
  REQUIRE(st.ok());
  CHECK(st->stdin_bytes == input.size() * 20);
  CHECK(closed_signal);
  CHECK(all_masked);
  CHECK(got.size() == input.size() * 20);
  CHECK(got.substr(0, input.size()) == input);
}

TEST_CASE("Client::exec on v4 cannot close stdin") {
  WsTestServer server([&](WsConn& c) {
    c.accept_upgrade("v4.channel.k8s.io");
    c.exit_status(0);
    c.close_frame(1000);
    wait_for_close(c);
  });
  auto client = client_for(server);
  auto r = request({"tar", "x"});
  r.stdin_ = true;
  auto session = client->exec(r);
  REQUIRE(session.ok());
  auto closed = (*session)->close_stdin();
  REQUIRE_FALSE(closed.ok());
  CHECK(closed.error().code == Errc::unsupported);
  CHECK_THAT(closed.error().message, Catch::Contains("v4.channel.k8s.io cannot close stdin"));
  CHECK((*session)->wait().ok());
}

TEST_CASE("Client::exec reports close codes, oversized and masked frames, and a stream cut before the status") {
  struct Case {
    std::function<void(WsConn&)> play;
    Errc code;
    std::string text;
    int expect_close;  // the close code the client must send back (0: none checked)
  };
  const std::vector<Case> cases = {
      {[](WsConn& c) { c.close_frame(1011, "boom"); }, Errc::network, "the server closed the stream (code 1011: boom) before the command's exit status", 1011},
      {[](WsConn& c) { c.send(std::string("\x82\x7f\x00\x00\x01\x00\x00\x00\x00\x00", 10)); }, Errc::request_entity_too_large, "refused", 1009},
      {[](WsConn& c) { c.send(ws::server_frame(ws::binary, "\x01x", true, true)); }, Errc::bad_request, "a masked frame from the server", 1002},
      {[](WsConn& c) { c.channel(1, "partial"); }, Errc::network, "the connection was closed before the command's exit status", 0},
      {[](WsConn& c) {
         c.channel(3, R"({"metadata":{},"status":"Failure","message":"Internal error occurred: exec: \"nope\": executable file not found in $PATH: unknown","reason":"InternalError","code":500})");
         c.close_frame(1000);
       },
       Errc::internal_error, "exec in pod shop/web-0 container app: Internal error occurred: exec: \"nope\": executable file not found", 1000},
  };
  for (const auto& k : cases) {
    std::atomic<int> answered{-1};
    {
      WsTestServer server([&](WsConn& c) {
        c.accept_upgrade("v5.channel.k8s.io");
        k.play(c);
        answered = k.expect_close ? wait_for_close(c) : 0;
      });
      auto client = client_for(server);
      auto session = client->exec(request({"nope"}));
      REQUIRE(session.ok());
      auto st = (*session)->wait();
      REQUIRE_FALSE(st.ok());
      CHECK(st.error().code == k.code);
      CHECK_THAT(st.error().message, Catch::Contains(k.text));
      CHECK_THAT(st.error().message, Catch::StartsWith("exec in pod shop/web-0 container app: "));
      session->reset();
    }
    if (k.expect_close) CHECK(answered == k.expect_close);
  }
}

TEST_CASE("Client::exec turns a refused upgrade into one line naming the pod") {
  struct Case {
    int http;
    std::string body;
    Errc code;
    std::string text;
  };
  const std::vector<Case> cases = {
      {403, R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"web-0\" is forbidden: User \"v\" cannot create resource \"pods/exec\" in API group \"\" in the namespace \"shop\"","reason":"Forbidden","code":403})",
       Errc::forbidden, "exec in pod shop/web-0 container app: pods \"web-0\" is forbidden: User \"v\" cannot create resource \"pods/exec\""},
      {404, R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"web-0\" not found","reason":"NotFound","code":404})",
       Errc::not_found, "exec in pod shop/web-0 container app: pods \"web-0\" not found"},
      {400, R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"container app is not valid for pod web-0","reason":"BadRequest","code":400})",
       Errc::bad_request, "container app is not valid for pod web-0"},
      {500, R"J({"kind":"Status","apiVersion":"v1","status":"Failure","message":"unable to upgrade connection: container not found (\"app\")","reason":"InternalError","code":500})J",
       Errc::internal_error, "unable to upgrade connection: container not found (\"app\")"},
      {400, "", Errc::bad_request, "refused the WebSocket upgrade (400 Bad Request; it may speak only SPDY)"},
  };
  for (const auto& k : cases) {
    WsTestServer server([&](WsConn& c) { c.refuse(k.http, k.body); });
    auto client = client_for(server);
    auto session = client->exec(request({"ls"}));
    REQUIRE_FALSE(session.ok());
    CHECK(session.error().code == k.code);
    CHECK(session.error().http_status == k.http);
    CHECK_THAT(session.error().message, Catch::Contains(k.text));
    CHECK(session.error().message.find('\n') == std::string::npos);
  }
}

TEST_CASE("Client::exec sends the upgrade again after a transient 429 or 503 (no command ran), then streams") {
  std::atomic<int> n{0};
  WsTestServer server([&](WsConn& c) {
    const int i = n++;
    if (i == 0) {
      c.send("HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nRetry-After: 1\r\nContent-Length: 16\r\n\r\n"
             "Too many request");
      return;
    }
    if (i == 1) {
      c.refuse(503, R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"the server is currently unable to handle the request","reason":"ServiceUnavailable","code":503})");
      return;
    }
    c.accept_upgrade("v5.channel.k8s.io");
    c.channel(1, "hello");
    c.exit_status(0);
    c.close_frame(1000);
    wait_for_close(c);
  });
  auto client = client_for(server);
  auto session = client->exec(request({"echo", "hello"}));
  REQUIRE(session.ok());
  CHECK(read_all_stdout(**session) == "hello");
  auto st = (*session)->wait();
  REQUIRE(st.ok());
  CHECK(st->exit_code == 0);
  CHECK(server.connections() == 3);
}

TEST_CASE("Client::exec refuses an SPDY switch, a wrong accept key and an unoffered subprotocol") {
  struct Case {
    std::string answer;
    std::string text;
  };
  const std::vector<Case> cases = {
      {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\nConnection: Upgrade\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n",
       "switched to \"spdy/3.1\" instead of WebSocket"},
      {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n",
       "Sec-WebSocket-Accept does not match"},
  };
  for (const auto& k : cases) {
    WsTestServer server([&](WsConn& c) { c.send(k.answer); });
    auto client = client_for(server);
    auto session = client->exec(request({"ls"}));
    REQUIRE_FALSE(session.ok());
    CHECK_THAT(session.error().message, Catch::Contains(k.text));
  }
  WsTestServer server([&](WsConn& c) { c.accept_upgrade("base64.channel.k8s.io"); });
  auto client = client_for(server);
  auto session = client->exec(request({"ls"}));
  REQUIRE_FALSE(session.ok());
  CHECK_THAT(session.error().message, Catch::Contains("chose subprotocol base64.channel.k8s.io, not one offered"));
}

TEST_CASE("Client::exec stops reading the socket while the consumer is behind (bounded memory)") {
  constexpr size_t total = 96u << 20;
  std::atomic<size_t> sent{0};
  std::atomic<bool> stop{false};
  WsTestServer server([&](WsConn& c) {
    int small = 64 * 1024;
    ::setsockopt(c.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    c.accept_upgrade("v5.channel.k8s.io");
    const std::string frame = ws::server_frame(ws::binary, "\x01" + std::string(64 * 1024, 'd'));
    while (sent < total && !stop) {
      if (!c.send(frame)) return;
      sent += 64 * 1024;
    }
    c.exit_status(0);
    c.close_frame(1000);
    wait_for_close(c);
  });
  auto client = client_for(server);
  auto r = request({"tar", "c", "."});
  r.buffer_bytes = 256 * 1024;
  r.stall_timeout_seconds = 0.3;  // the reader pauses far longer: a slow reader is not a silent server
  auto session = client->exec(r);
  REQUIRE(session.ok());
  char buf[4096];
  size_t got = 0;
  // Read a little, then stop for a while: the server must get stuck far below the total.
  while (got < (1u << 20)) {
    auto n = (*session)->read_stdout(buf, sizeof buf);
    REQUIRE(n.ok());
    got += *n;
  }
  size_t before = 0;
  for (int i = 0; i < 50; ++i) {  // until the sender stalls (its count stops moving)
    before = sent.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    if (sent.load() == before) break;
  }
  const size_t ahead = sent.load() - got;
  INFO("bytes the server got ahead of the consumer: " << ahead);
  CHECK(ahead < (24u << 20));  // client buffer + both kernels' socket buffers, far below 96 MiB
  std::string all;
  for (;;) {
    auto n = (*session)->read_stdout(buf, sizeof buf);
    REQUIRE(n.ok());
    if (*n == 0) break;
    got += *n;
  }
  CHECK(got == total);
  CHECK((*session)->wait().ok());
}

TEST_CASE("Client::exec blocks the stdin writer while the server does not read") {
  std::atomic<bool> go{false};
  std::atomic<size_t> server_read{0};
  WsTestServer server([&](WsConn& c) {
    c.accept_upgrade("v5.channel.k8s.io");
    while (!go) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    WsConn::Frame f;
    while (c.read_frame(f)) {
      if (f.opcode == ws::binary && !f.payload.empty() && f.payload[0] == 0) server_read += f.payload.size() - 1;
      if (f.opcode == ws::binary && f.payload.size() == 2 && static_cast<unsigned char>(f.payload[0]) == 255) break;
    }
    c.exit_status(0);
    c.close_frame(1000);
    wait_for_close(c);
  });
  auto client = client_for(server);
  auto r = request({"tar", "x"});
  r.stdin_ = true;
  r.buffer_bytes = 256 * 1024;
  auto session = client->exec(r);
  REQUIRE(session.ok());
  std::atomic<size_t> written{0};
  constexpr size_t total = 64u << 20;
  std::thread writer([&] {
    const std::string chunk(64 * 1024, 's');
    while (written < total) {
      if (!(*session)->write_stdin(chunk)) return;
      written += chunk.size();
    }
    (void)(*session)->close_stdin();
  });
  size_t before = 0;
  for (int i = 0; i < 50; ++i) {
    before = written.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    if (written.load() == before) break;
  }
  INFO("bytes accepted while the server read nothing: " << written.load());
  CHECK(written.load() < (24u << 20));
  go = true;
  writer.join();
  auto st = (*session)->wait();
  REQUIRE(st.ok());
  CHECK(server_read == total);
}

TEST_CASE("ExecSession::cancel and the timeout end a silent session at once") {
  std::atomic<bool> release{false};
  auto silent = [&](WsConn& c) {
    c.accept_upgrade("v5.channel.k8s.io");
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  {
    WsTestServer server(silent);
    auto client = client_for(server);
    auto session = client->exec(request({"sleep", "1000"}));
    REQUIRE(session.ok());
    std::thread canceller([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      (*session)->cancel();
    });
    char buf[16];
    auto n = (*session)->read_stdout(buf, sizeof buf);
    canceller.join();
    REQUIRE_FALSE(n.ok());
    CHECK(n.error().code == Errc::cancelled);
    auto st = (*session)->wait();
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message == "exec in pod shop/web-0 container app: cancelled");
    release = true;
  }
  release = false;
  WsTestServer server(silent);
  auto client = client_for(server);
  auto r = request({"sleep", "1000"});
  r.timeout_seconds = 0.3;
  auto session = client->exec(r);
  REQUIRE(session.ok());
  auto st = (*session)->wait();
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == Errc::timeout);
  CHECK_THAT(st.error().message, Catch::Contains("timed out after 0.3 s"));
  release = true;
}

TEST_CASE("Client::exec names the unreachable server") {
  RestConfig c;
  c.server = "http://127.0.0.1:1";
  auto client = make_client(c, ClientOptions{});
  auto session = client->exec(request({"ls"}));
  REQUIRE_FALSE(session.ok());
  CHECK(session.error().code == Errc::network);
  CHECK_THAT(session.error().message, Catch::StartsWith("exec in pod shop/web-0 container app: cannot reach the API server: connect http://127.0.0.1:1/api/v1/namespaces/shop/pods/web-0/exec"));
}

TEST_CASE("run_exec feeds input, closes stdin and collects output through sinks") {
  std::string echoed;
  WsTestServer server([&](WsConn& c) {
    c.accept_upgrade("v5.channel.k8s.io");
    WsConn::Frame f;
    while (c.read_frame(f)) {
      if (f.opcode != ws::binary || f.payload.empty()) continue;
      if (f.payload[0] == 0) c.channel(1, f.payload.substr(1));
      if (static_cast<unsigned char>(f.payload[0]) == 255) break;
    }
    c.exit_status(0);
    c.close_frame(1000);
    wait_for_close(c);
  });
  auto client = client_for(server);
  auto r = request({"cat"});
  r.on_stdout = [&](std::string_view d) -> Result<void> {
    echoed += d;
    return {};
  };
  const std::string data(3u << 20, 'e');
  size_t off = 0;
  auto st = run_exec(*client, r, [&](char* buf, size_t n) -> Result<size_t> {
    const size_t k = std::min(n, data.size() - off);
    std::memcpy(buf, data.data() + off, k);
    off += k;
    return k;
  });
  REQUIRE(st.ok());
  CHECK(echoed == data);
}

TEST_CASE("make_fake_exec_session streams both ways with the real session's blocking and early exit") {
  ExecRequest r = request({"tar", "x"});
  r.stdin_ = true;
  r.buffer_bytes = 1024;
  std::atomic<size_t> consumed{0};
  auto s = make_fake_exec_session(r, [&](const ExecRequest& req, FakeExecIo& io) -> Result<int> {
    if (req.command[0] != "tar") return unexpected(Errc::internal_error, "not tar");
    char buf[100];
    for (;;) {
      KBK_ASSIGN_OR_RETURN(size_t n, io.read_stdin(buf, sizeof buf));
      if (n == 0) break;
      consumed += n;
      KBK_TRY(io.write_stdout(std::string_view(buf, n)));
      if (consumed >= 5000) return 2;  // exits before reading everything
    }
    KBK_TRY(io.write_stderr("done\n"));
    return 0;
  });
  std::thread reader([&] {
    std::string out;
    char buf[64];
    for (;;) {
      auto n = s->read_stdout(buf, sizeof buf);
      if (!n.ok() || *n == 0) break;
      out.append(buf, *n);
    }
  });
  Result<void> w;
  for (int i = 0; i < 1000 && w.ok(); ++i) w = s->write_stdin(std::string(100, 'i'));
  REQUIRE_FALSE(w.ok());
  CHECK(w.error().code == Errc::io);  // the command ended: stop feeding, ask wait()
  reader.join();
  auto st = s->wait();
  REQUIRE(st.ok());
  CHECK(st->exit_code == 2);
  CHECK(consumed >= 5000);
  CHECK(consumed < 100000);
}

TEST_CASE("ExecSession pings a quiet stream and takes the pong") {
  std::atomic<bool> pinged{false};
  WsTestServer server([&](WsConn& c) {
    c.accept_upgrade("v5.channel.k8s.io");
    WsConn::Frame f;
    while (c.read_frame(f)) {
      if (f.opcode == ws::ping) {
        pinged = f.masked;
        c.send(ws::server_frame(ws::pong, f.payload));
        break;
      }
    }
    c.exit_status(0);
    c.close_frame(1000);
    wait_for_close(c);
  });
  auto client = client_for(server);
  auto r = request({"sleep", "1"});
  r.ping_interval_seconds = 0.05;
  auto session = client->exec(r);
  REQUIRE(session.ok());
  auto st = (*session)->wait();
  REQUIRE(st.ok());
  CHECK(pinged);
}

TEST_CASE("ExecSession::stall_timeout_seconds ends a stream whose server stopped answering, not a slow reader") {
  std::atomic<bool> release{false};
  WsTestServer server([&](WsConn& c) {
    c.accept_upgrade("v5.channel.k8s.io");
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // pings go unanswered
  });
  auto client = client_for(server);
  auto r = request({"tar", "c", "."});
  r.ping_interval_seconds = 0.05;
  r.stall_timeout_seconds = 0.3;
  auto session = client->exec(r);
  REQUIRE(session.ok());
  auto st = (*session)->wait();
  release = true;
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == Errc::timeout);
  CHECK_THAT(st.error().message, Catch::Contains("nothing from the server for 0.3 s (not even an answer to a ping)"));
}
