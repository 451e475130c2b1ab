// What hooks a pod has (docs/hooks.md): Velero's hook annotations, kbk's session-hook annotations, and hooks files
// (kbk.io/v1 Hooks, or a Velero Backup/Restore object's spec.hooks), read strictly.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/kube/label_selector.hpp>
#include <kbk/util/error.hpp>

namespace kbk::hooks {

inline constexpr const char* k_api_version = "kbk.io/v1";
inline constexpr const char* k_kind = "Hooks";

enum class OnError { fail, proceed };  // Fail | Continue
const char* on_error_name(OnError e);

struct ExecHook {
  std::string name;                   // the file entry's name, or "annotation"
  std::string container;              // "" = the pod's first container
  std::vector<std::string> command;
  OnError on_error = OnError::fail;
  double timeout_seconds = 30;
  std::string invalid;                // non-empty: an annotation that does not parse; the hook fails with this
};

struct SessionHook {
  std::string name;
  std::string container;
  std::vector<std::string> command;
  std::string quiesce, ready, release;
  double timeout_seconds = 60;
  OnError on_error = OnError::fail;
  std::string invalid;
};

// Which pods an entry selects (Velero's hook resource selector).
struct Selection {
  std::vector<std::string> included_namespaces, excluded_namespaces;  // globs
  std::vector<std::string> included_resources, excluded_resources;
  kube::LabelSelector selector;
  // ns: the namespace the pod is matched in (a restore matches the source namespace, as Velero).
  bool matches(const std::string& ns, const json::Value& pod) const;
};

struct BackupEntry {
  std::string name;
  Selection select;
  std::vector<ExecHook> pre, post;
  std::optional<SessionHook> session;
};

struct RestoreExec {
  ExecHook exec;                      // on_error defaults to Continue on restore, as Velero
  double wait_timeout_seconds = 300;
  bool wait_for_ready = false;
};

struct RestoreEntry {
  std::string name;
  Selection select;
  std::vector<json::Document> init_containers;  // raw containers, name/image/command checked
  std::vector<RestoreExec> exec;
};

struct HooksFile {
  std::string origin;
  std::vector<BackupEntry> backup;
  std::vector<RestoreEntry> restore;
};

// Errc::invalid with every problem as "FILE:LINE:COL: message" in causes; Errc::io when the file cannot be read.
Result<HooksFile> load_file(const std::string& path);
Result<HooksFile> parse(std::string_view text, const std::string& file_name);

// The backup hooks of one pod, in the order they run: annotations when the pod has any backup hook annotation,
// else every file entry selecting it.
struct PodBackupHooks {
  std::vector<ExecHook> pre, post;
  std::vector<SessionHook> sessions;
  bool empty() const { return pre.empty() && post.empty() && sessions.empty(); }
};
PodBackupHooks backup_hooks_for(const json::Value& pod, const HooksFile* file);

// The restore hooks of one pod (as it is in the backup; source_ns: its namespace there).
struct PodRestoreHooks {
  std::vector<json::Document> init_containers;
  std::vector<RestoreExec> exec;
  std::vector<std::string> problems;  // invalid annotations, one line each
  bool empty() const { return init_containers.empty() && exec.empty() && problems.empty(); }
};
PodRestoreHooks restore_hooks_for(const json::Value& pod, const std::string& source_ns, const HooksFile* file);

// A Velero command annotation: a JSON array of strings when it starts with '[', else one argv element.
Result<std::vector<std::string>> parse_command(std::string_view text);

}  // namespace kbk::hooks
