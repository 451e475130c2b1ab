#!/usr/bin/env python3
"""Measure LIST latency with many objects: starts kubesim with --preload-configmaps N (default 100000), then times
pages of 500 ConfigMaps over one keep-alive HTTPS connection (first page, a middle page through `continue`, a
label-selected page) and a full unpaginated list.  Prints the timings; asserts nothing."""
import http.client
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 100000


def main():
    d = tempfile.mkdtemp(prefix="kubesim-bench-")
    t0 = time.time()
    p = subprocess.Popen([os.path.join(HERE, "..", "kubesim"), "--state-dir", d, "--preload-configmaps", str(N)],
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    print("startup with %d ConfigMaps: %.1fs (%s)" % (N, time.time() - t0, line))
    port = int(line.rsplit(":", 1)[1])
    ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
    ctx.load_cert_chain(os.path.join(d, "admin.crt"), os.path.join(d, "admin.key"))
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)

    def get(path):
        t = time.time()
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        return time.time() - t, r.status, body

    try:
        dt, st, body = get("/api/v1/namespaces/bench/configmaps?limit=500")
        doc = json.loads(body)
        print("first page of 500: %.3fs status %d, %d items, remainingItemCount %s, %d bytes" % (
            dt, st, len(doc["items"]), doc["metadata"].get("remainingItemCount"), len(body)))
        tok = doc["metadata"]["continue"]
        for _ in range(3):
            dt, st, body = get("/api/v1/namespaces/bench/configmaps?limit=500&continue=" + tok)
            doc = json.loads(body)
            tok = doc["metadata"].get("continue", "")
            print("next page of 500: %.3fs status %d, %d items" % (dt, st, len(doc["items"])))
        dt, st, body = get("/api/v1/namespaces/bench/configmaps?limit=500&labelSelector=shard%3D3")
        print("label-selected page of 500: %.3fs status %d, %d items" % (dt, st, len(json.loads(body)["items"])))
        dt, st, body = get("/api/v1/configmaps?limit=500")
        print("cluster-wide page of 500: %.3fs status %d" % (dt, st))
        dt, st, body = get("/api/v1/namespaces/bench/configmaps")
        print("full list (%d items): %.3fs, %d bytes" % (len(json.loads(body)["items"]), dt, len(body)))
    finally:
        p.terminate()
        p.wait(60)


if __name__ == "__main__":
    main()
