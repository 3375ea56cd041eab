"""Lifecycle rules of spaces (issue 19) with boto3 and the CLI, on both backends: the S3 calls,
the control API and CLI, and expirer passes judged at a chosen later time (`rustshare admin
lifecycle --as-of`) instead of waiting days."""

import datetime
import json

import botocore
import pytest


def err(fn):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn()
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def later(days):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def run(server, days, batch=None):
    args = ["admin", "lifecycle", "--as-of", later(days)]
    if batch:
        args += ["--batch", str(batch)]
    return server.cli_json(*args)


def keys(c, b, prefix=""):
    return sorted(o["Key"] for o in c.list_objects_v2(Bucket=b, Prefix=prefix).get("Contents", []))


def versions(c, b, prefix=""):
    r = c.list_object_versions(Bucket=b, Prefix=prefix)
    return [(v["Key"], v["VersionId"]) for v in r.get("Versions", [])], [(m["Key"], m["VersionId"]) for m in r.get("DeleteMarkers", [])]


def test_rules_through_the_s3_api_the_cli_and_the_control_api(server, tmp_path):
    sp = server.new_space()
    b = sp["bucket"]
    pub = server.s3(server.new_key(sp, mode="publisher"))
    ro = server.s3(server.new_key(sp, mode="read-only"))
    assert err(lambda: pub.get_bucket_lifecycle_configuration(Bucket=b)) == ("NoSuchLifecycleConfiguration", 404)
    rules = [
        {"ID": "ci", "Status": "Enabled", "Filter": {"Prefix": "ci/"}, "Expiration": {"Days": 30},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 90, "NewerNoncurrentVersions": 5},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
        {"ID": "tmp", "Status": "Disabled", "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "keep", "Value": "no"}]}}, "Expiration": {"Days": 1}},
    ]
    pub.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": rules})
    got = ro.get_bucket_lifecycle_configuration(Bucket=b)["Rules"]
    assert [r["ID"] for r in got] == ["ci", "tmp"]
    assert got[0]["Expiration"]["Days"] == 30 and got[0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90, "NewerNoncurrentVersions": 5}
    assert got[0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 7
    assert got[1]["Status"] == "Disabled" and got[1]["Filter"]["And"]["Tags"] == [{"Key": "keep", "Value": "no"}]
    # Readers read them; only a key that may set bucket settings changes them.
    assert err(lambda: ro.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": rules}))[1] == 403
    assert err(lambda: ro.delete_bucket_lifecycle(Bucket=b))[1] == 403
    # What S3 refuses, refused the same way, and nothing changes.
    bad = [
        ({"ID": "d", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Date": datetime.datetime(2030, 1, 1)}}, 501),
        ({"ID": "z", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 0}}, 400),
        ({"ID": "t", "Status": "Enabled", "Filter": {"Prefix": ""}, "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}, 400),
        ({"ID": "n", "Status": "Enabled", "Filter": {"Prefix": ""}}, 400),
        ({"ID": "p", "Status": "Enabled", "Filter": {"Prefix": "../x"}, "Expiration": {"Days": 1}}, 400),
    ]
    for rule, status in bad:
        assert err(lambda: pub.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [rule]}))[1] == status, rule
    assert [r["ID"] for r in ro.get_bucket_lifecycle_configuration(Bucket=b)["Rules"]] == ["ci", "tmp"]
    # The CLI shows and sets the same rules, in aws-cli's file form or ours.
    text = server.cli("space", "lifecycle", b).stdout
    assert "objects expire after 30 days" in text and "the newest 5 kept" in text and "(disabled)" in text
    f = tmp_path / "rules.json"
    f.write_text(json.dumps({"Rules": [{"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 14}}]}))
    out = server.cli_json("space", "lifecycle", b, "--set", str(f))
    assert [r["id"] for r in out["rules"]] == ["logs"] and out["rules"][0]["expire_days"] == 14
    f.write_text(json.dumps({"rules": [{"id": "x", "expire_days": 0}]}))
    p = server.cli("space", "lifecycle", b, "--set", str(f), check=False)
    assert p.returncode == 2 and "positive" in p.stderr
    st, body = server.api("PUT", f"/spaces/{b}/lifecycle", {"rules": [{"id": "a", "expire_days": 1}, {"id": "a", "expire_days": 2}]})
    assert st == 400 and "twice" in body["error"]["message"]
    pub.delete_bucket_lifecycle(Bucket=b)
    assert err(lambda: pub.get_bucket_lifecycle_configuration(Bucket=b)) == ("NoSuchLifecycleConfiguration", 404)
    ops = [e["operation"] for e in server.cli_json("audit", "--space", b, "--limit", "100")["events"]]
    assert "lifecycle.set" in ops and "PutBucketLifecycleConfiguration" in ops


def test_the_expirer_in_a_versioned_space(server):
    """Keep CI builds 30 days, keep the last 2 noncurrent versions of releases for 90 days,
    remove lone delete markers, abort uploads after 7 days."""
    sp = server.new_space()
    b = sp["bucket"]
    c = server.s3(server.new_key(sp, mode="publisher"))
    c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    c.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "ci", "Status": "Enabled", "Filter": {"Prefix": "ci/"}, "Expiration": {"Days": 30},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
        {"ID": "ci-markers", "Status": "Enabled", "Filter": {"Prefix": "ci/"}, "Expiration": {"ExpiredObjectDeleteMarker": True}},
        {"ID": "releases", "Status": "Enabled", "Filter": {"Prefix": "releases/"},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 90, "NewerNoncurrentVersions": 2}},
        {"ID": "uploads", "Status": "Enabled", "Filter": {"Prefix": ""}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
    ]})
    c.put_object(Bucket=b, Key="ci/build-1.tar", Body=b"b" * 1000)
    rel = [c.put_object(Bucket=b, Key="releases/app.tar", Body=f"release {i}".encode())["VersionId"] for i in range(6)]
    up = c.create_multipart_upload(Bucket=b, Key="big/x.bin")["UploadId"]
    c.upload_part(Bucket=b, Key="big/x.bin", UploadId=up, PartNumber=1, Body=b"p" * 1024)

    r = run(server, 3)
    assert (r["expired"], r["noncurrent_removed"], r["uploads_aborted"]) == (0, 0, 0), r
    r = run(server, 8)
    assert r["uploads_aborted"] == 1 and r["bytes"] == 1024 and r["complete"], r
    assert c.list_multipart_uploads(Bucket=b).get("Uploads", []) == []
    # 31 days on: the CI build expires behind a delete marker; releases are untouched.
    r = run(server, 31)
    assert (r["expired"], r["noncurrent_removed"]) == (1, 0), r
    assert keys(c, b, "ci/") == []
    vs, ms = versions(c, b, "ci/")
    assert len(vs) == 1 and len(ms) == 1, "the build is a noncurrent version under a marker"
    # Its noncurrent version goes a day later; then the marker is the only thing left, and goes.
    r = run(server, 33)
    assert r["noncurrent_removed"] == 1, r
    r = run(server, 33)
    assert r["markers_removed"] == 1, r
    assert versions(c, b, "ci/") == ([], [])
    # 91 days on: the newest 2 noncurrent release versions stay, the 3 older ones go.
    r = run(server, 91)
    assert r["noncurrent_removed"] == 3, r
    vs, _ = versions(c, b, "releases/")
    assert [v[1] for v in vs] == rel[::-1][:3], "the current version and the newest two noncurrent ones"
    # Usage is exact after all of it, and each rule's removals are audited with their bytes.
    out = server.cli_json("admin", "reconcile")
    mine = [x for x in out["spaces"] if x["bucket"] == b][0]
    assert mine["before"] == mine["after"], mine
    u = mine["after"]
    assert (u["objects"], u["noncurrent_objects"], u["delete_markers"], u["multipart_bytes"]) == (1, 2, 0, 0), u
    events = server.cli_json("audit", "--space", b, "--operation", "lifecycle.expired", "--limit", "50")["events"]
    rules = {e["detail"].split()[0] for e in events}
    assert rules == {"rule=ci", "rule=ci-markers", "rule=releases", "rule=uploads"}, events
    assert all(e["actor"] == "lifecycle" for e in events)
    assert any("objects=3" in e["detail"] for e in events if e["detail"].startswith("rule=releases"))


def test_the_expirer_in_an_unversioned_space_by_tag_in_bounded_batches(server):
    sp = server.new_space()
    b = sp["bucket"]
    c = server.s3(server.new_key(sp, mode="publisher"))
    st, body = server.api("PUT", f"/spaces/{b}/lifecycle", {"rules": [
        {"id": "scratch", "prefix": "tmp/", "tags": {"keep": "no"}, "expire_days": 1},
    ]})
    assert st == 200, body
    for i in range(5):
        c.put_object(Bucket=b, Key=f"tmp/{i}", Body=b"x" * 10, Tagging="keep=no")
    c.put_object(Bucket=b, Key="tmp/kept", Body=b"k", Tagging="keep=yes")
    c.put_object(Bucket=b, Key="other/0", Body=b"o", Tagging="keep=no")
    # A batch of 2: the pass says it is not done, and the next one goes on.
    r = run(server, 2, batch=2)
    assert (r["expired"], r["complete"]) == (2, False), r
    r = run(server, 2)
    assert (r["expired"], r["bytes"], r["complete"]) == (3, 30, True), r
    assert keys(c, b) == ["other/0", "tmp/kept"], "no markers in an unversioned space: the objects are gone"
    assert versions(c, b, "tmp/") == ([("tmp/kept", "null")], [])
    u = server.cli_json("usage", b)["usage"]
    assert (u["objects"], u["bytes"]) == (2, 2), u
    # Nothing is due twice.
    assert run(server, 2)["expired"] == 0
    # A pass judges now or later, never earlier; each pass is audited with its time.
    st, body = server.api("POST", "/admin/lifecycle/run", {"as_of": "2001-01-01T00:00:00Z"})
    assert st == 400 and "past" in body["error"]["message"]
    runs = server.cli_json("audit", "--operation", "lifecycle.run", "--limit", "5")["events"]
    assert runs and "as_of=" in runs[0]["detail"]
    # A rule removed: nothing more expires.
    server.cli("space", "lifecycle", b, "--clear")
    c.put_object(Bucket=b, Key="tmp/late", Body=b"l", Tagging="keep=no")
    assert run(server, 100)["expired"] == 0
    assert "tmp/late" in keys(c, b)
