"""Composition on by default: pipelines, groups, callbacks, results and max_age, without blocking the loop.

Each broker here has the default middleware (what ``theset-daemon run`` installs);
actors are both ``async def`` (on the loop) and plain ``def`` (in the lane's thread pool).
"""

from __future__ import annotations

import asyncio
import threading
import time

import dramatiq
import pytest
from dramatiq.results import ResultFailure

from tests.helpers.broker import make_broker, running, spec

QUEUE = spec("compose", concurrency=4)


@pytest.fixture
async def broker(redis_url, namespace):
    broker = make_broker(redis_url, namespace, [QUEUE])
    dramatiq.set_broker(broker)
    loop_thread = threading.get_ident()
    sync_on_loop: list[str] = []
    original = broker._sync_resp.evalsha_many

    def guarded(script, calls):  # a blocking enqueue on the loop's thread would stall the daemon
        if threading.get_ident() == loop_thread:
            sync_on_loop.append("enqueue")
        return original(script, calls)

    broker._sync_resp.evalsha_many = guarded
    broker.sync_on_loop = sync_on_loop
    yield broker
    assert sync_on_loop == [], "a middleware hook enqueued with a blocking call on the loop"
    await broker.close()


def result_of(message, timeout_ms: int = 10_000):
    """``message.get_result`` (blocking, as a producer calls it), off the loop."""
    return asyncio.to_thread(message.get_result, block=True, timeout=timeout_ms)


async def test_pipeline_mixes_async_and_plain_actors_and_stores_the_result(broker):
    @dramatiq.actor(queue_name="compose")
    async def double(x):
        return x * 2

    @dramatiq.actor(queue_name="compose", store_results=True)
    def add_one(x):
        return x + 1

    async with running(broker, [QUEUE]):
        pipe = await asyncio.to_thread(dramatiq.pipeline([double.message(5), add_one.message()]).run)
        assert await asyncio.to_thread(pipe.get_result, block=True, timeout=10_000) == 11


async def test_group_completion_callback_runs_once_after_every_member(broker):
    seen: list[int] = []
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    @dramatiq.actor(queue_name="compose")
    async def member(x):
        seen.append(x)

    @dramatiq.actor(queue_name="compose")
    def finished(count):
        loop.call_soon_threadsafe(done.set)
        seen.append(-count)

    async with running(broker, [QUEUE]):
        group = dramatiq.group([member.message(i) for i in range(5)])
        group.add_completion_callback(finished.message(5))
        await asyncio.to_thread(group.run)
        await asyncio.wait_for(done.wait(), 10)
    assert sorted(seen[:5]) == [0, 1, 2, 3, 4] and seen[5:] == [-5]


async def test_on_success_and_on_failure_callbacks_are_sent(broker):
    outcomes: list[tuple] = []
    both = asyncio.Event()

    @dramatiq.actor(queue_name="compose")
    async def succeeded(message_data, result):
        outcomes.append(("ok", result))
        if len(outcomes) == 2:
            both.set()

    @dramatiq.actor(queue_name="compose")
    async def failed(message_data, error):
        outcomes.append(("failed", error["type"]))
        if len(outcomes) == 2:
            both.set()

    @dramatiq.actor(queue_name="compose", max_retries=0, on_success="succeeded", on_failure="failed")
    async def work(fail):
        if fail:
            raise ValueError("no")
        return 42

    async with running(broker, [QUEUE]):
        await broker.enqueue_many_async([work.message(False), work.message(True)])
        await asyncio.wait_for(both.wait(), 10)
    assert sorted(outcomes) == [("failed", "ValueError"), ("ok", 42)]


async def test_a_failure_is_stored_as_a_result_failure(broker):
    @dramatiq.actor(queue_name="compose", max_retries=0, store_results=True)
    async def broken():
        raise KeyError("missing")

    async with running(broker, [QUEUE]):
        message = await broker.enqueue_async(broken.message())
        with pytest.raises(ResultFailure) as failure:
            await result_of(message)
    assert failure.value.orig_exc_type == "KeyError"


async def test_a_plain_actor_past_its_time_limit_fails_with_time_limit_exceeded(broker):
    finished: list[bool] = []

    @dramatiq.actor(queue_name="compose", max_retries=0, store_results=True, time_limit=200)
    def slow():
        for _ in range(100):  # an interrupt lands between two sleeps
            time.sleep(0.05)
        finished.append(True)

    async with running(broker, [QUEUE]):
        message = await broker.enqueue_async(slow.message())
        with pytest.raises(ResultFailure) as failure:
            await result_of(message)
    assert failure.value.orig_exc_type == "TimeLimitExceeded"
    assert finished == []


async def test_max_age_skips_a_message_too_old_to_run(broker):
    runs: list[int] = []

    @dramatiq.actor(queue_name="compose", max_age=1, store_results=True)
    async def stale():
        runs.append(1)

    message = stale.message()
    await asyncio.sleep(0.01)  # older than max_age (1 ms) before it is even enqueued
    async with running(broker, [QUEUE]):
        await broker.enqueue_async(message)
        with pytest.raises(ResultFailure) as failure:
            await result_of(message)
    assert failure.value.orig_exc_type == "SkipMessage"
    assert runs == []
