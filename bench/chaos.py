"""Proof under fire: three daemons, crashes, restarts, outages and bad input, with nothing lost.

    .venv/bin/python bench/chaos.py                      # the full run (~20 min)
    .venv/bin/python bench/chaos.py --soak-minutes 30    # longer soak, by hand
    .venv/bin/python bench/chaos.py --only sigkill,postgres_outage --soak-minutes 1

Three daemon processes (own ports, ``THESET_HOST_ID``), a private redis-server and a
private PostgreSQL cluster (initdb'd in a temp dir; the machine's shared Redis and
PostgreSQL are never touched), the sandbox with faults on for the whole run (5 % of
requests: 500, 503, 30 s hangs, truncated bodies, 429 bursts), imports driven through
the HTTP API with an SSE client each (resuming with Last-Event-ID on any daemon). The
scenarios, in turn (``tests/chaos/``; the short form is ``tests/chaos/test_chaos.py``):

1. SIGKILL of the daemon running a catalogue phase (lease bound ``--lease-timeout``);
2. rolling restart: SIGTERM each daemon in turn, restarted after exit, while 20 imports run;
3. Redis killed and restarted empty mid-import (reconciliation every 2 s resumes the imports);
4. PostgreSQL stopped for ``--pg-outage`` seconds mid-import;
5. provider faults for the whole run (the summary row);
6. soak: ``--soak-minutes`` of steady load, RSS and Redis memory sampled, each daemon's event-loop lag
   (p50/p99/max of its ``/healthz`` every 250 ms);
7. bad input: malformed / oversized bodies, forged and expired SSE tokens, OpenAPI fuzzing
   (schemathesis, when ``GET /api/openapi.json`` is served), poison messages on queues.

After each: the database against the sandbox's ground truth, then one table. Exit status 1
if any promise broke (every problem is printed under the table). ``--json`` writes the rows.
"""

from __future__ import annotations

import os
import sys

# bench/queue.py would shadow the standard library's queue module: drop this folder from the path.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse
import asyncio
import json
import signal
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

from tests.chaos import scenarios  # noqa: E402
from tests.chaos.results import ScenarioResult, format_table  # noqa: E402
from tests.chaos.run import Chaos, ChaosParams  # noqa: E402

SCENARIOS = ("sigkill", "rolling_restart", "redis_restart", "postgres_outage", "soak", "bad_input")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--soak-minutes", type=float, default=10.0)
    ap.add_argument("--pg-outage", type=float, default=30.0, help="seconds PostgreSQL stays down")
    ap.add_argument("--rolling-imports", type=int, default=20)
    ap.add_argument("--stream-imports", type=int, default=10, help="imports running when Redis / PostgreSQL go away")
    ap.add_argument("--soak-concurrency", type=int, default=4)
    ap.add_argument("--lease-timeout", type=float, default=10.0)
    ap.add_argument("--drain-timeout", type=float, default=25.0)
    ap.add_argument("--fault-rate", type=float, default=0.05)
    ap.add_argument("--faults", default="500,503,timeout,truncated,429")
    ap.add_argument("--latency-ms", type=float, default=25.0)
    ap.add_argument("--jitter-ms", type=float, default=25.0)
    ap.add_argument("--fuzz-examples", type=int, default=50)
    ap.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}")
    ap.add_argument("--keep-logs", action="store_true", help="keep the daemons' log files (paths printed)")
    ap.add_argument("--json", type=Path, help="also write the rows (with notes and problems) here")
    args = ap.parse_args(argv)
    params = ChaosParams(
        lease_timeout=args.lease_timeout, drain_timeout=args.drain_timeout, fault_rate=args.fault_rate,
        faults=args.faults, latency_ms=args.latency_ms, jitter_ms=args.jitter_ms,
        rolling_imports=args.rolling_imports, stream_imports=args.stream_imports, pg_outage_s=args.pg_outage,
        soak_s=args.soak_minutes * 60, soak_concurrency=args.soak_concurrency, import_timeout=180.0,
        fuzz_examples=args.fuzz_examples, fuzz_time_s=180.0,
    )
    wanted = [s for s in args.only.split(",") if s]
    unknown = set(wanted) - set(SCENARIOS)
    if unknown:
        ap.error(f"unknown scenarios: {sorted(unknown)}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the private servers and daemons are stopped
    chaos = Chaos(params)
    chaos.keep_logs = args.keep_logs
    started = time.monotonic()
    try:
        chaos.start()
        for name in SCENARIOS:
            if name in wanted:
                try:
                    result = asyncio.run(getattr(scenarios, name)(chaos))
                except Exception as exc:  # the harness broke: a row with the problem, and the run goes on
                    result = ScenarioResult(name, problems=[f"harness error: {type(exc).__name__}: {exc}"])
                    chaos.results.append(result)
                print(f"[{time.monotonic() - started:6.0f}s] {result.name}: "
                      f"{'ok' if not result.problems else f'{len(result.problems)} problem(s)'}", file=sys.stderr, flush=True)
        rows = [*chaos.results, chaos.faults_summary()]
    finally:
        chaos.close()
    print(" ".join(["command:", sys.executable, *sys.argv]))
    print(format_table(rows))
    for r in rows:
        for note in r.notes:
            print(f"  {r.name}: {note}")
    problems = [(r.name, p) for r in rows for p in r.problems]
    for name, problem in problems:
        print(f"PROBLEM {name}: {problem}")
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in rows], indent=2, default=str))
    print(f"total {time.monotonic() - started:.0f}s; {'all promises kept' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
