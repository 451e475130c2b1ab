"""In-process cluster for the controller tests: the real kubesim Store, Registry, Admission and CRD manager with
kubesim's ControllerManager on top, no HTTP. Fast, and independent of the launcher."""
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from ksim.registry import Registry  # noqa: E402
from ksim.store import Store  # noqa: E402
from ksim.admission import Admission  # noqa: E402
from ksim import crd as crd_mod  # noqa: E402
from ksim.controllers import ControllerManager  # noqa: E402
from polling import wait_for  # noqa: E402

SNAP_CRDS = [("volumesnapshots", "VolumeSnapshot", "Namespaced"),
             ("volumesnapshotcontents", "VolumeSnapshotContent", "Cluster"),
             ("volumesnapshotclasses", "VolumeSnapshotClass", "Cluster")]


def snapshot_crd(plural, kind, scope):
    v = {"name": "v1", "served": True, "storage": True,
         "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    if plural != "volumesnapshotclasses":
        v["subresources"] = {"status": {}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "%s.snapshot.storage.k8s.io" % plural},
            "spec": {"group": "snapshot.storage.k8s.io", "scope": scope,
                     "names": {"plural": plural, "kind": kind, "singular": kind.lower(), "listKind": kind + "List"},
                     "versions": [v]}}


class Cluster:
    def __init__(self, profile="1.30", nodes=2, options=None, snapshots=True):
        self.dir = tempfile.mkdtemp(prefix="ksim-ctrl-")
        self.profile = profile
        self.registry = Registry(profile)
        self.store = Store(self.dir, profile, self.registry, {"persist_interval": 3600})
        self.store.hooks = Admission(profile, {"ca_pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"})
        self.crds = crd_mod.CRDManager(self.store, self.registry, delay=0.01)
        self.store.subscribe(self.crds.on_event)
        for ns in ("default", "kube-system"):
            self.store.create("", "namespaces", {"metadata": {"name": ns}})
        for i in range(nodes):
            self.store.create("", "nodes", {"metadata": {"name": "node-%d" % (i + 1),
                                                         "labels": {"kubernetes.io/hostname": "node-%d" % (i + 1)}},
                                            "status": {"addresses": [{"type": "InternalIP",
                                                                      "address": "172.18.0.%d" % (i + 2)}]}})
        if snapshots:
            for plural, kind, scope in SNAP_CRDS:
                self.store.create("apiextensions.k8s.io", "customresourcedefinitions",
                                  snapshot_crd(plural, kind, scope))
                self.crds.establish_now("%s.snapshot.storage.k8s.io" % plural)
        opts = {"namespace_termination_seconds": 0.5, "job_pod_run_seconds": 0.3, "gc_full_resync_seconds": 2}
        opts.update(options or {})
        self.cm = ControllerManager(self.store, self.dir, profile, opts)
        self.cm.start()

    def close(self):
        self.cm.stop()
        self.store._closed = True
        shutil.rmtree(self.dir, ignore_errors=True)

    def wait(self, fn, timeout=10.0, what="condition"):
        return wait_for(fn, timeout, what, 0.05)

    # shortcuts
    def get(self, g, r, ns, n):
        return self.store.get(g, r, ns, n)

    def list(self, g, r, ns=None):
        return self.store.list(g, r, ns)

    def create(self, g, r, obj):
        return self.store.create(g, r, obj, manager="kubectl-create")
