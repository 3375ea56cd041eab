#!/usr/bin/env bash
# A/B of the S3 face between an earlier commit and the working tree, in one run on loopback:
# both release builds on the embedded fs store, the space with a quota set (so every PUT takes
# the reservation path: reserve, store, account, release), the same client
# (tests/src/bin/s3-bench.rs: 6 x 64 MiB PUT/GET two at a time, 3000 x 4 KiB PUT/GET 32 at a
# time), rounds interleaved A B A B so drift on the machine hits both alike.
#
#   scripts/bench-s3-ab.sh <before-rev> [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
before=${1:?usage: scripts/bench-s3-ab.sh <before-rev> [rounds]}
rounds=${2:-2}
root=$PWD
work=$(mktemp -d)
pids=()
cleanup() {
  # start() runs in a process substitution (a subshell): its servers' pids come by file.
  for p in "${pids[@]}" $(cat "$work/edge.pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  git -C "$root" worktree remove --force "$work/src" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The earlier commit builds in a worktree into the same target directory: dependencies are
# shared, only the workspace's own crates build again.
echo "building $before and the working tree (release)..." >&2
git worktree add --quiet --detach "$work/src" "$before"
(cd "$work/src" && CARGO_TARGET_DIR="$root/target" cargo build --release --quiet -p rustshare-edge --bins)
mkdir -p "$work/a" "$work/b"
cp target/release/rustshare "$work/a/rustshare"
cargo build --release --quiet -p rustshare-edge -p rustshare-tests --bins
cp target/release/rustshare "$work/b/rustshare"
bench=target/release/s3-bench

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }

start() { # which (a|b) -> "url ak sk bucket"
  local port; port=$(free_port)
  RUSTSHARE_LOG=warn "$work/$1/rustshare" serve --data-dir "$work/$1/data" --listen "127.0.0.1:$port" >"$work/$1.out" 2>"$work/$1.err" &
  echo $! >>"$work/edge.pids"
  wait_port "$port"
  local rs=("$work/$1/rustshare" --server "http://127.0.0.1:$port" --token "$(cat "$work/$1/data/admin-token")" --json)
  "${rs[@]}" tenant create bench >/dev/null
  local bucket; bucket=$("${rs[@]}" space create ab --tenant bench --quota 100GiB | python3 -c 'import json,sys; print(json.load(sys.stdin)["bucket"])')
  "${rs[@]}" key create "$bucket" --name bench --mode read-write-delete | python3 -c 'import json,sys; k=json.load(sys.stdin); print(k["endpoint"], k["access_key_id"], k["secret_access_key"], k["bucket"])'
}
read -r a_url a_ak a_sk a_bucket < <(start a)
read -r b_url b_ak b_sk b_bucket < <(start b)

echo "running $rounds rounds of each, interleaved (about a minute per round)..." >&2
rows=()
for r in $(seq "$rounds"); do
  rows+=("$("$bench" "$a_url" "$a_ak" "$a_sk" "$a_bucket" "r$r/" "a")")
  rows+=("$("$bench" "$b_url" "$b_ak" "$b_sk" "$b_bucket" "r$r/" "b")")
done

python3 - "$before" "$(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo +)" "${rows[@]}" <<'PY'
import sys
names = {"a": sys.argv[1], "b": sys.argv[2]}
runs = {"a": [], "b": []}
for line in sys.argv[3:]:
    label, *figs = line.split()
    runs[label].append([float(x) for x in figs])
print("| build | 64 MiB PUT MiB/s | 64 MiB GET MiB/s | 4 KiB PUT ops/s | 4 KiB GET ops/s |")
print("|---|---:|---:|---:|---:|")
for k in ("a", "b"):
    cols = list(zip(*runs[k]))
    cell = lambda c, fmt: " / ".join(fmt.format(v) for v in c)
    print(f"| {names[k]} | {cell(cols[0], '{:.1f}')} | {cell(cols[1], '{:.0f}')} | {cell(cols[2], '{:.0f}')} | {cell(cols[3], '{:.0f}')} |")
mean = lambda k, i: sum(r[i] for r in runs[k]) / len(runs[k])
print()
print("mean b/a: " + ", ".join(f"{h} {mean('b', i) / mean('a', i):.2f}x" for i, h in enumerate(["large PUT", "large GET", "small PUT", "small GET"])))
PY
