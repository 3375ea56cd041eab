#!/usr/bin/env bash
# Peak memory of the edge while it takes and publishes large packages: six packages of
# SIZE_MIB (default 150) MiB of incompressible payload each, staged with `rustshare repo add`
# (which streams them to the staging API) and published in one go. Prints the edge's VmHWM
# (peak resident memory) after start, after staging and after the publish. Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-150}
COUNT=${COUNT:-6}
cargo build --release --quiet -p rustshare-edge --bins
B=$PWD/target/release/rustshare

work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RUSTSHARE_LOG=warn "$B" serve --data-dir "$work/data" --listen "127.0.0.1:$port" >"$work/edge.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$work/data/admin-token" ] && curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
export RUSTSHARE_TOKEN; RUSTSHARE_TOKEN=$(cat "$work/data/admin-token")
rs() { "$B" --server "http://127.0.0.1:$port" "$@"; }
hwm() { awk '/VmHWM/ {print int($2/1024)}' "/proc/$pid/status"; }

for i in $(seq "$COUNT"); do
  root="$work/pkg$i"
  mkdir -p "$root/DEBIAN" "$root/usr/share/big$i"
  head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom >"$root/usr/share/big$i/blob"
  printf 'Package: big%s\nVersion: 1.0\nArchitecture: amd64\nMaintainer: Bench <b@example.com>\nDescription: large package\n' "$i" >"$root/DEBIAN/control"
  dpkg-deb --root-owner-group -Zgzip -z0 --build "$root" "$work/big${i}_1.0_amd64.deb" >/dev/null
  rm -rf "$root"
done
rs tenant create bench >/dev/null
rs space create debs --tenant bench --purpose packages >/dev/null
rs repo create big --space rs-bench-debs --suite stable:bookworm --arch amd64 >/dev/null
start=$(hwm)
t0=$(date +%s.%N)
# Staged through the API (curl -T streams with a Content-Length), then published in one go.
for f in "$work"/*.deb; do
  curl -fsS -T "$f" -H "Authorization: Bearer $RUSTSHARE_TOKEN" \
    "http://127.0.0.1:$port/api/v1/repos/big/incoming/stable/main/$(basename "$f")"
done
t1=$(date +%s.%N)
staged=$(hwm)
rs repo publish big >/dev/null
t2=$(date +%s.%N)
published=$(hwm)
echo
echo "| $COUNT x $SIZE_MIB MiB packages | peak RSS MiB |"
echo "|---|---:|"
echo "| after start | $start |"
echo "| after staging | $staged |"
echo "| after publishing | $published |"
echo
echo "staging: $(echo "$t1 - $t0" | bc) s; publish: $(echo "$t2 - $t1" | bc) s"
rs repo snapshots big | head -3
