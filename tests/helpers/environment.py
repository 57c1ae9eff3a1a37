"""The services every test shares and the environment a test daemon runs in.

The real Redis and PostgreSQL (URLs overridable with ``THESET_TEST_REDIS_URL`` /
``THESET_TEST_PG_URL``), this run's id, the test tokens, free loopback ports, scratch
databases. Plain functions and constants: the fixtures built on them are in
``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import socket
import uuid
from pathlib import Path
from typing import Iterator

import asyncpg
import redis

REDIS_URL = os.environ.get("THESET_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_ADMIN_URL = os.environ.get("THESET_TEST_PG_URL", "postgresql://root@127.0.0.1:5432/postgres")
RUN_ID = uuid.uuid4().hex[:8]

#: The checkout under test: the folder holding ``pyproject.toml``, ``tests/`` and ``theset_daemon/``.
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def delete_namespace(client: redis.Redis, namespace: str) -> None:
    """Delete every key of ``namespace`` (by SCAN, never FLUSHALL: the Redis is shared)."""
    keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
    for i in range(0, len(keys), 500):
        client.delete(*keys[i : i + 500])


@contextlib.contextmanager
def redis_namespace(redis_url: str, label: str = "") -> Iterator[str]:
    """A fresh key namespace of this run (``label`` in its name), every key of it deleted afterwards."""
    namespace = f"test-{RUN_ID}-{label + '-' if label else ''}{uuid.uuid4().hex[:8]}"
    try:
        yield namespace
    finally:
        client = redis.Redis.from_url(redis_url)
        try:
            delete_namespace(client, namespace)
        finally:
            client.close()


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


#: Test tokens and secrets are 32+ characters, like every token the daemon accepts (THESET_*: MIN_SECRET_CHARS).
API_TOKEN = f"test-api-token-{RUN_ID}-{uuid.uuid4().hex}"
ADMIN_TOKEN = f"test-admin-token-{RUN_ID}-{uuid.uuid4().hex}"


def token_for(path: str) -> str | None:
    """The bearer token a test daemon expects on ``path`` (None: the route takes none)."""
    if path.startswith("/api/imports"):
        return API_TOKEN
    if path.startswith(("/api/admin", "/api/jobs", "/metrics/json")):
        return ADMIN_TOKEN
    return None
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
