"""Cleanup removes what is past retention and reports it; the active-artist fan-out is one deduplicated bulk enqueue."""

from __future__ import annotations

import time
import uuid
from datetime import date, timedelta

import pytest

from tests.helpers.catalog_rows import add_artist, add_show
from theset_daemon.services import cleanup
from theset_daemon.broker import TheSetBroker
from theset_daemon.runtime.config import load
from theset_daemon.actors import scheduled_sync
from theset_daemon.runtime.resources import Resources, set_resources
from theset_daemon.queues import QUEUES


@pytest.fixture
async def res(catalog_pool, redis_url, namespace, async_redis):
    broker = TheSetBroker(redis_url=redis_url, namespace=namespace, queues=QUEUES, host_id="test")
    settings = load({"THESET_REDIS_NAMESPACE": namespace})
    yield Resources(settings, catalog_pool, async_redis, broker)
    await broker.close()


async def test_cleanup_removes_what_is_past_retention_and_reports_it(res, catalog_pool, async_redis, namespace):
    keys, now_ms = res.broker.keys, int(time.time() * 1000)
    day_ms = 86_400_000
    # A completed record two hours old (retention 1 h) still listed; a fresh one; an orphan dead one 8 days old.
    await async_redis.hset(keys.job("old"), mapping={"state": "completed", "finished_at": now_ms - 2 * 3_600_000})
    await async_redis.zadd(keys.queue("webhook", "completed"), {"old": now_ms - 2 * 3_600_000, "new": now_ms})
    await async_redis.hset(keys.job("new"), mapping={"state": "completed", "finished_at": now_ms})
    await async_redis.hset(keys.job("orphan"), mapping={"state": "dead", "finished_at": now_ms - 8 * day_ms})
    # Imports: one finished long ago with a stream, one running with a stream, one stream of an unknown import.
    async with catalog_pool.acquire() as conn:
        old = await conn.fetchval("""insert into import_status (tm_attraction_id, status, completed_at, updated_at)
                                     values ('K-old', 'completed', now() - interval '40 days', now() - interval '40 days')
                                     returning id::text""")
        running = await conn.fetchval("insert into import_status (tm_attraction_id, status) values ('K-run', 'running') returning id::text")
        await conn.execute("""insert into schedule_fires (name, fire_time, job_id, host_id, outcome)
                              values ('x', now() - interval '90 days', 'j', 'h', 'enqueued')""")
    for import_id in (old, running, str(uuid.uuid4())):
        await async_redis.xadd(f"{namespace}:progress:{import_id}", {"e": "1"})
    await async_redis.hset(f"{namespace}:progress:{old}:phases", "artist", "1")

    removed = await cleanup.cleanup(res)

    assert removed == {"job_records": 1, "orphan_job_records": 1, "progress_streams": 2, "import_status": 1,
                       "schedule_fires": 1}
    assert await async_redis.exists(keys.job("old"), keys.job("orphan")) == 0
    assert await async_redis.exists(keys.job("new")) == 1
    assert await async_redis.zrange(keys.queue("webhook", "completed"), 0, -1) == [b"new"]
    assert await async_redis.exists(f"{namespace}:progress:{running}") == 1
    assert await async_redis.exists(f"{namespace}:progress:{old}", f"{namespace}:progress:{old}:phases") == 0
    assert await catalog_pool.fetchval("select count(*) from import_status where id = $1::uuid", old) == 0


async def test_active_artists_fan_out_is_one_bulk_enqueue_least_recently_synced_first(res, catalog_pool, monkeypatch):
    async with catalog_pool.acquire() as conn:
        ids = {}
        for name, synced in (("Fresh", "now()"), ("Stale", "now() - interval '3 days'"), ("Never", "null")):
            ids[name] = await add_artist(conn, name, 10, 0)
            await add_show(conn, ids[name], date.today() + timedelta(days=30))
            await conn.execute(f"update artists set last_synced_at = {synced} where id = $1", ids[name])
        await add_artist(conn, "Idle", 90, 0)
    calls = []
    original = res.broker.enqueue_many_async

    async def spy(messages, **kw):
        calls.append(list(messages))
        return await original(calls[-1], **kw)

    monkeypatch.setattr(res.broker, "enqueue_many_async", spy)
    set_resources(res)
    try:
        fn = scheduled_sync.sync_active_artists.fn.__wrapped__  # the async function the worker awaits
        assert await fn(limit=50) == 3
        assert await fn(limit=50) == 3
    finally:
        set_resources(None)
    assert len(calls) == 2
    order = [m.kwargs["artist_id"] for m in calls[0] if m.actor_name == "sync_spotify_profile"]
    assert order == [ids["Never"], ids["Stale"], ids["Fresh"]]
    assert {m.options["job_id"] for m in calls[0]} == {f"sync:{i}:{p}" for i in order for p in ("spotify_profile", "shows")}
    depths = await res.broker.depths(["spotify_sync", "ticketmaster_sync"])
    assert depths["spotify_sync"]["waiting"] == 3 and depths["ticketmaster_sync"]["waiting"] == 3  # the repeat deduplicated


async def test_recently_viewed_stale_artists_get_one_quick_sync_each(res, catalog_pool):
    async with catalog_pool.acquire() as conn:
        ids = {}
        for name, synced in (("Viewed stale", "now() - interval '1 day'"), ("Viewed fresh", "now()"),
                             ("Unviewed", "null")):
            ids[name] = await add_artist(conn, name, 10, 0)
            await conn.execute(f"update artists set last_synced_at = {synced} where id = $1", ids[name])
        for name in ("Viewed stale", "Viewed fresh"):
            await conn.execute("insert into artist_views (artist_id) values ($1)", ids[name])
    set_resources(res)
    try:
        fn = scheduled_sync.quick_sync_viewed_artists.fn.__wrapped__
        assert await fn() == 1
    finally:
        set_resources(None)
    record = await res.broker.admin.find(f"quick-sync:{ids['Viewed stale']}")
    assert record is not None and record["message"].kwargs == {"artist_id": ids["Viewed stale"]}
