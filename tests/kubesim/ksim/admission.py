"""What the API server's registries and built-in admission plugins do to objects before storing them:
defaulting, server-side allocation (Service clusterIP/nodePort, Job selectors), status reset on create, namespace
bookkeeping (the `kubernetes.io/metadata.name` label; the `default` ServiceAccount and `kube-root-ca.crt` ConfigMap
that controllers create in a real cluster), and the validation entry point."""
import base64
import ipaddress
import random

from . import podsecurity, validation
from .store import ApiError, FieldError, invalid_rt
from .util import dcopy

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
NODEPORT_RANGE = (30000, 32767)


def _pod_spec_defaults(spec, profile, is_pod=False):
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    if "serviceAccountName" in spec and "serviceAccount" not in spec:
        spec["serviceAccount"] = spec["serviceAccountName"]
    for lst in ("containers", "initContainers"):
        for c in spec.get(lst) or []:
            if not isinstance(c, dict):
                continue
            c.setdefault("resources", {})
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            img = c.get("image") or ""
            tag = img.rsplit("/", 1)[-1]
            if "imagePullPolicy" not in c:
                c["imagePullPolicy"] = "Always" if (":" not in tag or tag.endswith(":latest")) and "@" not in tag \
                    else "IfNotPresent"
            for p in c.get("ports") or []:
                if isinstance(p, dict):
                    p.setdefault("protocol", "TCP")
    for v in spec.get("volumes") or []:
        if isinstance(v, dict):
            if "secret" in v and isinstance(v["secret"], dict):
                v["secret"].setdefault("defaultMode", 420)
            if "configMap" in v and isinstance(v["configMap"], dict):
                v["configMap"].setdefault("defaultMode", 420)
            if "emptyDir" in v and v["emptyDir"] is None:
                v["emptyDir"] = {}
    if is_pod:
        spec.setdefault("enableServiceLinks", True)


def _template_defaults(obj, profile):
    t = (obj.get("spec") or {}).get("template")
    if isinstance(t, dict):
        t.setdefault("metadata", {})
        if t["metadata"].get("creationTimestamp") is None:
            t["metadata"]["creationTimestamp"] = None
        _pod_spec_defaults(t.get("spec"), profile)


DEFAULT_STATUS = {
    "Pod": lambda o: {"phase": "Pending", "qosClass": "BestEffort"},
    "Namespace": lambda o: {"phase": "Active"},
    "PersistentVolumeClaim": lambda o: {"phase": "Pending"},
    "PersistentVolume": lambda o: {"phase": "Pending"},
    "Service": lambda o: {"loadBalancer": {}},
    "Ingress": lambda o: {"loadBalancer": {}},
    "Deployment": lambda o: {}, "ReplicaSet": lambda o: {"replicas": 0}, "StatefulSet": lambda o: {"replicas": 0},
    "DaemonSet": lambda o: {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
                            "numberReady": 0},
    "Job": lambda o: {}, "CronJob": lambda o: {},
    "ReplicationController": lambda o: {"replicas": 0},
    "PodDisruptionBudget": lambda o: {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0,
                                      "expectedPods": 0},
    "HorizontalPodAutoscaler": lambda o: {"currentReplicas": 0, "desiredReplicas": 0},
}
KEEP_STATUS_ON_CREATE = {"Node", "CustomResourceDefinition", "CertificateSigningRequest", "VolumeAttachment",
                         "ResourceQuota"}


class Admission:
    def __init__(self, profile, options):
        self.profile = profile
        self.options = options
        self.rand = random.Random()

    # ---- create ------------------------------------------------------------------------------------------------
    def default(self, store, rt, obj):
        """Defaulting, as decoding a request does (before managedFields are computed)."""
        self._defaults(rt, obj, None)

    def prepare_create(self, store, rt, obj, user):
        """Mutating admission and the registry strategy (after managedFields, so not owned by the client)."""
        k = rt.kind
        m = obj["metadata"]
        if rt.status and k not in KEEP_STATUS_ON_CREATE:
            if rt.crd is not None:
                obj.pop("status", None)
            else:
                f = DEFAULT_STATUS.get(k)
                if f:
                    obj["status"] = f(obj)
                else:
                    obj.pop("status", None)
        fn = getattr(self, "_create_" + k, None)
        if fn and rt.crd is None:
            fn(store, obj, m)

    def _defaults(self, rt, obj, old):
        k = rt.kind
        if rt.crd is not None:
            return
        spec = obj.get("spec")
        if k == "Namespace":
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        elif k == "Secret":
            if not obj.get("type"):
                obj["type"] = "Opaque"
            sd = obj.pop("stringData", None)
            if isinstance(sd, dict):
                data = obj.setdefault("data", {}) or {}
                obj["data"] = data
                for kk, v in sd.items():
                    data[kk] = base64.b64encode(str(v).encode()).decode()
        elif k == "Pod":
            _pod_spec_defaults(spec, self.profile, True)
        elif k in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ReplicationController",
                   "PodTemplate"):
            if not isinstance(spec, dict):
                return
            if k == "PodTemplate":
                t = obj.get("template")
                if isinstance(t, dict):
                    _pod_spec_defaults(t.get("spec"), self.profile)
                return
            _template_defaults(obj, self.profile)
            if k != "DaemonSet":
                spec.setdefault("replicas", 1)
            if k == "Deployment":
                st = spec.setdefault("strategy", {})
                st.setdefault("type", "RollingUpdate")
                if st["type"] == "RollingUpdate":
                    ru = st.setdefault("rollingUpdate", {})
                    ru.setdefault("maxUnavailable", "25%")
                    ru.setdefault("maxSurge", "25%")
                spec.setdefault("revisionHistoryLimit", 10)
                spec.setdefault("progressDeadlineSeconds", 600)
            elif k == "StatefulSet":
                spec.setdefault("podManagementPolicy", "OrderedReady")
                us = spec.setdefault("updateStrategy", {})
                us.setdefault("type", "RollingUpdate")
                if us["type"] == "RollingUpdate":
                    us.setdefault("rollingUpdate", {}).setdefault("partition", 0)
                spec.setdefault("revisionHistoryLimit", 10)
                if self.profile != "1.21":
                    pr = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
                    pr.setdefault("whenDeleted", "Retain")
                    pr.setdefault("whenScaled", "Retain")
                for t in spec.get("volumeClaimTemplates") or []:
                    if isinstance(t, dict):
                        t.setdefault("apiVersion", "v1")
                        t.setdefault("kind", "PersistentVolumeClaim")
                        t.setdefault("metadata", {}).setdefault("creationTimestamp", None)
                        t.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
                        t.setdefault("status", {"phase": "Pending"})
            elif k == "DaemonSet":
                us = spec.setdefault("updateStrategy", {})
                us.setdefault("type", "RollingUpdate")
                if us["type"] == "RollingUpdate":
                    ru = us.setdefault("rollingUpdate", {})
                    ru.setdefault("maxUnavailable", 1)
                    if self.profile != "1.21":
                        ru.setdefault("maxSurge", 0)
                spec.setdefault("revisionHistoryLimit", 10)
        elif k == "Job":
            if not isinstance(spec, dict):
                return
            _template_defaults(obj, self.profile)
            spec.setdefault("parallelism", 1)
            spec.setdefault("completions", 1)
            spec.setdefault("backoffLimit", 6)
            spec.setdefault("completionMode", "NonIndexed")
            spec.setdefault("suspend", False)
            if self.profile != "1.21":
                spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
        elif k == "CronJob":
            if not isinstance(spec, dict):
                return
            spec.setdefault("concurrencyPolicy", "Allow")
            spec.setdefault("suspend", False)
            spec.setdefault("successfulJobsHistoryLimit", 3)
            spec.setdefault("failedJobsHistoryLimit", 1)
            jt = spec.setdefault("jobTemplate", {})
            jt.setdefault("metadata", {}).setdefault("creationTimestamp", None)
            js = jt.setdefault("spec", {})
            t = js.setdefault("template", {})
            t.setdefault("metadata", {}).setdefault("creationTimestamp", None)
            _pod_spec_defaults(t.get("spec"), self.profile)
        elif k == "Service":
            if not isinstance(spec, dict):
                return
            spec.setdefault("type", "ClusterIP")
            if spec["type"] != "ExternalName":
                spec.setdefault("sessionAffinity", "None")
                for p in spec.get("ports") or []:
                    if isinstance(p, dict):
                        p.setdefault("protocol", "TCP")
                        p.setdefault("targetPort", p.get("port"))
                if spec["type"] in ("NodePort", "LoadBalancer"):
                    spec.setdefault("externalTrafficPolicy", "Cluster")
                if spec["type"] == "LoadBalancer":
                    spec.setdefault("allocateLoadBalancerNodePorts", True)
                if self.profile != "1.21":
                    spec.setdefault("internalTrafficPolicy", "Cluster")
        elif k == "PersistentVolumeClaim":
            if isinstance(spec, dict):
                spec.setdefault("volumeMode", "Filesystem")
        elif k == "PersistentVolume":
            if isinstance(spec, dict):
                spec.setdefault("volumeMode", "Filesystem")
                spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
        elif k == "StorageClass":
            obj.setdefault("reclaimPolicy", "Delete")
            obj.setdefault("volumeBindingMode", "Immediate")
        elif k == "CustomResourceDefinition":
            if isinstance(spec, dict):
                spec.setdefault("conversion", {"strategy": "None"})
                for v in spec.get("versions") or []:
                    pass
        elif k in ("Role", "ClusterRole"):
            pass
        elif k == "Ingress":
            pass

    def _create_Pod(self, store, obj, m):
        """PodSecurity (enforce), then the ServiceAccount and DefaultTolerationSeconds admission plugins."""
        denied = podsecurity.enforce_pod(store, obj)
        if denied:
            name = m.get("name", "")
            raise ApiError(403, "Forbidden", 'pods "%s" is forbidden: %s' % (name, denied),
                           {"name": name, "kind": "pods"})
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        sa_name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        spec["serviceAccountName"] = sa_name
        spec["serviceAccount"] = sa_name
        ns = m.get("namespace")
        sa = store.raw_get("", "serviceaccounts", ns, sa_name)
        if sa is None:
            from .store import forbidden
            rt = store.registry.storage_type("", "pods")
            raise forbidden(rt, m.get("name", ""), 'error looking up service account %s/%s: serviceaccount "%s" not '
                                                   'found' % (ns, sa_name, sa_name))
        auto = spec.get("automountServiceAccountToken")
        if auto is None:
            auto = sa.get("automountServiceAccountToken")
        mount = "/var/run/secrets/kubernetes.io/serviceaccount"
        if auto is not False:
            vname = "kube-api-access-" + "".join(self.rand.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
            containers = [c for lst in ("initContainers", "containers") for c in spec.get(lst) or []
                          if isinstance(c, dict)]
            if any(m_.get("mountPath") == mount for c in containers for m_ in c.get("volumeMounts") or []):
                pass
            else:
                spec.setdefault("volumes", []).append({"name": vname, "projected": {"sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                        "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}], "defaultMode": 420}})
                for c in containers:
                    c.setdefault("volumeMounts", []).append({"name": vname, "readOnly": True, "mountPath": mount})
        self._priority(store, spec, m)
        tols = spec.setdefault("tolerations", [])
        for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
            if not any(isinstance(t, dict) and (t.get("key") == key or (not t.get("key") and
                                                                         t.get("operator") == "Exists"))
                       for t in tols):
                tols.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})

    # The system classes the API server always knows (it creates them as objects; kubesim resolves them by name).
    SYSTEM_PRIORITY = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}

    def _priority(self, store, spec, m):
        """The Priority admission plugin: priorityClassName -> spec.priority and preemptionPolicy (the global
        default class when none is named), refusing unknown classes and a priority the class does not give."""
        name = spec.get("priorityClassName")
        pc = None
        if name:
            pc = store.get("scheduling.k8s.io", "priorityclasses", None, name)
            if pc is None and name in self.SYSTEM_PRIORITY:
                pc = {"value": self.SYSTEM_PRIORITY[name]}
            if pc is None:
                raise ApiError(403, "Forbidden", 'pods "%s" is forbidden: no PriorityClass with name %s was found' % (
                    m.get("name", ""), name), {"name": m.get("name", ""), "kind": "pods"})
        else:
            for c in store.list("scheduling.k8s.io", "priorityclasses", None):
                if c.get("globalDefault"):
                    pc = c
                    spec["priorityClassName"] = c["metadata"]["name"]
                    break
        value = int((pc or {}).get("value", 0))
        if spec.get("priority") is not None and spec["priority"] != value:
            raise ApiError(403, "Forbidden", 'pods "%s" is forbidden: the integer value of priority (%s) must not be '
                           'provided in pod spec; priority admission controller computed %d from the given '
                           'PriorityClass name' % (m.get("name", ""), spec["priority"], value),
                           {"name": m.get("name", ""), "kind": "pods"})
        spec["priority"] = value
        spec.setdefault("preemptionPolicy", (pc or {}).get("preemptionPolicy") or "PreemptLowerPriority")

    def _create_Namespace(self, store, obj, m):
        obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]
        obj["status"] = {"phase": "Active"}

    def _create_Job(self, store, obj, m):
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        if spec.get("manualSelector"):
            return
        t = spec.setdefault("template", {})
        tm = t.setdefault("metadata", {})
        labels = tm.get("labels")
        if labels is None:
            labels = tm["labels"] = {}
        uid, name = m["uid"], m["name"]
        if self.profile == "1.21":
            name_keys, uid_keys = ["job-name"], ["controller-uid"]
        else:
            name_keys = ["batch.kubernetes.io/job-name", "job-name"]
            uid_keys = ["batch.kubernetes.io/controller-uid", "controller-uid"]
        for kk in name_keys:
            labels.setdefault(kk, name)
        for kk in uid_keys:
            labels.setdefault(kk, uid)
        sel = spec.get("selector")
        if sel is None:
            sel = spec["selector"] = {}
        ml = sel.get("matchLabels")
        if ml is None:
            ml = sel["matchLabels"] = {}
        ml.setdefault(uid_keys[0], uid)

    def _create_CustomResourceDefinition(self, store, obj, m):
        fins = m.setdefault("finalizers", [])
        if "customresourcecleanup.apiextensions.k8s.io" not in fins:
            fins.append("customresourcecleanup.apiextensions.k8s.io")
        obj["status"] = {"conditions": [], "acceptedNames": {"plural": "", "kind": ""}, "storedVersions": [
            v["name"] for v in (obj.get("spec") or {}).get("versions") or [] if v.get("storage")]}

    # ---- update ------------------------------------------------------------------------------------------------
    def prepare_update(self, store, rt, new, old, user):
        if rt.kind == "Service" and rt.crd is None:
            ns, os_ = new.get("spec"), old.get("spec") or {}
            if isinstance(ns, dict):
                for f in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                    if f not in ns and f in os_:
                        ns[f] = dcopy(os_[f])
                if ns.get("type", "ClusterIP") == os_.get("type", "ClusterIP") and \
                        ns.get("type") in ("NodePort", "LoadBalancer"):
                    old_np = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                              for p in os_.get("ports") or []}
                    for p in ns.get("ports") or []:
                        if isinstance(p, dict) and "nodePort" not in p:
                            np_ = old_np.get((p.get("port"), p.get("protocol", "TCP")))
                            if np_:
                                p["nodePort"] = np_
        if rt.kind == "Namespace":
            new.setdefault("spec", {})
            if "finalizers" not in new["spec"] and (old.get("spec") or {}).get("finalizers"):
                new["spec"]["finalizers"] = list(old["spec"]["finalizers"])
        self._defaults(rt, new, old)

    # ---- validation --------------------------------------------------------------------------------------------
    def validate(self, store, rt, obj, old):
        errs = validation.validate(store, rt, obj, old, self.profile)
        if errs:
            raise invalid_rt(rt, obj["metadata"].get("name", ""), errs)

    # ---- allocation --------------------------------------------------------------------------------------------
    def allocate(self, store, rt, obj, old, dry_run):
        if rt.kind != "Service" or rt.crd is not None:
            return
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        t = spec.get("type", "ClusterIP")
        used_ips, used_ports = store.service_allocations(old)
        name = obj["metadata"].get("name", "")
        errs = []
        if t == "ExternalName":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        else:
            ip = spec.get("clusterIP")
            if not ip:
                ip = self._free_ip(used_ips)
                spec["clusterIP"] = ip
            elif ip != "None":
                try:
                    a = ipaddress.ip_address(ip)
                    if a not in SERVICE_CIDR:
                        errs.append(FieldError("FieldValueInvalid", "spec.clusterIPs", [ip],
                                               "failed to allocate IP %s: the provided IP (%s) is not in the valid "
                                               "range. The range of valid IPs is %s" % (ip, ip, SERVICE_CIDR)))
                    elif ip in used_ips:
                        errs.append(FieldError("FieldValueInvalid", "spec.clusterIPs", [ip],
                                               "failed to allocate IP %s: provided IP is already allocated" % ip))
                except ValueError:
                    errs.append(FieldError("FieldValueInvalid", "spec.clusterIPs[0]", ip,
                                           "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
            spec["clusterIPs"] = [spec["clusterIP"]]
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        if t in ("NodePort", "LoadBalancer"):
            mine = set()
            for i, p in enumerate(spec.get("ports") or []):
                np_ = p.get("nodePort")
                if np_:
                    if np_ in used_ports or np_ in mine:
                        errs.append(FieldError("FieldValueInvalid", "spec.ports[%d].nodePort" % i, np_,
                                               "provided port is already allocated"))
                    elif not NODEPORT_RANGE[0] <= np_ <= NODEPORT_RANGE[1]:
                        errs.append(FieldError("FieldValueInvalid", "spec.ports[%d].nodePort" % i, np_,
                                               "provided port is not in the valid range. The range of valid ports "
                                               "is 30000-32767"))
                    mine.add(np_)
            for p in spec.get("ports") or []:
                if not p.get("nodePort"):
                    while True:
                        c = self.rand.randint(*NODEPORT_RANGE)
                        if c not in used_ports and c not in mine:
                            break
                    p["nodePort"] = c
                    mine.add(c)
        else:
            for p in spec.get("ports") or []:
                if isinstance(p, dict) and t == "ClusterIP":
                    p.pop("nodePort", None)
        if errs:
            raise invalid_rt(rt, name, errs)

    def _free_ip(self, used):
        base = int(SERVICE_CIDR.network_address)
        for _ in range(1000):
            c = str(ipaddress.ip_address(base + self.rand.randint(10, SERVICE_CIDR.num_addresses - 2)))
            if c not in used:
                return c
        raise ApiError(500, "InternalError", "Internal error occurred: failed to allocate a serviceIP: range is full")

    # ---- after commit ------------------------------------------------------------------------------------------
    def after_create(self, store, rt, obj):
        if rt.key == ("", "namespaces"):
            ns = obj["metadata"]["name"]
            try:
                store.create("", "serviceaccounts", {"metadata": {"name": "default", "namespace": ns}},
                             manager="kube-controller-manager")
            except ApiError:
                pass
            ca = self.options.get("ca_pem")
            if ca:
                try:
                    store.create("", "configmaps", {"metadata": {"name": "kube-root-ca.crt", "namespace": ns,
                                                                 "annotations": {
                                                                     "kubernetes.io/description": (
                                                                         "Contains a CA bundle that can be used to "
                                                                         "verify the kube-apiserver when using "
                                                                         "internal endpoints such as the internal "
                                                                         "service IP or kubernetes.default.svc. No "
                                                                         "other usage is guaranteed across "
                                                                         "distributions of Kubernetes clusters.")}},
                                                    "data": {"ca.crt": ca}}, manager="kube-controller-manager")
                except ApiError:
                    pass

    def after_delete(self, store, rt, obj):
        pass
