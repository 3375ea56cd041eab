"""The registry bridge with real components: Debian's docker-registry (CNCF Distribution 2.8)
stores through our S3 face into our store, authenticates with our token service, and reports to
our notification endpoint; skopeo pushes and pulls an OCI image made here."""

import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import pytest
import requests

from conftest import SECRETS, Server, free_port, redact

REGISTRY = shutil.which("docker-registry")
SKOPEO = shutil.which("skopeo")
pytestmark = pytest.mark.skipif(REGISTRY is None or SKOPEO is None, reason="docker-registry and skopeo come from scripts/test.sh")


def sha256(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def make_image(root: Path, tag: str, payload: bytes, created="2026-11-01T00:00:00Z"):
    """An OCI image layout with one layer holding `payload`."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def put(b):
        (blobs / hashlib.sha256(b).hexdigest()).write_bytes(b)
        return sha256(b), len(b)

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(payload)
        t.addfile(info, io.BytesIO(payload))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    ld, ls = put(layer)
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": created, "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [sha256(raw.getvalue())]}}).encode()
    cd, cs = put(config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls}]}).encode()
    md, ms = put(manifest)
    index_path = root / "index.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {"schemaVersion": 2, "manifests": []}
    index["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
                               "annotations": {"org.opencontainers.image.ref.name": tag}})
    index_path.write_text(json.dumps(index))
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return {"manifest": md, "layer": ld, "config": cd}


class Registry:
    def __init__(self, srv, ns, tmp):
        self.port = free_port()
        self.dir = tmp / f"registry-{ns}"
        p = srv.cli("registry", "config", ns, "--dir", str(self.dir), "--listen", f"127.0.0.1:{self.port}")
        assert "docker-registry serve" in p.stdout
        self.env = {k: v for k, v in (l.split("=", 1) for l in (self.dir / "registry.env").read_text().splitlines())}
        SECRETS.add(self.env["REGISTRY_STORAGE_S3_SECRETKEY"])
        self.proc = None

    def start(self):
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        env.update(self.env)
        self.log = open(self.dir / "registry.log", "ab")
        self.proc = subprocess.Popen([REGISTRY, "serve", str(self.dir / "config.yml")], env=env, stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            assert self.proc.poll() is None, self.logs()
            time.sleep(0.1)
        raise AssertionError("registry did not start: " + self.logs())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def logs(self):
        return redact((self.dir / "registry.log").read_text(errors="replace")[-3000:])


def skopeo(tmp, *args, check=True):
    policy = tmp / "policy.json"
    policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    p = subprocess.run([SKOPEO, "--policy", str(policy), *args], capture_output=True, text=True, timeout=180)
    if check and p.returncode != 0:
        raise AssertionError(redact(f"skopeo {args[0]} failed: {p.stderr}"))
    return p


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("registry"))
    yield s
    s.stop()


def new_namespace(srv, quota=None):
    tenant = f"t{uuid.uuid4().hex[:8]}"
    srv.api("POST", "/tenants", {"name": tenant})
    ns = f"n{uuid.uuid4().hex[:8]}"
    args = ["registry", "create", ns, "--tenant", tenant] + (["--quota", quota] if quota else [])
    srv.cli(*args)
    return ns, tenant


def robot(srv, ns, name, access):
    r = srv.cli_json("registry", "robot", "create", ns, name, "--access", access)
    SECRETS.add(r["secret"])
    return r["username"], r["secret"]


def test_push_pull_round_trip_governance_and_isolation(srv, tmp_path):
    ns, tenant = new_namespace(srv)
    pusher = robot(srv, ns, "ci", "push")
    puller = robot(srv, ns, "deploy", "pull")
    reg = Registry(srv, ns, tmp_path)
    assert oct((reg.dir / "registry.env").stat().st_mode & 0o777) == "0o600"
    assert oct((reg.dir / "config.yml").stat().st_mode & 0o777) == "0o600"
    assert reg.env["REGISTRY_STORAGE_S3_SECRETKEY"] not in (reg.dir / "config.yml").read_text()
    reg.start()
    try:
        image = tmp_path / "image"
        payload = os.urandom(300_000)
        d = make_image(image, "1.0", payload)
        dest = f"docker://127.0.0.1:{srv.port}/{ns}/app:1.0"
        skopeo(tmp_path, "copy", "--dest-tls-verify=false", "--dest-creds", f"{pusher[0]}:{pusher[1]}", f"oci:{image}:1.0", dest)
        # Pull it back with the pull-only robot and compare digests and bytes.
        back = tmp_path / "back"
        skopeo(tmp_path, "copy", "--src-tls-verify=false", "--src-creds", f"{puller[0]}:{puller[1]}", dest, f"oci:{back}:1.0")
        idx = json.loads((back / "index.json").read_text())
        assert idx["manifests"][0]["digest"] == d["manifest"]
        assert (back / "blobs" / "sha256" / d["layer"].split(":")[1]).read_bytes() == (image / "blobs" / "sha256" / d["layer"].split(":")[1]).read_bytes()
        # The pull-only robot cannot push.
        p = skopeo(tmp_path, "copy", "--dest-tls-verify=false", "--dest-creds", f"{puller[0]}:{puller[1]}", f"oci:{image}:1.0",
                   f"docker://127.0.0.1:{srv.port}/{ns}/app:evil", check=False)
        assert p.returncode != 0 and ("denied" in p.stderr.lower() or "unauthorized" in p.stderr.lower()), redact(p.stderr)

        # The blobs are in our store, inside the namespace's space and nowhere else.
        show = srv.cli_json("registry", "show", ns)
        bucket = show["bucket"]
        assert show["usage"]["bytes"] >= len(payload)
        space_dir = srv.data / "objects"  # the fs store: objects/object-spaces/<tenant id>/<space id>/...
        layer_hex = d["layer"].split(":")[1]
        hits = [p for p in space_dir.rglob("*") if layer_hex in str(p) and p.is_dir()]
        assert hits and all(f"/{show['namespace']['tenant_id']}/{show['namespace']['space_id']}/" in str(h) for h in hits), hits

        # Robots of another tenant's namespace get nothing here; wrong or revoked credentials no token.
        other_ns, _ = new_namespace(srv)
        stranger = robot(srv, other_ns, "ci", "push")
        p = skopeo(tmp_path, "copy", "--dest-tls-verify=false", "--dest-creds", f"{stranger[0]}:{stranger[1]}", f"oci:{image}:1.0",
                   f"docker://127.0.0.1:{srv.port}/{ns}/app:stolen", check=False)
        assert p.returncode != 0, "another tenant's robot cannot push here"
        r = requests.get(f"{srv.url}/registry/token", params={"service": "rustshare-registry", "scope": f"repository:{ns}/app:pull,push"},
                         auth=(stranger[0], stranger[1]), timeout=10)
        assert r.status_code == 200
        claims = json.loads(__import__("base64").urlsafe_b64decode(r.json()["token"].split(".")[1] + "=="))
        assert claims["access"][0]["actions"] == [] and claims["aud"] == "rustshare-registry" and claims["sub"] == stranger[0]
        assert requests.get(f"{srv.url}/registry/token", params={"scope": f"repository:{ns}/app:pull"}, auth=(pusher[0], "wrong"), timeout=10).status_code == 401
        # Anonymous pulls only once the namespace is public.
        anon = requests.get(f"{srv.url}/registry/token", params={"service": "rustshare-registry", "scope": f"repository:{ns}/app:pull"}, timeout=10).json()
        assert json.loads(__import__("base64").urlsafe_b64decode(anon["token"].split(".")[1] + "=="))["access"][0]["actions"] == []
        srv.cli("registry", "update", ns, "--public", "true")
        skopeo(tmp_path, "inspect", "--tls-verify=false", "--no-creds", dest)
        srv.cli("registry", "update", ns, "--public", "false")
        assert skopeo(tmp_path, "inspect", "--tls-verify=false", "--no-creds", dest, check=False).returncode != 0

        srv.cli("registry", "robot", "revoke", ns, "deploy")
        assert requests.get(f"{srv.url}/registry/token", params={"scope": f"repository:{ns}/app:pull"}, auth=puller, timeout=10).status_code == 401
        p = skopeo(tmp_path, "inspect", "--tls-verify=false", "--creds", f"{puller[0]}:{puller[1]}", dest, check=False)
        assert p.returncode != 0, "a revoked robot cannot pull"

        # Tokens and pushes are audited in the tenant's log; no secret appears there.
        deadline = time.time() + 10
        while time.time() < deadline:
            ops = [e["operation"] for e in srv.api("GET", f"/audit?space={bucket}&limit=200")[1]["events"]]
            if "registry.push" in ops:
                break
            time.sleep(0.3)
        assert "registry.token" in ops and "registry.push" in ops, ops
        audit_text = json.dumps(srv.api("GET", f"/audit?space={bucket}&limit=500")[1])
        assert pusher[1] not in audit_text and reg.env["REGISTRY_STORAGE_S3_SECRETKEY"] not in audit_text
        assert pusher[1] not in srv.logs()
    finally:
        reg.stop()


def test_retention_gc_quota_and_storage_revocation(srv, tmp_path):
    ns, _ = new_namespace(srv, quota="3MiB")
    pusher = robot(srv, ns, "ci", "push")
    reg = Registry(srv, ns, tmp_path)
    reg.start()
    try:
        image = tmp_path / "image"
        tags = {"1.0": "2026-01-01T00:00:00Z", "1.1": "2026-02-01T00:00:00Z", "1.2": "2026-03-01T00:00:00Z", "latest": "2025-01-01T00:00:00Z"}
        for tag, created in tags.items():
            make_image(image, tag, os.urandom(200_000), created=created)
            skopeo(tmp_path, "copy", "--dest-tls-verify=false", "--dest-creds", f"{pusher[0]}:{pusher[1]}", f"oci:{image}:{tag}",
                   f"docker://127.0.0.1:{srv.port}/{ns}/app:{tag}")
        used = srv.cli_json("registry", "show", ns)["usage"]["bytes"]
        srv.cli("registry", "update", ns, "--keep-last", "2", "--protect", "latest")
        dry = srv.cli_json("registry", "retention", ns, "--registry", f"http://127.0.0.1:{reg.port}", "--dry-run")
        assert sorted(dry["deleted"]) == [f"{ns}/app:1.0"], dry
        out = srv.cli_json("registry", "retention", ns, "--registry", f"http://127.0.0.1:{reg.port}")
        assert sorted(out["deleted"]) == [f"{ns}/app:1.0"], out
        tok = requests.get(f"{srv.url}/registry/token", params={"scope": f"repository:{ns}/app:pull"}, auth=pusher, timeout=10).json()["token"]
        left = requests.get(f"http://127.0.0.1:{reg.port}/v2/{ns}/app/tags/list", headers={"Authorization": f"Bearer {tok}"}, timeout=10).json()["tags"]
        assert sorted(left) == ["1.1", "1.2", "latest"]
        # Garbage collection (registry stopped) reclaims the deleted image's bytes.
        reg.stop()
        srv.cli("registry", "gc", "--dir", str(reg.dir), "--binary", REGISTRY)
        after = srv.cli_json("registry", "show", ns)["usage"]["bytes"]
        assert after < used - 150_000, (used, after)
        reg.start()

        # The quota stops a push that would exceed it, with a clear error at the client.
        make_image(image, "big", os.urandom(4 * 1024 * 1024))
        p = skopeo(tmp_path, "copy", "--dest-tls-verify=false", "--dest-creds", f"{pusher[0]}:{pusher[1]}", f"oci:{image}:big",
                   f"docker://127.0.0.1:{srv.port}/{ns}/app:big", check=False)
        # The edge's registry front refuses the upload before Distribution sees it, with a
        # message the client prints (Distribution itself would say only "blob upload invalid").
        assert p.returncode != 0 and "over its quota" in p.stderr, redact(p.stderr[-1500:])
        show = srv.cli_json("registry", "show", ns)
        assert show["usage"]["bytes"] + show["usage"]["multipart_bytes"] <= 3 * 1024 * 1024, "nothing stored beyond the quota"
        # Straight to Distribution (no front) the push still fails, only less clearly.
        p = skopeo(tmp_path, "copy", "--dest-tls-verify=false", "--dest-creds", f"{pusher[0]}:{pusher[1]}", f"oci:{image}:big",
                   f"docker://127.0.0.1:{reg.port}/{ns}/app:big", check=False)
        assert p.returncode != 0
        assert srv.cli_json("registry", "show", ns)["usage"]["bytes"] <= 3 * 1024 * 1024
        # Once the namespace is full, the token service refuses pushes with the same message.
        used = show["usage"]["bytes"] + show["usage"]["multipart_bytes"]
        srv.cli("space", "quota", show["bucket"], str(used))
        p = skopeo(tmp_path, "copy", "--dest-tls-verify=false", "--dest-creds", f"{pusher[0]}:{pusher[1]}", f"oci:{image}:1.2",
                   f"docker://127.0.0.1:{srv.port}/{ns}/app:again", check=False)
        assert p.returncode != 0 and "over its quota" in p.stderr, redact(p.stderr[-1500:])
        # Pulls still work when full.
        skopeo(tmp_path, "inspect", "--tls-verify=false", "--creds", f"{pusher[0]}:{pusher[1]}", f"docker://127.0.0.1:{srv.port}/{ns}/app:1.2")
        srv.cli("space", "quota", show["bucket"], "unlimited")

        # Revoking the storage identity makes the registry's writes fail.
        storage = srv.cli_json("registry", "show", ns)["namespace"]["storage_identity_id"]
        srv.cli("key", "revoke", storage)
        make_image(image, "2.0", os.urandom(1000))
        p = skopeo(tmp_path, "copy", "--dest-tls-verify=false", "--dest-creds", f"{pusher[0]}:{pusher[1]}", f"oci:{image}:2.0",
                   f"docker://127.0.0.1:{srv.port}/{ns}/app:2.0", check=False)
        assert p.returncode != 0, "storage identity revoked"
    finally:
        reg.stop()


def test_bad_registry_input(srv):
    ns, tenant = new_namespace(srv)
    st, body = srv.api("POST", "/registry/namespaces", {"name": ns, "tenant": tenant})
    assert st == 409
    st, body = srv.api("POST", "/registry/namespaces", {"name": "Bad Name", "tenant": tenant})
    assert st == 400
    st, body = srv.api("POST", f"/registry/namespaces/{ns}/robots", {"name": "ci", "access": "admin"})
    assert st == 400
    st, body = srv.api("PATCH", f"/registry/namespaces/{ns}", {"retention": {"keep_last": 0}})
    assert st == 400 and "keep_last" in body["error"]["message"]
    r = requests.get(f"{srv.url}/registry/token", params={"service": "other"}, timeout=10)
    assert r.status_code == 400
    r = requests.get(f"{srv.url}/registry/token", params={"scope": "nonsense"}, timeout=10)
    assert r.status_code == 400
    r = requests.post(f"{srv.url}/registry/events/{ns}", data="{}", headers={"Authorization": "Bearer wrong"}, timeout=10)
    assert r.status_code == 401
    p = srv.cli("registry", "update", ns, check=False)
    assert p.returncode != 0 and "nothing to change" in p.stderr
    # Another tenant's admin token does not see the namespace.
    other_ns, other_tenant = new_namespace(srv)
    tok = srv.cli_json("tenant", "token", other_tenant, "--name", "t")["token"]
    SECRETS.add(tok)
    assert srv.api("GET", f"/registry/namespaces/{ns}", token=tok)[0] == 404
    assert srv.api("POST", f"/registry/namespaces/{ns}/config", {"root_cert_bundle": "/x"}, token=tok)[0] == 404
