"""A real daemon with more followed imports than the job path has Redis connections stays ready.

The lighter sibling of ``bench/sse.py``: 80 fans on 80 distinct imports (the job
path's async pool has 64 connections; one XREAD connection per import used to
turn ``/readyz`` 503 at about 64) plus 100 fans of one import, on one daemon
subprocess. ``/readyz`` and the admin API keep answering, the SSE path holds no
more Redis connections than its readers and control connections, and every
stream ends with its ``done`` event.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import AsyncIterator, Iterator

import aiohttp
import asyncpg
import pytest
import redis
import redis.asyncio as aioredis

from tests.helpers.environment import ADMIN_TOKEN, daemon_environment
from tests.helpers.daemon_process import DaemonProcess
from tests.helpers.sse import SseReader
from theset_daemon.imports import plan
from theset_daemon.imports import progress as p
from theset_daemon.store import create_pool
from theset_daemon.store import imports as imports_store
from theset_daemon.imports.signing import sign_events_token
from theset_daemon.imports.stream import CONTROL_CONNECTIONS

DISTINCT = 80
FANS_OF_ONE = 100
READERS = 2


@pytest.fixture(scope="module")
def daemon(redis_url: str, database_url: str) -> Iterator[DaemonProcess]:
    namespace = f"test-sse-load-{uuid.uuid4().hex[:8]}"
    # The imports here are rows without jobs: reconciliation may re-run their phase 1, which must
    # fail on loopback rather than look up a provider's public host.
    dead = {f"THESET_{n}": "http://127.0.0.1:9/unused"
            for n in ("SPOTIFY_API_URL", "SPOTIFY_ACCOUNTS_URL", "TICKETMASTER_API_URL", "SETLISTFM_API_URL")}
    env = daemon_environment(redis_url, namespace, database_url, THESET_SSE_READERS=str(READERS), **dead)
    process = DaemonProcess(env).start()
    try:
        yield process.wait_ready()
    finally:
        process.stop()
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{namespace}:*", count=1000):
            client.delete(key)
        client.close()


@pytest.fixture
async def db(daemon: DaemonProcess) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(daemon.env["THESET_DATABASE_URL"], max_size=4)
    yield pool
    await pool.close()


async def new_imports(pool: asyncpg.Pool, count: int) -> list[str]:
    rows = await pool.fetch(
        "insert into import_status (tm_attraction_id, status) "
        "select 'load-' || gen_random_uuid()::text, 'running' from generate_series(1, $1) returning id::text",
        count,
    )
    ids = [r["id"] for r in rows]
    # A phase row marked done: reconciliation leaves these job-less imports alone (no phase to re-run).
    await pool.execute("insert into import_phases (import_id, phase, state) select unnest($1::uuid[]), 'artist', 'done'", ids)
    return ids


async def follow(http: aiohttp.ClientSession, daemon: DaemonProcess, import_id: str) -> SseReader:
    token = sign_events_token(daemon.env["THESET_SSE_SECRET"], import_id, ttl_s=300)
    response = await http.get(f"{daemon.url}/api/imports/{import_id}/events", params={"token": token})
    assert response.status == 200, await response.text()
    reader = SseReader(response)
    assert (await reader.event())["event"] == "snapshot"
    return reader


async def until_done(reader: SseReader) -> str:
    while (event := await reader.event()) is not None:
        if event["event"] in ("done", "reconnect"):
            return event["event"]
    return "closed"


async def test_readiness_and_admin_api_answer_while_fans_follow_many_imports(daemon, db, redis_url) -> None:
    distinct = await new_imports(db, DISTINCT)
    [shared] = await new_imports(db, 1)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        readers = await asyncio.gather(
            *(follow(http, daemon, i) for i in distinct), *(follow(http, daemon, shared) for _ in range(FANS_OF_ONE))
        )
        for _ in range(10):
            async with http.get(f"{daemon.url}/readyz") as response:
                assert response.status == 200, await response.text()
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with http.get(f"{daemon.url}/api/admin/queues", headers=headers) as response:
            assert response.status == 200, await response.text()

        admin = aioredis.Redis.from_url(redis_url)
        namespace = daemon.env["THESET_REDIS_NAMESPACE"]
        sse = [c for c in await admin.client_list() if c.get("name") == f"{namespace}:sse"]
        assert len(sse) <= READERS + CONTROL_CONNECTIONS
        await admin.aclose()

        reporter = p.ProgressReporter(db, aioredis.Redis.from_url(redis_url), namespace)
        for import_id in [*distinct, shared]:
            await reporter.report(import_id, stage=plan.DONE, progress=100, status=imports_store.STATUS_COMPLETED)
        endings = await asyncio.gather(*(until_done(r) for r in readers))
        assert endings == ["done"] * (DISTINCT + FANS_OF_ONE)
        await reporter.redis.aclose()
