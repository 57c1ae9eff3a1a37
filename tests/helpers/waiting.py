"""Bounded waits for state in another process (a daemon, a server, a browser), which has no event to await."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout: float = 15.0, what: str = "the condition", interval: float = 0.1) -> T:
    """Call ``check`` until it returns something truthy, and return that; AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
    return value
