"""Schedules: the file format, crontab weekdays, and three daemons firing each tick exactly once."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import asyncpg
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.environment import free_port
from tests.helpers.daemon_process import REPO, DaemonProcess
from tests.helpers.shipped_actors import shipped_actors
from theset_daemon.jobs import schedule_fire_id
from theset_daemon.scheduling.scheduler import (
    DEFAULT_SCHEDULES_FILE, ScheduleFileError, cron_trigger, load_schedules, previous_fire_time,
)

ACTORS = {"reconcile_imports": "scheduled_sync", "calculate_trending": "trending_calc"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "schedules.toml"
    path.write_text(text)
    return path


def test_the_shipped_schedules_load_with_the_real_actors():
    known = shipped_actors()  # from the actor objects: the global broker may have changed since they were declared
    schedules = {s.name: s for s in load_schedules(DEFAULT_SCHEDULES_FILE, known)}
    assert {"calculate-trending", "sync-active-artists", "deep-sync-trending", "cleanup-old-jobs",
            "artist-quick-sync"} <= set(schedules)
    assert schedules["sync-active-artists"].payload == {"limit": 50}


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ('[[schedule]]\nname = "a"\ncron = "* * * *"\nactor = "reconcile_imports"\n', 3, "bad cron"),
        ('[[schedule]]\nname = "a"\ncron = "* * * * *"\nactor = "nope"\n', 4, "unknown actor"),
        ('[[schedule]]\nname = "a"\ncron = "* * * * *"\nactor = "reconcile_imports"\n\n'
         '[[schedule]]\nname = "a"\ncron = "* * * * *"\nactor = "calculate_trending"\n', 7, "used twice"),
        ('[[schedule]]\nname = "a"\ncron = "* * * * *"\nactor = "reconcile_imports"\ntimezone = "Mars/Olympus"\n', 5,
         "time zone"),
        ('[[schedule]]\nname = "a"\ncron = "* * * * *"\nactor = "reconcile_imports"\nqueue = "cleanup"\n', 5, "runs on queue"),
        ('[[schedule]]\nname = "a"\ncron = "* * * * *"\nactor = "reconcile_imports"\npriority = "URGENT"\n', 5, "priority"),
        ('[[schedule]]\nname = "a"\ncron = "* * * * *"\nactor = "reconcile_imports"\nmisfire_grace_s = -1\n', 5, "misfire"),
        ('[[schedule]]\nname = "a"\ncron = "* * * * *"\nactor = "reconcile_imports"\ncolour = "red"\n', 5, "unknown key"),
        ('[[schedule]]\nname = "a"\ncron = "* * * * *\n', 3, "not valid TOML"),
        ('[[schedule]]\nname = "a"\nactor = "reconcile_imports"\n', 1, "'cron' is required"),
    ],
)
def test_invalid_files_name_the_file_and_line(tmp_path, text, line, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ScheduleFileError) as err:
        load_schedules(path, ACTORS)
    assert str(err.value).startswith(f"{path}:{line}: "), str(err.value)
    assert fragment in str(err.value)


def test_crontab_weekdays_count_from_sunday_and_six_fields_have_seconds():
    wednesday = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    assert cron_trigger("0 0 * * 0").get_next_fire_time(None, wednesday) == datetime(2024, 5, 5, tzinfo=timezone.utc)
    assert cron_trigger("0 0 * * 7").get_next_fire_time(None, wednesday).weekday() == 6
    assert cron_trigger("0 0 * * 1-5").get_next_fire_time(None, wednesday + timedelta(days=2)).weekday() == 0
    assert cron_trigger("*/15 * * * * *").get_next_fire_time(None, wednesday + timedelta(seconds=1)).second == 15
    assert cron_trigger("0 3 * * *", "Europe/Paris").get_next_fire_time(None, wednesday).astimezone(timezone.utc).hour == 1
    hourly = cron_trigger("0 * * * *")
    assert previous_fire_time(hourly, wednesday + timedelta(minutes=20), 1800) == wednesday
    assert previous_fire_time(hourly, wednesday + timedelta(minutes=40), 1800) is None


def test_a_daemon_refuses_to_start_with_an_invalid_schedule_file(daemon_env, tmp_path):
    path = write(tmp_path, '[[schedule]]\nname = "x"\ncron = "61 * * * *"\nactor = "reconcile_imports"\n')
    proc = subprocess.run([sys.executable, "-m", "theset_daemon.cli.main", "run"], env={**daemon_env, "THESET_SCHEDULES_FILE": str(path)},
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 78, proc.stderr[-2000:]
    assert f"{path}:3: bad cron line" in proc.stderr


# -- three daemons, one cluster ----------------------------------------------------------------------

CLUSTER_SCHEDULES = """
[[schedule]]
name = "tick"
cron = "* * * * * *"
actor = "reconcile_imports"
misfire_grace_s = 5

[[schedule]]
name = "hourly-catch-up"
cron = "0 0 * * * *"
actor = "reconcile_imports"
misfire_grace_s = 7200

[[schedule]]
name = "long-ago"
cron = "0 0 0 1 1 *"
actor = "reconcile_imports"
misfire_grace_s = 60
"""


@pytest.fixture
def cluster(daemon_env, namespace, tmp_path) -> Iterator[list[DaemonProcess]]:
    path = write(tmp_path, CLUSTER_SCHEDULES)
    started = []
    for i in range(3):
        env = {**daemon_env, "THESET_HTTP_PORT": str(free_port()), "THESET_HOST_ID": f"sched-{namespace[-8:]}-{i}",
               "THESET_SCHEDULES_FILE": str(path), "THESET_ACTOR_MODULES": "theset_daemon.actors"}
        started.append(DaemonProcess(env).start())
    yield started
    for daemon in started:
        daemon.stop()


def fires(database_url: str, name: str, since: datetime) -> list[dict]:
    async def go() -> list[dict]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch("select * from schedule_fires where name = $1 and fire_time >= $2 order by fire_time",
                                    name, since)
            return [dict(r) for r in rows]
        finally:
            await conn.close()

    return asyncio.run(go())


def schedule_runs(daemon: DaemonProcess, schedule: str) -> dict[str, float]:
    _, text = daemon.get("/metrics")
    runs: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "theset_schedule_runs_total" and sample.labels["schedule"] == schedule:
                runs[sample.labels["outcome"]] = sample.value
    return runs


def test_three_daemons_enqueue_each_fire_once_and_catch_up_a_missed_fire_once(cluster, database_url, redis_url, namespace):
    begun = datetime.now(timezone.utc).replace(microsecond=0)
    for daemon in cluster:
        daemon.wait_ready()
    all_ready = datetime.now(timezone.utc)
    deadline = time.monotonic() + 30
    while len(rows := [r for r in fires(database_url, "tick", begun) if r["fire_time"] > all_ready]) < 4:
        assert time.monotonic() < deadline, rows
        time.sleep(0.25)  # polling PostgreSQL: fires land on the cron's own clock
    for daemon in cluster:
        daemon.signal(signal.SIGTERM)
    assert [d.wait_exit() for d in cluster] == [0, 0, 0]

    ticks = fires(database_url, "tick", begun)
    assert all(r["outcome"] == "enqueued" for r in ticks), ticks
    times = [r["fire_time"] for r in ticks]
    assert len(times) == len(set(times))
    # Once the three were up, every second was fired, each once.
    seconds = [t for t in times if t > all_ready]
    assert all(b - a == timedelta(seconds=1) for a, b in zip(seconds, seconds[1:])), seconds
    client = redis.Redis.from_url(redis_url)
    jobs = {k.decode().split(":job:", 1)[1] for k in client.scan_iter(match=f"{namespace}:job:schedule:tick:*")}
    client.close()
    assert jobs == {schedule_fire_id("tick", t) for t in times}
    # Every tick was enqueued by exactly one daemon; the others found it claimed.
    assert {r["host_id"] for r in ticks} <= {d.env["THESET_HOST_ID"] for d in cluster}

    # The fire at the top of this hour happened while no daemon ran: caught up once, by one host.
    top = begun.replace(minute=0, second=0)
    hourly = fires(database_url, "hourly-catch-up", top - timedelta(seconds=1))
    assert len(hourly) == 1 and hourly[0]["caught_up"] and hourly[0]["fire_time"] == top, hourly
    # A fire long past its grace is not caught up.
    assert fires(database_url, "long-ago", begun - timedelta(days=400)) == []


def test_metrics_count_each_fire_enqueued_by_one_daemon(cluster, database_url):
    for daemon in cluster:
        daemon.wait_ready()
    start = datetime.now(timezone.utc)
    deadline = time.monotonic() + 30
    while len(fires(database_url, "tick", start)) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.25)
    runs = [schedule_runs(d, "tick") for d in cluster]
    enqueued = sum(r.get("enqueued", 0) for r in runs)
    duplicates = sum(r.get("duplicate", 0) for r in runs)
    hosts = {d.env["THESET_HOST_ID"] for d in cluster}
    recorded = len([r for r in fires(database_url, "tick", start - timedelta(minutes=5)) if r["host_id"] in hosts])
    # Scraped one after another, a fire may land between two scrapes: allow the fires of that moment.
    assert recorded - 2 <= enqueued <= recorded + 2, (runs, recorded)
    assert duplicates >= 2 * (enqueued - 3), runs


def test_schedules_command_lists_last_and_next_run(daemon_env, tmp_path, database_url):
    path = write(tmp_path, CLUSTER_SCHEDULES)
    env = {**daemon_env, "THESET_SCHEDULES_FILE": str(path)}
    subprocess.run([sys.executable, "-m", "theset_daemon.cli.main", "migrate"], env=env, cwd=REPO, check=True, timeout=60,
                   capture_output=True)
    out = subprocess.run([sys.executable, "-m", "theset_daemon.cli.main", "schedules", "--json"], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert set(rows) == {"tick", "hourly-catch-up", "long-ago"}
    assert rows["long-ago"]["next_fire"].startswith(f"{datetime.now(timezone.utc).year + 1}-01-01T00:00:00")
    assert rows["long-ago"]["last_fire"] is None
    table = subprocess.run([sys.executable, "-m", "theset_daemon.cli.main", "schedules"], env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=60)
    assert table.stdout.splitlines()[0].split() == ["NAME", "CRON", "QUEUE", "LAST", "RUN", "OUTCOME", "NEXT", "RUN"]
