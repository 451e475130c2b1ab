"""Namespace lifecycle: a deleted namespace stays Terminating while its content is deleted.

What the real namespace controller does, and so this one: for a namespace with deletionTimestamp it deletes every
namespaced object of every served resource type (built-ins and custom resources), reports progress in
status.conditions (NamespaceDeletionDiscoveryFailure, NamespaceDeletionGroupVersionParsingFailure,
NamespaceDeletionContentFailure, NamespaceContentRemaining, NamespaceFinalizersRemaining, with the real reasons and
messages), and once nothing is left removes the `kubernetes` finalizer from spec.finalizers through the `finalize`
subresource; the store then removes the namespace (unless metadata.finalizers remain).
kubesim keeps the namespace Terminating at least `namespace_termination_seconds` (option, default 2.0) after the
deletion started, so clients can observe the Terminating state and the 403 on creates in it.
"""
import copy
import time

from .ctrl_common import now_str, parse_time, deleting, set_condition


class NamespaceController:
    def __init__(self, mgr):
        self.mgr = mgr
        self.store = mgr.store
        self.seconds = float(mgr.options.get("namespace_termination_seconds", 2.0))
        self.first_seen = {}    # namespace uid -> monotonic time we first saw it terminating

    def sync(self):
        namespaces = [n for n in self.mgr.lst("", "namespaces") if deleting(n)]
        if not namespaces:
            self.first_seen.clear()
            return
        types = None
        for ns in namespaces:
            if types is None:
                types = [(g, r) for g, r, nsd in self.mgr.gc.resource_types() if nsd]
            self._sync_one(ns, types)

    def _sync_one(self, ns, types):
        md = ns["metadata"]
        name = md["name"]
        uid = md.get("uid")
        if uid not in self.first_seen:
            started = parse_time(md.get("deletionTimestamp"))
            lag = max(0.0, time.time() - started) if started else 0.0
            self.first_seen[uid] = time.monotonic() - min(lag, self.seconds)
        remaining = {}
        finalizers = {}
        for g, r in types:
            if (g, r) == ("", "events") or (g, r) == ("events.k8s.io", "events"):
                items = self.mgr.lst(g, r, name)
            else:
                items = self.mgr.lst(g, r, name)
            if not items:
                continue
            label = "%s.%s" % (r, g)
            for obj in items:
                if not deleting(obj):
                    self.mgr.delete(g, r, name, obj["metadata"]["name"], propagation="Background")
                    still = self.mgr.get(g, r, name, obj["metadata"]["name"])
                    if still is None:
                        continue
                    obj = still
                remaining[label] = remaining.get(label, 0) + 1
                for f in obj["metadata"].get("finalizers") or []:
                    finalizers[f] = finalizers.get(f, 0) + 1
        now = now_str()
        st = copy.deepcopy(ns.get("status") or {})
        st["phase"] = "Terminating"
        conds = st.setdefault("conditions", [])
        set_condition(conds, "NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered",
                      "All resources successfully discovered", now)
        set_condition(conds, "NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions",
                      "All legacy kube types successfully parsed", now)
        set_condition(conds, "NamespaceDeletionContentFailure", "False", "ContentDeleted",
                      "All content successfully deleted, may be waiting on finalization", now)
        if remaining:
            msg = "Some resources are remaining: " + ", ".join(
                "%s has %d resource instances" % (k, v) for k, v in sorted(remaining.items()))
            set_condition(conds, "NamespaceContentRemaining", "True", "SomeResourcesRemain", msg, now)
        else:
            set_condition(conds, "NamespaceContentRemaining", "False", "ContentRemoved",
                          "All content successfully removed", now)
        if finalizers:
            msg = "Some content in the namespace has finalizers remaining: " + ", ".join(
                "%s in %d resource instances" % (k, v) for k, v in sorted(finalizers.items()))
            set_condition(conds, "NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain", msg, now)
        else:
            set_condition(conds, "NamespaceFinalizersRemaining", "False", "ContentHasNoFinalizers",
                          "All content-preserving finalizers have been successfully removed", now)
        res = self.mgr.update_status("", "namespaces", ns, st)
        if res is not None:
            ns = res
        if remaining or time.monotonic() - self.first_seen[uid] < self.seconds:
            self.mgr._dirty = True
            return
        fins = (ns.get("spec") or {}).get("finalizers") or []
        if "kubernetes" in fins:
            n2 = copy.deepcopy(ns)
            n2.setdefault("spec", {})["finalizers"] = [f for f in fins if f != "kubernetes"]
            self.mgr.call(self.store.update, "", "namespaces", n2, subresource="finalize")
        self.first_seen.pop(uid, None) if self.mgr.get("", "namespaces", None, name) is None else None
