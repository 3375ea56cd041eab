"""Three edge nodes, one PostgreSQL, one S3 backend: the scale-out deployment, on loopback.

Three `rustshare serve` processes start at once (so they race to migrate the database) on
different ports, sharing a throwaway PostgreSQL (scripts/postgres.sh, Debian's server) and one
object store: the real engine the environment names (Ceph RGW under scripts/test.sh), else the
s3s-fs peer. Clients talk to whichever node the test picks; every
propagation the issue bounds (revocation, rotation, purge, public access, publish, rollback) is
measured and must arrive within 2 seconds. The figures are written to
target/cluster-propagation.json and printed with `-s`.
"""

import json
import re
import secrets
import subprocess
import threading
import time
import uuid

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ROOT, SECRETS, TARGET, Server, engine_or_peer
from test_packages import build_deb

LIMIT = 2.0
MEASURED = {}


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    d = tmp_path_factory.mktemp("pg") / "cluster"
    url = subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "start", str(d)], capture_output=True, text=True, check=True).stdout.strip()
    yield url
    subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop", str(d)], check=False)


@pytest.fixture(scope="module")
def nodes(pg, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cluster")
    peer = engine_or_peer(tmp)
    token = "rsat_" + secrets.token_hex(20)
    SECRETS.add(token)
    # One key file for the three nodes (a mounted secret in a real cluster).
    key_file = tmp / "master.key"
    key_file.write_text(secrets.token_hex(32) + "\n")
    key_file.chmod(0o600)
    env = {
        "RUSTSHARE_DATABASE_URL": pg,
        "RUSTSHARE_MASTER_KEY_FILE": str(key_file),
        "RUSTSHARE_ADMIN_TOKEN": token,
        "RUSTSHARE_STORE": "s3",
        "RUSTSHARE_S3_ENDPOINT": peer.endpoint,
        "RUSTSHARE_S3_BUCKET": peer.bucket,
        "RUSTSHARE_S3_ACCESS_KEY_ID": peer.access_key,
        "RUSTSHARE_S3_SECRET_ACCESS_KEY": peer.secret_key,
        "RUSTSHARE_S3_REGION": peer.region,
        "RUSTSHARE_S3_ROOT_PREFIX": peer.root_prefix,
        # The lifecycle expirer: a pass a second on whichever node holds its lease, judging as
        # if 400 days had passed (test builds only), so rules with days act at once.
        "RUSTSHARE_LIFECYCLE_INTERVAL_SECS": "1",
        "RUSTSHARE_LIFECYCLE_SKEW_DAYS": "400",
    }
    SECRETS.add(key_file.read_text().strip())
    started, errors = {}, []

    def start(name):
        try:
            started[name] = Server(tmp / name, extra_env=env)
        except Exception as e:  # reported below, with the node's log
            errors.append((name, e))

    threads = [threading.Thread(target=start, args=(n,)) for n in "abc"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors, [(n, str(e), (tmp / n / "stderr.log").read_text(errors="replace")[-2000:]) for n, e in errors]
        yield [started[n] for n in "abc"], peer, key_file
    finally:
        for s in started.values():
            s.stop()
        peer.stop()
        (TARGET.parent / "cluster-propagation.json").write_text(json.dumps(MEASURED, indent=2))
        print("\npropagation (s):", json.dumps(MEASURED))


def until(what, check, limit=LIMIT):
    """Seconds until `check()` holds; fails if that takes longer than `limit`."""
    t0 = time.monotonic()
    while True:
        if check():
            took = time.monotonic() - t0
            MEASURED[what] = round(took, 3)
            return took
        if time.monotonic() - t0 > limit:
            pytest.fail(f"{what}: not visible on the other node within {limit} s")
        time.sleep(0.02)


def cdn_get(node, public_name, key):
    return requests.get(f"{node.url}/{public_name}/{key}", headers={"Host": "cdn.localhost"}, timeout=10)


def refused(client, bucket, key):
    try:
        client.head_object(Bucket=bucket, Key=key)
        return False
    except ClientError as e:
        return e.response["Error"]["Code"] in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch")


def test_nodes_share_everything_and_migrated_once(nodes, pg):
    (a, b, c), _, _ = nodes
    sp = a.new_space()
    key = a.new_key(sp)
    a.s3(key).put_object(Bucket=sp["bucket"], Key="x/one.txt", Body=b"written on A")
    for n in (b, c):
        assert n.s3(key).get_object(Bucket=sp["bucket"], Key="x/one.txt")["Body"].read() == b"written on A"
        assert [o["Key"] for o in n.s3(key).list_objects_v2(Bucket=sp["bucket"])["Contents"]] == ["x/one.txt"]
    # Spaces, keys and audit rows made on one node are the cluster's.
    assert sp["bucket"] in [s["bucket"] for s in c.cli_json("space", "list")["spaces"]]
    assert any(e["operation"] == "PutObject" for e in b.cli_json("audit", "--space", sp["bucket"])["events"])
    versions = subprocess.run(["psql", pg, "-tAc", "SELECT version FROM schema_migrations ORDER BY version"], capture_output=True, text=True, check=True)
    applied = [int(v) for v in versions.stdout.split()]
    assert applied == list(range(1, len(applied) + 1)) and len(applied) >= 17, f"each migration once, whichever node ran it: {applied}"
    for n in (a, b, c):
        assert requests.get(f"{n.url}/readyz", timeout=5).status_code == 200


def test_a_multipart_upload_can_use_every_node(nodes):
    (a, b, c), _, _ = nodes
    sp = a.new_space(quota=64 << 20)
    key = a.new_key(sp)
    part1, part2 = b"1" * (5 << 20), b"2" * 1024
    up = a.s3(key).create_multipart_upload(Bucket=sp["bucket"], Key="big.bin")["UploadId"]
    e1 = b.s3(key).upload_part(Bucket=sp["bucket"], Key="big.bin", UploadId=up, PartNumber=1, Body=part1)["ETag"]
    e2 = c.s3(key).upload_part(Bucket=sp["bucket"], Key="big.bin", UploadId=up, PartNumber=2, Body=part2)["ETag"]
    listed = a.s3(key).list_parts(Bucket=sp["bucket"], Key="big.bin", UploadId=up)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(1, len(part1)), (2, len(part2))]
    assert b.cli_json("usage", sp["bucket"])["usage"]["multipart_bytes"] == len(part1) + len(part2)
    a.s3(key).complete_multipart_upload(Bucket=sp["bucket"], Key="big.bin", UploadId=up,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert c.s3(key).get_object(Bucket=sp["bucket"], Key="big.bin")["Body"].read() == part1 + part2
    usage = b.cli_json("usage", sp["bucket"])["usage"]
    assert (usage["bytes"], usage["objects"], usage["multipart_bytes"]) == (len(part1) + len(part2), 1, 0)


def test_revocation_and_rotation_reach_every_node_within_2s(nodes):
    (a, b, c), _, _ = nodes
    sp = a.new_space()
    key = a.new_key(sp)
    on_b, on_c = b.s3(key), c.s3(key)
    on_b.put_object(Bucket=sp["bucket"], Key="k", Body=b"1")
    assert not refused(on_c, sp["bucket"], "k")  # both nodes have the key cached now
    a.cli("key", "rotate", key["access_key_id"])
    until("rotate on A, old secret refused on C", lambda: refused(on_c, sp["bucket"], "k"))
    key2 = a.new_key(sp)
    on_b, on_c = b.s3(key2), c.s3(key2)
    assert not refused(on_b, sp["bucket"], "k") and not refused(on_c, sp["bucket"], "k")
    a.cli("key", "revoke", key2["access_key_id"])
    until("revoke on A, refused on B", lambda: refused(on_b, sp["bucket"], "k"))
    until("revoke on A, refused on C", lambda: refused(on_c, sp["bucket"], "k"))


def test_concurrent_uploads_on_three_nodes_never_pass_the_quota(nodes):
    (a, b, c), _, _ = nodes
    mib = 1 << 20
    sp = a.new_space(quota=8 * mib)
    key = a.new_key(sp)
    clients = [n.s3(key) for n in (a, b, c)]
    body = b"q" * mib
    ok, refused_codes = [], []
    lock = threading.Lock()

    def upload(i):
        try:
            clients[i % 3].put_object(Bucket=sp["bucket"], Key=f"obj{i:02}", Body=body)
            with lock:
                ok.append(i)
        except ClientError as e:
            with lock:
                refused_codes.append(e.response["Error"]["Code"])

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(refused_codes) <= {"QuotaExceeded"}, refused_codes
    usage = b.cli_json("usage", sp["bucket"])["usage"]
    listed = sorted(o["Key"] for o in clients[1].list_objects_v2(Bucket=sp["bucket"]).get("Contents", []))
    assert len(ok) <= 8 and usage["bytes"] == len(ok) * mib <= 8 * mib, (len(ok), usage)
    assert listed == sorted(f"obj{i:02}" for i in ok), "exactly the accepted uploads are stored"
    # What the burst left free can still be filled, one at a time, and not one byte more.
    i = 100
    while usage["bytes"] < 8 * mib:
        clients[i % 3].put_object(Bucket=sp["bucket"], Key=f"fill{i}", Body=body)
        usage = c.cli_json("usage", sp["bucket"])["usage"]
        i += 1
    with pytest.raises(ClientError) as e:
        clients[i % 3].put_object(Bucket=sp["bucket"], Key="one-too-many", Body=body)
    assert e.value.response["Error"]["Code"] == "QuotaExceeded"
    assert a.cli_json("usage", sp["bucket"])["usage"]["bytes"] == 8 * mib


def feed_position(node):
    """How far `node` has applied the cluster's change feed (its metrics gauge)."""
    m = re.search(r"^rustshare_change_feed_position (\d+)", requests.get(f"{node.url}/metrics", timeout=10).text, re.M)
    return int(m.group(1)) if m else -1


def test_purge_public_access_and_writes_reach_every_node_within_2s(nodes, pg):
    (a, b, c), peer, _ = nodes
    psql = lambda sql: subprocess.run(["psql", pg, "-tAc", sql], capture_output=True, text=True, check=True).stdout.strip()
    sp = a.new_space(purpose="cdn")
    key = a.new_key(sp)
    a.s3(key).put_object(Bucket=sp["bucket"], Key="site/app.js", Body=b"v1", ContentType="text/javascript")
    pub = a.cli_json("public", "enable", sp["bucket"], "--cache-control", "public, max-age=3600")
    name = pub["public"]["rules"]["public_name"]
    until("public enable on A, served by C", lambda: cdn_get(c, name, "site/app.js").status_code == 200)
    # The purge A queued for its own PUT may reach C after C cached the object (a CI run saw the
    # second GET miss): C's copy is a hit once the feed has settled.
    until("C serves its cached copy", lambda: cdn_get(c, name, "site/app.js").headers["X-Cache"] == "HIT")

    # A write through A's S3 face drops C's cached copy.
    a.s3(key).put_object(Bucket=sp["bucket"], Key="site/app.js", Body=b"v2", ContentType="text/javascript")
    until("S3 overwrite on A, new bytes on C", lambda: cdn_get(c, name, "site/app.js").content == b"v2")
    # C may have fetched v2 before this write's own purge reached it (an earlier queued purge,
    # from `public enable`, can empty its cache first); once that purge lands it drops v2 once
    # more, which is right. Wait until the purge is in the feed and C has applied it, then warm
    # C again before going behind its back.
    # Two writes of the key so far (v1, v2), each queued one purge of it.
    purges = lambda: psql(f"SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM changes WHERE kind = 'purge-key' AND detail = 'site/app.js' AND space_id = '{sp['id']}'").split("|")
    until("A's purges are in the feed", lambda: purges()[0] == "2")
    target = int(purges()[1])
    until("C has applied the feed", lambda: feed_position(c) >= target)
    assert cdn_get(c, name, "site/app.js").content == b"v2"

    # A change behind the edge's back (straight into the backend) is what purges are for.
    assert cdn_get(c, name, "site/app.js").headers["X-Cache"] == "HIT"
    backend = boto3.client("s3", endpoint_url=peer.endpoint, aws_access_key_id=peer.access_key, aws_secret_access_key=peer.secret_key,
                           region_name=peer.region, config=Config(s3={"addressing_style": "path"}))
    base = a.cli_json("space", "show", sp["bucket"])["base_prefix"]
    backend.put_object(Bucket=peer.bucket, Key=f"{peer.root_prefix}{base}site/app.js", Body=b"v3", ContentType="text/javascript")
    # Nothing tells C of a write it did not see, so there is nothing to wait for.
    assert cdn_get(c, name, "site/app.js").content == b"v2", "C still serves its cached copy"
    a.cli("cdn", "purge", sp["bucket"], "--prefix", "site/")
    until("purge on A, C fetches anew", lambda: cdn_get(c, name, "site/app.js").content == b"v3")

    a.cli("public", "disable", sp["bucket"])
    until("public disable on A, 404 on B", lambda: cdn_get(b, name, "site/app.js").status_code == 404)
    until("public disable on A, 404 on C", lambda: cdn_get(c, name, "site/app.js").status_code == 404)


def packages_index(node, repo):
    r = requests.get(f"{node.url}/{repo}/dists/stable/main/binary-amd64/Packages", headers={"Host": "packages.localhost"}, timeout=10)
    return r.text if r.status_code == 200 else ""


def test_publish_and_rollback_on_a_are_served_by_c_within_2s(nodes, tmp_path):
    (a, b, c), _, _ = nodes
    sp = a.new_space(purpose="packages")
    repo = f"r{uuid.uuid4().hex[:8]}"
    a.cli_json("repo", "create", repo, "--space", sp["bucket"], "--suite", "stable:bookworm", "--arch", "amd64")
    a.cli("repo", "add", repo, "--dist", "stable", str(build_deb(tmp_path, "hello", "1.0")))
    first = a.cli_json("repo", "show", repo)["current_snapshot"]
    until("first publish on A, index on C", lambda: "Package: hello" in packages_index(c, repo))
    assert "Version: 1.0" in packages_index(c, repo)
    a.cli("repo", "add", repo, "--dist", "stable", str(build_deb(tmp_path, "world", "2.0")))
    until("publish on A, new index on C", lambda: "Package: world" in packages_index(c, repo))
    a.cli("repo", "rollback", repo, first)
    until("rollback on A, old package set on C", lambda: "Package: world" not in packages_index(c, repo) and "Package: hello" in packages_index(c, repo))
    assert "Package: world" not in packages_index(b, repo)


def test_concurrent_publishes_on_two_nodes_lose_nothing(nodes, tmp_path):
    (a, b, c), _, _ = nodes
    sp = a.new_space(purpose="packages")
    repo = f"r{uuid.uuid4().hex[:8]}"
    a.cli_json("repo", "create", repo, "--space", sp["bucket"], "--suite", "stable:bookworm", "--arch", "amd64")
    debs = {n: [build_deb(tmp_path, f"{n}{i}", "1.0") for i in range(4)] for n in ("a", "b")}
    results = {}

    def add(node, name):
        results[name] = node.cli("repo", "add", repo, "--dist", "stable", *map(str, debs[name]), check=False)

    threads = [threading.Thread(target=add, args=(a, "a")), threading.Thread(target=add, args=(b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.returncode == 0 for r in results.values()), [r.stderr for r in results.values()]
    until("both publishes visible on C", lambda: all(f"Package: {n}{i}\n" in packages_index(c, repo) for n in "ab" for i in range(4)))


def test_a_publish_waits_for_another_nodes_lease(nodes, pg, tmp_path):
    (a, b, _), _, _ = nodes
    sp = a.new_space(purpose="packages")
    repo = f"r{uuid.uuid4().hex[:8]}"
    a.cli_json("repo", "create", repo, "--space", sp["bucket"], "--suite", "stable:bookworm", "--arch", "amd64")
    psql = lambda sql: subprocess.run(["psql", pg, "-tAc", sql], capture_output=True, text=True, check=True).stdout.strip()
    # A node elsewhere holds the repository's publish lease (as while it publishes).
    psql(f"INSERT INTO leases(name, holder, expires_at) VALUES ('publish:{repo}', 'node_elsewhere', {int(time.time()) + 300})")
    done = {}
    t = threading.Thread(target=lambda: done.setdefault("p", b.cli("repo", "add", repo, "--dist", "stable", str(build_deb(tmp_path, "late", "1.0")), check=False)))
    t.start()
    # B says when it finds the lease taken; only then is the lease given up, so the publish can
    # only have finished after that, and its snapshot (named by its time) is newer.
    waiting = lambda: any("waiting for another node's publish" in line and repo in line for line in b.logs().splitlines())
    until("B waits for the lease", waiting)
    assert "p" not in done, "the publish must wait for the lease"
    released_ms = int(time.time() * 1000)
    psql(f"DELETE FROM leases WHERE name = 'publish:{repo}'")
    t.join(30)
    assert done["p"].returncode == 0, done["p"].stderr
    assert int(b.cli_json("repo", "show", repo)["current_snapshot"]) >= released_ms
    assert "Package: late" in packages_index(b, repo)
    assert psql(f"SELECT COUNT(*) FROM leases WHERE name = 'publish:{repo}'") == "0", "released after the publish"


def test_master_key_rotation_without_downtime(nodes, tmp_path):
    (a, b, c), _, key_file = nodes
    old = key_file.read_text().split()
    sp = a.new_space(purpose="packages")
    key = a.new_key(sp)
    repo = f"r{uuid.uuid4().hex[:8]}"
    a.cli_json("repo", "create", repo, "--space", sp["bucket"], "--suite", "stable:bookworm", "--arch", "amd64")
    on_c = c.s3(key)
    on_c.put_object(Bucket=sp["bucket"], Key="before", Body=b"1")
    before = a.cli_json("admin", "master-key")["fingerprint"]

    rotated = a.cli_json("admin", "rotate-master-key")
    assert rotated["fingerprint"] != before and rotated["resealed"] >= 2, rotated  # the S3 secret and the signing key
    lines = key_file.read_text().split()
    SECRETS.update(lines)
    assert len(lines) == 2 and lines[1] == old[0], "new key first, old one still accepted"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    # The other nodes switch too, without a restart, and keep serving the same key.
    until("rotation on A, C seals with the new key", lambda: c.cli_json("admin", "master-key")["fingerprint"] == rotated["fingerprint"])
    on_c.put_object(Bucket=sp["bucket"], Key="after", Body=b"2")
    key2 = c.new_key(sp)  # sealed by C under the new key, opened by A
    a.s3(key2).head_object(Bucket=sp["bucket"], Key="after")
    a.cli("repo", "add", repo, "--dist", "stable", str(build_deb(tmp_path, "signed", "1.0")))

    # Retire the old key; a node restarted with the new key alone still opens every secret.
    retired = a.cli_json("admin", "retire-master-keys")
    assert retired["retired"] and key_file.read_text().split() == [lines[0]]
    b.stop()
    b.peer = None
    b.start()
    for k in (key, key2):
        assert b.s3(k).get_object(Bucket=sp["bucket"], Key="before")["Body"].read() == b"1"
    b.cli("repo", "publish", repo, "--refresh")  # signs with the re-sealed signing key
    audit = a.cli_json("audit", "--operation", "master_key.rotated")["events"]
    assert audit and all(lines[0] not in json.dumps(e) and old[0] not in json.dumps(e) for e in audit)
    for n in (a, b, c):
        assert lines[0] not in n.logs() and old[0] not in n.logs()


def test_master_key_rotation_refusals(nodes, tmp_path):
    (a, _, _), _, _ = nodes
    tenant_token = a.cli_json("tenant", "token", a.new_space()["bucket"].split("-")[1])["token"]
    SECRETS.add(tenant_token)
    p = a.cli("admin", "rotate-master-key", token=tenant_token, check=False)
    assert p.returncode != 0 and "only the operator" in p.stderr, p.stderr
    p = a.cli("admin", "rotate-master-key", "--to", "0123456789abcdef", check=False)
    assert p.returncode != 0 and "add it to every node's key file first" in p.stderr, p.stderr
    # Retiring while the key file's first key is not the one in use refuses, and changes nothing.
    single = Server(tmp_path / "single")
    try:
        key_file = single.data / "master.key"
        original = key_file.read_text()
        SECRETS.add(original.strip())
        stranger = secrets.token_hex(32)
        SECRETS.add(stranger)
        key_file.write_text(f"{stranger}\n{original}")
        p = single.cli("admin", "retire-master-keys", check=False)
        assert p.returncode != 0 and "rotate first" in p.stderr, p.stderr
        assert key_file.read_text() == f"{stranger}\n{original}"
    finally:
        single.stop()
    # A node whose key comes from the environment says how to rotate instead.
    env_node = Server(tmp_path / "envkey", extra_env={"RUSTSHARE_MASTER_KEY": secrets.token_hex(32)})
    try:
        p = env_node.cli("admin", "rotate-master-key", check=False)
        assert p.returncode != 0 and "RUSTSHARE_MASTER_KEY" in p.stderr and "key file" in p.stderr, p.stderr
    finally:
        env_node.stop()


def test_database_over_tls_verifies_the_server(tmp_path):
    """A PostgreSQL that takes TLS connections only: the node connects with sslmode=require and
    the CA file, and refuses a server whose certificate it cannot verify."""
    d = tmp_path / "pgtls"
    script = str(ROOT / "scripts" / "postgres.sh")
    url = subprocess.run([script, "start", str(d), "--tls"], capture_output=True, text=True, check=True).stdout.strip()
    try:
        ca = d / "ca.pem"
        node = Server(tmp_path / "tls-node", extra_env={"RUSTSHARE_DATABASE_URL": f"{url}?sslmode=require", "RUSTSHARE_DATABASE_CA_FILE": str(ca)})
        try:
            assert requests.get(f"{node.url}/readyz", timeout=5).status_code == 200
            sp = node.new_space()
            assert sp["bucket"] in [s["bucket"] for s in node.cli_json("space", "list")["spaces"]]
        finally:
            node.stop()
        # Without the CA the certificate is unknown: the node does not start, and says why.
        with pytest.raises(RuntimeError):
            Server(tmp_path / "no-ca", extra_env={"RUSTSHARE_DATABASE_URL": f"{url}?sslmode=require"})
        err = (tmp_path / "no-ca" / "stderr.log").read_text(errors="replace")
        assert "certificate" in err.lower() and "s3cret" not in err, err[-1500:]
        # The server refuses unencrypted connections, so the first node's success was over TLS.
        with pytest.raises(RuntimeError):
            Server(tmp_path / "plain", extra_env={"RUSTSHARE_DATABASE_URL": f"{url}?sslmode=disable"})
        assert "no encryption" in (tmp_path / "plain" / "stderr.log").read_text(errors="replace")
    finally:
        subprocess.run([script, "stop", str(d)], check=False)


def metric(node, name):
    text = requests.get(f"{node.url}/metrics", timeout=10).text
    m = re.search(rf"^{name} (\d+)", text, re.M)
    return int(m.group(1)) if m else 0


def test_the_expirer_runs_on_one_node_and_another_takes_over(nodes):
    """One node of three runs the lifecycle expirer (its lease); killed, another takes over."""
    import signal

    (a, b, c), _, _ = nodes
    sp = a.new_space()
    B = sp["bucket"]
    k = a.new_key(sp)
    cl = a.s3(k)
    st, body = a.api("PUT", f"/spaces/{B}/lifecycle", {"rules": [{"id": "tmp", "prefix": "tmp/", "expire_days": 1}]})
    assert st == 200, body

    def keys(prefix):
        return [o["Key"] for o in cl.list_objects_v2(Bucket=B, Prefix=prefix).get("Contents", [])]

    def wait_empty(prefix, limit):
        t0 = time.monotonic()
        while keys(prefix):
            assert time.monotonic() - t0 < limit, f"{prefix} not expired within {limit} s"
            time.sleep(0.2)

    for i in range(10):
        cl.put_object(Bucket=B, Key=f"tmp/{i}", Body=b"x" * 100)
        cl.put_object(Bucket=B, Key=f"keep/{i}", Body=b"y")
    wait_empty("tmp/", 15)
    holders = [n for n in (a, b, c) if metric(n, "rustshare_lifecycle_holder") == 1]
    assert len(holders) == 1, [metric(n, "rustshare_lifecycle_holder") for n in (a, b, c)]
    runner = holders[0]
    others = [n for n in (a, b, c) if n is not runner]
    assert metric(runner, "rustshare_lifecycle_passes_total") > 0
    assert all(metric(n, "rustshare_lifecycle_passes_total") == 0 for n in others), "no other node ran a pass"
    assert metric(runner, 'rustshare_lifecycle_removed_total{kind="expired"}') >= 10
    runner.stop(signal.SIGKILL, peer=False)
    cl = others[0].s3(k)
    try:
        t0 = time.monotonic()
        writer = others[1].s3(k)
        for i in range(5):
            writer.put_object(Bucket=B, Key=f"tmp/after-{i}", Body=b"z")
        # The dead node's lease lapses (5 s at one pass a second), then another node expires them.
        wait_empty("tmp/", 30)
        MEASURED["lifecycle takeover after kill -9"] = round(time.monotonic() - t0, 3)
        now = [metric(n, "rustshare_lifecycle_holder") for n in others]
        assert sorted(now) == [0, 1], now
        assert len(keys("keep/")) == 10, "only what the rule names expires"
        events = others[0].cli_json("audit", "--space", B, "--operation", "lifecycle.expired", "--limit", "50")["events"]
        assert events and all(e["actor"] == "lifecycle" for e in events)
        assert sum(int(re.search(r"objects=(\d+)", e["detail"]).group(1)) for e in events) == 15, events
    finally:
        runner.start()
