// S3 server processes for the storage tests: a real s3rver (npm) and the strict fake (tests/s3/strict_s3.py).
// Each is started once per test process, on 127.0.0.1 with a free port and a temporary directory, and stopped
// (by its own pid) when the process exits.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <kbk/http/http.hpp>
#include <kbk/storage/backend.hpp>

namespace kbk::test {

class ServerProcess {
public:
  ~ServerProcess();
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(m_port); }
  int port() const { return m_port; }

  // argv[0] is run through execvp. When port_from_stdout, the process prints "PORT n" first.
  static std::unique_ptr<ServerProcess> start(std::vector<std::string> argv, int port, bool port_from_stdout,
                                              std::string* why_not);

private:
  int m_pid = -1;
  int m_port = 0;
};

// nullptr with *why_not set when node or the npm package is missing.
ServerProcess* s3rver(std::string* why_not);
ServerProcess* strict_s3(std::string* why_not = nullptr);

inline constexpr const char* k_bucket = "kbk-test";
inline constexpr const char* k_strict_access_key = "AKIDSTRICTFAKE";
inline constexpr const char* k_strict_secret_key = "strict/fake/secret/key";

// A unique prefix for one test ("t-<pid>-<counter>-<random>").
std::string unique_prefix();

// Plain HTTP to a server's control endpoints (/__fault, /__log, ...).
http::Response control(const ServerProcess& server, const std::string& method, const std::string& path,
                       const std::string& body = "");

// AWS settings for S3 runs through the real chain (storage::open): a credentials file with profiles "s3rver" and
// "strict", AWS_* variables of the user's shell removed, instance metadata disabled. Idempotent; call it before
// any thread starts (it changes the process environment).
void use_test_aws_files();

// Environment for the AWS chain: exactly these variables, nothing from the process (HOME points nowhere).
struct FakeEnv {
  std::vector<std::pair<std::string, std::string>> vars;
};

}  // namespace kbk::test
