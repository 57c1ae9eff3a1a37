"""Which daemons serve which queues: each worker registers its queues in Redis with a TTL heartbeat.

Keys (``ns`` = namespace):

===========================  ====  ==============================================================
``ns:serving``               ZSET  host ids by the expiry (ms) of their registration
``ns:serving:<host_id>``     HASH  queue -> concurrency this daemon serves it with (PEXPIRE = TTL)
===========================  ====  ==============================================================

A worker rewrites both every ``interval_s`` (a quarter of the lease timeout) with
a TTL of the lease timeout, and removes them on a clean stop; a daemon that dies
drops out within the TTL. :func:`served_by` reads who serves each queue now, so
the admin API, the dashboard and ``theset-daemon queues`` can warn when a queue
has work waiting and nobody to run it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Callable, Mapping

if TYPE_CHECKING:
    import redis.asyncio as aioredis

logger = logging.getLogger(__name__)

#: Registrations older than this (ms) are dropped from the index.
FORGET_MS = 86_400_000


def index_key(namespace: str) -> str:
    return f"{namespace}:serving"


def host_key(namespace: str, host_id: str) -> str:
    return f"{namespace}:serving:{host_id}"


class ServedQueues:
    """Keeps this daemon's registration of the queues it serves alive.

    Parameters:
      aredis: the broker's async Redis client.
      namespace: the broker's key namespace.
      host_id: this daemon's id.
      queues: returns {queue: concurrency} served right now.
      ttl_s: how long a registration lives without a refresh.
    """

    def __init__(
        self, aredis: "aioredis.Redis", namespace: str, host_id: str, queues: Callable[[], Mapping[str, int]], ttl_s: float
    ) -> None:
        self.aredis = aredis
        self.namespace = namespace
        self.host_id = host_id
        self.queues = queues
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.interval_s = ttl_s / 4
        self._task: asyncio.Task | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="theset-served-queues")

    async def register(self) -> None:
        """Write the registration now (also when the served queues change)."""
        now = int(time.time() * 1000)
        key = host_key(self.namespace, self.host_id)
        served = self.queues()
        async with self.aredis.pipeline(transaction=False) as pipe:
            pipe.delete(key)
            if served:  # a worker serving no queue yet (none declared) registers as serving none
                pipe.hset(key, mapping=dict(served))
                pipe.pexpire(key, self.ttl_ms)
            pipe.zadd(index_key(self.namespace), {self.host_id: now + self.ttl_ms})
            pipe.zremrangebyscore(index_key(self.namespace), "-inf", now - FORGET_MS)
            await pipe.execute()

    async def stop(self, timeout_s: float = 2.0) -> None:
        """Stop refreshing and remove the registration (a clean stop serves nothing).

        A registration in flight is let finish (cancelling a Redis call midway would
        leave its connection unusable); the whole stop takes at most ``timeout_s`` seconds.
        """
        self._stopping.set()
        try:
            await asyncio.wait_for(self._stop(), timeout_s)
        except Exception:
            logger.debug("could not remove the served-queues registration", exc_info=True)

    async def _stop(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        async with self.aredis.pipeline(transaction=False) as pipe:
            pipe.delete(host_key(self.namespace, self.host_id))
            pipe.zrem(index_key(self.namespace), self.host_id)
            await pipe.execute()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.register()
            except Exception:
                logger.warning("could not register the served queues", exc_info=True)
            try:
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
            except TimeoutError:
                pass


async def served_by(aredis: "aioredis.Redis", namespace: str) -> dict[str, list[dict[str, object]]]:
    """Per queue, the live daemons serving it: ``[{"hostId", "concurrency"}]`` (queues nobody serves are absent)."""
    now = int(time.time() * 1000)
    hosts = [h.decode() for h in await aredis.zrangebyscore(index_key(namespace), now, "+inf")]
    async with aredis.pipeline(transaction=False) as pipe:
        for host in hosts:
            pipe.hgetall(host_key(namespace, host))
        rows = await pipe.execute()
    out: dict[str, list[dict[str, object]]] = {}
    for host, row in zip(hosts, rows):
        for queue, size in row.items():
            out.setdefault(queue.decode(), []).append({"hostId": host, "concurrency": int(size)})
    return out
