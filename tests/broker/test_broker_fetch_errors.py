"""A Redis error while taking a rate-limit slot must not leak the other queues' worker slots."""

from __future__ import annotations

import asyncio

import dramatiq
import redis.exceptions

from tests.helpers.broker import make_broker, running, spec
from theset_daemon.broker.rate_limit import ClusterRateLimiter


async def test_queues_keep_their_slots_when_a_rate_limit_check_fails(redis_url, namespace, monkeypatch):
    fast, limited = spec("fast", concurrency=2), spec("limited", concurrency=1, rate=50)
    broker = make_broker(redis_url, namespace, [fast, limited])
    ran: asyncio.Queue[str] = asyncio.Queue()

    @dramatiq.actor(queue_name="fast", broker=broker)
    async def quick(tag: str) -> None:
        ran.put_nowait(tag)

    @dramatiq.actor(queue_name="limited", broker=broker)
    async def metered(tag: str) -> None:
        ran.put_nowait(tag)

    real = ClusterRateLimiter.try_acquire
    failures = {"left": 3}

    async def flaky(self, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise redis.exceptions.ConnectionError("Redis went away mid-check")
        return await real(self, **kwargs)

    monkeypatch.setattr(ClusterRateLimiter, "try_acquire", flaky)
    async with running(broker, [fast, limited]):
        await broker.enqueue_async(metered.message("m"))  # makes the limited lane ask Redis for a slot
        for round_ in range(4):  # each round needs both of fast's slots back
            await broker.enqueue_many_async([quick.message(f"{round_}-a"), quick.message(f"{round_}-b")])
        seen = {await asyncio.wait_for(ran.get(), 15) for _ in range(9)}
    assert failures["left"] == 0, "the rate-limit check did fail"
    assert seen == {"m"} | {f"{r}-{x}" for r in range(4) for x in "ab"}
    await broker.close()
