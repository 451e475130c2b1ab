"""Shared set-up of the kbk ui tests: a kubesim cluster with a small application, a backup of it in a folder
location, and `kbk ui` serving that location. Everything lives in one temporary folder, removed at the end."""
import os
import re
import subprocess
import sys
import urllib.request
import urllib.error

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from kubesimenv import KBK, SRC, KubesimEnv  # noqa: E402,F401  (SRC: for the tests)

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


class Env(KubesimEnv):
    def __init__(self, name):
        super().__init__("kbk-" + name + "-")
        os.makedirs(self.loc, mode=0o700)
        self.storage = "file://" + self.loc

    def env(self):
        e = super().env()
        del e["XDG_CONFIG_HOME"]
        e["HOME"] = self.work
        e["NO_PROXY"] = "127.0.0.1,localhost"
        return e

    @property
    def kubeconfig(self):
        return self.kc

    def kbk(self, *args):
        return self.run([KBK, "--kubeconfig", self.kc, "--storage", self.storage] + list(args))

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
        self.stop_processes(timeout=10)
        self.remove_work(keep)
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
