"""Reconciliation: imports PostgreSQL says are in flight but Redis has no job for.

PostgreSQL is the source of truth for imports (``import_status`` and the
per-phase ``import_phases``); Redis only carries the jobs. If Redis restarts
empty (or a job record is otherwise lost), a phase recorded as ``enqueued`` or
``running`` has nothing left to run it. :func:`reconcile_imports` finds those
phases and enqueues them again with the deterministic job id of
:func:`~theset_daemon.jobs.import_phase_id`, so a phase whose job is still
live (waiting, delayed, active, or failed with a retry due) is never doubled,
and running it again is safe (every phase is an idempotent upsert).

A phase whose job was dead-lettered fails its import
(:func:`~theset_daemon.imports.run.fail_import`) rather than being retried for ever.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ..runtime.resources import Resources
from ..jobs import import_phase_id
from .kickoff import phase_message
from .plan import PHASES_BY_NAME
from .run import fail_import
from .tracker import mark_enqueued

logger = logging.getLogger(__name__)

#: Job record states that mean a job will still run (``failed`` = a retry is due).
LIVE_STATES = frozenset({"waiting", "delayed", "active", "failed"})

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


@dataclass
class ReconcileReport:
    """What one pass found: phases checked, re-enqueued (``import:phase``), imports failed."""

    checked: int = 0
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "requeued": self.requeued, "failed": self.failed}


async def reconcile_imports(res: Resources) -> ReconcileReport:
    """Re-enqueue in-flight phases that have no live job; fail imports whose phase is dead."""
    report = ReconcileReport()
    rows = await res.pool.fetch(_IN_FLIGHT)
    report.checked = len(rows)
    if not rows:
        return report
    records = await _job_states(res, [import_phase_id(r["import_id"], r["phase"]) for r in rows])
    orphans = []
    for row, (state, error) in zip(rows, records):
        if state in LIVE_STATES:
            continue
        if state == "dead":
            await fail_import(res, row["import_id"], row["phase"], error or "dead-lettered")
            report.failed.append(row["import_id"])
            continue
        orphans.append(row)
    if not orphans:
        return report
    # Checked again after reading Redis: a phase that finished meanwhile is left alone.
    still = {
        (r["import_id"], r["phase"])
        for r in await res.pool.fetch(_STILL_IN_FLIGHT, [o["import_id"] for o in orphans], [o["phase"] for o in orphans])
    }
    messages = []
    for row in orphans:
        key = (row["import_id"], row["phase"])
        if key not in still and row["phase"] != "artist":
            continue
        phase = PHASES_BY_NAME.get(row["phase"])
        if phase is None:
            continue
        if phase.name == "artist":
            kwargs = {"tm_attraction_id": row["tm_attraction_id"]}
        elif row["artist_id"]:
            kwargs = {"artist_id": row["artist_id"]}
        else:
            logger.warning("in-flight phase without an artist; left alone", extra={"import_id": row["import_id"]})
            continue
        messages.append(phase_message(phase, row["import_id"], **kwargs))
        report.requeued.append(f"{row['import_id']}:{phase.name}")
    if messages:
        async with res.pool.acquire() as conn:
            for row in orphans:
                if row["phase"] == "artist":
                    await mark_enqueued(conn, row["import_id"], ["artist"])
        await res.broker.enqueue_many_async(messages)
        logger.warning("re-enqueued in-flight import phases with no live job", extra={"phases": report.requeued})
    return report


async def _job_states(res: Resources, job_ids: list[str]) -> list[tuple[str | None, str | None]]:
    """(state, error) of each job record, None for a missing record (one round trip)."""
    async with res.redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hmget(res.broker.keys.job(job_id), "state", "error")
        replies = await pipe.execute()
    return [tuple(v.decode() if v is not None else None for v in reply) for reply in replies]  # type: ignore[misc]
