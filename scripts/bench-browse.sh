#!/usr/bin/env bash
# The console's object browser on a space of N objects (issue 21): the first page of each view
# through the console API, beside the same ListObjectsV2 page through our S3 face and, when
# Ceph's binaries are installed, through Ceph RGW filled with the same keys. Release build,
# fs store.
#
#   scripts/bench-browse.sh [N]     (default 100000; BENCH_PEERS=0 leaves RGW out)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
cargo build --release --quiet -p rustshare-edge
bin=target/release
work=$(mktemp -d)
cleanup() {
  [ -n "${edge:-}" ] && kill "$edge" 2>/dev/null || true
  wait 2>/dev/null || true
  scripts/ceph.sh stop "$work/ceph" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }

port=$(free_port)
RUSTSHARE_LOG=warn "$bin/rustshare" serve --data-dir "$work/edge" --listen "127.0.0.1:$port" >"$work/edge.out" 2>"$work/edge.err" &
edge=$!
wait_port "$port"
url="http://127.0.0.1:$port"
token=$(cat "$work/edge/admin-token")
rs=("$bin/rustshare" --server "$url" --token "$token" --json)
"${rs[@]}" tenant create bench >/dev/null
b=$("${rs[@]}" space create browse --tenant bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["bucket"])')
read -r ak sk < <("${rs[@]}" key create "$b" --name bench --mode read-write | python3 -c 'import json,sys; k=json.load(sys.stdin); print(k["access_key_id"], k["secret_access_key"])')
echo "rustshare $(git rev-parse --short HEAD), fs store, $n objects; $(nproc) cores" >&2
python3 scripts/bench-browse.py --fill "$url" "$ak" "$sk" "$b" "$n"
python3 scripts/bench-browse.py --console "$url" "$token" "$b" --label "rustshare console API"
python3 scripts/bench-browse.py --s3 "$url" "$ak" "$sk" "$b" --label "rustshare S3 face"

if [ "${BENCH_PEERS:-1}" = 0 ]; then
  echo "BENCH_PEERS=0: the Ceph RGW rows are left out" >&2
elif command -v radosgw >/dev/null; then
  read -r rgw rgw_ak rgw_sk < <(scripts/ceph.sh start "$work/ceph")
  python3 - "$rgw" "$rgw_ak" "$rgw_sk" <<'PY'
import sys, boto3
from botocore.config import Config
c = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3], region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
c.create_bucket(Bucket="bench-browse")
PY
  python3 scripts/bench-browse.py --fill "$rgw" "$rgw_ak" "$rgw_sk" bench-browse "$n"
  python3 scripts/bench-browse.py --s3 "$rgw" "$rgw_ak" "$rgw_sk" bench-browse --label "ceph rgw"
else
  echo "no radosgw: the Ceph RGW rows are left out" >&2
fi
