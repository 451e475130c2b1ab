"""A tiny RFC 6455 client speaking the k8s channel protocols, for exec tests (stdlib only; http or https)."""
import base64
import json
import os
import socket
import ssl
import struct
from urllib.parse import urlencode, urlparse


class ExecResult:
    def __init__(self):
        self.status_code = None
        self.headers = {}
        self.body = b""
        self.protocol = None
        self.channels = {}
        self.messages = []
        self.close_code = None

    def out(self, ch):
        return self.channels.get(ch, b"")

    @property
    def status(self):
        raw = self.channels.get(3)
        return json.loads(raw) if raw else None


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def send_frame(sock, opcode, payload):
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack(">BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack(">BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack(">BBQ", 0x80 | opcode, 0x80 | 127, n)
    masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
    sock.sendall(head + mask + masked)


def read_frame(sock):
    h = _recv_exact(sock, 2)
    op, ln = h[0] & 0x0F, h[1] & 0x7F
    if ln == 126:
        ln = struct.unpack(">H", _recv_exact(sock, 2))[0]
    elif ln == 127:
        ln = struct.unpack(">Q", _recv_exact(sock, 8))[0]
    return op, _recv_exact(sock, ln) if ln else b""


def exec_ws(base_url, namespace, pod, command, container=None, stdin_data=None, protocols=("v5.channel.k8s.io",),
            ssl_context=None, headers=None, stdout=True, stderr=True, close_stdin=True, timeout=30,
            chunk=None):
    u = urlparse(base_url)
    q = [("command", c) for c in command]
    if container:
        q.append(("container", container))
    if stdin_data is not None:
        q.append(("stdin", "true"))
    if stdout:
        q.append(("stdout", "true"))
    if stderr:
        q.append(("stderr", "true"))
    path = "/api/v1/namespaces/%s/pods/%s/exec?%s" % (namespace, pod, urlencode(q))
    sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
    if u.scheme == "https":
        sock = (ssl_context or ssl._create_unverified_context()).wrap_socket(sock, server_hostname=u.hostname)
    key = base64.b64encode(os.urandom(16)).decode()
    req = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (u.hostname, u.port), "Connection: Upgrade",
           "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: " + key]
    if protocols:
        req.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
    for k, v in (headers or {}).items():
        req.append("%s: %s" % (k, v))
    sock.sendall(("\r\n".join(req) + "\r\n\r\n").encode())
    res = ExecResult()
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk_ = sock.recv(4096)
        if not chunk_:
            break
        buf += chunk_
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    res.status_code = int(lines[0].split()[1])
    for line in lines[1:]:
        k, _, v = line.partition(":")
        res.headers[k.strip().lower()] = v.strip()
    if res.status_code != 101:
        n = int(res.headers.get("content-length", "0"))
        while len(rest) < n:
            rest += sock.recv(4096)
        res.body = rest
        sock.close()
        return res
    res.protocol = res.headers.get("sec-websocket-protocol")

    class Buffered:
        def __init__(self, s, pre):
            self.s, self.pre = s, pre

        def recv(self, n):
            if self.pre:
                out, self.pre = self.pre[:n], self.pre[n:]
                return out
            return self.s.recv(n)

    rsock = Buffered(sock, rest)
    if stdin_data is not None:
        step = chunk or max(1, len(stdin_data))
        for i in range(0, len(stdin_data), step):
            send_frame(sock, 0x2, b"\x00" + stdin_data[i:i + step])
        if close_stdin and res.protocol == "v5.channel.k8s.io":
            send_frame(sock, 0x2, b"\xff\x00")
    while True:
        try:
            op, data = read_frame(rsock)
        except (EOFError, OSError):
            break
        if op == 0x8:
            res.close_code = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else None
            try:
                send_frame(sock, 0x8, data[:2])
            except OSError:
                pass
            break
        if op in (0x1, 0x2) and data:
            res.messages.append(data)
            res.channels[data[0]] = res.channels.get(data[0], b"") + data[1:]
    sock.close()
    return res
