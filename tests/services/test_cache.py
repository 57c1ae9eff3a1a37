"""The cache: Redis first, the in-process LRU while Redis is down, tag invalidation, warmed artist pages."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
import redis.asyncio as aioredis

from tests.helpers.catalog_rows import add_artist, add_show, add_votes
from theset_daemon.services import cache as cache_mod
from theset_daemon.services.cache import Cache


@pytest.fixture
async def cache(private_redis) -> Cache:
    client = aioredis.Redis.from_url(private_redis.url, socket_connect_timeout=0.5)
    yield Cache(client, "t")
    await client.aclose()


async def test_served_from_the_local_cache_while_redis_is_stopped(cache, private_redis):
    await cache.set("page:1", {"n": 1}, volatility="standard", tags=["artist:1"])
    assert await cache.get("page:1") == {"n": 1}
    assert await cache.redis.ttl("t:cache:page:1") == cache_mod.TTL_S["standard"]

    private_redis.kill()
    assert await cache.get("page:1") == {"n": 1}  # no error: the LRU answers
    await cache.set("page:2", {"n": 2})  # written locally, Redis skipped
    assert await cache.get("page:2") == {"n": 2}
    assert await cache.get("missing") is None
    assert await cache.invalidate_tags("artist:1") == 1  # local only while Redis is down
    assert await cache.get("page:1") is None

    private_redis.start()  # empty again (no persistence)
    cache._redis_down_until = 0  # skip the back-off instead of waiting it out
    await cache.set("page:3", {"n": 3})
    assert await cache.redis.get("t:cache:page:3") == b'{"n":3}'


async def test_tag_invalidation_drops_every_key_of_the_tag_and_nothing_else(cache):
    await cache.set("artist:page:1", {"a": 1}, tags=["artist:1"])
    await cache.set("show:9", {"s": 9}, volatility="volatile", tags=["artist:1", "show:9"])
    await cache.set("artist:page:2", {"a": 2}, tags=["artist:2"])
    assert await cache.invalidate_tags("artist:1") == 2
    assert await cache.get("artist:page:1") is None and await cache.get("show:9") is None
    assert await cache.redis.exists("t:cache:artist:page:1", "t:cache:show:9", "t:cache:tag:artist:1") == 0
    assert await cache.get("artist:page:2") == {"a": 2}
    # The local copy went too: with Redis skipped, the LRU does not resurrect it.
    cache._redis_down_until = time.monotonic() + 60
    assert await cache.get("artist:page:1") is None and await cache.get("artist:page:2") == {"a": 2}


async def test_a_tag_lives_as_long_as_its_longest_key(cache):
    await cache.set("k1", 1, volatility="live", tags=["x"])
    await cache.set("k2", 2, volatility="stable", tags=["x"])
    await cache.set("k3", 3, volatility="live", tags=["x"])
    assert await cache.redis.ttl("t:cache:tag:x") == cache_mod.TTL_S["stable"]


async def test_warmed_artist_page_is_built_from_postgresql(catalog_pool, cache):
    async with catalog_pool.acquire() as conn:
        artist = await add_artist(conn, "Warm", 42, 1000)
        today = date.today()
        show = await add_show(conn, artist, today + timedelta(days=3))
        await add_show(conn, artist, today - timedelta(days=3))
        await add_votes(conn, show, artist, [timedelta(hours=1)] * 2)
    assert await cache_mod.warm_artist_pages(catalog_pool, cache, [artist, "00000000-0000-0000-0000-000000000000"]) == 1
    page = await cache.get(cache_mod.artist_page_key(artist))
    assert page["artist"]["name"] == "Warm" and page["artist"]["popularity"] == 42
    assert page["counts"] == {"songs": 1, "upcomingShows": 1, "setlists": 0, "votes": 2}
    assert [s["id"] for s in page["upcomingShows"]] == [show]
    assert page["topSongs"][0]["votes"] == 2
    assert await cache.invalidate_tags(cache_mod.artist_tag(artist)) == 1
