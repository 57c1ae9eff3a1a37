"""Postponed jobs (a provider's long 429) wait without spending an attempt; dead letters reach middleware."""

from __future__ import annotations

import time

import dramatiq
from redis import exceptions as redis_errors

from tests.helpers.broker import make_broker, running, spec, wait_for, wait_for_state
from theset_daemon.broker import Permanent, Postpone, current_job, worker
from theset_daemon.providers import ProviderThrottled


async def test_a_postponed_job_waits_then_runs_with_its_attempts_intact(redis_url, namespace):
    queue = spec("throttled")
    broker = make_broker(redis_url, namespace, [queue])
    runs: list[tuple[int, float]] = []

    @dramatiq.actor(queue_name="throttled", broker=broker, max_attempts=1)
    async def call_provider() -> None:
        runs.append((current_job().attempt, time.monotonic()))
        if len(runs) < 3:
            raise ProviderThrottled("spotify", "/tracks", retry_after=0.15)

    async with running(broker, [queue]):
        message = await broker.enqueue_async(call_provider.message())
        await wait_for_state(broker, message.message_id, "completed")
    assert [attempt for attempt, _ in runs] == [1, 1, 1], "a postponement is not an attempt"
    assert all(b - a >= 0.14 for (_, a), (_, b) in zip(runs, runs[1:]))
    record = await broker.admin.find(message.message_id)
    assert record["attempts"] == 1 and record["postpones"] == 2 and record.get("failures", 0) == 0
    await broker.close()


async def test_middleware_hears_of_every_dead_letter(redis_url, namespace):
    queue = spec("doomed")
    broker = make_broker(redis_url, namespace, [queue])
    heard: list[tuple[str, str]] = []

    class Listener(dramatiq.Middleware):
        def after_nack(self, broker, message):
            heard.append((message.actor_name, type(message._exception).__name__))

    broker.add_middleware(Listener())

    @dramatiq.actor(queue_name="doomed", broker=broker)
    async def reject() -> None:
        raise Permanent("unknown attraction")

    @dramatiq.actor(queue_name="doomed", broker=broker)
    async def wait_politely() -> None:
        raise Postpone("not yet", delay_ms=10_000)

    async with running(broker, [queue]):
        dead = await broker.enqueue_async(reject.message())
        later = await broker.enqueue_async(wait_politely.message())
        await wait_for_state(broker, dead.message_id, "dead")
        await wait_for_state(broker, later.message_id, "delayed")
        await wait_for(lambda: heard)
    assert heard == [("reject", "Permanent")]
    await broker.close()


async def test_redis_failing_a_jobs_own_calls_postpones_it_without_spending_an_attempt(redis_url, namespace, monkeypatch):
    monkeypatch.setattr(worker, "REDIS_RETRY_MS", 50)
    queue = spec("progressive")
    broker = make_broker(redis_url, namespace, [queue])
    faults = [redis_errors.OutOfMemoryError("command not allowed when used memory > 'maxmemory'."),
              redis_errors.ResponseError("OOM command not allowed when used memory > 'maxmemory'."),  # the hot path's reply
              redis_errors.ConnectionError("Redis connection lost")]
    runs: list[int] = []

    @dramatiq.actor(queue_name="progressive", broker=broker, max_attempts=1)
    async def report_progress() -> None:
        runs.append(current_job().attempt)
        if faults:
            raise RuntimeError("the progress XADD failed") from faults.pop(0)

    async with running(broker, [queue]):
        message = await broker.enqueue_async(report_progress.message())
        await wait_for_state(broker, message.message_id, "completed")
    record = await broker.admin.find(message.message_id)
    assert runs == [1, 1, 1, 1] and record["attempts"] == 1 and record["postpones"] == 3, (runs, record)
    await broker.close()
