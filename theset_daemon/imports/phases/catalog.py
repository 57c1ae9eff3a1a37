"""The studio catalogue: every release, every track, the four filter layers.

Requests are batched (album tracks by album batch, full tracks 50 at a time,
audio features 100 at a time) and live albums are dropped before their tracks
are fetched. When Spotify refuses audio features the liveness layer is
skipped and the skip is reported, not retried. The four layers run in a worker
thread: the event loop is never held for the whole filter.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import asyncpg

from ...catalog import studio_tracks
from ...catalog.studio import live_albums
from ...providers import AudioFeaturesRefused, Providers
from ...runtime.job_log import note, note_each
from ...store import mark_artist_synced, upsert_songs
from . import Report, no_report
from .spotify_profile import NoSpotifyArtist, spotify_id_of


async def sync_catalog(
    providers: Providers, pool: asyncpg.Pool, artist_id: UUID, report: Report = no_report
) -> dict[str, Any]:
    """Store the artist's studio songs; the per-layer counts."""
    try:
        spotify_id = await spotify_id_of(providers, pool, artist_id)
    except NoSpotifyArtist:
        note("catalogue skipped: the artist has no Spotify match")
        return {"spotify_matched": False}
    albums = await providers.spotify.artist_albums(spotify_id)
    live = live_albums(albums)
    live_ids = {a.id for a in live}
    note(f"Spotify artist {spotify_id}: {len(albums)} releases, {len(live)} of them live (their tracks are not fetched)")
    note_each([f"live album dropped: {a.name!r}" for a in live], "live albums")
    await report(0.15, f"{len(albums)} releases, {len(live_ids)} live", {"releases": len(albums)})
    track_ids = await providers.spotify.album_tracks([a.id for a in albums if a.id not in live_ids])
    ids = [t for album_tracks in track_ids.values() for t in album_tracks]
    await report(0.35, f"{len(ids)} tracks listed", None)
    tracks = await providers.spotify.tracks(ids)
    await report(0.7, f"{len(tracks)} tracks fetched", {"tracks_seen": len(tracks)})
    try:
        features = {f.track_id: f for f in await providers.spotify.audio_features([t.id for t in tracks])}
    except AudioFeaturesRefused:
        features = None
        note("audio features refused by Spotify: the liveness layer is skipped, no track dropped for liveness")
    # Pure CPU (40-65 ms for 1,730 tracks): in a thread, the loop gets the GIL back every
    # switch interval (5 ms) instead of waiting for the whole filter.
    result = await asyncio.to_thread(studio_tracks, albums, tracks, features)
    note(f"{len(tracks)} tracks fetched, {result.kept} studio songs kept, {len(result.dropped)} dropped")
    note_each([f"track dropped: {name!r}: {why}" for name, why in result.dropped], "dropped tracks")
    changed = await upsert_songs(pool, artist_id, result.tracks)
    await mark_artist_synced(pool, artist_id, "catalog")
    counts = {f"catalog_{k}": v for k, v in result.counts().items()}
    return {**counts, "songs": result.kept, "songs_changed": changed}
