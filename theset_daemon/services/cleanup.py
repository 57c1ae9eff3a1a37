"""Maintenance: what outlived its retention in Redis and PostgreSQL.

The broker already trims its own completed and dead sets a little at a time
(``maintain.lua``); :func:`cleanup` finishes the job in one pass and removes
what that trim never sees:

* ``job_records``: completed / dead job records past retention, and the ids
  of missing records left in the queue's completed, dead and failed sets;
* ``orphan_job_records``: job records in a final state that no queue set
  lists any more and that carry no expiry (left behind by a crash or an
  operator), finished longer ago than the retention;
* ``progress_streams``: import progress streams (and their phase clocks) of
  imports that are finished for :data:`STREAM_GRACE_S`, or unknown to PostgreSQL;
* ``import_status``: finished imports older than ``import_retention_days``
  (their ``import_phases`` go with them);
* ``schedule_fires``: fires older than ``fire_retention_days``.

It returns the counts and logs them.
"""

from __future__ import annotations

import logging
import time
import uuid

from ..runtime.resources import Resources
from ..store import schedule_fires
from ..store.imports import delete_finished_imports, live_or_recent

logger = logging.getLogger(__name__)

#: Seconds a finished import's progress stream is kept for late SSE clients.
STREAM_GRACE_S = 3_600
#: Days finished imports are kept.
DEFAULT_IMPORT_RETENTION_DAYS = 30
#: Days schedule fires are kept.
DEFAULT_FIRE_RETENTION_DAYS = 30
#: Keys handled per Redis round trip.
BATCH = 500


async def cleanup(res: Resources, *, import_retention_days: int = DEFAULT_IMPORT_RETENTION_DAYS,
                  fire_retention_days: int = DEFAULT_FIRE_RETENTION_DAYS) -> dict[str, int]:
    """Remove everything past retention; return what was removed, by kind."""
    removed = {
        "job_records": await trim_job_sets(res),
        "orphan_job_records": await remove_orphan_job_records(res),
        "progress_streams": await remove_finished_streams(res),
        "import_status": await delete_finished_imports(res.pool, import_retention_days),
        "schedule_fires": await schedule_fires.delete_older_than(res.pool, fire_retention_days),
    }
    logger.info("cleanup done", extra={"removed": removed})
    return removed


def _retention_ms(res: Resources) -> dict[str, int]:
    jobs = res.settings.jobs
    return {"completed": jobs.completed_ttl_s * 1000, "dead": jobs.dead_ttl_s * 1000, "failed": jobs.failed_ttl_s * 1000}


async def trim_job_sets(res: Resources) -> int:
    """Drop entries past retention from each queue's completed/dead/failed set (and their final records)."""
    keys = res.broker.keys
    now_ms = int(time.time() * 1000)
    removed = 0
    for queue in res.broker.specs:
        for kind, ttl_ms in _retention_ms(res).items():
            zkey = keys.queue(queue, kind)
            ids = [i.decode() for i in await res.redis.zrangebyscore(zkey, "-inf", now_ms - ttl_ms)]
            for start in range(0, len(ids), BATCH):
                chunk = ids[start : start + BATCH]
                async with res.redis.pipeline(transaction=False) as pipe:
                    for job_id in chunk:
                        pipe.hget(keys.job(job_id), "state")
                    states = await pipe.execute()
                async with res.redis.pipeline(transaction=False) as pipe:
                    for job_id, state in zip(chunk, states):
                        if state is not None and state.decode() == kind and kind != "failed":
                            pipe.delete(keys.job(job_id))
                    pipe.zrem(zkey, *chunk)
                    await pipe.execute()
                removed += len(chunk)
    return removed


async def remove_orphan_job_records(res: Resources) -> int:
    """Delete final job records without an expiry that finished before their retention."""
    keys = res.broker.keys
    retention = _retention_ms(res)
    now_ms = int(time.time() * 1000)
    removed = 0
    batch: list[bytes] = []

    async def check(batch: list[bytes]) -> int:
        async with res.redis.pipeline(transaction=False) as pipe:
            for key in batch:
                pipe.hmget(key, "state", "finished_at")
                pipe.ttl(key)
            replies = await pipe.execute()
        doomed = []
        for key, (state, finished), ttl in zip(batch, replies[0::2], replies[1::2]):
            state = state.decode() if state else None
            if ttl == -1 and state in ("completed", "dead") and finished and int(finished) < now_ms - retention[state]:
                doomed.append(key)
        if doomed:
            await res.redis.delete(*doomed)
        return len(doomed)

    async for key in res.redis.scan_iter(match=keys.job("*"), count=1000):
        batch.append(key)
        if len(batch) >= BATCH:
            removed += await check(batch)
            batch = []
    if batch:
        removed += await check(batch)
    return removed


async def remove_finished_streams(res: Resources, *, grace_s: int = STREAM_GRACE_S) -> int:
    """Delete progress streams of imports finished ``grace_s`` ago or unknown to PostgreSQL."""
    prefix = f"{res.settings.redis_namespace}:progress:"
    by_import: dict[str, list[bytes]] = {}
    async for key in res.redis.scan_iter(match=prefix + "*", count=1000):
        import_id = key.decode()[len(prefix):].split(":", 1)[0]
        try:
            uuid.UUID(import_id)
        except ValueError:
            continue
        by_import.setdefault(import_id, []).append(key)
    if not by_import:
        return 0
    live = await live_or_recent(res.pool, list(by_import), float(grace_s))
    doomed = [key for import_id, keys in by_import.items() if import_id not in live for key in keys]
    for start in range(0, len(doomed), BATCH):
        await res.redis.delete(*doomed[start : start + BATCH])
    return sum(1 for import_id in by_import if import_id not in live)
