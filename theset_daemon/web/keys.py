"""Typed keys for the state the side server's handlers share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..config import Settings
from ..readiness import ReadinessCheck

if TYPE_CHECKING:
    from ..loop_monitor import LoopMonitor

SETTINGS = web.AppKey("settings", Settings)
READINESS = web.AppKey("readiness", ReadinessCheck)
LOOP_MONITOR = web.AppKey("loop_monitor", "LoopMonitor")
#: An async callable returning {queue: {state: count}}, read at scrape time.
QUEUE_DEPTHS = web.AppKey("queue_depths", Any)
