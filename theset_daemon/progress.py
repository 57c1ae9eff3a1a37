"""Import progress: persisted in ``import_status``, appended to a Redis Stream.

Every report updates the import's row in PostgreSQL first (the source of truth:
progress never goes backwards, counts are merged, a finished import is frozen), then
appends the row's new state (one report of an import at a time, cluster-wide, so the
stream's order is the row's) to the import's stream
``{namespace}:progress:{import_id}`` (``MAXLEN ~ 1000``, expiring
:data:`DEFAULT_STREAM_TTL_S` after the last report), from which any host's SSE
endpoint replays and follows it. A report with ``stage_done=True`` ends its
stage: the stage's wall time, measured from its first report on any host, is
observed once in ``IMPORT_PHASE_DURATION``.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncpg
import orjson
import redis.asyncio as aioredis

from .metrics import IMPORT_PHASE_DURATION

#: The import's stages (phases), in the order an import usually reaches them.
QUEUED = "queued"
ARTIST = "artist"
SPOTIFY_PROFILE = "spotify_profile"
CATALOG = "catalog"
SHOWS = "shows"
VENUES = "venues"
SETLISTS = "setlists"
IMAGES = "images"
DONE = "done"
STAGES = (QUEUED, ARTIST, SPOTIFY_PROFILE, CATALOG, SHOWS, VENUES, SETLISTS, IMAGES, DONE)

#: The import's statuses; the final ones end its event stream.
STATUS_QUEUED = "queued"
STATUS_RUNNING = "running"
STATUS_COMPLETED = "completed"
STATUS_FAILED = "failed"
STATUSES = (STATUS_QUEUED, STATUS_RUNNING, STATUS_COMPLETED, STATUS_FAILED)
FINAL_STATUSES = frozenset({STATUS_COMPLETED, STATUS_FAILED})

#: Entries kept per import stream (approximate trim).
STREAM_MAXLEN = 1000
#: Seconds a stream (and its phase clock) lives after its last report.
DEFAULT_STREAM_TTL_S = 24 * 3600


class UnknownImport(LookupError):
    """A report for an import id that has no ``import_status`` row."""


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report as clients see it: the row's state right after the report.

    ``progress`` is 0..100 and never lower than an earlier event's (within the
    row); ``counts`` is the merged counts; ``ts`` is Unix seconds.
    """

    import_id: str
    stage: str
    progress: int
    message: str
    counts: dict[str, Any]
    status: str
    ts: float
    error: str | None = None

    @property
    def final(self) -> bool:
        """True for the completed/failed event that ends the import's stream."""
        return self.status in FINAL_STATUSES

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes | str) -> ProgressEvent:
        return cls(**orjson.loads(data))


def stream_key(namespace: str, import_id: str) -> str:
    """The Redis Stream holding an import's progress events."""
    return f"{namespace}:progress:{import_id}"


def _phases_key(namespace: str, import_id: str) -> str:
    return f"{namespace}:progress:{import_id}:phases"


_UPDATE = """
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
RETURNING stage, progress, message, status, counts::text AS counts, error,
          extract(epoch FROM updated_at)::float8 AS ts
"""

#: Serialises one import's reports across hosts (released by _UNLOCK, or by the pool's reset).
_LOCK = "SELECT pg_advisory_lock(hashtextextended('theset.progress:' || $1::text, 0))"
_UNLOCK = "SELECT pg_advisory_unlock(hashtextextended('theset.progress:' || $1::text, 0))"

_EXISTS = "SELECT true FROM import_status WHERE id = $1::text::uuid"

_SNAPSHOT = """
SELECT id::text AS import_id, tm_attraction_id, artist_id::text AS artist_id, status, stage, progress,
       message, counts::text AS counts, error, created_at, updated_at, completed_at
FROM import_status WHERE id = $1::text::uuid
"""


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
            await conn.execute(_LOCK, import_id)
            try:
                row = await conn.fetchrow(
                    _UPDATE, import_id, stage, progress, message, status, orjson.dumps(counts or {}).decode(), error
                )
                if row is None:
                    if await conn.fetchval(_EXISTS, import_id) is None:
                        raise UnknownImport(import_id)
                    return None  # already completed or failed: its stream has ended
                event = ProgressEvent(
                    import_id=import_id,
                    stage=row["stage"],
                    progress=row["progress"],
                    message=row["message"] or "",
                    counts=orjson.loads(row["counts"] or "{}"),
                    status=row["status"],
                    ts=row["ts"],
                    error=row["error"],
                )
                return await self._append(event, stage_done=stage_done)
            finally:
                if not conn.is_closed():
                    with contextlib.suppress(Exception):  # a lost session has released it already
                        await conn.execute(_UNLOCK, import_id)

    async def _append(self, event: ProgressEvent, *, stage_done: bool) -> str:
        """XADD the event and keep the stage's clock, in one round trip."""
        key = stream_key(self.namespace, event.import_id)
        phases = _phases_key(self.namespace, event.import_id)
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(key, {"data": event.to_json()}, maxlen=STREAM_MAXLEN, approximate=True)
            pipe.expire(key, self.stream_ttl_s)
            pipe.hsetnx(phases, event.stage, now)
            if stage_done:
                pipe.hget(phases, event.stage)
                pipe.hsetnx(phases, f"{event.stage}:done", now)
            pipe.expire(phases, self.stream_ttl_s)
            replies = await pipe.execute()
        if stage_done and replies[4]:  # first end of this stage: observe it exactly once
            IMPORT_PHASE_DURATION.labels(event.stage).observe(max(0.0, now - float(replies[3])))
        entry_id = replies[0]
        return entry_id.decode() if isinstance(entry_id, bytes) else entry_id

    async def snapshot(self, import_id: str) -> dict[str, Any] | None:
        """The import's row as a JSON-ready dict (timestamps ISO-8601), or None if unknown."""
        if not is_uuid(import_id):
            return None
        row = await self.pool.fetchrow(_SNAPSHOT, import_id)
        if row is None:
            return None
        snapshot = dict(row)
        snapshot["counts"] = orjson.loads(snapshot["counts"] or "{}")
        for name in ("created_at", "updated_at", "completed_at"):
            if snapshot[name] is not None:
                snapshot[name] = snapshot[name].isoformat()
        return snapshot
