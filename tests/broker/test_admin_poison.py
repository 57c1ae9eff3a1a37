"""A poison message (undecodable bytes) lands in the dead letters and the operator can still list it."""

from __future__ import annotations

import uuid

import dramatiq

from tests.helpers.broker import make_broker, running, spec, wait_for_state
from theset_daemon.broker.admin import QueueAdmin


async def test_an_undecodable_message_is_dead_lettered_and_listed(redis_url, namespace):
    queue = spec("venue_sync")
    broker = make_broker(redis_url, namespace, [queue])

    @dramatiq.actor(queue_name="venue_sync", broker=broker)
    async def sync_venue_details() -> None: ...

    job_id = f"poison-{uuid.uuid4().hex[:6]}"
    async with running(broker, [queue]):
        await broker.run_script("enqueue", [1, job_id, "venue_sync", "sync_venue_details", 2, 0, 0, b"{this is not json"])
        await wait_for_state(broker, job_id, "dead")
    dead = await QueueAdmin(broker).dead_letters("venue_sync")
    assert [d["jobId"] for d in dead] == [job_id]
    assert dead[0]["reason"] and dead[0]["args"] == [] and dead[0]["kwargs"] == {}
    record = await broker.admin.find(job_id)
    assert record["message"] is None and record["undecodable"].startswith("{this is not json")
    await broker.close()
