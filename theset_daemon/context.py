"""The daemon's shared resources, reachable from actors.

Actors are module-level functions (that is Dramatiq's model), so they find the
asyncpg pool, the Redis client and the provider clients here rather than
through arguments. The daemon sets them once at boot; tests set their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from .config import Settings


@dataclass
class Resources:
    """What an actor may use: settings, pools and clients."""

    settings: Settings
    pool: asyncpg.Pool
    redis: aioredis.Redis
    broker: Any
    providers: Any = None
    progress: Any = None
    image_session: Any = None


_current: Resources | None = None


def set_resources(resources: Resources | None) -> None:
    global _current
    _current = resources


def resources() -> Resources:
    """The booted daemon's resources.

    Raises:
      RuntimeError: when called before the daemon (or a test) set them.
    """
    if _current is None:
        raise RuntimeError("theset-daemon resources are not set: the daemon has not booted")
    return _current
