"""Shows and venues: every event of the attraction, upserted in batches."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from ...providers import Providers
from ...runtime.job_log import note
from ...store import get_artist, mark_artist_synced, upsert_shows, upsert_venues
from . import Report, no_report


async def sync_shows(
    providers: Providers, pool: asyncpg.Pool, artist_id: UUID, report: Report = no_report
) -> dict[str, Any]:
    """Store every event of the artist and its venue; counts shows and venues."""
    artist = await get_artist(pool, artist_id)
    attraction_id = artist["tm_attraction_id"] if artist else None
    if attraction_id is None:
        return {"shows": 0}
    events = await providers.ticketmaster.events(attraction_id)
    note(f"Ticketmaster attraction {attraction_id}: {len(events)} events listed, "
         f"{sum(1 for e in events if e.venue is None)} without a venue")
    await report(0.6, f"{len(events)} events listed", {"events_seen": len(events)})
    venue_ids = await upsert_venues(pool, [e.venue for e in events if e.venue is not None])
    changed = await upsert_shows(pool, artist_id, events, venue_ids)
    await mark_artist_synced(pool, artist_id, "shows")
    cancelled = sum(1 for e in events if e.status in {"cancelled", "canceled"})
    return {"shows": len(events), "shows_changed": changed, "venues": len(venue_ids), "shows_cancelled": cancelled}
