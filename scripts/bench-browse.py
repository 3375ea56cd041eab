#!/usr/bin/env python3
"""How fast the console's object browser opens a space of N objects (issue 21: "a space with
100,000 objects opens at once"): fills a bucket with N small objects in 100 folders, then times
the first page of each view the browser asks for, through the console API
(/api/v1/spaces/{space}/objects, which is the S3 face's ListObjectsV2 called in process) and,
for comparison, the same ListObjectsV2 page asked of an S3 endpoint with boto3 (ours, and a
peer's when given). Best of --rounds; milliseconds.

    bench-browse.py --fill ENDPOINT AK SK BUCKET N
    bench-browse.py --console URL TOKEN BUCKET --label L
    bench-browse.py --s3 ENDPOINT AK SK BUCKET --label L
    bench-browse.py --upload URL TOKEN BUCKET MIB    (the console's upload path: MIB of random
        bytes in 16 MiB parts through /objects/multipart, then downloaded and compared)
"""

import argparse
import concurrent.futures
import time

import boto3
import requests
from botocore.config import Config

VIEWS = [
    ("top folder", "", None),
    ("100 folders", "builds/", None),
    ("a folder, first page", "builds/b050/", None),
    ("a folder, a later page", "builds/b050/", "builds/b050/f00800.bin"),
    ("the last folder", "builds/b099/", None),
]


def client(endpoint, ak, sk):
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, max_pool_connections=64,
                      retries={"max_attempts": 3}),
    )


def best(fn, rounds):
    out = None
    for _ in range(rounds):
        t = time.perf_counter()
        n = fn()
        dt = (time.perf_counter() - t) * 1000
        out = (dt, n) if out is None or dt < out[0] else out
    return out


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--fill", nargs=5, metavar=("ENDPOINT", "AK", "SK", "BUCKET", "N"))
    a.add_argument("--console", nargs=3, metavar=("URL", "TOKEN", "BUCKET"))
    a.add_argument("--s3", nargs=4, metavar=("ENDPOINT", "AK", "SK", "BUCKET"))
    a.add_argument("--upload", nargs=4, metavar=("URL", "TOKEN", "BUCKET", "MIB"))
    a.add_argument("--label", default="")
    a.add_argument("--rounds", type=int, default=5)
    args = a.parse_args()
    if args.fill:
        ep, ak, sk, b, n = args.fill
        n = int(n)
        c = client(ep, ak, sk)
        keys = [f"builds/b{i % 100:03}/f{i // 100:05}.bin" for i in range(n)]
        t = time.time()
        with concurrent.futures.ThreadPoolExecutor(32) as ex:
            list(ex.map(lambda k: c.put_object(Bucket=b, Key=k, Body=b"x"), keys, chunksize=256))
        print(f"filled {n} objects in {time.time() - t:.1f} s ({n / (time.time() - t):.0f}/s)")
        return
    if args.upload:
        upload(*args.upload)
        return
    for name, prefix, after in VIEWS:
        if args.console:
            url, token, b = args.console
            s = requests.Session()
            s.headers["Authorization"] = f"Bearer {token}"

            def run():
                q = {"prefix": prefix, "limit": 200}
                if after:
                    q["after"] = after
                r = s.get(f"{url}/api/v1/spaces/{b}/objects", params=q, timeout=60)
                r.raise_for_status()
                j = r.json()
                return len(j["folders"]) + len(j["objects"])
        else:
            ep, ak, sk, b = args.s3
            c = client(ep, ak, sk)

            def run():
                q = {"Bucket": b, "Prefix": prefix, "Delimiter": "/", "MaxKeys": 200}
                if after:
                    q["StartAfter"] = after
                r = c.list_objects_v2(**q)
                return len(r.get("Contents", [])) + len(r.get("CommonPrefixes", []))
        ms, n = best(run, args.rounds)
        print(f"{args.label:<28} {name:<24} {ms:8.1f} ms  {n:4} entries")


def upload(url, token, bucket, mib):
    import hashlib
    import os
    part = 16 * 1024 * 1024
    size = int(mib) * 1024 * 1024
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    base = f"{url}/api/v1/spaces/{bucket}/objects"
    key = {"key": f"upload-{mib}MiB.bin"}
    want = hashlib.sha256()
    t = time.perf_counter()
    r = s.post(f"{base}/multipart", params=key, timeout=60)
    r.raise_for_status()
    uid = r.json()["upload_id"]
    parts = []
    for n, off in enumerate(range(0, size, part), start=1):
        chunk = os.urandom(min(part, size - off))
        want.update(chunk)
        r = s.put(f"{base}/multipart/{uid}/{n}", params=key, data=chunk, timeout=120)
        r.raise_for_status()
        parts.append(r.json())
    r = s.post(f"{base}/multipart/{uid}/complete", params=key, json={"parts": parts}, timeout=300)
    r.raise_for_status()
    up = time.perf_counter() - t
    t = time.perf_counter()
    got = hashlib.sha256()
    with s.get(f"{base}/download", params=key, stream=True, timeout=300) as r:
        r.raise_for_status()
        for b in r.iter_content(1 << 20):
            got.update(b)
    down = time.perf_counter() - t
    assert got.digest() == want.digest(), "the bytes differ"
    print(f"{mib} MiB in {len(parts)} parts: uploaded in {up:.1f} s ({int(mib) / up:.0f} MiB/s, random bytes made on the way), "
          f"downloaded in {down:.1f} s ({int(mib) / down:.0f} MiB/s), SHA-256 equal")


if __name__ == "__main__":
    main()
