"""Repeated warnings logged once per interval, with how often they happened.

A backend outage seen by a thousand SSE clients (or one reader retrying every
second) is one problem: :class:`ThrottledLog` writes its first occurrence at
once, then at most one line per ``interval_s`` per key saying how many times
it recurred since the last line.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

#: Seconds between two lines about the same problem.
DEFAULT_INTERVAL_S = 60.0


@dataclass
class _Seen:
    logged_at: float
    repeats: int = 0


@dataclass
class ThrottledLog:
    """Log ``warning(key, ...)`` at most once per ``interval_s`` per ``key``.

    Parameters:
      logger: where the lines go.
      interval_s: seconds between two lines with the same key.
      clock: monotonic seconds (a parameter so tests can move time).
    """

    logger: logging.Logger
    interval_s: float = DEFAULT_INTERVAL_S
    clock: Callable[[], float] = field(default=time.monotonic)
    _seen: dict[str, _Seen] = field(default_factory=dict)

    def warning(self, key: str, message: str, *args: Any) -> bool:
        """Log now if ``key`` was not logged in the last interval (True), else count it (False).

        The line carries ``repeats``: occurrences not logged since the previous line.
        """
        now = self.clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen.logged_at < self.interval_s:
            seen.repeats += 1
            return False
        repeats = seen.repeats if seen is not None else 0
        suffix = f" ({repeats} more since the last report {self.interval_s:g}s ago or less)" if repeats else ""
        self.logger.warning(message + suffix, *args, extra={"repeats": repeats, "throttle_key": key})
        self._seen[key] = _Seen(now)
        if len(self._seen) > 1000:  # keys are few (error kinds); never let them grow without bound
            self._seen.pop(next(iter(self._seen)))
        return True
