"""``/healthz`` (the process and its loop are alive) and ``/readyz`` (route to me)."""

from __future__ import annotations

from aiohttp import web

from .errors import json_response
from .keys import LOOP_MONITOR, READINESS


async def healthz(request: web.Request) -> web.Response:
    """200 while the event loop answers; the body carries the measured loop lag (latest, decaying max, p99 of the last 5 min)."""
    monitor = request.app[LOOP_MONITOR]
    return json_response(
        {"status": "ok", "loop_lag_ms": round(monitor.lag_s * 1000, 2), "max_loop_lag_ms": round(monitor.max_lag_s * 1000, 2),
         "loop_lag_p99_ms": round(monitor.percentile(0.99) * 1000, 2), "loop_lag_samples": len(monitor.samples)}
    )


async def readyz(request: web.Request) -> web.Response:
    """200 when Redis and PostgreSQL answer, workers run and we are not draining; else 503 naming the check."""
    ready, checks = await request.app[READINESS].run()
    failed = [name for name, result in checks.items() if result != "ok"]
    body = {"ready": ready, "checks": checks}
    if not ready:
        body.update(error="not_ready", message=f"failing: {', '.join(failed)}")
    return json_response(body, status=200 if ready else 503)
