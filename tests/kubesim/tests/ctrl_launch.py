"""Start kubesim through its launcher for end-to-end tests, and run kubectl / Debian's python3-kubernetes against it.

The clusters tests/kubesim/run-tests starts (KUBESIM_130_STATE / KUBESIM_121_STATE, or KUBESIM_KUBECONFIG for 1.30)
are reused when present; otherwise, and for tests that need special options, tests start their own instance: `kubesim --state-dir D --port 0` prints `kubesim ready https://...`."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
from polling import wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
LAUNCHER = os.path.join(os.path.dirname(HERE), "kubesim")
DEBIAN_PYTHON = "/usr/bin/python3"


class KubeSim:
    def __init__(self, profile="1.30", extra_args=(), reuse_env=True):
        self.proc = None
        self.dir = None
        env_kc = os.environ.get("KUBESIM_KUBECONFIG") if profile == "1.30" else None
        env_state = os.environ.get("KUBESIM_%s_STATE" % profile.replace(".", ""))
        if not env_kc and env_state:
            env_kc = os.path.join(env_state, "kubeconfig")
        if reuse_env and env_kc and os.path.exists(env_kc) and not extra_args:
            # The cluster run-tests started: shared with other tests, so tests use their own names/namespaces.
            self.kubeconfig = env_kc
            self.state_dir = os.path.dirname(env_kc)
            return
        self.dir = tempfile.mkdtemp(prefix="ksim-e2e-")
        self.state_dir = os.path.join(self.dir, "state")
        self.args = [LAUNCHER, "--state-dir", self.state_dir, "--port", "0", "--profile", profile] + list(extra_args)
        self._start()

    def restart(self):
        """Stop (SIGTERM) and start again on the same state dir."""
        self._stop()
        self._start()

    def _start(self):
        args = self.args
        self._log = open(os.path.join(self.dir, "log"), "a")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._log, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("kubesim ready "):
            self.close()
            raise RuntimeError("kubesim did not start: %r (see %s/log)" % (line, self.dir))
        self.url = line.split()[2]
        self.kubeconfig = os.path.join(self.state_dir, "kubeconfig")

    def close(self):
        self._stop()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _stop(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self._log.close()
            self.proc = None

    # ------------------------------------------------------------ kubectl
    def kubectl(self, *args, stdin=None, check=True, timeout=60, kubectl="kubectl"):
        p = subprocess.run([kubectl, "--kubeconfig", self.kubeconfig] + list(args), input=stdin,
                           capture_output=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("kubectl %s failed (%d): %s %s" % (" ".join(args), p.returncode,
                                                                    p.stdout.decode(errors="replace"),
                                                                    p.stderr.decode(errors="replace")))
        return p

    def get_json(self, *args):
        p = self.kubectl("get", "-o", "json", *args, check=False)
        if p.returncode != 0:
            return None
        return json.loads(p.stdout)

    def apply(self, obj):
        return self.kubectl("apply", "-f", "-", stdin=json.dumps(obj).encode())

    def wait(self, fn, timeout=20.0, what="condition"):
        return wait_for(fn, timeout, what, 0.2)

    # ------------------------------------------------------------ Debian's python3-kubernetes
    def python(self, code, timeout=60):
        """Run `code` under /usr/bin/python3 with `api` = CoreV1Api() and `stream` imported; returns stdout."""
        prelude = ("import sys, json\nfrom kubernetes import client, config\nfrom kubernetes.stream import stream\n"
                   "config.load_kube_config(%r)\napi = client.CoreV1Api()\n" % self.kubeconfig)
        p = subprocess.run([DEBIAN_PYTHON, "-c", prelude + code], capture_output=True, timeout=timeout)
        if p.returncode != 0:
            raise AssertionError("python client failed: %s" % p.stderr.decode(errors="replace")[-3000:])
        return p.stdout.decode()


def have_debian_kubernetes():
    return os.path.exists(DEBIAN_PYTHON) and subprocess.run(
        [DEBIAN_PYTHON, "-c", "import kubernetes"], capture_output=True).returncode == 0
