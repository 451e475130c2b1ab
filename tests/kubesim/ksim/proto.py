"""Just enough protobuf to read the access reviews kubectl >= 1.32 sends as `application/vnd.kubernetes.protobuf`
(runtime.Unknown envelope with magic "k8s\\0" around a SelfSubjectAccessReview / SelfSubjectRulesReview)."""
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
