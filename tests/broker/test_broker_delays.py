"""Delays live in Redis, ordered by due time; they survive restarts and connection blips."""

from __future__ import annotations

import asyncio
import time

import dramatiq
import redis

from tests.helpers.broker import make_broker, running, spec

DAY_MS = 86_400_000


async def test_short_delay_is_not_held_up_by_long_ones(redis_url, namespace):
    queue = spec("later")
    broker = make_broker(redis_url, namespace, [queue])
    ran: dict[str, float] = {}
    short_ran = asyncio.Event()

    @dramatiq.actor(queue_name="later", broker=broker)
    async def remind(tag: str) -> None:
        ran[tag] = time.time()
        short_ran.set()

    async with running(broker, [queue]):
        await broker.enqueue_many_async(
            [remind.message_with_options(args=(f"far-{i}",), delay=DAY_MS) for i in range(200)]
        )
        sent = time.time()
        await broker.enqueue_async(remind.message("short"), delay=300)
        await asyncio.wait_for(short_ran.wait(), 5)
    lateness_ms = (ran["short"] - sent) * 1000 - 300
    print(f"short delay started {lateness_ms:.1f} ms after its due time")
    # Held up behind the long ones it would start a day late; the bound only has to tell
    # those apart on a loaded machine (typically ~5 ms late here; precision is a benchmark's job).
    assert 0 <= lateness_ms < 1000, lateness_ms
    assert list(ran) == ["short"]
    depths = (await broker.depths())["later"]
    assert depths["delayed"] == 200 and depths["waiting"] == 0  # far ones wait in Redis, not in memory
    await broker.close()


async def test_delayed_job_survives_a_worker_restart(redis_url, namespace):
    queue = spec("later")
    first = make_broker(redis_url, namespace, [queue])

    @dramatiq.actor(queue_name="later", broker=first)
    async def remind(tag: str) -> None: ...

    async with running(first, [queue]):
        await first.enqueue_async(remind.message("x"), delay=400)
        await asyncio.sleep(0.05)
    await first.close()  # the daemon is gone before the job is due

    second = make_broker(redis_url, namespace, [queue])
    ran = asyncio.Event()

    @dramatiq.actor(queue_name="later", broker=second, actor_name="remind")
    async def remind_again(tag: str) -> None:
        ran.set()

    async with running(second, [queue]):
        await asyncio.wait_for(ran.wait(), 5)
    await second.close()


async def test_delayed_job_survives_a_connection_blip(redis_url, namespace, sync_redis: redis.Redis):
    queue = spec("later")
    broker = make_broker(redis_url, namespace, [queue])
    ran = asyncio.Event()

    @dramatiq.actor(queue_name="later", broker=broker)
    async def remind(tag: str) -> None:
        ran.set()

    async with running(broker, [queue]):
        await broker.enqueue_async(remind.message("x"), delay=500)
        await asyncio.sleep(0.1)
        killed = 0
        for client in sync_redis.client_list():
            if client["name"] == broker.client_name:
                sync_redis.client_kill_filter(_id=client["id"])
                killed += 1
        assert killed >= 1
        await asyncio.wait_for(ran.wait(), 5)
    await broker.close()
