"""Benchmark the trending calculation on 100k artists and 1M votes (goal: under 2 s).

Creates a scratch database, fills it with generated data (artists, songs,
shows billed on artists, votes spread over 30 days, page views over 7 days),
then times ``trending.calculate_trending`` (the statement for the three
timeframes, Redis and the flags transaction) and the statement alone. Prints
one JSON object; the scratch database is dropped afterwards.

    .venv/bin/python bench/trending.py [--artists 100000] [--votes 1000000] [--runs 3]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on the path, and bench/queue.py would shadow the stdlib's queue.
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse  # noqa: E402
import asyncio  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

import asyncpg
import orjson
import redis.asyncio as aioredis

from theset_daemon.services import trending  # noqa: E402
from theset_daemon.store.migrate import migrate  # noqa: E402

FILL = """
insert into artists (slug, name, popularity, followers)
select 'a-' || g, 'Artist ' || g, (g::bigint * 7919) % 101, ((g::bigint * 104729) % 5000) * 1000
from generate_series(1, $1::int) g;

create temp table artist_ids as select row_number() over (order by id) as n, id from artists;
create index on artist_ids (n);

insert into songs (artist_id, name, dedup_key, popularity)
select a.id, 'Song ' || s, 'title:song ' || s, (a.n * s) % 100
from artist_ids a cross join generate_series(1, 2) s;

insert into shows (tm_event_id, artist_id, name, date, status)
select 'ev-' || a.n, a.id, 'Show ' || a.n, current_date + ((a.n % 120) - 30)::int,
       case when a.n % 50 = 0 then 'cancelled' else 'onsale' end
from artist_ids a where a.n % 2 = 0;
insert into show_artists (show_id, artist_id) select id, artist_id from shows;

create temp table song_ids as
select row_number() over (order by s.id) as n, s.id as song_id, sh.id as show_id
from songs s join shows sh on sh.artist_id = s.artist_id;
create index on song_ids (n);
"""

VOTES = """
insert into votes (show_id, song_id, user_id, created_at)
select s.show_id, s.song_id, 'u' || g, now() - (((g::bigint * 48271) % 2592000) || ' seconds')::interval
from generate_series(1, $1::int) g
join song_ids s on s.n = 1 + ((g::bigint * g::bigint) % $2::bigint)
"""

VIEWS = """
insert into artist_views (artist_id, viewed_at)
select a.id, now() - (((g::bigint * 16807) % 604800) || ' seconds')::interval
from generate_series(1, $1::int) g
join artist_ids a on a.n = 1 + ((g::bigint * 31) % $2::bigint)
"""


async def main(args: argparse.Namespace) -> dict:
    name = f"theset_bench_trending_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.admin_url)
    await admin.execute(f'create database "{name}"')
    url = f"{args.admin_url.rsplit('/', 1)[0]}/{name}"
    redis = aioredis.Redis.from_url(args.redis_url)
    namespace = f"bench-trending-{uuid.uuid4().hex[:6]}"
    try:
        await migrate(url)
        conn = await asyncpg.connect(url)
        started = time.perf_counter()
        await conn.execute(FILL.replace("$1::int", str(args.artists)))
        songs = await conn.fetchval("select count(*) from song_ids")
        await conn.execute(VOTES, args.votes, songs)
        await conn.execute(VIEWS, args.views, args.artists)
        await conn.execute("analyze")
        fill_s = time.perf_counter() - started
        counts = {t: await conn.fetchval(f"select count(*) from {t}") for t in ("artists", "songs", "shows", "votes", "artist_views")}
        await conn.close()

        pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
        if args.explain:
            frames = [f.window for f in trending.TIMEFRAMES.values()]
            plan = await pool.fetch("explain (analyze, buffers) " + trending.QUERY, *frames, datetime.now(timezone.utc), 50)
            print("\n".join(r[0] for r in plan), file=sys.stderr)
        statement: list[float] = []
        full: list[float] = []
        for _ in range(args.runs):
            now = datetime.now(timezone.utc)
            t0 = time.perf_counter()
            await trending.trending_rankings(pool, as_of=now)
            statement.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            rankings = await trending.calculate_trending(pool, redis, namespace, as_of=now)
            full.append(time.perf_counter() - t0)
        await pool.close()
        return {
            "bench": "trending", "rows": counts, "fill_s": round(fill_s, 1), "runs": args.runs,
            "statement_median_s": round(statistics.median(statement), 3),
            "calculate_trending_median_s": round(statistics.median(full), 3),
            "calculate_trending_max_s": round(max(full), 3),
            "goal_s": 2.0, "met": max(full) < 2.0,
            "top_daily": rankings["daily"][0].name if rankings["daily"] else None,
        }
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{namespace}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artists", type=int, default=100_000)
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--views", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--explain", action="store_true", help="print the statement's plan to stderr")
    parser.add_argument("--admin-url", default="postgresql://root@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    print(orjson.dumps(asyncio.run(main(parser.parse_args())), option=orjson.OPT_INDENT_2).decode())
