"""Per-message priority: CRITICAL overtakes a LOW backlog, FIFO within a level, counts per level."""

from __future__ import annotations

import asyncio

import dramatiq

from tests.helpers.broker import make_broker, running, spec
from theset_daemon.broker import current_job
from theset_daemon.queues import Priority


async def test_critical_starts_before_every_waiting_low(redis_url, namespace):
    queue = spec("imports", concurrency=2)
    broker = make_broker(redis_url, namespace, [queue])
    started: list[tuple[str, int]] = []
    ten_started, critical_started = asyncio.Event(), asyncio.Event()

    @dramatiq.actor(queue_name="imports", broker=broker)
    async def work(kind: str, n: int) -> None:
        started.append((kind, n))
        if len(started) == 10:
            ten_started.set()
        if kind == "critical":
            critical_started.set()
        await asyncio.sleep(0.001)

    await broker.enqueue_many_async([work.message_with_options(args=("low", i), priority="LOW") for i in range(1000)])
    depths = (await broker.depths())["imports"]
    assert depths["waiting"] == 1000 and depths["LOW"] == 1000 and depths["CRITICAL"] == 0

    async with running(broker, [queue]):
        await ten_started.wait()
        await broker.enqueue_async(work.message_with_options(args=("critical", 0), priority="CRITICAL"))
        started_when_sent = len(started)
        await critical_started.wait()
    position = started.index(("critical", 0))
    # only the jobs already fetched into the two slots may start before it
    assert position <= started_when_sent + queue.concurrency
    lows = [n for kind, n in started if kind == "low"]
    assert lows == sorted(lows), "FIFO within a level"
    await broker.close()


async def test_order_is_priority_then_fifo_and_defaults_apply(redis_url, namespace):
    queue = spec("mixed", concurrency=1, priority=Priority.LOW)
    broker = make_broker(redis_url, namespace, [queue])
    order: list[str] = []
    done = asyncio.Event()

    @dramatiq.actor(queue_name="mixed", broker=broker)
    async def queue_default(tag: str) -> None:
        order.append(tag)

    @dramatiq.actor(queue_name="mixed", broker=broker, default_priority="HIGH")
    async def actor_default(tag: str) -> None:
        order.append(tag)
        assert current_job().priority == Priority.HIGH

    @dramatiq.actor(queue_name="mixed", broker=broker)
    async def last(tag: str) -> None:
        order.append(tag)
        done.set()

    await broker.enqueue_many_async(
        [
            queue_default.message("low-1"),
            actor_default.message("high-1"),
            queue_default.message_with_options(args=("background",), priority=Priority.BACKGROUND),
            queue_default.message("low-2"),
            actor_default.message_with_options(args=("critical",), priority=0),
            actor_default.message("high-2"),
            last.message_with_options(args=("end",), priority="BACKGROUND"),
        ]
    )
    counts = (await broker.depths())["mixed"]
    assert (counts["CRITICAL"], counts["HIGH"], counts["NORMAL"], counts["LOW"], counts["BACKGROUND"]) == (1, 2, 0, 2, 2)
    async with running(broker, [queue]):
        await done.wait()
    assert order == ["critical", "high-1", "high-2", "low-1", "low-2", "background", "end"]
    await broker.close()
