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


def put_signed_chunks(server, key, path, data, chunk=64 * 1024, tamper=False):
    """PUT with STREAMING-AWS4-HMAC-SHA256-PAYLOAD: every chunk carries a signature chained from
    the request's seed signature (what SDKs send over plain HTTP when they stream)."""
    import datetime
    import hashlib
    import hmac

    ak, sk = key["access_key_id"], key["secret_access_key"]
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{day}/us-east-1/s3/aws4_request"
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)] + [b""]
    body_len = sum(len(f"{len(c):x};chunk-signature=".encode()) + 64 + 2 + len(c) + 2 for c in chunks)
    host = f"127.0.0.1:{server.port}"
    headers = {
        "host": host,
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "x-amz-date": amz_date,
        "x-amz-decoded-content-length": str(len(data)),
        "content-encoding": "aws-chunked",
        "content-length": str(body_len),
    }
    signed_names = sorted(headers)
    canonical = "\n".join(["PUT", path, "", *[f"{h}:{headers[h]}" for h in signed_names], "", ";".join(signed_names), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"])

    def hm(k, m):
        return hmac.new(k, m.encode(), hashlib.sha256).digest()

    skey = hm(hm(hm(hm(("AWS4" + sk).encode(), day), "us-east-1"), "s3"), "aws4_request")
    sts = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    prev = hmac.new(skey, sts.encode(), hashlib.sha256).hexdigest()
    auth = f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={';'.join(signed_names)}, Signature={prev}"
    empty = hashlib.sha256(b"").hexdigest()
    body = b""
    for i, c in enumerate(chunks):
        sts = f"AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{prev}\n{empty}\n{hashlib.sha256(c).hexdigest()}"
        prev = hmac.new(skey, sts.encode(), hashlib.sha256).hexdigest()
        sig = prev if not (tamper and i == 1) else "0" * 64
        body += f"{len(c):x};chunk-signature={sig}\r\n".encode() + c + b"\r\n"
    h = dict(headers)
    h["authorization"] = auth
    return requests.put(server.url + path, data=body, headers=h, timeout=30)


def put_unsigned_payload(server, key, path, data):
    from botocore.config import Config

    req = AWSRequest(method="PUT", url=server.url + path, data=data)
    req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    S3SigV4Auth(Credentials(key["access_key_id"], key["secret_access_key"]), "s3", "us-east-1").add_auth(req)
    assert req.headers["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    p = req.prepare()
    return requests.put(p.url, headers=dict(p.headers), data=data, timeout=30)


def signed_with_date(server, key, method, path, body=b""):
    """SigV4 as a client that dates the request with `Date`, not `X-Amz-Date` (botocore always
    uses the latter). `path` must need no encoding and carry no query."""
    import datetime
    import email.utils
    import hashlib
    import hmac
    from urllib.parse import urlparse

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    amz, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(body).hexdigest()
    headers = {"date": email.utils.format_datetime(now, usegmt=True), "host": urlparse(server.url).netloc, "x-amz-content-sha256": payload}
    names = ";".join(sorted(headers))
    canonical = "\n".join([method, path, "", "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), names, payload])
    scope = f"{day}/us-east-1/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k = ("AWS4" + key["secret_access_key"]).encode()
    for part in (day, "us-east-1", "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = f"AWS4-HMAC-SHA256 Credential={key['access_key_id']}/{scope}, SignedHeaders={names}, Signature={sig}"
    del headers["host"]
    return requests.request(method, server.url + path, data=body, headers=headers, timeout=30)


def put_chunked(url, chunks, headers=None):
    """PUT to a presigned URL with `Transfer-Encoding: chunked` and no Content-Length (a stream
    whose size the sender does not know: a pipe, a browser's ReadableStream body)."""
    r = requests.Request("PUT", url, headers=dict(headers or {}), data=iter(chunks)).prepare()
    assert r.headers.get("Transfer-Encoding") == "chunked" and "Content-Length" not in r.headers
    return requests.Session().send(r, timeout=60)


def put_chunked_signed(server, key, path, chunks, headers=None):
    """The same, header-signed with UNSIGNED-PAYLOAD (what `curl --aws-sigv4 -T -` sends)."""
    from botocore.config import Config

    req = AWSRequest(method="PUT", url=server.url + path, data=b"", headers=dict(headers or {}))
    req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    S3SigV4Auth(Credentials(key["access_key_id"], key["secret_access_key"]), "s3", "us-east-1").add_auth(req)
    p = req.prepare()
    h = {k: v for k, v in p.headers.items() if k.lower() != "content-length"}
    assert h["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    return put_chunked(p.url, chunks, h)
