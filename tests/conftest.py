"""Shared fixtures: the real Redis and PostgreSQL, isolated per test run, and what several folders use.

Each test gets its own Redis key namespace (deleted afterwards); each test
module gets its own PostgreSQL database (dropped afterwards). Nothing here fakes a
service: if Redis or PostgreSQL do not answer, the tests fail loudly. Also here: the
sandbox and its truth, a private redis-server, a webhook receiver, an import_status
table of the test's own. Plain helpers are in ``tests/helpers/``.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import AsyncIterator, Iterator

import asyncpg
import pytest
import redis
import redis.asyncio as aioredis

from tests.helpers.environment import REDIS_URL, RUN_ID, daemon_environment, redis_namespace, scratch_database
from tests.helpers.import_harness import SANDBOX_SEED, SandboxProcess
from tests.helpers.import_rows import IMPORT_STATUS_DDL, IMPORT_VIEW_DDL
from tests.helpers.redis_servers import PrivateRedis
from tests.helpers.webhooks import Receiver
from theset_daemon.store.pool import init_connection
from theset_daemon.sandbox import Sandbox, Truth


@pytest.fixture(autouse=True)
def _global_broker_kept() -> Iterator[None]:
    """Dramatiq's global broker as it was before the test (tests that set their own,
    Dramatiq's upstream suite among them, must not leave it to the modules after them)."""
    import dramatiq.broker

    kept = dramatiq.broker.global_broker
    yield
    dramatiq.broker.global_broker = kept


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis every test shares (isolated by namespace)."""
    redis.Redis.from_url(REDIS_URL).ping()
    return REDIS_URL


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    """A fresh Redis key namespace, deleted after the test."""
    with redis_namespace(redis_url) as ns:
        yield ns


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


@pytest.fixture
async def pg_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool like the daemon's whose search_path is a fresh schema holding only import_status."""
    schema = f"progress_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    pool = await asyncpg.create_pool(
        database_url, min_size=1, max_size=4, server_settings={"search_path": schema}, init=init_connection
    )
    await pool.execute(IMPORT_STATUS_DDL)
    await pool.execute(IMPORT_VIEW_DDL)
    yield pool
    await pool.close()
    await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await admin.close()


@pytest.fixture
def daemon_env(redis_url: str, namespace: str, database_url: str) -> dict[str, str]:
    """Environment for a daemon subprocess bound to this test's Redis namespace and database."""
    return daemon_environment(redis_url, namespace, database_url)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    """The stand-in provider APIs (``theset-daemon sandbox``, seed ``SANDBOX_SEED``), one per test module.

    A module that needs other sandbox options (faults, daily quotas) defines its own ``sandbox``.
    """
    sb = SandboxProcess()
    yield sb
    sb.stop()


@pytest.fixture(scope="module")
def truth() -> Truth:
    """The ground truth of that sandbox's world: what an import must leave in PostgreSQL."""
    return Sandbox(SANDBOX_SEED).truth


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A redis-server of the test's own on a free loopback port, which it may kill, restart empty or freeze."""
    server = PrivateRedis().start()
    yield server
    server.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook endpoint on loopback: statuses scripted by the test, every signature verified."""
    rec = await Receiver().start()
    yield rec
    await rec.close()
