"""pods/exec over WebSocket: framing, status channel, stdin close, sandbox volumes. In-process: the real store and
controllers with a bare HTTP server routing .../exec to ksim.exec_ws (the kubectl/Python-client checks against the
full kubesim are in test_exec_e2e.py)."""
import http.server
import io
import json
import os
import tarfile
import threading
import time
import unittest
from urllib.parse import urlparse, parse_qs

from ctrl_harness import Cluster
from ksim import exec_ws
from ws_client import exec_ws as run_exec

NS = "default"


def serve(cluster):
    store = cluster.store

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            u = urlparse(self.path)
            parts = u.path.strip("/").split("/")
            # /api/v1/namespaces/NS/pods/NAME/exec
            pod = store.get("", "pods", parts[3], parts[5])
            if pod is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            q = parse_qs(u.query)
            if parts[6] == "exec":
                exec_ws.handle_exec(self, store, pod, q)
            else:
                exec_ws.handle_log(self, store, pod, q)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, "http://127.0.0.1:%d" % srv.server_address[1]


class ExecBase(unittest.TestCase):
    profile = "1.30"

    @classmethod
    def setUpClass(cls):
        cls.c = Cluster(cls.profile)
        c = cls.c
        c.create("storage.k8s.io", "storageclasses", {"metadata": {"name": "csi"},
                                                      "provisioner": "kubesim.csi.k8s.io"})
        c.create("", "persistentvolumeclaims", {"metadata": {"name": "data", "namespace": NS},
                                                "spec": {"storageClassName": "csi", "accessModes": ["ReadWriteOnce"],
                                                         "resources": {"requests": {"storage": "1Gi"}}}})
        c.create("", "configmaps", {"metadata": {"name": "conf", "namespace": NS},
                                    "data": {"app.conf": "mode=test\n"}})
        c.create("", "pods", {"metadata": {"name": "box", "namespace": NS, "labels": {"app": "box"}},
                              "spec": {"containers": [
                                  {"name": "main", "image": "busybox", "env": [{"name": "GREETING", "value": "hi"}],
                                   "volumeMounts": [{"name": "data", "mountPath": "/data"},
                                                    {"name": "scratch", "mountPath": "/scratch"},
                                                    {"name": "conf", "mountPath": "/etc/app"}]},
                                  {"name": "side", "image": "busybox",
                                   "volumeMounts": [{"name": "scratch", "mountPath": "/shared"}]}],
                                  "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                                              {"name": "scratch", "emptyDir": {}},
                                              {"name": "conf", "configMap": {"name": "conf"}}]}})
        c.wait(lambda: (c.get("", "pods", NS, "box").get("status") or {}).get("phase") == "Running",
               what="pod running")
        cls.srv, cls.url = serve(c)

    @classmethod
    def tearDownClass(cls):
        cls.srv.shutdown()
        cls.srv.server_close()
        cls.c.close()

    def ex(self, cmd, container="main", **kw):
        kw.setdefault("protocols", ("v5.channel.k8s.io",))
        return run_exec(self.url, NS, "box", cmd, container=container, **kw)


class TestExecV5(ExecBase):
    def test_echo_success(self):
        r = self.ex(["sh", "-c", "echo $GREETING; echo oops >&2; hostname"])
        self.assertEqual(r.status_code, 101)
        self.assertEqual(r.protocol, "v5.channel.k8s.io")
        self.assertEqual(r.messages[0], b"\x01")  # empty message on the lowest writable channel first
        self.assertEqual(r.out(1), b"hi\nbox\n")
        self.assertEqual(r.out(2), b"oops\n")
        self.assertEqual(r.status, {"metadata": {}, "status": "Success"})
        self.assertEqual(r.close_code, 1000)

    def test_exit_code(self):
        r = self.ex(["sh", "-c", "exit 3"])
        self.assertEqual(r.status, {"metadata": {}, "status": "Failure",
                                    "message": "command terminated with non-zero exit code: command terminated "
                                               "with exit code 3",
                                    "reason": "NonZeroExitCode",
                                    "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}})

    def test_stdin_and_close(self):
        r = self.ex(["cat"], stdin_data=b"hello\n" * 1000, chunk=777)
        self.assertEqual(r.out(1), b"hello\n" * 1000)
        self.assertEqual(r.status["status"], "Success")

    def test_volumes_visible_and_shared(self):
        r = self.ex(["sh", "-c", "echo payload > /data/f.txt && echo s > /scratch/s && cat /etc/app/app.conf"])
        self.assertEqual(r.out(1), b"mode=test\n")
        pvc = self.c.get("", "persistentvolumeclaims", NS, "data")
        pv = self.c.get("", "persistentvolumes", None, pvc["spec"]["volumeName"])
        with open(os.path.join(self.c.dir, "volumes", pv["spec"]["csi"]["volumeHandle"], "f.txt")) as f:
            self.assertEqual(f.read(), "payload\n")
        r = self.ex(["cat", "/shared/s"], container="side")
        self.assertEqual(r.out(1), b"s\n")
        r = self.ex(["sh", "-c", "echo x > /etc/app/new"])
        self.assertNotEqual(r.status["status"], "Success")  # configMap volumes are read-only

    def test_first_execs_at_once_all_get_the_sandbox(self):
        """Execs that come together into a kubesim that has not yet probed bubblewrap all wait for the probe: none
        runs on the host, where a command's own /data (a mover reading its start frame, not argv) is the host's."""
        if exec_ws.sandbox_flags() is None:
            self.skipTest("bubblewrap cannot sandbox here")
        saved = dict(exec_ws._SANDBOX)
        exec_ws._SANDBOX.update(checked=False, flags=None)
        results = [None] * 6
        script = "grep -q ' /data ' /proc/self/mountinfo && cat /data/probe.txt || echo not-mounted"
        self.ex(["sh", "-c", "echo in-volume > /data/probe.txt"])

        def one(i):
            results[i] = self.ex(["sh", "-c", script]).out(1)
        try:
            exec_ws._SANDBOX.update(checked=False, flags=None)
            threads = [threading.Thread(target=one, args=(i,)) for i in range(len(results))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            exec_ws._SANDBOX.update(saved)
        self.assertEqual(results, [b"in-volume\n"] * len(results))

    def test_tmp_persists_between_execs(self):
        self.ex(["sh", "-c", "echo keep > /tmp/k"])
        self.assertEqual(self.ex(["cat", "/tmp/k"]).out(1), b"keep\n")
        self.assertEqual(self.ex(["cat", "/tmp/k"], container="side").status["reason"], "NonZeroExitCode")

    def test_tar_in_and_out(self):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            data = os.urandom(70000)
            ti = tarfile.TarInfo("dir/blob.bin")
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
        r = self.ex(["tar", "-xmf", "-", "-C", "/data"], stdin_data=buf.getvalue(), chunk=4096)
        self.assertEqual(r.status["status"], "Success", r.out(2))
        r = self.ex(["tar", "cf", "-", "-C", "/data", "dir"])
        self.assertEqual(r.status["status"], "Success")
        with tarfile.open(fileobj=io.BytesIO(r.out(1))) as t:
            self.assertEqual(t.extractfile("dir/blob.bin").read(), data)

    def test_command_not_found(self):
        r = self.ex(["no-such-binary"])
        self.assertEqual(r.status["reason"], "InternalError")
        self.assertIn('exec: "no-such-binary": executable file not found in $PATH', r.status["message"])

    def test_bad_container(self):
        r = self.ex(["true"], container="nope")
        self.assertEqual(r.status_code, 400)
        self.assertEqual(json.loads(r.body)["message"], "container nope is not valid for pod box")

    def test_v4_also_offered(self):
        r = self.ex(["echo", "v4"], protocols=("v4.channel.k8s.io",))
        self.assertEqual(r.protocol, "v4.channel.k8s.io")
        self.assertEqual(r.out(1), b"v4\n")


class TestExecPodDeleted(unittest.TestCase):
    def test_exec_ends_when_pod_deleted(self):
        c = Cluster()
        srv, url = serve(c)
        try:
            c.create("", "pods", {"metadata": {"name": "short", "namespace": NS},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
            c.wait(lambda: (c.get("", "pods", NS, "short").get("status") or {}).get("phase") == "Running",
                   what="running")
            threading.Timer(0.5, lambda: c.store.delete("", "pods", NS, "short")).start()
            t0 = time.time()
            r = run_exec(url, NS, "short", ["sleep", "30"], container="c")
            self.assertLess(time.time() - t0, 10)
            self.assertEqual(r.status["details"]["causes"][0]["message"], "137")
        finally:
            srv.shutdown()
            srv.server_close()
            c.close()


class TestExecWithoutSandbox(ExecBase):
    """The degraded mode used where bubblewrap cannot create namespaces: paths rewritten, no isolation."""

    def setUp(self):
        os.environ["KUBESIM_EXEC_SANDBOX"] = "none"

    def tearDown(self):
        os.environ.pop("KUBESIM_EXEC_SANDBOX", None)

    def test_paths_rewritten(self):
        r = self.ex(["sh", "-c", "echo fb > /data/fb.txt; cat /etc/app/app.conf /data/fb.txt; echo $GREETING"])
        self.assertEqual(r.out(1), b"mode=test\nfb\nhi\n")
        self.assertEqual(r.status["status"], "Success")
        r = self.ex(["tar", "cf", "-", "-C", "/data", "fb.txt"])
        with tarfile.open(fileobj=io.BytesIO(r.out(1))) as t:
            self.assertEqual(t.extractfile("fb.txt").read(), b"fb\n")


class TestExec121(ExecBase):
    profile = "1.21"

    def test_v5_not_negotiated(self):
        r = self.ex(["echo", "x"], protocols=("v5.channel.k8s.io", "v4.channel.k8s.io"))
        self.assertEqual(r.protocol, "v4.channel.k8s.io")
        self.assertEqual(r.out(1), b"x\n")

    def test_only_v5_offered_fails(self):
        r = self.ex(["echo", "x"], protocols=("v5.channel.k8s.io",))
        self.assertEqual(r.status_code, 400)


if __name__ == "__main__":
    unittest.main()
