"""What a store function runs on: a pool, or a connection the caller holds."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator, Union

import asyncpg
from asyncpg.pool import PoolConnectionProxy

#: A pool (each call takes a connection) or a connection (the caller's transaction).
Db = Union[asyncpg.Pool, asyncpg.Connection, PoolConnectionProxy]


@asynccontextmanager
async def transaction(db: Db) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction (a savepoint when ``db`` already is in one)."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn, conn.transaction():
            yield conn
    else:
        async with db.transaction():
            yield db  # type: ignore[misc]
