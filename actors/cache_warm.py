"""Proactive cache warming of artist pages (queue ``cache_warm``, BACKGROUND)."""

from __future__ import annotations

from theset_daemon import jobs
from theset_daemon.runtime.resources import resources
from theset_daemon.services import cache


@jobs.actor(jobs.WARM_ARTIST_PAGES)
async def warm_artist_pages(artist_ids: list[str], reason: str = "") -> int:
    res = resources()
    return await cache.warm_artist_pages(res.pool, cache.current(res), artist_ids)
