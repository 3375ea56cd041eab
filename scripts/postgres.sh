#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests: `scripts/postgres.sh start DIR` makes a cluster (in a
# fresh directory under /tmp owned by the postgres user, since initdb refuses root and test temp
# dirs are private; DIR/datadir records where), starts it on 127.0.0.1 at a free port with trust
# auth for loopback only, creates the database `rustshare` and prints its URL;
# `scripts/postgres.sh stop DIR` stops it and deletes the cluster. Debian's postgresql package
# (15) provides the binaries.
set -euo pipefail
cmd=${1:?usage: postgres.sh start|stop DIR} dir=${2:?usage: postgres.sh start|stop DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "postgres.sh: no PostgreSQL server binaries under /usr/lib/postgresql (install Debian's postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case $cmd in
  start)
    mkdir -p "$dir"
    pgd=$(mktemp -d /tmp/rustshare-pg.XXXXXX)
    echo "$pgd" >"$dir/datadir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$pgd"
    as_pg "$bin/initdb" -D "$pgd/data" -U rustshare --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_pg "$bin/pg_ctl" -D "$pgd/data" -l "$pgd/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $pgd -c fsync=off -c max_connections=300" start >/dev/null \
      || { cat "$pgd/server.log" >&2; exit 1; }
    as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U rustshare rustshare
    echo "postgres://rustshare@127.0.0.1:$port/rustshare"
    ;;
  stop)
    pgd=$(cat "$dir/datadir" 2>/dev/null || true)
    case $pgd in /tmp/rustshare-pg.*) ;; *) exit 0 ;; esac
    as_pg "$bin/pg_ctl" -D "$pgd/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$pgd"
    ;;
  *) echo "postgres.sh: unknown command $cmd (start or stop)" >&2; exit 2 ;;
esac
