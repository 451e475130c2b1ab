#!/usr/bin/env python3
"""A loopback HTTP/1.1 server for the http module's tests: injects failures by path.

Prints "port N" on stdout when listening on 127.0.0.1:0. Paths (the query's key=K separates counters):
  /ok                         200 "ok"
  /echo                       200, JSON {method, path, headers, body}
  /status/<code>?fails=N&retry_after=S
                              the first N requests answer <code> (with Retry-After: S when given), then 200 "ok"
  /drop?fails=N               the first N requests get the connection closed without an answer, then 200 "ok"
  /hang?fails=N&seconds=S     the first N requests wait S seconds before answering 200 "late", then 200 "ok"
  /gzip                       200 with a gzip-encoded body of 100000 'a' when the client accepts gzip
  /chunks?n=N                 200, N chunks of 1000 bytes (chunked transfer encoding)
  /count                      200, JSON of every counter so far
"""
import gzip
import json
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counters = {}
lock = threading.Lock()


def bump(key):
    with lock:
        counters[key] = counters.get(key, 0) + 1
        return counters[key]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_body(self, code, body, headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        key = url.path + "|" + q.get("key", "")
        n = bump(key)
        fails = int(q.get("fails", "0"))
        path = url.path
        if path == "/ok":
            return self.send_body(200, "ok")
        if path == "/echo":
            doc = {"method": self.command, "path": self.path, "headers": {k: v for k, v in self.headers.items()},
                   "body": body.decode("utf-8", "replace"), "count": n}
            return self.send_body(200, json.dumps(doc), [("Content-Type", "application/json")])
        if path.startswith("/status/"):
            code = int(path.split("/")[2])
            if n <= fails:
                headers = [("Content-Type", "text/plain")]
                if "retry_after" in q:
                    headers.append(("Retry-After", q["retry_after"]))
                return self.send_body(code, "injected %d (%d of %d)\n" % (code, n, fails), headers)
            return self.send_body(200, "ok")
        if path == "/drop":
            if n <= fails:
                self.close_connection = True
                try:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                except OSError:
                    pass
                self.connection.close()
                return
            return self.send_body(200, "ok")
        if path == "/hang":
            if n <= fails:
                time.sleep(float(q.get("seconds", "5")))
                return self.send_body(200, "late")
            return self.send_body(200, "ok")
        if path == "/gzip":
            data = b"a" * 100000
            if "gzip" in (self.headers.get("Accept-Encoding") or ""):
                return self.send_body(200, gzip.compress(data), [("Content-Encoding", "gzip")])
            return self.send_body(200, data)
        if path == "/chunks":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(int(q.get("n", "10"))):
                chunk = b"x" * 1000
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
            return
        if path == "/count":
            with lock:
                return self.send_body(200, json.dumps(counters), [("Content-Type", "application/json")])
        return self.send_body(404, "404 page not found\n", [("Content-Type", "text/plain")])

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that time out on purpose close their end: not worth a traceback


def main():
    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("port %d" % server.server_address[1], flush=True)
    # Exit when the test closes our stdin (or dies).
    threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
