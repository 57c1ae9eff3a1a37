"""Venue details (queue ``venue_sync``, NORMAL)."""

from __future__ import annotations

from theset_daemon import jobs
from theset_daemon.imports.phases.venues import sync_venue_details as fetch_venue_details
from theset_daemon.imports.run import PhaseRun
from theset_daemon.runtime.resources import resources


@jobs.actor(jobs.SYNC_VENUE_DETAILS)
async def sync_venue_details(artist_id: str, import_id: str | None = None) -> None:
    res = resources()
    async with PhaseRun(res, import_id, "venues", artist_id) as run:
        run.counts.update(await fetch_venue_details(res.providers, res.pool, artist_id, run.report))
