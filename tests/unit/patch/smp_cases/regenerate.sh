#!/usr/bin/env bash
# Regenerates the "expected" (or "error") member of every strategic-merge-patch case in this folder by running the
# Kubernetes API machinery's own patch code offline: kubectl patch --local -f OBJECT --type strategic -p PATCH -o json.
# kbk's code is never run here: the expectations come from the oracle only.
#
# Usage: regenerate.sh [KUBECTL]   (default: $KUBECTL, else a versioned kubectl next to the Cloud SDK dispatcher,
#                                   else kubectl on PATH)
# Then review `git diff` and commit. The unit test checks kbk against the committed expectations; the ctest
# unit.patch.oracle re-runs this comparison live when kubectl is present.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
find_kubectl() {
  if [ -n "${1:-}" ]; then echo "$1"; return; fi
  if [ -n "${KUBECTL:-}" ]; then echo "$KUBECTL"; return; fi
  local k
  k="$(command -v kubectl || true)"
  [ -n "$k" ] || { echo "regenerate.sh: no kubectl found" >&2; exit 3; }
  local dir
  dir="$(dirname "$(readlink -f "$k")")"
  # The Cloud SDK dispatcher needs a server to pick a version; call a versioned binary directly.
  for v in 1.30 1.31 1.29 1.32 1.33 1.28; do
    if [ -x "$dir/kubectl.$v" ]; then echo "$dir/kubectl.$v"; return; fi
  done
  echo "$k"
}
KUBECTL_BIN="$(find_kubectl "${1:-}")"
echo "oracle: $KUBECTL_BIN ($("$KUBECTL_BIN" version --client 2>/dev/null | head -1))" >&2
python3 - "$here" "$KUBECTL_BIN" <<'PY'
import json, os, subprocess, sys, tempfile, glob
here, kubectl = sys.argv[1], sys.argv[2]
for path in sorted(glob.glob(os.path.join(here, "*.json"))):
    cases = json.load(open(path))
    for c in cases:
        c.pop("expected", None); c.pop("error", None)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(c["object"], f)
            obj = f.name
        try:
            r = subprocess.run([kubectl, "patch", "--local", "-f", obj, "--type", "strategic",
                                "-p", json.dumps(c["patch"]), "-o", "json"],
                               capture_output=True, text=True, env=dict(os.environ, KUBECONFIG="/dev/null"))
        finally:
            os.unlink(obj)
        if r.returncode == 0:
            c["expected"] = json.loads(r.stdout)
        else:
            msg = r.stderr.strip().replace(obj, "OBJECT")
            c["error"] = msg if msg else "exit %d" % r.returncode
    with open(path, "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")
    print("%s: %d cases" % (os.path.basename(path), len(cases)), file=sys.stderr)
PY
