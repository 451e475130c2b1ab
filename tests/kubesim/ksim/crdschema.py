"""Unknown-field detection (pruning / fieldValidation) for custom resources from the CRD's structural schema."""


def _version_schema(rt, version):
    for v in (rt.crd.get("spec") or {}).get("versions") or []:
        if v.get("name") == version:
            return ((v.get("schema") or {}).get("openAPIV3Schema")) or None
    return None


def unknown_fields(rt, obj, version):
    if (rt.crd.get("spec") or {}).get("preserveUnknownFields"):
        return []  # not pruned (v1beta1-era CRDs)
    sch = _version_schema(rt, version)
    if not sch:
        return []
    out = []
    for k, v in obj.items():
        if k in ("apiVersion", "kind", "metadata"):
            continue
        props = sch.get("properties") or {}
        if sch.get("x-kubernetes-preserve-unknown-fields"):
            if k in props:
                _walk(props[k], v, k, out)
            continue
        if k not in props:
            out.append(k)
        else:
            _walk(props[k], v, k, out)
    return out


def _walk(sch, v, prefix, out):
    if not isinstance(sch, dict) or sch.get("x-kubernetes-preserve-unknown-fields"):
        if isinstance(sch, dict) and isinstance(v, dict) and sch.get("properties"):
            for k, sub in v.items():
                if k in sch["properties"]:
                    _walk(sch["properties"][k], sub, prefix + "." + k, out)
        return
    if isinstance(v, dict):
        props = sch.get("properties")
        addl = sch.get("additionalProperties")
        if props is None and addl is None:
            if sch.get("type") == "object" and not sch.get("x-kubernetes-embedded-resource"):
                for k in v:
                    out.append(prefix + "." + k)
            return
        for k, sub in v.items():
            if props is not None and k in props:
                _walk(props[k], sub, prefix + "." + k, out)
            elif addl not in (None, False):
                _walk(addl if isinstance(addl, dict) else {}, sub, prefix + "." + k, out)
            else:
                out.append(prefix + "." + k)
    elif isinstance(v, list):
        items = sch.get("items")
        if isinstance(items, dict):
            for i, x in enumerate(v):
                _walk(items, x, "%s[%d]" % (prefix, i), out)
