"""Readiness tells the truth about Redis: eviction policy, out of memory, read-only replica, ACL keys,
and it answers within its timeout whatever a check does. A private redis-server (reconfigured freely)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Iterator

import pytest
from redis.crc import key_slot

from tests.helpers.redis_servers import PrivateRedis
from theset_daemon.broker import TheSetBroker, connection
from theset_daemon.runtime.metrics import REDIS_MAXMEMORY_POLICY
from theset_daemon.runtime.readiness import NotReady, ReadinessCheck
from theset_daemon.runtime.redis_health import RedisHealth


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateRedis]:
    s = PrivateRedis().start()
    yield s
    s.stop()


@pytest.fixture
def admin(server):
    client = server.client()
    yield client
    client.config_set("maxmemory", 0)
    client.config_set("maxmemory-policy", "noeviction")
    client.replicaof("NO", "ONE")
    client.flushall()
    client.close()


@pytest.fixture
async def health(server, admin):
    broker = TheSetBroker(target=connection.parse(server.url, timeout_s=2), namespace="ready", host_id="h1")
    yield RedisHealth(broker)
    await broker.close()


def policy_metric(policy: str) -> float | None:
    for metric in REDIS_MAXMEMORY_POLICY.collect():
        for sample in metric.samples:
            if sample.labels.get("policy") == policy:
                return sample.value
    return None


async def test_allkeys_policy_is_not_ready_unless_allowed_and_volatile_warns(health, admin, caplog):
    await health.connect()
    await health.eviction()
    assert policy_metric("noeviction") == 1

    admin.config_set("maxmemory-policy", "allkeys-lru")
    await health.read_policy()
    with pytest.raises(NotReady, match="maxmemory-policy.*noeviction"):
        await health.eviction()
    assert policy_metric("allkeys-lru") == 1 and policy_metric("noeviction") is None
    health.allow_eviction = True
    await health.eviction()

    admin.config_set("maxmemory-policy", "volatile-lru")
    await health.read_policy()
    await health.eviction()
    assert any("volatile-lru" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)


async def test_config_get_refused_is_said_once_and_not_fatal(server, admin, caplog):
    caplog.set_level(logging.INFO, "theset_daemon.runtime.redis_health")
    admin.acl_setuser("noconfig", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-config"])
    broker = TheSetBroker(target=connection.parse(f"redis://noconfig@127.0.0.1:{server.port}/0", password="pw"),
                          namespace="ready", host_id="h2")
    health = RedisHealth(broker)
    try:
        await health.connect()  # ACL user with a password from outside the URL works on both clients
        await health.read_policy()
        await health.eviction()
        said = [r for r in caplog.records if "cannot read maxmemory-policy" in r.getMessage()]
        assert len(said) == 1 and health.policy is None and policy_metric("unknown") == 1
    finally:
        await broker.close()
        admin.acl_deluser("noconfig")


async def test_an_acl_user_without_the_namespace_keys_is_not_ready_on_either_client(server, admin):
    admin.acl_setuser("other", enabled=True, passwords=["+pw"], keys=["elsewhere:*"], commands=["+@all"])
    broker = TheSetBroker(target=connection.parse(f"redis://other:pw@127.0.0.1:{server.port}/0"),
                          namespace="ready", host_id="h3")
    health = RedisHealth(broker)
    try:
        for check in (health.clients, health.scripts):
            with pytest.raises(NotReady, match="may not use this namespace.s keys"):
                await check()
    finally:
        await broker.close()
        admin.acl_deluser("other")


async def test_out_of_memory_is_not_ready_naming_it(health, admin):
    await health.connect()
    admin.set("ballast", "x" * 2_000_000)
    admin.config_set("maxmemory", 1_000_000)  # below what is used: every write is refused
    for check in (health.clients, health.scripts):
        with pytest.raises(NotReady, match="out of memory"):
            await check()
    admin.delete("ballast")
    admin.config_set("maxmemory", 0)
    await health.clients()
    await health.scripts()


async def test_a_read_only_replica_is_not_ready_naming_it(health, admin):
    await health.connect()
    admin.config_set("replica-read-only", "yes")
    admin.replicaof("127.0.0.1", 1)  # nobody listens there: it stays a read-only replica
    for check in (health.clients, health.scripts):
        with pytest.raises(NotReady, match="read-only replica"):
            await check()
    admin.replicaof("NO", "ONE")
    await health.clients()
    await health.scripts()


async def test_readiness_answers_within_its_timeout_when_a_check_ignores_cancellation():
    release = asyncio.Event()

    async def stubborn() -> None:  # like a query on a frozen PostgreSQL: cancelling it waits too
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue

    readiness = ReadinessCheck(checks={"postgres": stubborn}, timeout_s=0.2)
    ready, report = await asyncio.wait_for(readiness.run(), 1.0)
    assert not ready and report["postgres"] == "timed out after 0.2s"
    release.set()


def _cluster_of_two() -> tuple[PrivateRedis, PrivateRedis]:
    nodes = (PrivateRedis("--cluster-enabled", "yes").start(), PrivateRedis("--cluster-enabled", "yes").start())
    try:
        with nodes[0].client() as a, nodes[1].client() as b:
            a.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 8191)
            b.execute_command("CLUSTER", "ADDSLOTSRANGE", 8192, 16383)
            a.execute_command("CLUSTER", "MEET", "127.0.0.1", nodes[1].port)
            deadline = time.monotonic() + 20
            while not all(c.cluster("info")["cluster_state"] == "ok" for c in (a, b)):
                assert time.monotonic() < deadline, "the two-node cluster did not form"
                time.sleep(0.1)
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return nodes


async def test_a_redis_cluster_endpoint_is_not_ready_naming_cluster():
    nodes = _cluster_of_two()
    try:
        # A namespace whose probe keys live on the other node than the one we talk to.
        namespace = next(ns for ns in (f"c{i}" for i in range(1000))
                         if key_slot(f"{ns}:host:h4:probe".encode()) >= 8192
                         and key_slot(f"{ns}:q:default:paused".encode()) >= 8192)
        broker = TheSetBroker(target=connection.parse(nodes[0].url), namespace=namespace, host_id="h4")
        health = RedisHealth(broker)
        try:
            for check in (health.clients, health.scripts):
                with pytest.raises(NotReady, match="Redis Cluster is not supported"):
                    await check()
        finally:
            await broker.close()
    finally:
        for node in nodes:
            node.stop()
