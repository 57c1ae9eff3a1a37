"""The errors an actor raises to steer the broker, and those the broker raises at enqueue."""

from __future__ import annotations

from dramatiq.errors import BrokerError
from redis import exceptions as redis_errors


class WrongQueue(BrokerError):
    """A message names an actor that runs on another queue (it would run where it must not)."""


class Permanent(Exception):
    """A non-retryable failure (validation, a provider's 4xx other than 429).

    Raise it, or a subclass, from an actor: the job goes straight to the dead
    letters with reason ``permanent``, whatever attempts it has left.
    """


class Postpone(Exception):
    """Not a failure: run this job again in ``delay_ms`` milliseconds.

    Raise it (or a subclass) when the job cannot make progress yet, e.g. a
    provider asked to wait longer than a call may block: the job waits in the
    delayed set, its attempt is not counted, and it is never dead-lettered for it.
    """

    #: Milliseconds until the job runs again.
    delay_ms: int = 1000

    def __init__(self, *args: object, delay_ms: int | None = None) -> None:
        super().__init__(*args)
        if delay_ms is not None:
            self.delay_ms = int(delay_ms)


#: Error replies that say Redis cannot take the call right now (memory, failover, loading).
_REDIS_BUSY = ("OOM", "READONLY", "LOADING", "MASTERDOWN", "TRYAGAIN", "BUSY ", "CLUSTERDOWN")


def redis_away(exc: BaseException) -> bool:
    """True when ``exc`` (or what it was raised from) says Redis is unreachable or refuses writes for now.

    Not the job's fault: the worker postpones such a job instead of spending an attempt.
    """
    cause: BaseException | None = exc
    for _ in range(5):
        if cause is None:
            return False
        if isinstance(cause, (redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.ReadOnlyError)):
            return True
        if isinstance(cause, redis_errors.RedisError) and (
            type(cause).__name__ in ("OutOfMemoryError", "BusyLoadingError") or str(cause).startswith(_REDIS_BUSY)
        ):
            return True
        cause = cause.__cause__
    return False
