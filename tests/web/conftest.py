"""Fixtures of the SSE tests: aiohttp servers standing for daemons, an HTTP client, a progress reporter."""

from __future__ import annotations

from typing import Any, AsyncIterator, Awaitable, Callable

import aiohttp
import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp import web

from tests.helpers.environment import free_port
from tests.helpers.sse import SECRET, Daemon
from theset_daemon.runtime import config
from theset_daemon.imports import progress as p
from theset_daemon.imports.stream import ProgressHub
from theset_daemon.web.app import IMPORT_ROUTES, close_hub_on_shutdown
from theset_daemon.web.errors import json_errors
from theset_daemon.web.keys import HUB, PROGRESS, SETTINGS


@pytest.fixture
async def start_daemon(
    pg_pool: asyncpg.Pool, redis_url: str, namespace: str
) -> AsyncIterator[Callable[..., Awaitable[Daemon]]]:
    daemons: list[Daemon] = []

    async def start(
        *, heartbeat_s: float = 30.0, decode_responses: bool = False, url: str | None = None,
        redis: aioredis.Redis | None = None, **hub_options: Any,
    ) -> Daemon:
        settings = config.load({"THESET_SSE_SECRET": SECRET, "THESET_REDIS_NAMESPACE": namespace})
        redis = redis or aioredis.Redis.from_url(url or redis_url, decode_responses=decode_responses)
        app = web.Application(middlewares=[json_errors])
        app[SETTINGS] = settings
        app[PROGRESS] = p.ProgressReporter(pg_pool, redis, namespace)
        hub_options = {"retry_ms": 1500, "block_ms": 1000, **hub_options}
        app[HUB] = ProgressHub(redis, namespace, heartbeat_s=heartbeat_s, **hub_options)
        app.add_routes(IMPORT_ROUTES)
        close_hub_on_shutdown(app)
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=5)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        daemon = Daemon(f"http://127.0.0.1:{port}", app[HUB], runner, redis)
        daemons.append(daemon)
        return daemon

    yield start
    for daemon in daemons:
        await daemon.runner.cleanup()
        await daemon.redis.aclose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
def reporter(pg_pool: asyncpg.Pool, async_redis: aioredis.Redis, namespace: str) -> p.ProgressReporter:
    return p.ProgressReporter(pg_pool, async_redis, namespace)
