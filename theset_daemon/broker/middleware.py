"""Declares the actor options the broker understands (Dramatiq rejects unknown ones)."""

from __future__ import annotations

from dramatiq import Middleware

#: Options read by the broker and worker, settable per actor (and per message).
JOB_OPTIONS = frozenset(
    {
        "max_attempts",  # attempts in all (JobDefaults.max_attempts)
        "max_retries",  # Dramatiq's spelling: attempts - 1
        "min_backoff",  # ms, first retry delay
        "max_backoff",  # ms, cap on a retry delay
        "throws",  # exception types that dead-letter at once, like Permanent
        "default_priority",  # the actor's priority when a message names none
        "debounce_ms",  # window in which a repeated job_id is ignored
        "time_limit",  # ms an attempt may run before TimeLimitExceeded ends it (a failure)
        "retry_when",  # Dramatiq's predicate (retries, exception) -> bool, deciding instead of the budget
        "on_retry_exhausted",  # actor name sent (message.asdict(), {retries, max_retries}) when retries run out
        "notify_shutdown",  # a plain actor's thread gets dramatiq's Shutdown raised when a drain runs out
    }
)


class JobOptions(Middleware):
    """No hooks: only makes :data:`JOB_OPTIONS` valid ``@dramatiq.actor`` options."""

    @property
    def actor_options(self) -> set[str]:
        return set(JOB_OPTIONS)
