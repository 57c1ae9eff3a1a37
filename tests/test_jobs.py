"""The job catalogue: every job on a served queue, every actor declared from it, one message builder."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone

import pytest

from tests.helpers.daemon_process import REPO
from tests.helpers.shipped_actors import shipped_actors
from theset_daemon import jobs
from theset_daemon.imports.plan import PHASES
from theset_daemon.queues import QUEUES_BY_NAME


def test_every_job_runs_on_a_queue_of_the_queue_table_and_is_named_once():
    assert len(jobs.JOBS) == len(jobs.JOBS_BY_ACTOR) >= 16
    for job in jobs.JOBS:
        assert job.queue in QUEUES_BY_NAME, job
    assert {p.job for p in PHASES} <= set(jobs.JOBS)


def test_the_shipped_actors_are_declared_from_the_catalogue():
    declared = shipped_actors()
    assert {j.actor: j.queue for j in jobs.JOBS}.items() <= declared.items()
    jobs.check_actor_queues(declared, QUEUES_BY_NAME)  # does not raise


def test_a_message_carries_its_jobs_queue_priority_and_id_and_a_caller_may_override_the_priority():
    message = jobs.SYNC_SHOWS.message(job_id=jobs.sync_id("a1", "shows"), artist_id="a1")
    assert (message.queue_name, message.actor_name, message.args, message.kwargs) == \
        ("ticketmaster_sync", "sync_shows", (), {"artist_id": "a1"})
    assert message.options == {"priority": "NORMAL", "job_id": "sync:a1:shows"}
    louder = jobs.SYNC_SHOWS.message(priority=jobs.Priority.HIGH, options={"work": "recurring"}, artist_id="a1")
    assert louder.options == {"priority": "HIGH", "work": "recurring"}


def test_job_ids_are_deterministic():
    fire = datetime(2024, 5, 1, 14, 0, tzinfo=timezone.utc)
    assert jobs.import_phase_id("i1", "catalog") == "import:i1:catalog"
    assert jobs.schedule_fire_id("tick", fire) == jobs.schedule_fire_id("tick", fire.astimezone()) == \
        "schedule:tick:2024-05-01T14:00:00+00:00"
    assert jobs.cache_warm_id("a1") == "cache-warm:artist:a1"


def test_an_actor_on_a_queue_nobody_serves_is_refused_by_name():
    with pytest.raises(jobs.UnservedQueue) as err:
        jobs.check_actor_queues({"sync_shows": "ticketmaster_sync", "orphan": "nowhere"}, QUEUES_BY_NAME)
    assert "'orphan' is on queue 'nowhere'" in str(err.value) and "sync_shows" not in str(err.value)
    assert err.value.variable == "THESET_ACTOR_MODULES"
    with pytest.raises(jobs.UnservedQueue, match="catalogue"):
        jobs.check_actor_queues({"sync_shows": "venue_sync"}, QUEUES_BY_NAME)


def test_a_daemon_refuses_to_start_with_an_actor_on_an_unserved_queue(daemon_env, tmp_path):
    (tmp_path / "orphan_actors.py").write_text(
        "import dramatiq\n\n\n@dramatiq.actor(queue_name='nowhere')\nasync def orphan() -> None:\n    pass\n"
    )
    env = {**daemon_env, "THESET_ACTOR_MODULES": "theset_daemon.actors,orphan_actors", "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "theset_daemon.cli.main", "run"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 78, proc.stderr[-2000:]
    assert "actor 'orphan' is on queue 'nowhere', which is not served" in proc.stderr
    assert "THESET_ACTOR_MODULES" in proc.stderr
