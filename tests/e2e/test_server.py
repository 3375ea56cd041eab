"""The binary as an operator meets it: first start, config errors, health, metrics, request
ids, graceful shutdown, CLI messages, and the client commands `key create` prints."""

import os
import re
import shlex
import signal
import stat
import subprocess
import threading
import time

import requests

from conftest import RUSTSHARE, Server, client_env, random_file, run


def test_first_start_prints_token_once_and_keeps_it_private(tmp_path):
    s = Server(tmp_path)
    try:
        out = s.stdout.read_text()
        assert s.token in out and "shown once" in out
        assert stat.S_IMODE((s.data / "admin-token").stat().st_mode) == 0o600
        assert stat.S_IMODE((s.data / "master.key").stat().st_mode) == 0o600
        st, me = s.api("GET", "/whoami")
        assert st == 200 and me["tenant_id"] is None
    finally:
        s.stop()
    s.start()
    try:
        assert s.stdout.read_text().count(s.token) == 1, "token printed again on restart"
        assert s.api("GET", "/whoami")[0] == 200
    finally:
        s.stop()


def test_admin_token_from_env(tmp_path):
    s = Server(tmp_path, extra_env={"RUSTSHARE_ADMIN_TOKEN": "operator-token-from-env-0123"})
    try:
        assert s.api("GET", "/whoami", token="operator-token-from-env-0123")[0] == 200
        assert not (s.data / "admin-token").exists()
        assert "operator-token-from-env" not in s.stdout.read_text()
        assert s.api("GET", "/whoami", token="wrong")[0] == 401
    finally:
        s.stop()


def test_config_errors_say_what_to_fix(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('listne = "127.0.0.1:1"\n')
    p = subprocess.run([str(RUSTSHARE), "serve", "--config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "listne" in p.stderr, p.stderr
    cfg.write_text('[store]\nbackend = "s3"\n')
    p = subprocess.run([str(RUSTSHARE), "serve", "--config", str(cfg), "--data-dir", str(tmp_path / "d")], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "store.s3.endpoint" in p.stderr, p.stderr


def test_health_ready_metrics_request_ids(fs_server):
    s = fs_server
    assert requests.get(s.url + "/healthz", timeout=5).text == "ok\n"
    r = requests.get(s.url + "/readyz", timeout=5)
    assert r.status_code == 200 and r.json() == {"store": "ok", "database": "ok"}
    sp = s.new_space()
    c = s.s3(s.new_key(sp))
    resp = c.put_object(Bucket=sp["bucket"], Key="m", Body=b"x" * 1000)
    rid = resp["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    assert rid and resp["ResponseMetadata"]["HTTPHeaders"]["x-request-id"] == rid
    c.get_object(Bucket=sp["bucket"], Key="m")["Body"].read()
    r = requests.get(s.url + "/healthz", headers={"x-request-id": "trace-abc-123"}, timeout=5)
    assert r.headers["x-request-id"] == "trace-abc-123"
    r = requests.get(s.url + "/healthz", headers={"x-request-id": "bad id {with} spaces"}, timeout=5)
    assert r.headers["x-request-id"] != "bad id {with} spaces"
    m = requests.get(s.url + "/metrics", timeout=5).text
    assert 'rustshare_requests_total{face="s3",operation="PutObject",status="200"}' in m
    assert f'rustshare_bytes_in_total{{space="{sp["id"]}"}} 1000' in m
    assert f'rustshare_bytes_out_total{{space="{sp["id"]}"}} 1000' in m
    assert "rustshare_request_duration_seconds_bucket" in m
    assert rid in s.logs()
    # Faces by Host.
    assert requests.get(s.url + "/x", headers={"Host": "cdn.localhost"}, timeout=5).status_code == 404
    assert requests.get(s.url + "/api/v1/whoami", headers={"Host": f"console.localhost:{s.port}", "Authorization": f"Bearer {s.token}"}, timeout=5).status_code == 200


def test_a_missing_backend_bucket_stops_the_start_with_what_to_do(tmp_path):
    from conftest import engine_or_peer

    peer = engine_or_peer(tmp_path)
    try:
        env = dict(os.environ, RUSTSHARE_STORE="s3", RUSTSHARE_S3_ENDPOINT=peer.endpoint, RUSTSHARE_S3_BUCKET="no-such-bucket-rs",
                   RUSTSHARE_S3_ACCESS_KEY_ID=peer.access_key, RUSTSHARE_S3_SECRET_ACCESS_KEY=peer.secret_key,
                   RUSTSHARE_S3_REGION=peer.region)
        p = subprocess.run([str(RUSTSHARE), "serve", "--data-dir", str(tmp_path / "d"), "--listen", "127.0.0.1:0"],
                           capture_output=True, text=True, timeout=60, env=env)
        assert p.returncode != 0
        assert 'bucket "no-such-bucket-rs" does not exist' in p.stderr and "aws s3 mb" in p.stderr, p.stderr[-500:]
    finally:
        peer.stop()


def test_readyz_reports_unreachable_backend(tmp_path):
    s = Server(tmp_path, backend="s3s-fs")  # a backend the test can take down
    try:
        assert requests.get(s.url + "/readyz", timeout=5).status_code == 200
        s.peer.stop()
        r = requests.get(s.url + "/readyz", timeout=15)
        assert r.status_code == 503 and r.json()["store"] == "unavailable"
    finally:
        s.proc.terminate()
        s.proc.wait(30)


def test_graceful_shutdown_finishes_in_flight_download(tmp_path):
    s = Server(tmp_path)
    sp = s.new_space()
    c = s.s3(s.new_key(sp))
    data = os.urandom(32 * 1024 * 1024)
    c.put_object(Bucket=sp["bucket"], Key="big", Body=data)
    url = c.generate_presigned_url("get_object", Params={"Bucket": sp["bucket"], "Key": "big"})
    got = {}
    reading = threading.Event()

    def slow_reader():
        with requests.get(url, stream=True, timeout=60) as r:
            buf = bytearray()
            for chunk in r.iter_content(256 * 1024):
                buf += chunk
                reading.set()
                time.sleep(0.01)  # a slow client: the download is still running at SIGTERM
            got["body"] = bytes(buf)

    t = threading.Thread(target=slow_reader)
    t.start()
    assert reading.wait(30), "the download started"
    s.proc.send_signal(signal.SIGTERM)
    t.join(60)
    assert s.proc.wait(40) == 0
    assert got.get("body") == data
    assert "shutting down" in s.logs()


def test_cli_messages(fs_server, tmp_path):
    """What to fix, and an exit status a script can act on: 1 local error, 2 usage or invalid
    request, 3 refused, 4 not found, 5 server error, 6 unreachable."""
    s = fs_server
    p = subprocess.run([str(RUSTSHARE), "--server", "http://127.0.0.1:1", "--token", "x", "space", "list"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 6 and "is `rustshare serve` running" in p.stderr
    p = subprocess.run([str(RUSTSHARE), "--server", s.url, "--token", "wrong", "space", "list"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 3 and "unauthorized" in p.stderr
    p = s.cli("space", "create", "x", "--tenant", "nope-tenant", "--quota", "12 parsecs", check=False)
    assert p.returncode == 1 and "unknown unit" in p.stderr
    p = s.cli("space", "create", "Bad Name", "--tenant", "nope-tenant", check=False)
    assert (p.returncode, "space name must be" in p.stderr) == (2, True) or (p.returncode, "tenant not found" in p.stderr) == (4, True), p.stderr
    p = s.cli("space", "show", "rs-no-such-space", check=False)
    assert p.returncode == 4 and "not_found" in p.stderr, p.stderr
    p = s.cli("space", "list", "--no-such-flag", check=False)
    assert p.returncode == 2 and "--no-such-flag" in p.stderr
    sp = s.new_space()
    p = s.cli("key", "create", sp["bucket"], "--name", "k", "--mode", "admin", check=False)
    assert p.returncode == 2 and "read-only" in p.stderr
    p = s.cli("key", "create", sp["bucket"], "--name", "k", "--mode", "read-only", "--prefix", "../etc/", check=False)
    assert p.returncode == 2 and "prefix must be" in p.stderr
    # A reader that went away (`rustshare space list | head -0`) ends the command quietly.
    r, w = os.pipe()
    os.close(r)
    env = dict(os.environ, RUSTSHARE_TOKEN=s.token)
    p = subprocess.run([str(RUSTSHARE), "--server", s.url, "space", "list"], stdout=w, stderr=subprocess.PIPE, text=True, timeout=30, env=env)
    os.close(w)
    assert (p.returncode, p.stderr) == (0, ""), p.stderr
    human = s.cli("space", "show", sp["bucket"]).stdout
    assert "S3 API:       authenticated endpoint" in human and "Public web:   disabled" in human
    assert sp["bucket"] in s.cli("space", "list").stdout


def test_printed_client_commands_work(fs_server, tmp_path):
    """`key create` prints the spec's block and commands; run them as a user would paste them."""
    s = fs_server
    sp = s.new_space()
    out = s.cli("key", "create", sp["bucket"], "--name", "release-ci-writer", "--mode", "read-write", "--prefix", "releases/").stdout
    for label in ["Endpoint:", "Bucket:", "Prefix:", "Access Key: RS3", "Secret Key:", "Region:     us-east-1", "Path-style: enabled"]:
        assert label in out, out
    ak = re.search(r"Access Key: (\S+)", out).group(1)
    sk = re.search(r"Secret Key: (\S+)", out).group(1)
    os.chdir(tmp_path)
    random_file(tmp_path / "release.tar.gz", 4096)
    env = client_env({"access_key_id": ak, "secret_access_key": sk})
    cmds = [l for l in out.splitlines() if l.startswith(("aws ", "s3cmd ", "rclone "))]
    assert len(cmds) == 3, cmds
    for cmd in cmds:
        run(shlex.split(cmd), env)
    listing = s.s3({"access_key_id": ak, "secret_access_key": sk}).list_objects_v2(Bucket=sp["bucket"], Prefix="releases/")
    assert [o["Key"] for o in listing["Contents"]] == ["releases/release.tar.gz"]


def test_openapi_document_is_served_and_names_every_family(fs_server):
    """The document is made from the route table (a unit test checks every route is in it); here
    the running server serves it without a token."""
    r = requests.get(fs_server.url + "/api/v1/openapi.json", timeout=10)
    assert r.status_code == 200
    doc = r.json()
    paths = doc["paths"]
    for p, m in [("/api/v1/spaces/{space}/public", "put"), ("/api/v1/spaces/{space}/purge", "post"),
                 ("/api/v1/repos/{repo}/publish", "post"), ("/api/v1/repos/{repo}/incoming/{dist}/{component}/{file}", "put"),
                 ("/registry/token", "get"), ("/api/v1/admin/master-key/rotate", "post")]:
        assert m in paths[p], (p, m)
    assert len([m for ops in paths.values() for m in ops]) >= 45
    # Every body schema named is defined.
    refs = {op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
            for ops in paths.values() for op in ops.values() if "requestBody" in op}
    assert refs <= set(doc["components"]["schemas"]), refs - set(doc["components"]["schemas"])
