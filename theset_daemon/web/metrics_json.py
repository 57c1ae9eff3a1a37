"""``/metrics/json``: the numbers of ``/metrics`` as JSON, for custom dashboards.

``{"metrics": {sample name: [{"labels": {...}, "value": v}]}, "help": {family: text},
"types": {family: type}}`` from prometheus-client's default registry, with the
queue depths refreshed from Redis first, exactly as a ``/metrics`` scrape does.
Non-finite values (``NaN``, ``±Inf``) are rendered as strings.
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web
from prometheus_client import REGISTRY

from .admin_auth import require_admin
from .errors import json_response
from .metrics import refresh_queue_depths


def _value(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")


def collect() -> dict[str, Any]:
    """Every sample of the default registry, grouped by sample name."""
    metrics: dict[str, list[dict[str, Any]]] = {}
    helps: dict[str, str] = {}
    types: dict[str, str] = {}
    for family in REGISTRY.collect():
        helps[family.name] = family.documentation
        types[family.name] = family.type
        for sample in family.samples:
            metrics.setdefault(sample.name, []).append({"labels": dict(sample.labels), "value": _value(sample.value)})
    return {"metrics": metrics, "help": helps, "types": types}


async def metrics_json(request: web.Request) -> web.Response:
    """GET /metrics/json — admin token or dashboard session."""
    await require_admin(request)
    await refresh_queue_depths(request.app)
    return json_response(collect())

