"""OpenAPI documents just rich enough for kubectl: /openapi/v2 as protobuf (a gnostic Document listing, per resource
path, a PATCH operation with the fieldValidation query parameter and the x-kubernetes-group-version-kind extension),
/openapi/v3 index and per-group-version JSON documents with the same information.  No schemas: `kubectl explain`
is best effort (it finds no definitions)."""
import hashlib
import json

from .registry import gv


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _ld(field, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return bytes([(field << 3) | 2]) + _varint(len(payload)) + payload


def _paths(reg):
    """[(path, group, version, kind)] of item paths for every served resource."""
    out = []
    for g, vs in reg.groups():
        for v in vs:
            for name, rt in reg.resources_in(g, v):
                base = "/api/v1" if not g else "/apis/%s/%s" % (g, v)
                if rt.namespaced:
                    p = "%s/namespaces/{namespace}/%s/{name}" % (base, name)
                else:
                    p = "%s/%s/{name}" % (base, name)
                if "patch" in rt.verbs:
                    out.append((p, g, v, rt.kind))
    return out


def v2_protobuf(reg, field_validation=True):
    paths = b""
    for p, g, v, kind in _paths(reg):
        ops = b""
        if field_validation:
            q = _ld(2, "query") + _ld(4, "fieldValidation") + _ld(6, "string")
            ops += _ld(8, _ld(1, _ld(2, _ld(3, q))))
        yaml = 'group: "%s"\nkind: %s\nversion: %s\n' % (g, kind, v) if not g else \
            "group: %s\nkind: %s\nversion: %s\n" % (g, kind, v)
        ops += _ld(13, _ld(1, "x-kubernetes-group-version-kind") + _ld(2, _ld(2, yaml)))
        item = _ld(8, ops)
        paths += _ld(2, _ld(1, p) + _ld(2, item))
    return _ld(1, "2.0") + _ld(8, paths)


def v2_json(reg, field_validation=True):
    paths = {}
    for p, g, v, kind in _paths(reg):
        op = {"x-kubernetes-group-version-kind": {"group": g, "kind": kind, "version": v},
              "responses": {"200": {"description": "OK"}}}
        if field_validation:
            op["parameters"] = [{"uniqueItems": True, "type": "string", "name": "fieldValidation", "in": "query"}]
        paths[p] = {"patch": op}
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1"}, "paths": paths, "definitions": {}}


def v3_gv_doc(reg, gvkey):
    paths = {}
    for p, g, v, kind in _paths(reg):
        key = "api/v1" if not g else "apis/%s/%s" % (g, v)
        if key != gvkey:
            continue
        paths[p] = {"patch": {"x-kubernetes-group-version-kind": {"group": g, "version": v, "kind": kind},
                              "parameters": [{"name": "fieldValidation", "in": "query",
                                              "schema": {"type": "string", "uniqueItems": True}}],
                              "responses": {"200": {"description": "OK"}}}}
    if not paths:
        return None
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.30.0"}, "paths": paths,
            "components": {"schemas": {}}}


def v3_index(reg):
    keys = []
    for g, vs in reg.groups():
        for v in vs:
            if reg.resources_in(g, v):
                keys.append("api/v1" if not g else "apis/%s/%s" % (g, v))
    paths = {}
    for k in keys:
        doc = v3_gv_doc(reg, k)
        if doc is None:
            continue
        h = hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest().upper()[:64]
        paths[k] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (k, h)}
    return {"paths": paths}
