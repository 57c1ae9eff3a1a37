"""The daily provider budgets: ``GET /api/admin/quotas`` and their ``/metrics`` gauges.

Both read the same overview (:func:`~theset_daemon.providers.quota.forecast.quota_overview`):
per provider, its window (limit, used by kind of work, remaining, reset), what
the queued work is expected to cost and a warning when the queued recurring
work will not fit before the reset. ``web/app.py`` sets ``app[QUOTAS]``. The gauges
are cluster-wide: only the daemon holding the metrics lead (see
``broker/cluster_metrics.py``) exports them, the others clear them.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from prometheus_client import REGISTRY

from ..providers.quota.rules import KINDS, now_ms
from ..runtime.metrics import (
    PROVIDER_QUOTA_HELD,
    PROVIDER_QUOTA_LIMIT,
    PROVIDER_QUOTA_QUEUED,
    PROVIDER_QUOTA_REMAINING,
    PROVIDER_QUOTA_RESET,
    PROVIDER_QUOTA_SPENT,
    PROVIDER_QUOTA_USED,
    QUOTA_GAUGES,
)
from .admin_auth import require_admin
from .errors import json_response
from .keys import QUOTAS, booted

logger = logging.getLogger(__name__)

def set_gauges(rows: list[dict[str, Any]]) -> None:
    """Put an overview on the ``theset_provider_quota_*`` gauges."""
    for row in rows:
        p = row["provider"]
        PROVIDER_QUOTA_LIMIT.labels(p).set(row["limit"])
        PROVIDER_QUOTA_USED.labels(p).set(row["used"])
        _set_or_drop(PROVIDER_QUOTA_REMAINING, p, row["remaining"])
        _set_or_drop(PROVIDER_QUOTA_RESET, p, row["resetAt"] / 1000 if row["resetAt"] else None)
        for kind in KINDS:
            PROVIDER_QUOTA_SPENT.labels(p, kind).set(row["byKind"][kind])
            PROVIDER_QUOTA_HELD.labels(p, kind).set(row["held"][kind])
            PROVIDER_QUOTA_QUEUED.labels(p, kind).set(row["forecast"]["expected"][kind])
        PROVIDER_QUOTA_SPENT.labels(p, "other").set(row["other"])


def _set_or_drop(gauge: Any, provider: str, value: float | None) -> None:
    """Set the provider's series, or drop it when there is nothing to say (no limit, no window open)."""
    if value is not None:
        gauge.labels(provider).set(value)
        return
    try:
        gauge.remove(provider)
    except KeyError:
        pass


async def refresh_quota_gauges(app: web.Application) -> None:
    """On the metrics leader (after the cluster gauges claimed the lead), read the budgets from
    Redis and set the gauges; elsewhere clear them. A scrape during an outage skips them."""
    overview = app.get(QUOTAS)
    if overview is None:
        return
    if not REGISTRY.get_sample_value("theset_cluster_metrics_leader"):
        for gauge in QUOTA_GAUGES:
            gauge.clear()
        return
    try:
        set_gauges(await overview())
    except Exception as exc:
        logger.warning("quota budgets unavailable: %s", exc)


async def quotas(request: web.Request) -> web.Response:
    """GET /api/admin/quotas — ``{"now": ms, "providers": [...]}`` (admin token or session)."""
    await require_admin(request)
    booted(request)  # 503 while the daemon is still connecting
    rows = await request.app[QUOTAS]()
    return json_response({"now": now_ms(), "providers": rows})

