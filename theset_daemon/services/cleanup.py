"""Maintenance: what outlived its retention in Redis and PostgreSQL.

The broker's retention is the broker's: its periodic check trims the completed,
dead and failed sets a little at a time (``maintain.lua``), and :func:`cleanup`
asks it, through its operator API (:class:`~theset_daemon.broker.admin.QueueAdmin`),
to finish in one pass; the rest is the application's own. Removed, by kind:

* ``job_records`` (the broker's): job ids past retention in the queues' completed, dead and
  failed sets, and their records (:meth:`QueueAdmin.apply_retention`);
* ``orphan_job_records`` (the broker's): job records in a final state that no queue set lists
  any more and that carry no expiry (:meth:`QueueAdmin.remove_orphan_records`);
* ``progress_streams``: import progress streams (and their phase clocks) of
  imports that are finished for :data:`STREAM_GRACE_S`, or unknown to PostgreSQL;
* ``import_status``: finished imports older than ``import_retention_days``
  (their ``import_phases`` go with them);
* ``schedule_fires``: fires older than ``fire_retention_days``.

It returns the counts and logs them.
"""

from __future__ import annotations

import logging

from ..imports.progress import is_uuid, stream_key
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
    jobs = res.broker.admin
    removed = {
        "job_records": await jobs.apply_retention(),
        "orphan_job_records": await jobs.remove_orphan_records(),
        "progress_streams": await remove_finished_streams(res),
        "import_status": await delete_finished_imports(res.pool, import_retention_days),
        "schedule_fires": await schedule_fires.delete_older_than(res.pool, fire_retention_days),
    }
    logger.info("cleanup done", extra={"removed": removed})
    return removed


async def remove_finished_streams(res: Resources, *, grace_s: int = STREAM_GRACE_S) -> int:
    """Delete progress streams of imports finished ``grace_s`` ago or unknown to PostgreSQL."""
    prefix = stream_key(res.settings.redis_namespace, "")
    by_import: dict[str, list[bytes]] = {}
    async for key in res.redis.scan_iter(match=prefix + "*", count=1000):
        import_id = key.decode()[len(prefix):].split(":", 1)[0]
        if is_uuid(import_id):
            by_import.setdefault(import_id, []).append(key)
    if not by_import:
        return 0
    live = await live_or_recent(res.pool, list(by_import), float(grace_s))
    doomed = [key for import_id, keys in by_import.items() if import_id not in live for key in keys]
    for start in range(0, len(doomed), BATCH):
        await res.redis.delete(*doomed[start : start + BATCH])
    return sum(1 for import_id in by_import if import_id not in live)
