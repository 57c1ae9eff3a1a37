"""A waiting id whose record is gone (evicted, deleted) is logged and counted, never dropped silently,
and a round that pops only such ids does not park the fetcher."""

from __future__ import annotations

import logging

import dramatiq

from tests.helpers.broker import make_broker, running, spec, wait_for
from theset_daemon.runtime.metrics import JOBS_LOST


def lost_count(queue: str) -> float:
    return JOBS_LOST.labels(queue)._value.get()


async def test_ids_without_a_record_are_logged_counted_and_do_not_park_the_fetcher(
    redis_url, namespace, sync_redis, caplog
):
    queue = spec("evicted", concurrency=1)
    broker = make_broker(redis_url, namespace, [queue])
    ran: list[str] = []

    @dramatiq.actor(queue_name="evicted", broker=broker)
    async def work(tag: str) -> None:
        ran.append(tag)

    messages = [await broker.enqueue_async(work.message(tag)) for tag in ("a", "b", "c")]
    for message in messages[:2]:  # what allkeys-lru would do under memory pressure
        sync_redis.delete(broker.keys.job(message.message_id))
    before = lost_count("evicted")
    with caplog.at_level(logging.ERROR, "theset_daemon.broker.fetcher"):
        async with running(broker, [queue], idle_timeout_s=30):
            # Concurrency 1: the first two rounds pop only a lost id each; parked, this would wait 30 s.
            await wait_for(lambda: ran == ["c"], timeout=3)
    assert lost_count("evicted") - before == 2
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert messages[0].message_id in logged and messages[1].message_id in logged
    await broker.close()
