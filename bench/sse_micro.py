"""What one SSE event costs the daemon per fan, printed as one JSON object.

    .venv/bin/python bench/sse_micro.py [--fans 5000] [--feeds 500]

* ``fanout_us_per_fan``: the reader's fan-out of one entry to ``--fans`` caught-up
  subscribers of one import, with stand-in transports (no syscall): our Python per fan;
* ``loopback_write_us``: a bare uvloop ``transport.write`` of a 300-byte frame to each of
  ``--fans`` real loopback sockets (the kernel's share; the floor of any fan-out here);
* ``xread_pack_ms``: packing the XREAD over ``--feeds`` stream keys, redis-py's
  ``pack_command`` against :func:`~theset_daemon.imports.stream.xread_command`.
"""

from __future__ import annotations

import os
import sys

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse
import asyncio
import resource
import socket
import statistics
import time

import orjson


class _Transport:
    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def write(self, data: bytes) -> None:
        pass


async def fanout_us(fans: int) -> float:
    from theset_daemon.imports import stream as s

    feed = s._Feed("k", "1-0")
    for _ in range(fans):
        sub = s.Subscription("1-0", 1000)
        sub.attach(s.Sink(_Transport(), chunked=True, max_buffer=10**6))  # type: ignore[arg-type]
        feed.subscribers.add(sub)
    reader = s._Reader.__new__(s._Reader)
    reader.feeds = {"k": feed}
    data = orjson.dumps({"importId": "x", "status": "running", "progress": 5, "message": "step 3"})
    times = []
    for n in range(2, 30):
        began = time.perf_counter()
        await reader._deliver([("k", [s.StreamEntry(f"{n}-0", data, orjson.loads(data))])])
        times.append(time.perf_counter() - began)
    return statistics.median(times) / fans * 1e6


async def loopback_write_us(fans: int) -> float:
    transports: list[asyncio.Transport] = []

    class Server(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            transports.append(transport)  # type: ignore[arg-type]

    loop = asyncio.get_running_loop()
    server = await loop.create_server(Server, "127.0.0.1", 0, backlog=8192)
    port = server.sockets[0].getsockname()[1]
    clients = []
    for n in range(fans):
        client = socket.create_connection(("127.0.0.1", port))
        client.setblocking(False)
        clients.append(client)
        if n % 20 == 0:
            await asyncio.sleep(0.001)
    while len(transports) < fans:
        await asyncio.sleep(0.01)
    frame, times = b"x" * 300, []
    for _ in range(5):
        began = time.perf_counter()
        for transport in transports:
            transport.write(frame)
        times.append(time.perf_counter() - began)
        for client in clients:
            try:
                while client.recv(65536):
                    pass
            except BlockingIOError:
                pass
    for client in clients:
        client.close()
    server.close()
    return statistics.median(times) / fans * 1e6


def xread_pack_ms(feeds: int) -> dict[str, float]:
    from redis.asyncio.connection import Connection

    from theset_daemon.imports.stream import _Feed, xread_command

    keys = {f"ns:progress:{n:08x}-aaaa-bbbb-cccc-ddddeeeeffff": f"17647{n:08d}-0" for n in range(feeds)}
    conn, items = Connection(), [_Feed(k, v) for k, v in keys.items()]
    began = time.perf_counter()
    for _ in range(20):
        conn.pack_command("XREAD", "COUNT", 100, "BLOCK", 5000, "STREAMS", *keys, *keys.values())
    redis_py = (time.perf_counter() - began) / 20 * 1000
    began = time.perf_counter()
    for n in range(20):
        items[n].cursor = f"1765{n}-0"
        xread_command(items, 100, 5000)
    ours = (time.perf_counter() - began) / 20 * 1000
    return {"redis_py": round(redis_py, 3), "ours": round(ours, 3)}


async def main(args: argparse.Namespace) -> dict[str, object]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return {"fans": args.fans, "fanout_us_per_fan": round(await fanout_us(args.fans), 2),
            "loopback_write_us": round(await loopback_write_us(args.fans), 2),
            "xread_pack_ms": xread_pack_ms(args.feeds), "load_avg_1m": round(os.getloadavg()[0], 2)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fans", type=int, default=5000)
    parser.add_argument("--feeds", type=int, default=500)
    import uvloop

    print(orjson.dumps(uvloop.run(main(parser.parse_args()))).decode())
