"""The store contract the controllers rely on (in process, no HTTP)."""
import os
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from ksim.registry import Registry  # noqa: E402
from ksim.store import Store, ApiError  # noqa: E402
from ksim.admission import Admission  # noqa: E402


def new_store(profile="1.30"):
    d = tempfile.mkdtemp(prefix="ksim-store-")
    st = Store(d, profile, Registry(profile), {"persist_interval": 0.05})
    st.hooks = Admission(profile, {"ca_pem": "CA"})
    st.create("", "namespaces", {"metadata": {"name": "ns1"}})
    return st, d


class StoreContract(unittest.TestCase):
    def setUp(self):
        self.st, self.dir = new_store()

    def tearDown(self):
        self.st.close()

    def test_create_get_list_copies(self):
        o = self.st.create("", "configmaps", {"metadata": {"name": "a", "namespace": "ns1"}, "data": {"k": "v"}})
        self.assertEqual((o["apiVersion"], o["kind"]), ("v1", "ConfigMap"))
        o["data"]["k"] = "mutated"
        self.assertEqual(self.st.get("", "configmaps", "ns1", "a")["data"]["k"], "v")
        self.assertIsNone(self.st.get("", "configmaps", "ns1", "nope"))
        names = sorted(x["metadata"]["name"] for x in self.st.list("", "configmaps", "ns1"))
        self.assertEqual(names, ["a", "kube-root-ca.crt"])
        self.assertTrue(all(x["apiVersion"] == "v1" for x in self.st.list("", "configmaps")))
        self.assertEqual(self.st.get("", "serviceaccounts", "ns1", "default")["metadata"]["name"], "default")
        with self.assertRaises(ApiError) as e:
            self.st.create("", "configmaps", {"metadata": {"name": "a", "namespace": "ns1"}})
        self.assertEqual(e.exception.code, 409)
        with self.assertRaises(ApiError) as e:
            self.st.create("", "configmaps", {"metadata": {"name": "a", "namespace": "missing"}})
        self.assertEqual(e.exception.code, 404)

    def test_update_conflict_status_and_generation(self):
        d = self.st.create("apps", "deployments", {"metadata": {"name": "d", "namespace": "ns1"}, "spec": {
            "selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {
                "containers": [{"name": "c", "image": "i"}]}}}})
        self.assertEqual(d["metadata"]["generation"], 1)
        stale = dict(d)
        d["spec"]["replicas"] = 3
        d2 = self.st.update("apps", "deployments", d)
        self.assertEqual(d2["metadata"]["generation"], 2)
        with self.assertRaises(ApiError) as e:
            self.st.update("apps", "deployments", stale)
        self.assertEqual(e.exception.code, 409)
        d2["status"] = {"replicas": 3}
        d3 = self.st.update("apps", "deployments", d2)  # main resource ignores status
        self.assertNotEqual(d3.get("status", {}).get("replicas"), 3)
        d3["status"] = {"replicas": 3}
        d4 = self.st.update("apps", "deployments", d3, subresource="status", manager="ctrl")
        self.assertEqual(d4["status"]["replicas"], 3)
        self.assertEqual(d4["metadata"]["generation"], 2)
        mf = [(e["manager"], e.get("subresource")) for e in d4["metadata"]["managedFields"]]
        self.assertIn(("ctrl", "status"), mf)
        same = self.st.update("apps", "deployments", d4, subresource="status", manager="ctrl")
        self.assertEqual(same["metadata"]["resourceVersion"], d4["metadata"]["resourceVersion"])  # no-op

    def test_delete_finalizers_and_namespace_lifecycle(self):
        self.st.create("", "configmaps", {"metadata": {"name": "f", "namespace": "ns1", "finalizers": ["x/y"]}})
        o = self.st.delete("", "configmaps", "ns1", "f", propagation="Foreground")
        self.assertEqual(o["metadata"]["finalizers"], ["x/y", "foregroundDeletion"])
        self.assertIn("deletionTimestamp", o["metadata"])
        o["metadata"]["finalizers"] = []
        gone = self.st.update("", "configmaps", o)
        self.assertIsNone(self.st.get("", "configmaps", "ns1", "f"))
        self.assertIn("deletionTimestamp", gone["metadata"])
        self.assertIsNone(self.st.delete("", "configmaps", "ns1", "f"))  # already gone: None
        with self.assertRaises(ApiError):
            self.st.delete("", "configmaps", "ns1", "f", missing_ok=False)
        ns = self.st.delete("", "namespaces", None, "ns1")
        self.assertEqual((ns["status"]["phase"], ns["spec"]["finalizers"]), ("Terminating", ["kubernetes"]))
        with self.assertRaises(ApiError) as e:
            self.st.create("", "configmaps", {"metadata": {"name": "late", "namespace": "ns1"}})
        self.assertEqual(e.exception.code, 403)
        ns["spec"]["finalizers"] = []
        self.st.update("", "namespaces", ns, subresource="finalize")
        self.assertIsNone(self.st.get("", "namespaces", None, "ns1"))
        with self.assertRaises(ApiError) as e:
            self.st.delete("", "namespaces", None, "default")
        self.assertEqual(e.exception.code, 403)

    def test_subscribe_outside_lock_in_order(self):
        seen = []
        done = threading.Event()

        def cb(etype, group, resource, obj):
            # called outside the lock: another thread can take it
            t = threading.Thread(target=lambda: self.st.lock.acquire() and self.st.lock.release())
            t.start()
            t.join(2)
            seen.append((etype, resource, obj["metadata"]["name"], t.is_alive()))
            if etype == "DELETED":
                done.set()
        self.st.subscribe(cb)
        o = self.st.create("", "secrets", {"metadata": {"name": "s", "namespace": "ns1"}})
        o["data"] = {"a": "Yg=="}
        self.st.update("", "secrets", o)
        self.st.delete("", "secrets", "ns1", "s")
        self.assertTrue(done.wait(5))
        mine = [x for x in seen if x[1] == "secrets"]
        self.assertEqual([x[0] for x in mine], ["ADDED", "MODIFIED", "DELETED"])
        self.assertFalse(any(x[3] for x in mine))

    def test_persistence_snapshot_and_log(self):
        self.st.create("", "configmaps", {"metadata": {"name": "p", "namespace": "ns1"}})
        time.sleep(0.2)  # the change log is flushed
        st2 = Store(self.dir, "1.30", Registry("1.30"), {"persist_interval": 3600})
        self.assertIsNotNone(st2.get("", "configmaps", "ns1", "p"))
        self.assertEqual(st2.rv, self.st.rv)
        st2.close()

    def test_torn_log_line_and_stale_entries(self):
        self.st.create("", "configmaps", {"metadata": {"name": "t1", "namespace": "ns1"}, "data": {"v": "1"}})
        self.st.close()
        with open(os.path.join(self.dir, "state.log"), "a") as f:
            f.write('{"rv":99999,"t":"A","k":"configmaps","o":{"metad')  # crash mid-line
        st2 = Store(self.dir, "1.30", Registry("1.30"), {"persist_interval": 3600})
        self.assertEqual(st2.get("", "configmaps", "ns1", "t1")["data"], {"v": "1"})
        self.assertEqual(os.path.getsize(os.path.join(self.dir, "state.log")), 0)  # compacted
        st2.hooks = Admission("1.30", {"ca_pem": "CA"})
        o = st2.get("", "configmaps", "ns1", "t1")
        o["data"] = {"v": "2"}
        st2.update("", "configmaps", o)
        st2.close()
        st3 = Store(self.dir, "1.30", Registry("1.30"), {"persist_interval": 3600})
        self.assertEqual(st3.get("", "configmaps", "ns1", "t1")["data"], {"v": "2"})
        st3.close()
        self.st = st3  # tearDown closes it again harmlessly

    def test_service_allocations_follow_every_write(self):
        # The allocator keeps what the Services hold as they are written (no scan per create): an update keeps its
        # own IP and port, a deleted Service frees them, and a store loaded from disk knows what is held.
        a = self.st.create("", "services", {"metadata": {"name": "a", "namespace": "ns1"},
                                            "spec": {"type": "NodePort", "ports": [{"port": 80}]}})
        ip, port = a["spec"]["clusterIP"], a["spec"]["ports"][0]["nodePort"]
        a["metadata"]["labels"] = {"x": "1"}
        self.st.update("", "services", a)  # its own IP and port are not "already allocated"

        def b(name):
            return {"metadata": {"name": name, "namespace": "ns1"},
                    "spec": {"type": "NodePort", "clusterIP": ip, "ports": [{"port": 80, "nodePort": port}]}}
        with self.assertRaises(ApiError) as e:
            self.st.create("", "services", b("b"))
        self.assertIn("provided IP is already allocated", e.exception.message)
        self.assertIn("provided port is already allocated", e.exception.message)
        self.st.close()
        st2 = Store(self.dir, "1.30", Registry("1.30"), {"persist_interval": 3600})
        st2.hooks = Admission("1.30", {"ca_pem": "CA"})
        self.st = st2
        with self.assertRaises(ApiError) as e:
            st2.create("", "services", b("b"))
        self.assertIn("provided IP is already allocated", e.exception.message)
        self.assertIsNone(st2.delete("", "services", "ns1", "a"))
        c = st2.create("", "services", b("c"))
        self.assertEqual((c["spec"]["clusterIP"], c["spec"]["ports"][0]["nodePort"]), (ip, port))

    def test_service_allocation_and_job_selector(self):
        a = self.st.create("", "services", {"metadata": {"name": "a", "namespace": "ns1"},
                                            "spec": {"type": "NodePort", "ports": [{"port": 80}]}})
        with self.assertRaises(ApiError) as e:
            self.st.create("", "services", {"metadata": {"name": "b", "namespace": "ns1"}, "spec": {
                "type": "NodePort", "ports": [{"port": 80, "nodePort": a["spec"]["ports"][0]["nodePort"]}]}})
        self.assertIn("provided port is already allocated", e.exception.message)
        j = self.st.create("batch", "jobs", {"metadata": {"name": "j", "namespace": "ns1"}, "spec": {
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}})
        self.assertEqual(j["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/job-name"], "j")
