"""Pause and resume hold for every daemon, at once, across restarts; a paused queue still accepts jobs."""

from __future__ import annotations

import asyncio
import signal
import time

import dramatiq
import orjson
import redis
from tests.helpers.daemon_process import DaemonProcess
from tests.helpers.admin_api import call, drop_namespace, module_env, poll, queue_row
from tests.helpers.broker import make_broker, monitor_lines, running, spec
from tests.helpers.environment import free_port

from theset_daemon.broker import TheSetBroker
from theset_daemon.broker.admin import QueueAdmin
from theset_daemon.queues import QUEUES


def pop_records(client: redis.Redis, key: str, count: int, timeout: float = 20.0) -> list[dict]:
    out = []
    for _ in range(count):
        item = client.blpop([key], timeout=timeout)
        assert item is not None, f"only {len(out)} of {count} records on {key} within {timeout}s"
        out.append(orjson.loads(item[1]))
    return out


def through_two_fetch_rounds(client: redis.Redis, namespace: str, host: str) -> None:
    """Make a daemon run its fetch loop twice more: push its private wake-up key and await each pop.

    The loop pops the key, fetches, parks again; the second pop proves the first fetch returned.
    """
    key = f"{namespace}:host:{host}:wake"
    for _ in range(2):
        client.zadd(key, {"1": 0})
        poll(lambda: client.exists(key), lambda n: n == 0, timeout=10.0, interval=0.005)


def test_pause_on_one_daemon_stops_fetching_on_another_survives_restart_and_resume_is_prompt(redis_url, database_url):
    sync_redis = redis.Redis.from_url(redis_url, socket_timeout=60)
    env, namespace = module_env(redis_url, database_url, THESET_LEASE_TIMEOUT="2")
    daemons: list[DaemonProcess] = []
    producer = TheSetBroker(redis_url=redis_url, namespace=namespace, queues=QUEUES, host_id="test-producer")

    def launch(host: str) -> DaemonProcess:
        daemon = DaemonProcess({**env, "THESET_HOST_ID": host, "THESET_HTTP_PORT": str(_port())}).start()
        daemons.append(daemon)
        return daemon.wait_ready()

    started, finished = f"{namespace}:test:started", f"{namespace}:test:finished"
    try:
        a, b = launch("pause-a"), launch("pause-b")
        for i in range(12):
            producer.enqueue(dramatiq.Message(queue_name="webhook", actor_name="hold", args=(),
                                              kwargs={"tag": f"j{i}", "release": "go"}, options={}))
        hosts = {r["host"] for r in pop_records(sync_redis, started, 10)}  # webhook concurrency 5 per daemon
        assert hosts == {"pause-a", "pause-b"}
        daemons_seen = poll(lambda: call(a, "GET", "/api/admin/queues")[1]["daemons"],
                            lambda d: len(d) == 2 and all(x["alive"] and x["active"] == 5 for x in d))
        assert {d["hostId"] for d in daemons_seen} == {"pause-a", "pause-b"}

        status, body = call(a, "POST", "/api/admin/queues/webhook/pause")
        assert (status, body["affected"]) == (200, 1)
        sync_redis.rpush(f"{namespace}:test:go", *["go"] * 12)
        pop_records(sync_redis, finished, 10)  # running jobs finish
        for host in ("pause-a", "pause-b"):
            through_two_fetch_rounds(sync_redis, namespace, host)
        assert sync_redis.llen(started) == 0, "a job started on a paused queue"
        row = queue_row(b, "webhook")
        assert row["paused"] is True and row["counts"]["waiting"] == 2 and row["counts"]["active"] == 0

        # accepted while paused, and the pause outlives a daemon's restart
        producer.enqueue(dramatiq.Message(queue_name="webhook", actor_name="hold", args=(),
                                          kwargs={"tag": "late", "release": "go"}, options={}))
        b.signal(signal.SIGTERM)
        assert b.wait_exit() == 0
        b2 = launch("pause-b2")
        through_two_fetch_rounds(sync_redis, namespace, "pause-b2")
        assert sync_redis.llen(started) == 0
        row = queue_row(b2, "webhook")
        assert row["paused"] is True and row["counts"]["waiting"] == 3
        stopped = next(d for d in call(b2, "GET", "/api/admin/queues")[1]["daemons"] if d["hostId"] == "pause-b")
        assert stopped["alive"] is False

        # resume on another daemon: every waiting job starts within a second
        resumed_at = time.monotonic()
        status, body = call(b2, "POST", "/api/admin/queues/webhook/resume")
        assert (status, body["affected"]) == (200, 1)
        pop_records(sync_redis, started, 3, timeout=2.0)
        assert time.monotonic() - resumed_at < 1.0
        sync_redis.rpush(f"{namespace}:test:go", "go")  # 12 releases for 13 jobs so far
        pop_records(sync_redis, finished, 3)
    finally:
        for daemon in daemons:
            daemon.stop()
        producer.redis.close()
        sync_redis.close()
        drop_namespace(redis_url, namespace)


def _port() -> int:
    return free_port()


async def test_a_paused_rate_limited_queue_is_quiet_and_resumes_at_once(redis_url, namespace):
    queue = spec("limited", concurrency=2, rate=20)
    broker = make_broker(redis_url, namespace, [queue])
    admin = QueueAdmin(broker)
    ran = asyncio.Queue()

    @dramatiq.actor(queue_name="limited", broker=broker)
    async def work(n: int) -> None:
        ran.put_nowait(n)

    async with running(broker, [queue]):
        await admin.pause("limited")
        for i in range(5):
            await broker.enqueue_async(work.message(i))
        lines = await asyncio.to_thread(monitor_lines, redis_url, namespace, 1.0)
        assert len(lines) < 10, [line["command"][:60] for line in lines]  # no fetch loop spinning on it
        assert ran.empty()
        started = time.monotonic()
        await admin.resume("limited")
        await asyncio.wait_for(ran.get(), 1.0)
        assert time.monotonic() - started < 1.0
    await broker.close()
