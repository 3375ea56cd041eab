"""A minimal HTTP/3 client on aioquic (the wheel ships none): one request, returns
(status, headers, body). Used by the tests and by scripts/bench-cdn.sh."""

import asyncio
import ssl
import sys
import time

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration


class _Client(QuicConnectionProtocol):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.h3 = H3Connection(self._quic)
        self.waiters = {}

    def quic_event_received(self, event):
        for ev in self.h3.handle_event(event):
            state = self.waiters.get(ev.stream_id)
            if state is None:
                continue
            if isinstance(ev, HeadersReceived):
                state["headers"].extend(ev.headers)
            elif isinstance(ev, DataReceived):
                state["body"].extend(ev.data)
            if getattr(ev, "stream_ended", False):
                state["done"].set_result(None)

    async def request(self, method, authority, path, headers=()):
        sid = self._quic.get_next_available_stream_id()
        state = {"headers": [], "body": bytearray(), "done": self._loop.create_future()}
        self.waiters[sid] = state
        hdrs = [(b":method", method.encode()), (b":scheme", b"https"), (b":authority", authority.encode()), (b":path", path.encode()), (b"user-agent", b"rustshare-h3-test")]
        hdrs += [(k.lower().encode(), v.encode()) for k, v in headers]
        self.h3.send_headers(stream_id=sid, headers=hdrs, end_stream=True)
        self.transmit()
        await asyncio.wait_for(state["done"], 60)
        status, out = 0, {}
        for k, v in state["headers"]:
            if k == b":status":
                status = int(v)
            else:
                out[k.decode()] = v.decode()
        return status, out, bytes(state["body"])


async def fetch_many(host, port, authority, paths, headers=(), cafile=None):
    cfg = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name=authority.split(":")[0])
    if cafile:
        cfg.load_verify_locations(cafile)
    else:
        cfg.verify_mode = ssl.CERT_NONE
    async with connect(host, port, configuration=cfg, create_protocol=_Client) as client:
        return [await client.request("GET", authority, p, headers) for p in paths]


def get(host, port, authority, path, headers=(), cafile=None):
    return asyncio.run(fetch_many(host, port, authority, [path], headers, cafile))[0]


if __name__ == "__main__":
    # h3client.py HOST PORT AUTHORITY PATH COUNT: downloads COUNT times, prints MiB/s.
    host, port, authority, path, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
    t = time.time()
    res = asyncio.run(fetch_many(host, port, authority, [path] * count))
    n = sum(len(b) for _, _, b in res)
    assert all(s == 200 for s, _, _ in res), [s for s, _, _ in res]
    print(f"{n / (time.time() - t) / 2**20:.1f}")
