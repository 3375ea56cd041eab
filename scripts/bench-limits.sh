#!/usr/bin/env bash
# Slowloris and idle-connection floods against the edge (default [limits]) and nginx, in one
# run on loopback; prints a table (see scripts/bench-limits.py for the phases).
# Release build; both servers pinned to core 0 and the clients to core 1.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for p in nginx wrk; do
  dpkg-query -W -f='${Version}' "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
systemctl stop nginx 2>/dev/null || true
cargo build --release --quiet -p rustshare-edge --bins

work=$(mktemp -d); chmod 755 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }

ulimit -n "$(ulimit -Hn)"
edge_port=$(port)
RUSTSHARE_LOG=warn RUSTSHARE_REQUEST_LOG=off RUSTSHARE_CONSOLE_TRAFFIC_FLUSH_SECS=3600 TOKIO_WORKER_THREADS=1 \
  taskset -c 0 ./target/release/rustshare serve --data-dir "$work/edge" --listen "127.0.0.1:$edge_port" >"$work/edge.log" 2>&1 &
pids+=($!)
wait_port "$edge_port"

nginx_port=$(port)
mkdir -p "$work/www"
echo ok >"$work/www/healthz"
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 30000;
pid $work/nginx.pid;
error_log $work/nginx-error.log crit;
events { worker_connections 10000; }
http {
  access_log off;
  server { listen 127.0.0.1:$nginx_port; root $work/www; location / { } }
}
EOF
taskset -c 0 nginx -c "$work/nginx.conf" -p "$work" -e "$work/nginx-error.log"
wait_port "$nginx_port"

taskset -c 1 python3 scripts/bench-limits.py "http://127.0.0.1:$edge_port/healthz" "http://127.0.0.1:$nginx_port/healthz"
echo
echo "edge log lines about limits:"; grep -ciE 'connection limit|accept' "$work/edge.log" || true
