"""The sandbox's world, generated deterministically from a seed.

Identities (a few hundred acts, their near-miss decoys, the venues) are made
up front, in milliseconds; an act's discography, events and setlists are
generated the first time they are asked for and then kept. Ids that must be
looked up without a listing (Spotify albums and tracks, Ticketmaster events)
carry the act's index in their first two characters.
"""

from __future__ import annotations

import datetime as dt
import random
from functools import cached_property

from . import words
from .catalogue import build_catalogue
from .events import build_events
from .ids import base62, index_of, prefixed_id, uuid_from
from .records import ArtistIdentity, Catalogue, Decoy, EventRecord, SetlistRecord, VenueRecord
from .setlists import build_setlists

#: Acts in the world; the first four are the special ones below.
ARTISTS = 300
DEMO, BIG_CATALOGUE, BIG_EVENTS, EMPTY = 0, 1, 2, 3
SPECIAL_NAMES = {
    DEMO: ("The Paper Lanterns", "demo"),
    BIG_CATALOGUE: ("Marigold Empire", "big_catalogue"),
    BIG_EVENTS: ("Copper Coast Orchestra", "big_events"),
    EMPTY: ("Quiet Harbor", "empty"),
}
VENUES = 120


class World:
    """Everything the sandbox serves.

    Parameters:
      seed: the generator's seed; the same seed gives the same world.
      anchor: "today" for the data (events around it, setlists before it).
    """

    def __init__(self, seed: int = 1, anchor: dt.date | None = None) -> None:
        self.seed = seed
        self.anchor = anchor or dt.datetime.now(dt.timezone.utc).date()
        self.artists = self._artists()
        self.by_tm = {a.tm_id: a for a in self.artists}
        self.by_spotify = {a.spotify_id: a for a in self.artists}
        self.by_mbid = {a.mbid: a for a in self.artists}
        self.decoys = self._decoys()
        self.decoys_by_spotify = {d.spotify_id: d for d in self.decoys}
        self.decoys_by_mbid = {d.mbid: d for d in self.decoys}
        self.venues = self._venues()
        self.venues_by_tm = {v.tm_id: v for v in self.venues}
        self._catalogues: dict[int, Catalogue] = {}
        self._events: dict[int, list[EventRecord]] = {}
        self._setlists: dict[int, list[SetlistRecord]] = {}

    def rng(self, *key: object) -> random.Random:
        """A random source private to ``key`` (so lazy generation is order-independent)."""
        return random.Random(":".join(map(str, (self.seed, *key))))

    # -- lazy per-act data ----------------------------------------------------

    def catalogue(self, index: int) -> Catalogue:
        if index not in self._catalogues:
            self._catalogues[index] = build_catalogue(self, self.artists[index])
        return self._catalogues[index]

    def events(self, index: int) -> list[EventRecord]:
        if index not in self._events:
            self._events[index] = build_events(self, self.artists[index])
        return self._events[index]

    def setlists(self, index: int) -> list[SetlistRecord]:
        if index not in self._setlists:
            self._setlists[index] = build_setlists(self, self.artists[index])
        return self._setlists[index]

    def artist_of(self, any_id: str) -> ArtistIdentity | None:
        index = index_of(any_id)
        return self.artists[index] if index is not None and index < len(self.artists) else None

    # -- identities -------------------------------------------------------------

    def _artists(self) -> list[ArtistIdentity]:
        rng = self.rng("artists")
        names: set[str] = {name for name, _ in SPECIAL_NAMES.values()}
        artists = []
        for index in range(ARTISTS):
            name, kind = SPECIAL_NAMES.get(index, (None, "regular"))
            while name is None or (kind == "regular" and name in names):
                name = _act_name(rng)
            names.add(name)
            own = self.rng("artist", index)
            artists.append(
                ArtistIdentity(
                    index=index,
                    name=name,
                    tm_id="K8vZ91" + base62(own, 5),
                    spotify_id=prefixed_id(index, own),
                    mbid=uuid_from(own),
                    genre=own.choice(words.GENRES),
                    popularity=own.randint(20, 60) if kind == "regular" else own.randint(55, 75),
                    followers=own.randint(1_000, 2_000_000),
                    external_links=kind == "regular" and own.random() < 0.5,
                    kind=kind,
                )
            )
        return artists

    def _decoys(self) -> list[Decoy]:
        """Near misses: the name without "The", a tribute band, a karaoke act, a sound-alike."""
        decoys = []
        for artist in self.artists:
            rng = self.rng("decoys", artist.index)
            bare = artist.name.removeprefix("The ")
            names = [f"{artist.name} Tribute Band", f"Karaoke: {artist.name}"]
            names.append(bare if bare != artist.name else f"The {artist.name}")
            if artist.kind == "demo":
                names.append(bare.rstrip("s"))  # "Paper Lantern"
            for n, name in enumerate(names):
                popularity = artist.popularity + 10 if n == 2 else rng.randint(0, 15)
                decoys.append(
                    Decoy(
                        spotify_id=prefixed_id(ARTISTS + artist.index % 3000, rng),
                        mbid=uuid_from(rng),
                        name=name,
                        popularity=min(popularity, 100),
                        followers=rng.randint(10, 50_000),
                        genre=artist.genre,
                    )
                )
        return decoys

    @cached_property
    def demo(self) -> ArtistIdentity:
        return self.artists[DEMO]

    def _venues(self) -> list[VenueRecord]:
        rng = self.rng("venues")
        venues = []
        for n in range(VENUES):
            city, state, state_code, country, country_code, tz, lat, lon = rng.choice(words.CITIES)
            pattern = rng.choice(words.VENUE_PATTERNS)
            sf_name = pattern.format(noun=rng.choice(words.NOUNS), adj=rng.choice(words.ADJECTIVES), city=city)
            detailed = rng.random() < 0.85
            has_location = detailed and rng.random() < 0.95
            venues.append(
                VenueRecord(
                    tm_id="KovZpZA" + base62(rng, 4) + str(n),
                    sf_id="".join(rng.choices("0123456789abcdef", k=7 if n % 25 == 0 else 8)),
                    name=f"{sf_name}, {city}" if rng.random() < 0.3 else sf_name,
                    sf_name=sf_name,
                    city=city,
                    city_on_wire=f" {city}" if rng.random() < 0.05 else city,
                    state=state,
                    state_code=state_code,
                    country=country,
                    country_code=country_code,
                    timezone=tz,
                    latitude=f"{lat + rng.uniform(-0.1, 0.1):.6f}" if has_location else None,
                    longitude=f"{lon + rng.uniform(-0.1, 0.1):.6f}" if has_location else None,
                    postal_code=f"{rng.randint(10000, 99999)}" if detailed else None,
                    line1=f"{rng.randint(1, 999)} {rng.choice(words.NOUNS)} Street" if detailed and rng.random() < 0.8 else None,
                    line2=f"{city}, {state_code or country_code}",
                    detailed=detailed,
                    geonames_id=str(rng.randint(1_000_000, 9_999_999)),
                )
            )
        return venues


def _act_name(rng: random.Random) -> str:
    pattern = rng.randrange(4)
    if pattern == 0:
        return f"The {rng.choice(words.ADJECTIVES)} {rng.choice(words.NOUNS)}s"
    if pattern == 1:
        return f"{rng.choice(words.ADJECTIVES)} {rng.choice(words.NOUNS)}"
    if pattern == 2:
        return f"{rng.choice(words.FIRST_NAMES)} {rng.choice(words.LAST_NAMES)}"
    return f"{rng.choice(words.NOUNS)} {rng.choice(words.NOUNS)}"
