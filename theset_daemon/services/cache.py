"""The read cache: Redis first, an in-process LRU behind it, invalidated by tag.

Values are JSON (orjson). Every ``set`` writes Redis and the local LRU; a
``get`` reads Redis and refreshes the LRU. When Redis fails or is slow the
cache answers from the LRU (entries keep their expiry) and stops trying Redis
for :data:`REDIS_RETRY_S`: no exception ever reaches the caller, a miss is a
miss. TTLs follow how fast the data changes (:data:`TTL_S`).

Tags: ``set(key, value, tags=["artist:<id>"])`` adds the key to the tag's
Redis SET ``{ns}:cache:tag:<tag>``; ``invalidate_tags("artist:<id>")`` deletes
every key of the tag (in Redis and in the local LRU). While Redis is down an
invalidation reaches only this daemon's LRU.

Keys: ``{ns}:cache:<key>`` (STRING, JSON), ``{ns}:cache:tag:<tag>`` (SET of keys).
The artist page is cached at ``artist:page:<artist_id>`` tagged ``artist:<artist_id>``
(:func:`~theset_daemon.store.artists.artist_page`, one statement).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Iterable

import asyncpg
import dramatiq
import orjson
import redis.asyncio as aioredis

from .. import jobs
from ..runtime.resources import Resources
from ..store.artists import artist_page

logger = logging.getLogger(__name__)

#: Seconds an entry lives, by how fast its data changes.
TTL_S: dict[str, int] = {
    "live": 30,  # counters and progress
    "volatile": 300,  # vote tallies, trending-adjacent data
    "standard": 3_600,  # artist pages (invalidated on every sync of the artist anyway)
    "stable": 86_400,  # catalogue, venues, past setlists
}
#: Entries kept in the in-process LRU.
DEFAULT_LRU_SIZE = 10_000
#: Seconds one Redis call may take before the LRU answers instead.
REDIS_TIMEOUT_S = 0.25
#: Seconds Redis is left alone after it failed (the LRU serves meanwhile).
REDIS_RETRY_S = 1.0


class LocalLRU:
    """A bounded in-process map with per-entry expiry and tags."""

    def __init__(self, size: int = DEFAULT_LRU_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._tags: dict[str, set[str]] = {}

    def get(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] <= time.monotonic():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return item[1]

    def set(self, key: str, data: bytes, ttl_s: float, tags: Iterable[str] = ()) -> None:
        self._items[key] = (time.monotonic() + ttl_s, data)
        self._items.move_to_end(key)
        for tag in tags:
            self._tags.setdefault(tag, set()).add(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def delete(self, *keys: str) -> int:
        return sum(self._items.pop(k, None) is not None for k in keys)

    def invalidate(self, tag: str) -> int:
        return self.delete(*self._tags.pop(tag, ()))


class Cache:
    """Redis-backed JSON cache with an LRU fallback and tag invalidation.

    Parameters:
      redis: the Redis client (the daemon's).
      namespace: the key prefix.
      lru_size: entries of the local LRU.
      timeout_s: the longest a Redis call may take before the LRU answers.
    """

    def __init__(self, redis: aioredis.Redis, namespace: str, *, lru_size: int = DEFAULT_LRU_SIZE,
                 timeout_s: float = REDIS_TIMEOUT_S) -> None:
        self.redis = redis
        self.namespace = namespace
        self.local = LocalLRU(lru_size)
        self.timeout_s = timeout_s
        self._redis_down_until = 0.0

    def key(self, key: str) -> str:
        return f"{self.namespace}:cache:{key}"

    def tag_key(self, tag: str) -> str:
        return f"{self.namespace}:cache:tag:{tag}"

    @property
    def redis_available(self) -> bool:
        """False while Redis is being left alone after a failure."""
        return time.monotonic() >= self._redis_down_until

    async def get(self, key: str) -> Any | None:
        """The value of ``key``, or None (never raises)."""
        data = await self._redis(lambda: self.redis.get(self.key(key)))
        if data is _FAILED:
            data = self.local.get(key)
        elif data is not None:
            ttl = await self._redis(lambda: self.redis.ttl(self.key(key)))
            self.local.set(key, data, ttl if isinstance(ttl, int) and ttl > 0 else TTL_S["live"])
        return None if data is None else orjson.loads(data)

    async def set(self, key: str, value: Any, *, volatility: str = "standard", ttl_s: int | None = None,
                  tags: Iterable[str] = ()) -> None:
        """Store ``value`` for ``ttl_s`` (default: by ``volatility``) under ``tags`` (never raises)."""
        ttl = ttl_s or TTL_S[volatility]
        tags = list(tags)
        data = orjson.dumps(value)
        self.local.set(key, data, ttl, tags)

        async def write() -> None:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(self.key(key), data, ex=ttl)
                for tag in tags:
                    pipe.sadd(self.tag_key(tag), key)
                    pipe.expire(self.tag_key(tag), ttl, nx=True)
                    pipe.expire(self.tag_key(tag), ttl, gt=True)
                await pipe.execute()

        await self._redis(write)

    async def delete(self, *keys: str) -> None:
        self.local.delete(*keys)
        await self._redis(lambda: self.redis.delete(*(self.key(k) for k in keys)))

    async def invalidate_tags(self, *tags: str) -> int:
        """Delete every key of each tag, in Redis and locally (never raises).

        Returns the number of keys dropped: counted in Redis, or locally while Redis is down.
        """
        local = sum(self.local.invalidate(tag) for tag in tags)

        async def drop() -> int:
            keys: list[str] = []
            for tag in tags:
                keys += [self.key(m.decode()) for m in await self.redis.smembers(self.tag_key(tag))]
            await self.redis.delete(*(self.tag_key(t) for t in tags), *keys)
            return len(set(keys))

        count = await self._redis(drop)
        return local if count is _FAILED else count

    async def _redis(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """``await call()``, or :data:`_FAILED` when Redis errs, is slow or is being left alone."""
        if not self.redis_available:
            return _FAILED
        try:
            async with asyncio.timeout(self.timeout_s):
                return await call()
        except Exception as exc:  # Redis down, slow or refusing: the LRU serves
            if self.redis_available:
                logger.warning("cache: Redis unavailable, serving from the local cache: %s", exc)
            self._redis_down_until = time.monotonic() + REDIS_RETRY_S
            return _FAILED


_FAILED = object()


# -- the artist page ---------------------------------------------------------------------------


def artist_tag(artist_id: str) -> str:
    return f"artist:{artist_id}"


def artist_page_key(artist_id: str) -> str:
    return f"artist:page:{artist_id}"


async def warm_artist_pages(pool: asyncpg.Pool, cache: Cache, artist_ids: Iterable[str]) -> int:
    """Build and cache the page of each artist; return how many were warmed."""
    warmed = 0
    for artist_id in artist_ids:
        page = await artist_page(pool, artist_id)
        if page is not None:
            await cache.set(artist_page_key(artist_id), page, volatility="standard", tags=[artist_tag(artist_id)])
            warmed += 1
    return warmed


def warm_message(artist_ids: list[str], *, reason: str = "") -> dramatiq.Message:
    """A ``cache_warm`` job warming the pages of ``artist_ids`` (one pending per artist when alone)."""
    job_id = jobs.cache_warm_id(artist_ids[0]) if len(artist_ids) == 1 else None
    return jobs.WARM_ARTIST_PAGES.message(job_id=job_id, artist_ids=list(artist_ids), reason=reason)


async def refresh_artist(res: Resources, artist_id: str, *, reason: str = "") -> None:
    """The artist changed: drop every cached key tagged with it, then enqueue a warm of its page."""
    await current(res).invalidate_tags(artist_tag(artist_id))
    await res.broker.enqueue_async(warm_message([artist_id], reason=reason))


def current(res: Resources) -> Cache:
    """The daemon's cache (``res.cache``); one over ``res.redis`` is set there when none is (tests)."""
    if res.cache is None or res.cache.redis is not res.redis:
        res.cache = Cache(res.redis, res.settings.redis_namespace)
    return res.cache
