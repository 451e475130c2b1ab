"""Debian's python3-kubernetes client against kubesim 1.30: typed APIs, pagination, watch, errors, dynamic client."""
import threading
import time

from kstest import KubeTest, unique

try:
    import kubernetes
    from kubernetes import client, watch
except ImportError:  # run-tests re-executes under /usr/bin/python3, where it is installed
    kubernetes = None


class PythonClient(KubeTest):
    def setUp(self):
        if kubernetes is None:
            self.skipTest("python3-kubernetes not importable (run with /usr/bin/python3)")
        self.api = client.CoreV1Api(self.c.client())

    def test_create_and_paginate(self):
        for i in range(23):
            self.api.create_namespaced_config_map(self.ns, {"metadata": {"name": "pg-%02d" % i,
                                                                         "labels": {"set": "pg"}},
                                                            "data": {"i": str(i)}})
        names, tok, pages = [], None, 0
        while True:
            r = self.api.list_namespaced_config_map(self.ns, limit=5, label_selector="set=pg", _continue=tok)
            pages += 1
            names += [i.metadata.name for i in r.items]
            self.assertIsNone(r.metadata.remaining_item_count)  # selector used
            tok = r.metadata._continue
            if not tok:
                break
        self.assertEqual(names, ["pg-%02d" % i for i in range(23)])
        self.assertEqual(pages, 5)
        r = self.api.list_namespaced_config_map(self.ns, limit=20)
        self.assertEqual(r.metadata.remaining_item_count, 4)  # 23 + kube-root-ca.crt
        self.assertEqual(r.kind, "ConfigMapList")

    def test_watch(self):
        name = unique("pw")
        rv = self.api.list_namespaced_config_map(self.ns).metadata.resource_version

        def writer():
            time.sleep(0.5)
            self.api.create_namespaced_config_map(self.ns, {"metadata": {"name": name}})
            self.api.patch_namespaced_config_map(name, self.ns, {"data": {"x": "1"}})
            self.api.delete_namespaced_config_map(name, self.ns)
        t = threading.Thread(target=writer)
        t.start()
        seen = []
        w = watch.Watch()
        for ev in w.stream(self.api.list_namespaced_config_map, self.ns, resource_version=rv, timeout_seconds=5):
            if ev["object"].metadata.name == name:
                seen.append(ev["type"])
            if len(seen) == 3:
                w.stop()
        t.join()
        self.assertEqual(seen, ["ADDED", "MODIFIED", "DELETED"])

    def test_errors(self):
        with self.assertRaises(client.ApiException) as e:
            self.api.read_namespaced_secret("nope", self.ns)
        self.assertEqual((e.exception.status, e.exception.reason), (404, "Not Found"))
        self.api.create_namespaced_secret(self.ns, {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
        s = self.api.read_namespaced_secret("s", self.ns)
        self.assertEqual((s.type, s.data), ("Opaque", {"k": "dg=="}))
        with self.assertRaises(client.ApiException) as e:
            self.api.create_namespaced_secret(self.ns, {"metadata": {"name": "s"}})
        self.assertEqual(e.exception.status, 409)

    def test_apps_and_dynamic(self):
        apps = client.AppsV1Api(self.c.client())
        d = apps.create_namespaced_deployment(self.ns, {
            "metadata": {"name": "d"}, "spec": {"replicas": 0, "selector": {"matchLabels": {"a": "d"}},
                                                "template": {"metadata": {"labels": {"a": "d"}},
                                                             "spec": {"containers": [{"name": "c", "image": "x"}]}}}})
        self.assertEqual(d.metadata.generation, 1)
        from kubernetes.dynamic import DynamicClient
        dyn = DynamicClient(self.c.client())
        res = dyn.resources.get(api_version="v1", kind="ConfigMap")
        items = res.get(namespace=self.ns).items
        self.assertIn("kube-root-ca.crt", [i.metadata.name for i in items])
        vs = dyn.resources.get(api_version="snapshot.storage.k8s.io/v1", kind="VolumeSnapshotClass")
        self.assertEqual(vs.get().items[0].driver, "kubesim.csi.k8s.io")
