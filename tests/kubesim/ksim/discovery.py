"""Discovery documents: legacy (/api, /apis, /api/v1, /apis/<g>/<v>) and aggregated (apidiscovery.k8s.io v2 and
v2beta1, chosen by Accept negotiation; only on profiles that have it)."""
import hashlib

from .registry import gv, storage_version_hash
from .util import go_json

AGG_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGG_V2B1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def negotiate_aggregated(accept, profile):
    """'v2', 'v2beta1' or None according to the Accept header (first acceptable entry wins)."""
    if profile == "1.21" or not accept:
        return None
    for part in accept.split(","):
        params = [p.strip() for p in part.split(";")]
        if params[0] not in ("application/json", "*/*"):
            continue
        kv = dict(p.split("=", 1) for p in params[1:] if "=" in p)
        if kv.get("g") == "apidiscovery.k8s.io" and kv.get("as") == "APIGroupDiscoveryList":
            if kv.get("v") in ("v2", "v2beta1"):
                return kv["v"]
        elif "as" not in kv and "g" not in kv:
            return None
    return None


def _verbs(rt):
    return list(rt.verbs)


def resource_list(reg, group, version):
    res = []
    for name, rt in reg.resources_in(group, version):
        e = {"name": name, "singularName": rt.singular, "namespaced": rt.namespaced, "kind": rt.kind,
             "verbs": _verbs(rt)}
        if rt.short:
            e["shortNames"] = list(rt.short)
        if rt.cats:
            e["categories"] = list(rt.cats)
        e["storageVersionHash"] = storage_version_hash(rt.group, rt.storage_version, rt.kind)
        res.append(e)
        for s in rt.subs:
            se = {"name": name + "/" + s.name, "singularName": "", "namespaced": rt.namespaced}
            if s.group is not None and (s.group != group or s.version != version):
                se["group"] = s.group
                se["version"] = s.version
            se["kind"] = s.kind
            se["verbs"] = list(s.verbs)
            res.append(se)
    doc = {"kind": "APIResourceList"}
    if group:
        doc["apiVersion"] = "v1"
    doc["groupVersion"] = gv(group, version)
    doc["resources"] = res
    return doc


def api_versions():
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}]}


def _group_entry(group, versions):
    vs = [{"groupVersion": gv(group, v), "version": v} for v in versions]
    return {"name": group, "versions": vs, "preferredVersion": vs[0]}


def api_group_list(reg):
    groups = [_group_entry(g, vs) for g, vs in reg.groups() if g and _has_resources(reg, g, vs)]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _has_resources(reg, g, vs):
    return any(reg.resources_in(g, v) for v in vs)


def api_group(reg, group):
    for g, vs in reg.groups():
        if g == group and _has_resources(reg, g, vs):
            e = _group_entry(g, vs)
            return {"kind": "APIGroup", "apiVersion": "v1", **e}
    return None


def aggregated(reg, core, dversion):
    items = []
    for g, vs in reg.groups():
        if core != (g == ""):
            continue
        versions = []
        for v in vs:
            resources = []
            for name, rt in reg.resources_in(g, v):
                e = {"resource": name, "responseKind": {"group": g, "version": v, "kind": rt.kind},
                     "scope": "Namespaced" if rt.namespaced else "Cluster", "singularResource": rt.singular,
                     "verbs": _verbs(rt)}
                if rt.short:
                    e["shortNames"] = list(rt.short)
                if rt.cats:
                    e["categories"] = list(rt.cats)
                subs = []
                for s in rt.subs:
                    subs.append({"subresource": s.name,
                                 "responseKind": {"group": s.group if s.group is not None else g,
                                                  "version": s.version or v, "kind": s.kind},
                                 "verbs": list(s.verbs)})
                if subs:
                    e["subresources"] = subs
                resources.append(e)
            if not resources:
                continue
            ve = {"version": v, "resources": resources, "freshness": "Current"}
            if g in reg.broken_groups:
                ve = {"version": v, "freshness": "Stale"}
            versions.append(ve)
        if not versions:
            continue
        md = {"creationTimestamp": None} if not g else {"name": g, "creationTimestamp": None}
        items.append({"metadata": md, "versions": versions})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/" + dversion, "metadata": {},
            "items": items}


def etag(body):
    return '"%s"' % hashlib.sha512(body.encode() if isinstance(body, str) else body).hexdigest()[:32].upper()


def encode(doc):
    return go_json(doc) + "\n"
