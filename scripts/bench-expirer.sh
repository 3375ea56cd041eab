#!/usr/bin/env bash
# The lifecycle expirer's rate: a space of N objects (default 100,000) under a rule that expires
# them, passes (`rustshare admin lifecycle --as-of`, two days on, 10,000 removals each) timed;
# beside it a versioned space of N/2 versions (N/4 keys written twice), where the first passes
# turn every current object into a delete marker and the next remove every noncurrent version. Release build, fs
# store; objects/s printed. No peer runs here: RGW's lifecycle counts days in real time
# (rgw_lc_debug_interval shortens them, but its worker's pace is not a rate one pass gives).
#
#   scripts/bench-expirer.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
cargo build --release --quiet -p rustshare-edge
bin=target/release
work=$(mktemp -d)
cleanup() { [ -n "${edge:-}" ] && kill "$edge" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }
port=$(free_port)
# Passes only when asked: the background expirer waits a day.
RUSTSHARE_LOG=warn RUSTSHARE_LIFECYCLE_INTERVAL_SECS=86400 "$bin/rustshare" serve --data-dir "$work/edge" --listen "127.0.0.1:$port" >"$work/edge.out" 2>"$work/edge.err" &
edge=$!
wait_port "$port"
url="http://127.0.0.1:$port"
export RUSTSHARE_TOKEN; RUSTSHARE_TOKEN=$(cat "$work/edge/admin-token")
rs=("$bin/rustshare" --server "$url" --json)
"${rs[@]}" tenant create bench >/dev/null
plain=$("${rs[@]}" space create plain --tenant bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["bucket"])')
versioned=$("${rs[@]}" space create versioned --tenant bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["bucket"])')
read -r ak sk < <("${rs[@]}" key create "$plain" --name bench --mode tenant-wide | python3 -c 'import json,sys; k=json.load(sys.stdin); print(k["access_key_id"], k["secret_access_key"])')
python3 - "$url" "$ak" "$sk" "$plain" "$versioned" "$n" <<'PY'
import sys, time, concurrent.futures, boto3
from botocore.config import Config
url, ak, sk, plain, versioned, n = sys.argv[1:6] + [int(sys.argv[6])]
c = boto3.client("s3", endpoint_url=url, aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1",
                 config=Config(s3={"addressing_style": "path"}, max_pool_connections=64, retries={"max_attempts": 3}))
c.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Enabled"})
keys = [f"ci/{i // 1000:04d}/build-{i:07d}.tar" for i in range(n)]
def fill(bucket, ks, rounds):
    def put(k):
        for r in range(rounds):
            c.put_object(Bucket=bucket, Key=k, Body=str(r).encode())
    with concurrent.futures.ThreadPoolExecutor(32) as ex:
        list(ex.map(put, ks, chunksize=256))
t = time.time(); fill(plain, keys, 1); fill(versioned, keys[: n // 4], 2)
print(f"filled {n} objects and {n // 2} versions in {time.time() - t:.0f} s", file=sys.stderr)
rules = {"Rules": [{"ID": "ci", "Status": "Enabled", "Filter": {"Prefix": "ci/"}, "Expiration": {"Days": 1},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]}
for b in (plain, versioned):
    c.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration=rules)
PY
pass() { # label, days ahead: passes of 10,000 removals until one says it is complete
  local t0 t1 out total=0 expired=0 noncurrent=0 complete=false
  t0=$(date +%s.%N)
  while [ "$complete" != true ]; do
    out=$("${rs[@]}" admin lifecycle --batch 10000 --as-of "$(date -u -d "+$2 days" +%Y-%m-%dT%H:%M:%SZ)")
    read -r e n c < <(python3 -c 'import json,sys; o=json.loads(sys.argv[1]); print(o["expired"], o["noncurrent_removed"] + o["markers_removed"], str(o["complete"]).lower())' "$out")
    expired=$((expired + e)); noncurrent=$((noncurrent + n)); complete=$c
  done
  t1=$(date +%s.%N)
  total=$((expired + noncurrent))
  python3 -c 'import sys; l,n,e,nc,t0,t1=sys.argv[1],int(sys.argv[2]),sys.argv[3],sys.argv[4],float(sys.argv[5]),float(sys.argv[6]); print(f"{l:<52} {n:>7} removed in {t1-t0:6.1f} s  {n/(t1-t0):7.0f} objects/s  (expired {e}, noncurrent {nc})")' "$1" "$total" "$expired" "$noncurrent" "$t0" "$t1"
}
echo "rustshare $(git rev-parse --short HEAD), fs store, $n objects; $(nproc) cores" >&2
# Both spaces have the rule: the first pass expires the plain space's objects and turns the
# versioned space's current objects into markers; the second removes the noncurrent versions.
pass "pass 1 (2 days on): objects deleted, current versions hidden" 2
pass "pass 2 (3 days on): noncurrent versions removed" 3
