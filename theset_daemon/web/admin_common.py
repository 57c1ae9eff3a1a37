"""What the operator API's handlers (admin, jobs) share: the queue admin, query parameters,
the audit line, and the HTTP errors of the broker's admin exceptions."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from ..broker.admin import JobStateConflict, QueueAdmin, UnknownJob, UnknownQueue
from .errors import InvalidRequest
from .keys import QUEUE_ADMIN

logger = logging.getLogger("theset_daemon.web.admin")  # the audit lines keep the admin API's logger


def queue_admin(request: web.Request) -> QueueAdmin:
    return request.app[QUEUE_ADMIN]


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter in ``low..high``, or 400 naming it."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(name, f"expected an integer {low}-{high}") from None
    if not low <= value <= high:
        raise InvalidRequest(name, f"expected an integer {low}-{high}")
    return value


def known_queue(admin: QueueAdmin, queue: str) -> str:
    """``queue`` if the table has it, else 404 naming it."""
    try:
        return admin.spec(queue).name
    except UnknownQueue:
        raise web.HTTPNotFound(text=f"no queue {queue!r}") from None


def audit(request: web.Request, who: str, action: str, **details: Any) -> None:
    """Log an admin action with who asked and from where."""
    logger.info("admin action: %s", action, extra={"admin": who, "remote": request.remote, "action": action, **details})


def not_found(exc: UnknownJob | UnknownQueue) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=str(exc))


def conflict(exc: JobStateConflict) -> web.HTTPConflict:
    return web.HTTPConflict(text=str(exc))
