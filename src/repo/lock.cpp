// Repository locks (docs/format-repository.md section 12): shared or exclusive, refreshed every 5 minutes, stale
// after 30 minutes without a refresh or when their process (on this host) is gone.
#include <kbk/repo/repository.hpp>

#include <cerrno>
#include <csignal>

#include <unistd.h>

#include <kbk/crypto/hash.hpp>
#include <kbk/json/json.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

namespace kbk::repo {
using util::base64_decode;
using util::base64_encode;
using util::hex_encode;
using util::join;
using util::to_lower;
namespace {

std::string hostname() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

std::string lock_json(bool exclusive, const std::string& created) {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  d.AddMember("version", 1, a);
  d.AddMember("exclusive", exclusive, a);
  d.AddMember("host", json::make_string(hostname(), a), a);
  d.AddMember("pid", static_cast<int64_t>(::getpid()), a);
  d.AddMember("time", json::make_string(created, a), a);
  d.AddMember("refreshed", json::make_string(util::format_rfc3339(std::chrono::system_clock::now()), a), a);
  return json::to_string(d);
}

}  // namespace

Result<std::vector<LockInfo>> list_locks(storage::Backend& backend) {
  std::vector<LockInfo> out;
  const auto now = std::chrono::system_clock::now();
  const std::string me = hostname();
  KBK_TRY(backend.list(std::string(k_prefix) + "locks/", [&](const storage::ObjectInfo& o) -> Result<void> {
    LockInfo l;
    l.key = o.key;
    auto text = backend.get(o.key);
    if (!text) return {};  // removed meanwhile
    auto d = json::parse(*text, "lock");
    if (!d || !d->IsObject()) {
      l.stale = true;  // unreadable: nobody can be holding it meaningfully
      out.push_back(l);
      return {};
    }
    if (const auto* e = json::find(*d, "exclusive"); e && e->IsBool()) l.exclusive = e->GetBool();
    l.host = json::get_string(*d, {"host"});
    if (const auto* p = json::find(*d, "pid"); p && p->IsInt64()) l.pid = p->GetInt64();
    l.time = json::get_string(*d, {"time"});
    l.refreshed = json::get_string(*d, {"refreshed"});
    auto t = util::parse_rfc3339(l.refreshed);
    if (!t || now - *t > std::chrono::seconds(k_lock_stale_seconds)) l.stale = true;
    if (l.host == me && l.pid > 0 && ::kill(static_cast<pid_t>(l.pid), 0) != 0 && errno == ESRCH) l.stale = true;
    out.push_back(std::move(l));
    return {};
  }));
  return out;
}

Result<std::vector<std::string>> remove_locks(storage::Backend& backend, bool all) {
  KBK_ASSIGN_OR_RETURN(auto locks, list_locks(backend));
  std::vector<std::string> removed;
  for (const auto& l : locks)
    if (all || l.stale) {
      KBK_TRY(backend.remove(l.key));
      removed.push_back(l.key);
    }
  return removed;
}

Lock::Lock(storage::Backend& backend, std::string key, bool exclusive)
    : m_backend(backend), m_key(std::move(key)), m_exclusive(exclusive) {}

Result<std::unique_ptr<Lock>> Lock::acquire(storage::Backend& backend, bool exclusive) {
  auto conflict = [&](const std::vector<LockInfo>& locks, const std::string& mine) -> std::optional<LockInfo> {
    for (const auto& l : locks)
      if (l.key != mine && !l.stale && (exclusive || l.exclusive)) return l;
    return std::nullopt;
  };
  auto describe = [](const LockInfo& l) {
    return std::string(l.exclusive ? "an exclusive" : "a shared") + " lock held by " + l.host + " pid " +
           std::to_string(l.pid) + " since " + l.time;
  };
  KBK_ASSIGN_OR_RETURN(auto before, list_locks(backend));
  if (auto c = conflict(before, ""))
    return unexpected(Errc::precondition, "the repository is locked: " + describe(*c) +
                                              " (kbk repo unlock removes stale locks)");
  const std::string key = std::string(k_prefix) + "locks/" + hex_encode(crypto::random_bytes(16).data(), 16);
  std::unique_ptr<Lock> lock(new Lock(backend, key, exclusive));
  lock->m_created = util::format_rfc3339(std::chrono::system_clock::now());
  KBK_TRY(backend.put(key, lock_json(exclusive, lock->m_created), {storage::IfExists::fail, "application/json"}));
  KBK_ASSIGN_OR_RETURN(auto after, list_locks(backend));
  if (auto c = conflict(after, key)) {
    (void)backend.remove(key);
    return unexpected(Errc::precondition, "the repository is locked: " + describe(*c));
  }
  lock->m_thread = std::thread([l = lock.get()] { l->refresh_loop(); });
  return lock;
}

void Lock::refresh_loop() {
  std::unique_lock<std::mutex> lk(m_mutex);
  while (!m_stop) {
    if (m_cv.wait_for(lk, std::chrono::seconds(k_lock_refresh_seconds), [&] { return m_stop; })) break;
    lk.unlock();
    auto r = m_backend.put(m_key, lock_json(m_exclusive, m_created), {storage::IfExists::overwrite, "application/json"});
    if (!r) log::warning("refreshing the repository lock: " + r.error().message);
    lk.lock();
  }
}

void Lock::release() {
  {
    std::lock_guard<std::mutex> lk(m_mutex);
    if (m_stop) return;
    m_stop = true;
  }
  m_cv.notify_all();
  if (m_thread.joinable()) m_thread.join();
  auto r = m_backend.remove(m_key);
  if (!r) log::warning("removing the repository lock " + m_key + ": " + r.error().message);
}

Lock::~Lock() { release(); }

}  // namespace kbk::repo
