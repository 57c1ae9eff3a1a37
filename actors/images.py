"""Artist images (queue ``image_processing``, BACKGROUND)."""

from __future__ import annotations

from theset_daemon import jobs
from theset_daemon.imports.phases.images import process_images as measure_image
from theset_daemon.imports.run import PhaseRun
from theset_daemon.runtime.resources import resources


@jobs.actor(jobs.PROCESS_IMAGES)
async def process_images(artist_id: str, import_id: str | None = None) -> None:
    res = resources()
    async with PhaseRun(res, import_id, "images", artist_id) as run:
        run.counts.update(await measure_image(res.image_session, res.pool, artist_id))
