"""In-memory object store with Kubernetes API semantics, persisted under the state dir.

Contract (relied on by controllers.py and the server):
* Objects are stored in the storage version of the profile, with apiVersion and kind.  A stored object is never mutated
  after commit: every write builds a new dict; readers inside kubesim may hold references (get/list hand out copies).
* One global resourceVersion counter.  Every committed change is appended to a bounded history (for watches from a
  resourceVersion) and pushed to watchers and subscribers (subscribers run in a dispatcher thread, outside the lock).
* create/update/delete apply the server-side semantics a real API server applies in its registry: server-set metadata,
  defaulting and allocation (admission.py), validation (validation.py), managedFields (managed.py), status subresource
  rules, finalizers and deletionTimestamp, namespace lifecycle (Terminating namespaces refuse new content).
"""
import bisect
import collections
import json
import os
import queue
import random
import threading
import time

from . import managed, util
from .util import dcopy, meta, now_ts

PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
SERVICES = ("", "services")
GEN_CHARS = "bcdfghjklmnpqrstvwxz2456789"


class ApiError(Exception):
    """An API error; the server renders it as a Status (or plain text when `plain` is set)."""

    def __init__(self, code, reason, message, details=None, headers=None, plain=None, status_metadata=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details
        self.headers = headers or {}
        self.plain = plain
        self.status_metadata = status_metadata

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": self.status_metadata or {}, "status": "Failure",
              "message": self.message}
        if self.reason:
            st["reason"] = self.reason
        if self.details is not None:
            st["details"] = self.details
        st["code"] = self.code
        return st


def _details(rt_or_res, name=None, kind=None, group=None):
    d = {}
    if name is not None:
        d["name"] = name
    if hasattr(rt_or_res, "resource"):
        if rt_or_res.group:
            d["group"] = rt_or_res.group
        d["kind"] = kind or rt_or_res.resource
    else:
        if group:
            d["group"] = group
        d["kind"] = kind or rt_or_res
    return d


def not_found(rt, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (rt.qualified(), name), _details(rt, name))


def already_exists(rt, name, deleting=False, generated=False):
    msg = '%s "%s" already exists' % (rt.qualified(), name)
    if deleting:
        msg = "object is being deleted: " + msg
    if generated:
        msg += ", the server was not able to generate a unique name for the object"
    return ApiError(409, "AlreadyExists", msg, _details(rt, name))


def conflict(rt, name, why="the object has been modified; please apply your changes to the latest version and try again"):
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s' % (rt.qualified(), name, why),
                    _details(rt, name))


def bad_request(msg):
    return ApiError(400, "BadRequest", msg)


def forbidden(rt, name, why, causes=None):
    prefix = ('%s "%s"' % (rt.qualified(), name)) if name else rt.qualified()
    d = _details(rt, name or None)
    if causes:
        d["causes"] = causes
    return ApiError(403, "Forbidden", "%s is forbidden: %s" % (prefix, why), d)


def fmt_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return util.go_quote(v)
    if isinstance(v, (int, float)):
        return str(v)
    return util.go_json(v)


class FieldError:
    """One field error as apimachinery's field.Error."""
    WORDS = {"FieldValueInvalid": "Invalid value", "FieldValueNotSupported": "Unsupported value",
             "FieldValueDuplicate": "Duplicate value", "FieldValueNotFound": "Not found",
             "FieldValueTooMany": "Too many", "FieldValueRequired": "Required value",
             "FieldValueForbidden": "Forbidden", "FieldValueTooLong": "Too long", "InternalError": "Internal error"}
    NO_VALUE = ("FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong", "InternalError")

    def __init__(self, reason, field, value=None, detail=""):
        self.reason, self.field, self.value, self.detail = reason, field, value, detail

    def body(self):
        w = self.WORDS[self.reason]
        if self.reason in self.NO_VALUE:
            return w + (": " + self.detail if self.detail else "")
        s = "%s: %s" % (w, fmt_value(self.value))
        return s + (": " + self.detail if self.detail else "")

    def text(self):
        # field.Error.Error() is "<field>: <body>" even for the root path ("": the message starts with ": ")
        return "%s: %s" % (self.field, self.body()) if self.field is not None else self.body()


def invalid(kind_gk, name, errors, kind=None, group=None):
    """422 Invalid; kind_gk is 'Kind' or 'Kind.group'; details.kind is the Kind (apimachinery quirk)."""
    texts = []
    for e in errors:
        t = e.text()
        if t not in texts:
            texts.append(t)
    agg = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    d = {"name": name}
    if group:
        d["group"] = group
    d["kind"] = kind if kind is not None else kind_gk.split(".")[0]
    d["causes"] = [{"reason": e.reason, "message": e.body(), "field": e.field} for e in errors]
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (kind_gk, name, agg), d)


def invalid_rt(rt, name, errors):
    return invalid(rt.gk(), name, errors, rt.kind, rt.group or None)


class Snap:
    __slots__ = ("keys", "objs")

    def __init__(self, keys, objs):
        self.keys, self.objs = keys, objs

    def __len__(self):
        return len(self.keys)


class Watcher:
    def __init__(self, key, namespace):
        self.key, self.namespace = key, namespace
        self.q = queue.Queue()
        self.closed = False


def obj_key(o):
    m = o.get("metadata") or {}
    ns = m.get("namespace")
    return (ns + "/" + m.get("name", "")) if ns else m.get("name", "")


def ns_name_key(ns, name):
    return (ns + "/" + name) if ns else name


class Store:
    def __init__(self, state_dir, profile, registry, options=None):
        self.lock = threading.RLock()
        self.state_dir, self.profile, self.registry = state_dir, profile, registry
        self.options = options or {}
        self._objs = {}       # (g, r) -> {key: obj}
        self._keys = {}       # (g, r) -> sorted [key]
        self._jcache = {}     # (g, r) -> {key: (obj, json-without-kind)}
        self._svc = None      # what the Services hold (service_allocations), built on first use
        self.rv = 1
        self._history = collections.deque()
        self._history_max = int(self.options.get("history", 50000))
        self._hist_floor = 1
        self._watchers = set()
        self._subs = []
        self._dispatch_q = queue.SimpleQueue()  # put and get in C: no Condition, no lock made per wait
        self._pending = []
        self._logf = None
        self._log_lines = 0
        self._save_lock = threading.Lock()
        self._closed = False
        self.hooks = None  # admission module, set by main (admission.Admission)
        self.snapshots = {}  # continue-token snapshots: id -> (created, rv, [(key, obj)])
        self._rand = random.Random()
        self._load()
        self._dispatcher = threading.Thread(target=self._dispatch_loop, name="store-dispatch", daemon=True)
        self._dispatcher.start()
        self._persister = threading.Thread(target=self._persist_loop, name="store-persist", daemon=True)
        self._persister.start()

    # --- persistence ----------------------------------------------------------------------------------------
    # Layout under the state dir: state.json (a full snapshot: {"version":1,"profile":..,"rv":N,"objects":{"g/r":
    # [obj..]}}) plus state.log, an append-only log of the changes committed since that snapshot, one JSON line each:
    # {"rv":N,"t":"A"|"M"|"D","k":"g/r","o":obj}.  Changes are queued under the lock and written by a background
    # thread every persist_interval and at SIGTERM (close); a log grown past three times the object count (or one
    # with a torn last line, found at load) is compacted: a new snapshot, an empty log.
    def _path(self):
        return os.path.join(self.state_dir, "state.json")

    def _log_path(self):
        return os.path.join(self.state_dir, "state.log")

    def _load(self):
        import gc
        gc.disable()  # millions of new containers would trigger repeated full collections
        try:
            self._load_files()
        finally:
            gc.enable()

    def _load_files(self):
        p = self._path()
        if os.path.exists(p):
            with open(p, encoding="utf-8") as f:
                data = json.load(f)
            self.rv = int(data.get("rv", 1))
            for k, objs in data.get("objects", {}).items():
                g, r = k.split("/", 1) if "/" in k else ("", k)
                self._objs[(g, r)] = {obj_key(o): o for o in objs}
        replayed = 0
        torn = False
        snap_rv = self.rv
        lp = self._log_path()
        if os.path.exists(lp):
            with open(lp, encoding="utf-8") as f:
                for line in f:
                    try:
                        e = json.loads(line)
                    except ValueError:
                        torn = True  # a torn last line (crash while writing)
                        break
                    replayed += 1
                    if int(e["rv"]) <= snap_rv:
                        continue  # already in the snapshot (crash between snapshot and log truncation)
                    k = e["k"]
                    g, r = k.split("/", 1) if "/" in k else ("", k)
                    d = self._objs.setdefault((g, r), {})
                    o = e["o"]
                    if e["t"] == "D":
                        d.pop(obj_key(o), None)
                    else:
                        d[obj_key(o)] = o
                    self.rv = max(self.rv, int(e["rv"]))
        for key, d in self._objs.items():
            self._keys[key] = sorted(d)
        self._hist_floor = self.rv
        self._log_lines = replayed
        if torn:
            self.save()  # rewrite: appending after a torn line would hide the new lines

    def save(self):
        """Write a full snapshot and empty the change log."""
        with self._save_lock:
            with self.lock:
                snap = {"%s/%s" % k if k[0] else k[1]: list(d.values()) for k, d in self._objs.items() if d}
                rv = self.rv
                self._pending = []
                self._log_lines = 0
            t0 = time.time()
            data = json.dumps({"version": 1, "profile": self.profile, "rv": rv, "objects": snap},
                              separators=(",", ":"))
            tmp = self._path() + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(data)
            os.replace(tmp, self._path())
            if self._logf is not None:
                self._logf.close()
            self._logf = open(self._log_path(), "w", encoding="utf-8")
            self._last_save = time.time() - t0

    def flush_log(self):
        with self._save_lock:
            with self.lock:
                pending, self._pending = self._pending, []
            if not pending:
                return
            if self._logf is None:
                self._logf = open(self._log_path(), "a", encoding="utf-8")
            enc = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
            lines = []
            for rv, t, key, o in pending:
                k = "%s/%s" % key if key[0] else key[1]
                # An object a client was answered with (or listed) was encoded then: its JSON is in the list cache
                # (Go's HTML escapes in it read back the same).
                oj = self._known_json(key, o)
                if oj is not None:
                    lines.append('{"rv":%d,"t":%s,"k":%s,"o":%s}\n' % (rv, enc(t), enc(k), oj))
                else:
                    lines.append(enc({"rv": rv, "t": t, "k": k, "o": o}) + "\n")
            self._logf.write("".join(lines))
            self._logf.flush()
            self._log_lines += len(pending)
        nobj = sum(len(d) for d in self._objs.values())
        if self._log_lines > max(20000, 3 * nobj):
            self.save()

    def _persist_loop(self):
        while not self._closed:
            time.sleep(float(self.options.get("persist_interval", 0.5)))
            if self._closed:
                break
            try:
                self.flush_log()
            except Exception as e:  # keep serving; report
                import sys
                print("kubesim: persist failed: %s" % e, file=sys.stderr)

    def close(self):
        """Flush the change log (a full snapshot only if the log has grown large): SIGTERM stays fast."""
        self._closed = True
        self.flush_log()
        if self._logf is not None:
            self._logf.close()
            self._logf = None

    def is_empty(self):
        return not any(self._objs.values())

    # --- events ---------------------------------------------------------------------------------------------
    def subscribe(self, callback):
        self._subs.append(callback)

    def _dispatch_loop(self):
        while True:
            ev = self._dispatch_q.get()
            for cb in list(self._subs):
                try:
                    cb(*ev)
                except Exception:
                    import traceback
                    traceback.print_exc()

    def add_watcher(self, key, namespace, since_rv):
        """Register a watcher; returns (watcher, backlog events or None if since_rv is too old, current rv)."""
        with self.lock:
            w = Watcher(key, namespace)
            backlog = []
            if since_rv is not None:
                if since_rv < self._hist_floor:
                    return w, None, self._hist_floor
                for ev in self._history:
                    if ev[0] > since_rv and ev[2] == key:
                        backlog.append(ev)
            self._watchers.add(w)
            return w, backlog, self.rv

    def remove_watcher(self, w):
        with self.lock:
            w.closed = True
            self._watchers.discard(w)

    def _emit(self, etype, key, obj, old):
        ev = (int(obj["metadata"]["resourceVersion"]), etype, key, obj, old)
        self._history.append(ev)
        if len(self._history) > self._history_max:
            self._hist_floor = self._history.popleft()[0]
        for w in self._watchers:
            if w.key == key:
                w.q.put(ev)
        self._dispatch_q.put((etype, key[0], key[1], obj))
        self._pending.append((ev[0], etype[0], key, obj))

    # --- raw access (no copies; callers must not mutate) ------------------------------------------------------
    def raw_get(self, group, resource, namespace, name):
        d = self._objs.get((group, resource))
        return d.get(ns_name_key(namespace, name)) if d else None

    def snapshot(self, group, resource, namespace=None):
        """(Snap, rv): the keys and object references of one type (one namespace) at the current revision.
        Cheap (two list copies, no per-item allocation); objects are immutable so the snapshot stays consistent."""
        with self.lock:
            d = self._objs.get((group, resource)) or {}
            keys = self._keys.get((group, resource)) or []
            if namespace:
                lo = bisect.bisect_left(keys, namespace + "/")
                hi = bisect.bisect_left(keys, namespace + "0")  # '0' follows '/'
                ks = keys[lo:hi]
            else:
                ks = list(keys)
            return Snap(ks, [d[k] for k in ks]), self.rv

    def raw_items(self, group, resource, namespace=None):
        """Sorted [(key, obj)] references (no copies; callers must not mutate) and the rv they reflect."""
        snap, rv = self.snapshot(group, resource, namespace)
        return list(zip(snap.keys, snap.objs)), rv

    def cached_json(self, group, resource, key, obj):
        """Compact JSON of a stored object without apiVersion/kind (list item form), cached per object."""
        c = self._jcache.setdefault((group, resource), {})
        hit = c.get(key)
        if hit is not None and hit[0] is obj:
            return hit[1]
        s = util.go_json({k: v for k, v in obj.items() if k != "apiVersion" and k != "kind"})
        c[key] = (obj, s)
        return s

    def object_json(self, group, resource, obj):
        """go_json of a stored object as a GET answers it (kind and apiVersion first, as _canonical orders them), made
        from the list cache's JSON: an object version is encoded once for its create answer, its LISTs and the change
        log."""
        it = iter(obj)
        if next(it, None) != "kind" or next(it, None) != "apiVersion":
            return util.go_json(obj)
        return self._with_kind(obj, self.cached_json(group, resource, obj_key(obj), obj))

    @staticmethod
    def _with_kind(obj, rest):
        head = '{"kind":%s,"apiVersion":%s' % (util.go_json(obj["kind"]), util.go_json(obj["apiVersion"]))
        return head + "}" if rest == "{}" else head + "," + rest[1:]

    def _known_json(self, key, obj):
        """The full JSON of obj if the list cache holds it (this very version), else None; never encodes."""
        c = self._jcache.get(key)
        hit = c.get(obj_key(obj)) if c else None
        if hit is None or hit[0] is not obj:
            return None
        it = iter(obj)
        if next(it, None) != "kind" or next(it, None) != "apiVersion":
            return None
        return self._with_kind(obj, hit[1])

    # --- public contract --------------------------------------------------------------------------------------
    def get(self, group, resource, namespace, name):
        o = self.raw_get(group, resource, namespace, name)
        return dcopy(o) if o is not None else None

    def list(self, group, resource, namespace=None):
        items, _ = self.raw_items(group, resource, namespace)
        return [dcopy(o) for _, o in items]

    def _rt(self, group, resource):
        rt = self.registry.storage_type(group, resource)
        if rt is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        return rt

    def _next_rv(self):
        self.rv += 1
        return str(self.rv)

    def _put(self, key, k, obj):
        _canonical(obj)
        d = self._objs.setdefault(key, {})
        if k not in d:
            bisect.insort(self._keys.setdefault(key, []), k)
        d[k] = obj
        if key == SERVICES and self._svc is not None:
            self._svc.hold(k, obj)

    def _remove(self, key, k):
        d = self._objs.get(key)
        self._jcache.get(key, {}).pop(k, None)
        if key == SERVICES and self._svc is not None:
            self._svc.hold(k, None)
        if d and k in d:
            del d[k]
            ks = self._keys[key]
            i = bisect.bisect_left(ks, k)
            if i < len(ks) and ks[i] == k:
                del ks[i]

    def service_allocations(self, old=None):
        """(cluster IPs, node ports) the stored Services hold, as containers, leaving out what `old` (the stored
        version of a Service being updated) holds. Kept up to date by _put and _remove, as kube-apiserver keeps its
        allocators' bitmaps: an allocation does not read every Service (a scan made each create O(n))."""
        if self._svc is None:
            self._svc = _ServiceHolds()
            for k, o in (self._objs.get(SERVICES) or {}).items():
                self._svc.hold(k, o)
        return self._svc.used(old)

    def _check_namespace(self, rt, obj, name):
        ns = obj["metadata"].get("namespace")
        nso = self.raw_get("", "namespaces", None, ns)
        if nso is None:
            raise ApiError(404, "NotFound", 'namespaces "%s" not found' % ns, {"name": ns, "kind": "namespaces"})
        if (nso.get("status") or {}).get("phase") == "Terminating" or nso["metadata"].get("deletionTimestamp"):
            raise forbidden(rt, name, "unable to create new content in namespace %s because it is being terminated"
                            % ns, [{"reason": "NamespaceTerminating", "message": "namespace %s is being terminated" % ns,
                                    "field": "metadata.namespace"}])

    def create(self, group, resource, obj, *, manager="kube-controller-manager", dry_run=False, user=None,
               api_version=None, skip_admission=False, managed_override=None, handed_over=False):
        """handed_over: the caller gives `obj` away (the server's freshly decoded body) and gets the stored object
        itself back, to encode and not to mutate: two deep copies fewer per create."""
        rt = self._rt(group, resource)
        if not handed_over:
            obj = dcopy(obj)
        obj["apiVersion"] = rt.storage_api_version()
        obj["kind"] = rt.kind
        m = meta(obj)
        if not rt.namespaced:
            m.pop("namespace", None)
        elif not m.get("namespace"):
            m["namespace"] = "default"
        with self.lock:
            generated = False
            if not m.get("name") and m.get("generateName"):
                m["name"] = m["generateName"][:58] + "".join(self._rand.choice(GEN_CHARS) for _ in range(5))
                generated = True
            name = m.get("name", "")
            # server-owned metadata
            m["uid"] = util.new_uid()
            m["creationTimestamp"] = now_ts()
            given_managed = m.pop("managedFields", None)  # decoded by the field manager below, not dropped
            for f in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
                m.pop(f, None)
            if rt.generation:
                m["generation"] = 1
            else:
                m.pop("generation", None)
            if rt.namespaced:  # NamespaceLifecycle admission runs before defaulting and validation
                self._check_namespace(rt, obj, name)
            # request order: defaulting, managedFields, mutating admission + strategy, validation, storage
            if self.hooks and not skip_admission:
                self.hooks.default(self, rt, obj)
            if managed_override is not None:
                m["managedFields"] = managed_override
            else:
                managed.on_update(obj, None, manager, api_version or rt.storage_api_version(), rt,
                                  given_on_create=given_managed)
            if self.hooks and not skip_admission:
                self.hooks.prepare_create(self, rt, obj, user)
                self.hooks.validate(self, rt, obj, None)
            k = obj_key(obj)
            old = self._objs.get(rt.key, {}).get(k)
            if old is not None:
                raise already_exists(rt, name, bool(old["metadata"].get("deletionTimestamp")), generated)
            if self.hooks and not skip_admission:
                self.hooks.allocate(self, rt, obj, None, dry_run)
            if dry_run:
                return obj
            m["resourceVersion"] = self._next_rv()
            self._put(rt.key, k, obj)
            self._emit("ADDED", rt.key, obj, None)
            if self.hooks and not skip_admission:
                self.hooks.after_create(self, rt, obj)
            return obj if handed_over else dcopy(obj)

    def update(self, group, resource, obj, *, manager="kube-controller-manager", subresource=None, dry_run=False,
               user=None, api_version=None, managed_override=None):
        rt = self._rt(group, resource)
        obj = dcopy(obj)
        m = meta(obj)
        ns = m.get("namespace") if rt.namespaced else None
        name = m.get("name", "")
        with self.lock:
            old = self.raw_get(group, resource, ns, name)
            if old is None:
                raise not_found(rt, name)
            om = old["metadata"]
            rv = m.get("resourceVersion")
            if rv and rv != om.get("resourceVersion"):
                raise conflict(rt, name)
            if subresource == "status":
                new = dcopy(old)
                if "status" in obj:
                    new["status"] = obj["status"]
                else:
                    new.pop("status", None)
                if rt.crd is None:  # built-ins keep metadata changes except labels (simplified)
                    for f in ("annotations", "ownerReferences", "finalizers"):
                        if f in m:
                            new["metadata"][f] = m[f]
            elif subresource == "finalize":
                new = dcopy(old)
                new.setdefault("spec", {})["finalizers"] = (obj.get("spec") or {}).get("finalizers") or []
                if not new["spec"]["finalizers"]:
                    new["spec"].pop("finalizers")
            else:
                new = obj
                new["apiVersion"] = rt.storage_api_version()
                new["kind"] = rt.kind
                nm = new["metadata"]
                for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "name",
                          "generation"):
                    if f in om:
                        nm[f] = om[f]
                    else:
                        nm.pop(f, None)
                if rt.namespaced:
                    nm["namespace"] = om.get("namespace")
                else:
                    nm.pop("namespace", None)
                nm.pop("selfLink", None)
                if rt.status:
                    if "status" in old:
                        new["status"] = dcopy(old["status"])
                    else:
                        new.pop("status", None)
                if om.get("deletionTimestamp"):
                    added = [f for f in nm.get("finalizers") or [] if f not in (om.get("finalizers") or [])]
                    if added:
                        raise invalid_rt(rt, name, [FieldError(
                            "FieldValueForbidden", "metadata.finalizers", None,
                            "no new finalizers can be added if the object is being deleted, found new finalizers "
                            "[]string{%s}" % ", ".join(util.go_quote(f) for f in added))])
                if self.hooks:
                    self.hooks.prepare_update(self, rt, new, old, user)
                    self.hooks.validate(self, rt, new, old)
                    self.hooks.allocate(self, rt, new, old, dry_run)
            nm = new["metadata"]
            nm.pop("resourceVersion", None)
            # generation: bumped on any change outside metadata/status
            if rt.generation and subresource is None:
                if _spec_part(new) != _spec_part(old):
                    nm["generation"] = int(om.get("generation") or 1) + 1
            if managed_override is not None:
                nm["managedFields"] = managed_override
            else:
                managed.on_update(new, old, manager, api_version or rt.storage_api_version(), rt, subresource)
            if not nm.get("managedFields"):
                nm.pop("managedFields", None)
            if _same(new, old):
                return dcopy(old)
            if dry_run:
                nm["resourceVersion"] = om.get("resourceVersion")
                return new
            nm["resourceVersion"] = self._next_rv()
            k = obj_key(old)
            if nm.get("deletionTimestamp") and not nm.get("finalizers") and not _ns_blocked(rt, new):
                self._remove(rt.key, k)
                self._emit("DELETED", rt.key, new, old)
                self._after_delete(rt, new)
                return dcopy(new)
            self._put(rt.key, k, new)
            self._emit("MODIFIED", rt.key, new, old)
            return dcopy(new)

    def delete(self, group, resource, namespace, name, *, propagation="Background", missing_ok=True,
               preconditions=None, dry_run=False, user=None):
        """Delete honouring finalizers.  Returns the still-present (updated) object, or None when it is gone.
        A missing object returns None (missing_ok) or raises 404."""
        rt = self._rt(group, resource)
        if not rt.namespaced:
            namespace = None
        if rt.key == ("", "namespaces") and name in PROTECTED_NAMESPACES:  # admission, before storage
            raise forbidden(rt, name, "this namespace may not be deleted")
        with self.lock:
            old = self.raw_get(group, resource, namespace, name)
            if old is None:
                if missing_ok:
                    return None
                raise not_found(rt, name)
            om = old["metadata"]
            if preconditions:
                if preconditions.get("uid") and preconditions["uid"] != om.get("uid"):
                    raise conflict(rt, name, "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                                   % (preconditions["uid"], om.get("uid")))
                if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != om.get(
                        "resourceVersion"):
                    raise conflict(rt, name, "Precondition failed: ResourceVersion in precondition: %s, "
                                   "ResourceVersion in object meta: %s" % (preconditions["resourceVersion"],
                                                                           om.get("resourceVersion")))
            if rt.key == ("", "namespaces"):
                if name in PROTECTED_NAMESPACES:
                    raise forbidden(rt, name, "this namespace may not be deleted")
                new = dcopy(old)
                nm = new["metadata"]
                changed = False
                if not nm.get("deletionTimestamp"):
                    nm["deletionTimestamp"] = now_ts()
                    nm["deletionGracePeriodSeconds"] = 0
                    changed = True
                fins = list(nm.get("finalizers") or [])
                if propagation == "Orphan" and "orphan" not in fins:
                    fins.append("orphan")
                if propagation == "Foreground" and "foregroundDeletion" not in fins:
                    fins.append("foregroundDeletion")
                if fins != (nm.get("finalizers") or []):
                    nm["finalizers"] = fins
                    changed = True
                if (new.get("status") or {}).get("phase") != "Terminating":
                    new.setdefault("status", {})["phase"] = "Terminating"
                    changed = True
                if dry_run or not changed:
                    return new
                if not (new.get("spec") or {}).get("finalizers") and not fins:
                    nm["resourceVersion"] = self._next_rv()
                    self._remove(rt.key, obj_key(old))
                    self._emit("DELETED", rt.key, new, old)
                    self._after_delete(rt, new)
                    return None
                nm["resourceVersion"] = self._next_rv()
                self._put(rt.key, obj_key(old), new)
                self._emit("MODIFIED", rt.key, new, old)
                return dcopy(new)
            fins = list(om.get("finalizers") or [])
            want = list(fins)
            if propagation == "Orphan" and "orphan" not in want:
                want = [f for f in want if f != "foregroundDeletion"] + ["orphan"]
            elif propagation == "Foreground" and "foregroundDeletion" not in want:
                want = [f for f in want if f != "orphan"] + ["foregroundDeletion"]
            if want:
                new = dcopy(old)
                nm = new["metadata"]
                if not nm.get("deletionTimestamp"):
                    nm["deletionTimestamp"] = now_ts()
                    nm["deletionGracePeriodSeconds"] = 0
                    if rt.generation and nm.get("generation"):
                        nm["generation"] = int(nm["generation"]) + 1
                nm["finalizers"] = want
                if _same(new, old):
                    return dcopy(old)
                if dry_run:
                    return new
                nm["resourceVersion"] = self._next_rv()
                self._put(rt.key, obj_key(old), new)
                self._emit("MODIFIED", rt.key, new, old)
                return dcopy(new)
            if dry_run:
                return None
            new = dcopy(old)
            new["metadata"]["resourceVersion"] = self._next_rv()
            self._remove(rt.key, obj_key(old))
            self._emit("DELETED", rt.key, new, old)
            self._after_delete(rt, new)
            return None

    def _after_delete(self, rt, obj):
        if self.hooks:
            self.hooks.after_delete(self, rt, obj)

    def drop_type(self, group, resource):
        """Remove every object of a type (CRD deletion), emitting DELETED events."""
        with self.lock:
            items, _ = self.raw_items(group, resource)
            for k, o in items:
                new = dcopy(o)
                new["metadata"]["resourceVersion"] = self._next_rv()
                self._remove((group, resource), k)
                self._emit("DELETED", (group, resource), new, o)

    def current_rv(self):
        return self.rv

    # --- helpers for controllers (kubelet/scheduler-like writes that bypass user-facing admission) ---------------
    def bind_pod(self, namespace, name, node):
        """Set spec.nodeName of an unbound pod (what POST pods/binding does).  Returns the new pod or None."""
        with self.lock:
            old = self.raw_get("", "pods", namespace, name)
            if old is None or (old.get("spec") or {}).get("nodeName") or old["metadata"].get("deletionTimestamp"):
                return None
            new = dcopy(old)
            new.setdefault("spec", {})["nodeName"] = node
            new["metadata"]["resourceVersion"] = self._next_rv()
            self._put(("", "pods"), obj_key(old), new)
            self._emit("MODIFIED", ("", "pods"), new, old)
            return dcopy(new)

    def begin_graceful_delete(self, namespace, name, grace):
        """DELETE of a pod bound to a node with gracePeriodSeconds > 0: deletionTimestamp = now + grace and
        deletionGracePeriodSeconds = grace (a shorter grace shortens a termination already under way); the
        kubelet removes it once stopped. Returns the pod, or None when it is not there."""
        with self.lock:
            old = self.raw_get("", "pods", namespace, name)
            if old is None:
                return None
            om = old["metadata"]
            if om.get("deletionTimestamp") and (om.get("deletionGracePeriodSeconds") or 0) <= grace:
                return dcopy(old)
            new = dcopy(old)
            nm = new["metadata"]
            nm["deletionTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + grace))
            nm["deletionGracePeriodSeconds"] = grace
            nm["resourceVersion"] = self._next_rv()
            self._put(("", "pods"), obj_key(old), new)
            self._emit("MODIFIED", ("", "pods"), new, old)
            return dcopy(new)

    def delete_now(self, group, resource, namespace, name):
        """Finish a deletion the way a kubelet's grace-period-0 delete does: remove the object unless finalizers
        remain.  Returns None when gone, else the object."""
        return self.delete(group, resource, namespace, name, propagation=None)


META_ORDER = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
              "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
              "ownerReferences", "finalizers", "managedFields")


class _ServiceHolds:
    """Counts of the cluster IPs and node ports stored Services hold (a key's holdings are replaced on each write)."""

    def __init__(self):
        self.by_key, self.ips, self.ports = {}, collections.Counter(), collections.Counter()

    @staticmethod
    def of(obj):
        s = (obj or {}).get("spec") or {}
        ip = s.get("clusterIP")
        ports = [p["nodePort"] for p in s.get("ports") or [] if isinstance(p, dict) and p.get("nodePort")]
        return (ip if ip and ip != "None" else None), ports

    def hold(self, k, obj):
        ip, ports = self.by_key.pop(k, (None, []))
        if ip:
            self.ips[ip] -= 1
        for p in ports:
            self.ports[p] -= 1
        if obj is None:
            return
        ip, ports = self.of(obj)
        self.by_key[k] = (ip, ports)
        if ip:
            self.ips[ip] += 1
        for p in ports:
            self.ports[p] += 1

    def used(self, old):
        ip, ports = self.of(old) if old is not None else (None, [])
        return _Held(self.ips, [ip] if ip else []), _Held(self.ports, ports)


class _Held:
    """`x in held`: x is held by some stored Service other than the one left out."""

    def __init__(self, counts, left_out):
        self.counts, self.left_out = counts, left_out

    def __contains__(self, x):
        return self.counts.get(x, 0) - self.left_out.count(x) > 0


def _canonical(obj):
    """Reorder in place like Go's struct encoding: kind, apiVersion, metadata (its fields in ObjectMeta order),
    the rest, status last."""
    items = list(obj.items())
    obj.clear()
    d = dict(items)
    for k in ("kind", "apiVersion", "metadata"):
        if k in d:
            obj[k] = d[k]
    for k, v in items:
        if k not in obj and k != "status":
            obj[k] = v
    if "status" in d:
        obj["status"] = d["status"]
    m = obj.get("metadata")
    if isinstance(m, dict):
        mi = list(m.items())
        m.clear()
        md = dict(mi)
        for k in META_ORDER:
            if k in md:
                if k in ("labels", "annotations", "finalizers", "ownerReferences", "managedFields") and not md[k]:
                    continue  # omitempty
                m[k] = md[k]
        for k, v in mi:
            if k not in m and k not in META_ORDER:
                m[k] = v


def _spec_part(o):
    return {k: v for k, v in o.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _mf(m):
    return [{k: v for k, v in e.items() if k != "time"} for e in m.get("managedFields") or [] if isinstance(e, dict)]


def _same(a, b):
    ma = {k: v for k, v in a["metadata"].items() if k not in ("resourceVersion", "managedFields")}
    mb = {k: v for k, v in b["metadata"].items() if k not in ("resourceVersion", "managedFields")}
    if ma != mb or _mf(a["metadata"]) != _mf(b["metadata"]):
        return False
    return {k: v for k, v in a.items() if k != "metadata"} == {k: v for k, v in b.items() if k != "metadata"}


def _ns_blocked(rt, obj):
    return rt.key == ("", "namespaces") and bool((obj.get("spec") or {}).get("finalizers"))
