"""The Redis target and the clients built from it, in process: URL parsing, bounded calls, keepalive."""

from __future__ import annotations

import asyncio
import socket

import pytest
from redis.asyncio.sentinel import SentinelManagedSSLConnection
from redis.exceptions import ResponseError, TimeoutError

from theset_daemon.broker import TheSetBroker, connection
from theset_daemon.broker.resp import AsyncResp, SyncResp


@pytest.mark.parametrize(
    "url, where, fields",
    [
        ("redis://127.0.0.1:6390/2", "redis://127.0.0.1:6390/2", {"db": 2, "tls": None}),
        ("rediss://u:p%40ss@127.0.0.1/0?ssl_cert_reqs=none", "rediss://127.0.0.1:6379/0",
         {"username": "u", "password": "p@ss"}),
        ("redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/jobs/1", "redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/jobs/1",
         {"service": "jobs", "db": 1, "sentinels": (("127.0.0.1", 26379), ("127.0.0.1", 26380))}),
        ("unix:///run/redis.sock?db=3", "unix:///run/redis.sock?db=3", {"path": "/run/redis.sock", "db": 3}),
    ],
)
def test_urls_parse_into_one_target(url, where, fields):
    target = connection.parse(url)
    assert target.where == where
    for name, value in fields.items():
        assert getattr(target, name) == value
    assert "p@ss" not in repr(target) and "pss" not in target.where


@pytest.mark.parametrize(
    "url, says",
    [
        ("http://127.0.0.1/0", "scheme"),
        ("redis://127.0.0.1/0?sslmode=on", "sslmode"),
        ("rediss://127.0.0.1/0?ssl_cert_reqs=maybe", "ssl_cert_reqs"),
        ("redis+sentinel://127.0.0.1:26379", "<service>"),
        ("redis://127.0.0.1/x", "db"),
    ],
)
def test_bad_urls_say_what_is_wrong(url, says):
    with pytest.raises(ValueError, match=says):
        connection.parse(url)


def test_the_password_given_apart_wins_and_tls_files_turn_tls_on():
    target = connection.parse("redis://user:old@127.0.0.1/0", password="new", tls=connection.Tls(ca_certs="/ca.pem"))
    assert target.password == "new" and target.username == "user"
    assert target.tls is not None and target.tls.ca_certs == "/ca.pem" and target.tls.cert_reqs == "required"


@pytest.fixture
async def silent_server():
    """A TCP server that accepts connections and never answers (a frozen or half-open Redis)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_every_client_gives_up_on_a_server_that_never_answers(silent_server):
    target = connection.parse(f"redis://127.0.0.1:{silent_server}/0", connect_timeout_s=0.5, timeout_s=0.5)
    hot = AsyncResp(target)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(hot.execute("PING"), 5)  # the watchdog ends it, not wait_for
    sync = SyncResp(target)
    with pytest.raises(TimeoutError):
        await asyncio.to_thread(sync._roundtrip, b"*1\r\n$4\r\nPING\r\n", 1)
    client = connection.async_client(target)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.ping(), 5)
    await client.aclose()
    await hot.close()
    sync.close()


async def test_the_hot_path_sets_keepalive_and_a_late_reply_does_not_abort_a_busy_connection(redis_url, namespace):
    broker = TheSetBroker(target=connection.parse(redis_url, timeout_s=0.3), namespace=namespace)
    try:
        await broker.probe()
        sock = broker._resp._protocol.transport.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == connection.KEEPALIVE[0]
        # Replies keep flowing for longer than the timeout in total: only silence counts.
        for _ in range(3):
            await asyncio.gather(*(broker.probe() for _ in range(50)))
            await asyncio.sleep(0.2)
        assert not broker._resp._protocol.closed
    finally:
        await broker.close()


@pytest.mark.parametrize(
    "error, permanent",
    [
        ("WRONGPASS invalid username-password pair or user is disabled.", True),
        ("ERR DB index is out of range", True),
        ("Connection refused", False),
        ("Timeout connecting to server", False),
    ],
)
def test_which_refusals_are_permanent(error, permanent):
    assert (connection.permanent_reason(ResponseError(error)) is not None) is permanent


def test_sentinel_with_tls_carries_tls_to_the_sentinels_and_the_primary():
    """(The TLS handshake itself is tested against a real server in test_redis_tls.py.)"""
    target = connection.parse("rediss+sentinel://127.0.0.1:26379,127.0.0.1:26380/jobs/2?ssl_ca_certs=/ca.pem",
                              password="pw")
    client = connection.async_client(target)
    pool = client.connection_pool
    assert pool.connection_class is SentinelManagedSSLConnection
    assert pool.connection_kwargs["ssl_ca_certs"] == "/ca.pem" and pool.connection_kwargs["db"] == 2
    assert pool.connection_kwargs["socket_timeout"] == target.timeout_s
    for node in pool.sentinel_manager.sentinels:
        kwargs = node.connection_pool.connection_kwargs
        assert kwargs["ssl_ca_certs"] == "/ca.pem" and kwargs["socket_connect_timeout"] == target.connect_timeout_s
