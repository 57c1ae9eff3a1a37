"""The job search walk (QueueAdmin.search) in-process: every match once, across queues and states, whatever
the page size and the scan budget, and the cursor contract."""

from __future__ import annotations

import dramatiq
import pytest

from tests.helpers.broker import make_broker, running, spec, wait_for_state
from theset_daemon.broker import admin as admin_module
from theset_daemon.broker.admin import JobFilter, QueueAdmin, decode_cursor, encode_cursor


async def _walk(admin: QueueAdmin, where: JobFilter, limit: int) -> tuple[list[str], list[int]]:
    ids, sizes, cursor = [], [], None
    for _ in range(500):
        rows, cursor = await admin.search(where, limit=limit, cursor=cursor)
        ids += [r["jobId"] for r in rows]
        sizes.append(len(rows))
        if cursor is None:
            return ids, sizes
    raise AssertionError("the walk never ended")


@pytest.fixture
async def searched(redis_url, namespace):
    """Two queues: 'alpha' with 6 waiting, 2 delayed and 2 completed; 'beta' with 3 waiting and 1 dead."""
    queues = [spec("alpha"), spec("beta")]
    broker = make_broker(redis_url, namespace, queues)

    @dramatiq.actor(queue_name="alpha", broker=broker)
    async def tag_alpha(tag: str) -> None: ...

    @dramatiq.actor(queue_name="beta", broker=broker, max_retries=0)
    async def tag_beta(tag: str) -> None:
        raise ValueError(f"Refused {tag}")

    done = [await broker.enqueue_async(tag_alpha.message(f"done-{n}")) for n in range(2)]
    doomed = await broker.enqueue_async(tag_beta.message("doomed-Zed"))
    async with running(broker, queues):
        for message in [*done, doomed]:
            await wait_for_state(broker, message.message_id, "completed" if message in done else "dead")
    jobs = {
        "alpha_waiting": [await broker.enqueue_async(tag_alpha.message(f"a-{n}{'-zed' if n % 2 else ''}"))
                          for n in range(6)],
        "alpha_delayed": [  # due one second apart: newest (latest due) first is a strict order
            await broker.enqueue_async(tag_alpha.message_with_options(args=(f"later-{n}",), delay=600_000 + n * 1000))
            for n in range(2)],
        "beta_waiting": [await broker.enqueue_async(tag_beta.message(f"b-{n}-ZED")) for n in range(3)],
    }
    ids = {k: [m.message_id for m in v] for k, v in jobs.items()}
    ids["alpha_completed"] = [m.message_id for m in done]
    ids["beta_dead"] = [doomed.message_id]
    yield broker, QueueAdmin(broker), ids
    await broker.close()


@pytest.mark.parametrize(("budget", "calls", "limit"), [(1000, 20, 50), (1000, 20, 1), (2, 1, 3), (1, 1, 1), (3, 2, 4)])
async def test_every_match_once_whatever_the_page_and_the_budget(searched, monkeypatch, budget, calls, limit):
    _, admin, ids = searched
    monkeypatch.setattr(admin_module, "SCAN_BUDGET", budget)
    monkeypatch.setattr(admin_module, "SEARCH_CALLS", calls)
    everything, sizes = await _walk(admin, JobFilter(), limit)
    assert sorted(everything) == sorted(j for group in ids.values() for j in group)
    assert all(size <= limit for size in sizes)
    zed, _ = await _walk(admin, JobFilter(text="zed"), limit)  # args and error, case-insensitive
    assert sorted(zed) == sorted([*ids["alpha_waiting"][1::2], *ids["beta_waiting"], *ids["beta_dead"]])
    # order: queue by queue (table order), states in SEARCH_ORDER, newest first within each
    groups = ["alpha_waiting", "alpha_delayed", "alpha_completed", "beta_waiting", "beta_dead"]
    group_of = {j: groups.index(g) for g in groups for j in ids[g]}
    assert [group_of[j] for j in everything] == sorted(group_of[j] for j in everything)
    for group in ("alpha_waiting", "alpha_delayed", "beta_waiting"):
        assert [j for j in everything if j in ids[group]] == list(reversed(ids[group]))


async def test_filters_combine(searched):
    broker, admin, ids = searched
    dead, _ = await _walk(admin, JobFilter(state="dead", text="refused doomed"), 10)
    assert dead == ids["beta_dead"]
    assert (await _walk(admin, JobFilter(actor="tag_beta", queue="alpha"), 10))[0] == []
    beta_waiting, _ = await _walk(admin, JobFilter(actor="tag_beta", state="waiting"), 10)
    assert sorted(beta_waiting) == sorted(ids["beta_waiting"])
    first = await broker.admin.find(ids["alpha_waiting"][0])
    last = await broker.admin.find(ids["beta_waiting"][-1])
    between = JobFilter(state="waiting", since=first["enqueued_at"], until=last["enqueued_at"])
    window, _ = await _walk(admin, between, 10)
    assert set(ids["alpha_waiting"]) | set(ids["beta_waiting"]) == set(window)
    later, _ = await _walk(admin, JobFilter(since=last["enqueued_at"] + 60_000), 10)
    assert later == []


async def test_bad_cursors_and_states_are_refused(searched):
    _, admin, _ = searched
    with pytest.raises(ValueError):
        await admin.search(JobFilter(state="sleeping"))
    for cursor in ("not-a-cursor", encode_cursor("", "", 99), "bm9wZQ"):
        with pytest.raises(ValueError):
            await admin.search(JobFilter(), cursor=cursor)
    assert decode_cursor(encode_cursor("job-1", "12.0", 3)) == (3, "job-1", "12.0")
