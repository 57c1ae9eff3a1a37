"""Redis Sentinel: one primary, one replica, three sentinels on loopback; the primary SIGKILLed mid-import.

The daemon follows the promotion on every client without a restart, is ready
again within seconds, every import completes, and nothing is duplicated in
PostgreSQL. The timings are printed (run with ``-s`` to read them).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Iterator

import asyncpg
import pytest
import redis

from tests.chaos.checks import duplicate_rows
from tests.helpers.import_harness import call, import_status, start_daemon
from tests.helpers.redis_servers import PrivateRedis, spawn_sentinels
from tests.helpers.waiting import wait_until
from theset_daemon.broker import connection

SERVICE = "theset"


@pytest.fixture(scope="module")
def deployment() -> Iterator[tuple[PrivateRedis, PrivateRedis, list[PrivateRedis]]]:
    servers: list[PrivateRedis] = []
    try:
        primary = PrivateRedis().start()
        servers.append(primary)
        replica = PrivateRedis("--replicaof", "127.0.0.1", str(primary.port)).start()
        servers.append(replica)
        wait_until(lambda: replica_info(replica).get("master_link_status") == "up", 15, "the replica in sync")
        sentinels = spawn_sentinels(primary, SERVICE)
        servers += sentinels
        wait_until(lambda: all(knows_the_deployment(s) for s in sentinels), 30, "sentinels see the replica and each other")
        yield primary, replica, sentinels
    finally:
        for server in servers:
            server.stop()


def replica_info(server: PrivateRedis) -> dict:
    with server.client() as client:
        return client.info("replication")


def knows_the_deployment(sentinel: PrivateRedis) -> bool:
    with sentinel.client() as client:
        state = client.sentinel_master(SERVICE)
        return int(state["num-slaves"]) >= 1 and int(state["num-other-sentinels"]) >= 2


def primary_port(sentinels: list[PrivateRedis]) -> int | None:
    for sentinel in sentinels:
        try:
            with sentinel.client() as client:
                return int(client.sentinel_get_master_addr_by_name(SERVICE)[1])
        except redis.RedisError:
            continue
    return None


def test_the_url_parses_and_the_clients_follow_sentinel(deployment):
    """(Runs first: the next test kills this deployment's primary.)"""
    primary, _, sentinels = deployment
    url = "redis+sentinel://" + ",".join(f"127.0.0.1:{s.port}" for s in sentinels) + f"/{SERVICE}/0"
    target = connection.parse(url)
    assert asyncio.run(connection.primary(target)) == ("127.0.0.1", primary.port)
    client = connection.sync_client(target)
    try:
        client.set("x", 1)
        assert client.get("x") == b"1"
    finally:
        client.close()


def test_the_primary_killed_mid_import_is_followed_and_nothing_is_lost_or_doubled(
    deployment, sandbox, truth, daemon_env, migrated_database_url
):
    primary, replica, sentinels = deployment
    url = "redis+sentinel://" + ",".join(f"127.0.0.1:{s.port}" for s in sentinels) + f"/{SERVICE}/0"
    daemon = start_daemon({**daemon_env, "THESET_REDIS_URL": url, "THESET_DATABASE_URL": migrated_database_url}, sandbox)
    try:
        acts = [a.tm_id for a in truth.artists[4:8]]
        started = [call(daemon, "POST", "/api/imports", {"tmAttractionId": a})[1]["importId"] for a in acts[:3]]
        wait_until(lambda: any(import_status(daemon, i) == "running" for i in started), 30, "an import running")

        killed_at = time.monotonic()
        primary.kill()
        wait_until(lambda: primary_port(sentinels) == replica.port, 30, "Sentinel promoted the replica")
        promoted_at = time.monotonic()
        wait_until(lambda: daemon.get("/readyz")[0] == 200, 30, "ready again on the new primary")
        ready_at = time.monotonic()

        status, body, _ = call(daemon, "POST", "/api/imports", {"tmAttractionId": acts[3]})
        assert status == 202, body
        started.append(body["importId"])
        for import_id in started:
            wait_until(lambda: import_status(daemon, import_id) in ("completed", "failed"), 120, f"import {import_id}")
        completed_at = time.monotonic()
        outcomes = {i: import_status(daemon, i) for i in started}
        assert set(outcomes.values()) == {"completed"}, outcomes

        async def duplicates() -> dict:
            conn = await asyncpg.connect(migrated_database_url)
            try:
                return await duplicate_rows(conn)
            finally:
                await conn.close()

        doubled = asyncio.run(duplicates())
        assert not any(doubled.values()), doubled
        assert daemon.proc.poll() is None, "no restart"
        print(json.dumps({
            "promotion_s_after_kill": round(promoted_at - killed_at, 2),
            "ready_s_after_promotion": round(ready_at - promoted_at, 2),
            "all_completed_s_after_kill": round(completed_at - killed_at, 2),
            "imports": len(started), "completed": list(outcomes.values()).count("completed"), "lost": 0,
            "duplicated_rows": sum(doubled.values()),
            "failover_logged": "primary moved" in daemon.read_log(),
            "requeued_by_reconciliation": [ln.get("requeued") for ln in daemon.log_lines()
                                           if ln.get("message", "").startswith("reconciled imports after the failover")],
        }))
    finally:
        daemon.stop()
