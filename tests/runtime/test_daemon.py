"""The daemon as systemd runs it: a real subprocess, real Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from typing import Iterator

import dramatiq
import orjson
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.daemon_process import DaemonProcess
from tests.helpers.environment import free_port
from theset_daemon.broker import TheSetBroker
from theset_daemon.queues import QUEUES


@pytest.fixture
def daemons() -> Iterator[list[DaemonProcess]]:
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        daemon.stop()


@pytest.fixture
def producer(redis_url: str, namespace: str) -> Iterator[TheSetBroker]:
    broker = TheSetBroker(redis_url=redis_url, namespace=namespace, queues=QUEUES, host_id="test-producer")
    yield broker


def send_hold(broker: TheSetBroker, tag: str, release: str | None = None) -> dramatiq.Message:
    message = dramatiq.Message(queue_name="webhook", actor_name="hold", args=(), kwargs={"tag": tag, "release": release}, options={})
    return broker.enqueue(message)


def wait_records(client: redis.Redis, namespace: str, name: str, count: int, timeout: float = 20.0) -> list[dict]:
    """Pop ``count`` records the test actors pushed, awaiting each (BLPOP)."""
    records = []
    for _ in range(count):
        item = client.blpop([f"{namespace}:test:{name}"], timeout=timeout)
        assert item is not None, f"only {len(records)} of {count} {name!r} records within {timeout}s"
        records.append(orjson.loads(item[1]))
    return records


def launch(daemons: list[DaemonProcess], env: dict[str, str], **overrides: str) -> DaemonProcess:
    daemon = DaemonProcess({**env, **overrides}).start()
    daemons.append(daemon)
    return daemon.wait_ready()


def test_ready_serves_runs_a_job_and_exits_zero_on_sigterm(daemons, daemon_env, producer, sync_redis, namespace):
    daemon = launch(daemons, daemon_env, WATCHDOG_USEC="200000")
    status, body = daemon.get("/readyz")
    assert status == 200 and body["ready"] is True, body
    assert daemon.get("/healthz")[0] == 200

    send_hold(producer, "first")
    assert wait_records(sync_redis, namespace, "finished", 1)[0]["tag"] == "first"

    daemon.wait_notify("WATCHDOG=1")
    daemon.wait_notify("WATCHDOG=1")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
    assert "STOPPING=1" in daemon.messages
    assert daemon.messages.count("WATCHDOG=1") >= 2
    assert any(m.startswith("STATUS=") for m in daemon.messages)


def test_sigterm_lets_in_flight_jobs_finish_and_turns_readiness_off(daemons, daemon_env, producer, sync_redis, namespace):
    daemon = launch(daemons, daemon_env)
    for tag in ("a", "b", "c"):
        send_hold(producer, tag, release="go")
    wait_records(sync_redis, namespace, "started", 3)

    daemon.signal(signal.SIGTERM)
    daemon.wait_notify("STOPPING=1")
    status, body = daemon.get("/readyz")
    assert status == 503 and body["checks"]["draining"] == "yes"
    assert daemon.proc.poll() is None, "must keep draining while jobs run"

    sync_redis.rpush(f"{namespace}:test:go", *["x"] * 3)
    assert daemon.wait_exit() == 0
    assert sorted(r["tag"] for r in wait_records(sync_redis, namespace, "finished", 3)) == ["a", "b", "c"]


def test_job_outliving_the_drain_window_is_handed_back_and_finished_once_elsewhere(
    daemons, daemon_env, producer, sync_redis, namespace
):
    first = launch(daemons, daemon_env, THESET_DRAIN_TIMEOUT="1")
    send_hold(producer, "long", release="release-long")
    wait_records(sync_redis, namespace, "started", 1)

    first.signal(signal.SIGTERM)
    assert first.wait_exit() == 0
    assert sync_redis.llen(f"{namespace}:test:finished") == 0
    depth = producer_depths(producer)["webhook"]
    assert depth["waiting"] == 1 and depth["dead"] == 0, depth

    sync_redis.rpush(f"{namespace}:test:release-long", "x")
    second = launch(daemons, {**daemon_env, "THESET_HOST_ID": "second"})
    finished = wait_records(sync_redis, namespace, "finished", 1)
    assert finished[0]["host"] == "second"
    second.signal(signal.SIGTERM)
    assert second.wait_exit() == 0
    assert sync_redis.llen(f"{namespace}:test:finished") == 0, "the job must run to the end exactly once"


def producer_depths(broker: TheSetBroker) -> dict:
    async def read() -> dict:
        try:
            return await broker.depths()
        finally:
            await broker.close()

    return asyncio.run(read())


def test_readiness_follows_redis_and_the_process_survives_an_outage(daemons, daemon_env, tmp_path):
    port = free_port()
    redis_cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(tmp_path)]
    server = subprocess.Popen(redis_cmd, stdout=subprocess.DEVNULL)
    try:
        wait_for_redis(port)
        daemon = launch(daemons, daemon_env, THESET_REDIS_URL=f"redis://127.0.0.1:{port}/0")
        assert daemon.get("/readyz")[0] == 200

        server.terminate()
        server.wait(10)
        status, body = daemon.get("/readyz")
        assert status == 503 and body["checks"]["redis"] != "ok", body

        server = subprocess.Popen(redis_cmd, stdout=subprocess.DEVNULL)
        wait_for_redis(port)
        assert poll_until(lambda: daemon.get("/readyz")[0] == 200), daemon.get("/readyz")
        assert daemon.proc.poll() is None
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit() == 0
    finally:
        server.terminate()
        server.wait(10)


def wait_for_redis(port: int) -> None:
    client = redis.Redis(port=port)
    assert poll_until(lambda: _pings(client)), f"redis on {port} did not start"
    client.close()


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def poll_until(condition, timeout: float = 20.0, interval: float = 0.1) -> bool:
    """Re-check an external condition no event announces (a server coming back)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def test_bad_http_port_exits_with_the_config_status_naming_the_variable(daemon_env):
    proc = DaemonProcess({**daemon_env, "THESET_HTTP_PORT": "eighty"})
    try:
        proc.start()
        assert proc.wait_exit(30) == 78
        assert "THESET_HTTP_PORT" in proc.read_log()
        assert "READY=1" not in proc.messages
    finally:
        proc.stop()


def test_metrics_parse_with_prometheus_own_parser(daemons, daemon_env, producer, sync_redis, namespace):
    daemon = launch(daemons, daemon_env)
    send_hold(producer, "metered")
    wait_records(sync_redis, namespace, "finished", 1)
    status, text = daemon.get("/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text)}
    depth_queues = {s.labels["queue"] for s in families["theset_queue_depth"].samples}
    assert depth_queues == {q.name for q in QUEUES}
    jobs = [s for s in families["theset_jobs"].samples if s.name == "theset_jobs_total"]
    assert any(s.labels["queue"] == "webhook" and s.labels["outcome"] == "completed" and s.value >= 1 for s in jobs)
    assert "process_resident_memory_bytes" in text
    assert daemon.get("/nope")[0] == 404
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0


def test_a_second_signal_exits_at_once_and_the_job_is_not_lost(daemons, daemon_env, producer, sync_redis, namespace):
    daemon = launch(daemons, daemon_env, THESET_LEASE_TIMEOUT="2")
    send_hold(producer, "stuck", release="never")
    wait_records(sync_redis, namespace, "started", 1)
    daemon.signal(signal.SIGTERM)
    daemon.wait_notify("STOPPING=1")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit(10) == 1
    assert any("second SIGTERM" in line.get("message", "") for line in daemon.log_lines())

    sync_redis.rpush(f"{namespace}:test:never", "x")
    second = launch(daemons, {**daemon_env, "THESET_HOST_ID": "rescuer", "THESET_LEASE_TIMEOUT": "2"})
    finished = wait_records(sync_redis, namespace, "finished", 1)
    assert finished == [{"host": "rescuer", "tag": "stuck"}], "the lease lapsed and another daemon ran the job"
    second.signal(signal.SIGTERM)
    assert second.wait_exit() == 0
