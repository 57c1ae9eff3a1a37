"""SSE fan-out benchmark on one daemon, printed as one JSON object.

    .venv/bin/python bench/sse.py [--distinct 1000] [--fans 5000] [--duration 30] [--client-procs 4]

One daemon subprocess (scratch database, fresh Redis namespace). ``--distinct``
clients each follow their own import and ``--fans`` clients follow one shared
import, all over loopback from ``--client-procs`` client processes (plain
HTTP/1.0 readers on asyncio: no JSON parsing on the client side, so the clients
cost the 2-core machine as little as possible). Once every stream has its
snapshot, this process reports progress for every import for ``--duration``
seconds (each distinct import every ``--period`` s, the shared one twice a
second) through the daemon's own :class:`ProgressReporter` (commit to
PostgreSQL, then XADD), then completes them all. Meanwhile it probes
``/readyz`` every 100 ms and ``GET /api/admin/queues`` every second.

Figures:

* ``delivery_ms``: event received by a client minus its stream id's time (the
  XADD's Redis clock, right after the report's commit), p50/p99/max over every
  progress and done event of every client; split into ``delivery_ms_distinct``
  (the clients on their own import) and ``delivery_ms_fans_of_one``;
* ``daemon_written_ms``: the daemon's own ``theset_sse_delivery_seconds``: from the
  stream id's time to the frame written to every caught-up client's socket of that
  import (upper bucket bounds of p50 and p99): the part the clients' scheduling
  on this shared machine does not add to;
* ``readyz_ms`` / ``admin_ms``: latency of each probe, with the count of non-200s;
* ``done``: streams that ended with their ``done`` event (must equal ``streams``);
* ``rss_mb_per_1000_streams``: the daemon's RSS with every stream open minus its
  RSS before, per 1,000 streams; ``sse_redis_connections``: the SSE path's
  connections (CLIENT LIST, named ``<namespace>:sse``) while streams are open.
"""

from __future__ import annotations

import os
import sys

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse
import asyncio
import random
import resource
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

PG_ADMIN = "postgresql://root@127.0.0.1:5432/postgres"
HOST = "127.0.0.1"
#: The bench daemon's secrets (32+ characters, as the daemon requires).
API_TOKEN, ADMIN_TOKEN, SSE_SECRET = (f"bench-{name}-" + "x" * 26 for name in ("token", "admin", "secret"))
#: Nothing listens there: the bench's imports are fake, and reconciliation may re-run their phase 1;
#: it must fail on loopback, never look up a provider's public host.
LOOPBACK_PROVIDERS = {
    f"THESET_{name}": "http://127.0.0.1:9/unused"
    for name in ("SPOTIFY_API_URL", "SPOTIFY_ACCOUNTS_URL", "TICKETMASTER_API_URL", "SETLISTFM_API_URL")
}


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1)))], 2)

    return {"n": len(ordered), "p50": at(0.5), "p99": at(0.99), "max": round(ordered[-1], 2)}


# --- client processes ---------------------------------------------------------------------


async def one_stream(port: int, path: str, latencies: list[float], outcome: dict[str, int], ready: list[int],
                     gate: asyncio.Semaphore, done_latencies: list[float]) -> None:
    """Follow one stream to its done event: each event's delivery time (ms) to ``latencies``, the done's
    also to ``done_latencies``."""
    try:
        async with gate:  # a bounded number of connects in flight: no SYN storm
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(f"GET {path} HTTP/1.0\r\nHost: {HOST}\r\nAccept: text/event-stream\r\n\r\n".encode())
            status = await reader.readline()
            if b" 200 " not in status:
                outcome["refused"] += 1
                writer.close()
                return
            while (await reader.readline()).strip():
                pass  # headers
    except OSError:
        outcome["refused"] += 1
        return
    snapshot, buffer = False, b""
    try:
        while data := await reader.read(65536):
            *frames, buffer = (buffer + data).split(b"\n\n")
            now_ms = time.time() * 1000
            for frame in frames:
                fields = dict(line.split(b": ", 1) for line in frame.split(b"\n") if b": " in line and line[:1] != b":")
                name, event_id = fields.get(b"event"), fields.get(b"id")
                if name == b"snapshot" and not snapshot:
                    snapshot = True
                    ready[0] += 1
                elif name in (b"progress", b"done") and event_id:
                    latencies.append(now_ms - int(event_id.split(b"-")[0]))
                    if name == b"done":
                        done_latencies.append(latencies[-1])
                        outcome["done"] += 1
                        return
                elif name == b"reconnect":
                    outcome["reconnect"] += 1
                    if not snapshot:
                        outcome["refused"] += 1  # settled without a stream
                    return
        outcome["closed"] += 1
    except OSError:
        outcome["closed"] += 1
    finally:
        writer.close()


async def client_main(port: int, paths: list[str]) -> None:
    raise_nofile()
    latencies: dict[bool, list[float]] = {True: [], False: []}  # by "a fan of the shared import"
    outcome = {"done": 0, "reconnect": 0, "closed": 0, "refused": 0}
    ready = [0]
    gate = asyncio.Semaphore(64)
    done: list[float] = []
    tasks = [asyncio.ensure_future(one_stream(port, p, latencies[fan], outcome, ready, gate, done)) for p, fan in paths]
    while ready[0] + outcome["refused"] < len(paths):
        await asyncio.sleep(0.1)
    print("ready", flush=True)
    await asyncio.gather(*tasks, return_exceptions=True)
    print(orjson.dumps({"fans": latencies[True], "distinct": latencies[False], "done_events": done, **outcome}).decode(),
          flush=True)


# --- the bench ------------------------------------------------------------------------------


async def probe(url: str, every_s: float, stop: asyncio.Event, headers: dict[str, str] | None = None) -> dict:
    import aiohttp

    times, bad = [], 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        while not stop.is_set():
            began = time.perf_counter()
            try:
                async with http.get(url, headers=headers) as response:
                    await response.read()
                    bad += response.status != 200
            except Exception:  # noqa: BLE001 - a probe that fails counts as a failure
                bad += 1
            times.append((time.perf_counter() - began) * 1000)
            try:
                await asyncio.wait_for(stop.wait(), every_s)
            except asyncio.TimeoutError:
                pass
    return {**percentiles(times), "non_200": bad}


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def profile(pid: int, out: str, duration: float) -> subprocess.Popen[bytes]:
    """py-spy (if installed beside this Python) sampling the daemon while reports flow, collapsed stacks to ``out``."""
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen([str(spy), "record", "--pid", str(pid), "--duration", str(int(duration) + 15), "--rate", "200",
                             "--format", "raw", "--nonblocking", "--threads", "--gil", "--output", out], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def histogram_quantiles(metrics_text: str, name: str, qs: tuple[float, ...] = (0.5, 0.99)) -> dict[str, Any]:
    """Upper bucket bounds holding the ``qs`` quantiles of a Prometheus histogram (in ms), and its count."""
    buckets = []
    for line in metrics_text.splitlines():
        if line.startswith(f"{name}_bucket{{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float(bound), float(line.rsplit(" ", 1)[1])))
    if not buckets or not buckets[-1][1]:
        return {"n": 0}
    total = buckets[-1][1]
    found = {f"p{round(q * 100)}_le": next(b for b, c in buckets if c >= q * total) * 1000 for q in qs}
    return {"n": int(total), **found}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def produce(reporter: Any, distinct: list[str], shared: str, duration: float, period: float) -> int:
    from theset_daemon.imports import plan
    from theset_daemon.store import imports as imports_store

    sent = 0
    began = time.monotonic()

    async def one(import_id: str, every: float) -> None:
        nonlocal sent
        await asyncio.sleep(random.random() * every)
        step = 0
        while time.monotonic() - began < duration:
            step += 1
            await reporter.report(import_id, stage="catalog", progress=min(99, step), message=f"step {step}")
            sent += 1
            await asyncio.sleep(every)
        await reporter.report(import_id, stage=plan.DONE, progress=100, status=imports_store.STATUS_COMPLETED)
        sent += 1

    await asyncio.gather(*(one(i, period) for i in distinct), one(shared, 0.5))
    return sent


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    import asyncpg
    import redis.asyncio as aioredis

    from tests.helpers.environment import free_port
    from tests.helpers.daemon_process import DaemonProcess
    from theset_daemon.store import create_pool
    from theset_daemon.imports.progress import ProgressReporter
    from theset_daemon.imports.signing import sign_events_token

    run_id = uuid.uuid4().hex[:8]
    namespace, database = f"bench-sse-{run_id}", f"theset_bench_sse_{run_id}"
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'CREATE DATABASE "{database}"')
    await conn.close()
    database_url = f"postgresql://root@127.0.0.1:5432/{database}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("THESET_")}
    port = free_port()
    env.update(THESET_REDIS_URL="redis://127.0.0.1:6379/0", THESET_REDIS_NAMESPACE=namespace,
               THESET_DATABASE_URL=database_url, THESET_API_TOKEN=API_TOKEN, THESET_ADMIN_TOKEN=ADMIN_TOKEN,
               THESET_SSE_SECRET=SSE_SECRET, THESET_HTTP_PORT=str(port), THESET_LOG_LEVEL="WARNING",
               THESET_ACTOR_MODULES="theset_daemon.actors", **LOOPBACK_PROVIDERS)
    if args.readers:
        env["THESET_SSE_READERS"] = str(args.readers)
    daemon = DaemonProcess(env).start()
    clients: list[subprocess.Popen[bytes]] = []
    pool = redis = None
    try:
        await asyncio.to_thread(daemon.wait_ready, 60)
        pool = await create_pool(database_url, max_size=8)
        redis = aioredis.Redis.from_url(env["THESET_REDIS_URL"], max_connections=16)
        ids = [r["id"] for r in await pool.fetch(
            "insert into import_status (tm_attraction_id, status) select 'bench-' || gen_random_uuid()::text, "
            "'running' from generate_series(1, $1) returning id::text", args.distinct + 1)]
        # A phase row marked done: reconciliation leaves these job-less imports alone (no phase to re-run).
        await pool.execute("insert into import_phases (import_id, phase, state) "
                           "select unnest($1::uuid[]), 'artist', 'done'", ids)
        shared, distinct = ids[0], ids[1:]

        def path(import_id: str) -> str:
            return f"/api/imports/{import_id}/events?token={sign_events_token(SSE_SECRET, import_id, ttl_s=3600)}"

        paths = [(path(i), False) for i in distinct] + [(path(shared), True)] * args.fans
        random.shuffle(paths)
        rss_before = rss_mb(daemon.proc.pid)
        opened = time.monotonic()
        share = [paths[n::args.client_procs] for n in range(args.client_procs)]
        for chunk in share:
            proc = subprocess.Popen([sys.executable, __file__, "--client", str(port)], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, cwd=REPO)
            proc.stdin.write(orjson.dumps(chunk))
            proc.stdin.close()
            clients.append(proc)
        for proc in clients:
            assert (await asyncio.to_thread(proc.stdout.readline)).strip() == b"ready"
        open_s = time.monotonic() - opened
        await asyncio.sleep(2)
        rss_open = rss_mb(daemon.proc.pid)
        sse_conns = sum(1 for c in await redis.client_list() if c.get("name") == f"{namespace}:sse")

        stop = asyncio.Event()
        readyz = asyncio.ensure_future(probe(f"{daemon.url}/readyz", 0.1, stop))
        admin = asyncio.ensure_future(probe(f"{daemon.url}/api/admin/queues", 1.0, stop,
                                            {"Authorization": f"Bearer {ADMIN_TOKEN}"}))
        reporter = ProgressReporter(pool, redis, namespace)
        cpu_before, wall_before = cpu_s(daemon.proc.pid), time.monotonic()
        spy = profile(daemon.proc.pid, args.py_spy, args.duration) if args.py_spy else None
        sent = await produce(reporter, distinct, shared, args.duration, args.period)
        if spy is not None:
            await asyncio.to_thread(spy.wait)
        results = [orjson.loads(await asyncio.to_thread(proc.stdout.readline)) for proc in clients]
        daemon_cpu = (cpu_s(daemon.proc.pid) - cpu_before) / (time.monotonic() - wall_before)
        health = await asyncio.to_thread(daemon.get, "/healthz")
        scrape = await asyncio.to_thread(daemon.get, "/metrics")
        stop.set()
        fans = [x for r in results for x in r["fans"]]
        others = [x for r in results for x in r["distinct"]]
        streams = len(paths)
        return {
            "streams": streams, "distinct_imports": args.distinct, "fans_of_one": args.fans,
            "client_procs": args.client_procs, "duration_s": args.duration, "reports_sent": sent,
            "open_all_s": round(open_s, 2),
            "delivery_ms": percentiles(fans + others),
            "delivery_ms_distinct": percentiles(others), "delivery_ms_fans_of_one": percentiles(fans),
            "delivery_ms_done_events": percentiles([x for r in results for x in r["done_events"]]),  # all at once
            # the daemon's side: entry id time -> written to every caught-up fan's socket (bucket bounds)
            "daemon_written_ms": histogram_quantiles(scrape[1] if isinstance(scrape[1], str) else "",
                                                     "theset_sse_delivery_seconds"),
            "done": sum(r["done"] for r in results),
            "reconnect": sum(r["reconnect"] for r in results), "closed_early": sum(r["closed"] for r in results),
            "refused": sum(r["refused"] for r in results),
            "readyz_ms": await readyz, "admin_ms": await admin,
            "rss_mb_before": round(rss_before, 1), "rss_mb_open": round(rss_open, 1),
            "rss_mb_per_1000_streams": round((rss_open - rss_before) * 1000 / streams, 2),
            "sse_redis_connections": sse_conns,
            "daemon_cpu_share": round(daemon_cpu, 2),  # of one core, while reports flowed
            "daemon_loop_lag_p99_ms": health[1].get("loop_lag_p99_ms") if isinstance(health[1], dict) else None,
            "cores": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
        }
    finally:
        for proc in clients:
            if proc.poll() is None:
                proc.kill()
        if pool is not None:
            await pool.close()
        if redis is not None:
            async for key in redis.scan_iter(match=f"{namespace}:*", count=1000):
                await redis.delete(key)
            await redis.aclose()
        await asyncio.to_thread(daemon.stop)
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.close()


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--client":
        import uvloop

        uvloop.run(client_main(int(sys.argv[2]), orjson.loads(sys.stdin.buffer.read())))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distinct", type=int, default=1000, help="clients each on their own import")
    parser.add_argument("--fans", type=int, default=5000, help="clients on one shared import")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of progress reports")
    parser.add_argument("--period", type=float, default=5.0, help="seconds between reports of one distinct import")
    parser.add_argument("--client-procs", type=int, default=4, help="client processes (bounded, loopback only)")
    parser.add_argument("--readers", type=int, help="THESET_SSE_READERS for the daemon (default: the daemon's)")
    parser.add_argument("--py-spy", metavar="OUT", help="profile the daemon with py-spy (pip install py-spy) into OUT")
    args = parser.parse_args()
    args.client_procs = max(1, min(args.client_procs, 8))
    raise_nofile()
    import uvloop

    print(orjson.dumps(uvloop.run(bench(args))).decode())


if __name__ == "__main__":
    main()
