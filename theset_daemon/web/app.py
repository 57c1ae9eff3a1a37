"""The side server: the one route table, and the one place its shared state is set.

Every route the daemon serves is listed here (:data:`HEALTH_ROUTES`,
:data:`IMPORT_ROUTES`, :data:`ADMIN_ROUTES`, :data:`DASHBOARD_ROUTES`), and every
AppKey of :mod:`.keys` is set here: the health routes by :func:`create_app` (they
answer before boot), the rest by :func:`mount_daemon` once the daemon has built
its broker, pools and hub. Handler modules hold handlers only.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import redis.asyncio as aioredis
from aiohttp import web

from ..broker.admin import QueueAdmin
from ..imports.progress import ProgressReporter
from ..imports.signing import EVENTS_PATH
from ..imports.stream import ProgressHub
from ..runtime.config import Settings
from ..runtime.loop_monitor import LoopMonitor
from ..runtime.readiness import ReadinessCheck
from ..scheduling.scheduler import Schedule
from . import admin, dashboard, events, health, imports, jobs, metrics, metrics_json, openapi, quotas
from .connection_guard import ConnectionGuard
from .errors import error_body, json_errors, json_response, quiet_client_errors
from .keys import (
    AUTH_THROTTLE,
    CONNECTION_GUARD,
    HUB,
    LOOP_MONITOR,
    OPENAPI_DOCUMENT,
    PROGRESS,
    QUEUE_ADMIN,
    QUEUE_DEPTHS,
    QUOTAS,
    READINESS,
    SCHEDULES,
    SESSIONS,
    SETTINGS,
)
from .sessions import SessionStore
from .throttle import AuthThrottle

# -- the route table ---------------------------------------------------------------------------

#: Served from the first second of the process, before boot.
HEALTH_ROUTES = [
    web.get("/healthz", health.healthz),
    web.get("/readyz", health.readyz),
    web.get("/metrics", metrics.metrics),
]

#: What the web app calls (Bearer ``THESET_API_TOKEN``; the event stream on a signed URL).
IMPORT_ROUTES = [
    web.post("/api/imports", imports.create_import),
    web.get("/api/imports/{import_id}", imports.get_import),
    web.get(EVENTS_PATH, events.import_events, allow_head=False),
]

#: The operator API (admin token or dashboard session); the OpenAPI document is public.
ADMIN_ROUTES = [
    web.get("/api/admin/queues", admin.queues),
    web.post("/api/admin/queues/{queue}/{action:pause|resume|clean|purge|retry-failed}", admin.queue_action),
    web.get("/api/admin/dlq", admin.dead_letters),
    web.post("/api/admin/dlq/retry", admin.retry_dead_letters),
    web.delete("/api/admin/dlq", admin.purge_dead_letters),
    web.get("/api/admin/schedules", admin.schedules),
    web.post("/api/admin/schedules/{name}/run", admin.run_schedule),
    web.get("/api/admin/imports", admin.imports),
    web.post("/api/admin/sessions/revoke", admin.revoke_sessions),
    web.get("/api/admin/quotas", quotas.quotas),
    web.get("/api/jobs", jobs.list_jobs),
    web.get("/api/jobs/{job_id}", jobs.get_job),
    web.post("/api/jobs/{job_id}/retry", jobs.retry_job),
    web.post("/api/jobs/{job_id}/promote", jobs.promote_job),
    web.delete("/api/jobs/{job_id}", jobs.delete_job),
    web.get("/metrics/json", metrics_json.metrics_json),
    web.get("/api/openapi.json", openapi.openapi_json),
]

#: The operator's dashboard: its page, files, sign-in and sign-out.
DASHBOARD_ROUTES = [
    web.get("/dashboard", dashboard.page),
    web.get("/dashboard/", dashboard.redirect),
    web.get("/dashboard/static/{name}", dashboard.static_file),
    web.post("/dashboard/login", dashboard.login),
    web.get("/dashboard/session", dashboard.session),
    web.post("/dashboard/logout", dashboard.logout),
]


async def not_found(request: web.Request) -> web.Response:
    return json_response(error_body(404, f"no route for {request.method} {request.path}"), status=404)


# -- building the app --------------------------------------------------------------------------


def create_app(settings: Settings, readiness: ReadinessCheck, loop_monitor: LoopMonitor) -> web.Application:
    """The side server with its health routes; :func:`mount_daemon` adds the rest before it starts."""
    quiet_client_errors()
    guard = ConnectionGuard(settings.http_max_idle_connections, settings.http_max_connections_per_peer)
    app = web.Application(middlewares=[guard.middleware, json_errors], client_max_size=settings.max_body_bytes)
    app[CONNECTION_GUARD] = guard
    app[SETTINGS] = settings
    app[READINESS] = readiness
    app[LOOP_MONITOR] = loop_monitor
    app.add_routes(HEALTH_ROUTES)
    return app


def mount_daemon(app: web.Application, *, redis: aioredis.Redis, queue_depths: Callable[[], Awaitable[None]],
                 hub: ProgressHub, progress: ProgressReporter, queue_admin: QueueAdmin, schedules: list[Schedule],
                 quota_overview: Callable[[], Awaitable[list[dict[str, Any]]]]) -> None:
    """Mount the import API and its event stream, the operator API and the dashboard, with their state,
    then the JSON 404 for every other path."""
    app[QUEUE_DEPTHS] = queue_depths
    app[HUB] = hub
    app[PROGRESS] = progress
    app[QUEUE_ADMIN] = queue_admin
    app[SCHEDULES] = schedules
    app[QUOTAS] = quota_overview
    app[OPENAPI_DOCUMENT] = openapi.build_document(list(queue_admin.broker.specs), [s.name for s in schedules])
    mount_auth(app, redis, app[SETTINGS])
    app.add_routes(IMPORT_ROUTES + ADMIN_ROUTES + DASHBOARD_ROUTES)
    close_hub_on_shutdown(app)
    add_fallback(app)


def mount_auth(app: web.Application, redis: aioredis.Redis, settings: Settings) -> None:
    """Dashboard sessions and the failed-authentication throttle, both in Redis (cluster-wide)."""
    app[SESSIONS] = SessionStore(redis, settings.redis_namespace)
    app[AUTH_THROTTLE] = AuthThrottle(redis, settings.redis_namespace, free_failures=settings.auth_max_failures,
                                      trusted_proxies=settings.trusted_proxies)


def close_hub_on_shutdown(app: web.Application) -> None:
    """Every SSE client gets ``reconnect`` when the app shuts down (``app[HUB]``, when set)."""
    app.on_shutdown.append(events.close_hub)


def add_fallback(app: web.Application) -> None:
    """Answer unknown paths with a JSON 404 (added last, after every other route)."""
    app.router.add_route("*", "/{tail:.*}", not_found)


async def start_runner(app: web.Application, **kwargs: object) -> web.AppRunner:
    """Set up ``app``'s runner with the idle timeout of its settings and its connection guard attached."""
    runner = web.AppRunner(app, keepalive_timeout=app[SETTINGS].http_idle_timeout, **kwargs)  # type: ignore[arg-type]
    await runner.setup()
    app[CONNECTION_GUARD].attach(runner.server)
    return runner
