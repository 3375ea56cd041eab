"""The CDN face: public web access rules, RFC 9110/9111 semantics and the edge cache, with
curl (HTTP/1.1 and h2c) and requests against the real binary."""

import gzip
import hashlib
import http.server
import json
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import Server

CSS = b"body { color: rebeccapurple; }\n" * 300


@pytest.fixture(scope="module")
def cdn(tmp_path_factory):
    hook_hits = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            hook_hits.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    hook = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    tmp = tmp_path_factory.mktemp("cdn")
    s = Server(tmp, extra_env={
        "RUSTSHARE_CDN_MAX_OBJECT_BYTES": str(1024 * 1024),
        "RUSTSHARE_CDN_ACCESS_LOG": str(tmp / "access.log"),
        "RUSTSHARE_CDN_PURGE_WEBHOOK": f"http://127.0.0.1:{hook.server_port}/purge",
    })
    s.hook_hits = hook_hits
    s.access_log = tmp / "access.log"
    yield s
    s.stop()
    hook.shutdown()


def site(s, **rules):
    sp = s.new_space(purpose="cdn")
    key = s.new_key(sp)
    c = s.s3(key)
    st, body = s.api("PUT", f"/spaces/{sp['bucket']}/public", rules or {})
    assert st == 200, body
    name = body["public"]["rules"]["public_name"]
    return sp, c, name


def get(s, name, key, method="GET", **headers):
    return requests.request(method, f"{s.url}/{name}/{key}", headers={"Host": "cdn.localhost", **headers}, timeout=30)


def test_public_access_is_off_by_default_and_revocable(cdn):
    s = cdn
    sp = s.new_space()
    c = s.s3(s.new_key(sp))
    c.put_object(Bucket=sp["bucket"], Key="a.txt", Body=b"hello")
    name = sp["bucket"][3:]
    assert get(s, name, "a.txt").status_code == 404
    out = s.cli("public", "enable", sp["bucket"]).stdout
    assert "Public web:   enabled" in out and f"/{name}/" in out
    r = get(s, name, "a.txt")
    assert (r.status_code, r.content) == (200, b"hello")
    assert "Public web:   enabled" in s.cli("space", "show", sp["bucket"]).stdout
    s.cli("public", "disable", sp["bucket"])
    assert get(s, name, "a.txt").status_code == 404, "disable must apply to the very next request"
    ops = [e["operation"] for e in s.cli_json("audit", "--space", sp["bucket"])["events"]]
    assert "public.enabled" in ops and "public.disabled" in ops


def test_published_prefixes_and_clean_404(cdn):
    s = cdn
    sp, c, name = site(s, prefixes=["assets/"])
    c.put_object(Bucket=sp["bucket"], Key="assets/x.js", Body=b"x()")
    c.put_object(Bucket=sp["bucket"], Key="private/secret-plan.txt", Body=b"no")
    assert get(s, name, "assets/x.js").status_code == 200
    r = get(s, name, "private/secret-plan.txt")
    assert r.status_code == 404 and b"secret-plan" not in r.content and b"private" not in r.content
    assert get(s, "no-such-site", "x").status_code == 404
    for bad in ["assets/../private/secret-plan.txt", "assets/%2e%2e/private/secret-plan.txt", "assets%2F..%2Fprivate/secret-plan.txt", "assets/x.js%00", "assets/..%5cprivate"]:
        r = requests.get(f"{s.url}/{name}/{bad}", headers={"Host": "cdn.localhost"}, timeout=10)
        assert r.status_code in (400, 404) and b"no" != r.content, bad
    # curl does not normalise with --path-as-is.
    p = subprocess.run(["curl", "-s", "--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: cdn.localhost", f"{s.url}/{name}/assets/../private/secret-plan.txt"], capture_output=True, text=True)
    assert p.stdout == "400"


def test_methods_head_options_and_cors(cdn):
    s = cdn
    sp, c, name = site(s, cors_origins=["https://app.example.com"])
    c.put_object(Bucket=sp["bucket"], Key="font.woff2", Body=b"wOF2" + b"\0" * 500)
    g = get(s, name, "font.woff2", Origin="https://app.example.com")
    h = get(s, name, "font.woff2", method="HEAD", Origin="https://app.example.com")
    assert g.status_code == h.status_code == 200 and h.content == b""
    for k in ["ETag", "Last-Modified", "Content-Type", "Content-Length", "Cache-Control", "Accept-Ranges", "Access-Control-Allow-Origin"]:
        assert g.headers[k] == h.headers[k], k
    assert g.headers["Content-Type"] == "font/woff2" and g.headers["X-Content-Type-Options"] == "nosniff"
    assert g.headers["Access-Control-Allow-Origin"] == "https://app.example.com" and "Origin" in g.headers["Vary"]
    assert "Access-Control-Allow-Origin" not in get(s, name, "font.woff2", Origin="https://evil.example.com").headers
    pre = get(s, name, "font.woff2", method="OPTIONS", Origin="https://app.example.com", **{"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range"})
    assert pre.status_code == 204 and pre.headers["Access-Control-Allow-Methods"] == "GET, HEAD" and pre.headers["Access-Control-Allow-Headers"] == "range"
    for m in ["POST", "PUT", "DELETE", "PATCH"]:
        r = get(s, name, "font.woff2", method=m)
        assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_content_types_etags_cache_control(cdn):
    s = cdn
    sp, c, name = site(s, cache_control="public, max-age=120", immutable_prefixes=["static/"], cache_overrides=[{"prefix": "html/", "cache_control": "no-cache"}], allowed_content_types=["text/*", "application/javascript", "application/octet-stream", "application/x-custom"])
    c.put_object(Bucket=sp["bucket"], Key="html/index.html", Body=b"<p>hi</p>", ContentType="text/html")
    c.put_object(Bucket=sp["bucket"], Key="static/app.1234.js", Body=b"app()")
    c.put_object(Bucket=sp["bucket"], Key="blob", Body=b"\x00\x01")
    c.put_object(Bucket=sp["bucket"], Key="custom.dat", Body=b"c", ContentType="application/x-custom")
    c.put_object(Bucket=sp["bucket"], Key="pic.png", Body=b"\x89PNG")
    r = get(s, name, "html/index.html")
    assert (r.headers["Content-Type"], r.headers["Cache-Control"]) == ("text/html; charset=utf-8", "no-cache")
    r = get(s, name, "static/app.1234.js")
    assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert r.headers["ETag"] == '"' + hashlib.md5(b"app()").hexdigest() + '"'
    assert get(s, name, "blob").headers["Content-Type"] == "application/octet-stream"
    assert get(s, name, "custom.dat").headers["Content-Type"] == "application/x-custom"
    assert get(s, name, "pic.png").status_code == 404, "image/png is not an allowed type here"
    first = get(s, name, "static/app.1234.js")
    hit = get(s, name, "static/app.1234.js")
    # How Age grows is a unit test with a manual clock (face::cdn freshness_follows_the_injected_clock).
    assert hit.headers["X-Cache"] == "HIT" and int(hit.headers["Age"]) >= 0
    assert first.headers["ETag"] == hit.headers["ETag"]


def test_conditional_requests(cdn):
    s = cdn
    sp, c, name = site(s)
    c.put_object(Bucket=sp["bucket"], Key="c.txt", Body=b"conditional")
    r = get(s, name, "c.txt")
    etag, lm = r.headers["ETag"], r.headers["Last-Modified"]
    assert get(s, name, "c.txt", **{"If-None-Match": etag}).status_code == 304
    assert get(s, name, "c.txt", **{"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert get(s, name, "c.txt", **{"If-Modified-Since": lm}).status_code == 304
    assert get(s, name, "c.txt", **{"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status_code == 200
    assert get(s, name, "c.txt", **{"If-Match": '"nope"'}).status_code == 412
    assert get(s, name, "c.txt", **{"If-Match": etag}).status_code == 200
    assert get(s, name, "c.txt", **{"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status_code == 412
    nm = get(s, name, "c.txt", **{"If-None-Match": etag})
    assert nm.headers["ETag"] == etag and nm.content == b""


def test_ranges(cdn):
    s = cdn
    sp, c, name = site(s)
    data = bytes(range(256)) * 40
    c.put_object(Bucket=sp["bucket"], Key="r.bin", Body=data)
    r = get(s, name, "r.bin", Range="bytes=10-19")
    assert (r.status_code, r.content, r.headers["Content-Range"]) == (206, data[10:20], f"bytes 10-19/{len(data)}")
    assert get(s, name, "r.bin", Range="bytes=-5").content == data[-5:]
    r = get(s, name, "r.bin", Range="bytes=0-1,100-101")
    assert r.status_code == 206 and r.headers["Content-Type"].startswith("multipart/byteranges; boundary=")
    boundary = r.headers["Content-Type"].split("boundary=")[1].encode()
    assert r.content.count(b"--" + boundary) == 3 and b"Content-Range: bytes 100-101/10240" in r.content
    assert data[100:102] in r.content and int(r.headers["Content-Length"]) == len(r.content)
    r = get(s, name, "r.bin", Range="bytes=99999-")
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{len(data)}"
    etag = get(s, name, "r.bin").headers["ETag"]
    assert get(s, name, "r.bin", Range="bytes=0-0", **{"If-Range": etag}).status_code == 206
    full = get(s, name, "r.bin", Range="bytes=0-0", **{"If-Range": '"stale"'})
    assert full.status_code == 200 and full.content == data


def test_compression(cdn):
    s = cdn
    sp, c, name = site(s)
    c.put_object(Bucket=sp["bucket"], Key="site.css", Body=CSS, ContentType="text/css")
    for enc, decode in [("gzip", gzip.decompress), ("br", None), ("zstd", None)]:
        p = subprocess.run(["curl", "-s", "-D", "-", "-o", "/dev/null", "-H", "Host: cdn.localhost", "-H", f"Accept-Encoding: {enc}", f"{s.url}/{name}/site.css"], capture_output=True, text=True)
        headers = p.stdout.lower()
        assert f"content-encoding: {enc}" in headers and "vary: accept-encoding" in headers, (enc, headers)
    r = requests.get(f"{s.url}/{name}/site.css", headers={"Host": "cdn.localhost", "Accept-Encoding": "gzip"}, stream=True, timeout=10)
    raw = r.raw.read()
    assert len(raw) < len(CSS) / 5 and gzip.decompress(raw) == CSS
    r = get(s, name, "site.css", **{"Accept-Encoding": "gzip", "Range": "bytes=0-9"})
    assert r.status_code == 206 and "Content-Encoding" not in r.headers and r.content == CSS[:10]
    assert "Content-Encoding" not in get(s, name, "site.css", **{"Accept-Encoding": "identity"}).headers


def test_http2_cleartext_and_http1_with_curl(cdn):
    s = cdn
    sp, c, name = site(s)
    c.put_object(Bucket=sp["bucket"], Key="h.txt", Body=b"over h2c")
    for flags, version in [(["--http1.1"], "1.1"), (["--http2-prior-knowledge"], "2")]:
        p = subprocess.run(["curl", "-s", *flags, "-w", "\\n%{http_version} %{http_code}", "-H", "Host: cdn.localhost", f"{s.url}/{name}/h.txt"], capture_output=True, text=True)
        body, meta = p.stdout.rsplit("\n", 1)
        assert (body, meta) == ("over h2c", f"{version} 200"), p.stdout


def test_directory_listing_and_index(cdn):
    s = cdn
    sp, c, name = site(s, prefixes=["pub/"])
    c.put_object(Bucket=sp["bucket"], Key="pub/docs/a <b>.txt", Body=b"a")
    c.put_object(Bucket=sp["bucket"], Key="pub/docs/sub/c.txt", Body=b"c")
    c.put_object(Bucket=sp["bucket"], Key="hidden/h.txt", Body=b"h")
    c.put_object(Bucket=sp["bucket"], Key="pub/site/index.html", Body=b"<h1>index</h1>", ContentType="text/html")
    assert get(s, name, "pub/docs/").status_code == 404, "listing is off by default"
    assert get(s, name, "pub/site/").content == b"<h1>index</h1>"
    s.cli("public", "enable", sp["bucket"], "--listing", "true")
    r = get(s, name, "pub/docs/")
    assert r.status_code == 200 and "a &lt;b&gt;.txt" in r.text and "sub/" in r.text and "<script" not in r.text
    assert get(s, name, "").status_code == 404 and get(s, name, "hidden/").status_code == 404


def test_cache_invalidation_purge_and_webhook(cdn):
    s = cdn
    sp, c, name = site(s, cache_control="public, max-age=600")
    c.put_object(Bucket=sp["bucket"], Key="v.txt", Body=b"one")
    assert get(s, name, "v.txt").content == b"one"
    assert get(s, name, "v.txt").headers["X-Cache"] == "HIT"
    c.put_object(Bucket=sp["bucket"], Key="v.txt", Body=b"two")
    assert get(s, name, "v.txt").content == b"two", "an S3 write must invalidate at once"
    c.delete_object(Bucket=sp["bucket"], Key="v.txt")
    assert get(s, name, "v.txt").status_code == 404
    c.put_object(Bucket=sp["bucket"], Key="p/a.txt", Body=b"a")
    get(s, name, "p/a.txt")
    assert get(s, name, "p/a.txt").headers["X-Cache"] == "HIT"
    out = s.cli("cdn", "purge", sp["bucket"], "p/a.txt").stdout
    assert "Purged" in out
    assert get(s, name, "p/a.txt").headers["X-Cache"] == "MISS"
    s.cli("cdn", "purge", sp["bucket"], "--prefix", "p/")
    assert get(s, name, "p/a.txt").headers["X-Cache"] == "MISS"
    deadline = time.time() + 5
    while time.time() < deadline and len([h for h in s.hook_hits if h.get("public_name") == name]) < 2:
        time.sleep(0.05)
    hits = [h for h in s.hook_hits if h.get("public_name") == name]
    assert hits[0]["key"] == "p/a.txt" and hits[1]["prefix"] == "p/" and hits[0]["event"] == "purge"
    assert "cdn.purged" in [e["operation"] for e in s.cli_json("audit", "--space", sp["bucket"])["events"]]


def test_concurrent_misses_make_one_origin_read(cdn):
    s = cdn
    sp, c, name = site(s)
    c.put_object(Bucket=sp["bucket"], Key="hot.bin", Body=b"h" * 900_000)
    before = s.cli_json("usage", sp["bucket"])["cdn"]["origin_fetches"]
    with ThreadPoolExecutor(50) as ex:
        results = list(ex.map(lambda _: get(s, name, "hot.bin"), range(50)))
    assert all(r.status_code == 200 and len(r.content) == 900_000 for r in results)
    after = s.cli_json("usage", sp["bucket"])["cdn"]
    assert after["origin_fetches"] - before == 1, after


def test_negative_caching_and_revalidation(cdn):
    s = cdn
    # max-age=0: every hit is revalidated at once, so no test waits for a max-age to pass (the
    # timing itself is a unit test with a manual clock).
    sp, c, name = site(s, cache_control="public, max-age=0")
    base = s.cli_json("usage", sp["bucket"])["cdn"]["origin_fetches"]
    assert get(s, name, "missing").status_code == 404
    assert get(s, name, "missing").status_code == 404
    assert s.cli_json("usage", sp["bucket"])["cdn"]["origin_fetches"] - base == 1, "the second 404 comes from the negative cache"
    c.put_object(Bucket=sp["bucket"], Key="missing", Body=b"now here")
    assert get(s, name, "missing").content == b"now here"
    r = get(s, name, "missing")
    assert r.headers["X-Cache"] == "REVALIDATED" and r.content == b"now here"


def test_large_objects_stream_and_range(cdn):
    s = cdn
    sp, c, name = site(s)
    data = bytes(range(256)) * (3 * 4096)  # 3 MiB, above the 1 MiB cache limit of this server
    c.put_object(Bucket=sp["bucket"], Key="big.iso", Body=data)
    r = get(s, name, "big.iso")
    assert r.status_code == 200 and r.content == data and r.headers["Content-Length"] == str(len(data))
    r = get(s, name, "big.iso", Range=f"bytes={len(data) - 100}-")
    assert r.status_code == 206 and r.content == data[-100:]
    r = get(s, name, "big.iso", Range="bytes=0-0,2000000-2000001")
    assert r.status_code == 206 and data[2000000:2000002] in r.content


def test_metrics_usage_and_access_log(cdn):
    s = cdn
    sp, c, name = site(s)
    c.put_object(Bucket=sp["bucket"], Key="m.txt", Body=b"metered")
    get(s, name, "m.txt")
    get(s, name, "m.txt")
    requests.get(f"{s.url}/{name}/m.txt?X-Amz-Signature=sigzz9f8e7d6c&token=tokqq1234zz", headers={"Host": "cdn.localhost"}, timeout=10)
    u = s.cli_json("usage", sp["bucket"])["cdn"]
    assert u["requests"] == 3 and u["bytes_out"] == 21 and u["hits"] >= 2 and u["misses"] == 1
    m = requests.get(s.url + "/metrics", timeout=5).text
    assert f'rustshare_cdn_requests_total{{space="{sp["id"]}",status="200"}} 3' in m
    assert f'rustshare_cdn_cache_total{{result="hit",space="{sp["id"]}"}}' in m or f'rustshare_cdn_cache_total{{space="{sp["id"]}",result="hit"}}' in m
    log = s.access_log.read_text()
    lines = [json.loads(l) for l in log.splitlines() if f'"/{name}/m.txt' in l]
    assert len(lines) == 3 and all(l["path"] == f"/{name}/m.txt" for l in lines)
    assert "sigzz9f8e7d6c" not in log and "tokqq1234zz" not in log and "?" not in log


def test_stale_if_error(tmp_path):
    s = Server(tmp_path, backend="s3s-fs")  # a backend the test can take down
    try:
        sp, c, name = site(s, cache_control="public, max-age=0")
        c.put_object(Bucket=sp["bucket"], Key="s.txt", Body=b"survives outages")
        assert get(s, name, "s.txt").content == b"survives outages"
        s.peer.stop()
        r = get(s, name, "s.txt")
        assert (r.status_code, r.content, r.headers["X-Cache"]) == (200, b"survives outages", "STALE")
        assert get(s, name, "never-cached.txt").status_code == 502
    finally:
        s.proc.terminate()
        s.proc.wait(30)


def test_etag_stable_across_restart_and_usage_cli(tmp_path):
    s = Server(tmp_path)
    try:
        sp, c, name = site(s)
        c.put_object(Bucket=sp["bucket"], Key="e.txt", Body=b"stable")
        before = get(s, name, "e.txt").headers["ETag"]
        s.stop()
        s.start()
        r = get(s, name, "e.txt")
        assert r.headers["ETag"] == before == '"' + hashlib.md5(b"stable").hexdigest() + '"'
        out = s.cli("usage", sp["bucket"]).stdout
        assert "CDN:        1 requests" in out, out
    finally:
        s.stop()


def test_copy_and_multipart_completion_invalidate(cdn):
    s = cdn
    sp, c, name = site(s, cache_control="public, max-age=600")
    c.put_object(Bucket=sp["bucket"], Key="src.txt", Body=b"source")
    c.put_object(Bucket=sp["bucket"], Key="dst.txt", Body=b"old")
    assert get(s, name, "dst.txt").content == b"old"
    assert get(s, name, "dst.txt").headers["X-Cache"] == "HIT"
    c.copy_object(Bucket=sp["bucket"], Key="dst.txt", CopySource={"Bucket": sp["bucket"], "Key": "src.txt"})
    assert get(s, name, "dst.txt").content == b"source", "CopyObject must invalidate the target"
    c.put_object(Bucket=sp["bucket"], Key="mp.bin", Body=b"before")
    assert get(s, name, "mp.bin").content == b"before"
    up = c.create_multipart_upload(Bucket=sp["bucket"], Key="mp.bin")["UploadId"]
    e = c.upload_part(Bucket=sp["bucket"], Key="mp.bin", UploadId=up, PartNumber=1, Body=b"after")["ETag"]
    assert get(s, name, "mp.bin").content == b"before", "an upload in progress changes nothing"
    c.complete_multipart_upload(Bucket=sp["bucket"], Key="mp.bin", UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
    assert get(s, name, "mp.bin").content == b"after", "CompleteMultipartUpload must invalidate"
