#!/usr/bin/env python3
"""Slow and idle clients against the edge and nginx, in one run on loopback.

For each server (our edge with its default limits; nginx 1.22 with its defaults and 10,000
worker connections), three phases, each with wrk measuring normal requests meanwhile
(1 thread, 8 keep-alive connections, 10 s, `--latency`):

  baseline   nothing else going on;
  slowloris  3,000 connections that send a request line and then one header line every 5 s,
             for 30 s: how many the server closed, after how long, and wrk's p99 meanwhile;
  idle flood 20,000 connections attempted that never send a byte, held for 20 s: how many were
             accepted and how many the server closed, whether wrk (which connects afterwards)
             and 200 fresh-connection requests succeed, and wrk's p99.

Usage: scripts/bench-limits.py EDGE_URL NGINX_URL   (scripts/bench-limits.sh starts both)
"""

import asyncio
import re
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse


def wrk(url):
    out = subprocess.run(["wrk", "-t1", "-c8", "-d10s", "--latency", url], capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errs = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def ms(label):
        m = re.search(rf"\s{label}\s+([\d.]+)(us|ms|s)\b", out)
        if not m:
            return float("nan")
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    return {"rps": rps, "p50": ms("50%"), "p99": ms("99%"), "errors": (errs.group(1) if errs else "none") + (f", {non2xx.group(1)} non-2xx" if non2xx else "")}


async def slow_client(host, port, closed, t0, hold):
    try:
        r, w = await asyncio.open_connection(host, port)
    except OSError:
        closed.append(("refused", 0.0))
        return
    try:
        w.write(b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\n")
        await w.drain()
        while time.monotonic() - t0 < hold:
            try:
                data = await asyncio.wait_for(r.read(1024), timeout=5)
                if data == b"" or data.startswith(b"HTTP/"):
                    closed.append(("closed", time.monotonic() - t0))
                    return
            except asyncio.TimeoutError:
                w.write(b"X-Slow: 1\r\n")
                await w.drain()
    except (ConnectionError, OSError):
        closed.append(("closed", time.monotonic() - t0))
        return
    finally:
        w.close()


FLOOD = r"""
import resource, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks, failed = [], 0
for _ in range(n):
    try:
        s = socket.socket()
    except OSError:
        failed += 1
        continue
    s.setblocking(False)
    s.connect_ex((host, port))
    socks.append(s)
print(len(socks), failed, flush=True)
sys.stdin.readline()
open_now = 0
for s in socks:
    try:
        if s.recv(1) != b"":
            open_now += 1
    except BlockingIOError:
        open_now += 1
    except OSError:
        pass
print(open_now, flush=True)
"""


def start_flood(host, port, n):
    """20,000 idle connections from a process of their own (each process has its own descriptor
    limit, and wrk needs some)."""
    p = subprocess.Popen([sys.executable, "-c", FLOOD, host, str(port), str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    opened, failed = map(int, p.stdout.readline().split())
    return p, opened, failed


def end_flood(p):
    p.stdin.write("\n")
    p.stdin.flush()
    still = int(p.stdout.readline())
    p.stdin.close()
    p.wait()
    return still


def fresh_requests(url, n):
    u = urllib.parse.urlparse(url)
    ok = 0
    lat = []
    for _ in range(n):
        t = time.monotonic()
        try:
            with socket.create_connection((u.hostname, u.port), timeout=5) as c:
                c.sendall(f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}\r\nConnection: close\r\n\r\n".encode())
                if c.recv(16).startswith(b"HTTP/1.1 200"):
                    ok += 1
                    lat.append((time.monotonic() - t) * 1000)
        except OSError:
            pass
    return ok, (statistics.quantiles(lat, n=100)[98] if len(lat) > 2 else float("nan"))


async def run(name, url):
    u = urllib.parse.urlparse(url)
    host, port = u.hostname, u.port
    rows = {}
    rows["baseline"] = await asyncio.to_thread(wrk, url)
    # slowloris
    closed = []
    t0 = time.monotonic()
    tasks = [asyncio.create_task(slow_client(host, port, closed, t0, 30)) for _ in range(3000)]
    await asyncio.sleep(2)
    rows["slowloris"] = await asyncio.to_thread(wrk, url)
    await asyncio.gather(*tasks)
    times = [t for k, t in closed if k == "closed"]
    rows["slowloris"]["closed"] = f"{len(times)}/3000 closed by the server within 30 s" + (
        f" (median {statistics.median(times):.1f} s, max {max(times):.1f} s)" if times else ""
    )
    # idle flood
    flood, opened, failed = await asyncio.to_thread(start_flood, host, port, 20000)
    await asyncio.sleep(1.5)
    ok, p99_fresh = await asyncio.to_thread(fresh_requests, url, 200)
    rows["idle flood"] = await asyncio.to_thread(wrk, url)
    still = await asyncio.to_thread(end_flood, flood)
    rows["idle flood"]["closed"] = (
        f"20000 attempted, {opened} opened ({failed} over the client's own limit), {still} still open at the end; "
        f"fresh-connection requests {ok}/200 ok, p99 {p99_fresh:.1f} ms"
    )
    await asyncio.sleep(2)
    return name, rows


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    results = [asyncio.run(run(n, u)) for n, u in (("edge", sys.argv[1]), ("nginx", sys.argv[2]))]
    print(f"\nclient open-file limit {hard}\n")
    print("| server | phase | wrk req/s | p50 ms | p99 ms | wrk errors | attack clients |")
    print("|---|---|---:|---:|---:|---|---|")
    for name, rows in results:
        for phase, r in rows.items():
            print(f"| {name} | {phase} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} | {r.get('closed', '')} |")


if __name__ == "__main__":
    main()
