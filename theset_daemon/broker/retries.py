"""Whether a failed attempt is retried, and after how long.

Attempts and backoff come from :class:`~theset_daemon.queues.JobDefaults`,
overridden per actor and then per message by the options ``max_attempts`` (or
Dramatiq's ``max_retries`` = attempts - 1), ``min_backoff`` and ``max_backoff``
(milliseconds). :class:`~theset_daemon.broker.errors.Permanent`, an actor's
``throws`` types and an exhausted attempt budget go to the dead letters.
``dramatiq.Retry(delay=ms)`` asks for a specific delay.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Mapping

from dramatiq.errors import Retry

from ..queues import JobDefaults
from .errors import Permanent


@dataclass(frozen=True)
class Decision:
    """The fate of a failed attempt: retried after ``delay_ms``, or dead with ``reason``."""

    retry: bool
    delay_ms: int = 0
    reason: str = ""


def _option(name: str, message: Mapping[str, Any], actor: Mapping[str, Any], default: Any) -> Any:
    value = message.get(name)
    return actor.get(name, default) if value is None else value


def max_attempts(message: Mapping[str, Any], actor: Mapping[str, Any], defaults: JobDefaults) -> int:
    """Attempts allowed in all (first run included)."""
    for source in (message, actor):
        if source.get("max_attempts") is not None:
            return int(source["max_attempts"])
        if source.get("max_retries") is not None:
            return int(source["max_retries"]) + 1
    return defaults.max_attempts


def backoff_ms(attempt: int, *, min_ms: int, max_ms: int, jitter: float) -> int:
    """Delay after failed attempt number ``attempt`` (1-based): min * 2^(attempt-1), plus jitter, capped."""
    base = min_ms * 2 ** min(attempt - 1, 32)
    return int(min(max_ms, base * (1 + random.uniform(0, jitter))))


def decide(
    exc: BaseException,
    attempt: int,
    message: Mapping[str, Any],
    actor: Mapping[str, Any],
    defaults: JobDefaults,
) -> Decision:
    """Retry or dead-letter after ``exc`` ended attempt ``attempt``."""
    throws = _option("throws", message, actor, None)
    if isinstance(exc, Permanent) or (throws and isinstance(exc, throws)):
        return Decision(False, reason="permanent")
    allowed = max_attempts(message, actor, defaults)
    if attempt >= allowed:
        return Decision(False, reason=f"attempts exhausted ({attempt}/{allowed})")
    if isinstance(exc, Retry) and exc.delay is not None:
        return Decision(True, int(exc.delay))
    delay = backoff_ms(
        attempt,
        min_ms=int(_option("min_backoff", message, actor, defaults.min_backoff_ms)),
        max_ms=int(_option("max_backoff", message, actor, defaults.max_backoff_ms)),
        jitter=defaults.jitter,
    )
    return Decision(True, delay)
