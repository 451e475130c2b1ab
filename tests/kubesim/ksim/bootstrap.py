"""Contents of a fresh cluster: namespaces (each gets its `default` ServiceAccount and `kube-root-ca.crt` through
admission.after_create), the `default/kubernetes` Service, three nodes, bootstrap RBAC, kubesim's viewer role, the
snapshot.storage.k8s.io CRDs (real CRD objects), a default StorageClass, a VolumeSnapshotClass and the CSIDriver."""
from .store import ApiError

RBAC = "rbac.authorization.k8s.io"
BOOT_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
BOOT_ANN = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
CSI_DRIVER = "kubesim.csi.k8s.io"
VIEWER_USER = "kubesim-viewer"
READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]


def _cr(name, rules=None, labels=None, aggregate=None):
    o = {"apiVersion": RBAC + "/v1", "kind": "ClusterRole",
         "metadata": {"name": name, "labels": dict(BOOT_LABELS, **(labels or {})), "annotations": dict(BOOT_ANN)},
         "rules": rules or []}
    if aggregate:
        o["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {aggregate: "true"}}]}
        o["rules"] = []
    return o


def _crb(name, role, subjects):
    return {"apiVersion": RBAC + "/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": dict(BOOT_LABELS), "annotations": dict(BOOT_ANN)},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
            "subjects": [dict(s, apiGroup=RBAC) for s in subjects]}


def _r(groups, resources, verbs):
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


VIEW_CORE = ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods",
             "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
             "services/status", "bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
             "replicationcontrollers/status", "resourcequotas", "resourcequotas/status", "namespaces"]
APPS = ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
        "deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets",
        "statefulsets/scale", "statefulsets/status"]


def rbac_objects():
    crs = [
        _cr("cluster-admin", [_r(["*"], ["*"], ["*"]), {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        _cr("system:discovery", [{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
                                                      "/openapi", "/openapi/*", "/readyz", "/version", "/version/"],
                                  "verbs": ["get"]}]),
        _cr("system:basic-user", [_r(["authorization.k8s.io"], ["selfsubjectaccessreviews",
                                                               "selfsubjectrulesreviews"], ["create"]),
                                  _r(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"])]),
        _cr("system:public-info-viewer", [{"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version",
                                                               "/version/"], "verbs": ["get"]}]),
        _cr("admin", aggregate="rbac.authorization.k8s.io/aggregate-to-admin"),
        _cr("edit", labels={"rbac.authorization.k8s.io/aggregate-to-admin": "true"},
            aggregate="rbac.authorization.k8s.io/aggregate-to-edit"),
        _cr("view", labels={"rbac.authorization.k8s.io/aggregate-to-edit": "true"},
            aggregate="rbac.authorization.k8s.io/aggregate-to-view"),
        _cr("system:aggregate-to-admin", [
            _r(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
            _r([RBAC], ["rolebindings", "roles"], ["create", "delete", "deletecollection", "get", "list", "patch",
                                                   "update", "watch"])],
            labels={"rbac.authorization.k8s.io/aggregate-to-admin": "true"}),
        _cr("system:aggregate-to-edit", [
            _r([""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"],
               READ),
            _r([""], ["serviceaccounts"], ["impersonate"]),
            _r([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"],
               ["create", "delete", "deletecollection", "patch", "update"]),
            _r([""], ["pods/eviction"], ["create"]),
            _r([""], ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                      "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"],
               WRITE),
            _r([""], ["serviceaccounts/token"], ["create"]),
            _r(["apps"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets",
                          "replicasets/scale", "statefulsets", "statefulsets/scale"], WRITE),
            _r(["autoscaling"], ["horizontalpodautoscalers"], WRITE),
            _r(["batch"], ["cronjobs", "jobs"], WRITE),
            _r(["networking.k8s.io"], ["ingresses", "networkpolicies"], WRITE),
            _r(["policy"], ["poddisruptionbudgets"], WRITE),
            _r(["coordination.k8s.io"], ["leases"], WRITE)],
            labels={"rbac.authorization.k8s.io/aggregate-to-edit": "true"}),
        _cr("system:aggregate-to-view", [
            _r([""], VIEW_CORE, READ),
            _r(["apps"], APPS, READ),
            _r(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], READ),
            _r(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], READ),
            _r(["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"], READ),
            _r(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], READ),
            _r(["discovery.k8s.io"], ["endpointslices"], READ),
            _r(["coordination.k8s.io"], ["leases"], READ)],
            labels={"rbac.authorization.k8s.io/aggregate-to-view": "true"}),
    ]
    crbs = [
        _crb("cluster-admin", "cluster-admin", [{"kind": "Group", "name": "system:masters"}]),
        _crb("system:discovery", "system:discovery", [{"kind": "Group", "name": "system:authenticated"}]),
        _crb("system:basic-user", "system:basic-user", [{"kind": "Group", "name": "system:authenticated"}]),
        _crb("system:public-info-viewer", "system:public-info-viewer",
             [{"kind": "Group", "name": "system:authenticated"}, {"kind": "Group", "name": "system:unauthenticated"}]),
    ]
    return crs, crbs


def viewer_objects(registry):
    """kubesim:viewer: read everything except Secrets (RBAC has no deny, so resources are listed)."""
    rules = []
    by_group = {}
    for rt in registry.all_types():
        if "list" not in rt.verbs:
            continue
        by_group.setdefault(rt.group, set()).add(rt.resource)
        for s in rt.subs:
            if "get" in s.verbs and s.name in ("status", "scale", "log"):
                by_group[rt.group].add(rt.resource + "/" + s.name)
    for rt in list(registry.crd_types.values()):
        by_group.setdefault(rt.group, set()).add(rt.resource)
    for (ag, ar), key in registry.aliases.items():
        by_group.setdefault(ag, set()).add(ar)
    by_group.setdefault("snapshot.storage.k8s.io", set()).update(
        ["volumesnapshots", "volumesnapshotcontents", "volumesnapshotclasses"])
    core = sorted(r for r in by_group.pop("", set()) if r != "secrets")
    rules.append(_r([""], core, READ))
    for g in sorted(by_group):
        rules.append(_r([g], ["*"], READ))
    rules.append({"nonResourceURLs": ["*"], "verbs": ["get"]})
    cr = {"apiVersion": RBAC + "/v1", "kind": "ClusterRole", "metadata": {"name": "kubesim:viewer"}, "rules": rules}
    crb = {"apiVersion": RBAC + "/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "kubesim:viewer"},
           "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "kubesim:viewer"},
           "subjects": [{"apiGroup": RBAC, "kind": "User", "name": VIEWER_USER}]}
    return cr, crb


def _open_schema(top_props=None, status=True):
    props = {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    if status:
        props["status"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if top_props:
        props = top_props
    props.update({"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}})
    return {"openAPIV3Schema": {"type": "object", "properties": props}}


def snapshot_crds():
    def crd(plural, kind, scope, schema, short, status=True, printer=None):
        v = {"name": "v1", "served": True, "storage": True, "schema": schema}
        if status:
            v["subresources"] = {"status": {}}
        return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": plural + ".snapshot.storage.k8s.io",
                             "annotations": {"api-approved.kubernetes.io":
                                             "https://github.com/kubernetes-csi/external-snapshotter/pull/814",
                                             "controller-gen.kubebuilder.io/version": "v0.12.0"}},
                "spec": {"group": "snapshot.storage.k8s.io",
                         "names": {"kind": kind, "listKind": kind + "List", "plural": plural,
                                   "singular": kind.lower(), "shortNames": short},
                         "scope": scope, "versions": [v]}}
    cls_props = {"driver": {"type": "string"}, "deletionPolicy": {"type": "string", "enum": ["Delete", "Retain"]},
                 "parameters": {"type": "object", "additionalProperties": {"type": "string"}}}
    return [crd("volumesnapshotclasses", "VolumeSnapshotClass", "Cluster", _open_schema(dict(cls_props), False),
                ["vsclass", "vsclasses"], status=False),
            crd("volumesnapshotcontents", "VolumeSnapshotContent", "Cluster", _open_schema(), ["vsc", "vscs"]),
            crd("volumesnapshots", "VolumeSnapshot", "Namespaced", _open_schema(), ["vs"])]


GROUP_PRIORITY = {"": 18000, "apps": 17800, "events.k8s.io": 17750, "authentication.k8s.io": 17700,
                  "authorization.k8s.io": 17600, "autoscaling": 17500, "batch": 17400, "certificates.k8s.io": 17300,
                  "networking.k8s.io": 17200, "extensions": 17150, "policy": 17100, "rbac.authorization.k8s.io": 17000,
                  "storage.k8s.io": 16800, "admissionregistration.k8s.io": 16700, "scheduling.k8s.io": 16600,
                  "coordination.k8s.io": 16500, "apiextensions.k8s.io": 16400, "node.k8s.io": 16300,
                  "discovery.k8s.io": 16200, "flowcontrol.apiserver.k8s.io": 16100, "apiregistration.k8s.io": 18000}


def apiservice(group, version, local=True):
    name = "%s.%s" % (version, group)
    prio = {"v1": 15, "v2": 15, "v1beta1": 9, "v1beta2": 9, "v1beta3": 9, "v2beta1": 9, "v2beta2": 9}.get(version, 1)
    o = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
         "metadata": {"name": name, "labels": {"kube-aggregator.kubernetes.io/automanaged":
                                               "onstart" if local and group in GROUP_PRIORITY else "true"}},
         "spec": {"version": version, "groupPriorityMinimum": GROUP_PRIORITY.get(group, 1000),
                  "versionPriority": prio if local else 100},
         "status": {"conditions": [{"type": "Available", "status": "True", "lastTransitionTime": None,
                                    "reason": "Local", "message": "Local APIServices are always available"}]}}
    if group:
        o["spec"]["group"] = group
    return o


def create_apiservice(store, o):
    """Create an APIService and set its status as the availability controller does."""
    status = o.pop("status")
    cur = store.create("apiregistration.k8s.io", "apiservices", o, manager="kube-apiserver")
    cur["status"] = status
    store.update("apiregistration.k8s.io", "apiservices", cur, manager="kube-apiserver", subresource="status")


def apiservices(registry):
    out = []
    for g, vs in registry.group_versions.items():
        for v in vs:
            if registry.resources_in(g, v):
                out.append(apiservice(g, v))
    return out


def flowcontrol_objects(profile):
    av = "flowcontrol.apiserver.k8s.io/" + ("v1" if profile == "1.30" else "v1beta1")
    ann = {"apf.kubernetes.io/autoupdate-spec": "true"}

    def plc(name, spec):
        return {"apiVersion": av, "kind": "PriorityLevelConfiguration",
                "metadata": {"name": name, "annotations": dict(ann)}, "spec": spec}

    def fs(name, prec, level, rules, distinguisher=None):
        spec = {"priorityLevelConfiguration": {"name": level}, "matchingPrecedence": prec, "rules": rules}
        if distinguisher:
            spec["distinguisherMethod"] = {"type": distinguisher}
        return {"apiVersion": av, "kind": "FlowSchema", "metadata": {"name": name, "annotations": dict(ann)},
                "spec": spec}
    limited = {"type": "Limited", "limited": {"nominalConcurrencyShares": 5, "lendablePercent": 0,
                                              "limitResponse": {"type": "Reject"}}}
    if profile == "1.21":
        limited = {"type": "Limited", "limited": {"assuredConcurrencyShares": 5, "limitResponse": {"type": "Reject"}}}
    all_rules = [{"subjects": [{"kind": "Group", "group": {"name": "system:unauthenticated"}},
                               {"kind": "Group", "group": {"name": "system:authenticated"}}],
                  "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "clusterScope": True,
                                     "namespaces": ["*"]}],
                  "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]}]
    masters = [{"subjects": [{"kind": "Group", "group": {"name": "system:masters"}}],
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "clusterScope": True,
                                   "namespaces": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]}]
    return ([plc("exempt", {"type": "Exempt", "exempt": {}} if profile == "1.30" else {"type": "Exempt"}),
             plc("catch-all", limited)],
            [fs("exempt", 1, "exempt", masters), fs("catch-all", 10000, "catch-all", all_rules, "ByUser")])


def nodes(profile):
    out = []
    kv = "v1.30.14" if profile == "1.30" else "v1.21.14"
    for i in range(1, 4):
        name = "kubesim-node-%d" % i
        out.append({"apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": name, "labels": {
                        "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                        "topology.kubernetes.io/zone": "kubesim-zone-%d" % i},
                        "annotations": {"csi.volume.kubernetes.io/nodeid": '{"%s":"%s"}' % (CSI_DRIVER, name)}},
                    "spec": {"podCIDR": "10.244.%d.0/24" % i, "podCIDRs": ["10.244.%d.0/24" % i]},
                    "status": {
                        "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                        "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                        "message": "kubelet is posting ready status",
                                        "lastHeartbeatTime": None, "lastTransitionTime": None}],
                        "addresses": [{"type": "InternalIP", "address": "10.0.0.%d" % (10 + i)},
                                      {"type": "Hostname", "address": name}],
                        "nodeInfo": {"kubeletVersion": kv, "kubeProxyVersion": kv, "operatingSystem": "linux",
                                     "architecture": "amd64", "containerRuntimeVersion": "containerd://1.7.0",
                                     "osImage": "kubesim", "kernelVersion": "6.1.0", "machineID": "", "systemUUID": "",
                                     "bootID": ""}}})
    return out


def bootstrap(store, registry, crd_manager, options):
    from .util import now_ts
    t = now_ts()
    M = "kube-apiserver"

    def mk(g, r, o, manager=M):
        try:
            store.create(g, r, o, manager=manager)
        except ApiError as e:
            if e.code != 409:
                raise
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        mk("", "namespaces", {"metadata": {"name": ns}})
    mk("", "services", {"metadata": {"name": "kubernetes", "namespace": "default",
                                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
                        "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443,
                                                                     "protocol": "TCP", "targetPort": 6443}],
                                 "sessionAffinity": "None", "type": "ClusterIP"}})
    for n in nodes(store.profile):
        for c in n["status"]["conditions"]:
            c["lastHeartbeatTime"] = c["lastTransitionTime"] = t
        mk("", "nodes", n, "kubelet")
    for n in store.list("", "nodes"):  # node heartbeats, as kubelets keep them
        mk("coordination.k8s.io", "leases", {
            "metadata": {"name": n["metadata"]["name"], "namespace": "kube-node-lease",
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": n["metadata"]["name"],
                                              "uid": n["metadata"]["uid"]}]},
            "spec": {"holderIdentity": n["metadata"]["name"], "leaseDurationSeconds": 40,
                     "renewTime": t.replace("Z", ".000000Z")}}, "kubelet")
    for o in apiservices(registry):
        for c in o["status"]["conditions"]:
            c["lastTransitionTime"] = t
        try:
            create_apiservice(store, o)
        except ApiError as e:
            if e.code != 409:
                raise
    plcs, fss = flowcontrol_objects(store.profile)
    for o in plcs:
        mk("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations", o, "api-priority-and-fairness-config-"
                                                                              "producer-v1")
    for o in fss:
        mk("flowcontrol.apiserver.k8s.io", "flowschemas", o, "api-priority-and-fairness-config-producer-v1")
    crs, crbs = rbac_objects()
    for o in crs:
        mk(RBAC, "clusterroles", o)
    for o in crbs:
        mk(RBAC, "clusterrolebindings", o)
    for o in snapshot_crds():
        mk("apiextensions.k8s.io", "customresourcedefinitions", o, "kubectl-create")
        crd_manager.establish_now(o["metadata"]["name"])
    mk("storage.k8s.io", "csidrivers", {"metadata": {"name": CSI_DRIVER},
                                        "spec": {"attachRequired": False, "podInfoOnMount": False,
                                                 "volumeLifecycleModes": ["Persistent"], "fsGroupPolicy":
                                                     "ReadWriteOnceWithFSType", "requiresRepublish": False,
                                                 "storageCapacity": False}})
    mk("storage.k8s.io", "storageclasses", {
        "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": CSI_DRIVER, "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate",
        "allowVolumeExpansion": True})
    mk("snapshot.storage.k8s.io", "volumesnapshotclasses", {
        "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
        "metadata": {"name": "kubesim-snapclass",
                     "annotations": {"snapshot.storage.kubernetes.io/is-default-class": "true"}},
        "driver": CSI_DRIVER, "deletionPolicy": "Delete"})
    ensure_viewer(store, registry)


def ensure_viewer(store, registry):
    """Create or refresh kubesim:viewer (called at start and whenever CRDs change; safe from any thread)."""
    with store.lock:
        cr, crb = viewer_objects(registry)
        for r, o in (("clusterroles", cr), ("clusterrolebindings", crb)):
            cur = store.get(RBAC, r, None, o["metadata"]["name"])
            try:
                if cur is None:
                    store.create(RBAC, r, o, manager="kubesim")
                elif r == "clusterroles" and cur.get("rules") != o["rules"]:
                    cur["rules"] = o["rules"]
                    store.update(RBAC, r, cur, manager="kubesim")
            except ApiError as e:
                if e.code != 409:
                    raise
