"""Shutdown and crashes are not failures: drain hands back, leases bring back a dead daemon's jobs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

import dramatiq
from prometheus_client import REGISTRY

from tests.helpers.broker import make_broker, running, spec, wait_for, wait_for_state
from tests.helpers.environment import REPO
from theset_daemon.broker import Worker, current_job


async def test_drain_hands_back_a_running_job_with_its_attempt_uncounted(redis_url, namespace):
    queue = spec("long")
    broker = make_broker(redis_url, namespace, [queue])
    seen: list[int] = []
    started = asyncio.Event()

    @dramatiq.actor(queue_name="long", broker=broker)
    async def long_sync(n: int) -> None:
        seen.append(current_job().attempt)
        if n == 1 and len(seen) == 1:
            raise ConnectionError("first attempt fails for real")
        started.set()
        await asyncio.sleep(30)

    worker = Worker(broker, queues=[queue])
    await worker.start()
    message = await broker.enqueue_async(long_sync.message_with_options(args=(1,), priority="HIGH"))
    await started.wait()  # attempt 2 is running
    assert worker.in_flight == 1
    worker.stop_fetching()
    assert not worker.running
    report = await worker.drain(0.2)
    # Not waiting for the 30 s job: handed back once the 0.2 s window closed (loose bound for a busy machine).
    assert report.handed_back == 1 and report.finished == 0 and 0.2 <= report.seconds < 10
    record = await broker.admin.find(message.message_id)
    assert record["state"] == "waiting" and record["attempts"] == 1 and record["priority"] == 1
    assert (await broker.depths())["long"]["dead"] == 0
    await broker.close()

    again = make_broker(redis_url, namespace, [queue])
    resumed = asyncio.Event()

    @dramatiq.actor(queue_name="long", broker=again, actor_name="long_sync")
    async def long_sync_again(n: int) -> None:
        seen.append(current_job().attempt)
        resumed.set()

    async with running(again, [queue]):
        await asyncio.wait_for(resumed.wait(), 5)
    assert seen == [1, 2, 2]  # the interrupted second attempt is run again as the second
    await again.close()


async def test_drain_lets_short_jobs_finish(redis_url, namespace):
    queue = spec("short", concurrency=3)
    broker = make_broker(redis_url, namespace, [queue])
    started = asyncio.Event()

    @dramatiq.actor(queue_name="short", broker=broker)
    async def quick() -> None:
        started.set()
        await asyncio.sleep(0.1)

    worker = Worker(broker, queues=[queue])
    await worker.start()
    await broker.enqueue_many_async([quick.message() for _ in range(3)])
    await started.wait()
    await asyncio.sleep(0.02)
    report = await worker.drain(5)
    assert report.finished == 3 and report.handed_back == 0 and report.seconds < 4  # not the 5 s window
    await broker.close()


CHILD = textwrap.dedent(
    """
    import asyncio, sys, dramatiq, redis
    from tests.helpers.broker import make_broker, spec
    from theset_daemon.broker import Worker, current_job

    async def main():
        queue = spec("crashy")
        broker = make_broker({url!r}, {ns!r}, [queue], lease_timeout_s=2.0, host_id="doomed")
        log = redis.Redis.from_url({url!r})

        @dramatiq.actor(queue_name="crashy", broker=broker)
        async def fragile(n):
            log.rpush({ns!r} + ":test:log", "started:%d" % current_job().attempt)
            await asyncio.sleep(60)

        await Worker(broker, queues=[queue]).start()
        await asyncio.sleep(120)

    asyncio.run(main())
    """
)


async def test_jobs_of_a_killed_daemon_come_back_within_the_bound(redis_url, namespace, async_redis):
    queue = spec("crashy")
    broker = make_broker(redis_url, namespace, [queue], lease_timeout_s=2.0, host_id="rescuer")
    runs: list[int] = []
    rescued = asyncio.Event()

    @dramatiq.actor(queue_name="crashy", broker=broker)
    async def fragile(n: int) -> None:
        runs.append(current_job().attempt)
        rescued.set()

    message = await broker.enqueue_async(fragile.message(1))
    reclaims_before = REGISTRY.get_sample_value("theset_lease_reclaims_total", {"queue": "crashy"}) or 0.0
    code = CHILD.format(url=redis_url, ns=namespace)
    child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        popped = await async_redis.blpop([f"{namespace}:test:log"], timeout=15)
        assert popped is not None and popped[1] == b"started:1"
        async with running(broker, [queue]):
            await asyncio.sleep(0.5)
            assert runs == []  # the owner is alive and renewing: nobody else runs it
            child.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            await asyncio.wait_for(rescued.wait(), 5)
            recovered_in = time.monotonic() - killed
    finally:
        child.kill()
        child.wait()
    assert recovered_in <= 2.0 + 0.3, recovered_in  # the bound (lease_timeout_s) plus scheduling slack
    assert runs == [1]  # the killed attempt was not counted
    await wait_for_state(broker, message.message_id, "completed")
    record = await broker.admin.find(message.message_id)
    assert record["reclaims"] == 1
    reclaims = REGISTRY.get_sample_value("theset_lease_reclaims_total", {"queue": "crashy"})
    assert reclaims - reclaims_before == 1, "the rescuer counts the reclaim in theset_lease_reclaims_total"
    await broker.close()


async def test_a_job_outliving_its_lease_is_never_run_twice_while_its_owner_renews(redis_url, namespace):
    queue = spec("slow")
    owner = make_broker(redis_url, namespace, [queue], lease_timeout_s=0.6, host_id="owner")
    other = make_broker(redis_url, namespace, [queue], lease_timeout_s=0.6, host_id="other")
    starts: list[str] = []

    for broker in (owner, other):
        @dramatiq.actor(queue_name="slow", broker=broker, actor_name="slow")
        async def slow(host=broker.host_id) -> None:
            starts.append(host)
            await asyncio.sleep(2.0)  # more than three lease lengths

    message = await owner.enqueue_async(owner.get_actor("slow").message())
    async with running(owner, [queue]):
        await wait_for(lambda: starts == ["owner"])
        async with running(other, [queue]):
            await wait_for_state(owner, message.message_id, "completed", timeout=5)
    assert starts == ["owner"]
    await owner.close()
    await other.close()
