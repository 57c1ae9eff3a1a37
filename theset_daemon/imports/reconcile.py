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

from ..jobs import import_phase_id
from ..runtime.resources import Resources
from ..store import import_phases
from .kickoff import phase_message
from .plan import PHASES_BY_NAME
from .run import fail_import
from .tracker import mark_enqueued

logger = logging.getLogger(__name__)

#: Job record states that mean a job will still run (``failed`` = a retry is due).
LIVE_STATES = frozenset({"waiting", "delayed", "active", "failed"})


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
    rows = await import_phases.in_flight(res.pool)
    report.checked = len(rows)
    if not rows:
        return report
    records = await res.broker.admin.states(import_phase_id(r["import_id"], r["phase"]) for r in rows)
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
    still = await import_phases.still_in_flight(res.pool, [o["import_id"] for o in orphans], [o["phase"] for o in orphans])
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

