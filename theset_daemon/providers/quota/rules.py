"""Daily provider quotas as a budget: the rules, as plain values and functions.

A provider's day is a *window*: it opens with the first call after the last
one closed and lasts ``window_s`` (Ticketmaster and setlist.fm reset 24 h
after the day's first call; Ticketmaster says when in ``Rate-Limit-Reset``).
Every call sent spends one unit of the window's ``limit``.

Two kinds of work spend it:

* ``person`` — work someone waits for (an import's phases): may spend the
  window down to zero;
* ``recurring`` — scheduled syncs, deep syncs, quick syncs, venue enrichment of
  shows already known: stops at the *reserve* (a share of the limit kept for
  people) and waits for the next window, postponed, not failed.

A job's kind is carried by the job: the message option ``work`` when set,
else ``person`` when the message carries an ``import_id`` and ``recurring``
when it does not. Calls made outside any job count as ``person``.

The counters live in Redis (:mod:`.store`); this module decides.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Mapping

from ...broker.job import current_job

if TYPE_CHECKING:
    from ...runtime.config import Settings

PERSON = "person"
RECURRING = "recurring"
KINDS = (PERSON, RECURRING)
#: The message option naming a job's kind of work.
WORK_OPTION = "work"


@dataclass(frozen=True)
class QuotaPolicy:
    """One provider's daily budget.

    Parameters:
      provider: ``ticketmaster``, ``setlistfm`` or ``spotify``.
      limit: calls per window; 0 means no published quota (calls are still counted,
        and a provider's own quota refusal still holds everyone until it lifts).
      window_s: the window's length in seconds, from its first call.
      reserve: the share of ``limit`` recurring work leaves for people (0..1).
    """

    provider: str
    limit: int
    window_s: float = 86_400.0
    reserve: float = 0.3

    def floor(self, kind: str, limit: int | None = None) -> int:
        """Calls the ``kind`` of work must leave unspent in a window of ``limit`` calls."""
        limit = self.limit if limit is None else limit
        return 0 if kind == PERSON or limit <= 0 else math.ceil(limit * self.reserve)


def quota_policies(settings: "Settings") -> dict[str, QuotaPolicy]:
    """Each provider's daily budget as configured (``THESET_*_DAILY_QUOTA``, window, reserve)."""
    limits = {
        "spotify": settings.spotify_daily_quota,
        "ticketmaster": settings.ticketmaster_daily_quota,
        "setlistfm": settings.setlistfm_daily_quota,
    }
    return {
        name: QuotaPolicy(name, limit, settings.quota_window_s, settings.quota_reserve)
        for name, limit in limits.items()
    }


def work_kind(kwargs: Mapping[str, Any] | None, options: Mapping[str, Any] | None) -> str:
    """The kind of work of a message: its ``work`` option, else by its ``import_id``."""
    chosen = (options or {}).get(WORK_OPTION)
    if chosen in KINDS:
        return str(chosen)
    return PERSON if (kwargs or {}).get("import_id") else RECURRING


def current_work() -> tuple[str, str, str]:
    """``(kind, actor, job_id)`` of the job running in this task (``person`` outside a job)."""
    job = current_job()
    if job is None:
        return PERSON, "", ""
    message = job.message
    return work_kind(message.kwargs, message.options), message.actor_name, job.job_id


@dataclass(frozen=True)
class Spend:
    """The answer to one request to spend a call.

    Attributes:
      allowed: the call may be sent (it is counted).
      remaining: calls left in the window after this one (-1: no limit).
      reset_ms: when the window closes (epoch ms).
      hold_until_ms: when refused, when the job should try again (epoch ms).
    """

    allowed: bool
    remaining: int
    reset_ms: int
    hold_until_ms: int = 0


@dataclass(frozen=True)
class ProviderReport:
    """What a provider's reply says about its quota (all optional).

    Attributes:
      limit: the window's limit (``Rate-Limit``).
      available: calls left (``Rate-Limit-Available``).
      reset_ms: when the window closes (``Rate-Limit-Reset``, epoch ms).
      exhausted_until_ms: the provider refused for quota until then.
    """

    limit: int | None = None
    available: int | None = None
    reset_ms: int | None = None
    exhausted_until_ms: int | None = None


@dataclass(frozen=True)
class QuotaState:
    """One provider's window as stored.

    ``used`` counts every call sent in the window (``by_kind`` plus ``other``:
    calls the provider reported that no daemon counted, e.g. another app on
    the same key); ``held`` counts refusals by kind (each postponed one job).
    """

    provider: str
    limit: int
    reserve: float
    used: int
    reset_ms: int | None
    started_ms: int | None
    by_kind: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    other: int = 0
    hold_until_ms: int = 0

    @property
    def remaining(self) -> int | None:
        """Calls left in the window, or None without a limit."""
        return None if self.limit <= 0 else max(0, self.limit - self.used)

    @property
    def recurring_remaining(self) -> int | None:
        """Calls recurring work may still spend before the reserve, or None without a limit."""
        if self.limit <= 0:
            return None
        return max(0, self.limit - math.ceil(self.limit * self.reserve) - self.used)

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider, "limit": self.limit, "reserve": self.reserve, "used": self.used,
            "remaining": self.remaining, "recurringRemaining": self.recurring_remaining,
            "resetAt": self.reset_ms, "windowStartedAt": self.started_ms,
            "byKind": {k: self.by_kind.get(k, 0) for k in KINDS}, "other": self.other,
            "held": {k: self.held.get(k, 0) for k in KINDS}, "holdUntil": self.hold_until_ms or None,
        }


def held_message(provider: str, until_ms: int) -> str:
    """The import status text while the budget holds a phase."""
    return f"waiting for {provider} quota until {format_time(until_ms)}"


def format_time(epoch_ms: int) -> str:
    """``2026-12-01 23:59:59 UTC``."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def now_ms() -> int:
    return int(time.time() * 1000)
