"""Shared helpers for kubesim's API tests: the clusters started by ../run-tests (or started here on demand), real
kubectl, raw HTTPS requests with chosen credentials, and Debian's python3-kubernetes client."""
import atexit
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LAUNCHER = os.path.join(ROOT, "kubesim")
KUBECTL_DIR = os.path.dirname(os.path.realpath(shutil.which("kubectl") or "/usr/bin/kubectl"))
TOKENS = {"jane": "jane-token-0123456789", "bob": "bob-token-0123456789"}


def kubectl_for(profile):
    name = "kubectl.1.30" if profile == "1.30" else "kubectl.1.27"
    p = os.path.join(KUBECTL_DIR, name)
    return p if os.path.exists(p) else (shutil.which("kubectl") or "kubectl")


def token_file(d):
    p = os.path.join(d, "tokens.csv")
    with open(p, "w") as f:
        f.write('%s,jane,uid-jane,"devs,testers"\n' % TOKENS["jane"])
        f.write("%s,bob,uid-bob\n" % TOKENS["bob"])
    return p


class Cluster:
    def __init__(self, profile, state_dir, url, proc=None):
        self.profile, self.state_dir, self.url, self.proc = profile, state_dir, url, proc
        self.kubeconfig = os.path.join(state_dir, "kubeconfig")
        self.port = int(url.rsplit(":", 1)[1])
        self.cache = tempfile.mkdtemp(prefix="kubectl-cache-")
        self._local = threading.local()
        with open(os.path.join(state_dir, "viewer.token")) as f:
            self.viewer_token = f.read().strip()

    # -- raw HTTP --
    def ctx(self, cert=True):
        c = ssl.create_default_context(cafile=os.path.join(self.state_dir, "ca.crt"))
        if cert:
            c.load_cert_chain(os.path.join(self.state_dir, "admin.crt"), os.path.join(self.state_dir, "admin.key"))
        return c

    def conn(self, who="admin"):
        conns = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        c = conns.get(who)
        if c is None:
            c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx(cert=(who == "admin")),
                                            timeout=30)
            conns[who] = c
        return c

    def req(self, method, path, body=None, headers=None, who="admin", fresh=False):
        """(status, headers, bytes, parsed JSON or None).  who: admin (client cert), viewer, anon, or a name in
        TOKENS, or 'token:<t>'."""
        h = dict(headers or {})
        if who == "viewer":
            h["Authorization"] = "Bearer " + self.viewer_token
        elif who in TOKENS:
            h["Authorization"] = "Bearer " + TOKENS[who]
        elif who.startswith("token:"):
            h["Authorization"] = "Bearer " + who[6:]
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        for attempt in range(2):
            c = self.conn(who) if not fresh else http.client.HTTPSConnection(
                "127.0.0.1", self.port, context=self.ctx(cert=(who == "admin")), timeout=30)
            try:
                c.request(method, path, body=body, headers=h)
                r = c.getresponse()
                data = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest):
                c.close()
                self._local.conns.pop(who, None)
                if attempt:
                    raise
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = None
        return r.status, r.headers, data, doc

    # -- kubectl --
    def kubectl(self, *args, input=None, context=None, timeout=90, env=None):
        cmd = [kubectl_for(self.profile), "--kubeconfig", self.kubeconfig, "--cache-dir", self.cache]
        if context:
            cmd += ["--context", context]
        cmd += list(args)
        e = dict(os.environ)
        e.update(env or {})
        return subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, env=e)

    def kubectl_json(self, *args):
        r = self.kubectl(*args, "-o", "json")
        if r.returncode:
            raise AssertionError("kubectl %s failed: %s" % (" ".join(args), r.stderr))
        return json.loads(r.stdout)

    # -- python client --
    def client(self):
        import kubernetes
        cfg = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(config_file=self.kubeconfig, client_configuration=cfg)
        return kubernetes.client.ApiClient(cfg)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return -9
        return self.proc.returncode if self.proc else None


def start(profile="1.30", state_dir=None, extra=(), python=None, port=0):
    """Start a kubesim; returns a Cluster once the ready line arrived."""
    d = state_dir or tempfile.mkdtemp(prefix="kubesim-test-%s-" % profile)
    cmd = ([python] if python else []) + [LAUNCHER, "--state-dir", d, "--port", str(port), "--profile", profile]
    cmd += list(extra)
    os.makedirs(d, exist_ok=True)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(d.rstrip("/") + ".stderr", "ab"), text=True)
    line = p.stdout.readline().strip()
    if not line.startswith("kubesim ready https://127.0.0.1:"):
        p.kill()
        raise RuntimeError("kubesim did not start: %r" % line)
    return Cluster(profile, d, line.split(" ", 2)[2], p)


_clusters = {}


def cluster(profile="1.30"):
    """The shared cluster of a profile (from run-tests' environment, else started once for this process)."""
    if profile in _clusters:
        return _clusters[profile]
    env = "KUBESIM_%s_STATE" % profile.replace(".", "")
    d = os.environ.get(env)
    if d:
        c = Cluster(profile, d, os.environ["KUBESIM_%s_URL" % profile.replace(".", "")])
    else:
        tmp = tempfile.mkdtemp(prefix="kubesim-shared-")
        extra = ["--continue-ttl", "3"]
        if profile == "1.30":
            extra += ["--token-auth-file", token_file(tmp)]
        c = start(profile, os.path.join(tmp, "state"), extra)
        atexit.register(c.stop)
    _clusters[profile] = c
    return c


def unique(prefix="t"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


class KubeTest(unittest.TestCase):
    """Base class: self.c is the 1.30 cluster; self.ns a fresh namespace per test class."""
    profile = "1.30"

    @classmethod
    def setUpClass(cls):
        cls.c = cluster(cls.profile)
        cls.ns = unique(cls.__name__.lower()[:20].replace("_", "-"))
        st, _, _, doc = cls.c.req("POST", "/api/v1/namespaces", {"metadata": {"name": cls.ns}})
        assert st == 201, doc

    def req(self, *a, **kw):
        return self.c.req(*a, **kw)

    def ok(self, method, path, body=None, code=200, **kw):
        st, h, raw, doc = self.c.req(method, path, body, **kw)
        self.assertEqual(st, code, raw[:2000])
        return doc

    def wait_for(self, fn, timeout=10, interval=0.1, msg="condition"):
        end = time.time() + timeout
        while time.time() < end:
            v = fn()
            if v:
                return v
            time.sleep(interval)
        self.fail("timed out waiting for " + msg)
