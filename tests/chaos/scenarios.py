"""The chaos scenarios, one fault each, in the order a run takes them; each returns a :class:`ScenarioResult`.

``result.problems`` lists every broken promise (nothing lost, no duplicate or wrong row, every
SSE client sees ``done``, recovery within its bound). Scenario 5, provider faults for the
whole run, is :meth:`Chaos.faults_summary`; 7, bad input, is in ``tests/chaos/bad_input.py``.
"""

from __future__ import annotations

import asyncio
import time

import redis

from tests.chaos.bad_input import bad_input
from tests.chaos.loop_lag import LoopLagSampler
from tests.chaos.results import ScenarioResult
from tests.chaos.run import Chaos
from tests.chaos.webapp import WebApp

__all__ = ["sigkill", "rolling_restart", "redis_restart", "postgres_outage", "soak", "bad_input"]


# -- 1. SIGKILL mid-catalogue -------------------------------------------------------------


async def sigkill(chaos: Chaos) -> ScenarioResult:
    """SIGKILL the daemon running a catalogue phase; its lease lapses and another daemon finishes it."""
    assert chaos.cluster is not None
    r = chaos.begin("1 SIGKILL mid-catalogue")
    acts = [chaos.truth.big_catalogue_attraction_id, *chaos.next_acts(3)]
    async with chaos.web() as web:
        tasks = [asyncio.create_task(web.run_import(a, chaos.params.import_timeout)) for a in acts]
        victim, jobs = None, []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and victim is None:
            # a catalogue phase that has been fetching pages for a while: kill the daemon running it
            jobs = [j for j in await chaos.job_records("spotify_catalog")
                    if j.get("state") == "active" and j.get("owner", "").startswith("chaos-")]
            now_ms = time.time() * 1000
            if any(now_ms - float(j.get("started_at") or now_ms) > 500 for j in jobs):
                victim = int(max(jobs, key=lambda j: now_ms - float(j.get("started_at") or now_ms))
                             ["owner"].rsplit("-", 1)[1])
                break
            await asyncio.sleep(0.05)
        if victim is None:
            r.problems.append("no catalogue phase seen running within 60 s")
            runs = await asyncio.gather(*tasks)
            return await chaos.finish(r, list(runs))
        owned = {j["job_id"]: int(j.get("runs", 0)) for j in jobs if j.get("owner") == chaos.cluster.host_id(victim)}
        killed_at = time.monotonic()
        await asyncio.to_thread(chaos.cluster.kill, victim)
        r.notes.append(f"SIGKILLed {chaos.cluster.host_id(victim)} holding {sorted(owned)}")
        # the work resumes on a live daemon once the lease lapses (bound: THESET_LEASE_TIMEOUT)
        resumed_s = None
        client = redis.asyncio.Redis.from_url(chaos.redis.url)
        try:
            while time.monotonic() - killed_at < 60:
                states = []
                for job_id, runs_before in owned.items():
                    state, runs_now = await client.hmget(f"chaos:job:{job_id}", "state", "runs")
                    states.append(state in (b"completed",) or (runs_now is not None and int(runs_now) > runs_before))
                if all(states):
                    resumed_s = time.monotonic() - killed_at
                    break
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()
        restart_s = await asyncio.to_thread(chaos.cluster.start, victim)
        ready_s = await asyncio.to_thread(chaos.cluster.wait_readyz, [victim], 30)
        runs = list(await asyncio.gather(*tasks))
    if resumed_s is None:
        r.problems.append(f"SIGKILLed work {sorted(owned)} not resumed within 60 s")
    elif resumed_s > chaos.params.lease_timeout + 2:
        r.problems.append(f"SIGKILLed work resumed after {resumed_s:.1f}s > lease bound {chaos.params.lease_timeout}s")
    r.recover = f"work {resumed_s:.1f}s, ready {restart_s + ready_s:.1f}s" if resumed_s is not None else "never"
    return await chaos.finish(r, runs)


# -- 2. rolling restart -------------------------------------------------------------------


async def rolling_restart(chaos: Chaos) -> ScenarioResult:
    """SIGTERM each daemon in turn (restarted after it exits) while imports run."""
    assert chaos.cluster is not None
    r = chaos.begin("2 rolling restart")
    drains, readies = [], []
    async with chaos.web() as web:
        tasks = [asyncio.create_task(web.run_import(a, chaos.params.import_timeout))
                 for a in chaos.next_acts(chaos.params.rolling_imports)]
        await asyncio.sleep(1.0)
        for i in range(len(chaos.cluster.ports)):
            drain_s, code = await asyncio.to_thread(chaos.cluster.terminate, i)
            drains.append(drain_s)
            if code != 0:
                r.problems.append(f"{chaos.cluster.host_id(i)} exited {code} after SIGTERM")
            ready_s = await asyncio.to_thread(chaos.cluster.start, i)
            readies.append(ready_s)
        runs = list(await asyncio.gather(*tasks))
    limit = chaos.params.drain_timeout + 10
    if max(drains) > limit:
        r.problems.append(f"a drain took {max(drains):.1f}s > {limit}s")
    handed = [line for d in chaos.cluster.history for line in d.log_lines() if line.get("message") == "drained"]
    r.notes.append("drained: " + ", ".join(f"finished={h.get('finished')} handed_back={h.get('handed_back')}"
                                          for h in handed[-len(drains):]))
    r.drain = "/".join(f"{d:.1f}" for d in drains) + " s"
    r.recover = f"ready {max(readies):.1f}s"
    return await chaos.finish(r, runs)


# -- 3. Redis restarted empty -------------------------------------------------------------


async def wait_running(chaos: Chaos, web: WebApp, n: int, timeout: float = 60) -> None:
    """Until ``n`` imports have an import id and at least one phase done (mid-import)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ids = [run.import_id for run in web.runs if run.import_id]
        if len(ids) >= n:
            states = [await chaos.import_phase_states(i) for i in ids[:n]]
            if sum(1 for s in states if "done" in s.values()) >= max(1, n // 2):
                return
        await asyncio.sleep(0.1)


async def redis_restart(chaos: Chaos) -> ScenarioResult:
    """Kill Redis mid-import and start it empty; reconciliation from PostgreSQL resumes every import."""
    assert chaos.cluster is not None and chaos.redis is not None
    r = chaos.begin("3 Redis restarted empty")
    async with chaos.web() as web:
        tasks = [asyncio.create_task(web.run_import(a, chaos.params.import_timeout))
                 for a in chaos.next_acts(chaos.params.stream_imports)]
        await wait_running(chaos, web, chaos.params.stream_imports)
        in_flight = [run.import_id for run in web.runs if run.import_id and not run.saw_done]
        chaos.redis.kill()
        await asyncio.sleep(1.0)
        await asyncio.to_thread(chaos.redis.start)
        back = time.monotonic()
        try:
            await asyncio.to_thread(chaos.cluster.wait_readyz, range(len(chaos.cluster.ports)), 30)
            ready_s = time.monotonic() - back
        except AssertionError as exc:
            ready_s = None
            r.problems.append(str(exc))
        runs = list(await asyncio.gather(*tasks))
    resumed = [run for run in runs if run.import_id in in_flight and run.done_at]
    all_done_s = max((run.done_at - back for run in resumed), default=0.0)
    r.notes.append(f"{len(in_flight)} imports in flight when Redis died")
    r.recover = (f"ready {ready_s:.1f}s, all done {all_done_s:.1f}s" if ready_s is not None else "never ready")
    return await chaos.finish(r, runs)


# -- 4. PostgreSQL stopped ----------------------------------------------------------------


async def postgres_outage(chaos: Chaos) -> ScenarioResult:
    """Stop PostgreSQL for ``pg_outage_s`` mid-import: readiness 503, jobs retry, all complete after."""
    assert chaos.cluster is not None and chaos.pg is not None
    r = chaos.begin(f"4 PostgreSQL down {chaos.params.pg_outage_s:.0f}s")
    n = len(chaos.cluster.ports)
    saw_503 = [False] * n
    async with chaos.web() as web:
        tasks = [asyncio.create_task(web.run_import(a, chaos.params.import_timeout))
                 for a in chaos.next_acts(chaos.params.stream_imports)]
        await wait_running(chaos, web, chaos.params.stream_imports)
        await asyncio.to_thread(chaos.pg.stop)
        stopped = time.monotonic()
        while time.monotonic() - stopped < chaos.params.pg_outage_s:
            for i in range(n):
                if not saw_503[i] and await asyncio.to_thread(chaos.cluster.readyz, i) == 503:
                    saw_503[i] = True
            await asyncio.sleep(0.2)
        await asyncio.to_thread(chaos.pg.start)
        back = time.monotonic()
        try:
            await asyncio.to_thread(chaos.cluster.wait_readyz, range(n), 60)
            ready_s = time.monotonic() - back
        except AssertionError as exc:
            ready_s = None
            r.problems.append(str(exc))
        runs = list(await asyncio.gather(*tasks))
    if not all(saw_503):
        r.problems.append(f"readiness did not go 503 on every daemon while PostgreSQL was down: {saw_503}")
    done = [run.done_at - back for run in runs if run.done_at and run.done_at > back]
    r.recover = (f"ready {ready_s:.1f}s, all done {max(done, default=0):.1f}s" if ready_s is not None else "never ready")
    return await chaos.finish(r, runs)


# -- 6. soak ------------------------------------------------------------------------------


async def soak(chaos: Chaos) -> ScenarioResult:
    """Steady load for ``soak_s``: RSS and Redis memory must level off."""
    assert chaos.cluster is not None
    r = chaos.begin(f"6 soak {chaos.params.soak_s:.0f}s")
    samples: list[tuple[float, int, int]] = []
    async with chaos.web() as web:
        stop_at = time.monotonic() + chaos.params.soak_s

        async def worker() -> None:
            while time.monotonic() < stop_at:
                await web.run_import(chaos.next_acts(1)[0], chaos.params.import_timeout)

        async def sampler() -> None:
            t0 = time.monotonic()
            while time.monotonic() < stop_at:
                # Redis memory net of the progress streams, which are kept 24 h after an import by design
                _, streams = await asyncio.to_thread(chaos.redis.retained, "chaos:progress:*")
                samples.append((time.monotonic() - t0, sum(chaos.cluster.rss()), chaos.redis_memory() - streams))
                await asyncio.sleep(max(1.0, chaos.params.soak_s / 60))

        lag = LoopLagSampler(chaos.cluster)
        await asyncio.gather(sampler(), lag.run(stop_at), *(worker() for _ in range(chaos.params.soak_concurrency)))
        runs = list(web.runs)
    r.loop_lag = lag.summary()
    r.notes.append("event-loop lag over the soak (/healthz every 250 ms): " + "; ".join(
        f"{host} p50 {v['p50_ms']} ms, p99 {v['p99_ms']} ms, max {v['max_ms']} ms "
        f"({v['samples']} samples, {v['failed_polls']} failed polls)" for host, v in r.loop_lag.items()))
    if len(samples) >= 6:
        third = len(samples) // 3
        mid_rss = max(s[1] for s in samples[third: 2 * third])
        end_rss = max(s[1] for s in samples[2 * third:])
        mid_redis = max(s[2] for s in samples[third: 2 * third])
        end_redis = max(s[2] for s in samples[2 * third:])
        r.notes.append(f"RSS peak middle third {mid_rss / 2**20:.0f} MB, last third {end_rss / 2**20:.0f} MB; "
                       f"Redis net of progress streams {mid_redis / 2**20:.1f} → {end_redis / 2**20:.1f} MB; "
                       f"{len(samples)} samples")
        # level off: the last third may not grow more than 15 % (+16 MB slack for a short CI soak) over the middle one
        if end_rss > mid_rss * 1.15 + 16 * 2**20:
            r.problems.append(f"daemon RSS still growing: {mid_rss / 2**20:.0f} → {end_rss / 2**20:.0f} MB")
        if end_redis > mid_redis * 1.25 + 8 * 2**20:
            r.problems.append(f"Redis memory still growing: {mid_redis / 2**20:.1f} → {end_redis / 2**20:.1f} MB")
    streams, stream_bytes = chaos.redis.retained("chaos:progress:*")
    records, record_bytes = chaos.redis.retained("chaos:job:*")
    r.notes.append(f"retained by design at the end: {streams} progress keys ({stream_bytes / 2**20:.1f} MB, 24 h TTL), "
                   f"{records} job records ({record_bytes / 2**20:.1f} MB)")
    r.recover = f"{len(runs)} imports"
    return await chaos.finish(r, runs)
