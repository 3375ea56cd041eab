#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests: `scripts/postgres.sh start DIR` makes a cluster (in a
# fresh directory under /tmp owned by the postgres user, since initdb refuses root and test temp
# dirs are private; DIR/datadir records where), starts it on 127.0.0.1 at a free port with trust
# auth for loopback only, creates the database `rustshare` and prints its URL;
# `scripts/postgres.sh stop DIR` stops it and deletes the cluster. With `start DIR --tls` the
# server takes TLS connections only (a self-signed certificate for 127.0.0.1 and localhost,
# copied to DIR/ca.pem for clients). Debian's postgresql package (15) provides the binaries.
set -euo pipefail
cmd=${1:?usage: postgres.sh start|stop DIR [--tls]} dir=${2:?usage: postgres.sh start|stop DIR [--tls]} tls=${3:-}
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
    opts="-c listen_addresses=127.0.0.1 -p $port -k $pgd -c fsync=off -c max_connections=300"
    if [ "$tls" = "--tls" ]; then
      # A throwaway CA, and the server's certificate signed by it.
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=rustshare test CA" \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
        -keyout "$pgd/server.key" -out "$dir/server.csr" 2>/dev/null
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$dir/server.ext"
      openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
        -extfile "$dir/server.ext" -out "$pgd/server.crt" 2>/dev/null
      [ "$(id -u)" -eq 0 ] && chown postgres: "$pgd/server.key" "$pgd/server.crt"
      chmod 0600 "$pgd/server.key"
      # TLS or nothing over TCP: a client that does not encrypt is refused.
      printf 'local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n' >"$pgd/data/pg_hba.conf"
      opts="$opts -c ssl=on -c ssl_cert_file=$pgd/server.crt -c ssl_key_file=$pgd/server.key"
    elif [ -n "$tls" ]; then
      echo "postgres.sh: unknown option $tls (--tls)" >&2; exit 2
    fi
    as_pg "$bin/pg_ctl" -D "$pgd/data" -l "$pgd/server.log" -w -t 60 -o "$opts" start >/dev/null \
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
