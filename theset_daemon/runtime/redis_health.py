"""What readiness asks of Redis: every client the job path uses answers and takes writes,
and Redis will not evict what it is given.

Three checks (names in ``/readyz``): ``redis`` (the redis-py client: progress,
rate limiters, cache, admin), ``redis_scripts`` (the broker's hot-path script
client, through the same script path a fetch takes) and ``redis_eviction``
(``maxmemory-policy``: ``allkeys-*`` evicts waiting jobs and their records, so
it means not ready unless ``THESET_REDIS_ALLOW_EVICTION=true``; ``volatile-*``
logs a warning). Where ``CONFIG GET`` is refused (managed Redis) the policy
cannot be read: that is said once, and readiness goes on without it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from redis.exceptions import (
    AskError,
    ClusterCrossSlotError,
    ClusterDownError,
    MovedError,
    NoPermissionError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
)

from ..broker import TheSetBroker, connection
from .metrics import REDIS_MAXMEMORY_POLICY
from .readiness import NotReady

logger = logging.getLogger(__name__)

#: Seconds between readings of ``maxmemory-policy``.
POLICY_REFRESH_S = 60.0
#: Seconds a readiness probe key lives.
PROBE_TTL_MS = 60_000


def evicts_jobs(policy: str) -> bool:
    """True for a policy that may evict keys without an expiry (waiting jobs, their records, pause flags)."""
    return policy.startswith("allkeys-")


class RedisHealth:
    """The Redis checks of one daemon.

    Parameters:
      broker: the broker (its redis-py client and hot-path script client).
      allow_eviction: accept an ``allkeys-*`` policy (the operator accepts losing jobs).
    """

    def __init__(self, broker: TheSetBroker, *, allow_eviction: bool = False) -> None:
        self.broker = broker
        self.allow_eviction = allow_eviction
        self.policy: str | None = None
        self.policy_read_at = 0.0
        self._exported = ""
        self._said: set[str] = set()
        self._probe_key = f"{broker.namespace}:host:{broker.host_id}:probe"

    async def connect(self) -> None:
        """The boot check: both clients, then the policy (raises what the first failure raised)."""
        await self.clients()
        await self.scripts()
        await self.read_policy()

    async def clients(self) -> None:
        """A write and its expiry through the redis-py client."""
        try:
            await self.broker.aredis.set(self._probe_key, int(time.time() * 1000), px=PROBE_TTL_MS)
        except RedisError as exc:
            raise NotReady(f"{self.broker.target.where}: {_refusal(exc)}") from exc

    async def scripts(self) -> None:
        """The broker's probe script through the hot-path client."""
        try:
            await self.broker.probe()
        except RedisError as exc:
            raise NotReady(_refusal(exc)) from exc

    async def eviction(self) -> None:
        """Not ready while the policy evicts keys without an expiry (unless allowed)."""
        if time.monotonic() - self.policy_read_at >= POLICY_REFRESH_S:
            await self.read_policy()
        policy = self.policy
        if policy and evicts_jobs(policy) and not self.allow_eviction:
            raise NotReady(
                f"maxmemory-policy is {policy}: Redis may evict waiting jobs and pause flags; "
                "set maxmemory-policy noeviction (or THESET_REDIS_ALLOW_EVICTION=true to accept the risk)"
            )

    async def read_policy(self) -> str | None:
        """Read ``maxmemory-policy`` (None where CONFIG GET is refused), log what it means, export it."""
        try:
            reply = await self.broker.aredis.config_get("maxmemory-policy")
        except ResponseError as exc:  # CONFIG disabled or not permitted for this user
            self._say_once("config", logging.INFO, "cannot read maxmemory-policy (%s); eviction is not checked", exc)
            reply = {}
        self.policy_read_at = time.monotonic()
        raw = reply.get("maxmemory-policy") or reply.get(b"maxmemory-policy")
        policy = raw.decode() if isinstance(raw, bytes) else raw
        if (policy or "unknown") != self._exported:
            self._exported = policy or "unknown"
            REDIS_MAXMEMORY_POLICY.clear()
            REDIS_MAXMEMORY_POLICY.labels(self._exported).set(1)
        self.policy = policy
        if policy and evicts_jobs(policy):
            level = logging.WARNING if self.allow_eviction else logging.ERROR
            self._say_once(policy, level, "Redis maxmemory-policy is %s: waiting jobs can be evicted under memory "
                           "pressure; use noeviction%s", policy, "" if self.allow_eviction else " (not ready until then)")
        elif policy and policy.startswith("volatile-"):
            self._say_once(policy, logging.WARNING, "Redis maxmemory-policy is %s: keys with an expiry (finished "
                           "jobs, progress streams) can be evicted early; noeviction is safest", policy)
        return policy

    def _say_once(self, what: str, level: int, message: str, *args: Any) -> None:
        if what not in self._said:
            self._said.add(what)
            logger.log(level, message, *args)

    async def watch(self) -> None:
        """Re-read the policy every :data:`POLICY_REFRESH_S` seconds (errors are readiness's to report)."""
        while True:
            try:
                await asyncio.wait_for(self.read_policy(), self.broker.target.timeout_s + 1)
            except Exception:  # noqa: BLE001 - Redis away: the other checks say so
                logger.debug("could not read maxmemory-policy", exc_info=True)
            await asyncio.sleep(POLICY_REFRESH_S)


def _refusal(exc: BaseException) -> str:
    """``exc`` in words, saying plainly when Redis refuses writes (OOM, a read-only replica)."""
    text = str(exc)
    if isinstance(exc, OutOfMemoryError) or text.startswith("OOM"):
        return f"Redis is out of memory and refuses writes ({text})"
    if isinstance(exc, ReadOnlyError) or "READONLY" in text:
        return f"Redis is a read-only replica ({text})"
    if isinstance(exc, NoPermissionError) or "NOPERM" in text or "can't access" in text:
        return f"the Redis user may not use this namespace's keys or commands (ACL: {text})"
    if isinstance(exc, (MovedError, AskError, ClusterCrossSlotError, ClusterDownError)) or "non local key" in text:
        return f"Redis Cluster is not supported: one primary (plus replicas) is ({text})"
    return connection.describe(exc)
