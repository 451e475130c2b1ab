"""Table of the built-in kinds kubesim serves, per profile.

A profile is a column of switches (which versions of which group are served, which one is preferred), never a second
code path.  Custom resources join the table at runtime through `Registry.set_crd_types` (crd.py).

Terms: a *resource type* (`RT`) is one stored thing, keyed by its storage group and plural (`("apps","deployments")`).
An *endpoint* is (group, version, resource) as seen in a URL; several endpoints may lead to one RT (1.21 serves
extensions/v1beta1 ingresses stored as networking.k8s.io ingresses).
"""
import base64
import hashlib
import threading

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
NS_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
CREATE_ONLY = ["create"]
STATUS_VERBS = ["get", "patch", "update"]

# Group versions per profile, in preference order (first = preferred = storage version).
GROUP_VERSIONS = {
    "1.30": {
        "": ["v1"], "apps": ["v1"], "batch": ["v1"], "autoscaling": ["v2", "v1"],
        "networking.k8s.io": ["v1"], "rbac.authorization.k8s.io": ["v1"], "storage.k8s.io": ["v1"],
        "policy": ["v1"], "scheduling.k8s.io": ["v1"], "coordination.k8s.io": ["v1"], "discovery.k8s.io": ["v1"],
        "admissionregistration.k8s.io": ["v1"], "apiextensions.k8s.io": ["v1"], "authorization.k8s.io": ["v1"],
        "authentication.k8s.io": ["v1"], "events.k8s.io": ["v1"], "certificates.k8s.io": ["v1"],
        "node.k8s.io": ["v1"], "apiregistration.k8s.io": ["v1"], "flowcontrol.apiserver.k8s.io": ["v1", "v1beta3"],
    },
    "1.21": {
        "": ["v1"], "apps": ["v1"], "batch": ["v1", "v1beta1"], "autoscaling": ["v1", "v2beta1", "v2beta2"],
        "networking.k8s.io": ["v1", "v1beta1"], "extensions": ["v1beta1"],
        "rbac.authorization.k8s.io": ["v1", "v1beta1"], "storage.k8s.io": ["v1", "v1beta1"],
        "policy": ["v1", "v1beta1"], "scheduling.k8s.io": ["v1", "v1beta1"],
        "coordination.k8s.io": ["v1", "v1beta1"], "discovery.k8s.io": ["v1", "v1beta1"],
        "admissionregistration.k8s.io": ["v1", "v1beta1"], "apiextensions.k8s.io": ["v1", "v1beta1"],
        "authorization.k8s.io": ["v1", "v1beta1"], "authentication.k8s.io": ["v1", "v1beta1"],
        "events.k8s.io": ["v1", "v1beta1"], "certificates.k8s.io": ["v1", "v1beta1"],
        "node.k8s.io": ["v1", "v1beta1"], "apiregistration.k8s.io": ["v1", "v1beta1"],
        "flowcontrol.apiserver.k8s.io": ["v1beta1"],
    },
}

# Deprecated API versions (k8s.io/apiserver deprecation warnings): (group, version) -> (deprecated in, removed in,
# replacement group/version or None), per profile; kinds without a replacement in that group are listed as None.
DEPRECATIONS = {
    "1.21": {
        ("extensions", "v1beta1"): ("1.14", "1.22", "networking.k8s.io/v1"),
        ("networking.k8s.io", "v1beta1"): ("1.19", "1.22", "networking.k8s.io/v1"),
        ("batch", "v1beta1"): ("1.21", "1.25", "batch/v1"),
        ("policy", "v1beta1"): ("1.21", "1.25", "policy/v1"),
        ("discovery.k8s.io", "v1beta1"): ("1.21", "1.25", "discovery.k8s.io/v1"),
        ("rbac.authorization.k8s.io", "v1beta1"): ("1.17", "1.22", "rbac.authorization.k8s.io/v1"),
        ("apiextensions.k8s.io", "v1beta1"): ("1.16", "1.22", "apiextensions.k8s.io/v1"),
        ("admissionregistration.k8s.io", "v1beta1"): ("1.16", "1.22", "admissionregistration.k8s.io/v1"),
        ("storage.k8s.io", "v1beta1"): ("1.19", "1.22", "storage.k8s.io/v1"),
        ("scheduling.k8s.io", "v1beta1"): ("1.14", "1.22", "scheduling.k8s.io/v1"),
        ("coordination.k8s.io", "v1beta1"): ("1.19", "1.22", "coordination.k8s.io/v1"),
        ("certificates.k8s.io", "v1beta1"): ("1.19", "1.22", "certificates.k8s.io/v1"),
        ("authorization.k8s.io", "v1beta1"): ("1.19", "1.22", "authorization.k8s.io/v1"),
        ("authentication.k8s.io", "v1beta1"): ("1.19", "1.22", "authentication.k8s.io/v1"),
        ("apiregistration.k8s.io", "v1beta1"): ("1.19", "1.22", "apiregistration.k8s.io/v1"),
    },
    "1.30": {
        ("flowcontrol.apiserver.k8s.io", "v1beta3"): ("1.29", "1.32", "flowcontrol.apiserver.k8s.io/v1"),
    },
}
NO_REPLACEMENT = {("policy", "podsecuritypolicies"), ("storage.k8s.io", "csistoragecapacities")}


def deprecation_warning(profile, group, version, resource, kind):
    d = DEPRECATIONS.get(profile, {}).get((group, version))
    if d is None:
        return None
    if (group, resource) == ("storage.k8s.io", "csistoragecapacities"):
        return None  # v1beta1 is its only version in 1.21
    msg = "%s/%s %s is deprecated in v%s+, unavailable in v%s+" % (group, version, kind, d[0], d[1])
    if d[2] and (group, resource) not in NO_REPLACEMENT:
        msg += "; use %s %s" % (d[2], kind)
    return msg


GIT_VERSION = {"1.30": "v1.30.14", "1.21": "v1.21.14"}


class Sub:
    __slots__ = ("name", "kind", "group", "version", "verbs")

    def __init__(self, name, kind, verbs, group=None, version=None):
        self.name, self.kind, self.verbs, self.group, self.version = name, kind, verbs, group, version


class RT:
    """One stored resource type."""

    def __init__(self, group, resource, kind, namespaced=True, short=(), cats=(), verbs=ALL_VERBS, subs=(),
                 status=False, generation=False, versions=None, return_deleted=False, singular=None,
                 crd=None, storage_version=None):
        self.group, self.resource, self.kind, self.namespaced = group, resource, kind, namespaced
        self.short, self.cats, self.verbs = list(short), list(cats), list(verbs)
        self.subs = list(subs)
        if status and not any(s.name == "status" for s in self.subs):
            self.subs.insert(0, Sub("status", kind, STATUS_VERBS))
        self.status = status
        self.generation = generation
        self.versions_by_profile = versions  # {profile: [versions]} or None = all group versions
        self.return_deleted = return_deleted
        self.singular = singular if singular is not None else kind.lower()
        self.crd = crd  # the CRD object (dict) for custom resources
        self.served_versions = []  # filled per profile
        self.storage_version = storage_version

    @property
    def key(self):
        return (self.group, self.resource)

    def has_sub(self, name):
        return any(s.name == name for s in self.subs)

    def gk(self):
        return self.kind + ("." + self.group if self.group else "")

    def qualified(self):
        return self.resource + ("." + self.group if self.group else "")

    def storage_api_version(self):
        return gv(self.group, self.storage_version)


def gv(group, version):
    return version if not group else group + "/" + version


def storage_version_hash(group, version, kind):
    return base64.b64encode(hashlib.sha256(("%s/%s/%s" % (group, version, kind)).encode()).digest()[:8]).decode()


_SCALE = Sub("scale", "Scale", STATUS_VERBS, "autoscaling", "v1")


def _builtins():
    A = "all"
    return [
        # core
        RT("", "bindings", "Binding", verbs=CREATE_ONLY),
        RT("", "componentstatuses", "ComponentStatus", False, short=["cs"], verbs=["get", "list"]),
        RT("", "configmaps", "ConfigMap", short=["cm"]),
        RT("", "endpoints", "Endpoints", short=["ep"], singular="endpoints"),
        RT("", "events", "Event", short=["ev"]),
        RT("", "limitranges", "LimitRange", short=["limits"]),
        RT("", "namespaces", "Namespace", False, short=["ns"], verbs=NS_VERBS, status=True,
           subs=[Sub("finalize", "Namespace", ["update"])]),
        RT("", "nodes", "Node", False, short=["no"], status=True, subs=[Sub("proxy", "NodeProxyOptions",
                                                                            ["create", "delete", "get", "patch", "update"])]),
        RT("", "persistentvolumeclaims", "PersistentVolumeClaim", short=["pvc"], status=True),
        RT("", "persistentvolumes", "PersistentVolume", False, short=["pv"], status=True),
        RT("", "pods", "Pod", short=["po"], cats=[A], status=True, return_deleted=True, subs=[
            Sub("attach", "PodAttachOptions", ["create", "get"]),
            Sub("binding", "Binding", ["create"]),
            Sub("ephemeralcontainers", "Pod", STATUS_VERBS),
            Sub("eviction", "Eviction", ["create"], "policy", "v1"),
            Sub("exec", "PodExecOptions", ["create", "get"]),
            Sub("log", "Pod", ["get"]),
            Sub("portforward", "PodPortForwardOptions", ["create", "get"]),
            Sub("proxy", "PodProxyOptions", ["create", "delete", "get", "patch", "update"])]),
        RT("", "podtemplates", "PodTemplate"),
        RT("", "replicationcontrollers", "ReplicationController", short=["rc"], cats=[A], status=True,
           generation=True, subs=[_SCALE]),
        RT("", "resourcequotas", "ResourceQuota", short=["quota"], status=True),
        RT("", "secrets", "Secret"),
        RT("", "serviceaccounts", "ServiceAccount", short=["sa"], return_deleted=True,
           subs=[Sub("token", "TokenRequest", ["create"], "authentication.k8s.io", "v1")]),
        RT("", "services", "Service", short=["svc"], cats=[A], status=True, return_deleted=True,
           subs=[Sub("proxy", "ServiceProxyOptions", ["create", "delete", "get", "patch", "update"])]),
        # apps
        RT("apps", "controllerrevisions", "ControllerRevision"),
        RT("apps", "daemonsets", "DaemonSet", short=["ds"], cats=[A], status=True, generation=True),
        RT("apps", "deployments", "Deployment", short=["deploy"], cats=[A], status=True, generation=True,
           subs=[_SCALE]),
        RT("apps", "replicasets", "ReplicaSet", short=["rs"], cats=[A], status=True, generation=True, subs=[_SCALE]),
        RT("apps", "statefulsets", "StatefulSet", short=["sts"], cats=[A], status=True, generation=True,
           subs=[_SCALE]),
        # batch
        RT("batch", "cronjobs", "CronJob", short=["cj"], cats=[A], status=True, generation=True),
        RT("batch", "jobs", "Job", cats=[A], status=True, generation=True,
           versions={"1.30": ["v1"], "1.21": ["v1"]}),
        # autoscaling
        RT("autoscaling", "horizontalpodautoscalers", "HorizontalPodAutoscaler", short=["hpa"], cats=[A],
           status=True),
        # networking
        RT("networking.k8s.io", "ingressclasses", "IngressClass", False),
        RT("networking.k8s.io", "ingresses", "Ingress", short=["ing"], status=True, generation=True),
        RT("networking.k8s.io", "networkpolicies", "NetworkPolicy", short=["netpol"], generation=True,
           versions={"1.30": ["v1"], "1.21": ["v1"]}),
        # rbac
        RT("rbac.authorization.k8s.io", "clusterrolebindings", "ClusterRoleBinding", False),
        RT("rbac.authorization.k8s.io", "clusterroles", "ClusterRole", False),
        RT("rbac.authorization.k8s.io", "rolebindings", "RoleBinding"),
        RT("rbac.authorization.k8s.io", "roles", "Role"),
        # storage
        RT("storage.k8s.io", "csidrivers", "CSIDriver", False),
        RT("storage.k8s.io", "csinodes", "CSINode", False),
        RT("storage.k8s.io", "csistoragecapacities", "CSIStorageCapacity"),
        RT("storage.k8s.io", "storageclasses", "StorageClass", False, short=["sc"], return_deleted=True),
        RT("storage.k8s.io", "volumeattachments", "VolumeAttachment", False, status=True),
        # policy
        RT("policy", "poddisruptionbudgets", "PodDisruptionBudget", short=["pdb"], status=True, generation=True),
        RT("policy", "podsecuritypolicies", "PodSecurityPolicy", False, short=["psp"],
           versions={"1.21": ["v1beta1"]}),
        # misc
        RT("scheduling.k8s.io", "priorityclasses", "PriorityClass", False, short=["pc"]),
        RT("coordination.k8s.io", "leases", "Lease"),
        RT("discovery.k8s.io", "endpointslices", "EndpointSlice"),
        RT("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False,
           cats=["api-extensions"]),
        RT("admissionregistration.k8s.io", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration",
           False, cats=["api-extensions"]),
        RT("admissionregistration.k8s.io", "validatingadmissionpolicies", "ValidatingAdmissionPolicy", False,
           cats=["api-extensions"], status=True, generation=True, versions={"1.30": ["v1"]}),
        RT("admissionregistration.k8s.io", "validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding",
           False, cats=["api-extensions"], generation=True, versions={"1.30": ["v1"]}),
        RT("apiextensions.k8s.io", "customresourcedefinitions", "CustomResourceDefinition", False,
           short=["crd", "crds"], cats=["api-extensions"], status=True, generation=True),
        RT("authorization.k8s.io", "localsubjectaccessreviews", "LocalSubjectAccessReview", verbs=CREATE_ONLY),
        RT("authorization.k8s.io", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False, verbs=CREATE_ONLY),
        RT("authorization.k8s.io", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False, verbs=CREATE_ONLY),
        RT("authorization.k8s.io", "subjectaccessreviews", "SubjectAccessReview", False, verbs=CREATE_ONLY),
        RT("authentication.k8s.io", "selfsubjectreviews", "SelfSubjectReview", False, verbs=CREATE_ONLY,
           versions={"1.30": ["v1"]}),
        RT("authentication.k8s.io", "tokenreviews", "TokenReview", False, verbs=CREATE_ONLY),
        RT("certificates.k8s.io", "certificatesigningrequests", "CertificateSigningRequest", False, short=["csr"],
           status=True, subs=[Sub("approval", "CertificateSigningRequest", STATUS_VERBS)]),
        RT("node.k8s.io", "runtimeclasses", "RuntimeClass", False),
        RT("apiregistration.k8s.io", "apiservices", "APIService", False, cats=["api-extensions"], status=True),
        RT("flowcontrol.apiserver.k8s.io", "flowschemas", "FlowSchema", False, status=True),
        RT("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations", "PriorityLevelConfiguration", False,
           status=True),
    ]


# Extra endpoints that are views of another stored type: (group, resource) -> (storage group, resource), per profile.
ALIASES = {"1.21": {("extensions", "ingresses"): ("networking.k8s.io", "ingresses"),
                    ("events.k8s.io", "events"): ("", "events")},
           "1.30": {("events.k8s.io", "events"): ("", "events")}}
# Resources only served in some versions of their group (per profile), beyond RT.versions_by_profile.
VERSION_LIMITS = {
    "1.21": {("batch", "cronjobs"): ["v1", "v1beta1"], ("batch", "jobs"): ["v1"],
             ("networking.k8s.io", "ingressclasses"): ["v1", "v1beta1"],
             ("networking.k8s.io", "ingresses"): ["v1", "v1beta1"],
             ("storage.k8s.io", "csistoragecapacities"): ["v1beta1"],
             ("storage.k8s.io", "csinodes"): ["v1", "v1beta1"],
             ("discovery.k8s.io", "endpointslices"): ["v1", "v1beta1"],
             ("autoscaling", "horizontalpodautoscalers"): ["v1", "v2beta1", "v2beta2"],
             ("authorization.k8s.io", "selfsubjectrulesreviews"): ["v1", "v1beta1"],
             ("authentication.k8s.io", "tokenreviews"): ["v1", "v1beta1"]},
    "1.30": {},
}


class Registry:
    def __init__(self, profile):
        self.profile = profile
        self.lock = threading.RLock()
        self.group_versions = {g: list(v) for g, v in GROUP_VERSIONS[profile].items()}
        self.builtin = {}
        for rt in _builtins():
            vs = self._versions_for(rt)
            if not vs:
                continue
            rt.served_versions = vs
            rt.storage_version = vs[0]
            self.builtin[rt.key] = rt
        self.aliases = dict(ALIASES.get(profile, {}))
        self.crd_types = {}  # (group, plural) -> RT
        self.broken_groups = set()  # fault: groups reported Stale/failing in discovery

    def _versions_for(self, rt):
        gvs = self.group_versions.get(rt.group)
        if gvs is None:
            return []
        if rt.versions_by_profile is not None:
            allowed = rt.versions_by_profile.get(self.profile)
            if allowed is None:
                return []
            return [v for v in gvs if v in allowed] or list(allowed)
        lim = VERSION_LIMITS.get(self.profile, {}).get(rt.key)
        if lim:
            return [v for v in gvs if v in lim]
        return list(gvs)

    # --- lookups -------------------------------------------------------------------------------------------
    def storage_type(self, group, resource):
        """RT by storage key, or None."""
        rt = self.builtin.get((group, resource))
        if rt is None:
            rt = self.crd_types.get((group, resource))
        return rt

    def endpoint(self, group, version, resource):
        """RT served at group/version/resource (following aliases), or None."""
        key = self.aliases.get((group, resource))
        if key is not None:
            if version in self.group_versions.get(group, []):
                return self.storage_type(*key)
            return None
        rt = self.storage_type(group, resource)
        if rt is not None and version in rt.served_versions:
            return rt
        return None

    def group_served(self, group, version):
        if version in self.group_versions.get(group, []):
            return True
        return any(rt.group == group and version in rt.served_versions for rt in self.crd_types.values())

    def all_types(self):
        with self.lock:
            return list(self.builtin.values()) + list(self.crd_types.values())

    def groups(self):
        """[(group, [versions in preference order])] in discovery order (core first, then builtin, then CRDs)."""
        out = [(g, list(v)) for g, v in self.group_versions.items()]
        seen = {g for g, _ in out}
        crd_groups = {}
        for rt in list(self.crd_types.values()):
            if rt.group in seen:
                continue
            crd_groups.setdefault(rt.group, [])
            for v in rt.served_versions:
                if v not in crd_groups[rt.group]:
                    crd_groups[rt.group].append(v)
        for g in sorted(crd_groups):
            out.append((g, sort_versions(crd_groups[g])))
        return out

    def resources_in(self, group, version):
        """[(resource name as served, RT)] for one group-version (aliases included)."""
        out = []
        for rt in self.all_types():
            if rt.group == group and version in rt.served_versions:
                out.append((rt.resource, rt))
        for (ag, ar), key in self.aliases.items():
            if ag == group and version in self.group_versions.get(group, []):
                rt = self.storage_type(*key)
                if rt:
                    out.append((ar, rt))
        out.sort(key=lambda x: x[0])
        return out

    def find_kind(self, group, version, kind):
        for rt in self.all_types():
            if rt.group == group and rt.kind == kind and version in rt.served_versions:
                return rt
        for (ag, ar), key in self.aliases.items():
            rt = self.storage_type(*key)
            if ag == group and rt and rt.kind == kind:
                return rt
        return None

    def set_crd_types(self, types):
        with self.lock:
            self.crd_types = {rt.key: rt for rt in types}


def version_priority(v):
    """Kubernetes version ordering: GA > beta > alpha, higher numbers first; others sorted by name."""
    import re
    m = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", v)
    if not m:
        return (3, 0, 0, v)
    major = int(m.group(1))
    tier = {"alpha": 2, "beta": 1, None: 0}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (tier, -major, -minor, v)


def sort_versions(vs):
    return sorted(vs, key=version_priority)
