"""The side server's app factory: one route table, state behind typed AppKeys."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..runtime.config import Settings
from ..runtime.loop_monitor import LoopMonitor
from ..runtime.readiness import ReadinessCheck
from . import health, metrics
from .connection_guard import ConnectionGuard
from .errors import error_body, json_errors, json_response, quiet_client_errors
from .keys import AUTH_THROTTLE, LOOP_MONITOR, READINESS, SESSIONS, SETTINGS

#: The app's connection guard; attach it to the runner's server after ``setup()`` (see :func:`start_runner`).
CONNECTION_GUARD = web.AppKey("connection_guard", ConnectionGuard)


async def not_found(request: web.Request) -> web.Response:
    return json_response(error_body(404, f"no route for {request.method} {request.path}"), status=404)


def create_app(settings: Settings, readiness: ReadinessCheck, loop_monitor: LoopMonitor) -> web.Application:
    """Build the side server; callers add their own state (broker, pools) before starting it."""
    quiet_client_errors()
    guard = ConnectionGuard(settings.http_max_idle_connections, settings.http_max_connections_per_peer)
    app = web.Application(middlewares=[guard.middleware, json_errors], client_max_size=settings.max_body_bytes)
    app[CONNECTION_GUARD] = guard
    app[SETTINGS] = settings
    app[READINESS] = readiness
    app[LOOP_MONITOR] = loop_monitor
    app.add_routes(
        [
            web.get("/healthz", health.healthz),
            web.get("/readyz", health.readyz),
            web.get("/metrics", metrics.metrics),
        ]
    )
    return app


def mount_auth(app: web.Application, redis: Any, settings: Settings) -> None:
    """Dashboard sessions and the failed-authentication throttle, both in Redis (cluster-wide)."""
    from .sessions import SessionStore
    from .throttle import AuthThrottle

    app[SESSIONS] = SessionStore(redis, settings.redis_namespace)
    app[AUTH_THROTTLE] = AuthThrottle(redis, settings.redis_namespace, free_failures=settings.auth_max_failures,
                                      trusted_proxies=settings.trusted_proxies)


def add_fallback(app: web.Application) -> None:
    """Answer unknown paths with a JSON 404 (added last, after every other route)."""
    app.router.add_route("*", "/{tail:.*}", not_found)


async def start_runner(app: web.Application, **kwargs: object) -> web.AppRunner:
    """Set up ``app``'s runner with the idle timeout of its settings and its connection guard attached."""
    runner = web.AppRunner(app, keepalive_timeout=app[SETTINGS].http_idle_timeout, **kwargs)  # type: ignore[arg-type]
    await runner.setup()
    app[CONNECTION_GUARD].attach(runner.server)
    return runner
