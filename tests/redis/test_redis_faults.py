"""Redis that stops answering, refuses writes or runs out of memory, under a running daemon.

A private redis-server per module (frozen with SIGSTOP, filled, reconfigured:
never the shared one), a sandbox, and a daemon subprocess on it.
"""

from __future__ import annotations

import json
import time
from typing import Iterator

import pytest

from tests.helpers.environment import ADMIN_TOKEN
from tests.helpers.import_harness import call, import_status, start_daemon
from tests.helpers.redis_servers import PrivateRedis
from tests.helpers.waiting import wait_until

@pytest.fixture(scope="module")
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis().start()
    yield server
    server.stop()


@pytest.fixture
def daemon(private_redis, sandbox, daemon_env, migrated_database_url):
    env = {**daemon_env, "THESET_REDIS_URL": private_redis.url, "THESET_DATABASE_URL": migrated_database_url}
    proc = start_daemon(env, sandbox)
    yield proc
    private_redis.thaw()
    proc.stop()


def test_a_frozen_redis_answers_503_fast_keeps_healthz_and_loses_no_kickoff(daemon, private_redis, truth):
    attraction = truth.demo_attraction_id
    private_redis.freeze()
    try:
        status, body = daemon.get("/readyz", timeout=2.5)  # as a load balancer asks; its checks time out after 1 s
        assert status == 503 and body["checks"]["redis"] == "failed", body
        # The reasons are the admin's to see (the token check itself waits for Redis up to its call timeout).
        status, body, _ = call(daemon, "GET", "/readyz", token=ADMIN_TOKEN)
        assert status == 503 and "timed out" in json.dumps(body["checks"]), body
        assert daemon.get("/healthz", timeout=2.5)[0] == 200

        took = time.monotonic()
        status, queues, headers = call(daemon, "GET", "/api/admin/queues", token=ADMIN_TOKEN, timeout=5.0)
        print("admin queues answered in", round(time.monotonic() - took, 2), "s")  # -s shows it
        assert status == 503 and queues["error"] == "redis_unavailable" and headers.get("Retry-After"), queues

        took = time.monotonic()
        status, started, _ = call(daemon, "POST", "/api/imports", {"tmAttractionId": attraction}, timeout=5.0)
        print("kickoff answered in", round(time.monotonic() - took, 2), "s")
        assert status == 202, started  # the row is written: that is the promise
    finally:
        private_redis.thaw()
    wait_until(lambda: daemon.get("/readyz")[0] == 200, 30, "ready again after Redis came back")
    wait_until(lambda: import_status(daemon, started["importId"]) == "completed", 90, "the kickoff's import completed")
    log = daemon.read_log()
    assert "enqueued 1 deferred import" in log, log[-3000:]
    assert "unhandled error" not in log, log[-3000:]


def test_redis_out_of_memory_while_imports_run_fails_none(daemon, private_redis, truth):
    """noeviction at its limit: jobs postpone, kickoffs answer 202, readiness says OOM; all complete once freed."""
    acts = [a.tm_id for a in truth.artists[4:8]]
    admin = private_redis.client()
    try:
        before = [call(daemon, "POST", "/api/imports", {"tmAttractionId": a})[1]["importId"] for a in acts[:2]]
        admin.set("ballast", "x" * 4_000_000)
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", 1_000_000)  # below what is used: every write is refused
        during = []
        for act in acts[2:]:
            status, body, _ = call(daemon, "POST", "/api/imports", {"tmAttractionId": act})
            assert status == 202, body
            during.append(body["importId"])
        wait_until(lambda: "out of memory" in json.dumps(call(daemon, "GET", "/readyz", token=ADMIN_TOKEN)[1]), 10,
                   "readiness names OOM")
        wait_until(lambda: "Redis unavailable" in daemon.read_log(), 30, "a job postponed on OOM")
    finally:
        admin.delete("ballast")
        admin.config_set("maxmemory", 0)
        admin.close()
    wait_until(lambda: daemon.get("/readyz")[0] == 200, 30, "ready once memory is freed")
    for import_id in before + during:
        wait_until(lambda: import_status(daemon, import_id) in ("completed", "failed"), 120, f"import {import_id} ended")
        assert import_status(daemon, import_id) == "completed"
    _, overview, _ = call(daemon, "GET", "/api/admin/queues", token=ADMIN_TOKEN)
    assert sum(q["counts"]["dead"] for q in overview["queues"]) == 0, overview


def test_a_pause_flag_redis_loses_comes_back(daemon, private_redis, migrated_database_url):
    status, body, _ = call(daemon, "POST", "/api/admin/queues/cleanup/pause", token=ADMIN_TOKEN)
    assert status == 200, body
    flag = f"{daemon.env['THESET_REDIS_NAMESPACE']}:q:cleanup:paused"
    with private_redis.client() as admin:
        try:
            assert admin.exists(flag)
            admin.delete(flag)  # evicted, or lost in a failover
            wait_until(lambda: admin.exists(flag), 15, "the pause flag re-asserted from PostgreSQL")
        finally:
            call(daemon, "POST", "/api/admin/queues/cleanup/resume", token=ADMIN_TOKEN)
