"""Real clients, untouched: aws-cli, boto3, rclone and s3cmd against the S3 face, on both
backends."""

import hashlib
import os
import time

import botocore
import pytest
import requests

from conftest import client_env, random_file, run

MiB = 1024 * 1024


def test_aws_cli_cp_multipart_sync_ls_rm(server, tmp_path):
    space = server.new_space()
    key = server.new_key(space, prefix="releases/")
    env = client_env(key)
    aws = ["aws", "--endpoint-url", server.url, "s3"]
    q = ["--only-show-errors"]
    b = space["bucket"]
    small = random_file(tmp_path / "release.tar.gz", 100_000)
    run(aws + ["cp", *q, str(small), f"s3://{b}/releases/v1.0/"], env)
    # >= 64 MiB: aws-cli switches to multipart (8 MiB parts).
    big = random_file(tmp_path / "big.bin", 64 * MiB + 123)
    run(aws + ["cp", *q, str(big), f"s3://{b}/releases/v1.0/big.bin"], env)
    out = tmp_path / "big.out"
    run(aws + ["cp", *q, f"s3://{b}/releases/v1.0/big.bin", str(out)], env)
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(big.read_bytes()).digest()
    head = run(["aws", "--endpoint-url", server.url, "s3api", "head-object", "--bucket", b, "--key", "releases/v1.0/big.bin"], env).stdout
    assert '"ETag": "\\"' in head and '-9\\"' in head, head  # 9 parts of 8 MiB

    site = tmp_path / "site"
    (site / "css").mkdir(parents=True)
    for i in range(5):
        (site / f"page{i}.html").write_text(f"<p>{i}</p>")
    (site / "css" / "a b+c.css").write_text("body{}")
    # S3 reports whole seconds; files written in the same second as their upload would look
    # newer than the copy, on AWS too, so date them in the past.
    for f in site.rglob("*"):
        os.utime(f, (time.time() - 3600, time.time() - 3600))
    run(aws + ["sync", *q, str(site), f"s3://{b}/releases/site/"], env)
    ls = run(aws + ["ls", "--recursive", f"s3://{b}/releases/"], env).stdout
    for name in ["releases/v1.0/release.tar.gz", "releases/v1.0/big.bin", "releases/site/page4.html", "releases/site/css/a b+c.css"]:
        assert name in ls, ls
    # A second sync uploads nothing: sizes and times match what we report.
    again = run(aws + ["sync", "--no-progress", str(site), f"s3://{b}/releases/site/"], env).stdout
    assert "upload:" not in again, again
    usage = server.cli_json("usage", b)["usage"]
    assert usage["objects"] == 8
    assert usage["bytes"] == 100_000 + 64 * MiB + 123 + sum(len(f"<p>{i}</p>") for i in range(5)) + len("body{}")
    run(aws + ["rm", *q, "--recursive", f"s3://{b}/releases/"], env)
    assert run(aws + ["ls", "--recursive", f"s3://{b}/releases/"], env, check=False).stdout.strip() == ""
    usage = server.cli_json("usage", b)["usage"]
    assert (usage["objects"], usage["bytes"], usage["multipart_bytes"]) == (0, 0, 0)


def test_boto3_presigned_get_and_put(server):
    space = server.new_space()
    key = server.new_key(space)
    s3 = server.s3(key)
    b = space["bucket"]
    url = s3.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "pre/put.txt"}, ExpiresIn=300)
    assert requests.put(url, data=b"presigned body", timeout=10).status_code == 200
    url = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "pre/put.txt"}, ExpiresIn=300)
    r = requests.get(url, timeout=10)
    assert (r.status_code, r.content) == (200, b"presigned body")
    # Tampered signature.
    bad = url[:-1] + ("0" if url[-1] != "0" else "1")
    r = requests.get(bad, timeout=10)
    assert r.status_code == 403 and b"SignatureDoesNotMatch" in r.content, r.text
    # Expired: signed ten minutes ago for one minute (no waiting for it to run out).
    import datetime
    from unittest import mock

    signed_at = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
    with mock.patch("botocore.auth.get_current_datetime", return_value=signed_at.replace(tzinfo=None)):
        url = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "pre/put.txt"}, ExpiresIn=60)
    assert "X-Amz-Date=" + signed_at.strftime("%Y%m%dT%H%M") in url, url
    r = requests.get(url, timeout=10)
    assert r.status_code == 403, r.text
    assert b"AccessDenied" in r.content or b"Expired" in r.content


def test_boto3_multipart_and_checksums(server):
    space = server.new_space()
    key = server.new_key(space)
    s3 = server.s3(key)
    b = space["bucket"]
    # CRC32C needs botocore[crt], which the pinned clients do not carry.
    for alg in ["CRC32", "SHA1", "SHA256"]:
        r = s3.put_object(Bucket=b, Key=f"sum/{alg}", Body=b"checksummed " + alg.encode(), ChecksumAlgorithm=alg)
        assert r[f"Checksum{alg}"]
        got = s3.get_object(Bucket=b, Key=f"sum/{alg}", ChecksumMode="ENABLED")
        assert got["Body"].read() == b"checksummed " + alg.encode()
    part1, part2 = b"a" * (5 * MiB), b"tail"
    up = s3.create_multipart_upload(Bucket=b, Key="mp/obj", ContentType="application/x-tar", Metadata={"build": "7"})
    uid = up["UploadId"]
    e1 = s3.upload_part(Bucket=b, Key="mp/obj", UploadId=uid, PartNumber=1, Body=part1, ChecksumAlgorithm="SHA256")["ETag"]
    e2 = s3.upload_part(Bucket=b, Key="mp/obj", UploadId=uid, PartNumber=2, Body=part2)["ETag"]
    parts = s3.list_parts(Bucket=b, Key="mp/obj", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, 5 * MiB), (2, 4)]
    ups = s3.list_multipart_uploads(Bucket=b, Prefix="mp/")["Uploads"]
    assert [u["UploadId"] for u in ups] == [uid]
    assert server.cli_json("usage", b)["usage"]["multipart_bytes"] == 5 * MiB + 4
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="mp/obj", UploadId=uid, MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]})
    assert e.value.response["Error"]["Code"] == "InvalidPartOrder"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="mp/obj", UploadId=uid, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]})
    assert e.value.response["Error"]["Code"] == "InvalidPart"
    done = s3.complete_multipart_upload(Bucket=b, Key="mp/obj", UploadId=uid, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert done["ETag"].endswith('-2"')
    h = s3.head_object(Bucket=b, Key="mp/obj")
    assert (h["ContentLength"], h["ContentType"], h["Metadata"]) == (5 * MiB + 4, "application/x-tar", {"build": "7"})
    assert s3.get_object(Bucket=b, Key="mp/obj", Range="bytes=5242878-")["Body"].read() == b"aatail"
    # UploadPartCopy and abort.
    up2 = s3.create_multipart_upload(Bucket=b, Key="mp/copy")["UploadId"]
    s3.upload_part_copy(Bucket=b, Key="mp/copy", UploadId=up2, PartNumber=1, CopySource={"Bucket": b, "Key": "mp/obj"}, CopySourceRange="bytes=0-9")
    assert s3.list_parts(Bucket=b, Key="mp/copy", UploadId=up2)["Parts"][0]["Size"] == 10
    s3.abort_multipart_upload(Bucket=b, Key="mp/copy", UploadId=up2)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_parts(Bucket=b, Key="mp/copy", UploadId=up2)
    assert e.value.response["Error"]["Code"] == "NoSuchUpload"
    usage = server.cli_json("usage", b)["usage"]
    assert usage["multipart_bytes"] == 0


def test_boto3_object_semantics(server):
    space = server.new_space()
    key = server.new_key(space)
    s3 = server.s3(key)
    b = space["bucket"]
    r = s3.put_object(Bucket=b, Key="docs/a.txt", Body=b"0123456789", ContentType="text/plain", CacheControl="max-age=60", ContentDisposition="inline", Metadata={"k": "v"})
    etag = r["ETag"]
    assert etag == '"' + hashlib.md5(b"0123456789").hexdigest() + '"'
    g = s3.get_object(Bucket=b, Key="docs/a.txt", Range="bytes=2-4")
    assert (g["Body"].read(), g["ContentRange"], g["ResponseMetadata"]["HTTPStatusCode"]) == (b"234", "bytes 2-4/10", 206)
    assert s3.get_object(Bucket=b, Key="docs/a.txt", Range="bytes=-3")["Body"].read() == b"789"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=b, Key="docs/a.txt", Range="bytes=50-60")
    assert e.value.response["Error"]["Code"] == "InvalidRange"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=b, Key="docs/a.txt", IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=b, Key="docs/a.txt", IfMatch='"nope"')
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert s3.get_object(Bucket=b, Key="docs/a.txt", IfMatch=etag)["Body"].read() == b"0123456789"
    h = s3.head_object(Bucket=b, Key="docs/a.txt")
    assert (h["ContentType"], h["CacheControl"], h["ContentDisposition"], h["Metadata"]) == ("text/plain", "max-age=60", "inline", {"k": "v"})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket=b, Key="docs/a.txt", IfModifiedSince=h["LastModified"])
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket=b, Key="docs/missing")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=b, Key="docs/missing")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
    # Copy within the space, with and without new metadata.
    s3.copy_object(Bucket=b, Key="docs/b.txt", CopySource={"Bucket": b, "Key": "docs/a.txt"})
    assert s3.head_object(Bucket=b, Key="docs/b.txt")["ContentType"] == "text/plain"
    s3.copy_object(Bucket=b, Key="docs/c.txt", CopySource={"Bucket": b, "Key": "docs/a.txt"}, MetadataDirective="REPLACE", ContentType="text/markdown")
    assert s3.head_object(Bucket=b, Key="docs/c.txt")["ContentType"] == "text/markdown"
    # Listing V1 and V2 with delimiter and pagination.
    for i in range(7):
        s3.put_object(Bucket=b, Key=f"list/f{i}", Body=b"x")
    s3.put_object(Bucket=b, Key="list/sub/deep", Body=b"x")
    v2 = s3.list_objects_v2(Bucket=b, Prefix="list/", Delimiter="/")
    assert [c["Key"] for c in v2["Contents"]] == [f"list/f{i}" for i in range(7)]
    assert [p["Prefix"] for p in v2["CommonPrefixes"]] == ["list/sub/"]
    keys, token = [], None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=b, Prefix="list/", MaxKeys=3, **kw)
        keys += [c["Key"] for c in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert keys == [f"list/f{i}" for i in range(7)] + ["list/sub/deep"]
    v1 = s3.list_objects(Bucket=b, Prefix="list/", MaxKeys=4)
    assert v1["IsTruncated"] and len(v1["Contents"]) == 4
    v1b = s3.list_objects(Bucket=b, Prefix="list/", Marker=v1["Contents"][-1]["Key"])
    assert [c["Key"] for c in v1b["Contents"]] == ["list/f4", "list/f5", "list/f6", "list/sub/deep"]
    # DeleteObjects.
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "list/f0"}, {"Key": "list/f1"}, {"Key": "list/never"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["list/f0", "list/f1", "list/never"]
    # Bucket-level calls clients make.
    assert [x["Name"] for x in s3.list_buckets()["Buckets"]] == [b]
    s3.head_bucket(Bucket=b)
    assert s3.get_bucket_location(Bucket=b).get("LocationConstraint") in (None, "")


def test_rclone_copy_sync_ls_check(server, tmp_path):
    space = server.new_space()
    key = server.new_key(space)
    b = space["bucket"]
    env = client_env(key, {
        "RCLONE_CONFIG_RS_TYPE": "s3",
        "RCLONE_CONFIG_RS_PROVIDER": "Other",
        "RCLONE_CONFIG_RS_ACCESS_KEY_ID": key["access_key_id"],
        "RCLONE_CONFIG_RS_SECRET_ACCESS_KEY": key["secret_access_key"],
        "RCLONE_CONFIG_RS_ENDPOINT": server.url,
        "RCLONE_CONFIG_RS_REGION": "us-east-1",
        "RCLONE_RETRIES": "1",
        "RCLONE_LOW_LEVEL_RETRIES": "1",
    })
    remote = f"rs:{b}"
    src = tmp_path / "src"
    (src / "dir").mkdir(parents=True)
    for i in range(4):
        random_file(src / f"f{i}.bin", 10_000 * (i + 1))
    random_file(src / "dir" / "nested.bin", 1234)
    run(["rclone", "copy", str(src), f"{remote}/data"], env)
    ls = run(["rclone", "ls", f"{remote}/data"], env).stdout
    assert "nested.bin" in ls and "f3.bin" in ls
    run(["rclone", "check", str(src), f"{remote}/data"], env)
    (src / "f0.bin").unlink()
    random_file(src / "new.bin", 500)
    run(["rclone", "sync", str(src), f"{remote}/data"], env)
    run(["rclone", "check", str(src), f"{remote}/data"], env)
    ls = run(["rclone", "ls", f"{remote}/data"], env).stdout
    assert "f0.bin" not in ls and "new.bin" in ls


def test_s3cmd_put_get_ls_del(server, tmp_path):
    space = server.new_space()
    key = server.new_key(space)
    b = space["bucket"]
    host = f"127.0.0.1:{server.port}"
    cfg = tmp_path / "s3cfg"
    cfg.write_text(f"[default]\naccess_key = {key['access_key_id']}\nsecret_key = {key['secret_access_key']}\nhost_base = {host}\nhost_bucket = {host}\nuse_https = False\nbucket_location = us-east-1\nsignature_v2 = False\n")
    s3cmd = ["s3cmd", "-c", str(cfg), "--no-progress"]
    f = random_file(tmp_path / "pkg.deb", 20 * MiB)  # above s3cmd's 15 MiB part size: multipart
    run(s3cmd + ["put", str(f), f"s3://{b}/pool/pkg.deb"])
    small = random_file(tmp_path / "small.txt", 100)
    run(s3cmd + ["put", str(small), f"s3://{b}/pool/small.txt"])
    ls = run(s3cmd + ["ls", f"s3://{b}/pool/"]).stdout
    assert "pool/pkg.deb" in ls and "pool/small.txt" in ls
    out = tmp_path / "got.deb"
    run(s3cmd + ["get", f"s3://{b}/pool/pkg.deb", str(out)])
    assert out.read_bytes() == f.read_bytes()
    run(s3cmd + ["del", f"s3://{b}/pool/pkg.deb"])
    assert "pkg.deb" not in run(s3cmd + ["ls", f"s3://{b}/pool/"]).stdout
