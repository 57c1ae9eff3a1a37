"""``/healthz`` (the process and its loop are alive) and ``/readyz`` (route to me)."""

from __future__ import annotations

from aiohttp import web

from .auth import bearer_token, require_bearer
from .errors import json_response
from .keys import LOOP_MONITOR, READINESS, SETTINGS

#: Seconds a caller told "not ready" is asked to wait before asking again.
NOT_READY_RETRY_AFTER_S = 5


async def healthz(request: web.Request) -> web.Response:
    """200 while the event loop answers; the body carries the measured loop lag (latest, decaying max, p99 of the last 5 min)."""
    monitor = request.app[LOOP_MONITOR]
    return json_response(
        {"status": "ok", "loop_lag_ms": round(monitor.lag_s * 1000, 2), "max_loop_lag_ms": round(monitor.max_lag_s * 1000, 2),
         "loop_lag_p99_ms": round(monitor.percentile(0.99) * 1000, 2), "loop_lag_samples": len(monitor.samples)}
    )


async def _admin(request: web.Request) -> bool:
    if bearer_token(request) is None:
        return False
    try:
        await require_bearer(request, request.app[SETTINGS].admin_tokens, realm="admin")
    except web.HTTPUnauthorized:
        return False
    return True


async def readyz(request: web.Request) -> web.Response:
    """200 when Redis and PostgreSQL answer, workers run and we are not draining; else 503 naming the check
    (with ``Retry-After``, like every 503 of the side server).

    Why a check fails (which may name internal hosts and ports) is shown only to
    a caller with the admin token (a wrong one counts as a failed authentication);
    anyone else sees ``"failed"``.
    """
    ready, checks = await request.app[READINESS].run()
    if not await _admin(request):
        checks = {name: result if result in {"ok", "yes"} else "failed" for name, result in checks.items()}
    failed = [name for name, result in checks.items() if result != "ok"]
    body = {"ready": ready, "checks": checks}
    if not ready:
        body.update(error="not_ready", message=f"failing: {', '.join(failed)}")
    if ready:
        return json_response(body)
    return json_response(body, status=503, headers={"Retry-After": str(NOT_READY_RETRY_AFTER_S)})
