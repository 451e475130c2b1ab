"""CustomResourceDefinitions: a store subscriber that, like the apiextensions controllers, accepts names and
establishes a new CRD after a short delay (then its resource is served), keeps the registry's custom types in sync,
and on CRD deletion removes every custom object before releasing the `customresourcecleanup` finalizer."""
import threading
import time

from .registry import RT, Sub, ALL_VERBS, sort_versions
from .store import ApiError
from .util import now_ts

CRD = ("apiextensions.k8s.io", "customresourcedefinitions")
FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def _established(o):
    for c in (o.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Established" and c.get("status") == "True":
            return True
    return False


def crd_type(o):
    spec = o.get("spec") or {}
    names = spec.get("names") or {}
    versions = [v for v in spec.get("versions") or [] if v.get("served")]
    if not versions:
        return None
    served = sort_versions([v["name"] for v in versions])
    storage = next((v["name"] for v in spec.get("versions") or [] if v.get("storage")), served[0])
    subs = []
    srv = {v["name"]: v for v in versions}
    sub_def = (srv.get(served[0]) or {}).get("subresources") or {}
    status = "status" in sub_def
    if "scale" in sub_def:
        subs.append(Sub("scale", "Scale", ["get", "patch", "update"], "autoscaling", "v1"))
    rt = RT(spec.get("group", ""), names.get("plural", ""), names.get("kind", ""),
            namespaced=spec.get("scope") == "Namespaced", short=names.get("shortNames") or [],
            cats=names.get("categories") or [], verbs=ALL_VERBS, subs=subs, status=status, generation=True,
            singular=names.get("singular") or names.get("kind", "").lower(), crd=o, storage_version=storage)
    rt.served_versions = served
    return rt


class CRDManager:
    def __init__(self, store, registry, delay=0.3):
        self.store, self.registry, self.delay = store, registry, delay
        self._timers = []
        self.sync_registry()

    def sync_registry(self):
        types = []
        for o in self.store.list(*CRD):
            if _established(o) and not o["metadata"].get("deletionTimestamp"):
                rt = crd_type(o)
                if rt:
                    types.append(rt)
        self.registry.set_crd_types(types)

    def on_event(self, etype, group, resource, obj):
        if (group, resource) != CRD:
            return
        if etype == "DELETED":
            self.sync_registry()
            return
        m = obj["metadata"]
        if m.get("deletionTimestamp"):
            threading.Thread(target=self._cleanup, args=(m["name"],), daemon=True).start()
            return
        if not _established(obj) or self._names_changed(obj):
            t = threading.Timer(self.delay, self._establish, args=(m["name"],))
            t.daemon = True
            t.start()
        else:
            self.sync_registry()

    def _names_changed(self, o):
        acc = (o.get("status") or {}).get("acceptedNames") or {}
        names = (o.get("spec") or {}).get("names") or {}
        return acc.get("plural") != names.get("plural") or acc.get("kind") != names.get("kind")

    def establish_now(self, name):
        self._establish(name)

    def _establish(self, name):
        with self.store.lock:
            o = self.store.get(*CRD, None, name)
            if o is None or o["metadata"].get("deletionTimestamp"):
                return
            names = dict((o.get("spec") or {}).get("names") or {})
            names.setdefault("singular", names.get("kind", "").lower())
            names.setdefault("listKind", names.get("kind", "") + "List")
            now = now_ts()
            conds = [
                {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts",
                 "message": "no conflicts found"},
                {"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted"}]
            old_conds = {c.get("type"): c for c in (o.get("status") or {}).get("conditions") or []}
            for c in conds:
                oc = old_conds.get(c["type"])
                if oc and oc.get("status") == "True":
                    c["lastTransitionTime"] = oc.get("lastTransitionTime", now)
            stored = list((o.get("status") or {}).get("storedVersions") or [])
            for v in o["spec"].get("versions") or []:
                if v.get("storage") and v["name"] not in stored:
                    stored.append(v["name"])
            o["status"] = {"conditions": conds, "acceptedNames": names, "storedVersions": stored}
            o["metadata"].pop("resourceVersion", None)
            try:
                self.store.update(*CRD, o, subresource="status", manager="kube-apiserver")
            except ApiError:
                return
        self.sync_registry()
        self.sync_apiservices()

    def sync_apiservices(self):
        """The crd-autoregister controller: an APIService `<version>.<group>` for every served CRD group-version
        (labelled automanaged), removed when no CRD serves it any more."""
        from .bootstrap import apiservice, create_apiservice, GROUP_PRIORITY
        AS = ("apiregistration.k8s.io", "apiservices")
        if self.registry.storage_type(*AS) is None:
            return
        want = {}
        for rt in list(self.registry.crd_types.values()):
            if rt.group in GROUP_PRIORITY:
                continue
            for v in rt.served_versions:
                want["%s.%s" % (v, rt.group)] = (rt.group, v)
        with self.store.lock:
            have = {o["metadata"]["name"]: o for o in self.store.list(*AS)
                    if (o["metadata"].get("labels") or {}).get("kube-aggregator.kubernetes.io/automanaged") == "true"}
            for name, (g, v) in want.items():
                if name not in have and self.store.raw_get(*AS, None, name) is None:
                    o = apiservice(g, v, local=False)
                    o["status"]["conditions"][0]["lastTransitionTime"] = now_ts()
                    try:
                        create_apiservice(self.store, o)
                    except ApiError:
                        pass
            for name in have:
                if name not in want:
                    self.store.delete(*AS, None, name)

    def _cleanup(self, name):
        o = self.store.get(*CRD, None, name)
        if o is None:
            return
        group = o["spec"].get("group", "")
        plural = o["spec"]["names"].get("plural", "")
        self.store.drop_type(group, plural)
        with self.store.lock:
            cur = self.store.get(*CRD, None, name)
            if cur is None:
                return
            fins = [f for f in cur["metadata"].get("finalizers") or [] if f != FINALIZER]
            cur["metadata"]["finalizers"] = fins
            cur["metadata"].pop("resourceVersion", None)
            try:
                self.store.update(*CRD, cur, manager="kube-apiserver")
            except ApiError:
                pass
        self.sync_registry()
        self.sync_apiservices()
