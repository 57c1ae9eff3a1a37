"""Phase 1 of an import: the artist row (queue ``artist_import``, CRITICAL)."""

from __future__ import annotations

from theset_daemon import jobs
from theset_daemon.imports.errors import NOT_FOUND, ImportFailure
from theset_daemon.imports.phases.artist import import_artist as create_artist
from theset_daemon.imports.run import PhaseRun
from theset_daemon.providers import ProviderNotFound
from theset_daemon.runtime.resources import resources
from theset_daemon.store import update_import


@jobs.actor(jobs.IMPORT_ARTIST)
async def import_artist(tm_attraction_id: str, import_id: str | None = None) -> None:
    res = resources()
    async with PhaseRun(res, import_id, "artist") as run:
        try:
            artist = await create_artist(res.providers, res.pool, tm_attraction_id)
        except ProviderNotFound:
            if import_id is None:
                raise  # a recurring sync of a vanished attraction: the broker's business
            await run.fail(ImportFailure(NOT_FOUND, f"Ticketmaster has no attraction {tm_attraction_id}"))
            return  # an answer, not a broken job: no retry, no dead letter
        run.artist_id = str(artist.artist_id)
        if import_id is not None:
            await update_import(res.pool, import_id, artist_id=artist.artist_id)
        await run.report(1.0, f"artist {artist.name} ready at /{artist.slug}", {"spotify_matched": artist.spotify_id is not None})
