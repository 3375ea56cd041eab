"""The console's object browser API (issue 21), on both backends: listing by folder with pages,
object details, downloads with the stored type and name, uploads in one piece and in parts
(with abort), deletes, share links that work with no session, and the same quota, usage,
audit and tenant walls as the S3 face."""

import hashlib
import os
import uuid

import requests

from conftest import SECRETS

MiB = 1024 * 1024


def api(server, method, path, token=None, **kw):
    headers = kw.pop("headers", {})
    headers["Authorization"] = f"Bearer {token or server.token}"
    return requests.request(method, f"{server.url}/api/v1{path}", headers=headers, timeout=60, **kw)


def upload(server, b, key, data, token=None, ctype="application/octet-stream"):
    return api(server, "PUT", f"/spaces/{b}/objects/upload", token=token, params={"key": key}, data=data, headers={"Content-Type": ctype})


def listing(server, b, prefix="", **q):
    r = api(server, "GET", f"/spaces/{b}/objects", params={"prefix": prefix, **q})
    assert r.status_code == 200, r.text
    return r.json()


def tenant_token(server, sp):
    r = api(server, "POST", f"/tenants/{sp['tenant_id']}/tokens", json={"name": f"admin-{uuid.uuid4().hex[:6]}"})
    assert r.status_code == 201, r.text
    SECRETS.add(r.json()["token"])
    return r.json()["token"]


def test_browse_upload_download_share_and_delete(server):
    sp = server.new_space(quota=64 * MiB)
    b = sp["bucket"]
    # A folder of 20 files, and one at the top.
    files = {f"site/assets/f{i:02}.txt": f"file {i}\n".encode() * (i + 1) for i in range(20)}
    for k, v in files.items():
        r = upload(server, b, k, v, ctype="text/plain")
        assert r.status_code == 200, r.text
    r = upload(server, b, "index.html", b"<h1>hi</h1>", ctype="text/html")
    assert r.status_code == 200 and r.json()["etag"] == hashlib.md5(b"<h1>hi</h1>").hexdigest()

    top = listing(server, b)
    assert [f["prefix"] for f in top["folders"]] == ["site/"] and [o["key"] for o in top["objects"]] == ["index.html"]
    assert [f["prefix"] for f in listing(server, b, "site/")["folders"]] == ["site/assets/"]
    # Pages of 7: every file once, in order.
    seen, after = [], None
    while True:
        page = listing(server, b, "site/assets/", limit=7, **({"after": after} if after else {}))
        seen += [o["key"] for o in page["objects"]]
        if not page["truncated"]:
            break
        after = page["next_after"]
    assert seen == sorted(files)

    # Details and download: the stored type, the key's name, the same bytes.
    info = api(server, "GET", f"/spaces/{b}/objects/info", params={"key": "site/assets/f03.txt"}).json()
    assert (info["size"], info["content_type"], info["public_url"]) == (len(files["site/assets/f03.txt"]), "text/plain", None)
    d = api(server, "GET", f"/spaces/{b}/objects/download", params={"key": "site/assets/f03.txt"})
    assert d.status_code == 200 and d.content == files["site/assets/f03.txt"]
    assert d.headers["Content-Type"] == "text/plain" and 'filename="f03.txt"' in d.headers["Content-Disposition"]
    # Once published, the details name the public URL.
    assert api(server, "PUT", f"/spaces/{b}/public", json={}).status_code == 200
    info = api(server, "GET", f"/spaces/{b}/objects/info", params={"key": "index.html"}).json()
    assert info["public_url"].endswith("/index.html")

    # A large file in parts: 3 parts of 5 MiB and a tail.
    big = os.urandom(17 * MiB)
    start = api(server, "POST", f"/spaces/{b}/objects/multipart", params={"key": "big/blob.bin"}, headers={"Content-Type": "application/x-tar"})
    assert start.status_code == 200, start.text
    uid = start.json()["upload_id"]
    parts = []
    for n, off in enumerate(range(0, len(big), 5 * MiB), start=1):
        r = api(server, "PUT", f"/spaces/{b}/objects/multipart/{uid}/{n}", params={"key": "big/blob.bin"}, data=big[off:off + 5 * MiB])
        assert r.status_code == 200, r.text
        parts.append(r.json())
    done = api(server, "POST", f"/spaces/{b}/objects/multipart/{uid}/complete", params={"key": "big/blob.bin"}, json={"parts": parts})
    assert done.status_code == 200 and done.json()["etag"].endswith("-4"), done.text
    got = api(server, "GET", f"/spaces/{b}/objects/download", params={"key": "big/blob.bin"})
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(big).digest() and got.headers["Content-Type"] == "application/x-tar"
    # An aborted upload leaves nothing, not even reserved bytes.
    uid = api(server, "POST", f"/spaces/{b}/objects/multipart", params={"key": "big/cancelled.bin"}).json()["upload_id"]
    assert api(server, "PUT", f"/spaces/{b}/objects/multipart/{uid}/1", params={"key": "big/cancelled.bin"}, data=b"x" * MiB).status_code == 200
    assert api(server, "DELETE", f"/spaces/{b}/objects/multipart/{uid}", params={"key": "big/cancelled.bin"}).status_code == 204
    assert server.cli_json("usage", b)["usage"]["multipart_bytes"] == 0

    # The quota holds before the bytes are sent.
    r = upload(server, b, "too/big.bin", b"z" * (48 * MiB))
    assert r.status_code == 403 and "quota" in r.json()["error"]["message"].lower(), r.text
    assert listing(server, b, "too/")["objects"] == []

    # A share link works in a fresh session without any credential, and is audited.
    r = api(server, "POST", f"/spaces/{b}/objects/share", json={"key": "site/assets/f05.txt", "expires_in_seconds": 3600})
    assert r.status_code == 200, r.text
    link = r.json()
    fetched = requests.get(link["url"], timeout=30)
    assert fetched.status_code == 200 and fetched.content == files["site/assets/f05.txt"]
    assert "f05.txt" in fetched.headers["Content-Disposition"]
    for bad in (60, 604801):
        r = api(server, "POST", f"/spaces/{b}/objects/share", json={"key": "index.html", "expires_in_seconds": bad})
        assert r.status_code == 400 and "3600" in r.json()["error"]["message"]
    assert api(server, "POST", f"/spaces/{b}/objects/share", json={"key": "nothing", "expires_in_seconds": 3600}).status_code == 404
    # The signing key is a visible key of the space; revoking it ends every link at once.
    keys = server.cli_json("key", "list", b)["keys"]
    share_key = [k for k in keys if k["name"] == "console-share"]
    assert len(share_key) == 1 and share_key[0]["mode"] == "read-only" and share_key[0]["access_key_id"] == link["signed_by"]
    server.cli("key", "revoke", share_key[0]["id"])
    assert requests.get(link["url"], timeout=30).status_code == 403
    # The next share is signed by a new key; the revoked one's links stay dead.
    r = api(server, "POST", f"/spaces/{b}/objects/share", json={"key": "site/assets/f05.txt", "expires_in_seconds": 3600})
    assert r.status_code == 200, r.text
    again = r.json()
    assert again["signed_by"] != link["signed_by"] and requests.get(again["url"], timeout=30).status_code == 200
    assert "console-share-2" in [k["name"] for k in server.cli_json("key", "list", b)["keys"]]
    assert requests.get(link["url"], timeout=30).status_code == 403

    # Delete a folder: every object under it, in batches, with usage exact afterwards.
    before = server.cli_json("usage", b)["usage"]
    r = api(server, "POST", f"/spaces/{b}/objects/delete", json={"keys": sorted(files)})
    assert r.status_code == 200 and r.json() == {"deleted": 20, "failed": []}, r.text
    assert listing(server, b, "site/")["folders"] == [] and listing(server, b, "site/")["objects"] == []
    after = server.cli_json("usage", b)["usage"]
    assert before["objects"] - after["objects"] == 20
    assert before["bytes"] - after["bytes"] == sum(map(len, files.values()))
    events = server.cli_json("audit", "--space", b, "--limit", "500")["events"]
    ops = {(e["operation"], e["actor"]) for e in events}
    assert all(e.get("source_ip") == "127.0.0.1" for e in events if e["actor"] == "console:operator"), "the caller's address is recorded"
    # The console's calls are the admin's; the share link's fetch is its signing key's.
    actors = {a for (op, a) in ops if op in ("PutObject", "DeleteObject", "CompleteMultipartUpload", "GetObject")}
    assert actors == {"console:operator", link["signed_by"], again["signed_by"]}, ops
    assert ("GetObject", link["signed_by"]) in ops
    assert any(op == "object.shared" for op, _ in ops)


def test_bad_requests_are_refused_clearly(server):
    sp = server.new_space()
    b = sp["bucket"]
    for key in ["../etc/passwd", "a/../b", "/abs", "a\\b"]:
        r = upload(server, b, key, b"x")
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request", (key, r.text)
    assert api(server, "GET", f"/spaces/{b}/objects", params={"prefix": "../"}).status_code == 400
    assert api(server, "GET", f"/spaces/{b}/objects", params={"after": "a/../b"}).status_code == 400
    # No length: refused before anything is read.
    r = requests.put(f"{server.url}/api/v1/spaces/{b}/objects/upload", params={"key": "k"}, data=iter([b"abc"]),
                     headers={"Authorization": f"Bearer {server.token}"}, timeout=30)
    assert r.status_code == 411, r.text
    r = api(server, "POST", f"/spaces/{b}/objects/delete", json={"keys": []})
    assert r.status_code == 400
    r = api(server, "POST", f"/spaces/{b}/objects/delete", json={"keys": [f"k{i}" for i in range(1001)]})
    assert r.status_code == 400
    r = api(server, "POST", f"/spaces/{b}/objects/multipart/nosuch/complete", params={"key": "k"}, json={"parts": [{"part": 1, "etag": "x"}]})
    assert r.status_code == 404, r.text
    assert api(server, "GET", f"/spaces/{b}/objects/download", params={"key": "missing"}).status_code == 404
    u = server.cli_json("usage", b)["usage"]
    assert (u["objects"], u["bytes"]) == (0, 0), "nothing stored"


def test_a_tenant_admin_never_reaches_another_tenants_objects(server):
    mine, theirs = server.new_space(), server.new_space()
    assert upload(server, theirs["bucket"], "secret.txt", b"theirs").status_code == 200
    tok = tenant_token(server, mine)
    tb = theirs["bucket"]
    calls = [
        ("GET", f"/spaces/{tb}/objects", {"params": {"prefix": ""}}),
        ("GET", f"/spaces/{tb}/objects/info", {"params": {"key": "secret.txt"}}),
        ("GET", f"/spaces/{tb}/objects/download", {"params": {"key": "secret.txt"}}),
        ("PUT", f"/spaces/{tb}/objects/upload", {"params": {"key": "planted"}, "data": b"x"}),
        ("POST", f"/spaces/{tb}/objects/multipart", {"params": {"key": "planted"}}),
        ("POST", f"/spaces/{tb}/objects/delete", {"json": {"keys": ["secret.txt"]}}),
        ("POST", f"/spaces/{tb}/objects/share", {"json": {"key": "secret.txt", "expires_in_seconds": 3600}}),
    ]
    for method, path, kw in calls:
        r = api(server, method, path, token=tok, **kw)
        assert r.status_code == 404 and "secret" not in r.text, (method, path, r.status_code, r.text)
    # Its own space works with the same token.
    assert upload(server, mine["bucket"], "mine.txt", b"mine", token=tok).status_code == 200
    assert api(server, "GET", f"/spaces/{tb}/objects/download", params={"key": "secret.txt"}).content == b"theirs", "untouched"


def test_the_spaces_list_filters_by_tenant_and_purpose_in_pages(server):
    tenant = f"t{uuid.uuid4().hex[:10]}"
    made = [server.new_space(tenant=tenant), server.new_space(tenant=tenant), server.new_space(tenant=tenant, purpose="cdn")]
    r = api(server, "GET", "/spaces", params={"tenant": tenant, "limit": 2})
    assert r.status_code == 200, r.text
    page1 = r.json()
    assert (page1["total"], len(page1["spaces"]), page1["next_offset"]) == (3, 2, 2)
    page2 = api(server, "GET", "/spaces", params={"tenant": tenant, "limit": 2, "offset": 2}).json()
    assert len(page2["spaces"]) == 1 and "next_offset" not in page2
    assert sorted(s["bucket"] for s in page1["spaces"] + page2["spaces"]) == sorted(s["bucket"] for s in made)
    cdn = api(server, "GET", "/spaces", params={"tenant": tenant, "purpose": "cdn"}).json()
    assert [s["bucket"] for s in cdn["spaces"]] == [made[2]["bucket"]]
    assert api(server, "GET", "/spaces", params={"purpose": "sideways"}).status_code == 400
    # A tenant admin filtering by another tenant sees nothing of it.
    other = server.new_space()
    tok = tenant_token(server, made[0])
    r = api(server, "GET", "/spaces", token=tok, params={"tenant": other["bucket"].split("-")[1]}).json()
    assert (r["total"], r["spaces"]) == (0, [])
    assert api(server, "GET", "/spaces", token=tok).json()["total"] == 3
