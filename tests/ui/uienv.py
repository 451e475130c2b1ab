"""Shared set-up of the kbk ui tests: a kubesim cluster with a small application, a backup of it in a folder
location, and `kbk ui` serving that location. Everything lives in one temporary folder, removed at the end."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
import urllib.error

SRC = os.environ.get("KBK_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KBK = os.environ.get("KBK") or os.path.join(SRC, "build", "kbk")
KUBECTL = os.environ.get("KUBECTL", "kubectl")

APP = """
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop, labels: {app: web}}
data: {greeting: hello, color: blue}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: shop}
stringData: {password: s3cret}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: docker.io/library/nginx:1.25
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""


class Env:
    def __init__(self, name):
        self.work = tempfile.mkdtemp(prefix="kbk-" + name + "-")
        self.loc = os.path.join(self.work, "location")
        os.makedirs(self.loc, mode=0o700)
        self.storage = "file://" + self.loc
        self.procs = []
        self.passed = 0
        self.failed = 0

    def check(self, name, cond, detail=""):
        if cond:
            self.passed += 1
            print("ok - " + name, flush=True)
        else:
            self.failed += 1
            print("not ok - " + name, flush=True)
            for line in str(detail).rstrip().splitlines()[:40]:
                print("    " + line, flush=True)

    def env(self):
        e = dict(os.environ)
        for k in ("KUBECONFIG", "KBK_STORAGE", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
            e.pop(k, None)
        e["HOME"] = self.work
        e["NO_PROXY"] = "127.0.0.1,localhost"
        return e

    def run(self, args, stdin=None, timeout=300):
        p = subprocess.run(args, capture_output=True, text=True, env=self.env(), input=stdin, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def start_kubesim(self):
        state = os.path.join(self.work, "kubesim")
        os.makedirs(state)
        log = open(os.path.join(self.work, "kubesim.log"), "w")
        p = subprocess.Popen([os.path.join(SRC, "tests", "kubesim", "kubesim"), "--state-dir", state, "--port", "0"],
                             stdout=subprocess.PIPE, stderr=log, text=True)
        self.procs.append(p)
        deadline = time.time() + 60
        while time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            if line.startswith("kubesim ready "):
                self.kubeconfig = os.path.join(state, "kubeconfig")
                return self.kubeconfig
        raise SystemExit("kubesim did not start; see " + log.name)

    def kubectl(self, *args, stdin=None):
        return self.run([KUBECTL, "--kubeconfig", self.kubeconfig, "--cache-dir", os.path.join(self.work, "kcache")]
                        + list(args), stdin=stdin)

    def kbk(self, *args):
        return self.run([KBK, "--kubeconfig", self.kubeconfig, "--storage", self.storage] + list(args))

    def start_ui(self, *extra):
        """Starts kbk ui on a free loopback port; returns (base URL, token)."""
        p = subprocess.Popen([KBK, "ui", "--kubeconfig", self.kubeconfig, "--storage", self.storage] + list(extra),
                             stdout=subprocess.PIPE, stderr=open(os.path.join(self.work, "ui.log"), "w"), text=True,
                             env=self.env())
        self.procs.append(p)
        line = p.stdout.readline().strip()
        m = re.match(r"^(http://127\.0\.0\.1:\d+)/\?token=([0-9a-f]{64})$", line)
        if not m:
            raise SystemExit("kbk ui printed %r; see %s/ui.log" % (line, self.work))
        self.ui = p
        return m.group(1), m.group(2)

    def setup_app(self):
        self.start_kubesim()
        rc, out, err = self.kubectl("apply", "-f", "-", stdin=APP)
        self.check("application created with kubectl", rc == 0, err)
        rc, out, err = self.kbk("backup", "create", "b1", "--include-namespaces", "shop")
        self.check("backup b1", rc == 0, out + err)

    def finish(self, keep=False):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if not keep and self.failed == 0:
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            print("work folder kept: " + self.work)
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


def request(url, method="GET", body=None, headers=None):
    """(status, headers, body text) without raising on HTTP errors; no proxy."""
    req = urllib.request.Request(url, method=method, data=body.encode() if isinstance(body, str) else body,
                                 headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=120) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()
