"""Label and field selectors with the API server's parse errors."""
from .store import ApiError
from . import validation


def _bad(msg):
    return ApiError(400, "BadRequest", msg)


# ---- label selectors -----------------------------------------------------------------------------------------
_SPECIAL = set("=!(),<> \t")


def _tokens(s):
    toks = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c in " \t":
            i += 1
            continue
        if s.startswith("==", i) or s.startswith("!=", i):
            toks.append(("OP", s[i:i + 2]))
            i += 2
            continue
        if c in "=<>":
            toks.append(("OP", c))
            i += 1
            continue
        if c == "!":
            toks.append(("NOT", c))
            i += 1
            continue
        if c in "(),":
            toks.append((c, c))
            i += 1
            continue
        j = i
        while j < n and s[j] not in _SPECIAL:
            j += 1
        w = s[i:j]
        toks.append(("IN", w) if w == "in" else ("NOTIN", w) if w == "notin" else ("ID", w))
        i = j
    return toks


def _check_key(k):
    errs = []
    validation.check_qualified_name(k, "key", errs)
    if errs:
        raise _bad("unable to parse requirement: " + errs[0].text())


def _check_val(v, i, k):
    if len(v) > 63 or not validation.LVALUE.match(v):
        detail = "must be no more than 63 characters" if len(v) > 63 else validation.MSG_LVALUE
        raise _bad('unable to parse requirement: values[%d][%s]: Invalid value: "%s": %s' % (i, k, v, detail))


def parse_labels(s):
    """[(key, op, [values])] with op in =, !=, in, notin, exists, !exists, gt, lt."""
    reqs = []
    if not s or not s.strip():
        return reqs
    toks = _tokens(s)
    i = 0

    def peek():
        return toks[i] if i < len(toks) else ("END", "end of string")

    while True:
        t = peek()
        if t[0] == "NOT":
            i += 1
            t = peek()
            if t[0] != "ID":
                raise _bad("found '%s', expected: identifier after '!'" % t[1])
            _check_key(t[1])
            reqs.append((t[1], "!exists", []))
            i += 1
        elif t[0] in ("ID", "IN", "NOTIN"):
            key = t[1]
            _check_key(key)
            i += 1
            t = peek()
            if t[0] in ("END", ","):
                reqs.append((key, "exists", []))
            elif t[0] == "OP":
                op = t[1]
                i += 1
                v = peek()
                if v[0] in ("ID", "IN", "NOTIN"):
                    val = v[1]
                    i += 1
                elif v[0] in ("END", ","):
                    val = ""
                else:
                    raise _bad("found '%s', expected: identifier" % v[1])
                if op in ("<", ">"):
                    try:
                        int(val)
                    except ValueError:
                        raise _bad("unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an "
                                   "integer")
                    reqs.append((key, "gt" if op == ">" else "lt", [val]))
                else:
                    _check_val(val, 0, key)
                    reqs.append((key, "!=" if op == "!=" else "=", [val]))
            elif t[0] in ("IN", "NOTIN"):
                op = "in" if t[0] == "IN" else "notin"
                i += 1
                if peek()[0] != "(":
                    raise _bad("found '%s', expected: '('" % peek()[1])
                i += 1
                vals = []
                while True:
                    v = peek()
                    if v[0] == ")":
                        i += 1
                        break
                    if v[0] in ("ID", "IN", "NOTIN"):
                        _check_val(v[1], len(vals), key)
                        vals.append(v[1])
                        i += 1
                        if peek()[0] == ",":
                            i += 1
                            continue
                        if peek()[0] == ")":
                            continue
                        raise _bad("found '%s', expected: ',' or ')'" % peek()[1])
                    if v[0] == ",":
                        vals.append("")
                        i += 1
                        continue
                    raise _bad("found '%s', expected: ',', ')' or identifier" % v[1])
                reqs.append((key, op, vals))
            else:
                raise _bad("found '%s', expected: in, notin, =, ==, !=, gt, lt" % t[1])
        else:
            raise _bad("found '%s', expected: !, identifier, or 'end of string'" % t[1])
        t = peek()
        if t[0] == "END":
            break
        if t[0] != ",":
            raise _bad("found '%s', expected: ',' or 'end of string'" % t[1])
        i += 1
    return reqs


def match_labels(reqs, labels):
    labels = labels or {}
    for k, op, vals in reqs:
        has = k in labels
        v = labels.get(k)
        if op == "=":
            if not has or v != vals[0]:
                return False
        elif op == "!=":
            if has and v == vals[0]:
                return False
        elif op == "in":
            if not has or v not in vals:
                return False
        elif op == "notin":
            if has and v in vals:
                return False
        elif op == "exists":
            if not has:
                return False
        elif op == "!exists":
            if has:
                return False
        elif op in ("gt", "lt"):
            try:
                iv = int(v)
            except (TypeError, ValueError):
                return False
            if (op == "gt" and not iv > int(vals[0])) or (op == "lt" and not iv < int(vals[0])):
                return False
    return True


# ---- field selectors -----------------------------------------------------------------------------------------
POD_FIELDS = {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
              "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName"}
EXTRA_FIELDS = {
    ("", "pods"): POD_FIELDS,
    ("", "secrets"): {"type"},
    ("", "namespaces"): {"status.phase"},
    ("", "nodes"): {"spec.unschedulable"},
    ("", "events"): {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                     "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                     "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"},
    ("", "replicationcontrollers"): {"status.replicas"},
    ("", "services"): {"spec.clusterIP", "spec.type"},
    ("batch", "jobs"): {"status.successful"},
    ("certificates.k8s.io", "certificatesigningrequests"): {"spec.signerName"},
}
CUSTOM_CONVERSION = {("", "pods"), ("", "nodes"), ("", "namespaces"), ("", "secrets"), ("", "services"),
                     ("", "events"), ("", "replicationcontrollers")}


def _split_unescaped(s, sep):
    parts, cur, i = [], "", 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            cur += c + s[i + 1]
            i += 2
            continue
        if c == sep:
            parts.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    parts.append(cur)
    return parts


def _unescape(s):
    out, i = "", 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out += s[i + 1]
            i += 2
        else:
            out += s[i]
            i += 1
    return out


def parse_fields(s, rt):
    """[(field, op, value)] with op '=' or '!='.  Validates field names for the type."""
    reqs = []
    if not s:
        return reqs
    for term in _split_unescaped(s, ","):
        if not term:
            continue
        op = None
        for cand in ("!=", "==", "="):
            idx = _find_unescaped(term, cand)
            if idx >= 0:
                op = cand
                break
        if op is None:
            raise _bad("invalid selector: '%s'; can't understand '%s'" % (s, term))
        f, v = term[:idx], term[idx + len(op):]
        f, v = _unescape(f), _unescape(v)
        reqs.append((f, "!=" if op == "!=" else "=", v))
    for f, _, _ in reqs:
        ok = {"metadata.name"} | ({"metadata.namespace"} if rt.namespaced else set())
        if rt.crd is not None:
            if f not in ok and f not in _crd_selectable(rt):
                raise _bad("field label not supported: %s" % f)
            continue
        ok |= EXTRA_FIELDS.get(rt.key, set())
        if f not in ok:
            if rt.key in CUSTOM_CONVERSION:
                raise _bad("field label not supported: %s" % f)
            raise _bad('"%s" is not a known field selector: only "metadata.name", "metadata.namespace"' % f)
    return reqs


def _crd_selectable(rt):
    return set()


def _find_unescaped(s, sub):
    i = 0
    while i < len(s):
        if s[i] == "\\":
            i += 2
            continue
        if s.startswith(sub, i):
            return i
        i += 1
    return -1


def field_value(obj, f):
    if f == "metadata.name":
        return obj["metadata"].get("name", "")
    if f == "metadata.namespace":
        return obj["metadata"].get("namespace", "")
    cur = obj
    for p in f.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, list):
        return ",".join(str((x or {}).get("ip", x)) if isinstance(x, dict) else str(x) for x in cur)
    return str(cur)


def match_fields(reqs, obj):
    for f, op, v in reqs:
        fv = field_value(obj, f)
        if (op == "=" and fv != v) or (op == "!=" and fv == v):
            return False
    return True
