"""pods/exec over WebSocket (RFC 6455 server side) or SPDY/3.1 (SpdyTransport), and pods/log.

Protocols: `v5.channel.k8s.io` (1.30 profile, preferred) and `v4.channel.k8s.io` (both profiles). Every message is
binary (text frames from clients are accepted too: the Python client sends str data as text), byte 0 the channel:
0 stdin, 1 stdout, 2 stderr, 3 error (a Status without kind/apiVersion, written once at the end), 4 resize
({"Width":W,"Height":H}), and in v5 255 = close signal ([255, 0] closes the command's stdin). Right after the upgrade
the server writes an empty message on the lowest writable channel. At the end: channel 3 status, then a Close frame
(1000).

The command runs for real inside bubblewrap: a per-container writable root under the state dir (its /tmp persists
between execs as a container's does), the host's /usr and /etc read-only (with /bin, /lib... as on the host), own
/proc, /dev, UTS, IPC, PID and mount namespaces (the network is shared), hostname = pod name, the container's env
and workingDir, and each volumeMount bind-mounted at its mountPath (PVC -> its PV's folder, emptyDir -> a pod folder,
configMap/secret/projected/downwardAPI -> materialized files, read-only). See volumes.pod_volume_dirs.
"""
import base64
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

from . import volumes as vol_mod
from .ctrl_common import log_exc

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RO_TREES = ("/usr", "/etc")
HOST_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


# ---------------------------------------------------------------- HTTP-level errors (before any upgrade)
def _send_status(handler, code, reason, message):
    body = json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": message, "reason": reason, "code": code}).encode() + b"\n"
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()


def _flag(query, name):
    v = (query.get(name) or [""])[0]
    return v.lower() in ("true", "1", "yes")


def _pick_container(pod, query, what="exec"):
    """-> (container dict, None) or (None, (code, reason, message))."""
    name = (query.get("container") or [""])[0]
    md, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    containers = spec.get("containers") or []
    if not name:
        if len(containers) == 1:
            return containers[0], None
        names = " ".join(c.get("name", "") for c in containers)
        return None, (400, "BadRequest", "a container name must be specified for pod %s, choose one of: [%s]" % (
            md.get("name"), names))
    for c in containers + (spec.get("initContainers") or []) + (spec.get("ephemeralContainers") or []):
        if c.get("name") == name:
            return c, None
    return None, (400, "BadRequest", "container %s is not valid for pod %s" % (name, md.get("name")))


def _pod_error(pod, container):
    md, spec, st = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    phase = st.get("phase")
    if phase in ("Succeeded", "Failed"):
        return 400, "BadRequest", "cannot exec into a container in a completed pod; current phase is %s" % phase
    if not spec.get("nodeName"):
        return 400, "BadRequest", "pod %s does not have a host assigned" % md.get("name")
    if phase != "Running":
        return 500, "InternalError", 'unable to upgrade connection: container not found ("%s")' % container.get(
            "name")
    return None


# ---------------------------------------------------------------- WebSocket framing
class WebSocket:
    def __init__(self, rfile, wfile):
        self.rfile, self.wfile = rfile, wfile
        self.lock = threading.Lock()
        self.closed_sent = False

    def _read_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.rfile.read(n - len(buf))
            if not chunk:
                raise EOFError("connection closed")
            buf += chunk
        return buf

    def read_message(self):
        """-> (opcode, payload) of a complete message; control frames are returned as they come."""
        parts, first_op = [], None
        while True:
            h = self._read_exact(2)
            fin, op = h[0] & 0x80, h[0] & 0x0F
            masked, ln = h[1] & 0x80, h[1] & 0x7F
            if ln == 126:
                ln = struct.unpack(">H", self._read_exact(2))[0]
            elif ln == 127:
                ln = struct.unpack(">Q", self._read_exact(8))[0]
            mask = self._read_exact(4) if masked else None
            data = self._read_exact(ln) if ln else b""
            if mask:
                data = bytes(b ^ mask[i & 3] for i, b in enumerate(data)) if ln < 64 else _unmask(data, mask)
            if op >= 0x8:
                return op, data
            if op != 0:
                first_op = op
            parts.append(data)
            if fin:
                return first_op, b"".join(parts)

    def send_frame(self, opcode, payload=b""):
        n = len(payload)
        if n < 126:
            head = struct.pack(">BB", 0x80 | opcode, n)
        elif n < 65536:
            head = struct.pack(">BBH", 0x80 | opcode, 126, n)
        else:
            head = struct.pack(">BBQ", 0x80 | opcode, 127, n)
        with self.lock:
            if self.closed_sent:
                return
            if opcode == 0x8:
                self.closed_sent = True
            self.wfile.write(head + payload)
            self.wfile.flush()

    def send_channel(self, channel, data=b""):
        self.send_frame(0x2, bytes([channel]) + data)


_XOR_TABLES = [bytes(i ^ k for i in range(256)) for k in range(256)]


def _unmask(data, mask):
    """XOR with the 4-byte key: each of the four byte lanes (data[i::4]) through a 256-byte table of its key byte.
    Slicing, translate and slice assignment all run in C: about 5x less CPU than one big-int XOR of the frame,
    which had been the relay's main cost for every client's stdin (kbk's and kubectl's alike)."""
    out = bytearray(data)
    for i in range(4):
        out[i::4] = data[i::4].translate(_XOR_TABLES[mask[i]])
    return bytes(out)


class WSTransport:
    """The k8s channel protocol over a WebSocket: 1-byte channel prefix per binary message."""

    def __init__(self, ws, v5):
        self.ws, self.v5 = ws, v5

    def send(self, channel, data):
        self.ws.send_channel(channel, data)

    def finish(self, status):
        _finish(self.ws, status)

    def serve(self, on_stdin, on_stdin_close, on_resize):
        """Read client messages until it goes away (returns, or raises on a broken connection)."""
        while True:
            op, data = self.ws.read_message()
            if op == 0x8:
                return
            if op == 0x9:
                self.ws.send_frame(0xA, data)
                continue
            if op not in (0x1, 0x2) or not data:
                continue
            ch, payload = data[0], data[1:]
            if ch == 0 and payload:
                on_stdin(payload)
            elif ch == 4 and payload:
                on_resize(payload)
            elif ch == 255 and self.v5 and payload[:1] == b"\x00":
                on_stdin_close()


class SpdyTransport:
    """The same channels as SPDY/3.1 streams (what kubectl < 1.30 and the WebSocket fallback speak).

    The client opens one stream per channel, in client-go's fixed order: error, stdin (if requested), stdout (if
    requested), stderr (if requested and no tty), resize (tty). Streams are identified by that order: kubesim does
    not decompress the client's header blocks (that would need SPDY's zlib dictionary); its own SYN_REPLY header
    blocks are empty and zlib-compressed without a dictionary, which SPDY's readers accept. No flow control is
    enforced (spdystream, client-go's implementation, has none). stdin ends with the stream's FIN."""

    def __init__(self, handler, stdin, stdout, stderr, tty):
        import zlib
        self.r, self.w = handler.rfile, handler.wfile
        self.lock = threading.Lock()
        self.order = ["error"] + (["stdin"] if stdin else []) + (["stdout"] if stdout else []) + \
            (["stderr"] if stderr and not tty else []) + (["resize"] if tty else [])
        self.ids = {}            # stream type -> stream id
        self.types = {}          # stream id -> type
        self.ready = threading.Event()
        self.gone = threading.Event()
        self.zc = zlib.compressobj()
        self.closed = set()
        self.pending = []        # frames read before serve() starts (stdin data arriving early)

    def _read_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.r.read(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def _frame(self):
        h = self._read_exact(8)
        length = int.from_bytes(h[5:8], "big")
        return h, self._read_exact(length) if length else b""

    def _control(self, ftype, flags, payload):
        with self.lock:
            self.w.write(struct.pack(">HHB", 0x8003, ftype, flags) + len(payload).to_bytes(3, "big") + payload)
            self.w.flush()

    def _data(self, sid, data, fin=False):
        with self.lock:
            if sid in self.closed:
                return
            if fin:
                self.closed.add(sid)
            self.w.write(struct.pack(">IB", sid & 0x7FFFFFFF, 1 if fin else 0) + len(data).to_bytes(3, "big") +
                         data)
            self.w.flush()

    def accept_streams(self, timeout=30.0):
        """Read SYN_STREAMs until every expected stream exists (answering each with SYN_REPLY)."""
        import zlib
        end = time.monotonic() + timeout
        while len(self.ids) < len(self.order):
            if time.monotonic() > end:
                raise TimeoutError("timed out waiting for client to create streams")
            h, payload = self._frame()
            if h[0] & 0x80 and int.from_bytes(h[2:4], "big") == 1:        # SYN_STREAM
                sid = int.from_bytes(payload[0:4], "big") & 0x7FFFFFFF
                kind = self.order[len(self.ids)]
                self.ids[kind], self.types[sid] = sid, kind
                block = self.zc.compress(struct.pack(">I", 0)) + self.zc.flush(zlib.Z_SYNC_FLUSH)
                self._control(2, 0, struct.pack(">I", sid) + block)     # SYN_REPLY, no headers
            else:
                self.pending.append((h, payload))

    def send(self, channel, data):
        kind = {1: "stdout", 2: "stderr", 3: "error"}.get(channel)
        sid = self.ids.get(kind)
        if sid is None or not data:
            return
        for i in range(0, len(data), 65536):
            self._data(sid, data[i:i + 65536])

    def finish(self, status):
        try:
            sid = self.ids.get("error")
            if sid is not None:
                self._data(sid, json.dumps(status, separators=(",", ":")).encode())
            for kind in ("error", "stdout", "stderr"):
                if kind in self.ids:
                    self._data(self.ids[kind], b"", fin=True)
        except Exception:
            pass

    def serve(self, on_stdin, on_stdin_close, on_resize):
        def handle(h, payload):
            if h[0] & 0x80:
                ftype = int.from_bytes(h[2:4], "big")
                if ftype == 6:                                   # PING: echo
                    self._control(6, 0, payload[:4])
                elif ftype == 7:                                 # GOAWAY
                    return False
                elif ftype == 3:                                 # RST_STREAM
                    sid = int.from_bytes(payload[0:4], "big") & 0x7FFFFFFF
                    if self.types.get(sid) == "stdin":
                        on_stdin_close()
                return True
            sid = int.from_bytes(h[0:4], "big") & 0x7FFFFFFF
            kind = self.types.get(sid)
            if kind == "stdin":
                if payload:
                    on_stdin(payload)
                if h[4] & 0x01:
                    on_stdin_close()
            elif kind == "resize" and payload:
                for line in payload.splitlines():
                    if line.strip():
                        on_resize(line)
            return True
        for h, payload in self.pending:
            if not handle(h, payload):
                return
        self.pending = []
        while True:
            h, payload = self._frame()
            if not handle(h, payload):
                return


# ---------------------------------------------------------------- sandbox
def _container_root(state_dir, pod, cname):
    root = os.path.join(vol_mod.pod_dir(state_dir, pod), "containers", cname, "rootfs")
    if not os.path.isdir(os.path.join(root, "tmp")):
        os.makedirs(root, exist_ok=True)
        for d in ("tmp", "root", "home", "var/tmp", "run", "mnt", "opt", "srv"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        os.chmod(os.path.join(root, "tmp"), 0o1777)
        os.chmod(os.path.join(root, "var/tmp"), 0o1777)
        for name in HOST_LINKS:
            host = "/" + name
            if os.path.islink(host) and not os.path.lexists(os.path.join(root, name)):
                os.symlink(os.readlink(host), os.path.join(root, name))
    return root


def _env(store, pod, c, tty):
    md = pod.get("metadata") or {}
    ns = md.get("namespace")
    env = {"PATH": DEFAULT_PATH, "HOSTNAME": md.get("name", ""), "HOME": "/root"}
    if tty:
        env["TERM"] = "xterm"
    try:
        svc = store.get("", "services", "default", "kubernetes")
        if svc and (svc.get("spec") or {}).get("clusterIP"):
            ip = svc["spec"]["clusterIP"]
            port = str(((svc["spec"].get("ports") or [{}])[0]).get("port", 443))
            env.update({"KUBERNETES_SERVICE_HOST": ip, "KUBERNETES_SERVICE_PORT": port,
                        "KUBERNETES_SERVICE_PORT_HTTPS": port, "KUBERNETES_PORT": "tcp://%s:%s" % (ip, port),
                        "KUBERNETES_PORT_%s_TCP" % port: "tcp://%s:%s" % (ip, port),
                        "KUBERNETES_PORT_%s_TCP_PROTO" % port: "tcp", "KUBERNETES_PORT_%s_TCP_PORT" % port: port,
                        "KUBERNETES_PORT_%s_TCP_ADDR" % port: ip})
    except Exception:
        pass
    for ef in c.get("envFrom") or []:
        prefix = ef.get("prefix", "")
        if ef.get("configMapRef"):
            data = vol_mod._cm_data(store, ns, ef["configMapRef"].get("name")) or {}
        elif ef.get("secretRef"):
            data = vol_mod._secret_data(store, ns, ef["secretRef"].get("name")) or {}
        else:
            data = {}
        for k, v in data.items():
            env[prefix + k] = v.decode("utf-8", "replace")
    for e in c.get("env") or []:
        name = e.get("name")
        if not name:
            continue
        if "valueFrom" not in e:
            env[name] = _expand(e.get("value", ""), env)
            continue
        vf = e["valueFrom"] or {}
        val = None
        if vf.get("configMapKeyRef"):
            data = vol_mod._cm_data(store, ns, vf["configMapKeyRef"].get("name")) or {}
            val = data.get(vf["configMapKeyRef"].get("key"))
        elif vf.get("secretKeyRef"):
            data = vol_mod._secret_data(store, ns, vf["secretKeyRef"].get("name")) or {}
            val = data.get(vf["secretKeyRef"].get("key"))
        elif vf.get("fieldRef"):
            fp = vf["fieldRef"].get("fieldPath")
            val = {"metadata.name": md.get("name"), "metadata.namespace": ns, "metadata.uid": md.get("uid"),
                   "spec.nodeName": (pod.get("spec") or {}).get("nodeName"),
                   "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName"),
                   "status.podIP": (pod.get("status") or {}).get("podIP"),
                   "status.hostIP": (pod.get("status") or {}).get("hostIP")}.get(fp)
            if fp and fp.startswith("metadata.labels['"):
                val = (md.get("labels") or {}).get(fp[len("metadata.labels['"):-2])
            elif fp and fp.startswith("metadata.annotations['"):
                val = (md.get("annotations") or {}).get(fp[len("metadata.annotations['"):-2])
        if isinstance(val, bytes):
            val = val.decode("utf-8", "replace")
        env[name] = "" if val is None else str(val)
    return env


def _expand(value, env):
    """$(VAR) references to earlier variables, as the kubelet expands them ($$ escapes)."""
    out, i = [], 0
    while i < len(value):
        if value.startswith("$$", i):
            out.append("$")
            i += 2
        elif value.startswith("$(", i) and ")" in value[i:]:
            j = value.index(")", i)
            name = value[i + 2:j]
            out.append(env[name] if name in env else value[i:j + 1])
            i = j + 1
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _expand_ro(path, done, args):
    """Make `path` (missing, under a read-only host tree) creatable: replace its deepest existing ancestor with a
    tmpfs holding read-only binds of the host entries."""
    anc = os.path.dirname(path)
    while anc not in ("/", "") and not os.path.isdir(anc):
        anc = os.path.dirname(anc)
    if anc in RO_TREES + ("/",) and anc == "/":
        return
    if anc in done:
        return
    done.add(anc)
    args += ["--tmpfs", anc]
    try:
        entries = sorted(os.listdir(anc))
    except OSError:
        entries = []
    for e in entries:
        p = os.path.join(anc, e)
        if os.path.islink(p):
            args += ["--symlink", os.readlink(p), p]
        elif os.path.isdir(p) or os.path.isfile(p):
            args += ["--ro-bind", p, p]
        elif os.path.exists(p):
            args += ["--dev-bind-try", p, p]


def build_sandbox(store, state_dir, pod, c, command, tty):
    """-> bwrap argv (list) for running `command` in container c of pod."""
    root = _container_root(state_dir, pod, c.get("name", "c"))
    flags = sandbox_flags() or ["--unshare-all", "--share-net"]
    args = ["bwrap", "--die-with-parent"] + flags + [
        "--hostname", (pod.get("metadata") or {}).get("name", "pod")[:63], "--bind", root, "/"]
    if "--unshare-uts" not in flags and "--unshare-all" not in flags:
        args[args.index("--hostname"):args.index("--hostname") + 2] = []
    for t in RO_TREES:
        args += ["--ro-bind", t, t]
    for name in HOST_LINKS:
        host = "/" + name
        if os.path.isdir(host) and not os.path.islink(host):
            args += ["--ro-bind", host, host]
    vols = vol_mod.pod_volume_dirs(store, state_dir, pod)
    mounts = []
    for m in c.get("volumeMounts") or []:
        src, src_ro = vols.get(m.get("name"), (None, False))
        mp = os.path.normpath("/" + (m.get("mountPath") or "").lstrip("/"))
        if src is None or mp in ("/", "/proc", "/dev") or mp.startswith("/proc/") or mp.startswith("/dev/"):
            continue
        sub = m.get("subPath") or ""
        if sub:
            src = os.path.join(src, os.path.normpath(sub).lstrip("/"))
            if not os.path.exists(src):
                os.makedirs(src, exist_ok=True)
        mounts.append((mp, src, bool(m.get("readOnly")) or src_ro))
    done = set()
    for mp, _src, _ro in mounts:
        if any(mp == t or mp.startswith(t + "/") for t in RO_TREES) and not os.path.exists(mp):
            _expand_ro(mp, done, args)
    args += ["--proc", "/proc", "--dev", "/dev"]
    for mp, src, ro in sorted(mounts, key=lambda m: m[0].count("/")):
        args += ["--ro-bind" if ro else "--bind", src, mp]
    if flags == PRIVILEGED_FLAGS:
        apply_fs_group(pod, vols, mounts)
    env = _env(store, pod, c, tty)
    if flags == PRIVILEGED_FLAGS and identity(pod, c)[0]:
        env["HOME"] = "/"  # a non-root user of an image without a passwd entry, as in a container
    args.append("--clearenv")
    for k, v in env.items():
        args += ["--setenv", k, v]
    wd = c.get("workingDir")
    if wd:
        wd = os.path.normpath("/" + wd.lstrip("/"))
        under_ro = any(wd == t or wd.startswith(t + "/") for t in RO_TREES)
        under_mount = any(wd == mp or wd.startswith(mp + "/") for mp, _s, _r in mounts)
        if not under_ro and not under_mount:
            os.makedirs(os.path.join(root, wd.lstrip("/")), exist_ok=True)
        args += ["--chdir", wd]
    wrapper = []
    if flags == PRIVILEGED_FLAGS:
        uid, gid, groups, caps, no_new_privs = identity(pod, c)
        if uid or gid or groups or no_new_privs:
            # As a runtime does: user, groups and no_new_privs are set while every capability is still there (setting
            # groups needs CAP_SETGID, which `drop: [ALL]` removes), then the bounding set keeps only the container's
            # capabilities (root gets exactly those at exec; another user gets none, as without ambient capabilities).
            wrapper = ["setpriv", "--reuid", str(uid), "--regid", str(gid)]
            wrapper += ["--groups", ",".join(str(g) for g in groups)] if groups else ["--clear-groups"]
            if caps is not None:
                wrapper += ["--bounding-set", ",".join(["-all"] + ["+" + k.lower() for k in caps]), "--inh-caps", "-all"]
            if no_new_privs:
                wrapper.append("--no-new-privs")
            wrapper.append("--")
        elif caps is not None:
            args += ["--cap-drop", "ALL"]
            for k in caps:
                args += ["--cap-add", "CAP_" + k]
    args.append("--")
    args += wrapper + list(command)
    return args, env


_SANDBOX = {"checked": False, "flags": None}
# Held while the probe runs: execs, init containers and readiness probes that come at once in a fresh kubesim all
# wait for its answer. (Before the lock, a second caller during the probe saw "checked" and no flags yet, and ran
# its command on the host, where a mover's /data is the host's own /data.)
_SANDBOX_LOCK = threading.Lock()
PRIVILEGED_FLAGS = ["--unshare-pid", "--unshare-uts", "--unshare-ipc", "--unshare-cgroup-try"]
# What containerd gives a container (and what `capabilities.add/drop` change), as CAP_ names.
DEFAULT_CAPS = ("CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP",
                "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE")
_FSGROUP_DONE = set()   # (pod uid, volume name, fsGroup) already given to the fsGroup


def identity(pod, c):
    """(uid, gid, supplementary groups, capabilities or None for all, no_new_privs) of container c, as the kubelet
    and runtime apply securityContext: the container's settings over the pod's; an image user is always root."""
    psc = (pod.get("spec") or {}).get("securityContext") or {}
    csc = c.get("securityContext") or {}
    uid = csc.get("runAsUser", psc.get("runAsUser", 0)) or 0
    gid = csc.get("runAsGroup", psc.get("runAsGroup", 0)) or 0
    groups = [g for g in (psc.get("supplementalGroups") or []) if isinstance(g, int)]
    if isinstance(psc.get("fsGroup"), int) and psc["fsGroup"] not in groups:
        groups.append(psc["fsGroup"])
    if csc.get("privileged"):
        caps = None
    else:
        add = [str(x).upper().replace("CAP_", "") for x in ((csc.get("capabilities") or {}).get("add") or [])]
        drop = [str(x).upper().replace("CAP_", "") for x in ((csc.get("capabilities") or {}).get("drop") or [])]
        caps = [] if "ALL" in drop else [k for k in DEFAULT_CAPS if k not in drop]
        caps += [k for k in add if k != "ALL" and k not in caps]
        if "ALL" in add:
            caps = None
    no_new_privs = csc.get("allowPrivilegeEscalation") is False
    return int(uid), int(gid), groups, caps, no_new_privs


def apply_fs_group(pod, vols, mounts):
    """The kubelet's SetVolumeOwnership for volumes that support ownership management (not hostPath, nfs or the
    read-only projections): every file group-owned by fsGroup and group rw (r for a read-only mount),
    directories also group x and setgid, once per pod and volume (fsGroupChangePolicy OnRootMismatch: skipped when
    the root already matches)."""
    psc = (pod.get("spec") or {}).get("securityContext") or {}
    fs_group = psc.get("fsGroup")
    if not isinstance(fs_group, int) or os.geteuid() != 0:
        return
    uid = (pod.get("metadata") or {}).get("uid")
    kinds = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    for name, (src, ro) in vols.items():
        v = kinds.get(name) or {}
        if src is None or not any(v.get(k) is not None for k in ("persistentVolumeClaim", "emptyDir", "ephemeral", "csi")):
            continue
        key = (uid, name, fs_group)
        if key in _FSGROUP_DONE:
            continue
        _FSGROUP_DONE.add(key)
        mask = 0o440 if ro else 0o660
        try:
            st = os.stat(src)
            if psc.get("fsGroupChangePolicy") == "OnRootMismatch" and st.st_gid == fs_group and \
                    (st.st_mode & (mask | 0o110 | 0o2000)) == (mask | 0o110 | 0o2000):
                continue
            for root, dirs, files in os.walk(src):
                for entry in [root] + [os.path.join(root, f) for f in files]:
                    est = os.lstat(entry)
                    if os.path.islink(entry):
                        os.lchown(entry, -1, fs_group)
                        continue
                    os.chown(entry, -1, fs_group)
                    m = est.st_mode & 0o7777 | mask
                    if os.path.isdir(entry):
                        m |= 0o110 | 0o2000
                    os.chmod(entry, m)
        except OSError:
            log_exc("fsGroup on volume %s" % name)
_RUNNING = {}           # pod uid -> set of running exec processes
_RUNNING_LOCK = threading.Lock()


def kill_pod_execs(pod_uid):
    """The pod is gone: its containers stop, and so do the commands exec'ed into them (exit 137)."""
    with _RUNNING_LOCK:
        procs = list(_RUNNING.get(pod_uid, ()))
    for p in procs:
        _kill(p)


def sandbox_flags():
    """bwrap namespace flags that work on this machine, or None when bwrap cannot sandbox here (then exec runs the
    command directly with paths rewritten: see build_direct). Probed once; KUBESIM_EXEC_SANDBOX=none forces the
    fallback."""
    if os.environ.get("KUBESIM_EXEC_SANDBOX") == "none":
        return None
    with _SANDBOX_LOCK:
        if not _SANDBOX["checked"]:
            _probe_sandbox()
    return _SANDBOX["flags"]


def _probe_sandbox():
    """Finds the bwrap flags that work here (called once, under _SANDBOX_LOCK)."""
    candidates = [["--unshare-all", "--share-net"], ["--unshare-user", "--unshare-all", "--share-net"],
                  ["--unshare-user", "--unshare-pid", "--unshare-uts", "--unshare-ipc"]]
    if os.geteuid() == 0:
        # As root: no user namespace, so every uid/gid exists in the sandbox (chown to any id works, and
        # commands run as the pod's runAsUser/runAsGroup through setpriv, capabilities as a runtime sets them).
        candidates.insert(0, PRIVILEGED_FLAGS)
    for flags in candidates:
        try:
            r = subprocess.run(["bwrap", "--die-with-parent"] + flags + [
                "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"],
                capture_output=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            break
        if r.returncode == 0:
            _SANDBOX["flags"] = flags
            break
    if _SANDBOX["flags"] is None:
        log("bubblewrap cannot create a sandbox here; pods/exec runs commands directly with volume paths "
            "rewritten (degraded)")
    _SANDBOX["checked"] = True


def build_direct(store, state_dir, pod, c, command, tty):
    """Fallback without bwrap: run on the host, rewriting the container paths in argv (mountPaths, /tmp, /root)
    to the host folders that back them. Good enough for tar/cp/cat/sh -c with absolute paths; documented."""
    import re
    root = _container_root(state_dir, pod, c.get("name", "c"))
    vols = vol_mod.pod_volume_dirs(store, state_dir, pod)
    mapping = [("/tmp", os.path.join(root, "tmp")), ("/root", os.path.join(root, "root"))]
    for m in c.get("volumeMounts") or []:
        src, _ro = vols.get(m.get("name"), (None, False))
        if src is None:
            continue
        if m.get("subPath"):
            src = os.path.join(src, os.path.normpath(m["subPath"]).lstrip("/"))
            os.makedirs(src, exist_ok=True)
        mapping.append((os.path.normpath("/" + (m.get("mountPath") or "").lstrip("/")), src))
    mapping.sort(key=lambda m: -len(m[0]))

    table = dict(mapping)
    pattern = re.compile(r"(?<![\w./-])(" + "|".join(re.escape(mp) for mp, _h in mapping) + r")(?=/|$|[^\w.-])")

    def rewrite(tok):  # one pass, longest mountPath first, so a rewritten path is never rewritten again
        return pattern.sub(lambda m: table[m.group(1)], tok)
    env = _env(store, pod, c, tty)
    env["HOME"] = os.path.join(root, "root")
    cwd = rewrite(c.get("workingDir") or "") or root
    if not os.path.isdir(cwd):
        cwd = root
    return [rewrite(t) for t in command], env, cwd


def _lookup(cmd0, env):
    if "/" in cmd0:
        return True
    return shutil.which(cmd0, path=env.get("PATH", DEFAULT_PATH)) is not None


# ---------------------------------------------------------------- exec
def handle_exec(handler, store, pod, query):
    try:
        _handle_exec(handler, store, pod, query)
    except Exception:
        log_exc("exec")
    finally:
        handler.close_connection = True


def _negotiate(handler, store):
    offered = []
    for h in handler.headers.get_all("Sec-WebSocket-Protocol") or []:
        offered += [p.strip() for p in h.split(",") if p.strip()]
    profile = str(getattr(store, "profile", "1.30") or "1.30")
    ours = ["v4.channel.k8s.io"] if profile.startswith("1.2") else ["v5.channel.k8s.io", "v4.channel.k8s.io"]
    for p in ours:
        if p in offered:
            return p, offered
    return None, offered


def _handle_exec(handler, store, pod, query):
    md = pod.get("metadata") or {}
    c, err = _pick_container(pod, query)
    if err is None:
        err = _pod_error(pod, c)
    command = query.get("command") or []
    if err is None and not command:
        err = (400, "BadRequest", "you must specify at least 1 command")
    stdin, stdout, stderr, tty = (_flag(query, n) for n in ("stdin", "stdout", "stderr", "tty"))
    if err is None and not (stdin or stdout or stderr):
        err = (400, "BadRequest", "you must specify at least 1 of stdin, stdout, stderr")
    if err is not None:
        _send_status(handler, *err)
        return
    upgrade = (handler.headers.get("Upgrade") or "").lower()
    key = handler.headers.get("Sec-WebSocket-Key")
    if upgrade.startswith("spdy/3"):
        offered = []
        for h in handler.headers.get_all("X-Stream-Protocol-Version") or []:
            offered += [p.strip() for p in h.split(",") if p.strip()]
        if "v4.channel.k8s.io" not in offered:
            _send_status(handler, 403, "Forbidden",
                         "unable to upgrade: unable to negotiate protocol: client supports %s, server supports "
                         "[v4.channel.k8s.io]" % offered)
            return
        handler.send_response(101, "Switching Protocols")
        handler.send_header("Connection", "Upgrade")
        handler.send_header("Upgrade", "SPDY/3.1")
        handler.send_header("X-Stream-Protocol-Version", "v4.channel.k8s.io")
        handler.end_headers()
        handler.wfile.flush()
        tr = SpdyTransport(handler, stdin, stdout, stderr, tty)
        try:
            tr.accept_streams()
        except Exception:
            return
        _run(tr, store, getattr(store, "state_dir", None) or ".", pod, c, command, stdin, stdout, stderr, tty,
             _cutter(handler))
        return
    if upgrade != "websocket" or not key:
        _send_status(handler, 400, "BadRequest", "Upgrade request required")
        return
    proto, offered = _negotiate(handler, store)
    if proto is None:
        _send_status(handler, 400, "BadRequest",
                     "unable to upgrade connection: websocket server finished before becoming ready"
                     if offered else "unable to upgrade connection: no supported subprotocol offered")
        return
    accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
    handler.send_response(101, "Switching Protocols")
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept)
    handler.send_header("Sec-WebSocket-Protocol", proto)
    handler.end_headers()
    handler.wfile.flush()
    ws = WebSocket(handler.rfile, handler.wfile)
    v5 = proto.startswith("v5")
    state_dir = getattr(store, "state_dir", None) or "."
    try:
        ws.send_channel(1 if stdout else (2 if stderr else 3))
    except Exception:
        return
    _run(WSTransport(ws, v5), store, state_dir, pod, c, command, stdin, stdout, stderr, tty, _cutter(handler))


def _cutter(handler):
    """The exec-cut fault: a function counting relayed bytes that answers True once the connection was cut."""
    limit = getattr(handler, "exec_cut", None)
    if limit is None:
        return None
    state = {"n": 0, "cut": False}
    lock = threading.Lock()

    def count(n):
        with lock:
            state["n"] += n
            if state["n"] >= limit and not state["cut"]:
                state["cut"] = True
                try:
                    handler.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            return state["cut"]
    return count


def _status_success():
    return {"metadata": {}, "status": "Success"}


def _status_exit(code):
    return {"metadata": {}, "status": "Failure",
            "message": "command terminated with non-zero exit code: command terminated with exit code %d" % code,
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def _status_internal(msg):
    return {"metadata": {}, "status": "Failure", "message": "Internal error occurred: " + msg,
            "reason": "InternalError", "details": {"causes": [{"message": msg}]}, "code": 500}


def _finish(ws, status):
    try:
        ws.send_channel(3, json.dumps(status, separators=(",", ":")).encode())
        ws.send_frame(0x8, struct.pack(">H", 1000))
    except Exception:
        pass


RELAY_CHUNK = 1 << 20
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def _widen_pipe(fd):
    """A 1 MiB pipe and 1 MiB reads: the relay's cost is per read and per frame (Python), so a bulk stream such
    as `tar c` moves with 16 times fewer rounds than through the default 64 KiB pipe. Best effort."""
    try:
        fcntl.fcntl(fd, F_SETPIPE_SZ, RELAY_CHUNK)
    except OSError:
        pass


def _run(tr, store, state_dir, pod, c, command, stdin, stdout, stderr, tty, cut=None):
    cwd = None
    try:
        if sandbox_flags() is not None:
            argv, env = build_sandbox(store, state_dir, pod, c, command, tty)
        else:
            argv, env, cwd = build_direct(store, state_dir, pod, c, command, tty)
            argv = [shutil.which(argv[0], path=env.get("PATH", DEFAULT_PATH)) or argv[0]] + argv[1:]
    except Exception as e:
        log_exc("exec sandbox")
        tr.finish(_status_internal("error preparing container: %s" % e))
        return
    if not _lookup(command[0], env):
        exec_id = hashlib.sha256(os.urandom(16)).hexdigest()
        msg = ('error executing command in container: failed to exec in container: failed to start exec "%s": '
               'OCI runtime exec failed: exec failed: unable to start container process: exec: "%s": '
               'executable file not found in $PATH: unknown' % (exec_id, command[0]))
        tr.finish(_status_internal(msg))
        _drain(tr)
        return
    master = None
    if tty:
        import pty
        master, slave = pty.openpty()
        proc = subprocess.Popen(argv, stdin=slave if stdin else subprocess.DEVNULL, stdout=slave, stderr=slave,
                                close_fds=True, start_new_session=True, cwd=cwd,
                                env=env if cwd is not None else None)
        os.close(slave)
        out_fds = [(master, 1)]
    else:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True,
                                start_new_session=True, cwd=cwd, env=env if cwd is not None else None)
        out_fds = [(proc.stdout.fileno(), 1 if stdout else None), (proc.stderr.fileno(), 2 if stderr else None)]
        _widen_pipe(proc.stdout.fileno())
    uid = (pod.get("metadata") or {}).get("uid")
    with _RUNNING_LOCK:
        _RUNNING.setdefault(uid, set()).add(proc)
    client_gone = threading.Event()
    stdin_lock = threading.Lock()
    stdin_state = {"open": bool(stdin)}

    def close_stdin():
        with stdin_lock:
            if not stdin_state["open"]:
                return
            stdin_state["open"] = False
            try:
                if tty:
                    os.write(master, b"\x04")
                else:
                    proc.stdin.close()
            except OSError:
                pass

    def write_stdin(data):
        if cut is not None and cut(len(data)):
            client_gone.set()
            _kill(proc)
            return
        with stdin_lock:
            if not stdin_state["open"]:
                return
            try:
                if tty:
                    os.write(master, data)
                else:
                    proc.stdin.write(data)
                    proc.stdin.flush()
            except (OSError, ValueError):
                stdin_state["open"] = False

    def reader():
        try:
            tr.serve(write_stdin, close_stdin, lambda payload: _resize(master, payload) if tty else None)
        except Exception:
            pass
        client_gone.set()
        close_stdin()

    def pump(fd, channel):
        try:
            while True:
                try:
                    data = os.read(fd, RELAY_CHUNK)
                except OSError:
                    return
                if not data:
                    return
                if cut is not None and cut(len(data)):
                    client_gone.set()
                    _kill(proc)
                    return
                if channel is not None and not client_gone.is_set():
                    try:
                        tr.send(channel, data)
                    except Exception:
                        client_gone.set()
        finally:
            pass

    rt = threading.Thread(target=reader, daemon=True, name="exec-ws-reader")
    rt.start()
    pumps = [threading.Thread(target=pump, args=(fd, ch), daemon=True, name="exec-pump") for fd, ch in out_fds]
    for t in pumps:
        t.start()
    # Wait for the command; a client that went away gets a grace period (so a v4 client that closes after
    # sending its tar stream still has it extracted), then the command is killed.
    gone_since = None
    while True:
        try:
            rc = proc.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            if client_gone.is_set():
                gone_since = gone_since or time.monotonic()
                if time.monotonic() - gone_since > 30:
                    _kill(proc)
    if tty:
        # The pty master reports EIO once the slave side is closed by all processes.
        for t in pumps:
            t.join(timeout=2)
        try:
            os.close(master)
        except OSError:
            pass
    else:
        for t in pumps:
            t.join()
        for f in (proc.stdout, proc.stderr):
            try:
                f.close()
            except Exception:
                pass
    close_stdin()
    with _RUNNING_LOCK:
        procs = _RUNNING.get(uid)
        if procs is not None:
            procs.discard(proc)
            if not procs:
                _RUNNING.pop(uid, None)
    if rc < 0:
        rc = 128 + (-rc)
    if not client_gone.is_set():
        tr.finish(_status_success() if rc == 0 else _status_exit(rc))
        rt.join(timeout=2)   # give the client a moment to answer our Close / close its end


def _drain(tr):
    """No command ran: read what the client still sends until it closes (briefly)."""
    t = threading.Thread(target=lambda: _quiet(tr.serve, lambda d: None, lambda: None, lambda p: None),
                         daemon=True)
    t.start()
    t.join(timeout=2)


def _quiet(fn, *args):
    try:
        fn(*args)
    except Exception:
        pass


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except Exception:
        try:
            proc.kill()
        except Exception:
            pass


def _resize(master, payload):
    try:
        size = json.loads(payload.decode())
        import fcntl
        import termios
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", int(size.get("Height", 24)),
                                                            int(size.get("Width", 80)), 0, 0))
    except Exception:
        pass


# ---------------------------------------------------------------- logs
def handle_log(handler, store, pod, query):
    """GET pods/NAME/log: the container's log file under the state dir (kubesim runs no container main process,
    so this is empty unless something wrote there), honouring tailLines and limitBytes."""
    try:
        c, err = _pick_container(pod, query, "log")
        if err is None and (pod.get("status") or {}).get("phase") == "Pending":
            err = (400, "BadRequest", 'container "%s" in pod "%s" is waiting to start: ContainerCreating' % (
                c.get("name"), (pod.get("metadata") or {}).get("name")))
        if err is not None:
            _send_status(handler, *err)
            return
        state_dir = getattr(store, "state_dir", None) or "."
        path = os.path.join(vol_mod.pod_dir(state_dir, pod), "containers", c.get("name", ""), "log")
        data = b""
        if os.path.exists(path):
            with open(path, "rb") as f:
                data = f.read()
        tail = (query.get("tailLines") or [None])[0]
        if tail is not None:
            try:
                n = int(tail)
                lines = data.splitlines(keepends=True)
                data = b"".join(lines[-n:]) if n > 0 else b""
            except ValueError:
                pass
        lim = (query.get("limitBytes") or [None])[0]
        if lim is not None:
            try:
                data = data[:int(lim)]
            except ValueError:
                pass
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
        handler.wfile.flush()
    except Exception:
        log_exc("log")
