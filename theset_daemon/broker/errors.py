"""The errors an actor raises to steer the broker."""

from __future__ import annotations


class Permanent(Exception):
    """A non-retryable failure (validation, a provider's 4xx other than 429).

    Raise it, or a subclass, from an actor: the job goes straight to the dead
    letters with reason ``permanent``, whatever attempts it has left.
    """
