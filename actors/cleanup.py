"""Job and data maintenance (queue ``cleanup``, BACKGROUND; fired by ``cleanup-old-jobs``)."""

from __future__ import annotations

import dramatiq

from theset_daemon import cleanup
from theset_daemon.context import resources


@dramatiq.actor(queue_name="cleanup")
async def cleanup_old_jobs(
    import_retention_days: int = cleanup.DEFAULT_IMPORT_RETENTION_DAYS,
    fire_retention_days: int = cleanup.DEFAULT_FIRE_RETENTION_DAYS,
) -> dict[str, int]:
    return await cleanup.cleanup(
        resources(), import_retention_days=import_retention_days, fire_retention_days=fire_retention_days
    )
