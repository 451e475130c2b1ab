#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for S3, in front of s3rver or strict_s3.py (issue 19's chaos and kill tests).

Python standard library only. Every request is forwarded unchanged (Host and the SigV4 headers included, so the
signature still verifies upstream) unless a fault fires for it. Faults, each at its own rate, drawn from one seeded
generator in request order (so a seed names one run):
  500        answer 500 InternalError (S3's XML error), nothing forwarded
  slowdown   answer 503 SlowDown with Retry-After: 1, nothing forwarded
  reset      reset the connection (TCP RST) with no answer; half of the time before forwarding, half after (the
             write landed, its answer is lost)
  truncate   forward, then send the headers with the full Content-Length and half the body, then close
             (only for answers with a body of 2 bytes or more; others are forwarded whole)
  etag       forward, then answer with a wrong ETag header (and a wrong <ETag> in a CompleteMultipartUpload result)
  latency    forward after a pause of 200-800 ms
and a kill: `kill=PIDFILE,at=N` sends SIGKILL to the pid in PIDFILE when the Nth request arrives (that request is
then forwarded normally), for killing a client at an exact request count rather than after a sleep.

Spec (--faults or POST /__faults with the spec as body): comma-separated `NAME=RATE` for the faults above,
`seed=N`, and the kill keys, e.g. `500=0.05,slowdown=0.05,reset=0.05,truncate=0.05,etag=0.05,seed=7`.
Control endpoints (never faulted, never forwarded): POST /__faults (replaces the spec and zeroes the counters),
GET /__stats -> {"requests": N, "fired": {fault: count}, "methods": {"PUT": n, ...}}.

Usage: fault_proxy.py --upstream http://127.0.0.1:PORT [--port 0] [--faults SPEC]
Prints "PORT <n>" on stdout once listening.
"""
import argparse
import http.client
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("500", "slowdown", "reset", "truncate", "etag", "latency")
HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "expect"}


class Spec:
    def __init__(self, text=""):
        self.rates, self.seed, self.kill_pidfile, self.kill_at = {}, 0, None, None
        for item in (text or "").split(","):
            item = item.strip()
            if not item:
                continue
            k, _, v = item.partition("=")
            if k in FAULTS:
                self.rates[k] = float(v)
            elif k == "seed":
                self.seed = int(v)
            elif k == "kill":
                self.kill_pidfile = v
            elif k == "at":
                self.kill_at = int(v)
            else:
                raise ValueError("fault spec %r: unknown key %r" % (text, k))


class State:
    def __init__(self, spec):
        self.lock = threading.Lock()
        self.set(spec)

    def set(self, text):
        spec = Spec(text)
        with self.lock:
            self.spec = spec
            self.rand = random.Random(spec.seed)
            self.requests = 0
            self.fired = {f: 0 for f in FAULTS}
            self.methods = {}

    def draw(self, method):
        """-> (request number, the fault firing or None, a second draw for variants)."""
        with self.lock:
            self.requests += 1
            n = self.requests
            self.methods[method] = self.methods.get(method, 0) + 1
            kill = self.spec.kill_pidfile if self.spec.kill_at == n else None
            fault = None
            for f in FAULTS:  # one draw per fault per request, so adding a rate never shifts the others' choices
                r = self.rand.random()
                if fault is None and r < self.spec.rates.get(f, 0.0):
                    fault = f
            variant = self.rand.random()
            if fault:
                self.fired[fault] += 1
        if kill:
            try:
                with open(kill) as fh:
                    os.kill(int(fh.read().split()[0]), signal.SIGKILL)
            except (OSError, ValueError, IndexError):
                pass
        return n, fault, variant

    def stats(self):
        with self.lock:
            return {"requests": self.requests, "fired": dict(self.fired), "methods": dict(self.methods)}


def s3_error(status, code, message):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            '<RequestId>FAULTPROXY</RequestId></Error>' % (code, message)).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FaultProxy/1"

    def log_message(self, fmt, *args):
        pass

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                out += self.rfile.read(size)
                self.rfile.read(2)
                if size == 0:
                    return out
        n = self.headers.get("Content-Length")
        return self.rfile.read(int(n)) if n else b""

    def _answer(self, status, headers, body):
        self.send_response(status)
        length = str(len(body))
        for k, v in headers:
            if k.lower() == "content-length" and self.command == "HEAD":
                length = v  # a HEAD answer has no body but announces the object's size
            elif k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _reset(self):
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            os.close(self.connection.detach())
        except OSError:
            pass

    def _upstream(self, body):
        u = self.server.upstream
        conn = getattr(self, "_up", None)
        for attempt in range(2):
            if conn is None:
                conn = self._up = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in self.headers.items():
                    if k.lower() not in HOP and k.lower() != "content-length":
                        conn.putheader(k, v)
                if body or self.command in ("PUT", "POST"):
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body if body else None)
                r = conn.getresponse()
                data = r.read()
                if r.will_close:
                    conn.close()
                    self._up = None
                return r.status, r.getheaders(), data
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = self._up = None
                if attempt:
                    raise

    def _handle(self):
        st = self.server.state
        body = self._body()
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/__"):
            if path == "/__faults" and self.command == "POST":
                try:
                    st.set(body.decode())
                except ValueError as e:
                    return self._answer(400, [("Content-Type", "text/plain")], (str(e) + "\n").encode())
                return self._answer(200, [("Content-Type", "application/json")], b"{}")
            if path == "/__stats":
                return self._answer(200, [("Content-Type", "application/json")], json.dumps(st.stats()).encode())
            return self._answer(404, [], b"")
        _, fault, variant = st.draw(self.command)
        if fault == "500":
            return self._answer(500, [("Content-Type", "application/xml")],
                                s3_error(500, "InternalError", "We encountered an internal error. Please try again."))
        if fault == "slowdown":
            return self._answer(503, [("Content-Type", "application/xml"), ("Retry-After", "1")],
                                s3_error(503, "SlowDown", "Please reduce your request rate."))
        if fault == "reset" and variant < 0.5:
            return self._reset()
        if fault == "latency":
            time.sleep(0.2 + 0.6 * variant)
        try:
            status, headers, data = self._upstream(body)
        except (OSError, http.client.HTTPException):
            return self._answer(502, [("Content-Type", "text/plain")], b"upstream unreachable\n")
        if fault == "reset":
            return self._reset()
        if fault == "etag":
            headers = [(k, '"%032x"' % int(variant * 2 ** 64) if k.lower() == "etag" else v) for k, v in headers]
            if b"<CompleteMultipartUploadResult" in data:
                a, b = data.find(b"<ETag>"), data.find(b"</ETag>")
                if 0 <= a < b:
                    data = data[:a + 6] + b"&quot;00000000000000000000000000000000-1&quot;" + data[b:]
        if fault == "truncate" and len(data) >= 2 and self.command != "HEAD":
            self.send_response(status)
            for k, v in headers:
                if k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            return self._reset()
        self._answer(status, headers, data)

    def do_GET(self):
        self._handle()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--faults", default="")
    a = ap.parse_args()
    try:
        state = State(a.faults)
    except ValueError as e:
        print("fault_proxy: %s" % e, file=sys.stderr)
        return 2
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.state = state
    srv.upstream = urllib.parse.urlsplit(a.upstream)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
