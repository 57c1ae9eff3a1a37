"""A fan's import is never queued behind a recurring sync's backlog on the queues they share.

The recurring fan-outs (``sync-active-artists``, ``deep-sync-trending``) enqueue the
import's own phase jobs (profile, shows, catalogue) for many artists at once, on the
queues an import's phases use. The catalogue (``jobs.py``) gives those runs a priority
below the import's, so an import kicked off behind a nightly backlog starts first.
"""

from __future__ import annotations

import asyncio

import dramatiq
import pytest

from tests.helpers.broker import make_broker, running, spec
from theset_daemon.actors import scheduled_sync
from theset_daemon.imports.kickoff import phase_message
from theset_daemon.jobs import Job
from theset_daemon.imports.plan import PHASES, PHASES_BY_NAME
from theset_daemon.queues import QUEUES_BY_NAME, Priority

#: The phases the recurring fan-outs run (actors/scheduled_sync.py).
FANNED_OUT = ("spotify_profile", "shows", "catalog")
BACKLOG = 50


@pytest.mark.parametrize("phase", FANNED_OUT)
async def test_an_imports_job_starts_before_a_backlog_of_scheduled_sync_jobs_on_its_queue(redis_url, namespace, phase):
    job = PHASES_BY_NAME[phase].job
    queue = spec(job.queue, concurrency=1, priority=QUEUES_BY_NAME[job.queue].priority)
    broker = make_broker(redis_url, namespace, [queue])
    started: list[str] = []
    import_started = asyncio.Event()

    @dramatiq.actor(actor_name=job.actor, queue_name=job.queue, broker=broker)
    async def stand_in(artist_id: str, import_id: str | None = None) -> None:
        started.append(import_id or f"sync {artist_id}")
        if import_id is not None:
            import_started.set()

    backlog = scheduled_sync.sync_messages([f"artist-{i}" for i in range(BACKLOG)], (phase,))
    await broker.enqueue_many_async(backlog)  # the nightly fan-out, first
    await broker.enqueue_async(phase_message(PHASES_BY_NAME[phase], "import-1", artist_id="fans-artist"))
    assert (await broker.depths([job.queue]))[job.queue]["waiting"] == BACKLOG + 1
    try:
        async with running(broker, [queue]):
            await asyncio.wait_for(import_started.wait(), 10)
        assert started[0] == "import-1", started[:5]
    finally:
        await broker.close()


def test_a_recurring_sync_runs_a_phase_below_the_imports_priority_or_not_at_all():
    for phase in PHASES:
        imported = Priority.parse(phase_message(phase, "i1", artist_id="a1").options["priority"])
        if phase.job.recurring is None:  # the import's first phase, or nothing below it (BACKGROUND)
            assert phase.name not in FANNED_OUT
            with pytest.raises(ValueError, match=phase.job.actor):
                scheduled_sync.sync_messages(["a1"], (phase.name,))
            continue
        [recurring] = scheduled_sync.sync_messages(["a1"], (phase.name,))
        assert recurring.queue_name == phase.job.queue
        assert Priority.parse(recurring.options["priority"]) > imported, phase.name
    with pytest.raises(ValueError, match="must be below"):
        Job("x", "spotify_sync", Priority.NORMAL, recurring=Priority.NORMAL)
