"""The Spotify profile of an artist: images, genres, popularity, followers."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from ...providers import Providers
from ...store import get_artist, mark_artist_synced, update_artist_spotify
from .artist import find_spotify_artist


class NoSpotifyArtist(LookupError):
    """Spotify has no artist whose name matches closely enough."""


async def spotify_id_of(providers: Providers, pool: asyncpg.Pool, artist_id: UUID) -> str:
    """The artist's Spotify id, searched for (and stored) when phase 1 could not.

    Raises:
      NoSpotifyArtist: when no search result matches the artist's name.
    """
    row = await get_artist(pool, artist_id)
    if row is None:
        raise LookupError(f"no artist {artist_id}")
    if row["spotify_id"]:
        return row["spotify_id"]
    found = await find_spotify_artist(providers, row["name"])
    if found is None:
        raise NoSpotifyArtist(row["name"])
    await update_artist_spotify(pool, artist_id, found)
    return found.id


async def sync_spotify_profile(providers: Providers, pool: asyncpg.Pool, artist_id: UUID) -> dict[str, Any]:
    """Refresh the artist's profile from Spotify; counts ``profile_changed``."""
    try:
        spotify_id = await spotify_id_of(providers, pool, artist_id)
    except NoSpotifyArtist:
        return {"spotify_matched": False}
    artist = await providers.spotify.artist(spotify_id)
    changed = await update_artist_spotify(pool, artist_id, artist)
    await mark_artist_synced(pool, artist_id, "profile")
    return {"spotify_matched": True, "profile_changed": changed}
