"""What the heterogeneous volume restore tests (tests/e2e/run-volumes-*) share: a kubesim per test, kubectl and kbk
through its kubeconfig only, a volume filled with what tar streams get wrong, and its listing read back through
`kubectl exec`. Each test prints one line per check and `N passed, M failed` last."""
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from kubesimenv import KBK, KUBECTL, SRC, KubesimEnv  # noqa: E402,F401  (KBK, SRC: for the tests)

# What a volume holds; $1 is its mount path, $2 a seed so the volumes differ.
FILL = r"""set -e
d=$1
mkdir -p $d/dir/sub
head -c 1000000 /dev/urandom > $d/dir/big.bin
echo "hello $2" > $d/dir/a.txt
ln $d/dir/a.txt $d/dir/a-hardlink.txt
ln -s a.txt $d/dir/a-symlink
printf 'secret' > $d/dir/sub/private; chmod 600 $d/dir/sub/private; chown 1001:2002 $d/dir/sub/private
truncate -s 10M $d/dir/sparse; printf x | dd of=$d/dir/sparse bs=1 seek=5000000 conv=notrunc 2>/dev/null
for i in $(seq 1 20); do echo "$2 $i" > $d/dir/sub/f$i; done
chown 33:33 $d/dir/sub; chmod 2750 $d/dir/sub
touch -d '2020-01-02 03:04:05.123456789' $d/dir/a.txt
"""

# Every entry (type, mode, owner, size, link count, mtime in ns, symlink target) and every file's SHA-256.
LIST = r"""cd $1 && find . -printf '%p %y %m %U:%G %s %n %T@ %l\n' | sort && find . -type f | sort | xargs sha256sum"""


class Test(KubesimEnv):
    def __init__(self, name):
        super().__init__("kbk-e2e-%s-" % name)

    def start_kubesim(self, profile="1.30"):
        super().start_kubesim("--profile", profile)
        if profile == "1.21" and "KUBECTL" not in os.environ:
            # kubectl 1.30's exec needs WebSocket v5 or SPDY; against 1.21 the oldest kubectl there is (1.27), as
            # tests/kubesim and e2e.migration use, when it is installed next to kubectl.
            real = shutil.which("kubectl")
            old = os.path.join(os.path.dirname(os.path.realpath(real)), "kubectl.1.27") if real else ""
            if old and os.access(old, os.X_OK):
                self.kubectl_bin = old

    def apply(self, text):
        rc, out, err = self.kubectl("apply", "-f", "-", stdin=text)
        if rc != 0:
            raise SystemExit("kubectl apply failed: " + out + err)

    def get(self, *args):
        rc, out, err = self.kubectl("get", "-o", "json", *args)
        return doc_of(out) if rc == 0 else {}

    def ready_pod(self, ns, app, timeout=90):
        """The name of a Ready pod of app=APP in ns ("" when none became Ready)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for p in self.get("pods", "-n", ns, "-l", "app=" + app).get("items", []):
                conds = {c.get("type"): c.get("status") for c in p.get("status", {}).get("conditions", [])}
                if conds.get("Ready") == "True" and not p["metadata"].get("deletionTimestamp"):
                    return p["metadata"]["name"]
            time.sleep(0.3)
        return ""

    def fill(self, ns, pod, path, seed):
        rc, out, err = self.kubectl("-n", ns, "exec", "-i", pod, "--", "sh", "-s", path, str(seed), stdin=FILL)
        if rc != 0:
            raise SystemExit("filling %s in %s failed: %s" % (path, pod, err))

    def listing(self, ns, pod, path):
        rc, text, err = self.kubectl("-n", ns, "exec", "-i", pod, "--", "sh", "-s", path, stdin=LIST)
        return text if rc == 0 else "exec failed: " + err

    def allocated(self, ns, pod, path):
        """The 512-byte blocks the sparse file allocates (stat %b), -1 when it cannot be read."""
        rc, text, err = self.kubectl("-n", ns, "exec", pod, "--", "stat", "-c", "%b %s", path + "/dir/sparse")
        parts = text.split()
        return int(parts[0]) if rc == 0 and len(parts) == 2 and parts[1] == "10485760" else -1

    def temporaries(self):
        left = []
        for kind in ("pods", "persistentvolumeclaims", "volumesnapshots.snapshot.storage.k8s.io",
                     "volumesnapshotcontents.snapshot.storage.k8s.io"):
            rc, out, err = self.kubectl("get", kind, "-A", "-l", "kbk.io/temporary=true", "-o", "name")
            left += [l for l in out.split() if l]
            if rc != 0:
                left.append("%s: %s" % (kind, err.strip()))
        return left

    def delete_namespace(self, ns):
        self.kubectl("delete", "namespace", ns, "--wait=true", timeout=180)

    def finish(self):
        self.stop_processes()
        print("%d passed, %d failed" % (self.passed, self.failed))
        self.remove_work()
        return 1 if self.failed else 0


def doc_of(out):
    try:
        return json.loads(out)
    except ValueError:
        return {}


def show(rc, out, err):
    return "exit %s\nstdout: %s\nstderr: %s" % (rc, out[-3000:], err[-3000:])


def first_diff(a, b):
    al, bl = a.splitlines(), b.splitlines()
    for x, y in zip(al, bl):
        if x != y:
            return "was %r, now %r" % (x, y)
    return "" if len(al) == len(bl) else "%d lines, now %d" % (len(al), len(bl))


def storage_class(name, driver, reclaim="Delete"):
    return """
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: %s}
provisioner: %s
reclaimPolicy: %s
volumeBindingMode: Immediate
""" % (name, driver, reclaim)
