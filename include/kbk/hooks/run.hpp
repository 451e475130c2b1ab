// Running hooks (docs/hooks.md sections 3-5): a pod's backup hooks around its volumes' cut (PodWindow), restore exec
// hooks, and what each one did (HookRecord) for the results and the log.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <kbk/hooks/spec.hpp>
#include <kbk/json/json.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/util/error.hpp>

namespace kbk::hooks {

inline constexpr size_t k_output_bytes = 4096;

struct HookRecord {
  std::string phase;       // pre | session | post | init | exec (restore)
  std::string name;        // the file entry's name, or "annotation"
  std::string container;
  std::vector<std::string> command;
  std::string outcome;     // ok | failed | skipped
  std::optional<int> exit_code;
  std::string started;     // RFC 3339 with milliseconds
  double duration_seconds = 0;
  double ready_seconds = -1;  // session: from start until the ready pattern matched (-1: never)
  std::string output;      // the end of stdout+stderr, redacted, printable
  std::string message;     // why it failed or was skipped
  std::string on_error;    // Fail | Continue
};

struct Window {
  std::string start, end;  // RFC 3339 with milliseconds
  double seconds = 0;
  std::string cut;         // csi-snapshot | copy | none
  std::vector<std::string> volumes;
};

struct PodRecord {
  std::string pod;         // ns/name
  std::optional<Window> window;
  std::vector<HookRecord> hooks;
};

// "2026-12-07T01:20:03.120Z"
std::string timestamp_ms();

// Runs one command in a pod's container: output captured (the tail, redacted), timeout enforced.
HookRecord run_exec_hook(kube::Client& client, const json::Value& pod, const ExecHook& hook, const std::string& phase);

// The container an exec hook runs in: the named one (it must exist) or the pod's first.
Result<std::string> hook_container(const json::Value& pod, const std::string& wanted);

// One pod's backup hooks around the cut of its volumes.
//   open():  pre exec hooks, then sessions (quiesce, await ready). An error: the pod's volumes must not be taken
//            (a hook with onError Fail failed); its message is the reason.
//   held():  at each cut: an error when a session ended (timed out, died) before it, under Fail.
//   close(): sessions released (release text, stdin closed, exit code checked), then post exec hooks. An error: a
//            release failed under Fail (the volumes cannot be trusted).
class PodWindow {
public:
  using Log = std::function<void(const std::string&)>;
  PodWindow(kube::Client& client, json::Document pod, PodBackupHooks hooks, Log log);
  ~PodWindow();
  PodWindow(const PodWindow&) = delete;
  PodWindow& operator=(const PodWindow&) = delete;

  const std::string& pod() const;
  Result<void> open();
  Result<void> held();
  void add_volume(const std::string& volume, const std::string& cut);  // what the window protected, and how
  Result<void> close();
  PodRecord record() const;
  // Hooks attempted (run, whatever came of it) and failed.
  size_t attempted() const;
  size_t failed() const;

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// A restored pod's exec hooks (docs/hooks.md section 6), in order. Each waits for the pod's container: running, or
// Ready with waitForReady, at most its waitTimeout (the pod is read every poll_interval); then runs with its
// execTimeout. onError Fail stops the pod's remaining hooks (recorded as skipped). record holds the pod's name and
// its init hooks (outcome "added"); once the pod was seen running they become ok or failed from the pod's
// initContainerStatuses. Returns whether a hook with onError Fail failed.
struct RestoreRunOptions {
  double poll_interval = 1;
  std::function<void(double seconds)> sleep;  // default: sleeps
  std::function<void(const std::string&)> log;
};
bool run_restore_hooks(kube::Client& client, const std::string& ns, const std::string& name,
                       const std::vector<RestoreExec>& exec, PodRecord& record, const RestoreRunOptions& options);

// The record as JSON (docs/hooks.md section 5), and its text lines for describe.
json::Value to_json(const PodRecord& r, json::Allocator& a);
std::string describe(const std::string& pod, const HookRecord& h);
// The "hooks" section of a backup's or restore's results: {"attempted", "failed", "pods": [...]}; a null document
// when there are no records. Attempted: every hook not skipped; failed: every failed one.
json::Document records_to_json(const std::vector<PodRecord>& records);

}  // namespace kbk::hooks
