"""An act's Spotify discography, with everything a catalogue sync trips over.

Studio albums, singles released ahead of them (same recording, same ISRC),
deluxe editions (the album again plus bonus tracks, some live), remasters
(same duration, new ISRC or the old one), live albums and "Unplugged" sets
(album-level or title-level markers), compilations, a box set past the
50-track page, B-sides with concert takes only audio features can tell,
relinked tracks, per-market album copies, and studio songs whose titles
contain the word "live". The generator records the truth as it goes:
which song each track records and whether (and how) it is live.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import words
from .ids import prefixed_id
from .records import AlbumRecord, ArtistIdentity, Catalogue, TrackRecord

if TYPE_CHECKING:  # the world calls these builders; they only read it
    from .data import World


@dataclass(frozen=True)
class Shape:
    """How big a discography is."""

    studio_albums: int
    songs_per_album: tuple[int, int]
    single_rate: float
    deluxe_rate: float
    remaster_rate: float
    live_albums: int
    live_album_tracks: tuple[int, int]
    compilations: int
    box_set: bool = False
    b_sides: bool = False
    appears_on: int = 0
    live_word_titles: int = 0


SHAPES = {
    "demo": Shape(6, (10, 12), 0.25, 0.5, 0.5, 3, (12, 14), 1, appears_on=2, live_word_titles=7),
    "big_catalogue": Shape(56, (11, 13), 0.12, 0.45, 0.55, 28, (15, 19), 8, box_set=True, b_sides=True, live_word_titles=7),
}


def shape_for(artist: ArtistIdentity, rng: random.Random) -> Shape:
    if artist.kind in SHAPES:
        return SHAPES[artist.kind]
    albums = rng.randint(2, 5)
    return Shape(albums, (8, 11), 0.2, 0.2, 0.15, rng.randint(0, 1), (8, 12), int(albums >= 3), live_word_titles=int(rng.random() < 0.2))


def build_catalogue(world: World, artist: ArtistIdentity) -> Catalogue:
    """Generate the act's discography (milliseconds, even for the big one)."""
    return _Builder(world, artist).build()


class _Builder:
    def __init__(self, world: World, artist: ArtistIdentity) -> None:
        self.world = world
        self.artist = artist
        self.rng = world.rng("catalogue", artist.index)
        self.shape = shape_for(artist, self.rng)
        self.catalogue = Catalogue(artist.spotify_id)
        self.ids: set[str] = set()
        self.isrcs = 0
        self.titles: set[str] = set()
        self.originals: dict[int, TrackRecord] = {}  # song id -> its first studio recording
        span = max(self.shape.studio_albums * 1.2, 6)
        self.start = world.anchor - dt.timedelta(days=int(span * 365))

    def build(self) -> Catalogue:
        step = (self.world.anchor - self.start) / (self.shape.studio_albums + 1)
        live_word = list(words.LIVE_WORD_TITLES[: self.shape.live_word_titles])
        for k in range(self.shape.studio_albums):
            released = self.start + step * k + dt.timedelta(days=self.rng.randint(0, 60))
            self.studio_album(k, released, live_word)
        self.live_albums()
        for k in range(self.shape.compilations):
            self.compilation(k)
        if self.shape.box_set:
            self.box_set()
        if self.shape.b_sides:
            self.b_sides()
        for k in range(self.shape.appears_on):
            self.appears_on(k)
        return self.catalogue

    # -- ids, songs and tracks ---------------------------------------------------

    def new_id(self) -> str:
        while (new := prefixed_id(self.artist.index, self.rng)) in self.ids:
            pass
        self.ids.add(new)
        return new

    def new_isrc(self, year: int) -> str:
        self.isrcs += 1
        return f"QZ{self.artist.index:03d}{year % 100:02d}{self.isrcs:05d}"

    def new_song(self, title: str | None = None) -> int:
        while title is None or title in self.titles:
            title = _title(self.rng)
        self.titles.add(title)
        song_id = len(self.catalogue.songs) + 1
        self.catalogue.songs[song_id] = title
        return song_id

    def track(self, album_id: str, number: int, song_id: int, **kw: object) -> TrackRecord:
        live = bool(kw.get("is_live", False))
        rng = self.rng
        fields: dict[str, object] = dict(
            id=self.new_id(),
            title=self.catalogue.songs[song_id],
            album_id=album_id,
            disc=1,
            number=number,
            duration_ms=rng.randint(150_000, 330_000),
            isrc="",
            popularity=rng.randint(25, 70),
            explicit=rng.random() < 0.1,
            song_id=song_id,
            is_live=live,
            live_marker=None,
            liveness=round(rng.uniform(0.82, 0.98) if live else rng.uniform(0.03, 0.35), 4),
            energy=round(rng.uniform(0.2, 0.95), 3),
            tempo=round(rng.uniform(70, 180), 3),
            has_features=live or rng.random() > 0.01,
        )
        fields.update(kw)
        record = TrackRecord(**fields)  # type: ignore[arg-type]
        self.catalogue.tracks[record.id] = record
        return record

    def album(self, name: str, album_type: str, released: dt.date, tracks: list[TrackRecord], **kw: object) -> None:
        rng = self.rng
        precision = "year" if released.year < self.world.anchor.year - 25 and rng.random() < 0.5 else "day"
        record = AlbumRecord(
            id=str(kw.pop("album_id")),
            name=name,
            album_type=album_type,
            album_group=str(kw.pop("group", album_type)),
            release_date=str(released.year) if precision == "year" else released.isoformat(),
            precision=precision,
            track_ids=tuple(t.id for t in tracks),
            is_live=bool(kw.pop("is_live", False)),
            label=f"{rng.choice(words.NOUNS)} Records",
            popularity=rng.randint(10, 70),
            upc=f"{rng.randint(10**11, 10**12 - 1)}",
            **kw,  # type: ignore[arg-type]
        )
        self.catalogue.albums[record.id] = record

    # -- releases ------------------------------------------------------------------

    def studio_album(self, k: int, released: dt.date, live_word: list[str]) -> None:
        rng = self.rng
        album_id = self.new_id()
        count = rng.randint(*self.shape.songs_per_album)
        tracks = []
        for n in range(1, count + 1):
            title = live_word.pop() if live_word and n in (2, 5) else None
            song = self.new_song(title)
            relinked = self.new_id() if rng.random() < 0.02 else None
            record = self.track(album_id, n, song, isrc=self.new_isrc(released.year), relinked_to=relinked)
            if relinked:
                self.catalogue.served[relinked] = record
            self.originals[song] = record
            tracks.append(record)
        name = f"{_title(rng)}"
        copy = self.new_id() if rng.random() < 0.1 else None
        self.album(name, "album", released, tracks, album_id=album_id, market_copy_id=copy)
        for record in tracks:
            if rng.random() < self.shape.single_rate:
                self.single(record, released - dt.timedelta(days=rng.randint(20, 90)))
        if rng.random() < self.shape.deluxe_rate:
            self.deluxe(name, tracks, released + dt.timedelta(days=rng.randint(300, 900)))
        if rng.random() < self.shape.remaster_rate:
            self.remaster(name, tracks, released)

    def single(self, original: TrackRecord, released: dt.date) -> None:
        album_id = self.new_id()
        popularity = max(0, min(100, original.popularity + self.rng.randint(-15, 10)))
        record = self.track(
            album_id, 1, original.song_id, isrc=original.isrc, duration_ms=original.duration_ms, popularity=popularity
        )
        self.album(original.title, "single", released, [record], album_id=album_id)

    def deluxe(self, name: str, tracks: list[TrackRecord], released: dt.date) -> None:
        rng = self.rng
        album_id = self.new_id()
        copies = [
            self.track(album_id, t.number, t.song_id, isrc=t.isrc, duration_ms=t.duration_ms,
                       popularity=max(0, t.popularity - rng.randint(1, 20)))
            for t in tracks
        ]
        n = len(copies)
        for _ in range(rng.randint(1, 2)):
            n += 1
            copies.append(self.track(album_id, n, self.new_song(), isrc=self.new_isrc(released.year)))
        played = rng.choice(tracks)
        n += 1
        copies.append(self.live_take(album_id, n, played, released, rng.choice(words.LIVE_TRACK_SUFFIXES)))
        self.album(f"{name} (Deluxe Edition)", "album", released, copies, album_id=album_id)

    def remaster(self, name: str, tracks: list[TrackRecord], first: dt.date) -> None:
        rng = self.rng
        if first.year + 2 > self.world.anchor.year - 1:
            return
        year = rng.randint(first.year + 2, self.world.anchor.year - 1)
        released = dt.date(year, rng.randint(1, 12), rng.randint(1, 28))
        album_id = self.new_id()
        suffix = rng.choice((f" - Remastered {year}", f" - {year} Remaster"))
        copies = [
            self.track(
                album_id, t.number, t.song_id, title=t.title + suffix, duration_ms=t.duration_ms,
                isrc=t.isrc if rng.random() < 0.4 else self.new_isrc(year),
                popularity=max(0, min(100, t.popularity + rng.randint(-10, 15))),
            )
            for t in tracks
        ]
        self.album(f"{name} (Remastered {year})", "album", released, copies, album_id=album_id)

    def live_take(
        self, album_id: str, number: int, played: TrackRecord, released: dt.date, suffix: str, marker: str | None = None
    ) -> TrackRecord:
        """A concert recording of ``played``: new ISRC, at least 5 s longer, high liveness."""
        return self.track(
            album_id, number, played.song_id, is_live=True, live_marker=marker or ("title" if suffix else "album"),
            title=played.title + suffix, isrc=self.new_isrc(released.year),
            duration_ms=played.duration_ms + self.rng.randint(5_000, 60_000), popularity=self.rng.randint(5, 35),
        )

    def live_albums(self) -> None:
        rng = self.rng
        names = [name for name in words.LIVE_ALBUM_NAMES if "Unplugged" not in name]
        rng.shuffle(names)
        names.insert(0, rng.choice(("MTV Unplugged", "Unplugged in New York")))
        played_from = list(self.originals.values())
        for k in range(self.shape.live_albums):
            if not played_from:
                return
            released = self.start + (self.world.anchor - self.start) * rng.uniform(0.2, 0.95)
            name = names[k % len(names)]
            if k >= len(names):
                name = f"{name} {released.year}"
            album_id = self.new_id()
            count = min(rng.randint(*self.shape.live_album_tracks), len(played_from))
            titled = rng.random() < 0.5  # live albums either mark every title or none
            takes = [
                self.live_take(album_id, n, played, released, rng.choice(words.LIVE_TRACK_SUFFIXES) if titled else "")
                for n, played in enumerate(rng.sample(played_from, count), start=1)
            ]
            self.album(name, "album", released, takes, album_id=album_id, is_live=True)

    def compilation(self, k: int) -> None:
        rng = self.rng
        names = ("Greatest Hits", f"The Best of {self.artist.name}", "Essentials", "Singles Collection", "Anthology")
        name = names[k % len(names)] + (f" Vol. {k // len(names) + 1}" if k >= len(names) else "")
        picks = rng.sample(list(self.originals.values()), min(len(self.originals), rng.randint(12, 20)))
        self.copies_album(name, picks, self.world.anchor - dt.timedelta(days=rng.randint(30, 3000)))

    def box_set(self) -> None:
        picks = list(self.originals.values())[:75]
        self.copies_album("The Complete Studio Recordings", picks, self.world.anchor - dt.timedelta(days=200), discs=25)

    def copies_album(self, name: str, picks: list[TrackRecord], released: dt.date, discs: int = 0) -> None:
        album_id = self.new_id()
        copies = [
            self.track(
                album_id, n, t.song_id, isrc=t.isrc, duration_ms=t.duration_ms,
                popularity=max(0, min(100, t.popularity + self.rng.randint(-12, 5))),
                disc=1 + (n - 1) // discs if discs else 1,
            )
            for n, t in enumerate(picks, start=1)
        ]
        self.album(name, "compilation", released, copies, album_id=album_id)

    def b_sides(self) -> None:
        """New studio songs plus concert takes with plain titles: only liveness betrays them."""
        rng = self.rng
        released = self.world.anchor - dt.timedelta(days=400)
        album_id = self.new_id()
        tracks = [self.track(album_id, n, self.new_song(), isrc=self.new_isrc(released.year)) for n in range(1, 5)]
        for n, played in enumerate(rng.sample(list(self.originals.values()), 3), start=5):
            tracks.append(self.live_take(album_id, n, played, released, "", marker="liveness"))
        self.album("B-Sides & Rarities", "compilation", released, tracks, album_id=album_id)

    def appears_on(self, k: int) -> None:
        """A various-artists compilation carrying one of the act's songs."""
        album_id = self.new_id()
        original = list(self.originals.values())[k]
        copy = self.track(album_id, 7, original.song_id, isrc=original.isrc, duration_ms=original.duration_ms)
        released = self.world.anchor - dt.timedelta(days=500 + k)
        self.album(f"Summer Sounds {released.year - k}", "compilation", released, [copy], album_id=album_id,
                   group="appears_on", artist_name="Various Artists")


def _title(rng: random.Random) -> str:
    pattern = rng.randrange(5)
    adj, noun, noun2, verb = rng.choice(words.ADJECTIVES), rng.choice(words.NOUNS), rng.choice(words.NOUNS), rng.choice(words.VERBS)
    if pattern == 0:
        return f"{adj} {noun}"
    if pattern == 1:
        return f"{verb} the {noun}"
    if pattern == 2:
        return f"{noun} of {noun2}s"
    if pattern == 3:
        return f"{adj} {noun}s"
    return f"{verb} {adj} {noun}s"
