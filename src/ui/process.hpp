// Runs a program with arguments (no shell), returning its exit code and stdout; stderr lines are passed on as
// they come (progress JSON lines of --progress json) and kept.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <kbk/util/error.hpp>

namespace kbk::ui {

struct ProcessResult {
  int exit_code = 0;
  std::string out, err;
};

Result<ProcessResult> run_process(const std::string& exe, const std::vector<std::string>& args,
                                  const std::function<void(const std::string&)>& on_stderr_line = nullptr);

}  // namespace kbk::ui
