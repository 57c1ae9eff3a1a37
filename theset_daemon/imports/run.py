"""One phase of one import, as an actor runs it.

``async with PhaseRun(res, import_id, "catalog", artist_id) as run:`` marks
the phase started and reports it; ``await run.report(fraction, message,
counts)`` moves the progress bar; leaving the block normally records the
phase done, enqueues what it unlocked and, for the last phase, completes
the import (progress 100, the final ``done`` event). An exception leaves
the phase running so the broker's retry runs it again; when the broker
dead-letters the message, :func:`fail_import` marks the import failed.
PostgreSQL being unreachable (stopped, restarting, connections cut) is not
the phase's failure: it is raised as :class:`DatabaseAway`, a
:class:`~theset_daemon.broker.Postpone`, so the job waits and runs again
without spending an attempt, however long the outage lasts. A phase the
daily provider budget holds (:class:`~theset_daemon.providers.QuotaHeld`,
also a postponement) tells the web app
``waiting for <provider> quota until <time>`` in its status message.

Recurring syncs run the same actors with ``import_id=None``: then every
call here is a no-op and the phase just does its work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType
from typing import Any

import aiohttp

from ..broker.errors import Postpone
from ..providers.errors import ProviderError, QuotaHeld
from ..providers.quota.rules import held_message
from ..queues import Priority
from ..runtime import job_log
from ..runtime.metrics import IMPORTS, IMPORT_VISIBLE
from ..runtime.resources import Resources
from ..services import cache, webhooks
from ..store.imports import STATUS_COMPLETED, STATUS_FAILED, import_age_s, import_artist_id
from ..store.pool import DATABASE_UNREACHABLE
from . import tracker
from .errors import ImportFailure, failure_of
from .kickoff import enqueue_phases
from .plan import DONE, PHASES_BY_NAME

logger = logging.getLogger(__name__)

#: Milliseconds a phase waits before trying again while PostgreSQL is away.
DATABASE_RETRY_MS = 2000


class DatabaseAway(Postpone):
    """PostgreSQL is unreachable: run the phase again in :data:`DATABASE_RETRY_MS`, no attempt spent."""

    delay_ms = DATABASE_RETRY_MS


def _database_away(exc: BaseException | None) -> bool:
    """True when ``exc`` says PostgreSQL cannot be reached.

    Only the exception itself counts (provider clients wrap their own connection
    errors, with the OSError as the cause), and a timeout is not an outage.
    """
    return isinstance(exc, DATABASE_UNREACHABLE) and not isinstance(
        exc, (TimeoutError, ProviderError, Postpone, aiohttp.ClientError)
    )


class PhaseRun:
    """Progress and completion bookkeeping around one phase's work.

    Parameters:
      res: the daemon's resources (pool, broker, progress reporter).
      import_id: the import this phase belongs to, or None for a recurring sync.
      phase: the phase's name in :data:`~theset_daemon.imports.plan.PHASES`.
      artist_id: passed on to the phases this one unlocks.
    """

    def __init__(self, res: Resources, import_id: str | None, phase: str, artist_id: str | None = None) -> None:
        self.res = res
        self.import_id = import_id
        self.phase = PHASES_BY_NAME[phase]
        self.artist_id = artist_id
        self.counts: dict[str, Any] = {}
        self.answered = False
        self._started: asyncio.Future[None] | None = None
        self._requests = job_log.counting_requests()

    async def __aenter__(self) -> "PhaseRun":
        self.requests = self._requests.__enter__()
        if self.import_id is None:
            return self
        if self.phase.job.priority <= Priority.CRITICAL:
            # Phase 1 is what the fan waits for: its provider calls start now, the "started"
            # bookkeeping (five round trips) runs beside them and is awaited by the first report.
            self._started = asyncio.ensure_future(self._start())
            return self
        try:
            await self._start()
        except Exception as exc:
            self._requests.__exit__(None, None, None)
            self._postpone_if_database_away(exc)
            raise
        return self

    async def _start(self) -> None:
        assert self.import_id is not None
        async with self.res.pool.acquire() as conn:
            await tracker.mark_started(conn, self.import_id, self.phase.name)
        await self._report(0.0, f"{self.phase.name}: started")

    async def _wait_started(self, *, quiet: bool = False) -> None:
        """Await the "started" bookkeeping running beside phase 1 (its error raised unless ``quiet``)."""
        task, self._started = self._started, None
        if task is None:
            return
        if quiet:
            with contextlib.suppress(Exception):
                await task
        else:
            await task

    def _postpone_if_database_away(self, exc: BaseException | None) -> None:
        if _database_away(exc):
            logger.warning("PostgreSQL unreachable; %s postponed: %s", self.phase.name, exc,
                           extra={"import_id": self.import_id})
            raise DatabaseAway(f"{self.phase.name}: PostgreSQL unreachable: {exc}") from exc

    async def report(self, fraction: float, message: str, counts: dict[str, Any] | None = None) -> None:
        """Move this phase to ``fraction`` (0..1) and tell the web app."""
        await self._wait_started()
        await self._report(fraction, message, counts)

    async def _report(self, fraction: float, message: str, counts: dict[str, Any] | None = None) -> None:
        if counts:
            self.counts.update(counts)
        if self.import_id is None:
            return
        async with self.res.pool.acquire() as conn:
            progress = await tracker.record_fraction(conn, self.import_id, self.phase.name, fraction, counts)
        await self.res.progress.report(
            self.import_id, stage=self.phase.name, progress=progress, message=message, counts=counts or None
        )

    async def fail(self, failure: ImportFailure) -> None:
        """End the import ``failed`` with ``failure`` as its answer (not a broken job: no retry, no dead letter).

        For a failure that is the answer (an unknown attraction): the actor returns normally after it.
        """
        self.answered = True
        await self._wait_started(quiet=True)
        if self.import_id is not None:
            await fail_import(self.res, self.import_id, self.phase.name, failure)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._requests.__exit__(exc_type, exc, tb)
        job_log.note(job_log.requests_line(self.requests))
        if exc_type is not None:
            job_log.note(f"{self.phase.name} failed: {exc_type.__name__}: {exc}")
            await self._wait_started(quiet=True)
            self._postpone_if_database_away(exc)
            await self._tell_if_held(exc)
            return
        job_log.note(f"{self.phase.name} done: {self.counts}")
        if self.import_id is None or self.answered:
            return
        try:
            await self._finish()
        except Exception as error:
            self._postpone_if_database_away(error)
            raise

    async def _tell_if_held(self, exc: BaseException | None) -> None:
        """An import phase held by the daily budget says so, and until when (best effort)."""
        if self.import_id is None or not isinstance(exc, QuotaHeld):
            return
        logger.info("%s held by the %s budget", self.phase.name, exc.provider, extra={"import_id": self.import_id})
        try:
            await self.res.progress.report(
                self.import_id, stage=self.phase.name, progress=0, message=held_message(exc.provider, exc.until_ms)
            )
        except Exception as error:  # the job is postponed either way
            logger.warning("could not report the quota hold: %s", error, extra={"import_id": self.import_id})

    async def _finish(self) -> None:
        """Record the phase done, hand out what it unlocked, complete the import after its last phase."""
        assert self.import_id is not None
        await self._wait_started()
        async with self.res.pool.acquire() as conn:
            outcome = await tracker.mark_done(conn, self.import_id, self.phase.name, self.counts)
        await self.res.progress.report(
            self.import_id, stage=self.phase.name, progress=outcome.progress,
            message=f"{self.phase.name}: done", counts=self.counts or None, stage_done=True,
        )
        if self.phase.name == "artist":
            await self._observe_visible()
        await enqueue_phases(self.res.broker, self.import_id, outcome.ready, artist_id=self.artist_id)
        if outcome.complete:
            await complete_import(self.res, self.import_id)

    async def _observe_visible(self) -> None:
        """Kickoff → artist page visible (phase 1 done), once per import: ``theset_import_visible_seconds``."""
        waited = await import_age_s(self.res.pool, self.import_id)
        if waited is not None:
            IMPORT_VISIBLE.observe(max(0.0, waited))


async def complete_import(res: Resources, import_id: str) -> None:
    """Report the final ``done`` event (progress 100, status completed)."""
    await res.progress.report(import_id, stage=DONE, progress=100, message="import complete", status=STATUS_COMPLETED)
    IMPORTS.labels("completed").inc()
    logger.info("import completed", extra={"import_id": import_id})
    await _after_import(res, import_id, "import.completed")


async def fail_import(res: Resources, import_id: str, phase: str, error: ImportFailure | str) -> None:
    """Mark the phase and the import failed with ``{code, message}`` (a text error is classified)."""
    failure = error if isinstance(error, ImportFailure) else ImportFailure.parse(error) or failure_of(None, phase)
    async with res.pool.acquire() as conn:
        await tracker.mark_failed(conn, import_id, phase, failure.to_text())
    await res.progress.report(
        import_id, stage=phase, progress=0, message=f"{phase} failed: {failure.message}"[:300],
        status=STATUS_FAILED, error=failure.to_text(),
    )
    IMPORTS.labels("failed").inc()
    logger.warning("import failed", extra={"import_id": import_id, "phase": phase, "error": failure.as_dict()})
    await _after_import(res, import_id, "import.failed")


async def _after_import(res: Resources, import_id: str, event: str) -> None:
    """Tell partner systems (webhooks) and refresh the artist's cached pages; never fails the phase."""
    try:
        await webhooks.notify_import(res, import_id, event)
        artist_id = await import_artist_id(res.pool, import_id)
        if artist_id:
            await cache.refresh_artist(res, artist_id, reason=event)
    except Exception as exc:
        logger.warning("after-import notifications failed: %s", exc, extra={"import_id": import_id})
