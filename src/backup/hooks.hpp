// The backup's hooks (docs/hooks.md): the windows of the backed-up pods that have hooks, given to the volume phase
// (volume::PodWindows), and what each hook did, for the results. Internal to the backup module.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <kbk/hooks/run.hpp>
#include <kbk/hooks/spec.hpp>
#include <kbk/json/json.hpp>
#include <kbk/kube/client.hpp>
#include <kbk/util/log.hpp>
#include <kbk/volume/backup.hpp>

namespace kbk::backup {

class BackupHooks final : public volume::PodWindows {
public:
  using Log = std::function<void(log::Level, const std::string&)>;
  BackupHooks(kube::Client& client, std::shared_ptr<const hooks::HooksFile> file, Log log);

  // Every backed-up pod: one with hooks gets a window when it runs, and a record saying its hooks were skipped when
  // it does not.
  void observe(const json::Value& pod);
  bool any() const;

  bool has(const std::string& pod) const override;
  Result<void> open(const std::string& pod) override;
  Result<void> held(const std::string& pod) override;
  void cut(const std::string& pod, const std::string& volume, const std::string& how) override;
  Result<void> close(const std::string& pod) override;

  // The pods with hooks whose windows the volume phase did not open (no volume taken): pre hooks, then post.
  void run_unused();
  // The "hooks" section (docs/hooks.md section 5); null when no backed-up pod has hooks. Failed hooks whose
  // onError is Fail, as error lines; the others' failures as warnings.
  json::Document to_json() const;
  std::vector<std::string> error_lines() const;
  std::vector<std::string> warning_lines() const;

private:
  struct Pod {
    std::unique_ptr<hooks::PodWindow> window;
    bool opened = false, closed = false;
    hooks::PodRecord skipped;  // pods that were not running
  };
  kube::Client& m_client;
  std::shared_ptr<const hooks::HooksFile> m_file;
  Log m_log;
  mutable std::mutex m_mu;
  std::map<std::string, std::shared_ptr<Pod>> m_pods;
  std::shared_ptr<Pod> find(const std::string& pod) const;
};

}  // namespace kbk::backup
