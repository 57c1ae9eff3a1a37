"""Typed keys for the state the side server's handlers share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..runtime.config import Settings
from ..runtime.loop_monitor import LoopMonitor
from ..runtime.readiness import ReadinessCheck

if TYPE_CHECKING:
    from ..runtime.resources import Resources
    from .sessions import SessionStore
    from .throttle import AuthThrottle

SETTINGS = web.AppKey("settings", Settings)
READINESS = web.AppKey("readiness", ReadinessCheck)
LOOP_MONITOR = web.AppKey("loop_monitor", LoopMonitor)
#: An async callable that sets the QUEUE_DEPTH gauge from Redis (``broker.export_depths``), run at scrape time.
QUEUE_DEPTHS = web.AppKey("queue_depths", Any)
#: Dashboard sessions in Redis (:class:`.sessions.SessionStore`).
SESSIONS: web.AppKey["SessionStore"] = web.AppKey("sessions")
#: Failed-authentication throttle (:class:`.throttle.AuthThrottle`).
AUTH_THROTTLE: web.AppKey["AuthThrottle"] = web.AppKey("auth_throttle")


def booted(request: web.Request) -> "Resources":
    """The daemon's resources, or 503 while it is still connecting."""
    from ..runtime.resources import resources

    try:
        return resources()
    except RuntimeError:
        raise web.HTTPServiceUnavailable(text="the daemon is still booting", headers={"Retry-After": "1"}) from None
