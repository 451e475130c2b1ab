"""HTTPS front end: routing, authentication/authorization, content negotiation and the REST verbs over the store.

One thread per connection (ThreadingHTTPServer), HTTP/1.1 keep-alive, Content-Length on every non-streamed
response, chunked transfer for watches, gzip for large bodies when asked."""
import base64
import email.parser
import gzip
import http.client
import http.server
import json
import random
import re
import select
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
import types
import urllib.parse

from . import convert, discovery, managed, openapi, patch as patchmod, podsecurity, rbac, selectors, schema
from .registry import gv, GIT_VERSION
from .store import ApiError, FieldError, invalid, not_found, bad_request
from .util import dcopy, go_json, now_ts

JSON = "application/json"
VERSION_INFO = {
    "1.30": {"major": "1", "minor": "30", "gitVersion": GIT_VERSION["1.30"],
             "gitCommit": "9e18483918821121abdf9aa82bc14d66df5d68cd", "gitTreeState": "clean",
             "buildDate": "2025-06-17T18:29:36Z", "goVersion": "go1.23.10", "compiler": "gc",
             "platform": "linux/amd64"},
    "1.21": {"major": "1", "minor": "21", "gitVersion": GIT_VERSION["1.21"],
             "gitCommit": "0f77da5bd4809927e15d1658fb4aa8f13ad890a5", "gitTreeState": "clean",
             "buildDate": "2022-06-15T14:11:36Z", "goVersion": "go1.16.15", "compiler": "gc",
             "platform": "linux/amd64"},
}
PATCH_TYPES = {"application/json-patch+json": "json", "application/merge-patch+json": "merge",
               "application/strategic-merge-patch+json": "strategic", "application/apply-patch+yaml": "apply"}
HEALTH = ("/healthz", "/livez", "/readyz")
EXPIRED_CONSISTENT = ("The provided continue parameter is too old to display a consistent list result. You can start "
                      "a new list without the continue parameter.")
EXPIRED_INCONSISTENT = ("The provided continue parameter is too old to display a consistent list result. You can "
                        "start a new list without the continue parameter, or use the continue token in this response "
                        "to retrieve the remainder of the results. Continuing with the provided token results in an "
                        "inconsistent list - objects that were created, modified, or deleted between the time the "
                        "first chunk was returned and now may show up in the list.")


class Drop(Exception):
    pass


class Reset(Exception):
    pass


def _truthy(v):
    return v in ("true", "1", "True")


def encode_token(rv, start):
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start + "\u0000"}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(tok):
    try:
        pad = "=" * (-len(tok) % 4)
        d = json.loads(base64.urlsafe_b64decode(tok + pad).decode())
        if d.get("v") != "meta.k8s.io/v1":
            raise ValueError("continue key is not valid: incorrect encoded start resourceVersion (version "
                             "meta.k8s.io/v1)")
        start = d.get("start", "")
        return int(d["rv"]), start[:-1] if start.endswith("\u0000") else start
    except ValueError as e:
        if "continue key" in str(e):
            raise bad_request("invalid continue token: " + str(e))
        raise bad_request("invalid continue token: continue key is not valid: %s" % e)
    except Exception as e:
        raise bad_request("invalid continue token: continue key is not valid: %s" % e)


class KubeSim:
    """Everything a request handler needs."""

    def __init__(self, store, registry, authn, authz, faults, options):
        self.store, self.registry, self.authn, self.authz = store, registry, authn, authz
        self.faults, self.options = faults, options
        self.profile = registry.profile
        self.snapshots = {}
        self.snap_lock = threading.Lock()
        self.continue_ttl = float(options.get("continue_ttl", 300))
        self.verbose = options.get("verbose", False)
        self.registry.broken_groups = faults.broken_groups()
        self._disc_cache = {}

    def snapshot(self, key):
        with self.snap_lock:
            s = self.snapshots.get(key)
            return s

    def put_snapshot(self, key, items):
        now = time.time()
        with self.snap_lock:
            for k in [k for k, v in self.snapshots.items() if now - v[0] > self.continue_ttl]:
                del self.snapshots[k]
            while len(self.snapshots) >= 256:  # bound memory: forget the oldest (its tokens then get 410)
                del self.snapshots[min(self.snapshots, key=lambda k: self.snapshots[k][0])]
            if key not in self.snapshots:
                self.snapshots[key] = (now, items)


# Request headers without the email package's feed parser, which cost about 30 us a request (a tenth of a create).
# A header block of plain `Name: value` lines (what every HTTP client sends) becomes the same HTTPMessage the feed
# parser makes: (name, value with leading blanks and the line end stripped) pairs in order, an empty payload. Anything
# else (folded lines, a line without a name, bare CRs, multipart or message types) goes to the feed parser, as before.
_PLAIN_HEADER = re.compile(r"[\x21-\x39\x3b-\x7e]+:[^\r\n]*\r?\n\Z")


def _parse_headers(fp, _class=http.client.HTTPMessage):
    lines = http.client._read_headers(fp)  # the limits (line length, count) and their errors, unchanged
    msg = _class()
    for raw in lines[:-1]:
        line = raw.decode("iso-8859-1")
        if _PLAIN_HEADER.match(line) is None:
            break
        name, value = line.split(":", 1)
        value = value.lstrip(" \t").rstrip("\r\n")
        if name.lower() == "content-type" and value.lower().startswith(("multipart/", "message/")):
            break
        msg._headers.append((name, value))
    else:
        msg.set_payload("")
        return msg
    return email.parser.Parser(_class=_class).parsestr(b"".join(lines).decode("iso-8859-1"))


class _HttpForParseRequest:
    """What BaseHTTPRequestHandler.parse_request sees as `http`: http.client with _parse_headers."""

    class client:
        parse_headers = staticmethod(_parse_headers)
        LineTooLong = http.client.LineTooLong
        HTTPException = http.client.HTTPException


# The running interpreter's own parse_request (request line checks, errors, Expect, Connection), its header parsing
# swapped for _parse_headers.
_base_parse_request = http.server.BaseHTTPRequestHandler.parse_request
_parse_request = types.FunctionType(_base_parse_request.__code__,
                                    dict(vars(http.server), http=_HttpForParseRequest),
                                    _base_parse_request.__name__, _base_parse_request.__defaults__,
                                    _base_parse_request.__closure__)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubesim"
    sys_version = ""
    parse_request = _parse_request

    _date = (None, "")  # (second, Date header text): formatted once a second, not once a response

    def date_time_string(self, timestamp=None):
        if timestamp is not None:
            return super().date_time_string(timestamp)
        sec = int(time.time())
        d = Handler._date
        if d[0] != sec:
            d = Handler._date = (sec, super().date_time_string(sec))
        return d[1]

    def log_message(self, fmt, *args):
        if self.server.ks.verbose:
            sys.stderr.write("kubesim: %s %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_HEAD(self):
        self._dispatch("HEAD")

    # ---- plumbing ---------------------------------------------------------------------------------------------
    MAX_BODY = 3 * 1024 * 1024

    def _read_body(self):
        n = self.headers.get("Content-Length")
        if n:
            n = int(n)
            if n > self.MAX_BODY:
                left = n
                while left > 0:  # drain it so that the client reads the answer instead of a reset
                    chunk = self.rfile.read(min(left, 1 << 20))
                    if not chunk:
                        break
                    left -= len(chunk)
                raise ApiError(413, "RequestEntityTooLarge", "Request entity too large: limit is %d" % self.MAX_BODY,
                               {})
            return self.rfile.read(n)
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                line = self.rfile.readline()
                size = int(line.strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                out += self.rfile.read(size)
                self.rfile.readline()
            return out
        return b""

    def q(self, name, default=None):
        v = self.query.get(name)
        return v[0] if v else default

    def _pretty(self):
        p = self.q("pretty")
        if p is not None:
            return _truthy(p)
        ua = self.headers.get("User-Agent") or ""
        return ua.startswith(("curl", "Wget", "Mozilla/5.0"))

    def encode(self, obj):
        if self._pretty():
            s = json.dumps(obj, indent=2, ensure_ascii=False)
            return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        return go_json(obj) + "\n"

    def send_body(self, code, body, ctype=JSON, headers=None):
        if isinstance(body, str):
            body = body.encode()
        hdrs = dict(headers or {})
        if len(body) > 128 * 1024 and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            body = gzip.compress(body, 5)
            hdrs["Content-Encoding"] = "gzip"
        self.send_response(code)
        self.send_header("Audit-Id", self.audit_id)
        self.send_header("Cache-Control", hdrs.pop("Cache-Control", "no-cache, private"))
        self.send_header("Content-Type", ctype)
        for k, v in hdrs.items():
            if isinstance(v, list):
                for x in v:
                    self.send_header(k, x)
            else:
                self.send_header(k, v)
        for w in self.warnings:
            self.send_header("Warning", '299 - "%s"' % w.replace("\\", "\\\\").replace('"', '\\"'))
        self.send_header("Content-Length", str(len(body)))
        if self.command == "HEAD":
            self.end_headers()
            return
        if self.reset_after:
            raise Reset()
        if self.drop:
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            raise Drop()
        # headers and body in one write: one TLS record, no Nagle/delayed-ACK stall between them
        self._headers_buffer.append(b"\r\n")
        self._headers_buffer.append(body)
        self.flush_headers()

    def send_obj(self, code, obj, headers=None):
        self.send_body(code, self.encode(obj), JSON, headers)

    def send_error_status(self, e):
        if e.plain is not None:
            self.send_body(e.code, e.plain, "text/plain; charset=utf-8", e.headers)
        else:
            self.send_obj(e.code, e.status(), e.headers)

    def _dispatch(self, method):
        self.ks = self.server.ks
        self.audit_id = "%032x" % random.getrandbits(128)
        self.warnings = []
        self.drop = False
        self.reset_after = False
        self.exec_cut = None
        self.body = b""
        self._dup_keys = True  # whether the body may hold a duplicate key (_decode_body knows)
        self.query = {}
        self.url_path = self.path
        try:
            self.body = self._read_body()
            u = urllib.parse.urlsplit(self.path)
            self.url_path = u.path
            self.query = urllib.parse.parse_qs(u.query, keep_blank_values=True)
            self._route(method)
        except ApiError as e:
            try:
                self.send_error_status(e)
            except Drop:
                self._kill()
            except Reset:
                self._reset()
        except Drop:
            self._kill()
        except Reset:
            self._reset()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout, OSError):
            self.close_connection = True
        except Exception as e:
            traceback.print_exc()
            try:
                self.send_obj(500, ApiError(500, "InternalError", "Internal error occurred: %s" % e,
                                            {"causes": [{"message": str(e)}]}).status())
            except Exception:
                self.close_connection = True

    def _kill(self):
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except Exception:
            pass

    def _reset(self):
        """Close with a TCP RST (SO_LINGER 0) and nothing more: no response, no TLS close_notify, no FIN."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection._io_refs = 0  # rfile/wfile hold references; the close must be the real one
            socket.socket.close(self.connection)
        except Exception:
            pass

    # ---- routing -----------------------------------------------------------------------------------------------
    def _route(self, method):
        path = self.url_path.rstrip("/") or "/"
        ks = self.ks
        if path == "/version" or path.startswith(HEALTH):
            user = self._authenticate()
            self._authorize_path(user, "get", path)
            if path == "/version":
                return self.send_obj(200, VERSION_INFO[ks.profile])
            return self.send_body(200, "ok", "text/plain; charset=utf-8",
                                  {"X-Content-Type-Options": "nosniff"})
        user = self._authenticate()
        self.user = user
        if path.startswith("/kubesim/"):
            return self._kubesim_admin(method, path)
        segs = [s for s in path.split("/") if s]
        info = self._request_info(method, segs)
        self._faults(info)
        if not segs:
            self._authorize_path(user, "get", "/")
            return self.send_obj(200, {"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v2",
                                                 "/openapi/v3", "/readyz", "/version"]})
        if segs[0] == "openapi":
            self._authorize_path(user, "get", path)
            return self._openapi(segs)
        if segs[0] == "api":
            if len(segs) == 1:
                self._authorize_path(user, "get", path)
                return self._discovery_root(core=True)
            if segs[1] != "v1":
                return self._plain404()
            if len(segs) == 2:
                self._authorize_path(user, "get", path)
                return self.send_obj(200, discovery.resource_list(ks.registry, "", "v1"))
            return self._resource(method, "", "v1", segs[2:])
        if segs[0] == "apis":
            if len(segs) == 1:
                self._authorize_path(user, "get", path)
                return self._discovery_root(core=False)
            group = segs[1]
            if len(segs) == 2:
                self._authorize_path(user, "get", path)
                g = discovery.api_group(ks.registry, group)
                if g is None:
                    if group in ks.registry.broken_groups:
                        return self.send_obj(200, {"kind": "APIGroup", "apiVersion": "v1", "name": group,
                                                   "versions": [{"groupVersion": group + "/v1beta1",
                                                                 "version": "v1beta1"}],
                                                   "preferredVersion": {"groupVersion": group + "/v1beta1",
                                                                        "version": "v1beta1"}})
                    return self._plain404()
                return self.send_obj(200, g)
            version = segs[2]
            if group in ks.registry.broken_groups:
                self._authorize_path(user, "get", path)
                raise ApiError(503, "ServiceUnavailable", "the server is currently unable to handle the request", {})
            if not ks.registry.group_served(group, version):
                return self._plain404()
            if len(segs) == 3:
                self._authorize_path(user, "get", path)
                return self.send_obj(200, discovery.resource_list(ks.registry, group, version))
            return self._resource(method, group, version, segs[3:])
        return self._plain404()

    def _plain404(self):
        self.send_body(404, "404 page not found\n", "text/plain; charset=utf-8",
                       {"X-Content-Type-Options": "nosniff"})

    def _authenticate(self):
        u = self.ks.authn.authenticate(self)
        return self.ks.authn.impersonate(self, u, self.ks.authz, self.path)

    def _authorize_path(self, user, verb, path):
        a = {"verb": verb, "path": path}
        ok, reason = self.ks.authz.authorize(user, a)
        if not ok:
            raise rbac.forbidden_error(user, a, reason)

    def _request_info(self, method, segs):
        info = {"path": self.url_path, "continue": self.q("continue"), "verb": method.lower(), "resource": "",
                "group": "", "namespace": ""}
        if len(segs) >= 3 and segs[0] in ("api", "apis"):
            rest = segs[2:] if segs[0] == "api" else segs[3:]
            if segs[0] == "apis":
                info["group"] = segs[1]
            if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
                info["namespace"] = rest[1]
                rest = rest[2:]
            if rest:
                info["resource"] = rest[0]
                info["subresource"] = rest[2] if len(rest) > 2 else ""
                named = len(rest) > 1
                info["verb"] = {"GET": ("get" if named else ("watch" if _truthy(self.q("watch")) else "list")),
                                "POST": "create", "PUT": "update", "PATCH": "patch",
                                "DELETE": "delete" if named else "deletecollection", "HEAD": "get"}[method]
        elif method == "GET":
            info["verb"] = "get"
        return info

    def _faults(self, info):
        rules = self.ks.faults.pick(info) if self.ks.faults.rules else []
        for r in rules:
            if r.action == "latency":
                time.sleep(float(r.opts["latency"]) / 1000.0)
        for r in rules:
            if r.action == "status":
                raise self.ks.faults.error_for(r)
            if r.action == "deny":
                raise self.ks.faults.deny_error(r, info)
            if r.action == "expire-continue":
                if r.opts.get("expire-continue") == "inconsistent":
                    raise ApiError(410, "Expired", EXPIRED_INCONSISTENT,
                                   status_metadata={"continue": encode_token(-1, "")})
                raise ApiError(410, "Expired", EXPIRED_CONSISTENT)
            if r.action == "drop":
                self.drop = True
            if r.action == "reset":
                if r.opts.get("reset") == "after":
                    self.reset_after = True
                else:
                    raise Reset()
            if r.action == "exec-cut":
                self.exec_cut = int(r.opts["exec-cut"])
            if r.action == "kill":
                self.ks.faults.kill(r)

    # ---- kubesim admin -----------------------------------------------------------------------------------------
    def _kubesim_admin(self, method, path):
        if not self.user.is_master():
            raise rbac.forbidden_error(self.user, {"verb": method.lower(), "path": path})
        if path == "/kubesim/v1/faults":
            f = self.ks.faults
            if method == "POST":
                text = self.body.decode() if self.body else ""
                append = False
                if text.strip().startswith("{"):
                    d = json.loads(text)
                    text, append = d.get("spec", ""), bool(d.get("append"))
                try:
                    f.set(text, append)
                except ValueError as e:
                    raise bad_request(str(e))
            elif method == "DELETE":
                f.set("")
            self.ks.registry.broken_groups = f.broken_groups()
            return self.send_obj(200, {"rules": f.describe()})
        if path == "/kubesim/v1/state" and method == "POST":
            self.ks.store.save()
            return self.send_obj(200, {"rv": self.ks.store.rv})
        return self._plain404()

    # ---- discovery & openapi -----------------------------------------------------------------------------------
    def _discovery_root(self, core):
        reg = self.ks.registry
        dv = discovery.negotiate_aggregated(self.headers.get("Accept"), self.ks.profile)
        if dv:
            doc = discovery.aggregated(reg, core, dv)
            for g in sorted(reg.broken_groups) if not core else []:
                if not any(i["metadata"].get("name") == g for i in doc["items"]):
                    doc["items"].append({"metadata": {"name": g, "creationTimestamp": None},
                                         "versions": [{"version": "v1beta1", "freshness": "Stale"}]})
            body = discovery.encode(doc)
            tag = discovery.etag(body)
            hdrs = {"ETag": tag, "Vary": "Accept", "Cache-Control": "public"}
            if self.headers.get("If-None-Match") == tag:
                self.send_response(304)
                self.send_header("ETag", tag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            ctype = discovery.AGG_V2 if dv == "v2" else discovery.AGG_V2B1
            return self.send_body(200, body, ctype, hdrs)
        if core:
            return self.send_obj(200, discovery.api_versions())
        doc = discovery.api_group_list(reg)
        for g in sorted(reg.broken_groups):
            if not any(x["name"] == g for x in doc["groups"]):
                v = {"groupVersion": g + "/v1beta1", "version": "v1beta1"}
                doc["groups"].append({"name": g, "versions": [v], "preferredVersion": v})
        return self.send_obj(200, doc)

    def _openapi(self, segs):
        reg = self.ks.registry
        fv = self.ks.profile != "1.21"
        if len(segs) == 2 and segs[1] == "v2":
            acc = self.headers.get("Accept") or ""
            if "protobuf" in acc:
                return self.send_body(200, openapi.v2_protobuf(reg, fv),
                                      "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
                                      {"Vary": "Accept"})
            return self.send_obj(200, openapi.v2_json(reg, fv), {"Vary": "Accept"})
        if segs[1] == "v3" and fv:
            if len(segs) == 2:
                return self.send_obj(200, openapi.v3_index(reg))
            doc = openapi.v3_gv_doc(reg, "/".join(segs[2:]))
            if doc is None:
                return self._plain404()
            return self.send_obj(200, doc, {"Cache-Control": "public, immutable", "Vary": "Accept"})
        return self._plain404()

    # ---- resources ---------------------------------------------------------------------------------------------
    def _resource(self, method, group, version, segs):
        ks = self.ks
        reg = ks.registry
        ns = None
        if len(segs) >= 3 and segs[0] == "namespaces" and segs[2] not in ("status", "finalize"):
            ns = segs[1]
            rest = segs[2:]
        else:
            rest = segs
        resource = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if len(rest) > 3 and sub != "proxy":
            raise self._nf()
        rt = reg.endpoint(group, version, resource)
        if rt is None or (ns is not None and not rt.namespaced) or (sub and not rt.has_sub(sub)):
            raise self._nf()
        if rt.namespaced and name is not None and ns is None:
            raise self._nf()
        verb = self._verb(method, name, sub)
        if verb is None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
                           {})
        base_verb = verb
        if verb not in rt.verbs and not sub:
            raise ApiError(405, "MethodNotAllowed", '%s is not supported on resources of kind "%s"' % (
                verb, rt.resource), {"group": rt.group, "kind": rt.resource} if rt.group else {"kind": rt.resource})
        from .registry import deprecation_warning
        dep = deprecation_warning(ks.profile, group, version, resource, rt.kind)
        if dep:
            self.warnings.append(dep)
        attrs = {"verb": base_verb, "group": group, "resource": resource, "subresource": sub or "",
                 "namespace": ns or "", "name": name or ""}
        ok, reason = ks.authz.authorize(self.user, attrs)
        if not ok:
            raise rbac.forbidden_error(self.user, attrs, reason)
        ctx = {"group": group, "version": version, "resource": resource, "ns": ns, "name": name, "sub": sub}
        if rt.key == ("", "componentstatuses"):
            return self._componentstatuses(ctx)
        if rt.key == ("", "bindings"):
            return self._bind(dict(ctx, name=None), self.body)
        if rt.group == "authorization.k8s.io" or rt.key in (("authentication.k8s.io", "tokenreviews"),
                                                          ("authentication.k8s.io", "selfsubjectreviews")):
            return self._review(rt, ctx)
        if sub in ("exec", "attach", "portforward"):
            return self._exec(rt, ctx)
        if sub == "log":
            return self._log(rt, ctx)
        if sub in ("eviction", "binding", "token", "proxy", "ephemeralcontainers", "approval"):
            return self._misc_sub(rt, ctx, method)
        if sub == "scale":
            return self._scale(rt, ctx, method)
        if method in ("GET", "HEAD"):
            if name is None:
                if verb == "watch":
                    return self._watch(rt, ctx)
                return self._list(rt, ctx)
            return self._get(rt, ctx)
        if method == "POST":
            return self._create(rt, ctx)
        if method == "PUT":
            return self._update(rt, ctx)
        if method == "PATCH":
            return self._patch(rt, ctx)
        if method == "DELETE":
            if name is None:
                return self._delete_collection(rt, ctx)
            return self._delete(rt, ctx)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})

    def _nf(self):
        return ApiError(404, "NotFound", "the server could not find the requested resource", {})

    def _verb(self, method, name, sub):
        if method in ("GET", "HEAD"):
            if name is None:
                return "watch" if _truthy(self.q("watch")) else "list"
            if sub in ("exec", "attach", "portforward"):
                return "create" if self.ks.profile != "1.21" else "get"
            return "get"
        if method == "POST":
            if name is None:
                return "create"
            return "create" if sub else None
        if method == "PUT":
            return "update" if name else None
        if method == "PATCH":
            return "patch" if name else None
        if method == "DELETE":
            return "delete" if name else "deletecollection"
        return None

    def _ext(self, rt, obj, ctx):
        return convert.to_external(rt, obj, ctx["group"], ctx["version"])

    def _manager(self):
        fm = self.q("fieldManager")
        if fm:
            if len(fm) > 128:
                raise invalid("PatchOptions.meta.k8s.io", "", [FieldError("FieldValueTooLong", "fieldManager", None,
                                                                           "may not be more than 128 characters")])
            return fm
        ua = self.headers.get("User-Agent") or ""
        return "".join(c for c in ua.split("/")[0] if c.isprintable())[:128]

    def _dry_run(self):
        d = self.query.get("dryRun")
        if not d:
            return False
        for v in d:
            if v != "All":
                raise invalid("CreateOptions.meta.k8s.io", "", [FieldError("FieldValueNotSupported", "dryRun", v,
                                                                            'supported values: "All"')])
        return True

    # -- reads --
    def _get(self, rt, ctx):
        st = self.ks.store
        o = st.raw_get(rt.group, rt.resource, ctx["ns"], ctx["name"])
        if o is None:
            raise not_found(rt, ctx["name"])
        fs = self.q("fieldSelector")
        if fs:
            reqs = selectors.parse_fields(fs, rt)
            for f, op, v in reqs:
                if f == "metadata.name" and op == "=" and v != ctx["name"]:
                    raise bad_request("fieldSelector metadata.name doesn't match requested name")
        from . import tables
        tv = tables.wants_table(self.headers.get("Accept"))
        if tv:
            t = tables.table(rt, ctx["version"], [self._ext(rt, o, ctx)], {"resourceVersion": o["metadata"].get(
                "resourceVersion", "")}, tv, self.q("includeObject") or "Metadata")
            return self.send_body(200, self.encode(t), tables.TABLE_CT % tv)
        self.send_obj(200, self._ext(rt, o, ctx))

    def _list_kind(self, rt):
        return rt.kind + "List"

    def _item_json(self, rt, ctx, key, o):
        if rt.crd is None and o.get("apiVersion") == gv(ctx["group"], ctx["version"]):
            return self.ks.store.cached_json(rt.group, rt.resource, key, o)
        ext = self._ext(rt, o, ctx)
        if rt.crd is None:
            ext = {k: v for k, v in ext.items() if k not in ("apiVersion", "kind")}
        return go_json(ext)

    def _list_opts(self):
        rvq = self.q("resourceVersion")
        rvm = self.q("resourceVersionMatch")
        cont = self.q("continue")
        if rvm:
            if not rvq:
                raise invalid("ListOptions.meta.k8s.io", "", [FieldError(
                    "FieldValueForbidden", "resourceVersionMatch", None,
                    "resourceVersionMatch is forbidden unless resourceVersion is provided")])
            if cont:
                raise invalid("ListOptions.meta.k8s.io", "", [FieldError(
                    "FieldValueForbidden", "resourceVersionMatch", None,
                    "resourceVersionMatch is forbidden when continue is provided")])
            if rvm not in ("Exact", "NotOlderThan"):
                raise invalid("ListOptions.meta.k8s.io", "", [FieldError(
                    "FieldValueNotSupported", "resourceVersionMatch", rvm, 'supported values: "Exact", "NotOlderThan"')])
            if rvm == "Exact" and rvq == "0":
                raise invalid("ListOptions.meta.k8s.io", "", [FieldError(
                    "FieldValueForbidden", "resourceVersionMatch", None,
                    'resourceVersionMatch "exact" is forbidden for resourceVersion "0"')])
        if cont and rvq and rvq != "0":
            raise bad_request("specifying resource version is not allowed when using continue")
        rv = None
        if rvq:
            try:
                rv = int(rvq)
            except ValueError:
                raise ApiError(400, "BadRequest", 'invalid resource version: strconv.ParseUint: parsing "%s": '
                                                  'invalid syntax' % rvq)
            cur = self.ks.store.rv
            if rv > cur:
                raise ApiError(504, "Timeout", "Timeout: Too large resource version: %d, current: %d" % (rv, cur),
                               {"causes": [{"reason": "ResourceVersionTooLarge",
                                            "message": "Too large resource version"}], "retryAfterSeconds": 1},
                               headers={"Retry-After": "1"})
            if rvm == "Exact" and rv != cur:
                raise ApiError(410, "Expired", "The resourceVersion for the provided list is too old.")
        return rv, cont

    def _list(self, rt, ctx):
        ks = self.ks
        lsel = selectors.parse_labels(self.q("labelSelector"))
        fsel = selectors.parse_fields(self.q("fieldSelector"), rt)
        try:
            limit = int(self.q("limit") or 0)
        except ValueError:
            limit = 0
        _, cont = self._list_opts()
        ns = ctx["ns"]
        skey = (rt.group, rt.resource, ns)
        start = None
        if cont:
            rv, start = decode_token(cont)
            if rv == -1:
                items, rv = ks.store.snapshot(rt.group, rt.resource, ns)
            else:
                snap = ks.snapshot(skey + (rv,))
                if snap is None or time.time() - snap[0] > ks.continue_ttl:
                    if snap is None and rv == ks.store.rv:
                        items, _ = ks.store.snapshot(rt.group, rt.resource, ns)
                    else:
                        raise ApiError(410, "Expired", EXPIRED_INCONSISTENT,
                                       status_metadata={"continue": encode_token(-1, start)})
                else:
                    items = snap[1]
        else:
            items, rv = ks.store.snapshot(rt.group, rt.resource, ns)
        import bisect
        idx = 0
        keys, objs = items.keys, items.objs
        if start is not None:
            idx = bisect.bisect_right(keys, start)
        out = []
        n = len(keys)
        i = idx
        selective = bool(lsel or fsel)
        while i < n:
            k, o = keys[i], objs[i]
            i += 1
            if selective:
                if lsel and not selectors.match_labels(lsel, o["metadata"].get("labels")):
                    continue
                if fsel and not selectors.match_fields(fsel, o):
                    continue
            out.append((k, o))
            if limit and len(out) >= limit:
                break
        md = {"resourceVersion": str(rv)}
        if limit and i < n:
            md["continue"] = encode_token(rv, keys[i - 1])
            if not selective:
                md["remainingItemCount"] = n - i
            if not cont or rv != -1:
                ks.put_snapshot(skey + (rv,), items)
        from . import tables
        tv = tables.wants_table(self.headers.get("Accept"))
        if tv:
            t = tables.table(rt, ctx["version"], [self._ext(rt, o, ctx) for _, o in out], md, tv,
                             self.q("includeObject") or "Metadata")
            return self.send_body(200, self.encode(t), tables.TABLE_CT % tv)
        head = '{"kind":%s,"apiVersion":%s,"metadata":%s,"items":[' % (
            json.dumps(self._list_kind(rt)), json.dumps(gv(ctx["group"], ctx["version"])), go_json(md))
        body = head + ",".join(self._item_json(rt, ctx, k, o) for k, o in out) + "]}\n"
        if self._pretty():
            body = self.encode(json.loads(body))
        self.send_body(200, body, JSON)

    def _watch(self, rt, ctx):
        ks = self.ks
        st = ks.store
        lsel = selectors.parse_labels(self.q("labelSelector"))
        fsel = selectors.parse_fields(self.q("fieldSelector"), rt)
        rvq = self.q("resourceVersion")
        since = None
        if rvq and rvq != "0":
            try:
                since = int(rvq)
            except ValueError:
                raise ApiError(400, "BadRequest", 'invalid resource version: strconv.ParseUint: parsing "%s": '
                                                  'invalid syntax' % rvq)
        ts = self.q("timeoutSeconds")
        try:
            timeout = float(ts) if ts else random.uniform(1800, 3600)
        except ValueError:
            raise bad_request('strconv.ParseInt: parsing "%s": invalid syntax' % ts)
        bookmarks = _truthy(self.q("allowWatchBookmarks"))
        initial_events = _truthy(self.q("sendInitialEvents"))
        ns = ctx["ns"]
        with st.lock:
            if since is None or initial_events:
                initial, _ = st.raw_items(rt.group, rt.resource, ns)
            else:
                initial = []
            w, backlog, cur = st.add_watcher(rt.key, ns, since if not initial_events else None)
        from . import tables
        tv = tables.wants_table(self.headers.get("Accept"))
        try:
            self.send_response(200)
            self.send_header("Audit-Id", self.audit_id)
            self.send_header("Cache-Control", "no-cache, private")
            self.send_header("Content-Type", tables.TABLE_CT % tv if tv else JSON)
            for w in self.warnings:
                self.send_header("Warning", '299 - "%s"' % w.replace("\\", "\\\\").replace('"', '\\"'))
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()

            def matches(o):
                if o is None:
                    return False
                if ns and o["metadata"].get("namespace") != ns:
                    return False
                if lsel and not selectors.match_labels(lsel, o["metadata"].get("labels")):
                    return False
                if fsel and not selectors.match_fields(fsel, o):
                    return False
                return True

            def send(etype, o):
                obj = self._ext(rt, o, ctx) if etype not in ("ERROR", "BOOKMARK") else o
                if tv and etype not in ("ERROR", "BOOKMARK"):
                    obj = tables.table(rt, ctx["version"], [obj], {"resourceVersion": obj["metadata"].get(
                        "resourceVersion", "")}, tv, self.q("includeObject") or "Metadata")
                data = ('{"type":"%s","object":%s}\n' % (etype, go_json(obj))).encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            if backlog is None:
                send("ERROR", {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": "too old resource version: %d (%d)" % (since, cur), "reason": "Expired",
                               "code": 410})
                self.wfile.write(b"0\r\n\r\n")
                return
            last_rv = cur
            for k, o in initial:
                if matches(o):
                    send("ADDED", o)
            if initial_events and bookmarks:
                send("BOOKMARK", self._bookmark(rt, ctx, st.rv, True))
            for ev in backlog:
                last_rv = ev[0]
                self._watch_event(ev, matches, send)
            if self.drop:  # fault: the stream breaks without its terminating chunk
                raise Drop()
            deadline = time.time() + timeout
            next_bm = time.time() + 60
            while True:
                left = deadline - time.time()
                if left <= 0:
                    break
                try:
                    ev = w.q.get(timeout=min(left, 1.0))
                except Exception:
                    ev = None
                if ev is None:
                    if self._peer_closed():
                        self.close_connection = True
                        return
                    if bookmarks and time.time() > next_bm:
                        send("BOOKMARK", self._bookmark(rt, ctx, max(last_rv, st.rv)))
                        next_bm = time.time() + 60
                    continue
                last_rv = ev[0]
                self._watch_event(ev, matches, send)
            if bookmarks:  # as the watch cache does shortly before a watch times out
                send("BOOKMARK", self._bookmark(rt, ctx, max(last_rv, st.rv)))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        finally:
            st.remove_watcher(w)

    def _watch_event(self, ev, matches, send):
        rv, etype, key, obj, old = ev
        now_m = matches(obj)
        if etype == "ADDED":
            if now_m:
                send("ADDED", obj)
        elif etype == "DELETED":
            if now_m or matches(old):
                send("DELETED", obj)
        else:
            was = matches(old)
            if now_m and was:
                send("MODIFIED", obj)
            elif now_m:
                send("ADDED", obj)
            elif was:
                send("DELETED", obj)

    def _bookmark(self, rt, ctx, rv, initial_end=False):
        md = {"resourceVersion": str(rv), "creationTimestamp": None}
        if initial_end:
            md["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"kind": rt.kind, "apiVersion": gv(ctx["group"], ctx["version"]), "metadata": md}

    def _peer_closed(self):
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            if not r:
                return False
            try:
                data = self.connection.recv(1)
            except ssl.SSLWantReadError:
                return False
            return data == b""
        except Exception:
            return True

    # -- body decoding --
    def _decode_body(self, rt, ctx, kind_ok=True):
        ctype = (self.headers.get("Content-Type") or JSON).split(";")[0].strip()
        raw = self.body
        if ctype == "application/vnd.kubernetes.protobuf" and rt.crd is None:
            from . import proto
            raw = json.dumps(proto.decode_object(raw)).encode()
            ctype = JSON
        if ctype not in (JSON, "application/yaml", "*/*", ""):
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted "
                           "media types include: application/json, application/yaml" +
                           ("" if rt.crd else ", application/vnd.kubernetes.protobuf"), {})
        try:
            obj, self._dup_keys = _loads_noting_dups(raw.decode("utf-8")) if raw else (None, False)
        except ValueError:
            obj = None
            if ctype == "application/yaml":
                obj = _tiny_yaml(raw.decode("utf-8", "replace"))
            if obj is None:
                snippet = raw[:30]
                shown = snippet.decode("utf-8", "replace") if raw.startswith(b"{") else snippet.hex()
                raise bad_request("the object provided is unrecognized (must be of type %s): couldn't get "
                                  "version/kind; json parse error: unexpected end of JSON input (%s ...)"
                                  % (rt.kind, shown))
        if not isinstance(obj, dict):
            raise bad_request("the object provided is unrecognized (must be of type %s): couldn't get version/kind; "
                              "json parse error: json: cannot unmarshal %s into Go value of type struct { APIVersion "
                              "string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }"
                              % (rt.kind, _go_type(obj)))
        want_av = gv(ctx["group"], ctx["version"])
        if obj.get("kind") and obj["kind"] != rt.kind and kind_ok:
            raise bad_request("%s in version \"%s\" cannot be handled as a %s: no kind \"%s\" is registered for "
                              "version \"%s\"" % (rt.kind, ctx["version"], rt.kind, obj["kind"], want_av))
        if obj.get("apiVersion") and obj["apiVersion"] != want_av and kind_ok:
            raise bad_request("the API version in the data (%s) does not match the expected API version (%s)"
                              % (obj["apiVersion"], want_av))
        obj.setdefault("apiVersion", want_av)
        obj.setdefault("kind", rt.kind)
        if not isinstance(obj.get("metadata", {}), dict):
            raise bad_request('%s in version "%s" cannot be handled as a %s: json: cannot unmarshal %s into Go struct '
                              'field %s.metadata of type v1.ObjectMeta' % (rt.kind, ctx["version"], rt.kind,
                                                                          _go_type(obj["metadata"]), rt.kind))
        self._type_checks(rt, ctx, obj)
        return obj

    def _type_checks(self, rt, ctx, obj):
        for f in ("data", "stringData") if rt.kind in ("ConfigMap", "Secret") else ():
            d = obj.get(f)
            if d is None:
                continue
            if not isinstance(d, dict):
                raise bad_request('%s in version "%s" cannot be handled as a %s: json: cannot unmarshal %s into Go '
                                  'struct field %s.%s of type map[string]%s' % (
                                      rt.kind, ctx["version"], rt.kind, _go_type(d), rt.kind, f,
                                      "string" if rt.kind == "ConfigMap" or f == "stringData" else "[]uint8"))
            for v in d.values():
                if not isinstance(v, str):
                    raise bad_request('%s in version "%s" cannot be handled as a %s: json: cannot unmarshal %s into '
                                      'Go struct field %s.%s of type %s' % (
                                          rt.kind, ctx["version"], rt.kind, _go_type(v), rt.kind, f,
                                          "string" if rt.kind == "ConfigMap" or f == "stringData" else "[]uint8"))
            if rt.kind == "Secret" and f == "data":
                for v in d.values():
                    try:
                        base64.b64decode(v, validate=True)
                    except Exception:
                        raise bad_request('Secret in version "%s" cannot be handled as a Secret: illegal base64 '
                                          'data at input byte 0' % ctx["version"])
        m = obj.get("metadata") or {}
        for f in ("labels", "annotations"):
            v = m.get(f)
            if v is not None and (not isinstance(v, dict) or any(not isinstance(x, str) for x in v.values())):
                raise bad_request('%s in version "%s" cannot be handled as a %s: json: cannot unmarshal %s into Go '
                                  'struct field ObjectMeta.metadata.%s of type %s' % (
                                      rt.kind, ctx["version"], rt.kind,
                                      _go_type(v if not isinstance(v, dict) else next(
                                          x for x in v.values() if not isinstance(x, str))), f,
                                      "map[string]string" if not isinstance(v, dict) else "string"))

    def _field_validation(self):
        if self.ks.profile == "1.21":
            return "Ignore"
        fv = self.q("fieldValidation") or "Warn"
        if fv not in ("Strict", "Warn", "Ignore"):
            raise invalid("CreateOptions.meta.k8s.io", "", [FieldError(
                "FieldValueNotSupported", "fieldValidation", fv, 'supported values: "Ignore", "Strict", "Warn"')])
        return fv

    def _unknown(self, rt, obj):
        if rt.crd is not None:
            from . import crdschema
            return crdschema.unknown_fields(rt, obj, obj.get("apiVersion", "").rsplit("/", 1)[-1])
        return schema.unknown_fields(rt.kind, obj, self.ks.profile)

    def _prune(self, rt, obj, unknown):
        for p in unknown:
            _delete_dotted(obj, p)

    def _strict_body(self, rt, ctx, obj):
        fv = self._field_validation()
        unknown = self._unknown(rt, obj)
        dups = _dups(obj) if self._dup_keys else []  # the walk only when the decoder met a duplicate key
        problems = ['unknown field "%s"' % u for u in unknown] + ['duplicate field "%s"' % d for d in dups]
        if problems:
            if fv == "Strict":
                raise bad_request('%s in version "%s" cannot be handled as a %s: strict decoding error: %s' % (
                    rt.kind, ctx["version"], rt.kind, ", ".join(problems)))
            if fv == "Warn":
                self.warnings.extend(problems)
            self._prune(rt, obj, unknown)

    # -- writes --
    def _create(self, rt, ctx):
        ks = self.ks
        obj = self._decode_body(rt, ctx)
        self._strict_body(rt, ctx, obj)
        m = obj.setdefault("metadata", {})
        if rt.namespaced:
            if m.get("namespace") and ctx["ns"] and m["namespace"] != ctx["ns"]:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the "
                                  "request")
            if not ctx["ns"]:
                raise ApiError(405, "MethodNotAllowed",
                               "the server does not allow this method on the requested resource", {})
            m["namespace"] = ctx["ns"]
        rvset = m.get("resourceVersion")
        if rvset and str(rvset).isdigit() and int(rvset) != 0:
            # etcd3 storage's ErrResourceVersionSetOnCreate is not a Status error: 500 without a reason
            raise ApiError(500, "", "resourceVersion should not be set on objects to be created")
        dry = self._dry_run()
        manager = self._manager()
        # The body is ours: converted in place, not copied (unless it had a duplicate key: the copy makes its
        # objects plain dicts, as before).
        internal = convert.to_internal(rt, obj, ctx["group"], ctx["version"], copy=self._dup_keys)
        if rt.group == rbac.G:
            rbac.check_escalation(ks.authz, self.user, rt, internal, ctx["ns"] or "")
        if rt.crd is None:
            self.warnings.extend(podsecurity.warnings(ks.store, rt.kind, internal))
        created = ks.store.create(rt.group, rt.resource, internal, manager=manager, dry_run=dry, user=self.user,
                                  api_version=gv(ctx["group"], ctx["version"]), handed_over=True)
        if not dry and rt.crd is None and created.get("apiVersion") == gv(ctx["group"], ctx["version"]) \
                and not self._pretty():
            # The stored object in the requested version: its JSON goes to the list cache, where LISTs and the
            # change log take it from (one encoding, not three).
            return self.send_body(201, ks.store.object_json(rt.group, rt.resource, created) + "\n", JSON)
        self.send_obj(201, self._ext(rt, created, ctx))

    def _update(self, rt, ctx):
        ks = self.ks
        sub = ctx["sub"]
        obj = self._decode_body(rt, ctx)
        self._strict_body(rt, ctx, obj)
        m = obj.setdefault("metadata", {})
        if m.get("name") is not None and m.get("name") != ctx["name"]:
            raise bad_request("the name of the object (%s) does not match the name on the URL (%s)" % (
                m.get("name"), ctx["name"]))
        m["name"] = ctx["name"]
        if rt.namespaced:
            if m.get("namespace") and m["namespace"] != ctx["ns"]:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the "
                                  "request")
            m["namespace"] = ctx["ns"]
        if rt.crd is not None and not m.get("resourceVersion"):
            raise invalid(rt.qualified(), ctx["name"], [FieldError("FieldValueInvalid", "metadata.resourceVersion", 0,
                                                                   "must be specified for an update")],
                          kind=rt.resource, group=rt.group)
        dry = self._dry_run()
        internal = convert.to_internal(rt, obj, ctx["group"], ctx["version"])
        if rt.group == rbac.G:
            rbac.check_escalation(ks.authz, self.user, rt, internal, ctx["ns"] or "")
        if sub not in (None, "status", "finalize"):
            raise self._nf()
        if rt.crd is None and sub is None and rt.kind == "Namespace":
            self.warnings.extend(podsecurity.namespace_warnings(
                ks.store, ks.store.raw_get(rt.group, rt.resource, None, ctx["name"]), internal))
        elif rt.crd is None and sub is None and rt.kind != "Pod":
            self.warnings.extend(podsecurity.warnings(ks.store, rt.kind, internal))
        out = ks.store.update(rt.group, rt.resource, internal, manager=self._manager(), subresource=sub,
                              dry_run=dry, user=self.user, api_version=gv(ctx["group"], ctx["version"]))
        self.send_obj(200, self._ext(rt, out, ctx))

    def _patch(self, rt, ctx):
        ks = self.ks
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        ptype = PATCH_TYPES.get(ctype)
        if ptype is None or (ptype == "strategic" and rt.crd is not None):
            if rt.crd is not None:
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                               "accepted media types include: application/json-patch+json, "
                               "application/merge-patch+json, application/apply-patch+yaml")
            raise ApiError(415, "UnsupportedMediaType", "415: Unsupported Media Type", {})
        force = self.q("force")
        if ptype != "apply" and force is not None:
            raise invalid("PatchOptions.meta.k8s.io", "", [FieldError("FieldValueForbidden", "force", None,
                                                                       "may not be specified for non-apply patch")])
        if ptype == "apply":
            if not self.q("fieldManager"):
                raise invalid("PatchOptions.meta.k8s.io", "", [FieldError("FieldValueRequired", "fieldManager", None,
                                                                           "is required for apply patch")])
            return self._apply(rt, ctx, _truthy(force or "false"))
        try:
            p = json.loads(self.body.decode("utf-8"))
        except ValueError as e:
            raise bad_request("error decoding patch: %s" % e)
        dry = self._dry_run()
        manager = self._manager()
        sub = ctx["sub"]
        st = ks.store
        with st.lock:
            cur = st.raw_get(rt.group, rt.resource, ctx["ns"], ctx["name"])
            if cur is None:
                raise not_found(rt, ctx["name"])
            ext = dcopy(self._ext(rt, cur, ctx))
            if ptype == "json":
                new = patchmod.json_patch(ext, p)
            elif ptype == "merge":
                if not isinstance(p, dict):
                    raise bad_request("json: cannot unmarshal %s into Go value of type map[string]interface {}"
                                      % _go_type(p))
                new = patchmod.merge_patch(ext, p)
            else:
                if not isinstance(p, dict):
                    raise bad_request("json: cannot unmarshal %s into Go value of type map[string]interface {}"
                                      % _go_type(p))
                new = patchmod.strategic_merge(ext, p, rt.kind)
            if not isinstance(new, dict):
                raise bad_request("the patch produced a non-object document")
            fv = self._field_validation()
            unknown = self._unknown(rt, new)
            if unknown:
                if fv == "Strict":
                    raise invalid("", "", [FieldError("FieldValueInvalid", "patch", go_json(new),
                                                      "strict decoding error: " + ", ".join(
                                                          'unknown field "%s"' % u for u in unknown))], kind="")
                if fv == "Warn":
                    self.warnings.extend('unknown field "%s"' % u for u in unknown)
                self._prune(rt, new, unknown)
            new.setdefault("metadata", {})
            new["metadata"]["name"] = ctx["name"]
            if rt.namespaced:
                new["metadata"]["namespace"] = ctx["ns"]
            if not new["metadata"].get("resourceVersion"):
                new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
            internal = convert.to_internal(rt, new, ctx["group"], ctx["version"])
            if rt.group == rbac.G:
                rbac.check_escalation(ks.authz, self.user, rt, internal, ctx["ns"] or "")
            if rt.crd is None and sub is None and rt.kind == "Namespace":
                self.warnings.extend(podsecurity.namespace_warnings(ks.store, cur, internal))
            elif rt.crd is None and sub is None and rt.kind != "Pod":
                self.warnings.extend(podsecurity.warnings(ks.store, rt.kind, internal))
            out = st.update(rt.group, rt.resource, internal, manager=manager, subresource=sub, dry_run=dry,
                            user=self.user, api_version=gv(ctx["group"], ctx["version"]))
        self.send_obj(200, self._ext(rt, out, ctx))

    def _apply(self, rt, ctx, force):
        ks = self.ks
        st = ks.store
        try:
            cfg = json.loads(self.body.decode("utf-8"))
        except ValueError:
            cfg = _tiny_yaml(self.body.decode("utf-8", "replace"))
            if cfg is None:
                raise bad_request("error decoding YAML: kubesim understands JSON and a subset of YAML (no anchors, "
                                  "tags or multi-document streams)")
        if not isinstance(cfg, dict):
            raise bad_request("error decoding YAML: object expected")
        want_av = gv(ctx["group"], ctx["version"])
        if not cfg.get("apiVersion") or not cfg.get("kind"):
            raise bad_request("invalid object type: /, Kind=")
        if cfg["kind"] != rt.kind or cfg["apiVersion"] != want_av:
            raise bad_request("the API version in the data (%s) does not match the expected API version (%s)"
                              % (cfg["apiVersion"], want_av))
        m = cfg.setdefault("metadata", {})
        if m.get("name") and m["name"] != ctx["name"]:
            raise bad_request("the name of the object (%s) does not match the name on the URL (%s)" % (
                m["name"], ctx["name"]))
        m["name"] = ctx["name"]
        if rt.namespaced:
            if m.get("namespace") and m["namespace"] != ctx["ns"]:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the "
                                  "request")
            m["namespace"] = ctx["ns"]
        fv = self._field_validation()
        unknown = self._unknown(rt, cfg)
        if unknown:
            if fv == "Strict":
                raise bad_request('%s in version "%s" cannot be handled as a %s: strict decoding error: %s' % (
                    rt.kind, ctx["version"], rt.kind, ", ".join('unknown field "%s"' % u for u in unknown)))
            if fv == "Warn":
                self.warnings.extend('unknown field "%s"' % u for u in unknown)
            self._prune(rt, cfg, unknown)
        dry = self._dry_run()
        manager = self.q("fieldManager")
        with st.lock:
            cur = st.raw_get(rt.group, rt.resource, ctx["ns"], ctx["name"])
            icfg = convert.to_internal(rt, cfg, ctx["group"], ctx["version"])
            icfg["metadata"].pop("resourceVersion", None) if cur is None else None
            cfg_map = managed.leaf_map(icfg, rt.kind, "main", rt.status)
            if cur is None:
                if rt.group == rbac.G:
                    rbac.check_escalation(ks.authz, self.user, rt, icfg, ctx["ns"] or "")
                entries = [managed._entry(manager, "Apply", want_av, set(cfg_map), None, dots=False)]
                if rt.crd is None:
                    self.warnings.extend(podsecurity.warnings(ks.store, rt.kind, icfg))
                created = st.create(rt.group, rt.resource, icfg, manager=manager, dry_run=dry, user=self.user,
                                    api_version=want_av, managed_override=entries)
                return self.send_obj(201, self._ext(rt, created, ctx))
            entries, conflicts = managed.apply_ownership(cur, None, cfg_map, manager, want_av, force, rt)
            if conflicts:
                raise _apply_conflict(conflicts)
            prev = managed.previous_apply_set(cur, manager)
            others = set()
            for e in entries:
                if not (e.get("manager") == manager and e.get("operation") == "Apply"):
                    others |= managed.fields_to_set(e.get("fieldsV1"))
            to_remove = prev - set(cfg_map) - others
            live = dcopy(cur)
            merged = patchmod.apply_merge(live, {k: v for k, v in icfg.items()}, rt.kind)
            for p in sorted(to_remove, key=len, reverse=True):
                patchmod.remove_path(merged, p)
            rvc = (cfg.get("metadata") or {}).get("resourceVersion")
            merged["metadata"]["resourceVersion"] = rvc or cur["metadata"]["resourceVersion"]
            if rt.group == rbac.G:
                rbac.check_escalation(ks.authz, self.user, rt, merged, ctx["ns"] or "")
            out = st.update(rt.group, rt.resource, merged, manager=manager, dry_run=dry, user=self.user,
                            api_version=want_av, managed_override=entries)
        self.send_obj(200, self._ext(rt, out, ctx))

    def _delete_options(self):
        opts = {}
        if self.body:
            try:
                opts = json.loads(self.body.decode("utf-8")) or {}
            except ValueError:
                raise bad_request("the object provided is unrecognized (must be of type DeleteOptions)")
        prop = self.q("propagationPolicy") or opts.get("propagationPolicy")
        if prop is None:
            od = opts.get("orphanDependents")
            if od is None and self.q("orphanDependents"):
                od = _truthy(self.q("orphanDependents"))
            if od is True:
                prop = "Orphan"
            elif od is False:
                prop = "Background"
        if prop is not None and prop not in ("Foreground", "Background", "Orphan"):
            raise invalid("DeleteOptions.meta.k8s.io", "", [FieldError(
                "FieldValueNotSupported", "propagationPolicy", prop,
                'supported values: "Foreground", "Background", "Orphan", "nil"')])
        dry = "All" in (opts.get("dryRun") or []) or self._dry_run()
        grace = opts.get("gracePeriodSeconds")
        if grace is None and self.q("gracePeriodSeconds"):
            try:
                grace = int(self.q("gracePeriodSeconds"))
            except ValueError:
                raise bad_request("invalid gracePeriodSeconds")
        self._grace = grace
        return prop, opts.get("preconditions"), dry

    def _delete(self, rt, ctx):
        ks = self.ks
        prop, pre, dry = self._delete_options()
        st = ks.store
        with st.lock:
            cur = st.raw_get(rt.group, rt.resource, ctx["ns"], ctx["name"])
            if cur is None:
                raise not_found(rt, ctx["name"])
            if rt.key == ("", "pods") and isinstance(self._grace, int) and self._grace > 0 and not dry and \
                    (cur.get("spec") or {}).get("nodeName") and not pre:
                # A grace period asked for explicitly: the pod stays Terminating until the kubelet has stopped it.
                res = st.begin_graceful_delete(ctx["ns"], ctx["name"], self._grace)
                if res is not None:
                    return self.send_obj(200, self._ext(rt, res, ctx))
            res = st.delete(rt.group, rt.resource, ctx["ns"], ctx["name"], propagation=prop or "Background",
                            missing_ok=False, preconditions=pre, dry_run=dry, user=self.user)
        if res is not None:
            return self.send_obj(200, self._ext(rt, res, ctx))
        if rt.return_deleted:
            gone = dcopy(cur)
            return self.send_obj(200, self._ext(rt, gone, ctx))
        d = {"name": ctx["name"]}
        if rt.group:
            d["group"] = rt.group
        d["kind"] = ctx["resource"]
        d["uid"] = cur["metadata"]["uid"]
        self.send_obj(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": d})

    def _delete_collection(self, rt, ctx):
        ks = self.ks
        prop, pre, dry = self._delete_options()
        lsel = selectors.parse_labels(self.q("labelSelector"))
        fsel = selectors.parse_fields(self.q("fieldSelector"), rt)
        items, rv = ks.store.raw_items(rt.group, rt.resource, ctx["ns"])
        out = []
        for k, o in items:
            if lsel and not selectors.match_labels(lsel, o["metadata"].get("labels")):
                continue
            if fsel and not selectors.match_fields(fsel, o):
                continue
            try:
                res = ks.store.delete(rt.group, rt.resource, o["metadata"].get("namespace"), o["metadata"]["name"],
                                      propagation=prop or "Background", dry_run=dry, user=self.user)
            except ApiError:
                continue
            e = self._ext(rt, res if res is not None else o, ctx)
            if rt.crd is None:
                e = {k2: v for k2, v in e.items() if k2 not in ("apiVersion", "kind")}
            out.append(e)
        self.send_obj(200, {"kind": self._list_kind(rt), "apiVersion": gv(ctx["group"], ctx["version"]),
                            "metadata": {"resourceVersion": str(ks.store.rv)}, "items": out})

    # -- subresources --
    def _scale_obj(self, rt, o):
        spec = o.get("spec") or {}
        status = o.get("status") or {}
        sel = spec.get("selector")
        if isinstance(sel, dict):
            parts = ["%s=%s" % (k, v) for k, v in sorted((sel.get("matchLabels") or {}).items())]
            sel_s = ",".join(parts)
        elif isinstance(sel, str):
            sel_s = sel
        elif isinstance(sel, dict) or sel is None:
            sel_s = None
        m = o["metadata"]
        sc = {"kind": "Scale", "apiVersion": "autoscaling/v1",
              "metadata": {"name": m["name"], "namespace": m.get("namespace"), "uid": m["uid"],
                           "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"]},
              "spec": {"replicas": spec.get("replicas", 0)},
              "status": {"replicas": status.get("replicas", 0)}}
        if not rt.namespaced:
            sc["metadata"].pop("namespace")
        if sel_s:
            sc["status"]["selector"] = sel_s
        return sc

    def _scale(self, rt, ctx, method):
        st = self.ks.store
        with st.lock:
            cur = st.raw_get(rt.group, rt.resource, ctx["ns"], ctx["name"])
            if cur is None:
                raise not_found(rt, ctx["name"])
            sc = self._scale_obj(rt, cur)
            if method == "GET":
                return self.send_obj(200, sc)
            if method == "PUT":
                try:
                    new = json.loads(self.body.decode())
                except ValueError:
                    raise bad_request("the object provided is unrecognized (must be of type Scale)")
            elif method == "PATCH":
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                p = json.loads(self.body.decode())
                ptype = PATCH_TYPES.get(ctype)
                if ptype == "json":
                    new = patchmod.json_patch(sc, p)
                elif ptype in ("merge", "strategic", "apply"):
                    new = patchmod.merge_patch(sc, p)
                else:
                    raise ApiError(415, "UnsupportedMediaType", "415: Unsupported Media Type", {})
            else:
                raise ApiError(405, "MethodNotAllowed",
                               "the server does not allow this method on the requested resource", {})
            rv = (new.get("metadata") or {}).get("resourceVersion")
            if rv and rv != cur["metadata"]["resourceVersion"]:
                from .store import conflict
                raise conflict(rt, ctx["name"])
            obj = dcopy(cur)
            obj.setdefault("spec", {})["replicas"] = int((new.get("spec") or {}).get("replicas", 0))
            out = st.update(rt.group, rt.resource, obj, manager=self._manager(), user=self.user,
                            api_version=gv(ctx["group"], ctx["version"]))
        self.send_obj(200, self._scale_obj(rt, out))

    def _log(self, rt, ctx):
        o = self.ks.store.raw_get(rt.group, rt.resource, ctx["ns"], ctx["name"])
        if o is None:
            raise not_found(rt, ctx["name"])
        text = ((o["metadata"].get("annotations") or {}).get("kubesim.io/log") or "")
        self.send_body(200, text, "text/plain")

    def _exec(self, rt, ctx):
        o = self.ks.store.get(rt.group, rt.resource, ctx["ns"], ctx["name"])
        if o is None:
            raise not_found(rt, ctx["name"])
        if ctx["sub"] != "exec":
            raise bad_request("kubesim does not implement pods/%s" % ctx["sub"])
        try:
            from . import exec_ws
        except ImportError:
            raise ApiError(501, "NotImplemented", "pods/exec is not available in this kubesim build", {})
        exec_ws.handle_exec(self, self.ks.store, o, self.query)
        self.close_connection = True

    def _misc_sub(self, rt, ctx, method):
        st = self.ks.store
        sub = ctx["sub"]
        if sub == "token" and method == "POST":
            sa = st.raw_get("", "serviceaccounts", ctx["ns"], ctx["name"])
            if sa is None:
                raise not_found(rt, ctx["name"])
            try:
                if (self.headers.get("Content-Type") or "").startswith("application/vnd.kubernetes.protobuf"):
                    from . import proto
                    req = proto.decode_object(self.body)
                else:
                    req = json.loads(self.body.decode()) if self.body else {}
            except ValueError:
                req = {}
            spec = req.get("spec") or {}
            exp = int(spec.get("expirationSeconds") or 3600)
            tok = self.ks.authn.issue_sa_token(ctx["ns"], ctx["name"], sa["metadata"]["uid"])
            return self.send_obj(201, {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                                       "metadata": {"name": ctx["name"], "namespace": ctx["ns"],
                                                    "creationTimestamp": None},
                                       "spec": {"audiences": spec.get("audiences") or ["https://kubernetes.default.svc"],
                                                "expirationSeconds": exp, "boundObjectRef": spec.get("boundObjectRef")},
                                       "status": {"token": tok, "expirationTimestamp": now_ts(time.time() + exp)}})
        if sub == "eviction" and method == "POST":
            self._evict(rt, ctx)
            return self.send_obj(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                       "code": 201})
        if sub == "binding" and method == "POST":
            return self._bind(ctx, self.body)
        if sub == "approval" and method in ("PUT", "PATCH", "GET"):
            return self._update(rt, dict(ctx, sub="status")) if method == "PUT" else self._get(rt, ctx)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})

    def _bind(self, ctx, body):
        """POST bindings / pods/NAME/binding: what the scheduler does."""
        st = self.ks.store
        try:
            b = json.loads(body.decode() or "{}")
        except ValueError:
            raise bad_request("the object provided is unrecognized (must be of type Binding)")
        name = ctx["name"] or (b.get("metadata") or {}).get("name", "")
        node = (b.get("target") or {}).get("name", "")
        prt = self.ks.registry.storage_type("", "pods")
        with st.lock:
            pod = st.raw_get("", "pods", ctx["ns"], name)
            if pod is None:
                raise not_found(prt, name)
            cur = (pod.get("spec") or {}).get("nodeName")
            if cur:
                raise ApiError(409, "Conflict", 'Operation cannot be fulfilled on pods/binding "%s": pod %s is '
                                                'already assigned to node "%s"' % (name, name, cur),
                               {"name": name, "kind": "pods/binding"})
            st.bind_pod(ctx["ns"], name, node)
        self.send_obj(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})

    def _componentstatuses(self, ctx):
        if self.command not in ("GET", "HEAD"):
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                                                    "resource", {})
        self.warnings.append("v1 ComponentStatus is deprecated in v1.19+")

        def cs(name, msg):
            return {"metadata": {"name": name, "creationTimestamp": None},
                    "conditions": [{"type": "Healthy", "status": "True", "message": msg}]}
        items = [cs("controller-manager", "ok"), cs("etcd-0", '{"health":"true","reason":""}'), cs("scheduler", "ok")]
        rt = self.ks.registry.storage_type("", "componentstatuses")
        if ctx["name"]:
            items = [it for it in items if it["metadata"]["name"] == ctx["name"]]
            if not items:
                raise not_found(rt, ctx["name"])
        from . import tables
        tv = tables.wants_table(self.headers.get("Accept"))
        if tv:
            return self.send_body(200, self.encode(tables.table(rt, "v1", items, {}, tv)), tables.TABLE_CT % tv)
        if ctx["name"]:
            return self.send_obj(200, dict({"kind": "ComponentStatus", "apiVersion": "v1"}, **items[0]))
        self.send_obj(200, {"kind": "ComponentStatusList", "apiVersion": "v1", "metadata": {}, "items": items})

    def _evict(self, rt, ctx):
        """pods/eviction: honour the (single) PodDisruptionBudget covering a healthy pod, as the API server does."""
        from .validation import selector_matches
        st = self.ks.store
        try:
            ev = json.loads(self.body.decode() or "{}")
        except ValueError:
            raise bad_request("the object provided is unrecognized (must be of type Eviction)")
        with st.lock:
            pod = st.raw_get("", "pods", ctx["ns"], ctx["name"])
            if pod is None:
                raise not_found(rt, ctx["name"])
            phase = (pod.get("status") or {}).get("phase")
            if phase in ("Running",) and not pod["metadata"].get("deletionTimestamp"):
                pdbs = [o for _, o in st.raw_items("policy", "poddisruptionbudgets", ctx["ns"])[0]
                        if selector_matches((o.get("spec") or {}).get("selector"),
                                            pod["metadata"].get("labels"))]
                if len(pdbs) > 1:
                    raise ApiError(500, "InternalError", "This pod has more than one PodDisruptionBudget, which the "
                                                         "eviction subresource does not support.", {})
                if pdbs:
                    pdb = dcopy(pdbs[0])
                    s_ = pdb.setdefault("status", {})
                    if int(s_.get("disruptionsAllowed") or 0) <= 0:
                        raise ApiError(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's "
                                                               "disruption budget.", {"causes": [
                                                                   {"reason": "DisruptionBudget",
                                                                    "message": "The disruption budget %s needs %d "
                                                                               "healthy pods and has %d currently" % (
                                                                                   pdb["metadata"]["name"],
                                                                                   int(s_.get("desiredHealthy") or 0),
                                                                                   int(s_.get("currentHealthy") or 0))}
                                                               ]})
                    s_["disruptionsAllowed"] = int(s_["disruptionsAllowed"]) - 1
                    s_.setdefault("disruptedPods", {})[ctx["name"]] = now_ts()
                    st.update("policy", "poddisruptionbudgets", pdb, manager="kube-apiserver",
                              subresource="status")
            opts = ev.get("deleteOptions") or {}
            st.delete("", "pods", ctx["ns"], ctx["name"], propagation=opts.get("propagationPolicy") or "Background",
                      missing_ok=False, preconditions=opts.get("preconditions"), user=self.user)

    # -- reviews --
    def _review_body(self):
        ctype = (self.headers.get("Content-Type") or JSON).split(";")[0].strip()
        if ctype == "application/vnd.kubernetes.protobuf":
            from . import proto
            return proto.decode_review(self.body)
        try:
            return json.loads(self.body.decode() or "{}")
        except ValueError:
            raise bad_request("the object provided is unrecognized (must be of type SelfSubjectAccessReview)")

    def _review(self, rt, ctx):
        if self.command != "POST":
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
                           {})
        req = self._review_body()
        spec = req.get("spec") or {}
        authz = self.ks.authz
        kind = rt.kind
        av = gv(ctx["group"], ctx["version"])
        resp = {"kind": kind, "apiVersion": av, "metadata": dict(req.get("metadata") or {}, creationTimestamp=None),
                "spec": spec}
        if kind in ("SelfSubjectAccessReview", "SubjectAccessReview", "LocalSubjectAccessReview"):
            if kind == "SelfSubjectAccessReview":
                who = self.user
            else:
                from .auth import User
                who = User(spec.get("user", ""), spec.get("groups") or [], spec.get("uid", ""))
            ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
            if ra is not None:
                a = {"verb": ra.get("verb", ""), "group": ra.get("group", ""), "resource": ra.get("resource", ""),
                     "subresource": ra.get("subresource", ""), "namespace": ra.get("namespace", ""),
                     "name": ra.get("name", "")}
            elif nra is not None:
                a = {"verb": nra.get("verb", ""), "path": nra.get("path", "")}
            else:
                raise invalid(kind + "." + rt.group, "", [FieldError(
                    "FieldValueRequired", "spec.resourceAttributes", None,
                    "exactly one of nonResourceAttributes or resourceAttributes must be specified")])
            ok, reason = authz.authorize(who, a)
            status = {"allowed": ok}
            if reason:
                status["reason"] = reason
            resp["status"] = status
        elif kind == "SelfSubjectRulesReview":
            res, nonres = authz.rules_for(self.user, spec.get("namespace", ""))
            resp["status"] = {"resourceRules": res, "nonResourceRules": nonres, "incomplete": False}
        elif kind == "TokenReview":
            u = self.ks.authn.tokens.get(spec.get("token", ""))
            if u is None:
                resp["status"] = {"authenticated": False, "user": {}, "error": "invalid bearer token"}
            else:
                resp["status"] = {"authenticated": True, "user": {"username": u.name, "uid": u.uid,
                                                                  "groups": u.groups}}
        elif kind == "SelfSubjectReview":
            ui = {"username": self.user.name, "groups": self.user.groups}
            if self.user.uid:
                ui["uid"] = self.user.uid
            resp["status"] = {"userInfo": ui}
        self.send_obj(201, resp)


class _DupDict(dict):
    """A JSON object remembering the keys that appeared more than once (the last value wins, as in Go)."""
    __slots__ = ("dups",)

    @staticmethod
    def make(pairs):
        d = _DupDict()
        d.dups = []
        for k, v in pairs:
            if k in d and k not in d.dups:
                d.dups.append(k)
            d[k] = v
        return d


def _loads_noting_dups(text):
    """json.loads with Go's duplicate keys kept track of: (document, whether any object had a duplicate key). Objects
    without one are plain dicts (no per-request walk over every key, and dcopy's fast path)."""
    seen = []

    def hook(pairs):
        d = dict(pairs)
        if len(d) == len(pairs):
            return d
        seen.append(True)
        return _DupDict.make(pairs)
    obj = json.loads(text, object_pairs_hook=hook)
    return obj, bool(seen)


def _dups(o, prefix=""):
    out = []
    if isinstance(o, dict):
        for k in getattr(o, "dups", ()):
            out.append(prefix + k)
        for k, v in o.items():
            out += _dups(v, prefix + k + ".")
    elif isinstance(o, list):
        for i, v in enumerate(o):
            out += _dups(v, prefix[:-1] + "[%d]." % i if prefix else "[%d]." % i)
    return out


class _KeyView:
    """Sequence of keys over [(key, obj)] for bisect."""

    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i][0]


def _go_type(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _delete_dotted(obj, path):
    import re
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    cur = obj
    for i, p in enumerate(parts):
        last = i == len(parts) - 1
        if p.startswith("["):
            idx = int(p[1:-1])
            if not isinstance(cur, list) or idx >= len(cur):
                return
            cur = cur[idx]
        else:
            if not isinstance(cur, dict) or p not in cur:
                return
            if last:
                del cur[p]
                return
            cur = cur[p]


def _apply_conflict(conflicts):
    causes = [{"reason": "FieldManagerConflict", "message": "conflict with %s" % managed.print_manager(e),
               "field": managed.path_str(p)} for e, p in conflicts]
    if len(conflicts) == 1:
        e, p = conflicts[0]
        msg = "Apply failed with 1 conflict: conflict with %s: %s" % (managed.print_manager(e), managed.path_str(p))
    else:
        by = {}
        for e, p in conflicts:
            by.setdefault(managed.print_manager(e), []).append(managed.path_str(p))
        lines = []
        for mgr in sorted(by):
            lines.append("conflicts with %s:" % mgr)
            lines.extend("- %s" % p for p in by[mgr])
        msg = "Apply failed with %d conflicts: %s" % (len(conflicts), "\n".join(lines))
    return ApiError(409, "Conflict", msg, {"causes": causes})


def _tiny_yaml(text):
    """YAML bodies (a subset, see yamlsub.py); None if not understood."""
    from . import yamlsub
    try:
        return yamlsub.load(text)
    except (ValueError, IndexError, KeyError):
        return None


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, ks, ssl_ctx):
        super().__init__(addr, Handler)
        self.ks = ks
        self.ssl_ctx = ssl_ctx

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = self.ssl_ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionError, socket.timeout, OSError)):
            return
        super().handle_error(request, client_address)
