"""Venue details for the artist's venues that have none yet."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import asyncpg

from ...providers import ProviderNotFound, Providers
from ...store import update_venue_details, venues_without_details
from . import Report, no_report

async def sync_venue_details(
    providers: Providers, pool: asyncpg.Pool, artist_id: UUID, report: Report = no_report
) -> dict[str, Any]:
    """Fetch details of each venue lacking them (the provider's rate limit paces it)."""
    venue_ids = await venues_without_details(pool, artist_id)
    done = missing = 0

    async def one(tm_venue_id: str) -> None:
        nonlocal done, missing
        try:
            venue = await providers.ticketmaster.venue(tm_venue_id)
        except ProviderNotFound:
            missing += 1
            return
        await update_venue_details(pool, venue)
        done += 1
        if done % 25 == 0:
            await report(done / len(venue_ids), f"{done}/{len(venue_ids)} venues detailed", None)

    await asyncio.gather(*(one(v) for v in venue_ids))
    return {"venues_detailed": done, "venues_missing": missing}
