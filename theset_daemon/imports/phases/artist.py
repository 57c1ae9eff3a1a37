"""Phase 1: the artist row, visible within milliseconds of the kickoff.

Ticketmaster's attraction (2 s timeout) gives the artist; Spotify's search
(1 s timeout) gives its Spotify id, picked by normalised name, not the first
hit. A Spotify failure or timeout does not fail this phase: the artist is
created from Ticketmaster's data and the Spotify profile phase looks again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from ...catalog.matching import best_artist_match
from ...providers import ProviderError, Providers
from ...runtime.job_log import note
from ...store import SpotifyArtistTaken, update_artist_spotify, upsert_artist_from_tm

logger = logging.getLogger(__name__)

#: Seconds phase 1 waits for each provider (DESIGN.md).
TICKETMASTER_TIMEOUT_S = 2.0
SPOTIFY_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class ArtistImported:
    """The artist phase 1 stored, and whether Spotify was matched yet."""

    artist_id: UUID
    slug: str
    name: str
    spotify_id: str | None
    spotify_error: str | None


async def find_spotify_artist(providers: Providers, name: str, *, timeout: float | None = None):
    """The Spotify artist best matching ``name``, or None."""
    candidates = await providers.spotify.search_artists(name, timeout=timeout)
    return best_artist_match(name, candidates)


async def import_artist(providers: Providers, pool: asyncpg.Pool, tm_attraction_id: str) -> ArtistImported:
    """Create (or refresh) the artist of an attraction; Spotify best effort."""
    attraction = await providers.ticketmaster.attraction(tm_attraction_id, timeout=TICKETMASTER_TIMEOUT_S)
    spotify, error = None, None
    try:
        spotify = await find_spotify_artist(providers, attraction.name, timeout=SPOTIFY_TIMEOUT_S)
    except ProviderError as exc:
        error = f"{type(exc).__name__}: {exc}"
        logger.info("spotify search deferred to the profile phase: %s", error)
    artist_id, slug = await upsert_artist_from_tm(pool, attraction)
    note(f"Ticketmaster attraction {tm_attraction_id} is {attraction.name!r}: artist page /{slug}")
    if spotify is not None:
        note(f"Spotify artist matched: {spotify.name!r} ({spotify.id})")
    else:
        note(f"no Spotify match yet ({error or 'no candidate close enough'}); the profile phase tries again")
    if spotify is not None:
        try:
            await update_artist_spotify(pool, artist_id, spotify)
        except SpotifyArtistTaken as exc:
            spotify, error = None, str(exc)
    return ArtistImported(artist_id, slug, attraction.name, spotify.id if spotify else None, error)
