"""Tenant-wide keys (issue 18): a key of a tenant rather than one space, that lists, creates and
deletes the tenant's buckets and works in each of them, and never reaches another tenant's.
Isolation first, then the clients that need it (aws s3 mb, rclone mkdir, boto3), on both
backends."""

import subprocess
import uuid

import botocore
import pytest

from conftest import client_env, run


def err(fn):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn()
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def tenant_of(space):
    return space["bucket"].split("-")[1]


@pytest.fixture(scope="module")
def two_tenants(server):
    home = server.new_space(quota=50_000)
    tenant = tenant_of(home)
    sibling = server.new_space(tenant=tenant)
    foreign = server.new_space()
    # The other tenant has data and a key of its own.
    other = server.s3(server.new_key(foreign))
    other.put_object(Bucket=foreign["bucket"], Key="secret.txt", Body=b"globex only")
    tw = server.new_key(home, mode="tenant-wide")
    return home, sibling, foreign, tw


def test_a_tenant_wide_key_never_reaches_another_tenant(server, two_tenants):
    home, sibling, foreign, tw = two_tenants
    c = server.s3(tw)
    fb = foreign["bucket"]
    # Another tenant's bucket answers as one that does not exist, for every operation.
    assert err(lambda: c.head_bucket(Bucket=fb))[1] == 404
    assert err(lambda: c.get_object(Bucket=fb, Key="secret.txt")) == ("NoSuchBucket", 404)
    assert err(lambda: c.put_object(Bucket=fb, Key="planted.txt", Body=b"x")) == ("NoSuchBucket", 404)
    assert err(lambda: c.list_objects_v2(Bucket=fb)) == ("NoSuchBucket", 404)
    assert err(lambda: c.delete_object(Bucket=fb, Key="secret.txt")) == ("NoSuchBucket", 404)
    assert err(lambda: c.delete_bucket(Bucket=fb)) == ("NoSuchBucket", 404)
    assert err(lambda: c.put_object_tagging(Bucket=fb, Key="secret.txt", Tagging={"TagSet": []})) == ("NoSuchBucket", 404)
    assert err(lambda: c.get_bucket_cors(Bucket=fb)) == ("NoSuchBucket", 404)
    # Creating it, or a new bucket in the other tenant's names, is refused, and the answer does
    # not say whether the name exists.
    assert err(lambda: c.create_bucket(Bucket=fb)) == ("AccessDenied", 403)
    assert err(lambda: c.create_bucket(Bucket=f"rs-{tenant_of(foreign)}-planted"))[1] == 403
    assert err(lambda: c.create_bucket(Bucket="somebody-elses-name"))[1] == 403
    # A copy cannot take another tenant's object as its source.
    c.put_object(Bucket=home["bucket"], Key="mine.txt", Body=b"mine")
    assert err(lambda: c.copy_object(Bucket=home["bucket"], Key="stolen.txt", CopySource={"Bucket": fb, "Key": "secret.txt"}))[1] == 403
    # Nothing changed over there.
    other = server.s3(server.new_key(foreign))
    assert [o["Key"] for o in other.list_objects_v2(Bucket=fb)["Contents"]] == ["secret.txt"]
    assert other.get_object(Bucket=fb, Key="secret.txt")["Body"].read() == b"globex only"
    names = [b["Name"] for b in c.list_buckets()["Buckets"]]
    assert fb not in names and not any(tenant_of(foreign) in n for n in names)
    assert not any(t in server.cli("space", "list").stdout for t in [f"rs-{tenant_of(foreign)}-planted"])


def test_other_modes_still_see_only_their_own_bucket(server, two_tenants):
    home, sibling, foreign, tw = two_tenants
    for mode in ("read-only", "read-write-delete", "publisher", "registry-backend"):
        c = server.s3(server.new_key(home, mode=mode))
        assert [b["Name"] for b in c.list_buckets()["Buckets"]] == [home["bucket"]], mode
        assert err(lambda: c.list_objects_v2(Bucket=sibling["bucket"]))[1] == 403, mode
        assert err(lambda: c.create_bucket(Bucket=f"rs-{tenant_of(home)}-made-by-{mode}"))[1] == 403, mode
        assert err(lambda: c.delete_bucket(Bucket=home["bucket"]))[1] == 403, mode
    # Their own bucket still "creates" as before (clients send it before the first upload).
    server.s3(server.new_key(home)).create_bucket(Bucket=home["bucket"])
    # A tenant-wide key takes no prefix.
    p = server.cli("key", "create", home["bucket"], "--name", "twp", "--mode", "tenant-wide", "--prefix", "a/", check=False)
    assert p.returncode != 0 and "no prefix" in p.stderr


def test_a_tenant_wide_key_manages_and_uses_its_tenants_buckets(server, two_tenants):
    home, sibling, foreign, tw = two_tenants
    c = server.s3(tw)
    t = tenant_of(home)
    # Every space of the tenant, including one made after the key.
    c.put_object(Bucket=sibling["bucket"], Key="a.txt", Body=b"sibling")
    assert c.get_object(Bucket=sibling["bucket"], Key="a.txt")["Body"].read() == b"sibling"
    new = f"rs-{t}-made-{uuid.uuid4().hex[:6]}"
    c.create_bucket(Bucket=new)
    c.create_bucket(Bucket=new)  # again: yours already, answered as made (us-east-1)
    c.head_bucket(Bucket=new)
    c.put_object(Bucket=new, Key="k", Body=b"in the new bucket")
    assert [o["Key"] for o in c.list_objects_v2(Bucket=new)["Contents"]] == ["k"]
    names = {b["Name"] for b in c.list_buckets()["Buckets"]}
    assert {home["bucket"], sibling["bucket"], new} <= names
    # The new space is the tenant's, with the quota of the key's own space, and audited.
    shown = server.cli_json("space", "show", new)
    assert shown["tenant_id"] == server.cli_json("space", "show", home["bucket"])["tenant_id"]
    assert shown["quota_bytes"] == 50_000
    assert err(lambda: c.put_object(Bucket=new, Key="big", Body=b"x" * 60_000))[1] == 403
    events = server.cli_json("audit", "--space", new, "--limit", "50")["events"]
    created = [e for e in events if e["operation"] == "space.created"]
    assert created and created[0]["actor"] == f"key:{tw['access_key_id']}"
    assert tw["secret_access_key"] not in str(events)

    # DeleteBucket: refused while anything is inside, then the space is gone and its name free.
    assert err(lambda: c.delete_bucket(Bucket=new)) == ("BucketNotEmpty", 409)
    up = c.create_multipart_upload(Bucket=new, Key="pending")
    c.delete_object(Bucket=new, Key="k")
    assert err(lambda: c.delete_bucket(Bucket=new)) == ("BucketNotEmpty", 409), "an upload in progress counts"
    c.abort_multipart_upload(Bucket=new, Key="pending", UploadId=up["UploadId"])
    assert c.delete_bucket(Bucket=new)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert err(lambda: c.head_bucket(Bucket=new))[1] == 404
    assert new not in {b["Name"] for b in c.list_buckets()["Buckets"]}
    assert any(e["operation"] == "space.deleted" for e in server.cli_json("audit", "--limit", "100")["events"])
    c.create_bucket(Bucket=new)  # the name can be used again
    assert "Contents" not in c.list_objects_v2(Bucket=new)

    # A revoked key is refused everywhere at once, creation included.
    tw2 = server.new_key(home, mode="tenant-wide")
    c2 = server.s3(tw2)
    c2.head_bucket(Bucket=sibling["bucket"])
    server.cli("key", "revoke", tw2["access_key_id"])
    for call in (lambda: c2.head_bucket(Bucket=sibling["bucket"]), lambda: c2.list_buckets(),
                 lambda: c2.create_bucket(Bucket=f"rs-{t}-after-revoke"), lambda: c2.head_bucket(Bucket=foreign["bucket"])):
        assert err(call)[1] == 403


def test_aws_s3_mb_and_rclone_mkdir(server, two_tenants, tmp_path):
    home, sibling, foreign, tw = two_tenants
    t = tenant_of(home)
    env = client_env(tw)
    b = f"rs-{t}-mb-{uuid.uuid4().hex[:6]}"
    run(["aws", "--endpoint-url", server.url, "s3", "mb", f"s3://{b}"], env)
    assert b in run(["aws", "--endpoint-url", server.url, "s3", "ls"], env).stdout
    f = tmp_path / "f.txt"
    f.write_text("hello")
    run(["aws", "--endpoint-url", server.url, "s3", "cp", "--only-show-errors", str(f), f"s3://{b}/f.txt"], env)
    run(["aws", "--endpoint-url", server.url, "s3", "rb", "--force", f"s3://{b}"], env)
    assert b not in run(["aws", "--endpoint-url", server.url, "s3", "ls"], env).stdout
    p = subprocess.run(["aws", "--endpoint-url", server.url, "s3", "mb", f"s3://{foreign['bucket']}"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "AccessDenied" in p.stderr

    renv = client_env(tw, {
        "RCLONE_CONFIG_RS_TYPE": "s3",
        "RCLONE_CONFIG_RS_PROVIDER": "Other",
        "RCLONE_CONFIG_RS_ACCESS_KEY_ID": tw["access_key_id"],
        "RCLONE_CONFIG_RS_SECRET_ACCESS_KEY": tw["secret_access_key"],
        "RCLONE_CONFIG_RS_ENDPOINT": server.url,
        "RCLONE_CONFIG_RS_REGION": "us-east-1",
        "RCLONE_RETRIES": "1",
        "RCLONE_LOW_LEVEL_RETRIES": "1",
    })
    rb = f"rs-{t}-rclone-{uuid.uuid4().hex[:6]}"
    run(["rclone", "mkdir", f"rs:{rb}"], renv)
    run(["rclone", "copy", str(f), f"rs:{rb}/d"], renv)
    assert "f.txt" in run(["rclone", "ls", f"rs:{rb}"], renv).stdout
    assert rb in run(["rclone", "lsd", "rs:"], renv).stdout
    run(["rclone", "purge", f"rs:{rb}"], renv)
    assert rb not in run(["rclone", "lsd", "rs:"], renv).stdout
