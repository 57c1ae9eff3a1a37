"""The point of the daily budget, end to end: a deep sync cannot starve a fan's import.

A sandbox whose Ticketmaster key has 50 calls a window (20 s here, a day in
production), a daemon keeping 40% of it for people. A deep sync of 40 trending
artists starts first and wants 40 calls; it stops at the reserve (30 calls),
and a fan's import that arrives afterwards completes on the reserve without
waiting. The deep sync's held jobs run in the next window; nothing fails or is
dead-lettered, and the daemon's counts are the sandbox's own.
"""

from __future__ import annotations

import datetime as dt

import json
import subprocess
import sys
import urllib.request
from typing import Any, Iterator

import pytest
import redis

from tests.helpers.environment import ADMIN_TOKEN
from tests.helpers.import_harness import REPO, SandboxProcess, query, run_import, start_daemon
from tests.helpers.waiting import wait_until
from theset_daemon.sandbox import Sandbox

SEED = 7
TM_QUOTA = 50
RESERVE = 0.4
WINDOW_S = 20
#: Acts 5..44 of the sandbox: each one Ticketmaster call for its shows (fewer than 200 events).
TRENDING = range(5, 45)
FAN_ACT = 4  # 13 shows at 13 venues: 1 attraction + 1 events page + 13 venue details


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    sb = SandboxProcess("--tm-daily-quota", str(TM_QUOTA), "--quota-window", str(WINDOW_S), seed=SEED)
    yield sb
    sb.stop()


@pytest.fixture
def daemon(daemon_env, sandbox):
    proc = start_daemon(daemon_env, sandbox, THESET_TICKETMASTER_DAILY_QUOTA=str(TM_QUOTA),
                        THESET_QUOTA_RESERVE=str(RESERVE), THESET_QUOTA_WINDOW=str(WINDOW_S),
                        THESET_TICKETMASTER_RATE="50",
                        # the deep sync's catalogues (Spotify, no quota) must not hold the fan's catalogue up
                        THESET_SPOTIFY_RATE="1000")
    yield proc
    proc.stop()


def http_json(url: str, *, method: str = "GET", token: str | None = None) -> Any:
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=10) as resp:
        body = resp.read()
        return json.loads(body) if resp.headers.get("Content-Type", "").startswith("application/json") else body.decode()


def test_a_deep_sync_stops_at_the_reserve_and_a_fans_import_completes(daemon, sandbox, database_url, redis_url):
    world = Sandbox(SEED).world
    ns = daemon.env["THESET_REDIS_NAMESPACE"]
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    rows = [(f"trending-{i}", world.artists[i].name, world.artists[i].tm_id, n + 1) for n, i in enumerate(TRENDING)]
    query(database_url, """insert into artists (slug, name, tm_attraction_id, is_trending, trending_rank)
                           select s, n, a, true, r from unnest($1::text[], $2::text[], $3::text[], $4::int[]) as t(s, n, a, r)""",
          *map(list, zip(*rows)))
    http_json(f"{daemon.url}/api/admin/schedules/deep-sync-trending/run", method="POST", token=ADMIN_TOKEN)

    budget = f"{ns}:quota:ticketmaster"
    wait_until(lambda: int(r.hget(budget, "held_recurring") or 0) >= 10, 30, "the deep sync to reach the reserve")
    assert int(r.hget(budget, "recurring")) == TM_QUOTA - int(TM_QUOTA * RESERVE)

    first_reset = int(r.hget(budget, "reset"))

    started, events = run_import(daemon, world.artists[FAN_ACT].tm_id, timeout=60)
    assert events[-1][1]["status"] == "completed", events[-3:]
    completed_ms = dt.datetime.fromisoformat(events[-1][1]["completedAt"]).timestamp() * 1000
    assert completed_ms < first_reset, "the import did not complete in the deep sync's window"
    assert not [d for _, d in events if "waiting for" in str(d.get("message"))], "the import waited for quota"

    ids = [a["id"] for a in query(database_url, "select id::text from artists where is_trending")]
    synced = lambda: query(database_url, "select count(*) as n from artists where is_trending and shows_synced_at is not null")[0]["n"]  # noqa: E731
    wait_until(lambda: synced() == len(TRENDING), WINDOW_S + 30, "the held deep sync to run in the next window")

    # nothing failed, nothing dead; the held jobs were postponed, not retried
    overview = http_json(f"{daemon.url}/api/admin/queues", token=ADMIN_TOKEN)
    assert all(q["counts"]["failed"] == 0 and q["counts"]["dead"] == 0 for q in overview["queues"]), overview
    jobs = [r.hgetall(f"{ns}:job:sync:{artist_id}:shows") for artist_id in ids]
    assert all(j["state"] == "completed" and j["attempts"] == "1" for j in jobs)
    assert sum(1 for j in jobs if int(j.get("postpones", 0)) > 0) == len(TRENDING) - (TM_QUOTA - int(TM_QUOTA * RESERVE))

    # the daemon's counts are the sandbox's, window by window
    [closed] = [json.loads(w) for w in r.lrange(f"{budget}:history", 0, -1)]
    assert closed["reset"] == first_reset
    person = 2 + 13  # the import: attraction, one events page, 13 venues
    assert (closed["recurring"], closed["person"], closed.get("other", 0)) == (30, person, 0)
    assert closed["held_recurring"] >= len(TRENDING) - 30
    sandbox_counts = http_json(f"{sandbox_url(sandbox)}/sandbox/quotas")["ticketmaster"]
    assert [w["calls"] for w in sandbox_counts["closed"]] == [closed["used"]] == [30 + person]
    assert int(r.hget(budget, "used")) == int(r.hget(budget, "recurring")) == sandbox_counts["calls"] == 10

    # the operator sees the same numbers: /metrics and `theset-daemon quotas --json`
    metrics = http_json(f"{daemon.url}/metrics")
    assert 'theset_provider_quota_used{provider="ticketmaster"} 10.0' in metrics
    assert 'theset_provider_quota_remaining{provider="ticketmaster"} 40.0' in metrics
    cli = subprocess.run([sys.executable, "-m", "theset_daemon.cli.main", "quotas", "--json"], env=daemon.env, cwd=REPO,
                         capture_output=True, text=True, timeout=30)
    [tm] = [p for p in json.loads(cli.stdout)["providers"] if p["provider"] == "ticketmaster"]
    assert (tm["used"], tm["byKind"], tm["limit"]) == (10, {"person": 0, "recurring": 10}, TM_QUOTA)
    r.close()


def sandbox_url(sandbox: SandboxProcess) -> str:
    return sandbox.env["THESET_TICKETMASTER_API_URL"].split("/ticketmaster")[0]
