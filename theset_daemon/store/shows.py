"""Show rows from Ticketmaster events, status kept current.

An event seen again rewrites its name, date, time, status and url when they
changed (cancelled, postponed, rescheduled); ``artist_id`` stays the artist
whose import first found it, and every importing artist is added to
``show_artists``.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable, Mapping
from uuid import UUID

from ..catalog.matching import ShowCandidate
from ..catalog.models import Event
from .connection import Db, transaction

#: Ticketmaster's documented spelling mapped to the one live data uses.
_STATUS_SPELLING = {"canceled": "cancelled"}

_UPSERT = """
insert into shows (tm_event_id, artist_id, venue_id, name, date, time, status, url)
select r.tm_event_id, $1, r.venue_id, r.name, r.date, r.time, r.status, r.url
from unnest($2::text[], $3::uuid[], $4::text[], $5::date[], $6::time[], $7::text[], $8::text[])
     as r(tm_event_id, venue_id, name, date, time, status, url)
on conflict (tm_event_id) do update set
    venue_id = coalesce(excluded.venue_id, shows.venue_id),
    name = excluded.name, date = excluded.date, time = excluded.time,
    status = excluded.status, url = excluded.url, updated_at = now()
where (shows.name, shows.date, shows.time, shows.status, shows.url)
      is distinct from (excluded.name, excluded.date, excluded.time, excluded.status, excluded.url)
   or (excluded.venue_id is not null and excluded.venue_id is distinct from shows.venue_id)
returning 1
"""

_BILL = """
insert into show_artists (show_id, artist_id)
select id, $1 from shows where tm_event_id = any($2::text[])
on conflict do nothing
"""


def show_status(status: str) -> str:
    """Ticketmaster's status code, lower-cased, "canceled" spelled "cancelled"."""
    code = (status or "").strip().lower()
    return _STATUS_SPELLING.get(code, code) or "unknown"


def local_time(value: str | None) -> dt.time | None:
    """``"19:30:00"`` as a time; None when absent or malformed."""
    try:
        return dt.time.fromisoformat(value) if value else None
    except ValueError:
        return None


async def upsert_shows(db: Db, artist_id: UUID, events: Iterable[Event], venue_ids: Mapping[str, UUID]) -> int:
    """Store an artist's events; the number of shows inserted or changed.

    ``venue_ids`` maps Ticketmaster venue ids to stored venues (from
    :func:`~.venues.upsert_venues`); an event whose venue is unknown keeps
    the venue it had. Events repeated across pages are stored once.
    """
    rows = list({e.id: e for e in events}.values())
    if not rows:
        return 0
    columns = (
        [e.id for e in rows],
        [venue_ids.get(e.venue.id) if e.venue else None for e in rows],
        [e.name for e in rows],
        [e.local_date for e in rows],
        [local_time(e.local_time) for e in rows],
        [show_status(e.status) for e in rows],
        [e.url for e in rows],
    )
    async with transaction(db) as conn:
        changed = len(await conn.fetch(_UPSERT, artist_id, *columns))
        await conn.execute(_BILL, artist_id, columns[0])
    return changed


async def shows_for_linking(db: Db, artist_id: UUID, dates: Iterable[dt.date] | None = None) -> list[ShowCandidate]:
    """The artist's shows (optionally only on ``dates``) as setlist-link candidates."""
    rows = await db.fetch(
        """
        select s.id, s.date, v.name as venue_name, v.city
        from show_artists sa join shows s on s.id = sa.show_id left join venues v on v.id = s.venue_id
        where sa.artist_id = $1 and ($2::date[] is null or s.date = any($2::date[]))
        order by s.date, s.id
        """,
        artist_id,
        None if dates is None else sorted(set(dates)),
    )
    return [ShowCandidate(r["id"], r["date"], r["venue_name"], r["city"]) for r in rows]
