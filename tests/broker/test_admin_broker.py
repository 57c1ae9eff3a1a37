"""QueueAdmin against real Redis and a real Worker: counts through every state transition,
job actions, dead-letter retry, purge, clean, pagination and the daemon heartbeat."""

from __future__ import annotations

import asyncio

import dramatiq
import pytest
from tests.helpers.broker import make_broker, running, spec, wait_for_async

from theset_daemon.broker import Permanent
from theset_daemon.broker.admin import (
    JobStateConflict,
    QueueAdmin,
    UnknownJob,
    UnknownQueue,
    decode_cursor,
)
from theset_daemon.queues import Priority


async def counts_become(admin: QueueAdmin, queue: str, **expected: int) -> dict:
    """Poll the overview until ``queue``'s counts include ``expected``; return them."""
    seen: dict = {}

    async def fetch() -> dict:
        seen.update(next(q for q in (await admin.overview())["queues"] if q["name"] == queue)["counts"])
        return seen

    await wait_for_async(fetch, lambda c: all(c[k] == v for k, v in expected.items()), timeout=5.0)
    return seen


@pytest.fixture
def ops(redis_url, namespace):
    queue = spec("ops", concurrency=2)
    broker = make_broker(redis_url, namespace, [queue], lease_timeout_s=2.0)
    release = asyncio.Event()
    state = {"doomed_fail": True, "flaky_calls": 0}

    @dramatiq.actor(queue_name="ops", broker=broker)
    async def hold(n: int) -> None:
        await release.wait()

    @dramatiq.actor(queue_name="ops", broker=broker, min_backoff=60_000, max_backoff=60_000)
    async def flaky() -> None:
        state["flaky_calls"] += 1
        if state["flaky_calls"] == 1:
            raise ConnectionResetError("provider hung up")

    @dramatiq.actor(queue_name="ops", broker=broker)
    async def doomed(artist: str) -> None:
        if state["doomed_fail"]:
            raise Permanent(f"bad artist {artist}")

    yield broker, queue, release, state, hold, flaky, doomed


async def test_counts_follow_every_state_transition(ops):
    broker, queue, release, state, hold, flaky, doomed = ops
    admin = QueueAdmin(broker)
    held = [await broker.enqueue_async(hold.message_with_options(args=(i,), priority="NORMAL")) for i in range(2)]
    urgent = await broker.enqueue_async(hold.message_with_options(args=(9,), priority="CRITICAL"))
    later = await broker.enqueue_async(hold.message_with_options(args=(10,), delay=60_000))

    [row] = (await admin.overview())["queues"]
    assert row["counts"] == {"waiting": 3, "delayed": 1, "active": 0, "completed": 0, "failed": 0, "dead": 0}
    assert row["waitingByPriority"] == {"CRITICAL": 1, "HIGH": 0, "NORMAL": 2, "LOW": 0, "BACKGROUND": 0}
    assert row["oldestWaitingAgeS"] is not None and 0 <= row["oldestWaitingAgeS"] < 5
    assert row["paused"] is False and row["concurrency"] == 2 and row["rateLimit"] is None
    assert len(row["throughputPerMin"]) == 15 and sum(row["throughputPerMin"]) == 0

    async with running(broker, [queue]) as worker:
        await counts_become(admin, "ops", waiting=1, active=2, delayed=1)
        job = await admin.job(urgent.message_id)
        assert job["state"] == "active" and job["priority"] == "CRITICAL" and job["attempts"] == 1
        assert job["args"] == [9] and job["owner"] == broker.host_id and job["maxAttempts"] == 3

        # the heartbeat names this daemon and the jobs it holds
        await worker.leases.check()
        [daemon] = (await admin.overview())["daemons"]
        assert daemon["hostId"] == broker.host_id and daemon["alive"] is True
        assert sorted(daemon["activeJobs"]) == sorted([urgent.message_id, held[0].message_id])

        release.set()
        await counts_become(admin, "ops", waiting=0, active=0, completed=3, delayed=1)
        [row] = (await admin.overview())["queues"]
        assert sum(row["throughputPerMin"]) == 3

        assert (await admin.promote(later.message_id))["state"] in ("waiting", "active", "completed")
        await counts_become(admin, "ops", delayed=0, completed=4)

        # an attempt fails: 'failed' (retry pending, a minute away) until promoted
        retried = await broker.enqueue_async(flaky.message())
        await counts_become(admin, "ops", failed=1, delayed=0, completed=4)
        jobs, _ = await admin.jobs("ops", "failed")
        assert [j["jobId"] for j in jobs] == [retried.message_id] and jobs[0]["error"] == "provider hung up"
        assert (await admin.job(retried.message_id))["history"][-1]["state"] == "failed"
        await admin.retry(retried.message_id)
        await counts_become(admin, "ops", failed=0, completed=5)

        # dead letters: listed with their story, then all retried with their data and completed
        dead = [await broker.enqueue_async(doomed.message(f"a{i}")) for i in range(3)]
        await counts_become(admin, "ops", dead=3, completed=5)
        letters = await admin.dead_letters("ops")
        assert {d["kwargs"] == {} and d["args"][0] for d in letters} == {"a0", "a1", "a2"}
        assert all(d["reason"] == "permanent" and d["excType"].endswith("Permanent") for d in letters)
        state["doomed_fail"] = False
        assert await admin.queue_action("ops", "retry-failed") == 3
        await counts_become(admin, "ops", dead=0, completed=8)
        revived = await admin.job(dead[1].message_id)
        assert revived["state"] == "completed" and revived["args"] == ["a1"] and revived["attempts"] == 1
        assert revived["failures"] == 1  # the failure story is kept

        # delete: a finished job goes; a running one is refused
        deleted = await admin.delete(held[0].message_id)
        assert deleted["state"] == "deleted"
        with pytest.raises(UnknownJob):
            await admin.job(held[0].message_id)
        await counts_become(admin, "ops", completed=7)
        release.clear()
        running_job = await broker.enqueue_async(hold.message(99))
        await counts_become(admin, "ops", active=1)
        with pytest.raises(JobStateConflict):
            await admin.delete(running_job.message_id)
        with pytest.raises(JobStateConflict):
            await admin.promote(running_job.message_id)

        # paused: enqueues are accepted and wait; purge drops them, not the running one
        assert await admin.pause("ops") == 1 and await admin.pause("ops") == 0
        waiting = [await broker.enqueue_async(hold.message(i)) for i in range(7)]
        await counts_become(admin, "ops", waiting=7, active=1)

        # pagination: newest first, no job twice, cursor until the end
        pages, cursor = [], None
        while True:
            page, cursor = await admin.jobs("ops", "waiting", limit=3, cursor=cursor)
            pages.append([j["jobId"] for j in page])
            if cursor is None:
                break
        assert [len(p) for p in pages] == [3, 3, 1]
        assert [job_id for page in pages for job_id in page] == [m.message_id for m in reversed(waiting)]

        assert await admin.queue_action("ops", "purge") == 7
        await counts_become(admin, "ops", waiting=0, active=1)
        release.set()
        assert await admin.resume("ops") == 1
        await counts_become(admin, "ops", active=0, completed=8)

        assert await admin.queue_action("ops", "clean", older_than_s=0) >= 8
        await counts_become(admin, "ops", completed=0)
    [daemon] = (await admin.overview())["daemons"]
    assert daemon["alive"] is False  # a clean stop says so at once
    await broker.close()


async def test_unknown_queue_job_and_bad_input(redis_url, namespace):
    broker = make_broker(redis_url, namespace, [spec("ops")])
    admin = QueueAdmin(broker)
    with pytest.raises(UnknownQueue):
        await admin.jobs("nope", "waiting")
    with pytest.raises(UnknownQueue):
        await admin.queue_action("nope", "purge")
    with pytest.raises(ValueError):
        await admin.jobs("ops", "sleeping")
    with pytest.raises(ValueError):
        decode_cursor("not-a-cursor")
    with pytest.raises(UnknownJob):
        await admin.retry("no-such-job")
    assert await admin.retry_dead(["no-such-job"]) == 0
    assert await admin.purge_dead() == 0
    assert (await admin.overview())["daemons"] == []
    await broker.close()


async def test_dead_letters_by_id_and_purge(ops):
    broker, queue, _, state, _, _, doomed = ops
    admin = QueueAdmin(broker)
    async with running(broker, [queue]):
        dead = [await broker.enqueue_async(doomed.message(f"a{i}")) for i in range(4)]
        await counts_become(admin, "ops", dead=4)
        state["doomed_fail"] = False
        assert await admin.retry_dead([dead[0].message_id, dead[0].message_id, "missing"]) == 1
        await counts_become(admin, "ops", dead=3, completed=1)
        assert await admin.purge_dead("ops") == 3
        await counts_become(admin, "ops", dead=0)
        assert await admin.dead_letters() == []
    await broker.close()


def test_priority_names_match_the_table():
    assert [p.name for p in Priority] == ["CRITICAL", "HIGH", "NORMAL", "LOW", "BACKGROUND"]
