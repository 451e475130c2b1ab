"""pods/exec end to end: kubectl exec / cp (WebSocket v5, 1.30 profile) and Debian's python3-kubernetes stream
(v4, both profiles), with the commands really running in the pod's bubblewrap sandbox."""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import uuid

from ctrl_launch import KubeSim, have_debian_kubernetes

KS = None
NS = None
KUBECTL_DIR = "/usr/lib/google-cloud-sdk/bin"


def setUpModule():
    global KS, NS
    KS = KubeSim()
    NS = "exec-" + uuid.uuid4().hex[:6]
    KS.kubectl("create", "namespace", NS)
    KS.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": NS},
              "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    KS.kubectl("-n", NS, "create", "configmap", "conf", "--from-literal=greeting=hello from configmap")
    KS.kubectl("-n", NS, "create", "secret", "generic", "cred", "--from-literal=password=s3cr3t")
    KS.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", "namespace": NS},
              "spec": {"containers": [
                  {"name": "main", "image": "busybox", "command": ["sleep", "infinity"],
                   "env": [{"name": "MODE", "value": "e2e"},
                           {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "cred", "key": "password"}}}],
                   "volumeMounts": [{"name": "data", "mountPath": "/data"},
                                    {"name": "conf", "mountPath": "/etc/conf"},
                                    {"name": "cred", "mountPath": "/var/run/cred", "readOnly": True},
                                    {"name": "cache", "mountPath": "/cache"}]},
                  {"name": "sidecar", "image": "busybox", "command": ["sleep", "infinity"],
                   "volumeMounts": [{"name": "cache", "mountPath": "/cache"}]}],
                  "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                              {"name": "conf", "configMap": {"name": "conf"}},
                              {"name": "cred", "secret": {"secretName": "cred"}},
                              {"name": "cache", "emptyDir": {}}]}})
    KS.kubectl("-n", NS, "wait", "--for=condition=Ready", "pod/app", "--timeout=30s")


def tearDownModule():
    KS.kubectl("delete", "namespace", NS, "--wait=false", check=False)
    KS.close()


def kx(*args, **kw):
    return KS.kubectl("-n", NS, *args, **kw)


class TestKubectlExec(unittest.TestCase):
    def test_exec_stdout_env_and_volumes(self):
        p = kx("exec", "app", "-c", "main", "--", "sh", "-c",
               "echo $MODE $PASSWORD; cat /etc/conf/greeting; echo; cat /var/run/cred/password; echo; hostname")
        self.assertEqual(p.stdout.decode(), "e2e s3cr3t\nhello from configmap\ns3cr3t\napp\n")

    def test_exit_code(self):
        p = kx("exec", "app", "-c", "main", "--", "sh", "-c", "echo out; echo err >&2; exit 7", check=False)
        self.assertEqual(p.returncode, 7)
        self.assertEqual(p.stdout, b"out\n")
        self.assertIn(b"err\n", p.stderr)
        self.assertIn(b"command terminated with exit code 7", p.stderr)

    def test_stdin(self):
        data = os.urandom(300000)
        p = kx("exec", "-i", "app", "-c", "main", "--", "sha256sum", stdin=data)
        self.assertEqual(p.stdout.decode().split()[0], hashlib.sha256(data).hexdigest())

    def test_default_container_and_shared_emptydir(self):
        kx("exec", "app", "-c", "main", "--", "sh", "-c", "echo shared > /cache/x")
        p = kx("exec", "app", "-c", "sidecar", "--", "cat", "/cache/x")
        self.assertEqual(p.stdout, b"shared\n")

    def test_exec_cut_fault(self):
        """exec-cut: the stream breaks mid-transfer, in either direction; the client sees an error, not less data."""
        spec = os.path.join(KS.state_dir, "cut.spec")
        with open(spec, "w") as f:
            f.write("exec-cut=200000,times=2")
        KS.kubectl("create", "--raw", "/kubesim/v1/faults", "-f", spec)
        try:
            p = kx("exec", "app", "-c", "main", "--", "head", "-c", "3000000", "/dev/zero", check=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertLess(len(p.stdout), 3000000)
            p = kx("exec", "-i", "app", "-c", "main", "--", "sha256sum", stdin=os.urandom(3000000), check=False)
            self.assertNotEqual(p.returncode, 0)
            p = kx("exec", "app", "-c", "main", "--", "head", "-c", "3000000", "/dev/zero")  # times=2: spent
            self.assertEqual(len(p.stdout), 3000000)
        finally:
            KS.kubectl("delete", "--raw", "/kubesim/v1/faults")

    def test_readonly_secret_volume(self):
        p = kx("exec", "app", "-c", "main", "--", "sh", "-c", "echo x > /var/run/cred/new", check=False)
        self.assertNotEqual(p.returncode, 0)

    def test_unknown_command(self):
        p = kx("exec", "app", "-c", "main", "--", "definitely-not-here", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b'executable file not found in $PATH', p.stderr)

    def test_bad_container(self):
        p = kx("exec", "app", "-c", "nope", "--", "true", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"nope", p.stderr)

    def test_cp_file_and_directory_both_ways(self):
        tmp = tempfile.mkdtemp(prefix="ksim-cp-")
        try:
            src = os.path.join(tmp, "f.bin")
            payload = os.urandom(123457)
            with open(src, "wb") as f:
                f.write(payload)
            kx("cp", src, "app:/data/f.bin", "-c", "main")
            p = kx("exec", "app", "-c", "main", "--", "sha256sum", "/data/f.bin")
            self.assertEqual(p.stdout.decode().split()[0], hashlib.sha256(payload).hexdigest())
            back = os.path.join(tmp, "back.bin")
            kx("cp", "app:/data/f.bin", back, "-c", "main")
            with open(back, "rb") as f:
                self.assertEqual(f.read(), payload)
            d = os.path.join(tmp, "tree")
            os.makedirs(os.path.join(d, "sub"))
            with open(os.path.join(d, "sub", "a.txt"), "w") as f:
                f.write("A\n")
            kx("cp", d, "app:/tmp/tree", "-c", "main")
            self.assertEqual(kx("exec", "app", "-c", "main", "--", "cat", "/tmp/tree/sub/a.txt").stdout, b"A\n")
            out = os.path.join(tmp, "out")
            kx("cp", "app:/tmp/tree", out, "-c", "main")
            with open(os.path.join(out, "sub", "a.txt")) as f:
                self.assertEqual(f.read(), "A\n")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_tar_stream_through_exec(self):
        tmp = tempfile.mkdtemp(prefix="ksim-tar-")
        try:
            os.makedirs(os.path.join(tmp, "in"))
            with open(os.path.join(tmp, "in", "x.txt"), "w") as f:
                f.write("xyz\n")
            tarball = subprocess.run(["tar", "cf", "-", "-C", tmp, "in"], capture_output=True, check=True).stdout
            kx("exec", "-i", "app", "-c", "main", "--", "tar", "xf", "-", "-C", "/data", stdin=tarball)
            p = kx("exec", "app", "-c", "main", "--", "tar", "cf", "-", "-C", "/data", "in")
            listing = subprocess.run(["tar", "tf", "-"], input=p.stdout, capture_output=True, check=True).stdout
            self.assertIn(b"in/x.txt", listing)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_newest_kubectl(self):
        k133 = os.path.join(KUBECTL_DIR, "kubectl.1.33")
        if not os.path.exists(k133):
            self.skipTest("kubectl 1.33 not installed")
        p = KS.kubectl("-n", NS, "exec", "app", "-c", "main", "--", "echo", "1.33", kubectl=k133)
        self.assertEqual(p.stdout, b"1.33\n")


def _privileged_sandbox():
    return os.geteuid() == 0 and os.environ.get("KUBESIM_EXEC_SANDBOX") != "none" and shutil.which("bwrap")


@unittest.skipUnless(_privileged_sandbox(), "needs kubesim as root with bubblewrap (no user namespace)")
class TestKubeletRuns(unittest.TestCase):
    """The kubelet's part that runs commands: init containers before the pod starts, exec readiness probes."""

    def test_init_containers_run_in_order_with_the_pods_volumes(self):
        KS.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "inits", "namespace": NS},
                  "spec": {"initContainers": [
                      {"name": "first", "image": "busybox", "command": ["sh", "-c", "echo one > /work/log"],
                       "volumeMounts": [{"name": "work", "mountPath": "/work"}]},
                      {"name": "second", "image": "busybox", "command": ["sh", "-c", "echo two >> /work/log"],
                       "volumeMounts": [{"name": "work", "mountPath": "/work"}]}],
                      "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "infinity"],
                                      "volumeMounts": [{"name": "work", "mountPath": "/work"}]}],
                      "volumes": [{"name": "work", "emptyDir": {}}]}})
        kx("wait", "--for=condition=Ready", "pod/inits", "--timeout=30s")
        self.assertEqual(kx("exec", "inits", "--", "cat", "/work/log").stdout, b"one\ntwo\n")
        pod = KS.get_json("-n", NS, "pod", "inits")
        ics = pod["status"]["initContainerStatuses"]
        self.assertEqual([c["state"]["terminated"]["exitCode"] for c in ics], [0, 0])
        self.assertEqual(next(c for c in pod["status"]["conditions"] if c["type"] == "Initialized")["status"], "True")

    def test_failing_init_container_keeps_the_pod_pending(self):
        KS.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "badinit", "namespace": NS},
                  "spec": {"initContainers": [{"name": "check", "image": "busybox", "command": ["sh", "-c", "exit 3"]}],
                           "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "infinity"]}]}})

        def failed():
            pod = KS.get_json("-n", NS, "pod", "badinit") or {}
            ics = (pod.get("status") or {}).get("initContainerStatuses") or [{}]
            last = ics[0].get("lastState", {}).get("terminated") or ics[0].get("state", {}).get("terminated") or {}
            return last.get("exitCode") == 3
        KS.wait(failed, what="the init container's exit code 3")
        pod = KS.get_json("-n", NS, "pod", "badinit")
        self.assertEqual(pod["status"]["phase"], "Pending")
        init = next(c for c in pod["status"]["conditions"] if c["type"] == "Initialized")
        self.assertEqual((init["status"], init["reason"]), ("False", "ContainersNotInitialized"))
        self.assertEqual(pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"], "PodInitializing")
        # The STATUS column as the API server's printer computes it from those states.
        out = kx("get", "pod", "badinit", "--no-headers").stdout.decode().split()
        self.assertIn(out[2], ("Init:Error", "Init:CrashLoopBackOff", "Init:0/1"))
        self.assertEqual(out[1], "0/1")
        p = kx("wait", "--for=condition=Ready", "pod/badinit", "--timeout=2s", check=False)
        self.assertNotEqual(p.returncode, 0)

    def test_exec_readiness_probe(self):
        KS.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probed", "namespace": NS},
                  "spec": {"containers": [{"name": "main", "image": "busybox", "command": ["sleep", "infinity"],
                                           "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]},
                                                              "periodSeconds": 1, "failureThreshold": 1}}]}})
        KS.wait(lambda: (KS.get_json("-n", NS, "pod", "probed") or {}).get("status", {}).get("phase") == "Running",
                what="running")
        pod = KS.get_json("-n", NS, "pod", "probed")
        self.assertFalse(pod["status"]["containerStatuses"][0]["ready"])
        self.assertNotEqual(kx("wait", "--for=condition=Ready", "pod/probed", "--timeout=3s", check=False).returncode, 0)
        kx("exec", "probed", "--", "touch", "/tmp/ready")
        kx("wait", "--for=condition=Ready", "pod/probed", "--timeout=20s")
        self.assertEqual(kx("get", "pod", "probed", "--no-headers").stdout.decode().split()[1], "1/1")
        kx("exec", "probed", "--", "rm", "/tmp/ready")
        kx("wait", "--for=condition=Ready=false", "pod/probed", "--timeout=20s")


class TestExecIdentity(unittest.TestCase):
    """Owners and ids in the sandbox: any uid/gid can own files, and commands run as securityContext says."""

    @classmethod
    def setUpClass(cls):
        KS.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ids", "namespace": NS},
                  "spec": {"securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "supplementalGroups": [4000],
                                               "fsGroup": 2000},
                           "containers": [
                               {"name": "main", "image": "busybox", "command": ["sleep", "infinity"],
                                "volumeMounts": [{"name": "work", "mountPath": "/work"}]},
                               {"name": "other", "image": "busybox", "command": ["sleep", "infinity"],
                                "securityContext": {"runAsUser": 1500, "allowPrivilegeEscalation": False}}],
                           "volumes": [{"name": "work", "emptyDir": {}}]}})
        KS.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nocaps", "namespace": NS},
                  "spec": {"containers": [{"name": "main", "image": "busybox", "command": ["sleep", "infinity"],
                                           "securityContext": {"capabilities": {"drop": ["ALL"]}}}]}})
        # What volume helper pods look like: a restricted-profile user (no capability at all) and a root reader
        # keeping only CAP_DAC_OVERRIDE, both with no_new_privs.
        KS.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "restricted", "namespace": NS},
                  "spec": {"securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000,
                                               "seccompProfile": {"type": "RuntimeDefault"}},
                           "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "infinity"],
                                           "securityContext": {"allowPrivilegeEscalation": False,
                                                               "capabilities": {"drop": ["ALL"]}}}]}})
        KS.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reader", "namespace": NS},
                  "spec": {"containers": [{"name": "main", "image": "busybox", "command": ["sleep", "infinity"],
                                           "securityContext": {"allowPrivilegeEscalation": False,
                                                               "capabilities": {"drop": ["ALL"],
                                                                                "add": ["DAC_OVERRIDE"]}}}]}})
        kx("wait", "--for=condition=Ready", "pod/ids", "pod/nocaps", "pod/restricted", "pod/reader", "--timeout=30s")

    def test_root_chowns_to_any_id(self):
        p = kx("exec", "app", "-c", "main", "--", "sh", "-c",
               "touch /data/owned && chown 1234:5678 /data/owned && stat -c %u:%g /data/owned")
        self.assertEqual(p.stdout.decode().strip(), "1234:5678")
        # tar keeps owners too (what a volume restore relies on)
        p = kx("exec", "app", "-c", "main", "--", "sh", "-c",
               "cd /tmp && mkdir -p t && touch t/a && chown 4321:8765 t/a && tar cf t.tar t && rm -r t && "
               "tar xpf t.tar && stat -c %u:%g t/a")
        self.assertEqual(p.stdout.decode().strip(), "4321:8765")

    def test_run_as_user_group_and_supplemental_groups(self):
        p = kx("exec", "ids", "-c", "main", "--", "sh", "-c", "id -u; id -g; id -G")
        uid, gid, groups = p.stdout.decode().split("\n")[:3]
        self.assertEqual((uid, gid), ("1000", "3000"))
        self.assertEqual(set(groups.split()), {"3000", "2000", "4000"})

    def test_container_security_context_wins(self):
        p = kx("exec", "ids", "-c", "other", "--", "sh", "-c", "id -u; grep NoNewPrivs /proc/self/status")
        lines = p.stdout.decode().split("\n")
        self.assertEqual(lines[0], "1500")
        self.assertIn("NoNewPrivs:\t1", lines[1])

    @unittest.skipUnless(have_debian_kubernetes(), "Debian's python3-kubernetes is not installed")
    def test_python_client_stream_runs_as_the_pod_user(self):
        out = KS.python("print(stream(api.connect_get_namespaced_pod_exec, 'ids', %r, container='main', "
                        "command=['sh', '-c', 'id -u; id -g'], stderr=True, stdin=False, stdout=True, tty=False))"
                        % NS)
        self.assertEqual(out.split(), ["1000", "3000"])

    def test_fs_group_owns_the_volume(self):
        p = kx("exec", "ids", "-c", "main", "--", "sh", "-c",
               "stat -c '%g %A' /work; touch /work/new && stat -c %u:%g /work/new")
        root, new = p.stdout.decode().split("\n")[:2]
        gid, mode = root.split()
        self.assertEqual(gid, "2000")
        self.assertEqual(mode[6], "s")   # setgid, so new files join the group
        self.assertEqual(new, "1000:2000")

    def test_restricted_user_without_capabilities_runs(self):
        # Groups are set before capabilities are dropped, as a runtime does: drop ALL does not break setgroups.
        p = kx("exec", "restricted", "--", "sh", "-c", "id -u; id -G; grep -E 'CapEff|NoNewPrivs' /proc/self/status")
        lines = p.stdout.decode().split("\n")
        self.assertEqual(lines[0:2], ["1000", "1000"])
        self.assertIn("CapEff:\t0000000000000000", lines[2])
        self.assertIn("NoNewPrivs:\t1", lines[3])

    def test_root_with_only_dac_override_reads_but_cannot_chown(self):
        p = kx("exec", "reader", "--", "sh", "-c",
               "grep CapEff /proc/self/status; echo s > /tmp/secret; chown 7:7 /tmp/secret", check=False)
        self.assertIn("CapEff:\t0000000000000002", p.stdout.decode())   # CAP_DAC_OVERRIDE alone
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("Operation not permitted", p.stderr.decode())

    def test_dropped_capabilities_forbid_chown_as_root(self):
        p = kx("exec", "nocaps", "--", "sh", "-c", "id -u; touch /tmp/f; chown 1:1 /tmp/f", check=False)
        self.assertEqual(p.stdout.decode().strip(), "0")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("Operation not permitted", p.stderr.decode())


class TestKubectlSpdy(unittest.TestCase):
    """kubectl 1.27-1.29 (and the WebSocket fallback) use SPDY/3.1 with v4.channel.k8s.io."""

    def k127(self, *args, ks=None, **kw):
        path = os.path.join(KUBECTL_DIR, "kubectl.1.27")
        if not os.path.exists(path):
            self.skipTest("kubectl 1.27 not installed")
        return (ks or KS).kubectl(*args, kubectl=path, **kw)

    def test_exec_stdin_exit_code_and_cp(self):
        p = self.k127("-n", NS, "exec", "app", "-c", "main", "--", "sh", "-c", "echo $MODE; echo e >&2; exit 4",
                      check=False)
        self.assertEqual((p.returncode, p.stdout), (4, b"e2e\n"))
        self.assertIn(b"command terminated with exit code 4", p.stderr)
        data = os.urandom(200000)
        p = self.k127("-n", NS, "exec", "-i", "app", "-c", "main", "--", "sha256sum", stdin=data)
        self.assertEqual(p.stdout.decode().split()[0], hashlib.sha256(data).hexdigest())
        tmp = tempfile.mkdtemp(prefix="ksim-spdy-")
        try:
            with open(os.path.join(tmp, "f"), "wb") as f:
                f.write(data)
            self.k127("-n", NS, "cp", os.path.join(tmp, "f"), "app:/data/spdy.bin", "-c", "main")
            self.k127("-n", NS, "cp", "app:/data/spdy.bin", os.path.join(tmp, "g"), "-c", "main")
            with open(os.path.join(tmp, "g"), "rb") as f:
                self.assertEqual(f.read(), data)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_websocket_disabled_falls_back_to_spdy(self):
        p = subprocess.run(["kubectl", "--kubeconfig", KS.kubeconfig, "-n", NS, "exec", "app", "-c", "main", "--",
                            "echo", "fallback"], capture_output=True, timeout=60,
                           env=dict(os.environ, KUBECTL_REMOTE_COMMAND_WEBSOCKETS="false"))
        self.assertEqual(p.stdout, b"fallback\n", p.stderr)

    def test_kubectl_exec_on_121(self):
        ks = KubeSim(profile="1.21")
        ns = "spdy121-" + uuid.uuid4().hex[:6]
        try:
            self.k127("create", "namespace", ns, ks=ks)
            self.k127("-n", ns, "run", "p", "--image=busybox", ks=ks)
            self.k127("-n", ns, "wait", "--for=condition=Ready", "pod/p", "--timeout=30s", ks=ks)
            p = self.k127("-n", ns, "exec", "p", "--", "sh", "-c", "echo old cluster; hostname", ks=ks)
            self.assertEqual(p.stdout, b"old cluster\np\n")
        finally:
            self.k127("delete", "namespace", ns, "--wait=false", ks=ks, check=False)
            ks.close()


@unittest.skipUnless(have_debian_kubernetes(), "Debian python3-kubernetes not installed")
class TestPythonStream(unittest.TestCase):
    CODE = """
out = stream(api.connect_get_namespaced_pod_exec, "app", %r, container="main",
             command=["sh", "-c", "echo py-$MODE; cat /etc/conf/greeting"], stderr=True, stdin=False, stdout=True,
             tty=False)
resp = stream(api.connect_get_namespaced_pod_exec, "app", %r, container="main", command=["sh", "-c", "exit 5"],
              stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
resp.run_forever(timeout=20)
ws = stream(api.connect_get_namespaced_pod_exec, "app", %r, container="main", command=["head", "-c", "6"],
            stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
ws.write_stdin("abcdef")
ws.run_forever(timeout=20)
print(json.dumps({"out": out, "rc": resp.returncode, "stdin_out": ws.read_stdout(), "stdin_rc": ws.returncode}))
"""

    def test_v4_stream_130(self):
        r = json.loads(KS.python(self.CODE % (NS, NS, NS)))
        self.assertEqual(r, {"out": "py-e2e\nhello from configmap", "rc": 5, "stdin_out": "abcdef", "stdin_rc": 0})

    def test_v4_stream_121(self):
        ks = KubeSim(profile="1.21")
        ns = "exec121-" + uuid.uuid4().hex[:6]
        k127 = os.path.join(KUBECTL_DIR, "kubectl.1.27")
        try:
            ks.kubectl("create", "namespace", ns, kubectl=k127)
            ks.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", kubectl=k127)
            out = ks.python(("""
import time
for _ in range(100):
    pods = [p for p in api.list_namespaced_pod("default", label_selector="app=web").items
            if p.status.phase == "Running"]
    if pods:
        break
    time.sleep(0.1)
name = pods[0].metadata.name
out = stream(api.connect_get_namespaced_pod_exec, name, "default", command=["sh", "-c", "echo v4-ok; hostname"],
             stderr=True, stdin=False, stdout=True, tty=False)
resp = stream(api.connect_get_namespaced_pod_exec, name, "default", command=["false"],
              stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
resp.run_forever(timeout=20)
print(json.dumps({"out": out, "name": name, "rc": resp.returncode}))
""").replace('"default"', '"%s"' % ns))
            r = json.loads(out)
            self.assertEqual(r["out"], "v4-ok\n%s\n" % r["name"])
            self.assertEqual(r["rc"], 1)
        finally:
            ks.kubectl("delete", "namespace", ns, "--wait=false", check=False, kubectl=k127)
            ks.close()


if __name__ == "__main__":
    unittest.main()
