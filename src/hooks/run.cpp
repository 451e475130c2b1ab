// Running hooks (run.hpp): exec hooks through kube::run_exec, sessions held open on one exec stream.
#include <kbk/hooks/run.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <regex>
#include <thread>

#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::hooks {

namespace {

using Steady = std::chrono::steady_clock;

double since(Steady::time_point t) { return std::chrono::duration<double>(Steady::now() - t).count(); }

// The log's redaction (password=..., PGPASSWORD=..., mysql's -pSECRET where a MySQL client is named, ...), plus what
// a hook's command line and output hold more often than prose: any glued -pSECRET whatever the client is called,
// and "secret: ..." / "token: ...".
std::string redact(std::string_view text) {
  static const std::regex k_glued_p(R"((^|\s)-p[^\s]+)");
  static const std::regex k_colon(R"(((?:secret|token)\s*:\s*)[^\s'"]+)", std::regex::icase);
  std::string s = std::regex_replace(log::redact(text), k_glued_p, "$1-p[REDACTED]");
  return std::regex_replace(s, k_colon, "$1[REDACTED]");
}

// The last k_output_bytes of what was written, stdout and stderr interleaved as they came.
struct Tail {
  std::string text;
  void add(std::string_view s) {
    text.append(s);
    if (text.size() > 2 * k_output_bytes) text.erase(0, text.size() - k_output_bytes);
  }
  std::string value() const {
    std::string t = text.size() > k_output_bytes ? text.substr(text.size() - k_output_bytes) : text;
    return util::printable(redact(t), 0, util::Newlines::keep);
  }
};

std::string command_text(const std::vector<std::string>& c) {
  std::string s;
  for (const auto& a : c) {
    if (!s.empty()) s += ' ';
    s += a.find_first_of(" \t\n\"'") == std::string::npos ? a : "'" + a + "'";
  }
  return util::printable(redact(s), 200);
}

std::string ns_name(const json::Value& pod) {
  return json::get_string(pod, {"metadata", "namespace"}) + "/" + json::get_string(pod, {"metadata", "name"});
}

}  // namespace

std::string timestamp_ms() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

Result<std::string> hook_container(const json::Value& pod, const std::string& wanted) {
  const json::Value* cs = json::at(pod, {"spec", "containers"});
  if (!cs || !cs->IsArray() || cs->Empty()) return unexpected(Errc::invalid, "pod " + ns_name(pod) + " has no containers");
  if (wanted.empty()) return json::get_string((*cs)[0], {"name"});
  for (const auto& c : cs->GetArray())
    if (json::get_string(c, {"name"}) == wanted) return wanted;
  return unexpected(Errc::not_found, "pod " + ns_name(pod) + " has no container " + util::printable(wanted, 80));
}

HookRecord run_exec_hook(kube::Client& client, const json::Value& pod, const ExecHook& hook, const std::string& phase) {
  HookRecord r;
  r.phase = phase;
  r.name = hook.name;
  r.command = hook.command;
  r.on_error = on_error_name(hook.on_error);
  r.started = timestamp_ms();
  const auto start = Steady::now();
  auto fail = [&](std::string why) {
    r.outcome = "failed";
    r.message = std::move(why);
    r.duration_seconds = since(start);
    return r;
  };
  if (!hook.invalid.empty()) return fail(hook.invalid);
  auto container = hook_container(pod, hook.container);
  r.container = container ? *container : hook.container;
  if (!container) return fail(container.error().message);
  auto tail = std::make_shared<Tail>();
  kube::ExecRequest req;
  req.namespace_ = json::get_string(pod, {"metadata", "namespace"});
  req.pod = json::get_string(pod, {"metadata", "name"});
  req.container = *container;
  req.command = hook.command;
  req.timeout_seconds = hook.timeout_seconds;
  req.on_stdout = [tail](std::string_view s) -> Result<void> {
    tail->add(s);
    return {};
  };
  req.on_stderr = req.on_stdout;
  auto st = kube::run_exec(client, req);
  r.duration_seconds = since(start);
  r.output = tail->value();
  if (!st) {
    if (st.error().is(Errc::timeout)) return fail("timed out after " + util::human_duration(hook.timeout_seconds));
    return fail(st.error().message);
  }
  r.exit_code = st->exit_code;
  if (st->exit_code != 0) return fail("exit code " + std::to_string(st->exit_code));
  r.outcome = "ok";
  return r;
}

std::string describe(const std::string& pod, const HookRecord& h) {
  std::string s = h.phase + " hook " + (h.name.empty() ? "" : h.name + " ") + "in pod " + pod +
                  (h.container.empty() ? "" : " container " + h.container) + ": " + command_text(h.command) + ": " +
                  h.outcome;
  if (h.exit_code) s += ", exit code " + std::to_string(*h.exit_code);
  s += ", " + util::human_duration(h.duration_seconds);
  if (h.ready_seconds >= 0) s += " (ready after " + util::human_duration(h.ready_seconds) + ")";
  if (!h.message.empty()) s += ": " + h.message;
  return s;
}

// ---- sessions ---------------------------------------------------------------------------------------------------

namespace {

struct Session {
  SessionHook hook;
  HookRecord rec;
  std::unique_ptr<kube::ExecSession> exec;
  Steady::time_point start;
  std::mutex m;
  std::condition_variable cv;
  std::string out;          // stdout so far (the last 64 KiB), searched for the ready pattern
  std::shared_ptr<Tail> tail = std::make_shared<Tail>();
  bool ended = false;       // the stream ended (the command exited or the exec failed)
  bool releasing = false, released = false, timed_out = false, closed_by_us = false;
  std::string release_error;  // why the release failed ("" = it ended with exit code 0)
  std::optional<Result<kube::ExecStatus>> status;  // set by the waiter when the stream ends
  std::thread waiter, watchdog;
};

}  // namespace

struct PodWindow::Impl {
  kube::Client& client;
  json::Document pod;
  PodBackupHooks hooks;
  Log log;
  std::string name;
  PodRecord record;
  std::vector<std::unique_ptr<Session>> sessions;
  Steady::time_point window_start;
  bool window_open = false;
  std::mutex m;

  Impl(kube::Client& c, json::Document p, PodBackupHooks h, Log l)
      : client(c), pod(std::move(p)), hooks(std::move(h)), log(std::move(l)), name(ns_name(pod)) {
    record.pod = name;
  }

  void note(const HookRecord& h) {
    if (log) log(describe(name, h));
  }

  // Sends the release text, closes stdin, waits up to 5 s for the stream to end, else cancels it. Once; a second
  // caller waits for the first.
  void release(Session& s, bool timed_out) {
    {
      std::unique_lock l(s.m);
      if (s.releasing) {
        s.cv.wait(l, [&] { return s.released; });
        return;
      }
      s.releasing = true;
      s.timed_out = timed_out && !s.ended;
    }
    s.cv.notify_all();
    if (!s.hook.release.empty()) (void)s.exec->write_stdin(s.hook.release);
    (void)s.exec->close_stdin();
    {
      std::unique_lock l(s.m);
      if (!s.cv.wait_for(l, std::chrono::seconds(5), [&] { return s.ended; })) {
        l.unlock();
        s.exec->cancel();
        l.lock();
        s.cv.wait(l, [&] { return s.ended; });
      }
    }
    if (s.waiter.joinable()) s.waiter.join();
    std::lock_guard l(s.m);
    s.rec.duration_seconds = since(s.start);
    s.rec.output = s.tail->value();
    const auto& st = *s.status;
    if (!st) {
      s.release_error = st.error().is(Errc::cancelled) ? "the session did not end within 5s of the release: cancelled"
                                                       : st.error().message;
    } else {
      s.rec.exit_code = st->exit_code;
      if (st->exit_code != 0) s.release_error = "exit code " + std::to_string(st->exit_code);
    }
    s.released = true;
    s.cv.notify_all();
  }

  Result<void> start_session(Session& s) {
    s.start = Steady::now();
    s.rec.phase = "session";
    s.rec.name = s.hook.name;
    s.rec.command = s.hook.command;
    s.rec.on_error = on_error_name(s.hook.on_error);
    s.rec.started = timestamp_ms();
    auto fail = [&](std::string why) -> Result<void> {
      s.rec.outcome = "failed";
      s.rec.message = why;
      s.rec.duration_seconds = since(s.start);
      if (s.exec) s.rec.output = s.tail->value();
      return unexpected(Errc::precondition, "session hook " + (s.hook.name.empty() ? std::string() : s.hook.name + " ") +
                                          "in pod " + name + " failed: " + why);
    };
    if (!s.hook.invalid.empty()) return fail(s.hook.invalid);
    auto container = hook_container(pod, s.hook.container);
    s.rec.container = container ? *container : s.hook.container;
    if (!container) return fail(container.error().message);
    std::regex ready(s.hook.ready, std::regex::ECMAScript);
    kube::ExecRequest req;
    req.namespace_ = json::get_string(pod, {"metadata", "namespace"});
    req.pod = json::get_string(pod, {"metadata", "name"});
    req.container = *container;
    req.command = s.hook.command;
    req.stdin_ = true;
    // A bound the stream cannot outlive even if everything else went wrong; the session's own timeout is enforced
    // below, with a release first.
    req.timeout_seconds = s.hook.timeout_seconds + 30;
    Session* sp = &s;
    req.on_stdout = [sp](std::string_view d) -> Result<void> {
      std::lock_guard l(sp->m);
      sp->out.append(d);
      if (sp->out.size() > 128 * 1024) sp->out.erase(0, sp->out.size() - 64 * 1024);
      sp->tail->add(d);
      sp->cv.notify_all();
      return {};
    };
    req.on_stderr = [sp](std::string_view d) -> Result<void> {
      std::lock_guard l(sp->m);
      sp->tail->add(d);
      return {};
    };
    auto ex = client.exec(req);
    if (!ex) return fail(ex.error().message);
    s.exec = std::move(*ex);
    // Every byte of output goes to the sinks, so waiting for the exit status loses nothing: the waiter sees the
    // stream end, whether the command exited by itself (and its lock with it) or was released.
    s.waiter = std::thread([sp] {
      auto st = sp->exec->wait();
      std::lock_guard l(sp->m);
      sp->status = std::move(st);
      sp->ended = true;
      sp->cv.notify_all();
    });
    if (!s.exec->can_close_stdin())
      log("pod " + name + ": the API server speaks " + s.exec->protocol() +
          ", which cannot close stdin: the session ends when kbk cancels the stream");
    if (auto w = s.exec->write_stdin(s.hook.quiesce); !w) {
      release(s, false);
      return fail("sending the quiesce text: " + w.error().message);
    }
    // Await the ready pattern on stdout, the stream's end, or the timeout.
    const auto deadline = s.start + std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(s.hook.timeout_seconds));
    bool matched = false;
    {
      std::unique_lock l(s.m);
      size_t searched_to = 0;
      for (;;) {
        if (s.out.size() != searched_to) {
          matched = std::regex_search(s.out, ready);
          searched_to = s.out.size();
          if (matched) break;
        }
        if (s.ended) break;
        if (s.cv.wait_until(l, deadline) == std::cv_status::timeout) {
          matched = std::regex_search(s.out, ready);
          break;
        }
      }
    }
    if (!matched) {
      const bool timeout = Steady::now() >= deadline;
      release(s, false);
      return fail(timeout ? "the output did not match /" + util::printable(s.hook.ready, 80) + "/ within " +
                                util::human_duration(s.hook.timeout_seconds) + " (released)"
                          : "the session ended before its output matched /" + util::printable(s.hook.ready, 80) +
                                "/" + (s.release_error.empty() ? "" : ": " + s.release_error));
    }
    s.rec.ready_seconds = since(s.start);
    // The watchdog: at the timeout, release (the lock goes) and mark the session timed out.
    s.watchdog = std::thread([this, sp, deadline] {
      {
        std::unique_lock l(sp->m);
        if (sp->cv.wait_until(l, deadline, [&] { return sp->releasing || sp->ended; })) return;
      }
      if (log)
        log("session hook in pod " + name + " timed out after " + util::human_duration(sp->hook.timeout_seconds) +
            ": releasing");
      release(*sp, true);
    });
    return {};
  }
};

PodWindow::PodWindow(kube::Client& client, json::Document pod, PodBackupHooks hooks, Log log)
    : m_impl(std::make_unique<Impl>(client, std::move(pod), std::move(hooks), std::move(log))) {}

PodWindow::~PodWindow() {
  if (!m_impl) return;
  for (auto& s : m_impl->sessions) {
    if (s->exec && !s->released) m_impl->release(*s, false);
    if (s->watchdog.joinable()) s->watchdog.join();
    if (s->waiter.joinable()) s->waiter.join();
  }
}

const std::string& PodWindow::pod() const { return m_impl->name; }

Result<void> PodWindow::open() {
  Impl& m = *m_impl;
  std::optional<Error> stop;
  for (const auto& h : m.hooks.pre) {
    if (stop) {
      HookRecord r;
      r.phase = "pre";
      r.name = h.name;
      r.command = h.command;
      r.container = h.container;
      r.on_error = on_error_name(h.on_error);
      r.outcome = "skipped";
      r.message = "an earlier hook failed with onError Fail";
      m.record.hooks.push_back(r);
      continue;
    }
    HookRecord r = run_exec_hook(m.client, m.pod, h, "pre");
    m.note(r);
    if (r.outcome == "failed" && h.on_error == OnError::fail)
      stop = Error(Errc::precondition, "pre hook failed: " + describe(m.name, r));
    m.record.hooks.push_back(std::move(r));
  }
  for (const auto& h : m.hooks.sessions) {
    auto s = std::make_unique<Session>();
    s->hook = h;
    if (stop) {
      s->rec.phase = "session";
      s->rec.name = h.name;
      s->rec.command = h.command;
      s->rec.container = h.container;
      s->rec.on_error = on_error_name(h.on_error);
      s->rec.outcome = "skipped";
      s->rec.message = "an earlier hook failed with onError Fail";
      m.sessions.push_back(std::move(s));
      continue;
    }
    auto started = m.start_session(*s);
    if (!started) {
      m.note(s->rec);
      if (h.on_error == OnError::fail) stop = started.error();
    }
    m.sessions.push_back(std::move(s));
  }
  m.window_start = Steady::now();
  m.window_open = true;
  Window w;
  w.start = timestamp_ms();
  w.cut = "none";
  m.record.window = w;
  if (stop) return unexpected(*stop);
  return {};
}

Result<void> PodWindow::held() {
  Impl& m = *m_impl;
  for (auto& s : m.sessions) {
    if (!s->exec || s->rec.outcome == "failed" || s->rec.outcome == "skipped") continue;
    std::lock_guard l(s->m);
    if (s->releasing || s->ended) {
      const std::string why = s->timed_out ? "session hook timed out after " + util::human_duration(s->hook.timeout_seconds) +
                                                 " before the volumes were cut: lock released"
                                           : "the session hook ended before the volumes were cut";
      if (s->hook.on_error == OnError::fail) return unexpected(Errc::timeout, why);
      if (m.log) m.log("pod " + m.name + ": " + why + " (onError Continue: taken unprotected)");
    }
  }
  return {};
}

void PodWindow::add_volume(const std::string& volume, const std::string& cut) {
  std::lock_guard l(m_impl->m);
  if (!m_impl->record.window) return;
  auto& w = *m_impl->record.window;
  w.volumes.push_back(volume);
  if (w.cut == "none") w.cut = cut;
  else if (w.cut != cut) w.cut = "csi-snapshot+copy";
}

Result<void> PodWindow::close() {
  Impl& m = *m_impl;
  std::optional<Error> failure;
  if (m.window_open && m.record.window) {
    m.record.window->end = timestamp_ms();
    m.record.window->seconds = since(m.window_start);
  }
  for (auto& s : m.sessions) {
    if (s->exec && s->rec.outcome.empty()) {
      m.release(*s, false);
      if (s->watchdog.joinable()) s->watchdog.join();
      std::lock_guard l(s->m);
      if (s->timed_out) {
        s->rec.outcome = "failed";
        s->rec.message = "timed out after " + util::human_duration(s->hook.timeout_seconds) + ": released before the cut";
      } else if (!s->release_error.empty()) {
        s->rec.outcome = "failed";
        s->rec.message = "release: " + s->release_error;
      } else {
        s->rec.outcome = "ok";
      }
      if (s->rec.outcome == "failed" && s->hook.on_error == OnError::fail && !failure)
        failure = Error(Errc::precondition, "session hook failed: " + describe(m.name, s->rec));
      m.note(s->rec);
    }
    m.record.hooks.push_back(s->rec);
  }
  for (const auto& h : m.hooks.post) {
    HookRecord r = run_exec_hook(m.client, m.pod, h, "post");
    m.note(r);
    m.record.hooks.push_back(std::move(r));
  }
  if (failure) return unexpected(*failure);
  return {};
}

PodRecord PodWindow::record() const {
  std::lock_guard l(m_impl->m);
  return m_impl->record;
}

size_t PodWindow::attempted() const {
  size_t n = 0;
  for (const auto& h : m_impl->record.hooks) n += h.outcome != "skipped";
  return n;
}

size_t PodWindow::failed() const {
  size_t n = 0;
  for (const auto& h : m_impl->record.hooks) n += h.outcome == "failed";
  return n;
}

// ---- restore exec hooks -------------------------------------------------------------------------------------

namespace {

kube::ResourceType pods_type() {
  kube::ResourceType t;
  t.version = "v1";
  t.resource = "pods";
  t.kind = "Pod";
  t.namespaced = true;
  return t;
}

// Init hooks of the record, from the pod's initContainerStatuses: ok when the container ended with 0, failed when it
// ended otherwise (or is restarting after that). Only records still "added" change.
void check_init(const json::Value& pod, PodRecord& record) {
  const json::Value* ics = json::at(pod, {"status", "initContainerStatuses"});
  if (!ics || !ics->IsArray()) return;
  for (auto& h : record.hooks) {
    if (h.phase != "init" || h.outcome != "added") continue;
    for (const auto& st : ics->GetArray()) {
      if (json::get_string(st, {"name"}) != h.container) continue;
      const json::Value* term = json::at(st, {"state", "terminated"});
      if (!term) term = json::at(st, {"lastState", "terminated"});
      if (!term || !term->IsObject()) continue;
      const json::Value* code = json::find(*term, "exitCode");
      const int ec = code && code->IsInt() ? code->GetInt() : -1;
      h.exit_code = ec;
      if (ec == 0) {
        h.outcome = "ok";
        h.message = "";
      } else {
        h.outcome = "failed";
        const std::string reason = json::get_string(*term, {"reason"});
        h.message = "the init container exited with code " + std::to_string(ec) + (reason.empty() ? "" : " (" + reason + ")");
      }
    }
  }
}

// Why the container cannot be exec'd in yet ("" when it can: running, and ready when wanted). final: it never will
// (the pod ended).
std::string not_ready(const json::Value& pod, const std::string& container, bool want_ready, bool& final) {
  final = false;
  const std::string phase = json::get_string(pod, {"status", "phase"});
  if (phase == "Succeeded" || phase == "Failed") {
    final = true;
    return "the pod is " + phase;
  }
  // An init container that failed keeps the pod from starting: say which.
  std::string init;
  if (const json::Value* ics = json::at(pod, {"status", "initContainerStatuses"}); ics && ics->IsArray())
    for (const auto& st : ics->GetArray()) {
      const json::Value* term = json::at(st, {"state", "terminated"});
      if (!term) term = json::at(st, {"lastState", "terminated"});
      const json::Value* code = term ? json::find(*term, "exitCode") : nullptr;
      if (code && code->IsInt() && code->GetInt() != 0) {
        init = " (init container " + json::get_string(st, {"name"}) + " exited with code " + std::to_string(code->GetInt()) + ")";
        break;
      }
    }
  if (const json::Value* cs = json::at(pod, {"status", "containerStatuses"}); cs && cs->IsArray())
    for (const auto& st : cs->GetArray()) {
      if (json::get_string(st, {"name"}) != container) continue;
      if (!json::at(st, {"state", "running"})) {
        const std::string why = json::get_string(st, {"state", "waiting", "reason"});
        return "container " + container + " is not running" + (why.empty() ? "" : " (" + why + ")") + init;
      }
      const json::Value* ready = json::find(st, "ready");
      if (want_ready && !(ready && ready->IsBool() && ready->GetBool())) return "container " + container + " is not ready";
      return "";
    }
  return "the pod is " + (phase.empty() ? std::string("Pending") : phase) + init;
}

}  // namespace

bool run_restore_hooks(kube::Client& client, const std::string& ns, const std::string& name,
                       const std::vector<RestoreExec>& exec, PodRecord& record, const RestoreRunOptions& o) {
  auto nap = [&](double s) {
    if (o.sleep) o.sleep(s);
    else std::this_thread::sleep_for(std::chrono::duration<double>(s));
  };
  auto note = [&](const HookRecord& h) {
    if (o.log) o.log(describe(record.pod, h));
  };
  bool stop = false, fail = false;
  for (const auto& x : exec) {
    if (stop) {
      HookRecord r;
      r.phase = "exec";
      r.name = x.exec.name;
      r.command = x.exec.command;
      r.container = x.exec.container;
      r.on_error = on_error_name(x.exec.on_error);
      r.outcome = "skipped";
      r.message = "an earlier hook failed with onError Fail";
      record.hooks.push_back(std::move(r));
      continue;
    }
    HookRecord r;
    r.phase = "exec";
    r.name = x.exec.name;
    r.command = x.exec.command;
    r.container = x.exec.container;
    r.on_error = on_error_name(x.exec.on_error);
    r.started = timestamp_ms();
    const auto start = Steady::now();
    std::string why;
    std::optional<json::Document> live;
    if (!x.exec.invalid.empty()) {
      why = x.exec.invalid;
    } else {
      // Wait for the container: running, and Ready with waitForReady.
      for (;;) {
        auto got = client.get(pods_type(), ns, name);
        bool final = false;
        if (got) {
          check_init(*got, record);
          auto c = hook_container(*got, x.exec.container);
          if (!c) {
            why = c.error().message;
            final = true;
          } else {
            r.container = *c;
            why = not_ready(*got, *c, x.wait_for_ready, final);
            if (why.empty()) {
              live = std::move(*got);
              break;
            }
          }
        } else {
          why = got.error().is(Errc::not_found) ? "pod " + ns + "/" + name + " does not exist" : got.error().message;
        }
        if (final) break;
        if (since(start) >= x.wait_timeout_seconds) {
          why = "waited " + util::human_duration(x.wait_timeout_seconds) + " (waitTimeout): " + why;
          break;
        }
        nap(std::min(o.poll_interval, std::max(0.01, x.wait_timeout_seconds - since(start))));
      }
    }
    if (live) {
      const double waited = since(start);
      HookRecord ran = run_exec_hook(client, *live, x.exec, "exec");
      ran.started = r.started;
      ran.ready_seconds = waited;
      ran.duration_seconds += waited;
      r = std::move(ran);
    } else {
      r.outcome = "failed";
      r.message = why;
      r.duration_seconds = since(start);
    }
    note(r);
    if (r.outcome == "failed" && x.exec.on_error == OnError::fail) {
      stop = true;
      fail = true;
    }
    record.hooks.push_back(std::move(r));
  }
  return fail;
}

json::Value to_json(const PodRecord& r, json::Allocator& a) {
  json::Value o(rapidjson::kObjectType);
  json::set(o, "pod", json::make_string(r.pod, a), a);
  if (r.window) {
    json::Value w(rapidjson::kObjectType);
    json::set(w, "start", json::make_string(r.window->start, a), a);
    json::set(w, "end", json::make_string(r.window->end, a), a);
    json::set(w, "seconds", json::Value(std::round(r.window->seconds * 1000) / 1000), a);
    json::set(w, "cut", json::make_string(r.window->cut, a), a);
    json::Value vols(rapidjson::kArrayType);
    for (const auto& v : r.window->volumes) vols.PushBack(json::make_string(v, a), a);
    json::set(w, "volumes", std::move(vols), a);
    json::set(o, "window", std::move(w), a);
  } else {
    json::set(o, "window", json::Value(), a);
  }
  json::Value hs(rapidjson::kArrayType);
  for (const auto& h : r.hooks) {
    json::Value x(rapidjson::kObjectType);
    json::set(x, "phase", json::make_string(h.phase, a), a);
    json::set(x, "name", json::make_string(h.name, a), a);
    json::set(x, "container", json::make_string(h.container, a), a);
    json::Value cmd(rapidjson::kArrayType);
    for (const auto& c : h.command) cmd.PushBack(json::make_string(redact(c), a), a);
    json::set(x, "command", std::move(cmd), a);
    json::set(x, "outcome", json::make_string(h.outcome, a), a);
    json::set(x, "onError", json::make_string(h.on_error, a), a);
    json::set(x, "exitCode", h.exit_code ? json::Value(*h.exit_code) : json::Value(), a);
    json::set(x, "started", json::make_string(h.started, a), a);
    json::set(x, "durationSeconds", json::Value(std::round(h.duration_seconds * 1000) / 1000), a);
    if (h.phase == "session" || h.phase == "exec")
      json::set(x, "readySeconds", h.ready_seconds >= 0 ? json::Value(std::round(h.ready_seconds * 1000) / 1000) : json::Value(), a);
    json::set(x, "output", json::make_string(h.output, a), a);
    json::set(x, "message", json::make_string(h.message, a), a);
    hs.PushBack(std::move(x), a);
  }
  json::set(o, "hooks", std::move(hs), a);
  return o;
}

json::Document records_to_json(const std::vector<PodRecord>& records) {
  json::Document d;
  if (records.empty()) return d;
  d.SetObject();
  auto& a = d.GetAllocator();
  uint64_t attempted = 0, failed = 0;
  json::Value pods(rapidjson::kArrayType);
  for (const auto& r : records) {
    for (const auto& h : r.hooks) {
      attempted += h.outcome != "skipped";
      failed += h.outcome == "failed";
    }
    pods.PushBack(to_json(r, a), a);
  }
  json::set(d, "attempted", json::Value(attempted), a);
  json::set(d, "failed", json::Value(failed), a);
  json::set(d, "pods", std::move(pods), a);
  return d;
}

}  // namespace kbk::hooks
