"""What holds the daemon's event loop during big imports, printed as one JSON object.

    .venv/bin/python bench/loop_lag.py [--slow-ms 5] [--latency-ms 80] [--jitter-ms 40]
    .venv/bin/python bench/loop_lag.py --stacks --workload soak [--soak-seconds 120] [--concurrency 4]

The sandbox runs in its own process at a realistic latency; the daemon runs in
this process on asyncio's own loop in debug mode, which reports every callback
that holds the loop longer than ``--slow-ms`` ("Executing <Task ...> took 0.031
seconds"). The big-catalogue and big-events acts are imported through the HTTP
API, one after the other (``--workload big``), or, like the chaos soak
(``--workload soak``), ordinary acts back to back by ``--concurrency`` web-app
clients for ``--soak-seconds`` with the chaos run's sandbox faults (5 % of
500/503/truncated/429) and its 25±25 ms latency; one daemon takes all the
load that the soak spreads over three. Output: the loop monitor's lag p50/p99/max over the
run, and the slow callbacks grouped by the coroutine (file:line) that ran,
with their count, total and worst time. Debug mode slows the loop itself
(it checks every callback): compare runs of this script, not with ``bench/import.py``.
"""

from __future__ import annotations

import os
import sys

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse
import asyncio
import gc
import itertools
import logging
import re
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

PG_ADMIN = "postgresql://root@127.0.0.1:5432/postgres"
API_TOKEN, SSE_SECRET = "bench-token-" + "x" * 26, "bench-secret-" + "x" * 26
_SLOW = re.compile(r"Executing (?P<what>.+?) took (?P<s>[0-9.]+) seconds")
_WHERE = re.compile(r"(?:coro=<(?P<coro>[\w.<>]+)\(\) (?:running|done)(?:, defined)? at (?P<at>[^>]+)>)|(?P<cb>[\w.]+\(\))")


class SlowCallbacks(logging.Handler):
    """Collect asyncio's "Executing ... took N seconds" warnings by where they ran."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.by_site: dict[str, list[float]] = defaultdict(list)

    def emit(self, record: logging.LogRecord) -> None:
        match = _SLOW.search(record.getMessage())
        if not match:
            return
        what = match["what"]
        where = _WHERE.search(what)
        site = (f"{where['coro']} at {where['at'].replace(str(REPO) + '/', '')}" if where and where["coro"]
                else (where["cb"] if where else what[:120]))
        self.by_site[site].append(float(match["s"]) * 1000)

    def report(self, top: int = 15) -> list[dict[str, Any]]:
        rows = [{"site": site, "count": len(ms), "total_ms": round(sum(ms), 1), "max_ms": round(max(ms), 1)}
                for site, ms in self.by_site.items()]
        return sorted(rows, key=lambda r: -r["total_ms"])[:top]


class HoldSampler:
    """Name what runs inside callbacks that hold the loop: the stdlib loop's ``Handle._run``
    is timed, and a thread samples the loop thread's stack every ``period`` seconds while
    one callback has run longer than ``slow`` seconds. Stacks are keyed by their
    innermost frames of theset_daemon (plus the innermost frame of all)."""

    def __init__(self, slow: float, period: float = 0.001) -> None:
        self.slow, self.period = slow, period
        self.started: float | None = None
        self.samples: dict[tuple[str, ...], int] = defaultdict(int)
        self.stop = threading.Event()
        self.loop_thread = threading.get_ident()
        self.current: list[tuple[str, ...]] = []
        self.holds: list[tuple[float, float, tuple[str, ...]]] = []
        self.gc_pauses: list[float] = []
        self.gc_slow: list[dict[str, Any]] = []
        self._gc_started = 0.0

    def install(self) -> None:
        original = asyncio.events.Handle._run
        sampler = self

        def _run(handle: asyncio.events.Handle) -> None:
            sampler.started = started = time.perf_counter()
            cpu = time.thread_time()
            sampler.current = []
            try:
                original(handle)
            finally:
                sampler.started = None
                held = time.perf_counter() - started
                if held >= sampler.slow and sampler.current:
                    top = max(set(sampler.current), key=sampler.current.count)
                    sampler.holds.append((held * 1000, (time.thread_time() - cpu) * 1000, top))

        asyncio.events.Handle._run = _run  # type: ignore[method-assign]
        gc.callbacks.append(self._gc)
        threading.Thread(target=self._watch, daemon=True).start()

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            ms = (time.perf_counter() - self._gc_started) * 1000
            self.gc_pauses.append(ms)
            if ms >= self.slow * 1000:
                self.gc_slow.append({"ms": round(ms, 1), "generation": info["generation"], "collected": info["collected"]})

    def _watch(self) -> None:
        while not self.stop.wait(self.period):
            started = self.started
            if started is None or time.perf_counter() - started < self.slow:
                continue
            frame = sys._current_frames().get(self.loop_thread)
            ours: list[str] = []
            innermost = f"{Path(frame.f_code.co_filename).name}:{frame.f_code.co_name}" if frame else "?"
            while frame is not None and len(ours) < 4:
                if "theset_daemon" in frame.f_code.co_filename:
                    ours.append(f"{frame.f_code.co_filename.split('theset_daemon/')[-1]}:{frame.f_lineno}:{frame.f_code.co_name}")
                frame = frame.f_back
            self.samples[(innermost, *ours)] += 1
            self.current.append((innermost, *ours))

    def report(self, top: int = 20) -> list[dict[str, Any]]:
        rows = sorted(self.samples.items(), key=lambda kv: -kv[1])[:top]
        return [{"ms": round(n * self.period * 1000), "innermost": key[0], "ours": list(key[1:])} for key, n in rows]

    def worst(self, top: int = 20) -> list[dict[str, Any]]:
        """The single callbacks that used the most CPU, each with its wall time and most sampled
        stack (wall time alone also counts waiting for the GIL and being descheduled)."""
        rows = sorted(self.holds, key=lambda h: -h[1])[:top]
        return [{"cpu_ms": round(cpu, 1), "held_ms": round(ms, 1), "innermost": key[0], "ours": list(key[1:])}
                for ms, cpu, key in rows]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1)))], 2) if ordered else 0.0


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp
    import asyncpg

    from tests.helpers.environment import free_port
    from tests.helpers.import_harness import SandboxProcess
    from theset_daemon.runtime import config
    from theset_daemon.runtime.daemon import Daemon
    from theset_daemon.cli.follow import follow_events, start_import
    from theset_daemon.sandbox import Sandbox

    loop = asyncio.get_running_loop()
    loop.slow_callback_duration = args.slow_ms / 1000
    sampler = HoldSampler(args.slow_ms / 1000) if args.stacks else None
    if sampler:
        sampler.install()
    slow = SlowCallbacks()
    logging.getLogger("asyncio").addHandler(slow)
    run_id = uuid.uuid4().hex[:8]
    database = f"theset_bench_loop_{run_id}"
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'CREATE DATABASE "{database}"')
    await conn.close()
    soak = args.workload == "soak"
    faults = ("--fault-rate", "0.05", "--faults", "500,503,truncated,429", "--tm-daily-quota", "10000000",
              "--setlistfm-daily-quota", "10000000") if soak else ()
    sandbox = SandboxProcess("--latency-ms", str(args.latency_ms), "--jitter-ms", str(args.jitter_ms), *faults, seed=11)
    truth = Sandbox(11).truth
    env = {**sandbox.env, "THESET_REDIS_NAMESPACE": f"bench-loop-{run_id}",
           "THESET_DATABASE_URL": f"postgresql://root@127.0.0.1:5432/{database}", "THESET_HTTP_PORT": str(free_port()),
           "THESET_API_TOKEN": API_TOKEN, "THESET_SSE_SECRET": SSE_SECRET, "THESET_ALLOW_PRIVATE_FETCH": "true",
           "THESET_ACTOR_MODULES": "theset_daemon.actors", "THESET_LOG_LEVEL": "WARNING"}
    if soak:  # as tests/chaos/run.py sets them
        env.update(THESET_SPOTIFY_RATE="50", THESET_TICKETMASTER_RATE="50", THESET_SETLISTFM_RATE="25",
                   THESET_TICKETMASTER_DAILY_QUOTA="10000000", THESET_SETLISTFM_DAILY_QUOTA="10000000")
    settings = config.load(env)
    daemon = Daemon(settings)
    serving = asyncio.ensure_future(daemon.run())
    out: dict[str, Any] = {}
    try:
        while not (daemon.worker is not None and daemon.worker.running):
            await asyncio.sleep(0.1)
        daemon.loop_monitor.samples.clear()
        if sampler:
            sampler.samples.clear()
            sampler.holds.clear()
            sampler.gc_pauses.clear()
            sampler.gc_slow.clear()
        began = time.monotonic()
        async with aiohttp.ClientSession() as session:

            async def follow(attraction: str) -> str | None:
                started = await start_import(session, settings.public_url, API_TOKEN, attraction)
                final: dict[str, Any] = {}
                async for _, data in follow_events(session, started["eventsUrl"]):
                    final = data
                return final.get("status")

            if soak:
                acts = itertools.cycle(a.tm_id for a in truth.artists[4:])  # the ordinary acts, as the chaos soak
                statuses: dict[str, int] = defaultdict(int)
                stop_at = time.monotonic() + args.soak_seconds

                async def client() -> None:
                    while time.monotonic() < stop_at:
                        statuses[str(await follow(next(acts)))] += 1

                await asyncio.gather(*(client() for _ in range(args.concurrency)))
                out["imports"] = dict(statuses)
            else:
                for label, attraction in (("big_catalogue", truth.big_catalogue_attraction_id),
                                          ("big_events", truth.big_events_attraction_id)):
                    out[label] = await follow(attraction)
        lags = [s * 1000 for s in daemon.loop_monitor.samples]
        out.update(wall_s=round(time.monotonic() - began, 2), slow_ms=args.slow_ms,
                   loop_lag_ms={"samples": len(lags), "p50": percentile(lags, 0.5), "p99": percentile(lags, 0.99),
                                "max": round(max(lags), 2) if lags else 0.0},
                   slow_callbacks=slow.report())
        if sampler:
            out["held_stacks"] = sampler.report()
            out["worst_callbacks"] = sampler.worst()
            out["slow_count"] = len(sampler.holds)
            out["cpu_over_5ms"] = sum(1 for h in sampler.holds if h[1] >= 5)
            kinds: dict[str, int] = defaultdict(int)
            for obj in gc.get_objects():  # what a full collection walks (gc.freeze() at boot hid the rest)
                kinds[type(obj).__qualname__] += 1
            out["gc_tracked"] = {"objects": sum(kinds.values()), "frozen": gc.get_freeze_count(),
                                 "top": sorted(kinds.items(), key=lambda kv: -kv[1])[:12]}
            out["gc_pauses_ms"] = {"count": len(sampler.gc_pauses), "over_5ms": sum(1 for p in sampler.gc_pauses if p >= 5),
                                   "max": round(max(sampler.gc_pauses, default=0.0), 1), "slow": sampler.gc_slow[:20]}
    finally:
        if sampler:
            sampler.stop.set()
        daemon.stop_requested.set()
        await asyncio.wait_for(serving, 60)
        sandbox.stop()
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.close()
        import redis

        client = redis.Redis()
        for key in client.scan_iter(match=f"bench-loop-{run_id}:*", count=1000):
            client.delete(key)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow-ms", type=float, default=5.0, help="report callbacks holding the loop longer")
    parser.add_argument("--latency-ms", type=int, default=80)
    parser.add_argument("--jitter-ms", type=int, default=40)
    parser.add_argument("--stacks", action="store_true",
                        help="sample the stack inside callbacks over --slow-ms (1 ms period); debug mode off")
    parser.add_argument("--workload", choices=("big", "soak"), default="big",
                        help="big: the big-catalogue and big-events acts; soak: the chaos soak's ordinary acts with faults")
    parser.add_argument("--soak-seconds", type=float, default=120.0)
    parser.add_argument("--concurrency", type=int, default=4, help="web-app clients in --workload soak")
    parser.add_argument("--profile", action="store_true", help="add the functions with the most own CPU time")
    args = parser.parse_args()
    if not args.profile:
        print(orjson.dumps(asyncio.run(run(args), debug=not args.stacks)).decode())
        return
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    out = profiler.runcall(asyncio.run, run(args), debug=True)
    stats = pstats.Stats(profiler)
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:30]  # by own time
    out["own_cpu_top"] = [{"fn": f"{Path(f).name}:{line}:{name}", "calls": cc, "own_ms": round(tt * 1000, 1),
                           "cum_ms": round(ct * 1000, 1)} for (f, line, name), (cc, nc, tt, ct, _) in rows]
    print(orjson.dumps(out).decode())


if __name__ == "__main__":
    main()
