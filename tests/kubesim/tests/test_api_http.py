"""Raw HTTPS against kubesim 1.30: status codes, Status bodies word for word, list/watch semantics, discovery,
OpenAPI, authentication and authorization, faults."""
import base64
import gzip
import json
import socket
import ssl
import time
import urllib.parse

from kstest import KubeTest, unique


def cm(name, **labels):
    o = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}
    if labels:
        o["metadata"]["labels"] = labels
    return o


class Errors(KubeTest):
    def p(self, name=""):
        return "/api/v1/namespaces/%s/configmaps%s" % (self.ns, "/" + name if name else "")

    def test_not_found_status_exact(self):
        st, h, raw, doc = self.req("GET", self.p("nope"))
        self.assertEqual(st, 404)
        self.assertEqual(raw, b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
                              b'"configmaps \\"nope\\" not found","reason":"NotFound","details":{"name":"nope",'
                              b'"kind":"configmaps"},"code":404}\n')
        self.assertEqual(h["Content-Type"], "application/json")
        self.assertEqual(int(h["Content-Length"]), len(raw))
        st, _, _, doc = self.req("GET", "/apis/apps/v1/namespaces/%s/deployments/nope" % self.ns)
        self.assertEqual(doc["message"], 'deployments.apps "nope" not found')
        self.assertEqual(doc["details"], {"name": "nope", "group": "apps", "kind": "deployments"})

    def test_unknown_paths(self):
        st, h, raw, _ = self.req("GET", "/apis/nosuch.io/v1/things")
        self.assertEqual((st, raw), (404, b"404 page not found\n"))
        self.assertEqual(h["Content-Type"], "text/plain; charset=utf-8")
        st, _, _, doc = self.req("GET", "/api/v1/namespaces/%s/nosuchthings" % self.ns)
        self.assertEqual((st, doc["message"], doc["reason"], doc["details"]),
                         (404, "the server could not find the requested resource", "NotFound", {}))
        st, _, _, doc = self.req("POST", self.p("x"), cm("x"))
        self.assertEqual((st, doc["reason"], doc["message"]), (405, "MethodNotAllowed",
                                                                "the server does not allow this method on the "
                                                                "requested resource"))

    def test_already_exists_and_conflict(self):
        name = unique("c")
        created = self.ok("POST", self.p(), cm(name), 201)
        st, _, _, doc = self.req("POST", self.p(), cm(name))
        self.assertEqual((st, doc["reason"], doc["message"], doc["details"]),
                         (409, "AlreadyExists", 'configmaps "%s" already exists' % name,
                          {"name": name, "kind": "configmaps"}))
        upd = dict(created, data={"k": "2"})
        new = self.ok("PUT", self.p(name), upd)
        self.assertNotEqual(new["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"])
        st, _, _, doc = self.req("PUT", self.p(name), upd)  # stale resourceVersion
        self.assertEqual((st, doc["reason"]), (409, "Conflict"))
        self.assertEqual(doc["message"], 'Operation cannot be fulfilled on configmaps "%s": the object has been '
                                         'modified; please apply your changes to the latest version and try again'
                         % name)
        # unconditional update (no resourceVersion) is allowed for built-ins
        upd["metadata"] = {"name": name}
        self.ok("PUT", self.p(name), upd)
        st, _, _, doc = self.req("PUT", self.p(name), dict(upd, metadata={"name": "other"}))
        self.assertEqual((st, doc["message"]), (400, "the name of the object (other) does not match the name on "
                                                     "the URL (%s)" % name))
        st, _, _, doc = self.req("POST", self.p(), dict(cm(unique("n")), metadata={"name": "z", "namespace": "zz"}))
        self.assertEqual((st, doc["message"]), (400, "the namespace of the provided object does not match the "
                                                     "namespace sent on the request"))

    def test_missing_and_terminating_namespace(self):
        st, _, _, doc = self.req("POST", "/api/v1/namespaces/nope-ns/configmaps", cm("a"))
        self.assertEqual((st, doc["message"], doc["details"]),
                         (404, 'namespaces "nope-ns" not found', {"name": "nope-ns", "kind": "namespaces"}))
        ns = unique("term")
        self.ok("POST", "/api/v1/namespaces", {"metadata": {"name": ns}}, 201)
        self.ok("PUT", "/api/v1/namespaces/%s/configmaps/hold" % ns, cm("hold"), 404)
        self.ok("POST", "/api/v1/namespaces/%s/configmaps" % ns,
                dict(cm("hold"), metadata={"name": "hold", "finalizers": ["example.com/hold"]}), 201)
        d = self.ok("DELETE", "/api/v1/namespaces/" + ns)
        self.assertEqual(d["status"]["phase"], "Terminating")
        self.assertIn("deletionTimestamp", d["metadata"])
        st, _, _, doc = self.req("POST", "/api/v1/namespaces/%s/configmaps" % ns, cm("b"))
        self.assertEqual(st, 403)
        self.assertEqual(doc["message"], 'configmaps "b" is forbidden: unable to create new content in namespace %s '
                                         'because it is being terminated' % ns)
        self.assertEqual(doc["details"]["causes"], [{"reason": "NamespaceTerminating", "message":
                                                     "namespace %s is being terminated" % ns,
                                                     "field": "metadata.namespace"}])
        self.ok("PATCH", "/api/v1/namespaces/%s/configmaps/hold" % ns, {"metadata": {"finalizers": None}},
                headers={"Content-Type": "application/merge-patch+json"})
        st, _, _, doc = self.req("DELETE", "/api/v1/namespaces/kube-public")
        self.assertEqual((st, doc["message"]), (403, 'namespaces "kube-public" is forbidden: this namespace may not '
                                                     'be deleted'))

    def test_invalid_422(self):
        st, _, _, doc = self.req("POST", self.p(), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
        self.assertEqual(st, 422)
        self.assertEqual(doc["message"], 'ConfigMap "" is invalid: metadata.name: Required value: name or '
                                         'generateName is required')
        self.assertEqual(doc["details"], {"name": "", "kind": "ConfigMap", "causes": [
            {"reason": "FieldValueRequired", "message": "Required value: name or generateName is required",
             "field": "metadata.name"}]})
        st, _, _, doc = self.req("POST", "/apis/apps/v1/namespaces/%s/deployments" % self.ns, {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "Bad_Name"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "c"}},
                                                                           "spec": {"containers": [{"name": "c"}]}}}})
        self.assertEqual(st, 422)
        self.assertTrue(doc["message"].startswith('Deployment.apps "Bad_Name" is invalid: [metadata.name: Invalid '
                                                  'value: "Bad_Name": a lowercase RFC 1123 subdomain'), doc["message"])
        fields = [c["field"] for c in doc["details"]["causes"]]
        self.assertIn("spec.template.metadata.labels", fields)
        self.assertIn("spec.template.spec.containers[0].image", fields)
        self.assertEqual(doc["details"]["group"], "apps")
        self.assertEqual(doc["details"]["kind"], "Deployment")

    def test_size_limits(self):
        st, _, _, doc = self.req("POST", self.p(), {"metadata": {"name": "huge"}, "data": {"a": "x" * 1048577}})
        self.assertEqual((st, doc["message"]), (422, 'ConfigMap "huge" is invalid: : Too long: must have at most '
                                                     '1048576 bytes'))
        st, _, _, doc = self.req("POST", self.p(), {"metadata": {"name": "huge"}, "data": {"a": "x" * 3200000}},
                                 fresh=True)
        self.assertEqual((st, doc["reason"], doc["message"]), (413, "RequestEntityTooLarge",
                                                               "Request entity too large: limit is 3145728"))

    def test_yaml_bodies(self):
        y = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\n  labels: {a: b}\ndata:\n"
             "  script: |\n    echo hi\n  flag: 'yes'\n")
        o = self.ok("POST", self.p(), y.encode(), 201, headers={"Content-Type": "application/yaml"})
        self.assertEqual(o["data"], {"script": "echo hi\n", "flag": "yes"})
        self.assertEqual(o["metadata"]["labels"], {"a": "b"})
        ap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  extra: v\n"
        o = self.ok("PATCH", self.p("from-yaml") + "?fieldManager=yaml-tool", ap.encode(),
                    headers={"Content-Type": "application/apply-patch+yaml"})
        self.assertEqual(o["data"]["extra"], "v")

    def test_malformed_bodies(self):
        st, _, _, doc = self.req("POST", self.p(), b'{"apiVersion":"v1","kind":"Con',
                                 headers={"Content-Type": "application/json"})
        self.assertEqual(st, 400)
        self.assertEqual(doc["message"], 'the object provided is unrecognized (must be of type ConfigMap): couldn\'t '
                                         'get version/kind; json parse error: unexpected end of JSON input '
                                         '({"apiVersion":"v1","kind":"Con ...)')
        st, _, _, doc = self.req("POST", self.p(), {"apiVersion": "v1", "kind": "ConfigMap",
                                                   "metadata": {"name": "x"}, "data": "str"})
        self.assertEqual(st, 400)
        self.assertEqual(doc["message"], 'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot '
                                         'unmarshal string into Go struct field ConfigMap.data of type '
                                         'map[string]string')

    def test_field_validation(self):
        body = cm(unique("fv"))
        body["spec"] = {"x": 1}
        st, _, _, doc = self.req("POST", self.p() + "?fieldValidation=Strict", body)
        self.assertEqual((st, doc["reason"]), (400, "BadRequest"))
        self.assertEqual(doc["message"], 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding '
                                         'error: unknown field "spec"')
        dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": unique("fv")},
               "spec": {"foo": 1, "selector": {"matchLabels": {"a": "b"}}, "template": {
                   "metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i",
                                                                                "bogus": True}]}}}}
        st, _, _, doc = self.req("POST", "/apis/apps/v1/namespaces/%s/deployments?fieldValidation=Strict" % self.ns,
                                 dep)
        self.assertEqual(doc["message"], 'Deployment in version "v1" cannot be handled as a Deployment: strict '
                                         'decoding error: unknown field "spec.foo", unknown field '
                                         '"spec.template.spec.containers[0].bogus"')
        st, _, _, doc = self.req("POST", self.p() + "?fieldValidation=Strict",
                                 b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup"},"data":{"a":"1"},'
                                 b'"data":{"b":"2"}}', headers={"Content-Type": "application/json"})
        self.assertEqual(doc["message"], 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding '
                                         'error: duplicate field "data"')
        st, h, _, doc = self.req("POST", "/apis/apps/v1/namespaces/%s/deployments" % self.ns, dep)
        self.assertEqual(st, 201)
        self.assertIn('299 - "unknown field \\"spec.foo\\""', h.get_all("Warning"))
        self.assertNotIn("foo", doc["spec"])
        st, _, _, doc = self.req("PATCH", "/apis/apps/v1/namespaces/%s/deployments/%s?fieldValidation=Strict"
                                 % (self.ns, dep["metadata"]["name"]), {"spec": {"bar": 1}},
                                 headers={"Content-Type": "application/merge-patch+json"})
        self.assertEqual(st, 422)
        self.assertTrue(doc["message"].startswith(' "" is invalid: patch: Invalid value: "{'), doc["message"])
        self.assertTrue(doc["message"].endswith('strict decoding error: unknown field "spec.bar"'))

    def test_unsupported_patch_types(self):
        name = unique("u")
        self.ok("POST", self.p(), cm(name), 201)
        st, _, _, doc = self.req("PATCH", self.p(name), {"data": {}}, headers={"Content-Type": "text/plain"})
        self.assertEqual((st, doc["message"]), (415, "415: Unsupported Media Type"))
        st, _, _, doc = self.req("PATCH", self.p(name) + "?force=true", {"data": {}},
                                 headers={"Content-Type": "application/merge-patch+json"})
        self.assertEqual((st, doc["message"]), (422, 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may '
                                                     'not be specified for non-apply patch'))
        st, _, _, doc = self.req("PATCH", self.p(name), {"apiVersion": "v1", "kind": "ConfigMap"},
                                 headers={"Content-Type": "application/apply-patch+yaml"})
        self.assertEqual((st, doc["message"]), (422, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: '
                                                     'Required value: is required for apply patch'))
        st, _, _, doc = self.req("PATCH", self.p("missing"), {"data": {}},
                                 headers={"Content-Type": "application/merge-patch+json"})
        self.assertEqual(st, 404)
        st, _, _, doc = self.req("DELETE", self.p(name), {"propagationPolicy": "Sideways"})
        self.assertEqual((st, doc["message"]), (422, 'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: '
                                                     'Unsupported value: "Sideways": supported values: '
                                                     '"Foreground", "Background", "Orphan", "nil"'))


class Writes(KubeTest):
    def test_generate_name_dry_run_and_delete_status(self):
        p = "/api/v1/namespaces/%s/configmaps" % self.ns
        o = self.ok("POST", p, {"metadata": {"generateName": "gen-"}, "data": {}}, 201)
        self.assertRegex(o["metadata"]["name"], r"^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$")
        d = self.ok("POST", p + "?dryRun=All", cm("dry"), 201)
        self.assertIn("uid", d["metadata"])
        self.ok("GET", p + "/dry", code=404)
        st, _, _, doc = self.req("POST", p + "?dryRun=Some", cm("dry2"))
        self.assertEqual(st, 422)
        doc = self.ok("DELETE", p + "/" + o["metadata"]["name"])
        self.assertEqual(doc, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                               "details": {"name": o["metadata"]["name"], "kind": "configmaps",
                                           "uid": o["metadata"]["uid"]}})
        sa = self.ok("POST", "/api/v1/namespaces/%s/serviceaccounts" % self.ns, {"metadata": {"name": "robot"}}, 201)
        gone = self.ok("DELETE", "/api/v1/namespaces/%s/serviceaccounts/robot" % self.ns)
        self.assertEqual((gone["kind"], gone["metadata"]["uid"]), ("ServiceAccount", sa["metadata"]["uid"]))

    def test_finalizers_and_propagation(self):
        p = "/api/v1/namespaces/%s/configmaps" % self.ns
        self.ok("POST", p, {"metadata": {"name": "orph", "finalizers": ["example.com/a"]}}, 201)
        d = self.ok("DELETE", p + "/orph", {"propagationPolicy": "Orphan"})
        self.assertEqual(d["metadata"]["finalizers"], ["example.com/a", "orphan"])  # the GC removes "orphan" later
        self.assertEqual(d["metadata"]["deletionGracePeriodSeconds"], 0)
        self.ok("PATCH", p + "/orph", {"metadata": {"finalizers": None}},
                headers={"Content-Type": "application/merge-patch+json"})
        self.ok("POST", p, {"metadata": {"name": "fin", "finalizers": ["example.com/a"]}}, 201)
        d = self.ok("DELETE", p + "/fin")
        self.assertEqual(d["metadata"]["finalizers"], ["example.com/a"])
        st, _, _, doc = self.req("PATCH", p + "/fin", {"metadata": {"finalizers": ["example.com/a",
                                                                                   "example.com/new"]}},
                                 headers={"Content-Type": "application/merge-patch+json"})
        self.assertEqual(st, 422)
        self.assertIn('metadata.finalizers: Forbidden: no new finalizers can be added if the object is being '
                      'deleted, found new finalizers []string{"example.com/new"}', doc["message"])
        self.ok("PATCH", p + "/fin", {"metadata": {"finalizers": None}},
                headers={"Content-Type": "application/merge-patch+json"})
        self.ok("GET", p + "/fin", code=404)
        self.ok("POST", p, {"metadata": {"name": "fg", "finalizers": ["example.com/a"]}}, 201)
        d = self.ok("DELETE", p + "/fg?propagationPolicy=Foreground")
        self.assertIn("foregroundDeletion", d["metadata"]["finalizers"])
        self.ok("PATCH", p + "/fg", [{"op": "remove", "path": "/metadata/finalizers"}],
                headers={"Content-Type": "application/json-patch+json"})

    def test_status_subresource_and_generation(self):
        p = "/apis/apps/v1/namespaces/%s/statefulsets" % self.ns
        body = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
                "spec": {"replicas": 0, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                         "template": {"metadata": {"labels": {"app": "db"}},
                                      "spec": {"containers": [{"name": "c", "image": "i"}]}}},
                "status": {"replicas": 7}}
        o = self.ok("POST", p, body, 201)
        self.assertEqual(o["metadata"]["generation"], 1)
        self.assertNotEqual(o["status"].get("replicas"), 7)
        # controllers write status concurrently (as in a real cluster): update unconditionally
        o["metadata"]["labels"] = {"x": "y"}
        del o["metadata"]["resourceVersion"]
        o2 = self.ok("PUT", p + "/db", o)
        del o2["metadata"]["resourceVersion"]
        self.assertEqual(o2["metadata"]["generation"], 1)
        o2["spec"]["replicas"] = 0
        o2["spec"]["template"]["spec"]["containers"][0]["image"] = "j"
        o3 = self.ok("PUT", p + "/db", o2)
        self.assertEqual(o3["metadata"]["generation"], 2)
        del o3["metadata"]["resourceVersion"]
        o3["status"] = {"replicas": 5, "observedGeneration": 2}
        o4 = self.ok("PUT", p + "/db/status", o3)
        self.assertEqual(o4["status"]["replicas"], 5)
        self.assertEqual(o4["metadata"]["generation"], 2)
        del o4["metadata"]["resourceVersion"]
        o4["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": {"accessModes": [
            "ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
        st, _, _, doc = self.req("PUT", p + "/db", o4)
        self.assertEqual(st, 422)
        self.assertIn("spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                      "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
                      "forbidden", doc["message"])
        sc = self.ok("GET", p + "/db/scale")
        self.assertEqual((sc["kind"], sc["apiVersion"], sc["spec"]["replicas"]), ("Scale", "autoscaling/v1", 0))

    def test_service_allocation(self):
        p = "/api/v1/namespaces/%s/services" % self.ns
        a = self.ok("POST", p, {"metadata": {"name": "a"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}},
                    201)
        ip = a["spec"]["clusterIP"]
        import ipaddress
        self.assertIn(ipaddress.ip_address(ip), ipaddress.ip_network("10.96.0.0/12"))
        self.assertEqual(a["spec"]["clusterIPs"], [ip])
        np = a["spec"]["ports"][0]["nodePort"]
        self.assertTrue(30000 <= np <= 32767)
        self.assertEqual(a["spec"]["ports"][0]["targetPort"], 80)
        st, _, _, doc = self.req("POST", p, {"metadata": {"name": "b"}, "spec": {"type": "NodePort", "ports": [
            {"port": 80, "nodePort": np}]}})
        self.assertEqual(st, 422)
        self.assertEqual(doc["message"], 'Service "b" is invalid: spec.ports[0].nodePort: Invalid value: %d: provided '
                                         'port is already allocated' % np)
        st, _, _, doc = self.req("POST", p, {"metadata": {"name": "c"}, "spec": {"clusterIP": ip, "ports": [
            {"port": 80}]}})
        self.assertEqual(st, 422)
        self.assertIn("provided IP is already allocated", doc["message"])
        a["spec"]["clusterIP"] = "10.96.200.200"
        a["spec"]["clusterIPs"] = ["10.96.200.200"]
        st, _, _, doc = self.req("PUT", p + "/a", a)
        self.assertEqual(st, 422)
        self.assertIn("may not change once set", doc["message"])
        # PUT without clusterIP keeps the allocated one
        del a["spec"]["clusterIP"], a["spec"]["clusterIPs"], a["metadata"]["resourceVersion"]
        b = self.ok("PUT", p + "/a", a)
        self.assertEqual(b["spec"]["clusterIP"], ip)

    def test_job_selector_generation_and_stale_selector(self):
        p = "/apis/batch/v1/namespaces/%s/jobs" % self.ns
        tmpl = {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}
        j = self.ok("POST", p, {"metadata": {"name": "j1"}, "spec": {"template": tmpl}}, 201)
        uid = j["metadata"]["uid"]
        self.assertEqual(j["spec"]["selector"], {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
        labels = j["spec"]["template"]["metadata"]["labels"]
        self.assertEqual(labels["controller-uid"], uid)
        self.assertEqual(labels["batch.kubernetes.io/job-name"], "j1")
        restored = {"metadata": {"name": "j2"}, "spec": {"selector": j["spec"]["selector"],
                                                         "template": j["spec"]["template"]}}
        st, _, _, doc = self.req("POST", p, restored)
        self.assertEqual(st, 422)
        self.assertIn("`selector` not auto-generated", doc["message"])
        j["spec"]["template"]["spec"]["containers"][0]["image"] = "other"
        del j["metadata"]["resourceVersion"]
        st, _, _, doc = self.req("PUT", p + "/j1", j)
        self.assertEqual(st, 422)
        self.assertIn("spec.template: Invalid value:", doc["message"])
        self.assertIn("field is immutable", doc["message"])

    def test_pod_admission(self):
        p = "/api/v1/namespaces/%s/pods" % self.ns
        pod = self.ok("POST", p, {"metadata": {"name": "adm"}, "spec": {"containers": [{"name": "c",
                                                                                       "image": "busybox"}]}}, 201)
        s = pod["spec"]
        self.assertEqual((s["serviceAccountName"], s["serviceAccount"]), ("default", "default"))
        vol = s["volumes"][0]
        self.assertRegex(vol["name"], r"^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$")
        self.assertEqual(vol["projected"]["sources"][0], {"serviceAccountToken": {"expirationSeconds": 3607,
                                                                                  "path": "token"}})
        self.assertEqual(s["containers"][0]["volumeMounts"], [{"name": vol["name"], "readOnly": True, "mountPath":
                                                               "/var/run/secrets/kubernetes.io/serviceaccount"}])
        self.assertIn({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                       "tolerationSeconds": 300}, s["tolerations"])
        self.assertEqual((s["priority"], s["enableServiceLinks"], s["dnsPolicy"]), (0, True, "ClusterFirst"))
        self.assertEqual(s["containers"][0]["imagePullPolicy"], "Always")
        self.assertEqual(pod["status"]["phase"], "Pending")
        st, _, _, doc = self.req("POST", p, {"metadata": {"name": "nosa"}, "spec": {
            "serviceAccountName": "ghost", "containers": [{"name": "c", "image": "busybox"}]}})
        self.assertEqual((st, doc["message"]), (403, 'pods "nosa" is forbidden: error looking up service account '
                                                     '%s/ghost: serviceaccount "ghost" not found' % self.ns))
        no = self.ok("POST", p, {"metadata": {"name": "noauto"}, "spec": {
            "automountServiceAccountToken": False, "containers": [{"name": "c", "image": "busybox:1"}]}}, 201)
        self.assertNotIn("volumes", no["spec"])
        gone = self.ok("DELETE", p + "/noauto")
        self.assertEqual(gone["kind"], "Pod")

    def test_events_two_apis_one_object(self):
        ev = {"metadata": {"name": "ev1"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": self.ns},
              "reason": "Started", "message": "hello", "type": "Normal", "source": {"component": "kubelet"},
              "count": 2}
        core = self.ok("POST", "/api/v1/namespaces/%s/events" % self.ns, ev, 201)
        new = self.ok("GET", "/apis/events.k8s.io/v1/namespaces/%s/events/ev1" % self.ns)
        self.assertEqual((new["apiVersion"], new["metadata"]["uid"]), ("events.k8s.io/v1", core["metadata"]["uid"]))
        self.assertEqual((new["note"], new["regarding"]["name"], new["deprecatedCount"]), ("hello", "p", 2))
        self.assertEqual(new["deprecatedSource"], {"component": "kubelet"})
        lst = self.ok("GET", "/apis/events.k8s.io/v1/namespaces/%s/events" % self.ns)
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], ["ev1"])

    def test_create_with_server_fields(self):
        p = "/api/v1/namespaces/%s/configmaps" % self.ns
        st, _, raw, doc = self.req("POST", p, {"metadata": {"name": "rv", "resourceVersion": "12"}})
        self.assertEqual(st, 500)
        self.assertEqual(raw, b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
                              b'"resourceVersion should not be set on objects to be created","code":500}\n')
        o = self.ok("POST", p, {"metadata": {"name": "srv", "uid": "1234", "creationTimestamp": "2001-01-01T00:00:00Z",
                                             "generation": 7, "selfLink": "/x", "deletionTimestamp":
                                                 "2001-01-01T00:00:00Z"}}, 201)
        m = o["metadata"]
        self.assertNotEqual(m["uid"], "1234")
        self.assertNotEqual(m["creationTimestamp"], "2001-01-01T00:00:00Z")
        for f in ("generation", "selfLink", "deletionTimestamp"):
            self.assertNotIn(f, m)

    def test_eviction_honours_pdb(self):
        p = "/api/v1/namespaces/%s/pods" % self.ns
        for n in ("e1", "e2"):
            self.ok("POST", p, {"metadata": {"name": n, "labels": {"app": "ev"}},
                                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}, 201)
        self.wait_for(lambda: all(self.ok("GET", p + "/" + n)["status"].get("phase") == "Running"
                                  for n in ("e1", "e2")), msg="pods running")
        pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "keep2"},
               "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "ev"}}}}
        self.ok("POST", "/apis/policy/v1/namespaces/%s/poddisruptionbudgets" % self.ns, pdb, 201)
        self.wait_for(lambda: self.ok("GET", "/apis/policy/v1/namespaces/%s/poddisruptionbudgets/keep2" % self.ns)
                      .get("status", {}).get("currentHealthy") == 2, msg="pdb status")
        ev = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "e1", "namespace": self.ns}}
        st, _, _, doc = self.req("POST", p + "/e1/eviction", ev)
        self.assertEqual((st, doc["reason"], doc["message"]), (429, "TooManyRequests", "Cannot evict pod as it "
                                                                                      "would violate the pod's "
                                                                                      "disruption budget."))
        self.assertEqual(doc["details"]["causes"], [{"reason": "DisruptionBudget", "message": "The disruption budget "
                                                     "keep2 needs 2 healthy pods and has 2 currently"}])
        self.ok("DELETE", "/apis/policy/v1/namespaces/%s/poddisruptionbudgets/keep2" % self.ns)
        d = self.ok("POST", p + "/e1/eviction", ev, 201)
        self.assertEqual(d["status"], "Success")
        self.ok("GET", p + "/e1", code=404)

    def test_pvc_spec_immutable(self):
        p = "/api/v1/namespaces/%s/persistentvolumeclaims" % self.ns
        o = self.ok("POST", p, {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                                       "storageClassName": "none",
                                                                       "resources": {"requests": {"storage": "1Gi"}}}},
                    201)
        o["spec"]["accessModes"] = ["ReadWriteMany"]
        del o["metadata"]["resourceVersion"]
        st, _, _, doc = self.req("PUT", p + "/data", o)
        self.assertEqual(st, 422)
        self.assertIn("spec: Forbidden: spec is immutable after creation except resources.requests", doc["message"])

    def test_server_side_apply_create_and_managed_fields(self):
        p = "/api/v1/namespaces/%s/configmaps/ssa?fieldManager=tool-a" % self.ns
        st, _, _, doc = self.req("PATCH", p, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"},
                                              "data": {"a": "1", "b": "2"}},
                                 headers={"Content-Type": "application/apply-patch+yaml"})
        self.assertEqual(st, 201)
        mf = doc["metadata"]["managedFields"]
        self.assertEqual([(e["manager"], e["operation"]) for e in mf], [("tool-a", "Apply")])
        self.assertEqual(mf[0]["fieldsV1"], {"f:data": {"f:a": {}, "f:b": {}}})
        st, _, _, doc = self.req("PATCH", p.replace("tool-a", "tool-b"),
                                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"},
                                  "data": {"a": "9", "b": "8"}},
                                 headers={"Content-Type": "application/apply-patch+yaml"})
        self.assertEqual(st, 409)
        self.assertEqual(doc["message"], 'Apply failed with 2 conflicts: conflicts with "tool-a":\n- .data.a\n- .data.b')
        self.assertEqual(doc["details"]["causes"][0], {"reason": "FieldManagerConflict",
                                                       "message": 'conflict with "tool-a"', "field": ".data.a"})
        # same value: shared ownership, no conflict
        st, _, _, doc = self.req("PATCH", p.replace("tool-a", "tool-b"),
                                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"},
                                  "data": {"a": "1"}}, headers={"Content-Type": "application/apply-patch+yaml"})
        self.assertEqual(st, 200, doc)
        self.assertEqual(sorted(e["manager"] for e in doc["metadata"]["managedFields"]), ["tool-a", "tool-b"])

    def test_create_decodes_given_managed_fields(self):
        p = "/api/v1/namespaces/%s/services?fieldManager=restorer" % self.ns
        status_entry = {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
                        "time": "2024-01-02T03:04:05Z", "fieldsType": "FieldsV1",
                        "fieldsV1": {"f:status": {"f:loadBalancer": {"f:ingress": {}}}}, "subresource": "status"}
        owner = {"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "v1",
                 "time": "2024-01-02T03:04:05Z", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:spec": {"f:selector": {".": {}, "f:app": {}}}}}
        svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "mf", "managedFields": [owner, status_entry]},
               "spec": {"selector": {"app": "mf"}, "ports": [{"port": 80}]}}
        st, _, _, doc = self.req("POST", p, svc)
        self.assertEqual(st, 201, doc)
        mf = {e["manager"]: e for e in doc["metadata"]["managedFields"]}
        # status is reset by the strategy: the status entry keeps its fields; the spec owner loses them
        self.assertEqual(sorted(mf), ["kube-controller-manager", "restorer"])
        self.assertEqual(mf["kube-controller-manager"], status_entry)
        # invalid entries (no fieldsType) are ignored as a whole; [{}] resets
        for given in ([dict(owner, fieldsType=None), status_entry], [{}]):
            svc["metadata"]["name"] = "mf-%d" % len(given)
            svc["metadata"]["managedFields"] = given
            st, _, _, doc = self.req("POST", p, svc)
            self.assertEqual(st, 201, doc)
            self.assertEqual([e["manager"] for e in doc["metadata"]["managedFields"]], ["restorer"])

class Lists(KubeTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for i in range(25):
            st, _, _, doc = cls.c.req("POST", "/api/v1/namespaces/%s/configmaps" % cls.ns,
                                      cm("item-%02d" % i, tier="web" if i % 2 else "db", idx=str(i)))
            assert st == 201, doc

    def p(self, q=""):
        return "/api/v1/namespaces/%s/configmaps%s" % (self.ns, q)

    def test_list_shape(self):
        st, _, raw, doc = self.req("GET", self.p())
        self.assertEqual(doc["kind"], "ConfigMapList")
        self.assertEqual(doc["apiVersion"], "v1")
        self.assertTrue(doc["metadata"]["resourceVersion"].isdigit())
        self.assertNotIn("continue", doc["metadata"])
        for it in doc["items"]:
            self.assertNotIn("kind", it)
            self.assertNotIn("apiVersion", it)
        st, _, _, doc = self.req("GET", "/api/v1/namespaces/%s/secrets" % self.ns)
        self.assertEqual(doc["items"], [])
        self.assertTrue(raw.startswith(b'{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":'))

    def test_pagination_consistent_snapshot(self):
        total = len(self.ok("GET", self.p())["items"])
        doc = self.ok("GET", self.p("?limit=10"))
        self.assertEqual(len(doc["items"]), 10)
        self.assertEqual(doc["metadata"]["remainingItemCount"], total - 10)
        tok = doc["metadata"]["continue"]
        raw = json.loads(base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)))
        self.assertEqual(raw["v"], "meta.k8s.io/v1")
        self.assertEqual(str(raw["rv"]), doc["metadata"]["resourceVersion"])
        self.assertTrue(raw["start"].endswith("\u0000"))
        names = [i["metadata"]["name"] for i in doc["items"]]
        # changes after the first page are not seen by later pages
        self.ok("POST", self.p(), cm("item-99"), 201)
        self.ok("DELETE", self.p("/item-20"))
        while tok:
            doc = self.ok("GET", self.p("?limit=10&continue=" + urllib.parse.quote(tok)))
            names += [i["metadata"]["name"] for i in doc["items"]]
            tok = doc["metadata"].get("continue")
        self.assertIn("item-20", names)
        self.assertNotIn("item-99", names)
        self.assertEqual(len(names), total)
        self.assertEqual(names, sorted(names))
        self.ok("DELETE", self.p("/item-99"))
        self.ok("POST", self.p(), cm("item-20", tier="db", idx="20"), 201)

    def test_continue_errors_and_expiry(self):
        st, _, _, doc = self.req("GET", self.p("?limit=5&continue=garbage"))
        self.assertEqual(st, 400)
        self.assertTrue(doc["message"].startswith("invalid continue token: continue key is not valid"))
        doc = self.ok("GET", self.p("?limit=5"))
        tok = doc["metadata"]["continue"]
        st, _, _, doc = self.req("GET", self.p("?limit=5&resourceVersion=5&continue=" + tok))
        self.assertEqual((st, doc["message"]), (400, "specifying resource version is not allowed when using "
                                                     "continue"))
        self.ok("POST", self.p(), cm(unique("bump")), 201)  # move the revision on
        time.sleep(3.5)  # run-tests starts kubesim with --continue-ttl 3
        st, _, _, doc = self.req("GET", self.p("?limit=5&continue=" + tok))
        self.assertEqual((st, doc["reason"], doc["code"]), (410, "Expired", 410))
        self.assertTrue(doc["message"].startswith("The provided continue parameter is too old to display a "
                                                  "consistent list result."))
        fresh = doc["metadata"]["continue"]
        doc = self.ok("GET", self.p("?limit=5&continue=" + fresh))
        self.assertEqual(len(doc["items"]), 5)

    def test_label_selectors(self):
        def names(sel):
            d = self.ok("GET", self.p("?labelSelector=" + urllib.parse.quote(sel)))
            return sorted(i["metadata"]["name"] for i in d["items"])
        self.assertEqual(len(names("tier=web")), 12)
        self.assertEqual(names("tier==db,idx in (0,2,5)"), ["item-00", "item-02"])
        total = len(self.ok("GET", self.p())["items"])
        self.assertEqual(len(names("tier!=web")), total - 12)  # includes objects without the label
        self.assertEqual(names("idx notin (0,1),tier=db,idx in (2,4)"), ["item-02", "item-04"])
        self.assertEqual(len(names("idx")), 25)
        self.assertIn("kube-root-ca.crt", names("!idx"))
        self.assertFalse([n for n in names("!idx") if n.startswith("item-")])
        d = self.ok("GET", self.p("?labelSelector=tier%3Dweb&limit=5"))
        self.assertNotIn("remainingItemCount", d["metadata"])
        self.assertIn("continue", d["metadata"])
        st, _, _, doc = self.req("GET", self.p("?labelSelector=" + urllib.parse.quote("app=-bad-")))
        self.assertEqual(st, 400)
        self.assertTrue(doc["message"].startswith('unable to parse requirement: values[0][app]: Invalid value: '
                                                  '"-bad-": a valid label must be an empty string'))

    def test_field_selectors(self):
        d = self.ok("GET", self.p("?fieldSelector=metadata.name%3Ditem-03"))
        self.assertEqual([i["metadata"]["name"] for i in d["items"]], ["item-03"])
        d = self.ok("GET", "/api/v1/configmaps?fieldSelector=metadata.namespace%3D" + self.ns +
                    ",metadata.name!%3Ditem-03")
        names = [i["metadata"]["name"] for i in d["items"]]
        self.assertEqual(len([n for n in names if n.startswith("item-")]), 24)
        self.assertNotIn("item-03", names)
        self.assertEqual({i["metadata"]["namespace"] for i in d["items"]}, {self.ns})
        st, _, _, doc = self.req("GET", self.p("?fieldSelector=data.k%3Dv"))
        self.assertEqual((st, doc["message"]), (400, '"data.k" is not a known field selector: only "metadata.name", '
                                                     '"metadata.namespace"'))
        st, _, _, doc = self.req("GET", "/api/v1/pods?fieldSelector=spec.foo%3Dbar")
        self.assertEqual((st, doc["message"]), (400, "field label not supported: spec.foo"))
        self.ok("GET", "/api/v1/pods?fieldSelector=status.phase%3DRunning")
        self.ok("GET", "/api/v1/secrets?fieldSelector=type%3DOpaque")
        st, _, _, doc = self.req("GET", self.p("?fieldSelector=nonsense"))
        self.assertEqual((st, doc["message"]), (400, "invalid selector: 'nonsense'; can't understand 'nonsense'"))

    def test_resource_version_params(self):
        st, _, _, doc = self.req("GET", self.p("?resourceVersion=99999999"))
        self.assertEqual((st, doc["reason"]), (504, "Timeout"))
        self.assertTrue(doc["message"].startswith("Timeout: Too large resource version: 99999999, current: "))
        st, _, _, doc = self.req("GET", self.p("?resourceVersionMatch=NotOlderThan"))
        self.assertEqual((st, doc["message"]), (422, 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: '
                                                     'Forbidden: resourceVersionMatch is forbidden unless '
                                                     'resourceVersion is provided'))
        self.ok("GET", self.p("?resourceVersion=0"))

    def test_gzip_and_keepalive(self):
        st, h, raw, _ = self.req("GET", "/api/v1/configmaps", headers={"Accept-Encoding": "gzip"})
        if len(raw) > 128 * 1024:
            self.assertEqual(h["Content-Encoding"], "gzip")
        big = {"metadata": {"name": "big"}, "data": {"x": "y" * 200000}}
        self.ok("POST", self.p(), big, 201)
        st, h, raw, _ = self.req("GET", self.p("/big"), headers={"Accept-Encoding": "gzip"})
        self.assertEqual(h["Content-Encoding"], "gzip")
        self.assertEqual(json.loads(gzip.decompress(raw))["data"]["x"], "y" * 200000)
        st, h, raw, _ = self.req("GET", self.p("/big"))
        self.assertIsNone(h.get("Content-Encoding"))
        self.ok("DELETE", self.p("/big"))
        # one connection serves many requests
        conn = self.c.conn("admin")
        sock = conn.sock
        for _ in range(5):
            self.ok("GET", self.p("/item-01"))
        self.assertIs(conn.sock, sock)


class Watches(KubeTest):
    def stream(self, path, who="admin"):
        """Open a watch; returns (socket file, response headers)."""
        ctx = self.c.ctx(cert=(who == "admin"))
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.c.port)), server_hostname="127.0.0.1")
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n" % path).encode())
        f = s.makefile("rb")
        status = f.readline()
        headers = {}
        while True:
            line = f.readline().strip()
            if not line:
                break
            k, v = line.decode().split(":", 1)
            headers[k.strip().lower()] = v.strip()
        return s, f, status, headers

    def events(self, f, n, timeout=10):
        out = []
        buf = b""
        end = time.time() + timeout
        while len(out) < n and time.time() < end:
            line = f.readline()
            if not line:  # connection closed
                break
            size = line.strip()
            if not size:
                continue
            size = int(size, 16)
            if size == 0:
                break
            chunk = f.read(size)
            f.readline()
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    out.append(json.loads(line))
        return out

    def test_watch_named_object_from_rv(self):
        p = "/api/v1/namespaces/%s/configmaps" % self.ns
        lst = self.ok("GET", p + "?fieldSelector=metadata.name%3Dw1")
        rv = lst["metadata"]["resourceVersion"]
        s, f, status, h = self.stream(p + "?fieldSelector=metadata.name%%3Dw1&resourceVersion=%s&watch=true"
                                          "&allowWatchBookmarks=true&timeoutSeconds=20" % rv)
        self.assertIn(b"200", status)
        self.assertEqual(h["transfer-encoding"], "chunked")
        self.assertEqual(h["content-type"], "application/json")
        self.ok("POST", p, cm("other"), 201)
        self.ok("POST", p, cm("w1"), 201)
        self.ok("PATCH", p + "/w1", {"data": {"k": "2"}}, headers={"Content-Type": "application/merge-patch+json"})
        self.ok("DELETE", p + "/w1")
        evs = self.events(f, 3)
        s.close()
        self.assertEqual([e["type"] for e in evs], ["ADDED", "MODIFIED", "DELETED"])
        self.assertEqual(evs[0]["object"]["kind"], "ConfigMap")
        self.assertEqual(evs[0]["object"]["apiVersion"], "v1")
        self.assertTrue(all(e["object"]["metadata"]["name"] == "w1" for e in evs))
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs]
        self.assertEqual(rvs, sorted(rvs))

    def test_watch_initial_state_and_label_transitions(self):
        p = "/api/v1/namespaces/%s/configmaps" % self.ns
        self.ok("POST", p, cm("lab", team="a"), 201)
        s, f, status, h = self.stream(p + "?watch=1&labelSelector=team%3Da&timeoutSeconds=20")
        evs = self.events(f, 1)
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in evs], [("ADDED", "lab")])
        self.ok("PATCH", p + "/lab", {"metadata": {"labels": {"team": "b"}}},
                headers={"Content-Type": "application/merge-patch+json"})
        self.ok("PATCH", p + "/lab", {"metadata": {"labels": {"team": "a"}}},
                headers={"Content-Type": "application/merge-patch+json"})
        evs = self.events(f, 2)
        s.close()
        self.assertEqual([e["type"] for e in evs], ["DELETED", "ADDED"])

    def test_watch_too_old_and_timeout(self):
        p = "/api/v1/namespaces/%s/configmaps" % self.ns
        t = time.time()
        s, f, status, h = self.stream(p + "?watch=true&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=1"
                                      % self.ok("GET", p)["metadata"]["resourceVersion"])
        evs = self.events(f, 1, timeout=5)
        s.close()
        self.assertLess(time.time() - t, 4)
        self.assertEqual(evs[0]["type"], "BOOKMARK")
        self.assertEqual(evs[0]["object"]["kind"], "ConfigMap")
        self.assertEqual(set(evs[0]["object"]["metadata"]), {"resourceVersion", "creationTimestamp"})


class Discovery(KubeTest):
    V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    V2B1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"

    def test_legacy(self):
        d = self.ok("GET", "/api")
        self.assertEqual(d["kind"], "APIVersions")
        self.assertNotIn("apiVersion", d)
        d = self.ok("GET", "/api/v1")
        self.assertNotIn("apiVersion", d)
        cmr = next(r for r in d["resources"] if r["name"] == "configmaps")
        self.assertEqual(cmr, {"name": "configmaps", "singularName": "configmap", "namespaced": True,
                               "kind": "ConfigMap", "verbs": ["create", "delete", "deletecollection", "get", "list",
                                                              "patch", "update", "watch"],
                               "shortNames": ["cm"], "storageVersionHash": "qFsyl6wFWjQ="})
        ex = next(r for r in d["resources"] if r["name"] == "pods/exec")
        self.assertEqual(ex, {"name": "pods/exec", "singularName": "", "namespaced": True,
                              "kind": "PodExecOptions", "verbs": ["create", "get"]})
        d = self.ok("GET", "/apis/apps/v1")
        self.assertEqual(d["apiVersion"], "v1")
        dep = next(r for r in d["resources"] if r["name"] == "deployments")
        self.assertEqual(dep["storageVersionHash"], "8aSe+NMegvE=")
        sc = next(r for r in d["resources"] if r["name"] == "deployments/scale")
        self.assertEqual((sc["group"], sc["version"], sc["kind"]), ("autoscaling", "v1", "Scale"))
        g = self.ok("GET", "/apis")
        apps = next(x for x in g["groups"] if x["name"] == "apps")
        self.assertEqual(apps["preferredVersion"], {"groupVersion": "apps/v1", "version": "v1"})
        auto = next(x for x in g["groups"] if x["name"] == "autoscaling")
        self.assertEqual([v["version"] for v in auto["versions"]], ["v2", "v1"])

    def test_aggregated_negotiation_and_etag(self):
        st, h, raw, d = self.req("GET", "/apis", headers={"Accept": self.V2 + "," + self.V2B1 + ",application/json"})
        self.assertEqual(h["Content-Type"], self.V2)
        self.assertEqual(d["kind"], "APIGroupDiscoveryList")
        apps = next(i for i in d["items"] if i["metadata"]["name"] == "apps")
        dep = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
        self.assertEqual(dep["responseKind"], {"group": "apps", "version": "v1", "kind": "Deployment"})
        self.assertEqual(dep["scope"], "Namespaced")
        self.assertIn({"subresource": "status", "responseKind": {"group": "apps", "version": "v1",
                                                                 "kind": "Deployment"},
                       "verbs": ["get", "patch", "update"]}, dep["subresources"])
        self.assertNotIn("storageVersionHash", dep)
        tag = h["ETag"]
        st, h2, raw, _ = self.req("GET", "/apis", headers={"Accept": self.V2, "If-None-Match": tag})
        self.assertEqual(st, 304)
        st, h, _, d = self.req("GET", "/api", headers={"Accept": self.V2B1 + ",application/json"})
        self.assertEqual(h["Content-Type"], self.V2B1)
        self.assertEqual(d["items"][0]["metadata"], {"creationTimestamp": None})
        st, h, _, d = self.req("GET", "/apis", headers={"Accept": "application/json"})
        self.assertEqual(d["kind"], "APIGroupList")

    def test_openapi(self):
        st, h, raw, _ = self.req("GET", "/openapi/v2",
                                 headers={"Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
        self.assertEqual(st, 200)
        self.assertEqual(h["Content-Type"], "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
        self.assertTrue(raw.startswith(b"\x0a\x032.0B"))
        self.assertIn(b"/api/v1/namespaces/{namespace}/configmaps/{name}", raw)
        self.assertIn(b"fieldValidation", raw)
        idx = self.ok("GET", "/openapi/v3")
        url = idx["paths"]["apis/apps/v1"]["serverRelativeURL"]
        doc = self.ok("GET", url)
        op = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
        self.assertEqual(op["x-kubernetes-group-version-kind"], {"group": "apps", "version": "v1",
                                                                 "kind": "Deployment"})
        self.assertEqual(op["parameters"][0]["name"], "fieldValidation")


class AuthN(KubeTest):
    def test_anonymous_and_tokens(self):
        st, _, _, doc = self.req("GET", "/version", who="anon")
        self.assertEqual((st, doc["gitVersion"]), (200, "v1.30.14"))
        st, _, raw, _ = self.req("GET", "/healthz", who="anon")
        self.assertEqual((st, raw), (200, b"ok"))
        st, _, _, doc = self.req("GET", "/api", who="anon")
        self.assertEqual((st, doc["message"], doc["details"]),
                         (403, 'forbidden: User "system:anonymous" cannot get path "/api"', {}))
        st, _, _, doc = self.req("GET", "/api/v1/namespaces/default/pods", who="anon")
        self.assertEqual(doc["message"], 'pods is forbidden: User "system:anonymous" cannot list resource "pods" in '
                                         'API group "" in the namespace "default"')
        st, _, raw, doc = self.req("GET", "/api", who="token:wrong")
        self.assertEqual(st, 401)
        self.assertEqual(raw, b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
                              b'"Unauthorized","reason":"Unauthorized","code":401}\n')
        st, _, _, doc = self.req("GET", "/api", who="jane")
        self.assertEqual(st, 200)
        st, _, _, doc = self.req("GET", "/api/v1/nodes", who="jane")
        self.assertEqual(doc["message"], 'nodes is forbidden: User "jane" cannot list resource "nodes" in API group '
                                         '"" at the cluster scope')
        st, _, _, doc = self.req("GET", "/api/v1/namespaces/%s/configmaps/x" % self.ns, who="jane")
        self.assertEqual(doc["message"], 'configmaps "x" is forbidden: User "jane" cannot get resource "configmaps" '
                                         'in API group "" in the namespace "%s"' % self.ns)
        self.assertEqual(doc["details"], {"name": "x", "kind": "configmaps"})

    def test_service_account_tokens(self):
        self.ok("POST", "/api/v1/namespaces/%s/serviceaccounts" % self.ns, {"metadata": {"name": "bot"}}, 201)
        tr = self.ok("POST", "/api/v1/namespaces/%s/serviceaccounts/bot/token" % self.ns,
                     {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}, 201)
        tok = tr["status"]["token"]
        st, _, _, doc = self.req("GET", "/api/v1/namespaces/%s/pods" % self.ns, who="token:" + tok)
        self.assertEqual(doc["message"], 'pods is forbidden: User "system:serviceaccount:%s:bot" cannot list '
                                         'resource "pods" in API group "" in the namespace "%s"' % (self.ns, self.ns))
        # a legacy token Secret authenticates as its ServiceAccount
        secret = {"metadata": {"name": "bot-token", "annotations": {"kubernetes.io/service-account.name": "bot"}},
                  "type": "kubernetes.io/service-account-token",
                  "data": {"token": base64.b64encode(b"legacy-secret-token-123").decode()}}
        self.ok("POST", "/api/v1/namespaces/%s/secrets" % self.ns, secret, 201)

        def who():
            # the token controller may complete the Secret (uid annotation, ca.crt, namespace): use what is stored
            s = self.ok("GET", "/api/v1/namespaces/%s/secrets/bot-token" % self.ns)
            tok = base64.b64decode(s["data"]["token"]).decode()
            st, _, _, d = self.req("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                   {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
                                   who="token:" + tok)
            return st == 201 and d["status"]["userInfo"]["username"]
        self.assertEqual(self.wait_for(who, msg="token indexed"), "system:serviceaccount:%s:bot" % self.ns)

    def test_ssar_and_rules_review(self):
        body = {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                "spec": {"resourceAttributes": {"namespace": self.ns, "verb": "get", "resource": "pods"}}}
        d = self.ok("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body, 201)
        self.assertEqual(d["status"], {"allowed": True})
        d = self.ok("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body, 201, who="viewer")
        self.assertTrue(d["status"]["allowed"])
        self.assertEqual(d["status"]["reason"], 'RBAC: allowed by ClusterRoleBinding "kubesim:viewer" of '
                                                'ClusterRole "kubesim:viewer" to User "kubesim-viewer"')
        body["spec"]["resourceAttributes"]["resource"] = "secrets"
        d = self.ok("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body, 201, who="jane")
        self.assertEqual(d["status"], {"allowed": False})
        d = self.ok("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                    {"spec": {"namespace": self.ns}}, 201, who="jane")
        self.assertFalse(d["status"]["incomplete"])
        self.assertIn({"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                       "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
                      d["status"]["resourceRules"])

    def test_impersonation_headers(self):
        st, _, _, doc = self.req("GET", "/api/v1/namespaces/%s/configmaps" % self.ns,
                                 headers={"Impersonate-User": "jane"})
        self.assertEqual(st, 403)
        self.assertIn('User "jane" cannot list', doc["message"])
        st, _, _, doc = self.req("GET", "/api/v1/namespaces/%s/configmaps" % self.ns,
                                 headers={"Impersonate-User": "jane", "Impersonate-Group": "system:masters"})
        self.assertEqual(st, 200)
        st, _, _, doc = self.req("GET", "/api", headers={"Impersonate-User": "x"}, who="jane")
        self.assertEqual(doc["message"], 'users "x" is forbidden: User "jane" cannot impersonate resource "users" in '
                                         'API group "" at the cluster scope')
        st, _, raw, _ = self.req("GET", "/api", headers={"Impersonate-Group": "g"})
        self.assertEqual((st, raw), (500, b'Internal Server Error: "/api": requested [{Group  g  '
                                          b'authentication.k8s.io/v1  }] without impersonating a user\n'))

    def test_rbac_escalation_and_binding(self):
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": "jane-admin", "namespace": self.ns},
                "rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"],
                           "verbs": ["create", "get", "list", "update", "patch", "delete"]}, {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]}
        self.ok("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/roles" % self.ns, role, 201)
        rb = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
              "metadata": {"name": "jane-admin", "namespace": self.ns},
              "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "jane-admin"},
              "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "jane"}]}
        self.ok("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/rolebindings" % self.ns, rb, 201)
        self.ok("GET", "/api/v1/namespaces/%s/configmaps/kube-root-ca.crt" % self.ns, who="jane")
        esc = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": {"name": "more", "namespace": self.ns},
               "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}
        st, _, _, doc = self.req("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/roles" % self.ns, esc,
                                 who="jane")
        self.assertEqual(st, 403)
        self.assertEqual(doc["message"], 'roles.rbac.authorization.k8s.io "more" is forbidden: user "jane" '
                                         '(groups=["devs" "testers" "system:authenticated"]) is attempting to grant '
                                         'RBAC permissions not currently held:\n{APIGroups:[""], Resources:["secrets"], '
                                         'Verbs:["get"]}')
        esc["rules"][0]["resources"] = ["configmaps"]
        self.ok("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/roles" % self.ns, esc, 201, who="jane")


class Faults(KubeTest):
    def set(self, spec):
        return self.ok("POST", "/kubesim/v1/faults", {"spec": spec})

    def tearDown(self):
        self.req("DELETE", "/kubesim/v1/faults")

    def test_endpoint_admin_only(self):
        st, _, _, doc = self.req("POST", "/kubesim/v1/faults", {"spec": ""}, who="viewer")
        self.assertEqual(st, 403)
        st, _, _, doc = self.req("POST", "/kubesim/v1/faults", {"spec": "bogus=1"})
        self.assertEqual(st, 400)

    def test_status_faults_every_nth(self):
        p = "/api/v1/namespaces/%s/configmaps" % self.ns
        self.set("status=429,retry-after=2,verb=list,resource=configmaps,every=2;seed=1")
        codes = []
        for _ in range(4):
            st, h, raw, _ = self.req("GET", p)
            codes.append(st)
            if st == 429:
                self.assertEqual(h["Retry-After"], "2")
                self.assertEqual(raw, b"Too many requests, please try again later.\n")
        self.assertEqual(codes, [200, 429, 200, 429])
        st, _, _, doc = self.req("GET", "/version")
        self.assertEqual(st, 200)
        self.set("status=500,verb=get,resource=configmaps,times=1")
        st, _, _, doc = self.req("GET", p + "/kube-root-ca.crt")
        self.assertEqual((st, doc["reason"]), (500, "InternalError"))
        self.ok("GET", p + "/kube-root-ca.crt")
        self.set("status=503,verb=create")
        st, h, _, doc = self.req("POST", p, cm("x"))
        self.assertEqual((st, doc["reason"], h["Retry-After"]), (503, "ServiceUnavailable", "1"))

    def test_probability_is_seeded(self):
        p = "/api/v1/namespaces/%s/configmaps" % self.ns
        runs = []
        for _ in range(2):
            self.set("status=503,p=0.5,verb=list,resource=configmaps;seed=42")
            runs.append([self.req("GET", p)[0] for _ in range(16)])
        self.assertEqual(runs[0], runs[1])
        self.assertIn(503, runs[0])
        self.assertIn(200, runs[0])
        self.set("status=500,after=2,times=1,verb=list,resource=configmaps")
        self.assertEqual([self.req("GET", p)[0] for _ in range(5)], [200, 200, 500, 200, 200])
        rules = self.ok("GET", "/kubesim/v1/faults")["rules"]
        self.assertEqual((rules[0]["matches"], rules[0]["fired"]), (5, 1))

    def test_drop_latency_deny_expire_broken_group(self):
        p = "/api/v1/namespaces/%s/configmaps" % self.ns
        self.set("drop,verb=list,resource=configmaps,times=1")
        import http.client
        with self.assertRaises((http.client.IncompleteRead, ConnectionError, http.client.RemoteDisconnected,
                                ssl.SSLError)):
            self.c.req("GET", p, fresh=True)
        self.ok("GET", p)
        self.set("drop,verb=watch,resource=configmaps,times=1")
        s, f, status, h = Watches.stream(self, p + "?watch=true&timeoutSeconds=30")
        t = time.time()
        evs = Watches.events(self, f, 100, timeout=10)
        s.close()
        self.assertLess(time.time() - t, 5)
        self.assertTrue(evs and all(e["type"] == "ADDED" for e in evs))
        self.set("latency=400,verb=get,resource=configmaps")
        t = time.time()
        self.ok("GET", p + "/kube-root-ca.crt")
        self.assertGreaterEqual(time.time() - t, 0.4)
        self.set("deny=configmaps,message=no configmaps today")
        st, _, _, doc = self.req("POST", p, cm("denied"))
        self.assertEqual((st, doc["message"]), (400, 'admission webhook "deny.kubesim.io" denied the request: no '
                                                     'configmaps today'))
        self.set("expire-continue")
        d = self.ok("GET", "/api/v1/namespaces/kube-system/configmaps?limit=1")
        d = self.ok("GET", "/api/v1/configmaps?limit=1")
        st, _, _, doc = self.req("GET", "/api/v1/configmaps?limit=1&continue=" + d["metadata"]["continue"])
        self.assertEqual((st, doc["reason"]), (410, "Expired"))
        self.set("broken-group=metrics.k8s.io")
        g = self.ok("GET", "/apis")
        self.assertIn("metrics.k8s.io", [x["name"] for x in g["groups"]])
        st, _, _, doc = self.req("GET", "/apis/metrics.k8s.io/v1beta1")
        self.assertEqual(st, 503)
        st, h, _, d = self.req("GET", "/apis", headers={"Accept": Discovery.V2})
        m = next(i for i in d["items"] if i["metadata"]["name"] == "metrics.k8s.io")
        self.assertEqual(m["versions"][0]["freshness"], "Stale")


    def test_reset_before_and_after(self):
        import http.client

        def post_once(name):  # no retry: the client helper retries a reset once
            c = http.client.HTTPSConnection("127.0.0.1", self.c.port, context=self.c.ctx(), timeout=30)
            try:
                c.request("POST", p, body=json.dumps(cm(name)), headers={"Content-Type": "application/json"})
                return c.getresponse().read()
            finally:
                c.close()
        p = "/api/v1/namespaces/%s/configmaps" % self.ns
        self.set("reset,verb=create,resource=configmaps,times=1")
        with self.assertRaises((ConnectionError, http.client.RemoteDisconnected, ssl.SSLError)):
            post_once("lost")
        self.assertEqual(self.req("GET", p + "/lost")[0], 404)  # never served
        self.set("reset=after,verb=create,resource=configmaps,times=1")
        with self.assertRaises((ConnectionError, http.client.RemoteDisconnected, ssl.SSLError)):
            post_once("landed")
        self.ok("GET", p + "/landed")  # served; only the answer was lost
        self.assertEqual(self.req("POST", p, cm("landed"))[0], 409)
        st, _, _, doc = self.req("POST", "/kubesim/v1/faults", {"spec": "reset=sideways"})
        self.assertEqual(st, 400)

    def test_kill_at_nth_request(self):
        import signal
        import subprocess
        import tempfile
        victim = subprocess.Popen(["sleep", "60"])
        with tempfile.NamedTemporaryFile("w", suffix=".pid") as pf:
            pf.write("%d\n" % victim.pid)
            pf.flush()
            p = "/api/v1/namespaces/%s/configmaps" % self.ns
            self.set("kill=%s,verb=list,resource=configmaps,after=2,times=1" % pf.name)
            self.ok("GET", p)
            self.ok("GET", p)
            self.assertIsNone(victim.poll())  # not yet: the third list fires
            self.ok("GET", p)  # the request itself is served
            self.assertEqual(victim.wait(timeout=10), -signal.SIGKILL)


class CustomResources(KubeTest):
    CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
                    "versions": [
                        {"name": "v1", "served": True, "storage": True,
                         "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                                  "statusReplicasPath": ".status.replicas"}},
                         "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                             "spec": {"type": "object", "properties": {"color": {"type": "string"},
                                                                       "replicas": {"type": "integer"}}},
                             "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}},
                        {"name": "v1beta1", "served": True, "storage": False,
                         "schema": {"openAPIV3Schema": {"type": "object",
                                                        "x-kubernetes-preserve-unknown-fields": True}}}]}}

    def test_crd_lifecycle(self):
        base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        self.ok("POST", base, self.CRD, 201)
        try:
            self.wait_for(lambda: self.req("GET", "/apis/example.com/v1/widgets")[0] == 200, msg="CRD served")
            crd = self.ok("GET", base + "/widgets.example.com")
            conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
            self.assertEqual(conds, {"NamesAccepted": "True", "Established": "True"})
            self.assertEqual(crd["status"]["acceptedNames"]["kind"], "Widget")
            self.assertEqual(crd["status"]["storedVersions"], ["v1"])
            p = "/apis/example.com/v1/namespaces/%s/widgets" % self.ns
            w = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"},
                 "spec": {"color": "red", "replicas": 1}, "status": {"replicas": 9}}
            o = self.ok("POST", p, w, 201)
            self.assertEqual(o["metadata"]["generation"], 1)
            self.assertNotIn("status", o)
            st, _, _, doc = self.req("POST", p + "?fieldValidation=Strict",
                                     dict(w, metadata={"name": "w2"}, spec={"colour": "x"}))
            self.assertEqual((st, doc["message"]), (400, 'Widget in version "v1" cannot be handled as a Widget: '
                                                         'strict decoding error: unknown field "spec.colour"'))
            st, _, _, doc = self.req("POST", p, dict(w, metadata={"name": "w3"}, spec={"replicas": "many"}))
            self.assertEqual(st, 422)
            self.assertEqual(doc["message"], 'Widget.example.com "w3" is invalid: spec.replicas: Invalid value: '
                                             '"many": spec.replicas in body must be of type integer: "string"')
            self.assertEqual(doc["details"]["group"], "example.com")
            lst = self.ok("GET", p)
            self.assertEqual(lst["kind"], "WidgetList")
            self.assertEqual((lst["items"][0]["kind"], lst["items"][0]["apiVersion"]), ("Widget", "example.com/v1"))
            b = self.ok("GET", "/apis/example.com/v1beta1/namespaces/%s/widgets/w1" % self.ns)
            self.assertEqual((b["apiVersion"], b["metadata"]["uid"]), ("example.com/v1beta1", o["metadata"]["uid"]))
            st, _, _, doc = self.req("PATCH", p + "/w1", {"spec": {"color": "blue"}},
                                     headers={"Content-Type": "application/strategic-merge-patch+json"})
            self.assertEqual((st, doc["reason"]), (415, "UnsupportedMediaType"))
            self.assertEqual(doc["message"], "the body of the request was in an unknown format - accepted media types "
                                             "include: application/json-patch+json, application/merge-patch+json, "
                                             "application/apply-patch+yaml")
            o2 = self.ok("PATCH", p + "/w1", {"spec": {"color": "blue"}},
                         headers={"Content-Type": "application/merge-patch+json"})
            self.assertEqual(o2["metadata"]["generation"], 2)
            st, _, _, doc = self.req("PUT", p + "/w1", dict(o2, metadata={"name": "w1"}))
            self.assertEqual((st, doc["message"]), (422, 'widgets.example.com "w1" is invalid: '
                                                         'metadata.resourceVersion: Invalid value: 0: must be '
                                                         'specified for an update'))
            o2["status"] = {"replicas": 3}
            o3 = self.ok("PUT", p + "/w1/status", o2)
            self.assertEqual((o3["status"], o3["metadata"]["generation"]), ({"replicas": 3}, 2))
            sc = self.ok("GET", p + "/w1/scale")
            self.assertEqual(sc["spec"]["replicas"], 1)
            r = self.c.kubectl("get", "wd", "-n", self.ns, "-o", "name")
            self.assertEqual(r.stdout.strip(), "widget.example.com/w1", r.stderr)
            self.wait_for(lambda: self.req("GET", p, who="viewer")[0] == 200, msg="viewer reads the new CRD")
            st, _, _, doc = self.req("GET", p, who="jane")
            self.assertEqual(doc["message"], 'widgets.example.com is forbidden: User "jane" cannot list resource '
                                             '"widgets" in API group "example.com" in the namespace "%s"' % self.ns)
            # a ClusterRole labelled for aggregation extends "view"
            agg = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                   "metadata": {"name": "widgets-view",
                                "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
                   "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"],
                              "verbs": ["get", "list", "watch"]}]}
            self.ok("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", agg, 201)
            try:
                def in_view():
                    v = self.ok("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/view")
                    return any("widgets" in r.get("resources", []) for r in v["rules"])
                self.wait_for(in_view, msg="view aggregates widgets-view")
                self.wait_for(lambda: any("widgets" in r.get("resources", []) for r in self.ok(
                    "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin")["rules"]),
                    msg="admin aggregates edit which aggregates view")
            finally:
                self.ok("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles/widgets-view")
        finally:
            self.ok("DELETE", base + "/widgets.example.com")
        self.wait_for(lambda: self.req("GET", base + "/widgets.example.com")[0] == 404, msg="CRD gone")
        st, _, raw, _ = self.req("GET", "/apis/example.com/v1/widgets")
        self.assertEqual(st, 404)
