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
  Result<json::Document> get(const kube::ResourceType&, std::string_view, std::string_view, std::string_view) override {
    return unexpected(Errc::unsupported, "get");
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
  }
}
