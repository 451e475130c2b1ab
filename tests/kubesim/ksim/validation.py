"""Validation as the API server's strategies do it (422 Invalid with field causes).  Only the rules kubesim's users
meet are implemented: names, labels, required fields of common kinds, selectors vs templates and the immutable fields
listed in the issue."""
import re

from .store import FieldError

DNS1123_SUB = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
QNAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LVALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
CFGKEY = re.compile(r"^[-._a-zA-Z0-9]+$")

MSG_SUB = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
           "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
           "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
MSG_LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
             "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
MSG_1035 = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
            "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
            "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
MSG_LVALUE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
              "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex "
              "used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
MSG_QNAME = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
             "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
             "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
MSG_CFGKEY = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
              "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")

LABEL_NAME_KINDS = {"Namespace"}
DNS1035_KINDS = {"Service"}
PATH_SEGMENT_KINDS = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}


def _inv(field, value, detail):
    return FieldError("FieldValueInvalid", field, value, detail)


def _req(field, detail=""):
    return FieldError("FieldValueRequired", field, None, detail)


def _forb(field, detail):
    return FieldError("FieldValueForbidden", field, None, detail)


def check_name(kind, name, errs, field="metadata.name"):
    if kind == "APIService":
        return  # `<version>.<group>` (core: "v1."), checked in _apiservice
    if kind in PATH_SEGMENT_KINDS:
        if name in (".", ".."):
            errs.append(_inv(field, name, 'may not be \'%s\'' % name))
        elif "/" in name or "%" in name:
            errs.append(_inv(field, name, "may not contain '%s'" % ("/" if "/" in name else "%")))
        return
    if kind in LABEL_NAME_KINDS:
        if len(name) > 63:
            errs.append(_inv(field, name, "must be no more than 63 characters"))
        if not DNS1123_LABEL.match(name):
            errs.append(_inv(field, name, MSG_LABEL))
        return
    if kind in DNS1035_KINDS:
        if len(name) > 63:
            errs.append(_inv(field, name, "must be no more than 63 characters"))
        if not DNS1035_LABEL.match(name):
            errs.append(_inv(field, name, MSG_1035))
        return
    if len(name) > 253:
        errs.append(_inv(field, name, "must be no more than 253 characters"))
    if not DNS1123_SUB.match(name):
        errs.append(_inv(field, name, MSG_SUB))


def check_qualified_name(key, field, errs):
    parts = key.split("/")
    if len(parts) == 2:
        prefix, name = parts
        if not prefix or len(prefix) > 253 or not DNS1123_SUB.match(prefix):
            errs.append(_inv(field, key, "prefix part " + MSG_SUB))
    elif len(parts) == 1:
        name = parts[0]
    else:
        errs.append(_inv(field, key, "a qualified name must consist of alphanumeric characters, '-', '_' or '.', "
                                     "and must start and end with an alphanumeric character (e.g. 'MyName',  or "
                                     "'my.name',  or '123-abc', regex used for validation is "
                                     "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain "
                                     "prefix and '/' (e.g. 'example.com/MyName')"))
        return
    if not name:
        errs.append(_inv(field, key, "name part must be non-empty"))
    elif len(name) > 63:
        errs.append(_inv(field, key, "name part must be no more than 63 characters"))
    elif not QNAME.match(name):
        errs.append(_inv(field, key, MSG_QNAME))


def check_labels(labels, field, errs):
    if labels is None:
        return
    if not isinstance(labels, dict):
        return
    for k, v in labels.items():
        check_qualified_name(k, field, errs)
        if not isinstance(v, str):
            continue
        if len(v) > 63:
            errs.append(_inv(field, v, "must be no more than 63 characters"))
        if not LVALUE.match(v):
            errs.append(_inv(field, v, MSG_LVALUE))


def check_annotations(ann, field, errs):
    if not isinstance(ann, dict):
        return
    for k in ann:
        check_qualified_name(k.lower(), field, errs)
    if sum(len(k) + len(v or "") for k, v in ann.items()) > 262144:
        errs.append(FieldError("FieldValueTooLong", field, None, "must have at most 262144 bytes"))


def selector_matches(sel, labels):
    if not sel:
        return False
    labels = labels or {}
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def _go_map(d):
    return "map[string]string{" + ", ".join('"%s":"%s"' % (k, d[k]) for k in sorted(d)) + "}"


def _pod_spec(spec, path, errs, template=False):
    if not isinstance(spec, dict):
        errs.append(_req(path))
        return
    cs = spec.get("containers")
    if not cs:
        errs.append(_req(path + ".containers"))
    for i, c in enumerate(cs or []):
        p = "%s.containers[%d]" % (path, i)
        if not isinstance(c, dict):
            continue
        if not c.get("name"):
            errs.append(_req(p + ".name"))
        elif not DNS1123_LABEL.match(c["name"]):
            errs.append(_inv(p + ".name", c["name"], MSG_LABEL))
        if not c.get("image") and template is not None:
            errs.append(_req(p + ".image"))
    names = set()
    for i, v in enumerate(spec.get("volumes") or []):
        n = (v or {}).get("name")
        if not n:
            errs.append(_req("%s.volumes[%d].name" % (path, i)))
        elif n in names:
            errs.append(FieldError("FieldValueDuplicate", "%s.volumes[%d].name" % (path, i), n))
        names.add(n)
    rp = spec.get("restartPolicy")
    if rp is not None and rp not in ("Always", "OnFailure", "Never"):
        errs.append(FieldError("FieldValueNotSupported", path + ".restartPolicy", rp,
                               'supported values: "Always", "OnFailure", "Never"'))


def _selector_template(obj, errs, required=True):
    spec = obj.get("spec") or {}
    sel = spec.get("selector")
    tl = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if sel is None:
        if required:
            errs.append(_req("spec.selector"))
        return
    if not (sel.get("matchLabels") or sel.get("matchExpressions")):
        errs.append(_inv("spec.selector", sel, "empty selector is invalid for deployment")
                    if obj.get("kind") == "Deployment" else _inv("spec.selector", sel, "empty selector is invalid"))
        return
    if not selector_matches(sel, tl):
        errs.append(_inv("spec.template.metadata.labels", tl, "`selector` does not match template `labels`"))


def validate(store, rt, obj, old, profile="1.30"):
    """Returns a list of FieldError (empty when valid)."""
    errs = []
    m = obj.get("metadata") or {}
    kind = rt.kind
    name = m.get("name") or ""
    if not name:
        errs.append(_req("metadata.name", "name or generateName is required"))
    elif rt.crd is None:
        check_name(kind, name, errs)
    else:
        if len(name) > 253 or not DNS1123_SUB.match(name):
            errs.append(_inv("metadata.name", name, MSG_SUB))
    check_labels(m.get("labels"), "metadata.labels", errs)
    check_annotations(m.get("annotations"), "metadata.annotations", errs)
    for i, ref in enumerate(m.get("ownerReferences") or []):
        for f in ("apiVersion", "kind", "name", "uid"):
            if not (ref or {}).get(f):
                errs.append(_inv("metadata.ownerReferences.%s" % f if f != "uid" else
                                 "metadata.ownerReferences.uid", "", "%s must not be empty" % f)
                            if f != "apiVersion" else _inv("metadata.ownerReferences.apiVersion", "",
                                                           "version must not be empty"))
    fn = _KIND_RULES.get(kind) if rt.crd is None else None
    if fn:
        fn(obj, old, errs, profile)
    if rt.crd is not None:
        from . import crdschema
        errs += crdschema.validate(rt, obj, rt.storage_version)
    return errs


MAX_SECRET_SIZE = 1048576


def _size(d, b64=False):
    import base64
    total = 0
    for k, v in (d or {}).items():
        if isinstance(v, str):
            try:
                total += len(base64.b64decode(v)) if b64 else len(v.encode())
            except Exception:
                total += len(v)
    return total


def _configmap(obj, old, errs, profile):
    if _size(obj.get("data")) + _size(obj.get("binaryData"), True) > MAX_SECRET_SIZE:
        errs.append(FieldError("FieldValueTooLong", "", None, "must have at most %d bytes" % MAX_SECRET_SIZE))
    for f in ("data", "binaryData"):
        for k in (obj.get(f) or {}):
            if not CFGKEY.match(k) or k in (".", ".."):
                errs.append(_inv("%s[%s]" % (f, k), k, MSG_CFGKEY))
    if old is not None and old.get("immutable"):
        if obj.get("data") != old.get("data"):
            errs.append(_forb("data", "field is immutable when `immutable` is set"))
        if obj.get("binaryData") != old.get("binaryData"):
            errs.append(_forb("binaryData", "field is immutable when `immutable` is set"))
        if not obj.get("immutable"):
            errs.append(_forb("immutable", "field is immutable when `immutable` is set"))


def _secret(obj, old, errs, profile):
    if _size(obj.get("data"), True) > MAX_SECRET_SIZE:
        errs.append(FieldError("FieldValueTooLong", "data", None, "must have at most %d bytes" % MAX_SECRET_SIZE))
    for k in (obj.get("data") or {}):
        if not CFGKEY.match(k):
            errs.append(_inv("data[%s]" % k, k, MSG_CFGKEY))
    if old is not None:
        if obj.get("type") != old.get("type"):
            errs.append(_inv("type", obj.get("type"), "field is immutable"))
        if old.get("immutable"):
            if obj.get("data") != old.get("data"):
                errs.append(_forb("data", "field is immutable when `immutable` is set"))
            if not obj.get("immutable"):
                errs.append(_forb("immutable", "field is immutable when `immutable` is set"))
    if obj.get("type") == "kubernetes.io/service-account-token":
        if not ((obj.get("metadata") or {}).get("annotations") or {}).get("kubernetes.io/service-account.name"):
            errs.append(_req("metadata.annotations[kubernetes.io/service-account.name]"))


def _pod(obj, old, errs, profile):
    _pod_spec(obj.get("spec"), "spec", errs)
    if old is not None:
        a = dict(obj.get("spec") or {})
        b = dict(old.get("spec") or {})
        for s in (a, b):
            for f in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds", "schedulingGates"):
                s.pop(f, None)
            s["containers"] = [{k: v for k, v in c.items() if k != "image"} for c in s.get("containers") or []]
            s["initContainers"] = [{k: v for k, v in c.items() if k != "image"} for c in s.get("initContainers") or []]
        if a != b:
            errs.append(_forb("spec", "pod updates may not change fields other than `spec.containers[*].image`,"
                                      "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                                      "`spec.tolerations` (only additions to existing tolerations),"
                                      "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                                      "previously negative)"))


def _workload(obj, old, errs, profile, immutable_selector=True):
    spec = obj.get("spec") or {}
    _selector_template(obj, errs)
    _pod_spec((spec.get("template") or {}).get("spec"), "spec.template.spec", errs, True)
    r = spec.get("replicas")
    if isinstance(r, int) and r < 0:
        errs.append(_inv("spec.replicas", r, "must be greater than or equal to 0"))
    if old is not None and immutable_selector:
        if (spec.get("selector") != (old.get("spec") or {}).get("selector")):
            errs.append(_inv("spec.selector", spec.get("selector"), "field is immutable"))


def _deployment(obj, old, errs, profile):
    _workload(obj, old, errs, profile)


def _statefulset(obj, old, errs, profile):
    _workload(obj, old, errs, profile, immutable_selector=False)
    if old is not None:
        a = {k: v for k, v in (obj.get("spec") or {}).items() if k not in (
            "replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
            "minReadySeconds")}
        b = {k: v for k, v in (old.get("spec") or {}).items() if k not in (
            "replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
            "minReadySeconds")}
        if a != b:
            errs.append(_forb("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                                      "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                                      "'minReadySeconds' are forbidden"))


def _daemonset(obj, old, errs, profile):
    _workload(obj, old, errs, profile)


def _job(obj, old, errs, profile):
    spec = obj.get("spec") or {}
    m = obj.get("metadata") or {}
    tspec = (spec.get("template") or {}).get("spec") or {}
    _pod_spec(tspec, "spec.template.spec", errs, True)
    rp = tspec.get("restartPolicy")
    if rp not in ("OnFailure", "Never"):
        errs.append(FieldError("FieldValueRequired" if rp is None else "FieldValueNotSupported",
                               "spec.template.spec.restartPolicy", rp,
                               'supported values: "OnFailure", "Never"') if rp is not None else
                    FieldError("FieldValueNotSupported", "spec.template.spec.restartPolicy", "",
                               'supported values: "OnFailure", "Never"'))
    tl = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    sel = spec.get("selector")
    if not spec.get("manualSelector"):
        uid = m.get("uid")
        keys = ["controller-uid"] if profile == "1.21" else ["batch.kubernetes.io/controller-uid", "controller-uid"]
        for k in keys:
            if k in tl and tl[k] != uid:
                errs.append(_inv("spec.template.metadata.labels[%s]" % k, tl[k], "must be '%s'" % uid))
        sk = keys[0]
        if sel is not None and (sel.get("matchLabels") or {}).get(sk) != uid:
            errs.append(_inv("spec.selector", sel, "`selector` not auto-generated"))
    if sel is None:
        errs.append(_req("spec.selector"))
    elif not selector_matches(sel, tl):
        errs.append(_inv("spec.template.metadata.labels", tl, "`selector` does not match template `labels`"))
    if old is not None:
        os_ = old.get("spec") or {}
        if spec.get("selector") != os_.get("selector"):
            errs.append(_inv("spec.selector", spec.get("selector"), "field is immutable"))
        if spec.get("template") != os_.get("template") and not _template_mutable(spec, os_):
            errs.append(_inv("spec.template", spec.get("template"), "field is immutable"))
        if spec.get("completions") != os_.get("completions"):
            errs.append(_inv("spec.completions", spec.get("completions"), "field is immutable"))


def _template_mutable(spec, old_spec):
    """Kubernetes >= 1.27 lets suspended Jobs change scheduling directives of their template; not simulated."""
    return False


def _service(obj, old, errs, profile):
    spec = obj.get("spec") or {}
    t = spec.get("type", "ClusterIP")
    if t not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        errs.append(FieldError("FieldValueNotSupported", "spec.type", t,
                               'supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'))
    if t != "ExternalName" and not spec.get("ports") and spec.get("clusterIP") != "None":
        errs.append(_req("spec.ports"))
    if t == "ExternalName" and not spec.get("externalName"):
        errs.append(_req("spec.externalName"))
    seen = set()
    for i, p in enumerate(spec.get("ports") or []):
        port = (p or {}).get("port")
        if not isinstance(port, int) or not 1 <= port <= 65535:
            errs.append(_inv("spec.ports[%d].port" % i, port, "must be between 1 and 65535, inclusive"))
        if len(spec.get("ports") or []) > 1 and not p.get("name"):
            errs.append(_req("spec.ports[%d].name" % i))
        k = (port, p.get("protocol", "TCP"))
        if k in seen:
            errs.append(FieldError("FieldValueDuplicate", "spec.ports[%d]" % i, {"port": port, "protocol": k[1]}))
        seen.add(k)
    if old is not None:
        oc = (old.get("spec") or {}).get("clusterIP")
        nc = spec.get("clusterIP")
        if oc and oc != "None" and nc != oc and t != "ExternalName":
            errs.append(_inv("spec.clusterIPs[0]", nc or "", "may not change once set"))


def _pvc(obj, old, errs, profile):
    spec = obj.get("spec") or {}
    if not spec.get("accessModes"):
        errs.append(_req("spec.accessModes", "at least 1 access mode is required"))
    if not ((spec.get("resources") or {}).get("requests") or {}).get("storage") and not spec.get("volumeName"):
        errs.append(_req("spec.resources[storage]"))
    if old is not None:
        a = dict(spec)
        b = dict(old.get("spec") or {})
        bound = (old.get("status") or {}).get("phase") == "Bound"
        for s in (a, b):
            if bound:
                s.pop("resources", None)
            s.pop("volumeAttributesClassName", None)
        if not b.get("volumeName"):
            a.pop("volumeName", None)
            b.pop("volumeName", None)
        if a != b:
            errs.append(_forb("spec", "spec is immutable after creation except resources.requests and "
                                      "volumeAttributesClassName for bound claims"))


def _namespace(obj, old, errs, profile):
    pass


def _rbac_role(obj, old, errs, profile):
    for i, r in enumerate(obj.get("rules") or []):
        if not (r or {}).get("verbs"):
            errs.append(_req("rules[%d].verbs" % i, "verbs must contain at least one value"))


def _rbac_binding(obj, old, errs, profile):
    rr = obj.get("roleRef") or {}
    if not rr.get("name"):
        errs.append(_req("roleRef.name"))
    if rr.get("kind") not in ("Role", "ClusterRole"):
        errs.append(FieldError("FieldValueNotSupported", "roleRef.kind", rr.get("kind", ""),
                               'supported values: "Role", "ClusterRole"'))
    if obj.get("kind") == "ClusterRoleBinding" and rr.get("kind") == "Role":
        errs.append(FieldError("FieldValueNotSupported", "roleRef.kind", "Role", 'supported values: "ClusterRole"'))
    if old is not None and rr != old.get("roleRef"):
        errs.append(_inv("roleRef", rr, "cannot change roleRef"))


def _crd(obj, old, errs, profile):
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    if not group:
        errs.append(_req("spec.group"))
    if not names.get("plural"):
        errs.append(_req("spec.names.plural"))
    if not names.get("kind"):
        errs.append(_req("spec.names.kind"))
    want = "%s.%s" % (names.get("plural", ""), group)
    n = (obj.get("metadata") or {}).get("name")
    if n and n != want:
        errs.append(_inv("metadata.name", n, "must be spec.names.plural+\".\"+spec.group"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errs.append(FieldError("FieldValueNotSupported", "spec.scope", spec.get("scope", ""),
                               'supported values: "Cluster", "Namespaced"'))
    vs = spec.get("versions") or []
    if not vs:
        errs.append(_inv("spec.versions", vs, "must have exactly one version marked as storage version"))
    elif sum(1 for v in vs if v.get("storage")) != 1:
        errs.append(_inv("spec.versions", vs, "must have exactly one version marked as storage version"))
    if old is not None:
        os_ = old.get("spec") or {}
        if os_.get("scope") != spec.get("scope") and os_.get("scope"):
            errs.append(_inv("spec.scope", spec.get("scope"), "field is immutable"))


def _apiservice(obj, old, errs, profile):
    spec = obj.get("spec") or {}
    want = "%s.%s" % (spec.get("version", ""), spec.get("group", ""))
    name = (obj.get("metadata") or {}).get("name", "")
    if name != want:
        errs.append(_inv("metadata.name", name, 'must be "%s"' % want))


_KIND_RULES = {
    "APIService": _apiservice,
    "ConfigMap": _configmap, "Secret": _secret, "Pod": _pod, "Deployment": _deployment, "ReplicaSet": _deployment,
    "StatefulSet": _statefulset, "DaemonSet": _daemonset, "Job": _job, "Service": _service,
    "PersistentVolumeClaim": _pvc, "Namespace": _namespace, "Role": _rbac_role, "ClusterRole": _rbac_role,
    "RoleBinding": _rbac_binding, "ClusterRoleBinding": _rbac_binding, "CustomResourceDefinition": _crd,
}
