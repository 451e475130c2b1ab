// Process exit codes (documented in README, man/kbk.1 and every command's --help) and the Fatal exception.
#pragma once

#include <stdexcept>
#include <string>

#include <kbk/util/error.hpp>

namespace kbk {

enum class ExitCode : int {
  ok = 0,
  failed = 1,        // the command failed
  partial = 2,       // partially failed: some items failed, the rest is done
  usage = 3,         // usage or configuration error (flags, kubeconfig, modifier file)
  precondition = 4,  // cluster or storage unreachable, backup not found or already exists
};

// Thrown for errors the user must fix before anything can run (a broken kubeconfig, an unreadable key file).
// Library code throws it only while loading configuration; main() catches it and prints "kbk: error: <what>".
class Fatal : public std::runtime_error {
public:
  Fatal(ExitCode code, const std::string& message) : std::runtime_error(message), m_code(code) {}
  ExitCode code() const { return m_code; }

private:
  ExitCode m_code;
};

// The exit code a failed operation's error maps to when a command stops on it.
ExitCode exit_code_for(const Error& e);

}  // namespace kbk
