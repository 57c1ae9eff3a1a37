"""Helpers for the tests that run the broker in process (tests/broker/ and others): a broker on a test namespace, a running worker, waits."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from typing import AsyncIterator, Sequence

import pytest
import redis

from theset_daemon.runtime import encoder
from theset_daemon.broker import TheSetBroker, Worker
from theset_daemon.queues import JobDefaults, Priority, QueueSpec

encoder.install()

#: Short backoffs so retry tests take milliseconds.
FAST_DEFAULTS = JobDefaults(min_backoff_ms=50, max_backoff_ms=400, jitter=0.0)


def spec(name: str = "q", concurrency: int = 2, rate: float | None = None, priority: Priority = Priority.NORMAL):
    return QueueSpec(name, concurrency, rate, priority)


def make_broker(
    redis_url: str,
    namespace: str,
    queues: Sequence[QueueSpec],
    *,
    defaults: JobDefaults = FAST_DEFAULTS,
    lease_timeout_s: float = 30.0,
    host_id: str | None = None,
) -> TheSetBroker:
    return TheSetBroker(
        redis_url=redis_url,
        namespace=namespace,
        queues=queues,
        defaults=defaults,
        host_id=host_id or f"test-{uuid.uuid4().hex[:6]}",
        lease_timeout_s=lease_timeout_s,
    )


@contextlib.asynccontextmanager
async def running(broker: TheSetBroker, queues: Sequence[QueueSpec], **options) -> AsyncIterator[Worker]:
    """A started worker, drained on exit."""
    worker = Worker(broker, queues=queues, **options)
    await worker.start()
    try:
        yield worker
    finally:
        await worker.drain(1.0)


async def wait_for(predicate, timeout: float = 5.0, interval: float = 0.01) -> None:
    """Poll ``predicate`` (state in Redis has no event to await) until true or fail."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


def monitor_lines(redis_url: str, namespace: str, seconds: float) -> list[dict]:
    """MONITOR lines naming ``namespace`` during ``seconds`` (blocking; run in a thread).

    The window is closed by an ECHO of an end marker sent when it expires, so a
    quiet server (nothing else to report) ends it on time too.
    """
    client = redis.Redis.from_url(redis_url)
    poker = redis.Redis.from_url(redis_url)
    end_marker = f"{namespace}:monitor-window-end:{uuid.uuid4().hex}"
    timer = threading.Timer(seconds, poker.echo, args=(end_marker,))
    lines = []
    with client.monitor() as m:
        timer.start()
        for line in m.listen():
            if end_marker in line["command"]:
                break
            if namespace in line["command"]:
                lines.append(line)
    timer.join()
    poker.close()
    client.close()
    return lines


async def wait_for_state(broker, job_id: str, state: str, timeout: float = 5.0) -> None:
    """Poll the job record until it reaches ``state``."""
    await wait_for_async(lambda: broker.admin.find(job_id), lambda r: r is not None and r["state"] == state, timeout)


async def wait_for_async(fetch, check, timeout: float = 5.0) -> None:
    """Poll an async ``fetch`` until ``check`` accepts its value."""
    deadline = time.monotonic() + timeout
    while not check(await fetch()):
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        await asyncio.sleep(0.02)
