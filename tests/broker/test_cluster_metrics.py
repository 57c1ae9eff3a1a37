"""Queue metrics that tell the truth: cluster gauges exported once, time in queue, queues served."""

from __future__ import annotations

import asyncio

import dramatiq
from prometheus_client import REGISTRY

from tests.helpers.broker import make_broker, running, spec, wait_for_state
from theset_daemon.broker.cluster_metrics import METRICS_LEAD_S


def _value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_one_daemon_leads_the_cluster_gauges_and_the_others_clear_them(redis_url, namespace):
    queue = spec(f"lead_{namespace[-8:]}")
    first = make_broker(redis_url, namespace, [queue], host_id="host-a")
    second = make_broker(redis_url, namespace, [queue], host_id="host-b")

    @dramatiq.actor(queue_name=queue.name, broker=first)
    async def idle() -> None: ...

    await first.enqueue_many_async([idle.message_with_options(priority="HIGH") for _ in range(2)])
    await first.export_depths()
    assert _value("theset_cluster_metrics_leader") == 1
    assert _value("theset_queue_depth", queue=queue.name, state="waiting") == 2
    assert _value("theset_queue_waiting", queue=queue.name, priority="HIGH") == 2
    assert _value("theset_queue_oldest_waiting_seconds", queue=queue.name) >= 0
    assert _value("theset_redis_memory_bytes", kind="used") > 0
    ttl = await first.aredis.pttl(first.keys.metrics_leader)
    assert 0 < ttl <= METRICS_LEAD_S * 1000

    await second.export_depths()  # not the leader: its registry (this process's, here) drops the cluster series
    assert _value("theset_cluster_metrics_leader") == 0
    assert _value("theset_queue_depth", queue=queue.name, state="waiting") is None
    assert _value("theset_redis_memory_bytes", kind="used") is None
    assert (await second.read_depths(lead_ms=1000))[0] is False
    assert (await first.read_depths(lead_ms=1000))[0] is True  # the leader keeps it while scraped

    await first.aredis.delete(first.keys.metrics_leader)  # the leader stopped being scraped: its lead lapsed
    await second.export_depths()
    assert _value("theset_cluster_metrics_leader") == 1
    assert _value("theset_queue_depth", queue=queue.name, state="waiting") == 2
    assert (await first.read_depths(lead_ms=1000))[0] is False
    await first.close()
    await second.close()


async def test_time_in_queue_is_observed_from_ready_to_start_and_served_queues_are_exported(redis_url, namespace):
    queue = spec(f"wait_{namespace[-8:]}")
    broker = make_broker(redis_url, namespace, [queue])

    @dramatiq.actor(queue_name=queue.name, broker=broker)
    async def quick() -> None: ...

    before = _value("theset_job_queue_wait_seconds_count", queue=queue.name) or 0.0
    sum_before = _value("theset_job_queue_wait_seconds_sum", queue=queue.name) or 0.0
    await broker.admin.pause(queue.name)
    held = [await broker.enqueue_async(quick.message()) for _ in range(3)]
    await asyncio.sleep(0.3)  # the time being measured: the jobs wait in a paused queue
    await broker.admin.resume(queue.name)
    async with running(broker, [queue]):
        assert _value("theset_queue_served", queue=queue.name) == 1
        for message in held:
            await wait_for_state(broker, message.message_id, "completed")
    assert _value("theset_queue_served", queue=queue.name) == 0, "a drained daemon serves nothing"
    assert _value("theset_job_queue_wait_seconds_count", queue=queue.name) - before == 3
    waited = _value("theset_job_queue_wait_seconds_sum", queue=queue.name) - sum_before
    assert 3 * 0.3 <= waited < 3 * 30
    record = await broker.admin.find(held[0].message_id)
    assert record["started_at"] - record["enqueued_at"] >= 300
    await broker.close()
