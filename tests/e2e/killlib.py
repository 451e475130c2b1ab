"""The kill-at-any-point matrix (issue 19): each state-changing command is run once cleanly to count its steps, then
SIGKILLed at evenly spread points of its run, and the documented promise is checked after each kill.

Where a kill lands is counted, never timed:
  kube  the Nth request kbk sends to kubesim (kubesim's `kill=PIDFILE,after=N-1,times=1` fault rule);
  s3    the Nth request through tests/s3/fault_proxy.py (`kill=PIDFILE,at=N`), in front of strict_s3.py;
  fs    the Nth file mutation (write to a regular file, rename, unlink, fsync), by tests/e2e/killshim.c
        (LD_PRELOAD) in the kbk process.
The promise, per docs/format-archive.md, docs/format-repository.md, docs/volumes.md and the README:
  - nothing lists as complete that is not: a killed backup is Incomplete or absent, or Completed and
    `backup verify` clean; a repository never lists a snapshot whose data `repo check` cannot find;
  - the documented recovery finishes the job: the same command again (restore, prune, rekey, repo backup, repo prune),
    or for a backup `kbk cleanup` + `kbk backup delete NAME` + the same `backup create` again;
  - afterwards `backup verify` / `repo check` are clean and no multipart upload, helper pod, temporary claim or
    VolumeSnapshot is left.
Each (command, point) gives one outcome: `ok`, `finished` (the kill point was after the run's end), or a `VIOLATION`
line saying what broke."""
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaoslib  # noqa: E402
from chaoslib import SRC, KBK  # noqa: E402

STRICT_S3 = os.path.join(SRC, "tests", "s3", "strict_s3.py")
ALL = ["backup create", "backup to S3", "encrypted backup", "restore", "prune", "rekey", "repo backup", "repo prune",
       "volume backup", "volume restore"]


def points(total, n):
    """n kill points spread evenly over 1..total (fewer when the run has fewer steps)."""
    if total <= 0:
        return []
    return sorted({max(1, min(total, round(total * (i + 1) / (n + 1)))) for i in range(n)})


class Matrix:
    def __init__(self, configmaps=50):
        self.env = chaoslib.Env("kbk-kill-")
        self.w = self.env.work
        self.shim = os.path.join(self.w, "killshim.so")
        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", self.shim,
                        os.path.join(SRC, "tests", "e2e", "killshim.c"), "-ldl"], check=True)
        self.pidfile = os.path.join(self.w, "kbk.pid")
        self.src, self.kc = self.env.kubesim("source", preload=configmaps)
        self.listing = self.env.demo_app(self.kc, volume_bytes=200000)
        self._big()
        # strict_s3 (lists and aborts multipart uploads) behind the fault proxy; the S3RVER keys of AWS_ENV.
        p, port = self.env._start([sys.executable, STRICT_S3, "--port", "0", "--bucket", chaoslib.BUCKET,
                                   "--access-key", "S3RVER", "--secret-key", "S3RVER"], "PORT ", "strict_s3.log")
        self.env.s3 = "http://127.0.0.1:" + port
        _, pport = self.env._start([sys.executable, chaoslib.PROXY, "--upstream", self.env.s3], "PORT ", "proxy.log")
        self.env.proxy = "http://127.0.0.1:" + pport
        self.key = os.path.join(self.w, "old.key")
        self.newkey = os.path.join(self.w, "new.key")
        for k in (self.key, self.newkey):
            with open(k, "wb") as f:
                f.write(os.urandom(32).hex().encode())
            os.chmod(k, 0o600)
        self.folder = os.path.join(self.w, "loc")
        self.seq = 0
        self._restore_ref = {}

    def close(self):
        self.env.close()

    def _big(self):
        """Namespace big: 12 ConfigMaps of 700 KiB of base64 random data, about 6 MiB gzipped, so a backup of it
        to S3 with part-size=5MiB goes multipart (a kill can leave an open upload)."""
        import base64
        items = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "big"}}]
        for i in range(12):
            items.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "blob-%02d" % i,
                                                                                "namespace": "big"},
                          "data": {"blob": base64.b64encode(os.urandom(525 * 1024)).decode()}})
        path = os.path.join(self.w, "big.json")
        with open(path, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f)
        self.env.kubectl(self.kc, "create", "-f", path)

    # ---- running kbk with a kill point ----
    def run(self, kubeconfig, args, counter=None, at=None, target_kc=None):
        """-> (rc, out, err, steps counted by COUNTER in a run that was not killed)."""
        env = self.env.env()
        countfile = os.path.join(self.w, "count")
        if counter == "fs":
            env["KILLSHIM_LIB"] = self.shim  # preloaded by the shell into kbk only, not into the shell itself
            env["KILLSHIM_COUNT"] = countfile
            if at:
                env["KILLSHIM_AT"] = str(at)
        kc = target_kc or kubeconfig
        if counter == "kube":
            chaoslib.set_kube_faults(self.env, kc, "kill=%s,after=%d,times=1" % (self.pidfile, at - 1) if at
                                     else "latency=0")
        if counter == "s3":
            self.env.proxy_faults("kill=%s,at=%d" % (self.pidfile, at) if at else "")
        cmd = ["sh", "-c", 'echo $$ > "$0"; if [ -n "$KILLSHIM_LIB" ]; then export LD_PRELOAD="$KILLSHIM_LIB"; fi; '
               'exec "$@"', self.pidfile, KBK]
        if kubeconfig:
            cmd += ["--kubeconfig", kubeconfig, "--context", "admin"]
        p = subprocess.run(cmd + list(args), capture_output=True, text=True, env=env, timeout=900)
        steps = 0
        if counter == "fs" and os.path.exists(countfile):
            steps = int(open(countfile).read().strip() or 0)
            os.unlink(countfile)
        if counter == "kube":
            out = self.env.kubectl(kc, "get", "--raw", "/kubesim/v1/faults").stdout
            steps = sum(r["matches"] for r in json.loads(out)["rules"])
            chaoslib.set_kube_faults(self.env, kc, "")
        if counter == "s3":
            steps = self.env.proxy_stats()["requests"]
            self.env.proxy_faults("")
        return p.returncode, p.stdout, p.stderr, steps

    def kbk(self, kubeconfig, *args):
        rc, out, err, _ = self.run(kubeconfig, args)
        return rc, out, err

    # ---- what the promise is checked with ----
    def phases(self, loc, key=None):
        args = ["backup", "list", "--storage", loc, "-o", "json"]
        rc, out, err = self.kbk(None, *args)
        if rc != 0:
            return None
        return {r["name"]: r["phase"] for r in json.loads(out)["items"]}

    def verify(self, name, loc, key=None):
        rc, out, err = self.kbk(None, "backup", "verify", name, "--storage", loc,
                                *(["--encryption-key-file", key] if key else []))
        return rc == 0, (err.strip() or out.strip())[-200:]

    def repo_check(self, loc, key=None):
        rc, out, err = self.kbk(None, "repo", "check", "--storage", loc,
                                *(["--encryption-key-file", key] if key else []))
        return rc == 0, (err.strip() or out.strip())[-200:]

    def leftovers(self, kc):
        """Temporary objects kbk leaves in a cluster: helper pods, claims, snapshots (kbk.io/temporary=true)."""
        p = self.env.kubectl(kc, "get", "pods,persistentvolumeclaims,volumesnapshots,volumesnapshotcontents",
                             "-A", "-l", "kbk.io/temporary=true", "-o", "name", check=False)
        return [l for l in p.stdout.decode().split() if l]

    def uploads(self, prefix):
        with urllib.request.urlopen(self.env.s3 + "/__uploads", timeout=10) as r:
            return [u for u in json.loads(r.read()) if u["key"].startswith(prefix)]

    def backup_killed_check(self, name, loc, key=None, kc=None, s3prefix=None, create_args=()):
        """After a killed backup: listing, cleanup, delete, rerun, verify, leftovers. -> '' or what broke."""
        ph = (self.phases(loc) or {}).get(name)
        if ph == "Completed":
            ok, why = self.verify(name, loc, key)
            if not ok:
                return "VIOLATION: lists Completed but verify fails: " + why
        elif ph not in (None, "Incomplete"):
            return "VIOLATION: killed backup lists as %s" % ph
        if kc:
            rc, out, err = self.kbk(kc, "cleanup")
            if rc != 0:
                return "VIOLATION: kbk cleanup exit %d: %s" % (rc, err.strip()[-200:])
            left = self.leftovers(kc)
            if left:
                return "VIOLATION: left after kbk cleanup: " + " ".join(left[:4])
        if ph is not None:
            rc, out, err = self.kbk(None, "backup", "delete", name, "--storage", loc, "--confirm")
            if rc != 0:
                return "VIOLATION: backup delete of the killed backup exit %d: %s" % (rc, err.strip()[-200:])
        if s3prefix is not None and self.uploads(s3prefix):
            return "VIOLATION: multipart upload left after backup delete: %s" % self.uploads(s3prefix)
        rc, out, err = self.kbk(kc or self.kc, "backup", "create", name, "--storage", loc, *create_args)
        if rc != 0:
            return "VIOLATION: the rerun exits %d: %s" % (rc, err.strip()[-200:])
        ok, why = self.verify(name, loc, key)
        if not ok:
            return "VIOLATION: verify after the rerun: " + why
        if kc and self.leftovers(kc):
            return "VIOLATION: left after the rerun: " + " ".join(self.leftovers(kc)[:4])
        return ""

    # ---- the commands ----
    def cmd_backup(self, label, at, first):
        """backup create / encrypted backup (folder, fs), backup to S3 (strict S3 via proxy, s3), volume backup
        (folder, kube)."""
        self.seq += 1
        name = "k%d" % self.seq
        sel = ["--include-namespaces", "shop,shop-data,bench"]
        if label == "backup create":
            loc, counter, key, extra = self.folder, "fs", None, sel + ["--no-volume-data"]
        elif label == "encrypted backup":
            loc, counter, key, extra = self.folder, "fs", self.key, sel + ["--no-volume-data",
                                                                             "--encryption-key-file", self.key]
        elif label == "backup to S3":
            loc, counter, key, extra = self.env.location("s3b") + "&part-size=5MiB", "s3", None, \
                ["--include-namespaces", "big", "--no-volume-data"]
        else:  # volume backup
            loc, counter, key, extra = self.folder, "kube", None, ["--include-namespaces", "shop-data"]
        rc, out, err, steps = self.run(self.kc, ["backup", "create", name, "--storage", loc] + extra, counter, at)
        if at is None:
            return rc, steps, (err.strip()[-300:] if rc else "")
        if rc == 0:
            return "finished", None
        if rc != -9:
            return "VIOLATION: exit %d instead of the kill: %s" % (rc, err.strip()[-200:]), None
        why = self.backup_killed_check(name, loc, key, kc=self.kc if label == "volume backup" else None,
                                       s3prefix="s3b/backups/%s/" % name if label == "backup to S3" else None,
                                       create_args=extra)
        return why or "ok", None

    def restore_reference(self, label):
        """The backup a restore row restores and what a clean restore of it creates."""
        if label in self._restore_ref:
            return self._restore_ref[label]
        name = "ref-" + label.split()[0]
        args = ["--include-namespaces", "shop,shop-data,bench"] + (["--no-volume-data"] if label == "restore" else [])
        rc, out, err = self.kbk(self.kc, "backup", "create", name, "--storage", self.folder, *args)
        if rc != 0:
            raise RuntimeError("reference backup for %s: %s" % (label, err))
        p, kc = self.env.kubesim("ref-" + label.replace(" ", "-"))
        rc, out, err, steps = self.run(kc, ["restore", "create", "--from-backup", name, "--storage", self.folder],
                                       "kube")
        ref = (name, chaoslib.cluster_objects(self.env, kc),
               self.env.volume_listing(kc) if label == "volume restore" else None, steps, rc, err)
        self.env.stop(p)
        self._restore_ref[label] = ref
        return ref

    def cmd_restore(self, label, at, first):
        name, objects, listing, steps, rc0, err0 = self.restore_reference(label)
        if at is None:
            return rc0, steps, (err0.strip()[-300:] if rc0 else "")
        self.seq += 1
        tag = "t%d" % self.seq
        p, kc = self.env.kubesim(tag)
        try:
            rc, out, err, _ = self.run(kc, ["restore", "create", "--from-backup", name, "--storage", self.folder],
                                       "kube", at)
            if rc == 0:
                return "finished", None
            if rc != -9:
                return "VIOLATION: exit %d instead of the kill: %s" % (rc, err.strip()[-200:]), None
            rc, out, err = self.kbk(kc, "cleanup")
            if rc != 0:
                return "VIOLATION: kbk cleanup exit %d: %s" % (rc, err.strip()[-200:]), None
            rc, out, err = self.kbk(kc, "restore", "create", "--from-backup", name, "--storage", self.folder)
            if rc != 0:
                return "VIOLATION: the rerun exits %d: %s" % (rc, err.strip()[-200:]), None
            got = chaoslib.cluster_objects(self.env, kc)
            if got != objects:
                return "VIOLATION: after the rerun: " + chaoslib.diff_summary(objects, got), None
            if listing is not None and self.env.volume_listing(kc) != listing:
                return "VIOLATION: volume data differs after the rerun", None
            left = self.leftovers(kc)
            if left:
                return "VIOLATION: left after the rerun: " + " ".join(left[:4]), None
            return "ok", None
        finally:
            self.env.stop(p)
            shutil.rmtree(os.path.join(self.w, tag), ignore_errors=True)

    def _template(self, label):
        """A folder location prepared for prune / rekey / repo rows; each kill point works on a fresh copy."""
        t = os.path.join(self.w, "tpl-" + label.replace(" ", "-"))
        if os.path.exists(t):
            return t
        sel = ["--include-namespaces", "shop,bench", "--no-volume-data"]
        data = os.path.join(self.w, "repo-src")
        if not os.path.exists(data):
            os.makedirs(os.path.join(data, "sub"))
            for i in range(40):
                with open(os.path.join(data, "sub" if i % 2 else "", "f%02d" % i), "wb") as f:
                    f.write(os.urandom(30000 + 1000 * i))
        if label == "prune":
            for i in range(4):
                rc, out, err = self.kbk(self.kc, "backup", "create", "p%d" % i, "--storage", t, *sel)
                assert rc == 0, err
        elif label == "rekey":
            for i in range(3):
                rc, out, err = self.kbk(self.kc, "backup", "create", "r%d" % i, "--storage", t, *sel,
                                        "--encryption-key-file", self.key)
                assert rc == 0, err
        elif label == "repo prune":
            for i in range(3):
                with open(os.path.join(data, "changing"), "wb") as f:
                    f.write(os.urandom(300000))
                rc, out, err = self.kbk(None, "repo", "backup", data, "--storage", t)
                assert rc == 0, err
        else:  # repo backup: one snapshot before, the killed one adds a second
            rc, out, err = self.kbk(None, "repo", "backup", data, "--storage", t)
            assert rc == 0, err
            with open(os.path.join(data, "changing"), "wb") as f:
                f.write(os.urandom(400000))
        return t

    def _storage_args(self, label):
        if label == "prune":
            return ["prune", "--keep-last", "1", "--incomplete-older-than", "0s"]
        if label == "rekey":
            return ["backup", "rekey", "--all", "--encryption-key-file", self.key, "--new-encryption-key-file",
                    self.newkey]
        if label == "repo prune":
            return ["repo", "forget", "--keep-last", "1", "--prune"]
        return ["repo", "backup", os.path.join(self.w, "repo-src")]

    def _expect(self, label, loc):
        """The end state the clean run reaches, as comparable facts."""
        if label in ("prune", "rekey"):
            return self.phases(loc)
        rc, out, err = self.kbk(None, "repo", "snapshots", "--storage", loc, "-o", "json")
        doc = json.loads(out) if rc == 0 else {}
        items = doc.get("items", doc) if isinstance(doc, dict) else doc
        return len(items) if isinstance(items, list) else out

    def cmd_storage(self, label, at, first):
        tpl = self._template(label)
        loc = os.path.join(self.w, "run-" + label.replace(" ", "-"))
        shutil.rmtree(loc, ignore_errors=True)
        shutil.copytree(tpl, loc, symlinks=True)
        rc, out, err, steps = self.run(None, self._storage_args(label) + ["--storage", loc], "fs", at)
        if at is None:
            self._expected = getattr(self, "_expected", {})
            self._expected[label] = self._expect(label, loc)
            return rc, steps, (err.strip()[-300:] if rc else "")
        if rc == 0:
            return "finished", None
        if rc != -9:
            return "VIOLATION: exit %d instead of the kill: %s" % (rc, err.strip()[-200:]), None
        key = self.newkey if label == "rekey" else None
        if label in ("prune", "rekey"):
            for n, ph in (self.phases(loc) or {}).items():
                if ph == "Completed":
                    ok, why = self.verify(n, loc, None if label == "prune" else self.key)
                    ok2 = ok or (label == "rekey" and self.verify(n, loc, self.newkey)[0])
                    if not ok2:
                        return "VIOLATION: %s lists Completed after the kill but verify fails: %s" % (n, why), None
        else:
            ok, why = self.repo_check(loc)
            if not ok:
                return "VIOLATION: repo check after the kill: " + why, None
        before = self._expect(label, loc)
        rc, out, err, _ = self.run(None, self._storage_args(label) + ["--storage", loc])
        if rc != 0:
            return "VIOLATION: the rerun exits %d: %s" % (rc, err.strip()[-200:]), None
        got = self._expect(label, loc)
        if label == "repo backup" and isinstance(before, int) and before == self._expected[label] and got == before + 1:
            pass  # killed after its snapshot was published (while unlocking): the rerun adds another, as it should
        elif got != self._expected[label]:
            return "VIOLATION: after the rerun %r, a clean run gives %r" % (got, self._expected[label]), None
        if label in ("prune", "rekey"):
            for n in got or {}:
                ok, why = self.verify(n, loc, key)
                if not ok:
                    return "VIOLATION: verify %s after the rerun: %s" % (n, why), None
            if label == "rekey":
                for n in got or {}:
                    if self.verify(n, loc, self.key)[0]:
                        return "VIOLATION: %s still opens with the old key after the rerun" % n, None
        ok, why = self.repo_check(loc)
        if not ok and label not in ("prune", "rekey"):
            return "VIOLATION: repo check after the rerun: " + why, None
        return "ok", None

    def row(self, label, n_points, log=print):
        fn = {"restore": self.cmd_restore, "volume restore": self.cmd_restore, "prune": self.cmd_storage,
              "rekey": self.cmd_storage, "repo backup": self.cmd_storage, "repo prune": self.cmd_storage}.get(
                  label, self.cmd_backup)
        rc, steps, err = fn(label, None, True)
        counter = {"backup to S3": "S3 requests", "volume backup": "kube requests", "restore": "kube requests",
                   "volume restore": "kube requests"}.get(label, "file mutations")
        if rc != 0:
            log("%s: the clean run fails (exit %d): %s" % (label, rc, err))
            return {"command": label, "steps": steps, "counter": counter, "outcomes": {},
                    "clean": "exit %d: %s" % (rc, err)}
        outcomes = {}
        for at in points(steps, n_points):
            t = time.time()
            outcome, _ = fn(label, at, False)
            outcomes[at] = outcome
            log("%s, killed at %s %d of %d: %s (%.1f s)" % (label, counter, at, steps, outcome, time.time() - t))
        return {"command": label, "steps": steps, "counter": counter, "outcomes": outcomes, "clean": ""}


def table(rows):
    """command x kill point -> outcome, one line per command, then every violation in full."""
    lines = ["%-16s %-16s %6s  %s" % ("command", "counted by", "steps", "outcome at each kill point (o ok, "
                                                                              "f finished, X violation)")]
    bad = []
    for r in rows:
        marks = "".join("o" if o == "ok" else "f" if o == "finished" else "X" for o in r["outcomes"].values())
        lines.append("%-16s %-16s %6d  %s  %d ok, %d finished, %d violations%s" % (
            r["command"], r["counter"], r["steps"] or 0, marks,
            sum(o == "ok" for o in r["outcomes"].values()), sum(o == "finished" for o in r["outcomes"].values()),
            sum(o.startswith("VIOLATION") for o in r["outcomes"].values()),
            "  (clean run failed: %s)" % r["clean"] if r["clean"] else ""))
        for at, o in r["outcomes"].items():
            if o.startswith("VIOLATION"):
                bad.append("%s at %d: %s" % (r["command"], at, o))
    return "\n".join(lines + bad)
