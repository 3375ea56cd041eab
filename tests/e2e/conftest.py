"""Drives the real `rustshare` binary over loopback with real clients.

Each test module gets its own server (fs backend by default; the `backend` parameter also runs
it on the S3 backend). The S3 backend is the real engine the environment names
(`RUSTSHARE_TEST_S3_*`: `scripts/test.sh` starts Ceph RGW with `scripts/ceph.sh`; a user can
name RustFS or MinIO), each server under a root prefix of its own; without one, the s3s-fs peer
binary. Tests create their own tenants and spaces, so they never see each other's data.
"""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug"
RUSTSHARE = TARGET / "rustshare"
S3_PEER = TARGET / "s3-peer"
PEER_ACCESS_KEY = "PEERACCESSKEY"
PEER_SECRET_KEY = "peer-secret-key-for-tests-only"


# Every secret a test learns, so failure messages can mask them: secrets never reach test output.
SECRETS = set()


def redact(text):
    for secret in SECRETS:
        text = text.replace(secret, "***")
    return text


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=20, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


class Engine:
    """A real S3 engine named by the environment: one bucket shared by every test, a root prefix
    per server, emptied when the server stops (Ceph's memstore keeps everything in memory)."""

    def __init__(self):
        e = os.environ
        self.endpoint = e["RUSTSHARE_TEST_S3_ENDPOINT"]
        self.bucket = e.get("RUSTSHARE_TEST_S3_BUCKET") or "rustshare-tests"
        self.access_key = e.get("RUSTSHARE_TEST_S3_ACCESS_KEY_ID", "")
        self.secret_key = e.get("RUSTSHARE_TEST_S3_SECRET_ACCESS_KEY", "")
        self.region = e.get("RUSTSHARE_TEST_S3_REGION") or "us-east-1"
        self.root_prefix = f"e2e-{uuid.uuid4().hex[:12]}/"
        SECRETS.add(self.secret_key)

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name=self.region,
                            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))

    def stop(self):
        c = self.client()
        for page in c.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.root_prefix):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                c.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
        for u in c.list_multipart_uploads(Bucket=self.bucket, Prefix=self.root_prefix).get("Uploads", []):
            c.abort_multipart_upload(Bucket=self.bucket, Key=u["Key"], UploadId=u["UploadId"])


def engine_or_peer(tmp):
    """The S3 engine the environment names, else an s3s-fs peer."""
    return Engine() if os.environ.get("RUSTSHARE_TEST_S3_ENDPOINT") else Peer(tmp)


class Peer:
    """The s3s-fs S3 server, the stand-in when no real engine is named."""

    bucket = "backend"
    access_key = PEER_ACCESS_KEY
    secret_key = PEER_SECRET_KEY
    region = "us-east-1"
    root_prefix = "rustshare/"

    def __init__(self, tmp):
        self.port = free_port()
        self.dir = tmp / "peer"
        self.proc = subprocess.Popen([str(S3_PEER), str(self.dir), str(self.port), "backend"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("s3-peer did not start")

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class Server:
    def __init__(self, tmp, backend="fs", extra_env=None):
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.backend = backend
        self.port = free_port()
        self.data = tmp / "data"
        self.stdout = tmp / "stdout.log"
        self.stderr = tmp / "stderr.log"
        # "s3s-fs" asks for the peer binary itself: a backend a test can take down.
        self.peer = Peer(tmp) if backend == "s3s-fs" else engine_or_peer(tmp) if backend == "s3" else None
        env = dict(os.environ)
        env.pop("RUSTSHARE_ADMIN_TOKEN", None)
        env["RUSTSHARE_LOG"] = "info"
        if self.peer:
            env.update({
                "RUSTSHARE_STORE": "s3",
                "RUSTSHARE_S3_ENDPOINT": self.peer.endpoint,
                "RUSTSHARE_S3_BUCKET": self.peer.bucket,
                "RUSTSHARE_S3_ACCESS_KEY_ID": self.peer.access_key,
                "RUSTSHARE_S3_SECRET_ACCESS_KEY": self.peer.secret_key,
                "RUSTSHARE_S3_REGION": self.peer.region,
                "RUSTSHARE_S3_ROOT_PREFIX": self.peer.root_prefix,
            })
        env.update(extra_env or {})
        self.env = env
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            [str(RUSTSHARE), "serve", "--data-dir", str(self.data), "--listen", f"127.0.0.1:{self.port}"],
            stdout=open(self.stdout, "ab"), stderr=open(self.stderr, "ab"), env=self.env,
        )
        wait_http(self.url + "/healthz", proc=self.proc)
        self.token = self.env.get("RUSTSHARE_ADMIN_TOKEN") or (self.data / "admin-token").read_text().strip()
        SECRETS.add(self.token)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig=signal.SIGTERM, peer=True):
        """Stops the server (and its S3 peer unless `peer` is false, for a restart)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(35)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.peer and peer:
            self.peer.stop()

    def logs(self):
        return self.stderr.read_text(errors="replace")

    # -- control API and CLI --

    def api(self, method, path, body=None, token=None):
        r = requests.request(method, f"{self.url}/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token or self.token}"}, timeout=30)
        return r.status_code, (r.json() if r.content else None)

    def cli(self, *args, token=None, check=True):
        # The token goes by environment, not argv: a timeout's message repeats the command line.
        env = dict(os.environ, RUSTSHARE_TOKEN=token or self.token)
        try:
            p = subprocess.run([str(RUSTSHARE), "--server", self.url, *args], capture_output=True, text=True, timeout=60, env=env)
        except subprocess.TimeoutExpired as e:
            raise AssertionError(redact(f"rustshare {' '.join(args)} did not finish in {e.timeout} s")) from None
        if check and p.returncode != 0:
            raise AssertionError(redact(f"rustshare {' '.join(args)} failed: {p.stderr}"))
        for m in re.finditer(r"(?:Secret Key: |\"secret_access_key\": \")([A-Za-z0-9]{40})", p.stdout):
            SECRETS.add(m.group(1))
        return p

    def cli_json(self, *args, token=None):
        return json.loads(self.cli("--json", *args, token=token).stdout)

    def new_space(self, quota=None, tenant=None, purpose="artifacts"):
        tenant = tenant or f"t{uuid.uuid4().hex[:10]}"
        self.api("POST", "/tenants", {"name": tenant})
        name = f"s{uuid.uuid4().hex[:8]}"
        args = ["space", "create", name, "--tenant", tenant, "--purpose", purpose]
        if quota is not None:
            args += ["--quota", str(quota)]
        return self.cli_json(*args)

    def new_key(self, space, mode="read-write-delete", prefix="", expires_in=None):
        args = ["key", "create", space["bucket"], "--name", f"k{uuid.uuid4().hex[:8]}", "--mode", mode, "--prefix", prefix]
        if expires_in:
            args += ["--expires-in", expires_in]
        return self.cli_json(*args)

    def s3(self, key, **cfg):
        return boto3.client(
            "s3", endpoint_url=self.url, aws_access_key_id=key["access_key_id"], aws_secret_access_key=key["secret_access_key"],
            region_name="us-east-1", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **cfg),
        )


@pytest.fixture(scope="module", params=["fs", "s3"])
def server(request, tmp_path_factory):
    s = Server(tmp_path_factory.mktemp(f"srv-{request.param}"), backend=request.param)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def fs_server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("srv-fs"))
    yield s
    s.stop()


def client_env(key, extra=None):
    env = dict(os.environ)
    env.update({"AWS_ACCESS_KEY_ID": key["access_key_id"], "AWS_SECRET_ACCESS_KEY": key["secret_access_key"], "AWS_DEFAULT_REGION": "us-east-1"})
    # rclone 1.60 refuses to start with this machine's AWS_CA_BUNDLE (field notes).
    env.pop("AWS_CA_BUNDLE", None)
    env.update(extra or {})
    return env


def run(cmd, env=None, check=True, timeout=300):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(redact(f"{' '.join(map(str, cmd))} exited {p.returncode}\nstdout: {p.stdout[-2000:]}\nstderr: {p.stderr[-2000:]}"))
    return p


def random_file(path, size):
    path.write_bytes(secrets.token_bytes(size))
    return path
