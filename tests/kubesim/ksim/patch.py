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
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = pv
    for k, pv in patch.items():
        if k in ("$patch", "$retainKeys") or k.startswith("$setElementOrder/"):
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
            if mk and isinstance(ov, list) and not any(isinstance(x, dict) and x.get("$patch") == "replace"
                                                      for x in pv):
                merged = _merge_list(ov, pv, mk, kind, path + (k,))
                result[k] = _order(merged, ov, pv, orders.pop(k, None), mk)
            else:
                if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in pv):
                    pv = [x for x in pv if not (isinstance(x, dict) and x.get("$patch") == "replace")]
                result[k] = _strip(pv)
                orders.pop(k, None)
        else:
            result[k] = pv
    for f, order in orders.items():  # $setElementOrder without a patch list
        lst = result.get(f)
        mk = schema.merge_key(path + (f,), kind)
        if isinstance(lst, list) and isinstance(order, list) and mk:
            result[f] = _order(lst, lst, [], order, mk)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        for k in list(result):
            if k not in retain:
                del result[k]
    return result


def _key(item, mk):
    if mk == "$primitive":
        return json.dumps(item, sort_keys=True)
    return json.dumps(item.get(mk), sort_keys=True) if isinstance(item, dict) else None


def _order(merged, original, patch_list, set_order, mk):
    """The API server's normalizeElementOrder: items named by the patch (or by $setElementOrder) in that order,
    interleaved with server-only items keeping the live object's order."""
    order = set_order if isinstance(set_order, list) else [x for x in patch_list if not (
        isinstance(x, dict) and x.get("$patch"))]
    pos = {}
    for i, x in enumerate(order):
        pos.setdefault(_key(x, mk), i)
    spos = {}
    for i, x in enumerate(original):
        spos.setdefault(_key(x, mk), i)
    right = sorted([m for m in merged if _key(m, mk) in pos], key=lambda m: pos[_key(m, mk)])
    left = [m for m in merged if _key(m, mk) not in pos]
    out = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li, ri = spos.get(_key(left[i], mk)), spos.get(_key(right[j], mk))
            if li is not None and ri is not None and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _merge_list(orig, patch, mk, kind, path):
    result = dcopy(orig)
    if mk == "$primitive":
        for x in patch:
            if isinstance(x, dict) and x.get("$patch"):
                continue
            if x not in result:
                result.append(x)
        return result
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
    """Remove one managedFields-style path from obj (in place); maps left empty are dropped (omitempty)."""
    _remove_path(obj, path)
    for n in range(len(path) - 1, 0, -1):
        parent = _resolve(obj, path[:n - 1]) if n > 1 else obj
        el = path[n - 1]
        if isinstance(parent, dict) and el.startswith("f:") and parent.get(el[2:]) in ({}, []):
            del parent[el[2:]]
        else:
            break


def _resolve(obj, path):
    cur = obj
    for el in path:
        if el.startswith("f:") and isinstance(cur, dict):
            cur = cur.get(el[2:])
        elif el.startswith("k:") and isinstance(cur, list):
            key = json.loads(el[2:])
            cur = next((o for o in cur if isinstance(o, dict) and all(o.get(a) == b for a, b in key.items())), None)
        else:
            return None
    return cur


def _remove_path(obj, path):
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
