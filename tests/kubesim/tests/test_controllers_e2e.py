"""Controllers, garbage collection, namespaces and storage seen through real clients (kubectl, python3-kubernetes)
against a running kubesim."""
import json
import time
import unittest
import uuid

from ctrl_launch import KubeSim, have_debian_kubernetes

KS = None


def setUpModule():
    global KS
    KS = KubeSim()


def tearDownModule():
    KS.close()


def ns_name(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:6])


class E2E(unittest.TestCase):
    def setUp(self):
        self.ns = ns_name("ctrl")
        KS.kubectl("create", "namespace", self.ns)

    def tearDown(self):
        KS.kubectl("delete", "namespace", self.ns, "--wait=false", check=False)

    def k(self, *args, **kw):
        return KS.kubectl("-n", self.ns, *args, **kw)

    def get(self, *args):
        return KS.get_json("-n", self.ns, *args)


class TestWorkloadsE2E(E2E):
    def test_deployment_rollout_scale_and_cascade(self):
        self.k("create", "deployment", "web", "--image=nginx:1.25", "--replicas=2")
        self.k("rollout", "status", "deployment/web", "--timeout=30s")
        self.k("wait", "--for=condition=Available", "deployment/web", "--timeout=30s")
        pods = self.get("pods", "-l", "app=web")["items"]
        self.assertEqual(len(pods), 2)
        self.assertTrue(all(p["status"]["phase"] == "Running" and p["status"].get("podIP") for p in pods))
        rs = self.get("rs", "-l", "app=web")["items"]
        self.assertEqual(len(rs), 1)
        self.assertEqual(pods[0]["metadata"]["ownerReferences"][0]["name"], rs[0]["metadata"]["name"])
        self.k("scale", "deployment/web", "--replicas=3")
        KS.wait(lambda: len(self.get("pods", "-l", "app=web")["items"]) == 3, what="scaled to 3")
        self.k("set", "image", "deployment/web", "nginx=nginx:1.26")
        self.k("rollout", "status", "deployment/web", "--timeout=30s")
        d = self.get("deployment", "web")
        self.assertEqual(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2")
        hist = self.k("rollout", "history", "deployment/web").stdout.decode()
        self.assertIn("1 ", hist)
        self.assertIn("2 ", hist)
        self.k("delete", "deployment", "web", "--cascade=foreground", "--timeout=30s")
        self.assertIsNone(self.get("deployment", "web"))
        KS.wait(lambda: not self.get("pods", "-l", "app=web")["items"] and not self.get("rs")["items"],
                what="dependents gone")

    def test_orphan_cascade(self):
        self.k("create", "deployment", "keep", "--image=nginx")
        self.k("rollout", "status", "deployment/keep", "--timeout=30s")
        self.k("delete", "deployment", "keep", "--cascade=orphan")
        rs = KS.wait(lambda: self.get("rs", "-l", "app=keep")["items"], what="rs")
        self.assertFalse(rs[0]["metadata"].get("ownerReferences"))
        time.sleep(0.5)
        self.assertEqual(len(self.get("pods", "-l", "app=keep")["items"]), 1)

    def test_statefulset_with_claims(self):
        KS.apply({"apiVersion": "apps/v1", "kind": "StatefulSet",
                  "metadata": {"name": "db", "namespace": self.ns},
                  "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                           "template": {"metadata": {"labels": {"app": "db"}},
                                        "spec": {"containers": [{"name": "db", "image": "postgres:16",
                                                                 "volumeMounts": [{"name": "data",
                                                                                   "mountPath": "/var/lib/db"}]}]}},
                           "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                                     "spec": {"accessModes": ["ReadWriteOnce"],
                                                              "resources": {"requests": {"storage": "1Gi"}}}}]}})
        self.k("rollout", "status", "statefulset/db", "--timeout=40s")
        pvcs = sorted(p["metadata"]["name"] for p in self.get("pvc")["items"])
        self.assertEqual(pvcs, ["data-db-0", "data-db-1"])
        pvc = self.get("pvc", "data-db-0")
        self.assertEqual(pvc["status"]["phase"], "Bound")
        pv = KS.get_json("pv", pvc["spec"]["volumeName"])
        self.assertEqual(pv["spec"]["csi"]["driver"], "kubesim.csi.k8s.io")
        self.assertEqual(pv["spec"]["claimRef"]["name"], "data-db-0")

    def test_job_completes(self):
        self.k("create", "job", "once", "--image=busybox", "--", "true")
        self.k("wait", "--for=condition=complete", "job/once", "--timeout=30s")
        job = self.get("job", "once")
        self.assertEqual(job["status"]["succeeded"], 1)
        pod = self.get("pods", "-l", "job-name=once")["items"][0]
        self.assertEqual(pod["metadata"]["labels"]["batch.kubernetes.io/controller-uid"], job["metadata"]["uid"])
        self.assertEqual(pod["status"]["phase"], "Succeeded")

    def test_service_endpoints(self):
        self.k("create", "deployment", "api", "--image=nginx", "--replicas=2", "--port=8080")
        self.k("expose", "deployment", "api", "--port=80", "--target-port=8080")
        ep = KS.wait(lambda: (lambda e: e if e and e.get("subsets") and len(e["subsets"][0].get(
            "addresses", [])) == 2 else None)(self.get("endpoints", "api")), what="endpoints")
        self.assertEqual(ep["subsets"][0]["ports"][0]["port"], 8080)
        sl = self.get("endpointslices", "-l", "kubernetes.io/service-name=api")["items"]
        self.assertEqual(len(sl), 1)
        self.assertEqual(sl[0]["metadata"]["ownerReferences"][0]["kind"], "Service")


class TestNamespaceE2E(unittest.TestCase):
    def test_terminating_namespace(self):
        ns = ns_name("term")
        KS.kubectl("create", "namespace", ns)
        KS.kubectl("-n", ns, "create", "configmap", "c1", "--from-literal=a=b")
        KS.kubectl("delete", "namespace", ns, "--wait=false")
        obj = KS.get_json("namespace", ns)
        self.assertEqual(obj["status"]["phase"], "Terminating")
        p = KS.kubectl("-n", ns, "create", "configmap", "c2", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("unable to create new content in namespace %s because it is being terminated" % ns,
                      p.stderr.decode())
        KS.wait(lambda: any(c["type"] == "NamespaceContentRemaining" for c in (
            KS.get_json("namespace", ns) or {"status": {"conditions": [{"type": "NamespaceContentRemaining"}]}}
        )["status"].get("conditions") or []), what="conditions")
        KS.kubectl("wait", "--for=delete", "namespace/" + ns, "--timeout=30s", check=False)
        KS.wait(lambda: KS.get_json("namespace", ns) is None, what="namespace gone")

    def test_delete_waits(self):
        ns = ns_name("wait")
        KS.kubectl("create", "namespace", ns)
        KS.kubectl("-n", ns, "create", "deployment", "x", "--image=nginx")
        t0 = time.time()
        KS.kubectl("delete", "namespace", ns, timeout=60)
        self.assertIsNone(KS.get_json("namespace", ns))
        self.assertIsNone(KS.get_json("-n", ns, "deployment", "x"))
        self.assertGreater(time.time() - t0, 0.3)


class TestSnapshotsE2E(E2E):
    def exec(self, pod, *cmd, stdin=None):
        return self.k("exec", *(["-i"] if stdin is not None else []), pod, "--", *cmd, stdin=stdin)

    def pod_with_claim(self, name, claim):
        KS.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": self.ns},
                  "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "infinity"],
                                           "volumeMounts": [{"name": "d", "mountPath": "/data"}]}],
                           "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim}}]}})
        self.k("wait", "--for=condition=Ready", "pod/" + name, "--timeout=30s")

    def test_snapshot_restore_roundtrip(self):
        KS.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "src", "namespace": self.ns},
                  "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
        self.pod_with_claim("writer", "src")
        self.exec("writer", "sh", "-c", "echo important > /data/file.txt")
        KS.apply({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                  "metadata": {"name": "snap", "namespace": self.ns},
                  "spec": {"source": {"persistentVolumeClaimName": "src"}}})
        self.k("wait", "--for=jsonpath={.status.readyToUse}=true", "volumesnapshot/snap", "--timeout=30s")
        vs = self.get("volumesnapshot", "snap")
        content = KS.get_json("volumesnapshotcontent", vs["status"]["boundVolumeSnapshotContentName"])
        self.assertTrue(content["status"]["snapshotHandle"])
        self.exec("writer", "sh", "-c", "echo changed > /data/file.txt")
        KS.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                  "metadata": {"name": "restored", "namespace": self.ns},
                  "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                           "dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot",
                                          "name": "snap"}}})
        self.pod_with_claim("reader", "restored")
        out = self.exec("reader", "cat", "/data/file.txt").stdout
        self.assertEqual(out, b"important\n")
        # deleting the claim (reclaimPolicy Delete) removes the provisioned PV once no pod uses it
        pv_name = self.get("pvc", "restored")["spec"]["volumeName"]
        self.k("delete", "pod", "reader", "--timeout=30s")
        self.k("delete", "pvc", "restored", "--timeout=30s")
        KS.wait(lambda: KS.get_json("pv", pv_name) is None, what="pv deleted")


class TestRestartE2E(unittest.TestCase):
    def test_state_and_volumes_survive_restart(self):
        ks = KubeSim(reuse_env=False)
        try:
            ks.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=2")
            ks.kubectl("rollout", "status", "deployment/web", "--timeout=30s")
            ks.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "d", "namespace": "default"},
                      "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
            ks.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                      "spec": {"containers": [{"name": "c", "image": "busybox",
                                               "volumeMounts": [{"name": "d", "mountPath": "/d"}]}],
                               "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "d"}}]}})
            ks.kubectl("wait", "--for=condition=Ready", "pod/p", "--timeout=30s")
            ks.kubectl("exec", "p", "--", "sh", "-c", "echo kept > /d/f; echo tmp > /tmp/t")
            before = sorted(p["metadata"]["name"] for p in ks.get_json("pods", "-l", "app=web")["items"])
            ks.restart()
            time.sleep(1.0)
            after = sorted(p["metadata"]["name"] for p in ks.get_json("pods", "-l", "app=web")["items"])
            self.assertEqual(before, after)
            self.assertEqual(ks.kubectl("exec", "p", "--", "cat", "/d/f", "/tmp/t").stdout, b"kept\ntmp\n")
        finally:
            ks.close()


@unittest.skipUnless(have_debian_kubernetes(), "Debian python3-kubernetes not installed")
class TestProfile121E2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ks = KubeSim(profile="1.21")

    @classmethod
    def tearDownClass(cls):
        cls.ks.close()

    def test_sa_token_secret_and_job_labels(self):
        ns = ns_name("tok")
        out = self.ks.python(("""
import time
api.create_namespace({"metadata": {"name": "default"}})
api.create_namespaced_service_account("default", {"metadata": {"name": "robot"}})
for _ in range(100):
    sa = api.read_namespaced_service_account("robot", "default")
    if sa.secrets:
        break
    time.sleep(0.1)
sec = api.read_namespaced_secret(sa.secrets[0].name, "default")
batch = client.BatchV1Api()
batch.create_namespaced_job("default", {"metadata": {"name": "j"}, "spec": {"template": {"spec": {
    "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}})
for _ in range(100):
    j = batch.read_namespaced_job("j", "default")
    if j.status.succeeded:
        break
    time.sleep(0.1)
pods = api.list_namespaced_pod("default", label_selector="job-name=j").items
print(json.dumps({"secret": sec.metadata.name, "type": sec.type,
                  "ann": sec.metadata.annotations, "sa_uid": sa.metadata.uid,
                  "succeeded": j.status.succeeded, "labels": pods[0].metadata.labels, "job_uid": j.metadata.uid}))
""").replace('"default"', '"%s"' % ns))
        self.ks.kubectl("delete", "namespace", ns, "--wait=false", check=False,
                        kubectl="/usr/lib/google-cloud-sdk/bin/kubectl.1.27")
        r = json.loads(out)
        self.assertTrue(r["secret"].startswith("robot-token-"))
        self.assertEqual(r["type"], "kubernetes.io/service-account-token")
        self.assertEqual(r["ann"]["kubernetes.io/service-account.uid"], r["sa_uid"])
        self.assertEqual(r["succeeded"], 1)
        self.assertEqual(r["labels"].get("controller-uid"), r["job_uid"])
        self.assertNotIn("batch.kubernetes.io/controller-uid", r["labels"])


if __name__ == "__main__":
    unittest.main()
