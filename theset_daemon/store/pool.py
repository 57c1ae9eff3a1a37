"""The asyncpg connection pool every store function runs on."""

from __future__ import annotations

import asyncpg
import orjson

#: Errors that say PostgreSQL cannot be reached right now, rather than that the work is wrong.
DATABASE_UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable ("Multiple exceptions: ..." when a name has several addresses)
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.CannotConnectNowError,  # starting up / shutting down
    asyncpg.exceptions.AdminShutdownError,  # pg_ctl stop -m fast
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.ConnectionDoesNotExistError,  # the connection was lost mid-query
)

#: Default per-statement timeout, in seconds (PostgreSQL ``statement_timeout``).
DEFAULT_STATEMENT_TIMEOUT = 30.0


def _encode_json(value: object) -> str:
    return orjson.dumps(value).decode()


async def init_connection(conn: asyncpg.Connection) -> None:
    """Decode and encode ``json``/``jsonb`` with orjson (Python values in and out)."""
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=_encode_json, decoder=orjson.loads, schema="pg_catalog", format="text"
        )


async def create_pool(
    database_url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT,
) -> asyncpg.Pool:
    """Open a pool of ``min_size``..``max_size`` connections to ``database_url``.

    Every connection decodes jsonb to Python values (and encodes them back) and
    has ``statement_timeout`` (seconds) set server-side, so a runaway query is
    cancelled by PostgreSQL rather than holding a connection.

    Raises:
      asyncpg.PostgresError / OSError: the server cannot be reached.
    """
    return await asyncpg.create_pool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        init=init_connection,
        server_settings={"statement_timeout": str(int(statement_timeout * 1000))},
    )
