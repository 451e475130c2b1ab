"""Just enough protobuf to read what kubectl >= 1.32 sends as `application/vnd.kubernetes.protobuf` from its typed
clients: a runtime.Unknown envelope (magic "k8s\\0") around a SelfSubjectAccessReview, SelfSubjectRulesReview,
ConfigMap, Secret, Namespace, ServiceAccount or TokenRequest (`kubectl auth can-i`, `create configmap|secret|
namespace|serviceaccount|token`).  Field numbers from k8s.io/api's generated.proto.  Other kinds answer 415."""
from .store import ApiError


def _fields(buf):
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        fn, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 2:
            ln, i = _varint(buf, i)
            v = buf[i:i + ln]
            i += ln
        elif wt == 1:
            v = buf[i:i + 8]
            i += 8
        elif wt == 5:
            v = buf[i:i + 4]
            i += 4
        else:
            raise ValueError("wire type %d" % wt)
        yield fn, v


def _varint(buf, i):
    shift = r = 0
    while True:
        b = buf[i]
        i += 1
        r |= (b & 0x7F) << shift
        if not b & 0x80:
            return r, i
        shift += 7


def _strmap(buf, names):
    out = {}
    for fn, v in _fields(buf):
        if fn in names and isinstance(v, (bytes, bytearray)):
            out[names[fn]] = v.decode()
    return out


RA = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource", 6: "subresource", 7: "name"}
NRA = {1: "path", 2: "verb"}


def decode_review(body):
    try:
        if not body.startswith(b"k8s\x00"):
            raise ValueError("missing magic")
        env = dict(_fields(body[4:]))
        tm = _strmap(env.get(1, b""), {1: "apiVersion", 2: "kind"})
        raw = env.get(2, b"")
        obj = {"apiVersion": tm.get("apiVersion"), "kind": tm.get("kind"), "metadata": {}, "spec": {}}
        for fn, v in _fields(raw):
            if fn == 2:
                for sfn, sv in _fields(v):
                    if tm.get("kind") == "SelfSubjectRulesReview":
                        if sfn == 1:
                            obj["spec"]["namespace"] = sv.decode()
                    elif sfn == 1:
                        obj["spec"]["resourceAttributes"] = _strmap(sv, RA)
                    elif sfn == 2:
                        obj["spec"]["nonResourceAttributes"] = _strmap(sv, NRA)
        return obj
    except Exception as e:
        raise ApiError(400, "BadRequest", "unable to decode protobuf body: %s" % e)


# ---- generic decoding by schema ----------------------------------------------------------------------------------
# schema: {field number: (json name, type)}; type: "s" string, "b" bytes (base64 in JSON), "B" bool, "i" int,
# "ss" map<string,string>, "sb" map<string,bytes>, "S" repeated string, dict = message, [dict] = repeated message
OWNER = {1: ("apiVersion", "s"), 2: ("kind", "s"), 3: ("name", "s"), 4: ("uid", "s"), 6: ("controller", "B"),
         7: ("blockOwnerDeletion", "B")}
META = {1: ("name", "s"), 2: ("generateName", "s"), 3: ("namespace", "s"), 5: ("uid", "s"),
        6: ("resourceVersion", "s"), 11: ("labels", "ss"), 12: ("annotations", "ss"),
        13: ("ownerReferences", [OWNER]), 14: ("finalizers", "S")}
LOCALREF = {1: ("name", "s")}
OBJREF = {1: ("kind", "s"), 2: ("namespace", "s"), 3: ("name", "s"), 4: ("uid", "s"), 5: ("apiVersion", "s")}
SCHEMAS = {
    "ConfigMap": {1: ("metadata", META), 2: ("data", "ss"), 3: ("binaryData", "sb"), 4: ("immutable", "B")},
    "Secret": {1: ("metadata", META), 2: ("data", "sb"), 3: ("type", "s"), 4: ("stringData", "ss"),
               5: ("immutable", "B")},
    "Namespace": {1: ("metadata", META), 2: ("spec", {1: ("finalizers", "S")})},
    "ServiceAccount": {1: ("metadata", META), 2: ("secrets", [OBJREF]), 3: ("imagePullSecrets", [LOCALREF]),
                       4: ("automountServiceAccountToken", "B")},
    "TokenRequest": {1: ("metadata", META), 2: ("spec", {1: ("audiences", "S"), 4: ("expirationSeconds", "i"),
                                                         3: ("boundObjectRef", {1: ("kind", "s"),
                                                                                2: ("apiVersion", "s"),
                                                                                3: ("name", "s"), 4: ("uid", "s")})})},
}


def _decode(buf, sch):
    import base64
    out = {}
    for fn, v in _fields(buf):
        if fn not in sch:
            continue
        name, t = sch[fn]
        if t == "s":
            if v:  # proto2 always carries strings; JSON omits empty ones
                out[name] = v.decode()
        elif t == "b":
            out[name] = base64.b64encode(v).decode()
        elif t == "B":
            out[name] = bool(v)
        elif t == "i":
            out[name] = v
        elif t == "S":
            out.setdefault(name, []).append(v.decode())
        elif t in ("ss", "sb"):
            entry = dict(_fields(v))
            val = entry.get(2, b"")
            out.setdefault(name, {})[entry.get(1, b"").decode()] = (
                val.decode() if t == "ss" else base64.b64encode(val).decode())
        elif isinstance(t, dict):
            out[name] = _decode(v, t)
        elif isinstance(t, list):
            out.setdefault(name, []).append(_decode(v, t[0]))
    return out


def decode_object(body):
    """JSON-shaped dict from a protobuf-encoded object, or ApiError 415 for kinds kubesim cannot decode."""
    if not body.startswith(b"k8s\x00"):
        raise ApiError(400, "BadRequest", "unable to decode protobuf body: missing magic")
    env = dict(_fields(body[4:]))
    tm = _strmap(env.get(1, b""), {1: "apiVersion", 2: "kind"})
    kind = tm.get("kind")
    if kind in ("SelfSubjectAccessReview", "SelfSubjectRulesReview"):
        return decode_review(body)
    sch = SCHEMAS.get(kind)
    if sch is None:
        raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted "
                       "media types include: application/json, application/yaml (kubesim decodes protobuf only for "
                       "%s)" % ", ".join(sorted(SCHEMAS)), {})
    obj = {"apiVersion": tm.get("apiVersion"), "kind": kind}
    obj.update(_decode(env.get(2, b""), sch))
    return obj
