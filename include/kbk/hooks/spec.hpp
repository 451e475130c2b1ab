// What hooks a pod has (docs/hooks.md): Velero's hook annotations, kbk's session-hook annotations, and hooks files
// (kbk.io/v1 Hooks, or a Velero Backup/Restore object's spec.hooks), read strictly.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/app/definition.hpp>
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
  // ns: the namespace the pod is matched in.
  bool matches(const std::string& ns, const json::Value& pod) const;
  // A restored pod: its namespace in the backup and the one it is restored into (they differ under
  // --namespace-mappings). Included when either is included, excluded when either is excluded.
  bool matches(const std::string& source_ns, const std::string& target_ns, const json::Value& pod) const;
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

// The restore hooks of one pod, or of a workload's pod template (as it is in the backup, with metadata.name: the
// pod's or the workload's). source_ns: its namespace in the backup, target_ns: the one it is restored into.
// Annotations replace the file's hooks of their kind (init or exec), as Velero.
struct PodRestoreHooks {
  struct Init {
    std::string name;                 // the file entry's name, or "annotation"
    json::Document container;         // name, image, command (raw container from the file)
  };
  std::vector<Init> init_containers;
  std::vector<RestoreExec> exec;
  std::vector<std::string> problems;  // invalid init annotations, one line each (their container is not added)
  bool empty() const { return init_containers.empty() && exec.empty() && problems.empty(); }
};
PodRestoreHooks restore_hooks_for(const json::Value& pod, const std::string& source_ns, const std::string& target_ns,
                                  const HooksFile* file);

// The hook templates an application definition names (docs/format-application.md section 6): template T is the hooks
// file hooks/T.yaml beside the definition, T.yaml beside it, or ../hooks/T.yaml. Its backup and restore hooks are
// added to out, selecting the reference's namespace and pods, with the reference's container, onError and timeout
// when it gives them. Errc::config when a template is not found; the template file's errors as load_file's.
Result<void> add_template_hooks(const std::vector<app::HookRef>& refs, HooksFile& out);

// A Velero command annotation: a JSON array of strings when it starts with '[', else one argv element.
Result<std::vector<std::string>> parse_command(std::string_view text);

}  // namespace kbk::hooks
