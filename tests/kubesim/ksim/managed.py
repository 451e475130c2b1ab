"""managedFields: field ownership per manager, simplified to leaf paths.

A field path is a tuple of fieldsV1 keys: `("f:data", "f:a")`, list items of keyed lists as
`k:{"name":"c1"}`, members of merged primitive lists as `v:"x"`; other lists are atomic (one leaf).
Update operations take ownership of the fields they change (others lose them); Apply operations own exactly the
fields of the applied configuration and conflict where another manager owns a field with a different value.
"""
import json

from . import schema
from .util import dcopy, now_ts

SERVER_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
               "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink", "generateName"}


def _key_str(item, keys):
    return "k:" + json.dumps({k: item.get(k) for k in sorted(keys) if k in item}, separators=(",", ":"))


def leaf_map(obj, kind=None, part="main", status_sub=False):
    """{path: value} of the leaves of obj (excluding server-owned metadata; status per `part`)."""
    out = {}
    for k, v in obj.items():
        if k in ("apiVersion", "kind"):
            continue
        if k == "status":
            if part == "main" and status_sub:
                continue
        elif part == "status":
            continue
        if k == "metadata":
            if part == "status" or not isinstance(v, dict):
                continue
            for mk, mv in v.items():
                if mk in SERVER_META:
                    continue
                _walk(mv, ("f:metadata", "f:" + mk), ("metadata", mk), out, kind)
            continue
        _walk(v, ("f:" + k,), (k,), out, kind)
    return out


def _walk(v, path, names, out, kind):
    if isinstance(v, dict) and v:
        for k, sub in v.items():
            _walk(sub, path + ("f:" + k,), names + (k,), out, kind)
        return
    if isinstance(v, list) and v:
        keys = schema.list_map_keys(names, kind)
        if keys == "$primitive":
            for item in v:
                out[path + ("v:" + json.dumps(item),)] = True
            return
        if keys and all(isinstance(i, dict) and keys[0] in i for i in v):
            for item in v:
                ip = path + (_key_str(item, keys),)
                for k in keys:
                    if k in item:
                        out[ip + ("f:" + k,)] = item.get(k)
                for k, sub in item.items():
                    if k not in keys:
                        _walk(sub, ip + ("f:" + k,), names + (k,), out, kind)
            return
    out[path] = v


def fields_to_set(fv1, prefix=()):
    s = set()
    for k, sub in (fv1 or {}).items():
        if k == ".":
            continue
        p = prefix + (k,)
        if sub:
            inner = fields_to_set(sub, p)
            if inner:
                s |= inner
            else:
                s.add(p)
        else:
            s.add(p)
    return s


def set_to_fields(paths, dots=True):
    """The fieldsV1 tree of a set of paths, every object's keys sorted with "." first (as the API server writes it).
    Built from the paths in sorted order, each node gets its keys in that order as it is built: its "." when it is
    made (before any child), its children in sorted order; no sorting pass over the tree afterwards."""
    root = {}
    map_fields = schema.MAP_FIELDS
    for p in sorted(paths):
        node = root
        last = len(p) - 1
        for i, el in enumerate(p):
            child = node.get(el)
            if child is None:
                child = node[el] = {}
                if dots and i < last and (el.startswith("k:") or el[2:] in map_fields):
                    child["."] = {}
            elif dots and i < last and "." not in child and (el.startswith("k:") or el[2:] in map_fields):
                child["."] = {}  # a leaf so far (an earlier, shorter path), so still without children
            node = child
    return root


def _entry(manager, op, api_version, paths, subresource=None, dots=True):
    e = {"manager": manager, "operation": op, "apiVersion": api_version, "time": now_ts(),
         "fieldsType": "FieldsV1", "fieldsV1": set_to_fields(paths, dots)}
    if subresource:
        e["subresource"] = subresource
    return e


def _same_entry(e, manager, op, api_version, subresource):
    return (e.get("manager") == manager and e.get("operation") == op and e.get("apiVersion") == api_version
            and e.get("subresource") == subresource)


def decode_given(entries):
    """The entries of a request object as the field manager decodes them (DecodeManagedFields): [] for none, for
    the reset forms `[]` and `[{}]`, and when any entry does not decode (operation other than Apply/Update, no
    apiVersion, fieldsType other than FieldsV1, fieldsV1 not an object): the request's entries are then ignored.
    Entries with the same identity (manager, operation, apiVersion for Update, subresource): the last one wins."""
    if not isinstance(entries, list) or not entries or entries == [{}]:
        return []
    out = {}
    for e in entries:
        if not isinstance(e, dict) or e.get("operation") not in ("Apply", "Update") or not e.get("apiVersion") \
                or e.get("fieldsType") != "FieldsV1" or not isinstance(e.get("fieldsV1", {}), dict):
            return []
        ident = (e.get("manager") or "", e["operation"], e["apiVersion"] if e["operation"] == "Update" else "",
                 e.get("subresource") or "")
        out.pop(ident, None)
        out[ident] = dict(e)  # the caller's object is its own (store.create copies or is handed it): the entry
        # dict is replaced below (fieldsV1), its fieldsV1 tree only read, so a shallow copy does
    return list(out.values())


def on_update(new, old, manager, api_version, rt, subresource=None, given_on_create=None):
    """Set new.metadata.managedFields for an Update-operation write by `manager` (a create when old is None, with
    the managedFields the request carried in given_on_create)."""
    nm = new["metadata"]
    status_sub = bool(rt.status)
    part = "status" if subresource == "status" else "main"
    if old is not None:
        entries = dcopy(old["metadata"].get("managedFields") or [])
        given = nm.get("managedFields")
        if given is not None and given != old["metadata"].get("managedFields"):
            entries = [e for e in dcopy(given) if isinstance(e, dict) and e.get("manager")]
    else:
        # A create keeps the entries the request carries (decodeLiveOrNew), minus every field the object sets:
        # those go to the creating manager below, so an entry survives only for fields the object lacks (or
        # that the strategy resets, such as status).
        entries = decode_given(given_on_create)
    new_map = leaf_map(new, rt.kind, part, status_sub)
    old_map = leaf_map(old, rt.kind, part, status_sub) if old is not None else {}
    changed = {p for p, v in new_map.items() if p not in old_map or old_map[p] != v}
    removed = set(old_map) - set(new_map)
    if not changed and not removed and old is not None:
        nm["managedFields"] = entries or None
        if not entries:
            nm.pop("managedFields", None)
        return
    out = []
    mine = None
    for e in entries:
        s = fields_to_set(e.get("fieldsV1"))
        if _same_entry(e, manager, "Update", api_version, subresource if subresource == "status" else None):
            mine = s
            continue
        s2 = s - removed - changed
        if s2 != s:
            if not s2:
                continue
            e["fieldsV1"] = set_to_fields(s2, e.get("operation") != "Apply")
        out.append(e)
    mine = ((mine or set()) - removed) | changed
    if mine:
        out.append(_entry(manager, "Update", api_version, mine, subresource if subresource == "status" else None))
    if out:
        nm["managedFields"] = out
    else:
        nm.pop("managedFields", None)


def path_str(p):
    s = ""
    for el in p:
        if el.startswith("f:"):
            s += "." + el[2:]
        elif el.startswith("k:"):
            d = json.loads(el[2:])
            s += "[" + ",".join("%s=%s" % (k, json.dumps(v)) for k, v in d.items()) + "]"
        elif el.startswith("v:"):
            s += "[=" + el[2:] + "]"
    return s


def print_manager(e):
    if e.get("operation") == "Update":
        return '"%s" using %s' % (e.get("manager"), e.get("apiVersion"))
    return '"%s"' % e.get("manager")


def apply_ownership(live, merged, config_map, manager, api_version, force, rt):
    """Ownership after an apply.  Returns (entries, conflicts [(entry, path)])."""
    entries = dcopy(((live or {}).get("metadata") or {}).get("managedFields") or [])
    live_map = leaf_map(live, rt.kind, "main", rt.status) if live else {}
    conflicts = []
    out = []
    for e in entries:
        if e.get("manager") == manager and e.get("operation") == "Apply" and not e.get("subresource"):
            continue
        s = fields_to_set(e.get("fieldsV1"))
        hit = set()
        for p in config_map:
            if p in s and p in live_map and live_map[p] != config_map[p]:
                hit.add(p)
        if hit and not force:
            for p in sorted(hit):
                conflicts.append((e, p))
        s2 = s - hit
        if s2 != s:
            if not s2:
                continue
            e["fieldsV1"] = set_to_fields(s2, e.get("operation") != "Apply")
        out.append(e)
    out.append(_entry(manager, "Apply", api_version, set(config_map), None, dots=False))
    return out, conflicts


def previous_apply_set(live, manager):
    for e in ((live or {}).get("metadata") or {}).get("managedFields") or []:
        if e.get("manager") == manager and e.get("operation") == "Apply" and not e.get("subresource"):
            return fields_to_set(e.get("fieldsV1"))
    return set()


def owned_by_others(live, manager):
    s = set()
    for e in ((live or {}).get("metadata") or {}).get("managedFields") or []:
        if e.get("manager") == manager and e.get("operation") == "Apply":
            continue
        s |= fields_to_set(e.get("fieldsV1"))
    return s
