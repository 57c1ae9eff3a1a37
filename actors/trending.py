"""Trending scores (queue ``trending_calc``, BACKGROUND; fired by ``calculate-trending``)."""

from __future__ import annotations

import logging
from typing import Any

from theset_daemon import jobs
from theset_daemon.runtime.resources import resources
from theset_daemon.services import trending
from theset_daemon.services.cache import warm_message

logger = logging.getLogger(__name__)


@jobs.actor(jobs.CALCULATE_TRENDING)
async def calculate_trending(timeframes: list[str] | None = None) -> dict[str, Any]:
    res = resources()
    rankings = await trending.calculate_trending(
        res.pool, res.redis, res.settings.redis_namespace, timeframes=tuple(timeframes or trending.TIMEFRAMES)
    )
    flagged = [a.artist_id for a in rankings.get(trending.FLAG_TIMEFRAME, [])]
    if flagged:
        await res.broker.enqueue_async(warm_message(flagged, reason="trending"))
    summary = trending.summary(rankings)
    logger.info("trending calculated", extra={"counts": {k: v["count"] for k, v in summary.items()}})
    return summary
