#include "test_servers.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include "source_dir.hpp"

namespace kbk::test {
namespace {

int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(s);
  return port;
}

bool can_connect(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  return ok;
}

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::string p = path;
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string candidate = p.substr(start, end - start) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

std::string temp_dir(const std::string& tag) {
  std::string t = std::filesystem::temp_directory_path() / ("kbk-" + tag + "-XXXXXX");
  std::vector<char> buf(t.begin(), t.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) return "";
  return buf.data();
}

}  // namespace

ServerProcess::~ServerProcess() {
  if (m_pid > 0) {
    ::kill(m_pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 50; ++i) {
      if (::waitpid(m_pid, &status, WNOHANG) == m_pid) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(m_pid, SIGKILL);
    ::waitpid(m_pid, &status, 0);
  }
}

std::unique_ptr<ServerProcess> ServerProcess::start(std::vector<std::string> argv, int port, bool port_from_stdout,
                                                    std::string* why_not) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) {
    *why_not = "pipe failed";
    return nullptr;
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::_Exit(127);
  }
  ::close(pipefd[1]);
  auto p = std::make_unique<ServerProcess>();
  p->m_pid = pid;
  p->m_port = port;
  if (port_from_stdout) {
    std::string line;
    char c;
    while (::read(pipefd[0], &c, 1) == 1 && c != '\n') line += c;
    if (line.rfind("PORT ", 0) == 0) p->m_port = std::atoi(line.c_str() + 5);
  }
  // Keep draining stdout so the server never blocks on a full pipe.
  std::thread([fd = pipefd[0]] {
    char buf[4096];
    while (::read(fd, buf, sizeof buf) > 0) {
    }
    ::close(fd);
  }).detach();
  for (int i = 0; i < 300; ++i) {
    if (p->m_port && can_connect(p->m_port)) return p;
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      p->m_pid = -1;
      *why_not = argv[0] + " exited before listening (status " + std::to_string(status) + ")";
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  *why_not = argv[0] + " did not listen within 15 s";
  return nullptr;
}

ServerProcess* s3rver(std::string* why_not) {
  static std::string why;
  static std::unique_ptr<ServerProcess> server = [] {
    const std::string bin = kbk::test::source_path("tests/s3/node_modules/s3rver/bin/s3rver.js");
    if (!on_path("node")) {
      why = "node is not installed";
      return std::unique_ptr<ServerProcess>();
    }
    if (::access(bin.c_str(), R_OK) != 0) {
      // node is there, so the package must be too: a missing install is a failure, not a skip.
      why = "FAIL: " + bin + " is missing: run scripts/setup (npm ci in tests/s3)";
      return std::unique_ptr<ServerProcess>();
    }
    int port = free_port();
    std::string dir = temp_dir("s3rver");
    // s3rver 3.7 makes ListObjectsV2 continuation tokens with DES, which Node 17+ (OpenSSL 3) only has in the
    // legacy provider: without it every truncated listing is a 500.
    auto p = ServerProcess::start({"env", "NODE_OPTIONS=--openssl-legacy-provider", "node", bin, "-d", dir, "-a", "127.0.0.1", "-p", std::to_string(port), "-s",
                                   "--configure-bucket", k_bucket},
                                  port, false, &why);
    if (p && why.empty()) why.clear();
    return p;
  }();
  if (why_not) *why_not = why;
  return server.get();
}

ServerProcess* strict_s3(std::string* why_not) {
  static std::string why;
  static std::unique_ptr<ServerProcess> server = [] {
    const std::string script = kbk::test::source_path("tests/s3/strict_s3.py");
    return ServerProcess::start({"python3", script, "--port", "0", "--bucket", k_bucket, "--page-size", "1000"}, 0,
                                true, &why);
  }();
  if (why_not) *why_not = why;
  return server.get();
}

void use_test_aws_files() {
  static const bool done = [] {
    std::string d = std::filesystem::temp_directory_path() / ("kbk-aws-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    std::ofstream(d + "/credentials") << "[s3rver]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n\n"
                                      << "[strict]\naws_access_key_id = " << k_strict_access_key
                                      << "\naws_secret_access_key = " << k_strict_secret_key << "\n";
    std::ofstream(d + "/config") << "[profile s3rver]\nregion = us-east-1\n[profile strict]\nregion = us-east-1\n";
    for (const char* v : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                          "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS",
                          "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                          "AWS_CA_BUNDLE"})
      ::unsetenv(v);
    ::setenv("AWS_SHARED_CREDENTIALS_FILE", (d + "/credentials").c_str(), 1);
    ::setenv("AWS_CONFIG_FILE", (d + "/config").c_str(), 1);
    ::setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    return true;
  }();
  (void)done;
}

std::string unique_prefix() {
  static std::atomic<int> counter{0};
  static std::mt19937 rng(std::random_device{}());
  return "t-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + std::to_string(rng() % 100000);
}

http::Response control(const ServerProcess& server, const std::string& method, const std::string& path,
                       const std::string& body) {
  static auto transport = [] {
    http::TransportOptions o;
    o.http_version = http::HttpVersion::http1_1;
    return std::shared_ptr<http::Transport>(std::move(*http::make_curl_transport(o)));
  }();
  http::Request r;
  r.method = method;
  r.url = server.endpoint() + path;
  r.body = body;
  if (!body.empty()) r.headers.emplace_back("Content-Type", "application/json");
  auto resp = transport->send(r);
  REQUIRE(resp.ok());
  return *resp;
}

}  // namespace kbk::test
