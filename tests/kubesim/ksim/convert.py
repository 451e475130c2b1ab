"""Version conversion between the versions a profile serves for one stored object.

Most kinds have the same shape in every served version: only apiVersion changes.  Ingress (networking.k8s.io/v1
vs v1beta1 and extensions/v1beta1: backend shapes, pathType) and HorizontalPodAutoscaler (autoscaling/v1, whose
metrics other than CPU travel in `autoscaling.alpha.kubernetes.io/*` annotations, vs v2beta1/v2beta2/v2) convert
fields.  `to_external` turns a stored object into the requested version; `to_internal` does the reverse."""
import json

from .registry import gv
from .util import dcopy


def to_external(rt, obj, group, version):
    av = gv(group, version)
    if obj.get("apiVersion") == av:
        return obj
    o = dcopy(obj)
    src = o.get("apiVersion", "")
    o["apiVersion"] = av
    if rt.key == ("", "events") and group == "events.k8s.io":
        _event_to_new(o)
    fn = _CONV.get(rt.kind)
    if fn:
        fn(o, src.rsplit("/", 1)[-1], version)
    return _reorder(o)


def to_internal(rt, obj, group, version, copy=True):
    """copy=False: the caller gives obj away (a freshly decoded body) and may get it back, converted in place."""
    sv = rt.storage_version
    sav = rt.storage_api_version()
    o = dcopy(obj) if copy else obj
    o["apiVersion"] = sav
    if rt.key == ("", "events") and group == "events.k8s.io":
        _event_to_core(o)
        return o
    fn = _CONV.get(rt.kind)
    if fn and version != sv:
        fn(o, version, sv)
    return o


def _reorder(o):
    out = {}
    for k in ("kind", "apiVersion", "metadata"):
        if k in o:
            out[k] = o[k]
    for k, v in o.items():
        if k not in out:
            out[k] = v
    return out


# ---- Event: core/v1 <-> events.k8s.io (same objects) ---------------------------------------------------------
_EVENT_MAP = [("involvedObject", "regarding"), ("message", "note"), ("source", "deprecatedSource"),
              ("firstTimestamp", "deprecatedFirstTimestamp"), ("lastTimestamp", "deprecatedLastTimestamp"),
              ("count", "deprecatedCount"), ("reportingComponent", "reportingController")]


def _event_to_new(o):
    for a, b in _EVENT_MAP:
        if a in o:
            o[b] = o.pop(a)
    src = o.get("deprecatedSource")
    if src == {}:
        del o["deprecatedSource"]
    if o.get("eventTime") is None:
        o["eventTime"] = None


def _event_to_core(o):
    for a, b in _EVENT_MAP:
        if b in o:
            o[a] = o.pop(b)
    o.setdefault("involvedObject", {})
    o.setdefault("source", {})
    o.setdefault("firstTimestamp", None)
    o.setdefault("lastTimestamp", None)


# ---- Ingress -------------------------------------------------------------------------------------------------
def _backend_to_v1beta1(b):
    if not isinstance(b, dict):
        return b
    if "service" in b:
        s = b.pop("service") or {}
        b["serviceName"] = s.get("name", "")
        p = s.get("port") or {}
        b["servicePort"] = p["number"] if "number" in p else p.get("name", "")
    return b


def _backend_to_v1(b):
    if not isinstance(b, dict):
        return b
    if "serviceName" in b:
        name = b.pop("serviceName")
        port = b.pop("servicePort", None)
        b["service"] = {"name": name, "port": {"number": port} if isinstance(port, int) else {"name": port}}
    return b


def _ingress(o, src, dst):
    spec = o.get("spec")
    if not isinstance(spec, dict):
        return
    f = _backend_to_v1beta1 if dst == "v1beta1" else _backend_to_v1
    if dst == "v1beta1":
        if "defaultBackend" in spec:
            spec["backend"] = f(spec.pop("defaultBackend"))
    else:
        if "backend" in spec:
            spec["defaultBackend"] = f(spec.pop("backend"))
    for r in spec.get("rules") or []:
        for p in ((r or {}).get("http") or {}).get("paths") or []:
            if "backend" in p:
                p["backend"] = f(p["backend"])
            if dst == "v1" and isinstance(p, dict):
                p.setdefault("pathType", "ImplementationSpecific")


# ---- HPA -----------------------------------------------------------------------------------------------------
ANN_METRICS = "autoscaling.alpha.kubernetes.io/metrics"
ANN_CURRENT = "autoscaling.alpha.kubernetes.io/current-metrics"
ANN_CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
ANN_BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"


def _v2_target_to_v2beta1(m):
    """v2/v2beta2 metric spec -> v2beta1 shape."""
    t = m.get("type")
    out = {"type": t}
    if t == "Resource":
        r = m.get("resource") or {}
        tgt = r.get("target") or {}
        rr = {"name": r.get("name")}
        if tgt.get("type") == "Utilization":
            rr["targetAverageUtilization"] = tgt.get("averageUtilization")
        elif "averageValue" in tgt:
            rr["targetAverageValue"] = tgt.get("averageValue")
        out["resource"] = rr
    elif t == "Pods":
        p = m.get("pods") or {}
        out["pods"] = {"metricName": (p.get("metric") or {}).get("name"),
                       "targetAverageValue": (p.get("target") or {}).get("averageValue")}
        if (p.get("metric") or {}).get("selector"):
            out["pods"]["selector"] = p["metric"]["selector"]
    elif t == "Object":
        ob = m.get("object") or {}
        out["object"] = {"target": ob.get("describedObject"), "metricName": (ob.get("metric") or {}).get("name"),
                         "targetValue": (ob.get("target") or {}).get("value")}
        if (ob.get("target") or {}).get("averageValue"):
            out["object"]["averageValue"] = ob["target"]["averageValue"]
    elif t == "External":
        e = m.get("external") or {}
        out["external"] = {"metricName": (e.get("metric") or {}).get("name")}
        if (e.get("metric") or {}).get("selector"):
            out["external"]["metricSelector"] = e["metric"]["selector"]
        tg = e.get("target") or {}
        if "value" in tg:
            out["external"]["targetValue"] = tg["value"]
        if "averageValue" in tg:
            out["external"]["targetAverageValue"] = tg["averageValue"]
    else:
        out = dict(m)
    return out


def _v2beta1_to_v2(m):
    t = m.get("type")
    out = {"type": t}
    if t == "Resource":
        r = m.get("resource") or {}
        tgt = {"type": "Utilization", "averageUtilization": r["targetAverageUtilization"]} \
            if "targetAverageUtilization" in r else {"type": "AverageValue", "averageValue": r.get("targetAverageValue")}
        out["resource"] = {"name": r.get("name"), "target": tgt}
    elif t == "Pods":
        p = m.get("pods") or {}
        metric = {"name": p.get("metricName")}
        if p.get("selector"):
            metric["selector"] = p["selector"]
        out["pods"] = {"metric": metric, "target": {"type": "AverageValue", "averageValue": p.get("targetAverageValue")}}
    elif t == "Object":
        ob = m.get("object") or {}
        tgt = {"type": "Value", "value": ob.get("targetValue")}
        if ob.get("averageValue"):
            tgt = {"type": "AverageValue", "averageValue": ob["averageValue"]}
        out["object"] = {"describedObject": ob.get("target"), "metric": {"name": ob.get("metricName")}, "target": tgt}
    elif t == "External":
        e = m.get("external") or {}
        metric = {"name": e.get("metricName")}
        if e.get("metricSelector"):
            metric["selector"] = e["metricSelector"]
        tgt = {"type": "Value", "value": e["targetValue"]} if "targetValue" in e else \
            {"type": "AverageValue", "averageValue": e.get("targetAverageValue")}
        out["external"] = {"metric": metric, "target": tgt}
    else:
        out = dict(m)
    return out


def _hpa_to_v2(o, src):
    """Normalize any HPA version to v2 shape (in place)."""
    spec = o.setdefault("spec", {})
    if src == "v1":
        ann = (o.get("metadata") or {}).get("annotations") or {}
        metrics = []
        if "targetCPUUtilizationPercentage" in spec:
            metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": spec.pop("targetCPUUtilizationPercentage")}}})
        if ANN_METRICS in ann:
            try:
                metrics += [_v2beta1_to_v2(m) for m in json.loads(ann[ANN_METRICS])]
            except ValueError:
                pass
        if metrics:
            spec["metrics"] = metrics
        if ANN_BEHAVIOR in ann:
            try:
                spec["behavior"] = json.loads(ann[ANN_BEHAVIOR])
            except ValueError:
                pass
        st = o.get("status")
        if isinstance(st, dict):
            cur = []
            if "currentCPUUtilizationPercentage" in st:
                cur.append({"type": "Resource", "resource": {"name": "cpu", "current": {
                    "averageUtilization": st.pop("currentCPUUtilizationPercentage")}}})
            if ANN_CONDITIONS in ann:
                try:
                    st["conditions"] = json.loads(ann[ANN_CONDITIONS])
                except ValueError:
                    pass
            if cur:
                st["currentMetrics"] = cur
        for a in (ANN_METRICS, ANN_CURRENT, ANN_CONDITIONS, ANN_BEHAVIOR):
            ann.pop(a, None)
        if not ann and "annotations" in (o.get("metadata") or {}):
            del o["metadata"]["annotations"]
    elif src == "v2beta1":
        if spec.get("metrics"):
            spec["metrics"] = [_v2beta1_to_v2(m) for m in spec["metrics"]]


def _hpa_from_v2(o, dst):
    spec = o.setdefault("spec", {})
    if dst == "v1":
        metrics = spec.pop("metrics", None) or []
        other = []
        for m in metrics:
            r = m.get("resource") or {}
            if m.get("type") == "Resource" and r.get("name") == "cpu" and \
                    (r.get("target") or {}).get("type") == "Utilization":
                spec["targetCPUUtilizationPercentage"] = r["target"].get("averageUtilization")
            else:
                other.append(_v2_target_to_v2beta1(m))
        ann = o.setdefault("metadata", {}).setdefault("annotations", {})
        if other:
            ann[ANN_METRICS] = json.dumps(other, separators=(",", ":"))
        if spec.get("behavior"):
            ann[ANN_BEHAVIOR] = json.dumps(spec.pop("behavior"), separators=(",", ":"))
        st = o.get("status")
        if isinstance(st, dict):
            for m in st.pop("currentMetrics", None) or []:
                r = m.get("resource") or {}
                if m.get("type") == "Resource" and r.get("name") == "cpu":
                    st["currentCPUUtilizationPercentage"] = (r.get("current") or {}).get("averageUtilization")
            if st.get("conditions"):
                ann[ANN_CONDITIONS] = json.dumps(st.pop("conditions"), separators=(",", ":"))
        if not ann:
            del o["metadata"]["annotations"]
    elif dst == "v2beta1":
        if spec.get("metrics"):
            spec["metrics"] = [_v2_target_to_v2beta1(m) for m in spec["metrics"]]


def _hpa(o, src, dst):
    if src == dst:
        return
    _hpa_to_v2(o, src)
    _hpa_from_v2(o, dst)


# ---- CustomResourceDefinition (apiextensions.k8s.io v1beta1 <-> v1) ------------------------------------------------
def _crd(o, src, dst):
    spec = o.get("spec")
    if not isinstance(spec, dict) or src == dst:
        return
    if dst == "v1":
        versions = spec.get("versions") or []
        if not versions and spec.get("version"):
            versions = [{"name": spec["version"], "served": True, "storage": True}]
        top_schema = (spec.pop("validation", None) or {}).get("openAPIV3Schema")
        top_sub = spec.pop("subresources", None)
        top_cols = spec.pop("additionalPrinterColumns", None)
        spec.pop("version", None)
        out = []
        for v in versions:
            v = dict(v)
            if top_schema is not None and "schema" not in v:
                v["schema"] = {"openAPIV3Schema": top_schema}
            if top_sub is not None and "subresources" not in v:
                v["subresources"] = top_sub
            cols = v.get("additionalPrinterColumns", top_cols)
            if cols is not None:
                v["additionalPrinterColumns"] = [_rename(c, "JSONPath", "jsonPath") for c in cols]
            out.append(v)
        spec["versions"] = out
        if "preserveUnknownFields" not in spec:
            spec["preserveUnknownFields"] = True if src == "v1beta1" else False
    else:
        versions = [dict(v) for v in spec.get("versions") or []]
        if versions:
            spec["version"] = versions[0]["name"]
        for field, top in (("schema", "validation"), ("subresources", "subresources"),
                           ("additionalPrinterColumns", "additionalPrinterColumns")):
            vals = [v.get(field) for v in versions]
            if vals and all(x == vals[0] for x in vals) and vals[0] is not None:
                val = vals[0]
                if field == "additionalPrinterColumns":
                    val = [_rename(c, "jsonPath", "JSONPath") for c in val]
                spec[top] = val
                for v in versions:
                    v.pop(field, None)
            elif field == "additionalPrinterColumns":
                for v in versions:
                    if v.get(field):
                        v[field] = [_rename(c, "jsonPath", "JSONPath") for c in v[field]]
        spec["versions"] = versions


def _rename(d, a, b):
    return {(b if k == a else k): v for k, v in d.items()}


# ---- EndpointSlice (discovery.k8s.io v1beta1 topology <-> v1 nodeName/zone) ------------------------------------
def _endpointslice(o, src, dst):
    for ep in o.get("endpoints") or []:
        if not isinstance(ep, dict):
            continue
        if dst == "v1beta1":
            topo = dict(ep.pop("deprecatedTopology", None) or {})
            if ep.get("nodeName"):
                topo["kubernetes.io/hostname"] = ep.pop("nodeName")
            if ep.get("zone"):
                topo["topology.kubernetes.io/zone"] = ep.pop("zone")
            if topo:
                ep["topology"] = topo
        elif src == "v1beta1":
            topo = dict(ep.pop("topology", None) or {})
            if "kubernetes.io/hostname" in topo:
                ep["nodeName"] = topo.pop("kubernetes.io/hostname")
            if "topology.kubernetes.io/zone" in topo:
                ep["zone"] = topo.pop("topology.kubernetes.io/zone")
            if topo:
                ep["deprecatedTopology"] = topo


_CONV = {"Ingress": _ingress, "HorizontalPodAutoscaler": _hpa, "CustomResourceDefinition": _crd,
         "EndpointSlice": _endpointslice}
