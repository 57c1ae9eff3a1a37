"""Import status rows: dedup of kickoffs, progress updates, stale imports."""

from __future__ import annotations

import asyncio
import uuid

import pytest


from theset_daemon.imports.errors import ImportFailure
from theset_daemon.store import create_import, fail_stale_imports, get_import, update_import


def attraction() -> str:
    return "K" + uuid.uuid4().hex[:12]


async def test_a_second_kickoff_gets_the_live_import(pool) -> None:
    tm_id = attraction()
    import_id, created = await create_import(pool, tm_id, "host-a")
    assert created
    assert await create_import(pool, tm_id, "host-b") == (import_id, False)
    await update_import(pool, import_id, status="running")
    assert await create_import(pool, tm_id, "host-b") == (import_id, False)
    await update_import(pool, import_id, status="completed", progress=100)
    again, created = await create_import(pool, tm_id, "host-b")
    assert created and again != import_id


async def test_ten_concurrent_kickoffs_make_one_import(pool) -> None:
    tm_id = attraction()
    results = await asyncio.gather(*(create_import(pool, tm_id, f"host-{i}") for i in range(10)))
    assert len({import_id for import_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert await pool.fetchval("select count(*) from import_status where tm_attraction_id = $1", tm_id) == 1


async def test_update_merges_counts_and_stamps_completion(pool) -> None:
    import_id, _ = await create_import(pool, attraction(), "host-a")
    row = await get_import(pool, import_id)
    assert (row["status"], row["stage"], row["progress"], row["counts"], row["completed_at"]) == ("queued", "queued", 0, {}, None)

    artist_id = await pool.fetchval("insert into artists (slug, name) values ($1, 'X') returning id", uuid.uuid4().hex)
    await update_import(pool, import_id, status="running", stage="artist", progress=10, artist_id=artist_id, counts={"songs": 0})
    row = await update_import(pool, import_id, stage="catalog", progress=40, message="120 songs", counts={"songs": 120, "live_titles_dropped": 7})
    assert row["counts"] == {"songs": 120, "live_titles_dropped": 7}
    assert (row["stage"], row["progress"], row["message"], row["artist_id"]) == ("catalog", 40, "120 songs", artist_id)
    assert row["updated_at"] > row["created_at"]

    done = await update_import(pool, str(import_id), status="failed", error="setlist.fm 503")
    assert done["completed_at"] is not None and done["error"] == "setlist.fm 503" and done["stage"] == "catalog"


async def test_bad_updates_are_refused(pool) -> None:
    import_id, _ = await create_import(pool, attraction(), None)
    with pytest.raises(ValueError, match="status"):
        await update_import(pool, import_id, status="done")
    with pytest.raises(ValueError, match="progress"):
        await update_import(pool, import_id, progress=101)
    assert await update_import(pool, uuid.uuid4(), stage="x") is None


async def test_get_unknown_or_malformed_import(pool) -> None:
    assert await get_import(pool, uuid.uuid4()) is None
    assert await get_import(pool, "not-a-uuid") is None


async def test_stale_imports_are_failed_and_free_the_attraction(pool) -> None:
    tm_id = attraction()
    import_id, _ = await create_import(pool, tm_id, "dead-host")
    await pool.execute("update import_status set updated_at = now() - interval '1 hour' where id = $1", import_id)
    assert import_id in await fail_stale_imports(pool, 600)
    row = await get_import(pool, import_id)
    assert row["status"] == "failed" and ImportFailure.parse(row["error"]).code == "abandoned"
    assert (await create_import(pool, tm_id, "host-b"))[1]
