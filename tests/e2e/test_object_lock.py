"""Object lock and write-once prefixes (issue 19) with boto3, the CLI and the control API, on both
backends: S3's Put/GetObjectLockConfiguration, Put/GetObjectRetention, Put/GetObjectLegalHold and
the lock headers, as S3 answers them; governance bypassed by the operator only; compliance by
nobody; write-once prefixes that freeze a published key; lifecycle that never removes a locked
version, whatever time it is asked to judge at."""

import datetime
import uuid

import botocore
import pytest
import requests

from conftest import SECRETS


def err(fn):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn()
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def at(days=0, seconds=0):
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(days=days, seconds=seconds)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def locked_space(server, mode="publisher", purpose="artifacts", default=None):
    sp = server.new_space(purpose=purpose)
    b = sp["bucket"]
    c = server.s3(server.new_key(sp, mode=mode))
    c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    conf = {"ObjectLockEnabled": "Enabled"}
    if default:
        conf["Rule"] = {"DefaultRetention": default}
    c.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration=conf)
    return sp, b, c


def versions(c, b, prefix=""):
    r = c.list_object_versions(Bucket=b, Prefix=prefix)
    return [(v["Key"], v["VersionId"]) for v in r.get("Versions", [])], [(m["Key"], m["VersionId"]) for m in r.get("DeleteMarkers", [])]


def exact_usage(server, b):
    out = server.cli_json("admin", "reconcile")
    mine = [x for x in out["spaces"] if x["bucket"] == b][0]
    assert mine["before"] == mine["after"], mine
    return mine["after"]


def tenant_token(server, sp):
    st, tok = server.api("POST", f"/tenants/{sp['tenant_id']}/tokens", {"name": f"admin-{uuid.uuid4().hex[:6]}"})
    assert st == 201, tok
    SECRETS.add(tok["token"])
    return tok["token"]


def test_the_configuration_as_s3_answers(server):
    sp = server.new_space()
    b = sp["bucket"]
    c = server.s3(server.new_key(sp, mode="publisher"))
    assert err(lambda: c.get_object_lock_configuration(Bucket=b)) == ("ObjectLockConfigurationNotFoundError", 404)
    # Lock headers on a space without object lock: refused, nothing stored.
    assert err(lambda: c.put_object(Bucket=b, Key="a", Body=b"x", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=at(1))) == ("InvalidRequest", 400)
    assert err(lambda: c.put_object(Bucket=b, Key="a", Body=b"x", ObjectLockLegalHoldStatus="ON")) == ("InvalidRequest", 400)
    assert c.list_objects_v2(Bucket=b).get("KeyCount") == 0
    assert err(lambda: c.get_object_retention(Bucket=b, Key="a")) == ("InvalidRequest", 400)
    # Object lock needs versioning enabled, as S3 answers.
    enabled = {"ObjectLockEnabled": "Enabled"}
    assert err(lambda: c.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration=enabled)) == ("InvalidBucketState", 409)
    c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    rule = {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}
    c.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={**enabled, "Rule": rule})
    got = c.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"]
    assert got == {"ObjectLockEnabled": "Enabled", "Rule": rule}
    # Once locked, versioning stays enabled.
    assert err(lambda: c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})) == ("InvalidBucketState", 409)
    # Malformed rules.
    bad = [
        ({**enabled, "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1, "Years": 1}}}, ("MalformedXML", 400)),
        ({**enabled, "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 0}}}, ("InvalidArgument", 400)),
        ({**enabled, "Rule": {"DefaultRetention": {"Mode": "SOMETIMES", "Days": 1}}}, ("InvalidArgument", 400)),
        ({"Rule": rule}, ("MalformedXML", 400)),
    ]
    for doc, want in bad:
        assert err(lambda: c.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration=doc)) == want, doc
    assert c.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"]["Rule"] == rule, "refusals changed nothing"
    # Keys that may not set bucket settings cannot set it; any key of the space reads it.
    ro = server.s3(server.new_key(sp, mode="read-only"))
    rwd = server.s3(server.new_key(sp, mode="read-write-delete"))
    assert err(lambda: rwd.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration=enabled)) == ("AccessDenied", 403)
    assert ro.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
    # The default applies to every new version, whoever writes it.
    v = rwd.put_object(Bucket=b, Key="ci/build.tar", Body=b"build")["VersionId"]
    h = ro.head_object(Bucket=b, Key="ci/build.tar")
    assert h["ObjectLockMode"] == "GOVERNANCE" and at(0, 3600 * 23) < h["ObjectLockRetainUntilDate"] <= at(1, 5)
    assert err(lambda: rwd.delete_object(Bucket=b, Key="ci/build.tar", VersionId=v)) == ("AccessDenied", 403)
    # Another tenant's key reaches none of it.
    other = server.s3(server.new_key(server.new_space(), mode="publisher"))
    assert err(lambda: other.get_object_lock_configuration(Bucket=b))[1] in (403, 404)
    assert err(lambda: other.get_object_retention(Bucket=b, Key="ci/build.tar"))[1] in (403, 404)


def test_create_bucket_with_object_lock(server):
    home = server.new_space()
    tw = server.s3(server.new_key(home, mode="tenant-wide"))
    name = f"rs-{home['bucket'].split('-')[1]}-locked{uuid.uuid4().hex[:4]}"
    # The bucket's name is made by the tenant-wide key's rules.
    tw.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    assert tw.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    assert tw.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"] == {"ObjectLockEnabled": "Enabled"}


def test_retention_and_legal_hold_protect_versions(server):
    sp, b, c = locked_space(server)
    until = at(1)
    v1 = c.put_object(Bucket=b, Key="rel/app.tar", Body=b"one", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until)["VersionId"]
    h = c.head_object(Bucket=b, Key="rel/app.tar")
    assert (h["ObjectLockMode"], h["ObjectLockRetainUntilDate"]) == ("GOVERNANCE", until)
    assert "ObjectLockLegalHoldStatus" not in h
    g = c.get_object(Bucket=b, Key="rel/app.tar", VersionId=v1)
    assert g["ObjectLockMode"] == "GOVERNANCE"
    r = c.get_object_retention(Bucket=b, Key="rel/app.tar")["Retention"]
    assert (r["Mode"], r["RetainUntilDate"]) == ("GOVERNANCE", until)

    # The version cannot be removed; the key can still be deleted (a marker) and written
    # (a new version), as in S3: the lock protects versions, not keys.
    assert err(lambda: c.delete_object(Bucket=b, Key="rel/app.tar", VersionId=v1)) == ("AccessDenied", 403)
    assert err(lambda: c.delete_object(Bucket=b, Key="rel/app.tar", VersionId=v1, BypassGovernanceRetention=True)) == ("AccessDenied", 403)
    d = c.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "rel/app.tar", "VersionId": v1}]})
    assert [e["Code"] for e in d.get("Errors", [])] == ["AccessDenied"] and not d.get("Deleted")
    marker = c.delete_object(Bucket=b, Key="rel/app.tar")["VersionId"]
    c.delete_object(Bucket=b, Key="rel/app.tar", VersionId=marker)
    v2 = c.put_object(Bucket=b, Key="rel/app.tar", Body=b"two")["VersionId"]
    assert err(lambda: c.get_object_retention(Bucket=b, Key="rel/app.tar")) == ("NoSuchObjectLockConfiguration", 404)
    assert c.get_object(Bucket=b, Key="rel/app.tar", VersionId=v1)["Body"].read() == b"one"

    # Retention grows; it never shrinks from an S3 key (governance is the operator's to bypass).
    later = at(2)
    c.put_object_retention(Bucket=b, Key="rel/app.tar", VersionId=v1, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later})
    shorter = {"Mode": "GOVERNANCE", "RetainUntilDate": at(0, 3600)}
    assert err(lambda: c.put_object_retention(Bucket=b, Key="rel/app.tar", VersionId=v1, Retention=shorter)) == ("AccessDenied", 403)
    assert err(lambda: c.put_object_retention(Bucket=b, Key="rel/app.tar", VersionId=v1, Retention=shorter, BypassGovernanceRetention=True)) == ("AccessDenied", 403)
    past = {"Mode": "GOVERNANCE", "RetainUntilDate": at(-1)}
    assert err(lambda: c.put_object_retention(Bucket=b, Key="rel/app.tar", VersionId=v1, Retention=past)) == ("InvalidArgument", 400)
    assert c.get_object_retention(Bucket=b, Key="rel/app.tar", VersionId=v1)["Retention"]["RetainUntilDate"] == later

    # A legal hold: no end date, lifted explicitly.
    c.put_object_legal_hold(Bucket=b, Key="rel/app.tar", VersionId=v2, LegalHold={"Status": "ON"})
    assert c.get_object_legal_hold(Bucket=b, Key="rel/app.tar")["LegalHold"]["Status"] == "ON"
    assert c.head_object(Bucket=b, Key="rel/app.tar")["ObjectLockLegalHoldStatus"] == "ON"
    assert err(lambda: c.delete_object(Bucket=b, Key="rel/app.tar", VersionId=v2)) == ("AccessDenied", 403)
    c.put_object_legal_hold(Bucket=b, Key="rel/app.tar", VersionId=v2, LegalHold={"Status": "OFF"})
    assert c.get_object_legal_hold(Bucket=b, Key="rel/app.tar", VersionId=v2)["LegalHold"]["Status"] == "OFF"

    # Compliance: stricter is allowed; nothing shortens it, the operator included.
    v3 = c.put_object(Bucket=b, Key="audit/log", Body=b"log", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=at(1),
                      ObjectLockLegalHoldStatus="ON")["VersionId"]
    assert c.head_object(Bucket=b, Key="audit/log")["ObjectLockLegalHoldStatus"] == "ON"
    c.put_object_legal_hold(Bucket=b, Key="audit/log", LegalHold={"Status": "OFF"})
    assert err(lambda: c.put_object_retention(Bucket=b, Key="audit/log", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": at(3)})) == ("AccessDenied", 403)
    st, out = server.api("PUT", f"/spaces/{b}/objects/retention", {"key": "audit/log", "retention": None, "bypass_governance": True})
    assert st == 403 and "compliance" in out["error"]["message"], out
    st, out = server.api("POST", f"/spaces/{b}/objects/remove-version", {"key": "audit/log", "version_id": v3, "bypass_governance": True})
    assert st == 403, out

    # Governance: a tenant admin cannot bypass it; the operator can, and it is audited.
    admin = tenant_token(server, sp)
    st, out = server.api("POST", f"/spaces/{b}/objects/remove-version", {"key": "rel/app.tar", "version_id": v1, "bypass_governance": True}, token=admin)
    assert st == 403 and "operator" in out["error"]["message"], out
    st, out = server.api("POST", f"/spaces/{b}/objects/remove-version", {"key": "rel/app.tar", "version_id": v1}, token=admin)
    assert st == 403 and "governance" in out["error"]["message"], out
    st, out = server.api("POST", f"/spaces/{b}/objects/remove-version", {"key": "rel/app.tar", "version_id": v1, "bypass_governance": True})
    assert st == 200 and out["delete_marker"] is False, out
    assert err(lambda: c.get_object(Bucket=b, Key="rel/app.tar", VersionId=v1)) == ("NoSuchVersion", 404)
    ops = {(e["operation"], "bypass_governance" in (e["detail"] or "")) for e in server.cli_json("audit", "--space", b, "--limit", "200")["events"]}
    assert ("object.version_removed", True) in ops

    # Multipart: the lock asked for at creation is the completed version's.
    up = c.create_multipart_upload(Bucket=b, Key="big.bin", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until,
                                   ObjectLockLegalHoldStatus="ON")["UploadId"]
    etag = c.upload_part(Bucket=b, Key="big.bin", UploadId=up, PartNumber=1, Body=b"p" * 1024)["ETag"]
    vm = c.complete_multipart_upload(Bucket=b, Key="big.bin", UploadId=up, MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]})["VersionId"]
    h = c.head_object(Bucket=b, Key="big.bin", VersionId=vm)
    assert (h["ObjectLockMode"], h["ObjectLockRetainUntilDate"], h["ObjectLockLegalHoldStatus"]) == ("GOVERNANCE", until, "ON")
    # A copy takes the lock its own headers ask for, not its source's.
    cp = c.copy_object(Bucket=b, Key="copy.bin", CopySource={"Bucket": b, "Key": "big.bin"})
    assert "ObjectLockMode" not in c.head_object(Bucket=b, Key="copy.bin", VersionId=cp["VersionId"])
    u = exact_usage(server, b)
    assert u["objects"] == 4, u


def test_who_may_lock(server):
    sp, b, pub = locked_space(server)
    rw = server.s3(server.new_key(sp, mode="read-write"))
    rwd = server.s3(server.new_key(sp, mode="read-write-delete"))
    ro = server.s3(server.new_key(sp, mode="read-only"))
    scoped = server.s3(server.new_key(sp, mode="publisher", prefix="other/"))
    v = pub.put_object(Bucket=b, Key="rel/x", Body=b"x")["VersionId"]
    ret = {"Mode": "COMPLIANCE", "RetainUntilDate": at(1)}
    # A compliance retention cannot be undone, so a key that may only write cannot set one.
    assert err(lambda: rw.put_object(Bucket=b, Key="rel/y", Body=b"y", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=at(1))) == ("AccessDenied", 403)
    assert err(lambda: rwd.put_object(Bucket=b, Key="rel/y", Body=b"y", ObjectLockLegalHoldStatus="ON")) == ("AccessDenied", 403)
    assert err(lambda: rwd.put_object_retention(Bucket=b, Key="rel/x", Retention=ret)) == ("AccessDenied", 403)
    assert err(lambda: rwd.put_object_legal_hold(Bucket=b, Key="rel/x", LegalHold={"Status": "ON"})) == ("AccessDenied", 403)
    assert err(lambda: ro.put_object_legal_hold(Bucket=b, Key="rel/x", LegalHold={"Status": "ON"})) == ("AccessDenied", 403)
    assert err(lambda: scoped.put_object_retention(Bucket=b, Key="rel/x", Retention=ret)) == ("AccessDenied", 403)
    assert versions(pub, b, "rel/y") == ([], []), "refused writes stored nothing"
    # Readers read the lock.
    assert err(lambda: ro.get_object_retention(Bucket=b, Key="rel/x")) == ("NoSuchObjectLockConfiguration", 404)
    assert ro.get_object_legal_hold(Bucket=b, Key="rel/x")["LegalHold"]["Status"] == "OFF"
    assert err(lambda: scoped.get_object_legal_hold(Bucket=b, Key="rel/x")) == ("AccessDenied", 403)
    # Bad documents and names.
    assert err(lambda: pub.put_object_legal_hold(Bucket=b, Key="rel/x", LegalHold={"Status": "MAYBE"}))[1] == 400
    assert err(lambda: pub.put_object_retention(Bucket=b, Key="rel/x", VersionId="../x", Retention=ret)) == ("InvalidArgument", 400)
    assert err(lambda: pub.put_object_retention(Bucket=b, Key="rel/nothing", Retention=ret)) == ("NoSuchKey", 404)
    assert err(lambda: pub.put_object(Bucket=b, Key="rel/z", Body=b"z", ObjectLockMode="GOVERNANCE")) == ("InvalidArgument", 400)
    assert err(lambda: pub.put_object(Bucket=b, Key="rel/z", Body=b"z", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=at(-1))) == ("InvalidArgument", 400)
    marker = pub.delete_object(Bucket=b, Key="rel/x")["VersionId"]
    assert err(lambda: pub.put_object_legal_hold(Bucket=b, Key="rel/x", VersionId=marker, LegalHold={"Status": "ON"}))[1] == 405
    pub.put_object_retention(Bucket=b, Key="rel/x", VersionId=v, Retention=ret)
    assert pub.get_object_retention(Bucket=b, Key="rel/x", VersionId=v)["Retention"]["Mode"] == "COMPLIANCE"


def test_write_once_prefixes_freeze_published_keys(server):
    sp = server.new_space(purpose="cdn")
    b = sp["bucket"]
    c = server.s3(server.new_key(sp, mode="publisher"))
    # An immutable prefix on the CDN, made write-once in one step of the CLI.
    st, pub = server.api("PUT", f"/spaces/{b}/public", {"immutable_prefixes": ["releases/"]})
    assert st == 200, pub
    name = pub["public"]["rules"]["public_name"]
    refused = server.cli("space", "object-lock", b, "--write-once", "releases/=30d", check=False)
    assert refused.returncode != 0 and "versioning" in refused.stderr, refused.stderr
    server.cli("space", "versioning", b, "enable")
    # Versions written before the rule carry no lock.
    old = [c.put_object(Bucket=b, Key="releases/old.txt", Body=f"old {i}".encode())["VersionId"] for i in range(2)]
    out = server.cli("space", "object-lock", b, "--write-once", "releases/=30d").stdout
    assert "write-once releases/ 30d GOVERNANCE" in out, out
    assert "releases/" in server.cli("space", "show", b).stdout

    put = c.put_object(Bucket=b, Key="releases/v1.2.0/app.tar", Body=b"release 1.2.0")
    h = c.head_object(Bucket=b, Key="releases/v1.2.0/app.tar")
    assert h["ObjectLockMode"] == "GOVERNANCE" and at(29) < h["ObjectLockRetainUntilDate"] <= at(30, 5)
    # Once published it cannot change: no overwrite, no delete marker, no copy onto it, no
    # multipart upload onto it, no restore onto it; nothing stored by any attempt.
    key = "releases/v1.2.0/app.tar"
    assert err(lambda: c.put_object(Bucket=b, Key=key, Body=b"tampered")) == ("AccessDenied", 403)
    assert err(lambda: c.delete_object(Bucket=b, Key=key)) == ("AccessDenied", 403)
    d = c.delete_objects(Bucket=b, Delete={"Objects": [{"Key": key}]})
    assert [e["Code"] for e in d.get("Errors", [])] == ["AccessDenied"]
    c.put_object(Bucket=b, Key="tmp/other", Body=b"other")
    assert err(lambda: c.copy_object(Bucket=b, Key=key, CopySource={"Bucket": b, "Key": "tmp/other"})) == ("AccessDenied", 403)
    assert err(lambda: c.create_multipart_upload(Bucket=b, Key=key)) == ("AccessDenied", 403)
    assert versions(c, b, key) == ([(key, put["VersionId"])], [])
    # Restoring an old version is a write: allowed once onto the unlocked current version (the
    # restored copy is then locked), refused after.
    st, out = server.api("POST", f"/spaces/{b}/objects/restore", {"key": "releases/old.txt", "version_id": old[0]})
    assert st == 200, out
    st, out = server.api("POST", f"/spaces/{b}/objects/restore", {"key": "releases/old.txt", "version_id": old[1]})
    assert st == 403 and "write-once" in out["error"]["message"], out
    assert c.get_object(Bucket=b, Key="releases/old.txt")["Body"].read() == b"old 0"
    assert c.get_object(Bucket=b, Key=key)["Body"].read() == b"release 1.2.0"
    cdn = requests.get(f"{server.url}/{name}/{key}", headers={"Host": "cdn.localhost"}, timeout=10)
    assert cdn.status_code == 200 and cdn.content == b"release 1.2.0" and "immutable" in cdn.headers["Cache-Control"]
    # A first write under the prefix is fine, and keys elsewhere change freely.
    c.put_object(Bucket=b, Key="releases/v1.3.0/app.tar", Body=b"1.3.0")
    c.put_object(Bucket=b, Key="tmp/other", Body=b"other, again")
    c.delete_object(Bucket=b, Key="tmp/other")

    # Lifecycle judges by the real clock for locks: 40 days on, the key still stands.
    c.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "all", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]})
    r = server.cli_json("admin", "lifecycle", "--as-of", iso(at(40)))
    assert c.get_object(Bucket=b, Key=key)["Body"].read() == b"release 1.2.0", r
    assert versions(c, b, key)[1] == [], "no delete marker over a write-once key"
    c.delete_bucket_lifecycle(Bucket=b)

    # The operator may lift a governance retention; then the key can change again.
    admin = tenant_token(server, sp)
    st, out = server.api("PUT", f"/spaces/{b}/objects/retention", {"key": key, "retention": None, "bypass_governance": True}, token=admin)
    assert st == 403, out
    lifted = server.cli_json("object", "retention", b, key, "--clear", "--bypass-governance")
    assert lifted["lock"] == {"legal_hold": False}, lifted
    c.put_object(Bucket=b, Key=key, Body=b"release 1.2.0, rebuilt")
    assert c.get_object(Bucket=b, Key=key)["Body"].read() == b"release 1.2.0, rebuilt"
    u = exact_usage(server, b)
    assert (u["objects"], u["noncurrent_objects"], u["delete_markers"]) == (3, 1, 1), "lifecycle removed the unlocked old versions and tmp/other (its marker stays), no locked version"


def test_cli_and_control_api(server):
    sp = server.new_space()
    b = sp["bucket"]
    server.cli("space", "versioning", b, "enable")
    bad = server.cli("space", "object-lock", b, "--write-once", "releases/", check=False)
    assert bad.returncode != 0 and "PREFIX=PERIOD" in bad.stderr
    bad = server.cli("space", "object-lock", b, "--default", "GOVERNANCE:0d", check=False)
    assert bad.returncode != 0 and "1 to 36500" in bad.stderr, bad.stderr
    assert "off" in server.cli("space", "object-lock", b).stdout
    out = server.cli_json("space", "object-lock", b, "--default", "GOVERNANCE:2d", "--write-once", "releases/=forever,COMPLIANCE")
    assert out["object_lock"] == {
        "default_retention": {"mode": "GOVERNANCE", "days": 2},
        "write_once": [{"prefix": "releases/", "mode": "COMPLIANCE"}],
    }
    c = server.s3(server.new_key(sp, mode="publisher"))
    # S3's document shows the default; the write-once prefixes survive a PutObjectLockConfiguration.
    c.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled",
                                                                        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    assert "write-once releases/ forever COMPLIANCE" in server.cli("space", "object-lock", b).stdout
    v1 = c.put_object(Bucket=b, Key="docs/a", Body=b"a")["VersionId"]
    out = server.cli_json("object", "legal-hold", b, "docs/a", "on")
    assert out["lock"]["legal_hold"] is True and out["version_id"] == v1
    text = server.cli("object", "versions", b, "docs/a").stdout
    assert "legal hold" in text and "GOVERNANCE until" in text, text
    until = iso(at(5))
    out = server.cli_json("object", "retention", b, "docs/a", "--version", v1, "--mode", "GOVERNANCE", "--until", until)
    assert out["lock"]["retention"] == {"mode": "GOVERNANCE", "until": until}
    bad = server.cli("object", "retention", b, "docs/a", "--mode", "GOVERNANCE", "--until", "tomorrow", check=False)
    assert bad.returncode != 0 and "--until" in bad.stderr
    bad = server.cli("object", "remove-version", b, "docs/a", v1, check=False)
    assert bad.returncode != 0 and "legal hold" in bad.stderr, bad.stderr
    server.cli("object", "legal-hold", b, "docs/a", "off")
    done = server.cli_json("object", "remove-version", b, "docs/a", v1, "--bypass-governance")
    assert done["version_id"] == v1
    ops = [e["operation"] for e in server.cli_json("audit", "--space", b, "--limit", "100")["events"]]
    for op in ["object_lock.set", "object.legal_hold", "object.retention", "object.version_removed", "PutObjectLockConfiguration"]:
        assert op in ops, (op, ops)
    # Packages spaces refuse object lock, and say why; a space that holds versions is not empty.
    pk = server.new_space(purpose="packages")
    server.cli("space", "versioning", pk["bucket"], "enable")
    st, out = server.api("PUT", f"/spaces/{pk['bucket']}/object-lock", {})
    assert st == 400 and "packages" in out["error"]["message"], out
