"""The SSE fan-out as a shared service: a few Redis connections for every followed import, a cap, quiet logs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

import aiohttp
import orjson
import pytest
import redis.asyncio as aioredis

from tests.helpers.environment import free_port
from tests.helpers.import_rows import new_import
from tests.helpers.sse import SECRET, SseReader, connect, eventually, expect_error, open_stream
from theset_daemon.runtime import config
from theset_daemon.imports import plan
from theset_daemon.imports.signing import sign_events_token
from theset_daemon.imports.progress import stream_key
from theset_daemon.imports.stream import (
    CONTROL_CONNECTIONS,
    ProgressHub,
    Reconnect,
    Sink,
    StreamEntry,
    Subscription,
    reader_client,
)
from theset_daemon.store import imports as imports_store


def sse_client(namespace: str, redis_url: str, readers: int, **kw: Any) -> aioredis.Redis:
    settings = config.load({"THESET_REDIS_URL": redis_url, "THESET_REDIS_NAMESPACE": namespace})
    return reader_client(settings, readers=readers, **kw)


async def sse_connections(admin: aioredis.Redis, namespace: str) -> int:
    clients = await admin.client_list()
    return sum(1 for c in clients if c.get("name") == f"{namespace}:sse")


async def test_thirty_followed_imports_share_two_reader_connections(
    start_daemon, http, reporter, pg_pool, async_redis, namespace, redis_url
) -> None:
    client = sse_client(namespace, redis_url, readers=2)
    daemon = await start_daemon(redis=client, readers=2)
    try:
        imports = [await new_import(pg_pool) for _ in range(30)]
        readers = [(await open_stream(http, daemon, import_id))[0] for import_id in imports]
        assert (daemon.hub.readers, daemon.hub.clients, daemon.hub.connections) == (30, 30, 2)
        assert await sse_connections(async_redis, namespace) <= 2 + CONTROL_CONNECTIONS

        sent = [await reporter.report(import_id, stage="shows", progress=40) for import_id in imports]
        for reader, entry_id in zip(readers, sent):
            event = await reader.event()
            assert (event["event"], event["id"]) == ("progress", entry_id)
        done = [await reporter.report(i, stage=plan.DONE, progress=100, status=imports_store.STATUS_COMPLETED) for i in imports]
        for reader, entry_id in zip(readers, done):
            assert (await reader.event())["id"] == entry_id
            assert await reader.event() is None
        await eventually(lambda: daemon.hub.readers == 0)
    finally:
        await daemon.hub.close()
        await client.aclose()


async def test_a_new_import_wakes_the_reader_blocked_on_the_others(
    start_daemon, http, reporter, pg_pool, namespace, redis_url
) -> None:
    client = sse_client(namespace, redis_url, readers=1, socket_timeout=120)
    daemon = await start_daemon(redis=client, readers=1, block_ms=60_000)  # a block far beyond the test's waits
    try:
        first, second = await new_import(pg_pool), await new_import(pg_pool)
        await open_stream(http, daemon, first)
        reader = daemon.hub._readers[0]  # noqa: SLF001
        await eventually(lambda: reader.reading is not None)  # its XREAD (on the first import only) is out
        late, _ = await open_stream(http, daemon, second)
        entry_id = await reporter.report(second, stage="artist", progress=10)
        assert (await late.event())["id"] == entry_id  # within the reader's 5 s, not after its 60 s block
    finally:
        await daemon.hub.close()
        await client.aclose()


async def test_streams_beyond_the_cap_get_503_with_a_jittered_retry_after(start_daemon, http, pg_pool) -> None:
    daemon = await start_daemon(max_streams=2)
    import_id = await new_import(pg_pool)
    first, _ = await open_stream(http, daemon, import_id)
    await open_stream(http, daemon, import_id)
    refused = await connect(http, daemon, import_id)
    body = await expect_error(refused, 503, "too_many_streams")
    assert "2 event streams" in body["message"]
    assert 2 <= int(refused.headers["Retry-After"]) <= 5  # retry_ms 1.5 s plus up to twice that
    first.response.close()
    await eventually(lambda: daemon.hub.streams == 1)
    await open_stream(http, daemon, import_id)  # room again


async def test_redis_away_is_logged_once_for_many_clients(start_daemon, http, pg_pool, caplog) -> None:
    daemon = await start_daemon(url=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    import_id = await new_import(pg_pool)
    with caplog.at_level(logging.WARNING, logger="theset_daemon.imports.stream"):
        for _ in range(10):
            event = await SseReader(await connect(http, daemon, import_id)).event()
            assert event["event"] == "reconnect" and event["data"] == {"reason": "unavailable"}
    lines = [r for r in caplog.records if "interrupted" in r.getMessage()]
    assert len(lines) == 1, caplog.text
    assert daemon.hub.errors._seen  # noqa: SLF001 - the other nine are counted for the next line


@pytest.mark.parametrize("fans", [200])
async def test_fans_of_one_import_share_one_read_and_all_get_done(
    start_daemon, reporter, pg_pool, fans, namespace, redis_url
) -> None:
    client = sse_client(namespace, redis_url, readers=2)  # 4 connections for 200 fans' replays: they queue
    daemon = await start_daemon(redis=client)
    import_id = await new_import(pg_pool)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=30))
    readers = await asyncio.gather(*(open_stream(session, daemon, import_id) for _ in range(fans)))
    assert (daemon.hub.readers, daemon.hub.clients) == (1, fans)
    progress = await reporter.report(import_id, stage="catalog", progress=50)
    done = await reporter.report(import_id, stage=plan.DONE, progress=100, status=imports_store.STATUS_COMPLETED)

    async def read_all(reader: SseReader) -> list[tuple[str, str]]:
        return [(e["event"], e["id"]) for e in [await reader.event(), await reader.event()]]

    got = await asyncio.gather(*(read_all(r) for r, _ in readers))
    assert all(g == [("progress", progress), ("done", done)] for g in got)
    await eventually(lambda: daemon.hub.readers == 0)
    await session.close()
    await daemon.hub.close()
    await client.aclose()


class _Transport:
    """A client socket as the sink sees it: what was written, how much is still queued."""

    def __init__(self, queued: int = 0) -> None:
        self.queued, self.written, self.closing = queued, [], False

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return self.queued

    def write(self, data: bytes) -> None:
        self.written.append(data)


async def test_a_caught_up_client_gets_live_entries_straight_from_the_reader() -> None:

    transport = _Transport()
    sub = Subscription("1-0", queue_size=10)
    sub.attach(Sink(transport, chunked=True, max_buffer=1000))  # type: ignore[arg-type]
    live, final = StreamEntry.of("2-0", {"status": "running"}), StreamEntry.of("3-0", {"status": "completed"})
    for entry in (live, live, final):  # the repeat is skipped by id
        sub.push(entry)
    assert transport.written == [live.chunk, final.chunk]
    assert live.chunk == b"%x\r\n%s\r\n" % (len(live.frame), live.frame)
    assert await sub.finished_within(0.01) is True


async def test_a_client_whose_socket_backs_up_is_told_to_reconnect() -> None:

    sub = Subscription("1-0", queue_size=10)
    sub.attach(Sink(_Transport(queued=5000), chunked=False, max_buffer=1000))  # type: ignore[arg-type]
    sub.push(StreamEntry.of("2-0", {"status": "running"}))
    with pytest.raises(Reconnect, match="behind"):
        await sub.finished_within(0.01)


async def test_an_http_1_0_client_gets_plain_frames(start_daemon, reporter, pg_pool) -> None:
    daemon = await start_daemon()
    import_id = await new_import(pg_pool)
    port = int(daemon.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    token = sign_events_token(SECRET, import_id, ttl_s=60)
    writer.write(f"GET /api/imports/{import_id}/events?token={token} HTTP/1.0\r\n\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\n\n"), 5)  # status, headers, then the snapshot
    assert head.startswith(b"HTTP/1.0 200") and b"chunked" not in head.lower()
    while b"event: snapshot" not in head:
        head += await asyncio.wait_for(reader.readuntil(b"\n\n"), 5)
    done = await reporter.report(import_id, stage=plan.DONE, progress=100, status=imports_store.STATUS_COMPLETED)
    rest = await asyncio.wait_for(reader.read(), 5)  # to the end: the server closes after done
    assert rest.startswith(f"id: {done}\nevent: done\ndata: {{".encode()) and rest.endswith(b"}\n\n")
    writer.close()


async def test_fans_of_one_import_get_one_shared_frame(async_redis, namespace, reporter, pg_pool) -> None:  # noqa: F811

    hub = ProgressHub(async_redis, namespace, block_ms=1000)
    import_id = await new_import(pg_pool)
    transports = [_Transport() for _ in range(50)]
    try:
        async with contextlib.AsyncExitStack() as stack:
            for transport in transports:
                sub = await stack.enter_async_context(hub.subscribe(import_id))
                sub.attach(Sink(transport, chunked=True, max_buffer=1000))  # type: ignore[arg-type]
            await reporter.report(import_id, stage="catalog", progress=50)
            await eventually(lambda: all(t.written for t in transports))
        frames = [t.written[0] for t in transports]
        assert all(frame is frames[0] for frame in frames)  # encoded once, the same bytes for every fan
        assert b"event: progress" in frames[0]
    finally:
        await hub.close()


async def test_a_client_over_the_high_water_mark_is_dropped_and_the_others_keep_receiving(
    start_daemon, reporter, pg_pool  # noqa: F811
) -> None:
    daemon = await start_daemon(max_buffer=16384)
    import_id = await new_import(pg_pool)
    port = int(daemon.url.rsplit(":", 1)[1])
    request = f"GET /api/imports/{import_id}/events?token={sign_events_token(SECRET, import_id, ttl_s=60)} HTTP/1.0\r\n\r\n"

    async def connect(rcvbuf: int | None = None) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        sock = socket.socket()
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # a small window: the daemon's side backs up
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=2**16)  # pauses reading at 128 KiB
        writer.write(request.encode())
        head = b""
        while b"event: snapshot" not in head:
            head += await asyncio.wait_for(reader.readuntil(b"\n\n"), 5)
        return reader, writer

    slow, slow_writer = await connect(rcvbuf=4096)  # reads nothing from here on
    fast, fast_writer = await connect()
    received = []

    async def follow() -> None:
        while frame := await fast.readuntil(b"\n\n"):
            received.append(frame)
            if b"event: done" in frame:
                return

    following = asyncio.ensure_future(follow())
    padding = "x" * 8000
    sent = 0
    while daemon.hub.clients == 2 and sent < 2000:  # bounded: the slow client must go long before that
        await reporter.report(import_id, stage="catalog", progress=1 + sent % 98, message=padding)
        sent += 1
    await eventually(lambda: daemon.hub.clients == 1)
    done = await reporter.report(import_id, stage=plan.DONE, progress=100, status=imports_store.STATUS_COMPLETED)
    await asyncio.wait_for(following, 10)
    assert sum(b"event: progress" in f for f in received) == sent and f"id: {done}".encode() in received[-1]
    # The slow client, reading at last: its backlog, then the reconnect hint, then the end (or a reset).
    # (read within the daemon's grace: after it, a client that never reads is cut off with a reset)
    rest = b""
    while data := await asyncio.wait_for(slow.read(2**20), 10):
        rest += data
    assert b"event: done" not in rest
    assert rest.endswith(b'event: reconnect\ndata: {"reason":"behind"}\n\n')
    for writer in (slow_writer, fast_writer):
        writer.close()


async def test_an_entry_appended_without_a_change_notice_still_arrives(async_redis, namespace, pg_pool) -> None:  # noqa: F811
    """The readers block on the change notices; a sweep over every followed import catches what has none."""


    hub = ProgressHub(async_redis, namespace, block_ms=200)
    import_id = await new_import(pg_pool)
    transport = _Transport()
    try:
        async with hub.subscribe(import_id) as sub:
            sub.attach(Sink(transport, chunked=False, max_buffer=1000))  # type: ignore[arg-type]
            entry_id = await async_redis.xadd(stream_key(namespace, import_id), {"data": orjson.dumps({"status": "running"})})
            await eventually(lambda: bool(transport.written))
        assert transport.written[0].startswith(b"id: %s\nevent: progress\n" % entry_id)
    finally:
        await hub.close()
