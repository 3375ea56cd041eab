#!/usr/bin/env bash
# S3 face throughput versus the backend it stores into, in one run on loopback.
#
#   rgw direct     : Ceph's RADOS Gateway (scripts/ceph.sh: one node, memstore OSD), a real
#                    engine and the stable anchor
#   gateway -> rgw : rustshare's S3 face, S3 backend pointed at that same RGW
#   backend direct : the s3s-fs server (the in-process stand-in the tests fall back to)
#   gateway -> s3  : rustshare's S3 face, S3 backend pointed at that same s3s-fs server
#   gateway -> fs  : rustshare's S3 face on its embedded filesystem store (for reference)
# Each gateway row's ratio is to the engine it stores into (gateway -> fs: to s3s-fs direct).
# Without Ceph's binaries (Debian's ceph-mon ceph-mgr ceph-osd radosgw ceph-common), the RGW rows
# are left out.
#
# Same client (aws-sdk-s3, tests/src/bin/s3-bench.rs), same workload: 6 x 64 MiB PUT/GET two at
# a time, 3000 x 4 KiB PUT/GET 32 at a time. Release builds. Prints a table.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p rustshare-edge -p rustshare-tests --bins
bin=target/release
work=$(mktemp -d)
pids=()
# start_edge runs in a process substitution (a subshell): its servers' PIDs go to a file.
cleanup() {
  for p in "${pids[@]}" $(cat "$work/edge.pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true; scripts/ceph.sh stop "$work/ceph" 2>/dev/null || true; rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }

peer_port=$(free_port)
"$bin/s3-peer" "$work/peer" "$peer_port" backend >/dev/null & pids+=($!)
wait_port "$peer_port"

start_edge() { # name, extra env...
  local name=$1; shift
  local port; port=$(free_port)
  env "$@" RUSTSHARE_LOG=warn "$bin/rustshare" serve --data-dir "$work/$name" --listen "127.0.0.1:$port" >"$work/$name.out" 2>"$work/$name.err" &
  echo $! >>"$work/edge.pids"
  wait_port "$port"
  local url="http://127.0.0.1:$port" tok
  tok=$(cat "$work/$name/admin-token")
  local rs=("$bin/rustshare" --server "$url" --token "$tok" --json)
  "${rs[@]}" tenant create bench >/dev/null
  local bucket; bucket=$("${rs[@]}" space create "$name" --tenant bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["bucket"])')
  "${rs[@]}" key create "$bucket" --name bench --mode read-write-delete | python3 -c 'import json,sys; k=json.load(sys.stdin); print(k["endpoint"], k["access_key_id"], k["secret_access_key"], k["bucket"])'
}

read -r gs3_url gs3_ak gs3_sk gs3_bucket < <(start_edge gws3 RUSTSHARE_STORE=s3 RUSTSHARE_S3_ENDPOINT="http://127.0.0.1:$peer_port" RUSTSHARE_S3_BUCKET=backend RUSTSHARE_S3_ACCESS_KEY_ID=PEERACCESSKEY RUSTSHARE_S3_SECRET_ACCESS_KEY=peer-secret-key-for-tests-only RUSTSHARE_S3_ROOT_PREFIX=gw/)
read -r gfs_url gfs_ak gfs_sk gfs_bucket < <(start_edge gwfs)
rgw=""
if command -v radosgw >/dev/null; then
  read -r rgw rgw_ak rgw_sk < <(scripts/ceph.sh start "$work/ceph")
  read -r grgw_url grgw_ak grgw_sk grgw_bucket < <(start_edge gwrgw RUSTSHARE_STORE=s3 RUSTSHARE_S3_ENDPOINT="$rgw" RUSTSHARE_S3_BUCKET=rustshare-tests RUSTSHARE_S3_ACCESS_KEY_ID="$rgw_ak" RUSTSHARE_S3_SECRET_ACCESS_KEY="$rgw_sk" RUSTSHARE_S3_ROOT_PREFIX=gw/)
else
  echo "no radosgw: the RGW rows are left out" >&2
fi

echo "running workloads (about a minute each)..." >&2
direct=$("$bin/s3-bench" "http://127.0.0.1:$peer_port" PEERACCESSKEY peer-secret-key-for-tests-only backend direct/ backend-direct)
gws3=$("$bin/s3-bench" "$gs3_url" "$gs3_ak" "$gs3_sk" "$gs3_bucket" "" gateway-s3)
gwfs=$("$bin/s3-bench" "$gfs_url" "$gfs_ak" "$gfs_sk" "$gfs_bucket" "" gateway-fs)

rows=()
if [ -n "$rgw" ]; then
  rows+=("$("$bin/s3-bench" "$rgw" "$rgw_ak" "$rgw_sk" rustshare-tests direct/ rgw-direct) rgw-direct")
  rows+=("$("$bin/s3-bench" "$grgw_url" "$grgw_ak" "$grgw_sk" "$grgw_bucket" "" gateway-rgw) rgw-direct")
fi
rows+=("$direct backend-direct" "$gws3 backend-direct" "$gwfs backend-direct")

python3 - "${rows[@]}" <<'PY'
import sys
# Each row: name, four figures, the name of the row its ratios are to.
rows = [l.split() for l in sys.argv[1:]]
by = {r[0]: [float(x) for x in r[1:5]] for r in rows}
hdr = ["64 MiB PUT MiB/s", "64 MiB GET MiB/s", "4 KiB PUT ops/s", "4 KiB GET ops/s"]
print(f"| {'target':<16} | " + " | ".join(f"{h:>17}" for h in hdr) + " | ratios to |")
print("|" + "-" * 18 + "|" + "|".join("-" * 19 for _ in hdr) + "|---|")
for r in rows:
    vals, base = by[r[0]], by[r[5]]
    cells = [f"{v:>9.1f} ({v / b:4.2f}x)" for v, b in zip(vals, base)]
    print(f"| {r[0]:<16} | " + " | ".join(f"{c:>17}" for c in cells) + f" | {r[5]} |")
PY
