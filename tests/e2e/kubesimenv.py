"""The part every kubesim-driven test harness shares (tests/e2e/hookslib.py, tests/e2e/volumes/common.py,
tests/ui/uienv.py): a work folder, the checks' bookkeeping (`ok - NAME` / `not ok - NAME` lines), kbk and kubectl run
against a kubesim through its kubeconfig only, with the caller's proxies, KUBECONFIG and KBK_STORAGE kept out, and
the processes it started stopped at the end."""
import os
import shutil
import signal
import subprocess
import tempfile

SRC = os.environ.get("KBK_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KBK = os.environ.get("KBK") or os.path.join(SRC, "build", "kbk")
KUBECTL = os.environ.get("KUBECTL", "kubectl")


def mover_pids(state):
    """The `kbk mover serve` processes the kubesim whose state folder is `state` runs (their bwrap ancestor names
    it): a test that kills a mover mid-transfer finds it here."""
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % p, "rb").read().split(b"\0")
        except OSError:
            continue
        if b"mover" not in cmd or b"serve" not in cmd:
            continue
        q, mine = p, False
        for _ in range(6):
            try:
                stat = open("/proc/%s/stat" % q).read()
                q = stat[stat.rindex(")") + 2:].split()[1]
                if state.encode() in open("/proc/%s/cmdline" % q, "rb").read():
                    mine = True
                    break
            except (OSError, ValueError, IndexError):
                break
        if mine:
            pids.append(int(p))
    return pids


class KubesimEnv:
    def __init__(self, prefix):
        self.passed = 0
        self.failed = 0
        self.procs = []
        self.work = tempfile.mkdtemp(prefix=prefix)
        self.loc = os.path.join(self.work, "location")
        self.state = os.path.join(self.work, "kubesim")
        self.kc = None
        self.kubectl_bin = KUBECTL

    # ---- bookkeeping
    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("ok - " + name, flush=True)
        else:
            self.failed += 1
            print("not ok - " + name, flush=True)
            if detail:
                for line in str(detail).rstrip().splitlines()[:40]:
                    print("    " + line, flush=True)
        return ok

    def stop_processes(self, timeout=15):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    p.kill()

    def remove_work(self, keep=False):
        """Removes the work folder, unless asked to keep it, KBK_E2E_KEEP is set or a check failed."""
        if keep or os.environ.get("KBK_E2E_KEEP") or self.failed:
            print("state kept in " + self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    # ---- commands
    def env(self):
        e = dict(os.environ)
        for k in ("KUBECONFIG", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "KBK_STORAGE"):
            e.pop(k, None)
        e["XDG_CONFIG_HOME"] = os.path.join(self.work, "config")
        return e

    def run(self, args, timeout=300, stdin=None):
        p = subprocess.run(args, capture_output=True, text=True, env=self.env(), timeout=timeout, input=stdin)
        return p.returncode, p.stdout, p.stderr

    def start_kubesim(self, *extra):
        """Starts kubesim on a free port with its state in self.state (extra: more kubesim flags); returns the
        kubeconfig it wrote. SystemExit when it does not say it is ready."""
        log = open(os.path.join(self.work, "kubesim.log"), "w")
        p = subprocess.Popen([os.path.join(SRC, "tests", "kubesim", "kubesim"), "--state-dir", self.state,
                              "--port", "0"] + list(extra), stdout=subprocess.PIPE, stderr=log, text=True)
        self.procs.append(p)
        if not p.stdout.readline().startswith("kubesim ready "):
            raise SystemExit("kubesim did not start; see " + log.name)
        self.kc = os.path.join(self.state, "kubeconfig")
        return self.kc

    def kubectl(self, *args, stdin=None, timeout=120):
        return self.run([self.kubectl_bin, "--kubeconfig", self.kc, "--cache-dir", os.path.join(self.work, "kcache")]
                        + list(args), stdin=stdin, timeout=timeout)

    def kbk(self, *args, timeout=300):
        return self.run([KBK, "--kubeconfig", self.kc, "--storage", self.loc] + list(args), timeout=timeout)
