"""``/metrics``: Prometheus text format from prometheus-client's default registry.

Queue depths are read from Redis at scrape time (one round trip) and set on the
gauge just before rendering, so a scrape always shows the cluster's backlog.
"""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from ..metrics import QUEUE_DEPTH
from .keys import QUEUE_DEPTHS

logger = logging.getLogger(__name__)


async def refresh_queue_depths(app: web.Application) -> None:
    """Copy the broker's per-queue, per-state counts into the QUEUE_DEPTH gauge."""
    depths = app.get(QUEUE_DEPTHS)
    if depths is None:
        return
    try:
        by_queue = await depths()
    except Exception as exc:  # a scrape during a Redis outage still returns the process metrics
        logger.warning("queue depths unavailable: %s", exc)
        return
    for queue, states in by_queue.items():
        for state in ("waiting", "delayed", "active", "dead"):
            QUEUE_DEPTH.labels(queue, state).set(states.get(state, 0))


async def metrics(request: web.Request) -> web.Response:
    await refresh_queue_depths(request.app)
    body = generate_latest(REGISTRY)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
