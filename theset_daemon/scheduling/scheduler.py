"""Recurring work: schedules read from ``schedules/`` (``theset_daemon.schedules``), fired once per cluster.

Every daemon runs an APScheduler 3.11 ``AsyncIOScheduler`` on its own loop
with the same schedules. A fire only *enqueues*: the daemon inserts
``(name, fire_time)`` into ``schedule_fires`` with ``ON CONFLICT DO NOTHING``,
and the one daemon whose row lands enqueues the job, with the deterministic
job id :func:`~theset_daemon.jobs.schedule_fire_id` (a second guard in Redis). The fire time is the
cron's scheduled time, identical on every host, never the wall clock.

At start-up each schedule's latest cron time within its misfire grace is
fired too ("caught up"): if the cluster already recorded it nothing happens;
if every host was down at that time it is enqueued once.

Cron lines have 5 fields as in crontab (weekday 0 or 7 = Sunday; APScheduler
3.x counts from Monday, so weekdays are translated here) or 6 fields with the
seconds first. Unlike crontab, a restricted day-of-month and a restricted
weekday must both match (APScheduler's rule).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
import dramatiq
from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from .. import jobs
from ..broker import TheSetBroker
from ..queues import QUEUES_BY_NAME, Priority
from ..runtime.config import ConfigError
from ..runtime.metrics import SCHEDULE_RUNS
from ..runtime.package_data import default_schedules_file
from ..store import schedule_fires

logger = logging.getLogger(__name__)

#: The schedules shipped with the daemon (THESET_SCHEDULES_FILE overrides it).
DEFAULT_SCHEDULES_FILE = default_schedules_file()
#: Seconds a late fire is still run when a schedule names no grace.
DEFAULT_MISFIRE_GRACE_S = 300
#: Seconds :meth:`ClusterScheduler.stop` waits for fires being enqueued.
STOP_TIMEOUT_S = 5.0
#: Cron steps walked at most when looking back for a missed fire.
MAX_LOOKBACK_STEPS = 100_000

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_KEYS = {"name", "cron", "timezone", "actor", "queue", "payload", "priority", "misfire_grace_s", "run_at_boot"}
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab numbering: 0 = Sunday
_FIRE_TIME: contextvars.ContextVar[datetime] = contextvars.ContextVar("theset_fire_time")


class ScheduleFileError(ConfigError):
    """A schedule file the daemon cannot use; the message starts with ``file:line:``.

    A :class:`~theset_daemon.runtime.config.ConfigError`, so ``run`` exits with
    :data:`~theset_daemon.runtime.config.EXIT_CONFIG` and the message.
    """

    def __init__(self, path: Path | str | Traversable, line: int, problem: str) -> None:
        ValueError.__init__(self, f"{path}:{line}: {problem}")
        self.variable, self.expected = "THESET_SCHEDULES_FILE", problem
        self.path, self.line, self.problem = str(path), line, problem


@dataclass(frozen=True)
class Schedule:
    """One recurring job.

    Parameters:
      name: unique name; part of every fire's job id.
      cron: the cron line as written (5 or 6 fields).
      timezone: the IANA zone the cron is read in.
      actor: the actor enqueued at each fire.
      queue: that actor's queue.
      payload: the actor's keyword arguments.
      priority: the message's priority.
      misfire_grace_s: seconds a late or missed fire is still run.
      run_at_boot: also enqueued once whenever a daemon starts.
      trigger: the APScheduler trigger built from ``cron`` and ``timezone``.
    """

    name: str
    cron: str
    timezone: str
    actor: str
    queue: str
    payload: dict[str, Any]
    priority: Priority
    misfire_grace_s: int
    run_at_boot: bool
    trigger: CronTrigger = field(repr=False, compare=False)

    def message(self, job_id: str) -> dramatiq.Message:
        return jobs.message(self.actor, self.queue, self.priority, job_id=job_id, **self.payload)

    def next_fire_time(self, now: datetime) -> datetime | None:
        return self.trigger.get_next_fire_time(None, now)


def schedules_path(configured: str) -> Path | Traversable:
    """THESET_SCHEDULES_FILE, or the shipped :data:`DEFAULT_SCHEDULES_FILE` when empty."""
    return Path(configured) if configured else DEFAULT_SCHEDULES_FILE


# -- cron ------------------------------------------------------------------------------------


def cron_trigger(expr: str, tz: str = "UTC") -> CronTrigger:
    """An APScheduler trigger for a crontab line (5 fields, or 6 with seconds first).

    Raises:
      ValueError: naming what is wrong with the line.
    """
    fields = expr.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise ValueError(f"cron {expr!r}: expected 5 fields (minute hour day month weekday) or 6 (seconds first)")
    second, minute, hour, day, month, weekday = fields
    return CronTrigger(
        second=second, minute=minute, hour=hour, day=day, month=month,
        day_of_week=crontab_weekdays(weekday), timezone=ZoneInfo(tz),
    )


def crontab_weekdays(spec: str) -> str:
    """A crontab weekday field (0/7 = Sunday, names, ranges, steps) as APScheduler day names."""
    if spec in {"*", "?"}:
        return "*"
    days: set[int] = set()
    for part in spec.lower().split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ValueError(f"weekday {spec!r}: bad step {step_text!r}")
        if span == "*":
            low, high = 0, 6
        elif "-" in span:
            low, high = (_weekday(v, spec) for v in span.split("-", 1))
            if low > high:
                raise ValueError(f"weekday {spec!r}: a range must not wrap past Saturday")
        else:
            low = _weekday(span, spec)
            high = 6 if step else low
        days.update(d % 7 for d in range(low, high + 1, step or 1))
    return ",".join(("mon", "tue", "wed", "thu", "fri", "sat", "sun")[(d - 1) % 7] for d in sorted(days))


def _weekday(value: str, spec: str) -> int:
    if value.isdigit() and int(value) <= 7:
        return int(value)
    if value[:3] in _CRON_DAYS and len(value) == 3:
        return _CRON_DAYS.index(value[:3])
    raise ValueError(f"weekday {spec!r}: {value!r} is not 0-7 or sun..sat")


def previous_fire_time(trigger: CronTrigger, now: datetime, window_s: float) -> datetime | None:
    """The latest fire time of ``trigger`` in ``(now - window_s, now]``, or None."""
    candidate = trigger.get_next_fire_time(None, now - timedelta(seconds=window_s) + timedelta(microseconds=1))
    latest = None
    for _ in range(MAX_LOOKBACK_STEPS):
        if candidate is None or candidate > now:
            break
        latest = candidate
        candidate = trigger.get_next_fire_time(None, candidate + timedelta(microseconds=1))
    return latest


# -- the schedule file -------------------------------------------------------------------------


def load_schedules(path: Path | str | Traversable, actors: Mapping[str, str] | None = None) -> list[Schedule]:
    """Read and check a schedule file (TOML, a ``[[schedule]]`` table per job).

    Parameters:
      path: the file.
      actors: actor name -> queue of the declared actors; when given, every
        schedule's actor must be one of them.

    Raises:
      ScheduleFileError: naming the file and line of the first problem.
    """
    path = Path(path) if isinstance(path, str) else path
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScheduleFileError(path, 0, f"cannot read the schedule file: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = int(m.group(1)) if (m := re.search(r"line (\d+)", str(exc))) else 0
        raise ScheduleFileError(path, line, f"not valid TOML: {exc}") from None
    lines = _Lines(path, text)
    extra = set(data) - {"schedule"}
    if extra:
        key = sorted(extra)[0]
        raise ScheduleFileError(path, lines.top_key(key), f"unknown top-level key {key!r}; expected [[schedule]] tables")
    entries = data.get("schedule", [])
    if not isinstance(entries, list):
        raise ScheduleFileError(path, lines.top_key("schedule"), "'schedule' must be an array of tables ([[schedule]])")
    schedules: list[Schedule] = []
    for index, entry in enumerate(entries):
        schedule = _parse_entry(entry, index, lines, actors)
        if any(s.name == schedule.name for s in schedules):
            raise ScheduleFileError(path, lines.key(index, "name"), f"schedule name {schedule.name!r} is used twice")
        schedules.append(schedule)
    return schedules


def _parse_entry(entry: Any, index: int, lines: "_Lines", actors: Mapping[str, str] | None) -> Schedule:
    def fail(key: str | None, problem: str) -> ScheduleFileError:
        return ScheduleFileError(lines.path, lines.key(index, key), problem)

    if not isinstance(entry, dict):
        raise fail(None, "each schedule must be a table")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key {unknown[0]!r}; expected one of {', '.join(sorted(_KEYS))}")
    for key in ("name", "cron", "actor"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise fail(key if key in entry else None, f"{key!r} is required and must be a non-empty string")
    name, actor = entry["name"], entry["actor"]
    if not _NAME.match(name):
        raise fail("name", f"name {name!r}: use lower-case letters, digits, '-' and '_'")
    tz = entry.get("timezone", "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise fail("timezone", f"unknown time zone {tz!r}") from None
    try:
        trigger = cron_trigger(entry["cron"], tz)
    except ValueError as exc:
        raise fail("cron", f"bad cron line {entry['cron']!r}: {exc}") from None
    queue = entry.get("queue")
    if actors is not None:
        if actor not in actors:
            raise fail("actor", f"unknown actor {actor!r}")
        if queue is not None and queue != actors[actor]:
            raise fail("queue", f"actor {actor!r} runs on queue {actors[actor]!r}, not {queue!r}")
        queue = queue or actors[actor]
    if not isinstance(queue, str) or queue not in QUEUES_BY_NAME:
        raise fail("queue", f"unknown queue {queue!r}")
    try:
        priority = Priority.parse(entry["priority"]) if "priority" in entry else QUEUES_BY_NAME[queue].priority
    except ValueError as exc:
        raise fail("priority", str(exc)) from None
    payload = entry.get("payload", {})
    if not isinstance(payload, dict):
        raise fail("payload", "payload must be a table of keyword arguments")
    grace = entry.get("misfire_grace_s", DEFAULT_MISFIRE_GRACE_S)
    if not isinstance(grace, int) or isinstance(grace, bool) or grace <= 0:
        raise fail("misfire_grace_s", "misfire_grace_s must be a positive integer (seconds)")
    boot = entry.get("run_at_boot", False)
    if not isinstance(boot, bool):
        raise fail("run_at_boot", "run_at_boot must be true or false")
    return Schedule(name, entry["cron"], tz, actor, queue, payload, priority, grace, boot, trigger)


class _Lines:
    """Line numbers of ``[[schedule]]`` tables and their keys (tomllib reports none for values)."""

    def __init__(self, path: Path | Traversable, text: str) -> None:
        self.path = path
        self.text = text.splitlines()
        self.headers = [i for i, line in enumerate(self.text) if re.match(r"^\s*\[\[\s*schedule\s*\]\]", line)]

    def key(self, index: int, key: str | None) -> int:
        if index >= len(self.headers):
            return self.top_key("schedule")
        start = self.headers[index]
        end = self.headers[index + 1] if index + 1 < len(self.headers) else len(self.text)
        if key is not None:
            for i in range(start + 1, end):
                if re.match(rf"^\s*{re.escape(key)}\s*=", self.text[i]):
                    return i + 1
        return start + 1

    def top_key(self, key: str) -> int:
        for i, line in enumerate(self.text):
            if re.match(rf"^\s*\[*\s*{re.escape(key)}\b", line):
                return i + 1
        return 1


# -- the cluster scheduler ----------------------------------------------------------------------


class _FireTimeExecutor(AsyncIOExecutor):
    """APScheduler's asyncio executor, telling each job function the fire time it runs for.

    APScheduler 3 calls job functions without their scheduled time; the task
    created for a fire copies the context, so a context variable set around
    the submission carries it (jobs are coalesced: one run time per fire).
    """

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        token = _FIRE_TIME.set(run_times[-1])
        try:
            super()._do_submit_job(job, run_times)
        finally:
            _FIRE_TIME.reset(token)


class ClusterScheduler:
    """The schedules on this daemon's loop, each fire enqueued once for the cluster.

    Parameters:
      schedules: what to run (:func:`load_schedules`).
      pool: the asyncpg pool (``schedule_fires``).
      broker: the broker to enqueue on (``enqueue_async``).
      host_id: this daemon's name, recorded with the fires it enqueued.
    """

    def __init__(self, schedules: list[Schedule], *, pool: asyncpg.Pool, broker: TheSetBroker, host_id: str) -> None:
        self.schedules = {s.name: s for s in schedules}
        self.pool = pool
        self.broker = broker
        self.host_id = host_id
        self._scheduler: AsyncIOScheduler | None = None
        self._inflight: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Start firing; then catch up missed fires and enqueue the boot runs."""
        scheduler = AsyncIOScheduler(
            timezone=timezone.utc,
            executors={"default": _FireTimeExecutor()},
            job_defaults={"coalesce": True, "max_instances": 3},
        )
        for schedule in self.schedules.values():
            scheduler.add_job(
                self._on_fire, schedule.trigger, args=(schedule.name,), id=schedule.name, name=schedule.name,
                misfire_grace_time=schedule.misfire_grace_s,
            )
        scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        scheduler.start()
        self._scheduler = scheduler
        now = datetime.now(timezone.utc)
        for schedule in self.schedules.values():
            missed = previous_fire_time(schedule.trigger, now, schedule.misfire_grace_s)
            if missed is not None:
                await self.fire(schedule, missed, caught_up=True)
            if schedule.run_at_boot:
                await self._enqueue_boot_run(schedule)
        logger.info("scheduler started", extra={"schedules": sorted(self.schedules)})

    async def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop firing; let fires being enqueued finish (up to ``timeout_s``)."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is None:
            return
        scheduler.pause()
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=timeout_s)
        if scheduler.running:
            scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the next loop iteration

    async def fire(self, schedule: Schedule, fire_time: datetime, *, caught_up: bool = False) -> str:
        """Claim one fire and, if this daemon got it, enqueue its job.

        Returns the outcome: ``enqueued``, ``duplicate`` (another daemon or an
        earlier run had it), ``enqueue_failed`` (recorded with the error) or
        ``record_failed`` (PostgreSQL unreachable: nothing enqueued).
        """
        job_id = jobs.schedule_fire_id(schedule.name, fire_time)
        try:
            claimed = await schedule_fires.claim(self.pool, schedule.name, fire_time, job_id, self.host_id, caught_up)
        except Exception as exc:
            logger.error("schedule fire not recorded, so not enqueued: %s", exc, extra={"schedule": schedule.name})
            SCHEDULE_RUNS.labels(schedule.name, "record_failed").inc()
            return "record_failed"
        if not claimed:
            SCHEDULE_RUNS.labels(schedule.name, "duplicate").inc()
            return "duplicate"
        outcome, error = "enqueued", None
        try:
            await self.broker.enqueue_async(schedule.message(job_id))
        except Exception as exc:
            outcome, error = "enqueue_failed", f"{type(exc).__name__}: {exc}"
            logger.error("schedule fire could not be enqueued: %s", error, extra={"schedule": schedule.name})
        try:
            await schedule_fires.settle(self.pool, schedule.name, fire_time, outcome, error)
        except Exception as exc:
            logger.warning("could not record the fire's outcome: %s", exc, extra={"schedule": schedule.name})
        SCHEDULE_RUNS.labels(schedule.name, outcome).inc()
        logger.info(
            "schedule fired",
            extra={"schedule": schedule.name, "fire_time": fire_time.isoformat(), "job_id": job_id,
                   "outcome": outcome, "caught_up": caught_up},
        )
        return outcome

    async def _on_fire(self, name: str) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            await self.fire(self.schedules[name], _FIRE_TIME.get())
        finally:
            self._inflight.discard(task)  # type: ignore[arg-type]

    def _on_missed(self, event: JobExecutionEvent) -> None:
        SCHEDULE_RUNS.labels(event.job_id, "missed").inc()
        logger.warning("schedule fire missed its grace", extra={"schedule": event.job_id,
                                                                "fire_time": event.scheduled_run_time.isoformat()})

    async def _enqueue_boot_run(self, schedule: Schedule) -> None:
        try:
            await self.broker.enqueue_async(schedule.message(jobs.schedule_boot_id(schedule.name)))
            SCHEDULE_RUNS.labels(schedule.name, "boot").inc()
        except Exception as exc:
            logger.warning("boot run not enqueued: %s", exc, extra={"schedule": schedule.name})


async def schedule_status(pool: asyncpg.Pool, schedules: list[Schedule], now: datetime | None = None) -> list[dict[str, Any]]:
    """Each schedule with its last recorded fire (time, outcome, host, job id) and its next fire time."""
    now = now or datetime.now(timezone.utc)
    rows = await schedule_fires.last_fires(pool, [s.name for s in schedules])
    status = []
    for s in schedules:
        last = rows.get(s.name)
        upcoming = s.next_fire_time(now)
        status.append({
            "name": s.name, "cron": s.cron, "timezone": s.timezone, "actor": s.actor, "queue": s.queue,
            "priority": s.priority.name, "misfire_grace_s": s.misfire_grace_s,
            "last_fire": last["fire_time"].isoformat() if last else None,
            "last_outcome": last["outcome"] if last else None,
            "last_host": last["host_id"] if last else None,
            "last_job_id": last["job_id"] if last else None,
            "last_caught_up": last["caught_up"] if last else None,
            "next_fire": upcoming.astimezone(timezone.utc).isoformat() if upcoming else None,
        })
    return status
