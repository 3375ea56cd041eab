#!/usr/bin/env python3
"""Listing a versioned space against listing an unversioned one, through the same S3 face.

Fills two buckets on one endpoint: the unversioned one with N objects, the versioned one with
N versions (N/2 keys written twice, so half are noncurrent); then times a full paginated
ListObjectsV2 of the first and a full paginated ListObjectVersions of the second (1000 per page,
best of --rounds). Prints one line per listing and the ratio.

    bench-versions.py ENDPOINT ACCESS_KEY SECRET_KEY PLAIN_BUCKET VERSIONED_BUCKET N [--label L]
"""

import argparse
import concurrent.futures
import time

import boto3
from botocore.config import Config


def client(endpoint, ak, sk):
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, max_pool_connections=64,
                      retries={"max_attempts": 3}),
    )


def fill(c, bucket, keys, rounds):
    def put(k):
        for r in range(rounds):
            c.put_object(Bucket=bucket, Key=k, Body=f"{r}".encode())
    t = time.time()
    with concurrent.futures.ThreadPoolExecutor(32) as ex:
        list(ex.map(put, keys, chunksize=256))
    return time.time() - t


def time_list(fn, rounds):
    best, count = None, 0
    for _ in range(rounds):
        t = time.time()
        count = fn()
        dt = time.time() - t
        best = dt if best is None else min(best, dt)
    return best, count


def main():
    a = argparse.ArgumentParser()
    a.add_argument("endpoint")
    a.add_argument("ak")
    a.add_argument("sk")
    a.add_argument("plain")
    a.add_argument("versioned")
    a.add_argument("n", type=int)
    a.add_argument("--rounds", type=int, default=3)
    a.add_argument("--label", default="rustshare")
    args = a.parse_args()
    c = client(args.endpoint, args.ak, args.sk)
    n = args.n
    c.put_bucket_versioning(Bucket=args.versioned, VersioningConfiguration={"Status": "Enabled"})
    keys = [f"builds/{i // 1000:04d}/artifact-{i:07d}.bin" for i in range(n)]
    t1 = fill(c, args.plain, keys, 1)
    t2 = fill(c, args.versioned, keys[: n // 2], 2)
    print(f"{args.label}: filled {n} objects in {t1:.1f} s and {n} versions in {t2:.1f} s")

    def list_plain():
        total = 0
        for page in c.get_paginator("list_objects_v2").paginate(Bucket=args.plain, PaginationConfig={"PageSize": 1000}):
            total += len(page.get("Contents", []))
        return total

    def list_versions():
        total = 0
        for page in c.get_paginator("list_object_versions").paginate(Bucket=args.versioned, PaginationConfig={"PageSize": 1000}):
            total += len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
        return total

    tp, np_ = time_list(list_plain, args.rounds)
    tv, nv = time_list(list_versions, args.rounds)
    assert np_ == n and nv == n, (np_, nv)
    print(f"{args.label}: ListObjectsV2 of {np_} objects        {tp:6.2f} s  ({np_ / tp:8.0f} keys/s)")
    print(f"{args.label}: ListObjectVersions of {nv} versions   {tv:6.2f} s  ({nv / tv:8.0f} versions/s)")
    print(f"{args.label}: versioned / unversioned listing time  {tv / tp:.2f}x")


if __name__ == "__main__":
    main()
