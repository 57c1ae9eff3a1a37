"""The daemon's shared resources, reachable from actors.

Actors are module-level functions (that is Dramatiq's model), so they find the
asyncpg pool, the Redis client and the provider clients here rather than
through arguments. The daemon sets them once at boot; tests set their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
import asyncpg
import redis.asyncio as aioredis

from .config import Settings

if TYPE_CHECKING:  # only for the annotations: these modules reach the resources through this one
    from ..broker import TheSetBroker
    from ..imports.kickoff import DeferredEnqueues
    from ..imports.progress import ProgressReporter
    from ..providers import Providers
    from ..services.cache import Cache


@dataclass
class Resources:
    """What an actor may use: settings, pools, clients and the artist-page cache (the one place
    the daemon's shared state lives; no module keeps a global of its own)."""

    settings: Settings
    pool: asyncpg.Pool
    redis: aioredis.Redis
    broker: TheSetBroker
    providers: Providers | None = None
    progress: ProgressReporter | None = None
    image_session: aiohttp.ClientSession | None = None
    #: The guarded session webhooks are delivered on.
    webhook_session: aiohttp.ClientSession | None = None
    cache: Cache | None = None
    #: Kickoffs whose first enqueue Redis refused, enqueued as soon as it takes writes.
    deferred_kickoffs: DeferredEnqueues | None = None


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
