// Starts tests/unit/http/fault_server.py on 127.0.0.1 for the life of the object (stops when its stdin closes).
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include "source_dir.hpp"

class FaultServer {
public:
  FaultServer() {
    int in[2];
    int out[2];
    if (pipe(in) != 0 || pipe(out) != 0) throw std::runtime_error("pipe");
    m_pid = fork();
    if (m_pid == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[1]);
      close(out[0]);
      const std::string script = kbk::test::source_path("tests/unit/http/fault_server.py");
      execlp("python3", "python3", script.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    m_stdin = in[1];
    FILE* f = fdopen(out[0], "r");
    char line[64] = {0};
    if (!f || !std::fgets(line, sizeof line, f)) throw std::runtime_error("fault_server.py did not start");
    std::fclose(f);
    int port = 0;
    if (std::sscanf(line, "port %d", &port) != 1) throw std::runtime_error("fault_server.py: " + std::string(line));
    m_base = "http://127.0.0.1:" + std::to_string(port);
  }
  ~FaultServer() {
    close(m_stdin);
    kill(m_pid, SIGTERM);
    waitpid(m_pid, nullptr, 0);
  }
  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;

  const std::string& base() const { return m_base; }
  std::string url(const std::string& path) const { return m_base + path; }

private:
  pid_t m_pid = -1;
  int m_stdin = -1;
  std::string m_base;
};
