"""What the queued work will cost each provider's budget, and whether it fits.

The cost of a job is learned: calls per job of its actor, over every window
counted so far (:meth:`~theset_daemon.providers.quota.store.QuotaBudget.costs`), or a
first guess from :data:`FIRST_GUESS` until the actor has made calls. Queued
work is what waits in the provider-calling queues: jobs waiting or due before
the window's reset spend this window, jobs due after it (the budget's held
ones) the next. The warning says when queued recurring work will not fit in
what the reserve leaves it before the reset.

:func:`forecast` is a plain function; :func:`quota_overview` reads Redis
(the budgets and the broker's queues) and is what ``/api/admin/quotas``,
``theset-daemon quotas``, the dashboard and ``/metrics`` show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import orjson

from .rules import KINDS, PERSON, RECURRING, QuotaState, format_time, work_kind
from .store import QuotaBudget

#: Calls per job of an actor, per provider, until measured (the benchmark's sandbox figures:
#: an attraction is 1 call, an act's events 1 page, venue details one per venue, ~15 new).
FIRST_GUESS: dict[str, dict[str, float]] = {
    "ticketmaster": {"import_artist": 1, "sync_shows": 1, "sync_venue_details": 15},
    "setlistfm": {"sync_setlists": 6},
    "spotify": {"import_artist": 1, "sync_spotify_profile": 1, "quick_sync_artist": 1, "sync_catalog": 12},
}
#: The queues whose actors call providers (the import's phases and the quick sync).
PROVIDER_QUEUES = (
    "artist_import", "artist_quick_sync", "spotify_sync", "spotify_catalog", "ticketmaster_sync", "venue_sync",
    "setlist_sync",
)
#: Most jobs read per queue and state for a forecast (a bigger backlog is extrapolated).
MAX_JOBS_READ = 5000


@dataclass(frozen=True)
class QueuedJob:
    """A job waiting to run: its actor, kind of work, and when it is due (None: now)."""

    actor: str
    kind: str
    due_ms: int | None = None


def forecast(state: QuotaState, queued: Iterable[QueuedJob], costs: Mapping[str, float], now_ms: int) -> dict[str, Any]:
    """Expected calls of the queued work in this window and the next, and a warning if the
    recurring work's share will not fit before the reset.

    Returns ``{"expected": {kind: calls}, "jobs": {kind: n}, "nextWindow": {kind: calls},
    "recurringFits": bool | None, "warning": str | None}`` (None: the provider has no limit).
    """
    guess = FIRST_GUESS.get(state.provider, {})
    reset = state.reset_ms
    expected = {k: 0.0 for k in KINDS}
    later = {k: 0.0 for k in KINDS}
    jobs = {k: 0 for k in KINDS}
    for job in queued:
        cost = costs.get(job.actor, guess.get(job.actor, 0.0))
        if cost <= 0:
            continue
        if job.due_ms is not None and reset is not None and job.due_ms >= reset:
            later[job.kind] += cost
            continue
        expected[job.kind] += cost
        jobs[job.kind] += 1
    fits, warning = _fits(state, expected, jobs, now_ms)
    return {
        "expected": {k: round(v) for k, v in expected.items()},
        "jobs": jobs,
        "nextWindow": {k: round(v) for k, v in later.items()},
        "recurringFits": fits,
        "warning": warning,
    }


def _fits(state: QuotaState, expected: dict[str, float], jobs: dict[str, int], now_ms: int) -> tuple[bool | None, str | None]:
    left = state.recurring_remaining
    if left is None:
        return None, None
    need = round(expected[RECURRING], 6)
    if need <= left:
        if expected[PERSON] > (state.remaining or 0):
            return True, (f"queued imports need ~{round(expected[PERSON])} {state.provider} calls; "
                          f"{state.remaining} are left in this window")
        return True, None
    when = format_time(state.reset_ms) if state.reset_ms else "the window's end"
    short = round(need - left)
    return False, (
        f"queued recurring work needs ~{round(need)} {state.provider} calls; {left} are left for it before the "
        f"reset at {when} (the rest is kept for imports): ~{short} calls' worth of its {jobs[RECURRING]} job(s) "
        "will wait for the next window"
    )


async def queued_jobs(client: Any, keys: Any, now_ms: int, queues: Iterable[str] = PROVIDER_QUEUES) -> list[QueuedJob]:
    """Waiting and delayed jobs of the provider-calling queues, with their kind of work.

    ``keys`` is the broker's key layout (``broker.keys``); at most :data:`MAX_JOBS_READ`
    per queue and state are read.
    """
    entries: list[tuple[str, int | None]] = []
    async with client.pipeline(transaction=False) as pipe:
        names = list(queues)
        for queue in names:
            pipe.zrange(keys.queue(queue, "waiting"), 0, MAX_JOBS_READ - 1)
            pipe.zrange(keys.queue(queue, "delayed"), 0, MAX_JOBS_READ - 1, withscores=True)
        replies = await pipe.execute()
    for waiting, delayed in zip(replies[::2], replies[1::2]):
        entries += [(_text(job_id), None) for job_id in waiting]
        entries += [(_text(job_id), int(score)) for job_id, score in delayed]
    if not entries:
        return []
    async with client.pipeline(transaction=False) as pipe:
        for job_id, _ in entries:
            pipe.hmget(keys.job(job_id), "actor", "msg")
        records = await pipe.execute()
    out = []
    for (_, due), (actor, msg) in zip(entries, records):
        if actor is None or msg is None:
            continue
        try:
            message = orjson.loads(msg)
        except orjson.JSONDecodeError:
            continue
        kind = work_kind(message.get("kwargs"), message.get("options"))
        out.append(QueuedJob(_text(actor), kind, due if due is None or due > now_ms else None))
    return out


async def quota_overview(budgets: Mapping[str, QuotaBudget], client: Any, keys: Any, now_ms: int) -> list[dict[str, Any]]:
    """Each provider's window, what the queued work will cost it, and any warning."""
    queued = await queued_jobs(client, keys, now_ms)
    out = []
    for budget in budgets.values():
        state = await budget.state(now_ms)
        row = state.to_json()
        row["forecast"] = forecast(state, queued, await budget.costs(), now_ms)
        out.append(row)
    return out


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
