"""``/metrics``: Prometheus text format from prometheus-client's default registry.

Queue depths are read from Redis at scrape time (one round trip) and set on the
gauge just before rendering, so a scrape always shows the cluster's backlog.
"""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from .auth import require_bearer
from .keys import QUEUE_DEPTHS, SETTINGS

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
    """Open when ``THESET_METRICS_TOKEN`` is unset (bind the side server privately); else Bearer that token."""
    if request.app[SETTINGS].metrics_token:
        await require_bearer(request, request.app[SETTINGS].metrics_token, realm="metrics")
    await refresh_queue_depths(request.app)
    body = generate_latest(REGISTRY)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
