#!/usr/bin/env python3
"""Signs requests with botocore's S3SigV4Auth: the oracle for kbk's SigV4 signer (sigv4_test.cpp).

Reads one JSON request per line on stdin (method, path as sent, query as sent, headers, payload_hash,
credentials, region, unix time) and prints the Authorization header botocore computes, one per line.
"""
import datetime
import json
import sys
from unittest import mock

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials


def sign(r):
    when = datetime.datetime.fromtimestamp(r["time"], datetime.timezone.utc).replace(tzinfo=None)
    url = "https://" + dict((k.lower(), v) for k, v in r["headers"])["host"] + r["path"]
    if r["query"]:
        url += "?" + r["query"]
    req = AWSRequest(method=r["method"], url=url, data=r["body"].encode())
    for k, v in r["headers"]:
        if k.lower() != "host":
            req.headers[k] = v
    # S3SigV4Auth reads the choice from the client config (unsigned payloads only over https).
    req.context["client_config"] = Config(s3={"payload_signing_enabled": r["payload_hash"] != "UNSIGNED-PAYLOAD"})
    creds = Credentials(r["access_key"], r["secret_key"], r["token"] or None)
    auth = botocore.auth.S3SigV4Auth(creds, "s3", r["region"])
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
        auth.add_auth(req)
    return req.headers["Authorization"]


for line in sys.stdin:
    if line.strip():
        print(sign(json.loads(line)))
