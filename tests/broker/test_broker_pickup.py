"""Fast pick-up without polling, bulk enqueue in one round trip."""

from __future__ import annotations

import asyncio
import statistics
import time

import dramatiq

from tests.helpers.broker import make_broker, monitor_lines, running, spec


async def test_idle_worker_starts_a_job_within_milliseconds(redis_url, namespace):
    queue = spec("fast", concurrency=4)
    broker = make_broker(redis_url, namespace, [queue])
    latencies: list[float] = []
    arrived = asyncio.Event()

    @dramatiq.actor(queue_name="fast", broker=broker)
    async def ping(sent: float) -> None:
        latencies.append((time.time() - sent) * 1000)
        arrived.set()

    async with running(broker, [queue]):
        await asyncio.sleep(0.3)  # let it go idle (parked in BZPOPMIN)
        for i in range(20):
            arrived.clear()
            await broker.enqueue_async(ping.message(time.time()))
            await arrived.wait()
            await asyncio.sleep(0.1 if i % 2 else 0.02)
    # a sleeping poll loop would show its interval here; blocking shows a few round trips
    assert statistics.median(latencies) < 20, latencies
    await broker.close()


async def test_idle_worker_sends_a_handful_of_commands(redis_url, namespace):
    queues = [spec(f"idle{i}") for i in range(5)]
    broker = make_broker(redis_url, namespace, queues)
    async with running(broker, queues):
        await asyncio.sleep(0.3)
        lines = await asyncio.to_thread(monitor_lines, redis_url, namespace, 3.0)
    sent = [line for line in lines if line["client_type"] != "lua"]
    assert len(sent) <= 6, [line["command"][:80] for line in sent]
    await broker.close()


async def test_bulk_enqueue_is_one_round_trip_and_dedupes(redis_url, namespace):
    queue = spec("bulk")
    broker = make_broker(redis_url, namespace, [queue])

    @dramatiq.actor(queue_name="bulk", broker=broker)
    async def fan_out(n: int) -> None: ...

    writes = 0
    original = broker._resp._send

    def counting_send(protocol, data, replies=1):
        nonlocal writes
        writes += 1
        return original(protocol, data, replies)

    await broker.ping()
    await broker.enqueue_async(fan_out.message(-1))  # connect and load the script first
    broker._resp._send = counting_send
    first = fan_out.message_with_options(args=(0,), job_id="fan:0")
    messages = [first] + [fan_out.message_with_options(args=(i,), job_id=f"fan:{i}") for i in range(1, 2500)]
    result = await broker.enqueue_many_async(messages)
    assert writes == 1
    assert [m.message_id for m in result] == [m.message_id for m in messages]
    assert (await broker.depths())["bulk"]["waiting"] == 2501

    again = await broker.enqueue_many_async([fan_out.message_with_options(args=(0,), job_id="fan:0")])
    assert again[0].message_id == first.message_id
    assert (await broker.depths())["bulk"]["waiting"] == 2501
    await broker.close()


async def test_sync_send_and_bulk_work_off_the_loop(redis_url, namespace):
    queue = spec("sync")
    broker = make_broker(redis_url, namespace, [queue])
    seen: list[int] = []
    done = asyncio.Event()

    @dramatiq.actor(queue_name="sync", broker=broker)
    def plain(n: int) -> None:  # a sync actor runs in a thread
        seen.append(n)
        if len(seen) == 4:
            asyncio.run_coroutine_threadsafe(_set(done), loop)

    loop = asyncio.get_running_loop()

    def produce() -> None:
        plain.send(0)
        plain.send_with_options(args=(1,), priority="HIGH", delay=50, job_id="plain:1")
        broker.enqueue_many([plain.message(2), plain.message(3)])

    await asyncio.to_thread(produce)
    async with running(broker, [queue]):
        await asyncio.wait_for(done.wait(), 5)
    assert sorted(seen) == [0, 1, 2, 3]
    await broker.close()


async def _set(event: asyncio.Event) -> None:
    event.set()
