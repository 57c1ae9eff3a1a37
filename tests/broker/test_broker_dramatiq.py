"""Dramatiq behaviours of the broker and worker that its own suite (tests/dramatiq_upstream) leaves implicit."""

from __future__ import annotations

import asyncio

import dramatiq
from dramatiq.middleware import CurrentMessage

from tests.helpers.broker import make_broker, running, spec, wait_for_state
from theset_daemon.queues import Priority

QUEUE = spec("dq", concurrency=2)


async def test_enqueue_delay_argument_wins_over_the_message_option(redis_url, namespace):
    broker = make_broker(redis_url, namespace, [QUEUE])

    @dramatiq.actor(queue_name="dq", broker=broker)
    async def later():
        pass

    soon = later.message_with_options(delay=3_600_000)
    await asyncio.to_thread(broker.enqueue, soon, delay=0)
    never = later.message_with_options(delay=0)
    await asyncio.to_thread(broker.enqueue, never, delay=3_600_000)
    assert (await broker.admin.find(soon.message_id))["state"] == "waiting"
    assert (await broker.admin.find(never.message_id))["state"] == "delayed"
    await broker.close()


async def test_actor_priority_runs_n_levels_below_the_queue_default(redis_url, namespace):
    broker = make_broker(redis_url, namespace, [QUEUE])

    @dramatiq.actor(queue_name="dq", broker=broker, priority=1)
    async def a_bit_later():
        pass

    @dramatiq.actor(queue_name="dq", broker=broker, priority=10)
    async def much_later():
        pass

    first = await broker.enqueue_async(a_bit_later.message())
    second = await broker.enqueue_async(much_later.message())
    assert (await broker.admin.find(first.message_id))["priority"] == Priority.LOW
    assert (await broker.admin.find(second.message_id))["priority"] == Priority.BACKGROUND
    await broker.close()


async def test_retries_and_requeue_timestamp_over_three_attempts(redis_url, namespace):
    broker = make_broker(redis_url, namespace, [QUEUE])  # the daemon's default: 3 attempts
    broker.add_middleware(CurrentMessage())
    seen: list[tuple] = []

    @dramatiq.actor(queue_name="dq", broker=broker, min_backoff=1, max_backoff=1)
    async def flaky():
        options = CurrentMessage.get_current_message().options
        seen.append((options.get("retries"), "requeue_timestamp" in options))
        raise RuntimeError("again")

    async with running(broker, [QUEUE]):
        message = await broker.enqueue_async(flaky.message())
        await wait_for_state(broker, message.message_id, "dead")
    assert seen == [(None, False), (1, True), (2, True)]
    await broker.close()
