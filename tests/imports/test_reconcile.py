"""Reconciliation: Redis loses every key mid-import; PostgreSQL knows what was in flight and the import completes."""

from __future__ import annotations

import asyncio
from typing import Iterator

import asyncpg
import pytest
import redis.asyncio as aioredis

from tests.helpers.import_harness import kickoff
from tests.helpers.daemon_process import DaemonProcess
from tests.helpers.webhooks import SECRET
from theset_daemon.services import webhooks
from theset_daemon.broker import TheSetBroker
from theset_daemon.queues import QUEUES

FAST_RECONCILE = """
[[schedule]]
name = "reconcile-imports"
cron = "*/2 * * * * *"
actor = "reconcile_imports"
misfire_grace_s = 10
run_at_boot = true
"""


@pytest.fixture
def daemon(daemon_env, sandbox, private_redis, receiver, tmp_path) -> Iterator[DaemonProcess]:
    schedules = tmp_path / "schedules.toml"
    schedules.write_text(FAST_RECONCILE)
    env = {**daemon_env, **sandbox.env, "THESET_ALLOW_PRIVATE_FETCH": "true", "THESET_ACTOR_MODULES": "theset_daemon.actors",
           "THESET_REDIS_URL": private_redis.url, "THESET_SCHEDULES_FILE": str(schedules),
           "THESET_WEBHOOK_URLS": receiver.url, "THESET_WEBHOOK_SECRET": SECRET}
    proc = DaemonProcess(env).start().wait_ready()
    yield proc
    proc.stop()


async def phase_states(conn: asyncpg.Connection, import_id: str) -> dict[str, str]:
    rows = await conn.fetch("select phase, state from import_phases where import_id = $1::uuid", import_id)
    return {r["phase"]: r["state"] for r in rows}


async def test_flushall_mid_import_then_reconciliation_completes_it_without_duplicates(
    daemon, private_redis, receiver, truth, database_url, namespace
):
    attraction = truth.demo_attraction_id
    broker = TheSetBroker(redis_url=private_redis.url, namespace=namespace, host_id="test-producer", queues=QUEUES)
    conn = await asyncpg.connect(database_url)
    try:
        await broker.admin.pause("setlist_sync")  # hold the import at its last phase
        status, body = await kickoff(daemon.url, daemon.env["THESET_API_TOKEN"], attraction)
        assert status == 202, body
        import_id = body["importId"]
        async with asyncio.timeout(60):
            while (states := await phase_states(conn, import_id)).get("setlists") != "enqueued" or any(
                s != "done" for p, s in states.items() if p not in {"setlists", "images"}
            ):
                await asyncio.sleep(0.1)  # PostgreSQL has no change feed here: poll the phase rows

        client = aioredis.Redis.from_url(private_redis.url)
        await client.flushall()  # every job, record, pause flag and progress stream is gone
        await client.aclose()

        # The import's completion webhook. Imports an earlier test left in flight in this session's
        # database are resumed by the same reconciliation, and report too: skip theirs.
        async with asyncio.timeout(60):
            while (delivered := await receiver.next())["body"]["data"]["importId"] != import_id:
                pass
        assert delivered["event"] == webhooks.IMPORT_COMPLETED and delivered["verified"]
        row = await conn.fetchrow("select status, progress, artist_id from import_status where id = $1::uuid", import_id)
        assert row["status"] == "completed" and row["progress"] == 100
        assert set((await phase_states(conn, import_id)).values()) == {"done"}

        artist_id = row["artist_id"]
        expected = truth.artist(attraction)
        songs = await conn.fetch("select spotify_id, dedup_key from songs where artist_id = $1 and catalog_removed_at is null",
                                 artist_id)
        assert {s["spotify_id"] for s in songs} == expected.expected_studio_track_ids()
        assert len(songs) == len({s["dedup_key"] for s in songs})
        shows = await conn.fetch("select s.tm_event_id from shows s join show_artists sa on sa.show_id = s.id "
                                 "where sa.artist_id = $1", artist_id)
        assert sorted(s["tm_event_id"] for s in shows) == sorted(expected.event_ids)
        setlists = await conn.fetch("select setlistfm_id from setlists where artist_id = $1", artist_id)
        assert setlists and len(setlists) == len({s["setlistfm_id"] for s in setlists})
        assert await conn.fetchval("select count(*) from artists where tm_attraction_id = $1", attraction) == 1
        requeued = [line for line in daemon.log_lines() if line.get("message", "").startswith("re-enqueued in-flight")]
        assert any(f"{import_id}:setlists" in line["phases"] for line in requeued), requeued
    finally:
        await conn.close()
        await broker.close()
