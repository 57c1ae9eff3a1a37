"""``/metrics``: Prometheus text format from prometheus-client's default registry.

Queue depths are read from Redis at scrape time (one round trip) and set on the
gauge just before rendering, so a scrape always shows the cluster's backlog.
"""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from .keys import QUEUE_DEPTHS

logger = logging.getLogger(__name__)


async def refresh_queue_depths(app: web.Application) -> None:
    """Have the broker read every queue's depth and set the QUEUE_DEPTH gauge."""
    export = app.get(QUEUE_DEPTHS)
    if export is None:
        return
    try:
        await export()
    except Exception as exc:  # a scrape during a Redis outage still returns the process metrics
        logger.warning("queue depths unavailable: %s", exc)


async def metrics(request: web.Request) -> web.Response:
    from .quotas import refresh_quota_gauges

    await refresh_queue_depths(request.app)
    await refresh_quota_gauges(request.app)
    body = generate_latest(REGISTRY)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
