"""Versioning of spaces (issue 19) with boto3 and the CLI, on both backends: the S3 calls
(Get/PutBucketVersioning, ListObjectVersions, reads, copies and deletes by versionId, delete
markers, suspended spaces), usage of noncurrent versions, the CDN face serving current versions
only, and who may do what."""

import hashlib

import botocore
import pytest
import requests

MiB = 1024 * 1024


def err(fn):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn()
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def versioned(server, mode="publisher", purpose="artifacts"):
    sp = server.new_space(purpose=purpose)
    c = server.s3(server.new_key(sp, mode=mode))
    return sp, sp["bucket"], c


def all_versions(c, b, **kw):
    """Every version and marker through pages of two, checking that pages never repeat."""
    seen, markers, prefixes = [], [], []
    args = dict(Bucket=b, MaxKeys=2, **kw)
    while True:
        r = c.list_object_versions(**args)
        seen += [(v["Key"], v["VersionId"], v["IsLatest"], v["Size"], v["ETag"]) for v in r.get("Versions", [])]
        markers += [(m["Key"], m["VersionId"], m["IsLatest"]) for m in r.get("DeleteMarkers", [])]
        prefixes += [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        if not r["IsTruncated"]:
            break
        args["KeyMarker"] = r["NextKeyMarker"]
        if r.get("NextVersionIdMarker"):
            args["VersionIdMarker"] = r["NextVersionIdMarker"]
        else:
            args.pop("VersionIdMarker", None)
    ids = [v[1] for v in seen] + [m[1] for m in markers]
    assert len(ids) == len(set(ids)), f"a version was listed twice: {ids}"
    return seen, markers, prefixes


def body(c, b, k, **kw):
    return c.get_object(Bucket=b, Key=k, **kw)["Body"].read()


def test_versions_are_kept_listed_read_and_restored(server):
    sp, b, c = versioned(server)
    assert "Status" not in c.get_bucket_versioning(Bucket=b)
    first = c.put_object(Bucket=b, Key="app.tar", Body=b"v0 before versioning")
    assert "VersionId" not in first, "an unversioned space sends no version id"

    c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    assert c.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    v1 = c.put_object(Bucket=b, Key="app.tar", Body=b"v1 release")["VersionId"]
    v2 = c.put_object(Bucket=b, Key="app.tar", Body=b"v2 release, longer")["VersionId"]
    assert len({v1, v2, "null"}) == 3

    versions, markers, _ = all_versions(c, b)
    assert [(v[1], v[2], v[3]) for v in versions] == [
        (v2, True, len(b"v2 release, longer")),
        (v1, False, len(b"v1 release")),
        ("null", False, len(b"v0 before versioning")),
    ]
    assert versions[2][4] == first["ETag"], "a kept version answers the ETag it was written with"
    assert markers == []

    # Reads by version; HEAD says the version it answered.
    assert body(c, b, "app.tar") == b"v2 release, longer"
    assert body(c, b, "app.tar", VersionId=v1) == b"v1 release"
    assert body(c, b, "app.tar", VersionId="null") == b"v0 before versioning"
    h = c.head_object(Bucket=b, Key="app.tar", VersionId="null")
    assert (h["ETag"], h["VersionId"], h["ContentLength"]) == (first["ETag"], "null", len(b"v0 before versioning"))
    assert c.head_object(Bucket=b, Key="app.tar")["VersionId"] == v2
    assert c.get_object(Bucket=b, Key="app.tar", VersionId=v1, Range="bytes=3-9")["Body"].read() == b"release"

    # A delete makes a marker: the key is gone, its versions are not.
    d = c.delete_object(Bucket=b, Key="app.tar")
    assert d["DeleteMarker"] is True and d["VersionId"] not in (v1, v2, "null")
    marker = d["VersionId"]
    assert err(lambda: c.get_object(Bucket=b, Key="app.tar")) == ("NoSuchKey", 404)
    assert err(lambda: c.head_object(Bucket=b, Key="app.tar", VersionId=marker))[1] == 405
    assert c.list_objects_v2(Bucket=b).get("KeyCount") == 0, "a deleted key is not listed"
    versions, markers, _ = all_versions(c, b)
    assert markers == [("app.tar", marker, True)]
    assert [v[2] for v in versions] == [False, False, False]

    # Removing the marker brings the last version back.
    c.delete_object(Bucket=b, Key="app.tar", VersionId=marker)
    assert body(c, b, "app.tar") == b"v2 release, longer"
    # Removing the current version for good: the one before becomes current.
    r = c.delete_object(Bucket=b, Key="app.tar", VersionId=v2)
    assert r["VersionId"] == v2 and "DeleteMarker" not in r
    assert body(c, b, "app.tar") == b"v1 release"
    assert c.head_object(Bucket=b, Key="app.tar")["VersionId"] == v1
    assert err(lambda: c.get_object(Bucket=b, Key="app.tar", VersionId=v2)) == ("NoSuchVersion", 404)

    # Tags: each version keeps its own; changing a noncurrent version's tags is not offered.
    c.put_object_tagging(Bucket=b, Key="app.tar", Tagging={"TagSet": [{"Key": "stage", "Value": "current"}]})
    assert c.get_object_tagging(Bucket=b, Key="app.tar", VersionId=v1)["TagSet"] == [{"Key": "stage", "Value": "current"}]
    assert c.get_object_tagging(Bucket=b, Key="app.tar", VersionId="null")["TagSet"] == []
    assert err(lambda: c.put_object_tagging(Bucket=b, Key="app.tar", VersionId="null", Tagging={"TagSet": []}))[1] == 501
    assert err(lambda: c.get_object_attributes(Bucket=b, Key="app.tar", VersionId="null", ObjectAttributes=["ETag"]))[1] == 501
    assert c.get_object_attributes(Bucket=b, Key="app.tar", VersionId=v1, ObjectAttributes=["ETag"])["ETag"]

    # Restoring an old version is a copy of it onto its key: a new version.
    cp = c.copy_object(Bucket=b, Key="app.tar", CopySource={"Bucket": b, "Key": "app.tar", "VersionId": "null"})
    assert cp["CopySourceVersionId"] == "null" and cp["VersionId"] not in (v1, "null")
    assert body(c, b, "app.tar") == b"v0 before versioning"
    versions, _, _ = all_versions(c, b)
    assert [v[1] for v in versions] == [cp["VersionId"], v1, "null"]

    # Usage counts every stored version; the CLI says which are noncurrent.
    u = server.cli_json("usage", b)["usage"]
    assert (u["bytes"], u["objects"]) == (len(b"v0 before versioning"), 1)
    assert (u["noncurrent_bytes"], u["noncurrent_objects"]) == (len(b"v1 release") + len(b"v0 before versioning"), 2)
    text = server.cli("usage", b).stdout
    assert "noncurrent" in text

    # Every version removed for good: nothing left, usage back to zero.
    for v in versions:
        c.delete_object(Bucket=b, Key="app.tar", VersionId=v[1])
    assert all_versions(c, b) == ([], [], [])
    u = server.cli_json("usage", b)["usage"]
    assert (u["bytes"], u["objects"], u["noncurrent_bytes"], u["noncurrent_objects"], u["delete_markers"]) == (0, 0, 0, 0, 0)


def test_suspended_spaces_write_the_null_version(server):
    sp, b, c = versioned(server)
    c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v1 = c.put_object(Bucket=b, Key="k", Body=b"one")["VersionId"]
    c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    assert c.get_bucket_versioning(Bucket=b)["Status"] == "Suspended"
    assert c.put_object(Bucket=b, Key="k", Body=b"two").get("VersionId") == "null"
    assert c.put_object(Bucket=b, Key="k", Body=b"three").get("VersionId") == "null"
    versions, _, _ = all_versions(c, b)
    assert [(v[1], v[2]) for v in versions] == [("null", True), (v1, False)], "the null version replaces itself"
    # A delete in a suspended space: a null marker that replaces the null version.
    d = c.delete_object(Bucket=b, Key="k")
    assert (d["DeleteMarker"], d["VersionId"]) == (True, "null")
    versions, markers, _ = all_versions(c, b)
    assert [v[1] for v in versions] == [v1] and markers == [("k", "null", True)]
    assert body(c, b, "k", VersionId=v1) == b"one"
    u = server.cli_json("usage", b)["usage"]
    assert (u["bytes"], u["noncurrent_bytes"], u["delete_markers"]) == (0, 3, 1)
    # Enabled again; never back to unversioned.
    c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    st, out = server.api("PUT", f"/spaces/{b}/versioning", {"versioning": "unversioned"})
    assert st == 400 and "suspend" in out["error"]["message"]


def test_multipart_copy_and_batch_deletes_make_versions(server):
    sp, b, c = versioned(server)
    c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v1 = c.put_object(Bucket=b, Key="big.bin", Body=b"small first")["VersionId"]
    up = c.create_multipart_upload(Bucket=b, Key="big.bin")
    part = b"p" * (5 * MiB)
    e1 = c.upload_part(Bucket=b, Key="big.bin", UploadId=up["UploadId"], PartNumber=1, Body=part)["ETag"]
    e2 = c.upload_part(Bucket=b, Key="big.bin", UploadId=up["UploadId"], PartNumber=2, Body=b"tail")["ETag"]
    done = c.complete_multipart_upload(
        Bucket=b, Key="big.bin", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
    )
    v2 = done["VersionId"]
    assert v2 not in (v1, "null")
    assert hashlib.sha256(body(c, b, "big.bin")).digest() == hashlib.sha256(part + b"tail").digest()
    assert body(c, b, "big.bin", VersionId=v1) == b"small first"
    # An old version's bytes stay readable by range.
    assert c.get_object(Bucket=b, Key="big.bin", VersionId=v1, Range="bytes=0-4")["Body"].read() == b"small"

    for k in ("a/1", "a/2", "b"):
        c.put_object(Bucket=b, Key=k, Body=k.encode())
        c.put_object(Bucket=b, Key=k, Body=k.encode() * 2)
    # Delimiters roll keys up in version listings too.
    _, _, prefixes = all_versions(c, b, Delimiter="/")
    assert prefixes == ["a/"]
    versions, _, _ = all_versions(c, b, Prefix="a/")
    assert sorted({v[0] for v in versions}) == ["a/1", "a/2"] and len(versions) == 4

    # DeleteObjects: a key without a version makes a marker, a version is removed for good.
    old_b = [v for v in all_versions(c, b, Prefix="b")[0] if not v[2]][0][1]
    r = c.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "a/1"}, {"Key": "b", "VersionId": old_b}, {"Key": "big.bin", "VersionId": v1}]})
    by_key = {d["Key"]: d for d in r["Deleted"]}
    assert by_key["a/1"]["DeleteMarker"] is True and by_key["a/1"]["DeleteMarkerVersionId"]
    assert by_key["b"]["VersionId"] == old_b and by_key["big.bin"]["VersionId"] == v1
    assert r.get("Errors", []) == []
    assert err(lambda: c.get_object(Bucket=b, Key="big.bin", VersionId=v1)) == ("NoSuchVersion", 404)
    assert body(c, b, "b") == b"bb", "removing an old version leaves the current one"
    assert err(lambda: c.get_object(Bucket=b, Key="a/1")) == ("NoSuchKey", 404)

    # Many versions of one key page by version-id markers without repeats or gaps.
    ids = [c.put_object(Bucket=b, Key="many", Body=str(i).encode())["VersionId"] for i in range(7)]
    versions, _, _ = all_versions(c, b, Prefix="many")
    assert [v[1] for v in versions] == ids[::-1]


def test_who_may_change_versions(server):
    sp, b, pub = versioned(server)
    pub.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v1 = pub.put_object(Bucket=b, Key="rel/x", Body=b"1")["VersionId"]
    pub.put_object(Bucket=b, Key="rel/x", Body=b"2")
    ro = server.s3(server.new_key(sp, mode="read-only"))
    rw = server.s3(server.new_key(sp, mode="read-write"))
    scoped = server.s3(server.new_key(sp, mode="read-write-delete", prefix="other/"))
    # Readers read versions; they change nothing.
    assert body(ro, b, "rel/x", VersionId=v1) == b"1"
    assert len(all_versions(ro, b)[0]) == 2
    assert ro.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    assert err(lambda: ro.delete_object(Bucket=b, Key="rel/x", VersionId=v1)) == ("AccessDenied", 403)
    assert err(lambda: ro.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})) == ("AccessDenied", 403)
    # Writing is not deleting: a read-write key cannot remove a version for good.
    assert err(lambda: rw.delete_object(Bucket=b, Key="rel/x", VersionId=v1)) == ("AccessDenied", 403)
    assert err(lambda: rw.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})) == ("AccessDenied", 403)
    # A key scoped to another prefix sees none of these versions.
    assert err(lambda: scoped.list_object_versions(Bucket=b, Prefix="rel/")) == ("AccessDenied", 403)
    assert err(lambda: scoped.get_object(Bucket=b, Key="rel/x", VersionId=v1)) == ("AccessDenied", 403)
    assert err(lambda: scoped.copy_object(Bucket=b, Key="other/y", CopySource={"Bucket": b, "Key": "rel/x", "VersionId": v1})) == ("AccessDenied", 403)
    assert [v[0] for v in all_versions(scoped, b, Prefix="other/")[0]] == []
    assert body(pub, b, "rel/x", VersionId=v1) == b"1", "nothing changed"
    # Another tenant's key cannot name this bucket's versions at all.
    _, b2, other = versioned(server)
    code, status = err(lambda: other.list_object_versions(Bucket=b))
    assert status == 403, code


def test_bad_version_requests_are_refused_clearly(server):
    sp, b, c = versioned(server)
    c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    c.put_object(Bucket=b, Key="k", Body=b"x")
    for bad in ["../etc", "a b", "x" * 200]:
        assert err(lambda: c.get_object(Bucket=b, Key="k", VersionId=bad)) == ("InvalidArgument", 400), bad
        assert err(lambda: c.delete_object(Bucket=b, Key="k", VersionId=bad)) == ("InvalidArgument", 400), bad
    assert err(lambda: c.list_object_versions(Bucket=b, KeyMarker="k", VersionIdMarker="../x")) == ("InvalidArgument", 400)
    assert err(lambda: c.get_object(Bucket=b, Key="k", VersionId="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")) == ("NoSuchVersion", 404)
    # A version that is not there: deleting it changes nothing.
    c.delete_object(Bucket=b, Key="k", VersionId="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert body(c, b, "k") == b"x"
    assert err(lambda: c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Sideways"}))[1] == 400
    assert err(lambda: c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"}, MFA="123 456"))[1] == 501
    # Registry spaces stay unversioned, and say why.
    reg = server.new_space(purpose="registry")
    st, out = server.api("PUT", f"/spaces/{reg['bucket']}/versioning", {"versioning": "enabled"})
    assert st == 400 and "digest" in out["error"]["message"]
    u = server.cli_json("usage", b)["usage"]
    assert (u["objects"], u["noncurrent_objects"], u["delete_markers"]) == (1, 0, 0), "refusals stored nothing"


def test_cli_versions_and_restore(server):
    sp, b, c = versioned(server)
    out = server.cli("space", "versioning", b, "enable").stdout
    assert "enabled" in out
    v1 = c.put_object(Bucket=b, Key="docs/readme", Body=b"first")["VersionId"]
    v2 = c.put_object(Bucket=b, Key="docs/readme", Body=b"second")["VersionId"]
    listed = server.cli_json("object", "versions", b, "docs/readme")["versions"]
    assert [(v["version_id"], v["latest"]) for v in listed] == [(v2, True), (v1, False)]
    text = server.cli("object", "versions", b, "docs/readme").stdout
    assert v1 in text and v2 in text
    restored = server.cli_json("object", "restore", b, "docs/readme", v1)
    assert restored["version_id"] not in (v1, v2)
    assert body(c, b, "docs/readme") == b"first"
    assert len(server.cli_json("object", "versions", b, "docs/readme")["versions"]) == 3
    bad = server.cli("object", "restore", b, "docs/readme", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", check=False)
    assert bad.returncode != 0 and "version" in bad.stderr.lower()
    ops = [e["operation"] for e in server.cli_json("audit", "--space", b, "--limit", "100")["events"]]
    assert "versioning.set" in ops and "object.restored" in ops
    server.cli("space", "versioning", b, "suspend")
    assert c.get_bucket_versioning(Bucket=b)["Status"] == "Suspended"


def test_the_cdn_serves_the_current_version_only(server):
    sp = server.new_space(purpose="cdn")
    b = sp["bucket"]
    c = server.s3(server.new_key(sp, mode="publisher"))
    st, pub = server.api("PUT", f"/spaces/{b}/public", {})
    assert st == 200, pub
    name = pub["public"]["rules"]["public_name"]

    def cdn(key):
        return requests.get(f"{server.url}/{name}/{key}", headers={"Host": "cdn.localhost"}, timeout=10)

    c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v1 = c.put_object(Bucket=b, Key="index.html", Body=b"<p>one</p>", ContentType="text/html")
    r = cdn("index.html")
    assert r.status_code == 200 and r.content == b"<p>one</p>"
    v2 = c.put_object(Bucket=b, Key="index.html", Body=b"<p>two</p>", ContentType="text/html")
    r = cdn("index.html")
    assert r.content == b"<p>two</p>" and r.headers["ETag"] == v2["ETag"], "a new version purges the cached one"
    c.delete_object(Bucket=b, Key="index.html")
    assert cdn("index.html").status_code == 404, "a delete marker is a 404"
    # Version ids in the query change nothing on the CDN face.
    assert requests.get(f"{server.url}/{name}/index.html?versionId={v1['VersionId']}", headers={"Host": "cdn.localhost"}, timeout=10).status_code == 404
    c.delete_object(Bucket=b, Key="index.html", VersionId=v2["VersionId"])
    # The marker is still the newest: removing the newest object version changes nothing.
    assert cdn("index.html").status_code == 404
    marker = all_versions(c, b)[1][0][1]
    c.delete_object(Bucket=b, Key="index.html", VersionId=marker)
    r = cdn("index.html")
    assert r.status_code == 200 and r.content == b"<p>one</p>", "the promoted version is served"


@pytest.mark.parametrize("point,op,backend", [
    ("version.preserved", "put", "fs"),
    ("put.stored", "put", "fs"),
    ("version.unlinked", "delete", "fs"),
    ("put.stored", "put", "s3"),
    ("version.preserved", "delete", "s3"),
])
def test_kill_mid_change_keeps_every_version(tmp_path, point, op, backend):
    """kill -9 inside a versioned write or delete (the debug build's pause points): after the
    restart the change is either finished or undone, every version is readable, no bytes are
    left that no version names, and usage is exact (a reconcile pass finds nothing to change)."""
    import signal
    import threading
    from conftest import Server
    from test_security import wait_paused

    s = Server(tmp_path / "srv", backend=backend)
    try:
        sp = s.new_space()
        b = sp["bucket"]
        key = s.new_key(sp, mode="publisher")
        c = s.s3(key, read_timeout=60)
        c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
        v1 = c.put_object(Bucket=b, Key="k", Body=b"first")["VersionId"]
        # Restarted with the pause point armed (it would have stopped the first write too).
        s.stop(peer=False)
        s.env["RUSTSHARE_PAUSE_AT"] = point
        s.start()

        def interrupted():
            try:
                if op == "put":
                    c.put_object(Bucket=b, Key="k", Body=b"second, longer")
                else:
                    c.delete_object(Bucket=b, Key="k")
            except Exception:  # the server is killed under it
                pass

        t = threading.Thread(target=interrupted, daemon=True)
        t.start()
        wait_paused(s, point)
        s.stop(signal.SIGKILL, peer=False)
        t.join(60)
        del s.env["RUSTSHARE_PAUSE_AT"]
        s.start()
        versions, markers, _ = all_versions(c, b)
        ids = [v[1] for v in versions]
        landed = point != "version.preserved"
        if op == "put" and landed:
            assert body(c, b, "k") == b"second, longer"
            assert len(ids) == 2 and ids[1] == v1 and versions[0][2], versions
        elif op == "put":
            assert body(c, b, "k") == b"first" and ids == [v1], versions
        elif landed:
            assert err(lambda: c.get_object(Bucket=b, Key="k"))[1] == 404
            assert ids == [v1] and len(markers) == 1 and markers[0][2], (versions, markers)
        else:
            assert body(c, b, "k") == b"first" and ids == [v1] and markers == [], (versions, markers)
        assert body(c, b, "k", VersionId=v1) == b"first", "the kept version is readable"
        out = s.cli_json("admin", "reconcile")
        mine = [r for r in out["spaces"] if r["bucket"] == b][0]
        assert mine["before"] == mine["after"], mine
        u = mine["after"]
        sizes = [v[3] for v in versions]
        assert u["bytes"] + u["noncurrent_bytes"] == sum(sizes), (u, versions)
        assert (u["noncurrent_objects"], u["delete_markers"]) == (len(versions) - (1 if versions and versions[0][2] else 0), len(markers)), u
        # No bytes left that no version names: the versions area holds exactly the noncurrent ones.
        if backend == "fs":
            root = tmp_path / "srv"
            kept = [p for p in root.rglob("*@o") if "object-versions" in str(p)]
            assert len(kept) == u["noncurrent_objects"], kept
    finally:
        s.stop()


def test_a_repository_publishes_from_a_versioned_space(server, tmp_path):
    """The publisher consumes incoming files for good, older versions included: one left behind
    would become current again and be published by the next run."""
    import json
    from test_packages import build_deb, new_repo

    sp, repo, _ = new_repo(server)
    b = sp["bucket"]
    server.cli("space", "versioning", b, "enable")
    c = server.s3(server.new_key(sp, mode="publisher", prefix="incoming/"))
    first = build_deb(tmp_path, "vhello", "1.0-1")
    second = build_deb(tmp_path, "vhello", "1.0-1", payload="rebuilt")
    k = f"incoming/{repo}/bookworm/main/vhello_1.0-1_amd64.deb"
    c.put_object(Bucket=b, Key=k, Body=first.read_bytes())
    c.put_object(Bucket=b, Key=k, Body=second.read_bytes())  # CI rebuilt it before the publish
    assert len(all_versions(c, b, Prefix="incoming/")[0]) == 2
    out = json.loads(server.cli("--json", "repo", "publish", repo).stdout)
    assert out["snapshot"]["changes"] == ["stable: +vhello 1.0-1 (amd64)"], out
    assert all_versions(c, b, Prefix="incoming/") == ([], [], []), "no version of a consumed file is left"
    u = server.cli_json("usage", b)["usage"]
    assert (u["objects"], u["noncurrent_objects"], u["noncurrent_bytes"], u["delete_markers"]) == (0, 0, 0, 0), u
    # The next publish has nothing to take.
    again = server.cli("--json", "repo", "publish", repo, check=False)
    if again.returncode == 0:
        assert json.loads(again.stdout)["snapshot"]["id"] == out["snapshot"]["id"], "no new snapshot: nothing came back"
    else:
        assert "vhello" not in again.stderr, again.stderr
