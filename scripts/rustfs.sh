#!/usr/bin/env bash
# A throwaway single-node RustFS on loopback, from a RustFS server binary (plain or .xz):
# `scripts/rustfs.sh start DIR BINARY` unpacks it under DIR, starts it on 127.0.0.1 at a free
# port with random credentials, creates the bucket `rustshare-tests`, prints
#   <endpoint> <access key id> <secret access key>
# and writes DIR/s3.env (the RUSTSHARE_TEST_S3_* variables the suites read);
# `scripts/rustfs.sh stop DIR` stops it and deletes its data. The project does not ship RustFS
# (1.0.x needs a newer rustc than Debian 12 builds with); `scripts/test.sh` runs the S3-backend
# suites on it when `../shared/engines/` has a binary (see its README there).
set -euo pipefail
cmd=${1:?usage: rustfs.sh start DIR BINARY | stop DIR} dir=${2:?usage: rustfs.sh start DIR BINARY | stop DIR}

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

case $cmd in
  start)
    src=${3:?usage: rustfs.sh start DIR BINARY}
    mkdir -p "$dir/data"
    case $src in *.xz) xz -dc "$src" >"$dir/rustfs" ;; *) cp "$src" "$dir/rustfs" ;; esac
    chmod +x "$dir/rustfs"
    p=$(port) console=$(port)
    ak=RFS$(python3 -c 'import secrets,string; print("".join(secrets.choice(string.ascii_uppercase+string.digits) for _ in range(17)))')
    sk=$(python3 -c 'import secrets,string; print("".join(secrets.choice(string.ascii_letters+string.digits) for _ in range(40)))')
    # RUSTFS_CONSOLE_ENABLE, not --console-enable: at 1.0.0-beta.7 the flag takes no value.
    RUSTFS_ACCESS_KEY=$ak RUSTFS_SECRET_KEY=$sk RUSTFS_CONSOLE_ENABLE=false RUSTFS_CHECK_UPDATE=false \
      RUSTFS_OBS_LOGGER_LEVEL=warn "$dir/rustfs" server --address "127.0.0.1:$p" --console-address "127.0.0.1:$console" \
      "$dir/data" >"$dir/rustfs.log" 2>&1 &
    echo $! >"$dir/pid"
    # RustFS answers HTTP before it can create a bucket, and on a loaded machine (the end of a
    # test run) it takes well over ten seconds to initialise: retry the bucket for a minute.
    # 409 is a retry that had in fact succeeded.
    created=
    for _ in $(seq 120); do
      code=$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ak:$sk" \
        -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
        -X PUT "http://127.0.0.1:$p/rustshare-tests" || true)
      if [ "$code" = 200 ] || [ "$code" = 409 ]; then created=1; break; fi
      kill -0 "$(cat "$dir/pid")" 2>/dev/null || break
      sleep 0.5
    done
    [ -n "$created" ] \
      || { echo "rustfs.sh: RustFS did not come up (see $dir/rustfs.log)" >&2; tail -n 20 "$dir/rustfs.log" >&2; kill "$(cat "$dir/pid")" 2>/dev/null; exit 1; }
    printf 'RUSTSHARE_TEST_S3_ENDPOINT=http://127.0.0.1:%s\nRUSTSHARE_TEST_S3_ACCESS_KEY_ID=%s\nRUSTSHARE_TEST_S3_SECRET_ACCESS_KEY=%s\nRUSTSHARE_TEST_S3_BUCKET=rustshare-tests\n' \
      "$p" "$ak" "$sk" >"$dir/s3.env"
    chmod 0600 "$dir/s3.env"
    echo "http://127.0.0.1:$p $ak $sk"
    ;;
  stop)
    [ -f "$dir/pid" ] && kill -9 "$(cat "$dir/pid")" 2>/dev/null || true
    rm -rf "$dir/data" "$dir/rustfs" "$dir/pid" "$dir/s3.env"
    ;;
  *) echo "rustfs.sh: unknown command $cmd (start or stop)" >&2; exit 2 ;;
esac
