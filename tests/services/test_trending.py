"""Trending: the score of sql/queries/trending.sql against a hand-computed fixture, Redis keys, flags."""

from __future__ import annotations

import uuid
from datetime import timedelta

import orjson
import pytest

from tests.helpers.catalog_rows import AS_OF, add_artist, add_show, add_views, add_votes
from theset_daemon.services import trending

@pytest.fixture
async def fixture_artists(catalog_pool) -> dict[str, str]:
    """A: active; B: popular, famous, idle; C: nothing (was trending); D: a little activity last week."""
    day = AS_OF.date()
    async with catalog_pool.acquire() as conn:
        a = await add_artist(conn, "A", 50, 2_000_000)
        b = await add_artist(conn, "B", 80, 50_000_000)
        c = await add_artist(conn, "C", 0, 0, is_trending=True, trending_rank=1)
        d = await add_artist(conn, "D", 10, 100_000)
        show_a = await add_show(conn, a, day + timedelta(days=10))
        await add_show(conn, a, day + timedelta(days=20))
        await add_show(conn, a, day + timedelta(days=5), status="cancelled")
        await add_show(conn, a, day - timedelta(days=5))
        show_d = await add_show(conn, d, day - timedelta(days=30))
        m = timedelta(minutes=1)
        await add_votes(conn, show_a, a, [30 * m] * 3 + [timedelta(hours=5)] * 2 + [timedelta(days=3)])
        await add_views(conn, a, [10 * m] * 4)
        await add_votes(conn, show_d, d, [timedelta(days=2)])
        await add_views(conn, d, [timedelta(days=6)] * 2)
    return {"A": a, "B": b, "C": c, "D": d}


#: Hand-computed: 10 x votes + 5 x upcoming + 2 x popularity + min(followers / 1e5, 100) + 3 x views
#: + 50 x (1 - age of the latest vote or view / window).
EXPECTED = {
    "hourly": [("B", 160 + 100), ("A", 30 + 10 + 100 + 20 + 12 + 50 * (1 - 600 / 3600)), ("D", 20 + 1)],
    "daily": [("B", 260), ("A", 50 + 10 + 100 + 20 + 12 + 50 * (1 - 600 / 86400)), ("D", 21)],
    "weekly": [("B", 260), ("A", 60 + 10 + 100 + 20 + 12 + 50 * (1 - 600 / 604800)),
               ("D", 10 + 6 + 20 + 1 + 50 * (1 - 2 * 86400 / 604800))],
}


async def test_scores_ranks_redis_keys_and_flags_match_the_hand_computation(catalog_pool, fixture_artists, async_redis, namespace):
    ids = fixture_artists
    # A stale ranking that still lists C: its rank key must go.
    await async_redis.set(trending.list_key(namespace, "daily"), orjson.dumps([{"artistId": ids["C"], "rank": 1}]))
    await async_redis.set(trending.rank_key(namespace, ids["C"], "daily"), 1)

    rankings = await trending.calculate_trending(catalog_pool, async_redis, namespace, as_of=AS_OF)

    for timeframe, expected in EXPECTED.items():
        got = [(a.name, a.score, a.rank) for a in rankings[timeframe]]
        assert [(n, r) for n, _, r in got] == [(n, i + 1) for i, (n, _) in enumerate(expected)], timeframe
        for (name, score, _), (_, want) in zip(got, expected):
            assert score == pytest.approx(want, abs=1e-6), (timeframe, name)
        stored = orjson.loads(await async_redis.get(trending.list_key(namespace, timeframe)))
        assert [s["artistId"] for s in stored] == [ids[n] for n, _ in expected]
        ttl = await async_redis.ttl(trending.list_key(namespace, timeframe))
        assert trending.TIMEFRAMES[timeframe].ttl_s - 5 < ttl <= trending.TIMEFRAMES[timeframe].ttl_s
        for rank, (name, _) in enumerate(expected, 1):
            assert await async_redis.get(trending.rank_key(namespace, ids[name], timeframe)) == str(rank).encode()
    assert await async_redis.exists(trending.rank_key(namespace, ids["C"], "daily")) == 0

    rows = {r["name"]: r for r in await catalog_pool.fetch("select name, is_trending, trending_score, trending_rank from artists")}
    assert {n for n, r in rows.items() if r["is_trending"]} == {"A", "B", "D"}
    assert rows["A"]["trending_rank"] == 2 and rows["A"]["trending_score"] == pytest.approx(EXPECTED["daily"][1][1])
    assert rows["C"]["trending_rank"] is None and rows["C"]["trending_score"] == 0


async def test_the_top_is_capped_and_ties_break_on_the_id(catalog_pool, async_redis, namespace):
    async with catalog_pool.acquire() as conn:
        ids = [await add_artist(conn, f"T{i}", 40, 0) for i in range(trending.TOP_N + 5)]
    ranked = (await trending.trending_rankings(catalog_pool, as_of=AS_OF))["daily"]
    assert len(ranked) == trending.TOP_N
    assert [a.artist_id for a in ranked] == sorted(ids, key=uuid.UUID)[: trending.TOP_N]
