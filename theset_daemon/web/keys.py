"""Typed keys for the state the side server's handlers share: every AppKey of the app.

``web/app.py`` sets them all (and mounts every route); handlers only read them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable

from aiohttp import web

from ..runtime.config import Settings
from ..runtime.loop_monitor import LoopMonitor
from ..runtime.readiness import ReadinessCheck
from ..runtime.resources import Resources, resources

if TYPE_CHECKING:
    from ..broker.admin import QueueAdmin
    from ..imports.progress import ProgressReporter
    from ..imports.stream import ProgressHub
    from ..scheduling.scheduler import Schedule
    from .connection_guard import ConnectionGuard
    from .sessions import SessionStore
    from .throttle import AuthThrottle

SETTINGS = web.AppKey("settings", Settings)
READINESS = web.AppKey("readiness", ReadinessCheck)
LOOP_MONITOR = web.AppKey("loop_monitor", LoopMonitor)
#: An async callable that sets the QUEUE_DEPTH gauge from Redis (``broker.export_depths``), run at scrape time.
QUEUE_DEPTHS: web.AppKey[Callable[[], Awaitable[Any]]] = web.AppKey("queue_depths")
#: Dashboard sessions in Redis (:class:`.sessions.SessionStore`).
SESSIONS: web.AppKey["SessionStore"] = web.AppKey("sessions")
#: Failed-authentication throttle (:class:`.throttle.AuthThrottle`).
AUTH_THROTTLE: web.AppKey["AuthThrottle"] = web.AppKey("auth_throttle")
#: The app's connection guard; attached to the runner's server after ``setup()`` (``app.start_runner``).
CONNECTION_GUARD: web.AppKey["ConnectionGuard"] = web.AppKey("connection_guard")
#: The operator API on queues and jobs (:class:`~theset_daemon.broker.admin.QueueAdmin`).
QUEUE_ADMIN: web.AppKey["QueueAdmin"] = web.AppKey("queue_admin")
#: The daemon's schedules (``scheduler.Schedule`` rows).
SCHEDULES: web.AppKey["list[Schedule]"] = web.AppKey("schedules")
#: An async callable returning the provider budgets' overview rows (one per provider).
QUOTAS: web.AppKey[Callable[[], Awaitable[list[dict[str, Any]]]]] = web.AppKey("quotas")
#: The OpenAPI document, built once the queue table and schedules are set.
OPENAPI_DOCUMENT: web.AppKey[dict[str, Any]] = web.AppKey("openapi_document")
#: The SSE fan-out (:class:`~theset_daemon.imports.stream.ProgressHub`); unset until the daemon booted.
HUB: web.AppKey["ProgressHub"] = web.AppKey("progress_hub")
#: The SSE path's progress reader (its own PostgreSQL pool and Redis client).
PROGRESS: web.AppKey["ProgressReporter"] = web.AppKey("progress_reporter")


def booted(request: web.Request) -> Resources:
    """The daemon's resources, or 503 while it is still connecting."""
    try:
        return resources()
    except RuntimeError:
        raise web.HTTPServiceUnavailable(text="the daemon is still booting", headers={"Retry-After": "1"}) from None
