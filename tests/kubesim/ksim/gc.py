"""Garbage collector: ownerReferences, cascading deletion (Background / Foreground / Orphan).

Follows kube-controller-manager's garbagecollector in what it writes:
* A dependent all of whose owners are absent (no object at the owner's coordinates with the referenced uid) is
  deleted with propagation Background; owners that are absent while others remain are removed from its
  ownerReferences.
* An owner being deleted with the `foregroundDeletion` finalizer: its dependents are deleted (Foreground for those with
  blockOwnerDeletion=true, so the cascade continues downwards); when no dependent with blockOwnerDeletion=true is left,
  the finalizer is removed (and the store removes the owner).
* An owner with the `orphan` finalizer: its uid is stripped from every dependent's ownerReferences, then the finalizer
  is removed.
An index owner-uid -> dependents is built from a scan of every resource type at start and kept up to date from the
store's events; the existence of an owner is always checked against the store (by coordinates and uid), never
assumed from the index. A full re-check of all dependents runs every `gc_full_resync_seconds` (default 10).
"""
import copy
import time

from .ctrl_common import BUILTIN_RESOURCES, info, log_exc, deleting, api_code


class GarbageCollector:
    def __init__(self, mgr):
        self.mgr = mgr
        self.store = mgr.store
        self.deps = {}          # owner uid -> set(dependent key)
        self.refs = {}          # dependent key -> tuple(owner uids)
        self.pending = set()    # dependent keys to verify
        self.attention = set()  # owner keys being deleted with foregroundDeletion / orphan finalizers
        self.kinds = {}         # (group, kind) -> (resource, namespaced)
        self.full_every = float(mgr.options.get("gc_full_resync_seconds", 10.0))
        self._last_full = time.monotonic()
        for g, _v, r, k, nsd in BUILTIN_RESOURCES:
            self.kinds[(g, k)] = (r, nsd)

    # ------------------------------------------------------------ resource types
    def resource_types(self):
        """[(group, resource, namespaced)] of every type the store serves (built-ins + CRDs)."""
        seen = {}
        for g, _v, r, _k, nsd in BUILTIN_RESOURCES:
            seen[(g, r)] = nsd
        registry = getattr(self.store, "registry", None)
        if registry is not None and hasattr(registry, "all_types"):
            # Everything the API server serves (its registry), so no type is forgotten.
            try:
                for rt in registry.all_types():
                    if "list" not in (getattr(rt, "verbs", None) or ["list"]):
                        continue   # virtual types (access reviews, token reviews) hold no objects
                    seen[(rt.group, rt.resource)] = bool(rt.namespaced)
                    if getattr(rt, "kind", None):
                        self.kinds[(rt.group, rt.kind)] = (rt.resource, bool(rt.namespaced))
            except Exception:
                log_exc("reading the registry's resource types")
        for crd in self.mgr.lst("apiextensions.k8s.io", "customresourcedefinitions"):
            spec = crd.get("spec") or {}
            names = spec.get("names") or {}
            if spec.get("group") and names.get("plural"):
                seen[(spec["group"], names["plural"])] = spec.get("scope", "Namespaced") == "Namespaced"
                if names.get("kind"):
                    self.kinds[(spec["group"], names["kind"])] = (names["plural"], spec.get("scope") != "Cluster")
        return [(g, r, nsd) for (g, r), nsd in seen.items()]

    @staticmethod
    def key(group, resource, obj):
        md = obj.get("metadata") or {}
        return (group, resource, md.get("namespace") or None, md.get("name"))

    # ------------------------------------------------------------ index maintenance
    def _index(self, key, obj, deleted=False):
        old = self.refs.pop(key, ())
        for u in old:
            s = self.deps.get(u)
            if s is not None:
                s.discard(key)
                if not s:
                    del self.deps[u]
        if deleted:
            return
        uids = tuple(r.get("uid") for r in (obj.get("metadata") or {}).get("ownerReferences") or [] if r.get("uid"))
        if uids:
            self.refs[key] = uids
            for u in uids:
                self.deps.setdefault(u, set()).add(key)
        if set(uids) != set(old) and uids:
            self.pending.add(key)

    def initial_scan(self):
        for g, r, _nsd in self.resource_types():
            for obj in self.mgr.lst(g, r):
                k = self.key(g, r, obj)
                self._index(k, obj)
                self._note_owner(k, obj)

    def _note_owner(self, key, obj):
        fins = (obj.get("metadata") or {}).get("finalizers") or []
        if deleting(obj) and ("foregroundDeletion" in fins or "orphan" in fins):
            self.attention.add(key)

    def observe(self, event_type, group, resource, obj):
        k = self.key(group, resource, obj)
        if (group, resource) == ("apiextensions.k8s.io", "customresourcedefinitions"):
            spec = obj.get("spec") or {}
            names = spec.get("names") or {}
            if names.get("kind"):
                self.kinds[(spec.get("group"), names["kind"])] = (names.get("plural"), spec.get("scope") != "Cluster")
        if event_type == "DELETED":
            self._index(k, obj, deleted=True)
            uid = (obj.get("metadata") or {}).get("uid")
            for dk in list(self.deps.get(uid, ())):
                self.pending.add(dk)
            return
        self._index(k, obj)
        self._note_owner(k, obj)

    # ------------------------------------------------------------ owner lookup
    def _owner_state(self, dep_ns, ref):
        """-> "present", "absent" or "unknown" (owner kind not served: never collect on doubt)."""
        api_version = ref.get("apiVersion") or ""
        group = api_version.split("/", 1)[0] if "/" in api_version else ""
        info = self.kinds.get((group, ref.get("kind")))
        if info is None:
            self.resource_types()
            info = self.kinds.get((group, ref.get("kind")))
        if info is None:
            # Another served version/group of a known type (e.g. extensions/v1beta1 Ingress on 1.21)?
            registry = getattr(self.store, "registry", None)
            rt = None
            if registry is not None and hasattr(registry, "find_kind") and "/" in api_version:
                try:
                    rt = registry.find_kind(group, api_version.split("/", 1)[1], ref.get("kind"))
                except Exception:
                    rt = None
            if rt is None:
                return "unknown", None
            group, info = rt.group, (rt.resource, bool(rt.namespaced))
        resource, namespaced = info
        try:
            owner = self.store.get(group, resource, dep_ns if namespaced else None, ref.get("name"))
        except Exception as e:
            if api_code(e) == 404:
                return "absent", None
            return "unknown", None
        if owner is None or (owner.get("metadata") or {}).get("uid") != ref.get("uid"):
            return "absent", None
        return "present", (group, resource, dep_ns if namespaced else None, ref.get("name"))

    # ------------------------------------------------------------ the work
    def process(self):
        now = time.monotonic()
        if now - self._last_full >= self.full_every:
            self._last_full = now
            self.pending.update(self.refs.keys())
        if self.pending:
            todo, self.pending = self.pending, set()
            for k in todo:
                try:
                    self._verify(k)
                except Exception:
                    log_exc("garbage collector verify %s" % (k,))
        if self.attention:
            for k in list(self.attention):
                try:
                    if self._process_owner(k):
                        self.attention.discard(k)
                except Exception:
                    log_exc("garbage collector owner %s" % (k,))

    def _verify(self, key):
        g, r, ns, name = key
        obj = self.mgr.get(g, r, ns, name)
        if obj is None:
            return
        refs = (obj.get("metadata") or {}).get("ownerReferences") or []
        if not refs:
            return
        absent, present = [], []
        for ref in refs:
            state, okey = self._owner_state(ns, ref)
            if state == "absent":
                absent.append(ref)
            else:
                present.append(ref)
                if okey is not None:
                    owner = self.mgr.get(*okey)
                    if owner is not None:
                        self._note_owner(okey, owner)
        if not absent:
            return
        if not present:
            if not deleting(obj):
                self.mgr.delete(g, r, ns, name, propagation="Background")
            return
        o2 = copy.deepcopy(obj)
        o2["metadata"]["ownerReferences"] = present
        self.mgr.update(g, r, o2)

    def _process_owner(self, key):
        """Returns True when nothing is left to do for this owner."""
        g, r, ns, name = key
        owner = self.mgr.get(g, r, ns, name)
        if owner is None or not deleting(owner):
            return True
        md = owner["metadata"]
        uid = md.get("uid")
        fins = md.get("finalizers") or []
        dep_keys = list(self.deps.get(uid, ()))
        if "orphan" in fins:
            ok = True
            for dk in dep_keys:
                dep = self.mgr.get(*dk)
                if dep is None:
                    continue
                refs = (dep.get("metadata") or {}).get("ownerReferences") or []
                keep = [x for x in refs if x.get("uid") != uid]
                if len(keep) != len(refs):
                    d2 = copy.deepcopy(dep)
                    if keep:
                        d2["metadata"]["ownerReferences"] = keep
                    else:
                        d2["metadata"].pop("ownerReferences", None)
                        d2["metadata"]["ownerReferences"] = []
                    if self.mgr.update(dk[0], dk[1], d2) is None:
                        ok = False
            if not ok:
                return False
            return self._remove_finalizer(key, "orphan")
        if "foregroundDeletion" in fins:
            blocking = 0
            for dk in dep_keys:
                dep = self.mgr.get(*dk)
                if dep is None:
                    continue
                ref = next((x for x in (dep.get("metadata") or {}).get("ownerReferences") or []
                            if x.get("uid") == uid), None)
                if ref is None:
                    continue
                block = bool(ref.get("blockOwnerDeletion"))
                if not deleting(dep):
                    self.mgr.delete(dk[0], dk[1], dk[2], dk[3],
                                    propagation="Foreground" if block else "Background")
                    dep = self.mgr.get(*dk)
                    if dep is None:
                        continue
                    self._note_owner(dk, dep)
                if block:
                    blocking += 1
            if blocking:
                return False
            return self._remove_finalizer(key, "foregroundDeletion")
        return True

    def _remove_finalizer(self, key, fin):
        g, r, ns, name = key
        owner = self.mgr.get(g, r, ns, name)
        if owner is None:
            return True
        fins = owner["metadata"].get("finalizers") or []
        if fin not in fins:
            return True
        o2 = copy.deepcopy(owner)
        o2["metadata"]["finalizers"] = [f for f in fins if f != fin]
        res = self.mgr.call(self.store.update, g, r, o2)
        if res is None:
            # None also when the update removed the object (last finalizer): check.
            return self.mgr.get(g, r, ns, name) is None or fin not in (
                (self.mgr.get(g, r, ns, name) or {}).get("metadata", {}).get("finalizers") or [])
        info("garbage collector: removed finalizer %s from %s %s/%s" % (fin, r, ns or "", name))
        return True
