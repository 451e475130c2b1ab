"""kubectl against kubesim 1.30: what a real cluster prints and stores."""
import json
import os
import tempfile
import time

from kstest import KubeTest, unique

CM = """apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
  labels: {app: demo}
data:
  a: "1"
"""
DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
spec:
  replicas: 1
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec:
      containers:
      - name: main
        image: nginx:1.25
        env: [{name: A, value: "1"}]
        ports: [{containerPort: 80}]
      - name: side
        image: busybox:1.36
"""


class KubectlBasics(KubeTest):
    def k(self, *args, **kw):
        return self.c.kubectl("-n", self.ns, *args, **kw)

    def test_api_resources(self):
        r = self.c.kubectl("api-resources")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith("NAME"))
        rows = {tuple(l.split()[:2]) for l in lines[1:]}
        for name, short in (("configmaps", "cm"), ("deployments", "deploy"), ("persistentvolumeclaims", "pvc"),
                            ("customresourcedefinitions", "crd,crds"), ("cronjobs", "cj"), ("volumesnapshots", "vs")):
            self.assertIn((name, short), rows)
        self.assertIn("selfsubjectaccessreviews", r.stdout)
        r = self.c.kubectl("api-resources", "--api-group=apps", "-o", "name")
        self.assertEqual(sorted(r.stdout.split()), ["controllerrevisions.apps", "daemonsets.apps",
                                                    "deployments.apps", "replicasets.apps", "statefulsets.apps"])

    def test_fresh_cluster_contents(self):
        ns = self.c.kubectl_json("get", "ns", "kube-system")
        self.assertEqual(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "kube-system")
        self.assertEqual(ns["spec"]["finalizers"], ["kubernetes"])
        self.assertEqual(ns["status"]["phase"], "Active")
        cm = self.c.kubectl_json("get", "cm", "kube-root-ca.crt", "-n", self.ns)
        self.assertIn("BEGIN CERTIFICATE", cm["data"]["ca.crt"])
        sa = self.c.kubectl_json("get", "sa", "default", "-n", self.ns)
        self.assertEqual(sa["metadata"]["name"], "default")
        svc = self.c.kubectl_json("get", "svc", "kubernetes", "-n", "default")
        self.assertEqual(svc["spec"]["clusterIP"], "10.96.0.1")
        self.assertGreaterEqual(len(self.c.kubectl_json("get", "nodes")["items"]), 1)
        sc = self.c.kubectl_json("get", "storageclass", "standard")
        self.assertEqual(sc["provisioner"], "kubesim.csi.k8s.io")
        self.assertEqual(sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"], "true")
        crb = self.c.kubectl_json("get", "clusterrolebinding", "system:discovery")
        self.assertEqual(crb["subjects"][0]["name"], "system:authenticated")
        view = self.c.kubectl_json("get", "clusterrole", "view")
        self.assertEqual(view["metadata"]["labels"]["kubernetes.io/bootstrapping"], "rbac-defaults")
        self.assertTrue(view["rules"], "aggregated ClusterRole view has its rules filled in")
        edit = self.c.kubectl_json("get", "clusterrole", "edit")
        self.assertTrue(any("secrets" in r.get("resources", []) for r in edit["rules"]))
        self.assertFalse(any("secrets" in r.get("resources", []) and "get" in r["verbs"] for r in view["rules"]))
        aps = self.c.kubectl_json("get", "apiservices")["items"]
        names = {a["metadata"]["name"]: a for a in aps}
        self.assertEqual(names["v1.apps"]["spec"]["groupPriorityMinimum"], 17800)
        self.assertEqual(names["v1."]["status"]["conditions"][0]["reason"], "Local")
        self.assertEqual(names["v1.snapshot.storage.k8s.io"]["metadata"]["labels"],
                         {"kube-aggregator.kubernetes.io/automanaged": "true"})
        self.assertEqual(sorted(o["metadata"]["name"] for o in self.c.kubectl_json("get", "flowschemas")["items"]),
                         ["catch-all", "exempt"])
        leases = self.c.kubectl_json("get", "leases", "-n", "kube-node-lease")["items"]
        self.assertEqual(leases[0]["metadata"]["ownerReferences"][0]["kind"], "Node")
        r = self.c.kubectl("get", "componentstatuses")
        self.assertIn("Warning: v1 ComponentStatus is deprecated in v1.19+", r.stderr)
        self.assertEqual(r.stdout.splitlines()[0].split(), ["NAME", "STATUS", "MESSAGE", "ERROR"])
        crd = self.c.kubectl_json("get", "crd", "volumesnapshots.snapshot.storage.k8s.io")
        self.assertIn({"type": "Established"}, [{"type": c["type"]} for c in crd["status"]["conditions"]])
        self.assertEqual(self.c.kubectl_json("get", "volumesnapshotclass")["items"][0]["driver"], "kubesim.csi.k8s.io")

    def test_create_get_and_server_metadata(self):
        name = unique("cm")
        r = self.k("create", "-f", "-", input=CM % name)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "configmap/%s created" % name)
        o = json.loads(self.k("get", "cm", name, "-o", "json", "--show-managed-fields").stdout)
        m = o["metadata"]
        self.assertEqual(o["kind"], "ConfigMap")
        self.assertEqual(o["apiVersion"], "v1")
        self.assertRegex(m["uid"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        self.assertRegex(m["creationTimestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertTrue(m["resourceVersion"].isdigit())
        self.assertNotIn("selfLink", m)
        self.assertNotIn("generation", m)
        self.assertEqual(m["managedFields"][0]["manager"], "kubectl-create")
        self.assertEqual(m["managedFields"][0]["operation"], "Update")
        self.assertEqual(m["managedFields"][0]["fieldsV1"],
                         {"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}})
        r = self.k("create", "-f", "-", input=CM % name)
        self.assertEqual(r.returncode, 1)
        self.assertIn('Error from server (AlreadyExists): error when creating "STDIN": configmaps "%s" already '
                      'exists' % name, r.stderr)
        r = self.k("get", "cm", "nope-" + name)
        self.assertIn('Error from server (NotFound): configmaps "nope-%s" not found' % name, r.stderr)

    def test_create_keeps_given_managed_fields_only_for_fields_the_object_lacks(self):
        # The field manager decodes the managedFields a create carries, then gives every field the object sets to
        # the creating manager: another manager keeps only fields the object lacks; an entry of the creating
        # manager's identity keeps its fields (and gets the create's time).
        name = unique("cm")
        manifest = {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": name, "labels": {"app": "demo"}, "managedFields": [
                        {"manager": "helm", "operation": "Update", "apiVersion": "v1", "time": "2024-01-02T03:04:05Z",
                         "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {".": {}, "f:a": {}}}},
                        {"manager": "argocd", "operation": "Apply", "apiVersion": "v1", "time": "2024-01-02T03:04:05Z",
                         "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}, "f:gone": {}}}}]},
                    "data": {"a": "1"}}
        r = self.k("create", "-f", "-", input=json.dumps(manifest))
        self.assertEqual(r.returncode, 0, r.stderr)
        mf = self.c.kubectl_json("-n", self.ns, "get", "cm", name, "--show-managed-fields")["metadata"]["managedFields"]
        by = {e["manager"]: e for e in mf}
        self.assertEqual(sorted(by), ["argocd", "kubectl-create"])
        self.assertEqual(by["argocd"]["fieldsV1"], {"f:data": {"f:gone": {}}})
        self.assertEqual(by["argocd"]["time"], "2024-01-02T03:04:05Z")
        self.assertEqual(by["kubectl-create"]["fieldsV1"],
                         {"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}})
        # Created under the manager of the one Update entry: that entry comes back with the create's time.
        name2 = unique("cm")
        manifest["metadata"]["name"] = name2
        manifest["metadata"]["managedFields"] = [
            {"manager": "kubectl-create", "operation": "Update", "apiVersion": "v1", "time": "2024-01-02T03:04:05Z",
             "fieldsType": "FieldsV1",
             "fieldsV1": {"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}}}]
        r = self.k("create", "-f", "-", input=json.dumps(manifest))
        self.assertEqual(r.returncode, 0, r.stderr)
        mf = self.c.kubectl_json("-n", self.ns, "get", "cm", name2, "--show-managed-fields")["metadata"]["managedFields"]
        self.assertEqual(len(mf), 1)
        self.assertEqual(mf[0]["fieldsV1"], manifest["metadata"]["managedFields"][0]["fieldsV1"])
        self.assertNotEqual(mf[0]["time"], "2024-01-02T03:04:05Z")

    def test_invalid_name(self):
        r = self.k("create", "configmap", "Bad_Name")
        self.assertEqual(r.returncode, 1)
        self.assertIn('error: failed to create configmap: ConfigMap "Bad_Name" is invalid: metadata.name: Invalid '
                      'value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric '
                      'characters', r.stderr)
        r = self.k("create", "-f", "-", input=CM % "Bad_Name")
        self.assertIn('The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase '
                      'RFC 1123 subdomain must consist of lower case alphanumeric characters', r.stderr)

    def test_apply_client_side(self):
        name = unique("app")
        r = self.k("apply", "-f", "-", input=DEPLOY % (name, name, name))
        self.assertEqual(r.stdout.strip(), "deployment.apps/%s created" % name, r.stderr)
        r = self.k("apply", "-f", "-", input=DEPLOY % (name, name, name))
        self.assertEqual(r.stdout.strip(), "deployment.apps/%s unchanged" % name, r.stderr)
        d = json.loads(self.k("get", "deploy", name, "-o", "json").stdout)
        self.assertEqual(d["metadata"]["generation"], 1)
        self.assertIn("kubectl.kubernetes.io/last-applied-configuration", d["metadata"]["annotations"])
        self.assertEqual(d["spec"]["strategy"], {"type": "RollingUpdate", "rollingUpdate": {
            "maxUnavailable": "25%", "maxSurge": "25%"}})
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent")
        changed = (DEPLOY % (name, name, name)).replace("nginx:1.25", "nginx:1.26").replace(
            '      - name: side\n        image: busybox:1.36\n', '')
        r = self.k("apply", "-f", "-", input=changed)
        self.assertEqual(r.stdout.strip(), "deployment.apps/%s configured" % name, r.stderr)
        d = json.loads(self.k("get", "deploy", name, "-o", "json").stdout)
        self.assertEqual([c["name"] for c in d["spec"]["template"]["spec"]["containers"]], ["main"])
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.26")
        self.assertEqual(d["metadata"]["generation"], 2)

    def test_apply_server_side_conflicts(self):
        name = unique("ssa")
        r = self.k("apply", "--server-side", "-f", "-", input=CM % name)
        self.assertEqual(r.stdout.strip(), "configmap/%s serverside-applied" % name, r.stderr)
        o = json.loads(self.k("get", "cm", name, "-o", "json", "--show-managed-fields").stdout)
        self.assertEqual(o["metadata"]["managedFields"][0]["manager"], "kubectl")
        self.assertEqual(o["metadata"]["managedFields"][0]["operation"], "Apply")
        self.assertEqual(o["metadata"]["managedFields"][0]["fieldsV1"],
                         {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:app": {}}}})
        r = self.k("patch", "cm", name, "-p", '{"data":{"a":"2"}}')
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.k("apply", "--server-side", "-f", "-", input=CM % name)
        self.assertEqual(r.returncode, 1)
        self.assertIn('Apply failed with 1 conflict: conflict with "kubectl-patch" using v1: .data.a', r.stderr)
        r = self.k("apply", "--server-side", "--force-conflicts", "-f", "-", input=CM % name)
        self.assertEqual(r.returncode, 0, r.stderr)
        o = json.loads(self.k("get", "cm", name, "-o", "json", "--show-managed-fields").stdout)
        self.assertEqual(o["data"]["a"], "1")
        self.assertEqual([e["manager"] for e in o["metadata"]["managedFields"]], ["kubectl"])
        # a field dropped from the applied configuration is removed
        r = self.k("apply", "--server-side", "-f", "-", input=(CM % name).replace('  labels: {app: demo}\n', ''))
        self.assertEqual(r.returncode, 0, r.stderr)
        o = json.loads(self.k("get", "cm", name, "-o", "json").stdout)
        self.assertNotIn("labels", o["metadata"])

    def test_label_and_patch_types(self):
        name = unique("p")
        self.k("create", "-f", "-", input=CM % name)
        r = self.k("label", "cm", name, "tier=web")
        self.assertEqual(r.stdout.strip(), "configmap/%s labeled" % name, r.stderr)
        r = self.k("patch", "cm", name, "--type", "strategic", "-p", '{"data":{"b":"2"}}')
        self.assertEqual(r.stdout.strip(), "configmap/%s patched" % name, r.stderr)
        self.k("patch", "cm", name, "--type", "merge", "-p", '{"data":{"c":"3","a":null}}')
        self.k("patch", "cm", name, "--type", "json", "-p", '[{"op":"add","path":"/data/d","value":"4"}]')
        o = json.loads(self.k("get", "cm", name, "-o", "json").stdout)
        self.assertEqual(o["data"], {"b": "2", "c": "3", "d": "4"})
        self.assertEqual(o["metadata"]["labels"], {"app": "demo", "tier": "web"})
        r = self.k("patch", "cm", name, "--type", "json", "-p", '[{"op":"test","path":"/data/b","value":"x"}]')
        self.assertEqual(r.returncode, 1)
        self.assertIn("The request is invalid", r.stderr)
        self.assertIn("testing value /data/b failed: test failed", r.stderr)
        r = self.k("patch", "cm", name, "-p", '{"data":{"b":"2"}}')
        self.assertEqual(r.stdout.strip(), "configmap/%s patched (no change)" % name, r.stderr)

    def test_strategic_patch_matches_kubectl_local(self):
        """kubectl patch --local runs the API server's own strategic merge code: the oracle."""
        name = unique("smp")
        manifest = DEPLOY % (name, name, name)
        self.k("create", "-f", "-", input=manifest)
        patches = [
            '{"spec":{"template":{"spec":{"containers":[{"name":"main","image":"nginx:2","env":[{"name":"B",'
            '"value":"2"}]}]}}}}',
            '{"spec":{"template":{"spec":{"containers":[{"name":"side","$patch":"delete"}]}}}}',
            '{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"side"},{"name":"main"}],'
            '"containers":[{"name":"main","ports":[{"containerPort":81,"protocol":"TCP"}]}]}}}}',
            '{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}',
            '{"metadata":{"finalizers":["a.io/x"]}}',
            '{"spec":{"template":{"spec":{"containers":[{"name":"main","env":[{"name":"A","$patch":"delete"}]}]}}}}',
        ]
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write(json.dumps(json.loads(self.k("get", "deploy", name, "-o", "json").stdout)))
            base = f.name
        for p in patches:
            local = self.c.kubectl("patch", "--local", "-f", base, "--type", "strategic", "-p", p, "-o", "json")
            self.assertEqual(local.returncode, 0, local.stderr)
            want = json.loads(local.stdout)
            r = self.k("patch", "deploy", name, "--type", "strategic", "-p", p, "-o", "json")
            self.assertEqual(r.returncode, 0, r.stderr)
            got = json.loads(r.stdout)
            self.assertEqual(got["spec"], want["spec"], p)
            self.assertEqual(got["metadata"].get("finalizers"), want["metadata"].get("finalizers"), p)
            with open(base, "w") as f:
                f.write(json.dumps(got))
        self.k("patch", "deploy", name, "--type", "json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
        os.unlink(base)

    def test_delete_wait_and_cascade(self):
        name = unique("del")
        self.k("create", "-f", "-", input=CM % name)
        t = time.time()
        r = self.k("delete", "cm", name, "--wait=true")
        self.assertEqual(r.stdout.strip(), 'configmap "%s" deleted' % name, r.stderr)
        self.assertLess(time.time() - t, 20)
        # an object with a finalizer stays until it is removed; delete --wait watches it go
        self.k("create", "-f", "-", input=CM % name)
        self.k("patch", "cm", name, "-p", '{"metadata":{"finalizers":["example.com/hold"]}}')
        r = self.k("delete", "cm", name, "--wait=false")
        self.assertEqual(r.returncode, 0, r.stderr)
        o = json.loads(self.k("get", "cm", name, "-o", "json").stdout)
        self.assertIn("deletionTimestamp", o["metadata"])
        self.assertEqual(o["metadata"]["deletionGracePeriodSeconds"], 0)
        import subprocess
        p = subprocess.Popen(self.c_kubectl_cmd("delete", "cm", name, "--wait=true", "--timeout=30s"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        self.k("patch", "cm", name, "--type", "json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
        out, err = p.communicate(timeout=40)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(self.k("get", "cm", name).returncode, 1)

    def test_delete_cascade_foreground_and_orphan(self):
        name = unique("casc")
        self.k("create", "-f", "-", input=DEPLOY % (name, name, name))
        self.wait_for(lambda: self.k("get", "rs", "-l", "app=" + name, "-o", "name").stdout.strip(), msg="rs")
        r = self.k("delete", "deploy", name, "--cascade=foreground", "--timeout=60s")
        self.assertEqual(r.stdout.strip(), 'deployment.apps "%s" deleted' % name, r.stderr)
        self.wait_for(lambda: not self.k("get", "rs,pods", "-l", "app=" + name, "-o", "name").stdout.strip(),
                      timeout=20, msg="dependents deleted by the garbage collector")
        name2 = unique("orph")
        self.k("create", "-f", "-", input=DEPLOY % (name2, name2, name2))
        rs = self.wait_for(lambda: self.k("get", "rs", "-l", "app=" + name2, "-o", "name").stdout.strip(), msg="rs")
        r = self.k("delete", "deploy", name2, "--cascade=orphan", "--timeout=60s")
        self.assertEqual(r.returncode, 0, r.stderr)
        time.sleep(1)
        o = json.loads(self.k("get", rs, "-o", "json").stdout)
        self.assertNotIn("ownerReferences", o["metadata"])
        self.k("delete", rs, "--cascade=background")

    def c_kubectl_cmd(self, *args):
        from kstest import kubectl_for
        return [kubectl_for("1.30"), "--kubeconfig", self.c.kubeconfig, "--cache-dir", self.c.cache, "-n", self.ns] + \
            list(args)

    def test_get_watch_prints_changes(self):
        import subprocess
        name = unique("w")
        p = subprocess.Popen(self.c_kubectl_cmd("get", "cm", "-w", "--output-watch-events", "-o", "json",
                                                "--request-timeout=8s"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        self.k("create", "cm", name)
        self.k("delete", "cm", name)
        try:
            out, err = p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        events = [(e["type"], e["object"]["metadata"]["name"]) for e in _json_stream(out)]
        self.assertIn(("ADDED", name), events)
        self.assertIn(("DELETED", name), events)
        self.assertLess(events.index(("ADDED", name)), events.index(("DELETED", name)))


def _json_stream(text):
    dec = json.JSONDecoder()
    i, out = 0, []
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        o, i = dec.raw_decode(text, i)
        out.append(o)
    return out


class KubectlAuth(KubeTest):
    def test_viewer_context_reads_but_not_secrets(self):
        r = self.c.kubectl("get", "cm", "-n", self.ns, context="viewer")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.c.kubectl("get", "secrets", "-n", self.ns, context="viewer")
        self.assertEqual(r.returncode, 1)
        self.assertIn('Error from server (Forbidden): secrets is forbidden: User "kubesim-viewer" cannot list '
                      'resource "secrets" in API group "" in the namespace "%s"' % self.ns, r.stderr)
        r = self.c.kubectl("create", "cm", "x", "-n", self.ns, context="viewer")
        self.assertIn('configmaps is forbidden: User "kubesim-viewer" cannot create resource "configmaps" in API '
                      'group "" in the namespace "%s"' % self.ns, r.stderr)

    def test_auth_can_i(self):
        r = self.c.kubectl("auth", "can-i", "create", "deployments", "-n", self.ns)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "yes"))
        r = self.c.kubectl("auth", "can-i", "list", "secrets", "-n", self.ns, context="viewer")
        self.assertEqual((r.returncode, r.stdout.strip()), (1, "no"))
        r = self.c.kubectl("auth", "can-i", "list", "pods", "-n", self.ns, context="viewer")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "yes"))
        r = self.c.kubectl("auth", "can-i", "--list", "-n", self.ns, context="viewer")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("selfsubjectaccessreviews.authorization.k8s.io", r.stdout)

    def test_impersonation(self):
        r = self.c.kubectl("get", "cm", "-n", self.ns, "--as", "alice")
        self.assertEqual(r.returncode, 1)
        self.assertIn('configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" in the '
                      'namespace "%s"' % self.ns, r.stderr)
        rb = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
              "metadata": {"name": "alice-view", "namespace": self.ns},
              "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
              "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]}
        r = self.c.kubectl("create", "-f", "-", input=json.dumps(rb))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.c.kubectl("get", "cm", "-n", self.ns, "--as", "alice")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.c.kubectl("auth", "can-i", "get", "secrets", "-n", self.ns, "--as", "alice")
        self.assertEqual(r.stdout.strip(), "no")
        r = self.c.kubectl("get", "cm", "-n", self.ns, "--as", "alice", context="viewer")
        self.assertIn('users "alice" is forbidden: User "kubesim-viewer" cannot impersonate resource "users" in API '
                      'group "" at the cluster scope', r.stderr)


class KubectlPrinting(KubeTest):
    """kubectl get asks for server-side Tables; kubesim prints the columns a real API server does."""

    def test_tables(self):
        self.c.kubectl("create", "deployment", "web", "--image=nginx:1.25", "--replicas=2", "-n", self.ns)
        self.c.kubectl("create", "configmap", "cfg", "--from-literal=a=1", "--from-literal=b=2", "-n", self.ns)
        self.c.kubectl("create", "secret", "generic", "sec", "--from-literal=a=1", "-n", self.ns)
        r = self.c.kubectl("get", "cm,secret", "-n", self.ns)
        lines = [l.split() for l in r.stdout.splitlines() if l.strip()]
        self.assertIn(["NAME", "DATA", "AGE"], lines)
        self.assertIn(["configmap/cfg", "2"], [l[:2] for l in lines])
        self.assertIn(["NAME", "TYPE", "DATA", "AGE"], lines)
        self.assertIn(["secret/sec", "Opaque", "1"], [l[:3] for l in lines])
        r = self.c.kubectl("get", "deploy", "web", "-n", self.ns, "-o", "wide")
        head, row = r.stdout.splitlines()[:2]
        self.assertEqual(head.split(), ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES",
                                        "SELECTOR"])
        self.assertEqual(row.split()[0], "web")
        self.assertEqual(row.split()[-3:], ["nginx", "nginx:1.25", "app=web"])
        r = self.c.kubectl("get", "nodes")
        self.assertEqual(r.stdout.splitlines()[0].split(), ["NAME", "STATUS", "ROLES", "AGE", "VERSION"])
        self.assertIn("Ready", r.stdout)
        st, h, _, doc = self.c.req("GET", "/api/v1/namespaces/%s/configmaps" % self.ns, headers={
            "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
        self.assertEqual(h["Content-Type"], "application/json;as=Table;v=v1;g=meta.k8s.io")
        self.assertEqual((doc["kind"], doc["apiVersion"]), ("Table", "meta.k8s.io/v1"))
        self.assertEqual([c["name"] for c in doc["columnDefinitions"]], ["Name", "Data", "Age"])
        self.assertEqual(doc["rows"][0]["object"]["kind"], "PartialObjectMetadata")
