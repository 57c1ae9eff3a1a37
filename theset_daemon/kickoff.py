"""Kicking off an artist import: persist first, then enqueue phase 1.

The import row is written (deduplicated on the Ticketmaster attraction id)
before anything is enqueued, so an import the web app was told about always
exists in PostgreSQL, and reconciliation can find it if Redis loses its data.
"""

from __future__ import annotations

from typing import Any, Sequence

import dramatiq

from .context import Resources
from .import_plan import PHASES_BY_NAME, Phase
from .import_tracker import mark_enqueued
from .metrics import IMPORTS
from .store import create_import, get_import


def phase_job_id(import_id: str, phase: str) -> str:
    """The deterministic job id of one phase of one import (re-enqueues dedupe on it)."""
    return f"import:{import_id}:{phase}"


def phase_message(phase: Phase, import_id: str, **kwargs: Any) -> dramatiq.Message:
    """The message that runs ``phase`` of ``import_id`` at the phase's priority."""
    return dramatiq.Message(
        queue_name=phase.queue,
        actor_name=phase.actor,
        args=(),
        kwargs={"import_id": import_id, **kwargs},
        options={"priority": phase.priority.name, "job_id": phase_job_id(import_id, phase.name)},
    )


async def enqueue_phases(broker: Any, import_id: str, phases: Sequence[Phase], **kwargs: Any) -> None:
    """Enqueue phases of one import in one round trip."""
    if phases:
        await broker.enqueue_many_async([phase_message(p, import_id, **kwargs) for p in phases])


async def kickoff(res: Resources, tm_attraction_id: str, owner: str) -> dict[str, Any]:
    """Start (or join) the import of an attraction; return its status record."""
    async with res.pool.acquire() as conn:
        import_id, created = await create_import(conn, tm_attraction_id, owner)
        if created:
            await mark_enqueued(conn, str(import_id), ["artist"])
    if created:
        IMPORTS.labels("started").inc()
        await enqueue_phases(res.broker, str(import_id), [PHASES_BY_NAME["artist"]], tm_attraction_id=tm_attraction_id)
    async with res.pool.acquire() as conn:
        record = await get_import(conn, import_id)
    assert record is not None
    return record
