// --encryption-key-file (KBK_ENCRYPTION_KEY_FILE) for every command that reads or writes a backup's contents.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include <kbk/crypto/encryption.hpp>
#include <kbk/util/exit_code.hpp>

namespace kbk::cli {

inline CLI::Option* add_encryption_key_option(CLI::App* cmd, std::string& path, const std::string& help) {
  return cmd->add_option("--encryption-key-file", path, help)->envname("KBK_ENCRYPTION_KEY_FILE")->type_name("FILE");
}

// The user key in `path` (docs/format-encryption.md, "User keys"); nullopt when no file was given. An unreadable or
// empty file is a configuration error (exit 3). The key is never logged.
inline std::optional<crypto::UserKey> load_encryption_key(const std::string& path) {
  if (path.empty()) return std::nullopt;
  auto k = crypto::read_user_key(path);
  if (!k) throw Fatal(ExitCode::usage, k.error().message);
  return std::optional<crypto::UserKey>(std::move(*k));
}

}  // namespace kbk::cli
