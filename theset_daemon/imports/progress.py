"""Import progress: persisted in ``import_status``, appended to a Redis Stream.

Every report updates the import's row in PostgreSQL first (the source of truth:
progress never goes backwards, counts are merged, a finished import is frozen), then
appends the import's new view (:func:`~theset_daemon.imports.view.import_view`, the
shape every client sees; one report of an import at a time, cluster-wide, so the
stream's order is the row's) to the import's stream
``{namespace}:progress:{import_id}`` (``MAXLEN ~ 1000``, expiring
:data:`DEFAULT_STREAM_TTL_S` after the last report), from which any host's SSE
endpoint replays and follows it; the same transaction appends the import's id to
``{namespace}:progress-changes`` (``MAXLEN ~ 10000``), the one key the SSE readers
block on, whatever the number of imports they follow. A report with ``stage_done=True`` ends its
stage: the stage's wall time, measured from its first report on any host, is
observed once in ``IMPORT_PHASE_DURATION``.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson
import redis.asyncio as aioredis

from ..runtime.metrics import IMPORT_PHASE_DURATION
from ..store.imports import STATUSES, STATUS_RUNNING, import_exists, lock_reports, report_row, unlock_reports
from .plan import STAGES
from .view import import_view, load_import_view

#: Entries kept per import stream (approximate trim).
STREAM_MAXLEN = 1000
#: Change notices kept (approximate trim): the SSE readers are never that far behind, and sweep anyway.
CHANGES_MAXLEN = 10000
#: Seconds a stream (and its phase clock) lives after its last report.
DEFAULT_STREAM_TTL_S = 24 * 3600


class UnknownImport(LookupError):
    """A report for an import id that has no ``import_status`` row."""


def stream_key(namespace: str, import_id: str) -> str:
    """The Redis Stream holding an import's progress events."""
    return f"{namespace}:progress:{import_id}"


def changes_key(namespace: str) -> str:
    """The stream every report also appends its import's id to: what the SSE readers block on."""
    return f"{namespace}:progress-changes"


def _phases_key(namespace: str, import_id: str) -> str:
    return f"{namespace}:progress:{import_id}:phases"


def _check(stage: str, progress: int, status: str) -> None:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
    if not 0 <= progress <= 100:
        raise ValueError(f"progress {progress} is outside 0..100")


def is_uuid(text: str) -> bool:
    """True when ``text`` is a UUID (what an import id is)."""
    try:
        uuid.UUID(text)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


@dataclass
class ProgressReporter:
    """Report an import's progress to PostgreSQL and to its Redis Stream.

    Parameters:
      pool: the asyncpg pool of the database holding ``import_status``.
      redis: the async Redis client (any ``decode_responses`` setting).
      namespace: the daemon's Redis key namespace.
      stream_ttl_s: seconds a stream lives after its last report (default 24 h).
    """

    pool: asyncpg.Pool
    redis: aioredis.Redis
    namespace: str
    stream_ttl_s: int = field(default=DEFAULT_STREAM_TTL_S, kw_only=True)

    async def report(
        self,
        import_id: str,
        *,
        stage: str,
        progress: int,
        message: str = "",
        counts: dict[str, Any] | None = None,
        status: str = STATUS_RUNNING,
        error: str | None = None,
        stage_done: bool = False,
    ) -> str | None:
        """Persist one report, then append it to the stream; return the stream entry id.

        ``progress`` is a percentage 0..100 (the row keeps the highest seen);
        ``counts`` is merged key by key into the row's counts; ``status``
        completed/failed is final and makes this the stream's ``done`` event:
        a report on a finished import changes nothing and returns None.
        ``stage_done`` ends ``stage`` for phase timing.

        Raises:
          ValueError: unknown stage or status, progress outside 0..100.
          UnknownImport: no ``import_status`` row has this id (nothing is appended).
        """
        _check(stage, progress, status)
        if not is_uuid(import_id):
            raise UnknownImport(import_id)
        # One report of an import at a time, on every host (a session advisory lock, held
        # from the update until the append): reports reach the stream in the order they
        # updated the row, so the stream's progress never goes backwards either. The row
        # is committed before the append: the stream only ever shows committed states,
        # and a completion is kept in PostgreSQL even when Redis is away.
        async with self.pool.acquire() as conn:
            await lock_reports(conn, import_id)
            try:
                row = await report_row(conn, import_id, stage, progress, message, status, counts or {}, error)
                if row is None:
                    if not await import_exists(conn, import_id):
                        raise UnknownImport(import_id)
                    return None  # already completed or failed: its stream has ended
                return await self._append(import_view(row), stage_done=stage_done)
            finally:
                if not conn.is_closed():
                    with contextlib.suppress(Exception):  # a lost session has released it already
                        await unlock_reports(conn, import_id)

    async def _append(self, event: dict[str, Any], *, stage_done: bool) -> str:
        """XADD the event (the import's view) and keep the stage's clock, in one round trip."""
        key = stream_key(self.namespace, event["importId"])
        phases = _phases_key(self.namespace, event["importId"])
        stage = event["stage"]
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(key, {"data": orjson.dumps(event)}, maxlen=STREAM_MAXLEN, approximate=True)
            pipe.expire(key, self.stream_ttl_s)
            pipe.hsetnx(phases, stage, now)
            if stage_done:
                pipe.hget(phases, stage)
                pipe.hsetnx(phases, f"{stage}:done", now)
            pipe.expire(phases, self.stream_ttl_s)
            pipe.xadd(changes_key(self.namespace), {"i": event["importId"]}, maxlen=CHANGES_MAXLEN, approximate=True)
            replies = await pipe.execute()
        if stage_done and replies[4]:  # first end of this stage: observe it exactly once
            IMPORT_PHASE_DURATION.labels(stage).observe(max(0.0, now - float(replies[3])))
        entry_id = replies[0]
        return entry_id.decode() if isinstance(entry_id, bytes) else entry_id

    async def snapshot(self, import_id: str) -> dict[str, Any] | None:
        """The import's view (:mod:`theset_daemon.imports.view`), or None if unknown."""
        if not is_uuid(import_id):
            return None
        return await load_import_view(self.pool, import_id)
