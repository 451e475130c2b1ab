// The backup's hooks (hooks.hpp).
#include "hooks.hpp"

#include <kbk/util/log.hpp>

namespace kbk::backup {

BackupHooks::BackupHooks(kube::Client& client, std::shared_ptr<const hooks::HooksFile> file, Log log)
    : m_client(client), m_file(std::move(file)), m_log(std::move(log)) {}

void BackupHooks::observe(const json::Value& pod) {
  hooks::PodBackupHooks h = hooks::backup_hooks_for(pod, m_file.get());
  if (h.empty()) return;
  const std::string name = json::get_string(pod, {"metadata", "namespace"}) + "/" + json::get_string(pod, {"metadata", "name"});
  auto p = std::make_shared<Pod>();
  const std::string phase = json::get_string(pod, {"status", "phase"}, "Pending");
  if (phase != "Running" || json::at(pod, {"metadata", "deletionTimestamp"})) {
    // Velero skips the hooks of pods that are not running; so does kbk, and says so.
    p->skipped.pod = name;
    auto skip = [&](const std::string& ph, const std::string& hook_name, const std::string& container,
                    const std::vector<std::string>& cmd) {
      hooks::HookRecord r;
      r.phase = ph;
      r.name = hook_name;
      r.container = container;
      r.command = cmd;
      r.outcome = "skipped";
      r.message = "the pod is " + (phase == "Running" ? std::string("being deleted") : phase);
      p->skipped.hooks.push_back(std::move(r));
    };
    for (const auto& x : h.pre) skip("pre", x.name, x.container, x.command);
    for (const auto& x : h.sessions) skip("session", x.name, x.container, x.command);
    for (const auto& x : h.post) skip("post", x.name, x.container, x.command);
    if (m_log) m_log(log::Level::info, "hooks of pod " + name + " not run: the pod is " + phase);
  } else {
    p->window = std::make_unique<hooks::PodWindow>(m_client, json::clone(pod), std::move(h), [this](const std::string& l) {
      if (m_log) m_log(log::Level::info, l);
    });
  }
  std::lock_guard l(m_mu);
  m_pods[name] = std::move(p);
}

bool BackupHooks::any() const {
  std::lock_guard l(m_mu);
  return !m_pods.empty();
}

std::shared_ptr<BackupHooks::Pod> BackupHooks::find(const std::string& pod) const {
  std::lock_guard l(m_mu);
  auto it = m_pods.find(pod);
  if (it == m_pods.end() || !it->second->window) return nullptr;
  return it->second;
}

bool BackupHooks::has(const std::string& pod) const { return find(pod) != nullptr; }

Result<void> BackupHooks::open(const std::string& pod) {
  auto p = find(pod);
  if (!p) return {};
  p->opened = true;
  return p->window->open();
}

Result<void> BackupHooks::held(const std::string& pod) {
  auto p = find(pod);
  if (!p) return {};
  return p->window->held();
}

void BackupHooks::cut(const std::string& pod, const std::string& volume, const std::string& how) {
  if (auto p = find(pod)) p->window->add_volume(volume, how);
}

Result<void> BackupHooks::close(const std::string& pod) {
  auto p = find(pod);
  if (!p || p->closed) return {};
  p->closed = true;
  return p->window->close();
}

void BackupHooks::run_unused() {
  std::vector<std::string> names;
  {
    std::lock_guard l(m_mu);
    for (const auto& [name, p] : m_pods)
      if (p->window && !p->opened) names.push_back(name);
  }
  for (const auto& n : names) {
    (void)open(n);
    (void)close(n);
  }
}

json::Document BackupHooks::to_json() const {
  std::vector<hooks::PodRecord> records;
  {
    std::lock_guard l(m_mu);
    for (const auto& [name, p] : m_pods) records.push_back(p->window ? p->window->record() : p->skipped);
  }
  return hooks::records_to_json(records);
}

std::vector<std::string> BackupHooks::error_lines() const {
  std::vector<std::string> out;
  std::lock_guard l(m_mu);
  for (const auto& [name, p] : m_pods)
    if (p->window)
      for (const auto& h : p->window->record().hooks)
        if (h.outcome == "failed" && h.on_error == "Fail") out.push_back(hooks::describe(name, h));
  return out;
}

std::vector<std::string> BackupHooks::warning_lines() const {
  std::vector<std::string> out;
  std::lock_guard l(m_mu);
  for (const auto& [name, p] : m_pods)
    if (p->window)
      for (const auto& h : p->window->record().hooks)
        if (h.outcome == "failed" && h.on_error != "Fail") out.push_back(hooks::describe(name, h));
  return out;
}

}  // namespace kbk::backup
