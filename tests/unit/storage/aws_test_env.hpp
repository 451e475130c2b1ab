// The AWS credential tests' surroundings: a temporary home with its ~/.aws, and an injected environment, so no test
// reads the machine's own AWS setup.
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include <kbk/storage/aws.hpp>

#include "test_servers.hpp"

namespace kbk::test {

struct Home {
  std::filesystem::path dir;
  Home() {
    dir = std::filesystem::temp_directory_path() / ("kbk-home-" + unique_prefix());
    std::filesystem::create_directories(dir / ".aws");
  }
  ~Home() { std::filesystem::remove_all(dir); }
  Home(const Home&) = delete;
  Home& operator=(const Home&) = delete;
  void write(const std::string& rel, const std::string& text) const {
    std::filesystem::create_directories((dir / rel).parent_path());
    std::ofstream(dir / rel) << text;
  }
  std::string path(const std::string& rel) const { return (dir / rel).string(); }
};

// An environment of exactly these variables (plus AWS_EC2_METADATA_DISABLED=true unless given).
inline storage::aws::Environment env_of(std::map<std::string, std::string> vars) {
  vars.emplace("AWS_EC2_METADATA_DISABLED", "true");
  return storage::aws::Environment{[vars](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  }};
}

}  // namespace kbk::test
