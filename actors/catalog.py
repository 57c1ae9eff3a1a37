"""The studio catalogue of an artist (queue ``spotify_catalog``, LOW)."""

from __future__ import annotations

from theset_daemon import jobs
from theset_daemon.imports.phases.catalog import sync_catalog as sync_studio_catalog
from theset_daemon.imports.run import PhaseRun
from theset_daemon.runtime.resources import resources


@jobs.actor(jobs.SYNC_CATALOG)
async def sync_catalog(artist_id: str, import_id: str | None = None) -> None:
    res = resources()
    async with PhaseRun(res, import_id, "catalog", artist_id) as run:
        run.counts.update(await sync_studio_catalog(res.providers, res.pool, artist_id, run.report))
