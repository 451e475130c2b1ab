#!/usr/bin/env python3
"""Builds hostile and damaged backups: what someone with write access to a backup location could put there.

    tests/hostile/generate.py OUTDIR [CASE ...]

writes one location per case, OUTDIR/<case>/backups/<case>/ (and restores/ for the restore-record cases), next to a
small intact backup `zz-good` in the same location (so `backup list` has something to list), and OUTDIR/cases.json
describing every case: what it does, which commands must refuse it and the words the refusal must name. The cases
that need kbk itself (encrypted backups: kbk writes them against a cluster) are made by tests/hostile/run from a
base backup; this file only knows how to damage them (`encrypted_cases`).

Everything here is built byte by byte (tar headers, gzip members, JSON texts) with the Python standard library, so
a case can be exactly as broken as it says. Nothing is read from outside the checkout.
"""
import base64
import gzip
import hashlib
import io
import json
import os
import struct
import sys
import zlib

MTIME = 1764140400  # 2025-11-26T07:00:00Z
START = "2025-11-26T07:00:00Z"

# ---- tar, byte by byte ---------------------------------------------------------------------------------------


def _octal(n, width):
    return (b"%0*o" % (width - 1, n)) + b"\0"


def _size_field(size):
    if 0 <= size < 8 ** 11:
        return _octal(size, 12)
    # base-256 (GNU): the top bit set, big-endian two's complement in the remaining bytes
    return bytes([0x80 if size >= 0 else 0xFF]) + (size % (1 << 88)).to_bytes(11, "big")


def header(name, size, typeflag=b"0", linkname=b"", mode=0o644, prefix=b"", size_field=None, magic=b"ustar\x0000"):
    if isinstance(name, str):
        name = name.encode()
    if isinstance(linkname, str):
        linkname = linkname.encode()
    h = bytearray(512)
    h[0:100] = name[:100].ljust(100, b"\0")
    h[100:108] = _octal(mode, 8)
    h[108:116] = _octal(0, 8)
    h[116:124] = _octal(0, 8)
    h[124:136] = size_field if size_field is not None else _size_field(size)
    h[136:148] = _octal(MTIME, 12)
    h[148:156] = b" " * 8
    h[156:157] = typeflag
    h[157:257] = linkname[:100].ljust(100, b"\0")
    h[257:265] = magic
    h[345:500] = prefix[:155].ljust(155, b"\0")
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def pad(data):
    return data + b"\0" * ((512 - len(data) % 512) % 512)


class Entry:
    """One tar entry: a header (made from the fields unless `raw_header` is given) and its data."""

    def __init__(self, name, data=b"", typeflag=b"0", linkname=b"", size=None, raw_header=None, pax=None):
        self.name = name
        self.data = data if isinstance(data, bytes) else data.encode()
        self.typeflag = typeflag
        self.linkname = linkname
        self.size = size
        self.raw_header = raw_header
        self.pax = pax  # {key: value} written as a PAX extended header before the entry

    def encode(self):
        out = b""
        if self.pax:
            recs = b""
            for k, v in self.pax.items():
                body = b" " + k.encode() + b"=" + (v if isinstance(v, bytes) else v.encode()) + b"\n"
                n = len(body) + 1
                while len(str(n)) + len(body) != n:  # the length counts its own digits
                    n = len(str(n)) + len(body)
                recs += str(n).encode() + body
            out += header("PaxHeader/x", len(recs), b"x") + pad(recs)
        size = len(self.data) if self.size is None else self.size
        out += self.raw_header if self.raw_header is not None else header(self.name, size, self.typeflag, self.linkname)
        return out + pad(self.data)


def tar(entries, end=True):
    out = b"".join(e.encode() for e in entries)
    return out + (b"\0" * 1024 if end else b"")


def gz(data):
    return gzip.compress(data, compresslevel=6, mtime=0)


# ---- Kubernetes objects and kbk's documents --------------------------------------------------------------------


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def sha(b):
    return hashlib.sha256(b).hexdigest()


def namespace_obj(case):
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "h-" + case, "labels": {"kbk-hostile-case": case}}}


def configmap(case, name="cm1", data=None):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "h-" + case, "labels": {"kbk-hostile-case": case}},
            "data": data if data is not None else {"key": "value"}}


class Item:
    """An object of the archive: its group/version/resource, namespace and name, and the bytes of its file."""

    def __init__(self, obj=None, raw=None, group="", version="v1", resource="configmaps", namespace=None, name=None,
                 kind=None):
        self.obj = obj
        self.raw = raw if raw is not None else compact(obj)
        self.group, self.version, self.resource = group, version, resource
        meta = (obj or {}).get("metadata", {}) if isinstance(obj, dict) else {}
        self.namespace = namespace if namespace is not None else meta.get("namespace", "")
        self.name = name if name is not None else meta.get("name", "")
        self.kind = kind if kind is not None else (obj or {}).get("kind", "") if isinstance(obj, dict) else ""

    def gr(self):
        return self.resource + ("." + self.group if self.group else "")

    def path(self, vdir=""):
        p = "resources/" + self.gr() + "/" + (vdir + "/" if vdir else "")
        p += ("namespaces/" + self.namespace + "/" if self.namespace else "cluster/")
        return p + self.name + ".json"

    def manifest_entry(self):
        return {"group": self.group, "version": self.version, "resource": self.resource, "kind": self.kind,
                "namespace": self.namespace, "name": self.name, "sha256": sha(self.raw), "size": len(self.raw),
                "related": False}


def standard_items(case):
    return [Item(namespace_obj(case), resource="namespaces"), Item(configmap(case))]


class Backup:
    """A kbk backup as kbk writes it, with hooks to damage any part before it is written."""

    def __init__(self, name, items=None, velero=False):
        self.name = name
        self.items = items if items is not None else standard_items(name)
        self.velero = velero
        self.entries = None          # filled by build_entries(); cases edit the list
        self.manifest = None         # kbk/manifest.json (dict) once built
        self.manifest_raw = None     # bytes to store instead of json of self.manifest
        self.marker = None           # kbk-manifest.json (dict)
        self.marker_raw = None       # bytes to store instead
        self.tar_transform = None    # f(tar bytes) -> tar bytes
        self.gz_transform = None     # f(gz bytes) -> stored bytes
        self.update_archive_sum = True  # the marker's archive.sha256/bytes describe the stored (damaged) bytes
        self.files = {}              # other objects of backups/<name>/: name -> bytes (None = leave out)
        self.results_raw = None

    def build_entries(self):
        entries = [Entry("metadata/version", b"1.1.0\n")]
        for it in self.items:
            entries.append(Entry(it.path(), it.raw))
            entries.append(Entry(it.path(it.version + "-preferredversion"), it.raw))
        self.entries = entries
        counts = {}
        for it in self.items:
            counts[it.gr()] = counts.get(it.gr(), 0) + 1
        self.marker = {
            "apiVersion": "kbk.io/v1alpha1", "kind": "BackupManifest", "name": self.name,
            "uid": "00000000-0000-4000-8000-" + sha(self.name.encode())[:12],
            "tool": {"name": "kbk", "version": "0.1.0"},
            "cluster": {"server": "https://10.0.0.1:6443", "kubeSystemUID": "kube-system-uid",
                        "serverVersion": {"gitVersion": "v1.30.2", "major": "1", "minor": "30",
                                          "platform": "linux/amd64"}},
            "selection": {"includedNamespaces": ["h-" + self.name], "excludedNamespaces": [],
                          "includedResources": [], "excludedResources": [], "includeClusterResources": None,
                          "labelSelector": "", "orLabelSelectors": [], "includeNames": [], "excludeNames": [],
                          "withRelated": True, "includeEvents": False},
            "apiGroups": [{"name": "", "preferredVersion": "v1", "versions": ["v1"]}],
            "phase": "Completed", "startTimestamp": START, "completionTimestamp": START,
            "expiration": "2099-01-01T00:00:00Z", "ttl": "720h0m0s",
            "counts": {"items": len(self.items), "warnings": 0, "errors": 0, "skipped": 0, "byResource": counts},
            "archive": {"key": "backups/%s/%s.tar.gz" % (self.name, self.name), "compression": "gzip",
                        "encrypted": False, "bytes": 0, "sha256": ""},
            "errors": [], "warnings": [],
        }
        self.manifest = dict(self.marker)
        self.manifest["items"] = [it.manifest_entry() for it in self.items]
        return self

    def write(self, loc):
        if self.entries is None:
            self.build_entries()
        d = os.path.join(loc, "backups", self.name)
        os.makedirs(d, exist_ok=True)
        entries = list(self.entries)
        if not self.velero:
            results = self.results_raw if self.results_raw is not None else compact(
                {"apiVersion": "kbk.io/v1alpha1", "kind": "BackupResults",
                 "counts": {"ok": len(self.items), "skipped": 0, "warning": 0, "failed": 0}, "entries": []})
            entries.append(Entry("kbk/results.json", results))
            m = self.manifest_raw if self.manifest_raw is not None else json.dumps(self.manifest, indent=2).encode()
            entries.append(Entry("kbk/manifest.json", m))
        t = tar(entries)
        if self.tar_transform:
            t = self.tar_transform(t)
        stored = gz(t)
        if self.gz_transform:
            stored = self.gz_transform(stored)
        write(os.path.join(d, self.name + ".tar.gz"), stored)
        logs = self.files.pop("logs", gz(b"backup %s: collecting\nbackup %s: Completed\n" % (
            self.name.encode(), self.name.encode())))
        defaults = {
            self.name + "-logs.gz": logs,
            self.name + "-resource-list.json.gz": gz(compact({"v1/ConfigMap": ["h-%s/cm1" % self.name],
                                                              "v1/Namespace": ["h-" + self.name]}) + b"\n"),
            self.name + "-results.gz": gz(b'{"errors":{},"warnings":{}}\n'),
            "kbk-lock.json": compact({"apiVersion": "kbk.io/v1alpha1", "kind": "BackupLock", "name": self.name,
                                      "host": "h", "pid": 1, "startTimestamp": START}),
            "velero-backup.json": json.dumps(velero_backup(self.name, len(self.items))).encode(),
        }
        if self.velero:  # Velero writes neither kbk's lock nor its marker
            del defaults["kbk-lock.json"]
        defaults.update(self.files)
        for fname, data in defaults.items():
            if data is not None:
                write(os.path.join(d, fname), data)
        if self.velero:
            return
        if self.update_archive_sum:
            self.marker["archive"]["bytes"] = len(stored)
            self.marker["archive"]["sha256"] = sha(stored)
        raw = self.marker_raw if self.marker_raw is not None else json.dumps(self.marker, indent=2).encode()
        if callable(raw):
            raw = raw(self.marker)
        write(os.path.join(d, "kbk-manifest.json"), raw)


def velero_backup(name, n, phase="Completed"):
    return {"kind": "Backup", "apiVersion": "velero.io/v1",
            "metadata": {"name": name, "namespace": "velero", "creationTimestamp": START},
            "spec": {"includedNamespaces": ["h-" + name], "ttl": "720h0m0s", "storageLocation": "default"},
            "status": {"version": 1, "formatVersion": "1.1.0", "phase": phase, "startTimestamp": START,
                       "completionTimestamp": START, "expiration": "2099-01-01T00:00:00Z",
                       "progress": {"totalItems": n, "itemsBackedUp": n}}}


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


# ---- bombs -----------------------------------------------------------------------------------------------------


def deflate_bomb(gigabytes_of_zeros, prefix=b"", byte=b"\0"):
    """A gzip member whose deflate data is one small full-flushed block of 1 MiB of `byte` repeated: a few MB
    that decompress to `gigabytes_of_zeros` GiB (made in well under a second; the CRC is not computed, since any
    reader must stop at its limit long before the end)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH) if prefix else b""
    block = c.compress(byte * (1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    tail = c.flush(zlib.Z_FINISH)
    body = head + block * int(gigabytes_of_zeros * 1024) + tail
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + body + struct.pack("<II", 0, 0)


def deep_json(levels, kind="object"):
    if kind == "object":
        return b'{"a":' * levels + b"1" + b"}" * levels
    return b"[" * levels + b"1" + b"]" * levels


def deep_item(case, levels):
    """A ConfigMap-shaped item whose `data` nests `levels` deep in total (valid JSON)."""
    inner = levels - 1  # the item's own object is one level
    prefix = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm1","namespace":"h-' + case.encode() + \
             b'","labels":{"kbk-hostile-case":"' + case.encode() + b'"}},"deep":'
    return prefix + deep_json(inner) + b"}"


# ---- the cases -------------------------------------------------------------------------------------------------

# Commands the runner knows (tests/hostile/run): verify, describe, details, inspect, cat, logs, list, download,
# to-dir, dry-run, preflight, restore, delete. A case says what each must do:
#   "refuse": exit 1 with one error line naming `why`; "ok": exit 0; "skip-list": list exits 2 naming the case;
#   a number: that exit code. Commands a case does not name may exit with any documented code (0-4).
CONTENT = {c: "refuse" for c in ("verify", "details", "inspect", "cat", "to-dir", "dry-run", "preflight", "restore")}
CONTENT.update({"describe": "ok", "list": "ok", "logs": "ok", "delete": "ok"})
MARKER = {c: "refuse" for c in ("verify", "describe", "details", "inspect", "cat", "download", "to-dir", "dry-run",
                                "preflight", "restore")}
MARKER.update({"list": "skip-list", "delete": "ok"})
GOOD = {c: "ok" for c in ("verify", "describe", "details", "inspect", "cat", "logs", "list", "download", "to-dir",
                          "dry-run", "preflight", "restore", "delete")}

CASES = []


def case(name, why, expect, doc, restorable=False):
    def deco(fn):
        CASES.append({"name": name, "why": why, "expect": expect, "doc": doc, "build": fn,
                      "restorable": restorable})
        return fn
    return deco


def content(**over):
    e = dict(CONTENT)
    e.update(over)
    return e


def marker(**over):
    e = dict(MARKER)
    e.update(over)
    return e


def good(**over):
    e = dict(GOOD)
    e.update(over)
    return e


def add_entry(b, entry, index=None):
    b.build_entries()
    if index is None:
        b.entries.append(entry)
    else:
        b.entries.insert(index, entry)
    return b


def escape_target():
    return os.environ.get("KBK_HOSTILE_ESCAPE", "/tmp/kbk-hostile-escape")


# -- controls: what must work --

@case("good", "", good(), "an intact kbk backup (the control: every command succeeds, restore applies it)",
      restorable=True)
def _(n):
    return Backup(n)


@case("velero-good", "", good(), "an intact Velero backup: velero-backup.json, no kbk marker", restorable=True)
def _(n):
    b = Backup(n, velero=True)
    return b


@case("ansi-in-data", "", good(), "escape sequences and bidi controls inside an object's data: legitimate content, "
      "restored as is, never printed raw", restorable=True)
def _(n):
    return Backup(n, [Item(namespace_obj(n), resource="namespaces"),
                      Item(configmap(n, data={"k": "\x1b[2J\x1b]0;owned\x07\u202eevil\u202c \x9b31m"}))])


@case("deep-ok", "", good(restore=None), "an item nested 10,000 levels deep (the API server's limit: accepted; a "
      "real restore is left out, kubesim's own parser stops at 1,000)")
def _(n):
    b = Backup(n, [Item(namespace_obj(n), resource="namespaces"),
                   Item(raw=deep_item(n, 10000), namespace="h-" + n, name="cm1", kind="ConfigMap")])
    return b


@case("unicode-names", "", good(), "non-ASCII UTF-8 in labels and data (valid): accepted and printed as is",
      restorable=True)
def _(n):
    return Backup(n, [Item(namespace_obj(n), resource="namespaces"),
                      Item(configmap(n, data={"greeting": "grüße 日本語 ✓"}))])


# -- the tar stream --

@case("traversal", "unsafe name", content(), "an entry named ../../../..: path traversal")
def _(n):
    return add_entry(Backup(n), Entry("resources/configmaps/namespaces/h-x/../../../../../../.." + escape_target()
                                      + "-traversal.json", b"{}"), 1)


@case("absolute-name", "unsafe name", content(), "an entry with an absolute name")
def _(n):
    return add_entry(Backup(n), Entry(escape_target() + "-absolute.json", b"{}"), 1)


@case("hardlink", "hard links are not allowed", content(), "a hard link to metadata/version")
def _(n):
    return add_entry(Backup(n), Entry("resources/configmaps/namespaces/h-x/link.json", b"", typeflag=b"1",
                                      linkname="metadata/version"), 1)


@case("symlink", "symbolic links are not allowed", content(), "a symbolic link to /etc/passwd")
def _(n):
    return add_entry(Backup(n), Entry("resources/configmaps/namespaces/h-x/passwd.json", b"", typeflag=b"2",
                                      linkname="/etc/passwd"), 1)


@case("device", "only regular files", content(), "a character device entry")
def _(n):
    return add_entry(Backup(n), Entry("resources/configmaps/namespaces/h-x/null.json", b"", typeflag=b"3"), 1)


@case("fifo", "only regular files", content(), "a FIFO entry")
def _(n):
    return add_entry(Backup(n), Entry("resources/configmaps/namespaces/h-x/fifo.json", b"", typeflag=b"6"), 1)


@case("duplicate-entry", "appears twice", content(), "one item file twice with different contents (the second "
      "shadows the first for whoever extracts the archive)")
def _(n):
    b = Backup(n).build_entries()
    other = configmap(n, data={"key": "shadowed"})
    b.entries.append(Entry(b.items[1].path(), compact(other)))
    return b


@case("duplicate-same", "appears twice", content(), "one item file twice with the same bytes")
def _(n):
    b = Backup(n).build_entries()
    b.entries.append(Entry(b.items[1].path(), b.items[1].raw))
    return b


@case("file-then-folder", "folder entry with the name of a file", content(),
      "a file entry and then a folder entry of the same name (a/b then a/b/)")
def _(n):
    b = Backup(n).build_entries()
    b.entries.append(Entry(b.items[1].path() + "/", b"", typeflag=b"5"))
    return b


@case("file-under-file", "which is a file entry", content(), "an entry inside a name that is a file entry")
def _(n):
    b = Backup(n).build_entries()
    b.entries.append(Entry(b.items[1].path() + "/x.json", b"{}"))
    return b


@case("non-utf8-name", "unsafe name", content(), "an entry name that is not UTF-8")
def _(n):
    return add_entry(Backup(n), Entry(b"resources/configmaps/namespaces/h-x/\xff\xfe.json", b"{}"), 1)


@case("control-name", "unsafe name", content(), "an entry name with an escape sequence and a newline")
def _(n):
    return add_entry(Backup(n), Entry("resources/configmaps/namespaces/h-x/\x1b[2Jkbk: error: fake\n.json", b"{}"), 1)


@case("backslash-name", "unsafe name", content(), "an entry name with a backslash")
def _(n):
    return add_entry(Backup(n), Entry("resources\\configmaps\\x.json", b"{}"), 1)


@case("huge-size", "exceeds the limit", content(), "an entry whose header declares 100 GiB (base-256 size)")
def _(n):
    b = Backup(n).build_entries()
    b.entries.insert(1, Entry("resources/configmaps/namespaces/h-x/big.json", b"", size=100 << 30))
    return b


@case("negative-size", "size", content(), "an entry with a negative base-256 size")
def _(n):
    b = Backup(n).build_entries()
    b.entries.insert(1, Entry("x", raw_header=header("resources/configmaps/namespaces/h-x/neg.json", -5)))
    return b


@case("pax-bomb", "", content(), "a PAX extended header declaring a 1 GiB record")
def _(n):
    b = Backup(n).build_entries()
    b.entries.insert(1, Entry("x", raw_header=header("PaxHeader/bomb", 1 << 30, b"x")))
    return b


@case("gnu-longname-bomb", "", content(), "a GNU long-name entry declaring 1 GiB")
def _(n):
    b = Backup(n).build_entries()
    b.entries.insert(1, Entry("x", raw_header=header("././@LongLink", 1 << 30, b"L")))
    return b


@case("pax-path-traversal", "unsafe name", content(), "a PAX path record with ../ behind a harmless ustar name")
def _(n):
    return add_entry(Backup(n), Entry("resources/configmaps/namespaces/h-x/ok.json", b"{}",
                                      pax={"path": "../../../.." + escape_target() + "-pax.json"}), 1)


@case("pax-size-lie", "", content(), "a PAX size record larger than the data that follows")
def _(n):
    return add_entry(Backup(n), Entry("resources/configmaps/namespaces/h-x/lie.json", b"{}",
                                      pax={"size": str(1 << 40)}), 1)


@case("sparse", "sparse", content(), "a GNU sparse entry")
def _(n):
    b = Backup(n).build_entries()
    b.entries.insert(1, Entry("resources/configmaps/namespaces/h-x/sparse.json", b"{}", typeflag=b"S"))
    return b


@case("truncated-gzip", "truncated", content(), "the tarball cut in half")
def _(n):
    b = Backup(n)
    b.gz_transform = lambda g: g[: len(g) // 2]
    return b


@case("truncated-tar", "truncated", content(), "a complete gzip of a tar cut inside an entry")
def _(n):
    b = Backup(n)
    b.tar_transform = lambda t: t[:1536 + 100]
    return b


@case("gzip-crc", "CRC", content(), "one bit of the gzip trailer's CRC-32 flipped (docs promise a refusal)")
def _(n):
    b = Backup(n)
    b.gz_transform = lambda g: g[:-8] + bytes([g[-8] ^ 1]) + g[-7:]
    return b


@case("gzip-length", "length", content(), "the gzip trailer's length changed")
def _(n):
    b = Backup(n)
    b.gz_transform = lambda g: g[:-4] + bytes([g[-4] ^ 1]) + g[-3:]
    return b


@case("gzip-trailing", "after the end of the gzip", content(), "bytes after the gzip member")
def _(n):
    b = Backup(n)
    b.gz_transform = lambda g: g + b"hidden data"
    return b


@case("gzip-two-members", "after the end of the gzip", content(), "a second gzip member appended (another tar)")
def _(n):
    b = Backup(n)
    b.gz_transform = lambda g: g + gz(tar([Entry("resources/configmaps/namespaces/h-x/extra.json", b"{}")]))
    return b


@case("gzip-damaged", "gzip", content(), "a byte in the middle of the deflate data changed")
def _(n):
    b = Backup(n)
    b.gz_transform = lambda g: g[:40] + bytes([g[40] ^ 0xFF]) + g[41:]
    return b


@case("gzip-bomb", "limit|ratio|bomb", content(), "10 GiB of zeros after the tar end in a 10 MB gzip")
def _(n):
    b = Backup(n).build_entries()
    # The whole tar (with its end blocks) first, then the zeros: the reader must stop at its limit.
    b.marker_raw = None
    b.gz_transform = lambda g: deflate_bomb(10, prefix=gzip.decompress(g))
    return b


@case("zstd", "zstd", content(), "a zstd frame instead of gzip")
def _(n):
    b = Backup(n)
    b.gz_transform = lambda g: b"\x28\xb5\x2f\xfd" + b"\0" * 64
    return b


@case("lz4", "lz4", content(), "an lz4 frame instead of gzip")
def _(n):
    b = Backup(n)
    b.gz_transform = lambda g: b"\x04\x22\x4d\x18" + b"\0" * 64
    return b


@case("not-an-archive", "not a tar", content(), "random bytes")
def _(n):
    b = Backup(n)
    b.gz_transform = lambda g: os.urandom(700)
    return b


@case("empty-archive", "empty", content(), "an empty tarball object")
def _(n):
    b = Backup(n)
    b.gz_transform = lambda g: b""
    return b


@case("version-2", "format version", content(), "metadata/version 2.0.0")
def _(n):
    b = Backup(n).build_entries()
    b.entries[0] = Entry("metadata/version", b"2.0.0\n")
    return b


@case("version-not-first", "first entry", content(), "an item before metadata/version")
def _(n):
    b = Backup(n).build_entries()
    b.entries.insert(0, b.entries.pop(1))
    return b


@case("stray-entry", "not part of a kbk backup", content(), "an extra file (run.sh) in a kbk archive")
def _(n):
    return add_entry(Backup(n), Entry("run.sh", b"#!/bin/sh\nrm -rf /\n"))


# -- items --

def item_case(name, why, doc, raw):
    @case(name, why, content(), doc)
    def _(n):
        return Backup(n, [Item(namespace_obj(n), resource="namespaces"),
                          Item(raw=raw(n), namespace="h-" + n, name="cm1", kind="ConfigMap")])


item_case("deep-20000", "nested more than 10000", "an item nested 20,000 levels deep (a 40 KB file)",
          lambda n: deep_item(n, 20000))
item_case("deep-10001", "nested more than 10000", "an item nested one level deeper than the limit",
          lambda n: deep_item(n, 10001))
item_case("deep-array", "nested more than 10000", "20,000 nested arrays",
          lambda n: compact(configmap(n))[:-1] + b',"x":' + deep_json(20000, "array") + b"}")
item_case("invalid-json", "invalid JSON", "an item that is not JSON", lambda n: b'{"apiVersion":"v1",')
item_case("not-object", "not a JSON object", "an item that is a JSON array", lambda n: b"[1,2,3]")
item_case("bom", "invalid JSON", "an item starting with a UTF-8 BOM", lambda n: b"\xef\xbb\xbf" + compact(configmap(n)))
item_case("nul-byte", "invalid JSON|after", "a raw NUL byte after the object and more text",
          lambda n: compact(configmap(n)) + b'\0{"kind":"Secret"}')
item_case("duplicate-keys", "appears twice", "metadata twice in one object: Go takes the last, RapidJSON the first",
          lambda n: compact(configmap(n))[:-1] + b',"metadata":{"name":"cm1","namespace":"kube-system"}}')
item_case("invalid-utf8", "invalid JSON|encoding", "a string that is not UTF-8",
          lambda n: compact(configmap(n, data={"k": "v"})).replace(b'"v"', b'"\xff\xfe"'))
item_case("huge-number", "invalid JSON|too big", "a number beyond double range",
          lambda n: compact(configmap(n))[:-1] + b',"n":1e400}')
item_case("name-mismatch", "metadata.name", "an item whose metadata.name is not its file's",
          lambda n: compact(configmap(n, name="other")))
item_case("namespace-mismatch", "namespace", "an item in namespace h-x whose metadata.namespace is kube-system",
          lambda n: compact(dict(configmap(n), metadata={"name": "cm1", "namespace": "kube-system"})))
item_case("group-mismatch", "apiVersion", "a configmaps item whose apiVersion is apps/v1",
          lambda n: compact(dict(configmap(n), apiVersion="apps/v1")))
item_case("no-kind", "no kind", "an item without kind", lambda n: compact({k: v for k, v in configmap(n).items()
                                                                        if k != "kind"}))
item_case("kind-object", "no kind", "an item whose kind is an object",
          lambda n: compact(dict(configmap(n), kind={"evil": 1})))


@case("cluster-scoped-with-ns", "cluster-scoped path", content(),
      "a cluster-scoped path whose object names a namespace")
def _(n):
    ns = namespace_obj(n)
    ns["metadata"]["namespace"] = "kube-system"
    return Backup(n, [Item(ns, resource="namespaces", namespace=""), Item(configmap(n))])


# -- kbk/manifest.json and checksums --

@case("item-checksum", "SHA-256", content(), "an item changed after the backup (the archive's checksum in the "
      "marker updated, the manifest's not): verify refuses, so must restore")
def _(n):
    b = Backup(n).build_entries()
    changed = compact(configmap(n, data={"key": "changed by an attacker"}))
    for i, e in enumerate(b.entries):
        if e.name.startswith("resources/configmaps/"):
            b.entries[i] = Entry(e.name, changed)
    return b


@case("archive-checksum", "SHA-256", content(download="refuse"), "the archive changed; the marker's checksum not")
def _(n):
    b = Backup(n)
    b.update_archive_sum = False
    b.build_entries()
    b.marker["archive"]["sha256"] = "0" * 64
    return b


@case("archive-bytes", "bytes", content(download="refuse"), "the marker's archive size is wrong")
def _(n):
    b = Backup(n)

    def lie(m):
        m["archive"]["bytes"] += 1
        return json.dumps(m).encode()
    b.marker_raw = lie
    return b


@case("copies-differ", "differs from the other copy", content(), "the preferred-version copy differs from the "
      "legacy copy (the manifest matches the legacy one)")
def _(n):
    b = Backup(n).build_entries()
    b.entries[-1] = Entry(b.entries[-1].name, compact(configmap(n, data={"key": "other"})))
    return b


@case("manifest-missing-item", "not in the archive", content(), "the manifest lists an item the tarball lacks")
def _(n):
    b = Backup(n).build_entries()
    extra = Item(configmap(n, name="ghost"))
    b.manifest["items"].append(extra.manifest_entry())
    b.marker["counts"]["items"] += 1
    b.manifest["counts"]["items"] += 1
    return b


@case("manifest-extra-item", "not in the manifest", content(), "the tarball holds an item the manifest lacks")
def _(n):
    b = Backup(n).build_entries()
    extra = Item(configmap(n, name="smuggled"))
    b.entries.append(Entry(extra.path(), extra.raw))
    return b


@case("manifest-missing", "manifest.json is missing", content(), "no kbk/manifest.json in a kbk archive")
def _(n):
    b = Backup(n).build_entries()
    b.manifest_raw = None
    orig = b.write

    def write_without(loc):
        b.velero = True  # builds the tar without kbk/ ...
        b.update_archive_sum = True
        orig(loc)
        b.velero = False
        b.marker["archive"]["bytes"] = os.path.getsize(os.path.join(loc, "backups", n, n + ".tar.gz"))
        with open(os.path.join(loc, "backups", n, n + ".tar.gz"), "rb") as f:
            b.marker["archive"]["sha256"] = sha(f.read())
        write(os.path.join(loc, "backups", n, "kbk-manifest.json"), json.dumps(b.marker).encode())
    b.write = write_without
    return b


@case("manifest-sha-length", "64 hexadecimal", content(), "a checksum of the wrong length in the manifest")
def _(n):
    b = Backup(n).build_entries()
    b.manifest["items"][0]["sha256"] = b.manifest["items"][0]["sha256"][:40]
    return b


@case("manifest-items-type", "items", content(), "the manifest's items is a string")
def _(n):
    b = Backup(n).build_entries()
    b.manifest["items"] = "everything"
    return b


@case("manifest-item-null-name", "name", content(), "an item of the manifest whose name is null")
def _(n):
    b = Backup(n).build_entries()
    b.manifest["items"][1]["name"] = None
    return b


@case("manifest-listed-twice", "listed twice", content(), "one item listed twice in the manifest")
def _(n):
    b = Backup(n).build_entries()
    b.manifest["items"].append(b.manifest["items"][1])
    return b


@case("manifest-other-backup", "another backup", content(), "the archive of another backup (its manifest's name "
      "and uid differ) with the marker's checksum updated")
def _(n):
    b = Backup(n).build_entries()
    b.manifest["name"] = "someone-else"
    b.manifest["uid"] = "ffffffff-0000-4000-8000-000000000000"
    return b


@case("count-lie", "counts", content(), "the marker counts 500 items, the manifest lists 2")
def _(n):
    b = Backup(n).build_entries()
    b.marker["counts"]["items"] = 500
    return b


@case("results-types", "results.json", content(), "kbk/results.json with wrong types")
def _(n):
    b = Backup(n)
    b.results_raw = compact({"apiVersion": "kbk.io/v1alpha1", "counts": {"ok": "all"}, "entries": [{"outcome": 7}]})
    return b


# -- the marker (kbk-manifest.json) --

def marker_case(name, why, doc, mutate, expect=None):
    @case(name, why, expect or marker(), doc)
    def _(n):
        b = Backup(n)
        b.marker_raw = lambda m: mutate(m) if callable(mutate) else mutate
        return b


def _set(path, value):
    def f(m):
        cur = m
        for k in path[:-1]:
            cur = cur[k]
        cur[path[-1]] = value
        return json.dumps(m).encode()
    return f


marker_case("marker-array", "expected an object", "the marker is a JSON array", b"[1,2]")
marker_case("marker-v2", "kbk.io/v2", "apiVersion kbk.io/v2", _set(["apiVersion"], "kbk.io/v2"))
marker_case("marker-foreign", "apiVersion", "apiVersion of another tool", _set(["apiVersion"], "velero.io/v1"))
marker_case("marker-invalid", "invalid JSON", "the marker is not JSON", b"{\"apiVersion\": ")
marker_case("marker-null-phase", "phase", "phase is an object", _set(["phase"], {"x": 1}))
marker_case("marker-null-name", "name", "name is null (basic_string from null)", _set(["name"], None))
marker_case("marker-items-string", "counts.items", "counts.items is a string", _set(["counts", "items"], "5"))
marker_case("marker-items-negative", "counts.items", "counts.items is -1", _set(["counts", "items"], -1))
marker_case("marker-items-huge", "counts.items", "counts.items is 1e30", lambda m: json.dumps(m).encode().replace(
    b'"items": 2', b'"items": 1e30'))
marker_case("marker-start-object", "startTimestamp", "startTimestamp is an object",
            _set(["startTimestamp"], {"seconds": 0}))
marker_case("marker-start-garbage", "RFC 3339", "startTimestamp is not a time", _set(["startTimestamp"], "yesterday"))
marker_case("marker-ansi-phase", "phase", "phase holds an escape sequence", _set(["phase"], "Completed\x1b[2J"))
marker_case("marker-namespaces-types", "includedNamespaces", "selection.includedNamespaces holds null and an object",
            _set(["selection", "includedNamespaces"], [None, {"a": 1}]))
marker_case("marker-byresource-types", "byResource", "counts.byResource values are strings",
            _set(["counts", "byResource"], {"configmaps": "many"}))
marker_case("marker-errors-object", "errors", "errors is an object", _set(["errors"], {"evil": "x"}))
marker_case("marker-archive-key-other", "archive.key", "archive.key points at another backup's tarball",
            _set(["archive", "key"], "backups/zz-good/zz-good.tar.gz"))
marker_case("marker-archive-key-traversal", "archive.key", "archive.key is ../../etc/passwd",
            _set(["archive", "key"], "../../../../etc/passwd"))
marker_case("marker-name-other", "names backup", "a marker naming another backup", _set(["name"], "zz-good"))
marker_case("marker-sha-length", "SHA-256", "archive.sha256 of 10 characters", _set(["archive", "sha256"], "abc0123456"))
marker_case("marker-deep", "nested more than", "a marker nested 20,000 levels in an unknown member",
            lambda m: json.dumps(m).encode()[:-1] + b',"x":' + deep_json(20000) + b"}")
marker_case("marker-duplicate-keys", "appears twice", "phase twice", lambda m: json.dumps(m).encode()[:-1] +
            b',"phase":"PartiallyFailed"}')
marker_case("marker-bom", "invalid JSON", "a BOM before the marker", lambda m: b"\xef\xbb\xbf" + json.dumps(m).encode())
marker_case("marker-nul", "invalid JSON|after", "a NUL and text after the marker",
            lambda m: json.dumps(m).encode() + b"\0garbage")
marker_case("marker-huge", "larger than the limit", "a 65 MiB marker (whitespace)",
            lambda m: json.dumps(m).encode() + b" " * (65 << 20))


@case("marker-ansi-warnings", "", good(restore=None, verify="ok"), "warning lines with escape sequences and a "
      "fake error line: accepted, printed escaped")
def _(n):
    b = Backup(n).build_entries()
    b.marker["warnings"] = ["\x1b[31mred\x1b[0m\nkbk: error: fake line", "\u202etxt.exe"]
    b.manifest["warnings"] = b.marker["warnings"]
    return b


@case("marker-only", "missing", content(describe="ok", download="refuse"), "a marker and no tarball")
def _(n):
    b = Backup(n)
    orig = b.write

    def write_then_remove(loc):
        orig(loc)
        os.remove(os.path.join(loc, "backups", n, n + ".tar.gz"))
    b.write = write_then_remove
    return b


# -- velero-backup.json, resource list, logs --

def velero_case(name, why, doc, vb_raw, expect):
    @case(name, why, expect, doc)
    def _(n):
        b = Backup(n, velero=True)
        b.files["velero-backup.json"] = vb_raw(n) if callable(vb_raw) else vb_raw
        return b


VELERO_BAD = marker(list="skip-list")
velero_case("velero-types", "phase|includedNamespaces|expected", "velero-backup.json with null and object members",
            lambda n: json.dumps(dict(velero_backup(n, 2), spec={"includedNamespaces": [None, {"a": 1}]},
                                      status={"phase": {"Completed": True}})).encode(), VELERO_BAD)
velero_case("velero-invalid", "invalid JSON", "velero-backup.json is not JSON", b"{", VELERO_BAD)
velero_case("velero-in-progress", "phase", "a Velero backup still InProgress: not restorable",
            lambda n: json.dumps(velero_backup(n, 2, "InProgress")).encode(),
            {"verify": 4, "restore": 4, "to-dir": 4, "dry-run": 4, "preflight": 4, "inspect": 4, "cat": 4,
             "details": None, "download": 4, "list": "ok", "delete": "ok"})
velero_case("velero-ansi", "", "velero-backup.json whose phase is Completed and whose namespaces hold escapes",
            lambda n: json.dumps(dict(velero_backup(n, 2), spec={"includedNamespaces": ["\x1b[2Jx"]})).encode(),
            good(restore="ok"))


@case("resource-list-bomb", "limit|ratio|bomb", {"details": "refuse", "describe": "ok", "restore": "ok",
                                                 "to-dir": "ok"},
      "a Velero backup whose resource list is a 2 MB gzip of 2 GiB", restorable=True)
def _(n):
    b = Backup(n, velero=True)
    b.files[n + "-resource-list.json.gz"] = deflate_bomb(2, prefix=b'{"v1/ConfigMap":["', byte=b"a")
    return b


@case("resource-list-types", "expected", {"details": "refuse", "describe": "ok", "restore": "ok"},
      "a resource list whose values are not string arrays and whose keys hold escapes")
def _(n):
    b = Backup(n, velero=True)
    b.files[n + "-resource-list.json.gz"] = gz(compact({"\x1b[2Jv1/ConfigMap": {"x": None}, "v1/Secret": [None]}))
    return b


@case("logs-bomb", "limit|ratio|bomb", content(logs="refuse", verify="ok", details="ok", inspect="ok", cat="ok",
                                               **{"to-dir": "ok", "dry-run": "ok", "preflight": "ok",
                                                  "restore": "ok"}),
      "a 2 MB gzip log that decompresses to 2 GiB", restorable=True)
def _(n):
    b = Backup(n)
    b.files["logs"] = deflate_bomb(2, byte=b"A")
    return b


@case("logs-not-gzip", "not gzip", good(logs="refuse"), "a log that is not gzip", restorable=True)
def _(n):
    b = Backup(n)
    b.files["logs"] = b"plain text\n"
    return b


@case("logs-crc", "CRC", good(logs="refuse"), "a log whose gzip CRC is wrong", restorable=True)
def _(n):
    b = Backup(n)
    g = gz(b"line one\nline two\n")
    b.files["logs"] = g[:-8] + bytes([g[-8] ^ 1]) + g[-7:]
    return b


@case("logs-ansi", "", good(), "a log with escape sequences and invalid UTF-8: printed escaped", restorable=True)
def _(n):
    b = Backup(n)
    b.files["logs"] = gz(b"\x1b[2J\x1b]0;title\x07line \xff\xfe\nkbk: error: fake\r\n")
    return b


# -- incomplete and killed backups --

@case("killed", "incomplete", {"list": "ok", "restore": 4, "to-dir": 4, "dry-run": 4, "preflight": 4, "verify": 4,
                                "describe": 4, "inspect": 4, "download": 4, "delete": "ok", "logs": "ok"},
      "a killed backup: lock, a hidden temp upload of the tarball, its log; no marker")
def _(n):
    b = Backup(n)
    orig = b.write

    def killed(loc):
        orig(loc)
        d = os.path.join(loc, "backups", n)
        os.rename(os.path.join(d, n + ".tar.gz"), os.path.join(d, "." + n + ".tar.gz.kbk-tmp-123456"))
        for f in ("kbk-manifest.json", "velero-backup.json", n + "-resource-list.json.gz", n + "-results.gz"):
            os.remove(os.path.join(d, f))
    b.write = killed
    return b


@case("lock-hostile", "", {"list": "ok", "delete": "ok", "restore": 4}, "an incomplete backup whose lock has wrong types")
def _(n):
    b = Backup(n)
    orig = b.write

    def lock_only(loc):
        orig(loc)
        d = os.path.join(loc, "backups", n)
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))
        write(os.path.join(d, "kbk-lock.json"), b'{"startTimestamp":{"a":[1,2]},"pid":"\x1b[2J"}')
    b.write = lock_only
    return b


# ---- encrypted backups: damage done to a backup kbk wrote (tests/hostile/run makes the base) -----------------

def encrypted_cases():
    """(name, why, expect, doc, mutate(folder, name)) for an encrypted base backup copied to backups/<name>/."""
    E = content(describe="ok")

    def flip(path, offset, mask=1):
        with open(path, "r+b") as f:
            f.seek(offset if offset >= 0 else os.path.getsize(path) + offset)
            b = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([b[0] ^ mask]))

    def archive(d, n):
        return os.path.join(d, n + ".kbk")

    def key_object(d):
        return os.path.join(d, [f for f in os.listdir(d) if f.startswith("kbk-key-")][0])

    def edit_json(path, fn):
        with open(path) as f:
            doc = json.load(f)
        fn(doc)
        write(path, json.dumps(doc).encode())

    def kdf(field, value):
        return lambda d, n: edit_json(key_object(d), lambda k: k["kdf"].__setitem__(field, value))

    cases = [
        ("enc-good", "", good(), "an intact encrypted backup (the control)", lambda d, n: None),
        ("enc-version", "not supported", E, "stream header version 2", lambda d, n: flip(archive(d, n), 4, 3)),
        ("enc-segment-size", "unsupported|segment", E, "stream header segment size 2^30",
         lambda d, n: flip(archive(d, n), 5, 0x0a)),
        ("enc-data-key-id", "another data key", E, "the header's data key id changed",
         lambda d, n: flip(archive(d, n), 9)),
        ("enc-salt", "authentication", E, "the header's stream salt changed", lambda d, n: flip(archive(d, n), 20)),
        ("enc-tag", "authentication", E, "the last byte (a GCM tag) flipped", lambda d, n: flip(archive(d, n), -1)),
        ("enc-middle", "authentication", E, "a byte of the first segment flipped", lambda d, n: flip(archive(d, n), 40)),
        ("enc-truncated", "truncated|authentication|cut", E, "the encrypted archive cut short",
         lambda d, n: os.truncate(archive(d, n), os.path.getsize(archive(d, n)) - 20)),
        ("enc-appended", "after the final segment|cut short", E, "bytes after the final segment",
         lambda d, n: open(archive(d, n), "ab").write(b"x" * 100)),
        ("enc-key-object-invalid", "invalid JSON", marker(list="ok"), "the key object is not JSON",
         lambda d, n: write(key_object(d), b"{")),
        ("enc-key-object-huge", "larger than the limit", marker(list="ok"), "a 2 MiB key object",
         lambda d, n: write(key_object(d), b" " * (2 << 20))),
        ("enc-key-objects-17", "more than 16 key objects", marker(list="ok"),
         "17 key objects (each would be tried)",
         lambda d, n: [write(os.path.join(d, "kbk-key-%016x" % i), open(key_object(d), "rb").read())
                       for i in range(17)]),
        ("enc-marker-phase", "differs from the sealed", marker(list="ok"),
         "the plaintext phase changed (the sealed copy says Completed)",
         lambda d, n: edit_json(os.path.join(d, "kbk-manifest.json"), lambda m: m.__setitem__("phase", "PartiallyFailed"))),
        ("enc-marker-counts", "counts", marker(list="ok"), "the plaintext item count changed",
         lambda d, n: edit_json(os.path.join(d, "kbk-manifest.json"), lambda m: m["counts"].__setitem__("items", 99))),
        ("enc-marker-sealed", "sealed|authentication|base64", marker(list="ok"),
         "the sealed marker replaced by garbage",
         lambda d, n: edit_json(os.path.join(d, "kbk-manifest.json"),
                                lambda m: m.__setitem__("sealed", base64.b64encode(b"KBKE" + b"\1" * 80).decode()))),
        ("enc-marker-archive-key", "archive.key", marker(list="skip-list"), "archive.key pointing at another object",
         lambda d, n: edit_json(os.path.join(d, "kbk-manifest.json"),
                                lambda m: m["archive"].__setitem__("key", "backups/%s/%s-logs.gz.kbk" % (n, n)))),
        ("enc-logs", "authentication", good(logs="refuse"), "the encrypted log tampered",
         lambda d, n: flip(os.path.join(d, n + "-logs.gz.kbk"), -3)),
    ]
    return cases


def passphrase_cases():
    """Key object parameters for a backup encrypted with a passphrase."""
    M = marker(list="ok")  # every command but list opens the key object (the runner passes the key)

    def kdf(field, value):
        def f(d, n):
            p = os.path.join(d, [x for x in os.listdir(d) if x.startswith("kbk-key-")][0])
            with open(p) as fh:
                doc = json.load(fh)
            doc["kdf"][field] = value
            write(p, json.dumps(doc).encode())
        return f

    return [
        ("pass-good", "", good(), "an intact passphrase-encrypted backup (the control)", lambda d, n: None),
        ("pass-scrypt-2e40", "scrypt parameters", M, "scrypt N = 2^40", kdf("N", 1 << 40)),
        ("pass-scrypt-4gib", "scrypt parameters", M, "scrypt N = 2^20, r = 32 (4 GiB)",
         lambda d, n: (kdf("N", 1 << 20)(d, n), kdf("r", 32)(d, n))),
        ("pass-scrypt-not-pow2", "scrypt parameters", M, "scrypt N = 3000", kdf("N", 3000)),
        ("pass-scrypt-p-huge", "scrypt parameters", M, "scrypt p = 2^31", kdf("p", 1 << 31)),
        ("pass-scrypt-n-string", "kdf.N|expected", M, "scrypt N is a string", kdf("N", "65536")),
        ("pass-salt-short", "salt", M, "a 4-byte salt", kdf("salt", base64.b64encode(b"abcd").decode())),
    ]


def restore_record_cases():
    """Restore records (restores/<name>/) that lie: (name, why, files)."""
    def rec(**over):
        r = {"name": "r", "backup": "b", "mode": "cluster", "dryRun": False, "phase": "Completed",
             "started": START, "completed": START, "counts": {"created": 1, "updated": 0, "skipped": 0, "failed": 0},
             "reasons": {"created": 1}, "warnings": []}
        r.update(over)
        return json.dumps(r).encode()
    return [
        ("rr-types", "counts|expected", {"kbk-restore.json": rec(counts={"created": "x"}, phase={"a": 1})}),
        ("rr-deep", "nested more than", {"kbk-restore.json": rec()[:-1] + b',"x":' + deep_json(20000) + b"}"}),
        ("rr-results-bomb", "limit|ratio|bomb", {"kbk-restore.json": rec(),
                                                  "restore-%s-results.gz": deflate_bomb(2, b'{"errors":{"velero":["', b"a")}),
        ("rr-results-types", "expected", {"kbk-restore.json": rec(),
                                          "restore-%s-results.gz": gz(b'{"errors":{"velero":[null,{"a":1}]}}')}),
        ("rr-logs-bomb", "limit|ratio|bomb", {"kbk-restore.json": rec(),
                                              "restore-%s-logs.gz": deflate_bomb(2, byte=b"B")}),
        ("rr-ansi", "", {"kbk-restore.json": rec(warnings=["\x1b[31m\u202e", "kbk: error: fake\n"]),
                         "restore-%s-logs.gz": gz(b"\x1b]0;t\x07 line\n")}),
    ]


def build(outdir, only=None):
    """Writes every pure-Python case (and zz-good next to each) and returns their descriptions."""
    out = []
    good_template = os.path.join(outdir, ".zz-good")
    Backup("zz-good").write(good_template)
    for c in CASES:
        if only and c["name"] not in only:
            continue
        loc = os.path.join(outdir, c["name"])
        b = c["build"](c["name"])
        b.write(loc)
        copy_tree(os.path.join(good_template, "backups", "zz-good"), os.path.join(loc, "backups", "zz-good"))
        out.append({k: v for k, v in c.items() if k != "build"})
    return out


def copy_tree(src, dst):
    os.makedirs(dst, exist_ok=True)
    for f in os.listdir(src):
        with open(os.path.join(src, f), "rb") as fh:
            write(os.path.join(dst, f), fh.read())


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cases = build(sys.argv[1], set(sys.argv[2:]) or None)
    with open(os.path.join(sys.argv[1], "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
    print("%d cases in %s" % (len(cases), sys.argv[1]))
