"""Authentication: client certificates (CN = user, O = groups), bearer tokens (kube-apiserver's token CSV format,
plus tokens kubesim issues for ServiceAccounts), anonymous, and impersonation headers."""
import csv
import secrets
import urllib.parse

from .store import ApiError

UNAUTHORIZED = ApiError(401, "Unauthorized", "Unauthorized")


class User:
    __slots__ = ("name", "groups", "uid", "extra")

    def __init__(self, name, groups=(), uid="", extra=None):
        self.name, self.groups, self.uid, self.extra = name, list(groups), uid, extra or {}

    def is_master(self):
        return "system:masters" in self.groups

    def __repr__(self):
        return "User(%r, %r)" % (self.name, self.groups)


def _with_authenticated(name, groups):
    g = list(groups)
    if name == "system:anonymous":
        return g
    if "system:authenticated" not in g:
        g.append("system:authenticated")
    return g


def sa_groups(ns):
    return ["system:serviceaccounts", "system:serviceaccounts:" + ns]


class Authenticator:
    def __init__(self, token_file=None, extra_tokens=None, anonymous=True):
        self.tokens = {}
        self.anonymous = anonymous
        if token_file:
            self.load_token_file(token_file)
        for t, u in (extra_tokens or {}).items():
            self.tokens[t] = u

    def load_token_file(self, path):
        with open(path, newline="") as f:
            for row in csv.reader(f):
                if not row or row[0].startswith("#") or len(row) < 3:
                    continue
                groups = [g.strip() for g in row[3].split(",")] if len(row) > 3 and row[3] else []
                self.tokens[row[0].strip()] = User(row[1].strip(), _with_authenticated(row[1].strip(), groups),
                                                   row[2].strip())

    def watch_secret_tokens(self, store):
        """Accept the tokens of `kubernetes.io/service-account-token` Secrets (as the legacy token authenticator
        does): an index kept current by a store subscription."""
        import base64
        self._secret_tokens = {}

        def index(etype, group, resource, obj):
            if (group, resource) != ("", "secrets") or obj.get("type") != "kubernetes.io/service-account-token":
                return
            key = (obj["metadata"].get("namespace"), obj["metadata"]["name"])
            for t, k in list(self._secret_tokens.items()):
                if k[:2] == key:
                    del self._secret_tokens[t]
            if etype == "DELETED":
                return
            try:
                tok = base64.b64decode((obj.get("data") or {}).get("token", "")).decode()
            except Exception:
                return
            sa = ((obj["metadata"].get("annotations") or {}).get("kubernetes.io/service-account.name"))
            if tok and sa:
                self._secret_tokens[tok] = key + (sa,)
        for o in store.list("", "secrets"):
            index("ADDED", "", "secrets", o)
        store.subscribe(index)
        self._store = store

    def _secret_user(self, token):
        idx = getattr(self, "_secret_tokens", None)
        if not idx or token not in idx:
            return None
        ns, secret, sa = idx[token]
        sao = self._store.raw_get("", "serviceaccounts", ns, sa)
        if sao is None:  # tokens of deleted ServiceAccounts are invalid
            return None
        return User("system:serviceaccount:%s:%s" % (ns, sa), _with_authenticated("x", sa_groups(ns)),
                    sao["metadata"].get("uid", ""))

    def issue_sa_token(self, ns, name, uid):
        tok = "kubesim-sa." + secrets.token_urlsafe(24)
        self.tokens[tok] = User("system:serviceaccount:%s:%s" % (ns, name),
                                _with_authenticated("x", sa_groups(ns)), uid)
        return tok

    def authenticate(self, handler):
        h = handler.headers.get("Authorization")
        if h:
            parts = h.split(" ", 1)
            if len(parts) == 2 and parts[0].lower() == "bearer":
                u = self.tokens.get(parts[1].strip()) or self._secret_user(parts[1].strip())
                if u is not None:
                    return u
            raise UNAUTHORIZED
        subject = getattr(handler, "_cert_subject", None)
        if subject is None:  # once a connection: its certificate cannot change on it
            cert = None
            try:
                cert = handler.connection.getpeercert()
            except Exception:
                cert = None
            cn, orgs = None, []
            for rdn in (cert or {}).get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
                    elif k == "organizationName":
                        orgs.append(v)
            subject = (cn, tuple(orgs))
            try:
                handler._cert_subject = subject
            except AttributeError:
                pass
        cn, orgs = subject
        if cn:
            return User(cn, _with_authenticated(cn, orgs))
        if not self.anonymous:
            raise UNAUTHORIZED
        return User("system:anonymous", ["system:unauthenticated"])

    def impersonate(self, handler, user, authorizer, uri):
        """Apply Impersonate-* headers (after checking the `impersonate` verb).  Returns the effective user."""
        hdr = handler.headers
        if not any(k[:12].lower() == "impersonate-" for k in hdr.keys()):
            return user  # no Impersonate-* header (every request but a few)
        iu = hdr.get("Impersonate-User")
        igroups = hdr.get_all("Impersonate-Group") or []
        iuid = hdr.get("Impersonate-Uid")
        extra = {}
        for k in hdr.keys():
            if k.lower().startswith("impersonate-extra-"):
                key = urllib.parse.unquote(k[len("impersonate-extra-"):].lower())
                extra[key] = hdr.get_all(k)
        if iu is None:
            if igroups or iuid or extra:
                # Go's %v of the []ObjectReference the impersonation filter collected
                av = "authentication.k8s.io/v1"
                refs = ["{Group  %s  %s  }" % (g, av) for g in igroups]
                for k, vs in extra.items():
                    refs += ["{UserExtra  %s  %s  %s}" % (v, av, k) for v in vs]
                if iuid:
                    refs.append("{UID  %s  %s  }" % (iuid, av))
                raise ApiError(500, "", "", plain='Internal Server Error: "%s": requested [%s] without impersonating '
                                                  'a user\n' % (uri, " ".join(refs)))
            return user

        def check(resource, name, ns="", sub=""):
            attrs = {"verb": "impersonate", "group": "authentication.k8s.io" if resource in ("userextras", "uids")
                     else "", "resource": resource, "subresource": sub, "namespace": ns, "name": name}
            ok, _ = authorizer.authorize(user, attrs)
            if not ok:
                where = ('in the namespace "%s"' % ns) if ns else "at the cluster scope"
                grp = attrs["group"]
                res = resource + ("/" + sub if sub else "")
                raise ApiError(403, "Forbidden", '%s "%s" is forbidden: User "%s" cannot impersonate resource "%s" '
                                                 'in API group "%s" %s' % (resource, name, user.name, res, grp, where),
                               {"name": name, "kind": resource} if not grp else
                               {"name": name, "group": grp, "kind": resource})

        if iu.startswith("system:serviceaccount:"):
            parts = iu.split(":")
            if len(parts) == 4:
                check("serviceaccounts", parts[3], parts[2])
            groups = sa_groups(parts[2]) if len(parts) == 4 else []
        else:
            check("users", iu)
            groups = []
        for g in igroups:
            check("groups", g)
        for k, vs in extra.items():
            for v in vs:
                check("userextras", v, sub=k)
        if iuid:
            check("uids", iuid)
        if igroups:
            groups = list(igroups) + [g for g in groups if g not in igroups]
        if iu == "system:anonymous":
            if "system:unauthenticated" not in groups:
                groups.append("system:unauthenticated")
        elif "system:authenticated" not in groups:
            groups.append("system:authenticated")
        return User(iu, groups, iuid or "", extra)
