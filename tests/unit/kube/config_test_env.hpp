// Test helpers for the kubeconfig and exec plugin tests: a clean, restored environment and fixture paths.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include <kbk/kube/config.hpp>
#include <kbk/util/exit_code.hpp>
#include <kbk/util/fs.hpp>
#include <kbk/util/log.hpp>
#include "source_dir.hpp"

namespace kbk::kube::test {

inline std::string fixture(const std::string& rel) {
  return kbk::test::source_path("tests/unit/kube/fixtures/" + rel);
}

// A fresh folder under the system temp dir, removed with the object.
class TempDir {
public:
  TempDir() {
    std::random_device rd;
    m_path = std::filesystem::temp_directory_path() / ("kbk-config-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(m_path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path() const { return m_path.string(); }
  std::string file(const std::string& name) const { return (m_path / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    std::filesystem::create_directories((m_path / name).parent_path());
    REQUIRE(util::write_file_atomic(file(name), text, 0644));
    return file(name);
  }

private:
  std::filesystem::path m_path;
};

// Unsets everything load_config reads from the environment (HOME points at an empty folder), restoring the
// previous values on destruction; set() changes one variable for the test.
class CleanEnv {
public:
  CleanEnv() {
    for (const char* name : {"KUBECONFIG", "HOME", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "POD_NAMESPACE",
                             "KBK_SERVICEACCOUNT_DIR"})
      unset(name);
    set("HOME", m_home.path());
  }
  ~CleanEnv() {
    for (const auto& [name, value] : m_saved) {
      if (value) ::setenv(name.c_str(), value->c_str(), 1);
      else ::unsetenv(name.c_str());
    }
  }
  CleanEnv(const CleanEnv&) = delete;
  CleanEnv& operator=(const CleanEnv&) = delete;

  void set(const std::string& name, const std::string& value) {
    save(name);
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  void unset(const std::string& name) {
    save(name);
    ::unsetenv(name.c_str());
  }
  const TempDir& home() const { return m_home; }

private:
  void save(const std::string& name) {
    if (m_saved.count(name)) return;
    const char* v = std::getenv(name.c_str());
    m_saved[name] = v ? std::optional<std::string>(v) : std::nullopt;
  }
  std::map<std::string, std::optional<std::string>> m_saved;
  TempDir m_home;
};

// The message of the Fatal that load_config throws (checking it is a usage error, exit 3); "" when none.
inline std::string load_error(const ConfigFlags& flags) {
  try {
    (void)load_config(flags);
  } catch (const Fatal& e) {
    CHECK(e.code() == ExitCode::usage);
    // main() prints it through log::redact: the line must come out whole and on one line.
    CHECK(log::redact(e.what()) == e.what());
    CHECK(std::string(e.what()).find('\n') == std::string::npos);
    return e.what();
  }
  return "";
}

inline std::string read_all(const std::string& path) {
  auto text = util::read_file(path);
  return text ? *text : std::string();
}

}  // namespace kbk::kube::test
