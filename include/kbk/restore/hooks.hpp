// Restore hooks (docs/hooks.md section 6): Velero's init-container hooks, added to restored pods and to the pod
// templates of restored workloads, and post-restore exec hooks, run once everything is restored in the pods that
// come back under their names (restored pods, StatefulSet pods), each waiting for its container.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <kbk/hooks/run.hpp>
#include <kbk/hooks/spec.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/restore/options.hpp>
#include <kbk/restore/transform.hpp>

namespace kbk::restore {

struct RestoreReport;

class RestoreHooks {
public:
  // file: the hooks file and the applications' templates (null: annotations only).
  RestoreHooks(std::shared_ptr<const hooks::HooksFile> file, NamespaceMap mappings);
  ~RestoreHooks();
  RestoreHooks(const RestoreHooks&) = delete;
  RestoreHooks& operator=(const RestoreHooks&) = delete;

  // The transform to put first among PlanOptions::transforms (before modifiers and image mappings, which then see
  // the init containers too): prepare() reads the exec hooks of the backup's pods; apply() adds init containers to
  // pods and to the pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers,
  // Jobs and CronJobs, with a note on the item.
  std::shared_ptr<Transform> transform();

  struct RunOptions {
    double poll_interval = 1;
    std::function<void(double seconds)> sleep;  // default: sleeps
    size_t parallel = 16;                       // pods waited for at once
  };
  // After the items are applied: the exec hooks of every pod that was restored (created or updated) or that its
  // restored StatefulSet recreates under its name; client null (a dry run, --to-dir): they are recorded as not run.
  // Sets report.hooks.
  void run(kube::Client* client, RestoreReport& report, const RunOptions& options);
  void run(kube::Client* client, RestoreReport& report) { run(client, report, RunOptions{}); }

  struct Impl;  // hooks.cpp (public only for its transform there)

private:
  std::shared_ptr<Impl> m_impl;
};

}  // namespace kbk::restore
