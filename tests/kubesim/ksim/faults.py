"""Fault injection.

Grammar (also in the README):
    SPEC    := RULE (';' RULE)*
    RULE    := ITEM (',' ITEM)*          ITEM := key['=' value]
One action per rule:
    status=CODE         answer CODE (429 and 503 carry Retry-After; 429 is the plain-text priority-and-fairness
                        rejection, 500/503/other codes a Status)          retry-after=SECONDS (default 1)
    drop                send the headers and half of the body, then close the connection (watches: the initial
                        events, then the connection closes without the terminating chunk)
    reset               reset the connection (TCP RST) without answering; the request is not served
                        (reset=after: served, so a write takes effect, and the answer is replaced by the reset)
    exec-cut=BYTES      pods/exec: the stream is cut (connection shut, command killed) once BYTES bytes of stdin
                        plus output went through; matches exec requests only
    kill=PIDFILE        SIGKILL the process whose pid is in PIDFILE (read when the rule fires), then serve the
                        request normally: a client killed at its Nth request (with after=N-1,times=1)
    latency=MS          sleep MS milliseconds, then serve normally
    expire-continue     requests carrying `continue` get 410 Expired  (expire-continue=inconsistent: the variant
                        with a fresh continue token)
    broken-group=GROUP  discovery lists GROUP (version v1beta1) but it fails: legacy /apis/GROUP/v1beta1 answers
                        503 and aggregated discovery marks it Stale
    deny=RESOURCE       writes (create/update/patch) of RESOURCE (plural, `plural.group` for other groups) are denied
                        as a validating admission webhook does (message=TEXT optional, code=CODE default 400)
Filters (all optional, `|` separates alternatives):  verb=list|get|create|update|patch|delete|watch|deletecollection
    resource=PLURAL  group=GROUP  namespace=NS  path=PREFIX
Triggers: p=PROBABILITY (default 1)  every=N (every Nth matching request)  after=N (skip the first N)  times=N (fire at
    most N times).  A rule `seed=N` seeds the random generator (default 0), so probabilistic runs are repeatable.
`/version`, `/healthz`, `/readyz`, `/livez` and `/kubesim/...` are never faulted.
"""
import random
import threading

from .store import ApiError

ACTIONS = ("status", "drop", "latency", "expire-continue", "broken-group", "deny", "reset", "exec-cut", "kill")


class Rule:
    def __init__(self, text):
        self.text = text.strip()
        self.opts = {}
        for item in self.text.split(","):
            item = item.strip()
            if not item:
                continue
            k, _, v = item.partition("=")
            self.opts[k.strip()] = v.strip()
        acts = [a for a in ACTIONS if a in self.opts]
        if len(acts) != 1:
            raise ValueError("fault rule %r: exactly one of %s required" % (text, ", ".join(ACTIONS)))
        self.action = acts[0]
        for k in self.opts:
            if k not in ACTIONS and k not in ("retry-after", "verb", "resource", "group", "namespace", "path", "p",
                                              "every", "after", "times", "message", "code"):
                raise ValueError("fault rule %r: unknown key %r" % (text, k))
        self.p = float(self.opts.get("p", "1"))
        self.every = int(self.opts.get("every", "0") or 0)
        self.after = int(self.opts.get("after", "0") or 0)
        self.times = int(self.opts["times"]) if "times" in self.opts else None
        self.matches = 0
        self.fired = 0
        if self.action == "status":
            int(self.opts["status"])
        if self.action == "latency":
            float(self.opts["latency"])
        if self.action == "exec-cut":
            int(self.opts["exec-cut"])
        if self.action == "reset" and self.opts["reset"] not in ("", "before", "after"):
            raise ValueError("fault rule %r: reset takes no value, `before` or `after`" % text)
        if self.action == "kill" and not self.opts["kill"]:
            raise ValueError("fault rule %r: kill needs the path of a pid file" % text)

    def _alt(self, key, value):
        want = self.opts.get(key)
        if want is None or want == "":
            return True
        return value in want.split("|")

    def applies(self, req):
        if self.action == "broken-group":
            return False
        if self.action == "deny":
            if req.get("verb") not in (self.opts.get("verb") or "create|update|patch").split("|"):
                return False
            res = req.get("resource", "") + ("." + req["group"] if req.get("group") else "")
            if res not in self.opts["deny"].split("|") and req.get("resource") not in self.opts["deny"].split("|"):
                return False
        if self.action == "expire-continue" and not req.get("continue"):
            return False
        if self.action == "exec-cut" and req.get("subresource") != "exec":
            return False
        if not self._alt("verb", req.get("verb")) or not self._alt("resource", req.get("resource")) \
                or not self._alt("group", req.get("group")) or not self._alt("namespace", req.get("namespace")):
            return False
        if "path" in self.opts and not req.get("path", "").startswith(self.opts["path"]):
            return False
        return True

    def to_json(self):
        return {"rule": self.text, "matches": self.matches, "fired": self.fired}


class Faults:
    def __init__(self, spec=""):
        self.lock = threading.Lock()
        self.rules = []
        self.rand = random.Random(0)
        self.set(spec or "")

    def set(self, spec, append=False):
        rules, seed = [], None
        for part in (spec or "").split(";"):
            part = part.strip()
            if not part:
                continue
            if part.startswith("seed="):
                seed = int(part[5:])
                continue
            rules.append(Rule(part))
        with self.lock:
            self.rules = (self.rules if append else []) + rules
            if seed is not None:
                self.rand = random.Random(seed)

    def broken_groups(self):
        return {r.opts["broken-group"] for r in self.rules if r.action == "broken-group"}

    def pick(self, req):
        """The rules firing for this request (at most one of each action kind)."""
        out = []
        with self.lock:
            seen = set()
            for r in self.rules:
                if r.action in seen or not r.applies(req):
                    continue
                r.matches += 1
                if r.matches <= r.after:
                    continue
                if r.times is not None and r.fired >= r.times:
                    continue
                if r.every and (r.matches - r.after) % r.every != 0:
                    continue
                if r.p < 1 and self.rand.random() >= r.p:
                    continue
                r.fired += 1
                seen.add(r.action)
                out.append(r)
        return out

    def error_for(self, r):
        code = int(r.opts["status"])
        ra = int(r.opts.get("retry-after", "1") or 1)
        if code == 429:
            return ApiError(429, "", "", headers={"Retry-After": str(ra)},
                            plain="Too many requests, please try again later.\n")
        if code == 503:
            e = ApiError(503, "ServiceUnavailable", r.opts.get("message") or
                         "the server is currently unable to handle the request", {"retryAfterSeconds": ra},
                         headers={"Retry-After": str(ra)})
            return e
        if code == 500:
            return ApiError(500, "InternalError", "Internal error occurred: " + (r.opts.get("message") or
                                                                                 "kubesim injected fault"),
                            {"causes": [{"message": r.opts.get("message") or "kubesim injected fault"}]})
        if code == 504:
            return ApiError(504, "Timeout", r.opts.get("message") or "Timeout: request did not complete within the "
                                                                     "allotted timeout", {})
        return ApiError(code, "", r.opts.get("message") or "kubesim injected fault", {})

    def deny_error(self, r, req):
        msg = r.opts.get("message") or "denied by kubesim fault rule"
        code = int(r.opts.get("code", "400") or 400)
        return ApiError(code, "Forbidden" if code == 403 else "BadRequest" if code == 400 else "",
                        'admission webhook "deny.kubesim.io" denied the request: %s' % msg)

    @staticmethod
    def kill(r):
        """SIGKILL the pid named in the rule's pid file (gone or unreadable: nothing to do)."""
        import os
        import signal
        try:
            with open(r.opts["kill"]) as f:
                os.kill(int(f.read().split()[0]), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass

    def describe(self):
        with self.lock:
            return [r.to_json() for r in self.rules]
