"""S3 object-level behaviour that clients beyond aws-cli, rclone and s3cmd rely on (issue 18),
with boto3 on both backends."""

import json
import re
import threading
import uuid

import botocore
import requests
import pytest

MiB = 1024 * 1024


def err(fn):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn()
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def test_conditional_put_takes_a_lock_file_once(server):
    """Terraform's S3 backend (`use_lockfile`) creates its lock with If-None-Match: *."""
    sp = server.new_space()
    b = sp["bucket"]
    c = server.s3(server.new_key(sp))
    first = c.put_object(Bucket=b, Key="state.tflock", Body=b"holder-1", IfNoneMatch="*")
    assert err(lambda: c.put_object(Bucket=b, Key="state.tflock", Body=b"holder-2", IfNoneMatch="*")) == ("PreconditionFailed", 412)
    assert c.get_object(Bucket=b, Key="state.tflock")["Body"].read() == b"holder-1", "the refused write stored nothing"
    usage = server.cli_json("usage", b)["usage"]
    assert (usage["objects"], usage["bytes"]) == (1, len(b"holder-1")), "a refused write is not counted"

    # If-Match replaces only the version that was read; on a missing key it is 404, as S3 does.
    etag = first["ETag"]
    assert err(lambda: c.put_object(Bucket=b, Key="state.tflock", Body=b"x", IfMatch='"0123"')) == ("PreconditionFailed", 412)
    second = c.put_object(Bucket=b, Key="state.tflock", Body=b"holder-1b", IfMatch=etag)
    assert err(lambda: c.put_object(Bucket=b, Key="state.tflock", Body=b"y", IfMatch=etag)) == ("PreconditionFailed", 412)
    assert c.get_object(Bucket=b, Key="state.tflock", IfMatch=second["ETag"])["Body"].read() == b"holder-1b"
    assert err(lambda: c.put_object(Bucket=b, Key="never-written", Body=b"z", IfMatch=etag)) == ("NoSuchKey", 404)
    # If-None-Match with an ETag: not over that version.
    assert err(lambda: c.put_object(Bucket=b, Key="state.tflock", Body=b"w", IfNoneMatch=second["ETag"])) == ("PreconditionFailed", 412)
    c.put_object(Bucket=b, Key="state.tflock", Body=b"holder-1c", IfNoneMatch=etag)
    # Released: the lock file can be removed and taken again.
    c.delete_object(Bucket=b, Key="state.tflock")
    c.put_object(Bucket=b, Key="state.tflock", Body=b"holder-3", IfNoneMatch="*")
    ops = [e for e in server.cli_json("audit", "--space", b, "--operation", "PutObject", "--limit", "100")["events"]]
    assert any(e["status"] == "PreconditionFailed" for e in ops), "refusals are audited"


def test_concurrent_conditional_creates_have_one_winner(server):
    sp = server.new_space()
    b = sp["bucket"]
    key = server.new_key(sp)
    clients = [server.s3(key) for _ in range(12)]
    results = [None] * len(clients)
    start = threading.Barrier(len(clients))

    def race(i):
        start.wait()
        try:
            clients[i].put_object(Bucket=b, Key="lock", Body=f"writer {i}".encode() * 1000, IfNoneMatch="*")
            results[i] = "ok"
        except botocore.exceptions.ClientError as e:
            results[i] = e.response["Error"]["Code"]

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1, results
    assert set(results) <= {"ok", "PreconditionFailed", "ConditionalRequestConflict"}, results
    winner = results.index("ok")
    assert clients[0].get_object(Bucket=b, Key="lock")["Body"].read() == f"writer {winner}".encode() * 1000
    usage = server.cli_json("usage", b)["usage"]
    assert (usage["objects"], usage["bytes"]) == (1, len(f"writer {winner}".encode()) * 1000)


def test_conditional_complete_multipart_upload(server):
    sp = server.new_space()
    b = sp["bucket"]
    c = server.s3(server.new_key(sp))

    def upload(key, data, **cond):
        u = c.create_multipart_upload(Bucket=b, Key=key)["UploadId"]
        p = c.upload_part(Bucket=b, Key=key, UploadId=u, PartNumber=1, Body=data)
        parts = {"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]}
        return u, lambda: c.complete_multipart_upload(Bucket=b, Key=key, UploadId=u, MultipartUpload=parts, **cond)

    _, done = upload("big.bin", b"a" * MiB, IfNoneMatch="*")
    first = done()
    u2, again = upload("big.bin", b"b" * MiB, IfNoneMatch="*")
    assert err(again) == ("PreconditionFailed", 412)
    assert c.get_object(Bucket=b, Key="big.bin")["Body"].read() == b"a" * MiB
    # The refused upload is still open: it can be aborted and its parts stop counting.
    c.abort_multipart_upload(Bucket=b, Key="big.bin", UploadId=u2)
    _, replace = upload("big.bin", b"c" * MiB, IfMatch=first["ETag"])
    replace()
    assert c.get_object(Bucket=b, Key="big.bin")["Body"].read() == b"c" * MiB
    usage = server.cli_json("usage", b)["usage"]
    assert (usage["objects"], usage["bytes"], usage["multipart_bytes"]) == (1, MiB, 0), usage
    _, missing = upload(f"m{uuid.uuid4().hex}", b"d" * 10, IfMatch=first["ETag"])
    assert err(missing) == ("NoSuchKey", 404)


def test_complete_multipart_upload_retried_after_success_answers_the_same(server):
    """A client that lost the answer to its completion (a timeout, a dropped connection) asks
    again; S3 answers 200 with the same ETag rather than NoSuchUpload."""
    sp = server.new_space()
    b = sp["bucket"]
    c = server.s3(server.new_key(sp))
    u = c.create_multipart_upload(Bucket=b, Key="r.bin")["UploadId"]
    parts = []
    for n in (1, 2):
        p = c.upload_part(Bucket=b, Key="r.bin", UploadId=u, PartNumber=n, Body=bytes([n]) * (5 * MiB if n == 1 else 10))
        parts.append({"PartNumber": n, "ETag": p["ETag"]})
    done = c.complete_multipart_upload(Bucket=b, Key="r.bin", UploadId=u, MultipartUpload={"Parts": parts})
    again = c.complete_multipart_upload(Bucket=b, Key="r.bin", UploadId=u, MultipartUpload={"Parts": parts})
    assert again["ETag"] == done["ETag"] and done["ETag"].endswith('-2"'), (done, again)
    usage = server.cli_json("usage", b)["usage"]
    assert (usage["objects"], usage["bytes"], usage["multipart_bytes"]) == (1, 5 * MiB + 10, 0), "the retry changed nothing"
    # Only for the same key, and never another space's: the upload id alone proves nothing.
    assert err(lambda: c.complete_multipart_upload(Bucket=b, Key="other.bin", UploadId=u, MultipartUpload={"Parts": parts})) == ("NoSuchUpload", 404)
    other = server.new_space()
    oc = server.s3(server.new_key(other))
    assert err(lambda: oc.complete_multipart_upload(Bucket=other["bucket"], Key="r.bin", UploadId=u, MultipartUpload={"Parts": parts})) == ("NoSuchUpload", 404)
    # An aborted upload is not a completed one.
    u2 = c.create_multipart_upload(Bucket=b, Key="gone.bin")["UploadId"]
    c.abort_multipart_upload(Bucket=b, Key="gone.bin", UploadId=u2)
    assert err(lambda: c.complete_multipart_upload(Bucket=b, Key="gone.bin", UploadId=u2, MultipartUpload={"Parts": parts})) == ("NoSuchUpload", 404)


def test_upload_part_copy_range_must_lie_within_the_source(server):
    sp = server.new_space()
    b = sp["bucket"]
    c = server.s3(server.new_key(sp))
    c.put_object(Bucket=b, Key="src", Body=b"0123456789")
    u = c.create_multipart_upload(Bucket=b, Key="dst")["UploadId"]
    src = {"Bucket": b, "Key": "src"}
    for bad in ("bytes=5-10", "bytes=10-12", "bytes=100-200"):
        assert err(lambda: c.upload_part_copy(Bucket=b, Key="dst", UploadId=u, PartNumber=1, CopySource=src, CopySourceRange=bad)) == ("InvalidRange", 400), bad
    for bad in ("bytes=5-", "bytes=-3", "bytes=7-2", "5-6"):
        assert err(lambda: c.upload_part_copy(Bucket=b, Key="dst", UploadId=u, PartNumber=1, CopySource=src, CopySourceRange=bad))[1] == 400, bad
    assert server.cli_json("usage", b)["usage"]["multipart_bytes"] == 0, "nothing was stored"
    p = c.upload_part_copy(Bucket=b, Key="dst", UploadId=u, PartNumber=1, CopySource=src, CopySourceRange="bytes=2-9")
    c.complete_multipart_upload(Bucket=b, Key="dst", UploadId=u, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["CopyPartResult"]["ETag"]}]})
    assert c.get_object(Bucket=b, Key="dst")["Body"].read() == b"23456789"


def test_acls_are_disabled_as_with_bucket_owner_enforced(server):
    """Modern S3 buckets have ACLs disabled: reads show the owner's full control, an ACL that
    would grant anything else is 400 AccessControlListNotSupported, and nothing is stored."""
    sp = server.new_space()
    b = sp["bucket"]
    c = server.s3(server.new_key(sp))
    c.put_object(Bucket=b, Key="a.txt", Body=b"a", ACL="private")
    c.put_object(Bucket=b, Key="b.txt", Body=b"b", ACL="bucket-owner-full-control")
    for acl in ("public-read", "public-read-write", "authenticated-read"):
        assert err(lambda: c.put_object(Bucket=b, Key="pub.txt", Body=b"p", ACL=acl)) == ("AccessControlListNotSupported", 400), acl
    assert err(lambda: c.put_object(Bucket=b, Key="pub.txt", Body=b"p", GrantRead='uri="http://acs.amazonaws.com/groups/global/AllUsers"')) == ("AccessControlListNotSupported", 400)
    assert err(lambda: c.copy_object(Bucket=b, Key="pub.txt", CopySource={"Bucket": b, "Key": "a.txt"}, ACL="public-read")) == ("AccessControlListNotSupported", 400)
    assert err(lambda: c.create_multipart_upload(Bucket=b, Key="pub.txt", ACL="public-read")) == ("AccessControlListNotSupported", 400)
    assert "Contents" not in c.list_objects_v2(Bucket=b, Prefix="pub"), "nothing was stored"
    assert c.list_multipart_uploads(Bucket=b).get("Uploads", []) == []
    assert server.cli_json("usage", b)["usage"]["objects"] == 2

    for acl in (c.get_bucket_acl(Bucket=b), c.get_object_acl(Bucket=b, Key="a.txt")):
        assert [(g["Grantee"]["Type"], g["Permission"]) for g in acl["Grants"]] == [("CanonicalUser", "FULL_CONTROL")], acl
        assert acl["Grants"][0]["Grantee"]["ID"] == acl["Owner"]["ID"]
    assert err(lambda: c.get_object_acl(Bucket=b, Key="missing.txt")) == ("NoSuchKey", 404)
    rules = c.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    c.put_object_acl(Bucket=b, Key="a.txt", ACL="private")
    c.put_bucket_acl(Bucket=b, ACL="private")
    assert err(lambda: c.put_object_acl(Bucket=b, Key="a.txt", ACL="public-read")) == ("AccessControlListNotSupported", 400)
    assert err(lambda: c.put_bucket_acl(Bucket=b, ACL="public-read")) == ("AccessControlListNotSupported", 400)
    owner = c.get_bucket_acl(Bucket=b)["Owner"]
    policy = {"Owner": owner, "Grants": [{"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"}]}
    assert err(lambda: c.put_object_acl(Bucket=b, Key="a.txt", AccessControlPolicy=policy)) == ("AccessControlListNotSupported", 400)
    own = {"Owner": owner, "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"}]}
    c.put_object_acl(Bucket=b, Key="a.txt", AccessControlPolicy=own)

    # A read-only key reads ACLs but may not set one, even a harmless one.
    ro = server.s3(server.new_key(sp, mode="read-only"))
    assert ro.get_object_acl(Bucket=b, Key="a.txt")["Grants"]
    assert err(lambda: ro.put_object_acl(Bucket=b, Key="a.txt", ACL="private")) == ("AccessDenied", 403)
    assert err(lambda: ro.put_bucket_acl(Bucket=b, ACL="private")) == ("AccessDenied", 403)
    # Another tenant's key sees nothing of this bucket's ACLs.
    other = server.new_space()
    oc = server.s3(server.new_key(other))
    assert err(lambda: oc.get_bucket_acl(Bucket=b))[1] == 403
    assert err(lambda: oc.get_object_acl(Bucket=b, Key="a.txt"))[1] == 403


def test_standard_headers_are_stored_and_returned(server):
    import datetime
    sp = server.new_space()
    b = sp["bucket"]
    c = server.s3(server.new_key(sp))
    expires = datetime.datetime(2037, 1, 1, 12, 30, tzinfo=datetime.timezone.utc)
    headers = dict(ContentType="text/plain; charset=utf-8", CacheControl="public, max-age=60", ContentDisposition='attachment; filename="r.txt"',
                   ContentLanguage="de-CH", ContentEncoding="identity", Expires=expires)
    c.put_object(Bucket=b, Key="r.txt", Body=b"hallo", **headers)
    u = c.create_multipart_upload(Bucket=b, Key="m.txt", **headers)["UploadId"]
    p = c.upload_part(Bucket=b, Key="m.txt", UploadId=u, PartNumber=1, Body=b"hallo")
    c.complete_multipart_upload(Bucket=b, Key="m.txt", UploadId=u, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
    c.copy_object(Bucket=b, Key="c.txt", CopySource={"Bucket": b, "Key": "r.txt"})
    c.copy_object(Bucket=b, Key="d.txt", CopySource={"Bucket": b, "Key": "r.txt"}, MetadataDirective="REPLACE", ContentLanguage="fr", ContentType="text/plain")
    for key in ("r.txt", "m.txt", "c.txt"):
        for got in (c.head_object(Bucket=b, Key=key), c.get_object(Bucket=b, Key=key)):
            h = got["ResponseMetadata"]["HTTPHeaders"]
            assert tuple(h.get(n) for n in ("content-type", "cache-control", "content-disposition", "content-language", "content-encoding")) == (
                "text/plain; charset=utf-8", "public, max-age=60", 'attachment; filename="r.txt"', "de-CH", "identity"), (key, h)
            assert h.get("expires") == "Thu, 01 Jan 2037 12:30:00 GMT", (key, h)
    d = c.head_object(Bucket=b, Key="d.txt")["ResponseMetadata"]["HTTPHeaders"]
    assert d["content-language"] == "fr" and "expires" not in d and "cache-control" not in d, d
    # A GET may override them, as S3's response-* parameters do.
    g = c.get_object(Bucket=b, Key="r.txt", ResponseContentLanguage="en", ResponseExpires=datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc))
    assert g["ResponseMetadata"]["HTTPHeaders"]["content-language"] == "en"
    assert g["ResponseMetadata"]["HTTPHeaders"]["expires"] == "Tue, 01 Jan 2030 00:00:00 GMT"


def test_listing_details(server):
    """ListObjects V1 always carries a Marker and each object's Owner; V2 names owners only with
    fetch-owner=true; an empty delimiter is no delimiter and is not echoed."""
    from s3raw import signed
    sp = server.new_space()
    b = sp["bucket"]
    key = server.new_key(sp)
    c = server.s3(key)
    for k in ("a/1", "a/2", "b"):
        c.put_object(Bucket=b, Key=k, Body=b"x")
    v1 = c.list_objects(Bucket=b)
    assert v1["Marker"] == "" and all(o["Owner"]["ID"] for o in v1["Contents"]), v1
    assert "Owner" not in c.list_objects_v2(Bucket=b)["Contents"][0]
    owned = c.list_objects_v2(Bucket=b, FetchOwner=True)["Contents"]
    assert [o["Owner"]["ID"] for o in owned] == [v1["Contents"][0]["Owner"]["ID"]] * 3
    for path in (f"/{b}?delimiter=", f"/{b}?list-type=2&delimiter="):
        r = signed(server, key, "GET", path)
        assert r.status_code == 200 and "<Delimiter>" not in r.text and r.text.count("<Key>") == 3, r.text
    # encoding-type=url: V1 encodes Delimiter, Marker, NextMarker, Key and CommonPrefixes but
    # leaves Prefix as sent; V2 encodes Prefix too (what botocore decodes for each).
    c.put_object(Bucket=b, Key="dir é/x y", Body=b"x")
    r = signed(server, key, "GET", f"/{b}?encoding-type=url&prefix=dir%20%C3%A9%2F")
    assert "<Prefix>dir é/</Prefix>" in r.text and "<Key>dir%20%C3%A9/x%20y</Key>" in r.text, r.text
    r = signed(server, key, "GET", f"/{b}?encoding-type=url&prefix=dir%20%C3%A9%2F&delimiter=%20")
    assert "<Prefix>dir é/</Prefix>" in r.text, r.text
    assert "<Delimiter>%20</Delimiter>" in r.text and "<Prefix>dir%20%C3%A9/x%20</Prefix>" in r.text, r.text
    r = signed(server, key, "GET", f"/{b}?list-type=2&encoding-type=url&prefix=dir%20%C3%A9%2F")
    assert "<Prefix>dir%20%C3%A9/</Prefix>" in r.text, r.text
    # boto3 asks for encoding-type=url by itself and decodes what S3 encodes: a V1 Prefix that
    # came back encoded would reach the caller as "dir%20%C3%A9/".
    for got in (c.list_objects(Bucket=b, Prefix="dir é/"), c.list_objects_v2(Bucket=b, Prefix="dir é/")):
        assert got["Prefix"] == "dir é/" and got["Contents"][0]["Key"] == "dir é/x y", got


def test_bad_digest_and_presigned_lifetime_inputs(server):
    from s3raw import code, signed
    sp = server.new_space()
    b = sp["bucket"]
    key = server.new_key(sp)
    r = signed(server, key, "PUT", f"/{b}/empty-md5", body=b"data", headers={"Content-MD5": ""})
    assert (r.status_code, code(r)) == (400, "InvalidDigest"), r.text
    assert "<RequestId>" in r.text and r.headers["x-amz-request-id"] in r.text
    c = server.s3(key)
    assert "Contents" not in c.list_objects_v2(Bucket=b), "nothing stored"
    c.put_object(Bucket=b, Key="k", Body=b"v")
    url = c.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "k"}, ExpiresIn=60)
    import re
    import requests
    for bad in ("-1", "abc", ""):
        r = requests.get(re.sub(r"X-Amz-Expires=\d+", f"X-Amz-Expires={bad}", url), timeout=10)
        assert (r.status_code, code(r)) == (403, "AuthorizationQueryParametersError"), (bad, r.text)


def test_sigv4_dated_by_the_date_header_is_accepted(server):
    from s3raw import code, signed_with_date
    sp = server.new_space()
    b = sp["bucket"]
    key = server.new_key(sp)
    r = signed_with_date(server, key, "PUT", f"/{b}/dated.txt", body=b"by Date")
    assert r.status_code == 200, r.text
    r = signed_with_date(server, key, "GET", f"/{b}/dated.txt")
    assert (r.status_code, r.content) == (200, b"by Date"), r.text
    # The signature still covers the Date it was made with.
    wrong = dict(key, secret_access_key="x" * 40)
    r = signed_with_date(server, wrong, "GET", f"/{b}/dated.txt")
    assert (r.status_code, code(r)) == (403, "SignatureDoesNotMatch"), r.text


def test_checksums_are_echoed_and_returned_only_when_asked(server):
    import base64
    import hashlib
    from s3raw import signed
    sp = server.new_space()
    b = sp["bucket"]
    key = server.new_key(sp)
    c = server.s3(key)
    data = b"checked"
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    c.put_object(Bucket=b, Key="k", Body=data, ChecksumSHA256=sha)
    # boto3 asks by default; a raw request that does not ask gets none.
    for method in ("HEAD", "GET"):
        r = signed(server, key, method, f"/{b}/k")
        assert r.status_code == 200 and "x-amz-checksum-sha256" not in r.headers, (method, dict(r.headers))
    for got in (c.head_object(Bucket=b, Key="k", ChecksumMode="ENABLED"), c.get_object(Bucket=b, Key="k", ChecksumMode="ENABLED")):
        assert got["ChecksumSHA256"] == sha
    u = c.create_multipart_upload(Bucket=b, Key="m", ChecksumAlgorithm="SHA256")
    assert u["ChecksumAlgorithm"] == "SHA256"
    assert u["ResponseMetadata"]["HTTPHeaders"]["x-amz-checksum-algorithm"] == "SHA256"
    c.abort_multipart_upload(Bucket=b, Key="m", UploadId=u["UploadId"])


def test_reserved_metadata_names_are_refused(server):
    sp = server.new_space()
    b = sp["bucket"]
    c = server.s3(server.new_key(sp))
    forged = {"rustshare-checksum-sha256": "AAAA"}
    assert err(lambda: c.put_object(Bucket=b, Key="f", Body=b"x", Metadata=forged)) == ("InvalidArgument", 400)
    assert err(lambda: c.create_multipart_upload(Bucket=b, Key="f", Metadata=forged)) == ("InvalidArgument", 400)
    c.put_object(Bucket=b, Key="g", Body=b"x", Metadata={"build": "1"})
    assert c.head_object(Bucket=b, Key="g")["Metadata"] == {"build": "1"}, "the store's own names never show"


def test_get_and_head_by_part_number(server):
    """Parallel downloaders (the AWS CRT, s5cmd) fetch a multipart object part by part."""
    sp = server.new_space()
    b = sp["bucket"]
    c = server.s3(server.new_key(sp))
    sizes = [5 * MiB, 5 * MiB + 7, 1234]
    u = c.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    parts = []
    for n, size in enumerate(sizes, 1):
        p = c.upload_part(Bucket=b, Key="mp", UploadId=u, PartNumber=n, Body=bytes([n]) * size)
        parts.append({"PartNumber": n, "ETag": p["ETag"]})
    c.complete_multipart_upload(Bucket=b, Key="mp", UploadId=u, MultipartUpload={"Parts": parts})
    total = sum(sizes)
    start = 0
    for n, size in enumerate(sizes, 1):
        h = c.head_object(Bucket=b, Key="mp", PartNumber=n)
        assert (h["ContentLength"], h["PartsCount"]) == (size, 3), h
        g = c.get_object(Bucket=b, Key="mp", PartNumber=n)
        assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert g["ContentRange"] == f"bytes {start}-{start + size - 1}/{total}" and g["PartsCount"] == 3
        assert g["Body"].read() == bytes([n]) * size
        start += size
    assert err(lambda: c.get_object(Bucket=b, Key="mp", PartNumber=4)) == ("InvalidPartNumber", 416)
    assert err(lambda: c.get_object(Bucket=b, Key="mp", PartNumber=1, Range="bytes=0-1"))[1] == 400
    # An object stored in one piece has one part: itself.
    c.put_object(Bucket=b, Key="single", Body=b"whole")
    g = c.get_object(Bucket=b, Key="single", PartNumber=1)
    assert g["Body"].read() == b"whole" and "PartsCount" not in g
    assert err(lambda: c.head_object(Bucket=b, Key="single", PartNumber=2))[1] == 416


def test_get_object_attributes(server):
    sp = server.new_space()
    b = sp["bucket"]
    c = server.s3(server.new_key(sp))
    sizes = [5 * MiB, 5 * MiB, 10]
    u = c.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    parts = [{"PartNumber": n, "ETag": c.upload_part(Bucket=b, Key="mp", UploadId=u, PartNumber=n, Body=b"p" * size)["ETag"]}
             for n, size in enumerate(sizes, 1)]
    done = c.complete_multipart_upload(Bucket=b, Key="mp", UploadId=u, MultipartUpload={"Parts": parts})
    every = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]
    a = c.get_object_attributes(Bucket=b, Key="mp", ObjectAttributes=every, MaxParts=2)
    assert a["ETag"].strip('"') == done["ETag"].strip('"') and a["ObjectSize"] == sum(sizes) and a["StorageClass"] == "STANDARD"
    p = a["ObjectParts"]
    assert (p["TotalPartsCount"], p["IsTruncated"], p["NextPartNumberMarker"]) == (3, True, 2), p
    assert [(x["PartNumber"], x["Size"]) for x in p["Parts"]] == [(1, 5 * MiB), (2, 5 * MiB)]
    rest = c.get_object_attributes(Bucket=b, Key="mp", ObjectAttributes=["ObjectParts"], PartNumberMarker=2)["ObjectParts"]
    assert [(x["PartNumber"], x["Size"]) for x in rest["Parts"]] == [(3, 10)] and not rest["IsTruncated"]
    # Only what was asked for; an object in one piece has no parts.
    c.put_object(Bucket=b, Key="one", Body=b"12345")
    one = c.get_object_attributes(Bucket=b, Key="one", ObjectAttributes=["ObjectSize"])
    assert one["ObjectSize"] == 5 and "ETag" not in one and "ObjectParts" not in one
    assert "ObjectParts" not in c.get_object_attributes(Bucket=b, Key="one", ObjectAttributes=["ObjectParts"])
    assert err(lambda: c.get_object_attributes(Bucket=b, Key="none", ObjectAttributes=["ETag"])) == ("NoSuchKey", 404)
    # A write-only key may not read attributes.
    wo = server.s3(server.new_key(sp, mode="write-only"))
    assert err(lambda: wo.get_object_attributes(Bucket=b, Key="one", ObjectAttributes=["ETag"]))[1] == 403


def tagset(c, b, k):
    return {t["Key"]: t["Value"] for t in c.get_object_tagging(Bucket=b, Key=k)["TagSet"]}


def test_object_tagging(server):
    """Put/Get/DeleteObjectTagging, x-amz-tagging on writes, the copy directive, the count on
    GET and HEAD, S3's limits; tagging needs a mode that may write."""
    sp = server.new_space()
    b = sp["bucket"]
    rw = server.new_key(sp)
    c = server.s3(rw)
    c.put_object(Bucket=b, Key="build.tar", Body=b"x" * 10, Tagging="env=prod&team=web%20site")
    assert tagset(c, b, "build.tar") == {"env": "prod", "team": "web site"}
    assert c.get_object(Bucket=b, Key="build.tar")["TagCount"] == 2
    head = c.head_object(Bucket=b, Key="build.tar")
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "2"

    # Replacing tags keeps the bytes and the ETag; deleting them answers 204 and drops the count.
    c.put_object_tagging(Bucket=b, Key="build.tar", Tagging={"TagSet": [{"Key": "retain", "Value": "30d"}]})
    assert tagset(c, b, "build.tar") == {"retain": "30d"}
    assert c.head_object(Bucket=b, Key="build.tar")["ETag"] == head["ETag"]
    d = c.delete_object_tagging(Bucket=b, Key="build.tar")
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert tagset(c, b, "build.tar") == {}
    assert "TagCount" not in c.get_object(Bucket=b, Key="build.tar")
    assert "x-amz-tagging-count" not in c.head_object(Bucket=b, Key="build.tar")["ResponseMetadata"]["HTTPHeaders"]

    # An overwrite carries only its own tags.
    c.put_object(Bucket=b, Key="t", Body=b"1", Tagging="a=1")
    c.put_object(Bucket=b, Key="t", Body=b"2")
    assert tagset(c, b, "t") == {}

    # Copies take the source's tags, or the request's with REPLACE.
    c.put_object(Bucket=b, Key="src", Body=b"s", Tagging="a=1&b=2")
    c.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "src"})
    assert tagset(c, b, "copy") == {"a": "1", "b": "2"}
    c.copy_object(Bucket=b, Key="copy2", CopySource={"Bucket": b, "Key": "src"}, TaggingDirective="REPLACE", Tagging="c=3")
    assert tagset(c, b, "copy2") == {"c": "3"}

    # A multipart upload's tags arrive with its completion.
    up = c.create_multipart_upload(Bucket=b, Key="big", Tagging="kind=release")
    p = c.upload_part(Bucket=b, Key="big", UploadId=up["UploadId"], PartNumber=1, Body=b"p" * 100)
    c.complete_multipart_upload(Bucket=b, Key="big", UploadId=up["UploadId"],
                                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
    assert tagset(c, b, "big") == {"kind": "release"}

    # S3's limits: 10 tags, keys of 128 and values of 256 characters, unique keys.
    ten = [{"Key": f"k{i}", "Value": "v"} for i in range(10)]
    c.put_object_tagging(Bucket=b, Key="t", Tagging={"TagSet": ten})
    assert len(tagset(c, b, "t")) == 10
    for bad in (
        ten + [{"Key": "k10", "Value": "v"}],
        [{"Key": "k" * 129, "Value": "v"}],
        [{"Key": "k", "Value": "v" * 257}],
        [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}],
    ):
        assert err(lambda: c.put_object_tagging(Bucket=b, Key="t", Tagging={"TagSet": bad})) == ("InvalidTag", 400)
    assert len(tagset(c, b, "t")) == 10, "a refused tag set changed nothing"
    c.put_object_tagging(Bucket=b, Key="t", Tagging={"TagSet": [{"Key": "k" * 128, "Value": "v" * 256}]})
    eleven = "&".join(f"k{i}=v" for i in range(11))
    assert err(lambda: c.put_object(Bucket=b, Key="refused", Body=b"r", Tagging=eleven)) == ("InvalidTag", 400)
    assert err(lambda: c.head_object(Bucket=b, Key="refused")) == ("404", 404), "a refused write stored nothing"
    assert err(lambda: c.get_object_tagging(Bucket=b, Key="missing")) == ("NoSuchKey", 404)
    assert err(lambda: c.put_object_tagging(Bucket=b, Key="missing", Tagging={"TagSet": []})) == ("NoSuchKey", 404)

    # Tagging needs write: a read-only key reads tags and cannot change them.
    ro = server.s3(server.new_key(sp, mode="read-only"))
    assert tagset(ro, b, "src") == {"a": "1", "b": "2"}
    assert err(lambda: ro.put_object_tagging(Bucket=b, Key="src", Tagging={"TagSet": []}))[1] == 403
    assert err(lambda: ro.delete_object_tagging(Bucket=b, Key="src"))[1] == 403
    assert tagset(c, b, "src") == {"a": "1", "b": "2"}
    # A key limited to a prefix cannot see or change tags outside it.
    pre = server.s3(server.new_key(sp, prefix="other/"))
    assert err(lambda: pre.get_object_tagging(Bucket=b, Key="src"))[1] == 403
    assert err(lambda: pre.put_object_tagging(Bucket=b, Key="src", Tagging={"TagSet": []}))[1] == 403
    # Another tenant's key does not reach this space's tags at all.
    other = server.new_space()
    stranger = server.s3(server.new_key(other))
    assert err(lambda: stranger.get_object_tagging(Bucket=b, Key="src"))[1] == 403

    events = server.cli_json("audit", "--space", b, "--operation", "PutObjectTagging", "--limit", "100")["events"]
    assert any(e["status"] == "InvalidTag" for e in events) and any(e["status"] == "ok" for e in events)


APP = "https://app.example.com"


def preflight(server, b, key, origin=APP, method="PUT", headers="content-type"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return requests.options(f"{server.url}/{b}/{key}", headers=h, timeout=30)


def test_bucket_cors_lets_a_web_application_upload_with_a_presigned_put(server):
    """Put/Get/DeleteBucketCors, preflights answered from the rules, CORS headers on actual
    responses (errors included); setting rules is the publisher mode's (whole bucket) or an
    admin's."""
    sp = server.new_space()
    b = sp["bucket"]
    pub = server.s3(server.new_key(sp, mode="publisher"))
    rules = {"CORSRules": [
        {"ID": "app", "AllowedOrigins": [APP], "AllowedMethods": ["PUT", "POST", "GET"], "AllowedHeaders": ["*"],
         "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600},
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
    ]}
    # No rules yet: browsers are refused, and GetBucketCors says so.
    r = preflight(server, b, "uploads/a.txt")
    assert r.status_code == 403 and b"CORS is not enabled for this bucket" in r.content
    assert err(lambda: pub.get_bucket_cors(Bucket=b)) == ("NoSuchCORSConfiguration", 404)

    pub.put_bucket_cors(Bucket=b, CORSConfiguration=rules)
    got = pub.get_bucket_cors(Bucket=b)["CORSRules"]
    assert got[0]["AllowedOrigins"] == [APP] and got[0]["MaxAgeSeconds"] == 600 and got[0]["ExposeHeaders"] == ["ETag"]
    assert got[1]["AllowedMethods"] == ["GET"]

    # The preflight of a presigned PUT from the application's origin.
    r = preflight(server, b, "uploads/a.txt", headers="content-type, x-amz-meta-owner")
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == APP
    assert r.headers["Access-Control-Allow-Methods"] == "PUT, POST, GET"
    assert r.headers["Access-Control-Allow-Headers"] == "content-type, x-amz-meta-owner"
    assert r.headers["Access-Control-Max-Age"] == "600"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in r.headers["Vary"]
    # Another origin may only GET (the `*` rule), and is answered `*` without credentials.
    r = preflight(server, b, "uploads/a.txt", origin="https://evil.example.net")
    assert r.status_code == 403 and b"<Code>AccessForbidden</Code>" in r.content
    r = preflight(server, b, "uploads/a.txt", origin="https://evil.example.net", method="GET", headers=None)
    assert (r.status_code, r.headers["Access-Control-Allow-Origin"]) == (200, "*")
    assert "Access-Control-Allow-Credentials" not in r.headers
    assert preflight(server, b, "uploads/a.txt", method="DELETE").status_code == 403
    assert requests.options(f"{server.url}/{b}/x", timeout=30).status_code == 400, "a preflight needs an Origin"
    # A bucket that does not exist looks like one without rules.
    r = preflight(server, "rs-nobody-nothing", "k")
    assert r.status_code == 403 and b"CORS is not enabled" in r.content

    # The actual upload: a presigned PUT from the page, answered with the rule's headers.
    rw = server.s3(server.new_key(sp, mode="read-write"))
    url = rw.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "uploads/a.txt", "ContentType": "text/plain"}, ExpiresIn=300)
    r = requests.put(url, data=b"from the browser", headers={"Origin": APP, "Content-Type": "text/plain"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == APP
    assert r.headers["Access-Control-Expose-Headers"] == "ETag"
    assert rw.get_object(Bucket=b, Key="uploads/a.txt")["Body"].read() == b"from the browser"
    # An error reaches the page too (the browser shows it only with the CORS headers)...
    forged = re.sub(r"Signature=[0-9a-f]{64}", "Signature=" + "0" * 64, url)
    r = requests.put(forged, data=b"x", headers={"Origin": APP, "Content-Type": "text/plain"}, timeout=30)
    assert r.status_code == 403 and r.headers["Access-Control-Allow-Origin"] == APP
    # ...but a page from another origin gets no CORS headers on a PUT, so its browser keeps
    # the answer from it; requests without an Origin get none either.
    r = requests.put(url, data=b"y", headers={"Origin": "https://evil.example.net", "Content-Type": "text/plain"}, timeout=30)
    assert "Access-Control-Allow-Origin" not in r.headers
    r = requests.get(rw.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "uploads/a.txt"}), timeout=30)
    assert "Access-Control-Allow-Origin" not in r.headers

    # Who may set them: the publisher mode with a key for the whole bucket, not other modes,
    # not a key limited to a prefix, not another tenant's key.
    for key in (server.new_key(sp, mode="read-write-delete"), server.new_key(sp, mode="publisher", prefix="site/"),
                server.new_key(server.new_space(), mode="publisher")):
        c = server.s3(key)
        assert err(lambda: c.put_bucket_cors(Bucket=b, CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["DELETE"]}]}))[1] == 403
        assert err(lambda: c.delete_bucket_cors(Bucket=b))[1] == 403
    # Any key of the space may read them.
    ro = server.s3(server.new_key(sp, mode="read-only"))
    assert ro.get_bucket_cors(Bucket=b)["CORSRules"][0]["ID"] == "app"
    # Rules S3 would refuse are refused, and the old ones stay.
    for bad in ([{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}],
                [{"AllowedOrigins": ["https://*.*.example.com"], "AllowedMethods": ["GET"]}],
                [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 101):
        assert err(lambda: pub.put_bucket_cors(Bucket=b, CORSConfiguration={"CORSRules": bad})) == ("InvalidRequest", 400)
    assert len(pub.get_bucket_cors(Bucket=b)["CORSRules"]) == 2

    assert pub.delete_bucket_cors(Bucket=b)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert err(lambda: pub.get_bucket_cors(Bucket=b)) == ("NoSuchCORSConfiguration", 404)
    assert preflight(server, b, "uploads/a.txt").status_code == 403

    # The operator sets the same rules with the CLI, from aws-cli's file form.
    f = server.tmp / f"cors-{uuid.uuid4().hex}.json"
    f.write_text(json.dumps(rules))
    out = server.cli_json("space", "cors", b, "--set", str(f))
    assert out["rules"][0]["allowed_origins"] == [APP]
    assert preflight(server, b, "uploads/a.txt").status_code == 200
    assert server.cli_json("space", "cors", b)["rules"][1]["allowed_methods"] == ["GET"]
    assert server.cli_json("space", "cors", b, "--clear")["rules"] is None
    assert preflight(server, b, "uploads/a.txt").status_code == 403
    f.write_text('{"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]}')
    bad = server.cli("space", "cors", b, "--set", str(f), check=False)
    assert bad.returncode != 0 and "PATCH" in bad.stderr

    ops = {e["operation"] for e in server.cli_json("audit", "--space", b, "--limit", "200")["events"]}
    assert {"PutBucketCors", "DeleteBucketCors", "cors.set", "cors.removed"} <= ops, ops


def test_put_of_unknown_length_is_streamed_and_quota_checked_as_it_arrives(server):
    """A presigned PUT with `Transfer-Encoding: chunked` and no Content-Length: accepted and
    stored whole; the quota is reserved as the bytes arrive, so an upload that passes it is
    refused and stores nothing."""
    import hashlib

    from s3raw import code, put_chunked, put_chunked_signed

    sp = server.new_space(quota=3 * MiB)
    b = sp["bucket"]
    c = server.s3(server.new_key(sp))

    def url(k, **extra):
        return c.generate_presigned_url("put_object", Params={"Bucket": b, "Key": k, **extra}, ExpiresIn=300)

    chunks = [bytes([i]) * (700 * 1024) for i in range(3)]
    r = put_chunked(url("piped.bin"), chunks)
    assert r.status_code == 200, r.text
    data = b"".join(chunks)
    assert r.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert c.get_object(Bucket=b, Key="piped.bin")["Body"].read() == data
    usage = server.cli_json("usage", b)["usage"]
    assert (usage["objects"], usage["bytes"]) == (1, len(data)), "counted exactly, reservations released"

    # Past the quota while streaming: 403 QuotaExceeded, nothing stored, nothing held.
    r = put_chunked(url("too-big.bin"), [b"z" * MiB] * 3)
    assert (r.status_code, code(r)) == (403, "QuotaExceeded"), r.text
    assert err(lambda: c.head_object(Bucket=b, Key="too-big.bin")) == ("404", 404)
    usage = server.cli_json("usage", b)["usage"]
    assert (usage["objects"], usage["bytes"]) == (1, len(data))
    # What is left fits exactly.
    left = 3 * MiB - len(data)
    assert put_chunked(url("rest.bin"), [b"r" * left]).status_code == 200
    assert server.cli_json("usage", b)["usage"]["bytes"] == 3 * MiB
    c.delete_object(Bucket=b, Key="rest.bin")

    # A digest the streamed bytes do not match.
    md5 = "1B2M2Y8AsgTpgAmY7PhCfg=="
    r = put_chunked(url("bad.bin", ContentMD5=md5), [b"x" * 10], headers={"Content-MD5": md5})
    assert (r.status_code, code(r)) == (400, "BadDigest"), r.text
    assert err(lambda: c.head_object(Bucket=b, Key="bad.bin")) == ("404", 404)

    # Header-signed with UNSIGNED-PAYLOAD, as a pipe sends it: the same, quota included.
    key = server.new_key(sp)
    r = put_chunked_signed(server, key, f"/{b}/signed.bin", [b"s" * 1000, b"t" * 1000])
    assert r.status_code == 200, r.text
    assert c.get_object(Bucket=b, Key="signed.bin")["Body"].read() == b"s" * 1000 + b"t" * 1000
    r = put_chunked_signed(server, key, f"/{b}/signed-big.bin", [b"z" * MiB] * 2)
    assert (r.status_code, code(r)) == (403, "QuotaExceeded"), r.text
    # A part still needs its length.
    up = c.create_multipart_upload(Bucket=b, Key="parts.bin")
    r = put_chunked_signed(server, key, f"/{b}/parts.bin?partNumber=1&uploadId={up['UploadId']}", [b"p" * 10])
    assert (r.status_code, code(r)) == (411, "MissingContentLength"), r.text
    c.abort_multipart_upload(Bucket=b, Key="parts.bin", UploadId=up["UploadId"])
    usage = server.cli_json("usage", b)["usage"]
    assert (usage["objects"], usage["bytes"], usage["multipart_bytes"]) == (2, len(data) + 2000, 0)

    # curl uploading from a pipe (chunked, since it cannot know the size).
    import subprocess

    k2 = server.new_key(sp)
    piped = b"line\n" * 20_000
    p = subprocess.run(
        ["curl", "-sS", "--fail-with-body", "--aws-sigv4", "aws:amz:us-east-1:s3",
         "--user", f"{k2['access_key_id']}:{k2['secret_access_key']}",
         "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-T", "-", f"{server.url}/{b}/from-a-pipe.txt"],
        input=piped, capture_output=True, timeout=60,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert c.get_object(Bucket=b, Key="from-a-pipe.txt")["Body"].read() == piped


def test_multipart_uploads_get_composite_checksums(server):
    """An upload created with a checksum algorithm records every part's checksum, checks those
    the completion lists, and answers the composite (`<checksum of checksums>-<parts>`), as do
    HEAD, GET and GetObjectAttributes when asked."""
    import base64
    import zlib

    sp = server.new_space()
    b = sp["bucket"]
    c = server.s3(server.new_key(sp))
    bodies = [b"a" * (5 * MiB), b"tail"]
    up = c.create_multipart_upload(Bucket=b, Key="sum.bin", ChecksumAlgorithm="CRC32")
    assert up["ChecksumAlgorithm"] == "CRC32"
    parts = []
    for n, body in enumerate(bodies, 1):
        p = c.upload_part(Bucket=b, Key="sum.bin", UploadId=up["UploadId"], PartNumber=n, Body=body, ChecksumAlgorithm="CRC32")
        assert p["ChecksumCRC32"] == base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
        parts.append({"PartNumber": n, "ETag": p["ETag"], "ChecksumCRC32": p["ChecksumCRC32"]})
    raw = b"".join(zlib.crc32(body).to_bytes(4, "big") for body in bodies)
    want = base64.b64encode(zlib.crc32(raw).to_bytes(4, "big")).decode() + "-2"

    # A part checksum the completion lists wrong is refused, and the upload stays open.
    wrong = [dict(parts[0], ChecksumCRC32="AAAAAA=="), parts[1]]
    assert err(lambda: c.complete_multipart_upload(Bucket=b, Key="sum.bin", UploadId=up["UploadId"],
                                                   MultipartUpload={"Parts": wrong})) == ("InvalidPart", 400)
    done = c.complete_multipart_upload(Bucket=b, Key="sum.bin", UploadId=up["UploadId"], MultipartUpload={"Parts": parts})
    assert (done["ChecksumCRC32"], done["ChecksumType"]) == (want, "COMPOSITE")

    head = c.head_object(Bucket=b, Key="sum.bin", ChecksumMode="ENABLED")
    assert (head["ChecksumCRC32"], head["ChecksumType"]) == (want, "COMPOSITE")
    assert "ChecksumCRC32" not in c.head_object(Bucket=b, Key="sum.bin"), "only when asked"
    got = c.get_object(Bucket=b, Key="sum.bin", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == want
    assert got["Body"].read() == b"".join(bodies)
    attrs = c.get_object_attributes(Bucket=b, Key="sum.bin", ObjectAttributes=["Checksum"])
    assert attrs["Checksum"]["ChecksumCRC32"] == want

    # An overwrite in one piece no longer answers the composite.
    c.put_object(Bucket=b, Key="sum.bin", Body=b"single", ChecksumAlgorithm="SHA256")
    head = c.head_object(Bucket=b, Key="sum.bin", ChecksumMode="ENABLED")
    assert "ChecksumCRC32" not in head and head["ChecksumSHA256"] and head["ChecksumType"] == "FULL_OBJECT"

    # Without an algorithm, no checksum is invented.
    up = c.create_multipart_upload(Bucket=b, Key="plain.bin")
    p = c.upload_part(Bucket=b, Key="plain.bin", UploadId=up["UploadId"], PartNumber=1, Body=b"x")
    done = c.complete_multipart_upload(Bucket=b, Key="plain.bin", UploadId=up["UploadId"],
                                       MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
    assert "ChecksumCRC32" not in done and "ChecksumType" not in done
