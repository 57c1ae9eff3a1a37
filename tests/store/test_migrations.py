"""The migration runner against the real PostgreSQL: once, in order, race-safe."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import orjson
import pytest

from theset_daemon.store import MigrationError, create_pool, migrate
from theset_daemon.store.migrate import SQL_DIR, migration_files, migration_name

from tests.helpers.environment import PG_ADMIN_URL, REPO

TABLES = {
    "artists", "artist_views", "venues", "shows", "show_artists", "songs", "setlists",
    "setlist_songs", "votes", "import_status", "schema_migrations",
}


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def fresh_url():
    """A database name that does not exist yet; dropped after the test."""
    name = f"theset_mig_{uuid.uuid4().hex[:10]}"
    yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    await _admin(f'drop database if exists "{name}" with (force)')


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("select tablename from pg_tables where schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


async def test_creates_every_table_then_applies_nothing(database_url: str) -> None:
    names = [migration_name(p) for p in migration_files()]
    first = await migrate(database_url)
    # The session database may already be migrated by the store tests.
    assert first in (names, [])
    assert TABLES <= await _tables(database_url)
    assert await migrate(database_url) == []


async def test_creates_a_missing_database(fresh_url: str) -> None:
    applied = await migrate(fresh_url)
    assert applied == [migration_name(p) for p in migration_files()]
    assert TABLES <= await _tables(fresh_url)


def test_five_processes_apply_each_migration_once(fresh_url: str) -> None:
    code = (
        "import asyncio, sys, orjson\n"
        "from theset_daemon.store import migrate\n"
        "print(orjson.dumps(asyncio.run(migrate(sys.argv[1]))).decode())\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, fresh_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(5)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 5, [err for _, err in results]
    applied = [name for out, _ in results for name in orjson.loads(out)]
    names = [migration_name(p) for p in migration_files()]
    assert sorted(applied) == sorted(names)

    async def recorded() -> list[str]:
        conn = await asyncpg.connect(fresh_url)
        try:
            return [r["name"] for r in await conn.fetch("select name from schema_migrations order by name")]
        finally:
            await conn.close()

    assert asyncio.run(recorded()) == names


async def test_applies_in_order_and_rolls_back_a_failure(fresh_url: str, tmp_path: Path) -> None:
    (tmp_path / "002_second.sql").write_text("insert into t values (2);")
    (tmp_path / "001_first.sql").write_text("create table t (n int); insert into t values (1);")
    (tmp_path / "notes.txt").write_text("not a migration")
    assert await migrate(fresh_url, sql_dir=tmp_path) == ["001_first", "002_second"]

    (tmp_path / "003_broken.sql").write_text("insert into t values (3); select * from nowhere;")
    with pytest.raises(MigrationError, match="003_broken"):
        await migrate(fresh_url, sql_dir=tmp_path)
    conn = await asyncpg.connect(fresh_url)
    try:
        assert [r["n"] for r in await conn.fetch("select n from t order by n")] == [1, 2]
        assert await conn.fetchval("select count(*) from schema_migrations") == 2
    finally:
        await conn.close()


def test_duplicate_numbers_are_refused(tmp_path: Path) -> None:
    (tmp_path / "001_a.sql").write_text("")
    (tmp_path / "001_b.sql").write_text("")
    with pytest.raises(MigrationError, match="share a number"):
        migration_files(tmp_path)


def test_sql_dir_is_the_repository_sql() -> None:
    assert Path(str(SQL_DIR)).resolve() == REPO / "sql"


async def test_pool_decodes_jsonb_and_sets_statement_timeout(database_url: str) -> None:
    await migrate(database_url)
    pool = await create_pool(database_url, max_size=2, statement_timeout=5)
    try:
        assert await pool.fetchval("select $1::jsonb", {"a": [1, "b"]}) == {"a": [1, "b"]}
        assert await pool.fetchval("show statement_timeout") == "5s"
    finally:
        await pool.close()
