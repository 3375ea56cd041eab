"""Every bad input gets a clear S3 error, and nothing is stored or half-written."""

import hashlib
import base64
import socket

import pytest
import requests

from s3raw import code, crc32_b64, put_with_trailer, signed


@pytest.fixture(scope="module")
def ctx(fs_server):
    sp = fs_server.new_space()
    key = fs_server.new_key(sp)
    return fs_server, sp, key


@pytest.fixture(scope="module")
def both(server):
    """The same on the fs store and on the S3 backend (a real engine under scripts/test.sh): the
    backend once turned a digest mismatch into a plain short-body error."""
    sp = server.new_space()
    key = server.new_key(sp)
    return server, sp, key


def objects_on_disk(server):
    return sorted(p.name for p in (server.data / "objects").rglob("*@o"))


def test_wrong_content_md5_stores_nothing_and_keeps_old_version(both):
    s, sp, key = both
    B = sp["bucket"]
    good = base64.b64encode(hashlib.md5(b"version one").digest()).decode()
    assert signed(s, key, "PUT", f"/{B}/md5/obj", b"version one", {"Content-MD5": good}).status_code == 200
    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    r = signed(s, key, "PUT", f"/{B}/md5/obj", b"version two", {"Content-MD5": wrong})
    assert (r.status_code, code(r)) == (400, "BadDigest")
    assert signed(s, key, "GET", f"/{B}/md5/obj").content == b"version one"
    r = signed(s, key, "PUT", f"/{B}/md5/new", b"data", {"Content-MD5": "not-base64!"})
    assert (r.status_code, code(r)) == (400, "InvalidDigest")
    assert signed(s, key, "HEAD", f"/{B}/md5/new").status_code == 404
    assert not list((s.data / "objects" / "tmp").glob("*")) if (s.data / "objects" / "tmp").exists() else True


def test_wrong_checksum_header(both):
    s, sp, key = both
    r = signed(s, key, "PUT", f"/{sp['bucket']}/sum/bad", b"payload", {"x-amz-checksum-crc32": crc32_b64(b"other")})
    assert (r.status_code, code(r)) == (400, "BadDigest")
    assert signed(s, key, "HEAD", f"/{sp['bucket']}/sum/bad").status_code == 404


def test_checksum_trailer_verified(both):
    s, sp, key = both
    data = b"streamed with a trailer " * 5000
    r = put_with_trailer(s, key, f"/{sp['bucket']}/trailer/good", data, crc32_b64(data))
    assert r.status_code == 200, r.text
    assert signed(s, key, "GET", f"/{sp['bucket']}/trailer/good").content == data
    r = put_with_trailer(s, key, f"/{sp['bucket']}/trailer/bad", data, crc32_b64(b"not the data"))
    assert (r.status_code, code(r)) == (400, "BadDigest"), r.text
    assert signed(s, key, "HEAD", f"/{sp['bucket']}/trailer/bad").status_code == 404


def test_part_digest_mismatches(both):
    s, sp, key = both
    B = sp["bucket"]
    up = signed(s, key, "POST", f"/{B}/mp/digest?uploads")
    uid = up.text.split("<UploadId>")[1].split("</UploadId>")[0]
    part = b"p" * (5 * 1024 * 1024)
    wrong = base64.b64encode(hashlib.md5(b"not the part").digest()).decode()
    r = signed(s, key, "PUT", f"/{B}/mp/digest?partNumber=1&uploadId={uid}", part, {"Content-MD5": wrong})
    assert (r.status_code, code(r)) == (400, "BadDigest"), r.text
    r = signed(s, key, "PUT", f"/{B}/mp/digest?partNumber=1&uploadId={uid}", part, {"x-amz-checksum-crc32": crc32_b64(b"other")})
    assert (r.status_code, code(r)) == (400, "BadDigest"), r.text
    r = signed(s, key, "GET", f"/{B}/mp/digest?uploadId={uid}")
    assert r.status_code == 200 and "<Part>" not in r.text, r.text
    u = s.cli_json("usage", B)["usage"]
    assert u["multipart_bytes"] == 0, u
    assert signed(s, key, "DELETE", f"/{B}/mp/digest?uploadId={uid}").status_code == 204


def test_malformed_xml_bodies(ctx):
    s, sp, key = ctx
    B = sp["bucket"]
    r = signed(s, key, "POST", f"/{B}?delete", b"<Delete><Object><Key>x</Key></Obj", {"Content-MD5": base64.b64encode(hashlib.md5(b"<Delete><Object><Key>x</Key></Obj").digest()).decode()})
    assert (r.status_code, code(r)) == (400, "MalformedXML"), r.text
    up = signed(s, key, "POST", f"/{B}/mp/x?uploads")
    assert up.status_code == 200
    uid = up.text.split("<UploadId>")[1].split("</UploadId>")[0]
    r = signed(s, key, "POST", f"/{B}/mp/x?uploadId={uid}", b"<CompleteMultipartUpload><Part>")
    assert (r.status_code, code(r)) == (400, "MalformedXML"), r.text
    r = signed(s, key, "POST", f"/{B}/mp/x?uploadId={uid}", b"<CompleteMultipartUpload></CompleteMultipartUpload>")
    assert r.status_code == 400 and code(r) in ("MalformedXML", "InvalidPart"), r.text
    assert signed(s, key, "HEAD", f"/{B}/mp/x").status_code == 404
    r = signed(s, key, "POST", f"/{B}/mp/x?uploadId=00000000000000000000000000000000", b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>")
    assert (r.status_code, code(r)) == (404, "NoSuchUpload"), r.text


@pytest.mark.parametrize("bad_key,expect", [
    ("a%00b", "InvalidArgument"),
    ("dir/./x", "InvalidArgument"),
    ("k" * 1025, "KeyTooLongError"),
])
def test_bad_keys(ctx, bad_key, expect):
    s, sp, key = ctx
    before = objects_on_disk(s)
    r = signed(s, key, "PUT", f"/{sp['bucket']}/{bad_key}", b"x")
    assert r.status_code == 400 and code(r) == expect, (r.status_code, r.text)
    assert objects_on_disk(s) == before


def test_unknown_subresources_not_implemented(ctx):
    s, sp, key = ctx
    B = sp["bucket"]
    # (acl is answered: ACLs are disabled as with "bucket owner enforced", see test_conformance.)
    for q in ["policy", "logging", "replication", "tagging", "website"]:
        r = signed(s, key, "GET", f"/{B}?{q}")
        assert (r.status_code, code(r)) == (501, "NotImplemented"), (q, r.status_code, r.text)
    r = signed(s, key, "PUT", f"/{B}?policy", b"{}")
    assert (r.status_code, code(r)) == (501, "NotImplemented")


def test_unsigned_and_bad_signatures(ctx):
    s, sp, key = ctx
    r = requests.get(f"{s.url}/{sp['bucket']}/x", timeout=10)
    assert (r.status_code, code(r)) == (403, "AccessDenied")
    r = signed(s, {"access_key_id": "RS3NOSUCHKEY00000000", "secret_access_key": "x"}, "GET", f"/{sp['bucket']}/x")
    assert (r.status_code, code(r)) == (403, "InvalidAccessKeyId")
    r = signed(s, {"access_key_id": key["access_key_id"], "secret_access_key": "wrong"}, "GET", f"/{sp['bucket']}/x")
    assert (r.status_code, code(r)) == (403, "SignatureDoesNotMatch")
    # A signature dated 20 minutes ago is outside the 15-minute window.
    import datetime
    from unittest import mock

    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    with mock.patch("botocore.auth.get_current_datetime", return_value=old.replace(tzinfo=None)):
        r = signed(s, key, "GET", f"/{sp['bucket']}/x")
    assert r.status_code == 403 and code(r) in ("RequestTimeTooSkewed", "AccessDenied"), r.text


def test_oversized_headers_rejected(ctx):
    s, sp, key = ctx
    with socket.create_connection(("127.0.0.1", s.port)) as c:
        req = f"GET /{sp['bucket']}/x HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(f"X-Junk-{i}: {'a' * 8000}\r\n" for i in range(100)) + "\r\n"
        c.sendall(req.encode())
        c.settimeout(10)
        resp = c.recv(200)
    assert resp.startswith(b"HTTP/1.1 431") or resp.startswith(b"HTTP/1.1 400"), resp
    assert requests.get(f"{s.url}/healthz", timeout=5).status_code == 200


def test_refused_expect_continue_closes_the_connection(ctx):
    """A PUT refused before its body is read must not leave the body's length to be drained
    from the client's next request on the same connection (boto3 saw headerless 403s and
    SignatureDoesNotMatch after a refused PUT): the answer says `Connection: close` and the
    edge closes, while a refusal of a request without Expect keeps the connection."""
    s, sp, key = ctx
    with socket.create_connection(("127.0.0.1", s.port)) as c:
        c.settimeout(10)
        c.sendall(
            f"PUT /{sp['bucket']}/refused HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        data = b""
        while b"</Error>" not in data:
            chunk = c.recv(4096)
            assert chunk, data
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].lower()
        assert head.startswith(b"http/1.1 403"), data
        assert b"\r\nconnection: close" in head, data
        assert b"100 continue" not in head, data
        # The client holds its body back, as boto3 does; the edge still ends the connection.
        assert c.recv(4096) == b"", "the connection stayed open"
    with socket.create_connection(("127.0.0.1", s.port)) as c:
        c.settimeout(10)
        c.sendall(f"GET /{sp['bucket']}/refused HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        data = c.recv(4096).lower()
        assert data.startswith(b"http/1.1 403") and b"connection: close" not in data.split(b"\r\n\r\n", 1)[0], data


def test_declared_length_beyond_5gib(ctx):
    """Rejected from the headers alone: the 6 GiB body is never sent."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    s, sp, key = ctx
    path = f"/{sp['bucket']}/huge"
    req = AWSRequest(method="PUT", url=s.url + path, data=b"", headers={"Content-Length": str(6 * 1024**3)})
    S3SigV4Auth(Credentials(key["access_key_id"], key["secret_access_key"]), "s3", "us-east-1").add_auth(req)
    head = f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in req.headers.items() if k.lower() != "host") + "\r\n"
    with socket.create_connection(("127.0.0.1", s.port)) as c:
        c.sendall(head.encode())
        c.settimeout(10)
        resp = c.recv(4096)
    assert resp.startswith(b"HTTP/1.1 400") and b"EntityTooLarge" in resp, resp
    assert signed(s, key, "HEAD", path).status_code == 404


def test_streaming_chunk_signatures(both):
    from s3raw import put_signed_chunks

    s, sp, key = both
    data = b"chunk-signed payload " * 20000
    r = put_signed_chunks(s, key, f"/{sp['bucket']}/chunks/good", data)
    assert r.status_code == 200, r.text
    assert signed(s, key, "GET", f"/{sp['bucket']}/chunks/good").content == data
    r = put_signed_chunks(s, key, f"/{sp['bucket']}/chunks/bad", data, tamper=True)
    assert r.status_code == 403 and code(r) == "SignatureDoesNotMatch", r.text
    assert signed(s, key, "HEAD", f"/{sp['bucket']}/chunks/bad").status_code == 404


def test_unsigned_payload(ctx):
    from s3raw import put_unsigned_payload

    s, sp, key = ctx
    r = put_unsigned_payload(s, key, f"/{sp['bucket']}/unsigned/x", b"not hashed by the client")
    assert r.status_code == 200, r.text
    assert signed(s, key, "GET", f"/{sp['bucket']}/unsigned/x").content == b"not hashed by the client"


def test_error_documents_carry_the_request_id(ctx):
    """Every S3 error names its request (`<RequestId>` equal to `x-amz-request-id`), whichever
    layer refused it: the raw-request check, authentication, or the operation."""
    import re
    import boto3
    import botocore

    s, sp, key = ctx
    refusals = [
        requests.get(f"{s.url}/{sp['bucket']}/x", timeout=10),  # unsigned
        signed(s, {"access_key_id": key["access_key_id"], "secret_access_key": "wrong"}, "GET", f"/{sp['bucket']}/x"),
        signed(s, key, "GET", f"/{sp['bucket']}/no-such-key"),
        signed(s, key, "GET", f"/{sp['bucket']}/x?torrent"),  # refused before s3s routes it
    ]
    for r in refusals:
        assert r.status_code >= 400, r.text
        ids = re.findall(r"<RequestId>([^<]*)</RequestId>", r.text)
        assert ids == [r.headers["x-amz-request-id"]], (r.status_code, r.text)
        if "Content-Length" in r.headers:
            assert int(r.headers["Content-Length"]) == len(r.content)
    c = boto3.client("s3", endpoint_url=s.url, aws_access_key_id=key["access_key_id"],
                     aws_secret_access_key=key["secret_access_key"], region_name="us-east-1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.head_object(Bucket=sp["bucket"], Key="missing")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.get_object(Bucket=sp["bucket"], Key="missing")
    meta = e.value.response["ResponseMetadata"]
    assert meta["RequestId"] == meta["HTTPHeaders"]["x-amz-request-id"]
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
