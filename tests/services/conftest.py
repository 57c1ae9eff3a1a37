"""Fixtures of the services' tests: a catalogue database of the module's own, emptied before each test."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Iterator

import asyncpg
import pytest

from tests.helpers.environment import scratch_database
from theset_daemon.store.migrate import migrate


@pytest.fixture(scope="module")
def catalog_db() -> Iterator[str]:
    """A migrated database of the module's own (trending ranks every artist in the database)."""
    with scratch_database() as url:
        asyncio.run(migrate(url))
        yield url


@pytest.fixture
async def catalog_pool(catalog_db: str) -> AsyncIterator[asyncpg.Pool]:
    """A plain asyncpg pool on :func:`catalog_db`, every artist (and all that hangs off one) deleted first."""
    pool = await asyncpg.create_pool(catalog_db, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await conn.execute("truncate artists cascade")
    yield pool
    await pool.close()
