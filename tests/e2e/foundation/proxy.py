#!/usr/bin/env python3
"""A loopback forward proxy for the e2e tests: HTTP CONNECT or SOCKS5 (no auth, CONNECT command), by argument.

usage: proxy.py http|socks5 LOGFILE     prints "port N" once listening on 127.0.0.1; appends one line per tunnel
("CONNECT host:port") to LOGFILE; exits when stdin closes.
"""
import socket
import struct
import sys
import threading


def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise OSError("short read")
        buf += chunk
    return buf


def handle_http(c):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = c.recv(4096)
        if not chunk:
            return None
        head += chunk
    line = head.split(b"\r\n", 1)[0].decode()
    method, target, _ = line.split(" ", 2)
    if method != "CONNECT":
        c.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
        return None
    host, port = target.rsplit(":", 1)
    upstream = socket.create_connection((host.strip("[]"), int(port)))
    c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    return upstream, target


def handle_socks5(c):
    ver, n = recv_exact(c, 2)
    recv_exact(c, n)
    c.sendall(b"\x05\x00")
    ver, cmd, _, atyp = recv_exact(c, 4)
    if atyp == 1:
        host = socket.inet_ntoa(recv_exact(c, 4))
    elif atyp == 3:
        host = recv_exact(c, recv_exact(c, 1)[0]).decode()
    else:
        host = socket.inet_ntop(socket.AF_INET6, recv_exact(c, 16))
    port = struct.unpack(">H", recv_exact(c, 2))[0]
    upstream = socket.create_connection((host, port))
    c.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", 0))
    return upstream, "%s:%d" % (host, port)


def main():
    mode, logfile = sys.argv[1], sys.argv[2]
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    print("port %d" % srv.getsockname()[1], flush=True)
    lock = threading.Lock()

    def serve(c):
        try:
            got = handle_http(c) if mode == "http" else handle_socks5(c)
            if not got:
                c.close()
                return
            upstream, target = got
            with lock, open(logfile, "a") as f:
                f.write("CONNECT %s\n" % target)
            threading.Thread(target=pipe, args=(upstream, c), daemon=True).start()
            pipe(c, upstream)
        except OSError:
            c.close()

    def accept():
        while True:
            c, _ = srv.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    main()
