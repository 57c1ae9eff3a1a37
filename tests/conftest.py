"""Shared fixtures: the real Redis and PostgreSQL, isolated per test run.

Each test gets its own Redis key namespace (deleted afterwards); each test
module gets its own PostgreSQL database (dropped afterwards). Nothing here fakes a
service: if Redis or PostgreSQL do not answer, the tests fail loudly.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import socket
import uuid
from typing import AsyncIterator, Iterator

import asyncpg
import pytest
import redis
import redis.asyncio as aioredis

REDIS_URL = os.environ.get("THESET_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_ADMIN_URL = os.environ.get("THESET_TEST_PG_URL", "postgresql://root@127.0.0.1:5432/postgres")
RUN_ID = uuid.uuid4().hex[:8]


@pytest.fixture(autouse=True)
def _global_broker_kept() -> Iterator[None]:
    """Dramatiq's global broker as it was before the test (tests that set their own,
    Dramatiq's upstream suite among them, must not leave it to the modules after them)."""
    import dramatiq.broker

    kept = dramatiq.broker.global_broker
    yield
    dramatiq.broker.global_broker = kept


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _delete_namespace(client: redis.Redis, namespace: str) -> None:
    keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
    for i in range(0, len(keys), 500):
        client.delete(*keys[i : i + 500])


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis every test shares (isolated by namespace)."""
    redis.Redis.from_url(REDIS_URL).ping()
    return REDIS_URL


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    """A fresh Redis key namespace, deleted after the test."""
    ns = f"test-{RUN_ID}-{uuid.uuid4().hex[:8]}"
    yield ns
    client = redis.Redis.from_url(redis_url)
    _delete_namespace(client, ns)
    client.close()


@pytest.fixture
def sync_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
async def async_redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def _admin(sql: str) -> None:
    """Run one statement on the maintenance database (in a thread of its own, so it
    works even where the caller's thread already runs an event loop, e.g. Playwright's)."""

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


@contextlib.contextmanager
def scratch_database(prefix: str = "theset_scratch") -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """A PostgreSQL database of this test module, dropped after it (no schema).

    One per module, not per session: daemons reconcile at boot and resume every
    import they find in flight, so one module's leftovers must not become
    another module's work.
    """
    with scratch_database(f"theset_test_{RUN_ID}") as url:
        yield url


@pytest.fixture(scope="module")
def migrated_database_url(database_url: str) -> str:
    """The session database with every migration applied."""
    from theset_daemon.store.migrate import migrate

    asyncio.run(migrate(database_url))
    return database_url


@pytest.fixture
async def pool(migrated_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """An asyncpg pool (the daemon's codecs) on the migrated session database."""
    from theset_daemon.store import create_pool

    pool = await create_pool(migrated_database_url, max_size=12)
    yield pool
    await pool.close()


#: Test tokens and secrets are 32+ characters, like every token the daemon accepts (THESET_*: MIN_SECRET_CHARS).
API_TOKEN = f"test-api-token-{RUN_ID}-{uuid.uuid4().hex}"
ADMIN_TOKEN = f"test-admin-token-{RUN_ID}-{uuid.uuid4().hex}"
SSE_SECRET = f"test-sse-secret-{RUN_ID}-{uuid.uuid4().hex}"


#: Provider URLs on a closed loopback port: a daemon a test starts without a sandbox
#: (whose variables override these) never looks up a provider's public host.
NO_PROVIDERS = {
    name: f"http://127.0.0.1:{free_port()}/no-provider"
    for name in ("THESET_SPOTIFY_API_URL", "THESET_SPOTIFY_ACCOUNTS_URL",
                 "THESET_TICKETMASTER_API_URL", "THESET_SETLISTFM_API_URL")
}


def daemon_environment(redis_url: str, namespace: str, database_url: str, **extra: str) -> dict[str, str]:
    """Environment for a daemon subprocess on this Redis namespace and database, with test tokens."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("THESET_")}
    env.update(
        THESET_REDIS_URL=redis_url,
        THESET_REDIS_NAMESPACE=namespace,
        THESET_DATABASE_URL=database_url,
        THESET_HTTP_HOST="127.0.0.1",
        THESET_HTTP_PORT=str(free_port()),
        THESET_API_TOKEN=API_TOKEN,
        THESET_ADMIN_TOKEN=ADMIN_TOKEN,
        THESET_SSE_SECRET=SSE_SECRET,
        PYTHONUNBUFFERED="1",
    )
    env.update({**NO_PROVIDERS, **extra})
    return env


@pytest.fixture
def daemon_env(redis_url: str, namespace: str, database_url: str) -> dict[str, str]:
    """Environment for a daemon subprocess bound to this test's Redis namespace and database."""
    return daemon_environment(redis_url, namespace, database_url)
