"""The operator's view of the broker: queue overview, job records, dead letters, queue controls.

One class, :class:`QueueAdmin`, used by the HTTP admin API (``web/admin.py``,
``web/jobs.py``) and the terminal (``cli/operator.py``) alike, so both show the
same numbers in the same JSON shapes (camelCase, times in ms since the epoch on
the Redis clock). Everything reads and writes Redis directly: no daemon needs
to run. Each read is one Lua call (``scripts/admin_*.lua``); a queue-wide
action runs in batches of :data:`BATCH` jobs so Redis never blocks for long.

States of a job (the record's ``state``): ``waiting``, ``delayed``, ``active``,
``completed``, ``failed`` (an attempt failed, its retry is pending) and
``dead`` (a dead letter). Counts per queue are of these states, so they add up
to the jobs the queue holds (completed ones within retention).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from dramatiq import Message
from dramatiq.errors import DecodeError

from . import retries
from .queues import Priority, QueueSpec
from .serving import served_by

if TYPE_CHECKING:
    from .broker import TheSetBroker

#: Job states, in the order a job passes through them.
STATES = ("waiting", "delayed", "active", "completed", "failed", "dead")

#: Queue-wide actions (``POST /api/admin/queues/{queue}/{action}``).
QUEUE_ACTIONS = ("pause", "resume", "clean", "purge", "retry-failed")

#: Jobs one Lua call of a queue-wide action touches at most.
BATCH = 1000

#: Index entries one search call (one Lua script) looks at at most, so it never holds Redis for long
#: (a text search: median 8-19 ms, slowest 12-35 ms on the shared 2-core dev machine, bench/job_search.py).
SCAN_BUDGET = 1000

#: Search calls one page may make at most; a page cut short by them has fewer jobs than asked and a
#: next cursor.
SEARCH_CALLS = 20

#: The order a search without a state walks a queue's states in.
SEARCH_ORDER = ("active", "waiting", "delayed", "failed", "dead", "completed")

#: Minutes of throughput history in the overview.
THROUGHPUT_MINUTES = 15

_SUMMARY_FIELDS = ("state", "queue", "actor", "priority", "attempts", "enqueued_at", "started_at",
                   "finished_at", "due_at", "error")
_OVERVIEW_WIDTH = 13 + THROUGHPUT_MINUTES


class UnknownQueue(LookupError):
    """No queue of that name in the queue table."""

    def __init__(self, queue: str) -> None:
        super().__init__(f"no queue {queue!r}")
        self.queue = queue


class UnknownJob(LookupError):
    """No job record with that id (never enqueued, or trimmed by retention)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id!r} (never enqueued, or its record was trimmed)")
        self.job_id = job_id


class JobStateConflict(Exception):
    """The job's state forbids the action (deleting a running job, promoting a waiting one)."""

    def __init__(self, job_id: str, state: str, action: str) -> None:
        super().__init__(f"job {job_id!r} is {state}: cannot {action} it")
        self.job_id, self.state, self.action = job_id, state, action


def encode_cursor(job_id: str, score: str, segment: int = 0) -> str:
    """An opaque page cursor: where the walk stopped (segment, last listed job and its index score)."""
    return base64.urlsafe_b64encode(f"{segment}\n{score}\n{job_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str, str]:
    """(segment, job id, score) of a cursor; job id and score are empty at a segment's top.

    Raises:
      ValueError: not a cursor this API handed out.
    """
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        segment, score, job_id = text.split("\n", 2)
        if score:
            float(score)
        if int(segment) < 0 or bool(score) != bool(job_id):
            raise ValueError
        return int(segment), job_id, score
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("not a cursor from this API") from None


@dataclass(frozen=True)
class JobFilter:
    """What a job search keeps; every field is optional (None = any).

    ``text`` is a case-insensitive substring of the job's encoded message (its
    arguments and options) or of its last error; ``since``/``until`` bound its
    enqueue time (ms since the epoch, inclusive).
    """

    queue: str | None = None
    state: str | None = None
    actor: str | None = None
    text: str | None = None
    since: int | None = None
    until: int | None = None


def _int(value: Any) -> int | None:
    return None if value is None or value == b"" else int(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value.decode() if isinstance(value, bytes) else str(value)
    return text or None


def _priority_name(value: Any) -> str | None:
    number = _int(value)
    return Priority(number).name if number is not None and 0 <= number <= 4 else None


def _progress(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


class QueueAdmin:
    """Operator reads and actions on one broker's Redis.

    Parameters:
      broker: the broker (its namespace, queue table, retention and scripts).
      mask: applied to every job view, summary and dead letter before it is
        returned (the daemon passes its secret masker); identity by default.
    """

    def __init__(self, broker: TheSetBroker, *, mask: Callable[[Any], Any] | None = None) -> None:
        self.broker = broker
        self.keys = broker.keys
        self.mask = mask or (lambda view: view)

    # -- queues ----------------------------------------------------------------------------

    def spec(self, queue: str) -> QueueSpec:
        """The queue table row of ``queue``.

        Raises:
          UnknownQueue: not in the table.
        """
        try:
            return self.broker.specs[queue]
        except KeyError:
            raise UnknownQueue(queue) from None

    async def overview(self) -> dict[str, Any]:
        """Every queue (counts by state and priority, paused, oldest waiting age, throughput) and daemon."""
        specs = list(self.broker.specs.values())
        flat = await self.broker.run_script("admin_overview", [spec.name for spec in specs])
        serving = await served_by(self.broker.aredis, self.broker.namespace)
        now = int(flat[-1])
        queues = []
        for i, spec in enumerate(specs):
            row = flat[i * _OVERVIEW_WIDTH : (i + 1) * _OVERVIEW_WIDTH]
            oldest = int(row[12])
            queues.append({
                "name": spec.name,
                "concurrency": spec.concurrency,
                "rateLimit": float(spec.rate_per_s) if spec.rate_per_s else None,
                "defaultPriority": spec.priority.name,
                "paused": bool(row[6]),
                "counts": dict(zip(STATES, (int(v) for v in row[:6]))),
                "waitingByPriority": {p.name: int(row[7 + p.value]) for p in Priority},
                "oldestWaitingAgeS": round(max(0, now - oldest) / 1000, 3) if oldest >= 0 else None,
                "throughputPerMin": [int(v) for v in row[13:]],
                "servedBy": serving.get(spec.name, []),
                # work waits (or comes due) and no live daemon consumes this queue
                "unserved": not serving.get(spec.name) and int(row[0]) + int(row[1]) > 0,
            })
        return {"queues": queues, "daemons": await self.daemons(now)}

    async def daemons(self, now_ms: int) -> list[dict[str, Any]]:
        """Daemons that sent a heartbeat in the last day, newest heartbeat first.

        ``alive``: heartbeat within the lease timeout and no clean stop since (a
        daemon silent for longer has its jobs reclaimed by the others).
        """
        aredis = self.broker.aredis
        hosts = await aredis.zrevrange(self.keys.daemons, 0, -1)
        async with aredis.pipeline(transaction=False) as pipe:
            for host in hosts:
                pipe.hgetall(self.keys.daemon(host.decode()))
            beats = await pipe.execute()
        out = []
        for host, beat in zip(hosts, beats):
            if not beat:
                continue
            beat = {k.decode(): v.decode() for k, v in beat.items()}
            heartbeat = int(beat.get("heartbeat", 0))
            lease_timeout_ms = int(beat.get("lease_ms", 0)) * 4 // 3 or int(self.broker.lease_timeout_s * 1000)
            alive = "stopped_at" not in beat and now_ms - heartbeat <= lease_timeout_ms
            jobs = [j for j in beat.get("jobs", "").split("\n") if j] if alive else []
            out.append({
                "hostId": host.decode(),
                "alive": alive,
                "lastHeartbeat": heartbeat,
                "active": len(jobs),
                "activeJobs": jobs,
            })
        return out

    async def is_paused(self, queue: str) -> bool:
        return bool(await self.broker.aredis.exists(self.keys.queue(queue, "paused")))

    async def pause(self, queue: str) -> int:
        """Stop every daemon fetching from ``queue`` (persists in Redis until :meth:`resume`).
        Returns 1, or 0 if it already was paused."""
        self.spec(queue)
        async with self.broker.aredis.pipeline(transaction=False) as pipe:
            pipe.exists(self.keys.queue(queue, "paused"))
            pipe.set(self.keys.queue(queue, "paused"), 1)
            was, _ = await pipe.execute()
        return 0 if was else 1

    async def resume(self, queue: str) -> int:
        """Let daemons fetch from ``queue`` again, waking an idle one. Returns 1, or 0 if it was not paused."""
        self.spec(queue)
        async with self.broker.aredis.pipeline(transaction=False) as pipe:
            pipe.delete(self.keys.queue(queue, "paused"))
            pipe.zadd(self.keys.queue(queue, "marker"), {"1": 0})
            was, _ = await pipe.execute()
        return 1 if was else 0

    async def queue_action(self, queue: str, action: str, *, older_than_s: float | None = None) -> int:
        """Run one of :data:`QUEUE_ACTIONS` on ``queue``; returns the number of jobs (or queues) affected.

        ``clean`` drops completed records and failed-index entries older than
        ``older_than_s`` (default: their retention), ``purge`` drops waiting and
        delayed jobs (not running ones), ``retry-failed`` sends every dead letter
        back to waiting with its attempts reset and its data kept.

        Raises:
          UnknownQueue: ``queue`` is not in the table.
          ValueError: unknown action.
        """
        self.spec(queue)
        if action == "pause":
            return await self.pause(queue)
        if action == "resume":
            return await self.resume(queue)
        defaults = self.broker.defaults
        if action == "clean":
            completed_ms = int((defaults.completed_ttl_s if older_than_s is None else older_than_s) * 1000)
            failed_ms = int((defaults.failed_ttl_s if older_than_s is None else older_than_s) * 1000)
            return await self._batched("clean", queue, completed_ms, failed_ms)
        if action == "purge":
            return await self._batched("purge", queue)
        if action == "retry-failed":
            return await self._batched("retry_dead", queue)
        raise ValueError(f"unknown queue action {action!r}; expected one of {', '.join(QUEUE_ACTIONS)}")

    async def apply_retention(self) -> int:
        """Trim every queue's completed, dead and failed sets to their retention now, records
        included (what the periodic check does a little at a time); returns the ids dropped."""
        return sum([await self._batched("retention", queue) for queue in self.broker.specs])

    async def remove_orphan_records(self) -> int:
        """Delete completed and dead job records without an expiry that finished before their
        retention (left by a crash or an operator, listed in no set); returns how many.

        Walks every job record with SCAN, :data:`BATCH` records per round trip.
        """
        defaults = self.broker.defaults
        retention_ms = {"completed": defaults.completed_ttl_s * 1000, "dead": defaults.dead_ttl_s * 1000}
        aredis = self.broker.aredis
        removed = 0
        batch: list[bytes] = []

        async def check(keys: list[bytes]) -> int:
            now_ms = int(time.time() * 1000)
            async with aredis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hmget(key, "state", "finished_at")
                    pipe.ttl(key)
                replies = await pipe.execute()
            doomed = [key for key, (state, finished), ttl in zip(keys, replies[0::2], replies[1::2])
                      if ttl == -1 and finished and _text(state) in retention_ms
                      and int(finished) < now_ms - retention_ms[_text(state)]]
            if doomed:
                await aredis.delete(*doomed)
            return len(doomed)

        async for key in aredis.scan_iter(match=self.keys.job("*"), count=BATCH):
            batch.append(key)
            if len(batch) >= BATCH:
                removed += await check(batch)
                batch = []
        return removed + (await check(batch) if batch else 0)

    async def _batched(self, action: str, queue: str, *extra: int) -> int:
        total = 0
        while True:
            affected = int(await self.broker.run_script("admin_queue", [action, queue, BATCH, *extra]))
            total += affected
            if affected == 0:
                return total

    # -- jobs ------------------------------------------------------------------------------

    async def find(self, job_id: str) -> dict[str, Any] | None:
        """The decoded job record of ``job_id`` (``message`` holds the Dramatiq message), or None."""
        raw = await self.broker.aredis.hgetall(self.keys.job(job_id))
        return decode_record(raw) if raw else None

    async def states(self, job_ids: Iterable[str]) -> list[tuple[str | None, str | None]]:
        """(state, error) of each job, (None, None) for a job without a record; one round trip."""
        async with self.broker.aredis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hmget(self.keys.job(job_id), "state", "error")
            replies = await pipe.execute()
        return [(_text(state), _text(error)) for state, error in replies]

    async def record(self, job_id: str) -> dict[str, Any]:
        """The decoded job record of ``job_id``.

        Raises:
          UnknownJob: no record.
        """
        record = await self.find(job_id)
        if record is None:
            raise UnknownJob(job_id)
        return record

    async def job(self, job_id: str) -> dict[str, Any]:
        """Everything known about one job (the ``GET /api/jobs/{jobId}`` body)."""
        return self.mask(self.job_view(await self.record(job_id)))

    def job_view(self, record: dict[str, Any]) -> dict[str, Any]:
        message = record.get("message")
        options = dict(message.options) if message is not None else {}
        actor = self.broker.actors.get(record.get("actor", ""))
        max_attempts = retries.max_attempts(options, actor.options if actor else {}, self.broker.defaults)
        kwargs = message.kwargs if message is not None else {}
        return {
            "jobId": record["job_id"],
            "queue": record.get("queue"),
            "actor": record.get("actor"),
            "state": record.get("state"),
            "priority": _priority_name(record.get("priority")),
            "attempts": record.get("attempts", 0),
            "maxAttempts": max_attempts,
            "args": list(message.args) if message is not None else [],
            "kwargs": kwargs,
            "options": options,
            "enqueuedAt": record.get("enqueued_at"),
            "startedAt": record.get("started_at"),
            "finishedAt": record.get("finished_at"),
            "dueAt": record.get("due_at"),
            "progress": _progress(record.get("progress")),
            "error": record.get("error") or None,
            "excType": record.get("exc_type") or None,
            "traceback": record.get("traceback") or None,
            "owner": record.get("owner"),
            "requestedBy": options.get("owner") or kwargs.get("owner"),
            "failures": record.get("failures", 0),
            "firstFailedAt": record.get("first_failed_at"),
            "lastFailedAt": record.get("last_failed_at"),
            "reason": record.get("reason") or None,
            "runs": record.get("runs", 0),
            "handbacks": record.get("handbacks", 0),
            "reclaims": record.get("reclaims", 0),
            "postpones": record.get("postpones", 0),
            "history": _history(record),
            "logs": job_logs(record.get("logs")),
            "logsDropped": record.get("logs_dropped", 0),
        }

    async def jobs(
        self, queue: str, state: str, *, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of ``queue``'s jobs in ``state``, newest first, and the next page's cursor.

        Newest means: waiting by enqueue order (last enqueued first, lowest priority
        first), delayed by due time (latest first), active by lease, completed,
        failed and dead by when it happened.

        Raises:
          UnknownQueue: ``queue`` is not in the table.
          ValueError: unknown state or a bad cursor.
        """
        return await self.search(JobFilter(queue=queue, state=state), limit=limit, cursor=cursor)

    async def search(
        self, where: JobFilter, *, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the jobs matching ``where``, and the next page's cursor (None on the last page).

        Walks queue by queue (table order), and within a queue state by state
        (:data:`SEARCH_ORDER`), newest first in each (as :meth:`jobs`). Each Redis
        call looks at :data:`SCAN_BUDGET` index entries at most and a page makes
        :data:`SEARCH_CALLS` calls at most: a page may then hold fewer jobs than
        ``limit`` and still have a next cursor. Pass the same filter with the cursor.

        Raises:
          UnknownQueue: ``where.queue`` is not in the table.
          ValueError: unknown state or a bad cursor.
        """
        queues = [self.spec(where.queue).name] if where.queue else list(self.broker.specs)
        if where.state is not None and where.state not in STATES:
            raise ValueError(f"unknown state {where.state!r}; expected one of {', '.join(STATES)}")
        states = [where.state] if where.state else list(SEARCH_ORDER)
        segments = [(q, s) for q in queues for s in states]
        position: tuple[int, str, str] | None = decode_cursor(cursor) if cursor else (0, "", "")
        if position[0] >= len(segments):
            raise ValueError("not a cursor from this API (for these filters)")
        flat_segments = [v for pair in segments for v in pair]
        filters = [where.actor or "", (where.text or "").lower(),
                   -1 if where.since is None else where.since, -1 if where.until is None else where.until]
        summaries: list[dict[str, Any]] = []
        for _ in range(SEARCH_CALLS):
            segment, after_id, after_score = position
            reply = await self.broker.run_script("admin_search", [
                len(segments), *flat_segments, segment, after_id, after_score, limit - len(summaries),
                SCAN_BUDGET, *filters,
            ])
            summaries += [self.mask(row) for row in _search_rows(reply)]
            next_segment = int(reply[0])
            position = (next_segment, reply[1].decode(), reply[2].decode()) if next_segment >= 0 else None
            if position is None or len(summaries) >= limit:
                break
        return summaries, encode_cursor(position[1], position[2], position[0]) if position else None

    async def summary(self, job_id: str) -> dict[str, Any]:
        """The list-row view of one job."""
        values = await self.broker.aredis.hmget(self.keys.job(job_id), list(_SUMMARY_FIELDS))
        if values[0] is None:
            raise UnknownJob(job_id)
        return self.mask(_summary(job_id, dict(zip(_SUMMARY_FIELDS, values))))

    async def _job_action(self, action: str, job_id: str, verb: str) -> dict[str, Any]:
        before = await self.summary(job_id)
        [outcome] = await self.broker.run_script("admin_job", [action, job_id])
        outcome = outcome.decode()
        if outcome == "missing":
            raise UnknownJob(job_id)
        if outcome != "ok":
            raise JobStateConflict(job_id, outcome, verb)
        if action == "delete":
            return {**before, "state": "deleted"}
        return await self.summary(job_id)

    async def retry(self, job_id: str) -> dict[str, Any]:
        """A failed (retry pending) or dead job back to waiting now; a dead one with attempts reset.

        Raises:
          UnknownJob, JobStateConflict.
        """
        return await self._job_action("retry", job_id, "retry")

    async def promote(self, job_id: str) -> dict[str, Any]:
        """A delayed job (or a failed one awaiting its retry) to waiting now."""
        return await self._job_action("promote", job_id, "promote")

    async def delete(self, job_id: str) -> dict[str, Any]:
        """Remove a job that is not running (its record and index entries); its summary with state ``deleted``."""
        return await self._job_action("delete", job_id, "delete")

    # -- dead letters ----------------------------------------------------------------------

    async def dead_letters(self, queue: str | None = None, *, limit: int = 100) -> list[dict[str, Any]]:
        """The newest dead letters of ``queue`` (or of every queue), newest first."""
        return (await self.dead_letter_page(queue, limit=limit))[0]

    async def dead_records(self, queue: str | None = None, *, limit: int = 100) -> list[dict[str, Any]]:
        """The newest dead letters' whole job records (decoded, unmasked: traceback, message, failure story)."""
        return (await self._dead_page(queue, limit, None))[0]

    async def dead_letter_page(
        self, queue: str | None = None, *, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of dead letters of ``queue`` (or of every queue, merged), newest first, and the next cursor.

        Ordered by when each died (ties by job id), so a page boundary never skips
        or repeats one, even across queues.

        Raises:
          UnknownQueue: ``queue`` is not in the table.
          ValueError: a bad cursor.
        """
        records, next_cursor = await self._dead_page(queue, limit, cursor)
        return [self.mask(_dead_letter(record)) for record in records], next_cursor

    async def _dead_page(
        self, queue: str | None, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        queues = [self.spec(queue).name] if queue else list(self.broker.specs)
        _, after_id, after_score = decode_cursor(cursor) if cursor else (0, "", "")
        aredis = self.broker.aredis
        async with aredis.pipeline(transaction=False) as pipe:
            for name in queues:
                key = self.keys.queue(name, "dead")
                top = f"({after_score}" if after_score else "+inf"
                pipe.zrevrangebyscore(key, top, "-inf", start=0, num=limit + 1, withscores=True)
                if after_score:
                    pipe.zrangebyscore(key, after_score, after_score, withscores=True)
            replies = await pipe.execute()
        entries: list[tuple[float, str]] = []
        for reply in replies:
            entries += [(score, job_id.decode()) for job_id, score in reply]
        if after_score:
            bound = float(after_score)
            entries = [(s, j) for s, j in entries if s < bound or (s == bound and j < after_id)]
        entries.sort(reverse=True)
        page, more = entries[:limit], len(entries) > limit
        async with aredis.pipeline(transaction=False) as pipe:
            for _, job_id in page:
                pipe.hgetall(self.keys.job(job_id))
            raws = await pipe.execute()
        records = [decode_record(raw) for raw in raws if raw and raw.get(b"state") == b"dead"]
        next_cursor = encode_cursor(page[-1][1], repr(page[-1][0])) if more else None
        return records, next_cursor

    async def retry_dead(self, job_ids: Iterable[str]) -> int:
        """Send these dead letters back to waiting (attempts reset); ids that are not dead are skipped."""
        ids = list(dict.fromkeys(job_ids))
        retried = 0
        for start in range(0, len(ids), BATCH):
            outcomes = await self.broker.run_script("admin_job", ["retry_dead", *ids[start : start + BATCH]])
            retried += sum(1 for o in outcomes if o == b"ok")
        return retried

    async def retry_dead_queue(self, queue: str) -> int:
        """Every dead letter of ``queue`` back to waiting; returns how many."""
        self.spec(queue)
        return await self._batched("retry_dead", queue)

    async def purge_dead(self, queue: str | None = None) -> int:
        """Drop the dead letters of ``queue`` (or of every queue); returns how many."""
        queues = [self.spec(queue).name] if queue else list(self.broker.specs)
        return sum([await self._batched("purge_dead", name) for name in queues])


def _search_rows(reply: list[Any]) -> list[dict[str, Any]]:
    """The job summaries of an ``admin_search`` reply."""
    width = 1 + len(_SUMMARY_FIELDS)
    rows = []
    for i in range(int(reply[3])):
        row = reply[4 + i * width : 4 + (i + 1) * width]
        rows.append(_summary(row[0].decode(), dict(zip(_SUMMARY_FIELDS, row[1:]))))
    return rows


def _summary(job_id: str, f: dict[str, Any]) -> dict[str, Any]:
    return {
        "jobId": job_id,
        "queue": _text(f["queue"]),
        "actor": _text(f["actor"]),
        "state": _text(f["state"]),
        "priority": _priority_name(f["priority"]),
        "attempts": _int(f["attempts"]) or 0,
        "enqueuedAt": _int(f["enqueued_at"]),
        "startedAt": _int(f["started_at"]),
        "finishedAt": _int(f["finished_at"]),
        "dueAt": _int(f["due_at"]),
        "error": _text(f["error"]),
    }


def _dead_letter(record: dict[str, Any]) -> dict[str, Any]:
    message = record.get("message")
    return {
        "jobId": record["job_id"],
        "queue": record.get("queue"),
        "actor": record.get("actor"),
        "reason": record.get("reason") or None,
        "error": record.get("error") or None,
        "excType": record.get("exc_type") or None,
        "attempts": record.get("attempts", 0),
        "firstFailedAt": record.get("first_failed_at"),
        "lastFailedAt": record.get("last_failed_at"),
        "args": list(message.args) if message is not None else [],
        "kwargs": message.kwargs if message is not None else {},
    }


def job_logs(text: str | None) -> list[dict[str, Any]]:
    """The job's log lines (``Job.log``), oldest first: ``{"at": ms, "attempt": n, "text": str}``."""
    lines = []
    for raw in (text or "").splitlines():
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            line = {"at": None, "attempt": None, "text": raw}
        lines.append(line)
    return lines


def _history(record: dict[str, Any]) -> list[dict[str, Any]]:
    """What the record's timestamps tell: enqueued, first/last failure, last start, end."""
    events = [("enqueued", record.get("enqueued_at"))]
    if record.get("first_failed_at"):
        events.append(("failed", record["first_failed_at"]))
    if record.get("last_failed_at") and record.get("last_failed_at") != record.get("first_failed_at"):
        events.append(("failed", record["last_failed_at"]))
    events.append(("active", record.get("started_at")))
    state = record.get("state")
    if state in ("completed", "dead"):
        events.append((state, record.get("finished_at")))
    return [{"state": s, "at": at} for s, at in sorted((e for e in events if e[1]), key=lambda e: e[1])]


_INT_FIELDS = {"priority", "attempts", "runs", "seq", "failures", "handbacks", "reclaims", "postpones", "logs_dropped"}
_TIME_FIELDS = {"enqueued_at", "started_at", "finished_at", "due_at", "first_failed_at", "last_failed_at", "ready_at"}


def decode_record(raw: dict[bytes, bytes]) -> dict[str, Any]:
    """A job record HASH as Python values: ints, times in ms, ``message`` decoded.

    A poison message that cannot be decoded (it is in the dead letters for that)
    reads as ``message`` None with its first bytes in ``undecodable``.
    """
    record: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.decode()
        if name == "msg":
            try:
                record["message"] = Message.decode(value)
            except DecodeError:
                record["message"] = None
                record["undecodable"] = value[:200].decode(errors="replace")
        elif name in _INT_FIELDS or name in _TIME_FIELDS:
            record[name] = int(value)
        else:
            record[name] = value.decode()
    return record
