"""Controllers, GC, namespace lifecycle and storage, driven in-process through the real kubesim Store.

The end-to-end twins of these (through kubectl and the Python client) are in test_controllers_e2e.py."""
import base64
import os
import time
import unittest

from ctrl_harness import Cluster

NS = "default"


def deploy(name, replicas=2, image="nginx:1.25", labels=None):
    labels = labels or {"app": name}
    return {"metadata": {"name": name, "namespace": NS},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": image,
                                                           "ports": [{"name": "http", "containerPort": 8080}]}]}}}}


class Base(unittest.TestCase):
    profile = "1.30"

    def setUp(self):
        self.c = Cluster(self.profile)

    def tearDown(self):
        self.c.close()

    def st(self, g, r, ns, n):
        o = self.c.get(g, r, ns, n)
        return (o or {}).get("status") or {}

    def pods(self, ns=NS, **labels):
        return [p for p in self.c.list("", "pods", ns)
                if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())]


class TestWorkloads(Base):
    def test_deployment_replicaset_pods(self):
        self.c.create("apps", "deployments", deploy("web", 3))
        c = self.c
        c.wait(lambda: self.st("apps", "deployments", NS, "web").get("availableReplicas") == 3, what="available")
        d = c.get("apps", "deployments", NS, "web")
        self.assertEqual(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1")
        rss = c.list("apps", "replicasets", NS)
        self.assertEqual(len(rss), 1)
        rs = rss[0]
        h = rs["metadata"]["labels"]["pod-template-hash"]
        self.assertEqual(rs["metadata"]["name"], "web-" + h)
        self.assertEqual(rs["spec"]["selector"]["matchLabels"], {"app": "web", "pod-template-hash": h})
        ref = rs["metadata"]["ownerReferences"][0]
        self.assertEqual((ref["kind"], ref["name"], ref["uid"], ref["controller"], ref["blockOwnerDeletion"]),
                         ("Deployment", "web", d["metadata"]["uid"], True, True))
        self.assertEqual(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1")
        pods = self.pods(app="web")
        self.assertEqual(len(pods), 3)
        for p in pods:
            self.assertTrue(p["metadata"]["name"].startswith(rs["metadata"]["name"] + "-"))
            self.assertEqual(len(p["metadata"]["name"]), len(rs["metadata"]["name"]) + 6)
            self.assertEqual(p["metadata"]["ownerReferences"][0]["uid"], rs["metadata"]["uid"])
            self.assertEqual(p["status"]["phase"], "Running")
            self.assertTrue(p["status"]["podIP"].startswith("10.244."))
            self.assertTrue(p["spec"]["nodeName"].startswith("node-"))
            self.assertTrue(p["status"]["containerStatuses"][0]["ready"])
        conds = {x["type"]: x for x in d["status"]["conditions"]}
        self.assertEqual(conds["Available"]["reason"], "MinimumReplicasAvailable")
        self.assertEqual(conds["Progressing"]["reason"], "NewReplicaSetAvailable")
        self.assertEqual(d["status"]["observedGeneration"], d["metadata"]["generation"])
        # scale down
        d["spec"]["replicas"] = 1
        c.store.update("apps", "deployments", d)
        c.wait(lambda: len(self.pods(app="web")) == 1 and self.st("apps", "deployments", NS, "web").get(
            "replicas") == 1, what="scaled down")
        # new template -> new ReplicaSet, revision 2, old scaled to 0
        d = c.get("apps", "deployments", NS, "web")
        d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
        c.store.update("apps", "deployments", d)
        c.wait(lambda: len(c.list("apps", "replicasets", NS)) == 2 and all(
            p["spec"]["containers"][0]["image"] == "nginx:1.26" and p["status"]["phase"] == "Running"
            for p in self.pods(app="web")) and len(self.pods(app="web")) == 1, what="rollout")
        revs = sorted((r["metadata"]["annotations"]["deployment.kubernetes.io/revision"], r["spec"]["replicas"])
                      for r in c.list("apps", "replicasets", NS))
        self.assertEqual(revs, [("1", 0), ("2", 1)])
        c.wait(lambda: c.get("apps", "deployments", NS, "web")["metadata"]["annotations"][
            "deployment.kubernetes.io/revision"] == "2", what="deployment revision 2")
        reasons = {(e["involvedObject"]["kind"], e["reason"]) for e in c.list("", "events", NS)}
        for want in (("Deployment", "ScalingReplicaSet"), ("ReplicaSet", "SuccessfulCreate"), ("Pod", "Scheduled"),
                     ("Pod", "Started")):
            self.assertIn(want, reasons)
        ev = [e for e in c.list("", "events", NS) if e["reason"] == "Scheduled"][0]
        self.assertEqual(ev["source"], {"component": "default-scheduler"})
        self.assertRegex(ev["message"], r"^Successfully assigned default/web-[a-z0-9]+-[a-z0-9]{5} to node-\d$")

    def test_statefulset_pods_and_pvcs(self):
        c = self.c
        c.create("storage.k8s.io", "storageclasses", {
            "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "kubesim.csi.k8s.io", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"})
        c.create("apps", "statefulsets", {
            "metadata": {"name": "db", "namespace": NS},
            "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                     "template": {"metadata": {"labels": {"app": "db"}},
                                  "spec": {"containers": [{"name": "c", "image": "postgres",
                                                           "volumeMounts": [{"name": "data",
                                                                             "mountPath": "/data"}]}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                               "spec": {"accessModes": ["ReadWriteOnce"],
                                                        "resources": {"requests": {"storage": "1Gi"}}}}]}})
        c.wait(lambda: self.st("apps", "statefulsets", NS, "db").get("readyReplicas") == 2, timeout=15,
               what="sts ready")
        names = sorted(p["metadata"]["name"] for p in self.pods(app="db"))
        self.assertEqual(names, ["db-0", "db-1"])
        p0 = c.get("", "pods", NS, "db-0")
        self.assertEqual(p0["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"], "db-0")
        self.assertEqual(p0["metadata"]["labels"]["apps.kubernetes.io/pod-index"], "0")
        self.assertEqual(p0["spec"]["hostname"], "db-0")
        self.assertEqual(p0["spec"]["subdomain"], "db")
        pvc = c.get("", "persistentvolumeclaims", NS, "data-db-0")
        self.assertEqual(pvc["status"]["phase"], "Bound")
        self.assertEqual(pvc["metadata"]["labels"], {"app": "db"})
        pv = c.get("", "persistentvolumes", None, pvc["spec"]["volumeName"])
        # default class (set on the claim by admission where the API does so, used by the binder in any case)
        self.assertEqual(pvc["spec"].get("storageClassName", "standard"), "standard")
        self.assertEqual(pv["spec"]["storageClassName"], "standard")
        self.assertEqual(pv["metadata"]["name"], "pvc-" + pvc["metadata"]["uid"])
        self.assertEqual(pv["spec"]["csi"]["driver"], "kubesim.csi.k8s.io")
        self.assertTrue(os.path.isdir(os.path.join(c.dir, "volumes", pv["spec"]["csi"]["volumeHandle"])))
        crs = c.list("apps", "controllerrevisions", NS)
        self.assertEqual(len(crs), 1)
        s = c.get("apps", "statefulsets", NS, "db")
        self.assertEqual(s["status"]["currentRevision"], crs[0]["metadata"]["name"])
        self.assertEqual(p0["metadata"]["labels"]["controller-revision-hash"], crs[0]["metadata"]["name"])

    def test_replicationcontroller(self):
        self.c.create("", "replicationcontrollers", {
            "metadata": {"name": "legacy", "namespace": NS},
            "spec": {"replicas": 2, "selector": {"app": "legacy"},
                     "template": {"metadata": {"labels": {"app": "legacy"}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
        self.c.wait(lambda: self.st("", "replicationcontrollers", NS, "legacy").get("readyReplicas") == 2,
                    what="rc ready")
        pods = self.pods(app="legacy")
        self.assertEqual(len(pods), 2)
        self.assertEqual(pods[0]["metadata"]["ownerReferences"][0]["kind"], "ReplicationController")
        self.assertEqual(pods[0]["metadata"]["ownerReferences"][0]["apiVersion"], "v1")

    def test_daemonset_pod_per_node(self):
        self.c.create("apps", "daemonsets", {
            "metadata": {"name": "agent", "namespace": NS},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "template": {"metadata": {"labels": {"app": "agent"}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
        self.c.wait(lambda: self.st("apps", "daemonsets", NS, "agent").get("numberReady") == 2, what="ds ready")
        nodes = sorted(p["spec"]["nodeName"] for p in self.pods(app="agent"))
        self.assertEqual(nodes, ["node-1", "node-2"])
        st = self.st("apps", "daemonsets", NS, "agent")
        self.assertEqual(st["desiredNumberScheduled"], 2)
        self.assertEqual(st["currentNumberScheduled"], 2)

    def test_job_completes(self):
        c = self.c
        c.create("batch", "jobs", {"metadata": {"name": "once", "namespace": NS},
                                   "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                                       {"name": "c", "image": "busybox", "command": ["true"]}]}}}})
        c.wait(lambda: self.st("batch", "jobs", NS, "once").get("succeeded") == 1, what="job succeeded")
        j = c.get("batch", "jobs", NS, "once")
        self.assertTrue(j["status"].get("completionTime"))
        self.assertEqual([x["type"] for x in j["status"]["conditions"]], ["Complete"])
        pods = self.pods(**{"job-name": "once"})
        self.assertEqual(len(pods), 1)
        lbl = pods[0]["metadata"]["labels"]
        self.assertEqual(lbl["batch.kubernetes.io/controller-uid"], j["metadata"]["uid"])
        self.assertEqual(lbl["controller-uid"], j["metadata"]["uid"])
        self.assertEqual(pods[0]["status"]["phase"], "Succeeded")
        c.wait(lambda: not self.pods(**{"job-name": "once"})[0]["metadata"].get("finalizers"),
               what="job-tracking finalizer removed")

    def test_running_job_pod_tracking_finalizer(self):
        c = self.c
        c.cm.job_pod_seconds = 30
        c.create("batch", "jobs", {"metadata": {"name": "long", "namespace": NS},
                                   "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                                       {"name": "c", "image": "busybox"}]}}}})
        pod = c.wait(lambda: [p for p in self.pods(**{"job-name": "long"}) if p["status"].get("phase") == "Running"],
                     what="running")[0]
        self.assertEqual(pod["metadata"]["finalizers"], ["batch.kubernetes.io/job-tracking"])
        c.store.delete("batch", "jobs", NS, "long")
        c.wait(lambda: not self.pods(**{"job-name": "long"}), what="pod gone with its job")

    def test_pdb_and_quota_status(self):
        c = self.c
        c.create("apps", "deployments", deploy("guarded", 3))
        c.create("policy", "poddisruptionbudgets", {"metadata": {"name": "pdb", "namespace": NS},
                                                    "spec": {"minAvailable": 2,
                                                             "selector": {"matchLabels": {"app": "guarded"}}}})
        c.create("", "resourcequotas", {"metadata": {"name": "q", "namespace": NS},
                                        "spec": {"hard": {"pods": "10", "configmaps": "5",
                                                          "requests.cpu": "4"}}})
        st = c.wait(lambda: (lambda s: s if s.get("currentHealthy") == 3 else None)(
            self.st("policy", "poddisruptionbudgets", NS, "pdb")), what="pdb status")
        self.assertEqual((st["desiredHealthy"], st["disruptionsAllowed"], st["expectedPods"]), (2, 1, 3))
        self.assertEqual(st["conditions"][0]["reason"], "SufficientPods")
        q = c.wait(lambda: (lambda s: s if (s.get("used") or {}).get("pods") == "3" else None)(
            self.st("", "resourcequotas", NS, "q")), what="quota used")
        self.assertEqual(q["hard"], {"pods": "10", "configmaps": "5", "requests.cpu": "4"})
        self.assertEqual(q["used"]["requests.cpu"], "0")

    def test_hpa_without_metrics(self):
        c = self.c
        c.create("apps", "deployments", deploy("scaled", 1))
        c.create("autoscaling", "horizontalpodautoscalers", {
            "metadata": {"name": "scaled", "namespace": NS},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "scaled"},
                     "minReplicas": 2, "maxReplicas": 5,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": 50}}}]}})
        c.wait(lambda: c.get("apps", "deployments", NS, "scaled")["spec"]["replicas"] == 2, what="raised to min")
        st = c.wait(lambda: (lambda s: s if any(x["type"] == "ScalingActive" for x in s.get("conditions") or [])
                             else None)(self.st("autoscaling", "horizontalpodautoscalers", NS, "scaled")),
                    what="ScalingActive")
        conds = {x["type"]: x for x in st["conditions"]}
        self.assertEqual(conds["ScalingActive"]["reason"], "FailedGetResourceMetric")
        self.assertEqual(conds["ScalingActive"]["status"], "False")
        self.assertEqual(st["desiredReplicas"], 2)

    def test_cronjob_creates_job(self):
        c = self.c
        cj = c.create("batch", "cronjobs", {"metadata": {"name": "tick", "namespace": NS},
                                            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {
                                                "spec": {"restartPolicy": "OnFailure",
                                                         "containers": [{"name": "c", "image": "busybox"}]}}}}}})
        # pretend it was created two minutes ago: the next pass owes it a run
        from ksim.ctrl_common import now_str
        cj["metadata"]["creationTimestamp"] = now_str(time.time() - 120)
        c.cm._sync_cronjob(cj, [])
        jobs = c.list("batch", "jobs", NS)
        self.assertEqual(len(jobs), 1)
        self.assertTrue(jobs[0]["metadata"]["name"].startswith("tick-"))
        self.assertEqual(jobs[0]["metadata"]["ownerReferences"][0]["kind"], "CronJob")
        self.assertIn("batch.kubernetes.io/cronjob-scheduled-timestamp", jobs[0]["metadata"]["annotations"])
        c.wait(lambda: self.st("batch", "jobs", NS, jobs[0]["metadata"]["name"]).get("succeeded") == 1,
               what="cron job ran")
        c.wait(lambda: self.st("batch", "cronjobs", NS, "tick").get("lastSuccessfulTime"), what="cron status")

    def test_service_endpoints_and_slices(self):
        c = self.c
        c.create("apps", "deployments", deploy("api", 2))
        c.create("", "services", {"metadata": {"name": "api", "namespace": NS},
                                  "spec": {"selector": {"app": "api"},
                                           "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}})
        c.wait(lambda: len(((c.get("", "endpoints", NS, "api") or {}).get("subsets") or [{}])[0].get(
            "addresses") or []) == 2, what="endpoints")
        ep = c.get("", "endpoints", NS, "api")
        self.assertEqual(ep["subsets"][0]["ports"], [{"name": "web", "port": 8080, "protocol": "TCP"}])
        a = ep["subsets"][0]["addresses"][0]
        self.assertEqual(a["targetRef"]["kind"], "Pod")
        slices = [s for s in c.list("discovery.k8s.io", "endpointslices", NS)
                  if s["metadata"]["labels"].get("kubernetes.io/service-name") == "api"]
        self.assertEqual(len(slices), 1)
        s = slices[0]
        self.assertEqual(s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
                         "endpointslice-controller.k8s.io")
        self.assertEqual(s["addressType"], "IPv4")
        c.wait(lambda: len([e for e in c.list("discovery.k8s.io", "endpointslices", NS)
                            if e["metadata"]["labels"].get("kubernetes.io/service-name") == "api"][0].get(
            "endpoints") or []) == 2, what="slice endpoints")
        c.store.delete("", "services", NS, "api")
        c.wait(lambda: c.get("", "endpoints", NS, "api") is None, what="endpoints removed")
        c.wait(lambda: not [e for e in c.list("discovery.k8s.io", "endpointslices", NS)
                            if e["metadata"]["labels"].get("kubernetes.io/service-name") == "api"],
               what="slices collected")


class TestLeases(Base):
    def test_node_and_leader_leases(self):
        c = self.c
        c.cm.options["lease_renew_seconds"] = 0.3
        c.create("", "namespaces", {"metadata": {"name": "kube-node-lease"}})
        lease = c.wait(lambda: c.get("coordination.k8s.io", "leases", "kube-node-lease", "node-1"), what="lease")
        self.assertEqual(lease["spec"]["holderIdentity"], "node-1")
        self.assertEqual(lease["metadata"]["ownerReferences"][0]["kind"], "Node")
        first = lease["spec"]["renewTime"]
        c.wait(lambda: c.get("coordination.k8s.io", "leases", "kube-node-lease", "node-1")["spec"]["renewTime"]
               != first, what="renewed")
        kcm = c.get("coordination.k8s.io", "leases", "kube-system", "kube-controller-manager")
        self.assertTrue(kcm["spec"]["holderIdentity"].startswith("kubesim-control-plane_"))


class TestMirroring(Base):
    def test_manual_endpoints_mirrored(self):
        c = self.c
        c.create("", "services", {"metadata": {"name": "ext", "namespace": NS},
                                  "spec": {"ports": [{"name": "db", "port": 5432}]}})
        c.create("", "endpoints", {"metadata": {"name": "ext", "namespace": NS},
                                   "subsets": [{"addresses": [{"ip": "192.0.2.10"}],
                                                "ports": [{"name": "db", "port": 5432}]}]})
        sl = c.wait(lambda: [x for x in c.list("discovery.k8s.io", "endpointslices", NS)
                             if x["metadata"]["labels"].get("kubernetes.io/service-name") == "ext"], what="mirror")
        self.assertEqual(sl[0]["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
                         "endpointslicemirroring-controller.k8s.io")
        self.assertEqual(sl[0]["endpoints"][0]["addresses"], ["192.0.2.10"])
        self.assertEqual(sl[0]["ports"], [{"name": "db", "port": 5432, "protocol": "TCP"}])
        self.assertEqual(sl[0]["metadata"]["ownerReferences"][0]["kind"], "Endpoints")
        c.store.delete("", "endpoints", NS, "ext")
        c.wait(lambda: not [x for x in c.list("discovery.k8s.io", "endpointslices", NS)
                            if x["metadata"]["labels"].get("kubernetes.io/service-name") == "ext"], what="unmirrored")


class TestGarbageCollection(Base):
    def test_background_cascade(self):
        c = self.c
        c.create("apps", "deployments", deploy("web", 2))
        c.wait(lambda: len(self.pods(app="web")) == 2, what="pods")
        c.store.delete("apps", "deployments", NS, "web", propagation="Background")
        c.wait(lambda: not c.list("apps", "replicasets", NS) and not self.pods(app="web"), what="cascade")

    def test_foreground_cascade(self):
        c = self.c
        c.create("apps", "deployments", deploy("web", 2))
        c.wait(lambda: len(self.pods(app="web")) == 2, what="pods")
        d = c.store.delete("apps", "deployments", NS, "web", propagation="Foreground")
        self.assertIn("foregroundDeletion", d["metadata"]["finalizers"])
        c.wait(lambda: c.get("apps", "deployments", NS, "web") is None, what="owner gone")
        self.assertEqual(self.pods(app="web"), [])
        self.assertEqual(c.list("apps", "replicasets", NS), [])

    def test_orphan(self):
        c = self.c
        c.create("apps", "deployments", deploy("web", 2))
        c.wait(lambda: len(self.pods(app="web")) == 2, what="pods")
        c.store.delete("apps", "deployments", NS, "web", propagation="Orphan")
        c.wait(lambda: c.get("apps", "deployments", NS, "web") is None, what="owner gone")
        rss = c.list("apps", "replicasets", NS)
        self.assertEqual(len(rss), 1)
        self.assertFalse(rss[0]["metadata"].get("ownerReferences"))
        time.sleep(0.5)
        self.assertEqual(len(self.pods(app="web")), 2)

    def test_orphans_adopted(self):
        c = self.c
        c.create("apps", "deployments", deploy("web", 2))
        c.wait(lambda: len([p for p in self.pods(app="web") if p["status"].get("phase") == "Running"]) == 2,
               what="pods")
        c.store.delete("apps", "deployments", NS, "web", propagation="Orphan")
        c.wait(lambda: c.get("apps", "deployments", NS, "web") is None, what="owner gone")
        rs_name = c.list("apps", "replicasets", NS)[0]["metadata"]["name"]
        c.create("apps", "deployments", deploy("web", 2))
        c.wait(lambda: (c.get("apps", "replicasets", NS, rs_name)["metadata"].get("ownerReferences") or [{}])[0].get(
            "kind") == "Deployment", what="rs adopted")
        c.wait(lambda: self.st("apps", "deployments", NS, "web").get("availableReplicas") == 2, what="available")
        self.assertEqual(len(c.list("apps", "replicasets", NS)), 1)
        self.assertEqual(len(self.pods(app="web")), 2)

    def test_dangling_owner_collected(self):
        c = self.c
        c.create("", "configmaps", {"metadata": {"name": "dep", "namespace": NS, "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "nope", "uid": "1234"}]}})
        c.wait(lambda: c.get("", "configmaps", NS, "dep") is None, what="collected")

    def test_partial_owner_removed(self):
        c = self.c
        owner = c.create("", "configmaps", {"metadata": {"name": "owner", "namespace": NS}})
        c.create("", "configmaps", {"metadata": {"name": "dep", "namespace": NS, "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]},
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "gone", "uid": "999"}]}})
        c.wait(lambda: len(c.get("", "configmaps", NS, "dep")["metadata"]["ownerReferences"]) == 1,
               what="dangling ref removed")
        c.store.delete("", "configmaps", NS, "owner")
        c.wait(lambda: c.get("", "configmaps", NS, "dep") is None, what="collected after owner")


class TestNamespaces(Base):
    def test_namespace_termination(self):
        c = self.c
        c.create("", "namespaces", {"metadata": {"name": "app"}})
        c.create("", "configmaps", {"metadata": {"name": "x", "namespace": "app"}})
        c.create("", "configmaps", {"metadata": {"name": "held", "namespace": "app", "finalizers": ["ex.com/f"]}})
        t0 = time.time()
        c.store.delete("", "namespaces", None, "app")
        ns = c.wait(lambda: (lambda n: n if any(x["type"] == "NamespaceContentRemaining" for x in
                                                 (n.get("status") or {}).get("conditions") or []) else None)(
            c.get("", "namespaces", None, "app")), what="conditions")
        self.assertEqual(ns["status"]["phase"], "Terminating")
        conds = {x["type"]: x for x in ns["status"]["conditions"]}
        c.wait(lambda: c.get("", "configmaps", "app", "x") is None, what="content deleted")
        ns = c.wait(lambda: (lambda n: n if {x["type"]: x for x in n["status"]["conditions"]}[
            "NamespaceFinalizersRemaining"]["status"] == "True" else None)(c.get("", "namespaces", None, "app")),
            what="finalizers remaining")
        conds = {x["type"]: x for x in ns["status"]["conditions"]}
        self.assertEqual(conds["NamespaceFinalizersRemaining"]["message"],
                         "Some content in the namespace has finalizers remaining: ex.com/f in 1 resource instances")
        self.assertEqual(conds["NamespaceContentRemaining"]["message"],
                         "Some resources are remaining: configmaps. has 1 resource instances")
        time.sleep(1.0)
        self.assertIsNotNone(c.get("", "namespaces", None, "app"))
        held = c.get("", "configmaps", "app", "held")
        held["metadata"]["finalizers"] = []
        c.store.update("", "configmaps", held)
        c.wait(lambda: c.get("", "namespaces", None, "app") is None, what="namespace gone")
        self.assertGreaterEqual(time.time() - t0, 0.5)

    def test_custom_resources_deleted(self):
        c = self.c
        crd = {"metadata": {"name": "widgets.ex.com"},
               "spec": {"group": "ex.com", "scope": "Namespaced",
                        "names": {"plural": "widgets", "kind": "Widget", "singular": "widget",
                                  "listKind": "WidgetList"},
                        "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                            "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}
        c.create("apiextensions.k8s.io", "customresourcedefinitions", crd)
        c.crds.establish_now("widgets.ex.com")
        c.create("", "namespaces", {"metadata": {"name": "crns"}})
        c.create("ex.com", "widgets", {"apiVersion": "ex.com/v1", "kind": "Widget",
                                       "metadata": {"name": "w", "namespace": "crns"}})
        c.store.delete("", "namespaces", None, "crns")
        c.wait(lambda: c.get("", "namespaces", None, "crns") is None, what="namespace gone")
        self.assertIsNone(c.get("ex.com", "widgets", "crns", "w"))


class TestStorage(Base):
    def sc(self, name="csi", mode="Immediate", reclaim="Delete", default=False):
        md = {"name": name}
        if default:
            md["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
        self.c.create("storage.k8s.io", "storageclasses", {"metadata": md, "provisioner": "kubesim.csi.k8s.io",
                                                           "reclaimPolicy": reclaim, "volumeBindingMode": mode})

    def pvc(self, name, cls="csi", size="1Gi", **extra):
        spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
        if cls is not None:
            spec["storageClassName"] = cls
        spec.update(extra)
        return self.c.create("", "persistentvolumeclaims", {"metadata": {"name": name, "namespace": NS},
                                                            "spec": spec})

    def bound(self, name):
        return self.st("", "persistentvolumeclaims", NS, name).get("phase") == "Bound"

    def test_dynamic_provisioning_and_delete(self):
        c = self.c
        self.sc()
        self.pvc("data")
        c.wait(lambda: self.bound("data"), what="bound")
        pvc = c.get("", "persistentvolumeclaims", NS, "data")
        ann = pvc["metadata"]["annotations"]
        self.assertEqual(ann["pv.kubernetes.io/bind-completed"], "yes")
        self.assertEqual(ann["pv.kubernetes.io/bound-by-controller"], "yes")
        self.assertEqual(ann["volume.kubernetes.io/storage-provisioner"], "kubesim.csi.k8s.io")
        self.assertIn("kubernetes.io/pvc-protection", pvc["metadata"]["finalizers"])
        self.assertEqual(pvc["status"]["capacity"], {"storage": "1Gi"})
        pv = c.get("", "persistentvolumes", None, pvc["spec"]["volumeName"])
        self.assertEqual(pv["status"]["phase"], "Bound")
        self.assertEqual(pv["spec"]["claimRef"]["uid"], pvc["metadata"]["uid"])
        self.assertEqual(pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"], "kubesim.csi.k8s.io")
        folder = os.path.join(c.dir, "volumes", pv["spec"]["csi"]["volumeHandle"])
        self.assertTrue(os.path.isdir(folder))
        c.store.delete("", "persistentvolumeclaims", NS, "data")
        c.wait(lambda: c.get("", "persistentvolumes", None, pv["metadata"]["name"]) is None, what="pv deleted")
        self.assertFalse(os.path.exists(folder))

    def test_expansion(self):
        c = self.c
        c.create("storage.k8s.io", "storageclasses", {"metadata": {"name": "grow"}, "provisioner": "kubesim.csi.k8s.io",
                                                      "allowVolumeExpansion": True})
        self.pvc("big", cls="grow")
        c.wait(lambda: self.bound("big"), what="bound")
        pvc = c.get("", "persistentvolumeclaims", NS, "big")
        pvc["spec"]["resources"]["requests"]["storage"] = "3Gi"
        c.store.update("", "persistentvolumeclaims", pvc)
        c.wait(lambda: self.st("", "persistentvolumeclaims", NS, "big")["capacity"]["storage"] == "3Gi",
               what="expanded")
        self.assertEqual(c.get("", "persistentvolumes", None, pvc["spec"]["volumeName"])["spec"]["capacity"],
                         {"storage": "3Gi"})

    def test_generic_ephemeral_volume(self):
        c = self.c
        self.sc()
        c.create("", "pods", {"metadata": {"name": "eph", "namespace": NS},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}],
                                       "volumes": [{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {
                                           "metadata": {"labels": {"kind": "scratch"}},
                                           "spec": {"storageClassName": "csi", "accessModes": ["ReadWriteOnce"],
                                                    "resources": {"requests": {"storage": "1Gi"}}}}}}]}})
        c.wait(lambda: self.st("", "pods", NS, "eph").get("phase") == "Running", what="running")
        pvc = c.get("", "persistentvolumeclaims", NS, "eph-scratch")
        self.assertEqual(pvc["metadata"]["ownerReferences"][0]["kind"], "Pod")
        self.assertEqual(pvc["metadata"]["labels"], {"kind": "scratch"})
        c.store.delete("", "pods", NS, "eph")
        c.wait(lambda: c.get("", "persistentvolumeclaims", NS, "eph-scratch") is None, what="claim collected")

    def test_csinodes(self):
        c = self.c
        c.wait(lambda: len(c.list("storage.k8s.io", "csinodes")) == 2, what="csinodes")
        cn = c.get("storage.k8s.io", "csinodes", None, "node-1")
        self.assertEqual(cn["spec"]["drivers"][0]["name"], "kubesim.csi.k8s.io")
        self.assertEqual(cn["metadata"]["ownerReferences"][0]["kind"], "Node")
        c.wait(lambda: c.get("", "nodes", None, "node-1")["metadata"]["labels"].get(
            "topology.kubesim.csi.k8s.io/node") == "node-1", what="topology label")

    def test_retain_released(self):
        c = self.c
        self.sc(reclaim="Retain")
        self.pvc("keep")
        c.wait(lambda: self.bound("keep"), what="bound")
        pvname = c.get("", "persistentvolumeclaims", NS, "keep")["spec"]["volumeName"]
        c.store.delete("", "persistentvolumeclaims", NS, "keep")
        c.wait(lambda: self.st("", "persistentvolumes", None, pvname).get("phase") == "Released", what="released")

    def test_static_pv_binding(self):
        c = self.c
        c.create("", "persistentvolumes", {"metadata": {"name": "manual"},
                                           "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"],
                                                    "storageClassName": "manual",
                                                    "hostPath": {"path": "/data/manual"}}})
        c.wait(lambda: self.st("", "persistentvolumes", None, "manual").get("phase") == "Available",
               what="available")
        self.pvc("claim", cls="manual", size="2Gi")
        c.wait(lambda: self.bound("claim"), what="bound")
        pv = c.get("", "persistentvolumes", None, "manual")
        self.assertEqual(pv["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"], "yes")
        self.assertEqual(pv["spec"]["claimRef"]["name"], "claim")
        self.assertEqual(c.get("", "persistentvolumeclaims", NS, "claim")["status"]["capacity"], {"storage": "5Gi"})

    def test_wait_for_first_consumer(self):
        c = self.c
        self.sc(mode="WaitForFirstConsumer")
        self.pvc("late")
        time.sleep(0.6)
        self.assertEqual(self.st("", "persistentvolumeclaims", NS, "late").get("phase"), "Pending")
        self.assertEqual(c.list("", "persistentvolumes"), [])
        c.create("", "pods", {"metadata": {"name": "user", "namespace": NS},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}],
                                       "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "late"}}]}})
        c.wait(lambda: self.st("", "pods", NS, "user").get("phase") == "Running", what="pod running")
        pvc = c.get("", "persistentvolumeclaims", NS, "late")
        self.assertEqual(pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"],
                         c.get("", "pods", NS, "user")["spec"]["nodeName"])

    def test_volume_node_affinity(self):
        c = self.c
        self.sc(mode="WaitForFirstConsumer")
        self.pvc("local")
        mk = lambda name: c.create("", "pods", {"metadata": {"name": name, "namespace": NS}, "spec": {
            "containers": [{"name": "c", "image": "busybox"}],
            "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "local"}}]}})
        mk("first")
        c.wait(lambda: self.st("", "pods", NS, "first").get("phase") == "Running", what="first running")
        node = c.get("", "pods", NS, "first")["spec"]["nodeName"]
        c.wait(lambda: c.get("", "nodes", None, node)["metadata"]["labels"].get("topology.kubesim.csi.k8s.io/node"),
               what="topology label")
        for i in range(3):
            mk("more-%d" % i)
        for i in range(3):
            c.wait(lambda: self.st("", "pods", NS, "more-%d" % i).get("phase") == "Running", what="more running")
            self.assertEqual(c.get("", "pods", NS, "more-%d" % i)["spec"]["nodeName"], node)

    def test_foreign_volume_not_mountable(self):
        c = self.c
        c.create("", "persistentvolumes", {"metadata": {"name": "imported"},
                                           "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                                    "storageClassName": "", "persistentVolumeReclaimPolicy": "Retain",
                                                    "csi": {"driver": "kubesim.csi.k8s.io",
                                                            "volumeHandle": "not-in-this-cluster"}}})
        self.pvc("imp", cls="", volumeName="imported")
        c.wait(lambda: self.bound("imp"), what="bound")
        c.create("", "pods", {"metadata": {"name": "mounter", "namespace": NS},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}],
                                       "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "imp"}}]}})
        c.wait(lambda: [e for e in c.list("", "events", NS) if e["reason"] == "FailedMount"], what="FailedMount")
        st = self.st("", "pods", NS, "mounter")
        self.assertEqual(st["phase"], "Pending")
        self.assertEqual(st["containerStatuses"][0]["state"], {"waiting": {"reason": "ContainerCreating"}})

    def test_pod_pending_on_unbound_claim(self):
        c = self.c
        self.pvc("nothing", cls="absent")
        c.create("", "pods", {"metadata": {"name": "waiter", "namespace": NS},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}],
                                       "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "nothing"}}]}})
        c.wait(lambda: any(x.get("reason") == "Unschedulable" for x in
                           self.st("", "pods", NS, "waiter").get("conditions") or []), what="unschedulable")
        self.assertEqual(self.st("", "pods", NS, "waiter")["phase"], "Pending")

    def test_snapshot_and_restore(self):
        c = self.c
        self.sc()
        c.create("snapshot.storage.k8s.io", "volumesnapshotclasses", {
            "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
            "metadata": {"name": "snap", "annotations": {"snapshot.storage.kubernetes.io/is-default-class": "true"}},
            "driver": "kubesim.csi.k8s.io", "deletionPolicy": "Delete"})
        self.pvc("src")
        c.wait(lambda: self.bound("src"), what="bound")
        pv = c.get("", "persistentvolumes", None, c.get("", "persistentvolumeclaims", NS, "src")["spec"]["volumeName"])
        folder = os.path.join(c.dir, "volumes", pv["spec"]["csi"]["volumeHandle"])
        with open(os.path.join(folder, "hello.txt"), "w") as f:
            f.write("hello snapshot\n")
        c.create("snapshot.storage.k8s.io", "volumesnapshots", {
            "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
            "metadata": {"name": "s1", "namespace": NS}, "spec": {"source": {"persistentVolumeClaimName": "src"}}})
        c.wait(lambda: self.st("snapshot.storage.k8s.io", "volumesnapshots", NS, "s1").get("readyToUse"),
               what="snapshot ready")
        vs = c.get("snapshot.storage.k8s.io", "volumesnapshots", NS, "s1")
        self.assertEqual(vs["spec"]["volumeSnapshotClassName"], "snap")
        self.assertEqual(vs["status"]["boundVolumeSnapshotContentName"], "snapcontent-" + vs["metadata"]["uid"])
        self.assertEqual(vs["status"]["restoreSize"], "1Gi")
        content = c.get("snapshot.storage.k8s.io", "volumesnapshotcontents", None,
                        vs["status"]["boundVolumeSnapshotContentName"])
        handle = content["status"]["snapshotHandle"]
        self.assertEqual(content["status"]["restoreSize"], 1024 ** 3)
        self.assertEqual(content["spec"]["source"]["volumeHandle"], pv["spec"]["csi"]["volumeHandle"])
        snapdir = os.path.join(c.dir, "snapshots", handle)
        self.assertTrue(os.path.exists(os.path.join(snapdir, "hello.txt")))
        self.pvc("restored", dataSource={"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot",
                                         "name": "s1"})
        c.wait(lambda: self.bound("restored"), what="restored bound")
        rpv = c.get("", "persistentvolumes", None,
                    c.get("", "persistentvolumeclaims", NS, "restored")["spec"]["volumeName"])
        with open(os.path.join(c.dir, "volumes", rpv["spec"]["csi"]["volumeHandle"], "hello.txt")) as f:
            self.assertEqual(f.read(), "hello snapshot\n")
        # pre-provisioned content binds to its snapshot
        c.create("snapshot.storage.k8s.io", "volumesnapshotcontents", {
            "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
            "metadata": {"name": "imported"},
            "spec": {"deletionPolicy": "Retain", "driver": "kubesim.csi.k8s.io",
                     "source": {"snapshotHandle": handle}, "volumeSnapshotClassName": "snap",
                     "volumeSnapshotRef": {"name": "s2", "namespace": NS}}})
        c.create("snapshot.storage.k8s.io", "volumesnapshots", {
            "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
            "metadata": {"name": "s2", "namespace": NS}, "spec": {"source": {"volumeSnapshotContentName": "imported"}}})
        c.wait(lambda: self.st("snapshot.storage.k8s.io", "volumesnapshots", NS, "s2").get("readyToUse"),
               what="pre-provisioned ready")
        # a handle this cluster's storage does not have never becomes ready
        c.create("snapshot.storage.k8s.io", "volumesnapshotcontents", {
            "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
            "metadata": {"name": "foreign"},
            "spec": {"deletionPolicy": "Retain", "driver": "kubesim.csi.k8s.io",
                     "source": {"snapshotHandle": "from-another-cluster"}, "volumeSnapshotClassName": "snap",
                     "volumeSnapshotRef": {"name": "s4", "namespace": NS}}})
        err = c.wait(lambda: (c.get("snapshot.storage.k8s.io", "volumesnapshotcontents", None, "foreign").get(
            "status") or {}).get("error"), what="content error")
        self.assertIn("not found", err["message"])
        # a content bound to another snapshot's uid does not bind
        c.create("snapshot.storage.k8s.io", "volumesnapshotcontents", {
            "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
            "metadata": {"name": "stale"},
            "spec": {"deletionPolicy": "Retain", "driver": "kubesim.csi.k8s.io",
                     "source": {"snapshotHandle": handle}, "volumeSnapshotClassName": "snap",
                     "volumeSnapshotRef": {"name": "s3", "namespace": NS, "uid": "0000-old"}}})
        c.create("snapshot.storage.k8s.io", "volumesnapshots", {
            "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
            "metadata": {"name": "s3", "namespace": NS}, "spec": {"source": {"volumeSnapshotContentName": "stale"}}})
        err = c.wait(lambda: self.st("snapshot.storage.k8s.io", "volumesnapshots", NS, "s3").get("error"),
                     what="bind error")
        self.assertEqual(err["message"], "Could not bind snapshot s3 and content stale, the VolumeSnapshotRef "
                                         "does not match")
        # deleting s1 (policy Delete) removes its content and copy; s2's Retain content keeps... the same handle
        c.store.delete("snapshot.storage.k8s.io", "volumesnapshots", NS, "s1")
        c.wait(lambda: c.get("snapshot.storage.k8s.io", "volumesnapshots", NS, "s1") is None, what="vs deleted")
        c.wait(lambda: c.get("snapshot.storage.k8s.io", "volumesnapshotcontents", None,
                             content["metadata"]["name"]) is None, what="content deleted")


class TestCron(unittest.TestCase):
    def test_cron_last_due(self):
        from ksim.controllers import cron_last_due
        import calendar
        t = calendar.timegm((2026, 11, 26, 7, 30, 20, 0, 0, 0))
        self.assertEqual(cron_last_due("*/15 * * * *", t - 3600, t), calendar.timegm((2026, 11, 26, 7, 30, 0, 0, 0, 0)))
        self.assertEqual(cron_last_due("0 3 * * *", t - 86400 * 2, t), calendar.timegm((2026, 11, 26, 3, 0, 0, 0, 0, 0)))
        self.assertIsNone(cron_last_due("0 3 * * *", t - 3600, t))
        self.assertEqual(cron_last_due("@hourly", t - 7200, t), calendar.timegm((2026, 11, 26, 7, 0, 0, 0, 0, 0)))
        # 2026-11-26 is a Thursday (4)
        self.assertEqual(cron_last_due("0 0 * * 4", t - 86400 * 3, t), calendar.timegm((2026, 11, 26, 0, 0, 0, 0, 0, 0)))


class TestTokens130(Base):
    def test_manual_token_secret_filled(self):
        c = self.c
        sa = c.create("", "serviceaccounts", {"metadata": {"name": "bot", "namespace": NS}})
        c.create("", "secrets", {"metadata": {"name": "bot-token", "namespace": NS,
                                              "annotations": {"kubernetes.io/service-account.name": "bot"}},
                                 "type": "kubernetes.io/service-account-token"})
        sec = c.wait(lambda: (lambda x: x if (x.get("data") or {}).get("token") else None)(
            c.get("", "secrets", NS, "bot-token")), what="token filled")
        self.assertEqual(sec["metadata"]["annotations"]["kubernetes.io/service-account.uid"], sa["metadata"]["uid"])
        self.assertEqual(sorted(sec["data"]), ["ca.crt", "namespace", "token"])
        time.sleep(0.5)
        self.assertFalse(c.get("", "serviceaccounts", NS, "bot").get("secrets"))  # 1.24+: no auto token


class TestProfile121(Base):
    profile = "1.21"

    def test_service_account_token_secret(self):
        c = self.c
        c.create("", "serviceaccounts", {"metadata": {"name": "robot", "namespace": NS}})
        sa = c.wait(lambda: (lambda s: s if s.get("secrets") else None)(c.get("", "serviceaccounts", NS, "robot")),
                    what="token secret")
        name = sa["secrets"][0]["name"]
        self.assertTrue(name.startswith("robot-token-"))
        sec = c.get("", "secrets", NS, name)
        self.assertEqual(sec["type"], "kubernetes.io/service-account-token")
        self.assertEqual(sec["metadata"]["annotations"]["kubernetes.io/service-account.uid"], sa["metadata"]["uid"])
        self.assertEqual(base64.b64decode(sec["data"]["namespace"]).decode(), NS)
        c.store.delete("", "serviceaccounts", NS, "robot")
        c.wait(lambda: c.get("", "secrets", NS, name) is None, what="token deleted with SA")

    def test_hpa_v1_conditions_annotation(self):
        c = self.c
        c.create("apps", "deployments", deploy("scaled", 3))
        c.create("autoscaling", "horizontalpodautoscalers", {
            "metadata": {"name": "scaled", "namespace": NS},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "scaled"},
                     "minReplicas": 1, "maxReplicas": 2, "targetCPUUtilizationPercentage": 60}})
        c.wait(lambda: c.get("apps", "deployments", NS, "scaled")["spec"]["replicas"] == 2, what="lowered to max")
        h = c.wait(lambda: (lambda o: o if "ScalingActive" in (o["metadata"].get("annotations") or {}).get(
            "autoscaling.alpha.kubernetes.io/conditions", "") else None)(
            c.get("autoscaling", "horizontalpodautoscalers", NS, "scaled")), what="conditions annotation")
        self.assertEqual(h["apiVersion"], "autoscaling/v1")
        self.assertNotIn("conditions", h["status"])
        self.assertEqual(h["status"]["desiredReplicas"], 2)

    def test_job_labels(self):
        c = self.c
        c.create("batch", "jobs", {"metadata": {"name": "j", "namespace": NS},
                                   "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                                       {"name": "c", "image": "busybox"}]}}}})
        c.wait(lambda: self.st("batch", "jobs", NS, "j").get("succeeded") == 1, what="job done")
        p = self.pods(**{"job-name": "j"})[0]
        self.assertNotIn("batch.kubernetes.io/controller-uid", p["metadata"]["labels"])
        self.assertIn("controller-uid", p["metadata"]["labels"])


if __name__ == "__main__":
    unittest.main()
