"""An import phase held by the daily budget: postponed, and the import says until when."""

from __future__ import annotations

import asyncio
import os
import subprocess

import dramatiq
import orjson
import pytest
from tests.helpers.broker import make_broker
from tests.helpers.daemon_process import run_cli

from theset_daemon.broker import Postpone
from theset_daemon.runtime.resources import Resources
from theset_daemon.imports.run import PhaseRun
from theset_daemon.imports.progress import ProgressReporter
from theset_daemon.providers import QuotaHeld
from theset_daemon.providers.quota.rules import PERSON, RECURRING, QuotaPolicy, now_ms
from theset_daemon.providers.quota.store import QuotaBudget
from theset_daemon.queues import QUEUES
from theset_daemon.store import create_import, get_import


async def test_a_held_phase_is_postponed_and_the_import_says_waiting_for_quota(pool, async_redis, namespace) -> None:
    async with pool.acquire() as conn:
        import_id, _ = await create_import(conn, "K8vZ91quota", "test")
    res = Resources(None, pool, async_redis, None, progress=ProgressReporter(pool, async_redis, namespace))  # type: ignore[arg-type]
    until = now_ms() + 3_600_000
    with pytest.raises(Postpone) as raised:
        async with PhaseRun(res, str(import_id), "shows", "a1"):
            raise QuotaHeld("ticketmaster", "/events", PERSON, until, now_ms())
    assert 3_600_000 <= raised.value.delay_ms <= 3_600_000 + 2_100
    async with pool.acquire() as conn:
        record = await get_import(conn, import_id)
    assert record["status"] == "running" and record["stage"] == "shows"
    assert record["message"].startswith("waiting for ticketmaster quota until ")
    assert record["error"] is None


async def test_the_quotas_verb_shows_the_budget_the_queued_cost_and_the_warning(redis_url, async_redis, namespace) -> None:
    budget = QuotaBudget(async_redis, namespace, QuotaPolicy("ticketmaster", 10, reserve=0.3))
    for _ in range(6):
        assert (await budget.spend(RECURRING)).allowed
    broker = make_broker(redis_url, namespace, list(QUEUES))
    try:
        await broker.enqueue_many_async([  # what the recurring fan-outs send (actors/scheduled_sync.py)
            dramatiq.Message(queue_name="ticketmaster_sync", actor_name="sync_shows", args=(),
                             kwargs={"artist_id": f"artist-{i}"},
                             options={"job_id": f"sync:artist-{i}:shows", "work": RECURRING})
            for i in range(5)
        ])
    finally:
        await broker.close()
    quota = {"THESET_TICKETMASTER_DAILY_QUOTA": "10"}
    table = await asyncio.to_thread(cli, namespace, redis_url, quota, "quotas")
    assert table.returncode == 0, table.stderr
    [tm_row] = [line for line in table.stdout.splitlines() if line.startswith("ticketmaster")]
    assert tm_row.split()[:5] == ["ticketmaster", "10", "6", "4", "30%"]
    assert "warning: queued recurring work needs ~5 ticketmaster calls; 1 are left for it" in table.stdout
    as_json = await asyncio.to_thread(cli, namespace, redis_url, quota, "quotas", "--json")
    [tm] = [p for p in orjson.loads(as_json.stdout)["providers"] if p["provider"] == "ticketmaster"]
    assert tm["forecast"]["jobs"] == {"person": 0, "recurring": 5} and tm["forecast"]["recurringFits"] is False


def cli(namespace: str, redis_url: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("THESET_")}
    full.update(THESET_REDIS_URL=redis_url, THESET_REDIS_NAMESPACE=namespace, **env)
    return run_cli(*args, env=full)
