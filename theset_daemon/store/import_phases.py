"""Import phase rows (``import_phases``): one per phase of an import, enqueued -> running -> done | failed.

The logic (what a finished phase unlocks, the import's progress) is in
:mod:`theset_daemon.imports.tracker`; the in-flight reads serve
:mod:`theset_daemon.imports.reconcile`.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from .connection import Db

_ENQUEUED = """
insert into import_phases (import_id, phase, state) values ($1, $2, 'enqueued')
on conflict (import_id, phase) do nothing
"""
_STARTED = """
insert into import_phases (import_id, phase, state, started_at) values ($1, $2, 'running', now())
on conflict (import_id, phase) do update
set state = case when import_phases.state = 'done' then 'done' else 'running' end,
    started_at = coalesce(import_phases.started_at, now()), updated_at = now()
"""
_FRACTION = """
update import_phases set fraction = greatest(fraction, $3), counts = counts || $4::text::jsonb, updated_at = now()
where import_id = $1 and phase = $2
"""
_DONE = """
insert into import_phases (import_id, phase, state, fraction, counts, started_at, finished_at)
values ($1, $2, 'done', 1, $3::text::jsonb, now(), now())
on conflict (import_id, phase) do update
set state = 'done', fraction = 1, counts = excluded.counts, finished_at = now(), updated_at = now()
"""
_FAILED = """
insert into import_phases (import_id, phase, state, error, finished_at) values ($1, $2, 'failed', $3, now())
on conflict (import_id, phase) do update set state = 'failed', error = $3, finished_at = now(), updated_at = now()
"""
_IN_FLIGHT = """
select i.id::text as import_id, i.tm_attraction_id, i.artist_id::text as artist_id, p.phase, p.state
from import_status i
join import_phases p on p.import_id = i.id
where i.status in ('queued', 'running') and p.state in ('enqueued', 'running')
union all
select i.id::text, i.tm_attraction_id, i.artist_id::text, 'artist', 'enqueued'
from import_status i
where i.status in ('queued', 'running')
  and not exists (select 1 from import_phases p where p.import_id = i.id)
"""
_STILL_IN_FLIGHT = """
select p.import_id::text as import_id, p.phase from import_phases p
join import_status i on i.id = p.import_id
where i.status in ('queued', 'running') and p.state in ('enqueued', 'running')
  and (p.import_id, p.phase) in (select * from unnest($1::uuid[], $2::text[]))
"""


async def insert_enqueued(db: Db, import_id: str, phases: list[str]) -> None:
    """Phases as enqueued (a phase already further along is left alone)."""
    await db.executemany(_ENQUEUED, [(import_id, name) for name in phases])


async def upsert_started(db: Db, import_id: str, phase: str) -> None:
    """A phase running (a done phase stays done; the first start time is kept)."""
    await db.execute(_STARTED, import_id, phase)


async def raise_fraction(db: Db, import_id: str, phase: str, fraction: float, counts: dict[str, Any]) -> None:
    """How far a phase has got (never backwards), its counts merged."""
    await db.execute(_FRACTION, import_id, phase, fraction, orjson.dumps(counts).decode())


async def upsert_done(db: Db, import_id: str, phase: str, counts: dict[str, Any]) -> None:
    await db.execute(_DONE, import_id, phase, orjson.dumps(counts).decode())


async def upsert_failed(db: Db, import_id: str, phase: str, error: str) -> None:
    await db.execute(_FAILED, import_id, phase, error)


async def lock_import(conn: asyncpg.Connection, import_id: str) -> None:
    """Lock the import's ``import_status`` row until the caller's transaction ends."""
    await conn.execute("select 1 from import_status where id = $1 for update", import_id)


async def phase_rows(db: Db, import_id: str) -> list[asyncpg.Record]:
    """``(phase, state, fraction)`` of every recorded phase of the import."""
    return await db.fetch("select phase, state, fraction from import_phases where import_id = $1", import_id)


async def in_flight(db: Db) -> list[asyncpg.Record]:
    """Phases of live imports recorded as enqueued or running (an import without phase rows: its
    ``artist`` phase), with the import's attraction and artist."""
    return await db.fetch(_IN_FLIGHT)


async def still_in_flight(db: Db, import_ids: list[str], phases: list[str]) -> set[tuple[str, str]]:
    """Which of the (import, phase) pairs are still in flight now."""
    return {(r["import_id"], r["phase"]) for r in await db.fetch(_STILL_IN_FLIGHT, import_ids, phases)}
