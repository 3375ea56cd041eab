"""Hand-signed S3 requests, for inputs real clients refuse to send (bad digests, odd keys,
unknown sub-resources, aws-chunked bodies with trailers)."""

import zlib
import base64

import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def signed(server, key, method, path, body=b"", headers=None, trailer=False):
    req = AWSRequest(method=method, url=server.url + path, data=body, headers=dict(headers or {}))
    if trailer:
        req.context["checksum"] = {"request_algorithm": {"in": "trailer", "algorithm": "crc32", "name": "x-amz-checksum-crc32"}}
    S3SigV4Auth(Credentials(key["access_key_id"], key["secret_access_key"]), "s3", "us-east-1").add_auth(req)
    p = req.prepare()
    s = requests.Session()
    r = requests.Request(method, p.url, headers=dict(p.headers), data=body).prepare()
    r.url = p.url  # keep the exact encoding that was signed
    return s.send(r, timeout=30)


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def aws_chunked(data, trailer_value, chunk=64 * 1024):
    out = b""
    for i in range(0, len(data), chunk):
        c = data[i : i + chunk]
        out += f"{len(c):x}\r\n".encode() + c + b"\r\n"
    out += b"0\r\n" + f"x-amz-checksum-crc32:{trailer_value}\r\n".encode() + b"\r\n"
    return out


def put_with_trailer(server, key, path, data, trailer_value):
    body = aws_chunked(data, trailer_value)
    headers = {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(len(data)),
        "X-Amz-Trailer": "x-amz-checksum-crc32",
        "Content-Length": str(len(body)),
    }
    return signed(server, key, "PUT", path, body, headers, trailer=True)


def code(resp):
    import re

    m = re.search(rb"<Code>([^<]+)</Code>", resp.content)
    return m.group(1).decode() if m else None
