"""Venue rows, from the venues embedded in events and from venue details.

A provider value that is missing (None) never erases a stored one: events
embed a thinner venue than the details endpoint returns.
"""

from __future__ import annotations

from typing import Iterable
from uuid import UUID

import orjson

from ..catalog.models import Venue
from .artists import images_json
from .connection import Db, transaction

#: Columns filled only when the provider sends a value.
_OPTIONAL = ("city", "state", "country", "address", "postal_code", "timezone",
             "latitude", "longitude", "capacity", "url")
_TYPES = ("text", "text", "text", "text", "text", "text", "float8", "float8", "int", "text")

_UPSERT = f"""
insert into venues (tm_venue_id, name, {", ".join(_OPTIONAL)}, images)
select r.tm_venue_id, r.name, {", ".join(f"r.{c}" for c in _OPTIONAL)}, r.images::jsonb
from unnest($1::text[], $2::text[], {", ".join(f"${i + 3}::{t}[]" for i, t in enumerate(_TYPES))},
            ${len(_OPTIONAL) + 3}::text[]) as r(tm_venue_id, name, {", ".join(_OPTIONAL)}, images)
on conflict (tm_venue_id) do update set
    name = excluded.name,
    {", ".join(f"{c} = coalesce(excluded.{c}, venues.{c})" for c in _OPTIONAL)},
    images = case when excluded.images <> '[]' then excluded.images else venues.images end,
    updated_at = now()
where excluded.name is distinct from venues.name
   or {" or ".join(f"(excluded.{c} is not null and excluded.{c} is distinct from venues.{c})" for c in _OPTIONAL)}
   or (excluded.images <> '[]' and excluded.images is distinct from venues.images)
returning tm_venue_id
"""


def _text(value: str | None) -> str | None:
    return (value or "").strip() or None


async def _upsert(conn: Db, venues: Iterable[Venue]) -> tuple[list[str], set[str]]:
    by_id = {v.id: v for v in venues}
    rows = list(by_id.values())
    columns = [
        [v.id for v in rows],
        [_text(v.name) or v.id for v in rows],
        [_text(v.city) for v in rows],
        [_text(v.state) for v in rows],
        [_text(v.country) for v in rows],
        [_text(v.address) for v in rows],
        [_text(v.postal_code) for v in rows],
        [_text(v.timezone) for v in rows],
        [v.latitude for v in rows],
        [v.longitude for v in rows],
        [v.capacity for v in rows],
        [v.url for v in rows],
        # jsonb[] has no array codec: ship JSON text, cast per row.
        [orjson.dumps(images_json(v.images)).decode() for v in rows],
    ]
    changed = {r["tm_venue_id"] for r in await conn.fetch(_UPSERT, *columns)}
    return list(by_id), changed


async def upsert_venues(db: Db, venues: Iterable[Venue]) -> dict[str, UUID]:
    """Store venues (duplicates in ``venues`` are fine); ``{tm_venue_id: venue_id}``."""
    async with transaction(db) as conn:
        ids, _ = await _upsert(conn, venues)
        if not ids:
            return {}
        rows = await conn.fetch("select tm_venue_id, id from venues where tm_venue_id = any($1::text[])", ids)
    return {r["tm_venue_id"]: r["id"] for r in rows}


async def update_venue_details(db: Db, venue: Venue) -> bool:
    """Store a venue from the details endpoint and stamp ``details_synced_at``;
    True when a stored value changed."""
    async with transaction(db) as conn:
        _, changed = await _upsert(conn, [venue])
        await conn.execute("update venues set details_synced_at = now() where tm_venue_id = $1", venue.id)
    return bool(changed)


async def venues_without_details(db: Db, artist_id: UUID) -> list[str]:
    """Ticketmaster ids of the artist's venues whose details were never synced."""
    rows = await db.fetch(
        """select distinct v.tm_venue_id
           from show_artists sa join shows s on s.id = sa.show_id join venues v on v.id = s.venue_id
           where sa.artist_id = $1 and v.details_synced_at is null
           order by v.tm_venue_id""",
        artist_id,
    )
    return [r["tm_venue_id"] for r in rows]
