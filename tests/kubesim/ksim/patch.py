"""PATCH bodies: JSON patch (RFC 6902), JSON merge patch (RFC 7386), strategic merge patch (merge keys and
directives of the built-in kinds, see schema.py) and the merge step of server-side apply."""
import json

from . import schema
from .store import ApiError
from .util import dcopy


def _unprocessable(msg):
    return ApiError(422, "Invalid", "the server rejected our request due to an error in our request",
                    {"causes": [{"reason": "UnexpectedServerResponse", "message": msg}]})


# ---- JSON patch ----------------------------------------------------------------------------------------------
def _ptr(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise _unprocessable("JSON pointer must start with /: %s" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc, parts, op, path):
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            raise _unprocessable("%s operation does not apply: doc is missing path: \"%s\": missing value" % (op, path))
    return cur


def _get(doc, path, op):
    parts = _ptr(path)
    if not parts:
        return doc
    par = _parent(doc, parts, op, path)
    k = parts[-1]
    if isinstance(par, dict) and k in par:
        return par[k]
    if isinstance(par, list) and k.isdigit() and int(k) < len(par):
        return par[int(k)]
    raise _unprocessable("%s operation does not apply: doc is missing key: %s: missing value" % (op, path))


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise ApiError(400, "BadRequest", "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    if len(ops) > 10000:
        raise ApiError(413, "RequestEntityTooLarge", "Request entity too large: The allowed maximum operations in a "
                                                     "JSON patch is 10000, got %d" % len(ops))
    doc = dcopy(doc)
    for o in ops:
        op = o.get("op")
        path = o.get("path", "")
        if op in ("add", "replace", "test"):
            if "value" not in o:
                raise _unprocessable("Unexpected kind: missing value")
        if op == "test":
            if _get(doc, path, op) != o["value"]:
                raise _unprocessable("testing value %s failed: test failed" % path)
            continue
        if op in ("move", "copy"):
            val = dcopy(_get(doc, o.get("from", ""), op))
            if op == "move":
                doc = _remove(doc, o.get("from", ""), op)
            doc = _add(doc, path, val, op)
            continue
        if op == "remove":
            doc = _remove(doc, path, op)
        elif op == "add":
            doc = _add(doc, path, dcopy(o["value"]), op)
        elif op == "replace":
            _get(doc, path, op)
            doc = _remove(doc, path, op)
            doc = _add(doc, path, dcopy(o["value"]), op)
        else:
            raise _unprocessable("Unexpected kind: %s" % op)
    return doc


def _add(doc, path, val, op):
    parts = _ptr(path)
    if not parts:
        return val
    par = _parent(doc, parts, op, path)
    k = parts[-1]
    if isinstance(par, dict):
        par[k] = val
    elif isinstance(par, list):
        if k == "-":
            par.append(val)
        elif k.isdigit() and int(k) <= len(par):
            par.insert(int(k), val)
        else:
            raise _unprocessable("%s operation does not apply: doc is missing path: \"%s\": missing value"
                                 % (op, path))
    else:
        raise _unprocessable("%s operation does not apply: doc is missing path: \"%s\": missing value" % (op, path))
    return doc


def _remove(doc, path, op):
    parts = _ptr(path)
    par = _parent(doc, parts, op, path)
    k = parts[-1]
    if isinstance(par, dict) and k in par:
        del par[k]
    elif isinstance(par, list) and k.isdigit() and int(k) < len(par):
        del par[int(k)]
    else:
        raise _unprocessable("%s operation does not apply: doc is missing key: %s: missing value" % (op, path))
    return doc


# ---- merge patch ---------------------------------------------------------------------------------------------
def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return dcopy(patch)
    result = dcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


# ---- strategic merge patch -----------------------------------------------------------------------------------
def _strip(v):
    """Remove directives from a value that is copied in wholesale."""
    if isinstance(v, dict):
        return {k: _strip(x) for k, x in v.items() if not k.startswith("$")}
    if isinstance(v, list):
        return [_strip(x) for x in v if not (isinstance(x, dict) and x.get("$patch") == "delete")]
    return v


def strategic_merge(orig, patch, kind, path=()):
    if not isinstance(patch, dict):
        raise ApiError(400, "BadRequest", "unable to find api field in struct for the patch")
    d = patch.get("$patch")
    if d == "replace":
        return _strip({k: v for k, v in patch.items() if k != "$patch"})
    if d == "delete":
        return None
    result = dcopy(orig) if isinstance(orig, dict) else {}
    orders = {}
    for k, pv in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = pv
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            f = k.split("/", 1)[1]
            if isinstance(result.get(f), list):
                result[f] = [x for x in result[f] if x not in (pv or [])]
            continue
        if pv is None:
            result.pop(k, None)
            continue
        ov = result.get(k)
        if isinstance(pv, dict):
            if isinstance(ov, dict):
                m = strategic_merge(ov, pv, kind, path + (k,))
                if m is None:
                    result.pop(k, None)
                else:
                    result[k] = m
            elif pv.get("$patch") == "delete":
                result.pop(k, None)
            else:
                result[k] = _strip(pv)
        elif isinstance(pv, list):
            mk = schema.merge_key(path + (k,), kind)
            if mk == "$primitive":
                base = list(ov) if isinstance(ov, list) else []
                for x in pv:
                    if x not in base:
                        base.append(x)
                result[k] = base
            elif mk and isinstance(ov, list):
                result[k] = _merge_list(ov, pv, mk, kind, path + (k,))
            else:
                if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in pv):
                    pv = [x for x in pv if not (isinstance(x, dict) and x.get("$patch") == "replace")]
                result[k] = _strip(pv)
        else:
            result[k] = pv
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        for k in list(result):
            if k not in retain:
                del result[k]
    for f, order in orders.items():
        lst = result.get(f)
        if not isinstance(lst, list) or not isinstance(order, list):
            continue
        mk = schema.merge_key(path + (f,), kind)
        if mk == "$primitive" or not mk:
            pos = {v: i for i, v in enumerate(order) if not isinstance(v, (dict, list))}
            lst.sort(key=lambda x: pos.get(x, len(pos)) if not isinstance(x, (dict, list)) else len(pos))
        else:
            pos = {json.dumps(o.get(mk)): i for i, o in enumerate(order) if isinstance(o, dict)}
            lst.sort(key=lambda x: pos.get(json.dumps(x.get(mk)) if isinstance(x, dict) else "", len(pos)))
    return result


def _merge_list(orig, patch, mk, kind, path):
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return _strip([x for x in patch if not (isinstance(x, dict) and x.get("$patch") == "replace")])
    result = dcopy(orig)
    for item in patch:
        if not isinstance(item, dict) or mk not in item:
            result.append(_strip(item))
            continue
        idx = next((i for i, o in enumerate(result) if isinstance(o, dict) and o.get(mk) == item[mk]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                del result[idx]
            continue
        if idx is None:
            result.append(_strip(item))
        else:
            m = strategic_merge(result[idx], item, kind, path)
            if m is None:
                del result[idx]
            else:
                result[idx] = m
    return result


# ---- server-side apply merge ---------------------------------------------------------------------------------
def apply_merge(live, config, kind):
    """Merge an applied configuration onto the live object (keyed lists merged by key, other lists atomic)."""
    return strategic_merge(live, _no_directives(config), kind)


def _no_directives(v):
    if isinstance(v, dict):
        return {k: _no_directives(x) for k, x in v.items() if not k.startswith("$")}
    if isinstance(v, list):
        return [_no_directives(x) for x in v]
    return v


def remove_path(obj, path):
    """Remove one managedFields-style path from obj (in place)."""
    cur = obj
    for i, el in enumerate(path):
        last = i == len(path) - 1
        if el.startswith("f:"):
            k = el[2:]
            if not isinstance(cur, dict) or k not in cur:
                return
            if last:
                del cur[k]
                return
            cur = cur[k]
        elif el.startswith("k:"):
            key = json.loads(el[2:])
            if not isinstance(cur, list):
                return
            idx = next((j for j, o in enumerate(cur) if isinstance(o, dict) and
                        all(o.get(a) == b for a, b in key.items())), None)
            if idx is None:
                return
            if last:
                del cur[idx]
                return
            cur = cur[idx]
        elif el.startswith("v:"):
            v = json.loads(el[2:])
            if isinstance(cur, list) and v in cur:
                cur.remove(v)
            return
