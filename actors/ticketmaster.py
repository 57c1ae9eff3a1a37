"""Shows and venues of an artist from Ticketmaster (queue ``ticketmaster_sync``, NORMAL)."""

from __future__ import annotations

from theset_daemon import jobs
from theset_daemon.imports.phases.shows import sync_shows as sync_events
from theset_daemon.imports.run import PhaseRun
from theset_daemon.runtime.resources import resources


@jobs.actor(jobs.SYNC_SHOWS)
async def sync_shows(artist_id: str, import_id: str | None = None) -> None:
    res = resources()
    async with PhaseRun(res, import_id, "shows", artist_id) as run:
        run.counts.update(await sync_events(res.providers, res.pool, artist_id, run.report))
