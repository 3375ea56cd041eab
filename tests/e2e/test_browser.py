"""Headless Chromium loads a page from another origin whose stylesheet and web font come from
the CDN face: the font from a site with CORS for that origin loads, the one without is refused."""

import functools
import glob
import http.server
import shutil
import subprocess
import threading

import pytest

from conftest import Server

CHROMIUM = shutil.which("chromium")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is installed by scripts/test.sh")
def test_page_with_cdn_assets_and_cors_font(tmp_path):
    font = sorted(glob.glob("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
    assert font, "fonts-dejavu-core comes with chromium"
    page_dir = tmp_path / "page"
    page_dir.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(page_dir))
    page_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    page_server.RequestHandlerClass.log_message = lambda *a: None
    origin = f"http://127.0.0.1:{page_server.server_port}"
    threading.Thread(target=page_server.serve_forever, daemon=True).start()
    s = Server(tmp_path / "srv")
    try:
        cors = s.new_space(purpose="cdn")
        plain = s.new_space(purpose="cdn")
        for sp in (cors, plain):
            c = s.s3(s.new_key(sp))
            c.put_object(Bucket=sp["bucket"], Key="font.ttf", Body=open(font[0], "rb").read())
            c.put_object(Bucket=sp["bucket"], Key="style.css", Body=b"#p { color: rgb(1, 2, 3); }", ContentType="text/css")
        st, a = s.api("PUT", f"/spaces/{cors['bucket']}/public", {"cors_origins": [origin]})
        st2, b = s.api("PUT", f"/spaces/{plain['bucket']}/public", {})
        assert st == st2 == 200
        base = f"http://cdn.localhost:{s.port}"
        A, B = a["public"]["rules"]["public_name"], b["public"]["rules"]["public_name"]
        (page_dir / "index.html").write_text(f"""<!doctype html><html><head><title>pending</title>
<link rel="stylesheet" href="{base}/{A}/style.css">
<style>
@font-face {{ font-family: "CorsFont"; src: url("{base}/{A}/font.ttf") format("truetype"); }}
@font-face {{ font-family: "NoCorsFont"; src: url("{base}/{B}/font.ttf") format("truetype"); }}
</style></head><body><p id="p">hello</p>
<script>
const load = f => document.fonts.load('16px ' + f).then(x => x.length).catch(() => -1);
Promise.all([load('CorsFont'), load('NoCorsFont')]).then(([a, b]) => {{
  document.title = 'cors=' + a + ' nocors=' + b + ' color=' + getComputedStyle(document.getElementById('p')).color;
}});
</script></body></html>""")
        p = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                            "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000",
                            "--dump-dom", f"{origin}/index.html"], capture_output=True, text=True, timeout=120)
        assert "<title>cors=1 nocors=" in p.stdout, p.stdout[:500] + p.stderr[-2000:]
        title = p.stdout.split("<title>")[1].split("</title>")[0]
        assert title.startswith("cors=1 ") and "nocors=1" not in title and title.endswith("color=rgb(1, 2, 3)"), title
    finally:
        s.stop()
        page_server.shutdown()
