"""TLS on every Redis connection: a private ``redis-server --port 0 --tls-port`` with a CA made here.

The hot-path script client (async and sync), the redis-py clients, readiness,
the operator CLI and a whole import through a daemon all speak TLS with mutual
certificates; a wrong CA is not ready, and the reason says it is the certificate.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest
from dramatiq import Message

from tests.helpers.daemon_process import DaemonProcess
from tests.helpers.environment import ADMIN_TOKEN
from tests.helpers.import_harness import REPO, call, run_import, start_daemon
from tests.helpers.redis_servers import Ca, PrivateRedis
from theset_daemon.broker import TheSetBroker, connection
from theset_daemon.queues import QUEUES
from theset_daemon.runtime.redis_health import NotReady, RedisHealth


@pytest.fixture(scope="module")
def pki() -> Iterator[tuple[Ca, Ca]]:
    """The server's CA and a stranger CA (the wrong one)."""
    with tempfile.TemporaryDirectory(prefix="theset-pki-") as tmp:
        right, wrong = Path(tmp) / "right", Path(tmp) / "wrong"
        right.mkdir()
        wrong.mkdir()
        yield Ca(right), Ca(wrong, "wrong")


@pytest.fixture(scope="module")
def tls_redis(pki) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tls=pki[0]).start()
    yield server
    server.stop()


def tls_files(ca: Ca) -> connection.Tls:
    right = ca.dir
    return connection.Tls(ca_certs=str(ca.cert), certfile=str(right / "client.crt"), keyfile=str(right / "client.key"))


def make_broker(target: connection.RedisTarget, namespace: str) -> TheSetBroker:
    return TheSetBroker(target=target, namespace=namespace, host_id="tls-test", queues=QUEUES)


async def test_every_broker_client_speaks_tls(tls_redis, pki, namespace):
    logged = len(tls_redis.log())
    target = connection.parse(f"rediss://127.0.0.1:{tls_redis.port}/0", tls=tls_files(pki[0]))
    broker = make_broker(target, namespace)
    try:
        message = Message(queue_name="cleanup", actor_name="nobody", args=(), kwargs={}, options={})
        await broker.enqueue_async(message)  # the hot path, async
        await asyncio.to_thread(broker.enqueue_many, [message.copy(message_id="second")])  # the hot path, sync
        assert (await broker.depths(["cleanup"]))["cleanup"]["waiting"] == 2
        assert await broker.aredis.ping() and broker.redis.ping()  # redis-py, async and sync
        health = RedisHealth(broker)
        await health.connect()
        assert health.policy == "noeviction"
    finally:
        await broker.close()
    assert "wrong version number" not in tls_redis.log()[logged:]


async def test_tls_files_may_come_as_url_options(tls_redis, pki, namespace):
    files = tls_files(pki[0])
    url = (f"rediss://127.0.0.1:{tls_redis.port}/0?ssl_ca_certs={files.ca_certs}"
           f"&ssl_certfile={files.certfile}&ssl_keyfile={files.keyfile}")
    broker = make_broker(connection.parse(url), namespace)
    try:
        await broker.probe()
        await broker.aredis.ping()
    finally:
        await broker.close()


async def test_a_wrong_ca_is_not_ready_and_says_certificate(tls_redis, pki, namespace):
    wrong = connection.Tls(ca_certs=str(pki[1].cert), certfile=str(pki[0].dir / "client.crt"),
                           keyfile=str(pki[0].dir / "client.key"))
    broker = make_broker(connection.parse(f"rediss://127.0.0.1:{tls_redis.port}/0", tls=wrong), namespace)
    health = RedisHealth(broker)
    try:
        for check in (health.clients, health.scripts):
            with pytest.raises(NotReady) as caught:
                await check()
            assert "TLS" in str(caught.value) and "certificate" in str(caught.value), caught.value
    finally:
        await broker.close()


async def test_plain_tcp_to_a_tls_port_fails_fast_and_bounded(tls_redis, namespace):
    """A redis:// URL pointed at a TLS port: every call ends within its timeouts, none hangs."""
    target = connection.parse(f"redis://127.0.0.1:{tls_redis.port}/0", connect_timeout_s=1, timeout_s=1)
    broker = make_broker(target, namespace)
    health = RedisHealth(broker)
    try:
        for check in (health.clients, health.scripts):
            with pytest.raises(NotReady):
                await asyncio.wait_for(check(), 5)
    finally:
        await broker.close()


def test_an_import_completes_over_tls_and_the_cli_reads_it(tls_redis, pki, sandbox, truth, daemon_env, tmp_path):
    ca = pki[0]
    logged = len(tls_redis.log())
    credentials = tmp_path / "credentials"  # the client key and certificate as systemd credentials
    credentials.mkdir()
    (credentials / "theset_redis_tls_cert").write_bytes((ca.dir / "client.crt").read_bytes())
    (credentials / "redis_tls_key").write_bytes((ca.dir / "client.key").read_bytes())
    env = {
        **daemon_env,
        "THESET_REDIS_URL": f"rediss://127.0.0.1:{tls_redis.port}/0",
        "THESET_REDIS_TLS_CA_CERT": str(ca.cert),
        "CREDENTIALS_DIRECTORY": str(credentials),
    }
    daemon = start_daemon(env, sandbox)
    try:
        status, body = daemon.get("/readyz")
        assert status == 200, body
        _, events = run_import(daemon, truth.demo_attraction_id)
        assert events[-1][0] == "done" and events[-1][1]["status"] == "completed", events[-3:]
        cli = subprocess.run([sys.executable, "-m", "theset_daemon.cli.main", "queues", "--json"], env=env, cwd=REPO,
                             capture_output=True, text=True, timeout=60)
        assert cli.returncode == 0, cli.stderr
        overview = json.loads(cli.stdout)
        assert overview["queues"] and overview["daemons"], overview  # read over TLS: the daemon's heartbeat is there
    finally:
        daemon.stop()
    assert "wrong version number" not in tls_redis.log()[logged:], "a client spoke plain TCP to the TLS port"


def test_a_daemon_with_the_wrong_ca_is_not_ready_naming_tls(tls_redis, pki, sandbox, daemon_env):
    env = {**daemon_env, **sandbox.env, "THESET_ACTOR_MODULES": "actors",
           "THESET_REDIS_URL": f"rediss://127.0.0.1:{tls_redis.port}/0?ssl_ca_certs={pki[1].cert}"}
    daemon = DaemonProcess(env).start()
    try:
        reason = ""
        for _ in range(100):  # bounded: up to ~20 s for the side server and a check
            try:
                status, body, _ = call(daemon, "GET", "/readyz", token=ADMIN_TOKEN, timeout=3)  # reasons: admin only
            except OSError:
                status, body = 0, {}
            if status == 503 and isinstance(body, dict) and "certificate" in json.dumps(body):
                reason = json.dumps(body)
                break
            time.sleep(0.2)
        assert "TLS" in reason and "certificate" in reason, (status, body, daemon.read_log()[-2000:])
        assert daemon.get("/healthz")[0] == 200
    finally:
        daemon.stop()
