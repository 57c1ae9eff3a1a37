"""Plain values passed between the provider clients and the domain code.

Provider clients turn wire JSON into these; the catalogue filter, the matching
and the SQL upserts take them. None of them knows about HTTP, Redis or SQL.
Fields a provider may withhold (Spotify's development mode drops popularity,
followers and, for a while, ISRCs) are optional.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Image:
    url: str
    width: int | None
    height: int | None


@dataclass(frozen=True)
class TmAttraction:
    """A Ticketmaster attraction (the artist as Ticketmaster knows it)."""

    id: str
    name: str
    url: str | None = None
    images: tuple[Image, ...] = ()
    genres: tuple[str, ...] = ()
    upcoming_events: int | None = None


@dataclass(frozen=True)
class SpotifyArtist:
    id: str
    name: str
    genres: tuple[str, ...] = ()
    images: tuple[Image, ...] = ()
    popularity: int | None = None
    followers: int | None = None


@dataclass(frozen=True)
class Album:
    """A Spotify release as listed by the artist-albums endpoint."""

    id: str
    name: str
    album_type: str  # album | single | compilation
    album_group: str | None  # album | single | compilation | appears_on (withheld in dev-2026)
    release_date: str  # "YYYY", "YYYY-MM" or "YYYY-MM-DD"
    total_tracks: int
    images: tuple[Image, ...] = ()


@dataclass(frozen=True)
class Track:
    """A full Spotify track (ISRC and popularity only exist on the full object)."""

    id: str
    name: str
    album_id: str
    album_name: str
    album_type: str
    release_date: str
    duration_ms: int
    track_number: int
    disc_number: int = 1
    isrc: str | None = None
    popularity: int | None = None
    explicit: bool = False
    artist_ids: tuple[str, ...] = ()
    linked_from_id: str | None = None


@dataclass(frozen=True)
class AudioFeatures:
    track_id: str
    liveness: float
    energy: float | None = None
    tempo: float | None = None


@dataclass(frozen=True)
class Venue:
    """A Ticketmaster venue; latitude/longitude arrive as strings on the wire."""

    id: str
    name: str
    city: str | None = None
    state: str | None = None
    country: str | None = None
    address: str | None = None
    postal_code: str | None = None
    timezone: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    url: str | None = None
    images: tuple[Image, ...] = ()
    capacity: int | None = None


@dataclass(frozen=True)
class Event:
    """A Ticketmaster event of one attraction."""

    id: str
    name: str
    local_date: dt.date | None  # None for TBA/TBD dates
    local_time: str | None
    status: str  # onsale | offsale | cancelled | postponed | rescheduled
    venue: Venue | None
    url: str | None = None
    attraction_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class SetlistArtist:
    mbid: str
    name: str
    sort_name: str | None = None


@dataclass(frozen=True)
class SetlistSong:
    name: str
    position: int
    set_index: int = 0
    encore: int | None = None
    cover_artist: str | None = None  # "cover" in the wire format
    tape: bool = False
    info: str | None = None


@dataclass(frozen=True)
class Setlist:
    id: str
    event_date: dt.date  # wire format dd-MM-yyyy
    artist_mbid: str
    venue_name: str
    city: str | None
    country: str | None
    tour: str | None = None
    songs: tuple[SetlistSong, ...] = field(default_factory=tuple)
    url: str | None = None
