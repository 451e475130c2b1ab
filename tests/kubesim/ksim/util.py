"""Small helpers shared by kubesim modules: copying, timestamps, uids, JSON encoding as Go does it."""
import datetime
import json
import time
import uuid


def dcopy(o):
    """Deep copy of JSON-like data (much faster than copy.deepcopy)."""
    t = type(o)
    if t is dict:
        return {k: dcopy(v) for k, v in o.items()}
    if t is list:
        return [dcopy(v) for v in o]
    if isinstance(o, dict):  # e.g. the server's duplicate-tracking dicts: copies are plain dicts
        return {k: dcopy(v) for k, v in o.items()}
    return o


def now_ts(t=None):
    t = time.time() if t is None else t
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(s):
    try:
        return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
    except Exception:
        return 0.0


def new_uid():
    return str(uuid.uuid4())


_ENC = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def go_json(o):
    """Compact JSON with Go's HTML escaping (no trailing newline)."""
    s = _ENC.encode(o)
    if "<" in s or ">" in s or "&" in s:
        s = s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return s


def go_quote(s):
    """Go %q of a string (close enough: JSON string escaping)."""
    return json.dumps(s, ensure_ascii=False)


def meta(o):
    m = o.get("metadata")
    if not isinstance(m, dict):
        m = {}
        o["metadata"] = m
    return m
