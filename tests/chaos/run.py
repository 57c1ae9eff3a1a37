"""One chaos run: private Redis and PostgreSQL, a faulty sandbox, N daemons, the web app's token.

:class:`Chaos` starts and stops all of it and gives the scenarios (``tests/chaos/scenarios.py``)
what they share: :meth:`Chaos.begin` and :meth:`Chaos.finish` around each one (the database
against the truth, the SSE clients, the logs), the job records, the phase states.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import redis

from tests.chaos.checks import KNOWN_BUGS, is_unhandled, log_summary, secrets_in_logs, verify
from tests.chaos.cluster import Cluster
from tests.chaos.results import ScenarioResult
from tests.chaos.servers import PrivatePostgres
from tests.chaos.webapp import ImportRun, WebApp
from tests.helpers.import_harness import SandboxProcess
from tests.helpers.redis_servers import PrivateRedis
from theset_daemon.sandbox import Sandbox

#: Reconciliation every 2 s (the shipped schedule runs it every minute).
FAST_RECONCILE = """
[[schedule]]
name = "reconcile-imports"
cron = "*/2 * * * * *"
actor = "reconcile_imports"
queue = "scheduled_sync"
priority = "HIGH"
misfire_grace_s = 10
run_at_boot = true
"""
#: Acts every import may use: the ordinary ones (0-3 are the demo, big-catalogue, big-events, empty acts).
FIRST_ORDINARY = 4


@dataclass
class ChaosParams:
    """Sizes of one run (the CI form is small; bench/chaos.py the full one)."""

    seed: int = 7
    daemons: int = 3
    lease_timeout: float = 3.0
    drain_timeout: float = 8.0
    fault_rate: float = 0.05
    faults: str = "500,503,truncated,429"
    latency_ms: float = 25.0
    jitter_ms: float = 25.0
    rolling_imports: int = 20
    stream_imports: int = 6  # imports running while Redis / PostgreSQL go away
    pg_outage_s: float = 6.0
    soak_s: float = 30.0
    soak_concurrency: int = 3
    import_timeout: float = 150.0
    fuzz_examples: int = 10
    fuzz_time_s: float = 45.0


class Chaos:
    """Everything one run needs: private Redis and PostgreSQL, the sandbox, the cluster, the web app's token."""

    def __init__(self, params: ChaosParams) -> None:
        self.params = params
        self.truth = Sandbox(params.seed).truth
        self._acts = itertools.cycle(a.tm_id for a in self.truth.artists[FIRST_ORDINARY:])
        self.results: list[ScenarioResult] = []
        self.run_id = uuid.uuid4().hex[:8]
        self.tmp = Path(tempfile.mkdtemp(prefix="chaos-"))
        self.redis: PrivateRedis | None = None
        self.pg: PrivatePostgres | None = None
        self.sandbox: SandboxProcess | None = None
        self.cluster: Cluster | None = None
        self._log_mark = 0
        self.keep_logs = False

    def next_acts(self, n: int) -> list[str]:
        return [next(self._acts) for _ in range(n)]

    def start(self) -> "Chaos":
        p = self.params
        self.redis = PrivateRedis().start()
        self.pg = PrivatePostgres().init().start()
        self.database_url = self.pg.create_database("theset_chaos")
        # faults, not daily quotas, are under test here: the soak's thousand imports would spend a real day's
        self.sandbox = SandboxProcess("--fault-rate", str(p.fault_rate), "--faults", p.faults,
                                      "--latency-ms", str(p.latency_ms), "--jitter-ms", str(p.jitter_ms),
                                      "--tm-daily-quota", "10000000", "--setlistfm-daily-quota", "10000000", seed=p.seed)
        schedules = self.tmp / "schedules.toml"
        schedules.write_text(FAST_RECONCILE)
        self.secrets = {
            "THESET_API_TOKEN": f"chaos-api-token-{self.run_id}-{uuid.uuid4().hex}",
            "THESET_ADMIN_TOKEN": f"chaos-admin-token-{self.run_id}-{uuid.uuid4().hex}",
            "THESET_SSE_SECRET": f"chaos-sse-secret-{self.run_id}-{uuid.uuid4().hex}",
            "THESET_WEBHOOK_SECRET": f"chaos-webhook-secret-{self.run_id}-{uuid.uuid4().hex}",
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("THESET_")}
        env.update(self.sandbox.env)
        env.update(self.secrets)
        env.update(
            THESET_REDIS_URL=self.redis.url, THESET_REDIS_NAMESPACE="chaos", THESET_DATABASE_URL=self.database_url,
            THESET_HTTP_HOST="127.0.0.1", THESET_ALLOW_PRIVATE_FETCH="true", THESET_ACTOR_MODULES="theset_daemon.actors",
            THESET_SCHEDULES_FILE=str(schedules), THESET_LEASE_TIMEOUT=str(p.lease_timeout),
            THESET_DRAIN_TIMEOUT=str(p.drain_timeout), THESET_SPOTIFY_RATE="50", THESET_TICKETMASTER_RATE="50",
            THESET_SETLISTFM_RATE="25", PYTHONUNBUFFERED="1",
            THESET_TICKETMASTER_DAILY_QUOTA="10000000", THESET_SETLISTFM_DAILY_QUOTA="10000000",
        )
        for name in ("THESET_SPOTIFY_CLIENT_SECRET", "THESET_TICKETMASTER_API_KEY", "THESET_SETLISTFM_API_KEY"):
            if name in self.sandbox.env:
                self.secrets[name] = self.sandbox.env[name]
        self.env = env
        self.cluster = Cluster(env, p.daemons)
        self.cluster.start_all()
        return self

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.stop(keep_logs=self.keep_logs)
            if self.keep_logs:
                print("daemon logs: " + " ".join(str(d.log_path) for d in self.cluster.history), file=sys.stderr)
        if self.sandbox is not None:
            self.sandbox.stop()
        if self.redis is not None:
            self.redis.stop()
        if self.pg is not None:
            self.pg.destroy()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- what every scenario does ---------------------------------------------------------

    def web(self) -> WebApp:
        assert self.cluster is not None
        return WebApp(self.cluster, self.secrets["THESET_API_TOKEN"])

    def begin(self, name: str) -> ScenarioResult:
        assert self.cluster is not None and self.redis is not None
        r = ScenarioResult(name, rss_start=sum(self.cluster.rss()), redis_start=self.redis_memory())
        r._t0 = time.monotonic()  # type: ignore[attr-defined]
        return r

    def redis_memory(self) -> int:
        try:
            return self.redis.used_memory() if self.redis else 0
        except redis.RedisError:
            return 0

    async def finish(self, r: ScenarioResult, runs: list[ImportRun], settle_s: float = 60) -> ScenarioResult:
        assert self.cluster is not None
        v = await verify(self.database_url, self.truth, runs, settle_s)
        r.started, r.completed, r.failed, r.lost = v.started, v.completed, v.failed, v.lost
        r.duplicates = sum(v.duplicates.values())
        r.mismatched = len(v.mismatches)
        r.sse_clients = sum(1 for run in runs if run.import_id)
        r.sse_done = sum(1 for run in runs if run.saw_done)
        r.reconnects = sum(run.reconnects for run in runs)
        r.rss_end = sum(self.cluster.rss())
        r.redis_end = self.redis_memory()
        r.seconds = time.monotonic() - r._t0  # type: ignore[attr-defined]
        if v.lost:
            r.problems.append(f"{v.lost} imports lost (never reached completed/failed)")
        if r.duplicates:
            r.problems.append(f"duplicate rows: {v.duplicates}")
        r.problems += [f"wrong data: {m}" for m in v.mismatches]
        if r.failure_rate >= 0.01:
            r.problems.append(f"failure rate {100 * r.failure_rate:.1f}% >= 1%: {v.failures[:5]}")
        elif v.failures:
            r.notes += [f"failed import: {f}" for f in v.failures]
        for run in runs:
            if run.kickoff_error:
                r.problems.append(f"kickoff failed: {run.kickoff_error}")
            elif not run.saw_done:
                r.problems.append(f"SSE client of {run.attraction} ({run.import_id}) never saw done: {run.follow_error} "
                                  f"refusals={run.refusals[-5:]}")
            if any(b < a for a, b in zip(run.progress, run.progress[1:])):
                r.problems.append(f"progress went backwards for {run.import_id}: {run.progress}")
            if run.ids_out_of_order:
                r.problems.append(f"{run.ids_out_of_order} SSE events out of order/duplicated for {run.import_id}")
        crashed = self.cluster.crashed()
        if crashed:
            r.problems.append(f"daemons exited unasked: {crashed}")
        lines = self.cluster.log_lines()
        leaks = secrets_in_logs(lines, self.secrets.items())
        unhandled = [log_summary(line) for line in lines[self._log_mark:]
                     if is_unhandled(line)]
        self._log_mark = len(lines)
        known = [u for u in unhandled if any(k in u for k in KNOWN_BUGS)]
        unhandled = [u for u in unhandled if u not in known]
        if known:
            r.notes.append(f"KNOWN BUG (reported, not ours to fix): {len(known)} log lines like {known[0]}")
        if unhandled:
            r.problems.append(f"{len(unhandled)} unhandled errors / CRITICAL log lines, e.g. {unhandled[:3]}")
        if leaks:
            r.problems.append(f"secrets in logs: {leaks[:3]}")
        self.results.append(r)
        if r.lost:
            # isolate the next scenario from this one's damage: a rolling restart of every daemon
            for i in range(len(self.cluster.ports)):
                if self.cluster.alive(i):
                    await asyncio.to_thread(self.cluster.terminate, i)
                await asyncio.to_thread(self.cluster.start, i)
            r.notes.append("every daemon restarted after this scenario (imports were lost) to isolate the next one")
        return r

    async def job_records(self, pattern_queue: str) -> list[dict[str, str]]:
        """Active jobs of a queue: id, owner, runs, state."""
        client = redis.asyncio.Redis.from_url(self.redis.url)
        try:
            ids = await client.zrange(f"chaos:q:{pattern_queue}:active", 0, -1)
            out = []
            for job_id in ids:
                rec = await client.hgetall(f"chaos:job:{job_id.decode()}")
                out.append({"job_id": job_id.decode(), **{k.decode(): v.decode() for k, v in rec.items() if k != b"msg"}})
            return out
        finally:
            await client.aclose()

    async def import_phase_states(self, import_id: str) -> dict[str, str]:
        conn = await asyncpg.connect(self.database_url)
        try:
            rows = await conn.fetch("select phase, state from import_phases where import_id = $1::uuid", import_id)
            return {r["phase"]: r["state"] for r in rows}
        finally:
            await conn.close()

    # -- 5. faults summary (the whole run) ------------------------------------------------

    def faults_summary(self) -> ScenarioResult:
        """Scenario 5 covers the whole run: totals over every scenario with providers at fault_rate and 429 bursts."""
        r = ScenarioResult(f"5 faults {100 * self.params.fault_rate:.0f}% + 429 bursts (all)")
        for s in self.results:
            r.started += s.started
            r.completed += s.completed
            r.failed += s.failed
            r.lost += s.lost
            r.duplicates = max(r.duplicates, s.duplicates)
            r.mismatched += s.mismatched
            r.sse_clients += s.sse_clients
            r.sse_done += s.sse_done
            r.reconnects += s.reconnects
            r.seconds += s.seconds
        if self.results:
            r.rss_start, r.redis_start = self.results[0].rss_start, self.results[0].redis_start
            r.rss_end, r.redis_end = self.results[-1].rss_end, self.results[-1].redis_end
        if r.failure_rate >= 0.01:
            r.problems.append(f"failure rate {100 * r.failure_rate:.2f}% >= 1% over the run")
        r.recover = self.sandbox_fault_counts()
        return r

    def sandbox_fault_counts(self) -> str:
        """Provider fault answers the daemons saw (from their /metrics), e.g. '429:12 5xx:40'."""
        counts: dict[str, float] = {}
        assert self.cluster is not None
        for i in self.cluster.routable():
            status, text = self.cluster.daemons[i].get("/metrics")
            if status != 200 or not isinstance(text, str):
                continue
            for line in text.splitlines():
                if line.startswith("theset_provider_requests_total{"):
                    found = re.search(r'status="([^"]*)"', line)
                    code = found.group(1) if found else "?"
                    bucket = "429" if code == "429" else ("5xx" if code.startswith("5") else
                                                          ("ok" if code.startswith("2") else code))
                    counts[bucket] = counts.get(bucket, 0) + float(line.rpartition(" ")[2])
        return " ".join(f"{k}:{v:.0f}" for k, v in sorted(counts.items())) or "-"
