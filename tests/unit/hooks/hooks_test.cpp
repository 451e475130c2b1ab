// Hooks: the file reader, which hooks a pod has, and a pod's window run against a fake exec (the order a DBA relies
// on: pre, quiesce, ready, cut, release, post; a timeout releases first).
#include <catch2/catch.hpp>

#include <chrono>
#include <mutex>
#include <thread>

#include <kbk/hooks/run.hpp>
#include <kbk/hooks/spec.hpp>

#include "source_dir.hpp"

using namespace kbk;

namespace {

json::Document pod(const std::string& annotations = "{}", const std::string& labels = R"({"app":"db"})") {
  return *json::parse(R"({"metadata":{"name":"db-0","namespace":"shop","labels":)" + labels +
                      R"(,"annotations":)" + annotations +
                      R"(},"spec":{"containers":[{"name":"db"},{"name":"sidecar"}]},"status":{"phase":"Running"}})");
}

// A client whose exec runs `handler`; every other call is refused.
class ExecClient final : public kube::Client {
public:
  kube::FakeExecHandler handler;
  std::mutex mu;
  std::vector<std::string> events;
  void event(const std::string& e) {
    std::lock_guard l(mu);
    events.push_back(e);
  }
  // Restore hooks read the pod: each GET returns the next of these (the last one again and again).
  std::vector<std::string> pods;
  size_t gets = 0;
  Result<json::Document> get(const kube::ResourceType&, std::string_view, std::string_view, std::string_view) override {
    std::lock_guard l(mu);
    if (pods.empty()) return unexpected(Errc::unsupported, "get");
    const std::string& text = pods[std::min(gets++, pods.size() - 1)];
    if (text.empty()) return unexpected(Errc::not_found, "pods \"db-0\" not found");
    return *json::parse(text);
  }
  Result<void> list(const kube::ResourceType&, std::string_view, const kube::ListOptions&,
                    const std::function<Result<void>(kube::ListPage&)>&) override {
    return unexpected(Errc::unsupported, "list");
  }
  Result<json::Document> create(const kube::ResourceType&, std::string_view, const json::Value&,
                                const kube::WriteOptions&) override {
    return unexpected(Errc::unsupported, "create");
  }
  Result<json::Document> update(const kube::ResourceType&, std::string_view, const json::Value&,
                                const kube::WriteOptions&, std::string_view) override {
    return unexpected(Errc::unsupported, "update");
  }
  Result<json::Document> patch(const kube::ResourceType&, std::string_view, std::string_view, kube::PatchType,
                               std::string_view, const kube::WriteOptions&, std::string_view) override {
    return unexpected(Errc::unsupported, "patch");
  }
  Result<json::Document> remove(const kube::ResourceType&, std::string_view, std::string_view,
                                const kube::DeleteOptions&) override {
    return unexpected(Errc::unsupported, "remove");
  }
  Result<json::Document> request(std::string_view, std::string_view, std::string_view, std::string_view,
                                 std::string_view) override {
    return unexpected(Errc::unsupported, "request");
  }
  Result<std::unique_ptr<kube::ExecSession>> exec(const kube::ExecRequest& r) override {
    return kube::make_fake_exec_session(r, handler);
  }
};

// A database client: "LOCK" takes the lock and prints READY; the lock lasts until stdin ends (the session's end),
// as FLUSH TABLES WITH READ LOCK lasts as long as the mysql client's connection.
Result<int> db_client(ExecClient& c, const kube::ExecRequest& r, kube::FakeExecIo& io, bool print_ready) {
  if (!r.stdin_) {  // an exec hook
    c.event(r.command.back() + " in " + r.container);
    if (r.command.back() == "hang") {
      while (!io.cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return 0;
    }
    (void)io.write_stdout("out of " + r.command.back() + "\n");
    (void)io.write_stderr("password=hunter2\n");
    return r.command.back() == "fail" ? 3 : 0;
  }
  std::string in;
  char buf[256];
  for (;;) {
    auto n = io.read_stdin(buf, sizeof buf);
    if (!n || *n == 0) break;
    in.append(buf, *n);
    if (in.find("LOCK;") != std::string::npos && in.find("locked") == std::string::npos) {
      c.event("locked");
      in += "locked";
      if (print_ready) (void)io.write_stdout("state\nREADY\n");
    }
    if (in.find("UNLOCK;") != std::string::npos && in.find("unlocked") == std::string::npos) {
      c.event("unlocked");
      in += "unlocked";
    }
  }
  c.event("session ended");
  return 0;
}

hooks::PodBackupHooks window_hooks(double session_timeout) {
  hooks::PodBackupHooks h;
  hooks::ExecHook pre;
  pre.name = "f";
  pre.command = {"sh", "-c", "pre"};
  h.pre.push_back(pre);
  hooks::ExecHook post = pre;
  post.command = {"sh", "-c", "post"};
  post.container = "sidecar";
  h.post.push_back(post);
  hooks::SessionHook s;
  s.name = "f";
  s.command = {"mysql"};
  s.quiesce = "LOCK;\n";
  s.ready = "READY";
  s.release = "UNLOCK;\n";
  s.timeout_seconds = session_timeout;
  h.sessions.push_back(s);
  return h;
}

}  // namespace

TEST_CASE("parse reads kbk.io/v1 Hooks and Velero objects, and names every problem with its position") {
  auto f = hooks::parse(R"(apiVersion: kbk.io/v1
kind: Hooks
spec:
  backup:
    resources:
    - name: db
      includedNamespaces: ["sh*"]
      labelSelector: {matchLabels: {app: db}}
      pre: [{exec: {container: db, command: [sh, -c, "sync"], onError: Continue, timeout: 5s}}]
      session: {command: [mysql], quiesce: "LOCK;", ready: "READY", release: "UNLOCK;", timeout: 2m}
  restore:
    resources:
    - name: db
      postHooks:
      - init: {initContainers: [{name: check, image: busybox, command: [ls]}]}
      - exec: {command: [mysql, -e, "START REPLICA"], waitForReady: true, execTimeout: 1m}
)", "h.yaml");
  REQUIRE(f);
  REQUIRE(f->backup.size() == 1);
  CHECK(f->backup[0].pre[0].on_error == hooks::OnError::proceed);
  CHECK(f->backup[0].pre[0].timeout_seconds == 5);
  CHECK(f->backup[0].session->timeout_seconds == 120);
  CHECK(f->backup[0].session->on_error == hooks::OnError::fail);
  REQUIRE(f->restore.size() == 1);
  CHECK(f->restore[0].init_containers.size() == 1);
  CHECK(f->restore[0].exec[0].exec.on_error == hooks::OnError::proceed);  // Velero's restore default
  CHECK(f->restore[0].exec[0].wait_for_ready);
  auto p = pod();
  CHECK(hooks::backup_hooks_for(p, &*f).sessions.size() == 1);
  auto other = pod("{}", R"({"app":"web"})");
  CHECK(hooks::backup_hooks_for(other, &*f).empty());

  auto velero = hooks::parse(R"(apiVersion: velero.io/v1
kind: Backup
metadata: {name: b}
spec:
  includedNamespaces: [shop]
  hooks:
    resources:
    - name: r
      pre: [{exec: {command: [/bin/uname, -a]}}]
)", "b.yaml");
  REQUIRE(velero);
  CHECK(velero->backup[0].pre[0].on_error == hooks::OnError::fail);

  auto bad = hooks::parse(R"(apiVersion: kbk.io/v1
kind: Hooks
spec:
  backup:
    resources:
    - name: db
      pre: [{exec: {command: [a], onError: Maybe, timeout: soon}}]
      session: {command: [m], quiesce: "x", ready: "([", colour: red}
)", "bad.yaml");
  REQUIRE_FALSE(bad);
  std::string all;
  for (const auto& c : bad.error().causes) all += c.message + "\n";
  CHECK(all.find("bad.yaml:7:") != std::string::npos);
  CHECK(all.find("onError must be Fail or Continue") != std::string::npos);
  CHECK(all.find("\"soon\" is not a duration") != std::string::npos);
  CHECK(all.find("is not a regular expression") != std::string::npos);
  CHECK(all.find("unknown field \"colour\"") != std::string::npos);
}

TEST_CASE("backup_hooks_for: annotations win over the file, Velero's command forms, invalid ones fail the hook") {
  auto f = hooks::parse("apiVersion: kbk.io/v1\nkind: Hooks\nspec:\n  backup:\n    resources:\n    - name: all\n"
                        "      post: [{exec: {command: [x]}}]\n",
                        "f.yaml");
  REQUIRE(f);
  auto p = pod(R"({"pre.hook.backup.velero.io/command":"[\"/bin/sh\",\"-c\",\"sync\"]",
                   "pre.hook.backup.velero.io/container":"sidecar","pre.hook.backup.velero.io/on-error":"Continue",
                   "post.hook.backup.velero.io/command":"/bin/true",
                   "session.hook.backup.kbk.io/command":"not json [","session.hook.backup.kbk.io/ready":"x"})");
  auto h = hooks::backup_hooks_for(p, &*f);
  REQUIRE(h.pre.size() == 1);
  CHECK(h.pre[0].command == std::vector<std::string>{"/bin/sh", "-c", "sync"});
  CHECK(h.pre[0].container == "sidecar");
  CHECK(h.pre[0].on_error == hooks::OnError::proceed);
  REQUIRE(h.post.size() == 1);  // the annotation's, not the file's
  CHECK(h.post[0].command == std::vector<std::string>{"/bin/true"});
  REQUIRE(h.sessions.size() == 1);
  CHECK(h.sessions[0].command == std::vector<std::string>{"not json ["});  // one argv element, as Velero
  auto legacy = pod(R"({"hook.backup.velero.io/command":"[\"a\"]","hook.backup.velero.io/timeout":"never"})");
  auto l = hooks::backup_hooks_for(legacy, nullptr);
  REQUIRE(l.pre.size() == 1);
  CHECK(l.pre[0].invalid.find("not a duration") != std::string::npos);
}

TEST_CASE("PodWindow: pre hooks, quiesce held until the cut, release, post hooks; output redacted") {
  ExecClient c;
  c.handler = [&](const kube::ExecRequest& r, kube::FakeExecIo& io) { return db_client(c, r, io, true); };
  hooks::PodWindow w(c, pod(), window_hooks(30), nullptr);
  REQUIRE(w.open());
  c.event("cut");
  CHECK(w.held());
  w.add_volume("shop/data-db-0", "csi-snapshot");
  REQUIRE(w.close());
  CHECK(c.events == std::vector<std::string>{"pre in db", "locked", "cut", "unlocked", "session ended", "post in sidecar"});
  auto rec = w.record();
  REQUIRE(rec.hooks.size() == 3);
  CHECK(rec.hooks[0].phase == "pre");
  CHECK(rec.hooks[0].exit_code == 0);
  CHECK(rec.hooks[0].output.find("out of pre") != std::string::npos);
  CHECK(rec.hooks[0].output.find("hunter2") == std::string::npos);
  CHECK(rec.hooks[1].phase == "session");
  CHECK(rec.hooks[1].outcome == "ok");
  CHECK(rec.hooks[1].ready_seconds >= 0);
  CHECK(rec.hooks[2].container == "sidecar");
  REQUIRE(rec.window);
  CHECK(rec.window->cut == "csi-snapshot");
  CHECK(rec.window->volumes == std::vector<std::string>{"shop/data-db-0"});
  CHECK(w.attempted() == 3);
  CHECK(w.failed() == 0);
}

TEST_CASE("PodWindow: a failing pre hook under Fail stops the rest; post hooks still run") {
  ExecClient c;
  c.handler = [&](const kube::ExecRequest& r, kube::FakeExecIo& io) { return db_client(c, r, io, true); };
  auto h = window_hooks(30);
  h.pre[0].command = {"sh", "-c", "fail"};
  hooks::PodWindow w(c, pod(), h, nullptr);
  auto o = w.open();
  REQUIRE_FALSE(o);
  CHECK(o.error().message.find("exit code 3") != std::string::npos);
  REQUIRE(w.close());
  CHECK(c.events == std::vector<std::string>{"fail in db", "post in sidecar"});
  auto rec = w.record();
  CHECK(rec.hooks[1].outcome == "skipped");
  CHECK(w.failed() == 1);
}

TEST_CASE("PodWindow: a session that never gets ready is released at its timeout and fails the pod") {
  ExecClient c;
  c.handler = [&](const kube::ExecRequest& r, kube::FakeExecIo& io) { return db_client(c, r, io, false); };
  auto h = window_hooks(0.3);
  hooks::PodWindow w(c, pod(), h, nullptr);
  auto o = w.open();
  REQUIRE_FALSE(o);
  CHECK(o.error().message.find("did not match") != std::string::npos);
  {
    std::lock_guard l(c.mu);
    CHECK(c.events == std::vector<std::string>{"pre in db", "locked", "unlocked", "session ended"});
  }
  (void)w.close();
}

TEST_CASE("PodWindow: a session held past its timeout is released before the cut, and the cut says so") {
  ExecClient c;
  c.handler = [&](const kube::ExecRequest& r, kube::FakeExecIo& io) { return db_client(c, r, io, true); };
  hooks::PodWindow w(c, pod(), window_hooks(0.3), nullptr);
  REQUIRE(w.open());
  for (int i = 0; i < 400; ++i) {  // the watchdog releases on its own: wait for its effect, not a duration
    {
      std::lock_guard l(c.mu);
      if (std::find(c.events.begin(), c.events.end(), "session ended") != c.events.end()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto held = w.held();
  REQUIRE_FALSE(held);
  CHECK(held.error().message.find("timed out") != std::string::npos);
  CHECK_FALSE(w.close());
  {
    std::lock_guard l(c.mu);
    CHECK(c.events == std::vector<std::string>{"pre in db", "locked", "unlocked", "session ended", "post in sidecar"});
  }
}

TEST_CASE("run_exec_hook: a container the pod does not have fails the hook without running it") {
  ExecClient c;
  c.handler = [&](const kube::ExecRequest& r, kube::FakeExecIo& io) { return db_client(c, r, io, true); };
  hooks::ExecHook h;
  h.command = {"x"};
  h.container = "nope";
  auto p = pod();
  auto missing = hooks::run_exec_hook(c, p, h, "pre");
  CHECK(missing.outcome == "failed");
  CHECK(missing.message.find("no container nope") != std::string::npos);
  CHECK(c.events.empty());
}

TEST_CASE("load_file reads every template in examples/hooks") {
  for (const char* name : {"mariadb", "mysql", "mysql-replica", "postgresql", "mongodb", "redis", "elasticsearch"}) {
    INFO(name);
    auto f = hooks::load_file(kbk::test::source_path(std::string("examples/hooks/") + name + ".yaml"));
    if (!f)
      for (const auto& c : f.error().causes) UNSCOPED_INFO(c.message);
    REQUIRE(f);
    CHECK(f->backup.size() == 1);
    // Each has its restore side (docs/hooks.md section 6): exec hooks that wait for the restored server.
    REQUIRE(f->restore.size() == 1);
    CHECK_FALSE(f->restore[0].exec.empty());
  }
}

// ---- restore hooks ----------------------------------------------------------------------------------------------

namespace {

// A restored pod in one of its states: phase, its container's state and readiness, and an init container's exit.
std::string live_pod(const std::string& phase, const std::string& state, bool ready, int init_exit = 0) {
  return R"({"metadata":{"name":"db-0","namespace":"copy"},"spec":{"initContainers":[{"name":"recover"}],)"
         R"("containers":[{"name":"db"},{"name":"sidecar"}]},"status":{"phase":")" + phase +
         R"(","initContainerStatuses":[{"name":"recover","state":{"terminated":{"exitCode":)" + std::to_string(init_exit) +
         R"(,"reason":"x"}}}],"containerStatuses":[{"name":"db","ready":)" + (ready ? "true" : "false") +
         R"(,"state":{")" + state + R"(":{}}}]}})";
}

hooks::PodRecord restore_record() {
  hooks::PodRecord r;
  r.pod = "copy/db-0";
  hooks::HookRecord init;
  init.phase = "init";
  init.name = "annotation";
  init.container = "recover";
  init.outcome = "added";
  init.on_error = "Fail";
  r.hooks.push_back(init);
  return r;
}

hooks::RestoreExec restore_exec(const std::string& what, bool ready, hooks::OnError on_error, double wait = 300) {
  hooks::RestoreExec x;
  x.exec.name = "f";
  x.exec.container = "db";
  x.exec.command = {"sh", "-c", what};
  x.exec.on_error = on_error;
  x.wait_for_ready = ready;
  x.wait_timeout_seconds = wait;
  return x;
}

}  // namespace

TEST_CASE("restore_hooks_for: Velero's init and exec annotations, their defaults, and invalid ones") {
  auto p = pod(R"({"init.hook.restore.velero.io/container-image":"busybox",
                   "init.hook.restore.velero.io/command":"[\"sh\",\"-c\",\"recover\"]",
                   "post.hook.restore.velero.io/container":"db",
                   "post.hook.restore.velero.io/command":"[\"mysql\",\"-e\",\"START REPLICA\"]",
                   "post.hook.restore.velero.io/on-error":"Fail",
                   "post.hook.restore.velero.io/exec-timeout":"1m",
                   "post.hook.restore.velero.io/wait-timeout":"2m",
                   "post.hook.restore.velero.io/wait-for-ready":"true"})");
  auto h = hooks::restore_hooks_for(p, "shop", "copy", nullptr);
  REQUIRE(h.init_containers.size() == 1);
  CHECK(json::get_string(h.init_containers[0].container, {"name"}) == "restore-init-db-0");  // the default name
  CHECK(json::get_string(h.init_containers[0].container, {"image"}) == "busybox");
  CHECK(json::to_string(*json::find(h.init_containers[0].container, "command")) == R"(["sh","-c","recover"])");
  REQUIRE(h.exec.size() == 1);
  CHECK(h.exec[0].exec.container == "db");
  CHECK(h.exec[0].exec.command == std::vector<std::string>{"mysql", "-e", "START REPLICA"});
  CHECK(h.exec[0].exec.on_error == hooks::OnError::fail);
  CHECK(h.exec[0].exec.timeout_seconds == 60);
  CHECK(h.exec[0].wait_timeout_seconds == 120);
  CHECK(h.exec[0].wait_for_ready);
  CHECK(h.exec[0].exec.invalid.empty());

  // Velero's defaults: onError Continue, 30s exec timeout, not waiting for readiness; a single-word command.
  auto d = hooks::restore_hooks_for(pod(R"({"post.hook.restore.velero.io/command":"/bin/true"})"), "shop", "shop", nullptr);
  REQUIRE(d.exec.size() == 1);
  CHECK(d.exec[0].exec.on_error == hooks::OnError::proceed);
  CHECK(d.exec[0].exec.timeout_seconds == 30);
  CHECK_FALSE(d.exec[0].wait_for_ready);
  CHECK(d.exec[0].exec.command == std::vector<std::string>{"/bin/true"});

  // An init command that does not parse adds no container (it would run the image's entrypoint instead): a problem.
  auto bad = hooks::restore_hooks_for(pod(R"({"init.hook.restore.velero.io/container-image":"busybox",
                                             "init.hook.restore.velero.io/command":"[\"sh\", 3]",
                                             "post.hook.restore.velero.io/command":"true",
                                             "post.hook.restore.velero.io/wait-for-ready":"yes"})"),
                                      "shop", "shop", nullptr);
  CHECK(bad.init_containers.empty());
  REQUIRE(bad.problems.size() == 1);
  CHECK(bad.problems[0].find("init.hook.restore.velero.io/command") != std::string::npos);
  REQUIRE(bad.exec.size() == 1);
  CHECK(bad.exec[0].exec.invalid.find("wait-for-ready") != std::string::npos);
}

TEST_CASE("restore_hooks_for: file entries match the source or the target namespace; annotations replace them") {
  auto f = hooks::parse(R"(apiVersion: kbk.io/v1
kind: Hooks
spec:
  restore:
    resources:
    - name: by-source
      includedNamespaces: [shop]
      labelSelector: {matchLabels: {app: db}}
      postHooks:
      - init: {initContainers: [{name: check, image: busybox, command: [ls]}]}
      - exec: {container: db, command: [recover]}
    - name: by-target
      includedNamespaces: [copy]
      postHooks:
      - exec: {command: [reset], onError: Fail}
    - name: not-there
      excludedNamespaces: [copy]
      postHooks:
      - exec: {command: [never]}
)", "r.yaml");
  REQUIRE(f);
  auto p = pod();
  auto h = hooks::restore_hooks_for(p, "shop", "copy", &*f);
  REQUIRE(h.init_containers.size() == 1);
  CHECK(h.init_containers[0].name == "by-source");
  REQUIRE(h.exec.size() == 2);
  CHECK(h.exec[0].exec.command == std::vector<std::string>{"recover"});
  CHECK(h.exec[1].exec.command == std::vector<std::string>{"reset"});
  CHECK(h.exec[1].exec.on_error == hooks::OnError::fail);
  // Another pod's labels: only the entries without a selector.
  auto web = pod("{}", R"({"app":"web"})");
  CHECK(hooks::restore_hooks_for(web, "shop", "copy", &*f).exec.size() == 1);
  // Restored in place, the excluded-namespace entry applies.
  CHECK(hooks::restore_hooks_for(p, "shop", "shop", &*f).exec.size() == 2);
  // An exec annotation replaces the file's exec hooks; the file's init containers stay.
  auto annotated = pod(R"({"post.hook.restore.velero.io/command":"mine"})");
  auto a = hooks::restore_hooks_for(annotated, "shop", "copy", &*f);
  REQUIRE(a.exec.size() == 1);
  CHECK(a.exec[0].exec.command == std::vector<std::string>{"mine"});
  CHECK(a.init_containers.size() == 1);
}

TEST_CASE("run_restore_hooks: waits until the container is ready, runs the hook, reads the init container's exit") {
  ExecClient c;
  c.pods = {"", live_pod("Pending", "waiting", false), live_pod("Running", "running", false),
            live_pod("Running", "running", true)};
  c.handler = [&](const kube::ExecRequest& r, kube::FakeExecIo& io) { return db_client(c, r, io, false); };
  std::vector<double> slept;
  hooks::RestoreRunOptions o;
  o.sleep = [&](double s) { slept.push_back(s); };
  auto rec = restore_record();
  const bool failed = hooks::run_restore_hooks(c, "copy", "db-0", {restore_exec("recover", true, hooks::OnError::fail)}, rec, o);
  CHECK_FALSE(failed);
  CHECK(c.gets == 4);  // absent, Pending, running but not ready, ready
  CHECK(slept.size() == 3);
  REQUIRE(rec.hooks.size() == 2);
  CHECK(rec.hooks[0].outcome == "ok");  // the init container ended with 0
  CHECK(rec.hooks[0].exit_code == 0);
  CHECK(rec.hooks[1].phase == "exec");
  CHECK(rec.hooks[1].outcome == "ok");
  CHECK(rec.hooks[1].exit_code == 0);
  CHECK(rec.hooks[1].ready_seconds >= 0);
  CHECK(rec.hooks[1].output.find("out of recover") != std::string::npos);
  CHECK(rec.hooks[1].output.find("hunter2") == std::string::npos);
  CHECK(c.events == std::vector<std::string>{"recover in db"});

  // Without waitForReady, running is enough.
  ExecClient c2;
  c2.pods = {live_pod("Running", "running", false)};
  c2.handler = [&](const kube::ExecRequest& r, kube::FakeExecIo& io) { return db_client(c2, r, io, false); };
  auto rec2 = restore_record();
  CHECK_FALSE(hooks::run_restore_hooks(c2, "copy", "db-0", {restore_exec("recover", false, hooks::OnError::fail)}, rec2, o));
  CHECK(c2.gets == 1);
  CHECK(rec2.hooks[1].outcome == "ok");
}

TEST_CASE("run_restore_hooks: a pod that never runs fails the hook at its waitTimeout, naming the init container") {
  ExecClient c;
  c.pods = {live_pod("Pending", "waiting", false, 3)};
  c.handler = [&](const kube::ExecRequest& r, kube::FakeExecIo& io) { return db_client(c, r, io, false); };
  hooks::RestoreRunOptions o;
  o.poll_interval = 0.01;
  auto rec = restore_record();
  const bool failed = hooks::run_restore_hooks(
      c, "copy", "db-0",
      {restore_exec("recover", true, hooks::OnError::fail, 0.05), restore_exec("after", false, hooks::OnError::proceed)},
      rec, o);
  CHECK(failed);
  REQUIRE(rec.hooks.size() == 3);
  CHECK(rec.hooks[0].outcome == "failed");
  CHECK(rec.hooks[0].exit_code == 3);
  CHECK(rec.hooks[1].outcome == "failed");
  CHECK(rec.hooks[1].message.find("waitTimeout") != std::string::npos);
  CHECK(rec.hooks[1].message.find("init container recover exited with code 3") != std::string::npos);
  CHECK(rec.hooks[2].outcome == "skipped");  // onError Fail stops the pod's remaining hooks
  CHECK(c.events.empty());                   // nothing ran in the pod
}

TEST_CASE("run_restore_hooks: a failing hook under Continue does not stop the next; an ended pod is not waited for") {
  ExecClient c;
  c.pods = {live_pod("Running", "running", true)};
  c.handler = [&](const kube::ExecRequest& r, kube::FakeExecIo& io) { return db_client(c, r, io, false); };
  hooks::RestoreRunOptions o;
  auto rec = restore_record();
  CHECK_FALSE(hooks::run_restore_hooks(
      c, "copy", "db-0", {restore_exec("fail", false, hooks::OnError::proceed), restore_exec("after", false, hooks::OnError::fail)},
      rec, o));
  REQUIRE(rec.hooks.size() == 3);
  CHECK(rec.hooks[1].outcome == "failed");
  CHECK(rec.hooks[1].exit_code == 3);
  CHECK(rec.hooks[2].outcome == "ok");

  ExecClient done;
  done.pods = {live_pod("Succeeded", "terminated", false)};
  auto rec2 = restore_record();
  CHECK(hooks::run_restore_hooks(done, "copy", "db-0", {restore_exec("x", false, hooks::OnError::fail)}, rec2, o));
  CHECK(done.gets == 1);
  CHECK(rec2.hooks[1].message == "the pod is Succeeded");
}
