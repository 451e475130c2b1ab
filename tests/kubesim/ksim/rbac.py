"""RBAC authorizer over the stored Role/ClusterRole/RoleBinding/ClusterRoleBinding objects, access reviews,
aggregated ClusterRoles (kept up to date by a store subscriber, as the clusterrole-aggregation controller does) and
the escalation checks on RBAC writes."""
import html
import threading

from .store import ApiError
from .util import dcopy

G = "rbac.authorization.k8s.io"


def _has(lst, v):
    return lst is not None and ("*" in lst or v in lst)


def rule_allows(rule, a):
    verbs = rule.get("verbs") or []
    if not _has(verbs, a["verb"]):
        return False
    if a.get("path") is not None:
        for u in rule.get("nonResourceURLs") or []:
            if u == "*" or u == a["path"] or (u.endswith("*") and a["path"].startswith(u[:-1])):
                return True
        return False
    if rule.get("nonResourceURLs") and not rule.get("resources"):
        return False
    if not _has(rule.get("apiGroups") or [], a.get("group", "")):
        return False
    res = a.get("resource", "")
    sub = a.get("subresource") or ""
    combined = res + ("/" + sub if sub else "")
    ok = False
    for r in rule.get("resources") or []:
        if r == "*" or r == combined or (sub and r == "*/" + sub) or (r.endswith("/*") and sub and
                                                                      r[:-2] == res):
            ok = True
            break
    if not ok:
        return False
    names = rule.get("resourceNames") or []
    if names:
        return bool(a.get("name")) and a["name"] in names
    return True


def subject_matches(s, user):
    k = s.get("kind")
    if k == "User":
        return s.get("name") == user.name
    if k == "Group":
        return s.get("name") in user.groups
    if k == "ServiceAccount":
        return user.name == "system:serviceaccount:%s:%s" % (s.get("namespace", ""), s.get("name"))
    return False


def _subject_str(s):
    if s.get("kind") == "ServiceAccount":
        return 'ServiceAccount "%s/%s"' % (s.get("name"), s.get("namespace"))
    return '%s "%s"' % (s.get("kind"), s.get("name"))


class Authorizer:
    def __init__(self, store):
        self.store = store

    def _role_rules(self, kind, ns, name):
        if kind == "ClusterRole":
            r = self.store.raw_get(G, "clusterroles", None, name)
        else:
            r = self.store.raw_get(G, "roles", ns, name)
        if r is None:
            return None
        return r.get("rules") or []

    def _bindings(self, user, namespace):
        """Yield (binding description, rules) for bindings applying to user (cluster-wide then namespace)."""
        items, _ = self.store.raw_items(G, "clusterrolebindings")
        for _, b in items:
            for s in b.get("subjects") or []:
                if subject_matches(s, user):
                    rr = b.get("roleRef") or {}
                    rules = self._role_rules("ClusterRole", None, rr.get("name"))
                    yield ('ClusterRoleBinding "%s" of ClusterRole "%s" to %s' % (b["metadata"]["name"],
                                                                                   rr.get("name"), _subject_str(s)),
                           rules, rr)
                    break
        if namespace:
            items, _ = self.store.raw_items(G, "rolebindings", namespace)
            for _, b in items:
                for s in b.get("subjects") or []:
                    if subject_matches(s, user):
                        rr = b.get("roleRef") or {}
                        rules = self._role_rules(rr.get("kind"), namespace, rr.get("name"))
                        yield ('RoleBinding "%s/%s" of %s "%s" to %s' % (b["metadata"]["name"], namespace,
                                                                          rr.get("kind"), rr.get("name"),
                                                                          _subject_str(s)), rules, rr)
                        break

    def authorize(self, user, a):
        """a: {verb, group, resource, subresource, namespace, name} or {verb, path}.  Returns (allowed, reason)."""
        if user.is_master():
            return True, ""
        errs = []
        for desc, rules, rr in self._bindings(user, a.get("namespace") or ""):
            if rules is None:
                errs.append('%s.rbac.authorization.k8s.io "%s" not found' % (rr.get("kind", "").lower(),
                                                                             rr.get("name")))
                continue
            for rule in rules:
                if rule_allows(rule, a):
                    return True, "RBAC: allowed by " + desc
        return False, ("RBAC: " + ", ".join(errs)) if errs else ""

    def rules_for(self, user, namespace):
        res, nonres = [], []
        if user.is_master():
            return [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}], [{"verbs": ["*"],
                                                                                   "nonResourceURLs": ["*"]}]
        for _, rules, _ in self._bindings(user, namespace):
            for r in rules or []:
                if r.get("nonResourceURLs"):
                    nonres.append({"verbs": r.get("verbs"), "nonResourceURLs": r.get("nonResourceURLs")})
                else:
                    e = {"verbs": r.get("verbs")}
                    for f in ("apiGroups", "resources", "resourceNames"):
                        if r.get(f):
                            e[f] = r[f]
                    res.append(e)
        return res, nonres


def forbidden_message(user, a):
    if a.get("path") is not None:
        return 'forbidden: User "%s" cannot %s path "%s"' % (user.name, a["verb"], a["path"])
    res = a["resource"] + ("/" + a["subresource"] if a.get("subresource") else "")
    where = ('in the namespace "%s"' % a["namespace"]) if a.get("namespace") else "at the cluster scope"
    return 'User "%s" cannot %s resource "%s" in API group "%s" %s' % (user.name, a["verb"], res, a.get("group", ""),
                                                                      where)


def forbidden_error(user, a, reason=""):
    if a.get("path") is not None:
        msg = html.escape(forbidden_message(user, a), quote=False)
        if reason:
            msg += ": " + reason
        return ApiError(403, "Forbidden", msg, {})
    qual = a["resource"] + ("." + a["group"] if a.get("group") else "")
    prefix = ('%s "%s"' % (qual, a["name"])) if a.get("name") else qual
    msg = "%s is forbidden: %s" % (prefix, html.escape(forbidden_message(user, a), quote=False))
    if reason:
        msg += ": " + reason
    d = {}
    if a.get("name"):
        d["name"] = a["name"]
    if a.get("group"):
        d["group"] = a["group"]
    d["kind"] = a["resource"]
    return ApiError(403, "Forbidden", msg, d)


# ---- escalation checks -------------------------------------------------------------------------------------------
def _compact(rule):
    parts = []
    for f, name in (("apiGroups", "APIGroups"), ("resources", "Resources"), ("resourceNames", "ResourceNames"),
                     ("nonResourceURLs", "NonResourceURLs"), ("verbs", "Verbs")):
        v = rule.get(f)
        if v:
            parts.append("%s:[%s]" % (name, ", ".join('"%s"' % x for x in v)))
    return "{" + ", ".join(parts) + "}"


def _covered(authz, user, rule, namespace):
    for verb in rule.get("verbs") or []:
        if rule.get("nonResourceURLs"):
            for u in rule["nonResourceURLs"]:
                if not authz.authorize(user, {"verb": verb, "path": u})[0]:
                    return False
            continue
        for g in rule.get("apiGroups") or [""]:
            for r in rule.get("resources") or []:
                res, _, sub = r.partition("/")
                names = rule.get("resourceNames") or [""]
                for n in names:
                    if not authz.authorize(user, {"verb": verb, "group": g, "resource": res, "subresource": sub,
                                                  "namespace": namespace, "name": n})[0]:
                        return False
    return True


def check_escalation(authz, user, rt, obj, namespace):
    """Raise 403 when a Role/ClusterRole/binding write would grant permissions the user does not hold."""
    if user is None or user.is_master():
        return
    kind = rt.kind
    name = (obj.get("metadata") or {}).get("name", "")
    if kind in ("Role", "ClusterRole"):
        if authz.authorize(user, {"verb": "escalate", "group": G, "resource": rt.resource, "namespace": namespace,
                                  "name": name})[0]:
            return
        rules = obj.get("rules") or []
    elif kind in ("RoleBinding", "ClusterRoleBinding"):
        rr = obj.get("roleRef") or {}
        res = "clusterroles" if rr.get("kind") == "ClusterRole" else "roles"
        if authz.authorize(user, {"verb": "bind", "group": G, "resource": res,
                                  "namespace": namespace if res == "roles" else namespace,
                                  "name": rr.get("name", "")})[0]:
            return
        rules = authz._role_rules(rr.get("kind"), namespace, rr.get("name"))
        if rules is None:
            raise ApiError(404, "NotFound", '%s.rbac.authorization.k8s.io "%s" not found' % (
                res, rr.get("name")), {"name": rr.get("name"), "group": G, "kind": res})
    else:
        return
    missing = [r for r in rules if not _covered(authz, user, r, namespace)]
    if missing:
        groups = "[" + " ".join('"%s"' % g for g in user.groups) + "]"
        msg = ('%s.%s "%s" is forbidden: user "%s" (groups=%s) is attempting to grant RBAC permissions not currently '
               'held:\n%s' % (rt.resource, G, name, user.name, groups, "\n".join(_compact(r) for r in missing)))
        raise ApiError(403, "Forbidden", msg, {"name": name, "group": G, "kind": rt.resource})


# ---- aggregation -------------------------------------------------------------------------------------------------
class Aggregator:
    """Fills the rules of ClusterRoles with an aggregationRule from the ClusterRoles their selectors match."""

    def __init__(self, store):
        self.store = store
        self._busy = threading.Lock()

    def on_event(self, etype, group, resource, obj):
        if group == G and resource == "clusterroles":
            self.sync()

    def sync(self):
        from .validation import selector_matches
        if not self._busy.acquire(blocking=False):
            return
        try:
            for _ in range(5):
                changed = False
                with self.store.lock:
                    roles = [o for _, o in self.store.raw_items(G, "clusterroles")[0]]
                    for cr in roles:
                        ar = cr.get("aggregationRule")
                        if not ar:
                            continue
                        rules = []
                        for other in sorted(roles, key=lambda o: o["metadata"]["name"]):
                            if other is cr:
                                continue
                            labels = other["metadata"].get("labels") or {}
                            if any(selector_matches(sel, labels) for sel in ar.get("clusterRoleSelectors") or []):
                                for r in other.get("rules") or []:
                                    if r not in rules:
                                        rules.append(dcopy(r))
                        if (cr.get("rules") or []) != rules:
                            new = dcopy(cr)
                            new["rules"] = rules
                            try:
                                self.store.update(G, "clusterroles", new, manager="clusterrole-aggregation-controller")
                                changed = True
                            except ApiError:
                                pass
                if not changed:
                    break
        finally:
            self._busy.release()
