"""Apply the numbered SQL migrations in ``sql/`` (``theset_daemon.sql``), each exactly once.

Every host runs :func:`migrate` at start-up. A PostgreSQL advisory lock makes
the hosts take turns, so ten daemons starting together apply each migration
once; the others find it recorded in ``schema_migrations`` and apply nothing.
Each migration runs in its own transaction together with its record, so a
failing migration leaves neither a half-applied schema nor a record.
"""

from __future__ import annotations

import hashlib
import re
from importlib.resources.abc import Traversable
from urllib.parse import unquote, urlparse, urlunparse

import asyncpg

from ..runtime.package_data import sql_dir

#: Where the migrations live: the package's ``sql`` data (the checkout's top-level ``sql/``).
SQL_DIR = sql_dir()

#: Advisory lock key held while migrating (any fixed bigint; "theset" in ASCII).
MIGRATION_LOCK_ID = 0x746865736574

#: A migration file name: three or more digits, underscore, a name.
MIGRATION_NAME = re.compile(r"^(\d{3,})_[A-Za-z0-9_]+\.sql$")

_CREATE_TABLE = """
create table if not exists schema_migrations (
    name       text primary key,
    checksum   text not null,
    applied_at timestamptz not null default now()
)
"""


def migration_name(path: Traversable) -> str:
    """The name a migration is recorded under: its file name without ``.sql``."""
    return path.name.removesuffix(".sql")


class MigrationError(RuntimeError):
    """A migration file failed to apply, or the ``sql/`` directory is unusable."""


def migration_files(sql_dir: Traversable = SQL_DIR) -> list[Traversable]:
    """The migration files of ``sql_dir`` in numeric order.

    Raises:
      MigrationError: the directory is missing or two files share a number.
    """
    if not sql_dir.is_dir():
        raise MigrationError(f"migrations directory {sql_dir} does not exist")
    files = sorted(
        (p for p in sql_dir.iterdir() if MIGRATION_NAME.match(p.name)),
        key=lambda p: int(MIGRATION_NAME.match(p.name).group(1)),  # type: ignore[union-attr]
    )
    numbers = [int(MIGRATION_NAME.match(p.name).group(1)) for p in files]  # type: ignore[union-attr]
    if len(set(numbers)) != len(numbers):
        raise MigrationError(f"two migrations in {sql_dir} share a number: {[p.name for p in files]}")
    return files


async def migrate(database_url: str, *, sql_dir: Traversable = SQL_DIR) -> list[str]:
    """Create the database if needed and apply the pending migrations in order.

    Returns the names (file stems, e.g. ``001_schema``) applied by this call;
    empty when the schema was already current.

    Raises:
      MigrationError: a migration failed (it is rolled back, later ones are
        not attempted) or ``sql_dir`` is unusable.
      asyncpg.PostgresError: the server refused the connection or the lock.
    """
    files = migration_files(sql_dir)
    conn = await connect_creating(database_url)
    try:
        await conn.execute("select pg_advisory_lock($1)", MIGRATION_LOCK_ID)
        try:
            return await _apply_pending(conn, files)
        finally:
            await conn.execute("select pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
    finally:
        await conn.close()


async def _apply_pending(conn: asyncpg.Connection, files: list[Traversable]) -> list[str]:
    await conn.execute(_CREATE_TABLE)
    applied = {r["name"] for r in await conn.fetch("select name from schema_migrations")}
    done: list[str] = []
    for path in files:
        if migration_name(path) in applied:
            continue
        text = path.read_text()
        try:
            async with conn.transaction():
                await conn.execute(text)
                await conn.execute(
                    "insert into schema_migrations (name, checksum) values ($1, $2)",
                    migration_name(path),
                    hashlib.sha256(text.encode()).hexdigest(),
                )
        except asyncpg.PostgresError as exc:
            raise MigrationError(f"migration {path.name} failed: {exc}") from exc
        done.append(migration_name(path))
    return done


async def connect_creating(database_url: str) -> asyncpg.Connection:
    """Connect to ``database_url``, creating its database first when missing.

    The database is created from the server's ``postgres`` database when the
    role may; a concurrent creator winning the race is fine.
    """
    try:
        return await asyncpg.connect(database_url)
    except asyncpg.InvalidCatalogNameError:
        pass
    parsed = urlparse(database_url)
    name = unquote(parsed.path.lstrip("/"))
    admin = await asyncpg.connect(urlunparse(parsed._replace(path="/postgres")))
    try:
        await admin.execute(f'create database "{name.replace(chr(34), chr(34) * 2)}"')
    except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
        pass  # another host created it between our two connects
    finally:
        await admin.close()
    return await asyncpg.connect(database_url)
