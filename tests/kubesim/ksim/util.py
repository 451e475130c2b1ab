"""Small helpers shared by kubesim modules: copying, timestamps, uids, JSON encoding as Go does it."""
import datetime
import json
import random
import time


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


_last_ts = (None, "")  # (whole second, its text): a busy second formats its timestamp once


def now_ts(t=None):
    global _last_ts
    sec = int(time.time() if t is None else t)
    last = _last_ts
    if last[0] == sec:
        return last[1]
    text = datetime.datetime.fromtimestamp(sec, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    _last_ts = (sec, text)
    return text


def parse_ts(s):
    try:
        return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
    except Exception:
        return 0.0


_UUID4_CLEAR = ~((0xf000 << 64) | (0xc000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


_uid_rand = random.Random()  # seeded from os.urandom once


def new_uid():
    """A random version 4 uid, formatted as str(uuid.uuid4()), without building a UUID object and without
    os.urandom: that releases the GIL for its getrandom call, and store.create makes uids under the store's lock, so
    each create handed the GIL to a thread that then waited for the lock (a context switch or two a create)."""
    h = "%032x" % ((_uid_rand.getrandbits(128) & _UUID4_CLEAR) | _UUID4_SET)
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


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
