"""The errors an actor raises to steer the broker."""

from __future__ import annotations


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
