"""Pauses kept in PostgreSQL: a pause flag Redis loses (evicted, restarted empty, failover) comes back."""

from __future__ import annotations

from tests.helpers.broker import make_broker, spec
from theset_daemon.runtime import pauses


async def test_a_lost_pause_flag_is_reasserted_and_a_resume_is_not_undone(pool, redis_url, namespace, sync_redis):
    broker = make_broker(redis_url, namespace, [spec("held"), spec("free")])
    try:
        await pauses.record(pool, "held", True, "test")
        await broker.admin.pause("held")
        assert await pauses.reassert(pool, broker) == []  # nothing missing

        sync_redis.delete(broker.keys.queue("held", "paused"))  # what eviction or a failover would do
        assert await pauses.reassert(pool, broker) == ["held"]
        assert await broker.admin.is_paused("held")

        await pauses.record(pool, "held", False)
        await broker.admin.resume("held")
        assert await pauses.reassert(pool, broker) == []
        assert not await broker.admin.is_paused("held") and not await broker.admin.is_paused("free")
    finally:
        await pauses.record(pool, "held", False)
        await broker.close()
