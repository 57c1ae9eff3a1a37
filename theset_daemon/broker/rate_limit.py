"""A cluster-wide rate limiter: GCRA in Redis, callers wait for their slot.

One limiter serves every daemon sharing the Redis: the theoretical arrival time
lives in one key, updated by a Lua script that reads Redis's own clock (hosts'
clocks never have to agree). A caller that is over the rate is told how long
to wait and sleeps exactly that long; nothing raises, nothing consumes a retry.
A provider's 429 pauses the limiter for everyone with :meth:`pause`.
"""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis

from .metrics import RATE_LIMIT_WAIT

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return paused end
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - (burst - 1) * interval
if now < allow_at then return math.ceil(allow_at - now) end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now + interval))
return 0
"""

_PAUSE = """
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then redis.call('SET', KEYS[1], '1', 'PX', ms) end
return ms
"""


class ClusterRateLimiter:
    """Admit at most ``rate_per_s`` acquisitions per second across all daemons.

    Parameters:
      client: an asyncio Redis client.
      key: the limiter's name, unique per limited resource (``ns:rate:spotify``).
      rate_per_s: admissions per second, cluster-wide.
      burst: admissions allowed back to back after an idle spell (1 = evenly spaced).
      name: the ``limiter`` label of the wait-time metric (defaults to ``key``).
    """

    def __init__(
        self, client: aioredis.Redis, key: str, *, rate_per_s: float, burst: int = 1, name: str | None = None
    ) -> None:
        self.client = client
        self.key = key
        self.pause_key = f"{key}:paused"
        self.interval_ms = 1000.0 / rate_per_s
        self.burst = burst
        self.name = name or key
        self._acquire = client.register_script(_ACQUIRE)
        self._pause = client.register_script(_PAUSE)

    async def try_acquire(self, *, burst: int | None = None) -> float:
        """Take a slot if one is free now; else return the seconds to wait (nothing taken).

        ``burst`` overrides the limiter's burst for this caller: an urgent caller
        given one more may go one slot ahead of the steady rate (the long-run
        rate is unchanged: every admission still costs one interval).
        """
        wait_ms = await self._acquire(
            keys=[self.key, self.pause_key], args=[self.interval_ms, burst or self.burst]
        )
        return int(wait_ms) / 1000.0

    async def acquire(self, *, timeout_s: float | None = None, burst: int | None = None) -> bool:
        """Wait for a slot; return False if it would take longer than ``timeout_s``."""
        started = time.monotonic()
        deadline = None if timeout_s is None else started + timeout_s
        while (wait := await self.try_acquire(burst=burst)) > 0:
            if deadline is not None and time.monotonic() + wait > deadline:
                RATE_LIMIT_WAIT.labels(self.name).observe(time.monotonic() - started)
                return False
            await asyncio.sleep(wait)
        RATE_LIMIT_WAIT.labels(self.name).observe(time.monotonic() - started)
        return True

    async def pause(self, seconds: float) -> None:
        """Admit nobody, on any daemon, for ``seconds`` (a 429's Retry-After)."""
        await self._pause(keys=[self.pause_key], args=[max(1, int(seconds * 1000))])
