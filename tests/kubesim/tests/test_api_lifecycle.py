"""The launcher's contract: ready line, kubeconfig, certificates, persistence across restarts, SIGTERM, startup
time, --faults, watch history limits."""
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

import kstest


class Lifecycle(unittest.TestCase):
    def test_start_restart_and_sigterm(self):
        d = os.path.join(tempfile.mkdtemp(prefix="kubesim-life-"), "state")
        kc = os.path.join(os.path.dirname(d), "out.kubeconfig")
        t = time.time()
        c = kstest.start("1.30", d, ["--kubeconfig-out", kc])
        startup = time.time() - t
        print("\n  kubesim start-up on a fresh state dir: %.2fs" % startup)
        self.assertLess(startup, 5.0)
        self.assertRegex(c.url, r"^https://127\.0\.0\.1:\d+$")
        text = open(kc).read()
        self.assertIn("current-context: admin", text)
        self.assertIn("client-certificate-data:", text)
        self.assertIn("token: " + c.viewer_token, text)
        self.assertFalse(os.path.exists(os.path.join(d, "kubeconfig")))
        c.kubeconfig = kc
        r = c.kubectl("config", "get-contexts", "-o", "name")
        self.assertEqual(sorted(r.stdout.split()), ["admin", "viewer"])
        cert = subprocess.run(["openssl", "x509", "-in", os.path.join(d, "admin.crt"), "-noout", "-subject"],
                              capture_output=True, text=True).stdout
        self.assertIn("O = system:masters", cert)
        self.assertIn("CN = kubesim-admin", cert)
        san = subprocess.run(["openssl", "x509", "-in", os.path.join(d, "server.crt"), "-noout", "-ext",
                              "subjectAltName"], capture_output=True, text=True).stdout
        self.assertIn("IP Address:127.0.0.1", san)
        self.assertIn("DNS:localhost", san)
        st, _, _, o = c.req("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "keep"},
                                                                              "data": {"a": "1"}})
        self.assertEqual(st, 201)
        self.assertEqual(c.stop(), 0)
        self.assertEqual(c.proc.stdout.read(), "")  # nothing but the ready line on stdout
        c2 = kstest.start("1.30", d)
        try:
            st, _, _, o2 = c2.req("GET", "/api/v1/namespaces/default/configmaps/keep")
            self.assertEqual(st, 200)
            self.assertEqual((o2["metadata"]["uid"], o2["metadata"]["resourceVersion"]),
                             (o["metadata"]["uid"], o["metadata"]["resourceVersion"]))
            st, _, _, o3 = c2.req("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "new"}})
            self.assertGreater(int(o3["metadata"]["resourceVersion"]), int(o["metadata"]["resourceVersion"]))
            time.sleep(1.0)  # let the change log flush, then crash
            c2.proc.send_signal(signal.SIGKILL)
            c2.proc.wait()
            c3 = kstest.start("1.30", d)
            st, _, _, o4 = c3.req("GET", "/api/v1/namespaces/default/configmaps/new")
            self.assertEqual((st, o4["metadata"]["uid"]), (200, o3["metadata"]["uid"]))
            self.assertEqual(c3.stop(), 0)
        finally:
            c2.stop()
        p = subprocess.run([kstest.LAUNCHER, "--state-dir", d, "--profile", "1.21"], capture_output=True, text=True,
                           timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("holds a 1.30 cluster", p.stderr)

    def test_faults_flag_and_watch_history(self):
        d = os.path.join(tempfile.mkdtemp(prefix="kubesim-life-"), "state")
        c = kstest.start("1.30", d, ["--faults", "status=503,verb=list,resource=secrets;seed=3",
                                     "--watch-history", "5", "--no-anonymous"], python="/usr/bin/python3")
        try:
            st, _, _, doc = c.req("GET", "/api/v1/secrets")
            self.assertEqual(st, 503)
            st, _, _, doc = c.req("GET", "/api/v1/configmaps")
            self.assertEqual(st, 200)
            st, _, _, doc = c.req("GET", "/version", who="anon")
            self.assertEqual(st, 401)
            rules = c.req("GET", "/kubesim/v1/faults")[3]["rules"]
            self.assertEqual(rules[0]["rule"], "status=503,verb=list,resource=secrets")
            for i in range(10):
                c.req("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "h%d" % i}})
            import socket
            s = c.ctx().wrap_socket(socket.create_connection(("127.0.0.1", c.port)), server_hostname="127.0.0.1")
            s.sendall(b"GET /api/v1/configmaps?watch=true&resourceVersion=2 HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b"ERROR" not in data or not data.endswith(b"\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            s.close()
            self.assertIn(b'"type":"ERROR"', data)
            self.assertRegex(data.decode(), r'"message":"too old resource version: 2 \(\d+\)","reason":"Expired",'
                                            r'"code":410')
            self.assertIn(b"HTTP/1.1 200", data)
        finally:
            self.assertEqual(c.stop(), 0)
