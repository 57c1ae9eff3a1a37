"""Retention holds Redis memory flat: 50,000 jobs through a worker leave what 1,000 left."""

from __future__ import annotations

import asyncio

import dramatiq
import redis
from tests.helpers.broker import make_broker, running, spec

from theset_daemon.queues import JobDefaults

#: Completed records kept per queue in this test (DESIGN.md's default is 100).
KEEP = 50


def namespace_footprint(client: redis.Redis, namespace: str) -> tuple[int, int]:
    """(keys, bytes by MEMORY USAGE) of every key under ``namespace``."""
    keys = list(client.scan_iter(match=f"{namespace}:*", count=5000))
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.memory_usage(key, samples=0)
        sizes = pipe.execute()
    return len(keys), sum(s or 0 for s in sizes)


async def test_retention_holds_memory_flat_over_50000_jobs(redis_url, namespace, sync_redis):
    queues = [spec("busy", concurrency=64), spec("quiet", concurrency=4)]
    broker = make_broker(redis_url, namespace, queues,
                         defaults=JobDefaults(completed_max_per_queue=KEEP, min_backoff_ms=10, jitter=0.0))
    done = {"n": 0}
    target = asyncio.Event()
    goal = {"n": 0}

    @dramatiq.actor(queue_name="busy", broker=broker)
    async def noop(i: int) -> None:
        done["n"] += 1
        if done["n"] >= goal["n"]:
            target.set()

    async def run(count: int) -> None:
        goal["n"] = done["n"] + count
        target.clear()
        for start in range(0, count, 5000):
            await broker.enqueue_many_async([noop.message(i) for i in range(start, min(count, start + 5000))])
        await asyncio.wait_for(target.wait(), 60)

    async with running(broker, queues) as worker:
        await run(1_000)  # warm-up: the steady state (KEEP records, counters, heartbeat)
        await worker.recorder.flush()
        keys_before, bytes_before = namespace_footprint(sync_redis, namespace)
        used_before = sync_redis.info("memory")["used_memory"]
        await run(50_000)
        await worker.recorder.flush()
        while sync_redis.zcard(f"{namespace}:q:busy:active"):
            await asyncio.sleep(0.01)  # the last acks ride on the next call
        keys_after, bytes_after = namespace_footprint(sync_redis, namespace)
        used_after = sync_redis.info("memory")["used_memory"]
    await broker.close()

    assert sync_redis.zcard(f"{namespace}:q:busy:completed") == KEEP
    records = sum(1 for _ in sync_redis.scan_iter(match=f"{namespace}:job:*", count=5000))
    assert records == KEEP
    # flat: the same keys (give or take a throughput counter for a new minute) and bytes
    assert keys_after - keys_before <= 2, (keys_before, keys_after)
    assert bytes_after - bytes_before < 16_384, (bytes_before, bytes_after)
    # the whole server (other test runs share it): far below what 50,000 kept records would take (tens of MB)
    assert used_after - used_before < 8 * 2**20, (used_before, used_after)
    print(f"\nretention: keys {keys_before} -> {keys_after}, namespace bytes {bytes_before} -> {bytes_after}, "
          f"server used_memory {used_before} -> {used_after}")
