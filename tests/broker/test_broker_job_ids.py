"""Deterministic job ids: a send while the id is waiting, delayed or running returns that job."""

from __future__ import annotations

import asyncio

import dramatiq
import pytest
from dramatiq.errors import QueueNotFound

from tests.helpers.broker import make_broker, running, spec, wait_for
from theset_daemon.broker.errors import WrongQueue


async def test_job_id_returns_the_existing_job_while_it_is_pending(redis_url, namespace):
    queue = spec("sync")
    broker = make_broker(redis_url, namespace, [queue])
    release, started = asyncio.Event(), asyncio.Event()
    runs: list[str] = []

    @dramatiq.actor(queue_name="sync", broker=broker)
    async def sync_profile(artist_id: str) -> None:
        runs.append(artist_id)
        started.set()
        await release.wait()

    delayed = await broker.enqueue_async(sync_profile.message_with_options(args=("a1",), job_id="spotify:a1"), delay=60_000)
    again = await broker.enqueue_async(sync_profile.message_with_options(args=("a1",), job_id="spotify:a1"))
    assert again.message_id == delayed.message_id  # delayed

    waiting = await broker.enqueue_async(sync_profile.message_with_options(args=("b2",), job_id="spotify:b2"))
    again = await broker.enqueue_async(sync_profile.message_with_options(args=("b2",), job_id="spotify:b2"))
    assert again.message_id == waiting.message_id  # waiting

    async with running(broker, [queue]):
        await started.wait()
        again = await broker.enqueue_async(sync_profile.message_with_options(args=("b2",), job_id="spotify:b2"))
        assert again.message_id == waiting.message_id  # running
        release.set()
        record = None
        for _ in range(200):
            record = await broker.admin.find("spotify:b2")
            if record["state"] == "completed":
                break
            await asyncio.sleep(0.01)
        assert record["state"] == "completed"
        fresh = await broker.enqueue_async(sync_profile.message_with_options(args=("b2",), job_id="spotify:b2"))
        assert fresh.message_id != waiting.message_id  # finished: a new job
    assert runs.count("b2") >= 1
    await broker.close()


async def test_debounce_ignores_repeats_inside_the_window(redis_url, namespace):
    queue = spec("warm")
    broker = make_broker(redis_url, namespace, [queue])
    runs: list[int] = []

    @dramatiq.actor(queue_name="warm", broker=broker, debounce_ms=400)
    async def warm(n: int) -> None:
        runs.append(n)

    async with running(broker, [queue]):
        first = await broker.enqueue_async(warm.message_with_options(args=(1,), job_id="warm:x"))
        await wait_for(lambda: runs == [1])
        repeat = await broker.enqueue_async(warm.message_with_options(args=(2,), job_id="warm:x"))
        assert repeat.message_id == first.message_id  # finished, but inside the window
        await asyncio.sleep(0.45)
        later = await broker.enqueue_async(warm.message_with_options(args=(3,), job_id="warm:x"))
        assert later.message_id != first.message_id
        await wait_for(lambda: runs == [1, 3])
    await broker.close()


async def test_enqueue_refuses_an_unserved_queue_and_another_actors_queue(redis_url, namespace):
    broker = make_broker(redis_url, namespace, [spec("served"), spec("other")])

    @dramatiq.actor(queue_name="served", broker=broker)
    async def mine() -> None:
        pass

    message = mine.message()
    with pytest.raises(QueueNotFound, match="nowhere"):
        await broker.enqueue_async(message.copy(queue_name="nowhere"))
    with pytest.raises(WrongQueue, match="'other'"):
        await broker.enqueue_async(message.copy(queue_name="other"))
    with pytest.raises(WrongQueue):
        broker.enqueue(message.copy(queue_name="other"))
    assert (await broker.depths(["served", "other"]))["other"]["waiting"] == 0
    await broker.enqueue_async(message)
    await broker.close()
