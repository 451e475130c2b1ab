"""Shared harness of the chaos and kill-at-any-point tests (tests/e2e/run-kill-matrix; scripts/chaos,
scripts/kill-matrix): kubesim with its fault rules, s3rver behind tests/s3/fault_proxy.py, the demo app plus N
ConfigMaps with data in a volume, and the comparisons that tell a faithful run from a silent difference.

Nothing here decides a verdict on its own: the callers print tables and check rows."""
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request

SRC = os.environ.get("KBK_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KBK = os.environ.get("KBK") or os.path.join(SRC, "build", "kbk")
KUBECTL = os.environ.get("KUBECTL", "kubectl")
S3RVER = os.path.join(SRC, "tests", "s3", "node_modules", "s3rver", "bin", "s3rver.js")
PROXY = os.path.join(SRC, "tests", "s3", "fault_proxy.py")
KUBESIM = os.path.join(SRC, "tests", "kubesim", "kubesim")
BUCKET = "kbk-chaos"
DATA = "/var/lib/postgresql/data"
# Dummy credentials s3rver accepts; nothing from the user's own AWS setup leaks in.
AWS_ENV = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
           "AWS_EC2_METADATA_DISABLED": "true"}
# What the chaos runs back up: the demo app's namespaces and the ConfigMaps' (events come and go with the run).
SELECTION = ["--include-namespaces", "shop,shop-data,bench", "--exclude-resources",
             "events,events.events.k8s.io"]


def kube_faults(seed, rate=0.05):
    """Every kubesim fault of issue 19 at RATE of the requests it applies to, seeded."""
    p = "p=%g" % rate
    return ";".join([
        "status=429,retry-after=1," + p, "status=500," + p, "status=503,retry-after=1," + p,
        "reset," + p, "reset=after," + p, "latency=300," + p, "expire-continue," + p, "drop," + p,
        "exec-cut=65536," + p, "seed=%d" % seed])


def s3_faults(seed, rate=0.05):
    return ",".join(["%s=%g" % (f, rate) for f in ("500", "slowdown", "reset", "truncate", "etag")] +
                    ["seed=%d" % seed])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


class Env:
    """Servers and a work folder; close() stops everything started here."""

    def __init__(self, prefix):
        self.work = tempfile.mkdtemp(prefix=prefix)
        self.procs = []
        self.proxies = {}  # URL -> process
        self.s3 = None
        self.proxy = None
        self.keep = os.environ.get("KBK_CHAOS_KEEP") == "1"

    # ---- servers ----
    def _start(self, cmd, ready, log_name, env=None):
        log = open(os.path.join(self.work, log_name), "a")
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        self.procs.append(p)
        deadline = time.time() + 120
        while time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            if line.startswith(ready):
                return p, line[len(ready):].strip()
        raise SystemExit("%s did not start; see %s" % (cmd[0], log.name))

    def kubesim(self, name, preload=0, faults=""):
        """-> (process, kubeconfig) of a fresh kubesim under work/NAME."""
        state = os.path.join(self.work, name)
        args = [KUBESIM, "--state-dir", state, "--port", "0"]
        if preload:
            args += ["--preload-configmaps", str(preload)]
        if faults:
            args += ["--faults", faults]
        p, _ = self._start(args, "kubesim ready ", name + ".log")
        return p, os.path.join(state, "kubeconfig")

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def start_s3(self):
        """s3rver and the fault proxy in front of it; -> the proxy's URL."""
        port = free_port()
        env = dict(os.environ, NODE_OPTIONS="--openssl-legacy-provider")
        log = open(os.path.join(self.work, "s3rver.log"), "w")
        p = subprocess.Popen(["node", S3RVER, "-d", os.path.join(self.work, "s3rver"), "-a", "127.0.0.1", "-p",
                              str(port), "-s", "--configure-bucket", BUCKET], stdout=log, stderr=log, env=env)
        self.procs.append(p)
        if not wait_port(port):
            raise SystemExit("s3rver did not start; see " + log.name)
        self.s3 = "http://127.0.0.1:%d" % port
        self.proxy = self.start_proxy()
        return self.proxy

    def start_proxy(self, name="proxy"):
        """Another fault proxy in front of the same store (runs that overlap each get their own faults); -> its URL."""
        p, pport = self._start([sys.executable, PROXY, "--upstream", self.s3], "PORT ", name + ".log")
        url = "http://127.0.0.1:" + pport
        self.proxies[url] = p
        return url

    def stop_proxy(self, url):
        self.stop(self.proxies.pop(url))

    def proxy_faults(self, spec, proxy=None):
        req = urllib.request.Request((proxy or self.proxy) + "/__faults", data=spec.encode(), method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def proxy_stats(self, proxy=None):
        return json.loads(urllib.request.urlopen((proxy or self.proxy) + "/__stats", timeout=10).read())

    def location(self, prefix, direct=False, proxy=None):
        return "s3://%s/%s?endpoint=%s&list-delimiter=false" % (BUCKET, prefix,
                                                                 self.s3 if direct else (proxy or self.proxy))

    def close(self):
        for p in self.procs:
            self.stop(p)
        if not self.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    # ---- clients ----
    def env(self):
        e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("KUBECONFIG", "KBK_STORAGE")}
        e.update(AWS_ENV, HOME=self.work)
        return e

    def kbk(self, kubeconfig, *args, timeout=900, pidfile=None):
        """-> (exit code, stdout, stderr). With pidfile: the pid is written there before kbk starts (exec)."""
        cmd = [KBK] + (["--kubeconfig", kubeconfig, "--context", "admin"] if kubeconfig else []) + list(args)
        if pidfile:
            cmd = ["sh", "-c", 'echo $$ > "$0"; exec "$@"', pidfile] + cmd
        p = subprocess.run(cmd, capture_output=True, text=True, env=self.env(), timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def kubectl(self, kubeconfig, *args, stdin=None, check=True, timeout=300):
        e = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        p = subprocess.run([KUBECTL, "--kubeconfig", kubeconfig, "--cache-dir", os.path.join(self.work, "kcache")]
                           + list(args), input=stdin, capture_output=True, env=e, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError("kubectl %s: %s" % (" ".join(args), p.stderr.decode()[-2000:]))
        return p

    # ---- the cluster under test ----
    def demo_app(self, kubeconfig, volume_bytes=300000):
        """The demo app (examples/demo) with a file tree in db-0's volume; -> the volume's listing."""
        k = lambda *a, **kw: self.kubectl(kubeconfig, *a, **kw)
        k("apply", "-f", os.path.join(SRC, "examples", "demo", "00-crd.yaml"))
        k("wait", "--for=condition=Established", "crd/caches.demo.kbk.io", "--timeout=60s")
        k("apply", "-f", os.path.join(SRC, "examples", "demo", "10-app.yaml"))
        deadline = time.time() + 120
        while time.time() < deadline:
            if k("-n", "shop-data", "get", "pod", "db-0", check=False).returncode == 0:
                break
            time.sleep(0.5)
        k("-n", "shop-data", "wait", "--for=condition=Ready", "pod/db-0", "--timeout=120s")
        k("-n", "shop-data", "exec", "db-0", "--", "sh", "-c",
          "mkdir -p %s/base && head -c %d /dev/urandom > %s/base/16384 && echo 'orders: 42' > %s/orders.txt "
          "&& ln -sf orders.txt %s/latest && chmod 600 %s/base/16384" % (DATA, volume_bytes, DATA, DATA, DATA, DATA))
        return self.volume_listing(kubeconfig)

    def volume_listing(self, kubeconfig, timeout=120):
        k = lambda *a, **kw: self.kubectl(kubeconfig, *a, **kw)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if k("-n", "shop-data", "get", "pod", "db-0", check=False).returncode == 0:
                break
            time.sleep(0.5)
        p = k("-n", "shop-data", "wait", "--for=condition=Ready", "pod/db-0", "--timeout=%ds" % timeout, check=False)
        if p.returncode != 0:
            return "db-0 not ready: " + p.stderr.decode()[-300:]
        p = k("-n", "shop-data", "exec", "db-0", "--", "sh", "-c",
              "cd %s && find . -printf '%%p %%y %%m %%s %%l\\n' | sort && find . -type f | sort | xargs sha256sum"
              % DATA, check=False)
        return p.stdout.decode() if p.returncode == 0 else "exec failed: " + p.stderr.decode()[-300:]


# ---- comparisons ----
VOLATILE_META = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "selfLink",
                 "deletionTimestamp")


def normalise(obj):
    """An object as a faithful copy must match it: server-set fields and everything a cluster allocates dropped."""
    o = json.loads(json.dumps(obj))
    md = o.get("metadata") or {}
    for k in VOLATILE_META:
        md.pop(k, None)
    for ref in md.get("ownerReferences") or []:
        ref.pop("uid", None)
    ann = md.get("annotations") or {}
    for k in list(ann):
        if k.startswith("pv.kubernetes.io/") or k.startswith("volume.") or k == "deployment.kubernetes.io/revision" \
                or k.startswith("kbk.io/") or k.startswith("velero.io/"):
            ann.pop(k)
    if not ann:
        md.pop("annotations", None)
    labels = md.get("labels") or {}
    for k in list(labels):  # which restore made an object (velero.io/restore-name, ...) differs by run
        if k.startswith("velero.io/") or k.startswith("kbk.io/"):
            labels.pop(k)
    if not labels:
        md.pop("labels", None)
    o.pop("status", None)
    spec = o.get("spec")
    if isinstance(spec, dict):
        for k in ("clusterIP", "clusterIPs", "volumeName"):
            spec.pop(k, None)
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.pop("nodePort", None)
    return o


def archive_items(tgz_bytes):
    """{item path: sha256 of the normalised object} of a backup tarball's resources/."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(tgz_bytes), mode="r:gz") as t:
        for m in t:
            if not m.isfile() or not m.name.startswith("resources/") or not m.name.endswith(".json"):
                continue
            obj = json.loads(t.extractfile(m).read())
            if m.name in out:  # an item written twice (a re-list that kept the first pages' items) is a difference
                out["DUPLICATE " + m.name] = out[m.name]
            out[m.name] = hashlib.sha256(json.dumps(normalise(obj), sort_keys=True).encode()).hexdigest()
    return out


RESTORED_KINDS = "configmaps,secrets,serviceaccounts,services,deployments,statefulsets,ingresses,roles,rolebindings," \
                 "persistentvolumeclaims,caches.demo.kbk.io"


def cluster_objects(env, kubeconfig):
    """{kind/ns/name: sha256 of the normalised object} in the demo and bench namespaces."""
    out = {}
    for ns in ("shop", "shop-data", "bench"):
        p = env.kubectl(kubeconfig, "-n", ns, "get", RESTORED_KINDS, "-o", "json", check=False)
        if p.returncode != 0:
            out["error/" + ns] = p.stderr.decode()[-200:]
            continue
        for o in json.loads(p.stdout)["items"]:
            md = o["metadata"]
            if md["name"] in ("kube-root-ca.crt", "default"):
                continue
            key = "%s/%s/%s" % (o["kind"], ns, md["name"])
            out[key] = hashlib.sha256(json.dumps(normalise(o), sort_keys=True).encode()).hexdigest()
    return out


def diff_summary(want, got):
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    changed = sorted(k for k in set(want) & set(got) if want[k] != got[k])
    parts = []
    for what, keys in (("missing", missing), ("extra", extra), ("changed", changed)):
        if keys:
            parts.append("%d %s (%s)" % (len(keys), what, ", ".join(keys[:3])))
    return "; ".join(parts)


# What a clear failure line names: the cause, as the API server, the store or the network gave it (a status code or
# its reason, a reset, a timeout, an expired token, a damaged answer), or a precondition kbk checks.
REASON = re.compile(r"\b[45]\d\d\b|unable to handle|too many requests|internal ?error|service ?unavailable|slow ?down|"
                    r"reset|refused|timed? ?out|timeout|unreachable|cannot reach|expired|\bgone\b|truncat|etag|checksum|"
                    r"digest|corrupt|does not match|differs|not found|forbidden|denied|interrupted|closed|no space|"
                    r"already exists|not established", re.I)


def error_line(err):
    """The line a failed kbk run names its failure with (`kbk: error: WHAT: WHY`, WHY naming the cause: REASON),
    or None when stderr holds no such line: a bare `kbk:` line, a warning, a summary such as "PartiallyFailed"
    without its cause, or nothing at all is not one clear line."""
    for line in reversed([l.strip() for l in err.splitlines() if l.strip()]):
        if not line.startswith("kbk: error: "):
            continue
        message = line[len("kbk: error: "):]
        if ": " in message and REASON.search(message.split(": ", 1)[1]):
            return line
    return None


def set_kube_faults(env, kubeconfig, spec):
    """Replaces kubesim's fault rules (an empty spec clears them); /kubesim/* itself is never faulted."""
    if not spec:
        env.kubectl(kubeconfig, "delete", "--raw", "/kubesim/v1/faults")
        return
    path = os.path.join(env.work, "faults.spec")
    with open(path, "w") as f:
        f.write(spec)
    env.kubectl(kubeconfig, "create", "--raw", "/kubesim/v1/faults", "-f", path)


def kube_fired(env, kubeconfig):
    p = env.kubectl(kubeconfig, "get", "--raw", "/kubesim/v1/faults", check=False)
    if p.returncode != 0:
        return 0
    return sum(r["fired"] for r in json.loads(p.stdout)["rules"])


def backup_items(env, name, location):
    path = os.path.join(env.work, name + ".download.tar.gz")
    rc, out, err = env.kbk(None, "backup", "download", name, "--file", path, "--storage", location)
    if rc != 0:
        return None, err
    with open(path, "rb") as f:
        data = f.read()
    os.unlink(path)
    return archive_items(data), ""


def outcome_of_failure(rc, err):
    line = error_line(err)
    if line is None:
        return "BAD: exit %d without one clear error line" % rc, False
    return "failed, exit %d: %s" % (rc, line[:150]), True


def chaos(configmaps, seeds, log=print, rate=0.05, jobs=None):
    """Backs up (to S3 through the fault proxy) and restores (into a fresh kubesim) the demo app plus CONFIGMAPS
    ConfigMaps once cleanly, then once per seed with every kubesim and S3 fault at RATE. -> (clean facts, rows);
    a row's ok is False for a silent difference or a failure without one clear line.

    After the clean backup the runs overlap, each with its own faults: the backups under faults run one after the
    other on the source cluster (its fault rules and the backups' proxy are shared), while the restores (the clean
    one and one per seed, each into its own kubesim through its own fault proxy) run JOBS at a time beside them
    (default $KBK_CHAOS_JOBS or 2). Every run is compared once all have ended, as if they had run in turn."""
    import concurrent.futures
    jobs = jobs or int(os.environ.get("KBK_CHAOS_JOBS", "2"))
    env = Env("kbk-chaos-")
    rows = {seed: {"seed": seed} for seed in seeds}
    try:
        env.start_s3()
        src, kc = env.kubesim("source", preload=configmaps)
        listing = env.demo_app(kc)
        loc, direct = env.location("loc"), env.location("loc", direct=True)
        t = time.time()
        rc, out, err = env.kbk(kc, "backup", "create", "clean", "--storage", loc, *SELECTION)
        clean = {"backup_rc": rc, "backup_err": err[-2000:], "backup_s": time.time() - t}
        clean_items, why = backup_items(env, "clean", direct) if rc == 0 else (None, err)
        clean["items"] = len(clean_items or {})
        source_objects = cluster_objects(env, kc)
        if clean_items is None:
            log("clean run: backup exit %d (%.1f s): %s" % (rc, clean["backup_s"], err[-300:]))
            return clean, []

        def restore(tag, faults, seed):
            """One restore of the clean backup into a fresh kubesim, through a proxy of its own. -> facts."""
            proxy = env.start_proxy("proxy-" + tag)
            tgt, tkc = env.kubesim(tag, faults=faults)
            if seed is not None:
                env.proxy_faults(s3_faults(seed, rate), proxy)
            t = time.time()
            rc, out, err = env.kbk(tkc, "restore", "create", tag, "--from-backup", "clean", "--storage",
                                   env.location("loc", proxy=proxy))
            r = {"rc": rc, "s": time.time() - t, "err": err[-4000:], "kube_faults": kube_fired(env, tkc),
                 "s3_faults": sum(env.proxy_stats(proxy)["fired"].values())}
            if faults:
                set_kube_faults(env, tkc, "")
            env.proxy_faults("", proxy)
            if rc == 0:
                r["objects"] = cluster_objects(env, tkc)
                r["listing"] = env.volume_listing(tkc)
            env.stop(tgt)
            env.stop_proxy(proxy)
            if not env.keep:
                shutil.rmtree(os.path.join(env.work, tag), ignore_errors=True)
            else:
                with open(os.path.join(env.work, tag + ".kbk.err"), "w") as f:
                    f.write(err)
            return r

        def backups():
            """The backups under faults, in turn on the source cluster."""
            for seed in seeds:
                row = rows[seed]
                set_kube_faults(env, kc, kube_faults(seed, rate))
                env.proxy_faults(s3_faults(seed, rate))
                name = "chaos-%d" % seed
                t = time.time()
                rc, out, err = env.kbk(kc, "backup", "create", name, "--storage", loc, *SELECTION)
                row["backup_s"] = time.time() - t
                row["backup_err"] = err[-4000:]
                row["backup_kube_faults"] = kube_fired(env, kc)
                row["backup_s3_faults"] = sum(env.proxy_stats()["fired"].values())
                set_kube_faults(env, kc, "")
                env.proxy_faults("")
                if rc == 0:
                    items, why = backup_items(env, name, direct)
                    vrc, vout, verr = env.kbk(None, "backup", "verify", name, "--storage", direct)
                    if items is None:
                        row["backup"], row["backup_ok"] = \
                            "BAD: exit 0 but the archive does not download: " + why[-150:], False
                    elif items != clean_items:
                        row["backup"], row["backup_ok"] = \
                            "BAD: exit 0, items differ: " + diff_summary(clean_items, items), False
                    elif vrc != 0:
                        row["backup"], row["backup_ok"] = \
                            "BAD: exit 0 but verify fails: " + (verr.strip() or vout)[-150:], False
                    else:
                        row["backup"], row["backup_ok"] = "same %d items, verify clean" % len(items), True
                else:
                    row["backup"], row["backup_ok"] = outcome_of_failure(rc, err)
                log("seed %d: backup (%d kube + %d S3 faults, %.1f s): %s" % (
                    seed, row["backup_kube_faults"], row["backup_s3_faults"], row["backup_s"], row["backup"]))

        pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs + 1)
        try:
            lane = pool.submit(backups)
            clean_restore = pool.submit(restore, "restore-clean", "", None)
            restores = {seed: pool.submit(restore, "restore-%d" % seed, kube_faults(seed, rate), seed)
                        for seed in seeds}
            c = clean_restore.result()
            clean.update(restore_rc=c["rc"], restore_err=c["err"][-2000:], restore_s=c["s"])
            clean_objects, clean_listing = c.get("objects", {}), c.get("listing")
            clean["restore_matches_source"] = diff_summary(source_objects, clean_objects)
            clean["volume_matches_source"] = clean_listing == listing
            clean["objects"] = len(clean_objects)
            log("clean run: backup exit %d (%.1f s, %d items), restore exit %d (%.1f s, %d objects)%s"
                % (clean["backup_rc"], clean["backup_s"], clean["items"], c["rc"], c["s"], len(clean_objects),
                   "" if not clean["restore_matches_source"] else "; restore differs from the source: "
                   + clean["restore_matches_source"]))
            for seed in seeds:
                r, row = restores[seed].result(), rows[seed]
                row.update(restore_s=r["s"], restore_err=r["err"], restore_kube_faults=r["kube_faults"],
                           restore_s3_faults=r["s3_faults"])
                if r["rc"] == 0:
                    if r["objects"] != clean_objects:
                        row["restore"], row["restore_ok"] = "BAD: exit 0, objects differ: " + \
                            diff_summary(clean_objects, r["objects"]), False
                    elif r["listing"] != clean_listing:
                        row["restore"], row["restore_ok"] = "BAD: exit 0, volume data differs", False
                    else:
                        row["restore"], row["restore_ok"] = \
                            "same %d objects and volume data" % len(r["objects"]), True
                else:
                    row["restore"], row["restore_ok"] = outcome_of_failure(r["rc"], r["err"])
                log("seed %d: restore (%d kube + %d S3 faults, %.1f s): %s" % (
                    seed, row["restore_kube_faults"], row["restore_s3_faults"], row["restore_s"], row["restore"]))
            lane.result()
        finally:  # an interrupted run: nothing queued starts, and env.close() ends what runs
            pool.shutdown(wait=False, cancel_futures=True)
        return clean, [rows[seed] for seed in seeds]
    finally:
        env.close()
