"""Pod Security admission through kubectl: namespace labels enforce (403 with the API server's text), warn
(Warning headers on pods and on workload templates) and the order and wording of upstream's checks."""
import json
import unittest
import uuid

from ctrl_launch import KubeSim, have_debian_kubernetes

KS = None


def setUpModule():
    global KS
    KS = KubeSim()


def tearDownModule():
    KS.close()


def namespace(labels):
    ns = "psa-" + uuid.uuid4().hex[:6]
    KS.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}})
    return ns


def apply(obj, check=False):
    p = KS.kubectl("apply", "-f", "-", stdin=json.dumps(obj).encode(), check=check)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def pod(ns, name, spec_extra=None, container_extra=None, volumes=None):
    c = {"name": "c", "image": "busybox", "command": ["sleep", "infinity"]}
    c.update(container_extra or {})
    spec = {"containers": [c]}
    if volumes:
        spec["volumes"] = volumes
    spec.update(spec_extra or {})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}, "spec": spec}


RESTRICTED_OK = {"securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                     "runAsNonRoot": True, "runAsUser": 1000,
                                     "seccompProfile": {"type": "RuntimeDefault"}}}


class TestEnforce(unittest.TestCase):
    def test_restricted_refuses_a_default_pod_with_upstream_text(self):
        ns = namespace({"pod-security.kubernetes.io/enforce": "restricted"})
        rc, out, err = apply(pod(ns, "bad"))
        self.assertNotEqual(rc, 0)
        self.assertIn(
            'Error from server (Forbidden): error when creating "STDIN": pods "bad" is forbidden: violates '
            'PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "c" must set '
            'securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "c" must set '
            'securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "c" must set '
            'securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set '
            'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")', err)
        self.assertEqual(KS.kubectl("-n", ns, "get", "pod", "bad", check=False).returncode, 1)

    def test_restricted_accepts_a_compliant_pod(self):
        ns = namespace({"pod-security.kubernetes.io/enforce": "restricted"})
        rc, out, err = apply(pod(ns, "good", container_extra=RESTRICTED_OK,
                                 volumes=[{"name": "d", "emptyDir": {}}]))
        self.assertEqual(rc, 0, err)
        self.assertNotIn("Warning", err)

    def test_restricted_names_volumes_users_and_capabilities(self):
        ns = namespace({"pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/enforce-version": "v1.29"})
        sc = json.loads(json.dumps(RESTRICTED_OK))
        sc["securityContext"]["capabilities"] = {"drop": ["ALL"], "add": ["SYS_ADMIN", "NET_BIND_SERVICE"]}
        sc["securityContext"]["runAsUser"] = 0
        rc, out, err = apply(pod(ns, "vols", container_extra=sc, volumes=[
            {"name": "n", "nfs": {"server": "nfs.example", "path": "/x"}}, {"name": "e", "emptyDir": {}}]))
        self.assertNotEqual(rc, 0)
        self.assertIn('violates PodSecurity "restricted:v1.29": unrestricted capabilities (container "c" must not include "SYS_ADMIN" in '
                      'securityContext.capabilities.add), restricted volume types (volume "n" uses restricted volume '
                      'type "nfs"), runAsUser=0 (container "c" must not set runAsUser=0)', err)

    def test_baseline_order_and_details(self):
        ns = namespace({"pod-security.kubernetes.io/enforce": "baseline"})
        rc, out, err = apply(pod(ns, "host", spec_extra={"hostNetwork": True, "hostPID": True},
                                 container_extra={"securityContext": {"privileged": True},
                                                  "ports": [{"containerPort": 80, "hostPort": 8080}]},
                                 volumes=[{"name": "h", "hostPath": {"path": "/var/log"}}]))
        self.assertNotEqual(rc, 0)
        self.assertIn('pods "host" is forbidden: violates PodSecurity "baseline:latest": host namespaces '
                      '(hostNetwork, hostPID), hostPath volumes (volume "h"), hostPort (container "c" uses hostPort '
                      '8080), privileged (container "c" must not set securityContext.privileged=true)', err)
        # the same pod is fine for baseline without the host features, although it runs as root
        rc, out, err = apply(pod(ns, "plain"))
        self.assertEqual(rc, 0, err)

    def test_privileged_level_allows_everything(self):
        ns = namespace({"pod-security.kubernetes.io/enforce": "privileged"})
        rc, out, err = apply(pod(ns, "any", spec_extra={"hostNetwork": True},
                                 container_extra={"securityContext": {"privileged": True}}))
        self.assertEqual(rc, 0, err)


@unittest.skipUnless(have_debian_kubernetes(), "Debian's python3-kubernetes is not installed")
class TestPythonClient(unittest.TestCase):
    CODE = """
from kubernetes.client.rest import ApiException
pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "py"},
       "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]}}
try:
    api.create_namespaced_pod(%r, pod)
    print(json.dumps({"created": True}))
except ApiException as e:
    print(json.dumps({"status": e.status, "body": json.loads(e.body)}))
"""

    def test_refusal_is_a_403_status(self):
        ns = namespace({"pod-security.kubernetes.io/enforce": "baseline"})
        r = json.loads(KS.python(self.CODE % ns))
        self.assertEqual(r.get("status"), 403)
        body = r["body"]
        self.assertEqual((body["kind"], body["status"], body["reason"], body["code"]),
                         ("Status", "Failure", "Forbidden", 403))
        self.assertEqual(body["message"], 'pods "py" is forbidden: violates PodSecurity "baseline:latest": privileged '
                         '(container "c" must not set securityContext.privileged=true)')
        self.assertEqual(body["details"], {"name": "py", "kind": "pods"})


class TestWarn(unittest.TestCase):
    def test_warn_level_on_pods(self):
        ns = namespace({"pod-security.kubernetes.io/warn": "restricted",
                        "pod-security.kubernetes.io/audit": "restricted"})
        rc, out, err = apply(pod(ns, "warned", container_extra={"securityContext": {
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"}}}))
        self.assertEqual(rc, 0, err)
        self.assertIn('Warning: would violate PodSecurity "restricted:latest": runAsNonRoot != true (pod or '
                      'container "c" must set securityContext.runAsNonRoot=true)', err)

    def test_workload_templates_warn_and_their_pods_are_refused(self):
        ns = namespace({"pod-security.kubernetes.io/enforce": "baseline",
                        "pod-security.kubernetes.io/warn": "restricted"})
        dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"hostNetwork": True, "containers": [
                                         {"name": "web", "image": "nginx"}]}}}}
        rc, out, err = apply(dep)
        self.assertEqual(rc, 0, err)
        self.assertIn('Warning: would violate PodSecurity "baseline:latest": host namespaces (hostNetwork)', err)
        self.assertIn('Warning: would violate PodSecurity "restricted:latest": host namespaces (hostNetwork), '
                      'allowPrivilegeEscalation != false (container "web" must set '
                      'securityContext.allowPrivilegeEscalation=false)', err)
        p = KS.kubectl("-n", ns, "get", "pods", "-o", "name")
        self.assertEqual(p.stdout.decode().strip(), "")
        cj = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj", "namespace": ns},
              "spec": {"schedule": "0 0 * * *", "jobTemplate": {"spec": {"template": {"spec": {
                  "restartPolicy": "Never", "containers": [{"name": "j", "image": "busybox",
                                                            "securityContext": {"privileged": True}}]}}}}}}
        rc, out, err = apply(cj)
        self.assertEqual(rc, 0, err)
        self.assertIn('Warning: would violate PodSecurity "baseline:latest": privileged (container "j" must not set '
                      'securityContext.privileged=true)', err)

    def test_labelling_a_namespace_names_the_pods_that_violate_it(self):
        ns = namespace({})
        for name in ("a1", "a2", "a3"):
            apply(pod(ns, name, spec_extra={"hostPID": True}))
        apply(pod(ns, "b", container_extra=RESTRICTED_OK))
        p = KS.kubectl("label", "--dry-run=server", "--overwrite", "namespace", ns,
                       "pod-security.kubernetes.io/enforce=baseline")
        err = p.stderr.decode()
        self.assertIn('Warning: existing pods in namespace "%s" violate the new PodSecurity enforce level '
                      '"baseline:latest"\nWarning: a1 (and 2 other pods): host namespaces\n' % ns, err)
        p = KS.kubectl("label", "--overwrite", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
        err = p.stderr.decode()
        self.assertIn("Warning: a1 (and 2 other pods): host namespaces, allowPrivilegeEscalation != false, "
                      "unrestricted capabilities, runAsNonRoot != true, seccompProfile", err)
        self.assertNotIn("Warning: b", err)

    def test_unlabelled_namespace_is_not_checked(self):
        ns = namespace({})
        rc, out, err = apply(pod(ns, "free", spec_extra={"hostPID": True}))
        self.assertEqual(rc, 0, err)
        self.assertNotIn("PodSecurity", err)


if __name__ == "__main__":
    unittest.main()
