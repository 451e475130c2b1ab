"""Server-side printing (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`): the columns kube-apiserver's
printers produce for the common kinds, `Name`/`Age` (plus additionalPrinterColumns) for the rest."""
import time

from .util import parse_ts

TABLE_CT = "application/json;as=Table;v=%s;g=meta.k8s.io"


def wants_table(accept):
    """'v1', 'v1beta1' or None: the first Table entry of the Accept header, if it comes before plain JSON."""
    for part in (accept or "").split(","):
        params = [p.strip() for p in part.split(";")]
        kv = dict(p.split("=", 1) for p in params[1:] if "=" in p)
        if kv.get("as") == "Table" and kv.get("g") == "meta.k8s.io" and kv.get("v") in ("v1", "v1beta1"):
            return kv["v"]
        if params[0] in ("application/json", "*/*") and "as" not in kv:
            return None
    return None


def human_duration(seconds):
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return "%ds" % s
    m = s // 60
    if m < 10:
        return "%dm" % m if s % 60 == 0 else "%dm%ds" % (m, s % 60)
    if m < 180:
        return "%dm" % m
    h = s // 3600
    if h < 8:
        return "%dh" % h if m % 60 == 0 else "%dh%dm" % (h, m % 60)
    if h < 48:
        return "%dh" % h
    if h < 24 * 8:
        return "%dd" % (h // 24) if h % 24 == 0 else "%dd%dh" % (h // 24, h % 24)
    if h < 24 * 365 * 2:
        return "%dd" % (h // 24)
    if h < 24 * 365 * 8:
        dy = (h // 24) % 365
        return "%dy" % (h // 24 // 365) if dy == 0 else "%dy%dd" % (h // 24 // 365, dy)
    return "%dy" % (h // 24 // 365)


def age(ts):
    if not ts:
        return "<unknown>"
    return human_duration(time.time() - parse_ts(ts))


def _col(name, typ="string", fmt="", desc="", prio=0):
    return {"name": name, "type": typ, "format": fmt, "description": desc, "priority": prio}


NAME = _col("Name", fmt="name", desc="Name must be unique within a namespace. Is required when creating resources, "
                                     "although some resources may allow a client to request the generation of an "
                                     "appropriate name automatically. Name is primarily intended for creation "
                                     "idempotence and configuration definition. Cannot be updated. More info: "
                                     "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
AGE = _col("Age", desc="CreationTimestamp is a timestamp representing the server time when this object was created. "
                       "It is not guaranteed to be set in happens-before order across separate operations. Clients "
                       "may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by "
                       "the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/"
                       "devel/sig-architecture/api-conventions.md#metadata")


def _m(o):
    return o.get("metadata") or {}


def _spec(o):
    return o.get("spec") or {}


def _st(o):
    return o.get("status") or {}


def _containers(o, tmpl=True):
    spec = (_spec(o).get("template") or {}).get("spec") or {} if tmpl else _spec(o)
    cs = spec.get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _selector(sel):
    if not sel:
        return "<none>"
    parts = ["%s=%s" % (k, v) for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        if op == "In":
            parts.append("%s in (%s)" % (e["key"], ",".join(sorted(e.get("values") or []))))
        elif op == "NotIn":
            parts.append("%s notin (%s)" % (e["key"], ",".join(sorted(e.get("values") or []))))
        elif op == "Exists":
            parts.append(e["key"])
        elif op == "DoesNotExist":
            parts.append("!" + e["key"])
    return ",".join(parts) or "<none>"


def _pod_row(o):
    st = _st(o)
    cs = st.get("containerStatuses") or []
    total = len(_spec(o).get("containers") or [])
    ready = sum(1 for c in cs if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in cs)
    reason = st.get("reason") or st.get("phase") or "Pending"
    # Init containers first, as the API server's pod printer: the first one not done says why the pod waits.
    initializing = False
    inits = st.get("initContainerStatuses") or []
    n_inits = len(_spec(o).get("initContainers") or [])
    for i, c in enumerate(inits):
        restarts += int(c.get("restartCount") or 0)
    for i, c in enumerate(inits):
        t = (c.get("state") or {}).get("terminated")
        w = (c.get("state") or {}).get("waiting")
        if t and int(t.get("exitCode") or 0) == 0:
            continue
        if t:
            reason = "Init:" + t["reason"] if t.get("reason") else "Init:ExitCode:%d" % int(t.get("exitCode") or 0)
        elif w and w.get("reason") and w["reason"] != "PodInitializing":
            reason = "Init:" + w["reason"]
        else:
            reason = "Init:%d/%d" % (i, n_inits)
        initializing = True
        break
    for c in ([] if initializing else cs):
        w = (c.get("state") or {}).get("waiting")
        if w and w.get("reason"):
            reason = w["reason"]
        t = (c.get("state") or {}).get("terminated")
        if t and t.get("reason") and reason in ("Running", "Pending"):
            reason = t["reason"]
    if _m(o).get("deletionTimestamp"):
        reason = "Terminating"
    return ["%d/%d" % (ready, total), reason, restarts, age(_m(o).get("creationTimestamp")),
            st.get("podIP") or "<none>", _spec(o).get("nodeName") or "<none>",
            st.get("nominatedNodeName") or "<none>", "<none>"]


def _ports(o):
    out = []
    for p in _spec(o).get("ports") or []:
        s = "%s/%s" % (p.get("port"), p.get("protocol", "TCP"))
        if p.get("nodePort"):
            s = "%s:%s/%s" % (p.get("port"), p.get("nodePort"), p.get("protocol", "TCP"))
        out.append(s)
    return ",".join(out) or "<none>"


def _svc_external(o):
    spec = _spec(o)
    t = spec.get("type", "ClusterIP")
    if t == "ExternalName":
        return spec.get("externalName") or "<none>"
    ips = [i.get("ip") or i.get("hostname") for i in (_st(o).get("loadBalancer") or {}).get("ingress") or []]
    ips += spec.get("externalIPs") or []
    if ips:
        return ",".join(ips)
    return "<pending>" if t == "LoadBalancer" else "<none>"


def _node_status(o):
    conds = {c.get("type"): c.get("status") for c in _st(o).get("conditions") or []}
    s = "Ready" if conds.get("Ready") == "True" else "NotReady" if "Ready" in conds else "Unknown"
    if _spec(o).get("unschedulable"):
        s += ",SchedulingDisabled"
    return s


def _node_roles(o):
    roles = sorted(k.split("/", 1)[1] for k in (_m(o).get("labels") or {})
                   if k.startswith("node-role.kubernetes.io/"))
    return ",".join(roles) or "<none>"


def _job_row(o):
    st, spec = _st(o), _spec(o)
    comp = "%d/%s" % (st.get("succeeded") or 0, spec.get("completions", 1) if spec.get("completions") is not None
                      else "1")
    conds = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
    status = "Complete" if conds.get("Complete") == "True" else "Failed" if conds.get("Failed") == "True" else \
        "Suspended" if conds.get("Suspended") == "True" else "Running"
    dur = ""
    if st.get("startTime"):
        end = parse_ts(st["completionTime"]) if st.get("completionTime") else time.time()
        dur = human_duration(end - parse_ts(st["startTime"]))
    return [status, comp, dur, age(_m(o).get("creationTimestamp"))]


# kind -> (column definitions after Name, row function returning the cells after the name)
PRINTERS = {
    "Pod": ([_col("Ready", desc="The aggregate readiness state of this pod for accepting traffic."),
             _col("Status", desc="The aggregate status of the containers in this pod."),
             _col("Restarts", desc="The number of times the containers in this pod have been restarted and when "
                                   "the last container in this pod has restarted."), AGE,
             _col("IP", desc="IP address allocated to the pod. Routable at least within the cluster. Empty if not "
                             "yet allocated.", prio=1),
             _col("Node", desc="NodeName indicates in which node this pod is scheduled.", prio=1),
             _col("Nominated Node", prio=1), _col("Readiness Gates", prio=1)], _pod_row),
    "Deployment": ([_col("Ready"), _col("Up-to-date", "integer"), _col("Available", "integer"), AGE,
                    _col("Containers", prio=1), _col("Images", prio=1), _col("Selector", prio=1)],
                   lambda o: ["%d/%d" % (_st(o).get("readyReplicas") or 0, _spec(o).get("replicas", 1)),
                              _st(o).get("updatedReplicas") or 0, _st(o).get("availableReplicas") or 0,
                              age(_m(o).get("creationTimestamp")), *_containers(o),
                              _selector(_spec(o).get("selector"))]),
    "ReplicaSet": ([_col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"), AGE,
                    _col("Containers", prio=1), _col("Images", prio=1), _col("Selector", prio=1)],
                   lambda o: [_spec(o).get("replicas", 1), _st(o).get("replicas") or 0,
                              _st(o).get("readyReplicas") or 0, age(_m(o).get("creationTimestamp")),
                              *_containers(o), _selector(_spec(o).get("selector"))]),
    "StatefulSet": ([_col("Ready"), AGE, _col("Containers", prio=1), _col("Images", prio=1)],
                    lambda o: ["%d/%d" % (_st(o).get("readyReplicas") or 0, _spec(o).get("replicas", 1)),
                               age(_m(o).get("creationTimestamp")), *_containers(o)]),
    "DaemonSet": ([_col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"),
                   _col("Up-to-date", "integer"), _col("Available", "integer"), _col("Node Selector"), AGE,
                   _col("Containers", prio=1), _col("Images", prio=1), _col("Selector", prio=1)],
                  lambda o: [_st(o).get("desiredNumberScheduled") or 0, _st(o).get("currentNumberScheduled") or 0,
                             _st(o).get("numberReady") or 0, _st(o).get("updatedNumberScheduled") or 0,
                             _st(o).get("numberAvailable") or 0,
                             ",".join("%s=%s" % kv for kv in sorted((((_spec(o).get("template") or {}).get(
                                 "spec") or {}).get("nodeSelector") or {}).items())) or "<none>",
                             age(_m(o).get("creationTimestamp")), *_containers(o),
                             _selector(_spec(o).get("selector"))]),
    "Service": ([_col("Type"), _col("Cluster-IP"), _col("External-IP"), _col("Port(s)"), AGE,
                 _col("Selector", prio=1)],
                lambda o: [_spec(o).get("type", "ClusterIP"), _spec(o).get("clusterIP") or "<none>",
                           _svc_external(o), _ports(o), age(_m(o).get("creationTimestamp")),
                           ",".join("%s=%s" % kv for kv in sorted((_spec(o).get("selector") or {}).items()))
                           or "<none>"]),
    "ConfigMap": ([_col("Data", "integer"), AGE],
                  lambda o: [len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                             age(_m(o).get("creationTimestamp"))]),
    "Secret": ([_col("Type"), _col("Data", "integer"), AGE],
               lambda o: [o.get("type", "Opaque"), len(o.get("data") or {}), age(_m(o).get("creationTimestamp"))]),
    "ServiceAccount": ([_col("Secrets", "integer"), AGE],
                       lambda o: [len(o.get("secrets") or []), age(_m(o).get("creationTimestamp"))]),
    "Namespace": ([_col("Status"), AGE],
                  lambda o: [_st(o).get("phase", "Active"), age(_m(o).get("creationTimestamp"))]),
    "Node": ([_col("Status"), _col("Roles"), AGE, _col("Version"), _col("Internal-IP", prio=1),
              _col("External-IP", prio=1), _col("OS-Image", prio=1), _col("Kernel-Version", prio=1),
              _col("Container-Runtime", prio=1)],
             lambda o: [_node_status(o), _node_roles(o), age(_m(o).get("creationTimestamp")),
                        (_st(o).get("nodeInfo") or {}).get("kubeletVersion", ""),
                        next((a["address"] for a in _st(o).get("addresses") or [] if a.get("type") == "InternalIP"),
                             "<none>"),
                        next((a["address"] for a in _st(o).get("addresses") or [] if a.get("type") == "ExternalIP"),
                             "<none>"),
                        (_st(o).get("nodeInfo") or {}).get("osImage", ""),
                        (_st(o).get("nodeInfo") or {}).get("kernelVersion", ""),
                        (_st(o).get("nodeInfo") or {}).get("containerRuntimeVersion", "")]),
    "PersistentVolumeClaim": ([_col("Status"), _col("Volume"), _col("Capacity"), _col("Access Modes"),
                               _col("StorageClass"), AGE, _col("VolumeMode", prio=1)],
                              lambda o: [_st(o).get("phase", "Pending"), _spec(o).get("volumeName", ""),
                                         (_st(o).get("capacity") or {}).get("storage", ""),
                                         _modes(_st(o).get("accessModes")),
                                         _spec(o).get("storageClassName") or "<unset>",
                                         age(_m(o).get("creationTimestamp")), _spec(o).get("volumeMode", "")]),
    "PersistentVolume": ([_col("Capacity"), _col("Access Modes"), _col("Reclaim Policy"), _col("Status"),
                          _col("Claim"), _col("StorageClass"), _col("Reason"), AGE, _col("VolumeMode", prio=1)],
                         lambda o: [(_spec(o).get("capacity") or {}).get("storage", ""),
                                    _modes(_spec(o).get("accessModes")),
                                    _spec(o).get("persistentVolumeReclaimPolicy", ""), _st(o).get("phase", ""),
                                    ("%s/%s" % ((_spec(o).get("claimRef") or {}).get("namespace"),
                                                (_spec(o).get("claimRef") or {}).get("name"))
                                     if _spec(o).get("claimRef") else ""),
                                    _spec(o).get("storageClassName", ""), _st(o).get("reason", ""),
                                    age(_m(o).get("creationTimestamp")), _spec(o).get("volumeMode", "")]),
    "Job": ([_col("Status"), _col("Completions"), _col("Duration"), AGE], _job_row),
    "CronJob": ([_col("Schedule"), _col("Suspend", "boolean"), _col("Active", "integer"), _col("Last Schedule"),
                 AGE],
                lambda o: [_spec(o).get("schedule", ""), bool(_spec(o).get("suspend")),
                           len(_st(o).get("active") or []),
                           age(_st(o)["lastScheduleTime"]) if _st(o).get("lastScheduleTime") else "<none>",
                           age(_m(o).get("creationTimestamp"))]),
    "StorageClass": ([_col("Provisioner"), _col("ReclaimPolicy"), _col("VolumeBindingMode"),
                      _col("AllowVolumeExpansion", "boolean"), AGE],
                     lambda o: [o.get("provisioner", ""), o.get("reclaimPolicy", "Delete"),
                                o.get("volumeBindingMode", "Immediate"), bool(o.get("allowVolumeExpansion")),
                                age(_m(o).get("creationTimestamp"))]),
    "Ingress": ([_col("Class"), _col("Hosts"), _col("Address"), _col("Ports"), AGE],
                lambda o: [_spec(o).get("ingressClassName") or "<none>",
                           ",".join(r.get("host", "*") for r in _spec(o).get("rules") or []) or "*",
                           ",".join(i.get("ip") or i.get("hostname", "") for i in
                                    (_st(o).get("loadBalancer") or {}).get("ingress") or []),
                           "80, 443" if _spec(o).get("tls") else "80", age(_m(o).get("creationTimestamp"))]),
    "APIService": ([_col("Service"), _col("Available"), AGE],
                   lambda o: [("%s/%s" % (_spec(o)["service"].get("namespace"), _spec(o)["service"].get("name"))
                               if _spec(o).get("service") else "Local"),
                              next((("True" if c.get("status") == "True" else "False (%s)" % c.get("reason"))
                                    for c in _st(o).get("conditions") or [] if c.get("type") == "Available"),
                                   "Unknown"), age(_m(o).get("creationTimestamp"))]),
    "Lease": ([_col("Holder"), AGE], lambda o: [_spec(o).get("holderIdentity", ""),
                                                age(_m(o).get("creationTimestamp"))]),
    "FlowSchema": ([_col("PriorityLevel"), _col("MatchingPrecedence", "integer"), _col("DistinguisherMethod"), AGE,
                    _col("MissingPL")],
                   lambda o: [(_spec(o).get("priorityLevelConfiguration") or {}).get("name", ""),
                              _spec(o).get("matchingPrecedence", 1000),
                              (_spec(o).get("distinguisherMethod") or {}).get("type", "<none>"),
                              age(_m(o).get("creationTimestamp")), "False"]),
    "PriorityLevelConfiguration": ([_col("Type"), _col("NominalConcurrencyShares"), _col("Queues"),
                                    _col("HandSize"), _col("QueueLengthLimit"), AGE],
                                   lambda o: [_spec(o).get("type", ""),
                                              (_spec(o).get("limited") or {}).get("nominalConcurrencyShares",
                                                                                  "<none>"),
                                              "<none>", "<none>", "<none>", age(_m(o).get("creationTimestamp"))]),
    "ComponentStatus": ([_col("Status"), _col("Message"), _col("Error")],
                        lambda o: ["Healthy", (o.get("conditions") or [{}])[0].get("message", ""), ""]),
    "CustomResourceDefinition": ([_col("Created At", "date")],
                                 lambda o: [_m(o).get("creationTimestamp")]),
}


def _modes(ms):
    short = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
    return ",".join(short.get(m, m) for m in ms or [])


def _jsonpath(o, path):
    cur = o
    for p in [x for x in path.lstrip(".").split(".") if x]:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur


def columns_and_row(rt, version):
    if rt.crd is not None:
        cols = []
        for v in (rt.crd.get("spec") or {}).get("versions") or []:
            if v.get("name") == version:
                cols = v.get("additionalPrinterColumns") or []
        defs = [_col(c["name"], c.get("type", "string"), c.get("format", ""), c.get("description", ""),
                     int(c.get("priority", 0))) for c in cols]
        if not cols:
            return [AGE], lambda o: [age(_m(o).get("creationTimestamp"))]

        def row(o):
            out = []
            for c in cols:
                v = _jsonpath(o, c.get("jsonPath", ""))
                if c.get("type") == "date" and v:
                    v = age(v)
                out.append(v)
            return out
        return defs, row
    p = PRINTERS.get(rt.kind)
    if p is None:
        return [AGE], lambda o: [age(_m(o).get("creationTimestamp"))]
    return p


def table(rt, version, objs, list_meta, table_version, include="Metadata"):
    defs, row = columns_and_row(rt, version)
    rows = []
    for o in objs:
        r = {"cells": [_m(o).get("name", "")] + row(o)}
        if include == "Object":
            r["object"] = o
        elif include != "None":
            r["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/" + table_version,
                           "metadata": _m(o)}
        rows.append(r)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/" + table_version, "metadata": list_meta,
            "columnDefinitions": [NAME] + defs, "rows": rows}
