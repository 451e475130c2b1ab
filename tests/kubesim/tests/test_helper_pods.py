"""What kbk's short-lived helper pods (volume movers) rely on, through kubectl: priority classes resolved by the
Priority admission plugin, ReadWriteOnce claims attached to one node (Multi-Attach), explicit grace periods on
delete, NFS volumes shared between pods, read-only mounts, and a claim restored from a snapshot."""
import json
import time
import unittest
import uuid

from ctrl_launch import KubeSim

KS = None
NS = None


def setUpModule():
    global KS, NS
    KS = KubeSim()
    NS = "helper-" + uuid.uuid4().hex[:6]
    KS.kubectl("create", "namespace", NS)


def tearDownModule():
    KS.kubectl("delete", "namespace", NS, "--wait=false", check=False)
    KS.close()


def kx(*args, **kw):
    return KS.kubectl("-n", NS, *args, **kw)


def apply(obj, check=True):
    return KS.kubectl("apply", "-f", "-", stdin=json.dumps(obj).encode(), check=check)


def pod(name, volumes=(), mounts=(), **spec):
    s = {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "infinity"],
                         "volumeMounts": list(mounts)}], "volumes": list(volumes)}
    s.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS}, "spec": s}


def pvc(name, **extra):
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    spec.update(extra)
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": NS},
            "spec": spec}


def jsonpath(kind, name, path):
    return kx("get", kind, name, "-o", "jsonpath={%s}" % path).stdout.decode()


def wait_for(fn, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    return fn()


class TestPriority(unittest.TestCase):
    def test_priority_class_is_resolved(self):
        apply({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "movers-" + NS},
               "value": 1000, "preemptionPolicy": "Never"})
        apply(pod("prio", priorityClassName="movers-" + NS))
        self.assertEqual(jsonpath("pod", "prio", ".spec.priority"), "1000")
        self.assertEqual(jsonpath("pod", "prio", ".spec.preemptionPolicy"), "Never")
        apply(pod("critical", priorityClassName="system-node-critical"))
        self.assertEqual(jsonpath("pod", "critical", ".spec.priority"), "2000001000")

    def test_unknown_class_and_a_hand_set_priority_are_refused(self):
        p = apply(pod("noclass", priorityClassName="nope"), check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('pods "noclass" is forbidden: no PriorityClass with name nope was found', p.stderr.decode())
        p = apply(pod("handset", priority=5), check=False)
        self.assertIn('pods "handset" is forbidden: the integer value of priority (5) must not be provided in pod '
                      'spec; priority admission controller computed 0 from the given PriorityClass name',
                      p.stderr.decode())


class TestVolumes(unittest.TestCase):
    def test_rwo_claim_attaches_to_one_node(self):
        nodes = KS.kubectl("get", "nodes", "-o", "jsonpath={.items[*].metadata.name}").stdout.decode().split()
        self.assertGreaterEqual(len(nodes), 2)
        apply(pvc("rwo"))
        vol = [{"name": "d", "persistentVolumeClaim": {"claimName": "rwo"}}]
        mnt = [{"name": "d", "mountPath": "/data"}]
        apply(pod("owner", vol, mnt, nodeName=nodes[0]))
        kx("wait", "--for=condition=Ready", "pod/owner", "--timeout=30s")
        apply(pod("elsewhere", vol, mnt, nodeName=nodes[1]))
        apply(pod("samenode", vol, mnt, nodeName=nodes[0]))
        kx("wait", "--for=condition=Ready", "pod/samenode", "--timeout=30s")
        msg = wait_for(lambda: kx("get", "events", "--field-selector", "involvedObject.name=elsewhere,"
                                  "reason=FailedAttachVolume", "-o", "jsonpath={.items[*].message}").stdout.decode())
        pv = jsonpath("pvc", "rwo", ".spec.volumeName")
        # one event per distinct message: "owner", then "owner, samenode" once that pod runs too
        self.assertTrue(msg.startswith('Multi-Attach error for volume "%s" Volume is already used by pod(s) owner'
                                       % pv), msg)
        self.assertEqual(jsonpath("pod", "elsewhere", ".status.phase"), "Pending")
        self.assertEqual(jsonpath("pod", "elsewhere", ".status.containerStatuses[0].state.waiting.reason"),
                         "ContainerCreating")
        kx("delete", "pod", "owner", "samenode")
        kx("wait", "--for=condition=Ready", "pod/elsewhere", "--timeout=30s")

    def test_nfs_volume_is_shared_and_read_only_mounts_hold(self):
        nfs = {"name": "n", "nfs": {"server": "nfs.example", "path": "/exports/" + NS}}
        apply(pod("nfs-a", [nfs], [{"name": "n", "mountPath": "/share"}]))
        apply(pod("nfs-b", [nfs], [{"name": "n", "mountPath": "/share", "readOnly": True}]))
        kx("wait", "--for=condition=Ready", "pod/nfs-a", "pod/nfs-b", "--timeout=30s")
        kx("exec", "nfs-a", "--", "sh", "-c", "echo shared > /share/f")
        self.assertEqual(kx("exec", "nfs-b", "--", "cat", "/share/f").stdout.decode(), "shared\n")
        p = kx("exec", "nfs-b", "--", "touch", "/share/g", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("Read-only file system", p.stderr.decode())

    def test_claim_from_snapshot_has_the_data(self):
        apply(pvc("src"))
        apply(pod("writer", [{"name": "d", "persistentVolumeClaim": {"claimName": "src"}}],
                  [{"name": "d", "mountPath": "/data"}]))
        kx("wait", "--for=condition=Ready", "pod/writer", "--timeout=30s")
        kx("exec", "writer", "--", "sh", "-c", "echo point-in-time > /data/f")
        # What a block-level snapshot keeps: holes, hard links, symlinks, owners and modes (as root), times.
        kx("exec", "writer", "--", "sh", "-c",
           "cd /data && truncate -s 64M sparse && echo end >> sparse && ln f hard && ln -s f link && "
           "echo o > owned && chmod 0640 owned && touch -d '2021-02-03 04:05:06' owned && "
           "(chown 1234:5678 owned 2>/dev/null || true)")
        expect = kx("exec", "writer", "--", "sh", "-c",
                    "cd /data && stat -c '%n %u:%g %a %Y %h' f hard owned && readlink link && "
                    "du -k sparse | cut -f1").stdout.decode()
        apply({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
               "metadata": {"name": "snap", "namespace": NS},
               "spec": {"source": {"persistentVolumeClaimName": "src"}}})
        ready = wait_for(lambda: jsonpath("volumesnapshot", "snap", ".status.readyToUse") == "true")
        self.assertTrue(ready)
        self.assertTrue(jsonpath("volumesnapshot", "snap", ".status.creationTime"))
        kx("exec", "writer", "--", "sh", "-c", "echo later > /data/f")
        apply(pvc("restored", dataSource={"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot",
                                          "name": "snap"}))
        apply(pod("reader", [{"name": "d", "persistentVolumeClaim": {"claimName": "restored", "readOnly": True}}],
                  [{"name": "d", "mountPath": "/data"}]))
        kx("wait", "--for=condition=Ready", "pod/reader", "--timeout=30s")
        self.assertEqual(kx("exec", "reader", "--", "cat", "/data/f").stdout.decode(), "point-in-time\n")
        got = kx("exec", "reader", "--", "sh", "-c",
                 "cd /data && stat -c '%n %u:%g %a %Y %h' f hard owned && readlink link && "
                 "du -k sparse | cut -f1").stdout.decode()
        self.assertEqual(got, expect)
        self.assertLess(int(got.split()[-1]), 1024)   # the 64 MiB file is still a hole (KiB used)
        p = kx("exec", "reader", "--", "touch", "/data/x", check=False)
        self.assertIn("Read-only file system", p.stderr.decode())


class TestSecondDriver(unittest.TestCase):
    """`<prefix>.kubesim.csi.k8s.io` is another storage system on the same folders: a class of it provisions volumes
    of that driver, snapshots of them need its own VolumeSnapshotClass, and a PV renamed to it keeps its data."""

    def test_class_of_another_driver_provisions_and_snapshots(self):
        drv = "fast.kubesim.csi.k8s.io"
        KS.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast-" + NS},
             "provisioner": drv, "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"},
            {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
             "metadata": {"name": "fast-snap-" + NS,
                          "annotations": {"snapshot.storage.kubernetes.io/is-default-class": "true"}},
             "driver": drv, "deletionPolicy": "Delete"}]}).encode())
        apply(pvc("fastc", storageClassName="fast-" + NS))
        apply(pod("fastw", [{"name": "d", "persistentVolumeClaim": {"claimName": "fastc"}}],
                  [{"name": "d", "mountPath": "/data"}]))
        kx("wait", "--for=condition=Ready", "pod/fastw", "--timeout=30s")
        pv = jsonpath("pvc", "fastc", ".spec.volumeName")
        self.assertEqual(KS.kubectl("get", "pv", pv, "-o", "jsonpath={.spec.csi.driver}").stdout.decode(), drv)
        kx("exec", "fastw", "--", "sh", "-c", "echo fast > /data/f")
        apply({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
               "metadata": {"name": "fastsnap", "namespace": NS},
               "spec": {"source": {"persistentVolumeClaimName": "fastc"}}})
        self.assertTrue(wait_for(lambda: jsonpath("volumesnapshot", "fastsnap", ".status.readyToUse") == "true"))
        self.assertEqual(jsonpath("volumesnapshot", "fastsnap", ".spec.volumeSnapshotClassName"), "fast-snap-" + NS)

    def test_pv_renamed_to_another_driver_keeps_its_data(self):
        apply(pvc("adopt"))
        apply(pod("adoptw", [{"name": "d", "persistentVolumeClaim": {"claimName": "adopt"}}],
                  [{"name": "d", "mountPath": "/data"}]))
        kx("wait", "--for=condition=Ready", "pod/adoptw", "--timeout=30s")
        kx("exec", "adoptw", "--", "sh", "-c", "echo kept > /data/f")
        handle = KS.kubectl("get", "pv", jsonpath("pvc", "adopt", ".spec.volumeName"), "-o",
                            "jsonpath={.spec.csi.volumeHandle}").stdout.decode()
        name = "adopted-" + NS
        KS.kubectl("apply", "-f", "-", stdin=json.dumps(
            {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
             "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"},
                      "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "",
                      "claimRef": {"namespace": NS, "name": "adopter"},
                      "csi": {"driver": "other.kubesim.csi.k8s.io", "volumeHandle": handle}}}).encode())
        apply(pvc("adopter", storageClassName="", volumeName=name))
        apply(pod("adoptr", [{"name": "d", "persistentVolumeClaim": {"claimName": "adopter", "readOnly": True}}],
                  [{"name": "d", "mountPath": "/data"}]))
        kx("wait", "--for=condition=Ready", "pod/adoptr", "--timeout=30s")
        self.assertEqual(kx("exec", "adoptr", "--", "cat", "/data/f").stdout.decode(), "kept\n")


    def test_claim_with_selector_waits_for_a_volume_handed_over_to_it(self):
        # What a restore through a mover namespace does: a claim with a selector is not provisioned; a volume filled
        # elsewhere is kept (Retain), released, pre-bound to the claim by claimRef and labelled for its selector.
        apply(pvc("wanted", selector={"matchLabels": {"handover": NS}}))
        self.assertTrue(wait_for(lambda: "claim Selector is not supported" in kx(
            "get", "events", "--field-selector", "involvedObject.name=wanted", "-o", "json").stdout.decode()))
        self.assertEqual(jsonpath("pvc", "wanted", ".status.phase"), "Pending")
        self.assertEqual(jsonpath("pvc", "wanted", ".spec.volumeName"), "")
        apply(pvc("filler"))
        apply(pod("fillw", [{"name": "d", "persistentVolumeClaim": {"claimName": "filler"}}],
                  [{"name": "d", "mountPath": "/data"}]))
        kx("wait", "--for=condition=Ready", "pod/fillw", "--timeout=30s")
        kx("exec", "fillw", "--", "sh", "-c", "echo handed > /data/f")
        pv = jsonpath("pvc", "filler", ".spec.volumeName")
        KS.kubectl("patch", "pv", pv, "-p", '{"spec":{"persistentVolumeReclaimPolicy":"Retain"},'
                   '"metadata":{"labels":{"handover":"%s"}}}' % NS)
        kx("delete", "pod", "fillw", "--grace-period=0", "--force")
        kx("delete", "pvc", "filler", "--wait=true")
        self.assertTrue(wait_for(lambda: KS.kubectl("get", "pv", pv, "-o", "jsonpath={.status.phase}")
                                 .stdout.decode() == "Released"))
        KS.kubectl("patch", "pv", pv, "-p", '{"spec":{"claimRef":{"namespace":"%s","name":"wanted","uid":null,'
                   '"resourceVersion":null}}}' % NS)
        self.assertTrue(wait_for(lambda: jsonpath("pvc", "wanted", ".status.phase") == "Bound"))
        self.assertEqual(jsonpath("pvc", "wanted", ".spec.volumeName"), pv)
        apply(pod("wantedr", [{"name": "d", "persistentVolumeClaim": {"claimName": "wanted"}}],
                  [{"name": "d", "mountPath": "/data"}]))
        kx("wait", "--for=condition=Ready", "pod/wantedr", "--timeout=30s")
        self.assertEqual(kx("exec", "wantedr", "--", "cat", "/data/f").stdout.decode(), "handed\n")


class TestDeletion(unittest.TestCase):
    def test_explicit_grace_period_keeps_the_pod_terminating(self):
        apply(pod("graceful"))
        kx("wait", "--for=condition=Ready", "pod/graceful", "--timeout=30s")
        # The DELETE answers with the pod as it now is: Terminating, not gone (read from the answer itself, since
        # kubesim's kubelet finishes the termination a moment later).
        p = KS.kubectl("delete", "--raw", "/api/v1/namespaces/%s/pods/graceful?gracePeriodSeconds=30" % NS)
        md = json.loads(p.stdout.decode())["metadata"]
        self.assertEqual(md.get("deletionGracePeriodSeconds"), 30)
        self.assertTrue(md.get("deletionTimestamp"))
        kx("wait", "--for=delete", "pod/graceful", "--timeout=30s")

    def test_grace_period_zero_deletes_at_once(self):
        apply(pod("quick"))
        kx("wait", "--for=condition=Ready", "pod/quick", "--timeout=30s")
        kx("delete", "pod", "quick", "--grace-period=0", "--force", "--wait=false")
        self.assertEqual(kx("get", "pod", "quick", check=False).returncode, 1)


if __name__ == "__main__":
    unittest.main()
