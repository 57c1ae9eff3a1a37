"""An act's setlist.fm history: setlists of its past shows, older tours, stubs.

Most past Ticketmaster shows of an act have a setlist on the same date at the
same venue (setlist.fm's own venue id and, often, a shorter venue name); older
setlists go back years; a couple of future shows have empty stubs; some
setlists are empty, one date has an early and a late show. Songs are mostly
the act's studio titles, plus covers, tapes, medleys, guests and blanks.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING

from . import words
from .records import ArtistIdentity, SetEntry, SetlistRecord, SongEntry

if TYPE_CHECKING:  # the world calls these builders; they only read it
    from .data import World

#: Setlists older than the Ticketmaster window, per act kind (regular acts draw 0-25).
HISTORY = {"demo": 40, "big_events": 60, "big_catalogue": 30, "empty": 0}


def build_setlists(world: World, artist: ArtistIdentity) -> list[SetlistRecord]:
    """The act's setlists, newest first."""
    rng = world.rng("setlists", artist.index)
    if artist.kind == "empty":
        return []
    songs = world.catalogue(artist.index).songs
    tour = f"{rng.choice(words.ADJECTIVES)} {rng.choice(words.NOUNS)} Tour"
    setlists: list[SetlistRecord] = []
    for event in world.events(artist.index):
        if event.package or event.local_date is None or event.status in ("cancelled", "postponed"):
            continue
        if event.local_date < world.anchor and rng.random() < 0.7:
            setlists.append(_setlist(world, artist, rng, songs, event.local_date, event.venue_id, tour, event.id))
        elif event.local_date >= world.anchor and rng.random() < 0.03:
            setlists.append(_setlist(world, artist, rng, songs, event.local_date, event.venue_id, tour, event.id, empty=True))
    history = HISTORY.get(artist.kind, rng.randint(0, 25))
    for _ in range(history):
        day = world.anchor - dt.timedelta(days=rng.randint(120, 3650))
        venue = rng.choice(world.venues).tm_id
        setlists.append(_setlist(world, artist, rng, songs, day, venue, None, None, empty=rng.random() < 0.2))
    if artist.kind == "demo" and setlists:
        early = setlists[-1]
        setlists.append(_setlist(world, artist, rng, songs, early.event_date, early.venue_id, None, None))
    return sorted(setlists, key=lambda s: (s.event_date, s.id), reverse=True)


def _setlist(
    world: World,
    artist: ArtistIdentity,
    rng: random.Random,
    songs: dict[int, str],
    day: dt.date,
    venue_id: str,
    tour: str | None,
    event_id: str | None,
    *,
    empty: bool = False,
) -> SetlistRecord:
    updated = dt.datetime.combine(min(day, world.anchor), dt.time(5, 18, 8)) + dt.timedelta(days=rng.randint(0, 3))
    return SetlistRecord(
        id="".join(rng.choices("0123456789abcdef", k=8)),
        version_id="g" + "".join(rng.choices("0123456789abcdef", k=7)),
        event_date=day,
        artist_mbid=artist.mbid,
        venue_id=venue_id,
        tour=tour,
        sets=() if empty else _sets(rng, songs),
        last_updated=updated.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        matched_event_id=event_id,
    )


def _sets(rng: random.Random, songs: dict[int, str]) -> tuple[SetEntry, ...]:
    chosen = rng.sample(sorted(songs), min(len(songs), rng.randint(12, 20)))
    main: list[SongEntry] = []
    if rng.random() < 0.3:
        main.append(SongEntry("Intro Tape", tape=True))
    for song_id in chosen:
        entry = SongEntry(songs[song_id], song_id=song_id, info="acoustic" if rng.random() < 0.05 else None)
        if rng.random() < 0.03:
            entry = SongEntry(f"{songs[song_id]} / {songs[rng.choice(chosen)]}", info="medley")
        elif rng.random() < 0.03:
            entry = SongEntry("  ")
        elif rng.random() < 0.04:
            entry = SongEntry(songs[song_id], song_id=song_id, with_guest=("0e6b3f1e-5a33-4c1d-9c3b-1f1f1f1f1f1f", "Special Guest"))
        main.append(entry)
    if rng.random() < 0.4:
        k = rng.randrange(len(words.COVERED_SONGS))
        original = (f"00000000-0000-4000-a000-{k:012d}", words.COVERED_ARTISTS[k])
        main.insert(rng.randrange(1, len(main) + 1), SongEntry(words.COVERED_SONGS[k], cover=original))
    sets = [SetEntry(tuple(main[:-3] or main))]
    if len(main) > 3 and rng.random() < 0.7:
        sets.append(SetEntry(tuple(main[-3:]), encore=1))
    elif len(main) > 3:
        sets[0] = SetEntry(tuple(main))
    if rng.random() < 0.2:
        sets.append(SetEntry((SongEntry("Outro Tape", tape=True),), encore=len(sets)))
    return tuple(sets)
