"""``/metrics``: Prometheus text format from prometheus-client's default registry.

Read at scrape time, just before rendering: the cluster-wide gauges from Redis
(one round trip; only the daemon holding the metrics lead exports them, see
``broker/cluster_metrics.py``), this daemon's readiness (the ``/readyz``
checks) and its event-loop lag.
"""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from ..runtime.metrics import DAEMON_READY, LOOP_LAG, LOOP_LAG_MAX
from .auth import require_bearer
from .keys import LOOP_MONITOR, QUEUE_DEPTHS, READINESS, SETTINGS
from .quotas import refresh_quota_gauges

logger = logging.getLogger(__name__)


async def refresh_queue_depths(app: web.Application) -> None:
    """Set the scrape-time gauges: cluster gauges (if this daemon leads), readiness, loop lag."""
    monitor = app.get(LOOP_MONITOR)
    if monitor is not None:
        LOOP_LAG.set(monitor.lag_s)
        LOOP_LAG_MAX.set(monitor.max_lag_s)
    readiness = app.get(READINESS)
    if readiness is not None:
        ready, _ = await readiness.run()
        DAEMON_READY.set(1 if ready else 0)
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
    await refresh_quota_gauges(request.app)
    body = generate_latest(REGISTRY)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
