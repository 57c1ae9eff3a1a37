"""Retries with backoff, Permanent errors and dead letters with their story."""

from __future__ import annotations

import asyncio
import time

import dramatiq

from tests.helpers.broker import make_broker, running, spec, wait_for, wait_for_async, wait_for_state
from theset_daemon.broker import Permanent, current_job
from theset_daemon.broker.retries import backoff_ms, decide
from theset_daemon.queues import JobDefaults


class ProviderRejected(Permanent):
    """A provider's 4xx other than 429."""


def test_backoff_is_exponential_from_the_minimum_and_capped():
    delays = [backoff_ms(n, min_ms=2000, max_ms=300_000, jitter=0.0) for n in range(1, 12)]
    assert delays[:4] == [2000, 4000, 8000, 16000]
    assert max(delays) == 300_000
    jittered = [backoff_ms(1, min_ms=2000, max_ms=300_000, jitter=0.25) for _ in range(200)]
    assert all(2000 <= d <= 2500 for d in jittered) and len(set(jittered)) > 1


def test_attempt_budget_from_defaults_actor_and_message():
    defaults = JobDefaults()
    error = RuntimeError("x")
    assert decide(error, 2, {}, {}, defaults).retry
    assert decide(error, 3, {}, {}, defaults).reason == "attempts exhausted (3/3)"
    assert decide(error, 3, {}, {"max_retries": 5}, defaults).retry  # actor: 6 attempts
    assert not decide(error, 1, {"max_attempts": 1}, {"max_retries": 5}, defaults).retry  # message wins
    assert decide(ProviderRejected("404"), 1, {}, {}, defaults).reason == "permanent"
    assert decide(KeyError("k"), 1, {}, {"throws": (KeyError,)}, defaults).reason == "permanent"


async def test_failed_attempts_retry_with_backoff_then_succeed(redis_url, namespace):
    queue = spec("flaky")
    broker = make_broker(redis_url, namespace, [queue])
    attempts: list[tuple[int, float]] = []

    @dramatiq.actor(queue_name="flaky", broker=broker)
    async def flaky() -> None:
        attempts.append((current_job().attempt, time.monotonic()))
        if len(attempts) < 3:
            raise ConnectionResetError("provider hung up")

    async with running(broker, [queue]):
        message = await broker.enqueue_async(flaky.message())
        await wait_for(lambda: len(attempts) == 3)
        await wait_for_state(broker, message.message_id, "completed")
    assert [n for n, _ in attempts] == [1, 2, 3]
    gaps = [b - a for (_, a), (_, b) in zip(attempts, attempts[1:])]
    assert gaps[0] >= 0.045 and gaps[1] >= 0.095  # 50 ms, then 100 ms (FAST_DEFAULTS, no jitter)
    record = await broker.admin.find(message.message_id)
    assert record["attempts"] == 3 and record["failures"] == 2
    await broker.close()


async def test_exhausted_retries_dead_letter_with_their_story(redis_url, namespace):
    queue = spec("doomed")
    broker = make_broker(redis_url, namespace, [queue])

    @dramatiq.actor(queue_name="doomed", broker=broker, max_retries=1)
    async def doomed(artist_id: str, import_id: str | None = None) -> None:
        raise ValueError(f"bad payload for {artist_id}")

    async with running(broker, [queue]):
        message = await broker.enqueue_async(doomed.message("a1", import_id="imp-1"))
        await wait_for_state(broker, message.message_id, "dead")
    [dead] = await broker.admin.dead_records("doomed")
    assert dead["reason"] == "attempts exhausted (2/2)"
    assert dead["exc_type"] == "builtins.ValueError" and dead["error"] == "bad payload for a1"
    assert "ValueError: bad payload for a1" in dead["traceback"]
    assert dead["attempts"] == 2 and dead["failures"] == 2
    assert dead["first_failed_at"] < dead["last_failed_at"]
    assert dead["queue"] == "doomed" and dead["actor"] == "doomed"
    assert dead["message"].args == ("a1",) and dead["message"].kwargs == {"import_id": "imp-1"}
    assert (await broker.depths())["doomed"]["dead"] == 1
    await broker.close()


async def test_permanent_error_dead_letters_at_once(redis_url, namespace):
    queue = spec("strict")
    broker = make_broker(redis_url, namespace, [queue])
    calls = 0

    @dramatiq.actor(queue_name="strict", broker=broker)
    async def validate() -> None:
        nonlocal calls
        calls += 1
        raise ProviderRejected("404 artist not found")

    async with running(broker, [queue]):
        message = await broker.enqueue_async(validate.message())
        await wait_for_state(broker, message.message_id, "dead")
    assert calls == 1
    [dead] = await broker.admin.dead_records("strict")
    assert dead["reason"] == "permanent" and dead["exc_type"].endswith("ProviderRejected")
    await broker.close()


async def test_dead_letters_are_trimmed_after_their_ttl(redis_url, namespace):
    queue = spec("short")
    defaults = JobDefaults(max_attempts=1, dead_ttl_s=1)
    broker = make_broker(redis_url, namespace, [queue], defaults=defaults, lease_timeout_s=0.8)

    @dramatiq.actor(queue_name="short", broker=broker)
    async def fails() -> None:
        raise RuntimeError("no")

    async with running(broker, [queue]) as worker:
        message = await broker.enqueue_async(fails.message())
        await wait_for_state(broker, message.message_id, "dead")
        assert len(await broker.admin.dead_records("short")) == 1
        await asyncio.sleep(1.05)
        await asyncio.sleep(worker.leases.interval_s)  # the next periodic check trims it
        await wait_for_async(lambda: broker.admin.dead_records("short"), lambda v: v == [])
    assert await broker.admin.find(message.message_id) is None
    await broker.close()
