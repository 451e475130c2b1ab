"""Helpers shared by kubesim's controllers (controllers.py, gc.py, namespace_controller.py, volumes.py).

Nothing here talks HTTP: the controllers act on the Store contract only (get/list/create/update/delete/subscribe),
exactly as kube-controller-manager acts on the API. Errors from the store are ApiError-like objects carrying `.code`;
we never import the core's ApiError so the controllers also run against the test fake store.
"""
import copy
import json
import random
import sys
import time
import traceback

# Alphabet of k8s.io/apimachinery/pkg/util/rand (no vowels, no ambiguous characters).
SAFE_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"

CSI_DRIVER = "kubesim.csi.k8s.io"


def is_kubesim_driver(name):
    """kubesim's CSI driver and its variants: any `<prefix>.kubesim.csi.k8s.io` (e.g. fast.kubesim.csi.k8s.io) is a
    second storage system served by the same folders, for tests that move data between storage classes of different
    drivers or adopt a volume under another driver name."""
    return bool(name) and (name == CSI_DRIVER or name.endswith("." + CSI_DRIVER))

# Built-in resource types: (group, version, resource, kind, namespaced). Used by the garbage collector to index
# owner references and by the namespace controller to empty a namespace. Custom resources come from the CRDs.
BUILTIN_RESOURCES = [
    ("", "v1", "pods", "Pod", True),
    ("", "v1", "services", "Service", True),
    ("", "v1", "endpoints", "Endpoints", True),
    ("", "v1", "configmaps", "ConfigMap", True),
    ("", "v1", "secrets", "Secret", True),
    ("", "v1", "serviceaccounts", "ServiceAccount", True),
    ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True),
    ("", "v1", "limitranges", "LimitRange", True),
    ("", "v1", "resourcequotas", "ResourceQuota", True),
    ("", "v1", "events", "Event", True),
    ("", "v1", "replicationcontrollers", "ReplicationController", True),
    ("", "v1", "podtemplates", "PodTemplate", True),
    ("", "v1", "namespaces", "Namespace", False),
    ("", "v1", "nodes", "Node", False),
    ("", "v1", "persistentvolumes", "PersistentVolume", False),
    ("apps", "v1", "deployments", "Deployment", True),
    ("apps", "v1", "replicasets", "ReplicaSet", True),
    ("apps", "v1", "statefulsets", "StatefulSet", True),
    ("apps", "v1", "daemonsets", "DaemonSet", True),
    ("apps", "v1", "controllerrevisions", "ControllerRevision", True),
    ("batch", "v1", "jobs", "Job", True),
    ("batch", "v1", "cronjobs", "CronJob", True),
    ("networking.k8s.io", "v1", "ingresses", "Ingress", True),
    ("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True),
    ("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    ("storage.k8s.io", "v1", "storageclasses", "StorageClass", False),
    ("storage.k8s.io", "v1", "csidrivers", "CSIDriver", False),
    ("storage.k8s.io", "v1", "csinodes", "CSINode", False),
    ("storage.k8s.io", "v1", "volumeattachments", "VolumeAttachment", False),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True),
    ("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True),
    ("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False),
    ("coordination.k8s.io", "v1", "leases", "Lease", True),
    ("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    ("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False),
    ("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration",
     False),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False),
]


VERBOSE = [False]   # set from the `verbose` option: info lines (provisioning, finalizers) only then


def log(msg):
    sys.stderr.write("kubesim controllers: %s\n" % msg)
    sys.stderr.flush()


def info(msg):
    if VERBOSE[0]:
        log(msg)


def log_exc(what):
    log("error in %s:\n%s" % (what, traceback.format_exc()))


def now_str(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def parse_time(s):
    """RFC 3339 (whole seconds, UTC) -> epoch seconds; None when absent or unparsable."""
    if not s:
        return None
    try:
        import calendar
        return calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))
    except Exception:
        return None


def rand_suffix(n=5):
    return "".join(random.choice(SAFE_ALPHANUMS) for _ in range(n))


def fnv32a(data: bytes) -> int:
    h = 0x811c9dc5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xffffffff
    return h


def safe_encode(s: str) -> str:
    """k8s.io/apimachinery/pkg/util/rand.SafeEncodeString."""
    return "".join(SAFE_ALPHANUMS[ord(c) % len(SAFE_ALPHANUMS)] for c in s)


def template_hash(template, collision_count=0) -> str:
    """pod-template-hash / controller-revision-hash: fnv32a of the template (canonical JSON here, Go's
    DeepHashObject upstream), rendered with SafeEncodeString of its decimal value, as controller.ComputeHash does."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    return safe_encode(str(fnv32a(data)))


def meta(obj):
    return obj.setdefault("metadata", {})


def api_code(exc):
    return getattr(exc, "code", None)


def match_selector(selector, labels):
    """metav1.LabelSelector semantics. A None selector matches nothing; an empty one matches everything."""
    if selector is None:
        return False
    labels = labels or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for req in selector.get("matchExpressions") or []:
        key, op, vals = req.get("key"), req.get("operator"), req.get("values") or []
        if op == "In":
            if labels.get(key) not in vals:
                return False
        elif op == "NotIn":
            if key in labels and labels[key] in vals:
                return False
        elif op == "Exists":
            if key not in labels:
                return False
        elif op == "DoesNotExist":
            if key in labels:
                return False
        else:
            return False
    return True


def match_map_selector(selector, labels):
    """Service/RC style selector: a plain map. Empty/None selects nothing."""
    if not selector:
        return False
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def controller_ref(obj):
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def owner_ref(owner, api_version, kind, block=True):
    return {"apiVersion": api_version, "kind": kind, "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": block}


def is_controlled_by(obj, owner):
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == owner["metadata"].get("uid")


def deleting(obj):
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def pod_ready(pod):
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def pod_active(pod):
    return not deleting(pod) and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


_UNITS = {"Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4, "Pi": 1024 ** 5, "Ei": 1024 ** 6,
          "k": 1000, "K": 1000, "M": 1000 ** 2, "G": 1000 ** 3, "T": 1000 ** 4, "P": 1000 ** 5, "E": 1000 ** 6,
          "m": 0.001}


def parse_quantity(q):
    """resource.Quantity string -> number of bytes/units (float for milli)."""
    if q is None:
        return 0
    if isinstance(q, (int, float)):
        return q
    s = str(q).strip()
    for suf in ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"):
        if s.endswith(suf):
            return float(s[:-2]) * _UNITS[suf]
    if s and s[-1] in _UNITS:
        return float(s[:-1]) * _UNITS[s[-1]]
    try:
        return float(s)
    except ValueError:
        return 0


def set_condition(conds, ctype, status, reason=None, message=None, now=None, with_update_time=False,
                  probe_time=False):
    """Upsert a condition in place; lastTransitionTime only changes with status. Returns True when changed."""
    now = now or now_str()
    for c in conds:
        if c.get("type") == ctype:
            changed = c.get("status") != status or c.get("reason") != reason or c.get("message") != message
            if not changed:
                return False
            if c.get("status") != status:
                c["lastTransitionTime"] = now
            c["status"] = status
            if reason is not None:
                c["reason"] = reason
            else:
                c.pop("reason", None)
            if message is not None:
                c["message"] = message
            else:
                c.pop("message", None)
            if with_update_time:
                c["lastUpdateTime"] = now
            return True
    c = {"type": ctype, "status": status}
    if probe_time:
        c["lastProbeTime"] = None
    if with_update_time:
        c["lastUpdateTime"] = now
    c["lastTransitionTime"] = now
    if reason is not None:
        c["reason"] = reason
    if message is not None:
        c["message"] = message
    conds.append(c)
    return True


def strip_volatile(obj):
    return copy.deepcopy(obj)
