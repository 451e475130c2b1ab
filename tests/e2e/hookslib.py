"""Shared by the hooks e2e tests (run-hooks, run-restore-hooks, run-hooks-postgresql, run-hooks-redis): a kubesim
driven through a kubeconfig only, kbk and kubectl against it, a storage folder, and the checks' bookkeeping.

A database test runs the server as a host process whose data directory is the folder of the PersistentVolume bound
to a pod's claim (pv_folder), listening on loopback, so a volume snapshot copies its live files; the pod's hook
commands reach it with the client tools through exec (kubesim runs them on the host, sharing its network)."""
import json
import os
import socket
import sys
import time

from kubesimenv import KBK, KUBECTL, SRC, KubesimEnv  # noqa: F401  (KBK, KUBECTL, SRC: for the tests)


class Harness(KubesimEnv):
    def finish(self, main):
        """Runs main(), stops every process started, removes the work folder, prints the count and exits."""
        try:
            main()
        except SystemExit as e:
            self.check("setup", False, str(e))
        finally:
            self.stop_processes(timeout=30)
            self.remove_work()
        print("%d passed, %d failed" % (self.passed, self.failed))
        sys.exit(1 if self.failed else 0)

    def kbk_args(self, *args):
        return [KBK, "--kubeconfig", self.kc, "--storage", self.loc] + list(args)

    def apply(self, text):
        rc, out, err = self.kubectl("apply", "-f", "-", stdin=text)
        if rc != 0:
            raise SystemExit("apply failed: " + err)

    def wait_ready(self, ns, pod, timeout="90s"):
        rc, out, err = self.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/" + pod, "--timeout=" + timeout)
        if rc != 0:
            raise SystemExit("pod %s/%s is not ready: %s" % (ns, pod, err))

    def pv_folder(self, ns, claim):
        """The host folder behind a claim's PersistentVolume (kubesim keeps CSI volumes under state/volumes)."""
        rc, out, err = self.kubectl("-n", ns, "get", "pvc", claim, "-o", "jsonpath={.spec.volumeName}")
        if rc != 0 or not out:
            return None
        rc, handle, err = self.kubectl("get", "pv", out, "-o", "jsonpath={.spec.csi.volumeHandle}")
        if rc != 0 or not handle:
            return None
        return os.path.join(self.state, "volumes", handle.replace("/", "_").replace("..", "_"))

    def annotate(self, ns, pod, pairs):
        args = ["-n", ns, "annotate", "pod", pod, "--overwrite"]
        for k, v in pairs.items():
            args.append(k + "-" if v is None else "%s=%s" % (k, v))
        rc, out, err = self.kubectl(*args)
        if rc != 0:
            raise SystemExit("annotate failed: " + err)


def show(rc, out, err):
    return "exit %s\nstdout: %s\nstderr: %s" % (rc, out[-3000:], err[-3000:])


def doc_of(out):
    try:
        return json.loads(out)
    except ValueError:
        return {}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def epoch(ts):
    """'2026-12-07T01:20:03.120Z' -> seconds since the epoch (0 when absent)."""
    if not ts:
        return 0.0
    base = time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    frac = ts[19:].rstrip("Z")
    return base + (float(frac) if frac.startswith(".") else 0.0)


def pod_hooks(doc, pod=None):
    """The hooks of one pod (or the first) in a backup's or restore's results."""
    pods = (doc.get("hooks") or {}).get("pods") or []
    for p in pods:
        if pod is None or p.get("pod") == pod:
            return p
    return {}


def volume_of(doc, claim):
    return next((v for v in doc.get("volumes", []) if v.get("claim") == claim or v.get("name") == claim), {})
