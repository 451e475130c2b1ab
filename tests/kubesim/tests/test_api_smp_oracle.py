"""kubesim's strategic merge patch against the oracle: `kubectl patch --local` runs the API server's own code."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from ksim import patch as smp  # noqa: E402
from kstest import kubectl_for  # noqa: E402

POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "p", "labels": {"a": "1", "b": "2"}, "finalizers": ["x/a", "x/b"],
                    "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "o1", "uid": "u1"},
                                        {"apiVersion": "v1", "kind": "X", "name": "o2", "uid": "u2"}]},
       "spec": {"containers": [
           {"name": "main", "image": "nginx", "args": ["a", "b"], "env": [{"name": "A", "value": "1"},
                                                                        {"name": "B", "value": "2"}],
            "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 81, "protocol": "TCP"}],
            "volumeMounts": [{"name": "v1", "mountPath": "/a"}, {"name": "v2", "mountPath": "/b"}]},
           {"name": "side", "image": "busybox"}],
           "volumes": [{"name": "v1", "emptyDir": {}}, {"name": "v2", "configMap": {"name": "c"}}],
           "tolerations": [{"key": "k", "operator": "Exists"}],
           "imagePullSecrets": [{"name": "s1"}],
           "nodeSelector": {"disk": "ssd", "zone": "a"}}}
SVC = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
       "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "https", "port": 443,
                                                                               "protocol": "TCP"}],
                "selector": {"app": "x"}}}
DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
          "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                   "selector": {"matchLabels": {"app": "d"}},
                   "template": {"metadata": {"labels": {"app": "d"}},
                                "spec": {"containers": [{"name": "c", "image": "i"}]}}}}

CASES = [
    (POD, {"spec": {"containers": [{"name": "main", "image": "nginx:2"}]}}),
    (POD, {"spec": {"containers": [{"name": "new", "image": "x"}]}}),
    (POD, {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}),
    (POD, {"spec": {"containers": [{"name": "main", "env": [{"name": "C", "value": "3"},
                                                            {"name": "A", "$patch": "delete"}]}]}}),
    (POD, {"spec": {"containers": [{"name": "main", "args": ["z"]}]}}),
    (POD, {"spec": {"containers": [{"name": "main", "ports": [{"containerPort": 82, "protocol": "TCP"}]}]}}),
    (POD, {"spec": {"tolerations": [{"key": "other", "operator": "Exists"}]}}),
    (POD, {"spec": {"volumes": [{"name": "v3", "secret": {"secretName": "s"}}, {"name": "v1", "$patch":
                                                                                  "delete"}]}}),
    (POD, {"spec": {"nodeSelector": {"zone": None, "gpu": "yes"}}}),
    (POD, {"spec": {"nodeSelector": {"$patch": "replace", "only": "this"}}}),
    (POD, {"metadata": {"finalizers": ["x/c"]}}),
    (POD, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x/a"]}}),
    (POD, {"metadata": {"$setElementOrder/finalizers": ["x/b", "x/a"]}}),
    (POD, {"metadata": {"ownerReferences": [{"uid": "u1", "$patch": "delete"}]}}),
    (POD, {"metadata": {"labels": None}}),
    (POD, {"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "main"}],
                    "containers": [{"name": "side", "image": "busybox:2"}]}}),
    (POD, {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}}),
    (POD, {"spec": {"imagePullSecrets": [{"name": "s2"}]}}),
    (POD, {"spec": {"containers": [{"name": "main", "volumeMounts": [{"mountPath": "/c", "name": "v1"}]}]}}),
    (SVC, {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}),
    (SVC, {"spec": {"ports": [{"port": 443, "$patch": "delete"}]}}),
    (DEPLOY, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
    (DEPLOY, {"spec": {"template": {"spec": {"containers": [{"name": "c", "env": [{"name": "X", "value": "1"}]}]}}}}),
]


class StrategicMergeOracle(unittest.TestCase):
    def test_cases_match_kubectl_local(self):
        kubectl = kubectl_for("1.30")
        with tempfile.TemporaryDirectory() as d:
            for i, (obj, p) in enumerate(CASES):
                f = os.path.join(d, "o%d.json" % i)
                with open(f, "w") as fh:
                    json.dump(obj, fh)
                r = subprocess.run([kubectl, "patch", "--local", "-f", f, "--type", "strategic", "-p", json.dumps(p),
                                    "-o", "json"], capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                want = json.loads(r.stdout)
                got = smp.strategic_merge(obj, p, obj["kind"])
                with self.subTest(case=i, patch=p):
                    self.assertEqual(got, want)
