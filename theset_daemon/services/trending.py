"""Trending artists: scored in PostgreSQL, published to Redis, flagged on the artist rows.

The score is one SQL statement, ``sql/queries/trending.sql`` (votes x10,
upcoming shows x5, popularity x2, followers capped, views x3, a recency
bonus), ranking the three timeframes at once. For each timeframe the top
:data:`TOP_N` go to Redis for the web app:

* ``{ns}:trending:{timeframe}`` — a JSON array of the ranked artists
  (``artistId``, ``name``, ``slug``, ``imageUrl``, ``score``, ``rank``,
  ``votes``, ``views``, ``upcomingShows``), expiring after the timeframe's TTL;
* ``{ns}:trending:artist:{artist_id}:{timeframe}`` — that artist's rank
  (same TTL); the keys of artists who dropped out are deleted.

The artist flags (``is_trending``, ``trending_score``, ``trending_rank``)
follow :data:`FLAG_TIMEFRAME`, all rows updated in one transaction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
import orjson
import redis.asyncio as aioredis

from ..store.artists import set_trending, trending_scores

#: Artists kept per timeframe.
TOP_N = 50
#: PostgreSQL work_mem for the statement (its aggregates over a week of votes sort in memory).
WORK_MEM = "64MB"
#: The timeframe whose ranking sets the artist flags.
FLAG_TIMEFRAME = "daily"


@dataclass(frozen=True)
class Timeframe:
    """A trending window and how long its ranking is cached (seconds)."""

    name: str
    window: timedelta
    ttl_s: int


TIMEFRAMES: dict[str, Timeframe] = {
    "hourly": Timeframe("hourly", timedelta(hours=1), 3600),
    "daily": Timeframe("daily", timedelta(days=1), 86_400),
    "weekly": Timeframe("weekly", timedelta(days=7), 3 * 86_400),
}


@dataclass(frozen=True)
class TrendingArtist:
    """One ranked artist and the factors of its score."""

    artist_id: str
    name: str
    slug: str
    image_url: str | None
    score: float
    rank: int
    votes: int
    views: int
    upcoming_shows: int

    def to_json(self) -> dict[str, Any]:
        return {
            "artistId": self.artist_id, "name": self.name, "slug": self.slug, "imageUrl": self.image_url,
            "score": round(self.score, 4), "rank": self.rank, "votes": self.votes, "views": self.views,
            "upcomingShows": self.upcoming_shows,
        }


def list_key(namespace: str, timeframe: str) -> str:
    return f"{namespace}:trending:{timeframe}"


def rank_key(namespace: str, artist_id: str, timeframe: str) -> str:
    return f"{namespace}:trending:artist:{artist_id}:{timeframe}"


async def trending_rankings(
    conn: asyncpg.Connection | asyncpg.Pool, *, as_of: datetime, limit: int = TOP_N
) -> dict[str, list[TrendingArtist]]:
    """The ranked artists of every timeframe ending at ``as_of`` (one statement)."""
    frames = list(TIMEFRAMES.values())
    rows = await trending_scores(conn, [f.window for f in frames], as_of, limit, work_mem=WORK_MEM)
    rankings: dict[str, list[TrendingArtist]] = {f.name: [] for f in frames}
    for r in rows:
        ranked = rankings[frames[r["timeframe"] - 1].name]
        ranked.append(TrendingArtist(str(r["id"]), r["name"], r["slug"], r["image_url"], r["score"],
                                     len(ranked) + 1, r["votes"], r["views"], r["upcoming_shows"]))
    return rankings


async def publish(redis: aioredis.Redis, namespace: str, timeframe: Timeframe, artists: list[TrendingArtist]) -> None:
    """Write the ranking and the rank keys (one MULTI); drop the rank keys of artists who fell out."""
    key = list_key(namespace, timeframe.name)
    previous = await redis.get(key)
    kept = {a.artist_id for a in artists}
    gone = [p["artistId"] for p in orjson.loads(previous)] if previous else []
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(key, orjson.dumps([a.to_json() for a in artists]), ex=timeframe.ttl_s)
        for artist in artists:
            pipe.set(rank_key(namespace, artist.artist_id, timeframe.name), artist.rank, ex=timeframe.ttl_s)
        stale = [rank_key(namespace, a, timeframe.name) for a in gone if a not in kept]
        if stale:
            pipe.delete(*stale)
        await pipe.execute()


async def set_artist_flags(conn: asyncpg.Connection, artists: list[TrendingArtist]) -> None:
    """Flag exactly ``artists`` as trending with their score and rank (one transaction)."""
    await set_trending(conn, [a.artist_id for a in artists], [a.score for a in artists], [a.rank for a in artists])

async def calculate_trending(
    pool: asyncpg.Pool, redis: aioredis.Redis, namespace: str, *,
    as_of: datetime | None = None, timeframes: tuple[str, ...] = tuple(TIMEFRAMES),
) -> dict[str, list[TrendingArtist]]:
    """Score, publish and flag every timeframe; return the rankings by timeframe."""
    as_of = as_of or datetime.now(timezone.utc)
    computed = await trending_rankings(pool, as_of=as_of)
    rankings = {name: computed[name] for name in timeframes}
    for name, ranked in rankings.items():
        await publish(redis, namespace, TIMEFRAMES[name], ranked)
    if FLAG_TIMEFRAME in rankings:
        async with pool.acquire() as conn:
            await set_artist_flags(conn, rankings[FLAG_TIMEFRAME])
    return rankings


def summary(rankings: dict[str, list[TrendingArtist]]) -> dict[str, Any]:
    """Counts and the top artist per timeframe, for logs and job results."""
    return {name: {"count": len(r), "top": asdict(r[0]) if r else None} for name, r in rankings.items()}
