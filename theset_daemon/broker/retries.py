"""Whether a failed attempt is retried, and after how long.

Attempts and backoff come from :class:`~theset_daemon.queues.JobDefaults`,
overridden per actor and then per message by the options ``max_attempts`` (or
Dramatiq's ``max_retries`` = attempts - 1), ``min_backoff`` and ``max_backoff``
(milliseconds). :class:`~theset_daemon.broker.errors.Permanent`, an actor's
``throws`` types and an exhausted attempt budget go to the dead letters.
``dramatiq.Retry(delay=ms)`` asks for a specific delay. As in Dramatiq's
Retries middleware, an actor's ``retry_when(retries, exception)`` predicate,
when set, decides instead of the budget, and each failed attempt counts in the
message's ``retries`` option (``retries`` failed attempts so far).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Mapping

from dramatiq.errors import Retry

from .errors import Permanent
from .queues import JobDefaults


@dataclass(frozen=True)
class Decision:
    """The fate of a failed attempt: retried after ``delay_ms``, or dead with ``reason``.

    ``retry`` None: postponed (:class:`Postpone`), run again after ``delay_ms`` uncounted.
    """

    retry: bool | None
    delay_ms: int = 0
    reason: str = ""
    exhausted: bool = False
    retries: int = 0
    max_retries: int | None = None


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


def is_permanent(exc: BaseException, message: Mapping[str, Any], actor: Mapping[str, Any]) -> bool:
    """Whether ``exc`` dead-letters at once (:class:`Permanent` or one of the ``throws`` types)."""
    throws = _option("throws", message, actor, None)
    return isinstance(exc, Permanent) or bool(throws and isinstance(exc, throws))


def decide(
    exc: BaseException,
    attempt: int,
    message: Mapping[str, Any],
    actor: Mapping[str, Any],
    defaults: JobDefaults,
) -> Decision:
    """Retry or dead-letter after ``exc`` ended attempt ``attempt`` (1-based)."""
    if is_permanent(exc, message, actor):
        return Decision(False, reason="permanent")
    retries = max(attempt - 1, int(message.get("retries") or 0))
    allowed = max_attempts(message, actor, defaults)
    retry_when = _option("retry_when", message, actor, None)
    if retry_when is not None:
        if not retry_when(retries, exc):
            return Decision(False, reason="retry_when declined", exhausted=True, retries=retries, max_retries=allowed - 1)
    elif retries + 1 >= allowed:
        reason = f"attempts exhausted ({retries + 1}/{allowed})"
        return Decision(False, reason=reason, exhausted=True, retries=retries, max_retries=allowed - 1)
    if isinstance(exc, Retry) and exc.delay is not None:
        return Decision(True, int(exc.delay), retries=retries)
    delay = backoff_ms(
        retries + 1,
        min_ms=int(_option("min_backoff", message, actor, defaults.min_backoff_ms)),
        max_ms=int(_option("max_backoff", message, actor, defaults.max_backoff_ms)),
        jitter=defaults.jitter,
    )
    return Decision(True, delay, retries=retries)
