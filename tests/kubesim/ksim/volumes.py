"""Storage: PV/PVC binding, kubesim's CSI driver (dynamic provisioning, snapshots), and pod volume paths for exec.

Layout under the state dir (one folder per volume, as a hostpath CSI driver keeps them):
    volumes/<volumeHandle>/        a PersistentVolume of driver kubesim.csi.k8s.io
    snapshots/<snapshotHandle>/    a VolumeSnapshotContent's copy of its source volume
    hostpath/<path>/               what hostPath / local / other non-CSI volumes see (never the real host path)
    pods/<pod uid>/volumes/<name>/ emptyDir and materialized configMap/secret/projected/downwardAPI volumes
    pods/<pod uid>/containers/<name>/rootfs/   the container's writable root (its /tmp etc. persist across execs)

The controller writes what the real ones write:
* PV controller: binds a PVC to an Available PV (class, size, access modes, volumeMode, selector, pre-bound
  claimRef/volumeName), claimRef with uid and resourceVersion, annotations pv.kubernetes.io/bind-completed and
  pv.kubernetes.io/bound-by-controller, phases Pending/Available/Bound/Released; retroactive default StorageClass;
  reclaimPolicy Delete removes a released dynamically provisioned PV and its folder, Retain keeps it Released.
* external-provisioner for kubesim.csi.k8s.io: PV `pvc-<pvc uid>` (csi.driver, csi.volumeHandle, fsType ext4,
  volumeAttributes storage.kubernetes.io/csiProvisionerIdentity), pv.kubernetes.io/provisioned-by and the
  volume.kubernetes.io/storage-provisioner annotations; WaitForFirstConsumer waits for volume.kubernetes.io/selected-node
  (set by the scheduler in controllers.py); dataSource VolumeSnapshot (filled from the snapshot copy) or
  PersistentVolumeClaim (clone).
* snapshot-controller + csi-snapshotter: VolumeSnapshot -> VolumeSnapshotContent `snapcontent-<vs uid>` with
  status.snapshotHandle, readyToUse, restoreSize, creationTime; pre-provisioned contents (spec.source.snapshotHandle)
  bind to their VolumeSnapshot; deletionPolicy Delete removes content and copy with the VolumeSnapshot; the real
  finalizers (pvc-protection, pv-protection, volumesnapshot-*-protection, volumesnapshotcontent-bound-protection).
"""
import base64
import copy
import os
import shutil
import subprocess
import time
import uuid

from .ctrl_common import (CSI_DRIVER, is_kubesim_driver, info, log_exc, now_str, deleting, parse_quantity, match_selector)

SNAP = "snapshot.storage.k8s.io"
PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"
PROVISIONER_FINALIZER = "external-provisioner.volume.kubernetes.io/finalizer"
VS_SOURCE_PROTECTION = "snapshot.storage.kubernetes.io/volumesnapshot-as-source-protection"
VS_BOUND_PROTECTION = "snapshot.storage.kubernetes.io/volumesnapshot-bound-protection"
VSC_BOUND_PROTECTION = "snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection"
PROVISIONER_IDENTITY = "1700000000000-8081-" + CSI_DRIVER


def pvc_class_name(pvc):
    return (pvc.get("spec") or {}).get("storageClassName") or \
        ((pvc.get("metadata") or {}).get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class")


def default_class(classes):
    defaults = [c for c in classes.values()
                if ((c["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class")
                    == "true" or (c["metadata"].get("annotations") or {}).get(
                        "storageclass.beta.kubernetes.io/is-default-class") == "true")]
    if not defaults:
        return None
    return sorted(defaults, key=lambda c: c["metadata"].get("creationTimestamp") or "")[-1]


def effective_class_name(pvc, classes):
    """The PVC's class; a claim without storageClassName (nil, not "") gets the default class, as the
    DefaultStorageClass admission plugin / retroactive assignment would have written."""
    name = pvc_class_name(pvc)
    if name is not None:
        return name
    if (pvc.get("spec") or {}).get("volumeName"):
        return ""
    dc = default_class(classes)
    return dc["metadata"]["name"] if dc is not None else ""


def volume_dir(state_dir, handle):
    safe = str(handle).replace("/", "_").replace("..", "_")
    return os.path.join(state_dir, "volumes", safe)


def snapshot_dir(state_dir, handle):
    safe = str(handle).replace("/", "_").replace("..", "_")
    return os.path.join(state_dir, "snapshots", safe)


def hostpath_dir(state_dir, path):
    rel = os.path.normpath("/" + (path or "")).lstrip("/") or "_root"
    return os.path.join(state_dir, "hostpath", rel)


def nfs_dir(state_dir, nfs):
    """An NFS export as a folder shared by every pod and PV naming the same server and path."""
    server = (nfs or {}).get("server") or "_"
    rel = os.path.normpath("/" + ((nfs or {}).get("path") or "")).lstrip("/") or "_root"
    return os.path.join(state_dir, "nfs", server.replace("/", "_"), rel)


def pod_dir(state_dir, pod):
    return os.path.join(state_dir, "pods", (pod.get("metadata") or {}).get("uid") or "unknown")


def cleanup_pod_dirs(state_dir, pod):
    d = pod_dir(state_dir, pod)
    if os.path.isdir(d):
        shutil.rmtree(d, ignore_errors=True)


def pv_dir(state_dir, pv):
    spec = pv.get("spec") or {}
    if spec.get("csi"):
        return volume_dir(state_dir, spec["csi"].get("volumeHandle") or pv["metadata"]["name"])
    for key in ("hostPath", "local"):
        if spec.get(key):
            return hostpath_dir(state_dir, spec[key].get("path"))
    if spec.get("nfs"):
        return nfs_dir(state_dir, spec["nfs"])
    return volume_dir(state_dir, "pv-" + pv["metadata"]["name"])


def dir_size(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def copy_tree(src, dst):
    """A snapshot or clone of a volume: everything a block-level copy keeps — owners (as root), modes, times, hard
    links, symlinks, holes — through GNU cp -a; shutil's copy where cp is missing."""
    os.makedirs(dst, exist_ok=True)
    if not os.path.isdir(src):
        return
    if shutil.which("cp"):
        p = subprocess.run(["cp", "-a", "--sparse=always", "--", src + "/.", dst + "/"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if p.returncode == 0:
            return
        info("cp -a %s: %s" % (src, p.stderr.decode("utf-8", "replace").strip()))
    for name in os.listdir(src):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if os.path.isdir(s) and not os.path.islink(s):
            shutil.copytree(s, d, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(s, d, follow_symlinks=False)


def quantity_str(nbytes):
    for suf, mul in (("Ti", 1024 ** 4), ("Gi", 1024 ** 3), ("Mi", 1024 ** 2), ("Ki", 1024)):
        if nbytes >= mul and nbytes % mul == 0:
            return "%d%s" % (nbytes // mul, suf)
    return str(int(nbytes))


class StorageController:
    def __init__(self, mgr):
        self.mgr = mgr
        self.store = mgr.store
        self.state_dir = mgr.state_dir
        self._no_retro = set()

    def sync(self):
        for name, fn in (("persistentvolumes", self.sync_pvs), ("persistentvolumeclaims", self.sync_pvcs),
                         ("volumesnapshots", self.sync_snapshots)):
            try:
                fn()
            except Exception:
                log_exc(name + " controller")

    # ------------------------------------------------------------ helpers
    def classes(self):
        return {c["metadata"]["name"]: c for c in self.mgr.lst("storage.k8s.io", "storageclasses")}

    def default_class(self, classes):
        return default_class(classes)

    def _set_status(self, resource, obj, **fields):
        st = copy.deepcopy(obj.get("status") or {})
        st.update(fields)
        return self.mgr.update_status("", resource, obj, st)

    # ------------------------------------------------------------ PersistentVolumes
    def sync_pvs(self):
        pvs = self.mgr.lst("", "persistentvolumes")
        if not pvs:
            return
        pvcs = {(c["metadata"].get("namespace"), c["metadata"]["name"]): c
                for c in self.mgr.lst("", "persistentvolumeclaims")}
        for pv in pvs:
            try:
                self._sync_pv(pv, pvcs)
            except Exception:
                log_exc("persistentvolume %s" % pv["metadata"].get("name"))

    def _ours(self, pv):
        spec = pv.get("spec") or {}
        return is_kubesim_driver((spec.get("csi") or {}).get("driver"))

    def _sync_pv(self, pv, pvcs):
        md, spec = pv["metadata"], pv.get("spec") or {}
        phase = (pv.get("status") or {}).get("phase")
        ref = spec.get("claimRef")
        claim = pvcs.get((ref.get("namespace"), ref.get("name"))) if ref else None
        claim_gone = ref is not None and ref.get("uid") and (
            claim is None or claim["metadata"].get("uid") != ref.get("uid"))
        if deleting(pv):
            bound = ref is not None and not claim_gone and phase == "Bound"
            if bound:
                return
            fins = md.get("finalizers") or []
            if spec.get("persistentVolumeReclaimPolicy", "Retain") == "Delete" and self._ours(pv) and \
                    PROVISIONER_FINALIZER in fins:
                shutil.rmtree(pv_dir(self.state_dir, pv), ignore_errors=True)
            keep = [f for f in fins if f not in (PV_PROTECTION, PROVISIONER_FINALIZER)]
            if keep != fins:
                p2 = copy.deepcopy(pv)
                p2["metadata"]["finalizers"] = keep
                self.mgr.update("", "persistentvolumes", p2)
            return
        if PV_PROTECTION not in (md.get("finalizers") or []):
            p2 = copy.deepcopy(pv)
            p2["metadata"]["finalizers"] = list(md.get("finalizers") or []) + [PV_PROTECTION]
            res = self.mgr.update("", "persistentvolumes", p2)
            if res is None:
                return
            pv = res
        if claim_gone:
            if phase != "Released" and phase != "Failed":
                pv = self._set_status("persistentvolumes", pv, phase="Released") or pv
            if spec.get("persistentVolumeReclaimPolicy", "Retain") == "Delete":
                if self._ours(pv):
                    shutil.rmtree(pv_dir(self.state_dir, pv), ignore_errors=True)
                    p2 = copy.deepcopy(pv)
                    p2["metadata"]["finalizers"] = [f for f in p2["metadata"].get("finalizers") or []
                                                    if f != PROVISIONER_FINALIZER]
                    if p2["metadata"]["finalizers"] != (pv["metadata"].get("finalizers") or []):
                        pv = self.mgr.update("", "persistentvolumes", p2) or pv
                    self.mgr.delete("", "persistentvolumes", None, md["name"])
                else:
                    msg = "error getting deleter volume plugin for volume \"%s\": no volume plugin matched" % md[
                        "name"]
                    if (pv.get("status") or {}).get("phase") != "Failed":
                        self._set_status("persistentvolumes", pv, phase="Failed", message=msg)
            return
        if claim is not None and (claim.get("spec") or {}).get("volumeName") == md["name"] and \
                (not ref.get("uid") or ref.get("uid") == claim["metadata"].get("uid")):
            if phase != "Bound":
                self._set_status("persistentvolumes", pv, phase="Bound")
            return
        if phase not in ("Available", "Released", "Failed", "Bound") or (phase == "Bound" and ref is None):
            self._set_status("persistentvolumes", pv, phase="Available")

    # ------------------------------------------------------------ PersistentVolumeClaims
    def sync_pvcs(self):
        pvcs = self.mgr.lst("", "persistentvolumeclaims")
        if not pvcs:
            return
        pvs = {p["metadata"]["name"]: p for p in self.mgr.lst("", "persistentvolumes")}
        classes = self.classes()
        pods = self.mgr.lst("", "pods")
        used = set()
        for p in pods:
            if (p.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            for v in (p.get("spec") or {}).get("volumes") or []:
                if v.get("persistentVolumeClaim"):
                    used.add((p["metadata"].get("namespace"), v["persistentVolumeClaim"].get("claimName")))
                if v.get("ephemeral"):
                    used.add((p["metadata"].get("namespace"), "%s-%s" % (p["metadata"]["name"], v.get("name"))))
        for pvc in pvcs:
            try:
                self._sync_pvc(pvc, pvs, classes, used)
            except Exception:
                log_exc("persistentvolumeclaim %s/%s" % (pvc["metadata"].get("namespace"), pvc["metadata"]["name"]))

    def _sync_pvc(self, pvc, pvs, classes, used):
        md, spec = pvc["metadata"], pvc.get("spec") or {}
        ns, name = md.get("namespace"), md["name"]
        if deleting(pvc):
            fins = md.get("finalizers") or []
            if PVC_PROTECTION in fins and (ns, name) not in used:
                p2 = copy.deepcopy(pvc)
                p2["metadata"]["finalizers"] = [f for f in fins if f != PVC_PROTECTION]
                self.mgr.update("", "persistentvolumeclaims", p2)
            return
        if PVC_PROTECTION not in (md.get("finalizers") or []):
            p2 = copy.deepcopy(pvc)
            p2["metadata"]["finalizers"] = list(md.get("finalizers") or []) + [PVC_PROTECTION]
            res = self.mgr.update("", "persistentvolumeclaims", p2)
            if res is None:
                return
            pvc, md, spec = res, res["metadata"], res.get("spec") or {}
        status = pvc.get("status") or {}
        if "storageClassName" not in spec and not (md.get("annotations") or {}).get(
                "volume.beta.kubernetes.io/storage-class") and not spec.get("volumeName"):
            dc = self.default_class(classes)
            if dc is not None:
                # Retroactive default StorageClass assignment (1.28+). Should the API refuse the write (its
                # admission normally sets the class at create), bind with the default class anyway.
                if md.get("uid") not in self._no_retro:
                    p2 = copy.deepcopy(pvc)
                    p2["spec"]["storageClassName"] = dc["metadata"]["name"]
                    if self.mgr.update("", "persistentvolumeclaims", p2) is not None:
                        return
                    self._no_retro.add(md.get("uid"))
        vname = spec.get("volumeName")
        if status.get("phase") == "Bound" and vname:
            pv = pvs.get(vname)
            if pv is None:
                self._set_status("persistentvolumeclaims", pvc, phase="Lost")
            else:
                self._expand(pvc, pv, classes)
            return
        if status.get("phase") == "Lost":
            return
        if vname:
            pv = pvs.get(vname)
            if pv is None or deleting(pv):
                self._pending(pvc)
                return
            ref = (pv.get("spec") or {}).get("claimRef")
            if ref and not (ref.get("name") == name and ref.get("namespace") == ns and
                            ref.get("uid") in (None, "", md.get("uid"))):
                self._pending(pvc)
                return
            self._bind(pvc, pv, pvc_set_volume=False)
            return
        cls_name = effective_class_name(pvc, classes)
        cand = self._find_pv(pvc, pvs.values(), cls_name)
        if cand is not None:
            self._bind(pvc, cand, pvc_set_volume=True)
            return
        sc = classes.get(cls_name)
        if sc is not None and is_kubesim_driver(sc.get("provisioner")) and cls_name:
            self._provision(pvc, sc, pvs)
            return
        self._pending(pvc)

    def _expand(self, pvc, pv, classes):
        """external-resizer + kubelet for kubesim's driver: a bound claim asking for more than its capacity, in a
        class with allowVolumeExpansion, gets the PV's and its own capacity raised (folders have no size)."""
        want_q = (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
        have_q = ((pvc.get("status") or {}).get("capacity") or {}).get("storage")
        if not want_q or parse_quantity(want_q) <= parse_quantity(have_q):
            return
        sc = classes.get(effective_class_name(pvc, classes))
        if sc is None or not sc.get("allowVolumeExpansion") or not self._ours(pv):
            return
        if parse_quantity(((pv.get("spec") or {}).get("capacity") or {}).get("storage")) < parse_quantity(want_q):
            p2 = copy.deepcopy(pv)
            p2["spec"].setdefault("capacity", {})["storage"] = want_q
            if self.mgr.update("", "persistentvolumes", p2, manager="csi-resizer") is None:
                return
        st = copy.deepcopy(pvc.get("status") or {})
        st.setdefault("capacity", {})["storage"] = want_q
        st.pop("conditions", None)
        st.pop("allocatedResources", None)
        if self.mgr.update_status("", "persistentvolumeclaims", pvc, st, manager="kubelet") is not None:
            self.mgr.event(pvc, "FileSystemResizeSuccessful", "MountVolume.NodeExpandVolume succeeded for volume "
                           '"%s"' % pv["metadata"]["name"], "kubelet", api_version="v1",
                           kind="PersistentVolumeClaim")

    def _pending(self, pvc):
        if (pvc.get("status") or {}).get("phase") != "Pending":
            self._set_status("persistentvolumeclaims", pvc, phase="Pending")

    def _find_pv(self, pvc, pvs, cls_name):
        md, spec = pvc["metadata"], pvc.get("spec") or {}
        want = parse_quantity(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
        modes = set(spec.get("accessModes") or [])
        vmode = spec.get("volumeMode") or "Filesystem"
        best = None
        for pv in pvs:
            ps = pv.get("spec") or {}
            if deleting(pv):
                continue
            ref = ps.get("claimRef")
            prebound = False
            if ref:
                if ref.get("name") == md["name"] and ref.get("namespace") == md.get("namespace") and \
                        ref.get("uid") in (None, "", md.get("uid")):
                    prebound = True
                else:
                    continue
            elif (pv.get("status") or {}).get("phase") not in (None, "Available", "Pending"):
                continue
            if (ps.get("storageClassName") or "") != cls_name:
                continue
            if parse_quantity((ps.get("capacity") or {}).get("storage")) < want:
                continue
            if not modes.issubset(set(ps.get("accessModes") or [])):
                continue
            if (ps.get("volumeMode") or "Filesystem") != vmode:
                continue
            if spec.get("selector") is not None and not match_selector(spec["selector"],
                                                                       pv["metadata"].get("labels")):
                continue
            if prebound:
                return pv
            size = parse_quantity((ps.get("capacity") or {}).get("storage"))
            if best is None or size < best[0]:
                best = (size, pv)
        return best[1] if best else None

    def _bind(self, pvc, pv, pvc_set_volume):
        md = pvc["metadata"]
        ps = pv.get("spec") or {}
        ref = ps.get("claimRef")
        want_ref = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": md["name"],
                    "namespace": md.get("namespace"), "resourceVersion": md.get("resourceVersion"),
                    "uid": md.get("uid")}
        if not ref or ref.get("uid") != md.get("uid"):
            p2 = copy.deepcopy(pv)
            p2["spec"]["claimRef"] = want_ref
            if not ref:
                p2["metadata"].setdefault("annotations", {})["pv.kubernetes.io/bound-by-controller"] = "yes"
            pv = self.mgr.update("", "persistentvolumes", p2)
            if pv is None:
                return
        if (pv.get("status") or {}).get("phase") != "Bound":
            pv = self._set_status("persistentvolumes", pv, phase="Bound") or pv
        c2 = copy.deepcopy(pvc)
        ann = c2["metadata"].setdefault("annotations", {})
        changed = False
        if c2["spec"].get("volumeName") != pv["metadata"]["name"]:
            c2["spec"]["volumeName"] = pv["metadata"]["name"]
            changed = True
        if ann.get("pv.kubernetes.io/bind-completed") != "yes":
            ann["pv.kubernetes.io/bind-completed"] = "yes"
            changed = True
        if pvc_set_volume and ann.get("pv.kubernetes.io/bound-by-controller") != "yes":
            ann["pv.kubernetes.io/bound-by-controller"] = "yes"
            changed = True
        if changed:
            res = self.mgr.update("", "persistentvolumeclaims", c2)
            if res is None:
                return
            pvc = res
        st = copy.deepcopy(pvc.get("status") or {})
        st.update({"phase": "Bound", "accessModes": list(ps.get("accessModes") or []),
                   "capacity": dict(ps.get("capacity") or {})})
        self.mgr.update_status("", "persistentvolumeclaims", pvc, st)

    def _provision(self, pvc, sc, pvs):
        md, spec = pvc["metadata"], pvc.get("spec") or {}
        ann = md.get("annotations") or {}
        driver = sc.get("provisioner") or CSI_DRIVER
        if sc.get("volumeBindingMode") == "WaitForFirstConsumer" and not ann.get(
                "volume.kubernetes.io/selected-node"):
            self._pending(pvc)
            self.mgr.event(pvc, "WaitForFirstConsumer", "waiting for first consumer to be created before binding",
                           "persistentvolume-controller", api_version="v1", kind="PersistentVolumeClaim")
            return
        if ann.get("volume.kubernetes.io/storage-provisioner") != driver:
            c2 = copy.deepcopy(pvc)
            a2 = c2["metadata"].setdefault("annotations", {})
            a2["volume.beta.kubernetes.io/storage-provisioner"] = driver
            a2["volume.kubernetes.io/storage-provisioner"] = driver
            res = self.mgr.update("", "persistentvolumeclaims", c2)
            if res is None:
                return
            pvc, md, spec = res, res["metadata"], res.get("spec") or {}
            self._pending(pvc)
        if spec.get("selector") is not None:
            # external-provisioner provisions no claim with a selector: it waits for a matching volume.
            self._pending(pvc)
            self.mgr.event(pvc, "ProvisioningFailed", 'failed to provision volume with StorageClass "%s": claim '
                           'Selector is not supported' % sc["metadata"]["name"],
                           PROVISIONER_IDENTITY.split("-", 2)[2] + "_kubesim", etype="Warning", api_version="v1",
                           kind="PersistentVolumeClaim")
            return
        pv_name = "pvc-" + md["uid"]
        if pv_name in pvs:
            return
        # Fill the new volume from its data source first; wait while the source is not ready.
        handle = str(uuid.uuid4())
        src = spec.get("dataSourceRef") or spec.get("dataSource")
        fill_from = None
        if src and src.get("kind") == "VolumeSnapshot" and (src.get("apiGroup") or "") == SNAP:
            vs = self.mgr.get(SNAP, "volumesnapshots", md.get("namespace"), src.get("name"))
            if vs is None or not (vs.get("status") or {}).get("readyToUse"):
                return
            content = self.mgr.get(SNAP, "volumesnapshotcontents", None,
                                   (vs.get("status") or {}).get("boundVolumeSnapshotContentName"))
            if content is None:
                return
            fill_from = snapshot_dir(self.state_dir, (content.get("status") or {}).get("snapshotHandle") or
                                     ((content.get("spec") or {}).get("source") or {}).get("snapshotHandle"))
            want = parse_quantity(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
            have = (content.get("status") or {}).get("restoreSize") or 0
            if want < have:
                # external-provisioner refuses ("requested volume size ... is less than the size ... for the
                # source snapshot") and the claim stays Pending.
                return
        elif src and src.get("kind") == "PersistentVolumeClaim" and not src.get("apiGroup"):
            other = self.mgr.get("", "persistentvolumeclaims", md.get("namespace"), src.get("name"))
            if other is None or (other.get("status") or {}).get("phase") != "Bound":
                return
            opv = pvs.get(other["spec"].get("volumeName"))
            if opv is None:
                return
            fill_from = pv_dir(self.state_dir, opv)
        dest = volume_dir(self.state_dir, handle)
        os.makedirs(dest, exist_ok=True)
        if fill_from:
            copy_tree(fill_from, dest)
        size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        pv = {"apiVersion": "v1", "kind": "PersistentVolume",
              "metadata": {"name": pv_name,
                           "annotations": {"pv.kubernetes.io/provisioned-by": driver,
                                           "volume.kubernetes.io/provisioner-deletion-secret-name": "",
                                           "volume.kubernetes.io/provisioner-deletion-secret-namespace": ""},
                           "finalizers": [PV_PROTECTION, PROVISIONER_FINALIZER]},
              "spec": {"accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
                       "capacity": {"storage": size},
                       "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": md["name"],
                                    "namespace": md.get("namespace"), "resourceVersion": md.get("resourceVersion"),
                                    "uid": md["uid"]},
                       "csi": {"driver": driver, "fsType": "ext4",
                               "volumeAttributes": {"storage.kubernetes.io/csiProvisionerIdentity":
                                                    PROVISIONER_IDENTITY},
                               "volumeHandle": handle},
                       "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
                       "storageClassName": sc["metadata"]["name"],
                       "volumeMode": spec.get("volumeMode") or "Filesystem"}}
        if sc.get("mountOptions"):
            pv["spec"]["mountOptions"] = list(sc["mountOptions"])
        node = ann.get("volume.kubernetes.io/selected-node")
        if node:
            pv["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "topology.%s/node" % CSI_DRIVER, "operator": "In", "values": [node]}]}]}}
        self.mgr.event(pvc, "Provisioning", 'External provisioner is provisioning volume for claim "%s/%s"' % (
            md.get("namespace"), md["name"]), PROVISIONER_IDENTITY.split("-", 2)[2] + "_kubesim",
            api_version="v1", kind="PersistentVolumeClaim")
        if self.mgr.create("", "persistentvolumes", pv, manager="csi-provisioner") is None:
            shutil.rmtree(dest, ignore_errors=True)
            return
        self.mgr.event(pvc, "ProvisioningSucceeded", "Successfully provisioned volume %s" % pv_name,
                       PROVISIONER_IDENTITY.split("-", 2)[2] + "_kubesim", api_version="v1",
                       kind="PersistentVolumeClaim")
        info("provisioned %s for %s/%s (handle %s)" % (pv_name, md.get("namespace"), md["name"], handle))

    # ------------------------------------------------------------ snapshots
    def sync_snapshots(self):
        snaps = self.mgr.lst(SNAP, "volumesnapshots")
        contents = self.mgr.lst(SNAP, "volumesnapshotcontents")
        if not snaps and not contents:
            return
        classes = {c["metadata"]["name"]: c for c in self.mgr.lst(SNAP, "volumesnapshotclasses")}
        by_name = {c["metadata"]["name"]: c for c in contents}
        vs_by_key = {(v["metadata"].get("namespace"), v["metadata"]["name"]): v for v in snaps}
        for vs in snaps:
            try:
                self._sync_vs(vs, by_name, classes)
            except Exception:
                log_exc("volumesnapshot %s" % vs["metadata"].get("name"))
        for c in contents:
            try:
                self._sync_content(c, vs_by_key)
            except Exception:
                log_exc("volumesnapshotcontent %s" % c["metadata"].get("name"))

    def _snap_class(self, vs, classes, driver=None):
        name = (vs.get("spec") or {}).get("volumeSnapshotClassName")
        if name:
            return classes.get(name)
        defaults = [c for c in classes.values() if (c.get("driver") == driver if driver else is_kubesim_driver(c.get("driver"))) and
                    (c["metadata"].get("annotations") or {}).get("snapshot.storage.kubernetes.io/is-default-class")
                    == "true"]
        return defaults[0] if len(defaults) == 1 else None

    def _vs_status(self, vs, content, error=None):
        cst = content.get("status") or {} if content else {}
        st = copy.deepcopy(vs.get("status") or {})
        if content is not None:
            st["boundVolumeSnapshotContentName"] = content["metadata"]["name"]
            if cst.get("creationTime"):
                st["creationTime"] = now_str(cst["creationTime"] / 1e9)
            st["readyToUse"] = bool(cst.get("readyToUse"))
            if cst.get("restoreSize") is not None:
                st["restoreSize"] = quantity_str(cst["restoreSize"])
            st.pop("error", None)
        if error:
            st["error"] = {"message": error, "time": now_str()}
            st.setdefault("readyToUse", False)
        return self.mgr.update_status(SNAP, "volumesnapshots", vs, st)

    def _add_finalizers(self, resource, obj, fins):
        cur = obj["metadata"].get("finalizers") or []
        missing = [f for f in fins if f not in cur]
        if not missing:
            return obj
        o2 = copy.deepcopy(obj)
        o2["metadata"]["finalizers"] = list(cur) + missing
        return self.mgr.update(SNAP, resource, o2)

    def _sync_vs(self, vs, contents, classes):
        md, spec = vs["metadata"], vs.get("spec") or {}
        ns, name = md.get("namespace"), md["name"]
        src = spec.get("source") or {}
        st = vs.get("status") or {}
        bound = st.get("boundVolumeSnapshotContentName")
        if deleting(vs):
            content = contents.get(bound) if bound else None
            if content is None and src.get("volumeSnapshotContentName"):
                content = contents.get(src["volumeSnapshotContentName"])
            if content is not None:
                if (content.get("spec") or {}).get("deletionPolicy") == "Delete":
                    if not deleting(content):
                        self.mgr.delete(SNAP, "volumesnapshotcontents", None, content["metadata"]["name"])
                    if self.mgr.get(SNAP, "volumesnapshotcontents", None, content["metadata"]["name"]) is not None:
                        return
            fins = md.get("finalizers") or []
            keep = [f for f in fins if f not in (VS_SOURCE_PROTECTION, VS_BOUND_PROTECTION)]
            if keep != fins:
                v2 = copy.deepcopy(vs)
                v2["metadata"]["finalizers"] = keep
                self.mgr.update(SNAP, "volumesnapshots", v2)
            return
        if src.get("volumeSnapshotContentName"):
            content = contents.get(src["volumeSnapshotContentName"])
            if content is None:
                if not st.get("error"):
                    self._vs_status(vs, None, "VolumeSnapshotContent is missing")
                return
            cref = (content.get("spec") or {}).get("volumeSnapshotRef") or {}
            if cref.get("name") != name or cref.get("namespace") != ns or \
                    cref.get("uid") not in (None, "", md.get("uid")):
                # As snapshot-controller: a content pre-bound to another snapshot (or an older uid) does not bind.
                msg = "Could not bind snapshot %s and content %s, the VolumeSnapshotRef does not match" % (
                    name, content["metadata"]["name"])
                if (st.get("error") or {}).get("message") != msg:
                    self._vs_status(vs, None, msg)
                return
            if cref.get("uid") != md.get("uid"):
                c2 = copy.deepcopy(content)
                c2["spec"]["volumeSnapshotRef"]["uid"] = md.get("uid")
                c2["spec"]["volumeSnapshotRef"]["resourceVersion"] = md.get("resourceVersion")
                content = self.mgr.update(SNAP, "volumesnapshotcontents", c2)
                if content is None:
                    return
            if not (content.get("status") or {}).get("readyToUse"):
                return
            vs = self._add_finalizers("volumesnapshots", vs, [VS_BOUND_PROTECTION])
            if vs is not None:
                self._vs_status(vs, content)
            return
        pvc_name = src.get("persistentVolumeClaimName")
        if not pvc_name:
            return
        if bound:
            content = contents.get(bound)
            if content is not None and (content.get("status") or {}).get("readyToUse") and not st.get("readyToUse"):
                self._vs_status(vs, content)
            return
        src_pvc = self.mgr.get("", "persistentvolumeclaims", ns, pvc_name)
        src_pv = self.mgr.get("", "persistentvolumes", None, (src_pvc.get("spec") or {}).get("volumeName")) \
            if src_pvc is not None and (src_pvc.get("spec") or {}).get("volumeName") else None
        cls = self._snap_class(vs, classes, ((src_pv or {}).get("spec") or {}).get("csi", {}).get("driver"))
        if cls is None:
            msg = ("Failed to get snapshot class with error volumesnapshotclass.snapshot.storage.k8s.io \"%s\" not "
                   "found" % spec["volumeSnapshotClassName"]) if spec.get("volumeSnapshotClassName") else \
                "Failed to set default snapshot class with error cannot find default snapshot class"
            if (st.get("error") or {}).get("message") != msg:
                self._vs_status(vs, None, msg)
            return
        if not spec.get("volumeSnapshotClassName"):
            v2 = copy.deepcopy(vs)
            v2["spec"]["volumeSnapshotClassName"] = cls["metadata"]["name"]
            self.mgr.update(SNAP, "volumesnapshots", v2)
            return
        pvc = self.mgr.get("", "persistentvolumeclaims", ns, pvc_name)
        if pvc is None or (pvc.get("status") or {}).get("phase") != "Bound":
            msg = "Failed to create snapshot: error getting handle for DataSource Type VolumeSnapshot by Name " \
                  "%s: persistentvolumeclaim \"%s\" not found" % (name, pvc_name) if pvc is None else None
            if msg and (st.get("error") or {}).get("message") != msg:
                self._vs_status(vs, None, msg)
            return
        pv = self.mgr.get("", "persistentvolumes", None, pvc["spec"].get("volumeName"))
        if pv is None or ((pv.get("spec") or {}).get("csi") or {}).get("driver") != cls.get("driver"):
            return
        vs = self._add_finalizers("volumesnapshots", vs, [VS_SOURCE_PROTECTION, VS_BOUND_PROTECTION])
        if vs is None:
            return
        cname = "snapcontent-" + md["uid"]
        content = contents.get(cname)
        if content is None:
            handle = str(uuid.uuid4())
            copy_tree(pv_dir(self.state_dir, pv), snapshot_dir(self.state_dir, handle))
            size = int(parse_quantity((pvc.get("status") or {}).get("capacity", {}).get("storage") or
                                      ((pv.get("spec") or {}).get("capacity") or {}).get("storage")))
            content = {"apiVersion": SNAP + "/v1", "kind": "VolumeSnapshotContent",
                       "metadata": {"name": cname, "finalizers": [VSC_BOUND_PROTECTION]},
                       "spec": {"deletionPolicy": cls.get("deletionPolicy", "Delete"), "driver": cls["driver"],
                                "source": {"volumeHandle": pv["spec"]["csi"]["volumeHandle"]},
                                "sourceVolumeMode": pv["spec"].get("volumeMode") or "Filesystem",
                                "volumeSnapshotClassName": cls["metadata"]["name"],
                                "volumeSnapshotRef": {"apiVersion": SNAP + "/v1", "kind": "VolumeSnapshot",
                                                      "name": name, "namespace": ns,
                                                      "resourceVersion": md.get("resourceVersion"),
                                                      "uid": md["uid"]}}}
            if self.mgr.old:
                content["spec"].pop("sourceVolumeMode", None)
            content = self.mgr.create(SNAP, "volumesnapshotcontents", content)
            if content is None:
                shutil.rmtree(snapshot_dir(self.state_dir, handle), ignore_errors=True)
                return
            content = self.mgr.update_status(SNAP, "volumesnapshotcontents", content, {
                "creationTime": int(time.time() * 1e9), "readyToUse": True, "restoreSize": size,
                "snapshotHandle": handle}, manager="csi-snapshotter")
            if content is None:
                return
        if self._vs_status(vs, content) is not None:
            self.mgr.event(vs, "SnapshotCreated", "Snapshot %s/%s was successfully created by the CSI driver." % (
                ns, name), "snapshot-controller", api_version=SNAP + "/v1", kind="VolumeSnapshot")
            self.mgr.event(vs, "SnapshotReady", "Snapshot %s/%s is ready to use." % (ns, name),
                           "snapshot-controller", api_version=SNAP + "/v1", kind="VolumeSnapshot")

    def _sync_content(self, c, vs_by_key):
        md, spec = c["metadata"], c.get("spec") or {}
        ref = spec.get("volumeSnapshotRef") or {}
        vs = vs_by_key.get((ref.get("namespace"), ref.get("name")))
        vs_gone = ref.get("uid") and (vs is None or vs["metadata"].get("uid") != ref.get("uid"))
        handle = (c.get("status") or {}).get("snapshotHandle") or (spec.get("source") or {}).get("snapshotHandle")
        if deleting(c):
            if vs is not None and not vs_gone and not deleting(vs):
                return
            if spec.get("deletionPolicy") == "Delete" and is_kubesim_driver(spec.get("driver")) and handle:
                shutil.rmtree(snapshot_dir(self.state_dir, handle), ignore_errors=True)
            fins = md.get("finalizers") or []
            keep = [f for f in fins if f != VSC_BOUND_PROTECTION]
            if keep != fins:
                c2 = copy.deepcopy(c)
                c2["metadata"]["finalizers"] = keep
                self.mgr.update(SNAP, "volumesnapshotcontents", c2)
            return
        if vs_gone:
            if spec.get("deletionPolicy") == "Delete":
                self.mgr.delete(SNAP, "volumesnapshotcontents", None, md["name"])
            elif VSC_BOUND_PROTECTION in (md.get("finalizers") or []):
                c2 = copy.deepcopy(c)
                c2["metadata"]["finalizers"] = [f for f in md["finalizers"] if f != VSC_BOUND_PROTECTION]
                self.mgr.update(SNAP, "volumesnapshotcontents", c2)
            return
        if not is_kubesim_driver(spec.get("driver")):
            return
        src_handle = (spec.get("source") or {}).get("snapshotHandle")
        if src_handle and not (c.get("status") or {}).get("readyToUse"):
            d = snapshot_dir(self.state_dir, src_handle)
            if not os.path.isdir(d):
                # The handle names no snapshot this cluster's storage has (e.g. one from another cluster).
                msg = ('Failed to check and update snapshot content: failed to list snapshot for content %s: '
                       '"rpc error: code = NotFound desc = snapshot id %s not found"' % (md["name"], src_handle))
                if ((c.get("status") or {}).get("error") or {}).get("message") != msg:
                    self.mgr.update_status(SNAP, "volumesnapshotcontents", c, {
                        "error": {"message": msg, "time": now_str()}, "readyToUse": False},
                        manager="csi-snapshotter")
                return
            size = dir_size(d)
            self.mgr.update_status(SNAP, "volumesnapshotcontents", c, {
                "creationTime": int(time.time() * 1e9), "readyToUse": True, "restoreSize": size,
                "snapshotHandle": src_handle}, manager="csi-snapshotter")
            return
        if ref.get("uid") and VSC_BOUND_PROTECTION not in (md.get("finalizers") or []):
            self._add_finalizers("volumesnapshotcontents", c, [VSC_BOUND_PROTECTION])


# ---------------------------------------------------------------- pod volumes for exec
def _write_file(root, rel, data, mode):
    rel = os.path.normpath(rel).lstrip("/")
    if rel.startswith(".."):
        return
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    try:
        os.chmod(path, mode)
    except OSError:
        pass


def _key_items(data, items, default_mode):
    """[(path, bytes, mode)] for a configMap/secret volume source."""
    out = []
    if items:
        for it in items:
            if it.get("key") in data:
                out.append((it.get("path") or it["key"], data[it["key"]], it.get("mode", default_mode)))
    else:
        for k, v in data.items():
            out.append((k, v, default_mode))
    return out


def _downward(pod, items, default_mode):
    md = pod.get("metadata") or {}
    out = []
    for it in items or []:
        fr = (it.get("fieldRef") or {}).get("fieldPath")
        val = None
        if fr == "metadata.name":
            val = md.get("name", "")
        elif fr == "metadata.namespace":
            val = md.get("namespace", "")
        elif fr == "metadata.uid":
            val = md.get("uid", "")
        elif fr in ("metadata.labels", "metadata.annotations"):
            m = md.get(fr.split(".")[1]) or {}
            val = "\n".join('%s="%s"' % (k, v) for k, v in sorted(m.items()))
        elif fr and fr.startswith("metadata.labels['"):
            val = (md.get("labels") or {}).get(fr[len("metadata.labels['"):-2], "")
        elif fr and fr.startswith("metadata.annotations['"):
            val = (md.get("annotations") or {}).get(fr[len("metadata.annotations['"):-2], "")
        if val is not None:
            out.append((it.get("path"), val.encode(), it.get("mode", default_mode)))
    return out


def _cm_data(store, ns, name):
    cm = store.get("", "configmaps", ns, name) if name else None
    if cm is None:
        return None
    data = {k: v.encode() for k, v in (cm.get("data") or {}).items()}
    for k, v in (cm.get("binaryData") or {}).items():
        data[k] = base64.b64decode(v)
    return data


def _secret_data(store, ns, name):
    s = store.get("", "secrets", ns, name) if name else None
    if s is None:
        return None
    data = {k: base64.b64decode(v) for k, v in (s.get("data") or {}).items()}
    for k, v in (s.get("stringData") or {}).items():
        data[k] = v.encode()
    return data


def materialize(store, state_dir, pod, vol, dest):
    """Write a configMap/secret/projected/downwardAPI volume's files into dest (replacing what was there)."""
    ns = (pod.get("metadata") or {}).get("namespace")
    files = []
    if vol.get("configMap") is not None:
        src = vol["configMap"]
        data = _cm_data(store, ns, src.get("name")) or {}
        files = _key_items(data, src.get("items"), src.get("defaultMode", 0o644))
    elif vol.get("secret") is not None:
        src = vol["secret"]
        data = _secret_data(store, ns, src.get("secretName")) or {}
        files = _key_items(data, src.get("items"), src.get("defaultMode", 0o644))
    elif vol.get("downwardAPI") is not None:
        src = vol["downwardAPI"]
        files = _downward(pod, src.get("items"), src.get("defaultMode", 0o644))
    elif vol.get("projected") is not None:
        src = vol["projected"]
        mode = src.get("defaultMode", 0o644)
        for s in src.get("sources") or []:
            if s.get("configMap") is not None:
                files += _key_items(_cm_data(store, ns, s["configMap"].get("name")) or {},
                                    s["configMap"].get("items"), mode)
            elif s.get("secret") is not None:
                files += _key_items(_secret_data(store, ns, s["secret"].get("name")) or {},
                                    s["secret"].get("items"), mode)
            elif s.get("downwardAPI") is not None:
                files += _downward(pod, s["downwardAPI"].get("items"), mode)
            elif s.get("serviceAccountToken") is not None:
                tok = "kubesim-projected-token.%s.%s" % (ns, (pod.get("spec") or {}).get("serviceAccountName",
                                                                                          "default"))
                files.append((s["serviceAccountToken"].get("path", "token"), tok.encode(), mode))
    # Unchanged content stays as it is: execs run at once (readiness probes beside kubectl exec) bind this folder,
    # and replacing it under one of them would make its sandbox fail to start.
    if _same_files(dest, files):
        return
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest, exist_ok=True)
    for path, data, mode in files:
        _write_file(dest, path, data, mode)


def _same_files(dest, files):
    """True when dest holds exactly these files with this content and mode."""
    if not os.path.isdir(dest):
        return False
    want = {}
    for path, data, mode in files:
        rel = os.path.normpath(path).lstrip("/")
        if not rel.startswith(".."):
            want[rel] = (data, mode)
    have = set()
    for root, _dirs, names in os.walk(dest):
        for n in names:
            have.add(os.path.relpath(os.path.join(root, n), dest))
    if have != set(want):
        return False
    for rel, (data, mode) in want.items():
        full = os.path.join(dest, rel)
        try:
            if os.stat(full).st_mode & 0o7777 != mode & 0o7777:
                return False
            with open(full, "rb") as f:
                if f.read() != data:
                    return False
        except OSError:
            return False
    return True


def pod_volume_dirs(store, state_dir, pod):
    """{volume name: (host dir, read_only_source)} for every volume of the pod; creates folders as needed.
    PVC volumes resolve through the bound PV to its folder; unbound PVCs yield None."""
    md = pod.get("metadata") or {}
    ns = md.get("namespace")
    base = os.path.join(pod_dir(state_dir, pod), "volumes")
    out = {}
    for v in (pod.get("spec") or {}).get("volumes") or []:
        name = v.get("name")
        path, ro = None, False
        try:
            claim = None
            if v.get("persistentVolumeClaim"):
                claim = v["persistentVolumeClaim"].get("claimName")
                ro = bool(v["persistentVolumeClaim"].get("readOnly"))
            elif v.get("ephemeral") is not None:
                claim = "%s-%s" % (md.get("name"), name)
            if claim is not None:
                pvc = store.get("", "persistentvolumeclaims", ns, claim)
                vname = (pvc or {}).get("spec", {}).get("volumeName")
                pv = store.get("", "persistentvolumes", None, vname) if vname else None
                if pv is not None:
                    path = pv_dir(state_dir, pv)
            elif v.get("hostPath") is not None:
                path = hostpath_dir(state_dir, v["hostPath"].get("path"))
            elif v.get("nfs") is not None:
                path = nfs_dir(state_dir, v["nfs"])
                ro = bool(v["nfs"].get("readOnly"))
            elif any(v.get(k) is not None for k in ("configMap", "secret", "projected", "downwardAPI")):
                path = os.path.join(base, name)
                materialize(store, state_dir, pod, v, path)
                ro = True
            else:  # emptyDir, csi inline, anything else: a pod-lifetime folder
                path = os.path.join(base, name)
            if path is not None:
                os.makedirs(path, exist_ok=True)
        except Exception:
            log_exc("volume %s of pod %s/%s" % (name, ns, md.get("name")))
            path = None
        out[name] = (path, ro)
    return out
