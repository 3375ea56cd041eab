"""deploy/ is checked, file by file, with the validator made for it: systemd-analyze for the
unit, the compose-spec schema for compose.yaml, the Kubernetes API schemas for the manifests,
hadolint for the Dockerfile, and `rustshare check-config` (the binary's own parser) for every
configuration we ship."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, RUSTSHARE, free_port, run

DEPLOY = ROOT / "deploy"
SECRET_ENV = {
    "RUSTSHARE_DATABASE_URL": "postgres://rustshare:pw@127.0.0.1:5432/rustshare",
    "RUSTSHARE_S3_ACCESS_KEY_ID": "edge",
    "RUSTSHARE_S3_SECRET_ACCESS_KEY": "edge-secret-for-the-check",
}


def tool(name):
    path = shutil.which(name)
    assert path, f"{name} is not installed: scripts/test.sh installs it"
    return path


def test_systemd_unit_verifies_and_is_hardened(tmp_path):
    unit = (DEPLOY / "systemd" / "rustshare.service").read_text()
    for setting in ["User=rustshare", "ProtectSystem=strict", "NoNewPrivileges=yes", "StateDirectory=rustshare",
                    "ConfigurationDirectory=rustshare", "AmbientCapabilities=CAP_NET_BIND_SERVICE",
                    "CapabilityBoundingSet=CAP_NET_BIND_SERVICE"]:
        assert re.search(rf"^{re.escape(setting)}$", unit, re.M), setting
    # systemd-analyze checks that the binary exists: point the copy at the one just built.
    copy = tmp_path / "rustshare.service"
    copy.write_text(unit.replace("/usr/local/bin/rustshare", str(RUSTSHARE)))
    p = run([tool("systemd-analyze"), "verify", str(copy)], check=False)
    assert p.returncode == 0 and not p.stderr.strip(), p.stderr
    p = run([tool("systemd-analyze"), "security", "--offline=yes", str(copy)], check=False)
    level = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", p.stdout)
    assert level and float(level.group(1)) <= 2.0, p.stdout[-500:]


def test_compose_file_matches_the_compose_spec():
    run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(DEPLOY / "compose.yaml")])
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = doc["services"]
    assert {"rustfs", "postgres", "edge-1", "edge-2", "registry", "lb"} <= set(services)
    assert "443:443/udp" in services["lb"]["ports"], "the load balancer passes UDP 443 for HTTP/3"
    for edge in ("edge-1", "edge-2"):
        env = services[edge]["environment"]
        assert env["RUSTSHARE_DATABASE_URL"].startswith("postgres://") and env["RUSTSHARE_S3_ENDPOINT"] == "http://rustfs:9000"
    nginx = (DEPLOY / "compose" / "nginx.conf").read_text()
    assert "listen 443 udp;" in nginx and "hash $remote_addr consistent;" in nginx


def test_kubernetes_manifests_match_the_api_schemas():
    files = sorted(str(p) for p in (DEPLOY / "kubernetes").glob("*.yaml") if p.name != "kustomization.yaml")
    run([tool("kubernetes-validate"), "--strict", *files])
    docs = [d for f in files for d in yaml.safe_load_all(Path(f).read_text()) if d]
    kinds = {d["kind"]: d for d in docs}
    assert {"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget"} <= set(kinds)
    c = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz" and c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert any(e.get("valueFrom", {}).get("secretKeyRef") for e in c["env"]), "secrets by reference"
    assert {(p["port"], p["protocol"]) for p in kinds["Service"]["spec"]["ports"]} >= {(443, "TCP"), (443, "UDP")}
    listed = yaml.safe_load((DEPLOY / "kubernetes" / "kustomization.yaml").read_text())["resources"]
    assert all((DEPLOY / "kubernetes" / r).exists() for r in listed)


def test_dockerfile_passes_hadolint_and_runs_as_non_root():
    run([tool("hadolint"), str(ROOT / "Dockerfile")])
    text = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2, "multi-stage"
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and not user[-1].startswith(("0", "root")), "non-root runtime user"


@pytest.mark.parametrize("source", ["deploy/rustshare.toml", "deploy/kubernetes/configmap.yaml"])
def test_shipped_configs_pass_the_binarys_own_check(source, tmp_path):
    path = ROOT / source
    if path.suffix == ".yaml":
        toml = tmp_path / "rustshare.toml"
        toml.write_text(yaml.safe_load(path.read_text())["data"]["rustshare.toml"])
        path = toml
    env = dict(os.environ, **SECRET_ENV)
    p = subprocess.run([str(RUSTSHARE), "--json", "check-config", "--config", str(path)], capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "edge-secret-for-the-check" not in p.stdout and ":pw@" not in p.stdout, "secrets stay hidden"
    import json
    summary = json.loads(p.stdout)
    assert summary["production"] is True and summary["database"].startswith("postgres postgres://rustshare:***@")
    # Without the secrets it names the one to set.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUSTSHARE_")}
    p = subprocess.run([str(RUSTSHARE), "check-config", "--config", str(path)], capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode != 0 and "access_key_id" in p.stderr, p.stderr


def test_deploy_readme_covers_the_operations():
    text = (DEPLOY / "README.md").read_text()
    for heading in ["One node", "A cluster", "Backup and restore", "Rotating the master key"]:
        assert re.search(rf"^#+ {heading}", text, re.M), heading
    for command in ["rustshare admin rotate-master-key", "rustshare admin retire-master-keys", "pg_dump", "systemd-analyze verify"]:
        assert command in text, command


def test_healthcheck_command_for_containers(fs_server):
    ok = subprocess.run([str(RUSTSHARE), "healthcheck", "--url", f"{fs_server.url}/readyz"], capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0 and "ok" in ok.stdout, ok.stderr
    missing = subprocess.run([str(RUSTSHARE), "healthcheck", "--url", f"{fs_server.url}/nope"], capture_output=True, text=True, timeout=30)
    assert missing.returncode != 0 and "answered 403" in missing.stderr, missing.stderr  # the S3 face: unsigned
    down = f"http://127.0.0.1:{free_port()}/readyz"
    p = subprocess.run([str(RUSTSHARE), "healthcheck", "--url", down], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and down in p.stderr, p.stderr
