"""Job and data maintenance (queue ``cleanup``, BACKGROUND; fired by ``cleanup-old-jobs``)."""

from __future__ import annotations

from theset_daemon import jobs
from theset_daemon.runtime.resources import resources
from theset_daemon.services import cleanup


@jobs.actor(jobs.CLEANUP_OLD_JOBS)
async def cleanup_old_jobs(
    import_retention_days: int = cleanup.DEFAULT_IMPORT_RETENTION_DAYS,
    fire_retention_days: int = cleanup.DEFAULT_FIRE_RETENTION_DAYS,
) -> dict[str, int]:
    return await cleanup.cleanup(
        resources(), import_retention_days=import_retention_days, fire_retention_days=fire_retention_days
    )
