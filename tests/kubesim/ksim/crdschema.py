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


# ---- structural validation (types, required, enum) --------------------------------------------------------------
_JSON_TYPE = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array", dict: "object",
              type(None): "null"}


def _type_ok(want, v):
    if want == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if want == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if want == "string":
        return isinstance(v, str)
    if want == "boolean":
        return isinstance(v, bool)
    if want == "object":
        return isinstance(v, dict)
    if want == "array":
        return isinstance(v, list)
    return True


def validate(rt, obj, version):
    """FieldErrors for values that do not match the CRD's openAPIV3Schema (type, required, enum)."""
    from .store import FieldError
    sch = _version_schema(rt, version)
    errs = []
    if not sch:
        return errs

    def walk(s, v, path):
        if not isinstance(s, dict):
            return
        t = s.get("type")
        if v is None:
            if not s.get("nullable") and t:
                errs.append(FieldError("FieldValueInvalid", path, "null",
                                       '%s in body must be of type %s: "null"' % (path, t)))
            return
        if t and not _type_ok(t, v) and not (s.get("x-kubernetes-int-or-string") and isinstance(v, (int, str))):
            errs.append(FieldError("FieldValueInvalid", path, v, '%s in body must be of type %s: "%s"' % (
                path, t, _JSON_TYPE.get(type(v), "object"))))
            return
        if "enum" in s and v not in s["enum"]:
            errs.append(FieldError("FieldValueNotSupported", path, v, "supported values: " + ", ".join(
                '"%s"' % e if isinstance(e, str) else str(e) for e in s["enum"])))
        if isinstance(v, dict):
            for r in s.get("required") or []:
                if r not in v:
                    errs.append(FieldError("FieldValueRequired", (path + "." if path else "") + r))
            props = s.get("properties") or {}
            addl = s.get("additionalProperties")
            for k, sub in v.items():
                p = (path + "." if path else "") + k
                if k in props:
                    walk(props[k], sub, p)
                elif isinstance(addl, dict):
                    walk(addl, sub, p)
        elif isinstance(v, list) and isinstance(s.get("items"), dict):
            for i, x in enumerate(v):
                walk(s["items"], x, "%s[%d]" % (path, i))

    for r in sch.get("required") or []:
        if r not in obj:
            errs.append(FieldError("FieldValueRequired", r))
    for k, sub in (sch.get("properties") or {}).items():
        if k in ("apiVersion", "kind", "metadata") or k not in obj:
            continue
        walk(sub, obj[k], k)
    return errs
