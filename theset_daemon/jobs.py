"""The job catalogue: every job the daemon enqueues, as data.

One place for each fact about a job: the actor that runs it, its queue, its
priority, the scheme of its job id and the one builder of its message. The
actors declare themselves from this table (:func:`actor`), the import plan,
the recurring syncs, the cache, the webhooks and the scheduler build their
messages with :meth:`Job.message` (or :func:`message` for a schedule's actor),
and the daemon refuses to start when an actor's queue is missing from the
queue table (:func:`check_actor_queues`): such jobs would wait forever.

Priority is decided here: a message built by :meth:`Job.message` carries its
job's priority unless the caller names another (a schedule's ``priority``, a
recurring sync's); a message without one runs at its actor's
``default_priority`` or else its queue's (``broker/priority.py``).

Imports before recurring work: the recurring fan-outs (``sync-active-artists``,
``deep-sync-trending``) run the import's own phase jobs for many artists at once,
on the queues an import's phases use. Such a run carries its job's ``recurring``
priority, always below the job's own (:meth:`Job.recurring_message`), so a fan's
import is never queued behind a nightly sync's backlog: with a backlog on the
queue, the import's job starts first. A job with no level below its own
(BACKGROUND) has no recurring priority and a recurring sync may not run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, TypeVar

import dramatiq

from .queues import Priority
from .runtime.config import ConfigError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Job:
    """One kind of job.

    Parameters:
      actor: the Dramatiq actor's name.
      queue: the queue the actor is declared on.
      priority: the priority its messages carry by default (an import's phase: the import's).
      recurring: the priority when a recurring sync runs it, below ``priority``; None: no recurring sync may.
    """

    actor: str
    queue: str
    priority: Priority
    recurring: Priority | None = None

    def __post_init__(self) -> None:
        if self.recurring is not None and self.recurring <= self.priority:
            raise ValueError(f"job {self.actor!r}: its recurring priority {self.recurring.name} must be below "
                             f"{self.priority.name}, or an import waits behind a recurring backlog")

    def message(self, *, job_id: str | None = None, priority: Priority | None = None,
                options: Mapping[str, Any] | None = None, **kwargs: Any) -> dramatiq.Message:
        """A message for this job with keyword arguments ``kwargs``."""
        return message(self.actor, self.queue, priority or self.priority, job_id=job_id, options=options, **kwargs)

    def recurring_message(self, *, job_id: str | None = None, options: Mapping[str, Any] | None = None,
                          **kwargs: Any) -> dramatiq.Message:
        """A message for a recurring sync's run of this job, at its ``recurring`` priority.

        Raises:
          ValueError: the job has no recurring priority (nothing runs below it).
        """
        if self.recurring is None:
            raise ValueError(f"job {self.actor!r} runs at {self.priority.name}: a recurring sync may not run it "
                             "(nothing below it, an import would wait behind the sync)")
        return self.message(job_id=job_id, priority=self.recurring, options=options, **kwargs)


# -- the catalogue ---------------------------------------------------------------------------

# The import's phases at the import's priority; also run outside an import by the recurring syncs, one level
# lower (``recurring``), so a fan's import is never queued behind a sync's backlog on the queue they share.
IMPORT_ARTIST = Job("import_artist", "artist_import", Priority.CRITICAL)
SYNC_SPOTIFY_PROFILE = Job("sync_spotify_profile", "spotify_sync", Priority.HIGH, recurring=Priority.NORMAL)
SYNC_CATALOG = Job("sync_catalog", "spotify_catalog", Priority.LOW, recurring=Priority.BACKGROUND)
SYNC_SHOWS = Job("sync_shows", "ticketmaster_sync", Priority.NORMAL, recurring=Priority.LOW)
SYNC_VENUE_DETAILS = Job("sync_venue_details", "venue_sync", Priority.NORMAL, recurring=Priority.LOW)
SYNC_SETLISTS = Job("sync_setlists", "setlist_sync", Priority.LOW, recurring=Priority.BACKGROUND)
PROCESS_IMAGES = Job("process_images", "image_processing", Priority.BACKGROUND)
# Recurring work (fired by schedules/schedules.toml).
QUICK_SYNC_ARTIST = Job("quick_sync_artist", "artist_quick_sync", Priority.HIGH)
SYNC_ACTIVE_ARTISTS = Job("sync_active_artists", "scheduled_sync", Priority.NORMAL)
DEEP_SYNC_TRENDING = Job("deep_sync_trending", "scheduled_sync", Priority.NORMAL)
QUICK_SYNC_VIEWED_ARTISTS = Job("quick_sync_viewed_artists", "scheduled_sync", Priority.NORMAL)
RECONCILE_IMPORTS = Job("reconcile_imports", "scheduled_sync", Priority.NORMAL)
CALCULATE_TRENDING = Job("calculate_trending", "trending_calc", Priority.BACKGROUND)
CLEANUP_OLD_JOBS = Job("cleanup_old_jobs", "cleanup", Priority.BACKGROUND)
# Side effects.
WARM_ARTIST_PAGES = Job("warm_artist_pages", "cache_warm", Priority.BACKGROUND)
DELIVER_WEBHOOK = Job("deliver_webhook", "webhook", Priority.NORMAL)

JOBS: tuple[Job, ...] = tuple(v for v in list(globals().values()) if isinstance(v, Job))
JOBS_BY_ACTOR: dict[str, Job] = {j.actor: j for j in JOBS}


# -- job ids: the deterministic ids a repeated enqueue is deduplicated on --------------------


def import_phase_id(import_id: str, phase: str) -> str:
    """One phase of one import."""
    return f"import:{import_id}:{phase}"


def sync_id(artist_id: str, phase: str) -> str:
    """One phase run by a recurring sync of one artist."""
    return f"sync:{artist_id}:{phase}"


def quick_sync_id(artist_id: str) -> str:
    return f"quick-sync:{artist_id}"


def cache_warm_id(artist_id: str) -> str:
    """A warm of one artist's page (one pending per artist)."""
    return f"cache-warm:artist:{artist_id}"


def webhook_id(delivery_id: str) -> str:
    return f"webhook:{delivery_id}"


def schedule_fire_id(name: str, fire_time: datetime) -> str:
    """One fire of a schedule: the same on every host (UTC ISO time)."""
    return f"schedule:{name}:{fire_time.astimezone(timezone.utc).isoformat()}"


def schedule_boot_id(name: str) -> str:
    return f"schedule:{name}:boot"


def schedule_manual_id(name: str, at: datetime) -> str:
    """An operator's "run now" of a schedule."""
    return f"schedule:{name}:manual:{int(at.timestamp() * 1000)}"


# -- building and declaring ------------------------------------------------------------------


def message(actor: str, queue: str, priority: Priority, *, job_id: str | None = None,
            options: Mapping[str, Any] | None = None, **kwargs: Any) -> dramatiq.Message:
    """The one builder of a job message: keyword arguments only, priority by name."""
    opts: dict[str, Any] = {"priority": priority.name, **(options or {})}
    if job_id is not None:
        opts["job_id"] = job_id
    return dramatiq.Message(queue_name=queue, actor_name=actor, args=(), kwargs=kwargs, options=opts)


def actor(job: Job, **options: Any) -> Callable[[F], Any]:
    """``@dramatiq.actor`` declaring ``job``'s actor on its queue (its messages carry the priority)."""
    return dramatiq.actor(actor_name=job.actor, queue_name=job.queue, **options)


class UnservedQueue(ConfigError):
    """Declared actors whose jobs would never run: their queue is not in the queue table
    (or not the queue the catalogue gives them)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("THESET_ACTOR_MODULES", "every actor on a queue of the queue table (queues.py): "
                         + "; ".join(problems))
        self.problems = problems


def check_actor_queues(actor_queues: Mapping[str, str], served: Iterable[str]) -> None:
    """Refuse actors whose queue no daemon serves, or whose queue differs from the catalogue's.

    Parameters:
      actor_queues: each declared actor's name -> its queue.
      served: the queue table's queue names.

    Raises:
      UnservedQueue: naming each such actor and its queue.
    """
    served = set(served)
    problems = [f"actor {a!r} is on queue {q!r}, which is not served" for a, q in sorted(actor_queues.items())
                if q not in served]
    problems += [f"actor {a!r} is on queue {q!r}, the catalogue (jobs.py) says {JOBS_BY_ACTOR[a].queue!r}"
                 for a, q in sorted(actor_queues.items()) if a in JOBS_BY_ACTOR and JOBS_BY_ACTOR[a].queue != q]
    if problems:
        raise UnservedQueue(problems)
