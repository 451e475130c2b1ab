"""kubesim's kube-controller-manager, scheduler and kubelet, in one worker thread.

Contract (see the issue and tests/kubesim/README-controllers.md): ControllerManager(store, state_dir, profile, options)
.start() subscribes to the store and runs a worker thread that reconciles on every committed change and on a periodic
resync; .stop() ends it. Every controller is level-triggered (it recomputes the desired state from the stored objects
each pass), writes only when something differs (so passes converge), and treats 409/404/403 answers as "try again
next pass". Exceptions are logged to stderr and never kill the thread.

Controllers: pod scheduling + kubelet-like pod status, ReplicaSet, Deployment, StatefulSet, DaemonSet, Job, CronJob,
Job TTL, Endpoints, EndpointSlices, service-account token Secrets, plus storage (volumes.py), garbage collection
(gc.py) and namespace lifecycle (namespace_controller.py).
"""
import base64
import copy
import hashlib
import json
import math
import os
import queue
import threading
import time

from .ctrl_common import (
    info, log_exc, now_str, parse_time, rand_suffix, template_hash, match_selector, match_map_selector,
    controller_ref, owner_ref, is_controlled_by, deleting, pod_ready, pod_active, set_condition, api_code,
    parse_quantity)
from . import ctrl_common
from . import gc as gc_mod
from . import namespace_controller as ns_mod
from . import volumes as vol_mod

JOB_TRACKING = "batch.kubernetes.io/job-tracking"

WATCHED = {
    ("", "pods"), ("", "services"), ("", "endpoints"), ("", "serviceaccounts"), ("", "secrets"), ("", "nodes"),
    ("", "persistentvolumeclaims"), ("", "persistentvolumes"), ("", "namespaces"), ("", "replicationcontrollers"),
    ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"), ("apps", "daemonsets"),
    ("apps", "controllerrevisions"), ("batch", "jobs"), ("batch", "cronjobs"), ("discovery.k8s.io", "endpointslices"),
    ("storage.k8s.io", "storageclasses"), ("snapshot.storage.k8s.io", "volumesnapshots"),
    ("snapshot.storage.k8s.io", "volumesnapshotcontents"), ("snapshot.storage.k8s.io", "volumesnapshotclasses"),
    ("apiextensions.k8s.io", "customresourcedefinitions"), ("policy", "poddisruptionbudgets"),
    ("", "resourcequotas"), ("storage.k8s.io", "csinodes"), ("autoscaling", "horizontalpodautoscalers"),
}


class ControllerManager:
    def __init__(self, store, state_dir, profile, options=None):
        self.store = store
        self.state_dir = state_dir
        self.profile = profile or "1.30"
        self.options = dict(options or {})
        ctrl_common.VERBOSE[0] = bool(self.options.get("verbose"))
        self.resync = float(self.options.get("resync_seconds", 0.2))
        self.job_pod_seconds = float(self.options.get("job_pod_run_seconds", 1.0))
        self._q = queue.SimpleQueue()  # put and get in C (one event per commit comes through it)
        self._stop = threading.Event()
        self._thread = None
        self._dirty = True
        self._last_full = 0.0
        self._pod_started = {}      # pod uid -> monotonic time it became Running (Job pods finish after a while)
        self._inits = {}            # pod uid -> its init containers' run (see _init_containers_done)
        self._probes = {}           # pod uid -> {container: readiness probe state} (see _readiness)
        self._probe_lock = threading.Lock()
        self._errors_seen = set()
        self._pass_cache = None     # (group, resource) -> list, shared by the controllers within one pass
        self._events_seen = set()
        self._orphan_seen = {}      # pod uid -> monotonic time first seen bound to a node that does not exist
        self._terminating_seen = {}  # pod uid -> monotonic time its graceful deletion was first seen
        self.idle_resync = float(self.options.get("idle_resync_seconds", 2.0))
        self.gc = gc_mod.GarbageCollector(self)
        self.namespaces = ns_mod.NamespaceController(self)
        self.storage = vol_mod.StorageController(self)

    @property
    def old(self):
        """True for the 1.21 profile."""
        return str(self.profile).startswith("1.2") and self.profile != "1.30"

    # ---------------------------------------------------------------- lifecycle
    def start(self):
        self.store.subscribe(self._on_event)
        self._thread = threading.Thread(target=self._run, name="kubesim-controllers", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._q.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _on_event(self, event_type, group, resource, obj):
        # Called by the store after each commit, outside its lock: only queue.
        self._q.put((event_type, group, resource, obj))

    def _run(self):
        try:
            self.gc.initial_scan()
        except Exception:
            log_exc("garbage collector initial scan")
        while not self._stop.is_set():
            events = []
            try:
                ev = self._q.get(timeout=self.resync)
                if ev is not None:
                    events.append(ev)
                while True:
                    ev = self._q.get_nowait()
                    if ev is not None:
                        events.append(ev)
            except queue.Empty:
                pass
            if self._stop.is_set():
                break
            relevant = False
            for ev in events:
                try:
                    self.gc.observe(*ev)
                except Exception:
                    log_exc("garbage collector observe")
                if (ev[1], ev[2]) in WATCHED:
                    relevant = True
                try:
                    self._observe(*ev)
                except Exception:
                    log_exc("event hook")
            now = time.monotonic()
            if relevant or (self._dirty and now - self._last_full >= self.resync) or \
                    now - self._last_full >= self.idle_resync:
                self._dirty = False
                self._last_full = now
                self.sync_all()
            try:
                self.gc.process()
            except Exception:
                log_exc("garbage collector")

    def _observe(self, event_type, group, resource, obj):
        if event_type != "DELETED":
            return
        md = obj.get("metadata") or {}
        if (group, resource) == ("", "services"):
            # The endpoints controller deletes a Service's Endpoints when the Service goes.
            self.call(self.store.delete, "", "endpoints", md.get("namespace"), md.get("name"))
        elif (group, resource) == ("", "pods"):
            self._pod_started.pop(md.get("uid"), None)
            self._inits.pop(md.get("uid"), None)
            with self._probe_lock:
                self._probes.pop(md.get("uid"), None)
            try:
                from . import exec_ws
                exec_ws.kill_pod_execs(md.get("uid"))
            except Exception:
                log_exc("stopping execs of a deleted pod")
            vol_mod.cleanup_pod_dirs(self.state_dir, obj)

    # ---------------------------------------------------------------- helpers
    def call(self, fn, *args, **kw):
        """Run one store write; conflicts, missing objects and terminating namespaces mean "retry next pass"."""
        try:
            return fn(*args, **kw)
        except Exception as e:
            code = api_code(e)
            if code in (404, 409, 403, 410, 422, 429, 500, 503) and code is not None:
                self._dirty = True if code in (409, 429, 500, 503) else self._dirty
                if code == 422:
                    key = (getattr(fn, "__name__", "?"), str(e)[:200])
                    if key not in self._errors_seen:
                        self._errors_seen.add(key)
                        info("write rejected (%s): %s" % (code, getattr(e, "message", e)))
                return None
            log_exc("store write %s" % getattr(fn, "__name__", fn))
            return None

    def lst(self, group, resource, namespace=None):
        cache = self._pass_cache
        if cache is not None and namespace is None:
            hit = cache.get((group, resource))
            if hit is not None:
                return hit
        try:
            raw = getattr(self.store, "raw_items", None)
            if raw is not None:
                # Read-only references to the committed objects (the store never mutates them): the
                # controllers deep-copy whatever they change. Avoids copying every pod on every pass.
                out = [o for _, o in raw(group, resource, namespace)[0]]
            else:
                out = self.store.list(group, resource, namespace)
            if cache is not None and namespace is None:
                cache[(group, resource)] = out
            return out
        except Exception as e:
            if api_code(e) is None:
                log_exc("list %s/%s" % (group, resource))
            return []

    def get(self, group, resource, namespace, name):
        try:
            return self.store.get(group, resource, namespace, name)
        except Exception as e:
            if api_code(e) is None:
                log_exc("get %s/%s" % (group, resource))
            return None

    def update_status(self, group, resource, obj, status, manager=None):
        if obj.get("status") == status:
            return obj
        o = copy.deepcopy(obj)
        o["status"] = status
        return self.call(self.store.update, group, resource, o, subresource="status",
                         manager=manager or manager_for(group, resource))

    def update(self, group, resource, obj, manager=None):
        return self.call(self.store.update, group, resource, obj, manager=manager or manager_for(group, resource))

    def create(self, group, resource, obj, manager=None):
        return self.call(self.store.create, group, resource, obj, manager=manager or manager_for(group, resource))

    def delete(self, group, resource, namespace, name, propagation="Background"):
        return self.call(self.store.delete, group, resource, namespace, name, propagation=propagation)

    # ---------------------------------------------------------------- Events
    def event(self, obj, reason, message, component, etype="Normal", api_version=None, kind=None):
        """Record a core/v1 Event about obj, as the components' event recorders do (deduplicated by
        object, reason and message instead of counting repeats). Option `events: false` turns them off."""
        if not self.options.get("events", True) or obj is None:
            return
        md = obj.get("metadata") or {}
        ns = md.get("namespace") or "default"
        key = (md.get("uid"), reason, message)
        if key in self._events_seen:
            return
        if len(self._events_seen) > 200000:
            self._events_seen.clear()
        self._events_seen.add(key)
        now = now_str()
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": "%s.%x" % (md.get("name"), time.time_ns()), "namespace": ns},
              "involvedObject": {"kind": kind or obj.get("kind"), "namespace": md.get("namespace"),
                                 "name": md.get("name"), "uid": md.get("uid"),
                                 "apiVersion": api_version or obj.get("apiVersion"),
                                 "resourceVersion": md.get("resourceVersion")},
              "reason": reason, "message": message, "source": {"component": component},
              "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": etype, "eventTime": None,
              "reportingComponent": component, "reportingInstance": ""}
        if not md.get("namespace"):
            ev["involvedObject"].pop("namespace")
        if not ev["involvedObject"]["resourceVersion"]:
            ev["involvedObject"].pop("resourceVersion")
        self.call(self.store.create, "", "events", ev, manager=component)

    # ---------------------------------------------------------------- main pass
    def sync_all(self):
        steps = [
            ("storage", self.storage.sync),
            ("deployments", self.sync_deployments),
            ("replicasets", self.sync_replicasets),
            ("replicationcontrollers", self.sync_replicationcontrollers),
            ("statefulsets", self.sync_statefulsets),
            ("daemonsets", self.sync_daemonsets),
            ("cronjobs", self.sync_cronjobs),
            ("jobs", self.sync_jobs),
            ("job tracking finalizers", self.sync_job_tracking),
            ("pods", self.sync_pods),
            ("endpoints", self.sync_endpoints),
            ("serviceaccount tokens", self.sync_sa_tokens),
            ("csinodes", self.sync_csinodes),
            ("leases", self.sync_leases),
            ("horizontalpodautoscalers", self.sync_hpas),
            ("disruption", self.sync_pdbs),
            ("resourcequota", self.sync_quotas),
            ("namespaces", self.namespaces.sync),
        ]
        # Lists are shared within a pass (one copy per type); what a controller writes is seen by the others
        # on the next pass, which every write triggers through its event.
        self._pass_cache = {}
        try:
            for name, fn in steps:
                if self._stop.is_set():
                    return
                try:
                    fn()
                except Exception:
                    log_exc(name + " controller")
        finally:
            self._pass_cache = None

    # ---------------------------------------------------------------- pods: scheduler + kubelet
    def nodes(self):
        return sorted(self.lst("", "nodes"), key=lambda n: n["metadata"]["name"])

    @staticmethod
    def node_ip(node, index):
        for a in (node.get("status") or {}).get("addresses") or []:
            if a.get("type") == "InternalIP":
                return a.get("address")
        return "172.18.0.%d" % (index + 2)

    @staticmethod
    def tolerates(pod, taint):
        for t in (pod.get("spec") or {}).get("tolerations") or []:
            if t.get("effect") and t.get("effect") != taint.get("effect"):
                continue
            if t.get("operator") == "Exists":
                if not t.get("key") or t.get("key") == taint.get("key"):
                    return True
            elif t.get("key") == taint.get("key") and (t.get("value") or "") == (taint.get("value") or ""):
                return True
        return False

    def node_fits(self, pod, node):
        spec = pod.get("spec") or {}
        nlabels = (node.get("metadata") or {}).get("labels") or {}
        if (node.get("spec") or {}).get("unschedulable"):
            return False
        for t in (node.get("spec") or {}).get("taints") or []:
            if t.get("effect") in ("NoSchedule", "NoExecute") and not self.tolerates(pod, t):
                return False
        for k, v in (spec.get("nodeSelector") or {}).items():
            if nlabels.get(k) != v:
                return False
        req = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
               .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
        terms = req.get("nodeSelectorTerms") or []
        if terms:
            ok_any = False
            for term in terms:
                ok = True
                for e in term.get("matchExpressions") or []:
                    ok = ok and match_selector({"matchExpressions": [e]}, nlabels) if e.get("operator") in (
                        "In", "NotIn", "Exists", "DoesNotExist") else ok
                for e in term.get("matchFields") or []:
                    if e.get("key") == "metadata.name":
                        vals = e.get("values") or []
                        name = node["metadata"]["name"]
                        if (e.get("operator") == "In" and name not in vals) or (
                                e.get("operator") == "NotIn" and name in vals):
                            ok = False
                if ok:
                    ok_any = True
                    break
            if not ok_any:
                return False
        return True

    def sync_pods(self):
        pods = self.lst("", "pods")
        nodes = self.nodes()
        node_index = {n["metadata"]["name"]: i for i, n in enumerate(nodes)}
        used_ips = {(p.get("status") or {}).get("podIP") for p in pods}
        load = {}
        for p in pods:
            nn = (p.get("spec") or {}).get("nodeName")
            if nn:
                load[nn] = load.get(nn, 0) + 1
        pvcs = {(c["metadata"].get("namespace"), c["metadata"]["name"]): c
                for c in self.lst("", "persistentvolumeclaims")}
        classes = {c["metadata"]["name"]: c for c in self.lst("storage.k8s.io", "storageclasses")}
        for pod in pods:
            try:
                self._sync_pod(pod, nodes, node_index, used_ips, load, pvcs, classes)
            except Exception:
                log_exc("pod %s/%s" % (pod["metadata"].get("namespace"), pod["metadata"].get("name")))

    def _pod_pvc_state(self, pod, pvcs, classes):
        """-> (missing claim names, unbound immediate, unbound WaitForFirstConsumer PVC objects)."""
        ns = pod["metadata"].get("namespace")
        missing, immediate, wffc = [], [], []
        for v in (pod.get("spec") or {}).get("volumes") or []:
            src = v.get("persistentVolumeClaim")
            if v.get("ephemeral") is not None:
                src = {"claimName": "%s-%s" % (pod["metadata"]["name"], v.get("name"))}
            if not src:
                continue
            pvc = pvcs.get((ns, src.get("claimName")))
            if pvc is None or deleting(pvc):
                missing.append(src.get("claimName"))
                continue
            if (pvc.get("status") or {}).get("phase") == "Bound":
                continue
            sc = classes.get(vol_mod.effective_class_name(pvc, classes))
            if sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer":
                wffc.append(pvc)
            else:
                immediate.append(pvc)
        return missing, immediate, wffc

    def _unmountable(self, pod, pvcs):
        """(pv name, handle) of a bound kubesim CSI volume whose folder does not exist, else None."""
        ns = pod["metadata"].get("namespace")
        for v in (pod.get("spec") or {}).get("volumes") or []:
            claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
            if v.get("ephemeral") is not None:
                claim = "%s-%s" % (pod["metadata"]["name"], v.get("name"))
            vname = ((pvcs.get((ns, claim)) or {}).get("spec") or {}).get("volumeName") if claim else None
            if not vname:
                continue
            pv = next((p for p in self.lst("", "persistentvolumes") if p["metadata"]["name"] == vname), None)
            csi = ((pv or {}).get("spec") or {}).get("csi") or {}
            if vol_mod.is_kubesim_driver(csi.get("driver")) and csi.get("volumeHandle") and not os.path.isdir(
                    vol_mod.volume_dir(self.state_dir, csi["volumeHandle"])):
                return vname, csi["volumeHandle"]
        return None

    def _multi_attached(self, pod, pvcs, node_name):
        """The attach-detach controller's Multi-Attach error when a ReadWriteOnce volume of the pod is in use by a
        live pod on another node, else None."""
        ns = pod["metadata"].get("namespace")
        claims = []
        for v in (pod.get("spec") or {}).get("volumes") or []:
            claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
            if v.get("ephemeral") is not None:
                claim = "%s-%s" % (pod["metadata"]["name"], v.get("name"))
            pvc = pvcs.get((ns, claim)) if claim else None
            vname = ((pvc or {}).get("spec") or {}).get("volumeName")
            modes = ((pvc or {}).get("spec") or {}).get("accessModes") or []
            if vname and modes and all(m == "ReadWriteOnce" for m in modes):
                claims.append((claim, vname))
        if not claims:
            return None
        for claim, vname in claims:
            users = []
            for other in self.lst("", "pods", ns):
                om, osp = other["metadata"], other.get("spec") or {}
                if om.get("uid") == pod["metadata"].get("uid") or om.get("deletionTimestamp"):
                    continue
                if not osp.get("nodeName") or osp.get("nodeName") == node_name:
                    continue
                if (other.get("status") or {}).get("phase") != "Running":
                    continue
                if any((v.get("persistentVolumeClaim") or {}).get("claimName") == claim
                       for v in osp.get("volumes") or []):
                    users.append(om["name"])
            if users:
                return 'Multi-Attach error for volume "%s" Volume is already used by pod(s) %s' % (
                    vname, ", ".join(sorted(users)))
        return None

    def _bound_volume_terms(self, pod, pvcs):
        """nodeSelectorTerms of the PVs bound to the pod's claims (PV spec.nodeAffinity.required)."""
        ns = pod["metadata"].get("namespace")
        out = []
        pvs = None
        for v in (pod.get("spec") or {}).get("volumes") or []:
            claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
            if v.get("ephemeral") is not None:
                claim = "%s-%s" % (pod["metadata"]["name"], v.get("name"))
            pvc = pvcs.get((ns, claim)) if claim else None
            vname = ((pvc or {}).get("spec") or {}).get("volumeName")
            if not vname or (pvc.get("status") or {}).get("phase") != "Bound":
                continue
            if pvs is None:
                pvs = {p["metadata"]["name"]: p for p in self.lst("", "persistentvolumes")}
            terms = ((((pvs.get(vname) or {}).get("spec") or {}).get("nodeAffinity") or {}).get("required") or
                     {}).get("nodeSelectorTerms")
            if terms:
                out.append(terms)
        return out

    def _sync_pod(self, pod, nodes, node_index, used_ips, load, pvcs, classes):
        md = pod["metadata"]
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        if deleting(pod):
            # Graceful deletion (should the store keep pods for their grace period): the kubelet has stopped the
            # containers, so the pod goes as soon as no finalizer holds it.
            if not md.get("finalizers"):
                grace = md.get("deletionGracePeriodSeconds") or 0
                if grace > 0 and spec.get("nodeName"):
                    # The containers get their grace period (bounded by pod_termination_seconds: nothing really
                    # runs, but clients see the Terminating pod as on a node).
                    first = self._terminating_seen.setdefault(md["uid"], time.monotonic())
                    if time.monotonic() - first < min(float(grace),
                                                      float(self.options.get("pod_termination_seconds", 1.0))):
                        self._dirty = True
                        return
                    self._terminating_seen.pop(md["uid"], None)
                self._kill_pod(pod)
            return
        phase = status.get("phase")
        if phase in ("Succeeded", "Failed"):
            return
        self._ephemeral_claims(pod, pvcs)
        now = now_str()
        node_name = spec.get("nodeName")
        if not node_name and spec.get("schedulingGates") and not self.old:
            st = copy.deepcopy(status)
            st["phase"] = "Pending"
            set_condition(st.setdefault("conditions", []), "PodScheduled", "False", "SchedulingGated",
                          "Scheduling is blocked due to non-empty scheduling gates", now_str(), probe_time=True)
            st["qosClass"] = qos_class(pod)
            self.update_status("", "pods", pod, st)
            return
        if not node_name:
            missing, immediate, wffc = self._pod_pvc_state(pod, pvcs, classes)
            candidates = [n for n in nodes if self.node_fits(pod, n)]
            vol_terms = self._bound_volume_terms(pod, pvcs)
            conflict = False
            if vol_terms:
                fitting = [n for n in candidates if all(self.node_fits(
                    {"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": terms}}}}}, n) for terms in vol_terms)]
                conflict = bool(candidates) and not fitting
                candidates = fitting
            msg = None
            n_nodes = len(nodes)
            if conflict and not missing and not immediate:
                msg = "0/%d nodes are available: %d node(s) had volume node affinity conflict. preemption: 0/%d " \
                      "nodes are available: %d Preemption is not helpful for scheduling." % (n_nodes, n_nodes,
                                                                                           n_nodes, n_nodes)
            if missing:
                msg = "0/%d nodes are available: persistentvolumeclaim \"%s\" not found. preemption: 0/%d nodes " \
                      "are available: %d Preemption is not helpful for scheduling." % (n_nodes, missing[0], n_nodes,
                                                                                          n_nodes)
            elif immediate:
                msg = "0/%d nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: " \
                      "0/%d nodes are available: %d Preemption is not helpful for scheduling." % (n_nodes, n_nodes,
                                                                                                n_nodes)
            elif not candidates:
                msg = "0/%d nodes are available: %d node(s) didn't match Pod's node affinity/selector. " \
                      "preemption: 0/%d nodes are available: %d Preemption is not helpful for scheduling." % (
                          n_nodes, n_nodes, n_nodes, n_nodes)
            if msg is not None:
                st = copy.deepcopy(status)
                st["phase"] = "Pending"
                conds = st.setdefault("conditions", [])
                set_condition(conds, "PodScheduled", "False", "Unschedulable", msg, now, probe_time=True)
                self.event(pod, "FailedScheduling", msg, "default-scheduler", "Warning", "v1", "Pod")
                st["qosClass"] = qos_class(pod)
                self.update_status("", "pods", pod, st)
                return
            chosen = None
            for pvc in wffc:
                sel = (pvc["metadata"].get("annotations") or {}).get("volume.kubernetes.io/selected-node")
                if sel and any(n["metadata"]["name"] == sel for n in candidates):
                    chosen = sel
            if chosen is None:
                chosen = min(candidates, key=lambda n: (load.get(n["metadata"]["name"], 0),
                                                        n["metadata"]["name"]))["metadata"]["name"]
            if wffc:
                # Volume binding waits for the first consumer: tell the provisioner where the pod goes.
                for pvc in wffc:
                    ann = pvc["metadata"].get("annotations") or {}
                    if ann.get("volume.kubernetes.io/selected-node") != chosen:
                        p2 = copy.deepcopy(pvc)
                        p2["metadata"].setdefault("annotations", {})["volume.kubernetes.io/selected-node"] = chosen
                        self.update("", "persistentvolumeclaims", p2)
                st = copy.deepcopy(status)
                st["phase"] = "Pending"
                st["qosClass"] = qos_class(pod)
                self.update_status("", "pods", pod, st)
                return
            pod = self._bind(pod, chosen)
            if pod is None:
                return
            self.event(pod, "Scheduled", "Successfully assigned %s/%s to %s" % (md.get("namespace"), md["name"],
                                                                               chosen), "default-scheduler",
                       api_version="v1", kind="Pod")
            load[chosen] = load.get(chosen, 0) + 1
            node_name = chosen
            status = pod.get("status") or {}
        if not any(n["metadata"]["name"] == node_name for n in nodes):
            # No kubelet will ever run it; the pod garbage collector deletes pods bound to nodes that do not
            # exist (after a quarantine: 40 s upstream, `orphan_pod_seconds` here).
            first = self._orphan_seen.setdefault(md["uid"], time.monotonic())
            if time.monotonic() - first >= float(self.options.get("orphan_pod_seconds", 5.0)):
                self.delete("", "pods", md.get("namespace"), md["name"])
                self._orphan_seen.pop(md["uid"], None)
            else:
                self._dirty = True
            return
        node = next((n for n in nodes if n["metadata"]["name"] == node_name), None)
        # Kubelet: wait for volumes, then run.
        missing, immediate, wffc = self._pod_pvc_state(pod, pvcs, classes)
        if missing or immediate or wffc:
            st = copy.deepcopy(status)
            st["phase"] = "Pending"
            conds = st.setdefault("conditions", [])
            set_condition(conds, "PodScheduled", "True", None, None, now, probe_time=True)
            st["qosClass"] = qos_class(pod)
            self.update_status("", "pods", pod, st)
            return
        if phase != "Running":
            lost = self._unmountable(pod, pvcs)
            multi = None if lost else self._multi_attached(pod, pvcs, node_name)
            if lost or multi:
                # NodePublishVolume fails for a CSI volume whose data this cluster does not have; a ReadWriteOnce
                # volume attached to another node cannot be attached here.
                pv_name, handle = lost or (None, None)
                st = copy.deepcopy(status)
                st["phase"] = "Pending"
                conds = st.setdefault("conditions", [])
                set_condition(conds, "PodScheduled", "True", None, None, now, probe_time=True)
                set_condition(conds, "Ready", "False", "ContainersNotReady",
                              "containers with unready status: [%s]" % " ".join(
                                  c.get("name", "") for c in spec.get("containers") or []), now, probe_time=True)
                st["qosClass"] = qos_class(pod)
                st["containerStatuses"] = [{"image": c.get("image"), "imageID": "", "lastState": {},
                                            "name": c.get("name"), "ready": False, "restartCount": 0,
                                            "started": False, "state": {"waiting": {"reason": "ContainerCreating"}}}
                                           for c in spec.get("containers") or []]
                if node is not None:
                    st["hostIP"] = self.node_ip(node, node_index.get(node_name, 0))
                self.update_status("", "pods", pod, st)
                if multi:
                    self.event(pod, "FailedAttachVolume", multi, "attachdetach-controller", "Warning", "v1", "Pod")
                    self._dirty = True  # look again when the other pod goes
                    return
                self.event(pod, "FailedMount", 'MountVolume.SetUp failed for volume "%s" : rpc error: code = '
                           'NotFound desc = volume id %s does not exist in the volumes list' % (pv_name, handle),
                           "kubelet", "Warning", "v1", "Pod")
                return
        if phase == "Running":
            self._readiness(pod)
            owner = controller_ref(pod)
            if owner and owner.get("kind") == "Job" and (spec.get("restartPolicy") in ("Never", "OnFailure")):
                started = self._pod_started.get(md["uid"])
                if started is None:
                    started = time.monotonic()
                    self._pod_started[md["uid"]] = started
                if time.monotonic() - started >= self.job_pod_seconds:
                    self.update_status("", "pods", pod, self._completed_status(pod))
                else:
                    self._dirty = True
            return
        if spec.get("initContainers") and not self._init_containers_done(pod, status, now):
            return
        idx = node_index.get(node_name, 0)
        node = next((n for n in nodes if n["metadata"]["name"] == node_name), None)
        host_ip = self.node_ip(node, idx) if node else "172.18.0.2"
        if spec.get("hostNetwork"):
            pod_ip = host_ip
        else:
            pod_ip = status.get("podIP") or alloc_pod_ip(node, idx, used_ips)
            used_ips.add(pod_ip)
        self._pod_started[md["uid"]] = time.monotonic()
        if self.update_status("", "pods", pod, self._running_status(pod, host_ip, pod_ip)) is not None:
            for c in spec.get("initContainers", []) + spec.get("containers", []):
                self.event(pod, "Pulled", 'Container image "%s" already present on machine' % c.get("image"),
                           "kubelet", api_version="v1", kind="Pod")
                self.event(pod, "Created", "Created container %s" % c.get("name"), "kubelet", api_version="v1",
                           kind="Pod")
                self.event(pod, "Started", "Started container %s" % c.get("name"), "kubelet", api_version="v1",
                           kind="Pod")

    def _ephemeral_claims(self, pod, pvcs):
        """The ephemeral volume controller: a PVC `<pod>-<volume>` owned by the pod for each generic ephemeral
        volume (labels/annotations/spec from the volumeClaimTemplate)."""
        md = pod["metadata"]
        for v in (pod.get("spec") or {}).get("volumes") or []:
            eph = v.get("ephemeral")
            if eph is None:
                continue
            name = "%s-%s" % (md["name"], v.get("name"))
            if (md.get("namespace"), name) in pvcs:
                continue
            tmpl = eph.get("volumeClaimTemplate") or {}
            tm = tmpl.get("metadata") or {}
            pmd = {"name": name, "namespace": md.get("namespace"),
                   "ownerReferences": [owner_ref(pod, "v1", "Pod")]}
            if tm.get("labels"):
                pmd["labels"] = dict(tm["labels"])
            if tm.get("annotations"):
                pmd["annotations"] = dict(tm["annotations"])
            res = self.create("", "persistentvolumeclaims", {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                                             "metadata": pmd,
                                                             "spec": copy.deepcopy(tmpl.get("spec") or {})})
            if res is not None:
                pvcs[(md.get("namespace"), name)] = res

    def _bind(self, pod, node_name):
        """The scheduler's Binding (pods/binding): set spec.nodeName, then PodScheduled=True.
        A pod's spec is immutable through update, so this uses the store's bind hook when it has one
        (bind_pod(namespace, name, node)), else commits the one-field change under the store lock."""
        md = pod["metadata"]
        binder = getattr(self.store, "bind_pod", None)
        if binder is not None:
            res = self.call(binder, md.get("namespace"), md["name"], node_name)
        else:
            res = self._raw_bind(pod, node_name)
        if res is None:
            return None
        st = copy.deepcopy(res.get("status") or {})
        st["phase"] = st.get("phase") or "Pending"
        set_condition(st.setdefault("conditions", []), "PodScheduled", "True", None, None, now_str(),
                      probe_time=True)
        st["qosClass"] = qos_class(res)
        return self.update_status("", "pods", res, st) or res

    def _raw_bind(self, pod, node_name):
        st = self.store
        if not all(hasattr(st, a) for a in ("raw_get", "_put", "_emit", "_next_rv")):
            p2 = copy.deepcopy(pod)
            p2["spec"]["nodeName"] = node_name
            return self.update("", "pods", p2)
        md = pod["metadata"]
        with st.lock:
            old = st.raw_get("", "pods", md.get("namespace"), md["name"])
            if old is None or old["metadata"].get("uid") != md.get("uid") or (old.get("spec") or {}).get(
                    "nodeName") or old["metadata"].get("deletionTimestamp"):
                return None
            new = copy.deepcopy(old)
            new["spec"]["nodeName"] = node_name
            new["metadata"]["resourceVersion"] = st._next_rv()
            st._put(("", "pods"), "%s/%s" % (md.get("namespace"), md["name"]), new)
            st._emit("MODIFIED", ("", "pods"), new, old)
            return copy.deepcopy(new)

    def _kill_pod(self, pod):
        md = pod["metadata"]
        killer = getattr(self.store, "delete_now", None)
        if killer is not None:
            self.call(killer, "", "pods", md.get("namespace"), md["name"])
        else:
            try:
                self.store.delete("", "pods", md.get("namespace"), md["name"], propagation="Background")
            except TypeError:
                pass
            except Exception as e:
                if api_code(e) not in (404, 409):
                    log_exc("finish pod deletion")

    def _container_status(self, pod, c, running=True, now=None, terminated=False):
        uid = pod["metadata"].get("uid", "")
        image = c.get("image") or ""
        full = normalize_image(image)
        digest = hashlib.sha256(full.split(":")[0].encode()).hexdigest()
        cid = "containerd://" + hashlib.sha256((uid + "/" + c.get("name", "")).encode()).hexdigest()
        started_at = (pod.get("status") or {}).get("startTime") or now
        cs = {"containerID": cid, "image": full, "imageID": full.rsplit(":", 1)[0] + "@sha256:" + digest,
              "lastState": {}, "name": c.get("name"), "ready": bool(running and not terminated),
              "restartCount": 0, "started": bool(running and not terminated)}
        if terminated:
            cs["state"] = {"terminated": {"containerID": cid, "exitCode": 0, "finishedAt": now,
                                          "reason": "Completed", "startedAt": started_at}}
        else:
            cs["state"] = {"running": {"startedAt": started_at}}
        return cs

    def _running_status(self, pod, host_ip, pod_ip):
        now = now_str()
        spec = pod.get("spec") or {}
        st = copy.deepcopy(pod.get("status") or {})
        st["phase"] = "Running"
        conds = st.setdefault("conditions", [])
        if not self.old:
            set_condition(conds, "PodReadyToStartContainers", "True", None, None, now, probe_time=True)
        set_condition(conds, "Initialized", "True", None, None, now, probe_time=True)
        set_condition(conds, "Ready", "True", None, None, now, probe_time=True)
        set_condition(conds, "ContainersReady", "True", None, None, now, probe_time=True)
        set_condition(conds, "PodScheduled", "True", None, None, now, probe_time=True)
        order = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
        conds.sort(key=lambda c: order.index(c["type"]) if c["type"] in order else 99)
        st["hostIP"] = host_ip
        st["podIP"] = pod_ip
        st["podIPs"] = [{"ip": pod_ip}]
        if not self.old:
            st["hostIPs"] = [{"ip": host_ip}]
        st.setdefault("startTime", now)
        st["qosClass"] = qos_class(pod)
        st["containerStatuses"] = [self._container_status(pod, c, now=now) for c in spec.get("containers") or []]
        unready = [c.get("name") for c in spec.get("containers") or [] if _exec_probe(c)]
        if unready:
            # An exec readiness probe decides (_readiness): not ready until it has passed.
            for cs in st["containerStatuses"]:
                if cs["name"] in unready:
                    cs["ready"] = False
            msg = "containers with unready status: [%s]" % " ".join(unready)
            set_condition(conds, "Ready", "False", "ContainersNotReady", msg, now, probe_time=True)
            set_condition(conds, "ContainersReady", "False", "ContainersNotReady", msg, now, probe_time=True)
        if spec.get("initContainers"):
            ics = []
            for c in spec["initContainers"]:
                cs = self._container_status(pod, c, now=now, terminated=True)
                ics.append(cs)
            st["initContainerStatuses"] = ics
        return st

    # ---------------------------------------------------------------- kubelet: init containers, readiness probes
    def _run_in_container(self, pod, c, command, timeout):
        """Runs command in container c of pod as pods/exec does (the sandbox with the container's volumes and
        environment); returns (exit code, output tail)."""
        import subprocess
        from . import exec_ws
        try:
            if exec_ws.sandbox_flags():
                argv, _env = exec_ws.build_sandbox(self.store, self.state_dir, pod, c, command, False)
                kw = {}
            else:
                argv, env, cwd = exec_ws.build_direct(self.store, self.state_dir, pod, c, command, False)
                kw = {"env": env, "cwd": cwd}
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=timeout, **kw)
            return p.returncode, p.stdout[-2000:].decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            return 137, "timed out"
        except OSError as e:
            return 127, str(e)

    def _init_containers_done(self, pod, status, now):
        """The kubelet runs a pod's init containers in order before its containers start. One with a command really
        runs (in the exec sandbox, with its volumes and environment); one without (the image's entrypoint, unknown
        here) succeeds at once. While they run, and after one failed (run again after a 5 s back-off, counted in
        restartCount; restartPolicy Never fails the pod), the pod is Pending with Initialized False and the init
        containers' states, as upstream. True once all have succeeded."""
        md = pod["metadata"]
        spec = pod.get("spec") or {}
        inits = spec.get("initContainers") or []
        uid = md["uid"]
        run = self._inits.get(uid)
        if run is not None and run.get("done") and not run.get("failed"):
            return True
        if run is None or (run.get("done") and run.get("failed") and spec.get("restartPolicy") != "Never" and
                           time.monotonic() - run["finished"] >= 5.0):
            restarts = 0 if run is None else run["restarts"] + 1
            run = {"codes": [], "done": False, "failed": False, "restarts": restarts, "finished": 0.0,
                   "started": now_str(), "ended": []}
            self._inits[uid] = run

            def work(run=run, pod=copy.deepcopy(pod)):
                for c in inits:
                    cmd = list(c.get("command") or []) + list(c.get("args") or []) if c.get("command") else []
                    code = self._run_in_container(pod, c, cmd, 600)[0] if cmd else 0
                    run["ended"].append(now_str())
                    run["codes"].append(code)
                    if code != 0:
                        run["failed"] = True
                        break
                run["finished"] = time.monotonic()
                run["done"] = True
                self._dirty = True
            threading.Thread(target=work, name="kubesim-init-" + md["name"], daemon=True).start()
        # Pending, Initialized False, each init container's state.
        st = copy.deepcopy(status)
        if run.get("done") and run.get("failed") and spec.get("restartPolicy") == "Never":
            st["phase"] = "Failed"
        else:
            st["phase"] = "Pending"
        conds = st.setdefault("conditions", [])
        pending = [c.get("name") for i, c in enumerate(inits) if i >= len(run["codes"]) or run["codes"][i] != 0]
        set_condition(conds, "Initialized", "False", "ContainersNotInitialized",
                      "containers with incomplete status: [%s]" % " ".join(pending), now, probe_time=True)
        names = " ".join(c.get("name", "") for c in spec.get("containers") or [])
        set_condition(conds, "Ready", "False", "ContainersNotReady", "containers with unready status: [%s]" % names,
                      now, probe_time=True)
        set_condition(conds, "ContainersReady", "False", "ContainersNotReady",
                      "containers with unready status: [%s]" % names, now, probe_time=True)
        set_condition(conds, "PodScheduled", "True", None, None, now, probe_time=True)
        ics = []
        for i, c in enumerate(inits):
            cs = self._container_status(pod, c, running=False, now=run["started"])
            cs["restartCount"] = run["restarts"]
            if i < len(run["codes"]):
                code = run["codes"][i]
                cs["state"] = {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                              "startedAt": run["started"], "finishedAt": run["ended"][i]}}
                if code != 0 and spec.get("restartPolicy") != "Never":
                    cs["lastState"] = cs["state"]
                    cs["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                                               "message": "back-off 5s restarting failed container=%s pod=%s_%s" % (
                                                   c.get("name"), md["name"], md.get("namespace"))}}
            elif i == len(run["codes"]) and not run.get("done"):
                cs["state"] = {"running": {"startedAt": run["started"]}}
            else:
                cs["state"] = {"waiting": {"reason": "PodInitializing"}}
            ics.append(cs)
        st["initContainerStatuses"] = ics
        st["containerStatuses"] = [{"image": normalize_image(c.get("image") or ""), "imageID": "", "lastState": {},
                                    "name": c.get("name"), "ready": False, "restartCount": 0, "started": False,
                                    "state": {"waiting": {"reason": "PodInitializing"}}}
                                   for c in spec.get("containers") or []]
        st["qosClass"] = qos_class(pod)
        self.update_status("", "pods", pod, st)
        self._dirty = True
        return False

    def _readiness(self, pod):
        """Exec readiness probes of a Running pod: each runs in its container every periodSeconds (after
        initialDelaySeconds, at most timeoutSeconds); successThreshold passes make the container ready,
        failureThreshold failures unready; the pod's Ready and ContainersReady follow. Other probe kinds (httpGet,
        tcpSocket, grpc) are not run: such containers are ready at once."""
        md = pod["metadata"]
        uid = md["uid"]
        spec = pod.get("spec") or {}
        probed = [c for c in spec.get("containers") or [] if _exec_probe(c)]
        if not probed:
            return
        now = time.monotonic()
        started = self._pod_started.get(uid, now)
        with self._probe_lock:
            states = self._probes.setdefault(uid, {})
            for c in probed:
                pr = c["readinessProbe"]
                s = states.setdefault(c["name"], {"ready": False, "ok": 0, "bad": 0, "busy": False,
                                                  "next": started + float(pr.get("initialDelaySeconds") or 0)})
                if s["busy"] or now < s["next"]:
                    continue
                s["busy"] = True

                def probe(c=c, s=s, pod=copy.deepcopy(pod), pr=pr):
                    code = self._run_in_container(pod, c, list(pr["exec"].get("command") or []),
                                                  max(1.0, float(pr.get("timeoutSeconds") or 1)))[0]
                    with self._probe_lock:
                        if code == 0:
                            s["ok"] += 1
                            s["bad"] = 0
                            if s["ok"] >= int(pr.get("successThreshold") or 1):
                                s["ready"] = True
                        else:
                            s["bad"] += 1
                            s["ok"] = 0
                            if s["bad"] >= int(pr.get("failureThreshold") or 3):
                                s["ready"] = False
                        s["next"] = time.monotonic() + float(pr.get("periodSeconds") or 10)
                        s["busy"] = False
                    self._dirty = True
                threading.Thread(target=probe, name="kubesim-probe-" + md["name"], daemon=True).start()
            ready = {name: s["ready"] for name, s in states.items()}
        self._dirty = True  # probes are due again
        st = copy.deepcopy(pod.get("status") or {})
        changed = False
        for cs in st.get("containerStatuses") or []:
            if cs.get("name") in ready and cs.get("ready") != ready[cs["name"]]:
                cs["ready"] = ready[cs["name"]]
                changed = True
        if not changed:
            return
        unready = [cs["name"] for cs in st.get("containerStatuses") or [] if not cs.get("ready")]
        conds = st.setdefault("conditions", [])
        now_s = now_str()
        if unready:
            msg = "containers with unready status: [%s]" % " ".join(unready)
            set_condition(conds, "Ready", "False", "ContainersNotReady", msg, now_s, probe_time=True)
            set_condition(conds, "ContainersReady", "False", "ContainersNotReady", msg, now_s, probe_time=True)
        else:
            set_condition(conds, "Ready", "True", None, None, now_s, probe_time=True)
            set_condition(conds, "ContainersReady", "True", None, None, now_s, probe_time=True)
        self.update_status("", "pods", pod, st)

    def _completed_status(self, pod):
        now = now_str()
        spec = pod.get("spec") or {}
        st = copy.deepcopy(pod.get("status") or {})
        st["phase"] = "Succeeded"
        conds = st.setdefault("conditions", [])
        if not self.old:
            set_condition(conds, "PodReadyToStartContainers", "False", None, None, now, probe_time=True)
        set_condition(conds, "Ready", "False", "PodCompleted", None, now, probe_time=True)
        set_condition(conds, "ContainersReady", "False", "PodCompleted", None, now, probe_time=True)
        for c in conds:
            if c["type"] == "Initialized":
                c["reason"] = "PodCompleted"
        st["containerStatuses"] = [self._container_status(pod, c, now=now, terminated=True)
                                   for c in spec.get("containers") or []]
        return st

    # ---------------------------------------------------------------- ReplicaSets
    def pod_from_template(self, template, namespace, owner, owner_api, owner_kind, name=None, generate_name=None,
                          extra_labels=None):
        tm = (template or {}).get("metadata") or {}
        labels = dict(tm.get("labels") or {})
        labels.update(extra_labels or {})
        md = {"namespace": namespace, "labels": labels,
              "ownerReferences": [owner_ref(owner, owner_api, owner_kind)]}
        if name:
            md["name"] = name
        if generate_name:
            md["generateName"] = generate_name
            if not name:
                md["name"] = generate_name + rand_suffix()
        if tm.get("annotations"):
            md["annotations"] = dict(tm["annotations"])
        if tm.get("finalizers"):
            md["finalizers"] = list(tm["finalizers"])
        return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
                "spec": copy.deepcopy((template or {}).get("spec") or {})}

    def adopt(self, owner, api_version, kind, selector, children, group, resource, name_ok=None):
        """Children controlled by owner, after adopting orphans (no controller reference, not being deleted)
        that the selector matches, as the controllers' ControllerRefManager does."""
        owned = [c for c in children if is_controlled_by(c, owner)]
        if deleting(owner) or not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            return owned
        for c in children:
            if controller_ref(c) is None and not deleting(c) and match_selector(
                    selector, c["metadata"].get("labels")) and (name_ok is None or name_ok(c)):
                c2 = copy.deepcopy(c)
                c2["metadata"].setdefault("ownerReferences", []).append(owner_ref(owner, api_version, kind))
                res = self.update(group, resource, c2)
                if res:
                    owned.append(res)
        return owned

    def sync_replicasets(self):
        rss = self.lst("apps", "replicasets")
        if not rss:
            return
        pods_by_ns = group_by_ns(self.lst("", "pods"))
        for rs in rss:
            try:
                self._sync_rs(rs, pods_by_ns.get(rs["metadata"].get("namespace"), []))
            except Exception:
                log_exc("replicaset %s" % rs["metadata"].get("name"))

    def sync_replicationcontrollers(self):
        rcs = self.lst("", "replicationcontrollers")
        if not rcs:
            return
        pods_by_ns = group_by_ns(self.lst("", "pods"))
        for rc in rcs:
            try:
                self._sync_rs(rc, pods_by_ns.get(rc["metadata"].get("namespace"), []), "v1", "ReplicationController",
                              "", "replicationcontrollers")
            except Exception:
                log_exc("replicationcontroller %s" % rc["metadata"].get("name"))

    def _sync_rs(self, rs, pods, api_version="apps/v1", kind="ReplicaSet", group="apps", resource="replicasets"):
        md, spec = rs["metadata"], rs.get("spec") or {}
        ns = md.get("namespace")
        selector = spec.get("selector")
        if kind == "ReplicationController":
            sel_map = selector or ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            selector = {"matchLabels": sel_map} if sel_map else None
        owned = self.adopt(rs, api_version, kind, selector, pods, "", "pods")
        active = [p for p in owned if pod_active(p)]
        want = spec.get("replicas", 1)
        if not deleting(rs):
            if len(active) < want:
                for _ in range(want - len(active)):
                    pod = self.pod_from_template(spec.get("template"), ns, rs, api_version, kind,
                                                 generate_name=md["name"] + "-")
                    res = self.create("", "pods", pod)
                    if res:
                        active.append(res)
                        self.event(rs, "SuccessfulCreate", "Created pod: %s" % res["metadata"]["name"],
                                   "replicaset-controller" if kind == "ReplicaSet" else "replication-controller",
                                   api_version=api_version, kind=kind)
            elif len(active) > want:
                def rank(p):
                    st = p.get("status") or {}
                    return (bool((p.get("spec") or {}).get("nodeName")), st.get("phase") == "Running", pod_ready(p),
                            -(parse_time(p["metadata"].get("creationTimestamp")) or 0))
                for p in sorted(active, key=rank)[:len(active) - want]:
                    self.delete("", "pods", ns, p["metadata"]["name"])
                    active.remove(p)
                    self.event(rs, "SuccessfulDelete", "Deleted pod: %s" % p["metadata"]["name"],
                               "replicaset-controller" if kind == "ReplicaSet" else "replication-controller",
                               api_version=api_version, kind=kind)
        ready = sum(1 for p in active if pod_ready(p))
        st = {"replicas": len(active)}
        labelled = sum(1 for p in active if match_map_selector(
            ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {"": ""}, p["metadata"].get(
                "labels")))
        if labelled:
            st["fullyLabeledReplicas"] = labelled
        if ready:
            st["readyReplicas"] = ready
            st["availableReplicas"] = ready
        st["observedGeneration"] = md.get("generation", 1)
        old = rs.get("status") or {}
        if old.get("conditions"):
            st["conditions"] = old["conditions"]
        self.update_status(group, resource, rs, st)

    # ---------------------------------------------------------------- Deployments
    def sync_deployments(self):
        deps = self.lst("apps", "deployments")
        if not deps:
            return
        rs_by_ns = group_by_ns(self.lst("apps", "replicasets"))
        for d in deps:
            try:
                self._sync_deployment(d, rs_by_ns.get(d["metadata"].get("namespace"), []))
            except Exception:
                log_exc("deployment %s" % d["metadata"].get("name"))

    def _sync_deployment(self, d, rss):
        md, spec = d["metadata"], d.get("spec") or {}
        if deleting(d):
            return
        ns = md.get("namespace")
        replicas = spec.get("replicas", 1)
        tmpl = spec.get("template") or {}
        status = d.get("status") or {}
        h = template_hash(tmpl, status.get("collisionCount") or 0)
        rs_name = "%s-%s" % (md["name"], h)
        owned = self.adopt(d, "apps/v1", "Deployment", spec.get("selector"), rss, "apps", "replicasets")
        new_rs = next((rs for rs in owned if rs["metadata"]["name"] == rs_name), None)
        if new_rs is None:
            for rs in owned:
                t = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
                ((t.get("metadata") or {}).get("labels") or {}).pop("pod-template-hash", None)
                if t == tmpl:
                    new_rs = rs
                    h = (rs["metadata"].get("labels") or {}).get("pod-template-hash", h)
                    break
        revs = [int((rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", "0") or 0)
                for rs in owned if rs is not new_rs]
        max_old = max(revs) if revs else 0
        surge = spec.get("strategy", {}).get("rollingUpdate", {}).get("maxSurge", "25%")
        max_surge = pct(surge, replicas, True)
        progress_reason = None
        if deleting(d):
            return
        if spec.get("paused"):
            return
        inherited = {k: v for k, v in (md.get("annotations") or {}).items()
                     if k not in ("kubectl.kubernetes.io/last-applied-configuration",
                                  "deployment.kubernetes.io/revision", "deployment.kubernetes.io/desired-replicas",
                                  "deployment.kubernetes.io/max-replicas")}
        if new_rs is None:
            t = copy.deepcopy(tmpl)
            t.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
            sel = copy.deepcopy(spec.get("selector") or {})
            sel.setdefault("matchLabels", {})["pod-template-hash"] = h
            labels = dict((tmpl.get("metadata") or {}).get("labels") or {})
            labels["pod-template-hash"] = h
            ann = dict(inherited)
            ann.update({"deployment.kubernetes.io/desired-replicas": str(replicas),
                        "deployment.kubernetes.io/max-replicas": str(replicas + max_surge),
                        "deployment.kubernetes.io/revision": str(max_old + 1)})
            rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                  "metadata": {"name": rs_name, "namespace": ns, "labels": labels, "annotations": ann,
                               "ownerReferences": [owner_ref(d, "apps/v1", "Deployment")]},
                  "spec": {"replicas": replicas, "minReadySeconds": spec.get("minReadySeconds", 0),
                           "selector": sel, "template": t}}
            new_rs = self.create("apps", "replicasets", rs)
            if new_rs is None:
                return
            self.event(d, "ScalingReplicaSet", "Scaled up replica set %s to %d" % (rs_name, replicas),
                       "deployment-controller", api_version="apps/v1", kind="Deployment")
            progress_reason = ("NewReplicaSetCreated", 'Created new replica set "%s"' % rs_name)
        else:
            r2 = copy.deepcopy(new_rs)
            ann = r2["metadata"].setdefault("annotations", {})
            want_ann = dict(ann)
            want_ann.update({"deployment.kubernetes.io/desired-replicas": str(replicas),
                             "deployment.kubernetes.io/max-replicas": str(replicas + max_surge)})
            cur_rev = int(ann.get("deployment.kubernetes.io/revision", "0") or 0)
            if cur_rev <= max_old:
                want_ann["deployment.kubernetes.io/revision"] = str(max_old + 1)
            if r2["spec"].get("replicas") != replicas or want_ann != ann:
                if r2["spec"].get("replicas") != replicas:
                    self.event(d, "ScalingReplicaSet", "Scaled %s replica set %s to %d from %d" % (
                        "up" if replicas > r2["spec"].get("replicas", 0) else "down", r2["metadata"]["name"],
                        replicas, r2["spec"].get("replicas", 0)), "deployment-controller", api_version="apps/v1",
                        kind="Deployment")
                r2["spec"]["replicas"] = replicas
                r2["metadata"]["annotations"] = want_ann
                res = self.update("apps", "replicasets", r2)
                if res:
                    new_rs = res
        # Old ReplicaSets: scale down (the rollout is instant here), then prune beyond revisionHistoryLimit.
        olds = [rs for rs in owned if rs["metadata"]["uid"] != new_rs["metadata"]["uid"]]
        for rs in olds:
            if (rs.get("spec") or {}).get("replicas", 1) != 0:
                r2 = copy.deepcopy(rs)
                self.event(d, "ScalingReplicaSet", "Scaled down replica set %s to 0 from %d" % (
                    rs["metadata"]["name"], rs["spec"].get("replicas", 1)), "deployment-controller",
                    api_version="apps/v1", kind="Deployment")
                r2["spec"]["replicas"] = 0
                self.update("apps", "replicasets", r2)
        limit = spec.get("revisionHistoryLimit", 10)
        dead = [rs for rs in olds if not deleting(rs) and not (rs.get("status") or {}).get("replicas")]
        dead.sort(key=lambda rs: int((rs["metadata"].get("annotations") or {}).get(
            "deployment.kubernetes.io/revision", "0") or 0))
        for rs in dead[:max(0, len(dead) - limit)]:
            self.delete("apps", "replicasets", ns, rs["metadata"]["name"])
        # The Deployment's own revision annotation.
        rev = (new_rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision")
        if rev and (md.get("annotations") or {}).get("deployment.kubernetes.io/revision") != rev:
            d2 = copy.deepcopy(d)
            d2["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = rev
            res = self.update("apps", "deployments", d2)
            if res is None:
                return
            d = res
        # Status.
        all_rs = [new_rs] + olds
        total = sum((rs.get("status") or {}).get("replicas", 0) for rs in all_rs)
        ready = sum((rs.get("status") or {}).get("readyReplicas", 0) for rs in all_rs)
        avail = sum((rs.get("status") or {}).get("availableReplicas", 0) for rs in all_rs)
        updated = (new_rs.get("status") or {}).get("replicas", 0)
        st = copy.deepcopy(d.get("status") or {})
        st["observedGeneration"] = d["metadata"].get("generation", 1)
        for k, v in (("replicas", total), ("updatedReplicas", updated), ("readyReplicas", ready),
                     ("availableReplicas", avail), ("unavailableReplicas", max(0, replicas - avail))):
            if v:
                st[k] = v
            else:
                st.pop(k, None)
        now = now_str()
        conds = st.setdefault("conditions", [])
        max_unavail = pct(spec.get("strategy", {}).get("rollingUpdate", {}).get("maxUnavailable", "25%"),
                          replicas, False)
        if avail >= replicas - max_unavail:
            set_condition(conds, "Available", "True", "MinimumReplicasAvailable",
                          "Deployment has minimum availability.", now, with_update_time=True)
        else:
            set_condition(conds, "Available", "False", "MinimumReplicasUnavailable",
                          "Deployment does not have minimum availability.", now, with_update_time=True)
        new_name = new_rs["metadata"]["name"]
        if progress_reason is None:
            if updated == replicas and avail >= replicas and total == replicas:
                progress_reason = ("NewReplicaSetAvailable", 'ReplicaSet "%s" has successfully progressed.' % new_name)
            else:
                cur = next((c for c in conds if c["type"] == "Progressing"), None)
                if cur is not None and cur.get("reason") == "NewReplicaSetCreated" and \
                        cur.get("message", "").endswith('"%s"' % new_name):
                    progress_reason = (cur["reason"], cur["message"])
                else:
                    progress_reason = ("ReplicaSetUpdated", 'ReplicaSet "%s" is progressing.' % new_name)
        set_condition(conds, "Progressing", "True", progress_reason[0], progress_reason[1], now,
                      with_update_time=True)
        conds.sort(key=lambda c: {"Available": 0, "Progressing": 1}.get(c["type"], 2))
        self.update_status("apps", "deployments", d, st)

    # ---------------------------------------------------------------- ControllerRevisions (StatefulSet, DaemonSet)
    def ensure_revision(self, owner, kind, crs, template):
        md = owner["metadata"]
        h = template_hash(template)
        name = "%s-%s" % (md["name"], h)
        owned = [c for c in crs if is_controlled_by(c, owner)]
        cur = next((c for c in owned if c["metadata"]["name"] == name), None)
        if cur is not None:
            return name, h
        revision = max([c.get("revision", 0) for c in owned] or [0]) + 1
        labels = dict(((owner.get("spec") or {}).get("selector") or {}).get("matchLabels") or {})
        labels["controller.kubernetes.io/hash"] = h
        t = copy.deepcopy(template)
        t["$patch"] = "replace"
        cr = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
              "metadata": {"name": name, "namespace": md.get("namespace"), "labels": labels,
                           "ownerReferences": [owner_ref(owner, "apps/v1", kind)]},
              "data": {"spec": {"template": t}}, "revision": revision}
        self.create("apps", "controllerrevisions", cr)
        limit = (owner.get("spec") or {}).get("revisionHistoryLimit", 10)
        if len(owned) + 1 > limit:
            for c in sorted(owned, key=lambda c: c.get("revision", 0))[:len(owned) + 1 - limit]:
                self.delete("apps", "controllerrevisions", md.get("namespace"), c["metadata"]["name"])
        return name, h

    # ---------------------------------------------------------------- StatefulSets
    def sync_statefulsets(self):
        stss = self.lst("apps", "statefulsets")
        if not stss:
            return
        pods_by_ns = group_by_ns(self.lst("", "pods"))
        crs_by_ns = group_by_ns(self.lst("apps", "controllerrevisions"))
        pvcs = {(c["metadata"].get("namespace"), c["metadata"]["name"]): c
                for c in self.lst("", "persistentvolumeclaims")}
        for s in stss:
            ns = s["metadata"].get("namespace")
            try:
                self._sync_sts(s, pods_by_ns.get(ns, []), crs_by_ns.get(ns, []), pvcs)
            except Exception:
                log_exc("statefulset %s" % s["metadata"].get("name"))

    def _sync_sts(self, s, pods, crs, pvcs):
        md, spec = s["metadata"], s.get("spec") or {}
        if deleting(s):
            return
        ns, name = md.get("namespace"), md["name"]
        replicas = spec.get("replicas", 1)
        tmpl = spec.get("template") or {}
        rev_name, _ = self.ensure_revision(s, "StatefulSet", crs, tmpl)
        parallel = spec.get("podManagementPolicy") == "Parallel"
        owned = {p["metadata"]["name"]: p for p in self.adopt(
            s, "apps/v1", "StatefulSet", spec.get("selector"), pods, "", "pods",
            name_ok=lambda p: p["metadata"]["name"].startswith(name + "-") and ordinal(p["metadata"]["name"],
                                                                                        name) >= 0)}
        retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
        blocked = False
        for i in range(replicas):
            pname = "%s-%d" % (name, i)
            for vct in spec.get("volumeClaimTemplates") or []:
                cname = "%s-%s" % (vct["metadata"]["name"], pname)
                if (ns, cname) not in pvcs:
                    labels = dict((vct.get("metadata") or {}).get("labels") or {})
                    labels.update((spec.get("selector") or {}).get("matchLabels") or {})
                    pmd = {"name": cname, "namespace": ns, "labels": labels}
                    if (vct.get("metadata") or {}).get("annotations"):
                        pmd["annotations"] = dict(vct["metadata"]["annotations"])
                    if retention.get("whenDeleted") == "Delete":
                        pmd["ownerReferences"] = [owner_ref(s, "apps/v1", "StatefulSet")]
                    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": pmd,
                           "spec": copy.deepcopy(vct.get("spec") or {})}
                    res = self.create("", "persistentvolumeclaims", pvc)
                    if res:
                        pvcs[(ns, cname)] = res
                        self.event(s, "SuccessfulCreate", "create Claim %s Pod %s in StatefulSet %s success" % (
                            cname, pname, name), "statefulset-controller", api_version="apps/v1",
                            kind="StatefulSet")
            pod = owned.get(pname)
            if pod is None:
                if blocked:
                    break
                extra = {"controller-revision-hash": rev_name, "statefulset.kubernetes.io/pod-name": pname}
                if not self.old:
                    extra["apps.kubernetes.io/pod-index"] = str(i)
                p = self.pod_from_template(tmpl, ns, s, "apps/v1", "StatefulSet", name=pname, extra_labels=extra)
                p["spec"]["hostname"] = pname
                if spec.get("serviceName"):
                    p["spec"]["subdomain"] = spec["serviceName"]
                vols = [v for v in p["spec"].get("volumes") or []
                        if v.get("name") not in {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates") or []}]
                for vct in spec.get("volumeClaimTemplates") or []:
                    vols.append({"name": vct["metadata"]["name"],
                                 "persistentVolumeClaim": {"claimName": "%s-%s" % (vct["metadata"]["name"], pname)}})
                if vols:
                    p["spec"]["volumes"] = vols
                res = self.create("", "pods", p)
                if res is None:
                    break
                owned[pname] = res
                self.event(s, "SuccessfulCreate", "create Pod %s in StatefulSet %s successful" % (pname, name),
                           "statefulset-controller", api_version="apps/v1", kind="StatefulSet")
                if not parallel:
                    blocked = True
            elif not parallel and (not pod_ready(pod) or deleting(pod)):
                blocked = True
        # Scale down: highest ordinal first (one at a time unless Parallel).
        extra_pods = sorted([p for n, p in owned.items() if ordinal(n, name) >= replicas],
                            key=lambda p: -ordinal(p["metadata"]["name"], name))
        for p in extra_pods[:len(extra_pods) if parallel else 1]:
            if not deleting(p):
                self.delete("", "pods", ns, p["metadata"]["name"])
                if retention.get("whenScaled") == "Delete":
                    for vct in spec.get("volumeClaimTemplates") or []:
                        self.delete("", "persistentvolumeclaims", ns,
                                    "%s-%s" % (vct["metadata"]["name"], p["metadata"]["name"]))
        # Rolling update: replace outdated pods highest ordinal first, once all are ready.
        cur = [p for n, p in owned.items() if ordinal(n, name) < replicas]
        if (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate" and \
                len(cur) == replicas and all(pod_ready(p) and not deleting(p) for p in cur):
            outdated = [p for p in cur if (p["metadata"].get("labels") or {}).get("controller-revision-hash")
                        != rev_name]
            if outdated:
                p = max(outdated, key=lambda p: ordinal(p["metadata"]["name"], name))
                self.delete("", "pods", ns, p["metadata"]["name"])
        ready = sum(1 for p in cur if pod_ready(p) and not deleting(p))
        updated = sum(1 for p in cur if (p["metadata"].get("labels") or {}).get("controller-revision-hash")
                      == rev_name)
        old_st = s.get("status") or {}
        current_rev = old_st.get("currentRevision") or rev_name
        if updated == len(cur) == replicas:
            current_rev = rev_name
        st = {"observedGeneration": md.get("generation", 1), "replicas": len([p for p in owned.values()
                                                                               if not deleting(p)]),
              "currentRevision": current_rev, "updateRevision": rev_name, "collisionCount": 0}
        if ready:
            st["readyReplicas"] = ready
        st["availableReplicas"] = ready
        cur_count = updated if current_rev == rev_name else len(cur) - updated
        if cur_count:
            st["currentReplicas"] = cur_count
        if updated:
            st["updatedReplicas"] = updated
        self.update_status("apps", "statefulsets", s, st)

    # ---------------------------------------------------------------- DaemonSets
    def sync_daemonsets(self):
        dss = self.lst("apps", "daemonsets")
        if not dss:
            return
        pods_by_ns = group_by_ns(self.lst("", "pods"))
        crs_by_ns = group_by_ns(self.lst("apps", "controllerrevisions"))
        nodes = self.nodes()
        for ds in dss:
            ns = ds["metadata"].get("namespace")
            try:
                self._sync_ds(ds, pods_by_ns.get(ns, []), crs_by_ns.get(ns, []), nodes)
            except Exception:
                log_exc("daemonset %s" % ds["metadata"].get("name"))

    def _sync_ds(self, ds, pods, crs, nodes):
        md, spec = ds["metadata"], ds.get("spec") or {}
        if deleting(ds):
            return
        ns = md.get("namespace")
        tmpl = spec.get("template") or {}
        rev_name, h = self.ensure_revision(ds, "DaemonSet", crs, tmpl)
        owned = [p for p in self.adopt(ds, "apps/v1", "DaemonSet", spec.get("selector"), pods, "", "pods")
                 if not deleting(p)]

        def pod_node(p):
            nn = (p.get("spec") or {}).get("nodeName")
            if nn:
                return nn
            for term in ((((p.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}).get(
                    "requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []:
                for f in term.get("matchFields") or []:
                    if f.get("key") == "metadata.name" and f.get("values"):
                        return f["values"][0]
            return None

        by_node = {}
        for p in owned:
            by_node.setdefault(pod_node(p), []).append(p)
        probe = {"spec": copy.deepcopy(tmpl.get("spec") or {})}
        probe["spec"]["tolerations"] = list(probe["spec"].get("tolerations") or []) + ds_tolerations()
        wanted = [n for n in nodes if self.node_fits(probe, n)]
        wanted_names = {n["metadata"]["name"] for n in wanted}
        for n in wanted:
            nn = n["metadata"]["name"]
            if by_node.get(nn):
                # Update strategy RollingUpdate: replace outdated pods.
                for p in by_node[nn]:
                    if (p["metadata"].get("labels") or {}).get("controller-revision-hash") != h and \
                            (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
                        self.delete("", "pods", ns, p["metadata"]["name"])
                continue
            extra = {"controller-revision-hash": h, "pod-template-generation": str(md.get("generation", 1))}
            p = self.pod_from_template(tmpl, ns, ds, "apps/v1", "DaemonSet", generate_name=md["name"] + "-",
                                       extra_labels=extra)
            p["spec"]["tolerations"] = list(p["spec"].get("tolerations") or []) + ds_tolerations()
            aff = p["spec"].setdefault("affinity", {})
            aff["nodeAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [nn]}]}]}}
            res = self.create("", "pods", p)
            if res is not None:
                self.event(ds, "SuccessfulCreate", "Created pod: %s" % res["metadata"]["name"],
                           "daemonset-controller", api_version="apps/v1", kind="DaemonSet")
        for nn, ps in by_node.items():
            if nn not in wanted_names:
                for p in ps:
                    self.delete("", "pods", ns, p["metadata"]["name"])
        scheduled = [p for p in owned if pod_node(p) in wanted_names]
        ready = sum(1 for p in scheduled if pod_ready(p))
        updated = sum(1 for p in scheduled if (p["metadata"].get("labels") or {}).get("controller-revision-hash") == h)
        st = {"currentNumberScheduled": len({pod_node(p) for p in scheduled}),
              "desiredNumberScheduled": len(wanted), "numberMisscheduled": 0, "numberReady": ready,
              "observedGeneration": md.get("generation", 1)}
        if ready:
            st["numberAvailable"] = ready
        if len(wanted) - ready:
            st["numberUnavailable"] = len(wanted) - ready
        if updated:
            st["updatedNumberScheduled"] = updated
        self.update_status("apps", "daemonsets", ds, st)

    # ---------------------------------------------------------------- Jobs
    def sync_jobs(self):
        jobs = self.lst("batch", "jobs")
        if not jobs:
            return
        pods_by_ns = group_by_ns(self.lst("", "pods"))
        for j in jobs:
            try:
                self._sync_job(j, pods_by_ns.get(j["metadata"].get("namespace"), []))
            except Exception:
                log_exc("job %s" % j["metadata"].get("name"))

    def job_labels(self, job):
        uid, name = job["metadata"]["uid"], job["metadata"]["name"]
        if self.old:
            return {"controller-uid": uid, "job-name": name}
        return {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
                "controller-uid": uid, "job-name": name}

    def _sync_job(self, job, pods):
        md, spec = job["metadata"], job.get("spec") or {}
        ns = md.get("namespace")
        if deleting(job):
            return
        status = job.get("status") or {}
        done = any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                   for c in status.get("conditions") or [])
        if done:
            ttl = spec.get("ttlSecondsAfterFinished")
            fin = parse_time(status.get("completionTime")) or parse_time(
                next((c.get("lastTransitionTime") for c in status.get("conditions") or []
                      if c.get("type") in ("Complete", "Failed")), None))
            if ttl is not None and fin is not None and time.time() >= fin + ttl:
                self.delete("batch", "jobs", ns, md["name"])
            return
        owned = self.adopt(job, "batch/v1", "Job", spec.get("selector"), pods, "", "pods")
        active = [p for p in owned if pod_active(p)]
        succeeded = sum(1 for p in owned if (p.get("status") or {}).get("phase") == "Succeeded")
        failed = sum(1 for p in owned if (p.get("status") or {}).get("phase") == "Failed")
        completions = spec.get("completions")
        parallelism = spec.get("parallelism", 1)
        target = completions if completions is not None else 1
        now = now_str()
        st = copy.deepcopy(status)
        st.setdefault("startTime", now)
        complete = succeeded >= target and not active
        if not complete and not spec.get("suspend"):
            need = min(parallelism, target - succeeded) - len(active)
            labels = dict(((spec.get("template") or {}).get("metadata") or {}).get("labels") or {})
            for k, v in self.job_labels(job).items():
                labels.setdefault(k, v)
            indexed = spec.get("completionMode") == "Indexed"
            used_idx = {(p["metadata"].get("annotations") or {}).get("batch.kubernetes.io/job-completion-index")
                        for p in owned if (p.get("status") or {}).get("phase") != "Failed"}
            for _ in range(max(0, need)):
                tmpl = copy.deepcopy(spec.get("template") or {})
                tmpl.setdefault("metadata", {})["labels"] = labels
                if not self.old:
                    fins = list(tmpl["metadata"].get("finalizers") or [])
                    if JOB_TRACKING not in fins:
                        tmpl["metadata"]["finalizers"] = fins + [JOB_TRACKING]
                if indexed:
                    idx = next(str(i) for i in range(target + 1) if str(i) not in used_idx)
                    used_idx.add(idx)
                    tmpl["metadata"].setdefault("annotations", {})["batch.kubernetes.io/job-completion-index"] = idx
                    if not self.old:
                        tmpl["metadata"]["labels"] = dict(labels,
                                                          **{"batch.kubernetes.io/job-completion-index": idx})
                    gen = "%s-%s-" % (md["name"], idx)
                else:
                    gen = md["name"] + "-"
                p = self.pod_from_template(tmpl, ns, job, "batch/v1", "Job", generate_name=gen)
                res = self.create("", "pods", p)
                if res:
                    active.append(res)
                    self.event(job, "SuccessfulCreate", "Created pod: %s" % res["metadata"]["name"],
                               "job-controller", api_version="batch/v1", kind="Job")
        for k, v in (("active", len(active)), ("succeeded", succeeded), ("failed", failed)):
            if v:
                st[k] = v
            else:
                st.pop(k, None)
        if not self.old:
            st["ready"] = sum(1 for p in active if pod_ready(p))
            st["terminating"] = 0
            st["uncountedTerminatedPods"] = {}
        if complete:
            st["completionTime"] = now
            conds = st.setdefault("conditions", [])
            set_condition(conds, "Complete", "True", None, None, now, probe_time=True)
            self.event(job, "Completed", "Job completed", "job-controller", api_version="batch/v1", kind="Job")
            for c in conds:
                c["lastProbeTime"] = now
        if spec.get("completionMode") == "Indexed":
            done_idx = sorted(int((p["metadata"].get("annotations") or {}).get(
                "batch.kubernetes.io/job-completion-index", "0")) for p in owned
                if (p.get("status") or {}).get("phase") == "Succeeded")
            if done_idx:
                st["completedIndexes"] = compress_indexes(done_idx)
        self.update_status("batch", "jobs", job, st)

    def sync_job_tracking(self):
        """The Job controller's pod finalizer (1.26+): removed once the pod finished (and is counted), when the pod
        is being deleted, or when its Job is gone."""
        pods = [p for p in self.lst("", "pods") if JOB_TRACKING in (p["metadata"].get("finalizers") or [])]
        if not pods:
            return
        jobs = {j["metadata"].get("uid"): j for j in self.lst("batch", "jobs")}
        for p in pods:
            ref = controller_ref(p)
            job = jobs.get(ref.get("uid")) if ref else None
            if (p.get("status") or {}).get("phase") in ("Succeeded", "Failed") or deleting(p) or job is None:
                p2 = copy.deepcopy(p)
                p2["metadata"]["finalizers"] = [f for f in p2["metadata"]["finalizers"] if f != JOB_TRACKING]
                self.update("", "pods", p2, manager="kube-controller-manager")

    # ---------------------------------------------------------------- CronJobs
    def sync_cronjobs(self):
        cjs = self.lst("batch", "cronjobs")
        if not cjs:
            return
        jobs_by_ns = group_by_ns(self.lst("batch", "jobs"))
        for cj in cjs:
            try:
                self._sync_cronjob(cj, jobs_by_ns.get(cj["metadata"].get("namespace"), []))
            except Exception:
                log_exc("cronjob %s" % cj["metadata"].get("name"))

    def _sync_cronjob(self, cj, jobs):
        md, spec = cj["metadata"], cj.get("spec") or {}
        if deleting(cj):
            return
        ns = md.get("namespace")
        owned = [j for j in jobs if is_controlled_by(j, cj)]
        status = cj.get("status") or {}
        st = copy.deepcopy(status)
        now = time.time()
        last = parse_time(status.get("lastScheduleTime")) or parse_time(md.get("creationTimestamp")) or now
        try:
            due = cron_last_due(spec.get("schedule", ""), last, now)
        except Exception:
            due = None
        if due is not None and not spec.get("suspend"):
            policy = spec.get("concurrencyPolicy", "Allow")
            running = [j for j in owned if not job_finished(j)]
            if not (policy == "Forbid" and running):
                if policy == "Replace":
                    for j in running:
                        self.delete("batch", "jobs", ns, j["metadata"]["name"])
                jt = spec.get("jobTemplate") or {}
                jname = "%s-%d" % (md["name"], int(due // 60))
                jmd = {"name": jname, "namespace": ns, "labels": dict((jt.get("metadata") or {}).get("labels") or {}),
                       "annotations": dict((jt.get("metadata") or {}).get("annotations") or {}),
                       "ownerReferences": [owner_ref(cj, "batch/v1", "CronJob")]}
                if not self.old:
                    jmd["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] = now_str(due).replace(
                        "Z", "Z")
                job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": jmd,
                       "spec": copy.deepcopy(jt.get("spec") or {})}
                if self.create("batch", "jobs", job) is not None:
                    owned.append(job)
                    self.event(cj, "SuccessfulCreate", "Created job %s" % jname, "cronjob-controller",
                               api_version="batch/v1", kind="CronJob")
            st["lastScheduleTime"] = now_str(due)
        act = [{"apiVersion": "batch/v1", "kind": "Job", "name": j["metadata"]["name"], "namespace": ns,
                "resourceVersion": j["metadata"].get("resourceVersion"), "uid": j["metadata"].get("uid")}
               for j in owned if not job_finished(j) and j["metadata"].get("uid")]
        if act:
            st["active"] = act
        else:
            st.pop("active", None)
        succ = [j for j in owned if job_finished(j) == "Complete"]
        if succ:
            st["lastSuccessfulTime"] = max((j.get("status") or {}).get("completionTime") or "" for j in succ)
        for kind, limit in (("Complete", spec.get("successfulJobsHistoryLimit", 3)),
                            ("Failed", spec.get("failedJobsHistoryLimit", 1))):
            fin = sorted([j for j in owned if job_finished(j) == kind],
                         key=lambda j: j["metadata"].get("creationTimestamp") or "")
            for j in fin[:max(0, len(fin) - limit)]:
                self.delete("batch", "jobs", ns, j["metadata"]["name"])
        self.update_status("batch", "cronjobs", cj, st)

    # ---------------------------------------------------------------- Endpoints / EndpointSlices
    def sync_endpoints(self):
        svcs = self.lst("", "services")
        if not svcs:
            return
        pods_by_ns = group_by_ns(self.lst("", "pods"))
        eps = {(e["metadata"].get("namespace"), e["metadata"]["name"]): e for e in self.lst("", "endpoints")}
        slices = {}
        for s in self.lst("discovery.k8s.io", "endpointslices"):
            lbl = s["metadata"].get("labels") or {}
            if lbl.get("endpointslice.kubernetes.io/managed-by") == "endpointslice-controller.k8s.io":
                slices.setdefault((s["metadata"].get("namespace"), lbl.get("kubernetes.io/service-name")),
                                  []).append(s)
        for svc in svcs:
            if (svc["metadata"].get("namespace"), svc["metadata"]["name"]) == ("default", "kubernetes"):
                try:
                    self._sync_apiserver_endpoints(svc, eps, slices)
                except Exception:
                    log_exc("kubernetes endpoints")
                continue
            try:
                self._sync_service_endpoints(svc, pods_by_ns.get(svc["metadata"].get("namespace"), []), eps, slices)
            except Exception:
                log_exc("endpoints %s" % svc["metadata"].get("name"))
        try:
            self._mirror_endpoints(svcs, eps)
        except Exception:
            log_exc("endpointslice mirroring")

    MIRROR = "endpointslicemirroring-controller.k8s.io"

    def _mirror_endpoints(self, svcs, eps):
        """endpointslicemirroring-controller: user-managed Endpoints of a selector-less Service get an
        EndpointSlice `<svc>-<5 chars>` (labels kubernetes.io/service-name, managed-by the mirroring controller,
        ownerReference to the Endpoints). Endpoints labelled endpointslice.kubernetes.io/skip-mirror are skipped."""
        by_svc = {(x["metadata"].get("namespace"), x["metadata"]["name"]): x for x in svcs}
        mirrored = {}
        for sl in self.lst("discovery.k8s.io", "endpointslices"):
            lbl = sl["metadata"].get("labels") or {}
            if lbl.get("endpointslice.kubernetes.io/managed-by") == self.MIRROR:
                mirrored.setdefault((sl["metadata"].get("namespace"), lbl.get("kubernetes.io/service-name")),
                                    []).append(sl)
        wanted = set()
        for key, ep in eps.items():
            svc = by_svc.get(key)
            if svc is None or (svc.get("spec") or {}).get("selector") or deleting(ep) or \
                    (ep["metadata"].get("labels") or {}).get("endpointslice.kubernetes.io/skip-mirror") == "true":
                continue
            wanted.add(key)
            endpoints, ports = [], None
            for sub in ep.get("subsets") or []:
                for addr, ready in [(a, True) for a in sub.get("addresses") or []] + \
                        [(a, False) for a in sub.get("notReadyAddresses") or []]:
                    e = {"addresses": [addr.get("ip")], "conditions": {"ready": ready}}
                    if addr.get("hostname"):
                        e["hostname"] = addr["hostname"]
                    if addr.get("nodeName"):
                        e["nodeName"] = addr["nodeName"]
                    if addr.get("targetRef"):
                        e["targetRef"] = dict(addr["targetRef"])
                    endpoints.append(e)
                if ports is None:
                    ports = [{"name": p.get("name", ""), "port": p.get("port"), "protocol": p.get("protocol", "TCP")}
                             for p in sub.get("ports") or []]
            labels = dict(ep["metadata"].get("labels") or {})
            labels.update({"kubernetes.io/service-name": key[1], "endpointslice.kubernetes.io/managed-by":
                           self.MIRROR})
            have = mirrored.get(key) or []
            if not have:
                obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                       "metadata": {"generateName": key[1] + "-", "name": key[1] + "-" + rand_suffix(),
                                    "namespace": key[0], "labels": labels,
                                    "ownerReferences": [owner_ref(ep, "v1", "Endpoints")]},
                       "addressType": "IPv4", "endpoints": endpoints or None}
                if ports:
                    obj["ports"] = ports
                self.create("discovery.k8s.io", "endpointslices", obj)
                continue
            cur = have[0]
            if cur.get("endpoints") != (endpoints or None) or cur.get("ports") != ports or \
                    (cur["metadata"].get("labels") or {}) != labels:
                o2 = copy.deepcopy(cur)
                o2["endpoints"] = endpoints or None
                if ports:
                    o2["ports"] = ports
                else:
                    o2.pop("ports", None)
                o2["metadata"]["labels"] = labels
                self.update("discovery.k8s.io", "endpointslices", o2)
        for key, sls in mirrored.items():
            if key not in wanted:
                for sl in sls:
                    self.delete("discovery.k8s.io", "endpointslices", sl["metadata"].get("namespace"),
                                sl["metadata"]["name"])

    def _sync_apiserver_endpoints(self, svc, eps, slices):
        """The API server's own endpoint reconciler: Endpoints and EndpointSlice `kubernetes` in default, pointing
        at the control-plane address (the first node's InternalIP, port 6443, as on a kind cluster)."""
        nodes = self.nodes()
        if not nodes:
            return
        ip = self.node_ip(nodes[0], 0)
        port = 6443
        for sp in (svc.get("spec") or {}).get("ports") or []:
            if isinstance(sp.get("targetPort"), int):
                port = sp["targetPort"]
        if ("default", "kubernetes") not in eps:
            self.create("", "endpoints", {
                "apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": "kubernetes", "namespace": "default",
                             "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                "subsets": [{"addresses": [{"ip": ip}], "ports": [{"name": "https", "port": port,
                                                                   "protocol": "TCP"}]}]}, manager="kube-apiserver")
        if self.get("discovery.k8s.io", "endpointslices", "default", "kubernetes") is None:
            self.create("discovery.k8s.io", "endpointslices", {
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": "kubernetes", "namespace": "default",
                             "labels": {"kubernetes.io/service-name": "kubernetes"}},
                "addressType": "IPv4", "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}, manager="kube-apiserver")

    def _sync_service_endpoints(self, svc, pods, eps, slices):
        md, spec = svc["metadata"], svc.get("spec") or {}
        ns, name = md.get("namespace"), md["name"]
        sel = spec.get("selector")
        if not sel or spec.get("type") == "ExternalName" or deleting(svc):
            return
        headless = spec.get("clusterIP") == "None"
        publish = spec.get("publishNotReadyAddresses", False)
        zones = {n["metadata"]["name"]: (n["metadata"].get("labels") or {}).get("topology.kubernetes.io/zone")
                 for n in self.nodes()}
        subsets = {}
        slice_eps = []
        slice_ports = None
        for p in sorted(pods, key=lambda p: (p.get("status") or {}).get("podIP") or ""):
            pst = p.get("status") or {}
            if not match_map_selector(sel, p["metadata"].get("labels")) or not pst.get("podIP"):
                continue
            if pst.get("phase") in ("Succeeded", "Failed"):
                continue
            term = deleting(p)
            if term and not publish:
                continue
            ready = pod_ready(p) and not term
            ports = []
            for sp in spec.get("ports") or []:
                port = resolve_target_port(sp, p)
                if port is None:
                    continue
                ep = {"name": sp.get("name"), "port": port, "protocol": sp.get("protocol", "TCP")}
                if not ep["name"]:
                    del ep["name"]
                if sp.get("appProtocol"):
                    ep["appProtocol"] = sp["appProtocol"]
                ports.append(ep)
            addr = {"ip": pst["podIP"]}
            pspec = p.get("spec") or {}
            if pspec.get("hostname") and pspec.get("subdomain") == name:
                addr["hostname"] = pspec["hostname"]
            if pspec.get("nodeName"):
                addr["nodeName"] = pspec["nodeName"]
            addr["targetRef"] = {"kind": "Pod", "name": p["metadata"]["name"], "namespace": ns,
                                 "uid": p["metadata"].get("uid")}
            key = json.dumps(ports, sort_keys=True)
            sub = subsets.setdefault(key, {"addresses": [], "notReadyAddresses": [], "ports": ports})
            (sub["addresses"] if ready or publish else sub["notReadyAddresses"]).append(addr)
            e = {"addresses": [pst["podIP"]],
                 "conditions": {"ready": ready or (publish and not term), "serving": pod_ready(p),
                                "terminating": term}}
            if "hostname" in addr:
                e["hostname"] = addr["hostname"]
            if pspec.get("nodeName"):
                e["nodeName"] = pspec["nodeName"]
            e["targetRef"] = dict(addr["targetRef"])
            zone = zones.get(pspec.get("nodeName"))
            if zone:
                e["zone"] = zone
            slice_eps.append(e)
            if slice_ports is None:
                slice_ports = [{"name": x.get("name", ""), "port": x["port"], "protocol": x["protocol"]}
                               for x in ports]
        want_subsets = []
        for sub in subsets.values():
            s2 = {}
            if sub["addresses"]:
                s2["addresses"] = sub["addresses"]
            if sub["notReadyAddresses"]:
                s2["notReadyAddresses"] = sub["notReadyAddresses"]
            if not sub["ports"]:
                continue
            s2["ports"] = sub["ports"]
            want_subsets.append(s2)
        labels = dict(md.get("labels") or {})
        if headless:
            labels["service.kubernetes.io/headless"] = ""
        cur = eps.get((ns, name))
        if cur is None:
            obj = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns}}
            if labels:
                obj["metadata"]["labels"] = labels
            if want_subsets:
                obj["subsets"] = want_subsets
            self.create("", "endpoints", obj)
        elif (cur.get("subsets") or []) != want_subsets or (cur["metadata"].get("labels") or {}) != labels:
            obj = copy.deepcopy(cur)
            if want_subsets:
                obj["subsets"] = want_subsets
            else:
                obj.pop("subsets", None)
            if labels:
                obj["metadata"]["labels"] = labels
            else:
                obj["metadata"].pop("labels", None)
            self.update("", "endpoints", obj)
        # EndpointSlice (one per Service here; IPv4).
        slabels = dict(labels)
        slabels["kubernetes.io/service-name"] = name
        slabels["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io"
        have = slices.get((ns, name)) or []
        have = [s for s in have if is_controlled_by(s, svc)] or have
        want_eps = slice_eps or None
        if not have:
            obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                   "metadata": {"generateName": name + "-", "name": name + "-" + rand_suffix(), "namespace": ns,
                                "labels": slabels,
                                "ownerReferences": [owner_ref(svc, "v1", "Service")]},
                   "addressType": "IPv4", "endpoints": want_eps}
            if slice_ports is not None:
                obj["ports"] = slice_ports
            elif want_eps is None and spec.get("ports"):
                pass
            self.create("discovery.k8s.io", "endpointslices", obj)
        else:
            cur = have[0]
            for extra in have[1:]:
                self.delete("discovery.k8s.io", "endpointslices", ns, extra["metadata"]["name"])
            if cur.get("endpoints") != want_eps or cur.get("ports") != slice_ports or \
                    (cur["metadata"].get("labels") or {}) != slabels:
                obj = copy.deepcopy(cur)
                obj["endpoints"] = want_eps
                if slice_ports is not None:
                    obj["ports"] = slice_ports
                else:
                    obj.pop("ports", None)
                obj["metadata"]["labels"] = slabels
                self.update("discovery.k8s.io", "endpointslices", obj)

    # ---------------------------------------------------------------- HorizontalPodAutoscaler (no metrics API)
    HPA_TARGETS = {"Deployment": ("apps", "deployments"), "StatefulSet": ("apps", "statefulsets"),
                   "ReplicaSet": ("apps", "replicasets"), "ReplicationController": ("", "replicationcontrollers")}
    HPA_CONDITIONS_ANN = "autoscaling.alpha.kubernetes.io/conditions"

    def sync_hpas(self):
        for h in self.lst("autoscaling", "horizontalpodautoscalers"):
            try:
                self._sync_hpa(h)
            except Exception:
                log_exc("horizontalpodautoscaler %s" % h["metadata"].get("name"))

    def _sync_hpa(self, h):
        """What the HPA controller writes in a cluster without metrics-server: min/max are enforced by
        rescaling, anything metric-based fails with FailedGet*Metric (ScalingActive=False)."""
        md, spec = h["metadata"], h.get("spec") or {}
        if deleting(h):
            return
        ns = md.get("namespace")
        v1 = h.get("apiVersion", "").endswith("/v1")   # 1.21 stores autoscaling/v1: conditions in an annotation
        if v1:
            try:
                conds = json.loads((md.get("annotations") or {}).get(self.HPA_CONDITIONS_ANN) or "[]")
            except ValueError:
                conds = []
        else:
            conds = copy.deepcopy((h.get("status") or {}).get("conditions") or [])
        st = copy.deepcopy(h.get("status") or {})
        st.pop("conditions", None)
        ref = spec.get("scaleTargetRef") or {}
        gr = self.HPA_TARGETS.get(ref.get("kind"))
        target = self.get(gr[0], gr[1], ns, ref.get("name")) if gr else None
        now = now_str()
        if target is None:
            what = "%s%s \"%s\"" % (gr[1] if gr else (ref.get("kind") or "").lower() + "s",
                                    "." + gr[0] if gr and gr[0] else "", ref.get("name"))
            set_condition(conds, "AbleToScale", "False", "FailedGetScale",
                          "the HPA controller was unable to get the target's current scale: %s not found" % what, now)
            st.setdefault("currentReplicas", 0)
            st.setdefault("desiredReplicas", 0)
        else:
            current = (target.get("status") or {}).get("replicas", (target.get("spec") or {}).get("replicas", 1))
            want = (target.get("spec") or {}).get("replicas", 1)
            lo, hi = spec.get("minReplicas", 1), spec.get("maxReplicas", 1)
            st["currentReplicas"] = current
            st.setdefault("desiredReplicas", 0)
            desired = None
            if want == 0 and lo != 0:
                set_condition(conds, "ScalingActive", "False", "ScalingDisabled",
                              "scaling is disabled since the replica count of the target is zero", now)
            elif want > hi or want < lo:
                desired = hi if want > hi else lo
                set_condition(conds, "ScalingLimited", "True", "TooManyReplicas" if want > hi else "TooFewReplicas",
                              "the desired replica count is %s than the %s replica count" % (
                                  ("more", "maximum") if want > hi else ("less", "minimum")), now)
            else:
                metrics = spec.get("metrics") or []
                if v1 or not metrics:
                    name, mtype = "cpu", "Resource"
                else:
                    mtype = metrics[0].get("type", "Resource")
                    name = ((metrics[0].get("resource") or {}).get("name") or "cpu")
                if mtype == "Resource":
                    reason = "FailedGetResourceMetric"
                    msg = ("the HPA was unable to compute the replica count: failed to get %s resource metric "
                           "value: failed to get %s utilization: unable to get metrics for resource %s: unable to "
                           "fetch metrics from resource metrics API: the server could not find the requested "
                           "resource (get pods.metrics.k8s.io)" % (name, name, name))
                else:
                    reason = "FailedGet%sMetric" % mtype
                    msg = ("the HPA was unable to compute the replica count: unable to get metric: the server "
                           "could not find the requested resource")
                set_condition(conds, "ScalingActive", "False", reason, msg, now)
            if desired is not None:
                t2 = copy.deepcopy(target)
                t2["spec"]["replicas"] = desired
                if self.update(gr[0], gr[1], t2, manager="kube-controller-manager") is not None:
                    st["desiredReplicas"] = desired
                    st["lastScaleTime"] = now
                    set_condition(conds, "AbleToScale", "True", "SucceededRescale",
                                  "the HPA controller was able to update the target scale to %d" % desired, now)
                    self.event(h, "SuccessfulRescale", "New size: %d; reason: %s" % (
                        desired, "Current number of replicas above Spec.MaxReplicas" if want > hi else
                        "Current number of replicas below Spec.MinReplicas"), "horizontal-pod-autoscaler",
                        api_version=h.get("apiVersion"), kind="HorizontalPodAutoscaler")
            elif not any(c.get("type") == "AbleToScale" for c in conds) or desired is None:
                if not any(c.get("type") == "AbleToScale" and c.get("reason") == "SucceededRescale" for c in conds):
                    set_condition(conds, "AbleToScale", "True", "SucceededGetScale",
                                  "the HPA controller was able to get the target's current scale", now)
        order = {"AbleToScale": 0, "ScalingActive": 1, "ScalingLimited": 2}
        conds.sort(key=lambda c: order.get(c.get("type"), 9))
        if v1:
            h2 = copy.deepcopy(h)
            ann = h2["metadata"].setdefault("annotations", {})
            enc = json.dumps(conds, separators=(",", ":"))
            if ann.get(self.HPA_CONDITIONS_ANN) != enc or h.get("status") != st:
                ann[self.HPA_CONDITIONS_ANN] = enc
                h2["status"] = st
                self.call(self.store.update, "autoscaling", "horizontalpodautoscalers", h2, subresource="status",
                          manager="kube-controller-manager")
        else:
            st["conditions"] = conds
            self.update_status("autoscaling", "horizontalpodautoscalers", h, st)

    # ---------------------------------------------------------------- Leases (node heartbeats, leader election)
    def sync_leases(self):
        """kube-node-lease/<node> renewed by each kubelet, kube-system/kube-controller-manager and kube-scheduler
        held by the control plane; renewed every `lease_renew_seconds` (10; 0 disables leases)."""
        every = float(self.options.get("lease_renew_seconds", 10.0))
        if every <= 0:
            return
        now_m = time.monotonic()
        if now_m - getattr(self, "_leases_at", -1e9) < every:
            return
        self._leases_at = now_m
        micro = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".%06dZ" % (int(time.time() * 1e6) % 1000000)
        holder = getattr(self, "_holder", None)
        if holder is None:
            import uuid
            holder = self._holder = "kubesim-control-plane_" + str(uuid.uuid4())
        want = []
        for n in self.nodes():
            if deleting(n):
                continue
            want.append(("kube-node-lease", n["metadata"]["name"], n["metadata"]["name"], 40,
                         [{"apiVersion": "v1", "kind": "Node", "name": n["metadata"]["name"],
                           "uid": n["metadata"].get("uid")}], "kubelet"))
        for name in ("kube-controller-manager", "kube-scheduler"):
            want.append(("kube-system", name, holder, 15, None, name))
        for ns, name, who, duration, owners, manager in want:
            cur = self.get("coordination.k8s.io", "leases", ns, name)
            if cur is None:
                spec = {"holderIdentity": who, "leaseDurationSeconds": duration, "renewTime": micro}
                if owners is None:
                    spec.update({"acquireTime": micro, "leaseTransitions": 0})
                md = {"name": name, "namespace": ns}
                if owners:
                    md["ownerReferences"] = owners
                self.create("coordination.k8s.io", "leases", {"apiVersion": "coordination.k8s.io/v1",
                                                              "kind": "Lease", "metadata": md, "spec": spec},
                            manager=manager)
            elif not deleting(cur):
                l2 = copy.deepcopy(cur)
                l2.setdefault("spec", {})["renewTime"] = micro
                l2["spec"]["holderIdentity"] = who
                self.update("coordination.k8s.io", "leases", l2, manager=manager)

    # ---------------------------------------------------------------- CSINode (kubelet's CSI plugin registration)
    def sync_csinodes(self):
        nodes = self.nodes()
        if not nodes:
            return
        have = {c["metadata"]["name"] for c in self.lst("storage.k8s.io", "csinodes")}
        key = "topology.%s/node" % vol_mod.CSI_DRIVER
        for n in nodes:
            name = n["metadata"]["name"]
            if (n["metadata"].get("labels") or {}).get(key) != name and not deleting(n):
                # the kubelet labels the node with the topology keys the CSI plugin registered
                n2 = copy.deepcopy(n)
                n2["metadata"].setdefault("labels", {})[key] = name
                self.update("", "nodes", n2, manager="kubelet")
            if name in have or deleting(n):
                continue
            self.create("storage.k8s.io", "csinodes", {
                "apiVersion": "storage.k8s.io/v1", "kind": "CSINode",
                "metadata": {"name": name, "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name,
                                                                "uid": n["metadata"].get("uid")}]},
                "spec": {"drivers": [{"name": vol_mod.CSI_DRIVER, "nodeID": name,
                                      "topologyKeys": ["topology.%s/node" % vol_mod.CSI_DRIVER]}]}},
                manager="kubelet")

    # ---------------------------------------------------------------- PodDisruptionBudgets (disruption controller)
    def sync_pdbs(self):
        pdbs = self.lst("policy", "poddisruptionbudgets")
        if not pdbs:
            return
        pods_by_ns = group_by_ns(self.lst("", "pods"))
        for pdb in pdbs:
            try:
                self._sync_pdb(pdb, pods_by_ns.get(pdb["metadata"].get("namespace"), []))
            except Exception:
                log_exc("poddisruptionbudget %s" % pdb["metadata"].get("name"))

    def _sync_pdb(self, pdb, pods):
        md, spec = pdb["metadata"], pdb.get("spec") or {}
        if deleting(pdb):
            return
        sel = spec.get("selector")
        if sel is not None and not sel.get("matchLabels") and not sel.get("matchExpressions"):
            sel = {}   # policy/v1: an empty selector matches every pod of the namespace
        matched = [p for p in pods if not deleting(p) and (p.get("status") or {}).get("phase") not in (
            "Succeeded", "Failed") and (sel == {} or match_selector(sel, p["metadata"].get("labels")))]
        expected = len(matched)
        healthy = sum(1 for p in matched if pod_ready(p))
        if spec.get("minAvailable") is not None:
            desired = pct(spec["minAvailable"], expected, True)
        elif spec.get("maxUnavailable") is not None:
            desired = max(0, expected - pct(spec["maxUnavailable"], expected, True))
        else:
            desired = expected
        allowed = max(0, healthy - desired)
        st = copy.deepcopy(pdb.get("status") or {})
        st.update({"currentHealthy": healthy, "desiredHealthy": desired, "disruptionsAllowed": allowed,
                   "expectedPods": expected, "observedGeneration": md.get("generation", 1)})
        conds = st.setdefault("conditions", [])
        if allowed > 0:
            set_condition(conds, "DisruptionAllowed", "True", "SufficientPods", "")
        else:
            set_condition(conds, "DisruptionAllowed", "False", "InsufficientPods", "")
        for c in conds:
            c["observedGeneration"] = md.get("generation", 1)
        self.update_status("policy", "poddisruptionbudgets", pdb, st)

    # ---------------------------------------------------------------- ResourceQuota usage (quota controller)
    QUOTA_COUNTS = {"pods": ("", "pods"), "services": ("", "services"), "secrets": ("", "secrets"),
                    "configmaps": ("", "configmaps"), "persistentvolumeclaims": ("", "persistentvolumeclaims"),
                    "replicationcontrollers": ("", "replicationcontrollers"),
                    "resourcequotas": ("", "resourcequotas")}

    def sync_quotas(self):
        quotas = self.lst("", "resourcequotas")
        for q in quotas:
            try:
                self._sync_quota(q)
            except Exception:
                log_exc("resourcequota %s" % q["metadata"].get("name"))

    def _quota_items(self, ns, group, resource):
        raw = getattr(self.store, "raw_items", None)
        if raw is not None:
            return [o for _, o in raw(group, resource, ns)[0]]
        return self.lst(group, resource, ns)

    def _sync_quota(self, q):
        md, spec = q["metadata"], q.get("spec") or {}
        ns = md.get("namespace")
        hard = dict(spec.get("hard") or {})
        used = {}
        pods = None
        for key in hard:
            if key in self.QUOTA_COUNTS or key.startswith("count/"):
                if key.startswith("count/"):
                    res = key[len("count/"):]
                    plural, _, grp = res.partition(".")
                    g, r = grp, plural
                else:
                    g, r = self.QUOTA_COUNTS[key]
                items = self._quota_items(ns, g, r)
                if r == "pods":
                    items = [p for p in items if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
                used[key] = str(len(items))
            elif key in ("services.loadbalancers", "services.nodeports"):
                t = "LoadBalancer" if key.endswith("loadbalancers") else "NodePort"
                used[key] = str(sum(1 for sv in self._quota_items(ns, "", "services")
                                    if (sv.get("spec") or {}).get("type") == t))
            elif key == "requests.storage":
                tot = sum(parse_quantity(((c.get("spec") or {}).get("resources") or {}).get("requests", {}).get(
                    "storage")) for c in self._quota_items(ns, "", "persistentvolumeclaims"))
                used[key] = format_quantity(tot, binary=True)
            elif key in ("cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"):
                kind, _, res = key.rpartition(".")
                kind = kind or "requests"
                if pods is None:
                    pods = [p for p in self._quota_items(ns, "", "pods")
                            if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
                tot = 0
                for p in pods:
                    for c in (p.get("spec") or {}).get("containers") or []:
                        tot += parse_quantity(((c.get("resources") or {}).get(kind) or {}).get(res))
                used[key] = format_quantity(tot, binary=(res == "memory"))
        st = {"hard": hard, "used": used}
        self.update_status("", "resourcequotas", q, st)

    # ---------------------------------------------------------------- ServiceAccount token Secrets
    def sync_sa_tokens(self):
        secrets = [s for s in self.lst("", "secrets") if s.get("type") == "kubernetes.io/service-account-token"]
        sas = self.lst("", "serviceaccounts") if (self.old or secrets) else []
        by_uid = {sa["metadata"].get("uid"): sa for sa in sas}
        by_name = {(sa["metadata"].get("namespace"), sa["metadata"]["name"]): sa for sa in sas}
        for sec in secrets:
            ann = sec["metadata"].get("annotations") or {}
            ns = sec["metadata"].get("namespace")
            sa = by_name.get((ns, ann.get("kubernetes.io/service-account.name")))
            if deleting(sec):
                continue
            if sa is None or (ann.get("kubernetes.io/service-account.uid") and
                              ann.get("kubernetes.io/service-account.uid") not in by_uid):
                # Token controller: tokens of deleted ServiceAccounts go with them.
                if sa is None and parse_time(sec["metadata"].get("creationTimestamp") or "") and \
                        time.time() - parse_time(sec["metadata"]["creationTimestamp"]) < 2:
                    continue
                self.delete("", "secrets", ns, sec["metadata"]["name"])
                continue
            data = sec.get("data") or {}
            if not data.get("token") or not ann.get("kubernetes.io/service-account.uid"):
                s2 = copy.deepcopy(sec)
                s2["metadata"].setdefault("annotations", {})["kubernetes.io/service-account.uid"] = \
                    sa["metadata"]["uid"]
                s2["data"] = dict(data, **self._token_data(sa))
                self.update("", "secrets", s2)
        if not self.old:
            return
        for sa in sas:
            if deleting(sa):
                continue
            ns, name, uid = sa["metadata"].get("namespace"), sa["metadata"]["name"], sa["metadata"].get("uid")
            refs = [r.get("name") for r in sa.get("secrets") or []]
            have = [s for s in secrets if s["metadata"].get("namespace") == ns and
                    (s["metadata"].get("annotations") or {}).get("kubernetes.io/service-account.name") == name and
                    (s["metadata"].get("annotations") or {}).get("kubernetes.io/service-account.uid") in (uid, None)
                    and s["metadata"]["name"].startswith(name + "-token-")]
            if have:
                missing = [s["metadata"]["name"] for s in have if s["metadata"]["name"] not in refs]
                if missing and not refs:
                    sa2 = copy.deepcopy(sa)
                    sa2["secrets"] = [{"name": n} for n in missing]
                    self.update("", "serviceaccounts", sa2)
                continue
            sname = "%s-token-%s" % (name, rand_suffix())
            sec = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                   "metadata": {"name": sname, "namespace": ns,
                                "annotations": {"kubernetes.io/service-account.name": name,
                                                "kubernetes.io/service-account.uid": uid}},
                   "data": self._token_data(sa)}
            if self.create("", "secrets", sec) is not None:
                sa2 = self.get("", "serviceaccounts", ns, name)
                if sa2 is not None and sa2["metadata"].get("uid") == uid:
                    sa2["secrets"] = list(sa2.get("secrets") or []) + [{"name": sname}]
                    self.update("", "serviceaccounts", sa2)

    def _token_data(self, sa):
        ns, name = sa["metadata"].get("namespace"), sa["metadata"]["name"]
        ca = ""
        cm = self.get("", "configmaps", ns, "kube-root-ca.crt")
        if cm:
            ca = (cm.get("data") or {}).get("ca.crt", "")
        if not ca:
            for fn in ("ca.crt", "pki/ca.crt", "ca.pem"):
                p = os.path.join(self.state_dir, fn)
                if os.path.exists(p):
                    with open(p) as f:
                        ca = f.read()
                    break

        def b64u(d):
            return base64.urlsafe_b64encode(json.dumps(d, separators=(",", ":")).encode()).decode().rstrip("=")
        claims = {"iss": "kubernetes/serviceaccount", "kubernetes.io/serviceaccount/namespace": ns,
                  "kubernetes.io/serviceaccount/service-account.name": name,
                  "kubernetes.io/serviceaccount/service-account.uid": sa["metadata"].get("uid"),
                  "sub": "system:serviceaccount:%s:%s" % (ns, name)}
        token = "%s.%s.%s" % (b64u({"alg": "RS256", "kid": "kubesim"}), b64u(claims),
                              base64.urlsafe_b64encode(os.urandom(64)).decode().rstrip("="))
        enc = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
        return {"ca.crt": enc(ca), "namespace": enc(ns), "token": enc(token)}


# -------------------------------------------------------------------- module helpers
def manager_for(group, resource):
    """The field manager a real cluster records for these writers (managedFields[].manager)."""
    if (group, resource) == ("", "pods"):
        return "kubelet"
    if group == "snapshot.storage.k8s.io":
        return "snapshot-controller"
    return "kube-controller-manager"


def alloc_pod_ip(node, idx, used):
    """A free address of the node's spec.podCIDR (from .2, as a bridge CNI hands them out), else of
    10.244.<node index>.0/24."""
    import ipaddress
    cidr = ((node or {}).get("spec") or {}).get("podCIDR") or "10.244.%d.0/24" % idx
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        net = ipaddress.ip_network("10.244.%d.0/24" % idx)
    for i, addr in enumerate(net.hosts()):
        if i == 0:
            continue            # .1 is the bridge/gateway
        s = str(addr)
        if s not in used:
            return s
    return str(next(net.hosts()))


def format_quantity(v, binary=False):
    """A canonical-looking resource.Quantity: "0", "500m", "2", "1Gi", "1536Mi"."""
    if v == 0:
        return "0"
    if binary:
        for suf, mul in (("Ti", 1024 ** 4), ("Gi", 1024 ** 3), ("Mi", 1024 ** 2), ("Ki", 1024)):
            if v >= mul and v % mul == 0:
                return "%d%s" % (v // mul, suf)
        return str(int(v))
    if abs(v - round(v)) < 1e-9:
        return str(int(round(v)))
    return "%dm" % int(round(v * 1000))


def group_by_ns(objs):
    out = {}
    for o in objs:
        out.setdefault((o.get("metadata") or {}).get("namespace"), []).append(o)
    return out


def ordinal(pod_name, sts_name):
    suffix = pod_name[len(sts_name) + 1:]
    try:
        return int(suffix)
    except ValueError:
        return -1


def pct(value, total, round_up):
    if isinstance(value, int):
        return value
    s = str(value)
    if s.endswith("%"):
        f = float(s[:-1]) * total / 100.0
        return int(math.ceil(f)) if round_up else int(math.floor(f))
    try:
        return int(s)
    except ValueError:
        return 0


def qos_class(pod):
    cs = ((pod.get("spec") or {}).get("containers") or []) + ((pod.get("spec") or {}).get("initContainers") or [])
    any_set = False
    guaranteed = True
    for c in cs:
        r = c.get("resources") or {}
        req, lim = r.get("requests") or {}, r.get("limits") or {}
        if req or lim:
            any_set = True
        for res in ("cpu", "memory"):
            if res not in lim or (res in req and req[res] != lim[res]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def normalize_image(image):
    if not image:
        return image
    name, tag = image, "latest"
    if "@" in image:
        return image
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = image.rsplit(":", 1)
    parts = name.split("/")
    if len(parts) == 1:
        name = "docker.io/library/" + name
    elif "." not in parts[0] and ":" not in parts[0] and parts[0] != "localhost":
        name = "docker.io/" + name
    return "%s:%s" % (name, tag)


def ds_tolerations():
    tol = [("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
           ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
           ("node.kubernetes.io/pid-pressure", "NoSchedule"), ("node.kubernetes.io/unschedulable", "NoSchedule")]
    return [{"key": k, "operator": "Exists", "effect": e} for k, e in tol]


def resolve_target_port(sp, pod):
    tp = sp.get("targetPort", sp.get("port"))
    if isinstance(tp, int):
        return tp
    if isinstance(tp, str):
        if tp.isdigit():
            return int(tp)
        for c in (pod.get("spec") or {}).get("containers") or []:
            for cp in c.get("ports") or []:
                if cp.get("name") == tp:
                    return cp.get("containerPort")
        return None
    return sp.get("port")


def job_finished(job):
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return c["type"]
    return None


def compress_indexes(idx):
    out, start, prev = [], None, None
    for i in idx:
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            out.append(str(start) if start == prev else "%d-%d" % (start, prev))
            start = prev = i
    if start is not None:
        out.append(str(start) if start == prev else "%d-%d" % (start, prev))
    return ",".join(out)


def _cron_field(spec, lo, hi):
    vals = set()
    for part in spec.split(","):
        step = 1
        if "/" in part:
            part, st = part.split("/", 1)
            step = int(st)
        if part in ("*", "?"):
            a, b = lo, hi
        elif "-" in part:
            a, b = (int(x) for x in part.split("-", 1))
        else:
            a = int(part)
            b = hi if step > 1 else a
        vals.update(range(a, b + 1, step))
    return vals


_CRON_MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
                "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}


def cron_last_due(schedule, after, now):
    """Latest minute boundary t with after < t <= now matching the 5-field cron schedule (UTC), or None."""
    sched = _CRON_MACROS.get(schedule.strip(), schedule.strip())
    fields = sched.split()
    if fields and fields[0].startswith("CRON_TZ=") or fields and fields[0].startswith("TZ="):
        fields = fields[1:]
    if len(fields) != 5:
        return None
    mins, hours, doms, mons, dows = (_cron_field(fields[0], 0, 59), _cron_field(fields[1], 0, 23),
                                     _cron_field(fields[2], 1, 31), _cron_field(fields[3], 1, 12),
                                     _cron_field(fields[4].replace("7", "0"), 0, 6))
    t = int(now // 60) * 60
    lower = max(after, now - 3 * 86400)
    while t > lower:
        tm = time.gmtime(t)
        if tm.tm_min in mins and tm.tm_hour in hours and tm.tm_mon in mons and \
                tm.tm_mday in doms and ((tm.tm_wday + 1) % 7) in dows:
            return t
        t -= 60
    return None


def _exec_probe(c):
    """True when container c has an exec readiness probe (the kind kubesim runs)."""
    pr = c.get("readinessProbe") or {}
    return bool((pr.get("exec") or {}).get("command"))
