"""Import status rows: one per kickoff, at most one live per attraction.

A second kickoff while an import of the same attraction is queued or running
gets that import back (the partial unique index decides, so concurrent
kickoffs on any host agree). Progress is persisted here and fanned out
elsewhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping
from uuid import UUID

import asyncpg
import orjson

from .connection import Db

#: The statuses an import can have; the first two are "live", the final ones end its event stream.
STATUS_QUEUED = "queued"
STATUS_RUNNING = "running"
STATUS_COMPLETED = "completed"
STATUS_FAILED = "failed"
STATUSES = (STATUS_QUEUED, STATUS_RUNNING, STATUS_COMPLETED, STATUS_FAILED)
FINAL_STATUSES = frozenset({STATUS_COMPLETED, STATUS_FAILED})

_CREATE = """
insert into import_status (tm_attraction_id, status, owner) values ($1, 'queued', $2)
on conflict (tm_attraction_id) where status in ('queued', 'running') do nothing
returning id
"""

_LIVE = """
select id from import_status where tm_attraction_id = $1 and status in ('queued', 'running')
"""


async def create_import(db: Db, tm_attraction_id: str, owner: str | None, *, attempts: int = 5) -> tuple[UUID, bool]:
    """A new queued import, or the live one of the attraction: ``(import_id, created)``.

    Retries when the live import finishes between the two statements.
    """
    for _ in range(attempts):
        row = await db.fetchrow(_CREATE, tm_attraction_id, owner)
        if row:
            return row["id"], True
        live = await db.fetchrow(_LIVE, tm_attraction_id)
        if live:
            return live["id"], False
    raise RuntimeError(f"import of {tm_attraction_id} neither created nor found after {attempts} attempts")


async def update_import(
    db: Db,
    import_id: UUID | str,
    *,
    status: str | None = None,
    stage: str | None = None,
    progress: int | None = None,
    message: str | None = None,
    counts: Mapping[str, Any] | None = None,
    error: str | None = None,
    artist_id: UUID | None = None,
) -> dict | None:
    """Change an import; the updated row, or None when there is no such import.

    ``counts`` is merged into the stored counts (stages add their own keys).
    ``progress`` is a percentage 0..100. Moving to ``completed`` or ``failed``
    stamps ``completed_at``.

    Raises:
      ValueError: an unknown status or a progress outside 0..100.
    """
    if status is not None and status not in STATUSES:
        raise ValueError(f"unknown import status {status!r}; expected one of {', '.join(STATUSES)}")
    if progress is not None and not 0 <= progress <= 100:
        raise ValueError(f"progress {progress} outside 0..100")
    sets = ["updated_at = now()"]
    args: list[Any] = [import_id]
    for column, value in (("status", status), ("stage", stage), ("progress", progress),
                          ("message", message), ("error", error), ("artist_id", artist_id)):
        if value is not None:
            args.append(value)
            sets.append(f"{column} = ${len(args)}")
    if counts is not None:
        args.append(dict(counts))
        sets.append(f"counts = counts || ${len(args)}::jsonb")
    if status in ("completed", "failed"):
        sets.append("completed_at = now()")
    row = await db.fetchrow(f"update import_status set {', '.join(sets)} where id = $1 returning *", *args)
    return dict(row) if row else None


async def get_import(db: Db, import_id: UUID | str) -> dict | None:
    """The import row as a dict, or None when unknown (or not a UUID)."""
    try:
        key = import_id if isinstance(import_id, UUID) else UUID(str(import_id))
    except ValueError:
        return None
    row = await db.fetchrow("select * from import_status where id = $1", key)
    return dict(row) if row else None



_LIST = """
select *, (status in ('queued', 'running'))::int as running from import_status
where $2::int is null
   or ((status in ('queued', 'running'))::int, created_at, id) < ($2::int, $3::timestamptz, $4::uuid)
order by (status in ('queued', 'running'))::int desc, created_at desc, id desc
limit $1
"""


async def list_imports(db: Db, limit: int, running: int | None = None, created_at: datetime | None = None,
                       import_id: UUID | None = None) -> list[asyncpg.Record]:
    """Import rows, running ones first, then the most recent, each with ``running`` (1 or 0);
    keyset-paged: the rows after (``running``, ``created_at``, ``import_id``) when given."""
    return await db.fetch(_LIST, limit, running, created_at, import_id)


#: The error of an import failed for want of progress (``{code, message}`` as import_errors stores it).
ABANDONED_ERROR = '{"code":"abandoned","message":"no progress for too long: its daemon stopped"}'


async def fail_stale_imports(db: Db, older_than_s: float, error: str = ABANDONED_ERROR) -> list[UUID]:
    """Fail live imports not updated for ``older_than_s`` seconds (their host died),
    freeing the attraction for a new kickoff; the ids failed."""
    rows = await db.fetch(
        """
        update import_status set status = 'failed', error = $2, updated_at = now(), completed_at = now()
        where status in ('queued', 'running') and updated_at < now() - make_interval(secs => $1)
        returning id
        """,
        older_than_s,
        error,
    )
    return [r["id"] for r in rows]


async def delete_finished_imports(db: Db, older_than_days: int) -> int:
    """Delete imports finished more than ``older_than_days`` ago (their phases go with them); how many."""
    status = await db.execute(
        """delete from import_status where status in ('completed', 'failed')
           and coalesce(completed_at, updated_at) < now() - make_interval(days => $1)""",
        older_than_days,
    )
    return int(status.rsplit(" ", 1)[-1])


async def live_or_recent(db: Db, import_ids: list[str], grace_s: float) -> set[str]:
    """Those of ``import_ids`` that are live, or finished less than ``grace_s`` ago."""
    rows = await db.fetch(
        """select id::text as id from import_status where id = any($1::uuid[])
           and (status in ('queued', 'running') or coalesce(completed_at, updated_at) > now() - make_interval(secs => $2))""",
        import_ids, grace_s,
    )
    return {r["id"] for r in rows}


async def import_age_s(db: Db, import_id: str) -> float | None:
    """Seconds since the import was kicked off (PostgreSQL's clock), or None when unknown."""
    return await db.fetchval(
        "select extract(epoch from now() - created_at)::float8 from import_status where id = $1::text::uuid", import_id
    )


async def import_artist_id(db: Db, import_id: str) -> str | None:
    """The id of the import's artist, once its first phase made it."""
    return await db.fetchval("select artist_id::text from import_status where id = $1::text::uuid", import_id)


async def import_summary(db: Db, import_id: str) -> asyncpg.Record | None:
    """The import's counts with its artist's id, name and slug (the demo's summary)."""
    return await db.fetchrow(
        "select i.counts, a.id, a.name, a.slug from import_status i join artists a on a.id = i.artist_id where i.id = $1",
        import_id,
    )


# -- the import's view and its progress reports ---------------------------------------------

#: The columns of an import's view (``imports.view.import_view`` reads them), from ``import_status s`` (and ``artists a`` for the slug).
VIEW_COLUMNS = """
    s.id::text AS id, s.tm_attraction_id, s.artist_id::text AS artist_id, a.slug, s.status, s.stage,
    s.progress, s.message, s.counts::text AS counts, s.error, s.created_at, s.updated_at, s.completed_at,
    COALESCE((SELECT json_object_agg(p.phase, json_build_object(
        'state', p.state, 'fraction', p.fraction, 'counts', p.counts, 'error', p.error))
      FROM import_phases p WHERE p.import_id = s.id)::text, '{}') AS phases
"""

VIEW_SQL = f"""
SELECT {VIEW_COLUMNS}
FROM import_status s LEFT JOIN artists a ON a.id = s.artist_id
WHERE s.id = $1::text::uuid
"""

_VIEW = f"""
SELECT {VIEW_COLUMNS}
FROM import_status s LEFT JOIN artists a ON a.id = s.artist_id
WHERE s.id = $1::text::uuid
"""

_UPDATE = """
WITH s AS (
UPDATE import_status SET
    stage = $2::text,
    progress = CASE WHEN $5::text = 'completed' THEN 100 ELSE GREATEST(COALESCE(progress, 0), $3::int) END,
    message = $4::text,
    status = $5::text,
    counts = COALESCE(counts, '{}'::jsonb) || $6::text::jsonb,
    error = COALESCE($7::text, error),
    updated_at = now(),
    completed_at = CASE WHEN $5::text IN ('completed', 'failed') THEN now() ELSE completed_at END
WHERE id = $1::text::uuid AND status NOT IN ('completed', 'failed')
RETURNING *
)
SELECT""" + VIEW_COLUMNS + """FROM s LEFT JOIN artists a ON a.id = s.artist_id
"""

#: Serialises one import's reports across hosts (released by _UNLOCK, or by the pool's reset).
_LOCK = "SELECT pg_advisory_lock(hashtextextended('theset.progress:' || $1::text, 0))"
_UNLOCK = "SELECT pg_advisory_unlock(hashtextextended('theset.progress:' || $1::text, 0))"

_EXISTS = "SELECT true FROM import_status WHERE id = $1::text::uuid"


async def view_row(db: Db, import_id: str) -> asyncpg.Record | None:
    """The import's row with its artist's slug and its phases (:data:`VIEW_COLUMNS`), or None."""
    return await db.fetchrow(_VIEW, import_id)


async def report_row(conn: Db, import_id: str, stage: str, progress: int, message: str | None, status: str,
                     counts: Mapping[str, Any], error: str | None) -> asyncpg.Record | None:
    """Apply one progress report to a live import (progress never backwards, counts merged) and return
    its view row; None when the import is finished (frozen) or unknown."""
    return await conn.fetchrow(_UPDATE, import_id, stage, progress, message, status, orjson.dumps(counts).decode(), error)


async def lock_reports(conn: asyncpg.Connection, import_id: str) -> None:
    """Take the import's report lock (a session advisory lock: one report at a time, cluster-wide)."""
    await conn.execute(_LOCK, import_id)


async def unlock_reports(conn: asyncpg.Connection, import_id: str) -> None:
    await conn.execute(_UNLOCK, import_id)


async def import_exists(db: Db, import_id: str) -> bool:
    return await db.fetchval(_EXISTS, import_id) is not None
