"""A day of provider quota, compressed: recurring syncs against fans' imports, printed as JSON.

    .venv/bin/python bench/quota.py [--scenario hourly|stock] [--reserve 0.3] [--day-s 144] [--imports 96]

Ticketmaster allows 5,000 calls a day. A real daemon (subprocess, real
scheduler actors, broker, budget) runs against the sandbox (in this process)
whose quotas reset ``--day-s`` seconds after a window's first call: one day
compressed 216× by default (an hour is 16.7 s; shorter days outrun the
``ticketmaster_sync`` queue's 20 jobs/s and the quota never binds). The providers' per-second limits
are lifted (at 5/s a real day's 432,000 Ticketmaster slots never bind; the
daily quota does).

* Recurring work: the ``sync-active-artists`` fan-out (profile + shows of the
  most active artists), run on the compressed clock through the admin API
  exactly as the scheduler enqueues it: ``hourly`` = every hour over 200
  artists (wants ~5,000 Ticketmaster calls a day, more than the quota's 70%),
  ``stock`` = the shipped cadence, every 6 h over 50 artists.
* Fans: ``--imports`` imports of other artists, evenly over the day, each
  followed on its SSE stream: completed or not, how long, and whether its
  status ever said ``waiting for <provider> quota``.

``--overhead N`` instead times what the budget adds to every provider call: N
spends (one Lua call each) and N Ticketmaster-style settles (the reply's
``Rate-Limit-*`` headers applied), against the local Redis.

Run it twice to see the point: ``--reserve 0.3`` (the default) and
``--reserve 0`` (recurring work may spend the day, as before the budget).
Printed: per window (day 1, then the first two hours of day 2, where the held
recurring work resumes) the calls by kind of work and the calls the budget
held (each held call postponed one job), the sandbox's own count, failed or
dead jobs, and the imports.
"""

from __future__ import annotations

import os
import sys

# bench/queue.py would shadow the standard library's queue module: drop this folder from the path.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import redis.asyncio as aioredis

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

from tests.helpers.daemon_process import DaemonProcess  # noqa: E402
from theset_daemon.cli.follow import follow_events, start_import  # noqa: E402
from theset_daemon.sandbox import run_sandbox  # noqa: E402

PG_ADMIN = "postgresql://root@127.0.0.1:5432/postgres"
TM_QUOTA = 5000
ADMIN_TOKEN = "bench-admin-token"
#: (artists per fan-out, fan-outs per day) of each scenario.
SCENARIOS = {"hourly": (200, 24), "stock": (50, 4)}
SCHEDULES = """
[[schedule]]
name = "sync-active-artists"
cron = "0 0 1 1 *"
actor = "sync_active_artists"
queue = "scheduled_sync"
payload = {{ limit = {limit} }}
priority = "NORMAL"
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


async def one_import(session: aiohttp.ClientSession, daemon: DaemonProcess, attraction: str) -> dict[str, Any]:
    began = time.perf_counter()
    started = await start_import(session, daemon.url, daemon.env["THESET_API_TOKEN"], attraction)
    final: dict[str, Any] = {}
    waited = False
    async for _, data in follow_events(session, started["eventsUrl"]):
        waited = waited or "waiting for" in str(data.get("message") or "")
        final = data
    return {"status": final.get("status"), "s": time.perf_counter() - began, "waited": waited}


async def seed_artists(database_url: str, world: Any, acts: range) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        rows = [(f"active-{i}", world.artists[i].name, world.artists[i].tm_id, world.artists[i].spotify_id) for i in acts]
        ids = await conn.fetch(
            """insert into artists (slug, name, tm_attraction_id, spotify_id)
               select * from unnest($1::text[], $2::text[], $3::text[], $4::text[]) returning id""",
            *map(list, zip(*rows)))
        # one page view each: every one of them is an "active" artist for the fan-out's query
        await conn.execute("insert into artist_views (artist_id) select unnest($1::uuid[])", [r["id"] for r in ids])
    finally:
        await conn.close()


async def run_day(args: argparse.Namespace, env: dict[str, str], database_url: str) -> dict[str, Any]:
    per_fan_out, fan_outs = SCENARIOS[args.scenario]
    hour_s = args.day_s / 24
    async with run_sandbox(seed=11, tm_daily_quota=TM_QUOTA, quota_window_s=args.day_s) as sb:
        world = sb.world
        recurring_acts = range(4, 4 + per_fan_out)
        fan_acts = [a.tm_id for a in world.artists[4 + per_fan_out:]][: args.imports]
        schedules = Path(tempfile.mkdtemp(prefix="theset-bench-")) / "schedules.toml"
        schedules.write_text(SCHEDULES.format(limit=per_fan_out))
        daemon = DaemonProcess({
            **env, **sb.settings_env(), "THESET_HTTP_PORT": str(free_port()), "THESET_SCHEDULES_FILE": str(schedules),
            "THESET_TICKETMASTER_DAILY_QUOTA": str(TM_QUOTA), "THESET_QUOTA_WINDOW": str(args.day_s),
            "THESET_QUOTA_RESERVE": str(args.reserve),
            "THESET_SPOTIFY_RATE": "1000", "THESET_TICKETMASTER_RATE": "1000", "THESET_SETLISTFM_RATE": "1000",
        })
        daemon.start()
        await asyncio.to_thread(daemon.wait_ready, 60)
        try:
            await seed_artists(database_url, world, recurring_acts)
            async with aiohttp.ClientSession() as session:
                run_url = f"{daemon.url}/api/admin/schedules/sync-active-artists/run"
                auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
                t0 = time.monotonic()

                async def fan_outs_on_the_clock() -> None:
                    every = 24 // fan_outs
                    for hour in range(0, 25, every):  # day 1, and the first fan-out of day 2
                        await asyncio.sleep(max(0.0, t0 + hour * hour_s - time.monotonic()))
                        async with session.post(run_url, headers=auth) as resp:
                            assert resp.status == 202, await resp.text()

                async def fans_on_the_clock() -> list[dict[str, Any]]:
                    tasks = []
                    for k, attraction in enumerate(fan_acts):
                        await asyncio.sleep(max(0.0, t0 + (k + 0.5) * args.day_s / len(fan_acts) - time.monotonic()))
                        tasks.append(asyncio.create_task(one_import(session, daemon, attraction)))
                    return list(await asyncio.gather(*tasks))

                _, imports = await asyncio.gather(fan_outs_on_the_clock(), fans_on_the_clock())
                # day 2's first hour: the held recurring work runs
                await asyncio.sleep(max(0.0, t0 + args.day_s + 2 * hour_s - time.monotonic()))
                async with session.get(f"{daemon.url}/api/admin/queues", headers=auth) as resp:
                    queues = (await resp.json())["queues"]
        finally:
            await asyncio.to_thread(daemon.stop)
        # counted after the daemon stopped: no call is in flight between the two reads
        return await collect(sb, env["THESET_REDIS_NAMESPACE"], imports, queues, args)


async def collect(sb: Any, ns: str, imports: list[dict[str, Any]], queues: list[dict[str, Any]],
                  args: argparse.Namespace) -> dict[str, Any]:
    client = aioredis.Redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True)
    try:
        key = f"{ns}:quota:ticketmaster"
        windows = [orjson.loads(w) for w in reversed(await client.lrange(f"{key}:history", 0, -1))]
        windows.append(await client.hgetall(key))
    finally:
        await client.aclose()

    def window(w: dict[str, Any]) -> dict[str, int]:
        return {k: int(w.get(k, 0) or 0) for k in ("used", "person", "recurring", "other", "held_person", "held_recurring")}

    sandbox = sb.state.limits.quotas["ticketmaster"]
    sandbox_windows = [calls for _, calls in sandbox.closed] + [sandbox.calls]
    seconds = [i["s"] for i in imports]
    return {
        "scenario": args.scenario, "reserve": args.reserve, "day_s": args.day_s, "compression": round(86400 / args.day_s),
        "ticketmaster": {
            "limit": TM_QUOTA,
            "windows": [window(w) for w in windows],  # day 1, then day 2 so far
            "sandbox_counted": sandbox_windows,
            "counts_agree": [window(w)["used"] for w in windows] == sandbox_windows,
            "quota_violations_seen": len([r for r in sb.requests("ticketmaster") if r.status == 429]),
        },
        "failed_or_dead_jobs": sum(q["counts"]["failed"] + q["counts"]["dead"] for q in queues),
        "imports": {
            "served": len(imports),
            "completed": sum(i["status"] == "completed" for i in imports),
            "waited_for_quota": sum(i["waited"] for i in imports),
            "p50_s": round(percentile(seconds, 0.5), 2), "p99_s": round(percentile(seconds, 0.99), 2),
            "max_s": round(max(seconds, default=0), 2),
            "max_compressed_h": round(max(seconds, default=0) / (args.day_s / 24), 2),
        },
    }


async def overhead(n: int) -> dict[str, Any]:
    from theset_daemon.providers.quota.rules import PERSON, ProviderReport, QuotaPolicy
    from theset_daemon.providers.quota.store import QuotaBudget

    client = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    ns = f"bench-{uuid.uuid4().hex[:8]}"
    budget = QuotaBudget(client, ns, QuotaPolicy("ticketmaster", 10 * n))
    spends, settles = [], []
    try:
        first = await budget.spend(PERSON, actor="sync_shows", job_id="j")
        for i in range(n):
            began = time.perf_counter()
            await budget.spend(PERSON, actor="sync_shows", job_id=f"j{i % 50}")
            spends.append((time.perf_counter() - began) * 1e6)
            began = time.perf_counter()
            await budget.settle(PERSON, report=ProviderReport(10 * n, 10 * n - i - 2, first.reset_ms))
            settles.append((time.perf_counter() - began) * 1e6)
    finally:
        for key in [k async for k in client.scan_iter(match=f"{ns}:*")]:
            await client.delete(key)
        await client.aclose()
    return {"calls": n, "spend_us_p50": round(percentile(spends, 0.5)), "spend_us_p99": round(percentile(spends, 0.99)),
            "settle_us_p50": round(percentile(settles, 0.5)), "settle_us_p99": round(percentile(settles, 0.99))}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="hourly")
    parser.add_argument("--reserve", type=float, default=0.3)
    parser.add_argument("--day-s", type=float, default=400.0,
                        help="seconds one compressed day lasts (the ticketmaster_sync queue runs ~20 jobs/s)")
    parser.add_argument("--imports", type=int, default=96, help="fans' imports over the day")
    parser.add_argument("--overhead", type=int, metavar="N", help="only time N budget spends and settles")
    args = parser.parse_args()
    if args.overhead:
        print(orjson.dumps(await overhead(args.overhead)).decode())
        return
    run_id = uuid.uuid4().hex[:8]
    database = f"theset_bench_{run_id}"
    database_url = f"postgresql://root@127.0.0.1:5432/{database}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("THESET_")}
    env.update(THESET_REDIS_URL="redis://127.0.0.1:6379/0", THESET_REDIS_NAMESPACE=f"bench-{run_id}",
               THESET_DATABASE_URL=database_url, THESET_API_TOKEN="bench-token", THESET_SSE_SECRET="bench-secret",
               THESET_ADMIN_TOKEN=ADMIN_TOKEN, THESET_ALLOW_PRIVATE_FETCH="true", THESET_ACTOR_MODULES="actors",
               THESET_LOG_LEVEL="WARNING")
    try:
        out = await run_day(args, env, database_url)
    finally:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await conn.close()
        import redis

        client = redis.Redis()
        for key in client.scan_iter(match=f"bench-{run_id}:*", count=1000):
            client.delete(key)
    print(orjson.dumps(out).decode())


if __name__ == "__main__":
    asyncio.run(main())
