#!/usr/bin/env bash
# A/B of the CDN face between an earlier commit and the working tree, in one run on loopback, as
# scripts/bench-cdn.sh measures it (that script compares the edge with nginx and Caddy; this one
# compares the edge with itself, to tell a regression from a change in the machine):
#
#  1. wrk (1 thread, 50 keep-alive connections, 10 s) on a cached 4 KiB object, the two builds
#     in turn, five rounds: median req/s and, on its own, median p99
#  2. a 100 MiB object, curl, median of 5
#  3. a 10 MiB object, 20 downloads per connection with tests/src/bin/http-bench.rs over HTTP/2
#     and HTTP/3 (6500-byte datagrams), the builds in turn, median of 5
#
# Each edge runs pinned to core 0 with one tokio worker's worth of core; clients on core 1.
#
#   scripts/bench-cdn-ab.sh <before-rev>
set -euo pipefail
cd "$(dirname "$0")/.."
before=${1:?usage: scripts/bench-cdn-ab.sh <before-rev>}
root=$PWD
work=$(mktemp -d); chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  git -C "$root" worktree remove --force "$work/src" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
command -v wrk >/dev/null || { echo "wrk is needed (scripts/bench-cdn.sh installs it)" >&2; exit 1; }

echo "building $before and the working tree (release)..." >&2
# The earlier build is kept under target/ab/ for the next run.
mkdir -p "$work/a" "$work/b"
kept="target/ab/$(git rev-parse --short "$before")/rustshare"
if [ ! -x "$kept" ]; then
  git worktree add --quiet --detach "$work/src" "$before"
  (cd "$work/src" && CARGO_TARGET_DIR="$root/target" cargo build --release --quiet -p rustshare-edge --bins)
  mkdir -p "$(dirname "$kept")"; cp target/release/rustshare "$kept"
fi
cp "$kept" "$work/a/rustshare"
cargo build --release --quiet -p rustshare-edge --bins -p rustshare-tests --bin http-bench
cp target/release/rustshare "$work/b/rustshare"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }
mkdir -p "$work/www"
head -c 4096 /dev/urandom >"$work/www/obj4k"
head -c $((10 << 20)) /dev/urandom >"$work/www/obj10m"
head -c $((100 << 20)) /dev/urandom >"$work/www/obj100m"

start_edge() { # a|b: sets <x>_http, <x>_tls, <x>_pid, site
  local x=$1 http tls bucket key
  http=$(port); tls=$(port)
  RUSTSHARE_LOG=warn RUSTSHARE_HTTP3_MAX_DATAGRAM=6500 taskset -c 0 "$work/$x/rustshare" serve --data-dir "$work/$x/data" \
    --listen "127.0.0.1:$http" --tls-listen "127.0.0.1:$tls" >"$work/$x.out" 2>"$work/$x.err" & pids+=($!)
  printf -v "${x}_pid" %s "$!"
  wait_port "$http"; wait_port "$tls"
  local rs=("$work/$x/rustshare" --server "http://127.0.0.1:$http" --token "$(cat "$work/$x/data/admin-token")" --json)
  "${rs[@]}" tenant create bench >/dev/null
  bucket=$("${rs[@]}" space create www --tenant bench --purpose cdn | python3 -c 'import json,sys; print(json.load(sys.stdin)["bucket"])')
  key=$("${rs[@]}" key create "$bucket" --name up --mode read-write)
  "${rs[@]}" public enable "$bucket" --cache-control "public, max-age=3600" >/dev/null
  python3 - "$http" "$bucket" "$work/www" "$key" <<'PY'
import json, sys, boto3
from botocore.config import Config
port, bucket, www, key = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
c = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id=key["access_key_id"], aws_secret_access_key=key["secret_access_key"], region_name="us-east-1", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
for n in ["obj4k", "obj10m", "obj100m"]:
    c.upload_file(f"{www}/{n}", bucket, n)
PY
  site=${bucket#rs-}
  printf -v "${x}_http" %s "$http"; printf -v "${x}_tls" %s "$tls"
  curl -s -o /dev/null -H "Host: cdn.localhost" "http://127.0.0.1:$http/$site/obj4k"
}
start_edge a
start_edge b

wrk1() { # url: one 10 s run: "req/s p99ms"
  local out; out=$(taskset -c 1 wrk -t1 -c50 -d10s --latency -H "Host: cdn.localhost" "$1")
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1=="99%" {v=$2; if (v ~ /us$/) f=0.001; else if (v ~ /ms$/) f=1; else f=1000; sub(/[um]?s$/, "", v); printf "%.2f", v*f}' <<<"$out")"
}
dl() { for _ in 1 2 3 4 5; do taskset -c 1 curl -s -o /dev/null -H "Host: cdn.localhost" -w '%{speed_download}\n' "$1"; done | sort -n | sed -n 3p | awk '{printf "%.1f", $1/1048576}'; }
hb1() { taskset -c 1 target/release/http-bench "$1" "$2" "$3" 20 "$4" "$5" | awk '{print $1}'; }

echo "wrk rounds (10 s each, the two builds in turn, five rounds), then downloads..." >&2
ra=(); rb=()
for _ in 1 2 3 4 5; do
  ra+=("$(wrk1 "http://127.0.0.1:$a_http/$site/obj4k")")
  rb+=("$(wrk1 "http://127.0.0.1:$b_http/$site/obj4k")")
done
big_a=$(dl "http://127.0.0.1:$a_http/$site/obj100m"); big_b=$(dl "http://127.0.0.1:$b_http/$site/obj100m")
# Interleaved too: five runs of 20 downloads per protocol and build, the median.
med5() { sort -n | sed -n 3p; }
h() { hb1 "$1" "https://127.0.0.1:$2/$site/obj10m" "$work/$3/data/tls/self-signed.crt" "$4" "cdn.localhost:$2"; }
h2a=(); h2b=(); h3a=(); h3b=()
for _ in 1 2 3 4 5; do
  h2a+=("$(h h2 "$a_tls" a "$a_pid")"); h2b+=("$(h h2 "$b_tls" b "$b_pid")")
  h3a+=("$(h h3 "$a_tls" a "$a_pid")"); h3b+=("$(h h3 "$b_tls" b "$b_pid")")
done
h2_a=$(printf '%s\n' "${h2a[@]}" | med5); h2_b=$(printf '%s\n' "${h2b[@]}" | med5)
h3_a=$(printf '%s\n' "${h3a[@]}" | med5); h3_b=$(printf '%s\n' "${h3b[@]}" | med5)
echo "10 MiB runs (MiB/s): HTTP/2 ${h2a[*]} | ${h2b[*]}; HTTP/3 ${h3a[*]} | ${h3b[*]}" >&2
echo "wrk rounds (req/s p99 ms): $before ${ra[*]} | working tree ${rb[*]}" >&2

python3 - "$before" "$(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo +)" "${ra[*]}" "${rb[*]}" "$big_a" "$big_b" "$h2_a" "$h2_b" "$h3_a" "$h3_b" <<'PY'
import statistics, sys
na, nb, ra, rb = sys.argv[1:5]
big_a, big_b, h2_a, h2_b, h3_a, h3_b = map(float, sys.argv[5:11])
def med(s, i):
    v = [float(x) for x in s.split()[i::2]]
    return statistics.median(v)
rows = [
    ("cached 4 KiB req/s (wrk, median of 5)", med(ra, 0), med(rb, 0), "{:,.0f}"),
    ("cached 4 KiB p99 ms (median of 5)", med(ra, 1), med(rb, 1), "{:.2f}"),
    ("100 MiB MiB/s (curl, median of 5)", big_a, big_b, "{:.0f}"),
    ("10 MiB HTTP/2 MiB/s (http-bench, median of 5)", h2_a, h2_b, "{:.0f}"),
    ("10 MiB HTTP/3 MiB/s (http-bench, median of 5)", h3_a, h3_b, "{:.0f}"),
]
print(f"| | {na} | {nb} | b/a |")
print("|---|---:|---:|---:|")
for name, a, b, f in rows:
    print(f"| {name} | {f.format(a)} | {f.format(b)} | {b / a:.2f}x |")
PY
