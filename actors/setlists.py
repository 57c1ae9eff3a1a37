"""Past setlists of an artist from setlist.fm (queue ``setlist_sync``, LOW)."""

from __future__ import annotations

from theset_daemon import jobs
from theset_daemon.imports.phases.setlists import sync_setlists as fetch_setlists
from theset_daemon.imports.run import PhaseRun
from theset_daemon.runtime.resources import resources


@jobs.actor(jobs.SYNC_SETLISTS)
async def sync_setlists(artist_id: str, import_id: str | None = None) -> None:
    res = resources()
    async with PhaseRun(res, import_id, "setlists", artist_id) as run:
        run.counts.update(await fetch_setlists(res.providers, res.pool, artist_id, run.report))
