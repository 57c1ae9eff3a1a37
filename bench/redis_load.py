"""What one import costs Redis and the providers, printed as one JSON object.

    .venv/bin/python bench/redis_load.py [--imports 12]

A private redis-server (so every command counted is ours), the sandbox with no
latency or limits, and a daemon subprocess; ``--imports`` ordinary acts are
imported back to back in parallel. Reports, per import: Redis commands
(``INFO`` ``total_commands_processed``, minus the idle rate measured first),
script calls (EVALSHA), jobs run, and provider requests by provider (the
daemon's ``theset_provider_requests``), with the peak memory. The README's
"Redis Cluster, on paper" section turns these into imports/day.
"""

from __future__ import annotations

import os
import sys

# bench/queue.py would shadow the standard library's queue module: drop this folder from the path.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse
import asyncio
import re
import time
import urllib.request
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

from tests.helpers.environment import daemon_environment, scratch_database  # noqa: E402
from tests.helpers.import_harness import SandboxProcess, kickoff, start_daemon  # noqa: E402
from tests.helpers.redis_servers import PrivateRedis  # noqa: E402
from theset_daemon.sandbox import Sandbox  # noqa: E402

IDLE_S = 3.0


def provider_requests(base_url: str) -> dict[str, float]:
    text = urllib.request.urlopen(base_url + "/metrics", timeout=10).read().decode()
    totals: dict[str, float] = {}
    for match in re.finditer(r'^theset_provider_requests_total\{([^}]*)\} ([0-9.e+]+)$', text, re.M):
        provider = re.search(r'provider="([^"]+)"', match.group(1)).group(1)
        totals[provider] = totals.get(provider, 0) + float(match.group(2))
    return totals


def jobs_run(base_url: str) -> float:
    text = urllib.request.urlopen(base_url + "/metrics", timeout=10).read().decode()
    return sum(float(m.group(1)) for m in re.finditer(r'^theset_jobs_total\{[^}]*outcome="completed"[^}]*\} ([0-9.e+]+)$', text, re.M))


async def run_imports(daemon, acts: list[str]) -> None:
    token = daemon.env["THESET_API_TOKEN"]
    started = [await kickoff(daemon.url, token, act) for act in acts]
    ids = [body["importId"] for status, body in started if status == 202]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        states = [orjson.loads(urllib.request.urlopen(urllib.request.Request(
            f"{daemon.url}/api/imports/{i}", headers={"Authorization": f"Bearer {token}"}), timeout=10).read())["status"]
            for i in ids]
        if all(s in ("completed", "failed") for s in states):
            if states.count("completed") != len(ids):
                raise SystemExit(f"imports ended {states}")
            return
        await asyncio.sleep(0.25)
    raise SystemExit("imports did not finish within 300 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imports", type=int, default=12)
    args = parser.parse_args()
    acts = [a.tm_id for a in Sandbox(7).truth.artists[4 : 4 + args.imports]]
    server = PrivateRedis().start()
    sandbox = SandboxProcess(seed=7)
    try:
        with scratch_database("theset_bench_redis") as database_url, server.client() as client:
            env = daemon_environment(server.url, "bench", database_url)
            daemon = start_daemon(env, sandbox)
            try:
                time.sleep(2)  # let boot-time schedules settle before measuring idle
                idle0 = client.info("stats")["total_commands_processed"]
                time.sleep(IDLE_S)
                idle_rate = (client.info("stats")["total_commands_processed"] - idle0 - 1) / IDLE_S
                before = client.info("stats")["total_commands_processed"]
                evalsha0 = client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
                jobs0, providers0 = jobs_run(daemon.url), provider_requests(daemon.url)
                started = time.monotonic()
                asyncio.run(run_imports(daemon, acts))
                wall = time.monotonic() - started
                commands = client.info("stats")["total_commands_processed"] - before - idle_rate * wall
                evalsha = client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0) - evalsha0
                jobs = jobs_run(daemon.url) - jobs0
                providers = {p: v - providers0.get(p, 0) for p, v in provider_requests(daemon.url).items()}
                memory = client.info("memory")
            finally:
                daemon.stop()
    finally:
        sandbox.stop()
        server.stop()
    n = len(acts)
    print(orjson.dumps({
        "imports": n,
        "wall_s": round(wall, 2),
        "redis_commands_per_import": round(commands / n),
        "script_calls_per_import": round(evalsha / n, 1),
        "jobs_per_import": round(jobs / n, 1),
        "provider_requests_per_import": {p: round(v / n, 1) for p, v in sorted(providers.items())},
        "idle_redis_cmds_per_s": round(idle_rate, 1),
        "redis_used_memory_peak_mb": round(memory["used_memory_peak"] / 1e6, 1),
    }).decode())


if __name__ == "__main__":
    main()
