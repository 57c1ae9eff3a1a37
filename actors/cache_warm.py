"""Proactive cache warming of artist pages (queue ``cache_warm``, BACKGROUND)."""

from __future__ import annotations

import dramatiq

from theset_daemon import cache
from theset_daemon.context import resources


@dramatiq.actor(queue_name="cache_warm")
async def warm_artist_pages(artist_ids: list[str], reason: str = "") -> int:
    res = resources()
    return await cache.warm_artist_pages(res.pool, cache.current(res), artist_ids)
