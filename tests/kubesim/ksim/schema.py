"""Structural knowledge of the built-in kinds: list merge keys (strategic merge patch, managedFields keys) and a schema
of known fields (fieldValidation=Strict).  It covers the kinds and fields kubesim's users touch; unknown kinds are
not checked (documented in the README)."""

# Lists merged by key.  Looked up by the last field name, optionally qualified by the parent field name.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name",
    "env": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath", "imagePullSecrets": "name",
    "ownerReferences": "uid", "conditions": "type", "hostAliases": "ip", "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name", "schedulingGates": "name", "secrets": "name",
}
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
PRIMITIVE_MERGE = {("metadata", "finalizers")}
RETAIN_KEYS = {("strategy",), ("updateStrategy",)}
MAP_FIELDS = {"labels", "annotations", "data", "binaryData", "stringData", "matchLabels", "nodeSelector",
              "limits", "requests", "capacity", "parameters", "allocatable"}


def merge_key(path, kind=None):
    """Merge key for the list at `path` (tuple of field names), '$primitive' for merged primitive lists, or None
    (the list is atomic and replaced as a whole)."""
    if not path:
        return None
    last = path[-1]
    if len(path) >= 2 and tuple(path[-2:]) in PRIMITIVE_MERGE:
        return "$primitive"
    if last == "ports":
        if len(path) >= 2 and path[-2] in CONTAINER_LISTS:
            return "containerPort"
        if tuple(path) == ("spec", "ports") and kind == "Service":
            return "port"
        return None
    if last == "secrets" and tuple(path) != ("secrets",):
        return None
    if last == "conditions" and len(path) >= 1 and path[0] == "spec":
        return None
    return MERGE_KEYS.get(last)


def list_map_keys(path, kind=None):
    """The keys server-side apply identifies items of an associative list by (x-kubernetes-list-map-keys), or
    None when the list is atomic or a set ('$primitive')."""
    mk = merge_key(path, kind)
    if mk is None or mk == "$primitive":
        return mk
    last = path[-1]
    if last == "ports":
        return ["containerPort", "protocol"] if mk == "containerPort" else ["port", "protocol"]
    if last == "topologySpreadConstraints":
        return ["topologyKey", "whenUnsatisfiable"]
    return [mk]


# ---- known fields (for strict decoding) -----------------------------------------------------------------------
ANY = None
_META = {k: ANY for k in ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
                          "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
                          "annotations", "ownerReferences", "finalizers", "managedFields")}
_CONTAINER = {k: ANY for k in (
    "name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources", "resizePolicy",
    "restartPolicy", "volumeMounts", "volumeDevices", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle",
    "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy", "securityContext", "stdin", "stdinOnce",
    "tty", "targetContainerName")}
_PODSPEC = {k: ANY for k in (
    "volumes", "restartPolicy", "terminationGracePeriodSeconds", "activeDeadlineSeconds", "dnsPolicy",
    "nodeSelector", "serviceAccountName", "serviceAccount", "automountServiceAccountToken", "nodeName", "hostNetwork",
    "hostPID", "hostIPC", "shareProcessNamespace", "securityContext", "imagePullSecrets", "hostname", "subdomain",
    "affinity", "schedulerName", "tolerations", "hostAliases", "priorityClassName", "priority", "dnsConfig",
    "readinessGates", "runtimeClassName", "enableServiceLinks", "preemptionPolicy", "overhead",
    "topologySpreadConstraints", "setHostnameAsFQDN", "os", "hostUsers", "schedulingGates", "resourceClaims")}
_PODSPEC.update({"containers": [_CONTAINER], "initContainers": [_CONTAINER], "ephemeralContainers": [_CONTAINER]})
_TEMPLATE = {"metadata": _META, "spec": _PODSPEC}


def _top(spec=None, extra=()):
    d = {"apiVersion": ANY, "kind": ANY, "metadata": _META, "status": ANY}
    if spec is not None:
        d["spec"] = spec
    for k in extra:
        d[k] = ANY
    return d


_SEL = ANY
KNOWN = {
    "ConfigMap": _top(None, ("data", "binaryData", "immutable")),
    "Secret": _top(None, ("data", "stringData", "type", "immutable")),
    "ServiceAccount": _top(None, ("secrets", "imagePullSecrets", "automountServiceAccountToken")),
    "Namespace": _top({"finalizers": ANY}),
    "Pod": _top(_PODSPEC),
    "Deployment": _top({k: ANY for k in ("replicas", "selector", "strategy", "minReadySeconds",
                                         "revisionHistoryLimit", "paused", "progressDeadlineSeconds")}
                       | {"template": _TEMPLATE}),
    "ReplicaSet": _top({"replicas": ANY, "minReadySeconds": ANY, "selector": ANY, "template": _TEMPLATE}),
    "StatefulSet": _top({k: ANY for k in ("replicas", "selector", "volumeClaimTemplates", "serviceName",
                                          "podManagementPolicy", "updateStrategy", "revisionHistoryLimit",
                                          "minReadySeconds", "persistentVolumeClaimRetentionPolicy", "ordinals")}
                        | {"template": _TEMPLATE}),
    "DaemonSet": _top({k: ANY for k in ("selector", "updateStrategy", "minReadySeconds", "revisionHistoryLimit")}
                      | {"template": _TEMPLATE}),
    "Job": _top({k: ANY for k in ("parallelism", "completions", "activeDeadlineSeconds", "podFailurePolicy",
                                  "successPolicy", "backoffLimit", "backoffLimitPerIndex", "maxFailedIndexes",
                                  "selector", "manualSelector", "ttlSecondsAfterFinished", "completionMode",
                                  "suspend", "podReplacementPolicy", "managedBy")} | {"template": _TEMPLATE}),
    "Service": _top({k: ANY for k in (
        "ports", "selector", "clusterIP", "clusterIPs", "type", "externalIPs", "sessionAffinity", "loadBalancerIP",
        "loadBalancerSourceRanges", "externalName", "externalTrafficPolicy", "healthCheckNodePort",
        "publishNotReadyAddresses", "sessionAffinityConfig", "ipFamilies", "ipFamilyPolicy",
        "allocateLoadBalancerNodePorts", "loadBalancerClass", "internalTrafficPolicy", "trafficDistribution")}),
    "PersistentVolumeClaim": _top({k: ANY for k in ("accessModes", "selector", "resources", "volumeName",
                                                    "storageClassName", "volumeMode", "dataSource", "dataSourceRef",
                                                    "volumeAttributesClassName")}),
    "Role": _top(None, ("rules",)),
    "ClusterRole": _top(None, ("rules", "aggregationRule")),
    "RoleBinding": _top(None, ("subjects", "roleRef")),
    "ClusterRoleBinding": _top(None, ("subjects", "roleRef")),
}


# Fields a 1.21 API server did not have (or dropped because their feature gate was off): with the 1.21 profile they
# are unknown, so they are pruned silently, as a real 1.21 server drops them.
NOT_IN_121 = {
    "_podspec": ["os", "hostUsers", "schedulingGates", "resourceClaims"],
    "_container": ["resizePolicy", "restartPolicy"],
    "StatefulSet": [("spec", "persistentVolumeClaimRetentionPolicy"), ("spec", "ordinals")],
    "Job": [("spec", k) for k in ("podFailurePolicy", "successPolicy", "backoffLimitPerIndex", "maxFailedIndexes",
                                  "podReplacementPolicy", "managedBy")],
    "Service": [("spec", "internalTrafficPolicy"), ("spec", "trafficDistribution")],
    "PersistentVolumeClaim": [("spec", "dataSourceRef"), ("spec", "volumeAttributesClassName")],
}


def _schema_121():
    import copy
    known = copy.deepcopy(KNOWN)
    seen = set()

    def strip(node):
        if isinstance(node, list):
            for x in node:
                strip(x)
            return
        if not isinstance(node, dict) or id(node) in seen:
            return
        seen.add(id(node))
        if "containers" in node and "restartPolicy" in node:  # a pod spec
            for f in NOT_IN_121["_podspec"]:
                node.pop(f, None)
        if "image" in node and "terminationMessagePath" in node:  # a container
            for f in NOT_IN_121["_container"]:
                node.pop(f, None)
        for v in node.values():
            strip(v)
    strip(known)
    for kind, paths in NOT_IN_121.items():
        if kind.startswith("_") or kind not in known:
            continue
        for p in paths:
            node = known[kind]
            for el in p[:-1]:
                node = node[el]
            node.pop(p[-1], None)
    return known


_KNOWN_BY_PROFILE = {}


def unknown_fields(kind, obj, profile="1.30"):
    """Dotted paths of fields unknown to the schema of `kind` (empty when the kind has no schema here)."""
    table = KNOWN
    if profile == "1.21":
        table = _KNOWN_BY_PROFILE.get("1.21")
        if table is None:
            table = _KNOWN_BY_PROFILE["1.21"] = _schema_121()
    sch = table.get(kind)
    out = []
    if sch is None or not isinstance(obj, dict):
        return out
    _walk(sch, obj, "", out)
    return out


def _walk(sch, v, prefix, out):
    if sch is ANY:
        return
    if isinstance(sch, list):
        if isinstance(v, list):
            for i, item in enumerate(v):
                _walk(sch[0], item, "%s[%d]" % (prefix, i), out)
        return
    if not isinstance(v, dict):
        return
    for k, sub in v.items():
        p = (prefix + "." + k) if prefix else k
        if k not in sch:
            out.append(p)
        else:
            _walk(sch[k], sub, p, out)
