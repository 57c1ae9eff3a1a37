"""The SSE hub's blocking XREAD fits inside the Redis client's socket timeout.

Found by the chaos run: redis-py 8.1 gives every client a 5 s socket timeout by
default, the hub blocked 5 s per XREAD, so every idle import stream logged
"progress stream ... unreadable, retrying: Timeout reading from ...", dropped
its connection and paused a second (READ_RETRY_S) before reading again.
"""

from __future__ import annotations

import logging
import uuid

import redis.asyncio as aioredis

from theset_daemon.imports.stream import ProgressHub


async def test_the_block_is_shorter_than_the_clients_socket_timeout(redis_url, namespace) -> None:
    client = aioredis.Redis.from_url(redis_url, max_connections=8)  # as the broker builds it
    try:
        timeout = client.connection_pool.connection_class(**client.connection_pool.connection_kwargs).socket_timeout
        hub = ProgressHub(client, namespace)
        assert timeout is None or hub.block_ms < timeout * 1000
    finally:
        await client.aclose()


async def test_an_idle_stream_is_read_without_timeouts(redis_url, namespace, caplog) -> None:
    client = aioredis.Redis.from_url(redis_url, max_connections=8)
    hub = ProgressHub(client, namespace)
    try:
        with caplog.at_level(logging.WARNING, logger="theset_daemon.imports.stream"):
            async with hub.subscribe(str(uuid.uuid4())) as sub:
                assert await sub.next(6.5) is None  # longer than one block and the socket timeout
        assert not [r for r in caplog.records if "unreadable" in r.getMessage()], caplog.text
    finally:
        await hub.close()
        await client.aclose()
