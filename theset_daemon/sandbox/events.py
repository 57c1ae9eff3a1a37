"""An act's Ticketmaster events: tours, package siblings, TBA dates, a shifting result set.

Most acts play a few dozen shows around the anchor date; the big-events act
plays more than 1,300, so one query cannot page through them all. Statuses
follow live data (``cancelled`` with two l), postponed shows lose their date
and keep ``initialStartDate``, a few shows have no specific time, and some
events repeat a few places later in the date-sorted result set the way a
set that shifts between page requests repeats them.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from typing import TYPE_CHECKING

from . import words
from .ids import base62, prefixed_id
from .records import ArtistIdentity, EventRecord

if TYPE_CHECKING:  # the world calls these builders; they only read it
    from .data import World

#: Events per act kind (regular acts draw 0-30).
EVENT_COUNTS = {"demo": 70, "big_events": 1300, "empty": 0, "big_catalogue": 40}
#: Draws that give the special acts one event of every kind (cancelled, rescheduled, offsale, TBA, TBD, no time).
_EVERY_STATUS = (0.01, 0.03, 0.05, 0.07, 0.085, 0.095)
LOCAL_TIMES = ("19:00:00", "19:30:00", "20:00:00", "20:30:00")


def build_events(world: World, artist: ArtistIdentity) -> list[EventRecord]:
    """The act's events in date order (undated ones last)."""
    rng = world.rng("events", artist.index)
    count = EVENT_COUNTS.get(artist.kind, rng.randint(0, 30) if artist.kind == "regular" else 0)
    if artist.kind == "regular" and artist.index % 10 == 0:
        count = 0
    first = world.anchor - dt.timedelta(days=45 if artist.kind != "big_events" else 30)
    days = 365 if artist.kind != "big_events" else 330
    tour = f"{rng.choice(words.ADJECTIVES)} {rng.choice(words.NOUNS)} Tour"
    events: list[EventRecord] = []
    for n in range(count):
        day = first + dt.timedelta(days=rng.randrange(days))
        roll = _EVERY_STATUS[n] if artist.kind != "regular" and n < len(_EVERY_STATUS) else None
        main = _event(world, artist, rng, day, tour, roll=roll)
        events.append(main)
        if rng.random() < 0.03:
            for suffix in rng.sample((" - VIP PACKAGE", " - PARKING", " - SUITE"), rng.randint(1, 2)):
                events.append(_event(world, artist, rng, day, tour, sibling=(main, suffix)))
    return sorted(events, key=lambda e: (e.sort_time is None, e.sort_time or dt.datetime.max, e.id))


def _event(
    world: World,
    artist: ArtistIdentity,
    rng: random.Random,
    day: dt.date,
    tour: str,
    sibling: tuple[EventRecord, str] | None = None,
    roll: float | None = None,
) -> EventRecord:
    venue = rng.choice(world.venues) if sibling is None else world.venues_by_tm[sibling[0].venue_id]
    local_time: str | None = rng.choice(LOCAL_TIMES)
    local_date: dt.date | None = day
    status, tba, tbd, initial = "onsale", False, False, None
    roll = rng.random() if roll is None else roll
    if sibling is not None:
        local_time, local_date = sibling[0].local_time, sibling[0].local_date
    elif roll < 0.02:
        status = "cancelled"
    elif roll < 0.04:
        status, initial = "rescheduled", day - dt.timedelta(days=rng.randint(7, 60))
    elif roll < 0.06:
        status = "offsale"
    elif roll < 0.08:
        status, tba, initial, local_date, local_time = "postponed", True, day, None, None
    elif roll < 0.09:
        tbd, local_date, local_time = True, None, None
    elif roll < 0.10:
        local_time = None  # noSpecificTime
    co_bill: tuple[tuple[str, str], ...] = ()
    if sibling is None and rng.random() < 0.05:
        co_bill = tuple(("K8vZ91" + base62(rng, 5), f"{rng.choice(words.ADJECTIVES)} {rng.choice(words.NOUNS)}s") for _ in range(4))
    name = artist.name if rng.random() < 0.6 else f"{artist.name}: {tour}"
    if co_bill:
        name = f"{rng.choice(words.NOUNS)} Fest {day.year}"
    if sibling is not None:
        name = sibling[0].name + sibling[1]
    return EventRecord(
        id="vv" + prefixed_id(artist.index, rng, 15),
        name=name,
        attraction_id=artist.tm_id,
        co_bill=co_bill,
        venue_id=venue.tm_id,
        local_date=local_date,
        local_time=local_time,
        date_time=_utc(local_date, local_time, venue.timezone),
        status=status,
        tba=tba,
        tbd=tbd,
        initial_start_date=initial,
        has_timezone=rng.random() < 0.8,
        placeholder_sale=rng.random() < 0.18,
        repeats_at=rng.randint(3, 250) if rng.random() < 0.02 else None,
        package=sibling is not None,
    )


def _utc(day: dt.date | None, time: str | None, timezone: str) -> dt.datetime | None:
    if day is None or time is None:
        return None
    local = dt.datetime.combine(day, dt.time.fromisoformat(time), tzinfo=zoneinfo.ZoneInfo(timezone))
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)
