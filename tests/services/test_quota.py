"""The daily budget on its own: the rules and the Redis store, no broker, no provider."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from theset_daemon.providers.quota.rules import PERSON, RECURRING, ProviderReport, QuotaPolicy, QuotaState, held_message, work_kind
from theset_daemon.providers.quota.forecast import QueuedJob, forecast
from theset_daemon.providers.quota.store import QuotaBudget


def budget(client: aioredis.Redis, namespace: str, limit: int = 10, reserve: float = 0.3, window_s: float = 3600) -> QuotaBudget:
    return QuotaBudget(client, namespace, QuotaPolicy("ticketmaster", limit, window_s, reserve))


async def redis_ms(client: aioredis.Redis) -> int:
    seconds, micros = await client.time()
    return seconds * 1000 + micros // 1000


async def spend_until_refused(b: QuotaBudget, kind: str, most: int = 100) -> int:
    for n in range(most):
        if not (await b.spend(kind)).allowed:
            return n
    raise AssertionError("never refused")


def test_kind_of_work_comes_from_the_job() -> None:
    assert work_kind({"import_id": "i1", "artist_id": "a"}, {}) == PERSON
    assert work_kind({"import_id": None, "artist_id": "a"}, {}) == RECURRING
    assert work_kind({"artist_id": "a"}, {"work": "person"}) == PERSON
    assert work_kind({"import_id": "i1"}, {"work": "recurring"}) == RECURRING
    assert work_kind({}, {"work": "nonsense"}) == RECURRING
    assert QuotaPolicy("ticketmaster", 5000, reserve=0.3).floor(RECURRING) == 1500
    assert QuotaPolicy("ticketmaster", 5000, reserve=0.3).floor(PERSON) == 0
    assert QuotaPolicy("spotify", 0, reserve=0.3).floor(RECURRING) == 0
    assert held_message("ticketmaster", 1_800_000_000_000) == "waiting for ticketmaster quota until 2027-01-15 08:00:00 UTC"


async def test_recurring_work_stops_at_the_reserve_and_people_spend_to_zero(async_redis, namespace) -> None:
    b = budget(async_redis, namespace, limit=10, reserve=0.3)
    assert await spend_until_refused(b, RECURRING) == 7
    refused = await b.spend(RECURRING)
    assert not refused.allowed and refused.hold_until_ms == refused.reset_ms and refused.remaining == 3
    assert await spend_until_refused(b, PERSON) == 3
    state = await b.state(await redis_ms(async_redis))
    assert (state.used, state.remaining, state.recurring_remaining) == (10, 0, 0)
    assert state.by_kind == {PERSON: 3, RECURRING: 7}
    assert state.held == {PERSON: 1, RECURRING: 2}
    assert state.reset_ms is not None and state.reset_ms - state.started_ms == 3_600_000


async def test_every_daemon_shares_one_budget(redis_url, namespace) -> None:
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(3)]
    try:
        budgets = [budget(c, namespace, limit=40, reserve=0.5) for c in clients]
        answers = await asyncio.gather(*(budgets[i % 3].spend(RECURRING) for i in range(90)))
        assert sum(a.allowed for a in answers) == 20
        state = await budgets[0].state(await redis_ms(clients[0]))
        assert state.used == 20 and state.held[RECURRING] == 70
    finally:
        for c in clients:
            await c.aclose()


async def test_a_window_closes_after_its_length_and_is_kept_in_the_history(async_redis, namespace) -> None:
    b = budget(async_redis, namespace, limit=4, reserve=0.5, window_s=0.3)
    assert await spend_until_refused(b, RECURRING) == 2
    held = await b.spend(RECURRING)
    await asyncio.sleep(max(0, held.hold_until_ms - await redis_ms(async_redis)) / 1000 + 0.01)  # the window's end
    assert (await b.state(await redis_ms(async_redis))).used == 0
    again = await b.spend(RECURRING)
    assert again.allowed and again.reset_ms > held.reset_ms
    [closed] = await b.history()
    assert (closed["used"], closed["recurring"], closed["held_recurring"]) == (2, 2, 2)


async def test_the_providers_count_reconciles_ours(async_redis, namespace) -> None:
    b = budget(async_redis, namespace, limit=5000, reserve=0.3)
    for _ in range(3):
        assert (await b.spend(PERSON, actor="sync_shows", job_id="j1")).allowed
    reset = (await b.spend(PERSON)).reset_ms + 2_000  # the provider's clock says a little later
    # Rate-Limit: 5000, Available: 4990 -> the provider counted 10 calls; we sent 4
    await b.settle(PERSON, report=ProviderReport(limit=5000, available=4990, reset_ms=reset))
    state = await b.state(await redis_ms(async_redis))
    assert (state.used, state.other, state.reset_ms) == (10, 6, reset)
    # a reply that left before our later calls says more is available: ours stands
    await b.settle(PERSON, report=ProviderReport(limit=5000, available=4995, reset_ms=reset))
    assert (await b.state(await redis_ms(async_redis))).used == 10
    # a late reply from a window that has closed changes nothing
    await b.settle(PERSON, report=ProviderReport(limit=5000, available=0, reset_ms=await redis_ms(async_redis) - 1))
    assert (await b.state(await redis_ms(async_redis))).used == 10
    # our counters lost mid-window (a flushed Redis): the provider's window and count are taken
    await async_redis.delete(b.key)
    await b.spend(PERSON)
    await b.settle(PERSON, report=ProviderReport(limit=5000, available=4000, reset_ms=reset - 1_800_000))
    state = await b.state(await redis_ms(async_redis))
    assert (state.used, state.reset_ms) == (1000, reset - 1_800_000)
    # a smaller limit from the provider moves the reserve with it
    await async_redis.delete(b.key)
    await b.spend(PERSON)
    await b.settle(PERSON, report=ProviderReport(limit=20, available=10, reset_ms=reset - 1_800_000))
    state = await b.state(await redis_ms(async_redis))
    assert (state.limit, state.remaining, state.recurring_remaining) == (20, 10, 4)


async def test_a_429_gives_the_call_back_and_a_quota_refusal_holds_everyone(async_redis, namespace) -> None:
    b = budget(async_redis, namespace, limit=100)
    await b.spend(RECURRING, actor="sync_shows", job_id="j1")
    await b.spend(RECURRING, actor="sync_shows", job_id="j1")
    await b.settle(RECURRING, actor="sync_shows", refund=True)
    now = await redis_ms(async_redis)
    state = await b.state(now)
    assert state.used == 1 and state.by_kind[RECURRING] == 1
    await b.settle(PERSON, refund=True, report=ProviderReport(exhausted_until_ms=now + 60_000))
    held = await b.spend(PERSON)
    assert not held.allowed and held.hold_until_ms == now + 60_000
    assert (await b.state(now)).held[PERSON] == 1


async def test_costs_per_job_are_learned_per_actor(async_redis, namespace) -> None:
    b = budget(async_redis, namespace, limit=0)
    for job, calls in (("a", 3), ("b", 1), ("c", 2)):
        for _ in range(calls):
            assert (await b.spend(RECURRING, actor="sync_shows", job_id=job)).allowed
    await b.spend(PERSON, actor="sync_venue_details", job_id="v")
    assert await b.costs() == {"sync_shows": pytest.approx(2.0), "sync_venue_details": 1.0}
    state = await b.state(await redis_ms(async_redis))
    assert state.remaining is None and state.used == 7  # no limit: counted only


def state(limit: int = 100, used: int = 0, reset_ms: int | None = 10_000, reserve: float = 0.3) -> QuotaState:
    return QuotaState("ticketmaster", limit, reserve, used, reset_ms, 0)


def test_the_forecast_prices_queued_jobs_and_warns_when_recurring_work_will_not_fit() -> None:
    queued = [QueuedJob("sync_shows", RECURRING)] * 50 + [QueuedJob("sync_venue_details", PERSON)] \
        + [QueuedJob("sync_shows", RECURRING, due_ms=20_000)] * 7 + [QueuedJob("sync_catalog", RECURRING)]
    costs = {"sync_shows": 1.2}  # learned; venue details fall back to the first guess (15)
    fits = forecast(state(used=10), queued, costs, now_ms=5_000)
    assert fits["expected"] == {PERSON: 15, RECURRING: 60} and fits["nextWindow"] == {PERSON: 0, RECURRING: 8}
    assert fits["jobs"] == {PERSON: 1, RECURRING: 50} and fits["recurringFits"] and fits["warning"] is None
    short = forecast(state(used=30), queued, costs, now_ms=5_000)
    assert short["recurringFits"] is False
    assert short["warning"].startswith("queued recurring work needs ~60 ticketmaster calls; 40 are left for it")
    assert forecast(state(limit=0, reset_ms=None), queued, costs, 5_000)["recurringFits"] is None
