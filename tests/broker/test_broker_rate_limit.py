"""Cluster-wide rate limits per queue: three daemons together hold the rate; waiting is not failing."""

from __future__ import annotations

import asyncio
import contextlib
import time

import dramatiq

from tests.helpers.broker import make_broker, running, spec
from theset_daemon.broker import current_job

RATE = 20.0
WINDOW_S = 10.0


async def test_three_daemons_hold_the_cluster_rate_and_priority_still_wins(redis_url, namespace):
    limited = spec("ticketmaster_sync", concurrency=3, rate=RATE)
    free = spec("venue_sync", concurrency=4)
    brokers = [make_broker(redis_url, namespace, [limited, free], host_id=f"host-{i}") for i in range(3)]
    starts: list[tuple[float, str, int]] = []
    free_done = asyncio.Event()
    free_count = 0

    for broker in brokers:
        @dramatiq.actor(queue_name="ticketmaster_sync", broker=broker, actor_name="shows")
        async def shows(tag: str) -> None:
            starts.append((time.monotonic(), tag, current_job().attempt))
            await asyncio.sleep(0.05)

        @dramatiq.actor(queue_name="venue_sync", broker=broker, actor_name="venue")
        async def venue() -> None:
            nonlocal free_count
            free_count += 1
            if free_count == 100:
                free_done.set()

    shows_ = brokers[0].get_actor("shows")
    venue_ = brokers[0].get_actor("venue")
    await brokers[0].enqueue_many_async(
        [shows_.message_with_options(args=(f"low-{i}",), priority="LOW") for i in range(int(RATE * WINDOW_S * 1.5))]
    )
    async with contextlib.AsyncExitStack() as stack:
        for broker in brokers:
            await stack.enter_async_context(running(broker, [limited, free]))
        # an unlimited queue on the same daemons is not held up by the limited backlog
        started = time.monotonic()
        await brokers[1].enqueue_many_async([venue_.message() for _ in range(100)])
        await asyncio.wait_for(free_done.wait(), 10)
        assert time.monotonic() - started < 4  # the limited backlog would take tens of seconds
        await asyncio.sleep(2)
        await brokers[2].enqueue_async(shows_.message_with_options(args=("critical",), priority="CRITICAL"))
        sent_at = time.monotonic()
        first = starts[0][0]
        await asyncio.sleep(max(0.0, first + WINDOW_S + 0.2 - time.monotonic()))
    in_window = [s for s in starts if first <= s[0] < first + WINDOW_S]
    expected = RATE * WINDOW_S
    assert 0.9 * expected <= len(in_window) <= 1.1 * expected, len(in_window)
    after_critical = [tag for t, tag, _ in starts if t >= sent_at]
    assert after_critical.index("critical") <= 1  # the next rate slot went to it
    assert all(attempt == 1 for _, _, attempt in starts)  # waiting for a slot is not a retry
    depths = await brokers[0].depths(["ticketmaster_sync"])
    assert depths["ticketmaster_sync"]["dead"] == 0
    for broker in brokers:
        await broker.close()


async def test_pause_holds_a_queue_for_every_daemon_until_resumed(redis_url, namespace):
    queue = spec("webhook")
    broker = make_broker(redis_url, namespace, [queue])
    ran = asyncio.Event()

    @dramatiq.actor(queue_name="webhook", broker=broker)
    async def notify() -> None:
        ran.set()

    await broker.admin.pause("webhook")
    assert await broker.admin.is_paused("webhook")
    async with running(broker, [queue]):
        await broker.enqueue_async(notify.message())
        await asyncio.sleep(0.3)
        assert not ran.is_set()
        depths = (await broker.depths())["webhook"]
        assert depths["waiting"] == 1 and depths["paused"] == 1
        await broker.admin.resume("webhook")
        await asyncio.wait_for(ran.wait(), 2)
    assert not await broker.admin.is_paused("webhook")
    await broker.ping()
    await broker.close()
