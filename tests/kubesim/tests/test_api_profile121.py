"""The 1.21 profile: what a v1.21 API server served, one object seen through several versions."""
import json

from kstest import KubeTest, unique


class Profile121(KubeTest):
    profile = "1.21"

    def test_version_and_discovery(self):
        v = self.ok("GET", "/version")
        self.assertEqual((v["gitVersion"], v["minor"]), ("v1.21.14", "21"))
        st, h, _, d = self.req("GET", "/apis", headers={
            "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"})
        self.assertEqual((h["Content-Type"], d["kind"]), ("application/json", "APIGroupList"))
        groups = {g["name"]: g for g in d["groups"]}
        self.assertEqual([x["version"] for x in groups["autoscaling"]["versions"]], ["v1", "v2beta1", "v2beta2"])
        self.assertEqual(groups["networking.k8s.io"]["preferredVersion"]["version"], "v1")
        self.assertEqual([x["version"] for x in groups["extensions"]["versions"]], ["v1beta1"])
        self.assertEqual([x["version"] for x in groups["batch"]["versions"]], ["v1", "v1beta1"])
        self.assertEqual([x["version"] for x in groups["policy"]["versions"]], ["v1", "v1beta1"])
        self.assertEqual([x["version"] for x in groups["flowcontrol.apiserver.k8s.io"]["versions"]], ["v1beta1"])
        self.assertIn("v1beta1.extensions", [o["metadata"]["name"] for o in self.ok(
            "GET", "/apis/apiregistration.k8s.io/v1/apiservices")["items"]])
        ext = self.ok("GET", "/apis/extensions/v1beta1")
        self.assertEqual([r["name"] for r in ext["resources"]], ["ingresses", "ingresses/status"])
        pol = self.ok("GET", "/apis/policy/v1beta1")
        self.assertIn("podsecuritypolicies", [r["name"] for r in pol["resources"]])
        b1 = self.ok("GET", "/apis/batch/v1beta1")
        self.assertEqual([r["name"] for r in b1["resources"]], ["cronjobs", "cronjobs/status"])
        st, _, raw, _ = self.req("GET", "/openapi/v3")
        self.assertEqual(st, 404)
        st, _, raw, _ = self.req("GET", "/openapi/v2", headers={
            "Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
        self.assertEqual(st, 200)
        self.assertNotIn(b"fieldValidation", raw)

    def test_ingress_three_views(self):
        body = {"apiVersion": "extensions/v1beta1", "kind": "Ingress", "metadata": {"name": "web"},
                "spec": {"backend": {"serviceName": "default-svc", "servicePort": 80},
                         "rules": [{"host": "a.example.com", "http": {"paths": [
                             {"path": "/api", "backend": {"serviceName": "api", "servicePort": "http"}}]}}]}}
        st, h, _, created = self.req("POST", "/apis/extensions/v1beta1/namespaces/%s/ingresses" % self.ns, body)
        self.assertEqual(st, 201)
        self.assertEqual(h.get_all("Warning"), ['299 - "extensions/v1beta1 Ingress is deprecated in v1.14+, '
                                                'unavailable in v1.22+; use networking.k8s.io/v1 Ingress"'])
        self.assertEqual(created["apiVersion"], "extensions/v1beta1")
        views = {}
        for gv in ("networking.k8s.io/v1", "networking.k8s.io/v1beta1", "extensions/v1beta1"):
            views[gv] = self.ok("GET", "/apis/%s/namespaces/%s/ingresses/web" % (gv, self.ns))
            self.assertEqual(views[gv]["apiVersion"], gv)
            self.assertEqual(views[gv]["kind"], "Ingress")
        uids = {v["metadata"]["uid"] for v in views.values()}
        rvs = {v["metadata"]["resourceVersion"] for v in views.values()}
        self.assertEqual((len(uids), len(rvs)), (1, 1))
        v1 = views["networking.k8s.io/v1"]["spec"]
        self.assertEqual(v1["defaultBackend"], {"service": {"name": "default-svc", "port": {"number": 80}}})
        p = v1["rules"][0]["http"]["paths"][0]
        self.assertEqual(p["backend"], {"service": {"name": "api", "port": {"name": "http"}}})
        self.assertEqual(p["pathType"], "ImplementationSpecific")
        b1 = views["networking.k8s.io/v1beta1"]["spec"]
        self.assertEqual(b1["backend"], {"serviceName": "default-svc", "servicePort": 80})
        self.assertEqual(b1["rules"][0]["http"]["paths"][0]["backend"], {"serviceName": "api", "servicePort": "http"})
        self.assertEqual(views["extensions/v1beta1"]["spec"], b1)
        # the same object in the lists of every version; v1 writes are seen by the beta views
        lst = self.ok("GET", "/apis/extensions/v1beta1/namespaces/%s/ingresses" % self.ns)
        self.assertEqual(lst["apiVersion"], "extensions/v1beta1")
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], ["web"])
        upd = self.ok("PATCH", "/apis/networking.k8s.io/v1/namespaces/%s/ingresses/web" % self.ns,
                      {"spec": {"defaultBackend": {"service": {"name": "other", "port": {"number": 8080}}}}},
                      headers={"Content-Type": "application/merge-patch+json"})
        b = self.ok("GET", "/apis/extensions/v1beta1/namespaces/%s/ingresses/web" % self.ns)
        self.assertEqual(b["spec"]["backend"], {"serviceName": "other", "servicePort": 8080})
        self.assertEqual(b["metadata"]["resourceVersion"], upd["metadata"]["resourceVersion"])

    def test_hpa_versions(self):
        body = {"apiVersion": "autoscaling/v2beta2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                         "minReplicas": 1, "maxReplicas": 4, "metrics": [
                             {"type": "Resource", "resource": {"name": "cpu", "target": {
                                 "type": "Utilization", "averageUtilization": 70}}},
                             {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {
                                 "type": "AverageValue", "averageValue": "10"}}}]}}
        self.ok("POST", "/apis/autoscaling/v2beta2/namespaces/%s/horizontalpodautoscalers" % self.ns, body, 201)
        v1 = self.ok("GET", "/apis/autoscaling/v1/namespaces/%s/horizontalpodautoscalers/h" % self.ns)
        self.assertEqual(v1["spec"]["targetCPUUtilizationPercentage"], 70)
        self.assertNotIn("metrics", v1["spec"])
        ann = json.loads(v1["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/metrics"])
        self.assertEqual(ann, [{"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "10"}}])
        b2 = self.ok("GET", "/apis/autoscaling/v2beta2/namespaces/%s/horizontalpodautoscalers/h" % self.ns)
        self.assertEqual(b2["spec"]["metrics"], body["spec"]["metrics"])
        self.assertNotIn("annotations", b2["metadata"])
        b1 = self.ok("GET", "/apis/autoscaling/v2beta1/namespaces/%s/horizontalpodautoscalers/h" % self.ns)
        self.assertEqual(b1["spec"]["metrics"][0], {"type": "Resource", "resource": {
            "name": "cpu", "targetAverageUtilization": 70}})

    def test_cronjob_pdb_psp_and_jobs(self):
        cj = {"apiVersion": "batch/v1beta1", "kind": "CronJob", "metadata": {"name": "cj"},
              "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                  "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}}}
        o = self.ok("POST", "/apis/batch/v1beta1/namespaces/%s/cronjobs" % self.ns, cj, 201)
        self.assertEqual(o["apiVersion"], "batch/v1beta1")
        v1 = self.ok("GET", "/apis/batch/v1/namespaces/%s/cronjobs/cj" % self.ns)
        self.assertEqual((v1["apiVersion"], v1["metadata"]["uid"]), ("batch/v1", o["metadata"]["uid"]))
        self.assertEqual(v1["spec"]["concurrencyPolicy"], "Allow")
        pdb = {"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "metadata": {"name": "pdb"},
               "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "x"}}}}
        self.ok("POST", "/apis/policy/v1beta1/namespaces/%s/poddisruptionbudgets" % self.ns, pdb, 201)
        self.assertEqual(self.ok("GET", "/apis/policy/v1/namespaces/%s/poddisruptionbudgets/pdb" % self.ns)
                         ["spec"]["minAvailable"], 1)
        self.ok("GET", "/apis/policy/v1beta1/podsecuritypolicies")
        j = self.ok("POST", "/apis/batch/v1/namespaces/%s/jobs" % self.ns, {"metadata": {"name": "j"}, "spec": {
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}},
                    201)
        uid = j["metadata"]["uid"]
        self.assertEqual(j["spec"]["selector"], {"matchLabels": {"controller-uid": uid}})
        self.assertEqual(j["spec"]["template"]["metadata"]["labels"], {"controller-uid": uid, "job-name": "j"})
        self.assertNotIn("podReplacementPolicy", j["spec"])

    def test_field_validation_not_enforced(self):
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": unique("fv")}, "spec": {"x": 1}}
        st, h, _, doc = self.req("POST", "/api/v1/namespaces/%s/configmaps?fieldValidation=Strict" % self.ns, body)
        self.assertEqual(st, 201)
        self.assertNotIn("spec", doc)
        self.assertIsNone(h.get("Warning"))

    def test_crd_v1beta1(self):
        crd = {"apiVersion": "apiextensions.k8s.io/v1beta1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "gadgets.old.example.com"},
               "spec": {"group": "old.example.com", "version": "v1alpha1", "scope": "Namespaced",
                        "names": {"plural": "gadgets", "kind": "Gadget"},
                        "subresources": {"status": {}},
                        "additionalPrinterColumns": [{"name": "Size", "type": "integer", "JSONPath": ".spec.size"}],
                        "validation": {"openAPIV3Schema": {"type": "object", "properties": {
                            "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}}
        base = "/apis/apiextensions.k8s.io/v1beta1/customresourcedefinitions"
        self.ok("POST", base, crd, 201)
        try:
            v1 = self.ok("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.old.example.com")
            v = v1["spec"]["versions"][0]
            self.assertEqual((v["name"], v["served"], v["storage"]), ("v1alpha1", True, True))
            self.assertEqual(v["subresources"], {"status": {}})
            self.assertEqual(v["additionalPrinterColumns"], [{"name": "Size", "type": "integer",
                                                              "jsonPath": ".spec.size"}])
            self.assertIn("schema", v)
            self.assertNotIn("validation", v1["spec"])
            b = self.ok("GET", base + "/gadgets.old.example.com")
            self.assertEqual(b["spec"]["version"], "v1alpha1")
            self.assertEqual(b["spec"]["additionalPrinterColumns"][0]["JSONPath"], ".spec.size")
            self.wait_for(lambda: self.req("GET", "/apis/old.example.com/v1alpha1/gadgets")[0] == 200,
                          msg="served")
        finally:
            self.ok("DELETE", base + "/gadgets.old.example.com")

    def test_newer_fields_dropped(self):
        """Fields 1.21 did not know are dropped silently (what a migration from a newer cluster meets)."""
        sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
               "spec": {"replicas": 0, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"},
                        "template": {"metadata": {"labels": {"app": "db"}},
                                     "spec": {"os": {"name": "linux"}, "containers": [
                                         {"name": "c", "image": "i", "resizePolicy": [
                                             {"resourceName": "cpu", "restartPolicy": "NotRequired"}]}]}}}}
        o = self.ok("POST", "/apis/apps/v1/namespaces/%s/statefulsets?fieldValidation=Strict" % self.ns, sts, 201)
        self.assertNotIn("persistentVolumeClaimRetentionPolicy", o["spec"])
        self.assertNotIn("os", o["spec"]["template"]["spec"])
        self.assertNotIn("resizePolicy", o["spec"]["template"]["spec"]["containers"][0])
        self.assertEqual(o["spec"]["podManagementPolicy"], "OrderedReady")

    def test_kubectl_and_python_client(self):
        r = self.c.kubectl("get", "ingresses.v1beta1.extensions", "-n", self.ns, "-o", "name")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.c.kubectl("get", "cronjobs.v1beta1.batch", "-n", self.ns)
        self.assertIn("Warning: batch/v1beta1 CronJob is deprecated in v1.21+, unavailable in v1.25+; use batch/v1 "
                      "CronJob", r.stderr)
        r = self.c.kubectl("api-resources", "--api-group=extensions", "-o", "name")
        self.assertEqual(r.stdout.split(), ["ingresses.extensions"])
        import kubernetes
        api = kubernetes.client.CoreV1Api(self.c.client())
        api.create_namespaced_config_map(self.ns, {"metadata": {"name": "py"}, "data": {"a": "b"}})
        got = api.read_namespaced_config_map("py", self.ns)
        self.assertEqual(got.data, {"a": "b"})
        ver = kubernetes.client.VersionApi(self.c.client()).get_code()
        self.assertEqual(ver.git_version, "v1.21.14")
