"""The Spotify profile of an artist (queue ``spotify_sync``, HIGH)."""

from __future__ import annotations

from theset_daemon import jobs
from theset_daemon.imports.phases.spotify_profile import sync_spotify_profile as sync_profile
from theset_daemon.imports.run import PhaseRun
from theset_daemon.runtime.resources import resources


@jobs.actor(jobs.SYNC_SPOTIFY_PROFILE)
async def sync_spotify_profile(artist_id: str, import_id: str | None = None) -> None:
    res = resources()
    async with PhaseRun(res, import_id, "spotify_profile", artist_id) as run:
        run.counts.update(await sync_profile(res.providers, res.pool, artist_id))
