// Waiting until restored workloads are ready (`kbk restore create --wait`, `kbk migrate`): Deployments available,
// StatefulSets and DaemonSets ready, Jobs complete. Other objects have no readiness and are not waited for.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/restore/engine.hpp>

namespace kbk::restore {

struct WaitTarget {
  std::string group, version, resource, kind;
  std::string namespace_, name;
  std::string display() const;  // "deployments.apps/ns/name"
};

// The workloads of a report that the restore created or updated (Deployments, StatefulSets, DaemonSets, Jobs).
std::vector<WaitTarget> workloads_of(const RestoreReport& report);

enum class Readiness { ready, waiting, failed };
struct ReadyState {
  Readiness state = Readiness::waiting;
  std::string message;  // "2 of 3 available", "Job failed: BackoffLimitExceeded"
};
// Readiness of one live object of `kind` (Deployment: observedGeneration caught up, every replica updated and
// available; StatefulSet: every replica ready and current; DaemonSet: every scheduled pod ready; Job: Complete,
// failed when its Failed condition is True).
ReadyState readiness(const std::string& kind, const json::Value& live);

struct WaitItem {
  std::string item;
  Readiness state = Readiness::waiting;
  std::string message;
};
struct WaitReport {
  double timeout_seconds = 0;
  double seconds = 0;   // how long it waited
  std::vector<WaitItem> items;
  bool ready() const;   // every item ready
  std::string summary() const;  // "3 workloads ready" / "1 of 3 workloads not ready after 5m: ..."
};

struct WaitOptions {
  double timeout = 300;
  double poll_interval = 1;
  std::function<void(double seconds)> sleep;  // default: sleeps
};

// Polls every target until all are ready, one failed for good (a Job), or the timeout passed.
WaitReport wait_ready(kube::Client& client, const std::vector<WaitTarget>& targets, const WaitOptions& options);
json::Document wait_to_json(const WaitReport& report);
void add_wait(json::Value& obj, const WaitReport& report, json::Allocator& a);  // obj["wait"] = wait_to_json

}  // namespace kbk::restore
