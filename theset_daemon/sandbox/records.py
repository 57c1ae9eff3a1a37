"""The generator's records: what the sandbox serves and what the ground truth reads.

Each record knows more than the wire shows (``is_live``, ``song_id``,
``matched_event_id`` ...): the API modules render the wire view, the truth
module answers from the rest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ArtistIdentity:
    """One act, known to all three providers under its own id each."""

    index: int
    name: str
    tm_id: str
    spotify_id: str
    mbid: str
    genre: str
    popularity: int
    followers: int
    external_links: bool  # the TM attraction carries spotify/musicbrainz links
    kind: str = "regular"  # demo | big_catalogue | big_events | empty | regular


@dataclass(frozen=True)
class Decoy:
    """A near-miss act found by search only (a tribute band, "National" for "The National")."""

    spotify_id: str
    mbid: str
    name: str
    popularity: int
    followers: int
    genre: str


@dataclass(frozen=True)
class TrackRecord:
    id: str
    title: str
    album_id: str
    disc: int
    number: int
    duration_ms: int
    isrc: str
    popularity: int
    explicit: bool
    song_id: int  # the studio song this records (live versions too)
    is_live: bool
    live_marker: str | None  # "title", "album" or "liveness" (detectable by audio features only)
    liveness: float
    energy: float
    tempo: float
    has_features: bool = True
    relinked_to: str | None = None  # the id served instead in the market (track relinking)


@dataclass(frozen=True)
class AlbumRecord:
    id: str
    name: str
    album_type: str  # album | single | compilation
    album_group: str  # album | single | compilation | appears_on
    release_date: str
    precision: str
    track_ids: tuple[str, ...]
    is_live: bool
    label: str
    popularity: int
    upc: str
    market_copy_id: str | None = None  # listed too when no market is given
    artist_name: str | None = None  # appears_on releases of other artists


@dataclass
class Catalogue:
    """An artist's Spotify discography, in release order."""

    artist_id: str
    songs: dict[int, str] = field(default_factory=dict)  # song id -> studio title
    albums: dict[str, AlbumRecord] = field(default_factory=dict)
    tracks: dict[str, TrackRecord] = field(default_factory=dict)
    served: dict[str, TrackRecord] = field(default_factory=dict)  # relinked ids -> the original record


@dataclass(frozen=True)
class VenueRecord:
    tm_id: str
    sf_id: str
    name: str  # Ticketmaster's name
    sf_name: str  # setlist.fm's name (often without the city suffix)
    city: str
    city_on_wire: str  # sometimes with stray whitespace
    state: str | None
    state_code: str | None
    country: str
    country_code: str
    timezone: str
    latitude: str | None  # strings, as Ticketmaster sends them
    longitude: str | None
    postal_code: str | None
    line1: str | None
    line2: str | None
    detailed: bool
    geonames_id: str


@dataclass(frozen=True)
class EventRecord:
    id: str
    name: str
    attraction_id: str
    co_bill: tuple[tuple[str, str], ...]  # other attractions (id, name) on the bill
    venue_id: str
    local_date: dt.date | None
    local_time: str | None
    date_time: dt.datetime | None  # UTC
    status: str  # onsale | offsale | cancelled | postponed | rescheduled
    tba: bool
    tbd: bool
    initial_start_date: dt.date | None
    has_timezone: bool
    placeholder_sale: bool
    repeats_at: int | None  # a shifting result set shows this event again this many places later
    package: bool = False  # a VIP/parking sibling of a show

    @property
    def sort_time(self) -> dt.datetime | None:
        """When date filters and ``date`` sorting place it (TBA/TBD: never)."""
        if self.date_time is not None:
            return self.date_time
        if self.local_date is not None:
            return dt.datetime.combine(self.local_date, dt.time())
        return None


@dataclass(frozen=True)
class SongEntry:
    name: str
    tape: bool = False
    cover: tuple[str, str] | None = None  # (mbid, name) of the original artist
    info: str | None = None
    with_guest: tuple[str, str] | None = None
    song_id: int | None = None  # the studio song, when it is one


@dataclass(frozen=True)
class SetEntry:
    songs: tuple[SongEntry, ...]
    name: str | None = None
    encore: int | None = None


@dataclass(frozen=True)
class SetlistRecord:
    id: str
    version_id: str
    event_date: dt.date
    artist_mbid: str
    venue_id: str  # the TM venue id of the venue record
    tour: str | None
    sets: tuple[SetEntry, ...]
    last_updated: str
    matched_event_id: str | None  # the TM event it documents (date and venue agree)
