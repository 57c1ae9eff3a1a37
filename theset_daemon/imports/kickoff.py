"""Kicking off an artist import: persist first, then enqueue phase 1.

The import row is written (deduplicated on the Ticketmaster attraction id)
before anything is enqueued, so an import the web app was told about always
exists in PostgreSQL, and reconciliation can find it if Redis loses its data.
The row is the promise: when Redis refuses the enqueue (down, frozen, out of
memory) the kickoff still answers, and :class:`DeferredEnqueues` enqueues the
first phase as soon as Redis takes writes again (the per-minute reconciliation
stays the backstop should this daemon die first).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Sequence

import dramatiq
from redis.exceptions import RedisError

from ..broker import TheSetBroker
from ..jobs import import_phase_id
from ..runtime.metrics import IMPORTS
from ..runtime.resources import Resources
from ..store import create_import, get_import
from .plan import PHASES_BY_NAME, Phase
from .tracker import mark_enqueued

logger = logging.getLogger(__name__)

#: Seconds between attempts to enqueue the imports Redis refused.
DEFERRED_RETRY_S = 0.5
#: Seconds a kickoff waits for its enqueue before answering and leaving it to :func:`deferred`.
KICKOFF_ENQUEUE_TIMEOUT_S = 1.0


def phase_message(phase: Phase, import_id: str, **kwargs: Any) -> dramatiq.Message:
    """The message that runs ``phase`` of ``import_id`` at the phase's priority."""
    return phase.job.message(job_id=import_phase_id(import_id, phase.name), import_id=import_id, **kwargs)


async def enqueue_phases(broker: TheSetBroker, import_id: str, phases: Sequence[Phase], **kwargs: Any) -> None:
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
        try:
            async with asyncio.timeout(KICKOFF_ENQUEUE_TIMEOUT_S):
                await enqueue_phases(res.broker, str(import_id), [PHASES_BY_NAME["artist"]],
                                     tm_attraction_id=tm_attraction_id)
        except (RedisError, TimeoutError) as exc:  # a late enqueue that lands anyway is deduplicated on its job id
            logger.warning("import %s is saved but Redis refused its enqueue (%s); enqueueing it when Redis takes "
                           "writes again", import_id, exc or type(exc).__name__)
            deferred(res).add(res.broker, str(import_id), tm_attraction_id)
    async with res.pool.acquire() as conn:
        record = await get_import(conn, import_id)
    assert record is not None
    return record


class DeferredEnqueues:
    """Imports whose first phase Redis refused, enqueued together as soon as it takes writes."""

    def __init__(self) -> None:
        self.pending: dict[str, str] = {}  # import id -> attraction id
        self._task: asyncio.Task[None] | None = None

    def add(self, broker: TheSetBroker, import_id: str, tm_attraction_id: str) -> None:
        self.pending[import_id] = tm_attraction_id
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._retry(broker), name="theset-deferred-enqueues")

    async def _retry(self, broker: TheSetBroker) -> None:
        artist = PHASES_BY_NAME["artist"]
        while self.pending:
            await asyncio.sleep(DEFERRED_RETRY_S)
            batch = dict(self.pending)
            messages = [phase_message(artist, i, tm_attraction_id=a) for i, a in batch.items()]
            try:
                await broker.enqueue_many_async(messages)
            except RedisError:
                continue
            for import_id in batch:
                if self.pending.get(import_id) == batch[import_id]:
                    del self.pending[import_id]
            logger.info("enqueued %d deferred import(s) now that Redis takes writes", len(batch))


def deferred(res: Resources) -> DeferredEnqueues:
    """The daemon's deferred kickoff enqueues (``res.deferred_kickoffs``); made there on first use."""
    if res.deferred_kickoffs is None:
        res.deferred_kickoffs = DeferredEnqueues()
    return res.deferred_kickoffs
