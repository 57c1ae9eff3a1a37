"""The side server cannot be held by slow clients: partial headers, idle keep-alives, one greedy peer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
from typing import AsyncIterator, Iterator

import aiohttp
import pytest
from aiohttp import web

from tests.helpers.environment import free_port
from theset_daemon.runtime import config
from theset_daemon.runtime.log_throttle import ThrottledLog
from theset_daemon.runtime.loop_monitor import LoopMonitor
from theset_daemon.runtime.readiness import ReadinessCheck
from theset_daemon.web.app import CONNECTION_GUARD, create_app, start_runner

PARTIAL = b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # headers never finished


class Server:
    def __init__(self, app: web.Application, port: int) -> None:
        self.app, self.port = app, port
        self.url = f"http://127.0.0.1:{port}"
        self.release = asyncio.Event()

    @property
    def guard(self):  # noqa: ANN201
        return self.app[CONNECTION_GUARD]


@pytest.fixture
async def serve() -> AsyncIterator:
    runners: list[web.AppRunner] = []

    async def start(**env: str) -> Server:
        settings = config.load({f"THESET_{k.upper()}": v for k, v in env.items()})
        app = create_app(settings, ReadinessCheck(), LoopMonitor())
        port = free_port()
        server = Server(app, port)

        async def hold(request: web.Request) -> web.Response:  # a request being served for a while
            await server.release.wait()
            return web.Response(text="released")

        app.router.add_get("/hold", hold)
        runner = await start_runner(app, handler_cancellation=True, shutdown_timeout=1)
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return server

    yield start
    for runner in runners:
        await runner.cleanup()


async def partial_clients(port: int, count: int) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    clients = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(PARTIAL)
        await writer.drain()
        clients.append((reader, writer))
    return clients


def close_all(clients: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]) -> None:
    for _, writer in clients:
        writer.close()


async def readyz(url: str) -> int:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        async with http.get(f"{url}/readyz") as response:
            return response.status


@contextlib.contextmanager
def open_files_limit(extra: int) -> Iterator[None]:
    """Lower this process's open-files limit to what it holds now plus ``extra`` (restored after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + extra, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_a_crowd_of_partial_headers_cannot_make_readyz_unreachable(serve) -> None:
    # 400 slow clients in a process whose descriptors would run out at ~540 connections' worth:
    # held on the server side too (800 sockets), the accept of /readyz would fail (EMFILE).
    server = await serve(http_idle_timeout="60", http_max_idle_connections="40")
    with open_files_limit(400 + 40 + 100):
        clients = await partial_clients(server.port, 400)
        try:
            assert await readyz(server.url) == 200
            assert server.guard.evicted >= 400 - 40
            assert server.guard.idle <= 40
            # the oldest were the ones closed: the first client reads EOF, not an answer
            assert await asyncio.wait_for(clients[0][0].read(), 5) == b""
        finally:
            close_all(clients)


async def test_a_connection_without_a_complete_request_is_closed_after_the_idle_timeout(serve) -> None:
    server = await serve(http_idle_timeout="0.5")
    [(reader, writer)] = await partial_clients(server.port, 1)
    try:
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server, no answer
    finally:
        writer.close()


async def test_a_request_being_served_is_never_evicted(serve) -> None:
    server = await serve(http_idle_timeout="60", http_max_idle_connections="5")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        held = asyncio.ensure_future(http.get(f"{server.url}/hold"))
        await asyncio.sleep(0)  # let the request go out before the crowd
        while not server.guard._busy:  # noqa: SLF001 - the server has it in hand
            await asyncio.sleep(0.01)
        clients = await partial_clients(server.port, 50)
        try:
            server.release.set()
            response = await held
            assert response.status == 200 and await response.text() == "released"
        finally:
            close_all(clients)


async def test_a_peer_over_its_cap_is_refused_and_logged_once(serve, caplog) -> None:
    server = await serve(http_idle_timeout="60", http_max_connections_per_peer="3")
    clients = await partial_clients(server.port, 3)
    with caplog.at_level(logging.WARNING, logger="theset_daemon.web.connection_guard"):
        extra = await partial_clients(server.port, 3)
        try:
            for reader, _ in extra:
                assert await asyncio.wait_for(reader.read(), 5) == b""
        finally:
            close_all(extra)
    close_all(clients)
    assert server.guard.refused == 3
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) == 1


def test_throttled_log_writes_once_per_interval_with_the_count(caplog) -> None:
    now = [100.0]
    log = ThrottledLog(logging.getLogger("theset_daemon.test_throttle"), 60.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="theset_daemon.test_throttle"):
        assert [log.warning("redis", "away: %s", n) for n in range(5)] == [True, False, False, False, False]
        assert log.warning("postgres", "away too")  # another problem has its own line
        now[0] += 61
        assert log.warning("redis", "away: %s", 5)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["away: 0", "away too", "away: 5 (4 more since the last report 60s ago or less)"]
    assert caplog.records[-1].repeats == 4


def test_idle_timeout_and_caps_are_settings() -> None:
    settings = config.load({})
    assert (settings.http_idle_timeout, settings.http_max_idle_connections, settings.http_max_connections_per_peer) == (
        15.0, 1024, 0)
    with pytest.raises(config.ConfigError, match="THESET_HTTP_MAX_CONNECTIONS_PER_PEER"):
        config.load({"THESET_HTTP_MAX_CONNECTIONS_PER_PEER": "-1"})
    with pytest.raises(config.ConfigError, match="THESET_SSE_MAX_STREAMS"):
        config.load({"THESET_SSE_MAX_STREAMS": "0"})
