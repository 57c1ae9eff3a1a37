"""An import phase held by the daily budget: postponed, and the import says until when."""

from __future__ import annotations

import pytest

from theset_daemon.broker import Postpone
from theset_daemon.context import Resources
from theset_daemon.phase_run import PhaseRun
from theset_daemon.progress import ProgressReporter
from theset_daemon.providers import QuotaHeld
from theset_daemon.quota import PERSON, now_ms
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
