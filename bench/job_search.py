"""How long a job search and a metrics scrape hold Redis, with a large backlog.

usage: .venv/bin/python bench/job_search.py [--jobs 50000] [--redis-url redis://127.0.0.1:6379/13]

Enqueues ``--jobs`` waiting jobs (one in 1,000 carries a needle in its arguments)
under a fresh ``bench-<id>`` namespace (deleted afterwards), no worker running, then
prints one JSON object:

* ``first_page_ms``: ``GET /api/jobs`` with no filter, 50 rows (QueueAdmin.search);
* ``needle_*``: a text search walked to the end: pages (limit 200), Lua calls (each
  looks at ``SCAN_BUDGET`` index entries at most), total ms, the slowest page and the
  slowest Lua call (one call blocks Redis for about that long), jobs found;
* ``scrape_ms``: the cluster gauges' read at scrape time (depths + metrics lead + INFO).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid

# bench/queue.py would shadow the standard library's queue module
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import dramatiq  # noqa: E402
import redis  # noqa: E402

from theset_daemon.runtime import encoder  # noqa: E402
from theset_daemon.broker import TheSetBroker  # noqa: E402
from theset_daemon.broker.admin import JobFilter, QueueAdmin  # noqa: E402
from theset_daemon.queues import QUEUES  # noqa: E402


async def run(jobs: int, redis_url: str) -> dict:
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    broker = TheSetBroker(redis_url=redis_url, namespace=namespace, queues=QUEUES, host_id="bench")
    dramatiq.set_broker(broker)

    @dramatiq.actor(queue_name="spotify_sync", broker=broker)
    async def sync_artist(artist_id: str) -> None: ...

    try:
        for start in range(0, jobs, 5000):
            batch = [sync_artist.message(f"artist-{n}" + ("-needle" if n % 1000 == 7 else ""))
                     for n in range(start, min(jobs, start + 5000))]
            await broker.enqueue_many_async(batch)
        admin = QueueAdmin(broker)
        lua_ms: list[float] = []
        run_script = broker.run_script

        async def timed(name, args):
            t0 = time.perf_counter()
            try:
                return await run_script(name, args)
            finally:
                if name == "admin_search":
                    lua_ms.append((time.perf_counter() - t0) * 1000)

        broker.run_script = timed
        started = time.perf_counter()
        page, _ = await admin.search(JobFilter(), limit=50)
        first_page_ms = (time.perf_counter() - started) * 1000
        calls, found, slowest, cursor = 0, 0, 0.0, None
        lua_ms.clear()
        started = time.perf_counter()
        while True:
            t0 = time.perf_counter()
            rows, cursor = await admin.search(JobFilter(text="NEEDLE"), limit=200, cursor=cursor)
            slowest = max(slowest, time.perf_counter() - t0)
            calls, found = calls + 1, found + len(rows)
            if cursor is None:
                break
        total_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        await broker.export_depths()
        scrape_ms = (time.perf_counter() - started) * 1000
        return {
            "jobs": jobs, "first_page_ms": round(first_page_ms, 2), "first_page_rows": len(page),
            "needle_pages": calls, "needle_lua_calls": len(lua_ms), "needle_total_ms": round(total_ms, 1),
            "needle_slowest_page_ms": round(slowest * 1000, 2), "needle_slowest_lua_call_ms": round(max(lua_ms), 2),
            "needle_median_lua_call_ms": round(sorted(lua_ms)[len(lua_ms) // 2], 2),
            "needle_found": found, "needle_expected": sum(1 for n in range(jobs) if n % 1000 == 7),
            "scrape_ms": round(scrape_ms, 2),
        }
    finally:
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{namespace}:*", count=1000):
            client.delete(key)
        client.close()
        await broker.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    encoder.install()
    print(json.dumps(asyncio.run(run(args.jobs, args.redis_url))))


if __name__ == "__main__":
    main()
