"""Security contracts: tenant and prefix isolation, revocation, rotation, expiry, quota,
modes, internal prefixes, disabled spaces, audit, and secrets kept out of logs."""

import datetime

import botocore
import pytest
import requests

from s3raw import code, signed


def err(fn, *a, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(*a, **kw)
    return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_tenant_isolation(server):
    a = server.new_space()
    b = server.new_space()
    ka, kb = server.new_key(a), server.new_key(b)
    sa, sb = server.s3(ka), server.s3(kb)
    sb.put_object(Bucket=b["bucket"], Key="secret/plan.txt", Body=b"tenant b only")
    sa.put_object(Bucket=a["bucket"], Key="mine.txt", Body=b"a")
    B = b["bucket"]
    denied = [
        lambda: sa.get_object(Bucket=B, Key="secret/plan.txt"),
        lambda: sa.head_object(Bucket=B, Key="secret/plan.txt"),
        lambda: sa.put_object(Bucket=B, Key="x", Body=b"x"),
        lambda: sa.delete_object(Bucket=B, Key="secret/plan.txt"),
        lambda: sa.delete_objects(Bucket=B, Delete={"Objects": [{"Key": "secret/plan.txt"}]}),
        lambda: sa.list_objects_v2(Bucket=B),
        lambda: sa.list_objects(Bucket=B),
        lambda: sa.head_bucket(Bucket=B),
        lambda: sa.create_multipart_upload(Bucket=B, Key="x"),
        lambda: sa.list_multipart_uploads(Bucket=B),
        lambda: sa.copy_object(Bucket=a["bucket"], Key="stolen", CopySource={"Bucket": B, "Key": "secret/plan.txt"}),
        lambda: sa.copy_object(Bucket=B, Key="planted", CopySource={"Bucket": a["bucket"], "Key": "mine.txt"}),
        lambda: sa.create_bucket(Bucket=B),
    ]
    for f in denied:
        c, status = err(f)
        assert (c, status) in {("AccessDenied", 403), ("403", 403)}, (c, status)
    assert [x["Name"] for x in sa.list_buckets()["Buckets"]] == [a["bucket"]]
    assert sb.get_object(Bucket=B, Key="secret/plan.txt")["Body"].read() == b"tenant b only"
    assert err(lambda: sa.head_object(Bucket=a["bucket"], Key="stolen"))[1] == 404
    # Tenant admin tokens see only their tenant.
    ta = server.cli("tenant", "token", a["tenant_id"], "--name", "admin").stdout.strip().splitlines()[-1]
    st, _ = server.api("GET", f"/spaces/{b['id']}", token=ta)
    assert st == 404
    st, body = server.api("GET", "/spaces", token=ta)
    assert [s["bucket"] for s in body["spaces"]] == [a["bucket"]]
    st, body = server.api("GET", "/audit?limit=1000", token=ta)
    assert body["events"] and all(e["tenant_id"] == a["tenant_id"] for e in body["events"])
    # Tenant a sees its own denied attempts, never tenant b's activity.
    assert all(e["object_space_id"] in (a["id"], None) for e in body["events"])
    assert not any(e["actor"] == kb["access_key_id"] for e in body["events"])
    denied_rows = [e for e in body["events"] if e["status"] == "AccessDenied"]
    assert len(denied_rows) >= 10 and all(e["actor"] == ka["access_key_id"] for e in denied_rows)


def test_prefix_isolation_and_modes(fs_server):
    s = fs_server
    sp = s.new_space()
    full = s.s3(s.new_key(sp))
    full.put_object(Bucket=sp["bucket"], Key="other/x", Body=b"x")
    full.put_object(Bucket=sp["bucket"], Key="releases/a", Body=b"a")
    rw = s.s3(s.new_key(sp, mode="read-write", prefix="releases/"))
    B = sp["bucket"]
    rw.put_object(Bucket=B, Key="releases/v1/b", Body=b"b")
    assert rw.get_object(Bucket=B, Key="releases/a")["Body"].read() == b"a"
    assert [o["Key"] for o in rw.list_objects_v2(Bucket=B, Prefix="releases/")["Contents"]] == ["releases/a", "releases/v1/b"]
    for f in [
        lambda: rw.get_object(Bucket=B, Key="other/x"),
        lambda: rw.put_object(Bucket=B, Key="other/y", Body=b"y"),
        lambda: rw.put_object(Bucket=B, Key="releasesX", Body=b"y"),
        lambda: rw.list_objects_v2(Bucket=B),
        lambda: rw.list_objects_v2(Bucket=B, Prefix="rel"),
        lambda: rw.list_objects(Bucket=B, Prefix="other/"),
        lambda: rw.copy_object(Bucket=B, Key="releases/copy", CopySource={"Bucket": B, "Key": "other/x"}),
        lambda: rw.delete_object(Bucket=B, Key="releases/a"),  # read-write has no DeleteObject
        lambda: rw.delete_objects(Bucket=B, Delete={"Objects": [{"Key": "releases/a"}]}),
    ]:
        assert err(f) == ("AccessDenied", 403)
    # With DeleteObject granted, keys outside the prefix fail one by one.
    rwd_prefixed = s.s3(s.new_key(sp, mode="read-write-delete", prefix="releases/"))
    r = rwd_prefixed.delete_objects(Bucket=B, Delete={"Objects": [{"Key": "other/x"}, {"Key": "releases/v1/b"}]})
    assert [(e["Key"], e["Code"]) for e in r["Errors"]] == [("other/x", "AccessDenied")]
    assert [d["Key"] for d in r["Deleted"]] == ["releases/v1/b"]
    assert full.get_object(Bucket=B, Key="other/x")["Body"].read() == b"x"
    ro = s.s3(s.new_key(sp, mode="read-only"))
    assert ro.get_object(Bucket=B, Key="other/x")["Body"].read() == b"x"
    assert err(lambda: ro.put_object(Bucket=B, Key="z", Body=b"z")) == ("AccessDenied", 403)
    assert err(lambda: ro.delete_object(Bucket=B, Key="other/x")) == ("AccessDenied", 403)
    wo = s.s3(s.new_key(sp, mode="write-only"))
    wo.put_object(Bucket=B, Key="drop/w", Body=b"w")
    assert err(lambda: wo.get_object(Bucket=B, Key="drop/w")) == ("AccessDenied", 403)
    assert err(lambda: wo.list_objects_v2(Bucket=B)) == ("AccessDenied", 403)
    rwd = s.s3(s.new_key(sp, mode="read-write-delete"))
    rwd.delete_object(Bucket=B, Key="drop/w")
    assert err(lambda: full.head_object(Bucket=B, Key="drop/w"))[1] == 404


def test_revocation_rotation_expiry(fs_server):
    s = fs_server
    sp = s.new_space()
    B = sp["bucket"]
    key = s.new_key(sp)
    c = s.s3(key)
    c.put_object(Bucket=B, Key="k", Body=b"v")
    s.cli("key", "revoke", key["access_key_id"])
    assert err(lambda: c.get_object(Bucket=B, Key="k")) == ("AccessDenied", 403)
    st, keys = s.api("GET", f"/spaces/{B}/keys")
    assert [k["revoked_at"] is not None for k in keys["keys"] if k["access_key_id"] == key["access_key_id"]] == [True]

    key2 = s.new_key(sp)
    c2 = s.s3(key2)
    c2.put_object(Bucket=B, Key="k2", Body=b"v")
    rotated = s.cli_json("key", "rotate", key2["access_key_id"])
    assert rotated["access_key_id"] == key2["access_key_id"] and rotated["secret_access_key"] != key2["secret_access_key"]
    assert err(lambda: c2.get_object(Bucket=B, Key="k2")) == ("SignatureDoesNotMatch", 403)
    assert s.s3(rotated).get_object(Bucket=B, Key="k2")["Body"].read() == b"v"

    # A lifetime given on the command line becomes the key's expiry date; the refusal from that
    # date on is tested against the control clock (face::s3::auth::tests, no waiting here).
    short = s.new_key(sp, expires_in="1h")
    s.s3(short).put_object(Bucket=B, Key="k3", Body=b"v")
    shown = [k for k in s.api("GET", f"/spaces/{B}/keys")[1]["keys"] if k["access_key_id"] == short["access_key_id"]]
    left = datetime.datetime.fromisoformat(shown[0]["expires_at"].replace("Z", "+00:00")) - datetime.datetime.now(datetime.timezone.utc)
    assert 3500 < left.total_seconds() <= 3600, shown
    ops = {e["operation"] for e in s.cli_json("audit", "--space", B, "--limit", "1000")["events"]}
    assert {"key.created", "key.revoked", "key.rotated", "space.created", "PutObject", "GetObject"} <= ops


def test_quota(server):
    s = server
    sp = s.new_space(quota="1MiB")
    B = sp["bucket"]
    c = s.s3(s.new_key(sp))
    c.put_object(Bucket=B, Key="fits", Body=b"x" * 600_000)
    before = s.cli_json("usage", B)["usage"]
    c_code, status = err(lambda: c.put_object(Bucket=B, Key="too-big", Body=b"y" * 600_000))
    assert (c_code, status) == ("QuotaExceeded", 403)
    assert err(lambda: c.head_object(Bucket=B, Key="too-big"))[1] == 404
    assert s.cli_json("usage", B)["usage"] == before
    # Multipart: parts in progress count against the quota.
    up = c.create_multipart_upload(Bucket=B, Key="mp")["UploadId"]
    c.upload_part(Bucket=B, Key="mp", UploadId=up, PartNumber=1, Body=b"z" * 400_000)
    assert err(lambda: c.upload_part(Bucket=B, Key="mp", UploadId=up, PartNumber=2, Body=b"z" * 100_000)) == ("QuotaExceeded", 403)
    c.abort_multipart_upload(Bucket=B, Key="mp", UploadId=up)
    # Raising the quota applies to the next request.
    s.cli("space", "quota", B, "2MiB")
    c.put_object(Bucket=B, Key="now-fits", Body=b"y" * 600_000)
    usage = s.cli_json("usage", B)["usage"]
    assert (usage["bytes"], usage["objects"], usage["multipart_bytes"]) == (1_200_000, 2, 0)


def test_concurrent_writers_keep_usage_exact(fs_server):
    from concurrent.futures import ThreadPoolExecutor

    s = fs_server
    sp = s.new_space()
    B = sp["bucket"]
    key = s.new_key(sp)

    def work(i):
        c = s.s3(key)
        for j in range(10):
            c.put_object(Bucket=B, Key=f"w{i}/o{j}", Body=b"x" * (100 + i))
            c.put_object(Bucket=B, Key=f"shared/o{j}", Body=b"y" * 50)

    with ThreadPoolExecutor(8) as ex:
        list(ex.map(work, range(8)))
    u = s.cli_json("usage", B)["usage"]
    assert u["objects"] == 80 + 10
    assert u["bytes"] == sum(10 * (100 + i) for i in range(8)) + 10 * 50


def test_internal_prefixes_unreachable(fs_server):
    s = fs_server
    sp = s.new_space()
    key = s.new_key(sp)
    c = s.s3(key)
    for bucket in ["apps", "blobs", "meta", "object-spaces", "backend"]:
        assert err(lambda: c.list_objects_v2(Bucket=bucket))[1] == 403
        assert err(lambda: c.get_object(Bucket=bucket, Key="rustshare/x"))[1] == 403
    for k in ["../../apps/rustshare/x", "a/../../../meta/x", "../" + sp["id"] + "/x"]:
        r = signed(s, key, "PUT", f"/{sp['bucket']}/{k}", b"x")
        assert r.status_code == 400 and code(r) == "InvalidArgument", (k, r.status_code, r.text)
    root = s.data / "objects" / "objects"
    assert sorted(p.name for p in root.iterdir()) == ["object-spaces"], "something was written outside object-spaces/"


def test_disabled_space_refuses_requests(fs_server):
    s = fs_server
    sp = s.new_space()
    c = s.s3(s.new_key(sp))
    c.put_object(Bucket=sp["bucket"], Key="k", Body=b"v")
    s.cli("space", "disable", sp["bucket"])
    assert err(lambda: c.get_object(Bucket=sp["bucket"], Key="k")) == ("AccessDenied", 403)
    assert s.cli_json("space", "show", sp["bucket"])["disabled_at"]


def test_secrets_stay_out_of_logs_and_audit(fs_server):
    s = fs_server
    sp = s.new_space()
    key = s.new_key(sp)
    c = s.s3(key)
    c.put_object(Bucket=sp["bucket"], Key="confidential-name.bin", Body=b"v")
    c.get_object(Bucket=sp["bucket"], Key="confidential-name.bin")
    url = c.generate_presigned_url("get_object", Params={"Bucket": sp["bucket"], "Key": "confidential-name.bin"})
    requests.get(url, timeout=10)
    rotated = s.cli_json("key", "rotate", key["access_key_id"])
    bad = dict(key)
    err(lambda: s.s3(bad).get_object(Bucket=sp["bucket"], Key="confidential-name.bin"))
    logs = s.logs()
    assert logs, "server wrote no logs"
    audit = str(s.cli_json("audit", "--limit", "1000"))
    for secret in [key["secret_access_key"], rotated["secret_access_key"], s.token, "X-Amz-Signature", "Signature="]:
        assert secret not in logs, f"{secret[:6]}... appears in the log"
        assert secret not in audit, f"{secret[:6]}... appears in the audit log"
    assert "confidential-name.bin" not in logs and key["access_key_id"] not in logs
    assert "request_id" in logs
