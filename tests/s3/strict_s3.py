#!/usr/bin/env python3
"""A strict fake S3 (and STS, container-credentials and IMDSv2 endpoint) for kbk's storage tests.

Python standard library only. Strict where s3rver is lenient, and able to fail on command:
  - verifies every SigV4 signature for real (S3 rules: the wire path is the canonical path, no normalisation),
    the credential scope's region and service, the x-amz-content-sha256 payload hash and the clock skew;
  - refuses chunked bodies (501 NotImplemented) and PUT/POST without Content-Length (411 MissingContentLength);
  - checks Content-MD5 when sent, requires it on DeleteObjects;
  - honours If-None-Match: * on PUT and CompleteMultipartUpload, If-Match on GET;
  - multipart upload incl. ListMultipartUploads and AbortMultipartUpload; parts under 5 MiB but the last are
    refused at completion (EntityTooSmall), as AWS does;
  - ListObjectsV2 with prefix, delimiter, continuation tokens and a small page size (--page-size) to exercise
    pagination;
  - answers 301 PermanentRedirect with x-amz-bucket-region when a request is signed for another region.
Control endpoints (unsigned, under /__): POST /__fault {"op","kind","count","match"} queues faults
(kind: slowdown | 500 | truncate | reset | fail-part | expire-key: the request's access key expires now, so it and
every later request signed with it get 400 ExpiredToken | refuse-key: this request gets 403 InvalidAccessKeyId, as
a key the bucket does not accept (a policy limited to other source addresses, a key deleted meanwhile) would; op: PUT, GET, DELETE, UploadPart, CompleteMultipartUpload,
ListObjectsV2, ListMultipartUploads, DeleteObjects (match against its keys joined by spaces), AssumeRole (match
against the RoleArn), or *); GET /__log
returns the requests seen (with the access key id that signed each); POST /__reset clears
faults and the log; POST /__put_raw {"bucket", "objects": [{"key", "body"}]} stores objects under any key (keys
with .., control characters: what a bucket writer can do); fault kinds loop-token (ListObjectsV2 answers truncated
with the same token for ever), foreign-keys (the listing holds keys outside the prefix asked for) and huge-page (a
page of 40 MiB) lie in listings;
POST /__age_uploads {"seconds": N} makes existing multipart uploads look N seconds older;
GET /__issued_secrets lists the [secret, session token] of every STS session issued;
GET /__uploads lists open multipart uploads (bucket, key, upload_id, parts, initiated); GET /__objects lists every
stored object (bucket, key, size).
STS (POST / with Action=...): AssumeRole (signed, service sts) and AssumeRoleWithWebIdentity (unsigned; the token
must equal --web-identity-token); issued temporary keys are valid for S3 afterwards.
Container credentials: GET /__container-credentials (Authorization must equal --container-token).
IMDSv2: PUT /latest/api/token, GET /latest/meta-data/iam/security-credentials/[ROLE].
IAM Identity Center portal: GET /federation/credentials?account_id=A&role_name=R with x-amz-sso_bearer_token equal
to --sso-token (else 401 UnauthorizedException); GET /__sso_calls lists the account/role pairs asked for.

Usage: strict_s3.py [--port 0] [--bucket NAME ...] [--region us-east-1] [--access-key K --secret-key S]
Prints "PORT <n>" on stdout once listening.
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import json
import secrets
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MIN_PART = 5 * 1024 * 1024
UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def uri_encode(data, keep_slash):
    if isinstance(data, str):
        data = data.encode()
    out = []
    for b in data:
        if b in UNRESERVED or (keep_slash and b == ord("/")):
            out.append(chr(b))
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def canonical_path(path):
    """S3: the path as sent, raw bytes encoded, valid %XX escapes kept."""
    out = []
    raw = path.encode("latin-1") if isinstance(path, str) else path
    i = 0
    while i < len(raw):
        b = raw[i]
        if b == ord("%") and i + 2 < len(raw) and chr(raw[i + 1]) in "0123456789abcdefABCDEF" and chr(raw[i + 2]) in "0123456789abcdefABCDEF":
            out.append(raw[i:i + 3].decode())
            i += 3
            continue
        out.append(chr(b) if b in UNRESERVED or b == ord("/") else "%%%02X" % b)
        i += 1
    return "".join(out) or "/"


def canonical_query(query):
    params = []
    for part in query.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        params.append((uri_encode(urllib.parse.unquote_to_bytes(k), False), uri_encode(urllib.parse.unquote_to_bytes(v), False)))
    params.sort()
    return "&".join("%s=%s" % kv for kv in params)


def hmac_sha256(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def http_date(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


def xml_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


class S3Error(Exception):
    def __init__(self, status, code, message, extra_headers=None, extra_xml=""):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.extra_headers = extra_headers or {}
        self.extra_xml = extra_xml


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.region = args.region
        self.buckets = {b: {} for b in args.bucket}  # bucket -> key -> (data, etag, mtime)
        self.keys = {args.access_key: (args.secret_key, "")}  # access key -> (secret, session token)
        self.issued = []  # (secret, session token) of every temporary key issued, for tests that grep logs
        self.uploads = {}  # upload id -> dict(bucket, key, parts{n: (data, etag)}, initiated)
        self.faults = []
        self.log = []
        self.page_size = args.page_size
        self.web_identity_token = args.web_identity_token
        self.container_token = args.container_token
        self.imds_tokens = set()
        self.sts_calls = []
        self.expired_keys = set()
        self.sso_token = args.sso_token
        self.sso_calls = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "StrictS3/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    # ---- plumbing ----
    def send(self, status, body=b"", headers=None, content_type="application/xml"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        rid = secrets.token_hex(8).upper()
        self.send_header("x-amz-request-id", rid)
        if body or status not in (204, 304):
            self.send_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error_xml(self, e, key="", bucket=""):
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message>%s%s%s"
                "<RequestId>FAKE%s</RequestId></Error>" % (e.code, xml_escape(e.message),
                                                         "<Key>%s</Key>" % xml_escape(key) if key else "",
                                                         "<BucketName>%s</BucketName>" % bucket if bucket else "",
                                                         e.extra_xml, secrets.token_hex(4).upper()))
        self.send(e.status, body, e.extra_headers)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            # Drain it so the connection stays usable, then refuse, as AWS does.
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                self.rfile.read(size + 2)
                if size == 0:
                    break
            raise S3Error(501, "NotImplemented", "A header you provided implies functionality that is not implemented: Transfer-Encoding")
        length = self.headers.get("Content-Length")
        if length is None:
            if self.command in ("PUT", "POST"):
                self.close_connection = True
                raise S3Error(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
            return b""
        return self.rfile.read(int(length))

    def take_fault(self, op, key, part=None):
        with self.server.state.lock:
            for f in self.server.state.faults:
                if f["op"] not in (op, "*"):
                    continue
                if f.get("match") and f["match"] not in key:
                    continue
                if f.get("part") is not None and f.get("part") != part:
                    continue
                f["count"] -= 1
                if f["count"] <= 0:
                    self.server.state.faults.remove(f)
                return f["kind"]
        return None

    # ---- SigV4 ----
    def verify(self, body, service="s3"):
        st = self.server.state
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            raise S3Error(403, "AccessDenied", "SigV4 Authorization header required")
        fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        access_key, date, region, svc, term = fields["Credential"].split("/")
        signed = fields["SignedHeaders"].split(";")
        self.access_key = access_key
        with st.lock:
            if access_key not in st.keys:
                raise S3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
            if access_key in st.expired_keys:
                raise S3Error(400, "ExpiredToken", "The provided token has expired.")
            secret, token = st.keys[access_key]
        if token and self.headers.get("X-Amz-Security-Token") != token:
            raise S3Error(403, "InvalidToken", "The provided token is malformed or otherwise invalid.")
        if token and "x-amz-security-token" not in signed:
            raise S3Error(403, "AccessDenied", "x-amz-security-token must be signed")
        if svc != service or term != "aws4_request":
            raise S3Error(403, "SignatureDoesNotMatch", "credential scope service %s" % svc)
        if service == "s3" and region != st.region:
            raise S3Error(301, "PermanentRedirect", "The bucket is in this region: %s. Please use this region to retry the request" % st.region,
                          {"x-amz-bucket-region": st.region}, "<Region>%s</Region>" % st.region)
        for required in ("host", "x-amz-date") + (("x-amz-content-sha256",) if service == "s3" else ()):
            if required not in signed:
                raise S3Error(403, "AccessDenied", "%s must be signed" % required)
        amz_date = self.headers.get("X-Amz-Date", "")
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        if abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) > 900:
            raise S3Error(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")
        payload = self.headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
        if service == "s3" and payload != "UNSIGNED-PAYLOAD" and payload != hashlib.sha256(body).hexdigest():
            raise S3Error(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
        raw_target = self.raw_path
        path, _, query = raw_target.partition("?")
        lines = []
        for h in signed:
            values = self.headers.get_all(h) or []
            lines.append("%s:%s" % (h, ",".join(" ".join(v.split()) for v in values)))
        creq = "\n".join([self.command, canonical_path(path), canonical_query(query), "\n".join(lines) + "\n",
                          ";".join(signed), payload])
        scope = "%s/%s/%s/aws4_request" % (date, region, svc)
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
        k = hmac_sha256(("AWS4" + secret).encode(), date)
        k = hmac_sha256(k, region)
        k = hmac_sha256(k, svc)
        k = hmac_sha256(k, "aws4_request")
        sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(sig, fields["Signature"]):
            raise S3Error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.",
                          extra_xml="<CanonicalRequest>%s</CanonicalRequest>" % xml_escape(creq))

    # ---- dispatch ----
    def handle_any(self):
        st = self.server.state
        # Python's parser collapses a leading "//"; take the target from the raw request line.
        words = self.raw_requestline.decode("latin-1").rstrip("\r\n").split(" ")
        self.raw_path = " ".join(words[1:-1]) if len(words) >= 3 else self.path
        path, _, query = self.raw_path.partition("?")
        qs = {}
        for part in query.split("&"):
            if part:
                k, _, v = part.partition("=")
                qs[urllib.parse.unquote(k)] = urllib.parse.unquote(v)
        entry = {"method": self.command, "path": path, "query": query,
                 "content_length": self.headers.get("Content-Length"),
                 "transfer_encoding": self.headers.get("Transfer-Encoding"),
                 "access_key": self.headers.get("Authorization", "").partition("Credential=")[2].partition("/")[0],
                 "headers": {k.lower(): v for k, v in self.headers.items()
                             if k.lower() not in ("authorization", "x-amz-security-token", "x-amz-sso_bearer_token")}}
        if not path.startswith("/__"):
            with st.lock:
                st.log.append(entry)
        bucket, key = "", ""
        try:
            if path.startswith("/__"):
                return self.control(path, qs)
            if path.startswith("/latest/"):
                return self.imds(path)
            if path == "/federation/credentials":
                return self.sso(qs)
            body = self.read_body()
            if path == "/" and self.command == "POST" and b"Action=" in body:
                return self.sts(body)
            self.verify(body)
            parts = path.split("/", 2)
            bucket = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
            key = urllib.parse.unquote(parts[2]) if len(parts) > 2 else ""
            with st.lock:
                if bucket not in st.buckets:
                    raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist")
            md5 = self.headers.get("Content-MD5")
            if md5 is not None and base64.b64decode(md5) != hashlib.md5(body).digest():
                raise S3Error(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
            if not key:
                return self.bucket_op(bucket, qs, body)
            return self.object_op(bucket, key, qs, body)
        except S3Error as e:
            self.send_error_xml(e, key, bucket)
        except (ConnectionError, BrokenPipeError):
            self.close_connection = True

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

    def fault_response(self, kind, data=None):
        if kind == "refuse-key":
            raise S3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
        if kind == "expire-key":
            with self.server.state.lock:
                self.server.state.expired_keys.add(self.access_key)
            raise S3Error(400, "ExpiredToken", "The provided token has expired.")
        if kind == "slowdown":
            raise S3Error(503, "SlowDown", "Please reduce your request rate.")
        if kind == "500":
            raise S3Error(500, "InternalError", "We encountered an internal error. Please try again.")
        if kind == "reset":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if kind == "truncate" and data is not None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        return False

    # ---- bucket-level ----
    def bucket_op(self, bucket, qs, body):
        st = self.server.state
        if self.command == "HEAD" or (self.command == "GET" and not qs):
            if self.command == "HEAD":
                return self.send(200)
        if self.command == "GET" and "uploads" in qs:
            kind = self.take_fault("ListMultipartUploads", "")
            if kind:
                self.fault_response(kind)
            prefix = qs.get("prefix", "")
            with st.lock:
                ups = sorted((u["key"], uid, u["initiated"]) for uid, u in st.uploads.items()
                             if u["bucket"] == bucket and u["key"].startswith(prefix))
            xml = "".join("<Upload><Key>%s</Key><UploadId>%s</UploadId><Initiated>%s</Initiated></Upload>" % (xml_escape(k), uid, iso(t))
                          for k, uid, t in ups)
            return self.send(200, "<ListMultipartUploadsResult><Bucket>%s</Bucket><IsTruncated>false</IsTruncated>%s</ListMultipartUploadsResult>" % (bucket, xml))
        if self.command == "GET" and qs.get("list-type") == "2":
            kind = self.take_fault("ListObjectsV2", qs.get("prefix", ""))
            lie = kind if kind in ("loop-token", "foreign-keys", "huge-page") else None
            if kind and not lie:
                self.fault_response(kind)
            prefix, delim = qs.get("prefix", ""), qs.get("delimiter", "")
            start = qs.get("continuation-token", "")
            page = min(int(qs.get("max-keys", "1000")), st.page_size)
            with st.lock:
                keys = sorted(k for k in st.buckets[bucket] if k.startswith(prefix))
                items, prefixes = [], []
                for k in keys:
                    if delim:
                        rest = k[len(prefix):]
                        if delim in rest:
                            cp = prefix + rest[: rest.index(delim) + 1]
                            if not prefixes or prefixes[-1] != cp:
                                prefixes.append(cp)
                            continue
                    items.append(k)
                entries = sorted([(k, "k") for k in items] + [(p, "p") for p in prefixes])
                entries = [e for e in entries if e[0] > start] if start else entries
                truncated = len(entries) > page
                entries = entries[:page]
                xml = []
                for name, t in entries:
                    if t == "k":
                        data, etag, mtime = st.buckets[bucket][name]
                        xml.append("<Contents><Key>%s</Key><LastModified>%s</LastModified><ETag>&quot;%s&quot;</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>"
                                   % (xml_escape(name), iso(mtime), etag, len(data)))
                    else:
                        xml.append("<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>" % xml_escape(name))
            tail = "<NextContinuationToken>%s</NextContinuationToken>" % xml_escape(entries[-1][0]) if truncated else ""
            if lie == "loop-token":  # a server that sends the same page and token for ever
                truncated, tail = True, "<NextContinuationToken>same-token</NextContinuationToken>"
            if lie == "foreign-keys":  # a server that answers with keys outside the prefix asked for
                xml.append("<Contents><Key>%s</Key><Size>1</Size></Contents>" % xml_escape(bucket + "-elsewhere/secret"))
                xml.append("<Contents><Key>%s</Key><Size>1</Size></Contents>" % xml_escape(prefix[:-1] + "-sibling/x"))
            if lie == "huge-page":  # a page far larger than 1,000 keys can make: 40 MiB of listing
                filler = "<Contents><Key>%s</Key><Size>1</Size></Contents>" % xml_escape(prefix + "x" * 900)
                xml.append(filler * (40 * 1024 * 1024 // len(filler)))
            return self.send(200, "<ListBucketResult><Name>%s</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount><IsTruncated>%s</IsTruncated>%s%s</ListBucketResult>"
                             % (bucket, xml_escape(prefix), len(entries), "true" if truncated else "false", tail, "".join(xml)))
        if self.command == "POST" and "delete" in qs:
            if "Content-MD5" not in self.headers:
                raise S3Error(400, "InvalidRequest", "Missing required header for this request: Content-MD5")
            import xml.etree.ElementTree as ET
            root = ET.fromstring(body)
            keys = [o.findtext("Key") for o in root.iter("Object")]
            if len(keys) > 1000:
                raise S3Error(400, "MalformedXML", "more than 1000 keys")
            kind = self.take_fault("DeleteObjects", " ".join(keys))
            if kind:
                self.fault_response(kind)
            with st.lock:
                for k in keys:
                    st.buckets[bucket].pop(k, None)
            return self.send(200, "<DeleteResult></DeleteResult>")
        raise S3Error(501, "NotImplemented", "bucket operation not implemented by the fake")

    # ---- object-level ----
    def object_op(self, bucket, key, qs, body):
        st = self.server.state
        m = self.command
        if m == "POST" and "uploads" in qs:
            uid = secrets.token_hex(12)
            with st.lock:
                st.uploads[uid] = {"bucket": bucket, "key": key, "parts": {}, "initiated": time.time()}
            return self.send(200, "<InitiateMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key><UploadId>%s</UploadId></InitiateMultipartUploadResult>" % (bucket, xml_escape(key), uid))
        if m == "PUT" and "uploadId" in qs:
            n = int(qs["partNumber"])
            kind = self.take_fault("UploadPart", key, n)
            if kind == "fail-part":
                raise S3Error(400, "InvalidPart", "injected permanent part failure")
            if kind:
                self.fault_response(kind)
            with st.lock:
                up = st.uploads.get(qs["uploadId"])
                if not up or up["key"] != key:
                    raise S3Error(404, "NoSuchUpload", "The specified upload does not exist.")
                if not 1 <= n <= 10000:
                    raise S3Error(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
                etag = hashlib.md5(body).hexdigest()
                up["parts"][n] = (body, etag)
            return self.send(200, headers={"ETag": '"%s"' % etag})
        if m == "POST" and "uploadId" in qs:
            kind = self.take_fault("CompleteMultipartUpload", key)
            if kind:
                self.fault_response(kind)
            import xml.etree.ElementTree as ET
            root = ET.fromstring(body)
            wanted = [(int(p.findtext("PartNumber")), p.findtext("ETag").strip('"')) for p in root.iter("Part")]
            with st.lock:
                up = st.uploads.get(qs["uploadId"])
                if not up or up["key"] != key:
                    raise S3Error(404, "NoSuchUpload", "The specified upload does not exist.")
                if [n for n, _ in wanted] != sorted(set(n for n, _ in wanted)) or not wanted:
                    raise S3Error(400, "InvalidPartOrder", "The list of parts was not in ascending order.")
                for i, (n, etag) in enumerate(wanted):
                    if n not in up["parts"] or up["parts"][n][1] != etag:
                        raise S3Error(400, "InvalidPart", "One or more of the specified parts could not be found.")
                    if i < len(wanted) - 1 and len(up["parts"][n][0]) < MIN_PART:
                        raise S3Error(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.")
                if self.headers.get("If-None-Match") == "*" and key in st.buckets[bucket]:
                    raise S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
                data = b"".join(up["parts"][n][0] for n, _ in wanted)
                etag = hashlib.md5(b"".join(bytes.fromhex(e) for _, e in wanted)).hexdigest() + "-%d" % len(wanted)
                st.buckets[bucket][key] = (data, etag, time.time())
                del st.uploads[qs["uploadId"]]
            return self.send(200, "<CompleteMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key><ETag>&quot;%s&quot;</ETag></CompleteMultipartUploadResult>" % (bucket, xml_escape(key), etag))
        if m == "DELETE" and "uploadId" in qs:
            with st.lock:
                if st.uploads.pop(qs["uploadId"], None) is None:
                    raise S3Error(404, "NoSuchUpload", "The specified upload does not exist.")
            return self.send(204)
        if m == "PUT":
            kind = self.take_fault("PUT", key)
            if kind:
                self.fault_response(kind)
            with st.lock:
                if self.headers.get("If-None-Match") == "*" and key in st.buckets[bucket]:
                    raise S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
                etag = hashlib.md5(body).hexdigest()
                st.buckets[bucket][key] = (body, etag, time.time())
            return self.send(200, headers={"ETag": '"%s"' % etag})
        if m in ("GET", "HEAD"):
            with st.lock:
                obj = st.buckets[bucket].get(key)
            if obj is None:
                raise S3Error(404, "NoSuchKey", "The specified key does not exist.")
            data, etag, mtime = obj
            im = self.headers.get("If-Match")
            if im is not None and im.strip('"') != etag:
                raise S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
            headers = {"ETag": '"%s"' % etag, "Last-Modified": http_date(mtime), "Accept-Ranges": "bytes"}
            rng = self.headers.get("Range")
            status = 200
            if rng and m == "GET":
                a, _, b = rng[len("bytes="):].partition("-")
                a = int(a)
                b = min(int(b) if b else len(data) - 1, len(data) - 1)
                if a >= len(data):
                    raise S3Error(416, "InvalidRange", "The requested range is not satisfiable", {"Content-Range": "bytes */%d" % len(data)})
                headers["Content-Range"] = "bytes %d-%d/%d" % (a, b, len(data))
                data = data[a:b + 1]
                status = 206
            if m == "GET":
                kind = self.take_fault("GET", key)
                if kind and self.fault_response(kind, data):
                    return
            if m == "HEAD":
                self.send_response(status)
                for k2, v in headers.items():
                    self.send_header(k2, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                return
            return self.send(status, data, headers, "application/octet-stream")
        if m == "DELETE":
            kind = self.take_fault("DELETE", key)
            if kind:
                self.fault_response(kind)
            with st.lock:
                st.buckets[bucket].pop(key, None)
            return self.send(204)
        raise S3Error(501, "NotImplemented", "object operation not implemented by the fake")

    # ---- STS ----
    def sts(self, body):
        st = self.server.state
        form = dict(urllib.parse.parse_qsl(body.decode()))
        action = form.get("Action")
        if action == "AssumeRoleWithWebIdentity":
            if form.get("WebIdentityToken") != st.web_identity_token:
                raise S3Error(400, "InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider")
        elif action == "AssumeRole":
            self.verify(body, service="sts")
            kind = self.take_fault("AssumeRole", form.get("RoleArn", ""))
            if kind:
                self.fault_response(kind)
        else:
            raise S3Error(400, "InvalidAction", "unknown action")
        ak, sk, tok = "ASIA" + secrets.token_hex(8).upper(), secrets.token_hex(20), secrets.token_hex(32)
        with st.lock:
            st.keys[ak] = (sk, tok)
            st.issued.append([sk, tok])
            st.sts_calls.append({"action": action, "role_arn": form.get("RoleArn"), "session": form.get("RoleSessionName"),
                                 "policy": form.get("Policy"), "duration": form.get("DurationSeconds"), "key": ak})
        exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        tag = action + "Result"
        return self.send(200, "<%sResponse><%s><Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey>"
                              "<SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials></%s></%sResponse>"
                         % (action, tag, ak, sk, tok, exp.strftime("%Y-%m-%dT%H:%M:%SZ"), tag, action))

    def issue_json(self):
        st = self.server.state
        ak, sk, tok = "ASIA" + secrets.token_hex(8).upper(), secrets.token_hex(20), secrets.token_hex(32)
        with st.lock:
            st.keys[ak] = (sk, tok)
        exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        return json.dumps({"AccessKeyId": ak, "SecretAccessKey": sk, "Token": tok, "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ")})

    def sso(self, qs):
        st = self.server.state
        if self.headers.get("x-amz-sso_bearer_token") != st.sso_token:
            return self.send(401, json.dumps({"message": "Session token not found or invalid"}),
                             {"x-amzn-ErrorType": "UnauthorizedException"}, content_type="application/json")
        ak, sk, tok = "ASIA" + secrets.token_hex(8).upper(), secrets.token_hex(20), secrets.token_hex(32)
        with st.lock:
            st.keys[ak] = (sk, tok)
            st.sso_calls.append({"account_id": qs.get("account_id"), "role_name": qs.get("role_name")})
        exp_ms = int((time.time() + 3600) * 1000)
        return self.send(200, json.dumps({"roleCredentials": {"accessKeyId": ak, "secretAccessKey": sk, "sessionToken": tok,
                                                               "expiration": exp_ms}}), content_type="application/json")

    def imds(self, path):
        st = self.server.state
        if self.command == "PUT" and path == "/latest/api/token":
            self.read_body()
            t = secrets.token_hex(16)
            with st.lock:
                st.imds_tokens.add(t)
            return self.send(200, t, content_type="text/plain")
        with st.lock:
            ok = self.headers.get("X-aws-ec2-metadata-token") in st.imds_tokens
        if not ok:
            return self.send(401, "", content_type="text/plain")
        if path == "/latest/meta-data/iam/security-credentials/":
            return self.send(200, "kbk-node-role", content_type="text/plain")
        if path == "/latest/meta-data/iam/security-credentials/kbk-node-role":
            return self.send(200, self.issue_json(), content_type="application/json")
        return self.send(404, "", content_type="text/plain")

    # ---- control ----
    def control(self, path, qs):
        st = self.server.state
        body = self.read_body() if self.command in ("POST", "PUT") else b""
        if path == "/__container-credentials":
            if self.headers.get("Authorization") != st.container_token:
                return self.send(401, "{}", content_type="application/json")
            return self.send(200, self.issue_json(), content_type="application/json")
        if path == "/__fault":
            f = json.loads(body)
            f.setdefault("count", 1)
            with st.lock:
                st.faults.append(f)
            return self.send(200, "{}", content_type="application/json")
        if path == "/__log":
            with st.lock:
                return self.send(200, json.dumps(st.log), content_type="application/json")
        if path == "/__sso_calls":
            with st.lock:
                return self.send(200, json.dumps(st.sso_calls), content_type="application/json")
        if path == "/__issued_secrets":
            with st.lock:
                return self.send(200, json.dumps(st.issued), content_type="application/json")
        if path == "/__sts_calls":
            with st.lock:
                return self.send(200, json.dumps(st.sts_calls), content_type="application/json")
        if path == "/__uploads":
            with st.lock:
                ups = [{"bucket": u["bucket"], "key": u["key"], "upload_id": uid, "parts": len(u["parts"]),
                        "initiated": iso(u["initiated"])} for uid, u in st.uploads.items()]
            return self.send(200, json.dumps(ups), content_type="application/json")
        if path == "/__objects":
            with st.lock:
                objs = [{"bucket": b, "key": k, "size": len(v[0])} for b, keys in st.buckets.items() for k, v in keys.items()]
            return self.send(200, json.dumps(sorted(objs, key=lambda o: (o["bucket"], o["key"]))),
                             content_type="application/json")
        if path == "/__reset":
            with st.lock:
                st.faults.clear()
                st.log.clear()
            return self.send(200, "{}", content_type="application/json")
        if path == "/__age_uploads":
            secs = json.loads(body)["seconds"]
            with st.lock:
                for u in st.uploads.values():
                    u["initiated"] -= secs
            return self.send(200, "{}", content_type="application/json")
        if path == "/__put_raw":  # objects under any key, as a bucket writer could (keys with .., controls)
            req = json.loads(body)
            with st.lock:
                for o in req["objects"]:
                    data = o.get("body", "").encode()
                    st.buckets[req["bucket"]][o["key"]] = (data, hashlib.md5(data).hexdigest(), time.time())
            return self.send(200, "{}", content_type="application/json")
        if path == "/__page_size":
            with st.lock:
                st.page_size = int(json.loads(body)["page_size"])
            return self.send(200, "{}", content_type="application/json")
        return self.send(404, "{}", content_type="application/json")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--bucket", action="append", default=[])
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--access-key", default="AKIDSTRICTFAKE")
    ap.add_argument("--secret-key", default="strict/fake/secret/key")
    ap.add_argument("--page-size", type=int, default=1000)
    ap.add_argument("--web-identity-token", default="kbk-test-web-identity-token")
    ap.add_argument("--container-token", default="kbk-test-container-token")
    ap.add_argument("--sso-token", default="kbk-test-sso-access-token")
    args = ap.parse_args()
    server = ThreadingHTTPServer((args.address, args.port), Handler)
    server.daemon_threads = True
    server.state = State(args)
    print("PORT %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
