"""Encrypted listeners: TLS with ALPN (HTTP/1.1, HTTP/2), HTTP/3 over QUIC on the same port,
Alt-Svc, the self-signed development certificate, certificate reload, production mode."""

import hashlib
import shutil
import subprocess
import time

import boto3
import pytest
import requests
from botocore.config import Config

import h3client
from conftest import Server, free_port


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tls")
    port = free_port()
    s = Server(tmp, extra_env={"RUSTSHARE_TLS_LISTEN": f"127.0.0.1:{port}"})
    s.tls_port = port
    s.ca = s.data / "tls" / "self-signed.crt"
    sp = s.new_space(purpose="cdn")
    key = s.new_key(sp)
    st, body = s.api("PUT", f"/spaces/{sp['bucket']}/public", {})
    s.site = body["public"]["rules"]["public_name"]
    s.data_bytes = bytes(range(256)) * 4096 * 2  # 2 MiB
    s.s3(key).put_object(Bucket=sp["bucket"], Key="obj.bin", Body=s.data_bytes)
    s.sp, s.key = sp, key
    yield s
    s.stop()


def curl(s, *args):
    return subprocess.run(["curl", "-s", "--cacert", str(s.ca), "--resolve", f"cdn.localhost:{s.tls_port}:127.0.0.1", "--resolve", f"s3.localhost:{s.tls_port}:127.0.0.1", *args], capture_output=True, timeout=60)


def test_self_signed_certificate_printed_and_trusted(tls_server):
    s = tls_server
    assert str(s.ca) in s.stdout.read_text()
    for host in ["cdn.localhost", "s3.localhost"]:
        p = curl(s, "-o", "/dev/null", "-w", "%{http_code}", f"https://{host}:{s.tls_port}/healthz")
        assert p.stdout == b"200", (host, p.stderr)


def test_alpn_h2_and_http11_with_alt_svc(tls_server):
    s = tls_server
    url = f"https://cdn.localhost:{s.tls_port}/{s.site}/obj.bin"
    for flag, version in [("--http2", b"2"), ("--http1.1", b"1.1")]:
        p = curl(s, flag, "-D", "-", "-o", "/dev/null", "-w", "%{http_version}", url)
        assert p.stdout.endswith(version), p.stdout
        assert f'alt-svc: h3=":{s.tls_port}"; ma=86400'.encode() in p.stdout.lower()
    p = curl(s, "--http2", "-I", url)
    assert p.returncode == 0 and b"HTTP/2 200" in p.stdout, "HEAD over HTTP/2"
    body = curl(s, "--http2", url).stdout
    assert hashlib.sha256(body).digest() == hashlib.sha256(s.data_bytes).digest()


def test_s3_over_tls_with_real_clients(tls_server, tmp_path):
    s = tls_server
    c = boto3.client("s3", endpoint_url=f"https://127.0.0.1:{s.tls_port}", aws_access_key_id=s.key["access_key_id"], aws_secret_access_key=s.key["secret_access_key"],
                     region_name="us-east-1", verify=str(s.ca), config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    # Over HTTPS boto3 streams aws-chunked with a CRC32 trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
    c.put_object(Bucket=s.sp["bucket"], Key="tls/x.bin", Body=b"y" * 300_000)
    assert c.get_object(Bucket=s.sp["bucket"], Key="tls/x.bin")["Body"].read() == b"y" * 300_000
    f = tmp_path / "f.bin"
    f.write_bytes(b"z" * (9 * 1024 * 1024))
    env = {"AWS_ACCESS_KEY_ID": s.key["access_key_id"], "AWS_SECRET_ACCESS_KEY": s.key["secret_access_key"], "AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin:" + __import__("os").environ["PATH"], "AWS_CA_BUNDLE": str(s.ca)}
    p = subprocess.run(["aws", "--endpoint-url", f"https://127.0.0.1:{s.tls_port}", "s3", "cp", "--only-show-errors", str(f), f"s3://{s.sp['bucket']}/tls/big.bin"], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert c.head_object(Bucket=s.sp["bucket"], Key="tls/big.bin")["ContentLength"] == 9 * 1024 * 1024


def test_http3_full_object_and_range(tls_server):
    s = tls_server
    status, headers, body = h3client.get("127.0.0.1", s.tls_port, f"cdn.localhost:{s.tls_port}", f"/{s.site}/obj.bin", cafile=str(s.ca))
    assert status == 200 and body == s.data_bytes and headers["content-length"] == str(len(s.data_bytes))
    status, headers, body = h3client.get("127.0.0.1", s.tls_port, f"cdn.localhost:{s.tls_port}", f"/{s.site}/obj.bin", headers=[("range", "bytes=1000-1999")], cafile=str(s.ca))
    assert status == 206 and body == s.data_bytes[1000:2000] and headers["content-range"] == f"bytes 1000-1999/{len(s.data_bytes)}"
    status, _, body = h3client.get("127.0.0.1", s.tls_port, f"127.0.0.1:{s.tls_port}", "/healthz", cafile=str(s.ca))
    assert (status, body) == (200, b"ok\n")


def test_http3_s3_signed_get(tls_server):
    s = tls_server
    c = boto3.client("s3", endpoint_url=f"https://127.0.0.1:{s.tls_port}", aws_access_key_id=s.key["access_key_id"], aws_secret_access_key=s.key["secret_access_key"],
                     region_name="us-east-1", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    url = c.generate_presigned_url("get_object", Params={"Bucket": s.sp["bucket"], "Key": "obj.bin"})
    path = url.split(f"{s.tls_port}", 1)[1]
    status, _, body = h3client.get("127.0.0.1", s.tls_port, f"127.0.0.1:{s.tls_port}", path, cafile=str(s.ca))
    assert status == 200 and body == s.data_bytes


def test_certificate_reload_without_restart(tls_server):
    s = tls_server
    def serial():
        p = subprocess.run(f"echo | openssl s_client -connect 127.0.0.1:{s.tls_port} -servername cdn.localhost 2>/dev/null | openssl x509 -noout -serial", shell=True, capture_output=True, text=True)
        return p.stdout.strip()
    before = serial()
    assert before.startswith("serial=")
    key = s.data / "tls" / "self-signed.key"
    new_dir = s.tmp / "newcert"
    new_dir.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,DNS:cdn.localhost,DNS:s3.localhost,DNS:packages.localhost,DNS:console.localhost,IP:127.0.0.1", "-keyout", str(new_dir / "k.pem"), "-out", str(new_dir / "c.pem")], check=True, capture_output=True)
    # The server is shared by this module: the new pair names every face, as the old one did.
    shutil.copy(new_dir / "k.pem", key)
    shutil.copy(new_dir / "c.pem", s.ca)
    deadline = time.time() + 15
    while time.time() < deadline and serial() == before:
        time.sleep(0.5)
    assert serial() != before, "the new certificate was not picked up"
    assert curl(s, "-o", "/dev/null", "-w", "%{http_code}", f"https://cdn.localhost:{s.tls_port}/healthz").stdout == b"200"


def test_production_mode_refuses_plain_http_s3(tmp_path):
    port = free_port()
    s = Server(tmp_path, extra_env={"RUSTSHARE_TLS_LISTEN": f"127.0.0.1:{port}", "RUSTSHARE_PRODUCTION": "true"})
    try:
        sp = s.new_space()
        key = s.new_key(sp)
        r = requests.get(f"{s.url}/{sp['bucket']}", timeout=10)
        assert r.status_code == 403 and b"InsecureTransport" in r.content
        ca = s.data / "tls" / "self-signed.crt"
        c = boto3.client("s3", endpoint_url=f"https://127.0.0.1:{port}", aws_access_key_id=key["access_key_id"], aws_secret_access_key=key["secret_access_key"],
                         region_name="us-east-1", verify=str(ca), config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
        c.put_object(Bucket=sp["bucket"], Key="k", Body=b"v")
        assert requests.get(f"{s.url}/healthz", timeout=5).status_code == 200
    finally:
        s.stop()


def test_packages_face_over_http2_and_http3(tls_server):
    s = tls_server
    sp = s.new_space(purpose="packages")
    repo = f"r{__import__('uuid').uuid4().hex[:8]}"
    s.cli("repo", "create", repo, "--space", sp["bucket"])
    plain = requests.get(f"{s.url}/{repo}/dists/stable/InRelease", headers={"Host": "packages.localhost"}, timeout=10)
    assert plain.status_code == 200 and plain.text.startswith("-----BEGIN PGP SIGNED MESSAGE-----")
    p = subprocess.run(["curl", "-s", "--http2", "--cacert", str(s.ca), "--resolve", f"packages.localhost:{s.tls_port}:127.0.0.1",
                        "-w", "%{http_version}", f"https://packages.localhost:{s.tls_port}/{repo}/dists/stable/InRelease"], capture_output=True, timeout=60)
    assert p.stdout.endswith(b"2") and p.stdout[:-1] == plain.content
    status, headers, body = h3client.get("127.0.0.1", s.tls_port, f"packages.localhost:{s.tls_port}", f"/{repo}/dists/stable/InRelease", cafile=str(s.ca))
    assert status == 200 and body == plain.content and headers["cache-control"] == "public, max-age=60"
