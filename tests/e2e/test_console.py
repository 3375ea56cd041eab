"""The web console: the whole path in Debian's Chromium (playwright-core drives it), and the
session rules the browser test cannot show: CSRF, cookie attributes, tenant scope, expiry."""

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from conftest import ROOT, SECRETS, Server, free_port, redact

CHROMIUM = shutil.which("chromium")
CONSOLE_TESTS = ROOT / "tests" / "console"
SHOTS = ROOT / "target" / "console-screenshots"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("console"), extra_env={"RUSTSHARE_CONSOLE_TRAFFIC_FLUSH_SECS": "1"})
    yield s
    s.stop()


def login(s, token=None, host=None):
    sess = requests.Session()
    headers = {"Host": host} if host else {}
    r = sess.post(f"{s.url}/api/v1/session", json={"token": token or s.token}, headers=headers, timeout=10)
    assert r.status_code == 201, r.text
    return sess, r


@pytest.mark.skipif(CHROMIUM is None or shutil.which("node") is None, reason="chromium and node come from scripts/test.sh")
def test_whole_path_in_a_real_browser(srv, tmp_path):
    assert (CONSOLE_TESTS / "node_modules" / "playwright-core").is_dir(), "scripts/test.sh runs npm ci in tests/console"
    sp = srv.new_space(purpose="packages")
    repo = f"r{uuid.uuid4().hex[:8]}"
    srv.cli("repo", "create", repo, "--space", sp["bucket"])
    from test_packages import build_deb

    srv.cli("repo", "add", repo, "--dist", "stable", build_deb(tmp_path, "hello", "1.0-1"), build_deb(tmp_path, "hello-doc", "1.0-1", arch="all"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, RS_CONSOLE=f"http://console.localhost:{srv.port}", RS_TOKEN=srv.token, RS_ENDPOINT=srv.url,
               RS_REPO=repo, RS_SHOTS=str(SHOTS), RS_TMP=str(tmp_path))
    p = subprocess.run(["node", str(CONSOLE_TESTS / "console-flow.mjs")], cwd=CONSOLE_TESTS, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, redact(f"{p.stdout}\n{p.stderr}\n(screenshots in {SHOTS})")
    assert "step: done" in p.stdout
    shots = sorted(x.name for x in SHOTS.glob("*.png"))
    assert len([x for x in shots if x[:2].isdigit()]) >= 11, shots
    print(f"console screenshots: {SHOTS}")


@pytest.mark.skipif(CHROMIUM is None or shutil.which("node") is None, reason="chromium and node come from scripts/test.sh")
def test_the_object_browser_in_a_real_browser(srv, tmp_path):
    """Issue 21's walk: folder and 200 MiB uploads with progress, download, share link in a
    fresh context, folder delete with its count, usage, keyboard only, quota first."""
    sp = srv.new_space(quota=300 * 1024 * 1024)
    SHOTS.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, RS_CONSOLE=f"http://console.localhost:{srv.port}", RS_TOKEN=srv.token, RS_SPACE=sp["bucket"],
               RS_SHOTS=str(SHOTS), RS_TMP=str(tmp_path))
    p = subprocess.run(["node", str(CONSOLE_TESTS / "objects-flow.mjs")], cwd=CONSOLE_TESTS, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, redact(f"{p.stdout}\n{p.stderr}\n(screenshots in {SHOTS})")
    assert "step: done" in p.stdout
    for name in ["20-objects-empty", "21-objects-uploading", "22-objects-folder", "23-objects-share", "24-objects-delete-confirm", "25-objects-quota", "26-tenant", "27-spaces-filtered"]:
        for width in ["desktop", "phone"]:
            assert (SHOTS / f"{name}-{width}.png").is_file(), (name, width)
    # Usage is exact after it all: the 200 MiB file is what is left.
    u = srv.cli_json("usage", sp["bucket"])["usage"]
    assert (u["objects"], u["bytes"], u["multipart_bytes"]) == (1, 200 * 1024 * 1024, 0), u


@pytest.mark.skipif(CHROMIUM is None or shutil.which("node") is None, reason="chromium and node come from scripts/test.sh")
def test_a_web_page_uploads_straight_to_s3_under_bucket_cors(srv, tmp_path):
    """Bucket CORS in a real browser: a page on the allowed origin PUTs to a presigned URL (the
    browser sends the preflight first) and posts a presigned form; a page on another origin is
    stopped by the browser."""
    import http.server
    import json
    import threading

    (tmp_path / "index.html").write_text("<!doctype html><title>app</title><p>app</p>")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    port = httpd.server_address[1]
    app, evil = f"http://app.localhost:{port}", f"http://evil.localhost:{port}"
    try:
        sp = srv.new_space()
        b = sp["bucket"]
        srv.s3(srv.new_key(sp, mode="publisher")).put_bucket_cors(Bucket=b, CORSConfiguration={"CORSRules": [
            {"AllowedOrigins": [app], "AllowedMethods": ["PUT", "POST"], "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"]},
        ]})
        c = srv.s3(srv.new_key(sp, mode="read-write"))
        put = lambda k: c.generate_presigned_url("put_object", Params={"Bucket": b, "Key": k, "ContentType": "text/plain"}, ExpiresIn=300)  # noqa: E731
        post = c.generate_presigned_post(b, "uploads/${filename}", Conditions=[["starts-with", "$key", "uploads/"]], ExpiresIn=300)
        env = dict(os.environ, RS_APP=app, RS_EVIL=evil, RS_PUT=put("uploads/put.txt"), RS_PUT2=put("uploads/evil.txt"),
                   RS_POST=json.dumps(post))
        p = subprocess.run(["node", str(CONSOLE_TESTS / "cors-upload.mjs")], cwd=CONSOLE_TESTS, env=env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, redact(f"{p.stdout}\n{p.stderr}")
        seen = json.loads(p.stdout.strip().splitlines()[-1])
    finally:
        httpd.shutdown()
    assert seen["put"]["status"] == 200 and seen["put"]["etag"], seen
    assert seen["post"]["status"] == 204, seen
    assert "error" in seen["blocked"] and "Failed to fetch" in seen["blocked"]["error"], seen
    assert not seen["errors"], seen
    assert c.get_object(Bucket=b, Key="uploads/put.txt")["Body"].read() == b"uploaded by a web page"
    assert c.get_object(Bucket=b, Key="uploads/post.txt")["Body"].read() == b"posted by a web page"
    # The other origin's preflight failed, so its PUT was never sent.
    assert "Contents" not in c.list_objects_v2(Bucket=b, Prefix="uploads/evil")


def test_state_changes_need_the_csrf_token(srv):
    sess, r = login(srv)
    csrf = r.json()["csrf_token"]
    name = f"t{uuid.uuid4().hex[:8]}"
    # Without the header, with a wrong one: refused, and nothing is created.
    for headers in [{}, {"x-csrf-token": "wrong"}, {"x-csrf-token": csrf[:-1]}]:
        r = sess.post(f"{srv.url}/api/v1/tenants", json={"name": name}, headers=headers, timeout=10)
        assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed", r.text
    assert name not in [t["name"] for t in srv.api("GET", "/tenants")[1]["tenants"]]
    # Reads need no token; the session answers with it after a reload.
    assert sess.get(f"{srv.url}/api/v1/spaces", timeout=10).status_code == 200
    assert sess.get(f"{srv.url}/api/v1/session", timeout=10).json()["csrf_token"] == csrf
    r = sess.post(f"{srv.url}/api/v1/tenants", json={"name": name}, headers={"x-csrf-token": csrf}, timeout=10)
    assert r.status_code == 201, r.text
    # Logout needs the token too, and ends the session.
    assert sess.delete(f"{srv.url}/api/v1/session", timeout=10).status_code == 403
    assert sess.delete(f"{srv.url}/api/v1/session", headers={"x-csrf-token": csrf}, timeout=10).status_code == 204
    assert sess.get(f"{srv.url}/api/v1/spaces", timeout=10).status_code == 401
    # A bearer token still works without any CSRF header (CLI and CI use it; browsers never send it on their own).
    assert srv.api("GET", "/spaces")[0] == 200


def test_cookie_attributes_login_errors_and_audit(srv):
    r = requests.post(f"{srv.url}/api/v1/session", json={"token": "rsat_wrong"}, timeout=10)
    assert r.status_code == 401 and "not valid" in r.json()["error"]["message"] and "set-cookie" not in r.headers
    r = requests.post(f"{srv.url}/api/v1/session", json={"tokn": srv.token}, timeout=10)
    assert r.status_code == 400
    r = requests.post(f"{srv.url}/api/v1/session", data="token=x", headers={"content-type": "application/x-www-form-urlencoded"}, timeout=10)
    assert r.status_code == 400, "a cross-site form cannot log a browser in"
    sess, r = login(srv)
    cookie = r.headers["set-cookie"]
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"]:
        assert attr in cookie, cookie
    assert "Secure" not in cookie, "plain HTTP: a Secure cookie would never come back"
    assert srv.token not in cookie and srv.token not in r.text
    assert sess.get(f"{srv.url}/api/v1/session", timeout=10).json()["principal"]["tenant_id"] is None
    ev = srv.api("GET", "/audit?operation=console.login&limit=5")[1]["events"]
    assert ev and ev[0]["kind"] == "security"
    assert srv.token not in srv.logs()


def test_secure_cookie_over_tls(tmp_path):
    port = free_port()
    s = Server(tmp_path, extra_env={"RUSTSHARE_TLS_LISTEN": f"127.0.0.1:{port}"})
    try:
        r = requests.post(f"https://127.0.0.1:{port}/api/v1/session", json={"token": s.token}, verify=str(s.data / "tls" / "self-signed.crt"), timeout=10)
        assert r.status_code == 201 and "; Secure" in r.headers["set-cookie"], r.headers.get("set-cookie")
    finally:
        s.stop()


def test_tenant_session_sees_only_its_tenant(srv):
    mine = srv.new_space()
    other = srv.new_space()
    tenant = mine["tenant_id"]
    st, tok = srv.api("POST", f"/tenants/{tenant}/tokens", {"name": "console-user"})
    assert st == 201, tok
    SECRETS.add(tok["token"])
    sess, r = login(srv, token=tok["token"])
    assert r.json()["principal"]["tenant_id"] == tenant
    buckets = [x["bucket"] for x in sess.get(f"{srv.url}/api/v1/spaces", timeout=10).json()["spaces"]]
    assert buckets == [mine["bucket"]]
    assert sess.get(f"{srv.url}/api/v1/spaces/{other['bucket']}", timeout=10).status_code == 404
    assert sess.get(f"{srv.url}/api/v1/audit?space={other['bucket']}", timeout=10).status_code == 404
    # The object browser's endpoints answer another tenant's space as absent.
    for path in ["objects?prefix=", "objects/info?key=k", "objects/download?key=k"]:
        assert sess.get(f"{srv.url}/api/v1/spaces/{other['bucket']}/{path}", timeout=10).status_code == 404, path


def test_pages_served_from_the_binary(srv):
    r = requests.get(f"{srv.url}/", headers={"Host": f"console.localhost:{srv.port}"}, timeout=10)
    assert r.status_code == 200 and "<title>RustShare Object Spaces</title>" in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "http" not in csp, "no assets from elsewhere"
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    for asset in ["/_console/console.js", "/_console/console.css"]:
        a = requests.get(f"{srv.url}{asset}", headers={"Host": "console.localhost"}, timeout=10)
        assert a.status_code == 200 and a.headers["cache-control"] == "no-cache"
        again = requests.get(f"{srv.url}{asset}", headers={"Host": "console.localhost", "If-None-Match": a.headers["etag"]}, timeout=10)
        assert again.status_code == 304
    # The page loads nothing from outside the binary: every src/href is local, every fetch goes to /api/v1.
    import re
    refs = re.findall(r'(?:src|href)="([^"]*)"', r.text)
    assert refs and all(x.startswith(("/_console/", "#", "data:")) for x in refs), refs
    js = requests.get(f"{srv.url}/_console/console.js", timeout=10).text
    assert re.findall(r"fetch\(([^,)]*)", js) == ["`/api/v1${path}`"]
    assert not any(x in js for x in ["import(", "WebSocket", "new Image", ".src ="])
    # Uploads use XMLHttpRequest for its progress events, and only towards the API.
    assert js.count("XMLHttpRequest") == 1 and re.findall(r"\.open\(method, ([^)]*)\)", js) == ["`/api/v1${path}`"]
    # On the bare address a browser gets the console; S3 clients get S3.
    nav = requests.get(f"{srv.url}/", headers={"Accept": "text/html,application/xhtml+xml", "Sec-Fetch-Mode": "navigate"}, timeout=10)
    assert nav.status_code == 200 and "RustShare Object Spaces" in nav.text
    s3 = requests.get(f"{srv.url}/", timeout=10)
    assert s3.status_code == 403 and "<Error>" in s3.text, "an unsigned S3 call is still an S3 error"
    assert requests.post(f"{srv.url}/", headers={"Host": "console.localhost"}, timeout=10).status_code == 405
    assert requests.get(f"{srv.url}/nope", headers={"Host": "console.localhost"}, timeout=10).status_code == 404


def test_traffic_api(srv):
    sp = srv.new_space()
    key = srv.new_key(sp)
    srv.s3(key).put_object(Bucket=sp["bucket"], Key="t.bin", Body=b"x" * 5000)
    srv.s3(key).get_object(Bucket=sp["bucket"], Key="t.bin")["Body"].read()
    import time
    deadline = time.time() + 10
    while time.time() < deadline:
        st, t = srv.api("GET", f"/spaces/{sp['bucket']}/traffic?minutes=5")
        assert st == 200
        if sum(x["bytes_in"] for x in t["samples"]) >= 5000 and sum(x["bytes_out"] for x in t["samples"]) >= 5000:
            break
        time.sleep(0.3)
    assert sum(x["bytes_in"] for x in t["samples"]) == 5000, t
    assert sum(x["bytes_out"] for x in t["samples"]) == 5000, t
    assert srv.api("GET", f"/spaces/{sp['bucket']}/traffic?minutes=lots")[0] == 400


def test_audit_filters_by_access_key_and_pages(srv):
    sp = srv.new_space()
    key = srv.new_key(sp)
    c = srv.s3(key)
    for i in range(5):
        c.put_object(Bucket=sp["bucket"], Key=f"p/{i}", Body=b"x")
    seen, before = [], None
    while True:
        q = f"/audit?space={sp['bucket']}&identity={key['access_key_id']}&operation=PutObject&limit=2" + (f"&before={before}" if before else "")
        st, page = srv.api("GET", q)
        assert st == 200, page
        seen += [e["object_key"] for e in page["events"]]
        before = page["next_before"]
        if before is None:
            break
    assert seen == [f"p/{i}" for i in reversed(range(5))], seen
    other = srv.new_key(sp)
    assert srv.api("GET", f"/audit?identity={other['access_key_id']}&operation=PutObject")[1]["events"] == []
