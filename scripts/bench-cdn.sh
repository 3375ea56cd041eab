#!/usr/bin/env bash
# CDN face versus nginx and Caddy, in one run on loopback.
#
#  1. wrk (1 thread, 50 keep-alive connections, 10 s) on a cached 4 KiB object:
#     our edge (cache hit) | nginx proxy_cache in front of an nginx origin (cache hit) | nginx static file
#  2. a 100 MiB object, 5 downloads each with curl: our edge (streamed from its store) | nginx static
#  3. a 10 MiB object, 10 downloads on one connection with the same client (curl_cffi/libcurl):
#     our edge over HTTP/3 | our edge over HTTP/2 | Caddy over HTTP/3 (tls internal)
#  4. the same three with our Rust load client (tests/src/bin/http-bench.rs: rustls, hyper for
#     HTTP/2, quinn + h3 for HTTP/3), 20 downloads per connection. libcurl's user-space QUIC in
#     3 costs its core more than the edge costs its own, so 3 measures the client; this client
#     costs about what the server does, so 4 compares the servers' protocols. Its UDP socket has
#     large kernel buffers (at the default it drops ~1% of a fast download) and accepts datagrams
#     up to 6500 bytes; the edge probes up to 6500 (tls.http3_max_datagram: loopback carries 64 KiB,
#     as TCP's 64 KiB segments there use), and a second edge at the default 1452 gives one more row.
# Release build. Every server runs pinned to core 0 (our edge: one tokio worker; nginx: one
# worker; Caddy: GOMAXPROCS 1) and every client to core 1, so the figures compare servers rather
# than the scheduler. Each figure is a median: wrk's of five rounds (req/s and p99 each on its
# own), the downloads' of five or three. Caddy is addressed as localhost: without SNI (an IP
# address) its HTTP/3 listener finds no certificate. Prints a table.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for p in nginx=1.22.1-9+deb12u12 wrk=4.1.0-3+b2 caddy=2.6.2-5; do
  [ "$(dpkg-query -W -f='${Version}' "${p%%=*}" 2>/dev/null || true)" = "${p#*=}" ] || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
python3 -m pip install -q --disable-pip-version-check curl_cffi==0.13.0 2>&1 | grep -v "as the 'root' user" || true
systemctl stop nginx 2>/dev/null || true; systemctl stop caddy 2>/dev/null || true
cargo build --release --quiet -p rustshare-edge --bins -p rustshare-tests --bin http-bench

work=$(mktemp -d); chmod 755 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }

mkdir -p "$work/www"
head -c 4096 /dev/urandom >"$work/www/obj4k"
head -c $((10 << 20)) /dev/urandom >"$work/www/obj10m"
head -c $((100 << 20)) /dev/urandom >"$work/www/obj100m"
chmod -R a+rX "$work/www"

# --- our edge ---
# start_edge <name> [ENV=value ...]: an edge pinned to core 0 with its own data directory, a public
# space holding the three objects; sets <name>_http, <name>_tls, <name>_pid.
start_edge() {
  local name=$1; shift
  local http tls pid bucket key
  http=$(port); tls=$(port)
  env RUSTSHARE_LOG=warn "$@" taskset -c 0 target/release/rustshare serve --data-dir "$work/$name" --listen "127.0.0.1:$http" --tls-listen "127.0.0.1:$tls" >"$work/$name.out" 2>"$work/$name.err" & pids+=($!)
  pid=$!
  wait_port "$http"; wait_port "$tls"
  local rs=(target/release/rustshare --server "http://127.0.0.1:$http" --token "$(cat "$work/$name/admin-token")" --json)
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
  printf -v "${name}_http" %s "$http"; printf -v "${name}_tls" %s "$tls"; printf -v "${name}_pid" %s "$pid"
}
# Loopback carries 64 KiB datagrams and TCP uses them (its segments there are 64 KiB), so the
# main edge lets HTTP/3 probe up to the largest datagram it allows (tls.http3_max_datagram,
# 6500); a second edge at the default (1452, the internet's), started only for the last runs so
# it is not on core 0 during the others, gives the HTTP/3 row for that.
start_edge edge RUSTSHARE_HTTP3_MAX_DATAGRAM=6500
E=$edge_http; ET=$edge_tls

# --- nginx: origin, caching proxy, static ---
NO=$(port); NC=$(port); NS=$(port)
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.err warn;
user root;
events { worker_connections 4096; }
http {
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;
  proxy_cache_path $work/ncache levels=1:2 keys_zone=c:16m max_size=1g inactive=1h;
  server { listen 127.0.0.1:$NO; root $work/www; }
  server { listen 127.0.0.1:$NC; location / { proxy_pass http://127.0.0.1:$NO; proxy_cache c; proxy_cache_valid 200 1h; proxy_http_version 1.1; proxy_set_header Connection ""; } }
  server { listen 127.0.0.1:$NS; root $work/www; }
}
NGINX
taskset -c 0 nginx -c "$work/nginx.conf" -p "$work"
wait_port "$NC"; wait_port "$NS"

# --- caddy (HTTP/3 reference) ---
CT=$(port)
cat >"$work/Caddyfile" <<CADDY
{
  admin off
  auto_https disable_redirects
  skip_install_trust
  storage file_system $work/caddy
}
https://localhost:$CT {
  tls internal
  root * $work/www
  file_server
}
CADDY
HOME="$work" XDG_DATA_HOME="$work" XDG_CONFIG_HOME="$work" GOMAXPROCS=1 taskset -c 0 caddy run --config "$work/Caddyfile" --adapter caddyfile >"$work/caddy.log" 2>&1 & pids+=($!)
caddy_pid=$!
wait_port "$CT"

# Warm every cache once.
curl -s -o /dev/null -H "Host: cdn.localhost" "http://127.0.0.1:$E/$site/obj4k"
curl -s -o /dev/null "http://127.0.0.1:$NC/obj4k"; curl -s -o /dev/null "http://127.0.0.1:$NC/obj4k"

wrk1() { # url [host]: one 10 s run: "req/s p99"
  local out; out=$(taskset -c 1 wrk -t1 -c50 -d10s --latency ${2:+-H "Host: $2"} "$1")
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1=="99%" {v=$2; f=1; if (v ~ /us$/) f=0.001; else if (v ~ /ms$/) f=1; else f=1000; sub(/[um]?s$/, "", v); printf "%.2fms", v*f}' <<<"$out")"
}
echo "wrk runs (10 s each, the three servers in turn, five rounds)..." >&2
# Interleaved, so a change in the machine's speed during the runs touches every server alike
# (run one server's rounds after another's and a drift of a few percent reads as a ratio).
r_edge=(); r_ncache=(); r_nstatic=()
for _ in 1 2 3 4 5; do
  r_edge+=("$(wrk1 "http://127.0.0.1:$E/$site/obj4k" cdn.localhost)")
  r_ncache+=("$(wrk1 "http://127.0.0.1:$NC/obj4k")")
  r_nstatic+=("$(wrk1 "http://127.0.0.1:$NS/obj4k")")
done
# The median req/s and, on its own, the median p99: the p99 of the median-throughput round would
# hide a server whose tail is worse in most rounds.
median_run() { echo "$(printf '%s\n' "$@" | awk '{print $1}' | sort -n | sed -n 3p) $(printf '%s\n' "$@" | awk '{print $2}' | sort -n | sed -n 3p)"; }
w_edge="edge $(median_run "${r_edge[@]}")"
w_ncache="nginx-proxy-cache $(median_run "${r_ncache[@]}")"
w_nstatic="nginx-static $(median_run "${r_nstatic[@]}")"
echo "wrk rounds (req/s p99): edge ${r_edge[*]} | nginx proxy_cache ${r_ncache[*]} | nginx static ${r_nstatic[*]}" >&2

dl() { # url [host]: median of 5 curl downloads, MiB/s
  for _ in 1 2 3 4 5; do taskset -c 1 curl -s -o /dev/null ${2:+-H "Host: $2"} -w '%{speed_download}\n' "$1"; done | sort -n | sed -n 3p | awk '{printf "%.1f", $1/1048576}'
}
echo "100 MiB downloads..." >&2
big_edge=$(dl "http://127.0.0.1:$E/$site/obj100m" cdn.localhost)
big_nginx=$(dl "http://127.0.0.1:$NS/obj100m")

echo "10 MiB over HTTP/3 and HTTP/2..." >&2
read -r h3_edge h2_edge h3_caddy h3_edge_cpu h2_edge_cpu h3_caddy_cpu < <(taskset -c 1 python3 - "$ET" "$site" "$CT" "$edge_pid" "$caddy_pid" <<'PY'
import os, sys, time
from curl_cffi import requests as cr
from curl_cffi.const import CurlHttpVersion
et, site, ct, edge_pid, caddy_pid = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
def cpu(pid):
    # utime + stime of the server process, in seconds.
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
def rate(url, ver, pid, host=None):
    s = cr.Session(verify=False, http_version=ver)
    h = {"Host": host} if host else {}
    s.get(url, headers=h)  # connect and warm
    t = time.time(); n = 0; c0 = cpu(pid)
    for _ in range(10):
        r = s.get(url, headers=h)
        assert r.status_code == 200 and len(r.content) == 10 << 20, (url, r.status_code)
        n += len(r.content)
    # Throughput, and the server's CPU seconds per GiB sent.
    return n / (time.time() - t) / 2**20, (cpu(pid) - c0) / (n / 2**30)
def median(f):
    return sorted((f() for _ in range(3)), key=lambda r: r[0])[1]
e3 = median(lambda: rate(f"https://127.0.0.1:{et}/{site}/obj10m", CurlHttpVersion.V3ONLY, edge_pid, f"cdn.localhost:{et}"))
e2 = median(lambda: rate(f"https://127.0.0.1:{et}/{site}/obj10m", CurlHttpVersion.V2TLS, edge_pid, f"cdn.localhost:{et}"))
c3 = median(lambda: rate(f"https://localhost:{ct}/obj10m", CurlHttpVersion.V3ONLY, caddy_pid))
print(f"{e3[0]:.1f} {e2[0]:.1f} {c3[0]:.1f} {e3[1]:.2f} {e2[1]:.2f} {c3[1]:.2f}")
PY
)

echo "10 MiB over HTTP/3 and HTTP/2 with the Rust client..." >&2
start_edge edge1452
hb() { # proto url ca pid [authority]: median of three runs of 20 downloads: "MiB/s server-cpu client-cpu"
  for _ in 1 2 3; do taskset -c 1 target/release/http-bench "$1" "$2" "$3" 20 "$4" ${5:+"$5"}; done | sort -n | sed -n 2p
}
edge_ca="$work/edge/tls/self-signed.crt"
caddy_ca="$work/caddy/pki/authorities/local/root.crt"
read -r r3_edge r3_edge_cpu r3_edge_ccpu < <(hb h3 "https://127.0.0.1:$ET/$site/obj10m" "$edge_ca" "$edge_pid" "cdn.localhost:$ET")
read -r r2_edge r2_edge_cpu r2_edge_ccpu < <(hb h2 "https://127.0.0.1:$ET/$site/obj10m" "$edge_ca" "$edge_pid" "cdn.localhost:$ET")
read -r r3_caddy r3_caddy_cpu r3_caddy_ccpu < <(hb h3 "https://127.0.0.1:$CT/obj10m" "$caddy_ca" "$caddy_pid" "localhost:$CT")
read -r r3_small r3_small_cpu r3_small_ccpu < <(hb h3 "https://127.0.0.1:$edge1452_tls/$site/obj10m" "$work/edge1452/tls/self-signed.crt" "$edge1452_pid" "cdn.localhost:$edge1452_tls")

python3 - "$w_edge" "$w_ncache" "$w_nstatic" "$big_edge" "$big_nginx" "$h3_edge" "$h2_edge" "$h3_caddy" "$h3_edge_cpu" "$h2_edge_cpu" "$h3_caddy_cpu" \
  "$r3_edge" "$r2_edge" "$r3_caddy" "$r3_edge_cpu" "$r2_edge_cpu" "$r3_caddy_cpu" "$r3_edge_ccpu" "$r2_edge_ccpu" "$r3_caddy_ccpu" \
  "$r3_small" "$r3_small_cpu" "$r3_small_ccpu" <<'PY'
import sys
def lat_ms(s):
    for unit, f in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if s.endswith(unit):
            return float(s[: -len(unit)]) * f
    return float(s)
rows = [a.split() for a in sys.argv[1:4]]
edge_rps, edge_p99 = float(rows[0][1]), lat_ms(rows[0][2])
print("| cached 4 KiB, wrk -t1 -c50 -d10s (medians of 5 rounds) | req/s | p99 | edge vs this |")
print("|---|---:|---:|---:|")
for name, rps, p99 in rows:
    print(f"| {name} | {float(rps):,.0f} | {p99} | {edge_rps / float(rps):.2f}x req/s, p99 {edge_p99 / lat_ms(p99):.2f}x |")
be, bn = float(sys.argv[4]), float(sys.argv[5])
print()
print("| 100 MiB download (median of 5) | MiB/s |")
print("|---|---:|")
print(f"| edge | {be:.1f} ({be / bn:.2f}x nginx) |")
print(f"| nginx static | {bn:.1f} |")
h3, h2, c3, h3c, h2c, c3c = map(float, sys.argv[6:12])
print()
print("| 10 MiB x10, curl_cffi (libcurl), median of 3 | MiB/s | server CPU s per GiB sent |")
print("|---|---:|---:|")
print(f"| edge HTTP/3 | {h3:.1f} ({h3 / h2:.2f}x our HTTP/2, {h3 / c3:.2f}x Caddy HTTP/3) | {h3c:.2f} |")
print(f"| edge HTTP/2 | {h2:.1f} | {h2c:.2f} |")
print(f"| Caddy HTTP/3 | {c3:.1f} | {c3c:.2f} |")
r3, r2, rc, r3c, r2c, rcc, r3k, r2k, rck = map(float, sys.argv[12:21])
print()
print("| 10 MiB x20, Rust client (quinn + h3 / hyper, rustls), median of 3 | MiB/s | server CPU s per GiB | client CPU s per GiB |")
print("|---|---:|---:|---:|")
rs, rsc, rsk = map(float, sys.argv[21:24])
print(f"| edge HTTP/3 | {r3:.1f} ({r3 / r2:.2f}x our HTTP/2, {r3 / rc:.2f}x Caddy HTTP/3) | {r3c:.2f} | {r3k:.2f} |")
print(f"| edge HTTP/2 | {r2:.1f} | {r2c:.2f} | {r2k:.2f} |")
print(f"| Caddy HTTP/3 | {rc:.1f} | {rcc:.2f} | {rck:.2f} |")
print(f"| edge HTTP/3, datagrams at the default 1452 | {rs:.1f} ({rs / r2:.2f}x our HTTP/2) | {rsc:.2f} | {rsk:.2f} |")
PY
