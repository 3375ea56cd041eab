#!/usr/bin/env bash
# Publisher versus apt-ftparchive, reprepro and aptly, in one run on the same synthetic packages
# made with dpkg-deb (N of them, default 10,000; `./scripts/bench-publish.sh 2000` for a quick run).
#
#   from scratch   ours: `rustshare repo add` of all N (upload + ingest + index + sign + switch),
#                  and the publish step alone (`repo publish` after the files sit in incoming);
#                  apt-ftparchive packages + gzip + xz + release + gpg --clearsign + gpg -abs;
#                  reprepro includedeb; aptly repo add + publish repo.
#   re-publish     ours: `repo publish --refresh` (index and sign from stored metadata);
#                  apt-ftparchive run again on the same pool (no cache database, as above).
#   add one        ours: `repo add` of one more package; reprepro includedeb (its default indices,
#                  and with .xz like ours); aptly add + publish update. Each adds ONE (5) packages
#                  one after another; the median is reported, every run printed below the table.
#   remove one     ours: `repo remove`; reprepro remove; aptly repo remove + publish update; each
#                  removes ONE packages one after another (median). apt-ftparchive has no
#                  removal: it is its re-run over the pool.
#   promote        the whole distribution's set into a second distribution, as one step: ours
#                  `repo promote --from stable --to testing`; reprepro copymatched testing
#                  stable '*'; aptly snapshot create + publish snapshot (its way to publish a
#                  set under another distribution).
# Peak memory: the edge's VmHWM after each phase (it is one long-running process), the peers'
# max RSS from GNU time. Release build; every tool signs with an Ed25519 key.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
ONE=${ONE:-5}   # packages added one at a time; the table shows the median

need=()
for p in apt-utils reprepro aptly gpg time; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
cargo build --release --quiet -p rustshare-edge --bins
B=$PWD/target/release/rustshare

work=$(mktemp -d)
edge_pid=
cleanup() { [ -n "$edge_pid" ] && kill "$edge_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# --- packages ---
mkdir -p "$work/one"
# BENCH_DEBS=DIR keeps the packages between runs (building 100,000 takes about ten minutes).
if [ -n "${BENCH_DEBS:-}" ]; then
  mkdir -p "$BENCH_DEBS/debs-$N"
  ln -s "$BENCH_DEBS/debs-$N" "$work/debs"
else
  mkdir -p "$work/debs"
fi
mkpkg() {
  local i=$1 out=$2 d
  d=$(mktemp -d -p "$work")
  mkdir -p "$d/DEBIAN" "$d/usr/share/doc/pkg$i"
  echo "package $i" >"$d/usr/share/doc/pkg$i/README"
  printf 'Package: pkg%s\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: Bench <bench@example.com>\nSection: misc\nPriority: optional\nDescription: synthetic package %s\n Generated for the publisher benchmark.\n' "$i" "$i" >"$d/DEBIAN/control"
  dpkg-deb --root-owner-group -Zgzip --build "$d" "$out/pkg${i}_1.0-1_amd64.deb" >/dev/null
  rm -rf "$d"
}
export -f mkpkg
export work
if [ "$(find "$work/debs/" -name '*.deb' | wc -l)" != "$N" ]; then
  echo "building $N packages with dpkg-deb..." >&2
  seq 1 "$N" | xargs -P "$(nproc)" -I{} bash -c 'mkpkg {} "$work/debs"'
fi
for i in $(seq 1 "$ONE"); do mkdir -p "$work/one/$i"; mkpkg "extra$i" "$work/one/$i"; done

# --- one signing key for the peers ---
export GNUPGHOME=$work/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key "Bench <bench@example.com>" ed25519 sign never 2>/dev/null
KEYID=$(gpg --batch --with-colons --list-keys | awk -F: '/^fpr/ {print $10; exit}')

# secs CMD...: wall seconds and max RSS (KiB) of CMD, as "secs kib".
measure() {
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$(echo "$t1 - $t0" | bc) $(tail -1 "$work/rss")"
}

# median_one FUNCTION: runs FUNCTION DIR once per extra package (each in its own DIR) and prints
# the median wall seconds, then every run.
median_one() {
  local f=$1 i t times=()
  for i in $(seq 1 "$ONE"); do
    read -r t _ < <(measure bash -c "$f \"\$0\"" "$work/one/$i")
    times+=("$t")
  done
  echo "$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') ${times[*]}"
}

# --- ours ---
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The publisher's own phase timings (debug) are printed at the end, to see where time goes.
RUSTSHARE_LOG=warn,rustshare_publisher=debug "$B" serve --data-dir "$work/edge" --listen "127.0.0.1:$port" >"$work/edge.out" 2>"$work/edge.err" &
edge_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
export RUSTSHARE_URL=http://127.0.0.1:$port RUSTSHARE_TOKEN
RUSTSHARE_TOKEN=$(cat "$work/edge/admin-token")
"$B" tenant create bench >/dev/null
"$B" space create pkgs --tenant bench --purpose packages >/dev/null
"$B" repo create bench --space rs-bench-pkgs --suite stable --suite testing >/dev/null
"$B" repo create staged --space rs-bench-pkgs >/dev/null
hwm() { awk '/VmHWM/ {print $2}' "/proc/$edge_pid/status"; }
echo "ours: repo add of $N..." >&2
# The directory, not a glob: 100,000 names are more than a command line holds.
read -r ours_add _ < <(measure "$B" repo add bench --dist stable "$work/debs")
ours_add_mem=$(hwm)
# The publish step alone: the same files already in incoming (uploaded through the API).
for f in "$work"/debs/*.deb; do echo "url = \"http://127.0.0.1:$port/api/v1/repos/staged/incoming/stable/main/$(basename "$f")\""; echo "upload-file = \"$f\""; done >"$work/curl.cfg"
curl -fs -X PUT -H "Authorization: Bearer $RUSTSHARE_TOKEN" -K "$work/curl.cfg" -o /dev/null
echo "ours: publish of $N staged..." >&2
read -r ours_pub _ < <(measure "$B" repo publish staged)
ours_pub_mem=$(hwm)
echo "ours: refresh..." >&2
read -r ours_refresh _ < <(measure "$B" repo publish bench --refresh)
echo "ours: add one..." >&2
add_ours() { "$B" repo add bench --dist stable "$1"/*.deb; }
export -f add_ours
export B
read -r ours_one ours_runs < <(median_one add_ours)
echo "ours: remove one..." >&2
# median_one passes a directory; the package removed is the one in it.
name_in() { local f; f=$(ls "$1"/*.deb); f=$(basename "$f"); echo "${f%%_*}"; }
export -f name_in
rm_ours() { "$B" repo remove bench --dist stable "$(name_in "$1")"; }
export -f rm_ours
read -r ours_rm ours_rm_runs < <(median_one rm_ours)
echo "ours: promote..." >&2
read -r ours_promote _ < <(measure "$B" repo promote bench --from stable --to testing)
ours_mem=$(hwm)

# --- apt-ftparchive ---
mkdir -p "$work/afp/pool/main" "$work/afp/dists/stable/main/binary-amd64"
cp -r "$work/debs/." "$work/afp/pool/main/"
cat >"$work/afp.sh" <<EOF
set -e
cd "$work/afp"
apt-ftparchive packages pool >dists/stable/main/binary-amd64/Packages
gzip -9kf dists/stable/main/binary-amd64/Packages
xz -kf dists/stable/main/binary-amd64/Packages
apt-ftparchive -o APT::FTPArchive::Release::Suite=stable -o APT::FTPArchive::Release::Architectures=amd64 -o APT::FTPArchive::Release::Components=main release dists/stable >dists/stable/Release
gpg --batch --yes --default-key $KEYID --clearsign -o dists/stable/InRelease dists/stable/Release
gpg --batch --yes --default-key $KEYID -abs -o dists/stable/Release.gpg dists/stable/Release
EOF
echo "apt-ftparchive..." >&2
read -r afp afp_mem < <(measure bash "$work/afp.sh")
read -r afp_again _ < <(measure bash "$work/afp.sh")

# --- reprepro: its default indices (Packages, .gz), and the same set as ours (plus .xz) ---
mkdir -p "$work/rep/conf" "$work/repxz/conf"
printf 'Origin: bench\nLabel: bench\nSuite: stable\nCodename: stable\nArchitectures: amd64\nComponents: main\nSignWith: %s\n\nOrigin: bench\nLabel: bench\nSuite: testing\nCodename: testing\nArchitectures: amd64\nComponents: main\nSignWith: %s\n' "$KEYID" "$KEYID" >"$work/rep/conf/distributions"
printf 'Origin: bench\nLabel: bench\nSuite: stable\nCodename: stable\nArchitectures: amd64\nComponents: main\nSignWith: %s\nDebIndices: Packages Release . .gz .xz\n' "$KEYID" >"$work/repxz/conf/distributions"
echo "reprepro..." >&2
# xargs splits the names over as few includedeb runs as the command line allows (one below
# about 20,000 packages).
read -r rep rep_mem < <(measure bash -c "find '$work/debs/' -name '*.deb' -print0 | sort -z | xargs -0 reprepro -b '$work/rep' includedeb stable")
add_rep() { reprepro -b "$work/rep" includedeb stable "$1"/*.deb; }
export -f add_rep
read -r rep_one rep_runs < <(median_one add_rep)
rm_rep() { reprepro -b "$work/rep" remove stable "$(name_in "$1")"; }
export -f rm_rep
read -r rep_rm rep_rm_runs < <(median_one rm_rep)
read -r rep_promote _ < <(measure reprepro -b "$work/rep" copymatched testing stable '*')
read -r repx repx_mem < <(measure bash -c "find '$work/debs/' -name '*.deb' -print0 | sort -z | xargs -0 reprepro -b '$work/repxz' includedeb stable")
add_repx() { reprepro -b "$work/repxz" includedeb stable "$1"/*.deb; }
export -f add_repx
read -r repx_one repx_runs < <(median_one add_repx)
test -f "$work/repxz/dists/stable/main/binary-amd64/Packages.xz" || { echo "reprepro wrote no Packages.xz" >&2; exit 1; }

# --- aptly ---
printf '{"rootDir": "%s/aptly", "gpgProvider": "gpg2"}\n' "$work" >"$work/aptly.conf"
cat >"$work/aptly.sh" <<EOF
set -e
aptly -config="$work/aptly.conf" repo create -distribution=stable -component=main bench >/dev/null
aptly -config="$work/aptly.conf" repo add bench "$work/debs/" >/dev/null
aptly -config="$work/aptly.conf" publish repo -architectures=amd64 -gpg-key=$KEYID bench >/dev/null
EOF
echo "aptly..." >&2
read -r apl apl_mem < <(measure bash "$work/aptly.sh")
add_aptly() {
  aptly -config="$work/aptly.conf" repo add bench "$1" >/dev/null
  aptly -config="$work/aptly.conf" publish update -gpg-key="$KEYID" stable >/dev/null
}
export -f add_aptly
export KEYID
read -r apl_one apl_runs < <(median_one add_aptly)
rm_aptly() {
  aptly -config="$work/aptly.conf" repo remove bench "$(name_in "$1")" >/dev/null
  aptly -config="$work/aptly.conf" publish update -gpg-key="$KEYID" stable >/dev/null
}
export -f rm_aptly
read -r apl_rm apl_rm_runs < <(median_one rm_aptly)
cat >"$work/aptly-promote.sh" <<EOF
set -e
aptly -config="$work/aptly.conf" snapshot create promoted from repo bench >/dev/null
aptly -config="$work/aptly.conf" publish snapshot -distribution=testing -architectures=amd64 -gpg-key=$KEYID promoted >/dev/null
EOF
read -r apl_promote _ < <(measure bash "$work/aptly-promote.sh")

python3 - "$N" "$ours_add" "$ours_pub" "$ours_refresh" "$ours_one" "$ours_add_mem" "$ours_pub_mem" "$ours_mem" \
  "$afp" "$afp_mem" "$afp_again" "$rep" "$rep_mem" "$rep_one" "$apl" "$apl_mem" "$apl_one" "$repx" "$repx_mem" "$repx_one" \
  "$ours_rm" "$ours_promote" "$rep_rm" "$rep_promote" "$apl_rm" "$apl_promote" <<'PY'
import sys
a = sys.argv[1:]
n = int(a[0])
oa, op, orf, o1 = map(float, a[1:5])
oam, opm, om = (int(x) for x in a[5:8])
afp, afpm, afp2, rep, repm, rep1, apl, aplm, apl1 = float(a[8]), int(a[9]), float(a[10]), float(a[11]), int(a[12]), float(a[13]), float(a[14]), int(a[15]), float(a[16])
repx, repxm, repx1 = float(a[17]), int(a[18]), float(a[19])
orm, opr, rrm, rpr, arm, apr = map(float, a[20:26])
fastest = min(afp, rep, apl)
mb = lambda k: f"{k / 1024:.0f} MiB"
print(f"| {n:,} packages | from scratch (s) | re-publish unchanged (s) | add one more (s) | remove one (s) | promote all (s) | peak memory |")
print("|---|---:|---:|---:|---:|---:|---:|")
print(f"| rustshare `repo add` (upload + publish) | {oa:.2f} ({oa / fastest:.2f}x fastest peer) | {orf:.2f} ({orf / afp2:.2f}x apt-ftparchive) | {o1:.3f} ({o1 / rep1:.2f}x reprepro) | {orm:.3f} ({orm / rrm:.2f}x reprepro) | {opr:.2f} ({opr / min(rpr, apr):.2f}x fastest peer) | {mb(om)} (edge, whole run) |")
print(f"| rustshare `repo publish` (files already in incoming) | {op:.2f} ({op / fastest:.2f}x fastest peer) | | | | | {mb(opm)} (edge, after publish) |")
print(f"| apt-ftparchive + gzip + xz + gpg | {afp:.2f} | {afp2:.2f} | | ({afp2:.2f}: a re-run) | | {mb(afpm)} |")
print(f"| reprepro includedeb (Packages, .gz) | {rep:.2f} | | {rep1:.3f} | {rrm:.3f} | {rpr:.2f} | {mb(repm)} |")
print(f"| reprepro includedeb (Packages, .gz, .xz: our set) | {repx:.2f} | | {repx1:.3f} ({o1 / repx1:.2f}x ours/this) | | | {mb(repxm)} |")
print(f"| aptly repo add + publish | {apl:.2f} | | {apl1:.3f} | {arm:.3f} | {apr:.2f} | {mb(aplm)} |")
print(f"\nedge peak memory after the first add: {mb(oam)}, at the end: {mb(om)}")
PY
echo "remove one, every run (s): rustshare $ours_rm_runs | reprepro $rep_rm_runs | aptly $apl_rm_runs"
echo "add one, every run (s): rustshare $ours_runs | reprepro $rep_runs | reprepro with .xz $repx_runs | aptly $apl_runs"
echo "the edge's publish phases (ms, cumulative), last runs:"
grep -h "timings" "$work/edge.err" "$work/edge.out" 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g; s/^.*DEBUG rustshare_publisher::service: //' | tail -8
